//! Public key publishing (XEP-0189 as bound by profile P14): the `<pubkey/>` payload,
//! signed revocations and attestations, the direct key request and the key-generation
//! signal. Pure functions and types: the adapter publishes, fetches and sends them.
//!
//! - [`pubkey_payload`] / [`parse_pubkey`]: `<pubkey xmlns='urn:xmpp:pubkey:2'>` holding
//!   the P8 `<KeyValue/>` (profile P14).
//! - [`Revocation`]: `<revoke xmlns='urn:xmpp:revoke:2'>`, signed by the revoked key.
//! - [`Attestation`]: `<attest xmlns='urn:xmpp:attest:2'>`, a key signed by another.
//! - [`absorb`]: fetched keys and revocations into the trust store.
//! - [`key_request`], [`is_key_request`], [`generating`], [`is_generating`] (XEP-0189
//!   §6–8).
//!
//! The exact signed octets of revocations and attestations are fixed in
//! `docs/decisions.md` ("Published keys (XEP-0189)") and in the `statement` module.
mod absorb;
mod attestation;
mod direct;
mod payload;
mod revocation;
mod statement;
#[cfg(test)]
mod tests;

pub use absorb::{absorb, FetchedKey};
pub use attestation::Attestation;
pub use direct::{generating, is_generating, is_key_request, key_request, key_request_answer};
pub use payload::{parse_item, parse_pubkey, pubkey_payload};
pub use revocation::Revocation;

use crate::crypto::pubkey::KeyError;
use crate::xml::XmlError;

/// The namespace of `<pubkey/>`, of the direct request and of `<generating/>`, and the
/// PEP node of published keys (XEP-0189 §3, profile P14).
pub const NS_PUBKEY: &str = "urn:xmpp:pubkey:2";
/// The namespace of `<revoke/>` and the PEP node of revocations (XEP-0189 §4).
pub const NS_REVOKE: &str = "urn:xmpp:revoke:2";
/// The namespace of `<attest/>` and the PEP node of attestations (XEP-0189 §5).
pub const NS_ATTEST: &str = "urn:xmpp:attest:2";
/// The item id of our key in the pubkey node (XEP-0189 §6, profile P14).
pub const CURRENT_ITEM: &str = "current";
/// The disco features of an entity that supports keys, revocations and attestations
/// (XEP-0189 §9).
pub const FEATURES: [&str; 3] = [NS_PUBKEY, NS_REVOKE, NS_ATTEST];

/// Why a published key, revocation or attestation was refused. Each names what was wrong:
/// everything here comes from the network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PubkeyError {
    /// The item is not well-formed XML or exceeds the bounds.
    #[error("published item: {0}")]
    Xml(#[from] XmlError),
    /// The element is not the one expected.
    #[error("expected <{expected}/> in namespace {ns}, got <{name}/> in {got_ns:?}")]
    WrongElement {
        /// The expected local name.
        expected: &'static str,
        /// The expected namespace.
        ns: &'static str,
        /// The local name received (at most 64 characters).
        name: String,
        /// The namespace received (at most 128 characters).
        got_ns: String,
    },
    /// `<pubkey/>` holds no `<KeyValue/>` or more than one (profile P14: exactly one).
    #[error("<pubkey/> holds {0} KeyValue elements (exactly one required, profile P14)")]
    KeyValueCount(usize),
    /// The key itself fails a P8 check.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A required child is absent or appears twice.
    #[error("<{parent}/> needs exactly one <{child}/>")]
    Child {
        /// The statement element.
        parent: &'static str,
        /// The child.
        child: &'static str,
    },
    /// A child's value is unusable (too long, bad base64, bad time, unknown algorithm).
    #[error("<{child}/>: {why}")]
    BadValue {
        /// The child.
        child: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A fingerprint does not match the key it names.
    #[error("<{child}/> is not the fingerprint of {of}")]
    FingerprintMismatch {
        /// The child holding the fingerprint.
        child: &'static str,
        /// Which key it should name.
        of: &'static str,
    },
    /// The signature does not verify.
    #[error("the signature does not verify: {0}")]
    Signature(KeyError),
}

/// `s` cut to at most `max` characters, for error messages about hostile input.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
