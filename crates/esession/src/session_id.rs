//! The handle of one session: what the engine routes by (XEP-0201: the peer's bare JID and
//! the thread).
use crate::small_text::SmallText;
use jid::BareJid;
use std::fmt;
use std::sync::Arc;

/// Names one session of an [`Engine`](crate::Engine): the peer's bare JID and the XEP-0201
/// thread, the pair the engine routes received stanzas by.
///
/// Only the engine makes them: [`Engine::start`](crate::Engine::start) and
/// [`Engine::start_offline`](crate::Engine::start_offline) return one, and every event
/// about a session carries its own, so a caller cannot pair a peer with a thread that is
/// not theirs. Cloning is cheap (one reference count); `Display` is for logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<Parts>);

#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Parts {
    peer: BareJid,
    /// Inline: this engine's threads are 32 hex digits, Gajim's 32 letters (issue 14
    /// item 3: one heap block less per session).
    thread: SmallText<32>,
}

impl SessionId {
    /// The session with `peer` on `thread`, as the router keys it (a full JID's resource is
    /// dropped: XEP-0201 threads are per bare JID).
    pub(crate) fn new(peer: BareJid, thread: &str) -> Self {
        SessionId(Arc::new(Parts {
            peer,
            thread: SmallText::new(thread),
        }))
    }

    /// A handle made outside any engine, for tests of code that consumes events (feature
    /// `test-util`): it names a session only if an engine has one with this peer and thread.
    #[cfg(any(test, feature = "test-util"))]
    pub fn for_tests(peer: &jid::Jid, thread: &str) -> Self {
        SessionId::new(peer.to_bare(), thread)
    }

    /// The peer's bare JID.
    pub fn peer(&self) -> &BareJid {
        &self.0.peer
    }

    /// The XEP-0201 thread.
    pub fn thread(&self) -> &str {
        self.0.thread.as_str()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} thread {}", self.0.peer, self.thread())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionId")
            .field("peer", &self.0.peer.as_str())
            .field("thread", &self.thread())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_peer_and_thread_and_compares_by_value() {
        let peer = BareJid::new("bob@example.com").unwrap();
        let a = SessionId::new(peer.clone(), "t1");
        assert_eq!(a.to_string(), "bob@example.com thread t1");
        assert_eq!(a, SessionId::new(peer.clone(), "t1"));
        assert_ne!(a, SessionId::new(peer, "t2"));
        assert_eq!((a.peer().as_str(), a.thread()), ("bob@example.com", "t1"));
    }
}
