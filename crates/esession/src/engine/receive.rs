//! A session's encrypted traffic (XEP-0200 §8): verify, decrypt and parse a `<c/>`, then
//! deliver its content or handle the termination or renegotiation it carries (profile
//! P9, P10).
use super::inbound::Inbound;
use super::renegotiate;
use super::session::{Common, Session, State};
use super::shared::{Core, Outbox};
use crate::compat::gajim::{self, Dialect};
use crate::config::StanzaKind;
use crate::error::{RekeyFault, StanzaFault};
use crate::event::{EndedBy, Event, RekeyedBy};
use crate::forms::FormType;
use crate::session_id::SessionId;
use crate::stanza::{message, read_termination, termination};
use crate::store::SecretStore;
use crate::warning::Warning;
use crate::xml::{ns, parse_fragment, Element, Node};
use jid::Jid;

impl Session {
    /// The `<c/>` of `msg`, from a sender this session accepts; `false` when the session
    /// is over (the router then drops it, and its keys with it).
    pub(super) fn on_encrypted<S: SecretStore>(
        &mut self,
        msg: Inbound,
        core: &mut Core<S>,
        out: &mut Outbox,
    ) -> bool {
        let Some(c) = msg.c() else {
            return true;
        };
        let Session { common, state } = self;
        let from = &msg.from;
        if let State::Encrypted(secure) = state {
            // Issue 11 §3: each <key/> costs a modular exponentiation (XEP-0200 §9), and
            // rekey_freq 1 allows one per stanza; beyond Config::flood.peer_rekeys the
            // session ends, before that work.
            let rate = core.config.flood.peer_rekeys;
            let key = c.child("key", ns::STANZA_ENCRYPTION).is_some();
            if key && !secure.pacing.peer_rekeys.take(rate, core.clock) {
                let v = StanzaFault::Rekey(RekeyFault::Flood {
                    burst: rate.burst,
                    per_minute: rate.per_minute,
                });
                fail_session(common, state, v, out);
                return false;
            }
        }
        let (channel, open) = match state {
            State::Encrypted(s) => (&mut s.channel, &s.open),
            State::Terminating(s) => (&mut s.channel, &s.open),
            _ => {
                out.warn(from, Some(&common.id), Warning::EncryptedBeforeEstablished);
                return true;
            }
        };
        // XEP-0200 §5: only the negotiated stanza kinds are encrypted.
        let kind = msg.kind;
        if !open.summary.protects(kind) {
            let v = StanzaFault::Unnegotiated(kind);
            fail_session(common, state, v, out);
            return false;
        }
        let offline = common.offline.is_some();
        let mut peer_rekeyed = false;
        let plain = channel.open(c).and_then(|opened| {
            peer_rekeyed = opened.peer_rekeyed;
            let text =
                String::from_utf8(opened.plain).map_err(|_| StanzaFault::PlaintextNotUtf8)?;
            parse_fragment(&text, ns::JABBER_CLIENT, &core.limits)
                .map_err(StanzaFault::PlaintextNotXml)
        });
        let nodes = match plain {
            Ok(nodes) => nodes,
            Err(v) => {
                fail_session(common, state, v, out);
                return false;
            }
        };
        if peer_rekeyed {
            // XEP-0200 §9: we accepted the peer's <key/>.
            out.event(Event::Rekeyed {
                peer: from.clone(),
                session: common.id.clone(),
                by: RekeyedBy::Peer,
            });
        }
        self.content(nodes, msg, offline, core, out)
    }

    /// The decrypted `nodes` of `msg`: a termination, a renegotiation, or content;
    /// `false` when the session is over.
    fn content<S: SecretStore>(
        &mut self,
        nodes: Vec<Node>,
        msg: Inbound,
        offline: bool,
        core: &mut Core<S>,
        out: &mut Outbox,
    ) -> bool {
        let from = &msg.from;
        let id = &self.common.id;
        let thread = id.thread();
        let elements = || nodes.iter().filter_map(Node::as_element);
        let ending = elements().find_map(read_termination);
        let terminating = matches!(self.state, State::Terminating(_));
        match (ending, &mut self.state) {
            (Some(FormType::Submit), State::Encrypted(secure)) => {
                // XEP-0116 §5: acknowledge at once, encrypted, then send nothing more.
                let ack = termination(FormType::Result).serialize_in(ns::JABBER_CLIENT);
                if let Ok(c) = secure.channel.seal(ack.as_bytes(), 0) {
                    out.send(message(from.as_str(), thread).with_child(c));
                }
                out.event(ended(from, id, EndedBy::Peer));
                return false;
            }
            (Some(FormType::Submit | FormType::Result), _) if terminating => {
                // P10: our terminate acknowledged (terminates that cross count as such).
                out.event(ended(from, id, EndedBy::Us));
                return false;
            }
            (Some(_), _) => {
                out.warn(from, Some(id), Warning::UnexpectedTerminateAck);
                return true;
            }
            (None, _) => {}
        }
        if let Some(form) = renegotiate::find(elements()) {
            renegotiate::received(&mut self.state, &self.common, from, form, core, out);
        } else if elements().next().is_some() {
            out.event(deliver(msg, id, nodes, offline));
        }
        // Otherwise (profile P9 / XEP-0200 §6) a <c/> without <data/>, or with padding
        // only, carries no content: it advanced the counter, nothing to deliver.
        true
    }
}

fn ended(peer: &Jid, id: &SessionId, by: EndedBy) -> Event {
    Event::Terminated {
        peer: peer.clone(),
        session: id.clone(),
        by,
    }
}

/// The event delivering decrypted `nodes` in place of the `<c/>` of `msg` (profile P9:
/// of the clear children only `<thread/>` is kept). The received stanza is reused with its
/// attributes, its other children dropped.
fn deliver(msg: Inbound, id: &SessionId, nodes: Vec<Node>, offline: bool) -> Event {
    let (from, kind, mut stanza, received) = msg.into_delivered();
    // The received `<thread/>` is kept, its attributes dropped; the session was found by
    // its text, so that is the session's thread. Without one (an iq), the session's.
    let kept = match received {
        Some(mut thread) => {
            thread.clear_attrs();
            if !matches!(thread.nodes(), [Node::Text(_)]) {
                let text = thread.text();
                let nodes = thread.nodes_mut();
                nodes.clear();
                nodes.push(Node::Text(text));
            }
            thread
        }
        None => Element::new("thread", ns::JABBER_CLIENT).with_text(id.thread()),
    };
    let children = stanza.nodes_mut();
    children.clear();
    children.reserve(nodes.len() + 1);
    children.push(Node::Element(kept));
    children.extend(nodes);
    if kind == StanzaKind::Message {
        let body = stanza.child("body", ns::JABBER_CLIENT).map(Element::text);
        Event::Message {
            peer: from,
            session: Some(id.clone()),
            body,
            stanza,
            encrypted: true,
            offline,
        }
    } else {
        Event::Stanza {
            peer: from,
            session: id.clone(),
            stanza,
        }
    }
}

/// Profile P9: a verification failure ends the session: nothing delivered, an encrypted
/// terminate sent (best effort), every key destroyed.
fn fail_session(common: &Common, state: &mut State, fault: StanzaFault, out: &mut Outbox) {
    say_ended(common, state, out);
    out.event(Event::Failed {
        peer: common.peer().clone(),
        session: common.id.clone(),
        error: fault.into(),
    });
}

/// Tells the peer that the established session `state` is over, as the profile's
/// terminate (P9, P10: encrypted, not acknowledged here) or, toward Gajim, in clear.
pub(super) fn say_ended(common: &Common, state: &mut State, out: &mut Outbox) {
    match state {
        State::Encrypted(secure) if secure.channel.dialect() == Dialect::Gajim => {
            // Issue 13 D7: Gajim only hears a terminate in clear.
            out.send(gajim::clear_terminate(
                common.peer().as_str(),
                common.thread(),
            ));
        }
        State::Encrypted(secure) => {
            let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
            if let Ok(c) = secure.channel.seal(plain.as_bytes(), 0) {
                out.send(message(common.peer().as_str(), common.thread()).with_child(c));
            }
        }
        _ => {}
    }
}
