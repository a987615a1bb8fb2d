//! Handling of received stanzas: routing by (peer, thread) (XEP-0201), the negotiation
//! steps (XEP-0155, XEP-0116), and decryption (XEP-0200 §8).
use super::session::{Session, State};
use super::Engine;
use crate::config::{AcceptPolicy, StanzaKind};
use crate::error::{Error, ErrorKind, Violation};
use crate::event::{EndedBy, Event, RekeyedBy, Role, SessionInfo};
use crate::forms::{Form, FormType};
use crate::jid;
use crate::negotiation::context::Ctx;
use crate::negotiation::failure::{Condition, Failure};
use crate::negotiation::fields::NOT_MACED;
use crate::negotiation::initiator::Response;
use crate::negotiation::responder::{decline, respond_plain, AwaitingResult, Completed};
use crate::negotiation::stanza::{
    error_reply, negotiation_form, negotiation_message, read_error, Wrapper,
};
use crate::negotiation::terms::{choose, Refusal};
use crate::stanza::{message, read_termination, termination};
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::xml::{normalize_form_content, ns, parse_fragment, Element, Node};

impl<S: SecretStore> Engine<S> {
    /// Feeds one received stanza. Everything that results is queued: stanzas for
    /// [`Engine::poll_outgoing`], events for [`Engine::poll_event`]. Nothing from the
    /// network can make this panic; bad input becomes a `Failed` or `Warning` event.
    pub fn handle_stanza(&mut self, stanza: Element, now: Timestamp) {
        self.tick(now);
        match super::stanza_kind(&stanza) {
            Some(StanzaKind::Message) => {}
            Some(_) => return self.presence_or_iq(stanza, now),
            None => return,
        }
        let Some(from) = stanza.attr("from").map(str::to_owned) else {
            return;
        };
        let thread = stanza.child("thread", ns::JABBER_CLIENT).map(Element::text);
        if stanza.attr("type") == Some("error") {
            if let Some(thread) = thread {
                self.peer_error(&from, &thread, &stanza);
            }
            return;
        }
        let Some(thread) = thread else {
            // XEP-0201: no thread, no session: an ordinary message.
            self.deliver_plain(&from, None, stanza);
            return;
        };
        let key = (jid::bare(&from).to_owned(), thread.clone());
        // Profile P9: negotiation elements first, then the <c/>.
        if let Some((wrapper, x)) = negotiation_form(&stanza) {
            let x = x.clone();
            self.negotiation(&from, &thread, wrapper, &x, &stanza, now);
        }
        if let Some(c) = stanza.child("c", ns::STANZA_ENCRYPTION) {
            let c = c.clone();
            self.encrypted(&from, &thread, &c, &stanza, now);
            return;
        }
        if negotiation_form(&stanza).is_some() {
            return;
        }
        match self.sessions.get(&key) {
            Some(s) if matches!(s.state, State::Encrypted(_) | State::Terminating(_)) => {
                // Profile P9: clear content inside an ESession is never delivered.
                self.events.push_back(Event::Warning {
                    peer: from,
                    thread: Some(thread),
                    detail: "unencrypted content inside an encrypted session was ignored".into(),
                });
            }
            _ => self.deliver_plain(&from, Some(thread), stanza),
        }
    }

    /// A `<presence/>` or `<iq/>` carrying a `<c/>` (XEP-0200 §5); anything else is not
    /// ours. A presence names its session with a clear `<thread/>`; an iq cannot (RFC 6120
    /// §8.2.3: one child), so it belongs to the one encrypted session with the sender's full
    /// JID that negotiated iq (docs/decisions.md).
    fn presence_or_iq(&mut self, stanza: Element, now: Timestamp) {
        let (Some(from), Some(c)) = (
            stanza.attr("from").map(str::to_owned),
            stanza.child("c", ns::STANZA_ENCRYPTION).cloned(),
        ) else {
            return;
        };
        let thread = match stanza.child("thread", ns::JABBER_CLIENT) {
            Some(t) => Some(t.text()),
            None if stanza.name() == "iq" => {
                let mut candidates = self.sessions.values().filter(|s| {
                    s.peer == from
                        && matches!(s.state, State::Encrypted(_))
                        && s.info
                            .as_ref()
                            .is_some_and(|i| i.stanzas.contains(&StanzaKind::Iq))
                });
                match (candidates.next(), candidates.next()) {
                    (Some(s), None) => Some(s.thread.clone()),
                    _ => None,
                }
            }
            None => None,
        };
        let Some(thread) = thread else {
            self.events.push_back(Event::Warning {
                peer: from,
                thread: None,
                detail: format!(
                    "encrypted {} matching no single session was ignored",
                    stanza.name()
                ),
            });
            return;
        };
        self.encrypted(&from, &thread, &c, &stanza, now);
    }

    fn deliver_plain(&mut self, from: &str, thread: Option<String>, stanza: Element) {
        let body = stanza.child("body", ns::JABBER_CLIENT).map(Element::text);
        if body.is_none() {
            return;
        }
        self.events.push_back(Event::Message {
            peer: from.to_owned(),
            thread,
            body,
            stanza,
            encrypted: false,
        });
    }

    /// A `type='error'` reply to one of our negotiation messages ends that negotiation.
    ///
    /// The responder is established once it sent message 4, but the initiator may still
    /// refuse that message; its error reply echoes our `<init/>`. XEP-0116 §4.4: after any
    /// error both sides consider the negotiation failed, so that session ends too.
    fn peer_error(&mut self, from: &str, thread: &str, stanza: &Element) {
        let key = (jid::bare(from).to_owned(), thread.to_owned());
        let refused_message_4 = stanza.child("init", ns::ESESSION_INIT).is_some();
        let pending = self.sessions.get(&key).is_some_and(|s| {
            let unconfirmed = refused_message_4
                && s.role == Role::Responder
                && matches!(s.state, State::Encrypted(_));
            (s.state.negotiating() || unconfirmed) && s.accepts_from(from)
        });
        if !pending {
            return;
        }
        let (condition, fields) = read_error(stanza);
        self.sessions.remove(&key);
        self.events.push_back(Event::Failed {
            peer: from.to_owned(),
            thread: thread.to_owned(),
            error: Error::new(
                ErrorKind::Rejected,
                Violation::PeerError { condition, fields },
            ),
        });
    }

    fn negotiation(
        &mut self,
        from: &str,
        thread: &str,
        wrapper: Wrapper,
        x: &Element,
        stanza: &Element,
        now: Timestamp,
    ) {
        let key = (jid::bare(from).to_owned(), thread.to_owned());
        // XEP-0155 §4.5: a renegotiation of a plain session travels in clear.
        let plain = self
            .sessions
            .get(&key)
            .is_some_and(|s| matches!(s.state, State::Plain) && s.accepts_from(from));
        if plain {
            if let Some(form) = super::renegotiate::find(std::slice::from_ref(
                stanza.child("feature", ns::FEATURE_NEG).unwrap_or(x),
            )) {
                self.renegotiation(from, thread, form);
                return;
            }
        }
        let Some(session) = self.sessions.get_mut(&key) else {
            if wrapper == Wrapper::Feature && x.attr("type") == Some("form") {
                self.request(from, thread, x, stanza, now);
            } else {
                self.events.push_back(Event::Warning {
                    peer: from.to_owned(),
                    thread: Some(thread.to_owned()),
                    detail: "negotiation message for an unknown thread was ignored".into(),
                });
            }
            return;
        };
        if !session.accepts_from(from) {
            // Profile P6: other responders to the same thread are ignored.
            return;
        }
        let state = std::mem::replace(&mut session.state, State::Taken);
        let oss = self.oss.get(jid::bare(from)).map(|v| v.to_vec());
        let mut ctx = Ctx {
            rng: self.rng.as_mut(),
            pool: self.dh_pool.as_ref(),
            store: &mut self.store,
            config: &self.config,
            own_bare: &self.own_bare,
            peer: from,
            now,
            oss: oss.as_deref(),
            identity: self.identity_key.as_ref(),
        };
        let next_deadline = Some(now.plus(self.config.negotiation_timeout));
        let result: Result<State, Failure> = match (state, wrapper) {
            (State::Offered(offer), Wrapper::Feature) => match offer.handle_response(x, &mut ctx) {
                Ok(Response::Declined(reason)) => {
                    Err(Failure::silent(Violation::PeerDeclined(reason)))
                }
                Ok(Response::Plain { terms, complete }) => {
                    self.outgoing.push_back(bind(session, from, complete));
                    let info = session.info(&terms);
                    session.info = Some(info.clone());
                    session.deadline = None;
                    self.events.push_back(Event::Established(info));
                    Ok(State::Plain)
                }
                Ok(Response::Identity { next, msg3 }) => {
                    self.outgoing.push_back(bind(session, from, msg3));
                    session.deadline = next_deadline;
                    Ok(State::AwaitingInit(next))
                }
                Ok(Response::Established { established, msg3 }) => {
                    self.outgoing.push_back(bind(session, from, msg3));
                    Ok(adopt(session, *established, now, &mut self.events))
                }
                Err(f) => Err(f),
            },
            (State::AwaitingInit(awaiting), Wrapper::Init) => awaiting
                .handle_init(x, &mut ctx)
                .map(|est| adopt(session, est, now, &mut self.events)),
            (State::Responded(awaiting), Wrapper::Feature) => {
                match awaiting.handle_result(x, &mut ctx) {
                    Ok(Completed::WithInit(est, msg4)) => {
                        self.outgoing.push_back(negotiation_message(
                            from,
                            thread,
                            Wrapper::Init,
                            msg4,
                            false,
                        ));
                        Ok(adopt(session, *est, now, &mut self.events))
                    }
                    Ok(Completed::Done(est)) => Ok(adopt(session, *est, now, &mut self.events)),
                    Err(f) => Err(f),
                }
            }
            (State::PlainPending(terms), Wrapper::Feature) => {
                // XEP-0155 §4.4 [4] complete (accept = 1) or [5] cancel.
                let accepted = Form::parse(x)
                    .ok()
                    .filter(|f| f.kind == FormType::Result)
                    .and_then(|f| {
                        f.value("accept")
                            .and_then(crate::negotiation::fields::boolean)
                    });
                if accepted == Some(true) {
                    let info = session.info(&terms);
                    session.info = Some(info.clone());
                    session.deadline = None;
                    self.events.push_back(Event::Established(info));
                    Ok(State::Plain)
                } else {
                    Err(Failure::silent(Violation::PeerDeclined(Some(
                        "cancelled".into(),
                    ))))
                }
            }
            (State::Plain, Wrapper::Feature) => {
                // XEP-0155 §4.6: terminate of a plain session, acknowledged.
                if read_termination(&Element::new("feature", ns::FEATURE_NEG).with_child(x.clone()))
                    == Some(FormType::Submit)
                {
                    self.outgoing
                        .push_back(message(from, thread).with_child(termination(FormType::Result)));
                    self.sessions.remove(&key);
                    self.events.push_back(Event::Terminated {
                        peer: from.to_owned(),
                        thread: thread.to_owned(),
                        by: EndedBy::Peer,
                    });
                    return;
                }
                Ok(State::Plain)
            }
            (state @ (State::Encrypted(_) | State::Terminating(_)), _) => {
                // Profile P10: a terminate (or any negotiation form) in clear inside an
                // ESession is ignored.
                self.events.push_back(Event::Warning {
                    peer: from.to_owned(),
                    thread: Some(thread.to_owned()),
                    detail: "unencrypted negotiation form inside an encrypted session was ignored"
                        .into(),
                });
                Ok(state)
            }
            (_, _) => Err(Failure::silent(Violation::UnexpectedMessage(
                "negotiation message out of order".into(),
            ))),
        };
        match result {
            Ok(state) => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.state = state;
                }
            }
            Err(failure) => self.fail_negotiation(&key, from, thread, stanza, failure),
        }
    }

    fn fail_negotiation(
        &mut self,
        key: &(String, String),
        from: &str,
        thread: &str,
        stanza: &Element,
        failure: Failure,
    ) {
        self.sessions.remove(key);
        if let Some(condition) = failure.condition {
            self.reply_error(stanza, from, condition, &failure.fields);
        }
        let kind = match failure.violation {
            Violation::PeerDeclined(_) => ErrorKind::Rejected,
            Violation::Store(_) => ErrorKind::Store,
            _ => ErrorKind::Negotiation,
        };
        self.events.push_back(Event::Failed {
            peer: from.to_owned(),
            thread: thread.to_owned(),
            error: Error::new(kind, failure.violation),
        });
    }

    fn reply_error(&mut self, stanza: &Element, to: &str, condition: Condition, fields: &[String]) {
        if self.config.answer_errors {
            self.outgoing
                .push_back(error_reply(stanza, to, condition, fields));
        }
    }

    /// Message 1 from a peer (XEP-0116 §4.4–4.5).
    fn request(&mut self, from: &str, thread: &str, x: &Element, stanza: &Element, now: Timestamp) {
        // Profile P10b / XEP-0155 §4.2: a request stored offline is not answered.
        if stanza.child("delay", ns::DELAY).is_some() {
            self.events.push_back(Event::Warning {
                peer: from.to_owned(),
                thread: Some(thread.to_owned()),
                detail: "negotiation request delivered from offline storage was not answered"
                    .into(),
            });
            return;
        }
        let allowed = match &self.config.accept {
            AcceptPolicy::Anyone => true,
            AcceptPolicy::Only(list) => list.iter().any(|j| j == jid::bare(from)),
            AcceptPolicy::Nobody => false,
        };
        if !allowed {
            // XEP-0155 §4.3: decline.
            self.outgoing.push_back(negotiation_message(
                from,
                thread,
                Wrapper::Feature,
                decline(Some("not accepting sessions from this address")),
                false,
            ));
            self.events.push_back(Event::Warning {
                peer: from.to_owned(),
                thread: Some(thread.to_owned()),
                detail: "declined a session request from a JID that is not allowed".into(),
            });
            return;
        }
        let refused = |v: Violation| Error::new(ErrorKind::Rejected, v);
        let form = match Form::parse(x) {
            Ok(f) => f,
            Err(e) => {
                self.reply_error(stanza, from, Condition::NotAcceptable, &[]);
                self.events.push_back(Event::Failed {
                    peer: from.into(),
                    thread: thread.into(),
                    error: refused(e.into()),
                });
                return;
            }
        };
        let own_key = self.identity_key.as_ref().map(|k| k.sign_alg());
        let accepted = match choose(&form, &self.config, from, own_key) {
            Ok(a) => a,
            Err(refusal) => {
                let (condition, fields) = match &refusal {
                    Refusal::Unsupported => (Condition::ServiceUnavailable, Vec::new()),
                    Refusal::Unimplemented(f) => (Condition::FeatureNotImplemented, f.clone()),
                    Refusal::Unacceptable(f) => (Condition::NotAcceptable, f.clone()),
                };
                self.reply_error(stanza, from, condition, &fields);
                self.events.push_back(Event::Failed {
                    peer: from.into(),
                    thread: thread.into(),
                    error: refused(refusal.violation()),
                });
                return;
            }
        };
        let mut session = Session {
            peer: from.to_owned(),
            bound: true,
            thread: thread.to_owned(),
            role: Role::Responder,
            state: State::Taken,
            deadline: Some(now.plus(self.config.negotiation_timeout)),
            info: None,
            secret_id: None,
            renegotiating: None,
            pacing: super::session::Pacing::since(now),
        };
        if accepted.terms.security != crate::config::Security::E2e {
            let x2 = respond_plain(&accepted.terms);
            self.outgoing.push_back(negotiation_message(
                from,
                thread,
                Wrapper::Feature,
                x2,
                false,
            ));
            session.state = State::PlainPending(accepted.terms);
        } else {
            let form_a = normalize_form_content(x, &NOT_MACED);
            let mut ctx = Ctx {
                rng: self.rng.as_mut(),
                pool: self.dh_pool.as_ref(),
                store: &mut self.store,
                config: &self.config,
                own_bare: &self.own_bare,
                peer: from,
                now,
                oss: None,
                identity: self.identity_key.as_ref(),
            };
            match AwaitingResult::respond(accepted, form_a, &mut ctx) {
                Ok((state, x2)) => {
                    self.outgoing.push_back(negotiation_message(
                        from,
                        thread,
                        Wrapper::Feature,
                        x2,
                        false,
                    ));
                    session.state = State::Responded(Box::new(state));
                }
                Err(f) => {
                    let key = (jid::bare(from).to_owned(), thread.to_owned());
                    self.fail_negotiation(&key, from, thread, stanza, f);
                    return;
                }
            }
        }
        self.sessions
            .insert((jid::bare(from).to_owned(), thread.to_owned()), session);
    }

    /// An XEP-0200 `<c/>` (§8): verify, decrypt, parse; then deliver, or handle the
    /// termination it carries (profile P10).
    fn encrypted(
        &mut self,
        from: &str,
        thread: &str,
        c: &Element,
        stanza: &Element,
        now: Timestamp,
    ) {
        let key = (jid::bare(from).to_owned(), thread.to_owned());
        let Some(session) = self.sessions.get_mut(&key).filter(|s| s.accepts_from(from)) else {
            self.events.push_back(Event::Warning {
                peer: from.to_owned(),
                thread: Some(thread.to_owned()),
                detail: "encrypted stanza for no open session could not be decrypted".into(),
            });
            return;
        };
        let channel = match &mut session.state {
            State::Encrypted(ch) | State::Terminating(ch) => ch,
            _ => {
                self.events.push_back(Event::Warning {
                    peer: from.to_owned(),
                    thread: Some(thread.to_owned()),
                    detail: "encrypted stanza before the session was established was ignored"
                        .into(),
                });
                return;
            }
        };
        // XEP-0200 §5: only the negotiated stanza kinds are encrypted.
        let kind = super::stanza_kind(stanza).unwrap_or(StanzaKind::Message);
        if !session
            .info
            .as_ref()
            .is_some_and(|i| i.stanzas.contains(&kind))
        {
            let v = Violation::UnexpectedMessage(format!(
                "encrypted {} stanza, but {} stanzas were not negotiated",
                kind.name(),
                kind.name()
            ));
            return self.fail_session(&key, v, now);
        }
        let mut peer_rekeyed = false;
        let plain = channel.open(c).and_then(|opened| {
            peer_rekeyed = opened.peer_rekeyed;
            let text = String::from_utf8(opened.plain)
                .map_err(|_| Violation::PlaintextNotXml("not UTF-8".into()))?;
            parse_fragment(&text, ns::JABBER_CLIENT, &self.limits)
                .map_err(|e| Violation::PlaintextNotXml(e.to_string()))
        });
        let nodes = match plain {
            Ok(nodes) => nodes,
            Err(v) => return self.fail_session(&key, v, now),
        };
        if peer_rekeyed {
            // XEP-0200 §9: we accepted the peer's <key/>.
            self.events.push_back(Event::Rekeyed {
                peer: from.into(),
                thread: thread.into(),
                by: RekeyedBy::Peer,
            });
        }
        let terminating = matches!(session.state, State::Terminating(_));
        let elements: Vec<Element> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Element(e) => Some(e.clone()),
                Node::Text(_) => None,
            })
            .collect();
        let renegotiation = super::renegotiate::find(&elements);
        let ending = nodes.iter().find_map(|n| match n {
            Node::Element(e) => read_termination(e),
            Node::Text(_) => None,
        });
        match (ending, terminating) {
            (Some(FormType::Submit), false) => {
                // XEP-0116 §5: acknowledge at once, encrypted, then send nothing more.
                let ack = termination(FormType::Result).serialize_in(ns::JABBER_CLIENT);
                if let State::Encrypted(ch) = &mut session.state {
                    if let Ok(c) = ch.seal(ack.as_bytes(), 0) {
                        self.outgoing.push_back(message(from, thread).with_child(c));
                    }
                }
                self.sessions.remove(&key);
                self.events.push_back(Event::Terminated {
                    peer: from.into(),
                    thread: thread.into(),
                    by: EndedBy::Peer,
                });
            }
            (Some(FormType::Submit | FormType::Result), true) => {
                // P10: our terminate acknowledged (terminates that cross count as such).
                self.sessions.remove(&key);
                self.events.push_back(Event::Terminated {
                    peer: from.into(),
                    thread: thread.into(),
                    by: EndedBy::Us,
                });
            }
            (Some(_), _) => {
                self.events.push_back(Event::Warning {
                    peer: from.into(),
                    thread: Some(thread.into()),
                    detail: "unexpected terminate acknowledgement was ignored".into(),
                });
            }
            (None, _) if renegotiation.is_some() => {
                if let Some(form) = renegotiation {
                    self.renegotiation(from, thread, form);
                }
            }
            (None, _) if !nodes.iter().any(|n| matches!(n, Node::Element(_))) => {
                // Profile P9 / XEP-0200 §6: a <c/> without <data/> (or with padding
                // only) carries no content; it advanced the counter, nothing to deliver.
            }
            (None, _) => {
                // Profile P9: of the clear children only <thread/> is kept.
                let mut out = Element::new(kind.name(), ns::JABBER_CLIENT);
                for (k, v) in stanza.attrs() {
                    out.set_attr(k.as_str(), v.as_str());
                }
                out.push(Element::new("thread", ns::JABBER_CLIENT).with_text(thread));
                out.nodes_mut().extend(nodes);
                let event = if kind == StanzaKind::Message {
                    let body = out.child("body", ns::JABBER_CLIENT).map(Element::text);
                    Event::Message {
                        peer: from.into(),
                        thread: Some(thread.into()),
                        body,
                        stanza: out,
                        encrypted: true,
                    }
                } else {
                    Event::Stanza {
                        peer: from.into(),
                        thread: thread.into(),
                        stanza: out,
                    }
                };
                self.events.push_back(event);
            }
        }
    }

    /// Profile P9: a verification failure ends the session: nothing delivered, an
    /// encrypted terminate sent (best effort), every key destroyed.
    fn fail_session(&mut self, key: &(String, String), violation: Violation, _now: Timestamp) {
        let Some(mut s) = self.sessions.remove(key) else {
            return;
        };
        if let State::Encrypted(ch) = &mut s.state {
            let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
            if let Ok(c) = ch.seal(plain.as_bytes(), 0) {
                self.outgoing
                    .push_back(message(&s.peer, &s.thread).with_child(c));
            }
        }
        drop(s.state);
        self.events.push_back(Event::Failed {
            peer: s.peer,
            thread: s.thread,
            error: Error::new(ErrorKind::Decryption, violation),
        });
    }
}

/// XEP-0155 §4.2 / profile P6: the initiator's session binds to the full JID of the first
/// valid responder; returns our answer to it (carrying `x`).
fn bind(s: &mut Session, from: &str, x: Element) -> Element {
    s.peer = from.to_owned();
    s.bound = true;
    negotiation_message(from, &s.thread, Wrapper::Feature, x, false)
}

/// Makes a completed negotiation the session's state and reports it.
fn adopt(
    s: &mut Session,
    est: crate::negotiation::established::Established,
    now: Timestamp,
    events: &mut std::collections::VecDeque<Event>,
) -> State {
    let t = &est.terms;
    let info = SessionInfo {
        sas: est.sas,
        srs: est.srs,
        verified: est.verified,
        flow: Some(t.flow.messages()),
        crypt: Some(t.crypt.name()),
        hash: Some(t.hash.name()),
        compress: Some(t.compress.name()),
        rekey_freq: Some(t.rekey_freq),
        peer_key: est.peer_key,
        ..s.info(t)
    };
    s.info = Some(info.clone());
    s.secret_id = est.secret_id;
    s.deadline = None;
    // XEP-0200 §11.4: idleness is counted from establishment until we first send.
    s.pacing = super::session::Pacing::since(now);
    events.push_back(Event::Established(info));
    State::Encrypted(est.channel)
}
