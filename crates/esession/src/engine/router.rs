//! The engine's router: each received stanza is decoded once and handed to the session
//! it belongs to, found by (peer bare JID, thread) (XEP-0201) or, for an encrypted iq,
//! by its sender. A request for no known thread opens a session (XEP-0155 §4.2).
use super::admission::Refused;
use super::inbound::{Inbound, Negotiation, What};
use super::negotiate::fail_negotiation;
use super::session::{key, Common, Key, Peer, Session, State};
use super::shared::{Core, Outbox};
use super::Engine;
use crate::config::{AcceptPolicy, Flow, Security, StanzaKind};
use crate::error::{Error, ErrorKind, Violation};
use crate::event::{Event, Role};
use crate::forms::Form;
use crate::jid;
use crate::negotiation::failure::Condition;
use crate::negotiation::responder::{decline, respond_plain, AwaitingResult};
use crate::negotiation::stanza::{negotiation_message, read_error, Wrapper};
use crate::negotiation::terms::{choose, Accepted, Refusal};
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::xml::{ns, Element};

impl<S: SecretStore> Engine<S> {
    /// Feeds one received stanza. Everything that results is queued: stanzas for
    /// [`Engine::poll_outgoing`], events for [`Engine::poll_event`]. Nothing from the
    /// network can make this panic; bad input becomes a `Failed` or `Warning` event.
    pub fn handle_stanza(&mut self, stanza: Element, now: Timestamp) {
        self.core.tick(now);
        let Some(kind) = super::stanza_kind(&stanza) else {
            return;
        };
        let Some((msg, what)) = Inbound::decode(stanza, kind) else {
            return;
        };
        if kind != StanzaKind::Message {
            if let What::Session { c: Some(c), .. } = what {
                self.by_sender(&c, &msg);
            }
            return;
        }
        let Some(thread) = msg.thread.clone() else {
            // XEP-0201: no thread, no session: an ordinary message (errors aside).
            if !matches!(what, What::Error) {
                self.deliver_plain(None, msg);
            }
            return;
        };
        match what {
            What::Error => self.peer_error(&thread, &msg),
            What::OfflineInit { x, c } => {
                // Profile P11: a refused offline init leaves its <c/> unprocessed.
                if self.offline_init(&msg.from, &thread, &x, now) {
                    if let Some(c) = c {
                        self.encrypted(&thread, &c, &msg);
                    }
                }
            }
            What::Session { form, c } => {
                // Profile P9: negotiation elements first, then the <c/>.
                if let Some(form) = form {
                    self.negotiation(&thread, &form, &msg, now);
                }
                if let Some(c) = c {
                    self.encrypted(&thread, &c, &msg);
                }
            }
            What::Clear => {
                let secure = self
                    .sessions
                    .get(&key(&msg.from, &thread))
                    .is_some_and(|s| {
                        matches!(s.state, State::Encrypted(_) | State::Terminating(_))
                    });
                if secure {
                    // Profile P9: clear content inside an ESession is never delivered.
                    let detail = "unencrypted content inside an encrypted session was ignored";
                    self.out.warn(&msg.from, Some(&thread), detail);
                } else {
                    self.deliver_plain(Some(thread), msg);
                }
            }
        }
    }

    /// The `<c/>` of a `<presence/>` or `<iq/>` (XEP-0200 §5). A presence names its
    /// session with a clear `<thread/>`; an iq cannot (RFC 6120 §8.2.3: one child), so it
    /// belongs to the one encrypted session with the sender's full JID that negotiated iq
    /// (docs/decisions.md).
    fn by_sender(&mut self, c: &Element, msg: &Inbound) {
        let from = msg.from.as_str();
        let thread = match &msg.thread {
            Some(t) => Some(t.clone()),
            None if msg.kind == StanzaKind::Iq => {
                let mut candidates = self.sessions.values().filter(|s| {
                    s.common.peer() == from
                        && matches!(s.state, State::Encrypted(_))
                        && s.state.negotiated(StanzaKind::Iq)
                });
                match (candidates.next(), candidates.next()) {
                    (Some(s), None) => Some(s.common.thread.clone()),
                    _ => None,
                }
            }
            None => None,
        };
        let Some(thread) = thread else {
            let detail = format!(
                "encrypted {} matching no single session was ignored",
                msg.kind.name()
            );
            self.out.warn(from, None, &detail);
            return;
        };
        self.encrypted(&thread, c, msg);
    }

    fn deliver_plain(&mut self, thread: Option<String>, msg: Inbound) {
        let body = msg.raw.child("body", ns::JABBER_CLIENT).map(Element::text);
        if body.is_none() {
            return;
        }
        self.out.event(Event::Message {
            peer: msg.from,
            thread,
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
    /// session ends too.
    fn peer_error(&mut self, thread: &str, msg: &Inbound) {
        let from = msg.from.as_str();
        let key = key(from, thread);
        let refused_message_4 = msg.raw.child("init", ns::ESESSION_INIT).is_some();
        let refused_message_3 = msg.raw.child("feature", ns::FEATURE_NEG).is_some();
        let pending = self.sessions.get(&key).is_some_and(|s| {
            let unconfirmed = match (&s.state, s.common.role) {
                (State::Encrypted(_), Role::Responder) => refused_message_4,
                (State::Encrypted(secure), Role::Initiator) => {
                    refused_message_3 && secure.open.info.flow == Some(3)
                }
                _ => false,
            };
            (s.state.negotiating() || unconfirmed) && s.common.accepts_from(from)
        });
        if !pending {
            return;
        }
        let (condition, fields) = read_error(&msg.raw);
        self.sessions.remove(&key);
        self.out.event(Event::Failed {
            peer: from.to_owned(),
            thread: thread.to_owned(),
            error: Error::new(
                ErrorKind::Rejected,
                Violation::PeerError { condition, fields },
            ),
        });
    }

    /// A negotiation form: to its session, or, for no known thread, a request.
    fn negotiation(&mut self, thread: &str, form: &Negotiation, msg: &Inbound, now: Timestamp) {
        let from = msg.from.as_str();
        let key = key(from, thread);
        match self.sessions.get(&key) {
            None => match form {
                Negotiation::Request(x) => self.request(thread, x, msg, now),
                Negotiation::Reply(_) | Negotiation::Init(_) => {
                    let detail = "negotiation message for an unknown thread was ignored";
                    self.out.warn(from, Some(thread), detail);
                }
            },
            // Profile P6: other responders to the same thread are ignored.
            Some(s) if !s.common.accepts_from(from) => {}
            Some(_) => self.step(&key, |s, core, out| {
                s.on_negotiation(form, msg, core, out, now)
            }),
        }
    }

    /// An XEP-0200 `<c/>`: to the open session it belongs to.
    fn encrypted(&mut self, thread: &str, c: &Element, msg: &Inbound) {
        let from = msg.from.as_str();
        let key = key(from, thread);
        if !self
            .sessions
            .get(&key)
            .is_some_and(|s| s.common.accepts_from(from))
        {
            let detail = "encrypted stanza for no open session could not be decrypted";
            self.out.warn(from, Some(thread), detail);
            return;
        }
        self.step(&key, |s, core, out| s.on_encrypted(c, msg, core, out));
    }

    /// Hands the session at `key` to `f`, which returns it in its next state, or `None`
    /// when it is over.
    fn step(
        &mut self,
        key: &Key,
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
    fn request(&mut self, thread: &str, x: &Element, msg: &Inbound, now: Timestamp) {
        let from = msg.from.as_str();
        let bare = jid::bare(from);
        // Issue 11 §3: the caps and the sender's bucket, before any work.
        let (mut pending_jid, mut pending_all) = (0, 0);
        for ((peer, _), s) in &self.sessions {
            if s.common.role == Role::Responder && s.state.negotiating() {
                pending_all += 1;
                pending_jid += usize::from(peer == bare);
            }
        }
        let limits = &self.core.config.flood;
        let admitted = self
            .admission
            .admit(limits, bare, pending_jid, pending_all, now);
        if let Err(why) = admitted {
            return self.refuse(thread, msg, why, now);
        }
        let Some(accepted) = self.accept(thread, x, msg) else {
            return;
        };
        if accepted.terms.flow == Flow::Three && !self.trusted(bare) {
            // Issue 11 §3: two exponentiations and a signature for a stranger, within a
            // small budget.
            let limits = &self.core.config.flood;
            let admitted = self.admission.admit_untrusted_three_message(limits, now);
            if let Err(why) = admitted {
                return self.refuse(thread, msg, why, now);
            }
        }
        let common = Common {
            peer: Peer::Bound(from.to_owned()),
            thread: thread.to_owned(),
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
                    return fail_negotiation(from, thread, &msg.raw, f, &self.core, &mut self.out);
                }
            }
        };
        self.out.send(negotiation_message(
            from,
            thread,
            Wrapper::Feature,
            x2,
            false,
        ));
        self.sessions
            .insert(key(from, thread), Session { common, state });
    }

    /// A request refused by the flood limits: the first refusal of the sender in its
    /// window is answered with a `resource-constraint` error (when errors are answered,
    /// profile P10b) and reported as a warning; the others are dropped in silence.
    fn refuse(&mut self, thread: &str, msg: &Inbound, why: Refused, now: Timestamp) {
        let from = msg.from.as_str();
        if !self.admission.first_refusal(jid::bare(from), why, now) {
            return;
        }
        let config = &self.core.config;
        let condition = Condition::ResourceConstraint;
        self.out.reply_error(config, &msg.raw, from, condition, &[]);
        self.out.warn(from, Some(thread), why.detail());
    }

    /// Whether we trust a key of `bare` (XEP-0116 §7.3); a store failure counts as no.
    fn trusted(&self, bare: &str) -> bool {
        let core = &self.core;
        core.store
            .keys_of(&core.own_bare, bare)
            .is_ok_and(|keys| keys.iter().any(|k| k.trusted))
    }

    /// Whether to answer request `x` and with which terms (XEP-0155 §4.2–4.3, XEP-0116
    /// §4.4); a refusal is answered and reported here.
    fn accept(&mut self, thread: &str, x: &Element, msg: &Inbound) -> Option<Accepted> {
        let from = msg.from.as_str();
        // Profile P10b / XEP-0155 §4.2: a request stored offline is not answered.
        if msg.raw.child("delay", ns::DELAY).is_some() {
            let detail = "negotiation request delivered from offline storage was not answered";
            self.out.warn(from, Some(thread), detail);
            return None;
        }
        let allowed = match &self.core.config.accept {
            AcceptPolicy::Anyone => true,
            AcceptPolicy::Only(list) => list.iter().any(|j| j == jid::bare(from)),
            AcceptPolicy::Nobody => false,
        };
        if !allowed {
            // XEP-0155 §4.3: decline.
            let refusal = decline(Some("not accepting sessions from this address"));
            let answer = negotiation_message(from, thread, Wrapper::Feature, refusal, false);
            self.out.send(answer);
            let detail = "declined a session request from a JID that is not allowed";
            self.out.warn(from, Some(thread), detail);
            return None;
        }
        let own_key = self.core.identity_key.as_ref().map(|k| k.sign_alg());
        let chosen = Form::parse(x)
            .map_err(|e| (Condition::NotAcceptable, Vec::new(), e.into()))
            .and_then(|form| {
                // Issue 13 §1: the Gajim mode for a request of Gajim's shape (or by the
                // contact's setting), with the policy narrowed to what Gajim knows.
                let dialect = self.core.responder_dialect(from, &form, thread);
                let config = dialect
                    .config(&self.core.config, false)
                    .map_err(|v| (Condition::NotAcceptable, Vec::new(), v))?;
                let mut accepted = choose(&form, &config, from, own_key).map_err(|refusal| {
                    let (condition, fields) = match &refusal {
                        Refusal::Unsupported => (Condition::ServiceUnavailable, Vec::new()),
                        Refusal::Unimplemented(f) => (Condition::FeatureNotImplemented, f.clone()),
                        Refusal::Unacceptable(f) => (Condition::NotAcceptable, f.clone()),
                    };
                    (condition, fields, dialect.refusal(&refusal))
                })?;
                accepted.terms.dialect = dialect;
                Ok(accepted)
            });
        match chosen {
            Ok(accepted) => Some(accepted),
            Err((condition, fields, violation)) => {
                let config = &self.core.config;
                self.out
                    .reply_error(config, &msg.raw, from, condition, &fields);
                self.out.event(Event::Failed {
                    peer: from.into(),
                    thread: thread.into(),
                    error: Error::new(ErrorKind::Rejected, violation),
                });
                None
            }
        }
    }
}
