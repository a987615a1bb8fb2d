//! Element tree with document order and exact text.
use std::borrow::Cow;

/// An element's attributes in document order: names (`&'static` when known) and values.
pub(crate) type Attrs = Vec<(Cow<'static, str>, String)>;

/// A node of an element's content, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data exactly as received (entities resolved; CDATA included).
    Text(String),
}

impl Node {
    /// The element, if this node is one (text is skipped).
    pub fn as_element(&self) -> Option<&Element> {
        match self {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        }
    }

    /// The length of the text, if this node is text (0 for an element).
    pub(crate) fn text_len(&self) -> usize {
        match self {
            Node::Text(t) => t.len(),
            Node::Element(_) => 0,
        }
    }
}

/// An XML element: local name, resolved namespace, attributes in document order
/// (namespace declarations excluded; `xml:lang` kept under that name), children in order.
///
/// Names, namespaces and attribute names given as `&'static str` (those the engine
/// builds, and the known ones the parser meets) are kept without a copy: a stanza's
/// elements then allocate for their attribute values and text only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    name: Cow<'static, str>,
    ns: Cow<'static, str>,
    attrs: Vec<(Cow<'static, str>, String)>,
    children: Vec<Node>,
}

impl Element {
    /// A new empty element `name` in namespace `ns` (each a `String` or a `&'static str`).
    pub fn new(name: impl Into<Cow<'static, str>>, ns: impl Into<Cow<'static, str>>) -> Self {
        Element {
            name: name.into(),
            ns: ns.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: adds or replaces attribute `name` (a `String` or a `&'static str`).
    pub fn with_attr(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// The local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace URI ("" when none).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// Whether this is element `name` in namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }

    /// Attributes in document order (names as written: `xml:lang`).
    pub fn attrs(&self) -> &[(Cow<'static, str>, String)] {
        &self.attrs
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets attribute `name` (a `String` or a `&'static str`), keeping its position when
    /// it exists.
    pub fn set_attr(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.attrs.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name, value)),
        }
    }

    /// Appends attribute `name`, which the element does not have yet (the parser, which
    /// refuses repeated names).
    pub(crate) fn push_attr(&mut self, name: Cow<'static, str>, value: String) {
        self.attrs.push((name, value));
    }

    /// Room for `n` more attributes (the parser, which knows how many a tag has).
    pub(crate) fn reserve_attrs(&mut self, n: usize) {
        self.attrs.reserve_exact(n);
    }

    /// The attributes and the content nodes, taking the element apart.
    pub(crate) fn into_attrs_and_nodes(self) -> (Attrs, Vec<Node>) {
        (self.attrs, self.children)
    }

    /// Removes every attribute.
    pub(crate) fn clear_attrs(&mut self) {
        self.attrs.clear();
    }

    /// Removes attribute `name`.
    pub fn remove_attr(&mut self, name: &str) {
        self.attrs.retain(|(k, _)| k != name);
    }

    /// All content nodes in order.
    pub fn nodes(&self) -> &[Node] {
        &self.children
    }

    /// Mutable access to the content nodes.
    pub fn nodes_mut(&mut self) -> &mut Vec<Node> {
        &mut self.children
    }

    /// Child elements in order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(Node::as_element)
    }

    /// The first child element `name` in namespace `ns`.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    /// Appends a child element.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Removes every child element for which `drop` is true; returns them in order.
    pub fn take_children(&mut self, mut drop: impl FnMut(&Element) -> bool) -> Vec<Element> {
        let mut taken = Vec::new();
        let mut kept = Vec::with_capacity(self.children.len());
        for node in std::mem::take(&mut self.children) {
            match node {
                Node::Element(e) if drop(&e) => taken.push(e),
                other => kept.push(other),
            }
        }
        self.children = kept;
        taken
    }

    /// The concatenated character data directly inside this element.
    pub fn text(&self) -> String {
        self.text_ref().into_owned()
    }

    /// [`Element::text`], borrowed when the element holds at most one run of text (the
    /// usual case: no copy).
    pub(crate) fn text_ref(&self) -> Cow<'_, str> {
        let mut runs = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
        });
        match (runs.next(), runs.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(one), None) => Cow::Borrowed(one),
            (Some(first), Some(second)) => {
                let mut all = String::from(first);
                all.push_str(second);
                all.extend(runs);
                Cow::Owned(all)
            }
        }
    }

    /// Whether the element has child elements.
    pub fn has_element_children(&self) -> bool {
        self.children.iter().any(|n| matches!(n, Node::Element(_)))
    }
}
