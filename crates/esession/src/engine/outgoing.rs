//! What a session sends on the caller's behalf: stanzas (XEP-0200 §5–6, profile P9) and
//! its end (XEP-0116 §5, XEP-0155 §4.4 [5], profile P10, P11).
use super::sealed::{match_resource_rule, Outgoing, SealedStanza, StanzaAttrs};
use super::session::{Closing, Common, OfflineRole, Secure, Session, State};
use super::shared::{Core, Outbox};
use super::stanza_kind;
use crate::channel::Channel;
use crate::compat::gajim::{self, Dialect};
use crate::config::{Logging, StanzaKind};
use crate::error::{Error, Usage};
use crate::event::{EndedBy, Event};
use crate::forms::{Field, Form, FormType};
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::session_id::SessionId;
use crate::stanza::{message, stays_clear, storage_hints, termination};
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::xml::{ns, Element, Node};
use jid::Jid;

/// What a caller sends in a session.
pub(super) enum Request<'a> {
    /// A stanza as the caller built it ([`Engine::send_stanza`]).
    ///
    /// [`Engine::send_stanza`]: super::Engine::send_stanza
    Stanza(Element),
    /// A `<message type='chat'/>` holding a `<body/>` with this text
    /// ([`Engine::send_message`]); in an ESession its plaintext is written straight.
    ///
    /// [`Engine::send_message`]: super::Engine::send_message
    Chat(&'a str),
}

impl Request<'_> {
    /// The kind of stanza, or the usage error of something that is none.
    pub(super) fn kind(&self) -> Result<StanzaKind, Usage> {
        match self {
            Request::Stanza(stanza) => {
                stanza_kind(stanza).ok_or_else(|| Usage::NotAStanza(stanza.name().to_owned()))
            }
            Request::Chat(_) => Ok(StanzaKind::Message),
        }
    }

    /// The stanza as an element.
    fn into_stanza(self) -> Element {
        match self {
            Request::Stanza(stanza) => stanza,
            Request::Chat(body) => {
                crate::stanza::chat([Element::new("body", ns::JABBER_CLIENT).with_text(body)])
            }
        }
    }

    /// XEP-0200 §5–6: the plaintext m (the children but the clear ones, each in its P9
    /// form inside the stanza), the attributes but `to`, and the clear children but the
    /// `<thread/>`, in order.
    fn split(self) -> (String, StanzaAttrs, Vec<Element>) {
        let stanza = match self {
            Request::Chat(body) => {
                // The P9 serialization of `<body>` in the stanza's namespace, as
                // `serialize_children` writes it for the tree of `into_stanza`.
                let mut m = String::with_capacity(body.len() + 13);
                Element::write_text_child(&mut m, "body", body);
                return (m, StanzaAttrs::Chat, Vec::new());
            }
            Request::Stanza(stanza) => stanza,
        };
        let m = stanza.serialize_children(|e| !stays_clear(e));
        let (mut attrs, nodes) = stanza.into_attrs_and_nodes();
        attrs.retain(|(k, _)| k != "to");
        let clear = nodes
            .into_iter()
            .filter_map(|n| match n {
                Node::Element(e) if stays_clear(&e) && !e.is("thread", ns::JABBER_CLIENT) => {
                    Some(e)
                }
                _ => None,
            })
            .collect();
        (m, StanzaAttrs::Given(attrs), clear)
    }
}

impl Session {
    /// `stanza` (of `kind`) as sent in this session: addressed, with its `<thread/>`, and
    /// in an ESession encrypted but for its clear children (kept in parts, see
    /// [`SealedStanza`]). A `KeyExhausted` error means the session must end (profile P9).
    pub(super) fn seal_stanza<S: SecretStore>(
        &mut self,
        kind: StanzaKind,
        request: Request<'_>,
        core: &mut Core<S>,
        out: &mut Outbox,
    ) -> Result<Outgoing, Error> {
        let common = &self.common;
        let negotiated = self.state.negotiated(kind);
        // Until established (no terms yet), assume the stricter choice.
        let logging = self
            .state
            .open()
            .map_or(Logging::MustNot, |o| o.summary.logging);
        // XEP-0334 §4: <no-store/> also keeps a message out of offline storage, where the
        // stanzas of an offline session must go (XEP-0187 §3.3); their hints are those of a
        // `may` session, and <no-permanent-store/> still keeps them out of archives.
        let hints = if common.offline.is_some() {
            Logging::May
        } else {
            logging
        };
        let match_resource = matches!(
            common.offline,
            Some(OfflineRole::Sent {
                match_resource: true
            })
        );
        match &mut self.state {
            State::Encrypted(secure) => {
                if !negotiated {
                    return Err(Usage::NotNegotiated(kind).into());
                }
                let (m, attrs, clear) = request.split();
                let c = secure.seal_outgoing(common, m.as_bytes(), core, out)?;
                Ok(Outgoing::Sealed(Box::new(SealedStanza {
                    kind,
                    to: common.peer().clone(),
                    attrs,
                    // RFC 6120 §8.2.3: an iq get or set has exactly one child, so an
                    // encrypted iq carries only its <c/>; the receiver finds the session by
                    // our full JID (docs/decisions.md). Messages and presence carry the
                    // thread in clear.
                    thread: (kind != StanzaKind::Iq).then(|| common.id.clone()),
                    clear,
                    c,
                    // Profile P9: the clear fallback and hints go on data messages only.
                    extras: (kind == StanzaKind::Message).then_some(hints),
                    match_resource,
                })))
            }
            State::Plain(_) => {
                let stanza = request.into_stanza();
                let mut sealed = common.addressed(&stanza, kind);
                for e in stanza
                    .children()
                    .filter(|e| !e.is("thread", ns::JABBER_CLIENT))
                {
                    sealed.push(e.clone());
                }
                // XEP-0136 §3.2: an off-the-record plain session's messages are kept out
                // of every archive too.
                if kind == StanzaKind::Message && logging == Logging::MustNot {
                    for hint in storage_hints(logging) {
                        sealed.push(hint);
                    }
                }
                if match_resource {
                    sealed.push(match_resource_rule());
                }
                Ok(Outgoing::Tree(sealed))
            }
            other => Err(other.wrong().into()),
        }
    }

    /// Ends the session (XEP-0116 §5, profile P10): an encrypted terminate for an
    /// ESession, a clear one for a plain session, a cancel (XEP-0155 §4.4 [5]) for a
    /// negotiation in progress. Returns the session while it awaits the acknowledgement
    /// (until `deadline`), and whether the terminate could be sent.
    pub(super) fn terminate(
        self,
        deadline: Option<Timestamp>,
        out: &mut Outbox,
    ) -> (Option<Session>, Result<(), Error>) {
        let Session { mut common, state } = self;
        let (peer, id) = (common.peer().clone(), common.id.clone());
        let (to, thread) = (peer.as_str(), id.thread());
        match state {
            State::Encrypted(secure) if common.offline.is_some() => (
                None,
                end_offline(&peer, &id, secure.channel, common.offline, out),
            ),
            State::Encrypted(secure) if secure.channel.dialect() == Dialect::Gajim => {
                // Issue 13 D7: toward Gajim the terminate goes in clear, unacknowledged.
                drop(secure);
                out.send(gajim::clear_terminate(to, thread));
                out.event(terminated(&peer, &id));
                (None, Ok(()))
            }
            State::Encrypted(mut secure) => {
                let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
                match secure.channel.seal(plain.as_bytes(), 0) {
                    Ok(c) => {
                        let Secure {
                            open, mut channel, ..
                        } = *secure;
                        channel.close_send();
                        out.send(message(to, thread).with_child(c));
                        common.deadline = deadline;
                        let state = State::Terminating(Box::new(Closing { open, channel }));
                        (Some(Session { common, state }), Ok(()))
                    }
                    Err(v) => {
                        let state = State::Encrypted(secure);
                        (Some(Session { common, state }), Err(v.into()))
                    }
                }
            }
            state @ State::Terminating(_) => (Some(Session { common, state }), Ok(())),
            State::Plain(_) => {
                out.send(message(to, thread).with_child(termination(FormType::Submit)));
                out.event(terminated(&peer, &id));
                (None, Ok(()))
            }
            State::Offered(_)
            | State::AwaitingInit(_)
            | State::Responded(_)
            | State::PlainPending(_) => {
                // XEP-0155 §4.4 [5] cancel: a result form with accept = 0.
                let mut form = Form::with_form_type(FormType::Result, ns::SSN);
                if let Some(form_type) = form.fields.first_mut() {
                    form_type.kind = None;
                }
                form.push(Field::new("accept", None, &["0"]));
                out.send(negotiation_message(
                    to,
                    thread,
                    Wrapper::Feature,
                    form.to_element(),
                    false,
                ));
                out.event(terminated(&peer, &id));
                (None, Ok(()))
            }
        }
    }
}

impl Common {
    /// An empty `stanza` (of `kind`, with its attributes) addressed to the peer on this
    /// session's thread.
    fn addressed(&self, stanza: &Element, kind: StanzaKind) -> Element {
        let mut out =
            Element::new(kind.name(), ns::JABBER_CLIENT).with_attr("to", self.peer().as_str());
        for (k, v) in stanza.attrs().iter().filter(|(k, _)| k != "to") {
            out.set_attr(k.clone(), v.as_str());
        }
        // RFC 6120 §8.2.3: an iq get or set has exactly one child, so an encrypted iq
        // carries only its <c/>; the receiver finds the session by our full JID
        // (docs/decisions.md). Messages and presence carry the thread in clear.
        if kind != StanzaKind::Iq {
            out.push(Element::new("thread", ns::JABBER_CLIENT).with_text(self.thread()));
        }
        out
    }
}

/// The event of a session we ended.
pub(super) fn terminated(peer: &Jid, id: &SessionId) -> Event {
    Event::Terminated {
        peer: peer.clone(),
        session: id.clone(),
        by: EndedBy::Us,
    }
}

/// Ends offline session `id` with `to`: Bob sends his encrypted terminate and expects no
/// acknowledgement; Alice sends nothing (profile P11).
pub(super) fn end_offline(
    to: &Jid,
    id: &SessionId,
    mut channel: Channel,
    role: Option<OfflineRole>,
    out: &mut Outbox,
) -> Result<(), Error> {
    if let Some(OfflineRole::Sent { match_resource }) = role {
        let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
        let c = channel.seal(plain.as_bytes(), 0)?;
        let mut stanza = message(to.as_str(), id.thread()).with_child(c);
        if match_resource {
            stanza.push(match_resource_rule());
        }
        out.send(stanza);
    }
    drop(channel);
    out.event(terminated(to, id));
    Ok(())
}
