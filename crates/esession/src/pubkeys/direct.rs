//! Direct key requests (XEP-0189 §6) and the key-generation signal (XEP-0189 §8).
use super::{pubkey_payload, NS_PUBKEY};
use crate::crypto::pubkey::PublicKey;
use crate::xml::{ns, Element};

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

/// The answer to `stanza` if it is a direct key request (XEP-0189 §6: an `<iq type='get'/>`
/// with a `from` and an `id`, holding [`key_request`]): a result with our key's
/// [`pubkey_payload`], or, without a key, an `item-not-found` error (RFC 6120 §8.3.3.7).
/// `None` for every other stanza.
pub fn key_request_answer(stanza: &Element, key: Option<&PublicKey>) -> Option<Element> {
    if !stanza.is("iq", ns::JABBER_CLIENT) || stanza.attr("type") != Some("get") {
        return None;
    }
    let mut payloads = stanza.children();
    let (Some(payload), None) = (payloads.next(), payloads.next()) else {
        return None;
    };
    if !is_key_request(payload) {
        return None;
    }
    let from = stanza.attr("from")?;
    let id = stanza.attr("id")?;
    let reply = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("to", from)
        .with_attr("id", id);
    Some(match key {
        Some(key) => reply
            .with_attr("type", "result")
            .with_child(pubkey_payload(key)),
        None => reply.with_attr("type", "error").with_child(
            Element::new("error", ns::JABBER_CLIENT)
                .with_attr("type", "cancel")
                .with_child(Element::new("item-not-found", ns::STANZAS)),
        ),
    })
}
