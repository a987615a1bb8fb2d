//! A bounded XML parser for stanzas received from the network.
//!
//! Everything here is hostile input: size, depth, node and attribute counts are bounded,
//! DOCTYPE declarations (entity expansion) are refused, and every failure is an
//! [`XmlError`] that names what was wrong. The parser takes exactly what the engine needs:
//! one element (or, for a decrypted plaintext, a fragment) as a namespace-resolved
//! [`Element`] tree. It is made of the [`lexer`] (tags, attributes, text), the
//! [`reference`]s in text and values, the namespace [`scope`], and the tree built here.
#[cfg(test)]
mod differential;
mod lexer;
mod names;
mod reference;
mod scope;
#[cfg(test)]
mod tests;
mod text_only;

use super::element::{Element, Node};
use super::ns;
use lexer::{is_space, Lexer, QName, RawAttr, Token};
use names::shorten;
use scope::{declaration, Scope};
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
    /// The input is larger than [`Limits::max_bytes`], or the copies of namespace names the
    /// engine does not know (each element in such a namespace owns one) would be.
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
    /// A prefix without a namespace declaration (the prefix, shortened to 64 characters).
    #[error("XML uses the undeclared namespace prefix {0:?}")]
    UnknownPrefix(String),
    /// No root element, or more than one, or text outside it.
    #[error("XML is not exactly one element: {0}")]
    NotOneElement(&'static str),
    /// Malformed syntax, bad escapes or invalid UTF-8.
    #[error("malformed XML: {0}")]
    Syntax(String),
}

/// Parses a document that holds exactly one element (whitespace, comments and processing
/// instructions around it allowed).
pub fn parse_element(input: &str, limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(input.len()));
    }
    let mut tree = Tree::new(limits);
    tree.read(input)?;
    tree.finish()
}

/// Parses `fragment` as the content of an element in namespace `ns` (XEP-0200 §8: the
/// decrypted plaintext is parsed inside a wrapper in the stanza's namespace).
///
/// The wrapper is not written out: the fragment is read with an open element in `ns`
/// around it, which counts for the depth and node limits as the written wrapper did, and
/// which an end tag in the fragment cannot close.
///
/// The usual plaintext, one element with text only, is read without building a tree
/// (`text_only`), with the same result.
pub fn parse_fragment(fragment: &str, ns: &str, limits: &Limits) -> Result<Vec<Node>, XmlError> {
    match text_only::read(fragment, ns, limits) {
        Some(nodes) => Ok(nodes),
        None => read_fragment(fragment, ns, limits),
    }
}

/// [`parse_fragment`] through the tree.
fn read_fragment(fragment: &str, ns: &str, limits: &Limits) -> Result<Vec<Node>, XmlError> {
    if fragment.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(fragment.len()));
    }
    let mut tree = Tree::new(limits);
    tree.count()?;
    tree.scope.open();
    tree.scope
        .declare(scope::Declares::Default, Cow::Borrowed(ns))?;
    tree.open.push(Open {
        element: Element::new("wrapper", known(ns)),
        name: "",
    });
    tree.read(fragment)?;
    tree.unclosed()?;
    match tree.open.pop() {
        Some(mut wrapper) => Ok(std::mem::take(wrapper.element.nodes_mut())),
        None => Err(XmlError::Syntax("the fragment closed its wrapper".into())),
    }
}

/// The room a root element gets for its child elements at the first one.
const ROOT_CHILDREN: usize = 8;

/// Character data: text, whose references are replaced when it is `escaped` (has any),
/// or the content of a CDATA section, taken as it is (XML 1.0 §2.4, §2.7).
#[derive(Clone, Copy)]
enum Chars {
    Text { escaped: bool },
    CData,
}

/// An element whose end tag has not come yet, with its name as written.
struct Open<'a> {
    element: Element,
    name: &'a str,
}

/// The tree being built: the open elements, their namespace declarations, and the root
/// once it is closed.
struct Tree<'a, 'l> {
    limits: &'l Limits,
    open: Vec<Open<'a>>,
    scope: Scope<'a>,
    root: Option<Element>,
    nodes: usize,
    /// Octets of namespace names copied into elements so far: a namespace the engine does
    /// not know is owned by every element in it, so a long one declared once and used by
    /// many elements would make a tree far larger than its input.
    copied: usize,
}

impl<'a, 'l> Tree<'a, 'l> {
    fn new(limits: &'l Limits) -> Self {
        Tree {
            limits,
            open: Vec::new(),
            scope: Scope::default(),
            root: None,
            nodes: 0,
            copied: 0,
        }
    }

    fn read(&mut self, input: &'a str) -> Result<(), XmlError> {
        let mut lexer = Lexer::new(input);
        let mut attrs = Vec::new();
        while let Some(token) = lexer.next(&mut attrs, self.limits.max_attributes)? {
            match token {
                Token::Text { raw, escaped } => self.text(raw, Chars::Text { escaped })?,
                Token::CData(raw) => self.text(raw, Chars::CData)?,
                Token::Start { name, empty } => self.start(name, &attrs, empty)?,
                Token::End(name) => self.end(name)?,
                Token::Doctype => return Err(XmlError::Doctype),
                Token::Skipped => {}
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Element, XmlError> {
        self.unclosed()?;
        self.root.ok_or(XmlError::NotOneElement("no root element"))
    }

    /// XML 1.0 §3: every start tag has its end tag; the innermost one left open is named
    /// (a fragment's wrapper, which has no name, is not).
    fn unclosed(&self) -> Result<(), XmlError> {
        match self.open.last() {
            Some(open) if !open.name.is_empty() => Err(XmlError::Syntax(format!(
                "unclosed element <{}>",
                shorten(open.name)
            ))),
            _ => Ok(()),
        }
    }

    fn count(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(XmlError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    /// Character data, of text or of a CDATA section.
    fn text(&mut self, raw: &str, chars: Chars) -> Result<(), XmlError> {
        let Some(parent) = self.open.last_mut() else {
            // XML 1.0 §2.8: outside the root element only white space (`Misc`).
            if matches!(chars, Chars::Text { .. }) && raw.bytes().all(is_space) {
                return Ok(());
            }
            return Err(XmlError::NotOneElement("text outside the root element"));
        };
        if raw.is_empty() {
            return Ok(());
        }
        let text = match chars {
            Chars::Text { escaped: true } => reference::unescape(raw)?,
            Chars::Text { escaped: false } | Chars::CData => Cow::Borrowed(raw),
        };
        // Adjacent text, CDATA and text around comments form one text node.
        if let Some(Node::Text(prev)) = parent.element.nodes_mut().last_mut() {
            prev.push_str(&text);
            return Ok(());
        }
        self.count()?;
        if let Some(parent) = self.open.last_mut() {
            let nodes = parent.element.nodes_mut();
            if nodes.is_empty() {
                // Text first is usually text only (`<body/>`, `<data/>`): room for one
                // node, not the four a growing list starts with.
                nodes.reserve_exact(1);
            }
            nodes.push(Node::Text(text.into_owned()));
        }
        Ok(())
    }

    fn start(
        &mut self,
        name: QName<'a>,
        attrs: &[RawAttr<'a>],
        empty: bool,
    ) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::NotOneElement("content after the root element"));
        }
        self.count()?;
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        unique(attrs)?;
        self.scope.open();
        let mut plain = 0;
        for attr in attrs {
            match declaration(attr.name) {
                Some(what) => self.scope.declare(what, attr.unescaped()?)?,
                None => plain += 1,
            }
        }
        let QName {
            written: name,
            prefix,
            local,
        } = name;
        let ns = self.scope.resolve(prefix)?;
        if let Cow::Owned(copy) = &ns {
            // The copies count against the size limit, as if the input had them written
            // out (else ~500 KB of namespace name used by 20,000 elements is ~10 GB).
            self.copied = self.copied.saturating_add(copy.len());
            if self.copied > self.limits.max_bytes {
                return Err(XmlError::TooLarge(self.copied));
            }
        }
        let mut element = Element::new(known(local), ns);
        element.reserve_attrs(plain);
        for attr in attrs.iter().filter(|a| declaration(a.name).is_none()) {
            // Attribute names are kept as written (`xml:lang`); their prefixes are not
            // resolved, as before: a stanza's may be declared on the stream.
            let value = attr.unescaped()?.into_owned();
            element.push_attr(known_attr(attr.name), value);
        }
        if empty {
            self.scope.close();
            self.attach(element);
        } else {
            self.open.push(Open { element, name });
        }
        Ok(())
    }

    /// XML 1.0 §3 (WFC: Element Type Match): the end tag names the open element.
    fn end(&mut self, name: &str) -> Result<(), XmlError> {
        match self.open.last() {
            Some(open) if !open.name.is_empty() && open.name == name => {}
            Some(open) if !open.name.is_empty() => {
                return Err(XmlError::Syntax(format!(
                    "end tag </{}> does not match <{}>",
                    shorten(name),
                    shorten(open.name)
                )))
            }
            // Nothing open, or only a fragment's wrapper, which has no end tag.
            _ => {
                return Err(XmlError::Syntax(format!(
                    "end tag </{}> without a start tag",
                    shorten(name)
                )))
            }
        }
        if let Some(open) = self.open.pop() {
            self.scope.close();
            self.attach(open.element);
        }
        Ok(())
    }

    fn attach(&mut self, element: Element) {
        let depth = self.open.len();
        match self.open.last_mut() {
            Some(parent) => {
                let nodes = parent.element.nodes_mut();
                if depth == 1 && nodes.capacity() == 0 {
                    // A stanza has several children (`<thread/>`, `<c/>`, the fallback
                    // body, hints): room for them at the first, not grown twice.
                    nodes.reserve(ROOT_CHILDREN);
                }
                nodes.push(Node::Element(element));
            }
            None => self.root = Some(element),
        }
    }
}

/// XML 1.0 §3.1 (WFC: Unique Att Spec): no attribute name appears twice in a tag. The few
/// of a usual tag are compared with each other; past [`FEW`] a set keeps the work linear
/// (the attribute limit bounds it per element).
fn unique(attrs: &[RawAttr<'_>]) -> Result<(), XmlError> {
    const FEW: usize = 8;
    let repeated = if attrs.len() <= FEW {
        attrs
            .iter()
            .enumerate()
            .find(|(i, a)| {
                attrs
                    .get(..*i)
                    .is_some_and(|before| before.iter().any(|b| b.name == a.name))
            })
            .map(|(_, a)| a)
    } else {
        let mut seen = HashSet::with_capacity(attrs.len());
        attrs.iter().find(|a| !seen.insert(a.name))
    };
    match repeated {
        Some(a) => Err(XmlError::Syntax(format!(
            "duplicate attribute {}",
            shorten(a.name)
        ))),
        None => Ok(()),
    }
}

/// An attribute name: without a copy when it is one that stanzas usually carry.
fn known_attr(name: &str) -> Cow<'static, str> {
    Cow::Borrowed(match name {
        "to" => "to",
        "from" => "from",
        "type" => "type",
        "id" => "id",
        "xml:lang" => "xml:lang",
        "name" => "name",
        "namespace" => "namespace",
        "var" => "var",
        _ => return Cow::Owned(name.to_owned()),
    })
}

/// `s` for an element's name or namespace ([`Element::new`]): without a copy when it is
/// one that stanzas usually carry (those the engine itself writes), else a copy.
pub fn known(s: &str) -> Cow<'static, str> {
    Cow::Borrowed(match s {
        ns::JABBER_CLIENT => ns::JABBER_CLIENT,
        ns::STANZA_ENCRYPTION => ns::STANZA_ENCRYPTION,
        ns::EME => ns::EME,
        ns::HINTS => ns::HINTS,
        ns::CARBONS => ns::CARBONS,
        ns::AMP => ns::AMP,
        ns::DATA => ns::DATA,
        ns::FEATURE_NEG => ns::FEATURE_NEG,
        "message" => "message",
        "presence" => "presence",
        "iq" => "iq",
        "thread" => "thread",
        "body" => "body",
        "c" => "c",
        "data" => "data",
        "mac" => "mac",
        "key" => "key",
        "new" => "new",
        "old" => "old",
        "encryption" => "encryption",
        "no-store" => "no-store",
        "no-permanent-store" => "no-permanent-store",
        "private" => "private",
        _ => return Cow::Owned(s.to_owned()),
    })
}
