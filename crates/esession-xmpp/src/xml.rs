//! Stanzas between tokio-xmpp and the engine: minidom trees converted structurally to and
//! from esession's [`Element`], with the bounds of [`Limits`] applied to what comes from
//! the network; and the XML text form of the string API ([`Connection::send_xml`],
//! [`Connection::next_stanza`]).
//!
//! [`Connection::send_xml`]: crate::Connection::send_xml
//! [`Connection::next_stanza`]: crate::Connection::next_stanza

use esession::xml::{known, parse_element, Limits, Node, XmlError};
use esession::Element;
use tokio_xmpp::minidom;
use tokio_xmpp::minidom::rxml::{self, Namespace, NcName};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::Stanza;

use crate::error::XmppError;

/// Parse one `<message/>`, `<presence/>` or `<iq/>` from XML text. A root
/// element without a namespace is put in `jabber:client`.
pub(crate) fn parse_stanza(xml: &str) -> Result<Stanza, XmppError> {
    let element = parse_element(xml, &Limits::default())
        .map_err(|e| XmppError::InvalidArgument(format!("stanza is not well-formed XML: {e}")))?;
    element_to_stanza(&element)
}

/// The stanza `element`: its root must be `<message/>`, `<presence/>` or `<iq/>` in
/// `jabber:client`; a root without a namespace is put in `jabber:client`, with the
/// descendants that share its (empty) namespace.
pub(crate) fn element_to_stanza(element: &Element) -> Result<Stanza, XmppError> {
    let root_ns = if element.ns().is_empty() {
        ns::JABBER_CLIENT
    } else {
        element.ns()
    };
    if root_ns != ns::JABBER_CLIENT {
        return Err(XmppError::InvalidArgument(format!(
            "stanza root must be in namespace {}, not {:?}",
            ns::JABBER_CLIENT,
            element.ns()
        )));
    }
    let tree = to_minidom(element, element.ns(), root_ns)?;
    Stanza::try_from(tree).map_err(|e| {
        XmppError::InvalidArgument(format!("<{}/> is not a valid stanza: {e}", element.name()))
    })
}

/// `el` as a minidom tree. `parent_ns` is the namespace `el`'s parent has in our tree and
/// `mapped_parent_ns` the one it has in minidom's: an element in its parent's namespace
/// inherits the parent's (so a tree without namespaces lands in the root's, as its text
/// form would when parsed with the root's namespace declared).
fn to_minidom(
    el: &Element,
    parent_ns: &str,
    mapped_parent_ns: &str,
) -> Result<minidom::Element, XmppError> {
    let bad = |what: String| XmppError::InvalidArgument(format!("stanza cannot be sent: {what}"));
    let ns = if el.ns() == parent_ns {
        mapped_parent_ns
    } else {
        el.ns()
    };
    // XML 1.0 §2.3 and Namespaces in XML §3: element and attribute names are NCNames,
    // text is made of XML characters (what minidom's parser checked of the text form).
    rxml::strings::validate_ncname(el.name())
        .map_err(|e| bad(format!("element name {:?}: {e}", el.name())))?;
    let mut out = minidom::Element::bare(el.name(), ns);
    for (key, value) in el.attrs() {
        let (attr_ns, local) = match key.split_once(':') {
            // Namespaces in XML §3: `xml:` is bound to the XML namespace without a
            // declaration (xml:lang); no other prefix is declared in our trees.
            Some(("xml", local)) => (Namespace::xml().clone(), local),
            Some(_) => return Err(bad(format!("attribute {key:?} has an undeclared prefix"))),
            // Namespaces in XML §3: `xmlns` declares a namespace; our trees hold namespaces
            // as element names' namespaces only.
            None if key == "xmlns" => {
                return Err(bad("attribute \"xmlns\" is a namespace declaration".into()))
            }
            None => (Namespace::NONE, key.as_ref()),
        };
        let local =
            NcName::try_from(local).map_err(|e| bad(format!("attribute name {key:?}: {e}")))?;
        rxml::strings::validate_cdata(value)
            .map_err(|e| bad(format!("value of attribute {key:?}: {e}")))?;
        out.set_attr(attr_ns, local, value.as_str());
    }
    for node in el.nodes() {
        match node {
            Node::Element(child) => {
                out.append_child(to_minidom(child, el.ns(), ns)?);
            }
            // Adjacent text runs are one text node, and empty text is no node, as in the
            // text form.
            Node::Text(text) if text.is_empty() => {}
            Node::Text(text) => {
                rxml::strings::validate_cdata(text)
                    .map_err(|e| bad(format!("text in <{}/>: {e}", el.name())))?;
                out.append_text(text.as_str());
            }
        }
    }
    Ok(out)
}

/// The stanza as an esession element, refused (with the parser's errors) beyond `limits`:
/// the same bounds on depth, node count and size as [`parse_element`] applies to the
/// stanza's text form.
// `From<&Stanza> for Element` panics on failure; keep the error path.
#[allow(clippy::unnecessary_fallible_conversions)]
pub(crate) fn stanza_to_element(stanza: &Stanza, limits: &Limits) -> Result<Element, XmppError> {
    let tree = minidom::Element::try_from(stanza)
        .map_err(|e| XmppError::Protocol(format!("stanza cannot be converted: {e}")))?;
    from_minidom(tree, limits).map_err(|e| XmppError::Protocol(format!("stanza refused: {e}")))
}

/// `tree` as an esession element, within `limits` (hostile input: a stanza or a payload
/// from the network). Depth, node count and attributes per element (namespace
/// declarations of the text form included) are checked while converting, so the work
/// done on a tree beyond them is bounded; the size is that of the result's text form
/// (its `Display`, profile P9), as [`parse_element`] would measure it.
///
/// Adjacent text nodes become one, empty ones none, and an attribute in a namespace other
/// than `xml` gets the prefix the text form gave it (`tns0`, `tns1`… per element, in
/// minidom's attribute order, those of the root kept for its descendants): the tree is
/// the one [`parse_element`] makes of minidom's serialization.
pub(crate) fn from_minidom(tree: minidom::Element, limits: &Limits) -> Result<Element, XmlError> {
    let mut walk = Walk {
        limits,
        nodes: 0,
        root_prefixes: Vec::new(),
    };
    let el = walk.element(tree, 0, "")?;
    let size = text_len(&el, "");
    if size > limits.max_bytes {
        return Err(XmlError::TooLarge(size));
    }
    Ok(el)
}

/// The state of one [`from_minidom`] conversion.
struct Walk<'a> {
    limits: &'a Limits,
    nodes: usize,
    /// Prefixes given to the root's namespaced attributes, in force in the whole tree.
    root_prefixes: Vec<(Namespace<'static>, String)>,
}

impl Walk<'_> {
    fn count(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(XmlError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    /// `el`, which has `depth` ancestors, the nearest in namespace `parent_ns`.
    fn element(
        &mut self,
        mut el: minidom::Element,
        depth: usize,
        parent_ns: &str,
    ) -> Result<Element, XmlError> {
        self.count()?;
        if depth >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        let mut out = Element::new(known(el.name()), known(&el.ns()));
        // The attributes of the element's text form: its own, and the declarations of its
        // namespace (where it differs from the parent's) and of its attributes' prefixes.
        let declared = usize::from(out.ns() != parent_ns);
        let too_many = |n: usize| n > self.limits.max_attributes;
        if too_many(declared + el.attrs().len()) {
            return Err(XmlError::TooManyAttributes(self.limits.max_attributes));
        }
        let mut local_prefixes: Vec<(Namespace<'static>, String)> = Vec::new();
        for ((attr_ns, name), value) in std::mem::take(el.attrs_mut()) {
            let key = if attr_ns.is_none() {
                name.to_string()
            } else if attr_ns == *Namespace::xml() {
                format!("xml:{name}")
            } else {
                let prefix = self.prefix(&mut local_prefixes, attr_ns, depth);
                format!("{prefix}:{name}")
            };
            out.set_attr(key, value);
        }
        if too_many(declared + out.attrs().len() + local_prefixes.len()) {
            return Err(XmlError::TooManyAttributes(self.limits.max_attributes));
        }
        if depth == 0 {
            self.root_prefixes = local_prefixes;
        }
        for node in el.take_nodes() {
            match node {
                minidom::Node::Element(child) => {
                    let child = self.element(child, depth + 1, out.ns())?;
                    out.push(child);
                }
                minidom::Node::Text(text) if text.is_empty() => {}
                minidom::Node::Text(text) => match out.nodes_mut().last_mut() {
                    Some(Node::Text(prev)) => prev.push_str(&text),
                    _ => {
                        self.count()?;
                        out.nodes_mut().push(Node::Text(text));
                    }
                },
            }
        }
        Ok(out)
    }

    /// The prefix rxml's writer gives attribute namespace `attr_ns` on an element with
    /// `depth` ancestors: the root's, else one already given on this element, else the
    /// next `tns<n>`, counted on from the root's.
    fn prefix(
        &self,
        local: &mut Vec<(Namespace<'static>, String)>,
        attr_ns: Namespace<'static>,
        depth: usize,
    ) -> String {
        let inherited: &[(Namespace<'static>, String)] =
            if depth == 0 { &[] } else { &self.root_prefixes };
        if let Some((_, p)) = local.iter().chain(inherited).find(|(n, _)| *n == attr_ns) {
            return p.clone();
        }
        let prefix = format!("tns{}", inherited.len() + local.len());
        local.push((attr_ns, prefix.clone()));
        prefix
    }
}

/// The length in octets of `el`'s text form in the context of `parent_ns`: what
/// [`Element::serialize_in`] writes (profile P9), without writing it.
fn text_len(el: &Element, parent_ns: &str) -> usize {
    // `<name` … `/>`, or `<name` … `>` content `</name>`.
    let mut len = 1 + el.name().len();
    if el.ns() != parent_ns {
        len += " xmlns=\"\"".len() + escaped_len(el.ns(), true);
    }
    for (k, v) in el.attrs() {
        len += " =\"\"".len() + k.len() + escaped_len(v, true);
    }
    let empty = el
        .nodes()
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.is_empty()));
    if empty {
        return len + "/>".len();
    }
    len += ">".len() + "</>".len() + el.name().len();
    for node in el.nodes() {
        len += match node {
            Node::Element(child) => text_len(child, el.ns()),
            Node::Text(t) => escaped_len(t, false),
        };
    }
    len
}

/// The length of `s` escaped as P9 escapes text (`& < > CR`) or attribute values (also
/// `" TAB LF`; character references `&#9;` `&#10;` `&#13;`).
fn escaped_len(s: &str, attr: bool) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match (b, attr) {
                (b'&', _) | (b'\r', _) => 4,
                (b'<', _) | (b'>', _) => 3,
                (b'"', true) => 5,
                (b'\t', true) => 3,
                (b'\n', true) => 4,
                _ => 0,
            })
            .sum::<usize>()
}

/// Serialize a stanza (namespace `jabber:client` declared on the root).
// `From<&Stanza> for Element` panics on failure; keep the error path.
#[allow(clippy::unnecessary_fallible_conversions)]
pub(crate) fn stanza_to_string(stanza: &Stanza) -> Result<String, XmppError> {
    let element = minidom::Element::try_from(stanza)
        .map_err(|e| XmppError::Protocol(format!("stanza cannot be serialized: {e}")))?;
    element_to_string(&element)
}

/// Serialize an element.
pub(crate) fn element_to_string(element: &minidom::Element) -> Result<String, XmppError> {
    let mut out = Vec::new();
    element
        .write_to(&mut out)
        .map_err(|e| XmppError::Protocol(format!("element cannot be serialized: {e}")))?;
    String::from_utf8(out).map_err(|e| XmppError::Protocol(format!("serialized XML: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip_message() {
        let s = parse_stanza(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='m1'><body>hi &amp; bye</body></message>",
        )
        .unwrap();
        let out = stanza_to_string(&s).unwrap();
        assert!(out.starts_with("<message"), "{out}");
        assert!(out.contains("xmlns='jabber:client'"), "{out}");
        assert!(out.contains("hi &amp; bye"), "{out}");
        let again = parse_stanza(&out).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn default_namespace_added() {
        let s = parse_stanza("<presence/>").unwrap();
        assert!(matches!(s, Stanza::Presence(_)));
        let s = parse_stanza("  <message to='a@b'><body>x</body></message>\n").unwrap();
        assert!(matches!(s, Stanza::Message(_)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            parse_stanza("<message"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<foo xmlns='jabber:client'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<message xmlns='urn:other'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<iq xmlns='jabber:client' type='get'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
    }

    /// minidom's parse of `xml` as tokio-xmpp hands trees over: without the prefix
    /// declarations minidom's own parser records (tokio-xmpp builds its trees from
    /// parser events, keeping names, namespaces, attributes and text only).
    fn tree(xml: &str) -> minidom::Element {
        fn strip(el: &mut minidom::Element) {
            el.prefixes = Default::default();
            el.children_mut().for_each(strip);
        }
        let mut el = xml.parse().unwrap();
        strip(&mut el);
        el
    }

    /// What the text route made of `tree`: minidom's serialization parsed by ours.
    fn via_text(tree: &minidom::Element, limits: &Limits) -> Result<Element, XmlError> {
        parse_element(&element_to_string(tree).unwrap(), limits)
    }

    const SAMPLES: [&str; 8] = [
        "<message xmlns='jabber:client' to='bob@localhost/pc' type='chat' id='m1' xml:lang='en'>\
         <thread>t1</thread>\n  <body>a &amp; b &lt;c&gt; &#13;\u{e9}\u{1f600}</body>\
         <c xmlns='http://www.xmpp.org/extensions/xep-0200.html#ns'><data>QUJD</data><mac>TUFD</mac></c>\
         </message>",
        "<x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE' type='hidden'>\
         <value>urn:xmpp:ssn</value></field>\n<field var='q&quot;&#9;&#10;&#13;&lt;&gt;&amp;'><value> v </value></field></x>",
        "<a xmlns='urn:a'><b xmlns='urn:b'><c xmlns='urn:a'/><d xmlns=''/></b>mixed<e/>text</a>",
        "<a xmlns='urn:a' xmlns:p='urn:p' xmlns:q='urn:q' p:one='1' q:two='2' plain='3'>\
         <b xmlns:r='urn:r' r:three='3' p:four='4'/><c xmlns:q='urn:q' q:five='5'/></a>",
        "<a xmlns='urn:a'><b xmlns:r='urn:r' r:x='1'/><c xmlns:s='urn:s' s:y='2'/></a>",
        "<a xmlns='urn:a'>   </a>",
        "<a xmlns='urn:a'><b></b><c> </c></a>",
        "<iq xmlns='jabber:client' type='result' id='i1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>\
         <items node='urn:xmpp:pubkeys:2'><item id='k'><pubkey xmlns='urn:xmpp:pubkey:2'>\
         <KeyValue xmlns='http://www.w3.org/2000/09/xmldsig#'>AQAB</KeyValue></pubkey></item></items></pubsub></iq>",
    ];

    #[test]
    fn from_minidom_makes_the_tree_the_text_route_made() {
        let limits = Limits::default();
        for xml in SAMPLES {
            let t = tree(xml);
            let direct = from_minidom(t.clone(), &limits).unwrap();
            assert_eq!(direct, via_text(&t, &limits).unwrap(), "{xml}");
            assert_eq!(text_len(&direct, ""), direct.to_string().len(), "{xml}");
        }
        // Namespaced attributes: the prefixes the text form gave them.
        let a = from_minidom(tree(SAMPLES[3]), &limits).unwrap();
        let keys: Vec<&str> = a.attrs().iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["plain", "tns0:one", "tns1:two"]);
        let b = a.child("b", "urn:a").unwrap();
        assert_eq!(b.attr("tns0:four"), Some("4"));
        assert_eq!(b.attr("tns2:three"), Some("3"));
        assert_eq!(a.child("c", "urn:a").unwrap().attr("tns1:five"), Some("5"));
        let a = from_minidom(tree(SAMPLES[4]), &limits).unwrap();
        assert_eq!(a.child("b", "urn:a").unwrap().attr("tns0:x"), Some("1"));
        assert_eq!(a.child("c", "urn:a").unwrap().attr("tns0:y"), Some("2"));
    }

    #[test]
    fn from_minidom_keeps_every_field_in_order() {
        let el = from_minidom(tree(SAMPLES[0]), &Limits::default()).unwrap();
        assert!(el.is("message", ns::JABBER_CLIENT));
        let attrs: Vec<(&str, &str)> = el
            .attrs()
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        // minidom keeps attributes sorted (no namespace first, then by namespace).
        assert_eq!(
            attrs,
            [
                ("id", "m1"),
                ("to", "bob@localhost/pc"),
                ("type", "chat"),
                ("xml:lang", "en")
            ]
        );
        let names: Vec<&str> = el.children().map(Element::name).collect();
        assert_eq!(names, ["thread", "body", "c"]);
        assert!(matches!(&el.nodes()[1], Node::Text(t) if t == "\n  "));
        assert_eq!(
            el.child("body", ns::JABBER_CLIENT).unwrap().text(),
            "a & b <c> \r\u{e9}\u{1f600}"
        );
        let c = el
            .child("c", "http://www.xmpp.org/extensions/xep-0200.html#ns")
            .unwrap();
        let names: Vec<(&str, String)> = c.children().map(|e| (e.name(), e.text())).collect();
        assert_eq!(names, [("data", "QUJD".into()), ("mac", "TUFD".into())]);
    }

    #[test]
    fn text_nodes_merge_and_empty_ones_vanish() {
        let mut t = minidom::Element::bare("a", "urn:a");
        t.append_text_node("one ");
        t.append_text_node("");
        t.append_text_node("two");
        t.append_child(minidom::Element::bare("b", "urn:a"));
        t.append_text_node("");
        let el = from_minidom(t.clone(), &Limits::default()).unwrap();
        assert_eq!(el, via_text(&t, &Limits::default()).unwrap());
        assert_eq!(el.nodes().len(), 2);
        assert!(matches!(&el.nodes()[0], Node::Text(s) if s == "one two"));
    }

    #[test]
    fn p4_normalization_is_unchanged() {
        // The MAC inputs of XEP-0116 §6.2 and XEP-0200 §6 (profile P4) are computed on the
        // tree as received: identical trees, identical normalizations.
        let limits = Limits::default();
        for xml in [SAMPLES[0], SAMPLES[1]] {
            let t = tree(xml);
            let direct = from_minidom(t.clone(), &limits).unwrap();
            let text = via_text(&t, &limits).unwrap();
            assert_eq!(
                esession::xml::normalize_form_content(&direct, &["mac"]),
                esession::xml::normalize_form_content(&text, &["mac"])
            );
            assert_eq!(direct.normalized(), text.normalized());
        }
    }

    #[test]
    fn hostile_trees_are_refused_with_the_parser_errors() {
        let nested = |levels: usize| {
            let mut t = minidom::Element::bare("x", "urn:x");
            for _ in 1..levels {
                let mut outer = minidom::Element::bare("x", "urn:x");
                outer.append_child(t);
                t = outer;
            }
            t
        };
        let limits = Limits {
            max_bytes: 10_000,
            max_depth: 5,
            max_nodes: 20,
            max_attributes: 64,
        };
        assert!(from_minidom(nested(5), &limits).is_ok());
        assert_eq!(from_minidom(nested(6), &limits), Err(XmlError::TooDeep(5)));
        assert_eq!(via_text(&nested(6), &limits), Err(XmlError::TooDeep(5)));
        // A tree far deeper than the limit is refused without walking all of it.
        assert_eq!(
            from_minidom(nested(1000), &limits),
            Err(XmlError::TooDeep(5))
        );

        let mut wide = minidom::Element::bare("x", "urn:x");
        for i in 0..10 {
            wide.append_child(minidom::Element::bare("y", "urn:x"));
            wide.append_text_node(format!("{i}"));
        }
        // 1 + 10 elements + 10 text runs.
        assert_eq!(
            from_minidom(wide.clone(), &limits),
            Err(XmlError::TooManyNodes(20))
        );
        assert_eq!(via_text(&wide, &limits), Err(XmlError::TooManyNodes(20)));
        let limits = Limits {
            max_nodes: 21,
            ..limits
        };
        assert!(from_minidom(wide, &limits).is_ok());

        // Size: the text form's length, exactly at the bound and one octet over it.
        let sized = |n: usize| {
            let mut t = minidom::Element::bare("x", "urn:x");
            t.append_text_node("&".repeat(n));
            t
        };
        let overhead = "<x xmlns=\"urn:x\"></x>".len();
        let limits = Limits {
            max_bytes: overhead + 5 * 100,
            ..Limits::default()
        };
        assert!(from_minidom(sized(100), &limits).is_ok());
        let over = Limits {
            max_bytes: limits.max_bytes - 1,
            ..limits
        };
        assert_eq!(
            from_minidom(sized(100), &over),
            Err(XmlError::TooLarge(limits.max_bytes))
        );
        let err = from_minidom(sized(100), &over).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn attributes_are_counted_as_in_the_text_form() {
        let limits = Limits {
            max_attributes: 3,
            ..Limits::default()
        };
        // Namespace declarations of the text form count: `xmlns` where the namespace
        // changes, and the prefix of a namespaced attribute.
        let cases = [
            ("<a xmlns='urn:a' x='1' y='2'/>", true),
            ("<a xmlns='urn:a' x='1' y='2' z='3'/>", false),
            ("<a xmlns='urn:a'><b x='1' y='2' z='3'/></a>", true),
            (
                "<a xmlns='urn:a'><b xmlns='urn:b' x='1' y='2' z='3'/></a>",
                false,
            ),
            ("<a xmlns='urn:a' xmlns:p='urn:p' p:x='1' y='2'/>", false),
            ("<a xmlns='urn:a' xml:lang='en' y='2'/>", true),
        ];
        for (xml, ok) in cases {
            let t = tree(xml);
            let direct = from_minidom(t.clone(), &limits);
            assert_eq!(direct, via_text(&t, &limits), "{xml}");
            if ok {
                assert!(direct.is_ok(), "{xml}");
            } else {
                assert_eq!(direct, Err(XmlError::TooManyAttributes(3)), "{xml}");
            }
        }
        // Far more attributes than the limit: refused before they are converted.
        let mut wide = minidom::Element::bare("a", "urn:a");
        for i in 0..10_000 {
            let name = NcName::try_from(format!("a{i}")).unwrap();
            wide.set_attr(Namespace::NONE, name, "v");
        }
        assert_eq!(
            from_minidom(wide, &Limits::default()),
            Err(XmlError::TooManyAttributes(64))
        );
    }

    #[test]
    fn text_len_is_the_length_of_the_text_form() {
        let el = Element::new("a", "urn:\"a&<>")
            .with_attr("k", "\"\t\n\r<>&'x\u{e9}")
            .with_text("&<>\r\n\t\"'")
            .with_child(Element::new("b", "urn:\"a&<>").with_text(""))
            .with_child(Element::new("c", "").with_attr("xml:lang", "en"))
            .with_text("");
        assert_eq!(text_len(&el, ""), el.to_string().len());
        assert_eq!(text_len(&el, el.ns()), el.serialize_in(el.ns()).len());
    }

    #[test]
    fn to_minidom_round_trips_and_matches_the_text_route() {
        let limits = Limits::default();
        let el = Element::new("message", ns::JABBER_CLIENT)
            .with_attr("to", "bob@localhost")
            .with_attr("type", "chat")
            .with_attr("xml:lang", "en")
            .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text("t<1>"))
            .with_text("\n ")
            .with_child(
                Element::new("x", "jabber:x:data")
                    .with_attr("type", "form")
                    .with_child(
                        Element::new("field", "jabber:x:data")
                            .with_attr("var", "a\"b\t")
                            .with_child(
                                Element::new("value", "jabber:x:data").with_text("1 & 2\r"),
                            ),
                    )
                    .with_child(Element::new("none", ""))
                    .with_text("tail"),
            )
            .with_text(" ");
        let tree = to_minidom(&el, el.ns(), el.ns()).unwrap();
        assert_eq!(from_minidom(tree.clone(), &limits).unwrap(), el);
        assert_eq!(tree, el.to_string().parse::<minidom::Element>().unwrap());
        // A stanza keeps its payloads through tokio-xmpp's types.
        let Stanza::Message(m) = element_to_stanza(&el).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(m.payloads.len(), 1);
        let x = from_minidom(m.payloads[0].clone(), &limits).unwrap();
        assert_eq!(Some(&x), el.child("x", "jabber:x:data"));
    }

    #[test]
    fn a_tree_without_namespaces_lands_in_jabber_client() {
        let el = Element::new("message", "")
            .with_attr("to", "a@b")
            .with_child(Element::new("body", "").with_text("x"))
            .with_child(Element::new("c", "urn:c").with_child(Element::new("d", "")));
        let Stanza::Message(m) = element_to_stanza(&el).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(m.bodies.values().next().map(String::as_str), Some("x"));
        // `d` is in no namespace: its parent's (`urn:c`) differs from the root's.
        assert_eq!(
            m.payloads[0].get_child("d", "").map(|d| d.ns()),
            Some(String::new())
        );
        let text = Element::new("message", "").to_string();
        let Stanza::Message(_) = parse_stanza(&text).unwrap() else {
            panic!("not a message");
        };
    }

    #[test]
    fn unsendable_elements_are_refused_with_what_is_wrong() {
        let msg = || Element::new("message", ns::JABBER_CLIENT);
        let cases = [
            (
                msg().with_child(Element::new("a:b", "urn:x")),
                "element name \"a:b\"",
            ),
            (
                msg().with_child(Element::new("", "urn:x")),
                "element name \"\"",
            ),
            (
                msg().with_attr("p:x", "1"),
                "attribute \"p:x\" has an undeclared prefix",
            ),
            (msg().with_attr("a b", "1"), "attribute name \"a b\""),
            (
                msg().with_attr("xmlns", "urn:x"),
                "attribute \"xmlns\" is a namespace",
            ),
            (msg().with_attr("k", "\u{1}"), "value of attribute \"k\""),
            (msg().with_text("\u{0}"), "text in <message/>"),
            (
                Element::new("message", "urn:other"),
                "stanza root must be in namespace",
            ),
            (
                Element::new("foo", ns::JABBER_CLIENT),
                "<foo/> is not a valid stanza",
            ),
        ];
        for (el, what) in cases {
            match element_to_stanza(&el) {
                Err(XmppError::InvalidArgument(e)) => assert!(e.contains(what), "{e}"),
                other => panic!("{el}: {other:?}"),
            }
        }
    }
}
