//! What revocations and attestations share: their children, read from hostile input, and
//! the octets they sign.
//!
//! Decision (docs/decisions.md, "Published keys (XEP-0189)"): the signed octets are the
//! UTF-8 concatenation, with nothing between, of the character data of the children
//! XEP-0189 §4 / §5 name, each with its XML white space removed, where
//! - "the public key" (`<key/>`) is B64 of the P4 text of the P8 `<KeyValue/>` (XEP-0189
//!   v0.14's SubjectPublicKeyInfo is not our key format, profile P14);
//! - fingerprints are the P8 fingerprint in B64 (`algo` absent or `sha-256`);
//! - times are XEP-0082 UTC DateTimes without fractions (`2026-11-26T15:23:46Z`);
//! - the signature is P8's (RSASSA-PKCS1-v1_5 SHA-256, or DSA-SHA256 r|s), in B64.
use super::{clip, PubkeyError};
use crate::b64;
use crate::crypto::pubkey::{Fingerprint, IdentityKey, PublicKey};
use crate::time::Timestamp;
use crate::xml::{is_xml_space, parse_element, Element, Limits};

/// The longest base64 accepted for a signature: an 8192-bit RSA signature is 1368
/// characters.
const MAX_SIGNATURE_CHARS: usize = 2048;
/// The longest base64 accepted for a `<key/>`: the P4 text of an 8192-bit DSA key is
/// under 6 KiB.
const MAX_KEY_CHARS: usize = 12 * 1024;
/// The longest JID accepted (RFC 7622 §3.1: 3 × 1023 octets plus separators).
pub(super) const MAX_JID_OCTETS: usize = 3071;

/// `<key/>` text: B64 of the P4 text of the key's `<KeyValue/>`.
pub(super) fn key_text(key: &PublicKey) -> String {
    b64::encode(key.normalized().as_bytes())
}

/// The signed octets: the parts concatenated (see the module documentation).
fn octets(parts: &[impl AsRef<str>]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|p| p.as_ref().as_bytes().iter().copied())
        .collect()
}

/// Signs the parts with our identity key (P8 algorithm of the key).
pub(super) fn sign(key: &IdentityKey, parts: &[impl AsRef<str>]) -> Result<Vec<u8>, PubkeyError> {
    Ok(key.sign(&octets(parts))?)
}

/// Verifies the signature over the parts with `key`.
pub(super) fn verify(
    key: &PublicKey,
    parts: &[impl AsRef<str>],
    signature: &[u8],
) -> Result<(), PubkeyError> {
    key.verify(key.sign_alg(), &octets(parts), signature)
        .map_err(PubkeyError::Signature)
}

/// A child element with a text value, for building statements.
pub(super) fn text_child(parent: &Element, name: &str, text: &str) -> Element {
    Element::new(name.to_owned(), parent.ns().to_owned()).with_text(text)
}

/// The character data of the single `<child/>` of `el` (in `el`'s namespace), XML white
/// space removed, at most `max` characters.
pub(super) fn child_text(
    el: &Element,
    parent: &'static str,
    child: &'static str,
    max: usize,
) -> Result<String, PubkeyError> {
    let mut found = el.children().filter(|c| c.is(child, el.ns()));
    let (Some(c), None) = (found.next(), found.next()) else {
        return Err(PubkeyError::Child { parent, child });
    };
    if c.has_element_children() {
        return Err(bad(child, "holds elements, not text".into()));
    }
    let text: String = c.text().chars().filter(|ch| !is_xml_space(*ch)).collect();
    if text.is_empty() {
        return Err(bad(child, "empty".into()));
    }
    if text.chars().count() > max {
        return Err(bad(child, format!("longer than {max} characters")));
    }
    Ok(text)
}

fn bad(child: &'static str, why: String) -> PubkeyError {
    PubkeyError::BadValue { child, why }
}

/// A fingerprint child: `algo` absent or `sha-256` (XEP-0189 §3 default), B64 value.
pub(super) fn fingerprint_child(
    el: &Element,
    parent: &'static str,
    child: &'static str,
) -> Result<(String, Fingerprint), PubkeyError> {
    let text = child_text(el, parent, child, 256)?;
    let algo = el
        .children()
        .find(|c| c.is(child, el.ns()))
        .and_then(|c| c.attr("algo"));
    if let Some(algo) = algo.filter(|a| *a != "sha-256") {
        return Err(bad(
            child,
            format!("algorithm {:?} (only sha-256)", clip(algo, 32)),
        ));
    }
    let fp = Fingerprint::from_b64(&text).map_err(|e| bad(child, e.to_string()))?;
    Ok((text, fp))
}

/// A time child: an XEP-0082 DateTime, kept as received for the signed octets.
pub(super) fn time_child(
    el: &Element,
    parent: &'static str,
    child: &'static str,
) -> Result<(String, Timestamp), PubkeyError> {
    let text = child_text(el, parent, child, 64)?;
    let at = Timestamp::parse_datetime(&text)
        .ok_or_else(|| bad(child, format!("not an XEP-0082 DateTime: {text:?}")))?;
    Ok((text, at))
}

/// The `<signature/>` child: B64 octets.
pub(super) fn signature_child(el: &Element, parent: &'static str) -> Result<Vec<u8>, PubkeyError> {
    let text = child_text(el, parent, "signature", MAX_SIGNATURE_CHARS)?;
    b64::decode("signature", &text).map_err(|e| bad("signature", e.to_string()))
}

/// The `<key/>` child: B64 of the P4 text of a P8 `<KeyValue/>`, which must be exactly
/// the P4 text of the key it holds (so that its fingerprint is the key's). Returns the
/// text as received (for the signed octets) and the key.
pub(super) fn key_child(
    el: &Element,
    parent: &'static str,
) -> Result<(String, PublicKey), PubkeyError> {
    let text = child_text(el, parent, "key", MAX_KEY_CHARS)?;
    let octets = b64::decode("key", &text).map_err(|e| bad("key", e.to_string()))?;
    let p4 = String::from_utf8(octets).map_err(|_| bad("key", "not UTF-8".into()))?;
    let limits = Limits {
        max_bytes: MAX_KEY_CHARS,
        max_depth: 4,
        max_nodes: 32,
        max_attributes: 8,
    };
    let kv = parse_element(&p4, &limits)?;
    let key = PublicKey::from_key_value(&kv)?;
    if key.normalized() != p4 {
        return Err(bad("key", "not the P4 text of a P8 KeyValue".into()));
    }
    Ok((text, key))
}

/// Whether two fingerprints are the same (constant time, as every received value).
pub(super) fn same(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.ct_eq(b)
}
