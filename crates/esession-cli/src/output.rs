//! What the person (or a script, with `--json`) sees.
use crate::sanitize::safe;
use esession::trust::KnownKey;
use esession::{EndedBy, Event, OfflineSetKind, RekeyedBy, SessionId, SessionInfo, Timestamp};
use esession_xmpp::{OfflineLogin, OfflineStart, Published, Withdrawal};
use serde_json::{json, Value};
use std::io::Write;

/// Where events go: JSON lines or readable text, on stdout. In text, every string that
/// comes from a peer or a server passes through [`safe`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    pub json: bool,
}

impl Out {
    /// Prints one event object (JSON) or its text form.
    pub(crate) fn emit(&self, value: Value, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let line = if self.json {
            crate::sanitize::json_line(&value)
        } else {
            text.to_owned()
        };
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    /// `{"event":"online","jid":…}`.
    pub(crate) fn online(&self, jid: &str) {
        self.emit(
            json!({"event": "online", "jid": jid}),
            &format!("online as {}", safe(jid)),
        );
    }

    /// `{"event":"error",…}` for a failure that ends the command.
    pub(crate) fn error(&self, peer: Option<&str>, thread: Option<&str>, kind: &str, detail: &str) {
        self.emit(
            json!({"event": "error", "peer": peer, "thread": thread, "kind": kind, "detail": detail}),
            &format!("error ({kind}): {}", safe(detail)),
        );
    }

    /// Prints an engine event.
    pub(crate) fn event(&self, ev: &Event) {
        match ev {
            Event::Established(info) => self.established(info),
            Event::Renegotiated(i) => self.emit(
                json!({"event": "renegotiated", "peer": i.peer.as_str(), "thread": i.id.thread(), "logging": format!("{:?}", i.logging).to_lowercase()}),
                &format!("session with {} renegotiated: logging {:?}", safe(i.peer.as_str()), i.logging),
            ),
            Event::Message { peer, session, body, encrypted, offline, .. } => self.emit(
                // XEP-0187 (profile P11): `offline` marks what an offline session carried.
                json!({"event": "message", "peer": peer.as_str(), "thread": session.as_ref().map(SessionId::thread), "body": body,
                       "encrypted": encrypted, "offline": offline}),
                &format!(
                    "{}{}{}: {}",
                    safe(peer.as_str()),
                    if *encrypted { " [encrypted]" } else { " [NOT encrypted]" },
                    if *offline { " [sent while we were offline]" } else { "" },
                    safe(body.as_deref().unwrap_or(""))
                ),
            ),
            Event::Terminated { peer, session, by } => {
                let by = match by {
                    EndedBy::Us => "self",
                    EndedBy::Peer => "peer",
                };
                self.emit(
                    json!({"event": "terminated", "peer": peer.as_str(), "thread": session.thread(), "by": by}),
                    &format!("session with {} ended (by {by})", safe(peer.as_str())),
                );
            }
            Event::Rekeyed { peer, session, by } => {
                // XEP-0200 §9: each new key in force, ours or the peer's.
                let by = match by {
                    RekeyedBy::Us => "us",
                    RekeyedBy::Peer => "peer",
                };
                self.emit(
                    json!({"event": "rekey", "peer": peer.as_str(), "thread": session.thread(), "by": by}),
                    &format!("session with {} re-keyed (by {by})", safe(peer.as_str())),
                );
            }
            Event::Failed { peer, session, error } => self.error(
                Some(peer.as_str()),
                Some(session.thread()),
                error.kind().name(),
                &error.to_string(),
            ),
            Event::Stanza { peer, session, stanza } => self.emit(
                // XEP-0200 §5: a decrypted presence or iq.
                json!({"event": "stanza", "peer": peer.as_str(), "thread": session.thread(), "kind": stanza.name(), "xml": stanza.to_string()}),
                &format!(
                    "{} [encrypted {}]: {}",
                    safe(peer.as_str()),
                    safe(stanza.name()),
                    safe(&stanza.to_string())
                ),
            ),
            Event::Warning { peer, session, detail } => {
                let detail = detail.to_string();
                self.emit(
                    json!({"event": "warning", "peer": peer.as_str(), "thread": session.as_ref().map(SessionId::thread), "detail": detail}),
                    &format!("warning ({}): {}", safe(peer.as_str()), safe(&detail)),
                )
            }
        }
    }

    fn established(&self, i: &SessionInfo) {
        let key = i.peer_key.as_ref();
        let value = json!({
            "event": "established", "peer": i.peer.as_str(), "thread": i.id.thread(), "role": i.role.name(),
            "sas": i.sas, "sas_alg": i.sas_alg.map(esession::SasAlg::name), "group": i.group, "srs": i.srs.name(), "verified": i.verified,
            "encrypted": i.encrypted, "flow": i.flow, "crypt": i.crypt, "hash": i.hash,
            "compress": i.compress, "rekey_freq": i.rekey_freq, "offline": i.offline,
            "compat": i.compat.map(esession::Compat::name),
            "logging": match i.logging { esession::Logging::May => "may", esession::Logging::MustNot => "mustnot" },
            "peer_fingerprint": key.map(|k| k.fingerprint.as_str()),
            "trusted": key.is_some_and(|k| k.trusted),
            "petname": key.and_then(|k| k.petname.as_deref()),
            "alerts": key.map(|k| k.alerts.as_slice()).unwrap_or_default(),
        });
        // XEP-0116 §7.4: the petname is shown more prominently than the JID.
        let who = match key.and_then(|k| k.petname.as_deref()) {
            Some(name) => format!("{} ({})", safe(name), safe(i.peer.as_str())),
            None => safe(i.peer.as_str()).to_string(),
        };
        let mut text = if !i.encrypted {
            format!("plain (NOT encrypted) session with {who}")
        } else {
            let mut t = format!(
                "encrypted session with {who} ({}-message flow, {}, {}, MODP group {})",
                i.flow.unwrap_or_default(),
                i.crypt.unwrap_or("?"),
                i.hash.unwrap_or("?"),
                i.group.unwrap_or_default()
            );
            if let Some(sas) = &i.sas {
                t.push_str(&format!(
                    ", SAS: {sas}{}{}",
                    crate::sas_advice::caveat(i.sas_alg),
                    if i.verified {
                        " (verified earlier)"
                    } else {
                        " — compare it with your contact"
                    }
                ));
            }
            t
        };
        if let Some(k) = key {
            text.push_str(&format!(
                "\nkey {}: {}",
                k.fingerprint,
                if k.trusted {
                    "trusted (verified earlier)"
                } else {
                    "NOT verified — compare the fingerprint with your contact, then `esession trust verify`"
                }
            ));
        }
        // Issue 13 §4: a Gajim-mode session says so, and what it costs.
        if let Some(compat) = i.compat {
            text.push_str(&format!("\ncompat: {}", compat.name()));
            for cost in compat.costs() {
                text.push_str(&format!("\n  {cost}"));
            }
        }
        // XEP-0116 §7.4 (key changes, shared keys) and §4.7 (retained secrets): alerted
        // prominently.
        for warning in i.warnings() {
            text.push_str(&format!("\nWARNING: {}", safe(&warning)));
        }
        self.emit(value, &text);
    }

    /// `{"event":"offline_published","set":…,"node":…,"expires":…,"how":…}`: one option
    /// set published (XEP-0187 §3.1, profile P11).
    pub(crate) fn offline_published(
        &self,
        kind: OfflineSetKind,
        expires: Timestamp,
        how: Published,
    ) {
        let how = match how {
            Published::WithOptions => "publish_options",
            Published::AfterConfigure => "configured",
        };
        let expires = expires.to_datetime();
        self.emit(
            json!({"event": "offline_published", "set": kind.name(), "node": kind.node(),
                   "access_model": kind.access_model(), "expires": expires, "how": how}),
            &format!(
                "offline options for {} published (node {}), valid until {expires}",
                match kind {
                    OfflineSetKind::Subscriber => "presence subscribers",
                    OfflineSetKind::Open => "anyone",
                },
                kind.node()
            ),
        );
    }

    /// `{"event":"offline_login","loaded":N,"withdrawn":…}`: the stored option sets at
    /// login and the subscriber set's withdrawal (profile P11 "Withdrawal").
    pub(crate) fn offline_login(&self, login: &OfflineLogin) {
        let (withdrawn, detail) = match &login.withdrawal {
            Withdrawal::NoneStored => ("none", None),
            Withdrawal::Withdrawn => ("withdrawn", None),
            Withdrawal::Failed(why) => ("failed", Some(why.as_str())),
        };
        let text = match detail {
            Some(why) => format!(
                "WARNING: the offline options for presence subscribers could not be \
                 withdrawn ({}); they stay stored",
                safe(why)
            ),
            None => format!(
                "{} stored offline option set(s) loaded; subscriber set: {withdrawn}",
                login.loaded
            ),
        };
        self.emit(
            json!({"event": "offline_login", "loaded": login.loaded, "withdrawn": withdrawn,
                   "detail": detail}),
            &text,
        );
    }

    /// `{"event":"sent_offline","peer":…,"thread":…,"set":…,"messages":N,
    /// "forward_secrecy":false}`: messages sent in an offline session to a contact who is
    /// offline (XEP-0187 §3.3, `send --allow-offline`).
    pub(crate) fn sent_offline(&self, peer: &str, start: &OfflineStart, messages: u32) {
        let json = json!({"event": "sent_offline", "peer": peer, "thread": start.session.thread(),
                          "set": start.kind.name(), "messages": messages,
                          "forward_secrecy": false});
        let peer = safe(peer);
        self.emit(
            json,
            &format!(
                "{peer} is offline: {messages} message(s) sent encrypted in an offline session \
                 WITHOUT forward secrecy, with the offline options for {} (they are delivered \
                 when {peer} comes online)",
                match start.kind {
                    OfflineSetKind::Subscriber => "presence subscribers",
                    OfflineSetKind::Open => "anyone",
                }
            ),
        );
    }

    /// `{"event":"key","jid":…,"fingerprint":…}`: our identity key (profile P8).
    pub(crate) fn key(&self, jid: &str, fingerprint: &str) {
        self.emit(
            json!({"event": "key", "jid": jid, "fingerprint": fingerprint}),
            &format!("identity key of {}: {fingerprint}", safe(jid)),
        );
    }

    /// `{"event":"trusted_key","fingerprint":…,"petname":…,"trusted":…,"jids":[…]}`: one
    /// known peer key (XEP-0116 §7.4).
    pub(crate) fn known_key(&self, k: &KnownKey) {
        let fp = k.fingerprint_b64();
        let jids: Vec<&str> = k.jids.iter().map(|s| s.jid.as_str()).collect();
        let status = if k.trusted { "trusted" } else { "NOT verified" };
        // XEP-0116 §7.4: the petname first, more prominently than the JIDs.
        let shown_jids: Vec<String> = jids.iter().map(|j| safe(j).to_string()).collect();
        let shown_jids = shown_jids.join(", ");
        let text = match &k.petname {
            Some(name) => format!("{} ({shown_jids})  {fp}  {status}", safe(name)),
            None => format!("{shown_jids}  {fp}  {status}"),
        };
        self.emit(
            json!({"event": "trusted_key", "fingerprint": fp, "petname": k.petname,
                   "trusted": k.trusted, "jids": jids}),
            &text,
        );
    }

    /// `{"event":"forgotten","fingerprint":…}`.
    pub(crate) fn forgotten(&self, fingerprint: &str) {
        self.emit(
            json!({"event": "forgotten", "fingerprint": fingerprint}),
            &format!("forgot the key {fingerprint}"),
        );
    }
}
