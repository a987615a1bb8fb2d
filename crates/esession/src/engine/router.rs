//! The engine's router: each received stanza is decoded once and handed to the session
//! it belongs to, found by (peer bare JID, thread) (XEP-0201) or, for an encrypted iq,
//! by its sender. A request for no known thread opens a session (XEP-0155 §4.2).
use super::inbound::{Inbound, Negotiation, What};
use super::negotiate::fail_negotiation;
use super::session::{key, route, Common, Peer, Session, State};
use super::shared::{Core, Outbox};
use super::Engine;
use crate::config::{Flow, Security, StanzaKind};
use crate::error::Condition;
use crate::error::{Rejected, RequestRefused};
use crate::event::{Event, Role};
use crate::forms::Form;
use crate::negotiation::responder::{decline, respond_plain, AwaitingResult};
use crate::negotiation::stanza::{negotiation_message, read_error, Wrapper};
use crate::negotiation::terms::{choose, Accepted};
use crate::session_id::{Keyed, SessionId};
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::warning::{FloodRefusal, Warning};
use crate::xml::{ns, Element};
use jid::BareJid;

impl<S: SecretStore> Engine<S> {
    /// Feeds one received stanza. Everything that results is queued: stanzas for
    /// [`Engine::poll_outgoing`], events for [`Engine::poll_event`]. Nothing from the
    /// network can make this panic; bad input becomes a `Failed` or `Warning` event.
    pub fn handle_stanza(&mut self, stanza: Element, now: Timestamp) {
        self.core.tick(now);
        let Some(kind) = super::stanza_kind(&stanza) else {
            return;
        };
        let Some((msg, what)) = Inbound::decode(stanza, kind, &mut self.last_sender) else {
            return;
        };
        if kind != StanzaKind::Message {
            if let What::Session { .. } = what {
                self.by_sender(msg);
            }
            return;
        }
        let thread = msg.thread();
        let Some(thread) = thread.as_deref() else {
            // XEP-0201: no thread, no session: an ordinary message (errors aside).
            if !matches!(what, What::Error) {
                self.deliver_plain(None, msg);
            }
            return;
        };
        if let What::Session { form: None } = what {
            // The usual stanza of a session: a <c/> alone, its session found by the key
            // borrowed from the stanza.
            return self.encrypted(None, msg);
        }
        let id = key(&msg.from, thread);
        match what {
            What::Error => self.peer_error(&id, &msg),
            What::OfflineInit { x } => {
                // Profile P11: a refused offline init leaves its <c/> unprocessed.
                if self.offline_init(&msg.from, &id, &x, now) {
                    self.encrypted(Some(&id), msg);
                }
            }
            What::Session { form } => {
                // Profile P9: negotiation elements first, then the <c/>.
                if let Some(form) = form {
                    self.negotiation(&id, &form, &msg, now);
                }
                self.encrypted(Some(&id), msg);
            }
            What::Clear => {
                let secure = self.sessions.get(&id).is_some_and(|s| {
                    matches!(s.state, State::Encrypted(_) | State::Terminating(_))
                });
                if secure {
                    // Profile P9: clear content inside an ESession is never delivered.
                    let detail = Warning::ClearInsideEncrypted;
                    self.out.warn(&msg.from, Some(&id), detail);
                } else {
                    self.deliver_plain(Some(id), msg);
                }
            }
        }
    }

    /// The `<c/>` of a `<presence/>` or `<iq/>` (XEP-0200 §5). A presence names its
    /// session with a clear `<thread/>`; an iq cannot (RFC 6120 §8.2.3: one child), so it
    /// belongs to the one encrypted session with the sender's full JID that negotiated iq
    /// (docs/decisions.md).
    fn by_sender(&mut self, msg: Inbound) {
        let from = &msg.from;
        let id = match msg.thread() {
            Some(t) => Some(key(from, &t)),
            None if msg.kind == StanzaKind::Iq => {
                let mut candidates = self.sessions.values().filter(|s| {
                    s.common.peer() == from
                        && matches!(s.state, State::Encrypted(_))
                        && s.state.negotiated(StanzaKind::Iq)
                });
                match (candidates.next(), candidates.next()) {
                    (Some(s), None) => Some(s.common.id.clone()),
                    _ => None,
                }
            }
            None => None,
        };
        let Some(id) = id else {
            self.out
                .warn(from, None, Warning::UnroutedEncrypted(msg.kind));
            return;
        };
        self.encrypted(Some(&id), msg);
    }

    fn deliver_plain(&mut self, session: Option<SessionId>, msg: Inbound) {
        let body = msg.raw.child("body", ns::JABBER_CLIENT).map(Element::text);
        if body.is_none() {
            return;
        }
        self.out.event(Event::Message {
            peer: msg.from,
            session,
            body,
            stanza: msg.raw,
            encrypted: false,
            offline: false,
        });
    }

    /// A `type='error'` reply to one of our negotiation messages ends that negotiation.
    ///
    /// The responder is established once it sent message 4, but the initiator may still
    /// refuse that message; its error reply echoes our `<init/>`. Likewise the initiator
    /// of the 3-message flow is established once it sent message 3 (profile P12), which
    /// the responder may still refuse; its error reply echoes our `<feature/>`.
    /// XEP-0116 §4.4: after any error both sides consider the negotiation failed, so that
    /// session ends too, but only until a `<c/>` of the peer opened: the error is not
    /// authenticated, and a peer that sent under the session's keys accepted it (found in
    /// review: an echoed `<init/>` forged by the server ended a session at any time). A
    /// session ended by such an error tells the peer (the terminate of profile P9), in
    /// case the error was not its own.
    fn peer_error(&mut self, id: &SessionId, msg: &Inbound) {
        let from = &msg.from;
        let refused_message_4 = msg.raw.child("init", ns::ESESSION_INIT).is_some();
        let refused_message_3 = msg.raw.child("feature", ns::FEATURE_NEG).is_some();
        let pending = self.sessions.get(id).is_some_and(|s| {
            let unconfirmed = match (&s.state, s.common.role) {
                (State::Encrypted(secure), _) if secure.channel.heard() => false,
                (State::Encrypted(_), Role::Responder) => refused_message_4,
                (State::Encrypted(secure), Role::Initiator) => {
                    refused_message_3 && secure.open.summary.flow() == Some(3)
                }
                _ => false,
            };
            (s.state.negotiating() || unconfirmed) && s.common.accepts_from(from)
        });
        if !pending {
            return;
        }
        let (condition, fields) = read_error(&msg.raw);
        if let Some(mut s) = self.sessions.remove(id) {
            super::receive::say_ended(&s.common, &mut s.state, &mut self.out);
        }
        self.out.event(Event::Failed {
            peer: from.clone(),
            session: id.clone(),
            error: Rejected::PeerError { condition, fields }.into(),
        });
    }

    /// A negotiation form: to its session, or, for no known thread, a request.
    fn negotiation(&mut self, id: &SessionId, form: &Negotiation, msg: &Inbound, now: Timestamp) {
        let from = &msg.from;
        match self.sessions.get(id) {
            None => match form {
                Negotiation::Request(x) => self.request(id, x, msg, now),
                Negotiation::Reply(_) | Negotiation::Init(_) => {
                    let detail = Warning::NegotiationForUnknownThread;
                    self.out.warn(from, Some(id), detail);
                }
            },
            // Profile P6: other responders to the same thread are ignored.
            Some(s) if !s.common.accepts_from(from) => {}
            Some(_) => self.step(id, |s, core, out| {
                s.on_negotiation(form, msg, core, out, now)
            }),
        }
    }

    /// The XEP-0200 `<c/>` of `msg`, if it has one: to the open session it belongs to,
    /// `id` or, when `None`, the one its sender and thread name (found without making a
    /// [`SessionId`]). The session steps in place, and is dropped when it is over.
    fn encrypted(&mut self, id: Option<&SessionId>, msg: Inbound) {
        if msg.c().is_none() {
            return;
        }
        let from = &msg.from;
        let thread = msg.thread();
        let session = match (id, thread.as_deref()) {
            (Some(id), _) => self.sessions.get_mut(id),
            (None, Some(thread)) => self.sessions.get_mut(&route(from, thread) as &dyn Keyed),
            (None, None) => None,
        };
        let Some(session) = session.filter(|s| s.common.accepts_from(from)) else {
            let thread = thread.as_deref().unwrap_or_default();
            let id = id.cloned().unwrap_or_else(|| key(from, thread));
            let detail = Warning::EncryptedForNoSession;
            self.out.warn(from, Some(&id), detail);
            return;
        };
        if !session.on_encrypted(msg, &mut self.core, &mut self.out) {
            let id = session.common.id.clone();
            self.sessions.remove(&id);
        }
    }

    /// Hands the session at `key` to `f`, which returns it in its next state, or `None`
    /// when it is over.
    fn step(
        &mut self,
        key: &SessionId,
        f: impl FnOnce(Session, &mut Core<S>, &mut Outbox) -> Option<Session>,
    ) {
        if let Some(session) = self.sessions.remove(key) {
            if let Some(next) = f(session, &mut self.core, &mut self.out) {
                self.sessions.insert(key.clone(), next);
            }
        }
    }

    /// Message 1 from a peer (XEP-0116 §4.4–4.5): answered, and its session opened,
    /// within the flood limits.
    fn request(&mut self, id: &SessionId, x: &Element, msg: &Inbound, now: Timestamp) {
        let from = &msg.from;
        let bare = id.peer();
        // Issue 11 §3: the caps and the sender's bucket, before any work.
        let (mut pending_jid, mut pending_all) = (0, 0);
        for (other, s) in &self.sessions {
            if s.common.role == Role::Responder && s.state.negotiating() {
                pending_all += 1;
                pending_jid += usize::from(other.peer() == bare);
            }
        }
        let limits = &self.core.config.flood;
        let admitted = self
            .admission
            .admit(limits, bare, pending_jid, pending_all, now);
        if let Err(why) = admitted {
            return self.refuse(id, msg, why, now);
        }
        let Some(accepted) = self.accept(id, x, msg) else {
            return;
        };
        if accepted.terms.flow == Flow::Three && !self.trusted(bare) {
            // Issue 11 §3: two exponentiations and a signature for a stranger, within a
            // small budget.
            let limits = &self.core.config.flood;
            let admitted = self.admission.admit_untrusted_three_message(limits, now);
            if let Err(why) = admitted {
                return self.refuse(id, msg, why, now);
            }
        }
        let common = Common {
            peer: Peer::Bound(from.clone()),
            id: id.clone(),
            role: Role::Responder,
            offline: None,
            deadline: self.core.deadline(now),
        };
        let (state, x2) = if accepted.terms.security != Security::E2e {
            let x2 = respond_plain(&accepted.terms);
            (State::PlainPending(Box::new(accepted.terms)), x2)
        } else {
            let form_a = accepted.terms.dialect.form(x);
            let ctx = &mut self.core.ctx(from, now);
            match AwaitingResult::respond(accepted, form_a, ctx) {
                Ok((state, x2)) => (State::Responded(Box::new(state)), x2),
                Err(f) => {
                    return fail_negotiation(from, id, &msg.raw, f, &self.core, &mut self.out);
                }
            }
        };
        self.out.send(negotiation_message(
            from.as_str(),
            id.thread(),
            Wrapper::Feature,
            x2,
            false,
        ));
        self.sessions.insert(id.clone(), Session { common, state });
    }

    /// A request refused by the flood limits: the first refusal of the sender in its
    /// window is answered with a `resource-constraint` error (when errors are answered,
    /// profile P10b) and reported as a warning; the others are dropped in silence.
    fn refuse(&mut self, id: &SessionId, msg: &Inbound, why: FloodRefusal, now: Timestamp) {
        let from = &msg.from;
        if !self.admission.first_refusal(id.peer(), why, now) {
            return;
        }
        let config = &self.core.config;
        let condition = Condition::ResourceConstraint;
        self.out.reply_error(config, &msg.raw, from, condition, &[]);
        self.out.warn(from, Some(id), Warning::RequestsRefused(why));
    }

    /// Whether we trust a key of `bare` (XEP-0116 §7.3); a store failure counts as no.
    fn trusted(&self, bare: &BareJid) -> bool {
        let core = &self.core;
        core.store
            .keys_of(core.own_bare.as_str(), bare.as_str())
            .is_ok_and(|keys| keys.iter().any(|k| k.trusted))
    }

    /// Whether to answer request `x` and with which terms (XEP-0155 §4.2–4.3, XEP-0116
    /// §4.4); a refusal is answered and reported here.
    fn accept(&mut self, id: &SessionId, x: &Element, msg: &Inbound) -> Option<Accepted> {
        let from = &msg.from;
        // Profile P10b / XEP-0155 §4.2: a request stored offline is not answered.
        if msg.raw.child("delay", ns::DELAY).is_some() {
            let detail = Warning::StoredRequest;
            self.out.warn(from, Some(id), detail);
            return None;
        }
        if !self.core.config.accept.allows(id.peer().as_str()) {
            // XEP-0155 §4.3: decline.
            let refusal = decline(Some("not accepting sessions from this address"));
            let to = from.as_str();
            let answer = negotiation_message(to, id.thread(), Wrapper::Feature, refusal, false);
            self.out.send(answer);
            let detail = Warning::DeclinedNotAllowed;
            self.out.warn(from, Some(id), detail);
            return None;
        }
        let own_key = self.core.identity_key.as_ref().map(|k| k.sign_alg());
        let chosen = Form::parse(x)
            .map_err(RequestRefused::Form)
            .and_then(|form| {
                // Issue 13 §1: the Gajim mode for a request of Gajim's shape (or by the
                // contact's setting), with the policy narrowed to what Gajim knows.
                let dialect = self.core.responder_dialect(from, &form, id.thread());
                let config = dialect
                    .config(&self.core.config, false)
                    .map_err(|c| RequestRefused::Compat(c, Vec::new()))?;
                let mut accepted = choose(&form, &config, from.as_str(), own_key)
                    .map_err(|refusal| dialect.refusal(refusal))?;
                accepted.terms.dialect = dialect;
                Ok(accepted)
            });
        match chosen {
            Ok(accepted) => Some(accepted),
            Err(refusal) => {
                // Profile P10b: the error reply the refusal calls for.
                let config = &self.core.config;
                let (condition, fields) = (refusal.condition(), refusal.fields());
                self.out
                    .reply_error(config, &msg.raw, from, condition, &fields);
                self.out.event(Event::Failed {
                    peer: from.clone(),
                    session: id.clone(),
                    error: Rejected::Request(refusal).into(),
                });
                None
            }
        }
    }
}
