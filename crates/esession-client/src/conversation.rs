//! One conversation: everything exchanged with one contact (a bare JID), whichever side
//! started each session and however many sessions it saw.
use crate::bounded::RecentIds;
use crate::queue::Queue;
use crate::sessions::SessionRef;

/// A session of the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Live {
    session: SessionRef,
    established: bool,
    /// Whether a receipt came through it (the contact's client acknowledges messages).
    acknowledges: bool,
}

/// The conversation with one contact.
#[derive(Clone, Debug, Default)]
pub struct Conversation {
    /// Open sessions (negotiating or established), in the order they were started or
    /// established.
    sessions: Vec<Live>,
    /// Our messages not yet acknowledged.
    pub(crate) queue: Queue,
    /// Ids (with a digest of their bodies) of the newest messages received, to show a
    /// message sent again only once.
    seen: RecentIds,
}

impl Conversation {
    /// The session messages go to: the one established last.
    pub fn current(&self) -> Option<&SessionRef> {
        self.sessions
            .iter()
            .rev()
            .find(|l| l.established)
            .map(|l| &l.session)
    }

    /// Whether a negotiation we started is in progress.
    pub fn negotiating(&self) -> bool {
        self.sessions.iter().any(|l| !l.established)
    }

    /// Every open session, in the order they were started or established.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionRef> {
        self.sessions.iter().map(|l| &l.session)
    }

    /// Whether `thread` is a session of this conversation.
    pub fn has(&self, thread: &str) -> bool {
        self.sessions.iter().any(|l| l.session.thread() == thread)
    }

    /// The ids of our messages not yet acknowledged.
    pub fn unacknowledged(&self) -> Vec<String> {
        self.queue.unacknowledged()
    }

    /// Records a negotiation we started.
    pub(crate) fn negotiate(&mut self, session: SessionRef) {
        self.sessions.push(Live {
            session,
            established: false,
            acknowledges: false,
        });
    }

    /// Records an established session, which becomes the current one; returns true when
    /// the contact started it: the conversation adopts it (a conversation is per contact,
    /// not per thread).
    pub(crate) fn established(&mut self, session: SessionRef) -> bool {
        let before = self
            .sessions
            .iter()
            .position(|l| l.session.thread() == session.thread())
            .map(|i| self.sessions.remove(i));
        self.sessions.push(Live {
            session,
            established: true,
            acknowledges: before.as_ref().is_some_and(|l| l.acknowledges),
        });
        before.is_none()
    }

    /// Whether `thread` is a negotiation not yet established.
    pub(crate) fn negotiating_on(&self, thread: &str) -> bool {
        self.sessions
            .iter()
            .any(|l| l.session.thread() == thread && !l.established)
    }

    /// Records that a receipt came through `thread`.
    pub(crate) fn acknowledged_in(&mut self, thread: &str) {
        if let Some(l) = self
            .sessions
            .iter_mut()
            .find(|l| l.session.thread() == thread)
        {
            l.acknowledges = true;
        }
    }

    /// The sessions whose contact acknowledged messages before but left one sent at or
    /// before `since` unacknowledged: presumed stale (the contact's client restarted).
    pub(crate) fn stale(&self, since: esession::Timestamp) -> Vec<SessionRef> {
        let overdue = self.queue.overdue(since);
        self.sessions
            .iter()
            .filter(|l| l.acknowledges && overdue.iter().any(|t| t == l.session.thread()))
            .map(|l| l.session.clone())
            .collect()
    }

    /// Forgets the session on `thread`; returns it if it was open.
    pub(crate) fn remove(&mut self, thread: &str) -> Option<SessionRef> {
        let i = self
            .sessions
            .iter()
            .position(|l| l.session.thread() == thread)?;
        Some(self.sessions.remove(i).session)
    }

    /// Forgets every session with the resource `full`.
    pub(crate) fn remove_resource(&mut self, full: &str) -> Vec<SessionRef> {
        let (gone, kept) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|l| l.session.full == full);
        self.sessions = kept;
        gone.into_iter().map(|l| l.session).collect()
    }

    /// Whether message `id` with `body` is seen for the first time: a message sent again
    /// after its session ended carries the same id and the same body. The id is the outer
    /// stanza's, which the session does not authenticate (XEP-0200 §6: the MAC covers the
    /// content of `<c/>`), so a server could put an id already seen on a new message; a
    /// new body under a known id is therefore shown, never taken for a copy.
    pub(crate) fn first_time(&mut self, id: &str, body: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let mut digest = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut digest);
        self.seen
            .insert(&format!("{id}\u{0}{:016x}", digest.finish()))
    }
}
