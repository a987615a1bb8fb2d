//! What every session shares ([`Core`]) and where everything they produce goes
//! ([`Outbox`]): the engine lends both to a session's state for each step.
use super::sealed::Outgoing;
use crate::compat::gajim::{self, Dialect};
use crate::compat::Compat;
use crate::config::Config;
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::DhPool;
use crate::error::Condition;
use crate::event::Event;
use crate::forms::Form;
use crate::negotiation::context::Ctx;
use crate::negotiation::stanza::error_reply;
use crate::random::Random;
use crate::session_id::SessionId;
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::warning::Warning;
use crate::xml::{Element, Limits};
use jid::{BareJid, FullJid, Jid};
use std::collections::{HashMap, VecDeque};
use zeroize::Zeroizing;

/// The account's shared resources: policy, secrets, randomness and the clock.
pub(super) struct Core<S> {
    /// Our full JID.
    pub(super) own: FullJid,
    /// Our bare JID.
    pub(super) own_bare: BareJid,
    pub(super) config: Config,
    pub(super) store: S,
    pub(super) rng: Box<dyn Random>,
    /// The other shared secret per peer bare JID (XEP-0116 §4.7.3, profile P1).
    pub(super) oss: HashMap<BareJid, Zeroizing<Vec<u8>>>,
    /// Limits on decrypted XML (profile P9).
    pub(super) limits: Limits,
    pub(super) dh_pool: Option<DhPool>,
    pub(super) identity_key: Option<IdentityKey>,
    /// The latest time given to the engine (for the idle re-key of XEP-0200 §11.4).
    pub(super) clock: Timestamp,
    /// Per-contact compatibility settings by bare JID (issue 13).
    pub(super) compat: HashMap<BareJid, Compat>,
    /// Per resource, whether the latest sign of its client was Gajim's (issue 13 §1).
    pub(super) peer_clients: HashMap<FullJid, bool>,
}

impl<S: SecretStore> Core<S> {
    pub(super) fn new(own: FullJid, config: Config, store: S, rng: Box<dyn Random>) -> Self {
        Core {
            own_bare: own.to_bare(),
            own,
            config,
            store,
            rng,
            oss: HashMap::new(),
            limits: Limits::default(),
            dh_pool: None,
            identity_key: None,
            clock: Timestamp::default(),
            compat: HashMap::new(),
            peer_clients: HashMap::new(),
        }
    }

    /// A copy with `rng` as its generator (see `Engine::snapshot`).
    #[cfg(feature = "test-util")]
    pub(super) fn snapshot(&self, rng: Box<dyn Random>) -> Self
    where
        S: Clone,
    {
        Core {
            own: self.own.clone(),
            own_bare: self.own_bare.clone(),
            config: self.config.clone(),
            store: self.store.clone(),
            rng,
            oss: self.oss.clone(),
            limits: self.limits,
            dh_pool: self.dh_pool.as_ref().map(DhPool::detached_copy),
            identity_key: self.identity_key.clone(),
            clock: self.clock,
            compat: self.compat.clone(),
            peer_clients: self.peer_clients.clone(),
        }
    }

    /// The compatibility setting for `peer`.
    pub(super) fn compat_of(&self, peer: &BareJid) -> Compat {
        self.compat.get(peer).copied().unwrap_or(self.config.compat)
    }

    /// The wire of a negotiation we start with `peer` (issue 13 §1: under `Auto`, Gajim's
    /// dialect only when its client showed Gajim's signs).
    pub(super) fn initiator_dialect(&self, peer: &Jid) -> Dialect {
        match self.compat_of(&peer.to_bare()) {
            Compat::Gajim => Dialect::Gajim,
            Compat::Strict => Dialect::Profile,
            Compat::Auto if self.shows_gajim(peer) => Dialect::Gajim,
            Compat::Auto => Dialect::Profile,
        }
    }

    /// Whether `peer` showed Gajim's signs (issue 13 §1): a resource by its own latest
    /// sign; a bare JID only when some resource showed one and every resource's latest was
    /// Gajim's, since the server, not we, picks the resource a request to it reaches.
    fn shows_gajim(&self, peer: &Jid) -> bool {
        match peer.try_as_full() {
            Ok(full) => self.peer_clients.get(full).copied().unwrap_or(false),
            Err(bare) => {
                let mut signs = self
                    .peer_clients
                    .iter()
                    .filter(|(j, _)| j.to_bare() == *bare)
                    .map(|(_, gajim)| *gajim)
                    .peekable();
                signs.peek().is_some() && signs.all(|gajim| gajim)
            }
        }
    }

    /// The wire of our answer to request `form` from `peer` on `thread` (issue 13 §1:
    /// under `Auto`, Gajim's dialect only for a request of Gajim's shape).
    pub(super) fn responder_dialect(&self, peer: &Jid, form: &Form, thread: &str) -> Dialect {
        match self.compat_of(&peer.to_bare()) {
            Compat::Gajim => Dialect::Gajim,
            Compat::Strict => Dialect::Profile,
            Compat::Auto if gajim::request_is_gajim(form, thread) => Dialect::Gajim,
            Compat::Auto => Dialect::Profile,
        }
    }

    /// Advances the clock to `now` (it never goes back).
    pub(super) fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now);
    }

    /// When a negotiation step (or a terminate acknowledgement) started at `now` is given up.
    pub(super) fn deadline(&self, now: Timestamp) -> Option<Timestamp> {
        Some(now.plus(self.config.negotiation_timeout))
    }

    /// What a negotiation step with `peer` needs at `now`: the one place it is built.
    pub(super) fn ctx<'a>(&'a mut self, peer: &'a Jid, now: Timestamp) -> Ctx<'a> {
        let peer_bare = peer.to_bare();
        Ctx {
            oss: self.oss.get(&peer_bare).map(|v| v.as_slice()),
            rng: self.rng.as_mut(),
            pool: self.dh_pool.as_ref(),
            store: &mut self.store,
            config: &self.config,
            own_bare: self.own_bare.as_str(),
            peer: peer.as_str(),
            peer_bare,
            now,
            identity: self.identity_key.as_ref(),
        }
    }
}

/// The stanzas to send and the events to report, in order.
#[derive(Default)]
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Outbox {
    stanzas: VecDeque<Outgoing>,
    events: VecDeque<Event>,
}

impl Outbox {
    pub(super) fn send(&mut self, stanza: Element) {
        self.stanzas.push_back(Outgoing::Tree(stanza));
    }

    /// Queues a stanza as built: a tree, or an encrypted stanza in parts, to be taken as a
    /// tree or as text.
    pub(super) fn send_built(&mut self, stanza: Outgoing) {
        self.stanzas.push_back(stanza);
    }

    pub(super) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// A [`Event::Warning`] about `peer` (in `session`, when known).
    pub(super) fn warn(&mut self, peer: &Jid, session: Option<&SessionId>, detail: Warning) {
        self.events.push_back(Event::Warning {
            peer: peer.clone(),
            session: session.cloned(),
            detail,
        });
    }

    /// Profile P10b: the error reply to `received` from `to`, when the policy answers errors.
    pub(super) fn reply_error(
        &mut self,
        config: &Config,
        received: &Element,
        to: &Jid,
        condition: Condition,
        fields: &[&str],
    ) {
        if config.answer_errors {
            self.send(error_reply(received, to.as_str(), condition, fields));
        }
    }

    pub(super) fn next_stanza(&mut self) -> Option<Element> {
        self.stanzas.pop_front().map(Outgoing::into_element)
    }

    pub(super) fn next_stanza_text(&mut self) -> Option<String> {
        self.stanzas.pop_front().map(Outgoing::into_text)
    }

    pub(super) fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
