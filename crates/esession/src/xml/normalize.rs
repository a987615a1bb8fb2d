//! Profile P4: the normalization of data forms (and `<KeyValue/>`) for MAC and signature
//! inputs (XEP-0116 §6.2, spec-digest §2.4).
use super::element::{Element, Node};
use super::escape::{escape_into, Escape};
use crate::byte_set::ByteSet;

/// The P4 normalization of the *content* of `x` (its children, without the `<x>` tags),
/// leaving out every `<field/>` whose `var` is in `excluded` (P4 rule 4: `identity` and
/// `mac`, and `signs` for XEP-0187 options). Apply it to the element as parsed from the
/// wire, never to one rebuilt from a model (P4 last paragraph).
pub fn normalize_form_content(x: &Element, excluded: &[&str]) -> String {
    normalize_form_content_as(x, excluded, EmptyElements::StartEnd)
}

/// How the normalization writes an element with no child and no character data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmptyElements {
    /// Profile P4 rule 2: a start/end pair, `<required></required>`.
    StartEnd,
    /// Gajim's c14n (the Gajim compatibility mode only, deviation D3): `<required />`.
    SelfClosing,
}

/// [`normalize_form_content`] writing empty elements as `empty` says.
pub(crate) fn normalize_form_content_as(
    x: &Element,
    excluded: &[&str],
    empty: EmptyElements,
) -> String {
    let mut out = String::new();
    for node in x.nodes() {
        match node {
            Node::Element(child) => {
                let skip = child.name() == "field"
                    && child.attr("var").is_some_and(|v| excluded.contains(&v));
                if !skip {
                    write_normalized(&mut out, child, empty);
                }
            }
            Node::Text(t) if is_xml_whitespace(t) => {}
            Node::Text(t) => escape_into(&mut out, t, Escape::Text),
        }
    }
    out
}

/// Whether `t` holds only XML white space (XML 1.0 §2.3 `S`: space, tab, CR, LF).
pub(crate) fn is_xml_whitespace(t: &str) -> bool {
    t.chars().all(is_xml_space)
}

/// XML 1.0 §2.3 `S`: space, tab, CR, LF.
pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl Element {
    /// The P4 normalization of this element itself (tags included), as used for the
    /// `<KeyValue/>` of profile P8.
    pub fn normalized(&self) -> String {
        let mut out = String::new();
        write_normalized(&mut out, self, EmptyElements::StartEnd);
        out
    }

    /// Appends [`Element::normalized`] to `out`.
    pub(crate) fn normalize_into(&self, out: &mut String) {
        write_normalized(out, self, EmptyElements::StartEnd);
    }
}

/// Whether `s` contains XML white space (space, tab, CR, LF).
pub(crate) fn has_xml_space(s: &str) -> bool {
    const SPACE: ByteSet = ByteSet::of(b" \t\r\n");
    SPACE.any_in(s.as_bytes())
}

fn write_normalized(out: &mut String, el: &Element, empty: EmptyElements) {
    // P4 rule 2: local name only, no prefix, no xmlns.
    out.push('<');
    out.push_str(el.name());
    // P4 rule 2 and 4: attributes sorted by name; `xml:lang` written and sorted as `lang`.
    let mut attrs: Vec<(&str, &str)> = el
        .attrs()
        .iter()
        .map(|(k, v)| (k.strip_prefix("xml:").unwrap_or(k.as_ref()), v.as_str()))
        .collect();
    attrs.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v, Escape::C14nAttr);
        out.push('"');
    }
    let no_content = el
        .nodes()
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.is_empty()));
    if empty == EmptyElements::SelfClosing && no_content {
        out.push_str(" />");
        return;
    }
    out.push('>');
    let has_elements = el.has_element_children();
    for node in el.nodes() {
        match node {
            Node::Element(child) => write_normalized(out, child, empty),
            // P4 rule 1: whitespace-only text between elements is dropped; text inside
            // leaf elements is kept exactly.
            Node::Text(t) if has_elements && is_xml_whitespace(t) => {}
            Node::Text(t) => escape_into(out, t, Escape::Text),
        }
    }
    // P4 rule 2: empty elements as a start/end pair.
    out.push_str("</");
    out.push_str(el.name());
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    #[test]
    fn p4_normalization_of_received_form() {
        let x = parse_element(
            "<x xmlns='jabber:x:data' type='form'>\n  <title xml:lang='en'>T&amp;</title>\n  \
             <field var='accept' type='boolean'>\n    <value>1</value>\n    <required/>\n  </field>\n  \
             <field var='b' label='L\"&#9;&#10;&#13;'><value> a&lt;b&#13; </value></field>\n  \
             <field var='identity'><value>zz</value></field>\n  <field var='mac'><value>m</value></field>\n</x>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            normalize_form_content(&x, &["identity", "mac"]),
            "<title lang=\"en\">T&amp;</title>\
             <field type=\"boolean\" var=\"accept\"><value>1</value><required></required></field>\
             <field label=\"L&quot;&#x9;&#xA;&#xD;\" var=\"b\"><value> a&lt;b&#xD; </value></field>"
        );
    }

    #[test]
    fn only_xml_whitespace_is_dropped() {
        let x = parse_element(
            "<x xmlns='jabber:x:data'> <field var='a'><value>1</value>&#xA0;</field>\n</x>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            normalize_form_content(&x, &[]),
            "<field var=\"a\"><value>1</value>\u{a0}</field>"
        );
    }

    #[test]
    fn keyvalue_normalization_drops_namespaces_and_prefixes() {
        let kv = parse_element(
            "<ds:KeyValue xmlns:ds='http://www.w3.org/2000/09/xmldsig#'><ds:RSAKeyValue>\
             <ds:Modulus>AQ==</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            kv.normalized(),
            "<KeyValue><RSAKeyValue><Modulus>AQ==</Modulus><Exponent>AQAB</Exponent></RSAKeyValue></KeyValue>"
        );
    }
}
