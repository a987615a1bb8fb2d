//! Direct key requests (XEP-0189 §6) and the key-generation signal (XEP-0189 §8).
use super::NS_PUBKEY;
use crate::xml::Element;

/// The payload of an `<iq type='get'/>` asking a full JID for its key: an empty
/// `<pubkey xmlns='urn:xmpp:pubkey:2'/>` (XEP-0189 §6). The answer's payload is a
/// [`super::pubkey_payload`].
pub fn key_request() -> Element {
    Element::new("pubkey", NS_PUBKEY)
}

/// Whether the payload of an `<iq type='get'/>` is a direct key request (XEP-0189 §6): a
/// `<pubkey/>` without child elements.
pub fn is_key_request(payload: &Element) -> bool {
    payload.is("pubkey", NS_PUBKEY) && !payload.has_element_children()
}

/// The `<generating xmlns='urn:xmpp:pubkey:2'/>` presence child that says a key is being
/// generated (XEP-0189 §8).
pub fn generating() -> Element {
    Element::new("generating", NS_PUBKEY)
}

/// Whether a presence child is the key-generation signal (XEP-0189 §8).
pub fn is_generating(child: &Element) -> bool {
    child.is("generating", NS_PUBKEY)
}
