//! The structure of `<c/>` and its MAC input m_content (XEP-0200 §6 step 4, §8 step 2;
//! profile P9).
use crate::b64;
use crate::error::{Malformed, StanzaFault};
use crate::xml::{has_xml_space, is_xml_space, is_xml_whitespace, ns, Element, Node};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

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
    // Room for the usual children (`<name>text</name>`), written without regrowing.
    let capacity: usize = c
        .children()
        .filter(|e| e.name() != "mac")
        .map(|e| {
            let text: usize = e.nodes().iter().map(Node::text_len).sum();
            2 * e.name().len() + 5 + text
        })
        .sum();
    let mut out = String::with_capacity(capacity);
    for e in c.children().filter(|e| e.name() != "mac") {
        e.normalize_into(&mut out);
    }
    // The usual content (base64 without line breaks) has no white space to remove.
    if has_xml_space(&out) {
        out.retain(|ch| !is_xml_space(ch));
    }
    out
}

/// A `<c/>` being sealed. The P9 text of its children is written once, into one buffer,
/// as each is added: the engine's children hold base64 of at least one octet or a number,
/// with no attribute, never empty, nothing to escape and no white space, so
/// `<name>text</name>` is both their P9 serialization inside `<c/>` and their P4 form,
/// exactly what [`m_content`] makes of them (no second serialization of what the engine
/// itself built).
pub(crate) struct Sealing {
    sealed: Sealed,
}

/// A sealed `<c/>`: the text of its children, and where each child's text lies in it.
/// It becomes an element ([`Sealed::into_element`]) or is written straight into a
/// stanza's text ([`Sealed::write_text`]); both give the same P9 serialization.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Sealed {
    /// `<data>…</data>` … `<mac>…</mac>`: m_content, then the `<mac/>`.
    text: String,
    /// The length of m_content (XEP-0200 §6 step 4): the text before the `<mac/>`.
    m_content: usize,
    /// The children in order (profile P9: data, key, new, old…, mac): each name and the
    /// range of its text in `text`.
    data: Option<Range<usize>>,
    key: Option<Range<usize>>,
    new: Option<Range<usize>>,
    old: Vec<Range<usize>>,
    mac: Range<usize>,
}

impl Sealing {
    /// `data_len`: the length of the plaintext that `<data/>` will carry (0 for none), so
    /// that the text is written into one allocation.
    pub(crate) fn new(data_len: usize) -> Self {
        // `<data>` + base64 + `</data>`, `<mac>` + 44 octets of base64 + `</mac>`, and room
        // for a `<new/>` or a `<key/>` without a second allocation in the common case.
        let capacity = b64::encoded_len(data_len) + 13 + 55 + 16;
        Sealing {
            sealed: Sealed {
                text: String::with_capacity(capacity),
                m_content: 0,
                data: None,
                key: None,
                new: None,
                old: Vec::new(),
                mac: 0..0,
            },
        }
    }

    /// Appends `<data>B64(bytes)</data>`.
    pub(crate) fn data(&mut self, bytes: &[u8]) {
        self.sealed.data = Some(self.push("data", |t| b64::encode_into(bytes, t)));
    }

    /// Appends `<key>B64(bytes)</key>`.
    pub(crate) fn key(&mut self, bytes: &[u8]) {
        self.sealed.key = Some(self.push("key", |t| b64::encode_into(bytes, t)));
    }

    /// Appends `<new>n</new>`.
    pub(crate) fn new_sets(&mut self, n: u32) {
        self.sealed.new = Some(self.push("new", |t| {
            let _ = write!(t, "{n}");
        }));
    }

    /// Appends `<old>B64(bytes)</old>`.
    pub(crate) fn old(&mut self, bytes: &[u8]) {
        let range = self.push("old", |t| b64::encode_into(bytes, t));
        self.sealed.old.push(range);
    }

    /// Writes `<name>`, the text `write` appends, `</name>`; returns the text's range.
    fn push(&mut self, name: &str, write: impl FnOnce(&mut String)) -> Range<usize> {
        let text = &mut self.sealed.text;
        text.push('<');
        text.push_str(name);
        text.push('>');
        let start = text.len();
        write(text);
        let end = text.len();
        text.push_str("</");
        text.push_str(name);
        text.push('>');
        start..end
    }

    /// m_content of the children so far.
    pub(crate) fn m_content(&self) -> &str {
        &self.sealed.text
    }

    /// The `<c/>`, ended by `<mac>B64(mac)</mac>` (profile P9: the mac last).
    pub(crate) fn finish(mut self, mac: &[u8]) -> Sealed {
        self.sealed.m_content = self.sealed.text.len();
        self.sealed.mac = self.push("mac", |t| b64::encode_into(mac, t));
        self.sealed
    }
}

impl Sealed {
    /// The `<c/>` element.
    pub(crate) fn into_element(self) -> Element {
        let mut c = Element::new("c", ns::STANZA_ENCRYPTION);
        let text = |range: &Range<usize>| self.text.get(range.clone()).unwrap_or_default();
        let children = [("data", &self.data), ("key", &self.key), ("new", &self.new)]
            .into_iter()
            .filter_map(|(name, range)| Some((name, range.as_ref()?)))
            .chain(self.old.iter().map(|range| ("old", range)))
            .chain([("mac", &self.mac)]);
        for (name, range) in children {
            c.push(Element::new(name, ns::STANZA_ENCRYPTION).with_text(text(range)));
        }
        c
    }

    /// Appends the `<c/>` as the P9 serializer writes it inside a stanza (its namespace
    /// declared, its children in the same namespace).
    pub(crate) fn write_text(&self, out: &mut String) {
        out.push_str(C_START);
        out.push_str(&self.text);
        out.push_str("</c>");
    }

    /// The length of [`Sealed::write_text`]'s output.
    pub(crate) fn text_len(&self) -> usize {
        C_START.len() + self.text.len() + 4
    }

    /// m_content (XEP-0200 §6 step 4), as the MAC covered it.
    #[cfg(test)]
    pub(crate) fn m_content(&self) -> &str {
        self.text.get(..self.m_content).unwrap_or_default()
    }
}

/// The start tag of a `<c/>` inside a stanza (profile P9: `xmlns` declared where the
/// namespace changes).
const C_START: &str = concat!(
    "<c xmlns=\"",
    "http://www.xmpp.org/extensions/xep-0200.html#ns",
    "\">"
);

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
        let mut c = Sealing::new(30);
        c.data(b"\x00\xff plaintext of some length <&>");
        c.key(&[0xfb; 40]);
        c.new_sets(3);
        c.old(&[7; 32]);
        c.old(&[8; 32]);
        let written = c.m_content().to_owned();
        let sealed = c.finish(&[1; 32]);
        assert_eq!(sealed.m_content(), written);
        let mut text = String::new();
        sealed.write_text(&mut text);
        assert_eq!(text.len(), sealed.text_len());
        let c = sealed.into_element();
        assert_eq!(written, m_content(&c));
        // The text written straight is the P9 serialization of the element.
        assert_eq!(text, c.serialize_in(ns::JABBER_CLIENT));
        let names: Vec<&str> = c.children().map(Element::name).collect();
        assert_eq!(names, ["data", "key", "new", "old", "old", "mac"]);
        assert!(c.children().all(|e| e.ns() == ns::STANZA_ENCRYPTION));
        assert_eq!(
            c.child("new", ns::STANZA_ENCRYPTION).map(Element::text),
            Some("3".into())
        );
    }

    #[test]
    fn the_start_tag_of_c_names_its_namespace() {
        assert_eq!(C_START, format!("<c xmlns=\"{}\">", ns::STANZA_ENCRYPTION));
    }
}
