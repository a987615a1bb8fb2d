//! The `<pubkey/>` payload of profile P14 and the parsing of fetched items.
use super::{clip, PubkeyError, NS_PUBKEY};
use crate::crypto::pubkey::{PublicKey, XMLDSIG_NS};
use crate::xml::{parse_element, Element, Limits};

/// Bounds on one published item: a P8 key of 8192 bits is about 2.8 KiB of XML, a
/// revocation or attestation about twice that.
const ITEM_LIMITS: Limits = Limits {
    max_bytes: 64 * 1024,
    max_depth: 8,
    max_nodes: 256,
    max_attributes: 16,
};

/// Parses one fetched item payload (or direct answer) with the bounds of a published key.
///
/// # Errors
/// [`PubkeyError::Xml`] when it is not one well-formed element within the bounds.
pub fn parse_item(xml: &str) -> Result<Element, PubkeyError> {
    Ok(parse_element(xml, &ITEM_LIMITS)?)
}

/// `<pubkey xmlns='urn:xmpp:pubkey:2'>` holding the P8 `<KeyValue/>` of `key` and nothing
/// else (profile P14: none of XEP-0189 v0.14's other children are written).
pub fn pubkey_payload(key: &PublicKey) -> Element {
    Element::new("pubkey", NS_PUBKEY).with_child(key.key_value())
}

/// The key of a `<pubkey/>` element (a fetched item, a direct answer or a key sent in a
/// message): exactly one `<KeyValue/>` child in the xmldsig namespace, every other child
/// ignored (profile P14), the key passing every P8 check.
///
/// # Errors
/// [`PubkeyError::WrongElement`], [`PubkeyError::KeyValueCount`] or [`PubkeyError::Key`].
pub fn parse_pubkey(el: &Element) -> Result<PublicKey, PubkeyError> {
    expect(el, "pubkey", NS_PUBKEY)?;
    let mut key_values = el.children().filter(|c| c.is("KeyValue", XMLDSIG_NS));
    let (Some(kv), None) = (key_values.next(), key_values.next()) else {
        let n = el
            .children()
            .filter(|c| c.is("KeyValue", XMLDSIG_NS))
            .count();
        return Err(PubkeyError::KeyValueCount(n));
    };
    Ok(PublicKey::from_key_value(kv)?)
}

/// `el` must be `<name xmlns='ns'/>`.
pub(super) fn expect(
    el: &Element,
    name: &'static str,
    ns: &'static str,
) -> Result<(), PubkeyError> {
    if el.is(name, ns) {
        return Ok(());
    }
    Err(PubkeyError::WrongElement {
        expected: name,
        ns,
        name: clip(el.name(), 64),
        got_ns: clip(el.ns(), 128),
    })
}
