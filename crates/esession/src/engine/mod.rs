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
pub(crate) mod gajim_tests;
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
mod sealed;
#[cfg(all(test, feature = "test-util"))]
mod sealed_tests;
mod session;
mod shared;
#[cfg(all(test, feature = "test-util"))]
mod snapshot_tests;
mod summary;
#[cfg(test)]
pub(crate) mod tests;

use crate::compat::{Compat, PeerClient};
use crate::config::{Config, StanzaKind};
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::{ct_eq, DhPool};
use crate::error::{Error, Usage};
use crate::event::{Event, Role, SessionInfo};
use crate::negotiation::initiator::Offer;
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::random::Random;
use crate::session_id::SessionId;
use crate::store::{SecretId, SecretStore};
use crate::thread::new_thread_id;
use crate::time::Timestamp;
use crate::warning::Warning;
use crate::xml::{ns, Element};
use jid::{BareJid, FullJid, Jid};
use offline::OfflineSets;
use outgoing::Request;
use sealed::Outgoing;
use session::{key, Common, Peer, Session, State};
use shared::{Core, Outbox};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Blocks kept in reserve under each key so that a terminate can still be sent when data
/// may no longer be (profile P9, XEP-0200 §11.4).
const TERMINATE_RESERVE_BLOCKS: u128 = 64;

/// The ESession engine for one account (sans-IO).
///
/// ```
/// use esession::{BareJid, Config, Engine, Event, FullJid, MemoryStore, OsRandom, Timestamp};
/// let now = Timestamp::now();
/// // JIDs are typed: parsed and normalized (RFC 7622) once, at the edge.
/// let (alice_jid, bob_jid) = (FullJid::new("alice@example.org/pda")?,
///                             FullJid::new("bob@example.com/laptop")?);
/// // Randomness is injected: `OsRandom` is the operating system's CSPRNG, the one to use.
/// let mut alice = Engine::new(alice_jid, Config::default(), MemoryStore::new(),
///                             Box::new(OsRandom));
/// let mut bob = Engine::new(bob_jid, Config::default(), MemoryStore::new(),
///                           Box::new(OsRandom));
/// // `start` returns the session's handle, which every later call and event names it by.
/// let session = alice.start(&BareJid::new("bob@example.com")?.into(), now)?;
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
/// assert_eq!(a.id, session);
/// // Bob names the same session by his own handle: Alice's bare JID and the thread.
/// assert_eq!((b.id.peer().as_str(), b.id.thread()), ("alice@example.org", session.thread()));
/// alice.send_message(&session, "hello")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Engine<S: SecretStore> {
    /// What the sessions share.
    core: Core<S>,
    /// What they produce, until polled.
    out: Outbox,
    sessions: HashMap<SessionId, Session>,
    /// Our offline option sets (XEP-0187, profile P11).
    offline: OfflineSets,
    /// Who may open a negotiation now (issue 11 §3, `Config::flood`).
    admission: admission::Admission,
    /// The sender of the last stanza received, parsed.
    last_sender: inbound::LastSender,
}

impl<S: SecretStore> Engine<S> {
    /// An engine for account `own` (our full JID), negotiating per `config`, keeping
    /// retained secrets in `store`, drawing randomness from `rng`.
    pub fn new(own: FullJid, config: Config, store: S, rng: Box<dyn Random>) -> Self {
        Engine {
            core: Core::new(own, config, store, rng),
            out: Outbox::default(),
            sessions: HashMap::new(),
            offline: OfflineSets::default(),
            admission: admission::Admission::default(),
            last_sender: inbound::LastSender::default(),
        }
    }

    /// A copy of this engine in its present state (sessions, keys, counters, queues,
    /// store, the pairs of its DH pool, detached from the original's), drawing randomness
    /// from `rng` from now on (feature `test-util`: for fuzzing and tests, which start
    /// many runs from one captured state). Never for real sessions: two engines holding
    /// the same keys and counters would encrypt different stanzas under the same
    /// keystream and accept each other's replays. Secrets in the copy are wiped on drop
    /// like the originals. A session compressing with zlib cannot be copied with its
    /// stream state: in the copy, it refuses to send and receive data (profile P9: a
    /// failed stream is never used again).
    #[cfg(feature = "test-util")]
    pub fn snapshot(&self, rng: Box<dyn Random>) -> Self
    where
        S: Clone,
    {
        Engine {
            core: self.core.snapshot(rng),
            out: self.out.clone(),
            sessions: self.sessions.clone(),
            offline: self.offline.clone(),
            admission: self.admission.clone(),
            last_sender: self.last_sender.clone(),
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
    pub fn own_jid(&self) -> &FullJid {
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

    /// Sets the other shared secret used with the contact `peer` (XEP-0116 §4.7.3; profile
    /// P1: the UTF-8 octets of its NFC normalization). `None` removes it.
    pub fn set_other_shared_secret(&mut self, peer: &BareJid, passphrase: Option<&str>) {
        use unicode_normalization::UnicodeNormalization;
        match passphrase {
            Some(p) => {
                let nfc: String = p.nfc().collect();
                self.core
                    .oss
                    .insert(peer.clone(), Zeroizing::new(nfc.into_bytes()));
            }
            None => {
                self.core.oss.remove(peer);
            }
        }
    }

    /// Sets the compatibility mode toward `peer` (issue 13), overriding
    /// [`Config::compat`]; `None` removes the override. Sessions already established keep
    /// their mode.
    pub fn set_compat(&mut self, peer: &BareJid, compat: Option<Compat>) {
        match compat {
            Some(c) => self.core.compat.insert(peer.clone(), c),
            None => self.core.compat.remove(peer),
        };
    }

    /// Tells the engine what the adapter learnt of the client at resource `peer` (its
    /// XEP-0115 caps node or XEP-0092 version): under [`Compat::Auto`] a negotiation we
    /// start with that resource uses the Gajim mode when its latest sign was Gajim's
    /// (issue 13 §1), whatever the contact's other resources run; one started with the
    /// bare JID only when every resource with a sign showed Gajim's. Returns whether this
    /// sign is Gajim's.
    pub fn note_peer_client(&mut self, peer: &FullJid, client: PeerClient<'_>) -> bool {
        let gajim = client.is_gajim();
        self.core.peer_clients.insert(peer.clone(), gajim);
        gajim
    }

    /// Forgets what was learnt of the client at resource `peer`: it went unavailable, or
    /// its client is unknown now, which means the profile (issue 13 §1, docs/gajim.md).
    pub fn forget_peer_client(&mut self, peer: &FullJid) {
        self.core.peer_clients.remove(peer);
    }

    /// Starts a negotiation with `peer` (bare or full JID): queues message 1 and returns
    /// the new session, on a new thread (XEP-0201).
    pub fn start(&mut self, peer: &Jid, now: Timestamp) -> Result<SessionId, Error> {
        self.core.tick(now);
        let core = &mut self.core;
        let dialect = core.initiator_dialect(peer);
        let config = dialect.config(&core.config, true).map_err(Usage::Compat)?;
        let (offer, x) = Offer::new(
            &config,
            peer.as_str(),
            core.rng.as_mut(),
            core.dh_pool.as_ref(),
            core.identity_key.as_ref(),
            dialect,
        )?;
        let thread = new_thread_id(core.rng.as_mut());
        self.out.send(negotiation_message(
            peer.as_str(),
            &thread,
            Wrapper::Feature,
            x,
            true,
        ));
        let id = key(peer, &thread);
        let common = Common {
            peer: Peer::Addressed(peer.clone()),
            id: id.clone(),
            role: Role::Initiator,
            offline: None,
            deadline: core.deadline(now),
        };
        let state = State::Offered(Box::new(offer));
        self.sessions.insert(id.clone(), Session { common, state });
        Ok(id)
    }

    /// The next stanza to send, if any.
    pub fn poll_outgoing(&mut self) -> Option<Element> {
        self.out.next_stanza()
    }

    /// The next stanza to send, if any, as the text a connection writes: the P9
    /// serialization of the element [`Engine::poll_outgoing`] would give (its `Display`).
    /// An encrypted stanza is written straight from its parts, base64 included, without
    /// building its element tree.
    pub fn poll_outgoing_text(&mut self) -> Option<String> {
        self.out.next_stanza_text()
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
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.common.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(Session { common, state }) = self.sessions.remove(&key) else {
                continue;
            };
            let (peer, id) = (common.peer(), &common.id);
            if let State::Terminating(_) = state {
                let detail = Warning::TerminateUnacknowledged;
                self.out.warn(peer, Some(id), detail);
                self.out.event(outgoing::terminated(peer, id));
            } else {
                let gajim_stall = matches!(&state, State::AwaitingInit(a) if a.gajim_b1());
                self.out.event(Event::Failed {
                    peer: peer.clone(),
                    session: id.clone(),
                    error: Error::Timeout {
                        seconds: self.core.config.negotiation_timeout,
                        gajim_stall,
                    },
                });
            }
        }
    }

    /// A summary of session `id`, once established.
    pub fn session(&self, id: &SessionId) -> Option<SessionInfo> {
        self.sessions
            .get(id)
            .and_then(|s| Some(s.common.info(&s.state.open()?.summary)))
    }

    /// Whether negotiation `id`, which we started in the Gajim mode, waits for a message 4
    /// that Gajim's known bug B1 will never send: Gajim drew a counter C_A whose first
    /// octet is 0x00 or 0x80, which Gajim 1.0 cannot handle (about 1 session in 128 that
    /// Gajim answers; issue 13). When such a negotiation times out, say so: trying again
    /// draws a new counter.
    pub fn stalled_by_gajim_bug(&self, id: &SessionId) -> bool {
        matches!(
            self.sessions.get(id).map(|s| &s.state),
            Some(State::AwaitingInit(a)) if a.gajim_b1()
        )
    }

    /// Every established session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions
            .values()
            .filter_map(|s| Some(s.common.info(&s.state.open()?.summary)))
            .collect()
    }

    /// Every session, in any state.
    pub fn session_ids(&self) -> Vec<SessionId> {
        self.sessions.keys().cloned().collect()
    }

    /// Sends `body` in session `id`: encrypted in an ESession (XEP-0200 §6, profile P9),
    /// in clear in a plain stanza session.
    pub fn send_message(&mut self, id: &SessionId, body: &str) -> Result<(), Error> {
        self.send_request(id, Request::Chat(body))
    }

    /// Sends a `<message type='chat'/>` whose children are `content` in session `id`
    /// (encrypted in an ESession, but for what XEP-0200 §5 keeps in clear,
    /// [`stanza::stays_clear`]: a `<thread/>` in `content` gives way to the session's, an
    /// `<error/>` or AMP rules travel in clear, and the receiver does not deliver them).
    ///
    /// [`stanza::stays_clear`]: crate::stanza::stays_clear
    pub fn send_content(&mut self, id: &SessionId, content: Vec<Element>) -> Result<(), Error> {
        self.send_stanza(id, crate::stanza::chat(content))
    }

    /// Sends `stanza` (a `<message/>`, `<presence/>` or `<iq/>` in `jabber:client`, with
    /// its own attributes such as `type` and `id`) in session `id`.
    /// The engine addresses it and adds the `<thread/>`; in an ESession every child except
    /// `<thread/>`, `<amp/>` and `<error/>` is encrypted (XEP-0200 §5, profile P9), and only
    /// stanza kinds negotiated in `stanzas` may be sent.
    pub fn send_stanza(&mut self, id: &SessionId, stanza: Element) -> Result<(), Error> {
        self.send_request(id, Request::Stanza(stanza))
    }

    fn send_request(&mut self, id: &SessionId, request: Request<'_>) -> Result<(), Error> {
        let built = self.build_stanza(id, request)?;
        self.out.send_built(built);
        Ok(())
    }

    /// The stanza [`Engine::send_stanza`] sends, built but not queued.
    fn build_stanza(&mut self, id: &SessionId, request: Request<'_>) -> Result<Outgoing, Error> {
        let kind = request.kind()?;
        let s = find_session(&mut self.sessions, id)?;
        let built = s.seal_stanza(kind, request, &mut self.core, &mut self.out);
        if let Err(e) = &built {
            if *e == Error::Usage(Usage::KeyExhausted) {
                // Profile P9: the key cannot be replaced in time (re-keying is off, or
                // rekey_freq forbids a <key/> now), so end the session; the caller
                // renegotiates. Its acknowledgement is awaited as any terminate's (P10):
                // without a deadline a lost one kept the keys for the engine's life.
                let deadline = self.core.deadline(self.core.clock);
                self.end(id, deadline)?;
            }
        }
        built
    }

    /// Ends session `id` (XEP-0116 §5, profile P10): an encrypted
    /// terminate for an ESession, a clear one for a plain session, a cancel (XEP-0155
    /// \[5\]) for a negotiation in progress.
    /// The acknowledgement is awaited until the negotiation timeout after `now`.
    pub fn terminate(&mut self, id: &SessionId, now: Timestamp) -> Result<(), Error> {
        self.core.tick(now);
        let deadline = self.core.deadline(now);
        self.end(id, deadline)
    }

    /// Ends the session, awaiting the acknowledgement until `deadline` (see
    /// [`Session::terminate`]).
    fn end(&mut self, id: &SessionId, deadline: Option<Timestamp>) -> Result<(), Error> {
        find_session(&mut self.sessions, id)?;
        let Some(session) = self.sessions.remove(id) else {
            return Ok(());
        };
        let (next, result) = session.terminate(deadline, &mut self.out);
        if let Some(next) = next {
            self.sessions.insert(id.clone(), next);
        }
        result
    }

    /// Terminates every session (XEP-0116 §5: before going offline).
    pub fn terminate_all(&mut self, now: Timestamp) {
        for id in self.session_ids() {
            let _ = self.terminate(&id, now);
        }
    }

    /// Compares the SAS a person read from the peer with ours (constant time). A match
    /// marks the session and its retained secret verified (XEP-0116 §7.3); a mismatch
    /// returns `false`, a possible man in the middle, and the session is no longer
    /// reported verified (found in review: it kept the flag of an earlier comparison or
    /// of its chain). The stored flag of the chain and the trust of keys stay as they are.
    pub fn verify_sas(&mut self, id: &SessionId, heard: &str) -> Result<bool, Error> {
        let s = find_session(&mut self.sessions, id)?;
        let open = s
            .state
            .open_mut()
            .ok_or(Usage::WrongState("not established"))?;
        let ours = open.summary.sas.as_ref().ok_or(Usage::NoSas)?.as_str();
        let heard = heard.trim().to_lowercase();
        let matched = ct_eq(ours.as_bytes(), heard.as_bytes());
        open.summary.verified = matched;
        if !matched {
            return Ok(false);
        }
        if open.retained {
            // Profile P7: the record of this session's JIDs.
            let peer = s.common.peer();
            let id = SecretId::new(self.core.own_bare.as_str(), &peer.to_bare(), peer.as_str());
            self.core.store.mark_verified(&id)?;
        }
        Ok(true)
    }

    /// The engine's clock (tests of the idle re-key).
    #[cfg(test)]
    pub(crate) fn clock(&self) -> Timestamp {
        self.core.clock
    }

    #[cfg(test)]
    pub(crate) fn channel_mut(&mut self, id: &SessionId) -> Option<&mut crate::channel::Channel> {
        match &mut find_session(&mut self.sessions, id).ok()?.state {
            State::Encrypted(secure) => Some(&mut secure.channel),
            _ => None,
        }
    }
}

/// Session `id`, or the usage error naming it.
fn find_session<'a>(
    sessions: &'a mut HashMap<SessionId, Session>,
    id: &SessionId,
) -> Result<&'a mut Session, Error> {
    sessions.get_mut(id).ok_or_else(|| {
        Usage::NoSuchSession {
            peer: id.peer().to_string(),
            thread: id.thread().to_owned(),
        }
        .into()
    })
}

/// The XEP-0200 §5 kind of a `jabber:client` stanza.
pub(crate) fn stanza_kind(stanza: &Element) -> Option<StanzaKind> {
    if stanza.ns() != ns::JABBER_CLIENT {
        return None;
    }
    StanzaKind::from_name(stanza.name())
}
