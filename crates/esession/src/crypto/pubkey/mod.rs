//! Public-key identities (XEP-0116 §4.5.4 `key`/`hash` modes, profile P8): RSA and DSA keys
//! as xmldsig `<KeyValue/>` elements, their fingerprints, and the signatures of the SIGMA mac.
//!
//! - [`PublicKey`]: a peer's (or our own) public key, parsed from a received `<KeyValue/>`
//!   with every P8 check, or built into one with the children in the P8 order.
//! - [`IdentityKey`]: our private key (RSA or DSA), zeroized on drop, kept as PKCS#8.
//! - [`Fingerprint`]: SHA-256 of the P4-normalized `<KeyValue/>` (P8).
//! - [`SignAlg`]: the `sign_algs` URIs (P8, A11).
mod dsa_key;
mod error;
mod fingerprint;
mod identity;
mod key_value;
mod public_key;
mod rng;
mod rsa_key;
mod sign_alg;
#[cfg(test)]
mod tests;

pub use dsa_key::DsaPublic;
pub use error::KeyError;
pub use fingerprint::Fingerprint;
pub use identity::IdentityKey;
pub use public_key::PublicKey;
pub use rsa_key::RsaPublic;
pub use sign_alg::SignAlg;

use crate::xml::Element;

/// The W3C xmldsig namespace of `<KeyValue/>` (XEP-0116 §8, spec-digest §2.5).
pub const XMLDSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Profile P8: the smallest RSA modulus and DSA prime p accepted or generated, in bits.
pub const MIN_KEY_BITS: usize = 2048;

/// The largest integer accepted in a `<KeyValue/>` (and the largest RSA modulus), in bits:
/// larger values only cost the receiver time.
pub const MAX_KEY_BITS: usize = 8192;

/// The P4 text of a *received* `<KeyValue/>` exactly as it was parsed, its own tags
/// included. Profile P8: the receiver MACs this form of the received element, never the
/// text of a key rebuilt from its values (which can differ, for instance when the sender
/// wrote leading zero octets). This is [`Element::normalized`] of the P4 module.
pub fn normalized_of(key_value: &Element) -> String {
    key_value.normalized()
}
