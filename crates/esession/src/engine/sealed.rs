//! An encrypted stanza as a session sealed it (XEP-0200 §5–6, profile P9), kept in parts
//! until it is taken: as an element tree ([`Engine::poll_outgoing`]) or written straight
//! as its text ([`Engine::poll_outgoing_text`]), without building the tree first. Both
//! forms give the same P9 serialization.
//!
//! [`Engine::poll_outgoing`]: super::Engine::poll_outgoing
//! [`Engine::poll_outgoing_text`]: super::Engine::poll_outgoing_text
use crate::channel::Sealed;
use crate::config::{Logging, StanzaKind};
use crate::session_id::SessionId;
use crate::stanza::clear_extras;
use crate::xml::{ns, Attrs, Element};
use jid::Jid;
use std::sync::OnceLock;

/// Profile P11: with `match_resource`, every stanza of the session carries, last, this
/// AMP rule (and no drop-if-stored rule: the stanzas are meant to be stored).
pub(super) fn match_resource_rule() -> Element {
    Element::new("amp", ns::AMP).with_child(
        Element::new("rule", ns::AMP)
            .with_attr("action", "error")
            .with_attr("condition", "match-resource")
            .with_attr("value", "exact"),
    )
}

/// A stanza to send: built as a tree, or sealed and kept in parts.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) enum Outgoing {
    Tree(Element),
    Sealed(Box<SealedStanza>),
}

impl Outgoing {
    /// The stanza as an element.
    pub(super) fn into_element(self) -> Element {
        match self {
            Outgoing::Tree(e) => e,
            Outgoing::Sealed(s) => s.into_element(),
        }
    }

    /// The stanza as the text a connection writes: its P9 serialization, as a standalone
    /// document (`Element`'s `Display`).
    pub(super) fn into_text(self) -> String {
        match self {
            Outgoing::Tree(e) => e.to_string(),
            Outgoing::Sealed(s) => s.to_text(),
        }
    }
}

/// The attributes of a stanza to seal, other than `to`.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) enum StanzaAttrs {
    /// `type='chat'`: a message of [`Engine::send_message`], whose one attribute is known
    /// (no copy of it is made).
    ///
    /// [`Engine::send_message`]: super::Engine::send_message
    Chat,
    /// The attributes of the stanza the caller gave, in order.
    Given(Attrs),
}

impl StanzaAttrs {
    /// Each attribute's name and value, in order.
    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let (chat, given) = match self {
            StanzaAttrs::Chat => (Some(("type", "chat")), &[][..]),
            StanzaAttrs::Given(attrs) => (None, attrs.as_slice()),
        };
        chat.into_iter()
            .chain(given.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
    }
}

/// An encrypted stanza in parts, in the order it is written: the stanza element of `kind`
/// in `jabber:client` with `to` and the caller's other attributes, the `<thread/>`
/// (messages and presence), the children left in clear, the `<c/>`, the clear fallback
/// and hints (data messages), and the XEP-0079 match-resource rule (offline sessions).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct SealedStanza {
    pub(super) kind: StanzaKind,
    pub(super) to: Jid,
    /// The caller's attributes other than `to`, in order (`type`, `id`…).
    pub(super) attrs: StanzaAttrs,
    /// The session, whose thread the stanza carries; `None` for an iq (RFC 6120 §8.2.3:
    /// one child only).
    pub(super) thread: Option<SessionId>,
    /// XEP-0200 §5: the children left in clear (AMP rules, errors), in order.
    pub(super) clear: Vec<Element>,
    pub(super) c: Sealed,
    /// Profile P9: the clear fallback and hints of a data message, for this logging.
    pub(super) extras: Option<Logging>,
    /// XEP-0187 §3.3 (profile P11): the offline session's match-resource rule.
    pub(super) match_resource: bool,
}

impl SealedStanza {
    fn into_element(self) -> Element {
        let mut out =
            Element::new(self.kind.name(), ns::JABBER_CLIENT).with_attr("to", self.to.as_str());
        match self.attrs {
            StanzaAttrs::Chat => out.set_attr("type", "chat"),
            StanzaAttrs::Given(attrs) => {
                for (k, v) in attrs {
                    out.set_attr(k, v);
                }
            }
        }
        if let Some(id) = &self.thread {
            out.push(Element::new("thread", ns::JABBER_CLIENT).with_text(id.thread()));
        }
        for e in self.clear {
            out.push(e);
        }
        out.push(self.c.into_element());
        if let Some(logging) = self.extras {
            for extra in clear_extras(logging) {
                out.push(extra);
            }
        }
        if self.match_resource {
            out.push(match_resource_rule());
        }
        out
    }

    /// The P9 serialization of [`SealedStanza::into_element`]'s element as a standalone
    /// document, written from the parts into one allocation.
    fn to_text(&self) -> String {
        let name = self.kind.name();
        let extras = self.extras.map(extras_text).unwrap_or_default();
        let rule = if self.match_resource {
            match_resource_text()
        } else {
            ""
        };
        let thread = self.thread.as_ref().map(SessionId::thread);
        let attrs: usize = self.attrs.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        let capacity = 2 * name.len()
            + 40
            + self.to.as_str().len()
            + attrs
            + thread.map_or(0, |t| t.len() + 17)
            + self.c.text_len()
            + extras.len()
            + rule.len();
        let mut out = String::with_capacity(capacity);
        // Profile P9: `xmlns` first, then the attributes in order, escaped.
        out.push('<');
        out.push_str(name);
        out.push_str(" xmlns=\"");
        out.push_str(ns::JABBER_CLIENT);
        out.push('"');
        Element::write_attr(&mut out, "to", self.to.as_str());
        for (k, v) in self.attrs.iter() {
            Element::write_attr(&mut out, k, v);
        }
        out.push('>');
        if let Some(thread) = thread {
            Element::write_text_child(&mut out, "thread", thread);
        }
        for e in &self.clear {
            e.serialize_into(&mut out, ns::JABBER_CLIENT);
        }
        self.c.write_text(&mut out);
        out.push_str(extras);
        out.push_str(rule);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
        out
    }
}

/// The clear fallback and hints for `logging`, serialized once (profile P9 inside a
/// `jabber:client` stanza): the same elements as [`clear_extras`], by construction.
fn extras_text(logging: Logging) -> &'static str {
    static MAY: OnceLock<String> = OnceLock::new();
    static MUST_NOT: OnceLock<String> = OnceLock::new();
    let cell = match logging {
        Logging::May => &MAY,
        Logging::MustNot => &MUST_NOT,
    };
    cell.get_or_init(|| serialized(clear_extras(logging)))
}

/// [`match_resource_rule`], serialized once.
fn match_resource_text() -> &'static str {
    static RULE: OnceLock<String> = OnceLock::new();
    RULE.get_or_init(|| serialized(vec![match_resource_rule()]))
}

fn serialized(elements: Vec<Element>) -> String {
    let mut out = String::new();
    for e in &elements {
        e.serialize_into(&mut out, ns::JABBER_CLIENT);
    }
    out
}
