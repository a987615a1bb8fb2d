//! XEP-0136 in `send`, `listen` and `chat`: the account's archiving preferences decide
//! the `logging` offers and answers (§3.1), and a session negotiated with `logging` =
//! `may` whose Save Mode is not `false` (§2.8) is uploaded when it ends as one collection
//! (§5.2), both directions, every body sealed with the account's archive key
//! (docs/decisions.md, "Message archiving"). A `mustnot` session is never stored.
use crate::fail::Fail;
use crate::output::Out;
use crate::sanitize::safe;
use esession::archive::{Collection, Direction, Entry, Prefs};
use esession::{jid, Event, Logging, Timestamp};
use esession_store::{ArchiveKey, ArchiveKeyError};
use esession_xmpp::{Connection, XmppError};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use zeroize::Zeroizing;

/// Bound on each archiving request.
const STEP: Duration = Duration::from_secs(10);

/// Messages kept for one collection before it is uploaded (bounds memory; §5.2 asks
/// clients to upload before a collection grows too large).
const MAX_PENDING: usize = 1000;

/// A collection being recorded.
struct Pending {
    collection: Collection,
    /// Entries of this collection uploaded already (the next sealed index).
    uploaded: usize,
    last: Timestamp,
}

/// What a command records and uploads.
#[derive(Default)]
pub(crate) struct Archiver {
    prefs: Option<Prefs>,
    passphrase: Option<Zeroizing<String>>,
    key: Option<ArchiveKey>,
    open: HashMap<(String, String), Pending>,
    ready: Vec<Pending>,
}

/// The account's archiving preferences, or `None` when its server has no XEP-0136
/// (then nothing is archived and the engine's own `logging` choice applies).
pub(crate) async fn fetch_prefs(conn: &mut Connection) -> Result<Option<Prefs>, Fail> {
    match conn.archive_prefs(STEP).await {
        Ok(p) => Ok(Some(p)),
        Err(XmppError::Stanza(c)) => {
            tracing::warn!(condition = %c, "no XEP-0136 archiving preferences on the server");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The engine's preferences for `logging`: the server's, unless the user never set them
/// (then the engine's default offer applies) or `--logging` was given (explicit choice).
pub(crate) fn engine_prefs(prefs: Option<&Prefs>, logging_flag: bool) -> Option<Prefs> {
    prefs.filter(|p| !p.unset && !logging_flag).cloned()
}

fn key_error(e: ArchiveKeyError) -> Fail {
    let wrong = matches!(
        e,
        ArchiveKeyError::WrongPassphrase | ArchiveKeyError::NoPassphrase
    );
    let message = format!(
        "{e}; the archive key is sealed with the key passphrase: {}",
        crate::passphrase::HOW
    );
    if wrong {
        Fail {
            kind: "archive_key",
            ..Fail::usage(message)
        }
    } else {
        Fail::protocol("archive_key", message)
    }
}

/// The account's archive key from the record in private storage; with `create`, the
/// first client makes the record (a new random salt) when there is none.
pub(crate) async fn archive_key(
    conn: &mut Connection,
    passphrase: &str,
    create: bool,
) -> Result<Option<ArchiveKey>, Fail> {
    if let Some(info) = conn.archive_key_info(STEP).await? {
        return ArchiveKey::open(passphrase, &info)
            .map(Some)
            .map_err(key_error);
    }
    if !create {
        return Ok(None);
    }
    let (key, info) = ArchiveKey::create(passphrase).map_err(key_error)?;
    conn.set_archive_key_info(&info, STEP).await?;
    Ok(Some(key))
}

impl Archiver {
    /// Records sessions as `prefs` say, sealing with the key from `passphrase`.
    pub(crate) fn new(prefs: Option<Prefs>, passphrase: Option<Zeroizing<String>>) -> Self {
        Archiver {
            prefs,
            passphrase,
            ..Archiver::default()
        }
    }

    fn key_of(peer: &str, thread: &str) -> (String, String) {
        (jid::bare(peer).to_owned(), thread.to_owned())
    }

    /// Whether a session with these terms is archived: `logging` = `may` (XEP-0136 §3.2:
    /// never when `mustnot`) and a Save Mode other than `false` (§2.8).
    fn archives(&self, peer: &str, thread: &str, logging: Logging) -> bool {
        logging == Logging::May
            && self
                .prefs
                .as_ref()
                .is_some_and(|p| p.save_for(peer, Some(thread)).saves())
    }

    /// Follows the sessions through the engine's events.
    pub(crate) fn note(&mut self, ev: &Event) {
        let now = Timestamp::now();
        match ev {
            Event::Established(i) | Event::Renegotiated(i) => {
                let key = Self::key_of(&i.peer, &i.thread);
                if !self.archives(&i.peer, &i.thread, i.logging) {
                    // §3.2: once off the record, nothing of the session is kept.
                    self.open.remove(&key);
                    return;
                }
                self.open.entry(key).or_insert_with(|| Pending {
                    collection: Collection::new(&i.peer, now, Some(&i.thread)),
                    uploaded: 0,
                    last: now,
                });
            }
            Event::Message {
                peer,
                thread: Some(thread),
                body: Some(body),
                ..
            } => self.push(peer, thread, Direction::From, body),
            Event::Terminated { peer, thread, .. } | Event::Failed { peer, thread, .. } => {
                if let Some(p) = self.open.remove(&Self::key_of(peer, thread)) {
                    self.ready.push(p);
                }
            }
            _ => {}
        }
    }

    /// Records a message we sent in the session with `peer` on `thread`.
    pub(crate) fn sent(&mut self, peer: &str, thread: &str, body: &str) {
        self.push(peer, thread, Direction::To, body);
    }

    fn push(&mut self, peer: &str, thread: &str, dir: Direction, body: &str) {
        // §4.6: entries are never empty.
        if body.is_empty() {
            return;
        }
        let key = Self::key_of(peer, thread);
        let Some(p) = self.open.get_mut(&key) else {
            return;
        };
        let now = Timestamp::now();
        p.collection.entries.push(Entry {
            dir,
            secs: Some(now.0.saturating_sub(p.last.0)),
            utc: None,
            body: body.to_owned(),
        });
        p.last = now;
        if p.collection.entries.len() >= MAX_PENDING {
            // Upload what we have; the session's collection continues.
            let part = Pending {
                collection: p.collection.clone(),
                uploaded: p.uploaded,
                last: p.last,
            };
            p.uploaded += p.collection.entries.len();
            p.collection.entries.clear();
            self.ready.push(part);
        }
    }

    /// Whether collections wait for [`upload`](Self::upload).
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Ends the recording of every open session (before logging out).
    pub(crate) fn finish_all(&mut self) {
        let open: Vec<Pending> = self.open.drain().map(|(_, p)| p).collect();
        self.ready.extend(open);
    }

    /// Uploads the finished collections, sealed (§5.2), reporting each as `archived`.
    pub(crate) async fn upload(&mut self, conn: &mut Connection, out: Out) -> Result<(), Fail> {
        let ready: Vec<Pending> = std::mem::take(&mut self.ready)
            .into_iter()
            .filter(|p| !p.collection.entries.is_empty())
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        if self.key.is_none() {
            let passphrase = self.passphrase.clone().ok_or_else(|| {
                Fail::usage(format!(
                    "archiving needs the key passphrase for the archive key: {}",
                    crate::passphrase::HOW
                ))
            })?;
            self.key = archive_key(conn, &passphrase, true).await?;
        }
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| Fail::protocol("archive_key", "no archive key"))?;
        for p in ready {
            let sealed = key
                .seal_collection(&p.collection, p.uploaded)
                .map_err(key_error)?;
            conn.archive_save(&sealed, STEP).await?;
            let c = &p.collection;
            out.emit(
                json!({"event": "archived", "with": c.with, "start": c.start, "thread": c.thread, "messages": c.entries.len()}),
                &format!(
                    "archived {} message(s) with {} (collection {})",
                    c.entries.len(),
                    safe(&c.with),
                    safe(&c.start)
                ),
            );
        }
        Ok(())
    }
}

/// Reads the account's preferences, gives the engine the ones for `logging` (see
/// [`engine_prefs`]) and returns the archiver of the command. `logging_flag`: the user
/// chose `--logging` explicitly.
pub(crate) async fn enable(
    client: &mut esession_xmpp::Client<esession_store::SqliteStore>,
    global: &crate::args::Global,
    logging_flag: bool,
) -> Result<Archiver, Fail> {
    let prefs = fetch_prefs(client.connection_mut()).await?;
    client
        .engine_mut()
        .set_archive_prefs(engine_prefs(prefs.as_ref(), logging_flag));
    // Asked for only when the server keeps archiving preferences (then sessions may be
    // archived); never the account password.
    let passphrase = match prefs {
        Some(_) => crate::passphrase::key_passphrase(global)?,
        None => None,
    };
    Ok(Archiver::new(prefs, passphrase))
}

/// Before logging out: uploads every recorded collection, open or finished.
pub(crate) async fn finish(
    client: &mut esession_xmpp::Client<esession_store::SqliteStore>,
    archiver: &mut Archiver,
    out: Out,
) -> Result<(), Fail> {
    archiver.finish_all();
    archiver.upload(client.connection_mut(), out).await
}
