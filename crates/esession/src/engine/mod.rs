//! The engine: a value you feed stanzas and time, and drain stanzas and events.
//!
//! It only routes (XEP-0201: by the peer's bare JID and the thread; an encrypted iq by its
//! sender): each received stanza is decoded once (`inbound`) and handed to its
//! session's state machine (`session`), which steps with what the sessions share
//! (`shared::Core`) and writes what it produces to the `shared::Outbox`.
mod admission;
#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod full_tests;
#[cfg(test)]
mod gajim_tests;
mod inbound;
mod negotiate;
mod offline;
#[cfg(test)]
mod offline_tests;
mod outgoing;
mod receive;
mod rekey;
#[cfg(test)]
mod rekey_tests;
mod renegotiate;
mod router;
mod session;
mod shared;
#[cfg(test)]
pub(crate) mod tests;

use crate::compat::{Compat, PeerClient};
use crate::config::{Config, StanzaKind};
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::{ct_eq, DhPool};
use crate::error::{Error, ErrorKind, Violation};
use crate::event::{Event, Role, SessionInfo};
use crate::jid;
use crate::negotiation::initiator::Offer;
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::random::Random;
use crate::store::SecretStore;
use crate::thread::new_thread_id;
use crate::time::Timestamp;
use crate::xml::{ns, Element};
use offline::OfflineSets;
use session::{key, Common, Key, Peer, Session, State};
use shared::{Core, Outbox};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Blocks kept in reserve under each key so that a terminate can still be sent when data
/// may no longer be (profile P9, XEP-0200 §11.4).
const TERMINATE_RESERVE_BLOCKS: u128 = 64;

/// The ESession engine for one account (sans-IO).
///
/// ```
/// use esession::{Config, Engine, Event, MemoryStore, OsRandom, Timestamp};
/// let now = Timestamp::now();
/// // Randomness is injected: `OsRandom` is the operating system's CSPRNG, the one to use.
/// let mut alice = Engine::new("alice@example.org/pda", Config::default(), MemoryStore::new(),
///                             Box::new(OsRandom));
/// let mut bob = Engine::new("bob@example.com/laptop", Config::default(), MemoryStore::new(),
///                           Box::new(OsRandom));
/// let thread = alice.start("bob@example.com", now).unwrap();
/// // Shuttle stanzas between the two engines (a server would stamp `from`).
/// loop {
///     let mut moved = false;
///     while let Some(mut s) = alice.poll_outgoing() {
///         s.set_attr("from", "alice@example.org/pda");
///         bob.handle_stanza(s, now);
///         moved = true;
///     }
///     while let Some(mut s) = bob.poll_outgoing() {
///         s.set_attr("from", "bob@example.com/laptop");
///         alice.handle_stanza(s, now);
///         moved = true;
///     }
///     if !moved { break; }
/// }
/// let Some(Event::Established(a)) = alice.poll_event() else { panic!() };
/// let Some(Event::Established(b)) = bob.poll_event() else { panic!() };
/// assert_eq!(a.sas, b.sas);
/// alice.send_message("bob@example.com/laptop", &thread, "hello").unwrap();
/// ```
pub struct Engine<S: SecretStore> {
    /// What the sessions share.
    core: Core<S>,
    /// What they produce, until polled.
    out: Outbox,
    sessions: HashMap<Key, Session>,
    /// Our offline option sets (XEP-0187, profile P11).
    offline: OfflineSets,
    /// Who may open a negotiation now (issue 11 §3, `Config::flood`).
    admission: admission::Admission,
}

impl<S: SecretStore> Engine<S> {
    /// An engine for account `own` (our full JID), negotiating per `config`, keeping
    /// retained secrets in `store`, drawing randomness from `rng`.
    pub fn new(own: &str, config: Config, store: S, rng: Box<dyn Random>) -> Self {
        Engine {
            core: Core::new(own, config, store, rng),
            out: Outbox::default(),
            sessions: HashMap::new(),
            offline: OfflineSets::default(),
            admission: admission::Admission::default(),
        }
    }

    /// Sets the account's identity key, presented in `key` and `hash` identifications
    /// (XEP-0116 §4.5.4, profile P8). `None` removes it.
    pub fn set_identity_key(&mut self, key: Option<IdentityKey>) {
        self.core.identity_key = key;
    }

    /// The identity key set by [`Engine::set_identity_key`].
    pub fn identity_key(&self) -> Option<&IdentityKey> {
        self.core.identity_key.as_ref()
    }

    /// Takes Diffie–Hellman values from `pool` (precomputed, for example by
    /// [`DhPool::spawn_filler`]) when starting or answering a negotiation; values the
    /// pool lacks are computed as usual. `None` removes the pool.
    pub fn set_dh_pool(&mut self, pool: Option<DhPool>) {
        self.core.dh_pool = pool;
    }

    /// The pool set by [`Engine::set_dh_pool`].
    pub fn dh_pool(&self) -> Option<&DhPool> {
        self.core.dh_pool.as_ref()
    }

    /// Our full JID.
    pub fn own_jid(&self) -> &str {
        &self.core.own
    }

    /// The negotiation policy.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// Sets the XEP-0136 archiving preferences the `logging` offers and answers follow
    /// from now on (`Config::archive_prefs`); sessions already negotiated keep their terms.
    pub fn set_archive_prefs(&mut self, prefs: Option<crate::archive::Prefs>) {
        self.core.config.archive_prefs = prefs;
    }

    /// The secret store.
    pub fn store(&self) -> &S {
        &self.core.store
    }

    /// The secret store, mutably.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.core.store
    }

    /// Sets the other shared secret used with `peer_bare` (XEP-0116 §4.7.3; profile P1:
    /// the UTF-8 octets of its NFC normalization). `None` removes it.
    pub fn set_other_shared_secret(&mut self, peer_bare: &str, passphrase: Option<&str>) {
        use unicode_normalization::UnicodeNormalization;
        match passphrase {
            Some(p) => {
                let nfc: String = p.nfc().collect();
                self.core
                    .oss
                    .insert(peer_bare.to_owned(), Zeroizing::new(nfc.into_bytes()));
            }
            None => {
                self.core.oss.remove(peer_bare);
            }
        }
    }

    /// Sets the compatibility mode toward `peer_bare` (issue 13), overriding
    /// [`Config::compat`]; `None` removes the override. Sessions already established keep
    /// their mode.
    pub fn set_compat(&mut self, peer_bare: &str, compat: Option<Compat>) {
        let bare = jid::bare(peer_bare).to_owned();
        match compat {
            Some(c) => self.core.compat.insert(bare, c),
            None => self.core.compat.remove(&bare),
        };
    }

    /// Tells the engine what the adapter learnt of `peer`'s client (its XEP-0115 caps
    /// node or XEP-0092 version): under [`Compat::Auto`] a negotiation we start with a
    /// peer whose latest sign was Gajim's uses the Gajim mode (issue 13 §1). Returns
    /// whether this sign is Gajim's.
    pub fn note_peer_client(&mut self, peer: &str, client: PeerClient<'_>) -> bool {
        let bare = jid::bare(peer).to_owned();
        let gajim = client.is_gajim();
        if gajim {
            self.core.gajim_clients.insert(bare);
        } else {
            self.core.gajim_clients.remove(&bare);
        }
        gajim
    }

    /// Starts a negotiation with `peer` (bare or full JID): queues message 1 and returns
    /// the new thread (XEP-0201).
    pub fn start(&mut self, peer: &str, now: Timestamp) -> Result<String, Error> {
        self.core.tick(now);
        let core = &mut self.core;
        let dialect = core.initiator_dialect(peer);
        let config = dialect.config(&core.config, true).map_err(Error::usage)?;
        let (offer, x) = Offer::new(
            &config,
            peer,
            core.rng.as_mut(),
            core.dh_pool.as_ref(),
            core.identity_key.as_ref(),
            dialect,
        )
        .map_err(Error::usage)?;
        let thread = new_thread_id(core.rng.as_mut());
        self.out.send(negotiation_message(
            peer,
            &thread,
            Wrapper::Feature,
            x,
            true,
        ));
        let common = Common {
            peer: Peer::Addressed(peer.to_owned()),
            thread: thread.clone(),
            role: Role::Initiator,
            offline: None,
            deadline: core.deadline(now),
        };
        let state = State::Offered(Box::new(offer));
        self.sessions
            .insert(key(peer, &thread), Session { common, state });
        Ok(thread)
    }

    /// The next stanza to send, if any.
    pub fn poll_outgoing(&mut self) -> Option<Element> {
        self.out.next_stanza()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.next_event()
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Timestamp> {
        self.sessions
            .values()
            .filter_map(|s| s.common.deadline)
            .min()
    }

    /// Ends every wait whose deadline has passed: unanswered negotiations fail with a
    /// timeout; unacknowledged terminates end.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.core.tick(now);
        let due: Vec<Key> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.common.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(Session { common, state }) = self.sessions.remove(&key) else {
                continue;
            };
            let (peer, thread) = (common.peer(), common.thread.as_str());
            if let State::Terminating(_) = state {
                let detail = "terminate was not acknowledged in time";
                self.out.warn(peer, Some(thread), detail);
                self.out.event(outgoing::terminated(peer, thread));
            } else {
                let v = Violation::TimedOut(self.core.config.negotiation_timeout);
                self.out.event(Event::Failed {
                    peer: peer.to_owned(),
                    thread: thread.to_owned(),
                    error: Error::new(ErrorKind::Timeout, v),
                });
            }
        }
    }

    /// A summary of the session with `peer` on `thread`, once established.
    pub fn session(&self, peer: &str, thread: &str) -> Option<SessionInfo> {
        self.sessions
            .get(&key(peer, thread))
            .and_then(|s| s.state.open())
            .map(|o| o.info.clone())
    }

    /// Every established session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions
            .values()
            .filter_map(|s| s.state.open())
            .map(|o| o.info.clone())
            .collect()
    }

    /// Every (peer, thread) with a session in any state.
    pub fn threads(&self) -> Vec<(String, String)> {
        self.sessions
            .values()
            .map(|s| (s.common.peer().to_owned(), s.common.thread.clone()))
            .collect()
    }

    /// Sends `body` in the session with `peer` on `thread`: encrypted in an ESession
    /// (XEP-0200 §6, profile P9), in clear in a plain stanza session.
    pub fn send_message(&mut self, peer: &str, thread: &str, body: &str) -> Result<(), Error> {
        self.send_content(
            peer,
            thread,
            vec![Element::new("body", ns::JABBER_CLIENT).with_text(body)],
        )
    }

    /// Sends a `<message type='chat'/>` whose children are `content` in the session with
    /// `peer` on `thread` (encrypted in an ESession).
    pub fn send_content(
        &mut self,
        peer: &str,
        thread: &str,
        content: Vec<Element>,
    ) -> Result<(), Error> {
        let mut msg = Element::new("message", ns::JABBER_CLIENT).with_attr("type", "chat");
        for c in content {
            msg.push(c);
        }
        self.send_stanza(peer, thread, msg)
    }

    /// Sends `stanza` (a `<message/>`, `<presence/>` or `<iq/>` in `jabber:client`, with
    /// its own attributes such as `type` and `id`) in the session with `peer` on `thread`.
    /// The engine addresses it and adds the `<thread/>`; in an ESession every child except
    /// `<thread/>`, `<amp/>` and `<error/>` is encrypted (XEP-0200 §5, profile P9), and only
    /// stanza kinds negotiated in `stanzas` may be sent.
    pub fn send_stanza(&mut self, peer: &str, thread: &str, stanza: Element) -> Result<(), Error> {
        let out = self.build_stanza(peer, thread, stanza)?;
        self.out.send(out);
        Ok(())
    }

    /// The stanza [`Engine::send_stanza`] sends, built but not queued.
    fn build_stanza(
        &mut self,
        peer: &str,
        thread: &str,
        stanza: Element,
    ) -> Result<Element, Error> {
        let kind =
            stanza_kind(&stanza).ok_or(Error::usage(Violation::UnexpectedMessage(format!(
                "<{}/> is not a message, presence or iq stanza",
                stanza.name()
            ))))?;
        let s = find_session(&mut self.sessions, peer, thread)?;
        let built = s.seal_stanza(kind, stanza, &mut self.core, &mut self.out);
        if let Err(e) = &built {
            if *e.violation() == Violation::KeyExhausted {
                // Profile P9: the key cannot be replaced in time (re-keying is off, or
                // rekey_freq forbids a <key/> now), so end the session; the caller
                // renegotiates.
                self.end(peer, thread, None)?;
            }
        }
        built
    }

    /// Ends the session with `peer` on `thread` (XEP-0116 §5, profile P10): an encrypted
    /// terminate for an ESession, a clear one for a plain session, a cancel (XEP-0155
    /// \[5\]) for a negotiation in progress.
    /// The acknowledgement is awaited until the negotiation timeout after `now`.
    pub fn terminate(&mut self, peer: &str, thread: &str, now: Timestamp) -> Result<(), Error> {
        self.core.tick(now);
        let deadline = self.core.deadline(now);
        self.end(peer, thread, deadline)
    }

    /// Ends the session, awaiting the acknowledgement until `deadline` (see
    /// [`Session::terminate`]).
    fn end(&mut self, peer: &str, thread: &str, deadline: Option<Timestamp>) -> Result<(), Error> {
        find_session(&mut self.sessions, peer, thread)?;
        let key = key(peer, thread);
        let Some(session) = self.sessions.remove(&key) else {
            return Ok(());
        };
        let (next, result) = session.terminate(deadline, &mut self.out);
        if let Some(next) = next {
            self.sessions.insert(key, next);
        }
        result
    }

    /// Terminates every session (XEP-0116 §5: before going offline).
    pub fn terminate_all(&mut self, now: Timestamp) {
        for (peer, thread) in self.threads() {
            let _ = self.terminate(&peer, &thread, now);
        }
    }

    /// Compares the SAS a person read from the peer with ours (constant time). A match
    /// marks the session and its retained secret verified (XEP-0116 §7.3); a mismatch
    /// returns `false`: a possible man in the middle.
    pub fn verify_sas(&mut self, peer: &str, thread: &str, heard: &str) -> Result<bool, Error> {
        let s = find_session(&mut self.sessions, peer, thread)?;
        let open = s
            .state
            .open_mut()
            .ok_or(Error::usage(Violation::WrongState("not established")))?;
        let ours = open
            .info
            .sas
            .clone()
            .ok_or(Error::usage(Violation::WrongState(
                "without a SAS (plain, or negotiated in 3 messages)",
            )))?;
        let heard = heard.trim().to_lowercase();
        if !ct_eq(ours.as_bytes(), heard.as_bytes()) {
            return Ok(false);
        }
        open.info.verified = true;
        if let Some(id) = &open.secret_id {
            self.core.store.mark_verified(id)?;
        }
        Ok(true)
    }

    /// The engine's clock (tests of the idle re-key).
    #[cfg(test)]
    pub(crate) fn clock(&self) -> Timestamp {
        self.core.clock
    }

    #[cfg(test)]
    pub(crate) fn channel_mut(
        &mut self,
        peer: &str,
        thread: &str,
    ) -> Option<&mut crate::channel::Channel> {
        match &mut find_session(&mut self.sessions, peer, thread).ok()?.state {
            State::Encrypted(secure) => Some(&mut secure.channel),
            _ => None,
        }
    }
}

/// The session with `peer` (bare, or the full JID it is bound to) on `thread`.
fn find_session<'a>(
    sessions: &'a mut HashMap<Key, Session>,
    peer: &str,
    thread: &str,
) -> Result<&'a mut Session, Error> {
    match sessions.get_mut(&key(peer, thread)) {
        Some(s) if !jid::is_full(peer) || s.common.peer() == peer => Ok(s),
        _ => Err(Error::usage(Violation::NoSuchSession {
            peer: peer.into(),
            thread: thread.into(),
        })),
    }
}

/// The XEP-0200 §5 kind of a `jabber:client` stanza.
pub(crate) fn stanza_kind(stanza: &Element) -> Option<StanzaKind> {
    if stanza.ns() != ns::JABBER_CLIENT {
        return None;
    }
    StanzaKind::from_name(stanza.name())
}
