//! A bounded XML parser for stanzas received from the network.
//!
//! Everything here is hostile input: size, depth and node count are bounded, DOCTYPE
//! declarations (entity expansion) are refused, and every failure is an [`XmlError`]
//! that names what was wrong.
use super::element::{Element, Node};
use super::ns;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use std::borrow::Cow;
use std::collections::HashSet;

/// Bounds on what the parser accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in octets.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most nodes (elements and text runs) in one document.
    pub max_nodes: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 512 * 1024,
            max_depth: 32,
            max_nodes: 20_000,
            // A stanza carries a handful; 64 leaves room for extensions and bounds the work
            // per element.
            max_attributes: 64,
        }
    }
}

/// Why some XML was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The input is larger than [`Limits::max_bytes`].
    #[error("XML too large: {0} octets")]
    TooLarge(usize),
    /// Elements nest deeper than [`Limits::max_depth`].
    #[error("XML nested deeper than {0} elements")]
    TooDeep(usize),
    /// More nodes than [`Limits::max_nodes`].
    #[error("XML has more than {0} nodes")]
    TooManyNodes(usize),
    /// An element has more attributes than [`Limits::max_attributes`].
    #[error("XML element has more than {0} attributes (max_attributes)")]
    TooManyAttributes(usize),
    /// A DOCTYPE declaration (refused: entity expansion).
    #[error("XML contains a DOCTYPE declaration")]
    Doctype,
    /// A prefix without a namespace declaration.
    #[error("XML uses an undeclared namespace prefix")]
    UnknownPrefix,
    /// No root element, or more than one, or text outside it.
    #[error("XML is not exactly one element: {0}")]
    NotOneElement(&'static str),
    /// Malformed syntax, bad escapes or invalid UTF-8.
    #[error("malformed XML: {0}")]
    Syntax(String),
}

/// Parses a document that holds exactly one element (whitespace around it allowed).
pub fn parse_element(input: &str, limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(input.len()));
    }
    let mut reader = NsReader::from_str(input);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let decoder = reader.decoder();
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut nodes = 0usize;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::NotOneElement("content after the root element"));
            }
            Event::Start(start) => {
                count(&mut nodes, limits)?;
                let el = element_from(decoder, resolved, &start, limits)?;
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                stack.push(el);
            }
            Event::Empty(start) => {
                count(&mut nodes, limits)?;
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let el = element_from(decoder, resolved, &start, limits)?;
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => match stack.pop() {
                Some(el) => attach(&mut stack, &mut root, el),
                None => return Err(XmlError::Syntax("unexpected end tag".into())),
            },
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| XmlError::Syntax(e.to_string()))?;
                push_text(&mut stack, text, &mut nodes, limits)?;
            }
            Event::CData(c) => {
                let text =
                    std::str::from_utf8(c.as_ref()).map_err(|e| XmlError::Syntax(e.to_string()))?;
                push_text(&mut stack, Cow::Borrowed(text), &mut nodes, limits)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("unclosed element".into()));
    }
    root.ok_or(XmlError::NotOneElement("no root element"))
}

/// Parses `fragment` as the content of an element in namespace `ns` (XEP-0200 §8: the
/// decrypted plaintext is parsed inside a wrapper in the stanza's namespace).
pub fn parse_fragment(fragment: &str, ns: &str, limits: &Limits) -> Result<Vec<Node>, XmlError> {
    let mut doc = String::with_capacity(fragment.len() + ns.len() + 40);
    doc.push_str("<wrapper xmlns=\"");
    super::escape::escape_into(&mut doc, ns, super::escape::Escape::StanzaAttr);
    doc.push_str("\">");
    doc.push_str(fragment);
    doc.push_str("</wrapper>");
    let wrapper = parse_element(&doc, limits)?;
    if !wrapper.is("wrapper", ns) {
        return Err(XmlError::NotOneElement("fragment closed its wrapper"));
    }
    let mut wrapper = wrapper;
    Ok(std::mem::take(wrapper.nodes_mut()))
}

fn count(nodes: &mut usize, limits: &Limits) -> Result<(), XmlError> {
    *nodes += 1;
    if *nodes > limits.max_nodes {
        return Err(XmlError::TooManyNodes(limits.max_nodes));
    }
    Ok(())
}

fn push_text(
    stack: &mut [Element],
    text: Cow<'_, str>,
    nodes: &mut usize,
    limits: &Limits,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            // Adjacent text and CDATA runs form one text node.
            if let Some(Node::Text(prev)) = parent.nodes_mut().last_mut() {
                prev.push_str(&text);
            } else {
                count(nodes, limits)?;
                parent.nodes_mut().push(Node::Text(text.into_owned()));
            }
            Ok(())
        }
        None if text.chars().all(char::is_whitespace) => Ok(()),
        None => Err(XmlError::NotOneElement("text outside the root element")),
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.push(el),
        None => *root = Some(el),
    }
}

fn element_from(
    decoder: quick_xml::encoding::Decoder,
    resolved: ResolveResult,
    start: &BytesStart,
    limits: &Limits,
) -> Result<Element, XmlError> {
    let ns = match resolved {
        // Namespaces in XML 1.0 §3: the namespace name is the attribute's normalized value,
        // with character and entity references replaced (XML 1.0 §3.3.3), so
        // `xmlns='a&amp;b'` binds `a&b`. quick-xml resolves the raw text: unescape it.
        ResolveResult::Bound(ns) => {
            let raw =
                std::str::from_utf8(ns.as_ref()).map_err(|e| XmlError::Syntax(e.to_string()))?;
            match quick_xml::escape::unescape(raw).map_err(|e| XmlError::Syntax(e.to_string()))? {
                Cow::Borrowed(ns) => known(ns),
                Cow::Owned(ns) => Cow::Owned(ns),
            }
        }
        ResolveResult::Unbound => Cow::Borrowed(""),
        ResolveResult::Unknown(_) => return Err(XmlError::UnknownPrefix),
    };
    let local_name = start.local_name();
    let name =
        std::str::from_utf8(local_name.as_ref()).map_err(|e| XmlError::Syntax(e.to_string()))?;
    // XML 1.0 §3.1: a tag is `'<' Name`, and a Name (§2.3) is never empty; quick-xml
    // accepts `< />` (and `<p: />`) as an element without a name.
    if name.is_empty() {
        return Err(XmlError::Syntax("element without a name".into()));
    }
    // Namespaces in XML 1.0 §4: an element name is a QName, `Prefix ':' LocalPart` with
    // no colon in either part; quick-xml splits `<a:b:c/>` into prefix `a` and local
    // name `b:c`, which could not be written back without an undeclared prefix.
    if name.contains(':') {
        return Err(XmlError::Syntax(format!(
            "element name {name:?} is not a QName"
        )));
    }
    let mut el = Element::new(known(name), ns);
    let mut seen = Seen::default();
    let mut attrs = start.attributes();
    attrs.with_checks(false);
    for attr in attrs {
        let attr = attr.map_err(|e| XmlError::Syntax(e.to_string()))?;
        if seen.len() >= limits.max_attributes {
            return Err(XmlError::TooManyAttributes(limits.max_attributes));
        }
        seen.insert(&attr)?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|e| XmlError::Syntax(e.to_string()))?
            .to_owned();
        let value = attr
            .decode_and_unescape_value(decoder)
            .map_err(|e| XmlError::Syntax(e.to_string()))?
            .into_owned();
        // Unique: `seen` refused a repeated name.
        el.push_attr(key, value);
    }
    Ok(el)
}

/// The attribute names of one tag so far, for XML 1.0 §3.1 (Unique Att Spec: no attribute
/// name appears twice in a tag). quick-xml's own check compares each attribute with every
/// earlier one; the few of a usual tag are compared so too, and past [`Seen::FEW`] a set
/// keeps the work linear (the count bounds it per element). The set is made only then:
/// making one costs more than the comparisons of a usual tag.
#[derive(Default)]
struct Seen<'a> {
    few: Vec<&'a [u8]>,
    many: Option<HashSet<&'a [u8]>>,
}

impl<'a> Seen<'a> {
    const FEW: usize = 8;

    fn len(&self) -> usize {
        self.few.len() + self.many.as_ref().map_or(0, HashSet::len)
    }

    /// Records `attr`'s name; a name already seen is a syntax error naming it.
    fn insert(&mut self, attr: &Attribute<'a>) -> Result<(), XmlError> {
        let key = attr.key.into_inner();
        let repeated = if self.few.len() < Self::FEW {
            let repeated = self.few.contains(&key);
            self.few.push(key);
            repeated
        } else {
            self.few.contains(&key) || !self.many.get_or_insert_default().insert(key)
        };
        if repeated {
            let key = String::from_utf8_lossy(key);
            return Err(XmlError::Syntax(format!("duplicate attribute {key}")));
        }
        Ok(())
    }
}

/// `s` for an element's name or namespace ([`Element::new`]): without a copy when it is
/// one that stanzas usually carry (those the engine itself writes), else a copy.
pub fn known(s: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 23] = [
        ns::JABBER_CLIENT,
        ns::STANZA_ENCRYPTION,
        ns::EME,
        ns::HINTS,
        ns::CARBONS,
        ns::AMP,
        ns::DATA,
        ns::FEATURE_NEG,
        "message",
        "presence",
        "iq",
        "thread",
        "body",
        "c",
        "data",
        "mac",
        "key",
        "new",
        "old",
        "encryption",
        "no-store",
        "no-permanent-store",
        "private",
    ];
    match KNOWN.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_text_and_namespaces() {
        let el = parse_element(
            "<message xmlns='jabber:client' to='b@x' xml:lang='en'><thread>t1</thread>\n \
             <x:c xmlns:x='urn:c'><data>a&amp;b<![CDATA[<c>]]></data></x:c></message>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(el.ns(), "jabber:client");
        assert_eq!(el.attr("xml:lang"), Some("en"));
        let kids: Vec<_> = el
            .children()
            .map(|c| (c.name().to_owned(), c.ns().to_owned()))
            .collect();
        assert_eq!(
            kids,
            [
                ("thread".into(), "jabber:client".into()),
                ("c".into(), "urn:c".into())
            ]
        );
        let c = el.child("c", "urn:c").unwrap();
        assert_eq!(c.child("data", "jabber:client").unwrap().text(), "a&b<c>");
        assert_eq!(
            el.nodes().len(),
            3,
            "whitespace between elements is kept as a node"
        );
    }

    #[test]
    fn refuses_hostile_input_with_named_errors() {
        let l = Limits {
            max_bytes: 100,
            max_depth: 3,
            max_nodes: 5,
            max_attributes: 2,
        };
        assert_eq!(
            parse_element(&"a".repeat(101), &l),
            Err(XmlError::TooLarge(101))
        );
        assert_eq!(
            parse_element("<a><b><c><d/></c></b></a>", &l),
            Err(XmlError::TooDeep(3))
        );
        assert_eq!(
            parse_element("<a><b/><b/><b/><b/><b/></a>", &l),
            Err(XmlError::TooManyNodes(5))
        );
        assert_eq!(
            parse_element("<a x='1' y='2' z='3'/>", &l),
            Err(XmlError::TooManyAttributes(2))
        );
        assert_eq!(
            parse_element("<a xmlns:p='urn:p' x='1' y='2'/>", &l),
            Err(XmlError::TooManyAttributes(2)),
            "namespace declarations count"
        );
        assert_eq!(
            parse_element("<a x='1' x='1'/>", &l),
            Err(XmlError::Syntax("duplicate attribute x".into()))
        );
        assert_eq!(
            parse_element("<a xmlns:p='urn:p' xmlns:p='urn:q'/>", &l),
            Err(XmlError::Syntax("duplicate attribute xmlns:p".into()))
        );
        // Past the few compared one by one, the set: a repeat of an early name and of a
        // late one, and many distinct names.
        let names: Vec<String> = (0..20).map(|i| format!("a{i}")).collect();
        for repeated in ["a0", "a7", "a8", "a19"] {
            let attrs: String = names.iter().map(|n| format!(" {n}='v'")).collect();
            assert_eq!(
                parse_element(&format!("<a{attrs} {repeated}='w'/>"), &Limits::default()),
                Err(XmlError::Syntax(format!("duplicate attribute {repeated}")))
            );
            let el = parse_element(&format!("<a{attrs}/>"), &Limits::default()).unwrap();
            assert_eq!(el.attrs().len(), 20);
        }
        assert_eq!(
            XmlError::TooManyAttributes(64).to_string(),
            "XML element has more than 64 attributes (max_attributes)"
        );
        let l = Limits::default();
        assert_eq!(
            parse_element("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", &l),
            Err(XmlError::Doctype)
        );
        assert_eq!(parse_element("<p:a/>", &l), Err(XmlError::UnknownPrefix));
        assert!(matches!(
            parse_element("<a/><b/>", &l),
            Err(XmlError::NotOneElement(_))
        ));
        assert!(matches!(
            parse_element("", &l),
            Err(XmlError::NotOneElement(_))
        ));
        assert!(matches!(parse_element("<a>", &l), Err(XmlError::Syntax(_))));
        assert!(matches!(
            parse_element("<a></b>", &l),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(
            parse_element("<a>&bogus;</a>", &l),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(
            parse_element("<a x='1' x='2'/>", &l),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(
            parse_element("<a/>junk", &l),
            Err(XmlError::NotOneElement(_))
        ));
    }

    #[test]
    fn namespace_names_are_unescaped() {
        // Found by the xml_parse fuzz target (docs/fuzzing.md): the namespace name was kept
        // with its references unresolved, so serialize + parse changed the tree.
        let l = Limits::default();
        let el = parse_element("<a xmlns='urn:x&amp;y&#60;z'><b/></a>", &l).unwrap();
        assert_eq!(el.ns(), "urn:x&y<z");
        assert_eq!(
            el.child("b", "urn:x&y<z").map(Element::ns),
            Some("urn:x&y<z")
        );
        assert_eq!(parse_element(&el.to_string(), &l).unwrap(), el);
        let p = parse_element("<p:a xmlns:p='urn:&quot;q&quot;'/>", &l).unwrap();
        assert_eq!(p.ns(), "urn:\"q\"");
        assert_eq!(parse_element(&p.to_string(), &l).unwrap(), p);
        // The fuzzer's input: a literal `<` in the declaration (quick-xml accepts it).
        let lt = parse_element("<a xmlns='urn:x</y>'/>", &l).unwrap();
        assert_eq!(parse_element(&lt.to_string(), &l).unwrap(), lt);
        assert!(matches!(
            parse_element("<a xmlns='urn:&bogus;'/>", &l),
            Err(XmlError::Syntax(_))
        ));
    }

    #[test]
    fn elements_without_a_name_are_refused() {
        // Found by the xml_parse and form_parse_normalize fuzz targets (docs/fuzzing.md):
        // `< />` parsed as an element named "", which serializes as `</>`.
        let l = Limits::default();
        for input in [
            " < />",
            "< />",
            "<a>< /></a>",
            "<p: xmlns:p='urn:p'/>",
            "<a><p: xmlns:p='u'></p:></a>",
        ] {
            assert_eq!(
                parse_element(input, &l),
                Err(XmlError::Syntax("element without a name".into())),
                "{input}"
            );
        }
        assert!(parse_fragment("< />", "jabber:client", &l).is_err());
        // Found by xml_parse: `<xmlns::::x/>` (prefix `xmlns`, local name `:::x`) parsed,
        // but serialized as a name with an undeclared prefix.
        for input in [
            "<xmlns::::x/>",
            "<a:b:c xmlns:a='urn:a'/>",
            "<a><xmlns:b:c/></a>",
        ] {
            assert!(
                matches!(parse_element(input, &l), Err(XmlError::Syntax(_))),
                "{input}"
            );
        }
        assert!(parse_element("<:::x xmlns='urn:u'/>", &l).is_err());
        assert!(parse_element("<a:b xmlns:a='urn:a'/>", &l).is_ok());
    }

    #[test]
    fn fragment_parses_in_namespace_and_cannot_escape_wrapper() {
        let nodes = parse_fragment(
            "<body>hi</body><x xmlns='urn:y'/>",
            "jabber:client",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(nodes.len(), 2);
        assert!(matches!(&nodes[0], Node::Element(e) if e.is("body", "jabber:client")));
        assert!(
            parse_fragment("</wrapper><wrapper>", "jabber:client", &Limits::default()).is_err()
        );
    }
}
