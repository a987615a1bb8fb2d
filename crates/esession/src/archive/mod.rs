//! XEP-0136 message archiving, client side and sans-IO: archiving preferences (§2), their
//! mapping to the XEP-0155 `logging` field (§3), collections for manual upload (§4–5),
//! list, retrieve and remove with XEP-0059 result set management (§7), and the record of
//! the account's archive key kept in XEP-0049 private storage (docs/decisions.md,
//! "Message archiving").
//!
//! The network exchange lives in `esession-xmpp`; the body encryption (Argon2id,
//! XChaCha20-Poly1305) in `esession-store`.
mod collection;
mod keyinfo;
mod otr;
mod prefs;
mod rsm;

pub use collection::{
    list_request, parse_list, parse_saved, remove_request, retrieve_request, Collection, Direction,
    Entry, ListQuery,
};
pub use keyinfo::{ArchiveKeyInfo, KEY_INFO_NS};
pub use otr::{answer as logging_answer, offer as logging_offer};
pub use prefs::{ItemPref, OtrMode, Prefs, SaveMode, SessionPref};
pub use rsm::{RsmQuery, RsmResult};

/// XEP-0136 §12.1 namespace.
pub const NS: &str = "urn:xmpp:archive";
/// XEP-0059 result set management.
pub const RSM_NS: &str = "http://jabber.org/protocol/rsm";
/// XEP-0049 private XML storage.
pub const PRIVATE_NS: &str = "jabber:iq:private";

/// Most entries accepted in one received collection page; the XML parser's limits bound
/// the input anyway, this bounds what we keep.
pub const MAX_ENTRIES: usize = 10_000;

/// Why an archiving element was refused: names what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// A required element or attribute is missing.
    #[error("XEP-0136: missing {0}")]
    Missing(&'static str),
    /// An attribute or element has a value we do not accept.
    #[error("XEP-0136: bad {what}: {value:?}")]
    Bad {
        /// What was wrong.
        what: &'static str,
        /// The value received.
        value: String,
    },
    /// The element is not the one expected.
    #[error("XEP-0136: expected <{0}/>")]
    Unexpected(&'static str),
    /// A §7.2 answer is a collection other than the one asked for.
    #[error(
        "XEP-0136: asked for the collection with {asked_with:?} at {asked_start:?}, \
         the server answered with the one with {with:?} at {start:?}"
    )]
    OtherCollection {
        /// The `with` asked for.
        asked_with: String,
        /// The `start` asked for.
        asked_start: String,
        /// The `with` of the answer (at most 80 characters).
        with: String,
        /// The `start` of the answer (at most 80 characters).
        start: String,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("XEP-0136: more than {0} entries in one page")]
    TooMany(usize),
}

pub(crate) fn bad(what: &'static str, value: &str) -> ArchiveError {
    ArchiveError::Bad {
        what,
        value: clipped(value),
    }
}

/// A value from the server as an error shows it: at most 80 characters.
fn clipped(value: &str) -> String {
    value.chars().take(80).collect()
}

/// XML Schema boolean (`1`/`true`, `0`/`false`, XEP-0136 §2.2.1).
pub(crate) fn xs_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// XEP-0136 §10.1 JID matching: a full JID matches only itself, a bare JID any of its
/// resources, a domain any JID at that domain; with `exact` only the identical JID.
pub fn jid_matches(pattern: &str, jid: &str, exact: bool) -> bool {
    if exact || crate::jid::is_full(pattern) {
        return pattern == jid;
    }
    let bare = crate::jid::bare(jid);
    if pattern.contains('@') {
        return bare == pattern;
    }
    let domain = bare.rsplit_once('@').map_or(bare, |(_, d)| d);
    domain == pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jid_matching_follows_section_10_1() {
        assert!(jid_matches("a@x/r", "a@x/r", false));
        assert!(!jid_matches("a@x/r", "a@x/s", false));
        assert!(jid_matches("a@x", "a@x/s", false));
        assert!(jid_matches("a@x", "a@x", false));
        assert!(!jid_matches("a@x", "b@x", false));
        assert!(jid_matches("x", "b@x/r", false));
        assert!(jid_matches("x", "x", false));
        assert!(!jid_matches("x", "b@y", false));
        assert!(!jid_matches("a@x", "a@x/s", true));
        assert!(!jid_matches("x", "b@x", true));
    }
}
