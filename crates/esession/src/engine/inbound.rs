//! A received stanza decoded once into what the engine acts on (XEP-0155, XEP-0116 §4,
//! XEP-0200 §5, XEP-0187). The stanza itself is kept: error replies echo it (profile
//! P10b) and delivered stanzas keep its attributes (profile P9); the negotiation forms are
//! kept as received, since the MACs cover their exact content (profile P4).
use crate::config::StanzaKind;
use crate::negotiation::stanza::{negotiation_form, Wrapper};
use crate::xml::{ns, Element, Node};
use jid::Jid;
use std::borrow::Cow;

/// The last sender read, as stamped and as parsed: a session's stanzas come from one
/// peer, whose JID is then parsed (RFC 7622 §3: its stringprep profiles) once, not once per
/// stanza. Parsing is a function of the text, so the same text gives the same JID.
#[derive(Clone, Default)]
pub(super) struct LastSender {
    last: Option<(Box<str>, Jid)>,
}

impl LastSender {
    /// `from` parsed as a JID (RFC 7622).
    fn parse(&mut self, from: &str) -> Result<Jid, jid::Error> {
        if let Some((text, jid)) = &self.last {
            if **text == *from {
                return Ok(jid.clone());
            }
        }
        let jid = Jid::new(from)?;
        self.last = Some((from.into(), jid.clone()));
        Ok(jid)
    }
}

/// A received stanza, decoded.
pub(super) struct Inbound {
    /// The sender, as stamped by the server (RFC 7622, normalized).
    pub(super) from: Jid,
    /// Where the clear `<thread/>` (XEP-0201) is among the stanza's nodes, when it
    /// carries one ([`Inbound::thread`]).
    thread_at: Option<usize>,
    pub(super) kind: StanzaKind,
    /// The stanza as received.
    pub(super) raw: Element,
}

/// XEP-0201: the `<thread/>` of a stanza.
fn is_thread(e: &Element) -> bool {
    e.is("thread", ns::JABBER_CLIENT)
}

/// What a received stanza is to the engine.
pub(super) enum What {
    /// A `type='error'` message: a peer's reply to one of our negotiation messages.
    Error,
    /// An offline init (profile P11: an `<init/>` whose form is a submit), maybe with
    /// Bob's first `<c/>`.
    OfflineInit { x: Element },
    /// Session traffic: a negotiation form and then a `<c/>` ([`Inbound::c`]; profile P9:
    /// in that order), either or both.
    Session { form: Option<Negotiation> },
    /// Neither a form nor a `<c/>`: clear content.
    Clear,
}

/// A negotiation form (the `<x/>`), by its wrapper and type.
pub(super) enum Negotiation {
    /// A `<feature/>` form of type `form`: a request (message 1, XEP-0155 §4.1) or, in
    /// a plain session, a renegotiation (XEP-0155 §4.5).
    Request(Element),
    /// Any other `<feature/>` form: a response, a result (messages 2 and 3), a complete
    /// or cancel (XEP-0155 §4.4), a terminate (§4.6) or a renegotiation answer.
    Reply(Element),
    /// Message 4, inside `<init/>` (XEP-0116 §4.7.4).
    Init(Element),
}

impl Inbound {
    /// The text of the stanza's clear `<thread/>` (XEP-0201), when it carries one:
    /// borrowed from it.
    pub(super) fn thread(&self) -> Option<Cow<'_, str>> {
        self.thread_element().map(Element::text_ref)
    }

    /// The stanza's first `<thread/>` element.
    fn thread_element(&self) -> Option<&Element> {
        let at = self.thread_at?;
        self.raw
            .nodes()
            .get(at)?
            .as_element()
            .filter(|e| is_thread(e))
    }

    /// The stanza taken apart for delivery: the sender, the kind, the stanza, and its
    /// first `<thread/>` element taken out of it (its other nodes left in place).
    pub(super) fn into_delivered(self) -> (Jid, StanzaKind, Element, Option<Element>) {
        let Inbound {
            from,
            thread_at,
            kind,
            mut raw,
        } = self;
        let nodes = raw.nodes_mut();
        let thread = match thread_at
            .filter(|&at| at < nodes.len())
            .map(|at| nodes.swap_remove(at))
        {
            Some(Node::Element(thread)) => Some(thread),
            _ => None,
        };
        (from, kind, raw, thread)
    }

    /// The stanza's `<c/>` (XEP-0200), borrowed from it: no copy is made for the channel.
    pub(super) fn c(&self) -> Option<&Element> {
        self.raw.child("c", ns::STANZA_ENCRYPTION)
    }

    /// Decodes a `jabber:client` stanza of `kind` (its sender read through `senders`),
    /// and says what it is; `None` for what
    /// is not ours (no sender, or one that is not a JID, RFC 7622 §3; a presence or iq
    /// without a `<c/>`, XEP-0200 §5).
    pub(super) fn decode(
        raw: Element,
        kind: StanzaKind,
        senders: &mut LastSender,
    ) -> Option<(Self, What)> {
        let from = match senders.parse(raw.attr("from")?) {
            Ok(from) => from,
            Err(e) => {
                tracing::debug!(error = %e, "ignored a stanza whose from is not a JID");
                return None;
            }
        };
        let thread_at = raw
            .nodes()
            .iter()
            .position(|n| n.as_element().is_some_and(is_thread));
        let c = raw.child("c", ns::STANZA_ENCRYPTION).is_some();
        let what = if kind != StanzaKind::Message {
            c.then_some(What::Session { form: None })?
        } else if raw.attr("type") == Some("error") {
            What::Error
        } else {
            match negotiation_form(&raw) {
                Some((Wrapper::Init, x)) if x.attr("type") == Some("submit") => {
                    What::OfflineInit { x: x.clone() }
                }
                Some((Wrapper::Init, x)) => What::Session {
                    form: Some(Negotiation::Init(x.clone())),
                },
                Some((Wrapper::Feature, x)) => {
                    let form = if x.attr("type") == Some("form") {
                        Negotiation::Request(x.clone())
                    } else {
                        Negotiation::Reply(x.clone())
                    };
                    What::Session { form: Some(form) }
                }
                None if c => What::Session { form: None },
                None => What::Clear,
            }
        };
        Some((
            Inbound {
                from,
                thread_at,
                kind,
                raw,
            },
            what,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sender_is_parsed_once_and_only_the_same_text_reuses_it() {
        let mut senders = LastSender::default();
        let raw = "Alice@Example.ORG/pda";
        let first = senders.parse(raw).expect("a JID");
        assert_eq!(first.as_str(), "alice@example.org/pda");
        // The same text again: the JID parsed before, equal to a fresh parse.
        assert_eq!(
            senders.parse(raw).expect("a JID"),
            Jid::new(raw).expect("a JID")
        );
        // Text that normalizes to the same JID is parsed again, and becomes the last.
        let other = "alice@example.org/pda";
        assert_eq!(senders.parse(other).expect("a JID"), first);
        assert_eq!(senders.last.as_ref().map(|(t, _)| &**t), Some(other));
        // A sender that is not a JID is refused every time, and forgets nothing.
        for bad in ["", "@example.org", "alice@/pda", "a@b/"] {
            assert!(senders.parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(senders.parse(other).expect("a JID").as_str(), other);
        // A different sender is its own JID.
        let bob = senders.parse("bob@example.com").expect("a JID");
        assert_eq!(bob.as_str(), "bob@example.com");
        assert_ne!(bob, first);
    }
}
