//! The usual decrypted plaintext, read without building a tree: one element with no
//! attributes holding text only, with no reference in it (`<body>hi</body>`, XEP-0200 §8).
//! What it returns is what the tree gives for the same input; anything else (markup in
//! the text, a reference, an attribute, a prefix, white space in a tag, a namespace the
//! engine does not know, limits too tight for it) is left to the tree.
use super::names::name_len;
use super::scope::is_reserved;
use super::{known, Limits};
use crate::xml::{Element, Node};
use std::borrow::Cow;

/// The nodes of `fragment` read as the content of an element in namespace `ns` (see
/// [`super::parse_fragment`]), when it is one text-only element; `None` otherwise.
pub(super) fn read(fragment: &str, ns: &str, limits: &Limits) -> Option<Vec<Node>> {
    // The tree counts the wrapper, the element and its text, and the element is the
    // second level (Limits: max_nodes, max_depth).
    if limits.max_nodes < 3 || limits.max_depth < 2 || fragment.len() > limits.max_bytes {
        return None;
    }
    // Namespaces in XML 1.0 §3: the xml and xmlns namespaces are never the default one
    // (the tree refuses them); a namespace the engine does not know is copied into the
    // element and counted against the size limit by the tree.
    let Cow::Borrowed(ns) = known(ns) else {
        return None;
    };
    if is_reserved(ns) {
        return None;
    }
    // XML 1.0 §3.1: `'<' Name '>'`, the name without a prefix (Namespaces in XML §4).
    let rest = fragment.strip_prefix('<')?;
    let len = name_len(rest);
    let (name, rest) = rest.split_at_checked(len)?;
    if name.is_empty() || name.contains(':') {
        return None;
    }
    let rest = rest.strip_prefix('>')?;
    // XML 1.0 §2.4: the text runs to the next `<`; with a `&` in it, references are the
    // tree's to replace.
    let at = memchr::memchr2(b'<', b'&', rest.as_bytes())?;
    let (text, end) = rest.split_at_checked(at)?;
    // §3.1 `ETag ::= '</' Name S? '>'`, here with no white space, and nothing after it.
    let end = end.strip_prefix("</")?.strip_suffix('>')?;
    if end != name {
        return None;
    }
    let mut element = Element::new(known(name), ns);
    if !text.is_empty() {
        let nodes = element.nodes_mut();
        nodes.reserve_exact(1);
        nodes.push(Node::Text(text.to_owned()));
    }
    Some(vec![Node::Element(element)])
}

#[cfg(test)]
mod tests {
    use super::super::read_fragment;
    use super::*;
    use crate::xml::ns;

    /// Fragments made of the pieces that decide the path: every combination of a start
    /// tag (prefixed, non-ASCII, invalid, with an attribute or white space), a text (with
    /// markup, references, CDATA, a comment, white space), an end tag and what comes
    /// around them.
    fn fragments() -> Vec<String> {
        const STARTS: [&str; 8] = [
            "<body>",
            "<b>",
            "<x:b>",
            "<é>",
            "<1a>",
            "<body a='1'>",
            "<body >",
            "<b/>",
        ];
        const TEXTS: [&str; 12] = [
            "",
            "hi",
            "&amp;",
            "&",
            "a<b/>",
            "]]>",
            ">",
            "\u{1F600}",
            " \t\r\n",
            "<![CDATA[x]]>",
            "<!--c-->",
            "<",
        ];
        const ENDS: [&str; 7] = ["</body>", "</b>", "</x:b>", "</é>", "</body >", "", "<b/>"];
        let mut out = Vec::new();
        for start in STARTS {
            for text in TEXTS {
                for end in ENDS {
                    for (before, after) in [("", ""), (" ", ""), ("", " "), ("", "<b/>"), ("", "x")]
                    {
                        out.push(format!("{before}{start}{text}{end}{after}"));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn reads_what_the_tree_reads_or_leaves_it_to_the_tree() {
        let limits = Limits::default();
        let mut read_here = 0;
        for f in fragments() {
            for ns in [ns::JABBER_CLIENT, "urn:not-known", ""] {
                let tree = read_fragment(&f, ns, &limits);
                if let Some(nodes) = read(&f, ns, &limits) {
                    read_here += 1;
                    assert_eq!(Ok(nodes), tree, "{f:?} in {ns:?}");
                }
            }
        }
        // Three names (`body`, `b`, `é`) closed as opened, around each of the six texts
        // with neither markup nor a reference, alone, in the one known namespace.
        assert_eq!(read_here, 18);
    }

    #[test]
    fn leaves_what_it_does_not_read_to_the_tree() {
        let limits = Limits::default();
        let c = ns::JABBER_CLIENT;
        assert!(read("<body>hi</body>", c, &limits).is_some());
        assert!(read("<body></body>", c, &limits).is_some());
        for f in [
            "<body>a&amp;b</body>",
            "<body>a<b/></body>",
            "<body a='1'>hi</body>",
            "<x:body>hi</x:body>",
            "<body >hi</body>",
            "<body>hi</body >",
            "<body>hi</bod>",
            "<body>hi</body><body/>",
            " <body>hi</body>",
            "<body/>",
            "<body>hi",
        ] {
            assert_eq!(read(f, c, &limits), None, "{f:?}");
        }
        // Namespaces the tree refuses as the default one, or copies.
        assert_eq!(
            read("<b>x</b>", "http://www.w3.org/XML/1998/namespace", &limits),
            None
        );
        assert_eq!(
            read("<b>x</b>", "http://www.w3.org/2000/xmlns/", &limits),
            None
        );
        assert_eq!(read("<b>x</b>", "urn:not-known", &limits), None);
        // Limits that the tree would hit.
        for tight in [
            Limits {
                max_nodes: 2,
                ..limits
            },
            Limits {
                max_depth: 1,
                ..limits
            },
            Limits {
                max_bytes: 14,
                ..limits
            },
        ] {
            assert_eq!(read("<body>hi</body>", c, &tight), None);
            assert!(read_fragment("<body>hi</body>", c, &tight).is_err());
        }
    }
}
