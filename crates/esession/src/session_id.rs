//! The handle of one session: what the engine routes by (XEP-0201: the peer's bare JID and
//! the thread).
use crate::small_text::SmallText;
use jid::BareJid;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Names one session of an [`Engine`](crate::Engine): the peer's bare JID and the XEP-0201
/// thread, the pair the engine routes received stanzas by.
///
/// Only the engine makes them: [`Engine::start`](crate::Engine::start) and
/// [`Engine::start_offline`](crate::Engine::start_offline) return one, and every event
/// about a session carries its own, so a caller cannot pair a peer with a thread that is
/// not theirs. Cloning is cheap (one reference count); `Display` is for logs.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId(Arc<Parts>);

#[derive(PartialEq, Eq, PartialOrd, Ord)]
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

/// A session's key as its two parts, the peer's bare JID (normalized, RFC 7622) and the
/// thread's octets: what a session map hashes and compares, for a [`SessionId`] and for a
/// [`Route`] borrowed from a received stanza alike (`Borrow` requires equal keys to hash
/// equally, and both hash through this).
pub(crate) trait Keyed {
    /// The bare JID and the thread.
    fn key_parts(&self) -> (&str, &[u8]);
}

impl Keyed for SessionId {
    fn key_parts(&self) -> (&str, &[u8]) {
        (self.0.peer.as_str(), self.0.thread.as_bytes())
    }
}

/// The key of the session a received stanza names, borrowed from the stanza: the
/// router finds the session with it without making a [`SessionId`] (two allocations).
pub(crate) struct Route<'a> {
    /// The sender's bare JID, normalized.
    pub(crate) peer: &'a str,
    /// The XEP-0201 thread.
    pub(crate) thread: &'a str,
}

impl Keyed for Route<'_> {
    fn key_parts(&self) -> (&str, &[u8]) {
        (self.peer, self.thread.as_bytes())
    }
}

impl<'a> Borrow<dyn Keyed + 'a> for SessionId {
    fn borrow(&self) -> &(dyn Keyed + 'a) {
        self
    }
}

impl Hash for dyn Keyed + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (peer, thread) = self.key_parts();
        // What the two `str`s feed a hasher (`Hasher::write_str`'s default): the octets,
        // then 0xff, each.
        state.write(peer.as_bytes());
        state.write_u8(0xff);
        state.write(thread);
        state.write_u8(0xff);
    }
}

impl PartialEq for dyn Keyed + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_parts() == other.key_parts()
    }
}

impl Eq for dyn Keyed + '_ {}

impl Hash for SessionId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn Keyed).hash(state);
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

    #[test]
    fn a_borrowed_route_finds_its_session_and_no_other() {
        use std::collections::HashMap;
        let peer = BareJid::new("bob@example.com").unwrap();
        let mut map = HashMap::new();
        // A thread kept inline and one boxed (longer than 32 octets).
        let long = "0123456789abcdef0123456789abcdef-and-more";
        for (i, thread) in ["t1", "t2", long].into_iter().enumerate() {
            map.insert(SessionId::new(peer.clone(), thread), i);
        }
        let route = |peer, thread| Route { peer, thread };
        for (i, thread) in ["t1", "t2", long].into_iter().enumerate() {
            let key = route("bob@example.com", thread);
            assert_eq!(map.get(&key as &dyn Keyed), Some(&i), "{thread}");
        }
        for (peer, thread) in [
            ("bob@example.com", "t3"),
            ("bob@example.co", "mt1"),
            ("bob@example.comt", "1"),
            ("alice@example.com", "t1"),
            ("bob@example.com", ""),
        ] {
            assert_eq!(
                map.get(&route(peer, thread) as &dyn Keyed),
                None,
                "{peer} {thread}"
            );
        }
    }
}
