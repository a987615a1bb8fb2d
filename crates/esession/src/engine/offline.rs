//! The engine's side of XEP-0187 offline sessions (profile P11): publishing and loading
//! Alice's option sets, processing offline inits, and Bob's sending-only sessions.
use super::incoming::adopt;
use super::session::{OfflineRole, Session, State};
use super::Engine;
use crate::channel::Channel;
use crate::error::{Error, ErrorKind, Violation};
use crate::event::{EndedBy, Event, Role};
use crate::forms::FormType;
use crate::jid;
use crate::negotiation::context::Ctx;
use crate::offline::options::build_options;
use crate::offline::receive::open_init;
use crate::offline::send::{start, verify_options};
use crate::offline::OfflineSetKind;
use crate::stanza::{message, termination};
use crate::store::SecretStore;
use crate::thread::new_thread_id;
use crate::time::Timestamp;
use crate::xml::{ns, Element, Node};

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

impl<S: SecretStore> Engine<S> {
    /// Alice: builds a signed option set of `kind` expiring at `expires` (optionally
    /// restricted to our resource `match_resource`), stores its secrets, replacing the
    /// previous set of that kind and its replay records, and returns the `<x/>` to publish
    /// (XEP-0187 §3.1, profile P11: stored before it is published).
    ///
    /// # Errors
    /// Usage errors when no identity key is set (the set must be signed), `expires` is not
    /// after `now`, or the configuration offers nothing; store errors when the set cannot be
    /// written (nothing must be published then).
    pub fn publish_offline(
        &mut self,
        kind: OfflineSetKind,
        expires: Timestamp,
        match_resource: Option<&str>,
        now: Timestamp,
    ) -> Result<Element, Error> {
        self.tick(now);
        if expires <= now {
            return Err(Error::usage(Violation::OfflineExpired(
                expires.to_datetime(),
            )));
        }
        let key = self
            .identity_key
            .as_ref()
            .ok_or(Error::usage(Violation::NoIdentityKey("signs")))?;
        let (x, set) = build_options(
            &self.config,
            self.rng.as_mut(),
            self.dh_pool.as_ref(),
            key,
            kind,
            expires,
            match_resource,
        )
        .map_err(Error::usage)?;
        self.store.put_offline_set(&self.own_bare, &set)?;
        self.offline_sets.retain(|s| s.kind != kind);
        self.offline_sets.push(set);
        self.withdrawn.retain(|k| *k != kind);
        Ok(x)
    }

    /// Alice at login: loads every stored option set (with its replay records) to process
    /// the offline inits about to be delivered. Returns how many were loaded.
    ///
    /// # Errors
    /// The store's error when the sets cannot be read (e.g. a wrong passphrase).
    pub fn load_offline_sets(&mut self) -> Result<usize, Error> {
        let sets = self.store.offline_sets(&self.own_bare)?;
        let n = sets.len();
        for set in sets {
            let kind = set.kind;
            self.offline_sets.retain(|s| s.kind != kind);
            self.offline_sets.push(set);
            self.withdrawn.retain(|k| *k != kind);
        }
        Ok(n)
    }

    /// Alice at login, after [`Engine::load_offline_sets`] and before presence: drops the
    /// set of `kind` from storage, keeping it in memory to process the inits delivered now
    /// (profile P11 "Withdrawal"). Returns whether a stored set was dropped.
    ///
    /// # Errors
    /// The store's error.
    pub fn withdraw_offline(&mut self, kind: OfflineSetKind) -> Result<bool, Error> {
        let removed = self.store.remove_offline_set(&self.own_bare, kind)?;
        if self.offline_sets.iter().any(|s| s.kind == kind) && !self.withdrawn.contains(&kind) {
            self.withdrawn.push(kind);
        }
        Ok(removed)
    }

    /// The expiry of each option set held in memory, with whether it is still stored.
    pub fn offline_sets(&self) -> Vec<(OfflineSetKind, Timestamp, bool)> {
        self.offline_sets
            .iter()
            .map(|s| (s.kind, s.expires, !self.withdrawn.contains(&s.kind)))
            .collect()
    }

    /// Bob: starts an offline session with `alice` (her bare JID) from her published
    /// `options` and queues its first stanza, a chat message whose children are `content`
    /// (XEP-0187 §3.3, profile P11 "Bob's message"). Returns the new thread; more stanzas go
    /// through [`Engine::send_message`], and [`Engine::terminate`] ends it without waiting
    /// for an acknowledgement.
    ///
    /// # Errors
    /// [`ErrorKind::Rejected`] when the options are unsigned, signed by no key trusted for
    /// `alice`, malformed or expired at `now`; [`ErrorKind::Negotiation`] when nothing in
    /// them is acceptable; a usage error without an identity key or with an established
    /// session with `alice` (XEP-0187 §3.2). Nothing is queued then.
    pub fn start_offline(
        &mut self,
        alice: &str,
        options: &Element,
        content: Vec<Element>,
        now: Timestamp,
    ) -> Result<String, Error> {
        self.tick(now);
        let alice = jid::bare(alice).to_owned();
        // XEP-0187 §3.2: no new ESession if one is already established.
        let established = self
            .sessions
            .values()
            .any(|s| jid::bare(&s.peer) == alice && matches!(s.state, State::Encrypted(_)));
        if established {
            return Err(Error::usage(Violation::WrongState(
                "established with that contact already (no offline session then)",
            )));
        }
        let mut ctx = Ctx {
            rng: self.rng.as_mut(),
            pool: self.dh_pool.as_ref(),
            store: &mut self.store,
            config: &self.config,
            own_bare: &self.own_bare,
            peer: &alice,
            now,
            oss: None,
            identity: self.identity_key.as_ref(),
        };
        let verified = verify_options(options, &alice, &ctx)
            .map_err(|v| Error::new(ErrorKind::Rejected, v))?;
        let to = verified.to.clone();
        let match_resource = verified.match_resource;
        let (est, x) = start(verified, &mut ctx).map_err(|v| {
            let kind = match v {
                Violation::NoIdentityKey(_) => ErrorKind::Usage,
                _ => ErrorKind::Negotiation,
            };
            Error::new(kind, v)
        })?;
        let thread = new_thread_id(self.rng.as_mut());
        let mut session = Session {
            peer: to.clone(),
            bound: true,
            thread: thread.clone(),
            role: Role::Responder,
            state: State::Taken,
            deadline: None,
            info: None,
            secret_id: None,
            renegotiating: None,
            pacing: super::session::Pacing::since(now),
            offline: Some(OfflineRole::Sent { match_resource }),
        };
        session.state = adopt(&mut session, est, now, &mut self.events);
        let key = (alice, thread.clone());
        self.sessions.insert(key.clone(), session);
        let mut msg = Element::new("message", ns::JABBER_CLIENT).with_attr("type", "chat");
        for c in content {
            msg.push(c);
        }
        let mut out = match self.build_stanza(&to, &thread, msg) {
            Ok(out) => out,
            Err(e) => {
                self.sessions.remove(&key);
                return Err(e);
            }
        };
        // Profile P11: the <init/> right after the <thread/>, then the <c/>, the clear
        // extras and (last) the AMP rule that build_stanza added.
        let init = Element::new("init", ns::ESESSION_INIT).with_child(x);
        let at = out
            .nodes()
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.is("thread", ns::JABBER_CLIENT)))
            .map_or(0, |i| i + 1);
        out.nodes_mut().insert(at, Node::Element(init));
        self.outgoing.push_back(out);
        Ok(thread)
    }

    /// Ends an offline session (already removed from the table): Bob sends his encrypted
    /// terminate and expects no acknowledgement; Alice sends nothing (profile P11).
    pub(super) fn end_offline(
        &mut self,
        to: &str,
        thread: &str,
        mut channel: Channel,
        role: Option<OfflineRole>,
    ) -> Result<(), Error> {
        if let Some(OfflineRole::Sent { match_resource }) = role {
            let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
            let c = channel
                .seal(plain.as_bytes(), 0)
                .map_err(|v| Error::new(ErrorKind::Usage, v))?;
            let mut out = message(to, thread).with_child(c);
            if match_resource {
                out.push(match_resource_rule());
            }
            self.outgoing.push_back(out);
        }
        drop(channel);
        self.events.push_back(Event::Terminated {
            peer: to.to_owned(),
            thread: thread.to_owned(),
            by: EndedBy::Us,
        });
        Ok(())
    }

    /// Alice: an offline init (`<init/>` with a submit form) from `from` on `thread`.
    /// Returns whether it was accepted (its session now open); a refusal is reported as a
    /// `Failed` event and never answered (profile P11).
    pub(super) fn offline_init(
        &mut self,
        from: &str,
        thread: &str,
        x: &Element,
        now: Timestamp,
    ) -> bool {
        let key = (jid::bare(from).to_owned(), thread.to_owned());
        let taken = self.sessions.contains_key(&key);
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
        let opened = open_init(x, &self.offline_sets, taken, &mut ctx);
        let refuse = |events: &mut std::collections::VecDeque<Event>, kind, v| {
            events.push_back(Event::Failed {
                peer: from.to_owned(),
                thread: thread.to_owned(),
                error: Error::new(kind, v),
            });
            false
        };
        let opened = match opened {
            Ok(o) => o,
            Err(v) => {
                let kind = match v {
                    Violation::Store(_) => ErrorKind::Store,
                    _ => ErrorKind::Rejected,
                };
                return refuse(&mut self.events, kind, v);
            }
        };
        let Some(set) = self.offline_sets.get_mut(opened.set) else {
            return refuse(
                &mut self.events,
                ErrorKind::Rejected,
                Violation::NoOfflineSet,
            );
        };
        // Profile P11 "Replay storage": stored atomically while the set is stored; a
        // withdrawn set remembers in memory only.
        if !self.withdrawn.contains(&set.kind) {
            match self.store.accept_offline_init(
                &self.own_bare,
                set.kind,
                &set.nonce,
                &opened.record,
            ) {
                Ok(true) => {}
                Ok(false) => {
                    let v = Violation::OfflineReplay(
                        "its d or N_B was accepted before for this option set",
                    );
                    return refuse(&mut self.events, ErrorKind::Rejected, v);
                }
                Err(e) => return refuse(&mut self.events, ErrorKind::Store, e.into()),
            }
        }
        set.accepted.push(opened.record);
        let mut session = Session {
            peer: from.to_owned(),
            bound: true,
            thread: thread.to_owned(),
            role: Role::Initiator,
            state: State::Taken,
            deadline: None,
            info: None,
            secret_id: None,
            renegotiating: None,
            pacing: super::session::Pacing::since(now),
            offline: Some(OfflineRole::Received),
        };
        session.state = adopt(&mut session, opened.established, now, &mut self.events);
        self.sessions.insert(key, session);
        true
    }
}
