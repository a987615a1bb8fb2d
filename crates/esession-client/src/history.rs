//! The local history of the conversations (issue 10): the messages of a session whose
//! `logging` is `may` (XEP-0155 §8) go to a [`MessageLog`] (the store, sealed under its
//! device key); those of a `mustnot` session, or when no log is given, are kept in memory
//! only, and die with the process.
use std::collections::{BTreeMap, VecDeque};

use esession::{Logging, Timestamp};
use esession_store::SqliteStore;

use crate::bounded::RecentIds;
pub use esession_store::{Direction, History, MessageRecord};

/// Messages kept in memory per conversation (the oldest are forgotten first).
pub const MEMORY_KEPT: usize = 1000;

/// Where a message is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// In the store, sealed (a `logging` = `may` session).
    Store,
    /// In memory only (a `mustnot` session, or no store): gone when the client exits.
    Memory,
    /// Nowhere: a message in clear, outside any session.
    Nowhere,
}

impl Kept {
    /// `store`, `memory` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Kept::Store => "store",
            Kept::Memory => "memory",
            Kept::Nowhere => "none",
        }
    }
}

/// Durable storage of the history.
pub trait MessageLog {
    /// Appends one message.
    ///
    /// # Errors
    /// Why it could not be kept.
    fn append(&mut self, m: &MessageRecord) -> Result<(), String>;

    /// The newest `limit` messages between `own` and `peer` (bare JIDs), oldest first.
    ///
    /// # Errors
    /// Why they could not be read.
    fn recent(&self, own: &str, peer: &str, limit: usize) -> Result<History, String>;
}

impl MessageLog for SqliteStore {
    fn append(&mut self, m: &MessageRecord) -> Result<(), String> {
        self.append_message(m).map(drop).map_err(|e| e.to_string())
    }

    fn recent(&self, own: &str, peer: &str, limit: usize) -> Result<History, String> {
        self.messages_with(own, peer, limit)
            .map_err(|e| e.to_string())
    }
}

/// One message of a conversation's history, with where it is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The message.
    pub message: MessageRecord,
    /// [`Kept::Store`] or [`Kept::Memory`].
    pub kept: Kept,
}

/// The newest messages of a conversation, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The messages, oldest first.
    pub entries: Vec<Entry>,
    /// How many stored messages were altered in the file and skipped.
    pub altered: usize,
}

/// The history of every conversation of one account.
pub(crate) struct Log {
    own: String,
    store: Option<Box<dyn MessageLog + Send>>,
    memory: BTreeMap<String, VecDeque<MessageRecord>>,
    /// Ids of the newest messages we sent already recorded (a message sent again after
    /// its session ended is recorded once).
    recorded: RecentIds,
}

impl Log {
    pub(crate) fn new(own_bare: &str) -> Self {
        Log {
            own: own_bare.to_owned(),
            store: None,
            memory: BTreeMap::new(),
            recorded: RecentIds::default(),
        }
    }

    pub(crate) fn set_store(&mut self, store: Box<dyn MessageLog + Send>) {
        self.store = Some(store);
    }

    /// Where a session with this `logging` keeps its messages.
    pub(crate) fn kept_for(&self, logging: Option<Logging>) -> Kept {
        // XEP-0155 §8: `mustnot` forbids storing the messages anywhere but in memory.
        match (logging, &self.store) {
            (Some(Logging::May), Some(_)) => Kept::Store,
            _ => Kept::Memory,
        }
    }

    /// Keeps one message of a session whose `logging` is `logging` (`None`: unknown, kept
    /// in memory). A sent message already recorded is not recorded again. An error of the
    /// store is returned with the message kept in memory instead.
    pub(crate) fn record(
        &mut self,
        peer: &str,
        direction: Direction,
        id: &str,
        body: &str,
        at: Timestamp,
        logging: Option<Logging>,
    ) -> (Kept, Option<String>) {
        if direction == Direction::Sent && !self.recorded.insert(id) {
            return (self.kept_for(logging), None);
        }
        let m = MessageRecord {
            own: self.own.clone(),
            peer: peer.to_owned(),
            direction,
            at,
            id: id.to_owned(),
            body: body.to_owned(),
        };
        let mut problem = None;
        if let (Kept::Store, Some(store)) = (self.kept_for(logging), self.store.as_mut()) {
            match store.append(&m) {
                Ok(()) => return (Kept::Store, None),
                Err(e) => problem = Some(format!("not kept in the store, only in memory: {e}")),
            }
        }
        let kept = self.memory.entry(peer.to_owned()).or_default();
        if kept.len() == MEMORY_KEPT {
            kept.pop_front();
        }
        kept.push_back(m);
        (Kept::Memory, problem)
    }

    /// The newest `limit` messages with `peer`, stored and in memory, oldest first.
    pub(crate) fn page(&self, peer: &str, limit: usize) -> Result<Page, String> {
        let stored = match &self.store {
            Some(s) => s.recent(&self.own, peer, limit)?,
            None => History::default(),
        };
        let tagged = |kept| move |message| Entry { message, kept };
        let mut entries: Vec<Entry> = stored
            .messages
            .into_iter()
            .map(tagged(Kept::Store))
            .chain(
                self.memory
                    .get(peer)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .map(tagged(Kept::Memory)),
            )
            .collect();
        // Stable: messages of the same second keep their order within each source.
        entries.sort_by_key(|e| e.message.at);
        let skip = entries.len().saturating_sub(limit);
        entries.drain(..skip);
        Ok(Page {
            entries,
            altered: stored.altered,
        })
    }
}
