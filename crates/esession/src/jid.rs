//! Text helpers for JIDs that stay text: the `jid` of XEP-0136 preference items and
//! collections, matched as written (RFC 7622 §3.1: `local@domain/resource`). The engine's API
//! takes typed JIDs ([`crate::Jid`], [`crate::BareJid`], [`crate::FullJid`]).

/// The bare part of `jid` (everything before the first `/`).
pub fn bare(jid: &str) -> &str {
    jid.split_once('/').map_or(jid, |(b, _)| b)
}

/// Whether `jid` carries a resource.
pub fn is_full(jid: &str) -> bool {
    jid.split_once('/').is_some_and(|(_, r)| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_full() {
        assert_eq!(bare("a@b/c/d"), "a@b");
        assert_eq!(bare("a@b"), "a@b");
        assert!(is_full("a@b/c"));
        assert!(!is_full("a@b"));
        assert!(!is_full("a@b/"));
    }
}
