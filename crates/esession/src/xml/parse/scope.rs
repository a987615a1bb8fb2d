//! Namespace declarations in scope (Namespaces in XML 1.0 §3, §5, §6).
use super::{known, XmlError};
use std::borrow::Cow;
use std::collections::HashMap;

/// Namespaces in XML 1.0 §3: the namespace name bound to the prefix `xml`.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Namespaces in XML 1.0 §3: the namespace name of the prefix `xmlns`.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// The declarations of the open elements, innermost last.
#[derive(Default)]
pub(super) struct Scope<'a> {
    /// Per declared prefix, its namespace names, innermost last: a lookup costs one hash,
    /// however many declarations are in scope (up to depth × attributes per element).
    prefixes: HashMap<&'a str, Vec<Cow<'static, str>>>,
    /// The prefixes declared by the open elements, in order, to undo them on close.
    declared: Vec<&'a str>,
    /// The default namespace in scope ("" for none): what most elements resolve to,
    /// kept here rather than searched for.
    default: Cow<'static, str>,
    /// For each open element: how many prefixes were declared when it started, and the
    /// default namespace around it if the element declares its own (else it is not
    /// copied: an element without declarations costs no copy of a long namespace name).
    marks: Vec<(usize, Option<Cow<'static, str>>)>,
}

/// Namespaces in XML 1.0 §3: the two namespace names that no declaration may bind (but
/// `xml` to its own) and that are never the default namespace.
pub(super) fn is_reserved(ns: &str) -> bool {
    ns == XML_NS || ns == XMLNS_NS
}

/// What an attribute name declares, if it is a namespace declaration.
pub(super) enum Declares<'a> {
    Default,
    Prefix(&'a str),
}

/// Namespaces in XML 1.0 §3: `xmlns` declares the default namespace, `xmlns:p` the
/// prefix `p`.
pub(super) fn declaration(attr_name: &str) -> Option<Declares<'_>> {
    match attr_name.strip_prefix("xmlns") {
        Some("") => Some(Declares::Default),
        Some(rest) => rest.strip_prefix(':').map(Declares::Prefix),
        None => None,
    }
}

impl<'a> Scope<'a> {
    /// Opens an element: the declarations that follow belong to it.
    pub(super) fn open(&mut self) {
        self.marks.push((self.declared.len(), None));
    }

    /// Closes the innermost element and drops its declarations.
    pub(super) fn close(&mut self) {
        let Some((mark, default)) = self.marks.pop() else {
            return;
        };
        for prefix in self.declared.drain(mark..) {
            if let Some(stack) = self.prefixes.get_mut(prefix) {
                stack.pop();
            }
        }
        if let Some(default) = default {
            self.default = default;
        }
    }

    /// Adds a declaration of the innermost element; `ns` is the attribute's value with its
    /// references replaced (Namespaces in XML 1.0 §3) and its white space kept as written
    /// (no attribute-value normalization, docs/decisions.md "The engine's own XML parser").
    pub(super) fn declare(&mut self, what: Declares<'a>, ns: Cow<'_, str>) -> Result<(), XmlError> {
        let refuse = |why: &str| Err(XmlError::Syntax(why.into()));
        let reserved = is_reserved(&ns);
        let ns = match ns {
            Cow::Borrowed(ns) => known(ns),
            Cow::Owned(ns) => Cow::Owned(ns),
        };
        let prefix = match what {
            // Namespaces in XML 1.0 §3: the `xml` and `xmlns` namespace names are never
            // the default namespace. An empty default declaration means no namespace.
            Declares::Default if reserved => {
                return refuse("the xml or xmlns namespace declared as the default")
            }
            Declares::Default => {
                let around = std::mem::replace(&mut self.default, ns);
                // An element declares the default once (duplicate attributes are refused
                // before): keep what was around it, for its end.
                if let Some((_, slot @ None)) = self.marks.last_mut() {
                    *slot = Some(around);
                }
                return Ok(());
            }
            // §3: `xml` may be declared, but only to its own namespace name.
            Declares::Prefix("xml") if ns == XML_NS => return Ok(()),
            Declares::Prefix("xml") => return refuse("prefix xml bound to another namespace"),
            // §3: `xmlns` is never declared.
            Declares::Prefix("xmlns") => return refuse("prefix xmlns declared"),
            Declares::Prefix(_) if reserved => {
                return refuse("the xml or xmlns namespace bound to another prefix")
            }
            // §3 (version 1.0): a prefix is never undeclared with an empty value.
            Declares::Prefix(_) if ns.is_empty() => {
                return refuse("empty namespace name for a prefix")
            }
            Declares::Prefix(p) => p,
        };
        self.prefixes.entry(prefix).or_default().push(ns);
        self.declared.push(prefix);
        Ok(())
    }

    /// The namespace name of an element with this prefix (Namespaces in XML 1.0 §6.1–6.2:
    /// the innermost declaration; without a prefix, the default namespace or none).
    pub(super) fn resolve(&self, prefix: Option<&str>) -> Result<Cow<'static, str>, XmlError> {
        let Some(prefix) = prefix else {
            return Ok(self.default.clone());
        };
        match prefix {
            // §3: `xml` is bound by definition (a declaration can only repeat it) and
            // reserved; no XMPP element is in its namespace. The element could not be
            // written back either: profile P9 declares each element's namespace as the
            // default, which §3 forbids for this one (found by fuzzing: `<xml:v/>`).
            "xml" => return Err(XmlError::Syntax("element with the prefix xml".into())),
            // §3: element names never have the prefix `xmlns`.
            "xmlns" => return Err(XmlError::Syntax("element with the prefix xmlns".into())),
            _ => {}
        }
        // §5 (Namespace Constraint: Prefix Declared): the innermost declaration.
        match self.prefixes.get(prefix).and_then(|stack| stack.last()) {
            Some(ns) => Ok(ns.clone()),
            None => Err(XmlError::UnknownPrefix(super::shorten(prefix).to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare<'a>(scope: &mut Scope<'a>, name: &'a str, ns: &'a str) -> Result<(), XmlError> {
        let what = declaration(name).ok_or(XmlError::NotOneElement("not a declaration"))?;
        scope.declare(what, Cow::Borrowed(ns))
    }

    #[test]
    fn declarations_nest_and_close() {
        let mut s = Scope::default();
        s.open();
        declare(&mut s, "xmlns", "jabber:client").unwrap();
        declare(&mut s, "xmlns:p", "urn:p").unwrap();
        s.open();
        declare(&mut s, "xmlns", "").unwrap();
        declare(&mut s, "xmlns:p", "urn:q").unwrap();
        assert_eq!(s.resolve(None).unwrap(), "");
        assert_eq!(s.resolve(Some("p")).unwrap(), "urn:q");
        s.close();
        assert_eq!(s.resolve(None).unwrap(), "jabber:client");
        assert!(
            matches!(s.resolve(None).unwrap(), Cow::Borrowed(_)),
            "known namespaces are not copied"
        );
        assert_eq!(s.resolve(Some("p")).unwrap(), "urn:p");
        assert_eq!(
            s.resolve(Some("q")),
            Err(XmlError::UnknownPrefix("q".into()))
        );
        s.close();
        assert_eq!(
            s.resolve(Some("p")),
            Err(XmlError::UnknownPrefix("p".into()))
        );
        assert!(declaration("xmlnsx").is_none() && declaration("x").is_none());
    }

    #[test]
    fn reserved_prefixes_and_names_are_refused() {
        let mut s = Scope::default();
        s.open();
        declare(&mut s, "xmlns:xml", XML_NS).unwrap();
        for (name, ns, why) in [
            (
                "xmlns:xml",
                "urn:x",
                "prefix xml bound to another namespace",
            ),
            ("xmlns:xmlns", XMLNS_NS, "prefix xmlns declared"),
            (
                "xmlns:p",
                XML_NS,
                "the xml or xmlns namespace bound to another prefix",
            ),
            (
                "xmlns:p",
                XMLNS_NS,
                "the xml or xmlns namespace bound to another prefix",
            ),
            (
                "xmlns",
                XML_NS,
                "the xml or xmlns namespace declared as the default",
            ),
            ("xmlns:p", "", "empty namespace name for a prefix"),
        ] {
            assert_eq!(
                declare(&mut s, name, ns),
                Err(XmlError::Syntax(why.into())),
                "{name}={ns}"
            );
        }
        assert_eq!(
            s.resolve(Some("xmlns")),
            Err(XmlError::Syntax("element with the prefix xmlns".into()))
        );
        assert_eq!(
            s.resolve(Some("xml")),
            Err(XmlError::Syntax("element with the prefix xml".into()))
        );
    }
}
