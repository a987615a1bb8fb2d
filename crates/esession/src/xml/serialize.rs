//! The stanza serialization of profile P9 (also used to put stanzas on the wire).
use super::element::{Element, Node};
use super::escape::{escape_into, Escape};
use std::fmt;

impl Element {
    /// Serializes this element per profile P9, declaring `xmlns` wherever the namespace
    /// differs from `parent_ns` (the root declares its own unless it equals `parent_ns`).
    pub fn serialize_in(&self, parent_ns: &str) -> String {
        let mut out = String::with_capacity(size_hint(self));
        write_element(&mut out, self, parent_ns);
        out
    }

    /// Appends [`Element::serialize_in`]'s text to `out`.
    pub(crate) fn serialize_into(&self, out: &mut String, parent_ns: &str) {
        write_element(out, self, parent_ns);
    }

    /// Appends ` name="value"`, the value escaped (profile P9).
    pub(crate) fn write_attr(out: &mut String, name: &str, value: &str) {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value, Escape::StanzaAttr);
        out.push('"');
    }

    /// Appends the P9 serialization of an element `name` without attributes, in its
    /// parent's namespace, holding only `text`.
    pub(crate) fn write_text_child(out: &mut String, name: &str, text: &str) {
        out.push('<');
        out.push_str(name);
        if text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        escape_into(out, text, Escape::Text);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }

    /// Serializes the child *elements* of this element (text directly inside it is left
    /// out), each per profile P9 in the context of this element's namespace: the
    /// plaintext `m` of XEP-0200 §6 when this is a stanza.
    pub fn serialize_children(&self, keep: impl Fn(&Element) -> bool) -> String {
        let mut out = String::new();
        for child in self.children().filter(|c| keep(c)) {
            write_element(&mut out, child, self.ns());
        }
        out
    }
}

impl fmt::Display for Element {
    /// The element as a standalone document (its namespace declared on it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialize_in(""))
    }
}

/// Serializes a list of nodes in the context of `parent_ns` (P9 rules).
pub(crate) fn write_nodes(out: &mut String, nodes: &[Node], parent_ns: &str) {
    for node in nodes {
        match node {
            Node::Element(e) => write_element(out, e, parent_ns),
            Node::Text(t) => escape_into(out, t, Escape::Text),
        }
    }
}

/// About the length of `el`'s serialization, so that it is written into one allocation:
/// every name, namespace, attribute and text once unescaped, with the markup around them
/// (escaped characters and omitted `xmlns` make it differ a little).
fn size_hint(el: &Element) -> usize {
    // `<name xmlns="ns"` + ` k="v"`… + `></name>`.
    let tags = 2 * el.name().len() + el.ns().len() + 14;
    let attrs: usize = el.attrs().iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let content: usize = el
        .nodes()
        .iter()
        .map(|n| match n {
            Node::Element(e) => size_hint(e),
            Node::Text(t) => t.len(),
        })
        .sum();
    tags + attrs + content
}

fn write_element(out: &mut String, el: &Element, parent_ns: &str) {
    out.push('<');
    out.push_str(el.name());
    // P9: `xmlns` first, only where the namespace differs from the parent's.
    if el.ns() != parent_ns {
        out.push_str(" xmlns=\"");
        escape_into(out, el.ns(), Escape::StanzaAttr);
        out.push('"');
    }
    for (k, v) in el.attrs() {
        Element::write_attr(out, k, v);
    }
    let empty = el
        .nodes()
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.is_empty()));
    if empty {
        out.push_str("/>");
        return;
    }
    out.push('>');
    write_nodes(out, el.nodes(), el.ns());
    out.push_str("</");
    out.push_str(el.name());
    out.push('>');
}

#[cfg(test)]
mod tests {
    use crate::xml::{parse_element, Limits};

    #[test]
    fn p9_serialization() {
        let el = parse_element(
            "<message xmlns='jabber:client' to='b' xml:lang='en'><body a='&quot;&#9;&#10;&#13;&lt;&gt;&amp;'>x &lt; y &amp;&#13;z&gt;</body><active xmlns='http://jabber.org/protocol/chatstates'><inner/></active><thread>t</thread></message>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            el.serialize_children(|c| c.name() != "thread"),
            "<body a=\"&quot;&#9;&#10;&#13;&lt;&gt;&amp;\">x &lt; y &amp;&#xD;z&gt;</body>\
             <active xmlns=\"http://jabber.org/protocol/chatstates\"><inner/></active>"
        );
        assert!(el
            .to_string()
            .starts_with("<message xmlns=\"jabber:client\" to=\"b\" xml:lang=\"en\">"));
        // Round trip through the parser keeps the tree.
        assert_eq!(
            parse_element(&el.to_string(), &Limits::default()).unwrap(),
            el
        );
    }
}
