//! XEP-0136 archiving of ESessions: the account's archiving preferences decide the
//! `logging` offers and answers (§3.1), and a session negotiated with `logging` = `may`
//! whose Save Mode is not `false` (§2.8) is uploaded when it ends as one collection (§5.2),
//! both directions, every body sealed with the account's archive key (docs/decisions.md,
//! "Message archiving"). A `mustnot` session is never stored.
//!
//! The archive key is [`esession_store::ArchiveKey`]: the adapter depends on the store
//! crate for it (a sideways arrow, no cycle: the store never calls the adapter).
use crate::{Client, Connection, SaveError, XmppError};
use esession::archive::{Collection, Direction, Entry, Prefs};
use esession::store::SecretStore;
use esession::{Event, Logging, SessionId, Timestamp};
use esession_store::{ArchiveKey, ArchiveKeyError};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;
use zeroize::Zeroizing;

/// Bound on each archiving request.
const STEP: Duration = Duration::from_secs(10);

/// Messages kept for one collection before it is uploaded (bounds memory; §5.2 asks
/// clients to upload before a collection grows too large).
const MAX_PENDING: usize = 1000;

/// Finished collections kept for upload (each at most [`MAX_PENDING`] messages) while the
/// server cannot take them (transient errors are retried at each upload): beyond, the
/// oldest is dropped with a warning naming it, so that a server out of reach for long
/// does not make memory grow without bound.
const MAX_READY: usize = 100;

/// What went wrong while archiving.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ArchiverError {
    /// A request to the server failed.
    #[error(transparent)]
    Xmpp(#[from] XmppError),
    /// The archive key could not be opened, created or used.
    #[error(transparent)]
    Key(#[from] ArchiveKeyError),
    /// Collections wait for upload but no passphrase was given for the archive key.
    #[error("archiving needs the key passphrase for the archive key")]
    NoPassphrase,
}

/// A collection being recorded.
struct Pending {
    collection: Collection,
    /// The number of messages the server held in the collection before our last upload
    /// of these entries whose outcome we did not learn (a timeout, the link down).
    tried_at: Option<usize>,
    last: Timestamp,
}

/// What [`Archiver::upload`] did with a finished collection (bodies in clear).
#[derive(Debug)]
pub enum Uploaded<'a> {
    /// The server stored it.
    Saved(&'a Collection),
    /// The server refused it for good (an error of type `cancel` or `modify`, the
    /// condition given), or cannot say how many messages it holds already, so that its
    /// bodies cannot be sealed at their place (why, given): it is set aside, never sent
    /// again, and the next ones go on.
    Refused(&'a Collection, &'a str),
}

/// Records the sessions to archive from the engine's events and uploads them sealed.
/// [`Archiver::default`] archives nothing.
#[derive(Default)]
pub struct Archiver {
    prefs: Option<Prefs>,
    passphrase: Option<Zeroizing<String>>,
    key: Option<ArchiveKey>,
    open: HashMap<SessionId, Pending>,
    ready: Vec<Pending>,
}

impl Connection {
    /// The account's archiving preferences, or `None` when its server has no XEP-0136
    /// (it answers with a stanza error; then nothing is archived).
    pub async fn archiving_prefs(&mut self) -> Result<Option<Prefs>, XmppError> {
        match self.archive_prefs(STEP).await {
            Ok(p) => Ok(Some(p)),
            Err(XmppError::Stanza(c)) => {
                tracing::warn!(condition = %c, "no XEP-0136 archiving preferences on the server");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The account's archive key from the record in private storage (XEP-0049), `None`
    /// when there is no record.
    pub async fn archive_key(
        &mut self,
        passphrase: &str,
    ) -> Result<Option<ArchiveKey>, ArchiverError> {
        match self.archive_key_info(STEP).await? {
            Some(info) => Ok(Some(ArchiveKey::open(passphrase, &info)?)),
            None => Ok(None),
        }
    }

    /// As [`archive_key`](Self::archive_key), but the first client makes the record (a
    /// new random salt) when there is none.
    pub async fn archive_key_or_create(
        &mut self,
        passphrase: &str,
    ) -> Result<ArchiveKey, ArchiverError> {
        if let Some(key) = self.archive_key(passphrase).await? {
            return Ok(key);
        }
        let (key, info) = ArchiveKey::create(passphrase)?;
        self.set_archive_key_info(&info, STEP).await?;
        Ok(key)
    }
}

/// §7.2 with `<max>0</max>`: how many messages the server holds in collection `c` (0
/// when it has no such collection: `item-not-found`).
async fn stored_count(conn: &mut Connection, c: &Collection) -> Result<usize, XmppError> {
    match conn.archive_count(&c.with, &c.start, STEP).await {
        Ok(Some(n)) => Ok(n as usize),
        Ok(None) => Err(XmppError::Protocol(format!(
            "the server did not say how many messages the collection with {} at {} holds \
             (XEP-0059 count): the next ones cannot be sealed at their place",
            c.with, c.start
        ))),
        Err(XmppError::Stanza(c)) if c == "item-not-found" => Ok(0),
        Err(e) => Err(e),
    }
}

/// The engine's preferences for `logging`: the server's (whose defaults the engine
/// ignores when the user never set them, `Config::logging_offer`), unless the user chose
/// `logging` explicitly (`explicit`).
fn engine_prefs(prefs: Option<&Prefs>, explicit: bool) -> Option<Prefs> {
    prefs.filter(|_| !explicit).cloned()
}

impl<S: SecretStore> Client<S> {
    /// Reads the account's archiving preferences and gives the engine the ones for
    /// `logging` (XEP-0136 §3.1: the negotiation SHOULD follow them): the server's (the
    /// engine ignores defaults the user never set, `Config::logging_offer`), unless the
    /// user chose `logging` explicitly (`explicit_logging`).
    /// Returns them (`None`: the server has no XEP-0136).
    pub async fn follow_archive_prefs(
        &mut self,
        explicit_logging: bool,
    ) -> Result<Option<Prefs>, XmppError> {
        let prefs = self.connection_mut().archiving_prefs().await?;
        self.engine_mut()
            .set_archive_prefs(engine_prefs(prefs.as_ref(), explicit_logging));
        Ok(prefs)
    }
}

impl Archiver {
    /// Reads the account's preferences, gives `client`'s engine the ones for `logging`
    /// ([`Client::follow_archive_prefs`]) and returns the archiver following them. When
    /// [`needs_passphrase`](Self::needs_passphrase), give it one before anything is uploaded.
    pub async fn start<S: SecretStore>(
        client: &mut Client<S>,
        explicit_logging: bool,
    ) -> Result<Archiver, XmppError> {
        let prefs = client.follow_archive_prefs(explicit_logging).await?;
        Ok(Archiver {
            prefs,
            ..Archiver::default()
        })
    }

    /// Whether sessions may be archived (the server keeps archiving preferences), so the
    /// archive key's passphrase is needed.
    pub fn needs_passphrase(&self) -> bool {
        self.prefs.is_some()
    }

    /// The passphrase the archive key is sealed with (never the account password).
    pub fn set_passphrase(&mut self, passphrase: Option<Zeroizing<String>>) {
        self.passphrase = passphrase;
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
    pub fn note(&mut self, ev: &Event) {
        match ev {
            Event::Established(i) | Event::Renegotiated(i) => {
                self.established(&i.id, i.peer.as_str(), i.logging, Timestamp::now())
            }
            Event::Message {
                session: Some(id),
                body: Some(body),
                ..
            } => self.push(id, Direction::From, body, Timestamp::now()),
            Event::Terminated { session, .. } | Event::Failed { session, .. } => {
                if let Some(p) = self.open.remove(session) {
                    self.queue(p);
                }
            }
            _ => {}
        }
    }

    /// Session `id` with `peer` (its full JID) was (re)negotiated with `logging`.
    fn established(&mut self, id: &SessionId, peer: &str, logging: Logging, now: Timestamp) {
        let thread = id.thread();
        if !self.archives(peer, thread, logging) {
            // §3.2: once off the record, nothing of the session is kept, neither what is
            // recording nor the parts of a long session split off already (found in
            // review: those were still uploaded).
            self.open.remove(id);
            self.ready.retain(|p| {
                p.collection.with != peer || p.collection.thread.as_deref() != Some(thread)
            });
            return;
        }
        self.open.entry(id.clone()).or_insert_with(|| Pending {
            collection: Collection::new(peer, now, Some(thread)),
            tried_at: None,
            last: now,
        });
    }

    /// Records a message we sent in session `id`.
    pub fn sent(&mut self, id: &SessionId, body: &str) {
        self.push(id, Direction::To, body, Timestamp::now());
    }

    fn push(&mut self, id: &SessionId, dir: Direction, body: &str, now: Timestamp) {
        // §4.6: entries are never empty.
        if body.is_empty() {
            return;
        }
        let Some(p) = self.open.get_mut(id) else {
            return;
        };
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
                tried_at: None,
                last: p.last,
            };
            p.collection.entries.clear();
            self.queue(part);
        }
    }

    /// Puts `p` in line for upload unless it is empty, dropping the oldest beyond
    /// [`MAX_READY`].
    fn queue(&mut self, p: Pending) {
        if p.collection.entries.is_empty() {
            return;
        }
        self.ready.push(p);
        if self.ready.len() > MAX_READY {
            let dropped = self.ready.remove(0);
            let c = &dropped.collection;
            tracing::warn!(
                with = %c.with,
                start = %c.start,
                messages = c.entries.len(),
                "more than {MAX_READY} collections wait for upload: the oldest is dropped"
            );
        }
    }

    /// Whether collections wait for [`upload`](Self::upload).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Uploads the finished collections, sealed (§5.2), telling `report` of each once
    /// the server has stored it or refused it for good. A collection leaves only then:
    /// after another error (no passphrase, no key, a save unanswered or refused for now,
    /// RFC 6120 §8.3.2 type `wait`) what was not stored waits for the next call (found in
    /// review: they were dropped). A collection refused for good (type `cancel` or
    /// `modify`, e.g. a body over the server's limit) is set aside with a warning and the
    /// next ones go on (found in review: it blocked every later upload).
    pub async fn upload(
        &mut self,
        conn: &mut Connection,
        mut report: impl FnMut(Uploaded<'_>),
    ) -> Result<(), ArchiverError> {
        if self.ready.is_empty() {
            return Ok(());
        }
        let key = match self.key.take() {
            Some(key) => key,
            None => {
                let passphrase = self.passphrase.clone().ok_or(ArchiverError::NoPassphrase)?;
                conn.archive_key_or_create(&passphrase).await?
            }
        };
        let key = self.key.insert(key);
        while let Some(p) = self.ready.first_mut() {
            // §5.2: the server appends to a collection that exists (another part of a long
            // session, another session with the same JID started in the same second), so
            // the bodies are sealed from the index it will give them (found in review:
            // sealed from 0, the appended ones never opened).
            let stored = match stored_count(conn, &p.collection).await {
                Ok(n) => Ok(n),
                // An answer that cannot give the count (none given, another collection):
                // asking again gets the same.
                Err(XmppError::Protocol(why)) => Err(why),
                Err(e) => return Err(self.retry_later(e.into())),
            };
            let refused = match stored {
                Err(why) => Some(why),
                Ok(stored)
                    if p.tried_at
                        .is_some_and(|before| stored >= before + p.collection.entries.len()) =>
                {
                    // The last upload was stored though its answer was lost: not sent twice.
                    None
                }
                Ok(stored) => {
                    p.tried_at = Some(stored);
                    let sealed = key.seal_collection(&p.collection, stored)?;
                    match conn.archive_save(&sealed, STEP).await {
                        Ok(_) => None,
                        Err(SaveError::Refused(condition)) => Some(condition),
                        Err(SaveError::Failed(e)) => return Err(self.retry_later(e.into())),
                    }
                }
            };
            let c = self.ready.remove(0).collection;
            match refused {
                None => report(Uploaded::Saved(&c)),
                Some(condition) => {
                    tracing::warn!(with = %c.with, start = %c.start, %condition,
                        "the server refused the collection for good: dropped");
                    report(Uploaded::Refused(&c, &condition));
                }
            }
        }
        Ok(())
    }

    /// `e` stopped the upload of the first collection waiting, which may succeed later: it
    /// goes to the end of the queue, so that one that keeps failing does not hold back the
    /// others at every upload (it leaves only as the oldest beyond `MAX_READY`).
    fn retry_later(&mut self, e: ArchiverError) -> ArchiverError {
        self.ready.rotate_left(1);
        e
    }

    /// Before logging out: ends the recording of every open session and uploads every
    /// recorded collection, as [`upload`](Self::upload).
    pub async fn finish(
        &mut self,
        conn: &mut Connection,
        report: impl FnMut(Uploaded<'_>),
    ) -> Result<(), ArchiverError> {
        let open: Vec<Pending> = self.open.drain().map(|(_, p)| p).collect();
        for p in open {
            self.queue(p);
        }
        self.upload(conn, report).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::xml::{parse_element, Limits};
    use esession::Jid;

    fn archiver(pref: &str) -> Archiver {
        let el = parse_element(pref, &Limits::default()).unwrap();
        Archiver {
            prefs: Some(Prefs::parse(&el).unwrap()),
            ..Archiver::default()
        }
    }

    const SAVE_BODY: &str =
        "<pref xmlns='urn:xmpp:archive'><default otr='concede' save='body'/></pref>";

    fn id(peer: &str, thread: &str) -> SessionId {
        SessionId::for_tests(&Jid::new(peer).unwrap(), thread)
    }

    fn end(a: &mut Archiver, peer: &str, thread: &str) {
        a.note(&Event::Terminated {
            peer: Jid::new(peer).unwrap(),
            session: id(peer, thread),
            by: esession::EndedBy::Us,
        });
    }

    #[test]
    fn may_session_is_recorded_both_ways_and_ready_when_it_ends() {
        let mut a = archiver(SAVE_BODY);
        a.established(
            &id("bob@x/r", "t1"),
            "bob@x/r",
            Logging::May,
            Timestamp(100),
        );
        a.push(&id("bob@x/r", "t1"), Direction::From, "hi", Timestamp(103));
        a.sent(&id("bob@x/other", "t1"), "hello");
        // §4.6: an empty body is no entry.
        a.sent(&id("bob@x/r", "t1"), "");
        assert!(!a.has_ready());
        end(&mut a, "bob@x/r", "t1");
        assert!(a.has_ready());
        let c = &a.ready[0].collection;
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.entries[0].dir, Direction::From);
        assert_eq!(c.entries[0].secs, Some(3));
        assert_eq!(c.entries[1].dir, Direction::To);
        assert_eq!(c.entries[1].body, "hello");
    }

    #[test]
    fn mustnot_or_save_false_keeps_nothing() {
        let mut a = archiver(SAVE_BODY);
        a.established(
            &id("bob@x/r", "t1"),
            "bob@x/r",
            Logging::MustNot,
            Timestamp(1),
        );
        a.sent(&id("bob@x/r", "t1"), "secret");
        end(&mut a, "bob@x/r", "t1");
        assert!(!a.has_ready());

        let mut a =
            archiver("<pref xmlns='urn:xmpp:archive'><default otr='concede' save='false'/></pref>");
        a.established(&id("bob@x/r", "t1"), "bob@x/r", Logging::May, Timestamp(1));
        a.sent(&id("bob@x/r", "t1"), "secret");
        end(&mut a, "bob@x/r", "t1");
        assert!(!a.has_ready());
    }

    /// Session `thread` with bob@x/r, (re)negotiated with `logging`.
    fn negotiated(a: &mut Archiver, thread: &str, logging: Logging) {
        a.established(&id("bob@x/r", thread), "bob@x/r", logging, Timestamp(1));
    }

    #[test]
    fn renegotiated_off_the_record_drops_what_was_recorded() {
        let mut a = archiver(SAVE_BODY);
        negotiated(&mut a, "t1", Logging::May);
        a.sent(&id("bob@x/r", "t1"), "on the record");
        // §3.2: once off the record, nothing of the session is kept.
        negotiated(&mut a, "t1", Logging::MustNot);
        end(&mut a, "bob@x/r", "t1");
        assert!(!a.has_ready());
        // The same with a part split off already; another session's part is kept.
        let mut a = archiver(SAVE_BODY);
        for thread in ["t1", "t2"] {
            negotiated(&mut a, thread, Logging::May);
            for _ in 0..MAX_PENDING + 1 {
                a.sent(&id("bob@x/r", thread), "long");
            }
        }
        assert_eq!(a.ready.len(), 2);
        negotiated(&mut a, "t1", Logging::MustNot);
        end(&mut a, "bob@x/r", "t1");
        assert_eq!(a.ready.len(), 1);
        assert_eq!(a.ready[0].collection.thread.as_deref(), Some("t2"));
    }

    /// Found in review: the collections were taken out before the key was at hand, so a
    /// failed upload lost them. Through Prosody (its XEP-0136 module).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_upload_keeps_the_collections_for_the_next() {
        let mut a = archiver(SAVE_BODY);
        negotiated(&mut a, "t1", Logging::May);
        a.sent(&id("bob@x/r", "t1"), "kept");
        end(&mut a, "bob@x/r", "t1");
        let Some(mut conn) = archive_account("archfail").await else {
            return;
        };
        let mut saved = Vec::new();
        let e = a.upload(&mut conn, |u| saved.push(outcome(u))).await;
        assert!(matches!(e, Err(ArchiverError::NoPassphrase)), "{e:?}");
        assert!(a.has_ready(), "kept for the next upload");
        a.set_passphrase(Some(Zeroizing::new("archive passphrase".into())));
        a.upload(&mut conn, |u| saved.push(outcome(u)))
            .await
            .unwrap();
        assert!(!a.has_ready());
        assert_eq!(saved, [("t1".to_owned(), None)]);
    }

    /// The thread of an uploaded collection and the condition of a refusal.
    fn outcome(u: Uploaded<'_>) -> (String, Option<String>) {
        let (c, refused) = match u {
            Uploaded::Saved(c) => (c, None),
            Uploaded::Refused(c, condition) => (c, Some(condition.to_owned())),
        };
        (c.thread.clone().unwrap_or_default(), refused)
    }

    /// A connection to a new account of the test server, `None` on ejabberd (no XEP-0136).
    async fn archive_account(name: &str) -> Option<Connection> {
        let target = esession_testkit::target();
        if target.is_ejabberd() {
            return None;
        }
        let account = target.register_unique(name);
        let mut o = crate::ConnectOptions::new(&account.jid, &account.password);
        o.server = Some(account.addr.clone());
        o.tls = crate::TlsMode::Plain;
        o.send_presence = false;
        Some(Connection::connect(o).await.unwrap())
    }

    /// Found in review: a collection the server refuses for good (here a body over
    /// mod_archive_manual's 64 KiB, `modify`/`not-acceptable`) was sent again at every
    /// upload and blocked every later one. Through Prosody.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_collection_refused_for_good_is_set_aside_and_the_next_go_on() {
        let mut a = archiver(SAVE_BODY);
        a.set_passphrase(Some(Zeroizing::new("archive passphrase".into())));
        for (thread, body) in [("t1", "x".repeat(50_000)), ("t2", "fits".into())] {
            negotiated(&mut a, thread, Logging::May);
            a.sent(&id("bob@x/r", thread), &body);
            end(&mut a, "bob@x/r", thread);
        }
        let Some(mut conn) = archive_account("archrefused").await else {
            return;
        };
        let mut reports = Vec::new();
        a.upload(&mut conn, |u| reports.push(outcome(u)))
            .await
            .unwrap();
        assert_eq!(
            reports,
            [
                ("t1".to_owned(), Some("not-acceptable".to_owned())),
                ("t2".to_owned(), None)
            ]
        );
        assert!(!a.has_ready());
    }

    /// Found in review: two sessions with the same full JID started in the same second
    /// make one collection (§5.2: the server appends), but each was sealed from index 0,
    /// so the second one's messages never opened. A save stored though its answer was
    /// lost is not sent twice. Through Prosody.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_collection_appended_to_opens_whole_and_is_not_stored_twice() {
        let mut a = archiver(SAVE_BODY);
        a.set_passphrase(Some(Zeroizing::new("archive passphrase".into())));
        // `negotiated` starts every session at the same second with bob@x/r.
        for (thread, body) in [("t1", "one"), ("t2", "two")] {
            negotiated(&mut a, thread, Logging::May);
            a.sent(&id("bob@x/r", thread), body);
            end(&mut a, "bob@x/r", thread);
        }
        let c = a.ready[0].collection.clone();
        let Some(mut conn) = archive_account("archappend").await else {
            return;
        };
        a.upload(&mut conn, |_| {}).await.unwrap();
        assert_eq!(opened(&mut conn, &a, &c).await, ["one", "two"]);
        // The first upload again, as after a timeout: the server has its messages.
        a.ready.push(Pending {
            collection: c.clone(),
            tried_at: Some(0),
            last: Timestamp(1),
        });
        let mut reports = Vec::new();
        a.upload(&mut conn, |u| reports.push(outcome(u)))
            .await
            .unwrap();
        assert_eq!(reports, [("t1".to_owned(), None)]);
        assert_eq!(opened(&mut conn, &a, &c).await, ["one", "two"]);
    }

    /// The bodies of the server's collection `c`, opened with `a`'s key from index 0.
    async fn opened(conn: &mut Connection, a: &Archiver, c: &Collection) -> Vec<String> {
        let sealed = conn
            .archive_retrieve_all(&c.with, &c.start, 50, 100, STEP)
            .await
            .unwrap();
        let key = a.key.as_ref().unwrap();
        let all = key.open_collection(&sealed, 0).unwrap();
        all.entries.into_iter().map(|e| e.body).collect()
    }

    #[test]
    fn the_collections_waiting_are_bounded_and_the_oldest_dropped() {
        let mut a = archiver(SAVE_BODY);
        for i in 0..=MAX_READY {
            let thread = format!("t{i}");
            negotiated(&mut a, &thread, Logging::May);
            a.sent(&id("bob@x/r", &thread), "m");
            end(&mut a, "bob@x/r", &thread);
        }
        assert_eq!(a.ready.len(), MAX_READY);
        assert_eq!(a.ready[0].collection.thread.as_deref(), Some("t1"));
    }

    #[test]
    fn long_session_is_uploaded_in_parts_with_continuing_indexes() {
        let mut a = archiver(SAVE_BODY);
        a.established(&id("bob@x/r", "t1"), "bob@x/r", Logging::May, Timestamp(1));
        for _ in 0..MAX_PENDING + 1 {
            a.sent(&id("bob@x/r", "t1"), "m");
        }
        assert_eq!(a.ready.len(), 1);
        assert_eq!(a.ready[0].collection.entries.len(), MAX_PENDING);
        end(&mut a, "bob@x/r", "t1");
        assert_eq!(a.ready.len(), 2);
        assert_eq!(a.ready[1].collection.start, a.ready[0].collection.start);
        assert_eq!(a.ready[1].collection.entries.len(), 1);
    }

    #[test]
    fn no_prefs_archives_nothing() {
        let mut a = Archiver::default();
        assert!(!a.needs_passphrase());
        a.established(&id("bob@x/r", "t1"), "bob@x/r", Logging::May, Timestamp(1));
        a.sent(&id("bob@x/r", "t1"), "m");
        end(&mut a, "bob@x/r", "t1");
        assert!(!a.has_ready());
    }

    #[test]
    fn explicit_logging_leaves_the_engine_default() {
        let el = parse_element(SAVE_BODY, &Limits::default()).unwrap();
        let prefs = Prefs::parse(&el).unwrap();
        assert_eq!(engine_prefs(Some(&prefs), false), Some(prefs.clone()));
        assert_eq!(engine_prefs(Some(&prefs), true), None);
        assert_eq!(engine_prefs(None, false), None);
    }
}
