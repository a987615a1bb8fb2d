//! The structure of `<c/>` and its MAC input m_content (XEP-0200 §6 step 4, §8 step 2;
//! profile P9).
use crate::b64;
use crate::error::{Malformed, StanzaFault};
use crate::xml::{has_xml_space, is_xml_space, is_xml_whitespace, ns, Element, Node};

/// What a received `<c/>` holds.
pub(crate) struct Parts {
    pub data: Option<String>,
    pub mac: Vec<u8>,
    /// The text of `<key/>` (XEP-0200 §9), if present.
    pub key: Option<String>,
    /// The text of `<new/>` (XEP-0200 §6 step 4), if present.
    pub new: Option<String>,
    pub m_content: String,
}

/// m_content: the children other than `<mac/>`, in the order received, each in its P4
/// form, with every whitespace character removed (profile P9).
pub(crate) fn m_content(c: &Element) -> String {
    let mut out = String::new();
    for e in c.children().filter(|e| e.name() != "mac") {
        e.normalize_into(&mut out);
    }
    // The usual content (base64 without line breaks) has no white space to remove.
    if has_xml_space(&out) {
        out.retain(|ch| !is_xml_space(ch));
    }
    out
}

fn malformed(what: Malformed) -> StanzaFault {
    StanzaFault::Malformed(what)
}

/// Checks the structure of `<c/>` (XEP-0200 §14): at most one data, key and new, exactly
/// one mac, any number of old, no foreign elements or text. Any order is accepted; the MAC
/// covers the order received (profile P9).
pub(crate) fn parse(c: &Element) -> Result<Parts, StanzaFault> {
    let mut data = None;
    let mut mac = None;
    let mut key = None;
    let mut new = None;
    for node in c.nodes() {
        let child = match node {
            Node::Text(t) if is_xml_whitespace(t) => continue,
            Node::Text(_) => return Err(malformed(Malformed::Text)),
            Node::Element(e) => e,
        };
        if child.ns() != ns::STANZA_ENCRYPTION || child.has_element_children() {
            return Err(malformed(Malformed::UnexpectedElement(
                child.name().to_owned(),
            )));
        }
        match child.name() {
            "data" if data.is_none() => data = Some(child.text()),
            "mac" if mac.is_none() => mac = Some(child.text()),
            "key" if key.is_none() => key = Some(child.text()),
            "new" if new.is_none() => new = Some(child.text()),
            // XEP-0200 §10: <old/> is MACed and ignored.
            "old" => {}
            other => return Err(malformed(Malformed::Repeated(other.to_owned()))),
        }
    }
    let mac = mac.ok_or(malformed(Malformed::NoMac))?;
    let mac = b64::decode("mac", &mac).map_err(|_| malformed(Malformed::MacNotBase64))?;
    Ok(Parts {
        data,
        mac,
        key,
        new,
        m_content: m_content(c),
    })
}
