//! The engine's side of XEP-0187 offline sessions (profile P11): publishing and loading
//! Alice's option sets, processing offline inits, and Bob's sending-only sessions.
use super::negotiate::adopt;
use super::session::{key, Common, OfflineRole, Peer, Session, State};
use super::{Engine, Request};
use crate::error::{Error, PeerMisbehaved, Rejected, Replay, Usage};
use crate::event::{Event, Role};
use crate::negotiation::established::Established;
use crate::offline::options::build_options;
use crate::offline::receive::open_init;
use crate::offline::send::{start, verify_options};
use crate::offline::{OfflineSet, OfflineSetKind};
use crate::session_id::SessionId;
use crate::store::SecretStore;
use crate::thread::new_thread_id;
use crate::time::Timestamp;
use crate::xml::{ns, Element, Node};
use jid::{BareJid, Jid};

/// Alice's option sets (XEP-0187, profile P11).
#[derive(Default)]
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct OfflineSets {
    /// As loaded or published.
    sets: Vec<OfflineSet>,
    /// Sets withdrawn from storage but kept here to process the inits delivered now
    /// (profile P11 "Withdrawal").
    withdrawn: Vec<OfflineSetKind>,
}

impl OfflineSets {
    /// Holds `set`, replacing the set of its kind, stored.
    fn hold(&mut self, set: OfflineSet) {
        let kind = set.kind;
        self.sets.retain(|s| s.kind != kind);
        self.sets.push(set);
        self.withdrawn.retain(|k| *k != kind);
    }
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
        self.core.tick(now);
        if expires <= now {
            return Err(Usage::ExpiryPassed(expires.to_datetime()).into());
        }
        let core = &mut self.core;
        let key = core
            .identity_key
            .as_ref()
            .ok_or(Usage::NoIdentityKey("signs"))?;
        let (x, set) = build_options(
            &core.config,
            core.rng.as_mut(),
            core.dh_pool.as_ref(),
            key,
            kind,
            expires,
            match_resource,
        )?;
        core.store.put_offline_set(core.own_bare.as_str(), &set)?;
        self.offline.hold(set);
        Ok(x)
    }

    /// Alice at login: loads every stored option set (with its replay records) to process
    /// the offline inits about to be delivered, and destroys in the store each set that
    /// expired at `now` instead of loading it (profile P11 "Expiry": every init for it
    /// would be discarded; XEP-0187 §6.2, §6.4: its secrets serve only until it expires).
    /// Returns how many were loaded.
    ///
    /// # Errors
    /// The store's error when the sets cannot be read (e.g. a wrong passphrase) or an
    /// expired one cannot be removed.
    pub fn load_offline_sets(&mut self, now: Timestamp) -> Result<usize, Error> {
        self.core.tick(now);
        let core = &mut self.core;
        let own = core.own_bare.as_str();
        let mut n = 0;
        for set in core.store.offline_sets(own)? {
            if set.expired(now) {
                core.store.remove_offline_set(own, set.kind)?;
            } else {
                self.offline.hold(set);
                n += 1;
            }
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
        let removed = self
            .core
            .store
            .remove_offline_set(self.core.own_bare.as_str(), kind)?;
        let held = &mut self.offline;
        if held.sets.iter().any(|s| s.kind == kind) && !held.withdrawn.contains(&kind) {
            held.withdrawn.push(kind);
        }
        Ok(removed)
    }

    /// The expiry of each option set held in memory, with whether it is still stored.
    pub fn offline_sets(&self) -> Vec<(OfflineSetKind, Timestamp, bool)> {
        let held = &self.offline;
        held.sets
            .iter()
            .map(|s| (s.kind, s.expires, !held.withdrawn.contains(&s.kind)))
            .collect()
    }

    /// Bob: starts an offline session with `alice` from her published `options` and queues
    /// its first stanza, a chat message whose children are `content` (XEP-0187 §3.3,
    /// profile P11 "Bob's message"). Returns the new session; more stanzas go
    /// through [`Engine::send_message`], and [`Engine::terminate`] ends it without waiting
    /// for an acknowledgement.
    ///
    /// # Errors
    /// [`Rejected::Offline`] when the options are unsigned, signed by no key trusted for
    /// `alice`, malformed or expired at `now`; [`Error::PeerMisbehaved`] when nothing in
    /// them is acceptable; a usage error without an identity key or with an established
    /// session with `alice` (XEP-0187 §3.2). Nothing is queued then.
    pub fn start_offline(
        &mut self,
        alice: &BareJid,
        options: &Element,
        content: Vec<Element>,
        now: Timestamp,
    ) -> Result<SessionId, Error> {
        self.core.tick(now);
        // XEP-0187 §3.2: no new ESession if one is already established.
        let established = self
            .sessions
            .iter()
            .any(|(id, s)| id.peer() == alice && matches!(s.state, State::Encrypted(_)));
        if established {
            return Err(Usage::OfflineWhileEstablished.into());
        }
        let mut ctx = self.core.ctx(alice, now);
        let verified = verify_options(options, alice, &ctx).map_err(refusal)?;
        let to = verified.to.clone();
        let match_resource = verified.match_resource;
        let (est, x) = start(verified, &mut ctx)?;
        let id = key(&to, &new_thread_id(self.core.rng.as_mut()));
        let role = OfflineRole::Sent { match_resource };
        self.open_offline(&to, &id, Role::Responder, role, est, now);
        let msg = crate::stanza::chat(content);
        let mut out = match self.build_stanza(&id, Request::Stanza(msg)) {
            Ok(out) => out.into_element(),
            Err(e) => {
                self.sessions.remove(&id);
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
            .map_or(0, |i| i.saturating_add(1));
        out.nodes_mut().insert(at, Node::Element(init));
        self.out.send(out);
        Ok(id)
    }

    /// Opens established offline session `id` with `peer`.
    fn open_offline(
        &mut self,
        peer: &Jid,
        id: &SessionId,
        role: Role,
        offline: OfflineRole,
        est: Established,
        now: Timestamp,
    ) {
        let mut common = Common {
            peer: Peer::Bound(peer.clone()),
            id: id.clone(),
            role,
            offline: Some(offline),
            deadline: None,
        };
        let state = adopt(&mut common, est, now, &mut self.out);
        self.sessions.insert(id.clone(), Session { common, state });
    }

    /// Alice: an offline init (`<init/>` with a submit form) from `from` for session `id`.
    /// Returns whether it was accepted (its session now open); a refusal is reported as a
    /// `Failed` event and never answered (profile P11).
    pub(super) fn offline_init(
        &mut self,
        from: &Jid,
        id: &SessionId,
        x: &Element,
        now: Timestamp,
    ) -> bool {
        let refused = |error: Error| Event::Failed {
            peer: from.clone(),
            session: id.clone(),
            error: refusal(error),
        };
        // The accept policy (who may open a session with us, XEP-0155 §4.3) holds for an
        // offline init too; its refusal is silent like the others of profile P11.
        if !self.core.config.accept.allows(id.peer().as_str()) {
            self.out.event(refused(Rejected::NotAllowed.into()));
            return false;
        }
        let taken = self.sessions.contains_key(id);
        let opened = open_init(x, &self.offline.sets, taken, &mut self.core.ctx(from, now));
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                self.out.event(refused(e));
                return false;
            }
        };
        let Some(set) = self.offline.sets.get_mut(opened.set) else {
            self.out.event(refused(PeerMisbehaved::NoOfflineSet.into()));
            return false;
        };
        // Profile P11 "Replay storage": stored atomically while the set is stored; a
        // withdrawn set remembers in memory only.
        if !self.offline.withdrawn.contains(&set.kind) {
            let core = &mut self.core;
            let stored = core.store.accept_offline_init(
                core.own_bare.as_str(),
                set.kind,
                &set.nonce,
                &opened.record,
            );
            let refusal = match stored {
                Ok(true) => None,
                Ok(false) => Some(refused(
                    PeerMisbehaved::OfflineReplay(Replay::Accepted).into(),
                )),
                Err(e) => Some(refused(e.into())),
            };
            if let Some(event) = refusal {
                self.out.event(event);
                return false;
            }
        }
        set.accepted.push(opened.record);
        let role = OfflineRole::Received;
        self.open_offline(from, id, Role::Initiator, role, opened.established, now);
        true
    }
}

/// Profile P11: offline options or an offline init that break a rule are refused, never
/// answered: a rule the peer broke there is a refusal ([`Rejected::Offline`]); a store
/// or usage failure stays what it is.
fn refusal(error: Error) -> Error {
    match error {
        Error::PeerMisbehaved(rule) => Rejected::Offline(rule).into(),
        other => other,
    }
}
