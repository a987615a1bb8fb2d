//! What the person (or a script, with `--json`) sees.
use esession::{EndedBy, Event, RekeyedBy, SessionInfo};
use serde_json::{json, Value};
use std::io::Write;

/// Where events go: JSON lines or readable text, on stdout.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints one event object (JSON) or its text form.
    pub fn emit(&self, value: Value, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let line = if self.json {
            value.to_string()
        } else {
            text.to_owned()
        };
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    /// `{"event":"online","jid":…}`.
    pub fn online(&self, jid: &str) {
        self.emit(
            json!({"event": "online", "jid": jid}),
            &format!("online as {jid}"),
        );
    }

    /// `{"event":"error",…}` for a failure that ends the command.
    pub fn error(&self, peer: Option<&str>, thread: Option<&str>, kind: &str, detail: &str) {
        self.emit(
            json!({"event": "error", "peer": peer, "thread": thread, "kind": kind, "detail": detail}),
            &format!("error ({kind}): {detail}"),
        );
    }

    /// Prints an engine event.
    pub fn event(&self, ev: &Event) {
        match ev {
            Event::Established(info) => self.established(info),
            Event::Renegotiated(i) => self.emit(
                json!({"event": "renegotiated", "peer": i.peer, "thread": i.thread, "logging": format!("{:?}", i.logging).to_lowercase()}),
                &format!("session with {} renegotiated: logging {:?}", i.peer, i.logging),
            ),
            Event::Message { peer, thread, body, encrypted, .. } => self.emit(
                json!({"event": "message", "peer": peer, "thread": thread, "body": body, "encrypted": encrypted}),
                &format!(
                    "{peer}{}: {}",
                    if *encrypted { " [encrypted]" } else { " [NOT encrypted]" },
                    body.as_deref().unwrap_or("")
                ),
            ),
            Event::Terminated { peer, thread, by } => {
                let by = match by {
                    EndedBy::Us => "self",
                    EndedBy::Peer => "peer",
                };
                self.emit(
                    json!({"event": "terminated", "peer": peer, "thread": thread, "by": by}),
                    &format!("session with {peer} ended (by {by})"),
                );
            }
            Event::Rekeyed { peer, thread, by } => {
                let by = match by {
                    RekeyedBy::Us => "self",
                    RekeyedBy::Peer => "peer",
                };
                self.emit(
                    json!({"event": "rekeyed", "peer": peer, "thread": thread, "by": by}),
                    &format!("session with {peer} re-keyed (by {by})"),
                );
            }
            Event::Failed { peer, thread, error } => {
                self.error(Some(peer), Some(thread), error.kind().name(), &error.to_string())
            }
            Event::Warning { peer, thread, detail } => self.emit(
                json!({"event": "warning", "peer": peer, "thread": thread, "detail": detail}),
                &format!("warning ({peer}): {detail}"),
            ),
        }
    }

    fn established(&self, i: &SessionInfo) {
        let value = json!({
            "event": "established", "peer": i.peer, "thread": i.thread, "role": i.role.name(),
            "sas": i.sas, "group": i.group, "srs": i.srs.name(), "verified": i.verified,
            "encrypted": i.encrypted,
        });
        let mut text = match (&i.sas, i.encrypted) {
            (Some(sas), true) => format!(
                "encrypted session with {} (MODP group {}), SAS: {sas}{}",
                i.peer,
                i.group.unwrap_or_default(),
                if i.verified {
                    " (verified earlier)"
                } else {
                    " — compare it with your contact"
                }
            ),
            _ => format!("plain (NOT encrypted) session with {}", i.peer),
        };
        if i.srs == esession::SrsStatus::Mismatch {
            text.push_str(
                "\nWARNING: this contact no longer knows the secret you shared last time: a \
                 possible man in the middle, or lost state. Confirm the SAS again.",
            );
        }
        self.emit(value, &text);
    }
}
