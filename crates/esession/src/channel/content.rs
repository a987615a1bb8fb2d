//! The structure of `<c/>` and its MAC input m_content (XEP-0200 §6 step 4, §8 step 2;
//! profile P9).
use crate::b64;
use crate::error::{Malformed, StanzaFault};
use crate::xml::{has_xml_space, is_xml_space, is_xml_whitespace, ns, Element, Node};
use std::borrow::Cow;

/// What a received `<c/>` holds (texts borrowed from it where they are one run).
pub(crate) struct Parts<'a> {
    pub data: Option<Cow<'a, str>>,
    pub mac: Vec<u8>,
    /// The text of `<key/>` (XEP-0200 §9), if present.
    pub key: Option<Cow<'a, str>>,
    /// The text of `<new/>` (XEP-0200 §6 step 4), if present.
    pub new: Option<Cow<'a, str>>,
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

/// A `<c/>` being sealed, with its m_content written as each child is added (no second
/// serialization of what the engine itself built). The engine's children hold base64 or
/// a number only, with no attribute: nothing to escape and no white space, so the P4 form
/// of each is `<name>text</name>`, exactly what [`m_content`] makes of it.
pub(crate) struct Sealing {
    c: Element,
    m_content: String,
}

impl Sealing {
    pub(crate) fn new() -> Self {
        Sealing {
            c: Element::new("c", ns::STANZA_ENCRYPTION),
            m_content: String::new(),
        }
    }

    /// Appends `<name>B64(bytes)</name>`.
    pub(crate) fn push_b64(&mut self, name: &'static str, bytes: &[u8]) {
        self.push(name, b64::encode(bytes));
    }

    /// Appends `<name>n</name>`.
    pub(crate) fn push_number(&mut self, name: &'static str, n: u32) {
        self.push(name, n.to_string());
    }

    fn push(&mut self, name: &'static str, text: String) {
        for part in ["<", name, ">", &text, "</", name, ">"] {
            self.m_content.push_str(part);
        }
        self.c
            .push(Element::new(name, ns::STANZA_ENCRYPTION).with_text(text));
    }

    /// m_content of the children so far.
    pub(crate) fn m_content(&self) -> &str {
        &self.m_content
    }

    /// The `<c/>`, ended by `<mac>B64(mac)</mac>` (profile P9: the mac last).
    pub(crate) fn finish(mut self, mac: &[u8]) -> Element {
        self.c
            .push(Element::new("mac", ns::STANZA_ENCRYPTION).with_text(b64::encode(mac)));
        self.c
    }
}

fn malformed(what: Malformed) -> StanzaFault {
    StanzaFault::Malformed(what)
}

/// Checks the structure of `<c/>` (XEP-0200 §14): at most one data, key and new, exactly
/// one mac, any number of old, no foreign elements or text. Any order is accepted; the MAC
/// covers the order received (profile P9).
pub(crate) fn parse(c: &Element) -> Result<Parts<'_>, StanzaFault> {
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
            "data" if data.is_none() => data = Some(child.text_ref()),
            "mac" if mac.is_none() => mac = Some(child.text_ref()),
            "key" if key.is_none() => key = Some(child.text_ref()),
            "new" if new.is_none() => new = Some(child.text_ref()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_writes_the_m_content_of_what_it_built() {
        let mut c = Sealing::new();
        c.push_b64("data", b"\x00\xff plaintext of some length <&>");
        c.push_b64("key", &[0xfb; 40]);
        c.push_number("new", 3);
        c.push_b64("old", &[7; 32]);
        let written = c.m_content().to_owned();
        let c = c.finish(&[1; 32]);
        assert_eq!(written, m_content(&c));
        let names: Vec<&str> = c.children().map(Element::name).collect();
        assert_eq!(names, ["data", "key", "new", "old", "mac"]);
        assert!(c.children().all(|e| e.ns() == ns::STANZA_ENCRYPTION));
    }
}
