//! `esession archive prefs|list|show|remove`: the account's XEP-0136 archive on its
//! server. These commands log in without presence, so that no stanza meant for a
//! listening client is delivered to them.
use crate::account::connect_quiet;
use crate::archiving::archiver_fail;
use crate::args::{ArchiveCommand, Global, PrefsArgs};
use crate::fail::Fail;
use crate::output::Out;
use crate::sanitize::safe;
use esession::archive::{Direction, ItemPref, ListQuery, OtrMode, Prefs, RsmQuery, SaveMode};
use esession_xmpp::{Connection, XmppError};
use serde_json::json;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);
/// Page size of list and retrieve requests (XEP-0059).
const PAGE: u32 = 50;
/// Most collections listed, and messages shown, by one command.
const LIMIT: usize = 100_000;

pub(crate) async fn run(global: &Global, cmd: &ArchiveCommand, out: Out) -> Result<(), Fail> {
    let (mut conn, _) = connect_quiet(global).await?;
    let result = match cmd {
        ArchiveCommand::Prefs(a) => prefs(&mut conn, a, out).await,
        ArchiveCommand::List { with } => list(&mut conn, with.as_deref(), out).await,
        ArchiveCommand::Show { with, start } => show(&mut conn, global, with, start, out).await,
        ArchiveCommand::Remove { with, start } => {
            conn.archive_remove(with, start, STEP)
                .await
                .map_err(|e| not_found(e, with, start))?;
            out.emit(
                json!({"event": "removed", "with": with, "start": start}),
                &format!(
                    "removed the collection with {} at {}",
                    safe(with),
                    safe(start)
                ),
            );
            Ok(())
        }
    };
    let closed = conn.close().await;
    result.map_err(unsupported)?;
    closed.map_err(Fail::from)
}

/// A server without XEP-0136 answers its requests with `service-unavailable` or
/// `feature-not-implemented` (RFC 6120 §8.3.3; ejabberd, for one, offers only MAM): the
/// missing capability is named, not just the condition.
fn unsupported(f: Fail) -> Fail {
    // The message of an `XmppError::Stanza` (fail.rs): "stanza error: CONDITION".
    let condition = f.message.strip_prefix("stanza error: ").unwrap_or_default();
    let missing = f.kind == "xmpp"
        && ["service-unavailable", "feature-not-implemented"]
            .iter()
            .any(|c| condition.starts_with(c));
    if missing {
        Fail::protocol(
            "unsupported",
            format!(
                "the server does not offer XEP-0136 message archiving ({}): nothing was read or changed",
                f.message
            ),
        )
    } else {
        f
    }
}

fn not_found(e: XmppError, with: &str, start: &str) -> Fail {
    match e {
        XmppError::Stanza(c) if c == "item-not-found" => Fail::protocol(
            "not_found",
            format!("no archived collection with {with} at {start}"),
        ),
        other => other.into(),
    }
}

fn otr(v: &str) -> Result<OtrMode, Fail> {
    OtrMode::from_name(v).ok_or_else(|| Fail::usage(format!("unknown OTR Mode {v:?}")))
}

fn save(v: &str) -> Result<SaveMode, Fail> {
    SaveMode::from_name(v).ok_or_else(|| Fail::usage(format!("unknown Save Mode {v:?}")))
}

/// Applies the flags (each change one iq set, XEP-0136 §2.4–2.5), then shows the
/// preferences as the server has them.
async fn prefs(conn: &mut Connection, a: &PrefsArgs, out: Out) -> Result<(), Fail> {
    let current = conn.archive_prefs(STEP).await?;
    if a.default_otr.is_some() || a.default_save.is_some() {
        let o = a.default_otr.as_deref().map(otr).transpose()?;
        let s = a.default_save.as_deref().map(save).transpose()?;
        let o = o.unwrap_or(current.default_otr);
        let s = s.unwrap_or(current.default_save);
        // §2.2.2.2: require needs save=false; refused here before anything is sent.
        Prefs::set_default_request(o, s, None).map_err(|e| Fail::usage(e.to_string()))?;
        conn.archive_set_default(o, s, STEP).await?;
    }
    if let Some(contact) = &a.contact {
        if a.forget {
            conn.archive_remove_item(contact, STEP).await?;
        } else if a.otr.is_some() || a.save.is_some() {
            let existing = current.items.iter().find(|i| i.jid == *contact);
            let item = ItemPref {
                jid: contact.clone(),
                otr: match &a.otr {
                    Some(v) => otr(v)?,
                    None => existing.map_or(current.otr_for(contact), |i| i.otr),
                },
                save: match &a.save {
                    Some(v) => save(v)?,
                    None => existing.map_or(current.save_for(contact, None), |i| i.save),
                },
                expire: existing.and_then(|i| i.expire),
                exact: existing.is_some_and(|i| i.exact),
            };
            Prefs::set_item_request(&item).map_err(|e| Fail::usage(e.to_string()))?;
            conn.archive_set_item(&item, STEP).await?;
        } else {
            return Err(Fail::usage("--contact needs --otr, --save or --forget"));
        }
    }
    let p = conn.archive_prefs(STEP).await?;
    let items: Vec<_> = p
        .items
        .iter()
        .map(|i| json!({"jid": i.jid, "otr": i.otr.name(), "save": i.save.name()}))
        .collect();
    let sessions: Vec<_> = p
        .sessions
        .iter()
        .map(|s| json!({"thread": s.thread, "save": s.save.name()}))
        .collect();
    let mut text = format!(
        "default: otr {}, save {}{}",
        p.default_otr.name(),
        p.default_save.name(),
        if p.unset {
            " (never set: server defaults)"
        } else {
            ""
        }
    );
    for i in &p.items {
        text.push_str(&format!(
            "\n{}: otr {}, save {}",
            safe(&i.jid),
            i.otr.name(),
            i.save.name()
        ));
    }
    out.emit(
        json!({"event": "prefs", "default": {"otr": p.default_otr.name(), "save": p.default_save.name(), "unset": p.unset}, "items": items, "sessions": sessions}),
        &text,
    );
    Ok(())
}

/// §7.1 in pages, and each collection's message count (§7.2 with `<max>0</max>`).
async fn list(conn: &mut Connection, with: Option<&str>, out: Out) -> Result<(), Fail> {
    let q = ListQuery {
        with: with.map(str::to_owned),
        rsm: RsmQuery {
            max: Some(PAGE),
            ..RsmQuery::default()
        },
        ..ListQuery::default()
    };
    for c in conn.archive_list_all(&q, LIMIT, STEP).await? {
        let n = conn.archive_count(&c.with, &c.start, STEP).await?;
        out.emit(
            json!({"event": "collection", "with": c.with, "start": c.start, "thread": c.thread, "messages": n}),
            &format!(
                "{} {} ({} message(s))",
                safe(&c.start),
                safe(&c.with),
                n.map_or("?".to_owned(), |n| n.to_string())
            ),
        );
    }
    Ok(())
}

/// §7.2 in pages, each body opened with the archive key.
async fn show(
    conn: &mut Connection,
    global: &Global,
    with: &str,
    start: &str,
    out: Out,
) -> Result<(), Fail> {
    let passphrase = crate::passphrase::require_key_passphrase(global)?;
    let collection = conn
        .archive_retrieve_all(with, start, PAGE, LIMIT, STEP)
        .await
        .map_err(|e| not_found(e, with, start))?;
    let key = conn
        .archive_key(&passphrase)
        .await
        .map_err(archiver_fail)?
        .ok_or_else(|| {
            Fail::protocol(
            "archive_key",
            "the account has no archive key record: its collections were not sealed by esession",
        )
        })?;
    let opened = key
        .open_collection(&collection, 0)
        .map_err(|e| Fail::protocol("archive_key", e.to_string()))?;
    for (index, e) in opened.entries.iter().enumerate() {
        let dir = match e.dir {
            Direction::To => "to",
            Direction::From => "from",
        };
        out.emit(
            json!({"event": "archived_message", "with": opened.with, "start": opened.start, "index": index, "direction": dir, "secs": e.secs, "body": e.body}),
            &format!(
                "{} {}",
                if e.dir == Direction::To { "→" } else { "←" },
                safe(&e.body)
            ),
        );
    }
    Ok(())
}
