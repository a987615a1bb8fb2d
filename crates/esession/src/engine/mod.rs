//! The engine: a value you feed stanzas and time, and drain stanzas and events.
#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod full_tests;
mod incoming;
mod offline;
#[cfg(test)]
mod offline_tests;
mod rekey;
#[cfg(test)]
mod rekey_tests;
mod renegotiate;
mod session;
#[cfg(test)]
pub(crate) mod tests;

use crate::config::{Config, Logging, StanzaKind};
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::{ct_eq, DhPool};
use crate::error::{Error, ErrorKind, Violation};
use crate::event::{EndedBy, Event, Role, SessionInfo};
use crate::forms::{Field, Form, FormType};
use crate::jid;
use crate::negotiation::initiator::Offer;
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::random::Random;
use crate::stanza::{clear_extras, message, storage_hints, termination};
use crate::store::SecretStore;
use crate::thread::new_thread_id;
use crate::time::Timestamp;
use crate::xml::{ns, Element, Limits};
use session::{OfflineRole, Session, State};
use std::collections::{HashMap, VecDeque};
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
    own: String,
    own_bare: String,
    config: Config,
    store: S,
    rng: Box<dyn Random>,
    sessions: HashMap<(String, String), Session>,
    outgoing: VecDeque<Element>,
    events: VecDeque<Event>,
    oss: HashMap<String, Zeroizing<Vec<u8>>>,
    limits: Limits,
    dh_pool: Option<DhPool>,
    identity_key: Option<IdentityKey>,
    /// The latest time given to the engine (for the idle re-key of XEP-0200 §11.4).
    clock: Timestamp,
    /// Our offline option sets, as loaded or published (XEP-0187, profile P11).
    offline_sets: Vec<crate::offline::OfflineSet>,
    /// Sets withdrawn from storage but kept here to process the inits delivered now
    /// (profile P11 "Withdrawal").
    withdrawn: Vec<crate::offline::OfflineSetKind>,
}

impl<S: SecretStore> Engine<S> {
    /// An engine for account `own` (our full JID), negotiating per `config`, keeping
    /// retained secrets in `store`, drawing randomness from `rng`.
    pub fn new(own: &str, config: Config, store: S, rng: Box<dyn Random>) -> Self {
        Engine {
            own: own.to_owned(),
            own_bare: jid::bare(own).to_owned(),
            config,
            store,
            rng,
            sessions: HashMap::new(),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            oss: HashMap::new(),
            limits: Limits::default(),
            dh_pool: None,
            identity_key: None,
            clock: Timestamp::default(),
            offline_sets: Vec::new(),
            withdrawn: Vec::new(),
        }
    }

    /// Sets the account's identity key, presented in `key` and `hash` identifications
    /// (XEP-0116 §4.5.4, profile P8). `None` removes it.
    pub fn set_identity_key(&mut self, key: Option<IdentityKey>) {
        self.identity_key = key;
    }

    /// The identity key set by [`Engine::set_identity_key`].
    pub fn identity_key(&self) -> Option<&IdentityKey> {
        self.identity_key.as_ref()
    }

    /// Takes Diffie–Hellman values from `pool` (precomputed, for example by
    /// [`DhPool::spawn_filler`]) when starting or answering a negotiation; values the
    /// pool lacks are computed as usual. `None` removes the pool.
    pub fn set_dh_pool(&mut self, pool: Option<DhPool>) {
        self.dh_pool = pool;
    }

    /// The pool set by [`Engine::set_dh_pool`].
    pub fn dh_pool(&self) -> Option<&DhPool> {
        self.dh_pool.as_ref()
    }

    /// Our full JID.
    pub fn own_jid(&self) -> &str {
        &self.own
    }

    /// The negotiation policy.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the XEP-0136 archiving preferences the `logging` offers and answers follow
    /// from now on (`Config::archive_prefs`); sessions already negotiated keep their terms.
    pub fn set_archive_prefs(&mut self, prefs: Option<crate::archive::Prefs>) {
        self.config.archive_prefs = prefs;
    }

    /// The secret store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The secret store, mutably.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Sets the other shared secret used with `peer_bare` (XEP-0116 §4.7.3; profile P1:
    /// the UTF-8 octets of its NFC normalization). `None` removes it.
    pub fn set_other_shared_secret(&mut self, peer_bare: &str, passphrase: Option<&str>) {
        use unicode_normalization::UnicodeNormalization;
        match passphrase {
            Some(p) => {
                let nfc: String = p.nfc().collect();
                self.oss
                    .insert(peer_bare.to_owned(), Zeroizing::new(nfc.into_bytes()));
            }
            None => {
                self.oss.remove(peer_bare);
            }
        }
    }

    /// Starts a negotiation with `peer` (bare or full JID): queues message 1 and returns
    /// the new thread (XEP-0201).
    pub fn start(&mut self, peer: &str, now: Timestamp) -> Result<String, Error> {
        self.tick(now);
        let (offer, x) = Offer::new(
            &self.config,
            peer,
            self.rng.as_mut(),
            self.dh_pool.as_ref(),
            self.identity_key.as_ref(),
        )
        .map_err(Error::usage)?;
        let thread = new_thread_id(self.rng.as_mut());
        self.outgoing.push_back(negotiation_message(
            peer,
            &thread,
            Wrapper::Feature,
            x,
            true,
        ));
        let session = Session {
            peer: peer.to_owned(),
            bound: false,
            thread: thread.clone(),
            role: Role::Initiator,
            state: State::Offered(Box::new(offer)),
            deadline: Some(now.plus(self.config.negotiation_timeout)),
            info: None,
            secret_id: None,
            renegotiating: None,
            pacing: session::Pacing::since(now),
            offline: None,
        };
        self.sessions
            .insert((jid::bare(peer).to_owned(), thread.clone()), session);
        Ok(thread)
    }

    /// The next stanza to send, if any.
    pub fn poll_outgoing(&mut self) -> Option<Element> {
        self.outgoing.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Timestamp> {
        self.sessions.values().filter_map(|s| s.deadline).min()
    }

    /// Ends every wait whose deadline has passed: unanswered negotiations fail with a
    /// timeout; unacknowledged terminates end.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.tick(now);
        let due: Vec<(String, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(s) = self.sessions.remove(&key) else {
                continue;
            };
            if let State::Terminating(_) = s.state {
                self.events.push_back(Event::Warning {
                    peer: s.peer.clone(),
                    thread: Some(s.thread.clone()),
                    detail: "terminate was not acknowledged in time".into(),
                });
                self.events.push_back(Event::Terminated {
                    peer: s.peer,
                    thread: s.thread,
                    by: EndedBy::Us,
                });
            } else {
                let v = Violation::TimedOut(self.config.negotiation_timeout);
                self.events.push_back(Event::Failed {
                    peer: s.peer,
                    thread: s.thread,
                    error: Error::new(ErrorKind::Timeout, v),
                });
            }
        }
    }

    /// A summary of the session with `peer` on `thread`, once established.
    pub fn session(&self, peer: &str, thread: &str) -> Option<SessionInfo> {
        self.sessions
            .get(&(jid::bare(peer).to_owned(), thread.to_owned()))
            .and_then(|s| s.info.clone())
    }

    /// Every established session.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions
            .values()
            .filter_map(|s| s.info.clone())
            .collect()
    }

    /// Every (peer, thread) with a session in any state.
    pub fn threads(&self) -> Vec<(String, String)> {
        self.sessions
            .values()
            .map(|s| (s.peer.clone(), s.thread.clone()))
            .collect()
    }

    fn session_mut(&mut self, peer: &str, thread: &str) -> Result<&mut Session, Error> {
        find_session(&mut self.sessions, peer, thread)
    }

    /// Advances the engine's clock to `now` (it never goes back).
    fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now);
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
        self.outgoing.push_back(out);
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
        let s = self.session_mut(peer, thread)?;
        let to = s.peer.clone();
        let amp = matches!(
            s.offline,
            Some(OfflineRole::Sent {
                match_resource: true
            })
        );
        let negotiated = s.info.as_ref().is_some_and(|i| i.stanzas.contains(&kind));
        // Until established (no terms yet), assume the stricter choice.
        let logging = s.info.as_ref().map_or(Logging::MustNot, |i| i.logging);
        // XEP-0334 §4: <no-store/> also keeps a message out of offline storage, where the
        // stanzas of an offline session must go (XEP-0187 §3.3); their hints are those of a
        // `may` session, and <no-permanent-store/> still keeps them out of archives.
        let hints = if s.offline.is_some() {
            Logging::May
        } else {
            logging
        };
        let mut out = Element::new(stanza.name(), ns::JABBER_CLIENT).with_attr("to", to);
        for (k, v) in stanza.attrs().iter().filter(|(k, _)| k != "to") {
            out.set_attr(k.as_str(), v.as_str());
        }
        // RFC 6120 §8.2.3: an iq get or set has exactly one child, so an encrypted iq
        // carries only its <c/>; the receiver finds the session by our full JID
        // (docs/decisions.md). Messages and presence carry the thread in clear.
        if kind != StanzaKind::Iq {
            out.push(Element::new("thread", ns::JABBER_CLIENT).with_text(thread));
        }
        // XEP-0200 §5: the thread, AMP rules and errors stay in clear.
        let clear = |e: &Element| {
            e.is("thread", ns::JABBER_CLIENT)
                || e.is("error", ns::JABBER_CLIENT)
                || e.ns() == ns::AMP
        };
        match &mut s.state {
            State::Encrypted(_) => {
                if !negotiated {
                    return Err(Error::usage(Violation::UnexpectedMessage(format!(
                        "{} stanzas were not negotiated for encryption in this session",
                        kind.name()
                    ))));
                }
                let m = stanza.serialize_children(|e| !clear(e));
                let c = match self.seal_outgoing(peer, thread, m.as_bytes()) {
                    Ok(c) => c,
                    Err(Violation::KeyExhausted) => {
                        // Profile P9: the key cannot be replaced in time (re-keying is
                        // off, or rekey_freq forbids a <key/> now), so end the session;
                        // the caller renegotiates.
                        self.terminate_with(peer, thread, None)?;
                        return Err(Error::new(ErrorKind::Usage, Violation::KeyExhausted));
                    }
                    Err(v) => return Err(Error::new(ErrorKind::Usage, v)),
                };
                for e in stanza
                    .children()
                    .filter(|e| clear(e) && !e.is("thread", ns::JABBER_CLIENT))
                {
                    out.push(e.clone());
                }
                out.push(c);
                // Profile P9: the clear fallback and hints go on data messages only.
                if kind == StanzaKind::Message {
                    for extra in clear_extras(hints) {
                        out.push(extra);
                    }
                }
            }
            State::Plain => {
                for e in stanza
                    .children()
                    .filter(|e| !e.is("thread", ns::JABBER_CLIENT))
                {
                    out.push(e.clone());
                }
                // XEP-0136 §3.2: an off-the-record plain session's messages are kept out
                // of every archive too.
                if kind == StanzaKind::Message && logging == Logging::MustNot {
                    for hint in storage_hints(logging) {
                        out.push(hint);
                    }
                }
            }
            other => return Err(Error::usage(Violation::WrongState(other.name()))),
        }
        if amp {
            out.push(offline::match_resource_rule());
        }
        Ok(out)
    }

    /// Ends the session with `peer` on `thread` (XEP-0116 §5, profile P10): an encrypted
    /// terminate for an ESession, a clear one for a plain session, a cancel (XEP-0155
    /// [5]) for a negotiation in progress.
    /// The acknowledgement is awaited until the negotiation timeout after `now`.
    pub fn terminate(&mut self, peer: &str, thread: &str, now: Timestamp) -> Result<(), Error> {
        self.tick(now);
        let deadline = Some(now.plus(self.config.negotiation_timeout));
        self.terminate_with(peer, thread, deadline)
    }

    fn terminate_with(
        &mut self,
        peer: &str,
        thread: &str,
        deadline: Option<Timestamp>,
    ) -> Result<(), Error> {
        let s = self.session_mut(peer, thread)?;
        let to = s.peer.clone();
        let offline = s.offline;
        let state = std::mem::replace(&mut s.state, State::Taken);
        let key = (jid::bare(&to).to_owned(), thread.to_owned());
        match state {
            State::Encrypted(channel) if offline.is_some() => {
                self.sessions.remove(&key);
                self.end_offline(&to, thread, channel, offline)
            }
            State::Encrypted(mut channel) => {
                let plain = termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT);
                let c = channel
                    .seal(plain.as_bytes(), 0)
                    .map_err(|v| Error::new(ErrorKind::Usage, v))?;
                channel.close_send();
                self.outgoing.push_back(message(&to, thread).with_child(c));
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.state = State::Terminating(channel);
                    s.deadline = deadline;
                }
                Ok(())
            }
            State::Plain => {
                let feature = termination(FormType::Submit);
                self.outgoing
                    .push_back(message(&to, thread).with_child(feature));
                self.sessions.remove(&key);
                self.events.push_back(Event::Terminated {
                    peer: to,
                    thread: thread.into(),
                    by: EndedBy::Us,
                });
                Ok(())
            }
            State::Terminating(channel) => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.state = State::Terminating(channel);
                }
                Ok(())
            }
            _ => {
                // XEP-0155 §4.4 [5] cancel: a result form with accept = 0.
                let mut form = Form::with_form_type(FormType::Result, ns::SSN);
                form.fields[0].kind = None;
                form.push(Field::new("accept", None, &["0"]));
                self.outgoing.push_back(negotiation_message(
                    &to,
                    thread,
                    Wrapper::Feature,
                    form.to_element(),
                    false,
                ));
                self.sessions.remove(&key);
                self.events.push_back(Event::Terminated {
                    peer: to,
                    thread: thread.into(),
                    by: EndedBy::Us,
                });
                Ok(())
            }
        }
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
        let s = self.session_mut(peer, thread)?;
        let info = s
            .info
            .as_mut()
            .ok_or(Error::usage(Violation::WrongState("not established")))?;
        let ours = info.sas.clone().ok_or(Error::usage(Violation::WrongState(
            "without a SAS (plain, or negotiated in 3 messages)",
        )))?;
        let heard = heard.trim().to_lowercase();
        if !ct_eq(ours.as_bytes(), heard.as_bytes()) {
            return Ok(false);
        }
        info.verified = true;
        let id = s.secret_id.clone();
        if let Some(id) = id {
            self.store.mark_verified(&id)?;
        }
        Ok(true)
    }

    /// The engine's clock (tests of the idle re-key).
    #[cfg(test)]
    pub(crate) fn clock(&self) -> Timestamp {
        self.clock
    }

    #[cfg(test)]
    pub(crate) fn channel_mut(
        &mut self,
        peer: &str,
        thread: &str,
    ) -> Option<&mut crate::channel::Channel> {
        match &mut self.session_mut(peer, thread).ok()?.state {
            State::Encrypted(c) => Some(c),
            _ => None,
        }
    }
}

/// The session with `peer` (bare, or the full JID it is bound to) on `thread`.
fn find_session<'a>(
    sessions: &'a mut HashMap<(String, String), Session>,
    peer: &str,
    thread: &str,
) -> Result<&'a mut Session, Error> {
    let key = (jid::bare(peer).to_owned(), thread.to_owned());
    match sessions.get_mut(&key) {
        Some(s) if !jid::is_full(peer) || s.peer == peer => Ok(s),
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
