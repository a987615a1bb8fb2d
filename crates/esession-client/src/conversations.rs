//! The conversation layer, sans-IO: stanzas and time in; stanzas, events and disco#info
//! requests out. The engine is passed to each call (the caller owns it, with the
//! connection).
use std::collections::{BTreeMap, VecDeque};

use esession::jid;
use esession::trust::KnownKey;
use esession::xml::{ns, Element};
use esession::{
    EndedBy, Engine, Fingerprint, Jid, PeerClient, Random, SecretStore, SessionInfo, Timestamp,
};
use esession_xmpp::{OfflineFallback, SignOut, Unreachable};

use crate::bounded::{Recent, States, CAPS_KEPT, STATES_KEPT};
use crate::conversation::Conversation;
use crate::event::{ClientEvent, Shield};
use crate::history::{Direction, Kept, Log, MessageLog, Page};
use crate::presence::{self, PresenceUpdate, Presences, Route};
use crate::queue::DeliveryState;
use crate::receipts;
use crate::roster::{self, Roster, RosterItem};
use crate::sessions::{self, SessionEvent, SessionRef};

/// Random octets in a message id.
const ID_OCTETS: usize = 9;

/// Seconds a message may wait for its receipt, in a session whose contact acknowledged
/// messages before, until the session is presumed stale (the contact's client restarted
/// while the server kept its resource, e.g. XEP-0198 hibernation) and replaced.
pub(crate) const RECEIPT_WAIT: u64 = 20;

/// Seconds the end of a session whose contact went offline is held back before it is
/// reported: a server shutting down sends the contacts' unavailable presence just before
/// it closes our own stream, and then it is our connection that was lost, not the contact
/// that left (decisions: what a person is told when the server stops).
pub(crate) const OFFLINE_GRACE: u64 = 2;

/// A disco#info question to ask (XEP-0030), answered with
/// [`Conversations::disco_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoRequest {
    /// The resource asked.
    pub full: String,
    /// The node asked about: `node#ver` of its caps (XEP-0115 §6.2), if it sent caps.
    pub node: Option<String>,
}

/// A message to send in an XEP-0187 offline session (the contact has no available
/// resource and the user allowed it), answered with [`Conversations::offline_sent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineRequest {
    /// The contact's bare JID.
    pub bare: String,
    /// The message id.
    pub id: String,
    /// The body.
    pub body: String,
}

/// Every conversation of one account, with its roster and its contacts' presence.
pub struct Conversations {
    own_bare: String,
    roster: Roster,
    presences: Presences,
    convs: BTreeMap<String, Conversation>,
    states: States,
    events: VecDeque<ClientEvent>,
    outgoing: VecDeque<Element>,
    disco: VecDeque<DiscoRequest>,
    /// Whether the software of a caps `ver` supports ESessions, for the `ver`s whose hash
    /// matched the disco#info answer (XEP-0115 §5.4); the most recent `CAPS_KEPT`, since
    /// each contact's presence may bring a new one.
    caps_cache: Recent<bool>,
    /// The user consented to offline sessions (XEP-0187: no forward secrecy).
    allow_offline: bool,
    offline_out: VecDeque<OfflineRequest>,
    rng: Box<dyn Random>,
    closing: bool,
    /// Why the connection to the server is down, while it is.
    offline: Option<String>,
    /// Sessions whose resource went offline, already out of their conversation, whose
    /// end is reported at the instant given ([`OFFLINE_GRACE`]) unless the connection is
    /// lost first.
    gone: Vec<(Timestamp, SessionRef)>,
    /// The threads of our negotiations that wait, at this timer tick, for a message 4 that
    /// Gajim's bug B1 will never send (issue 13): their timeout says so.
    gajim_stalled: Vec<String>,
    log: Log,
}

impl Conversations {
    /// The conversations of account `own` (bare or full JID); message ids are drawn from
    /// `rng`.
    pub fn new(own: &str, rng: Box<dyn Random>) -> Self {
        Conversations {
            log: Log::new(jid::bare(own)),
            own_bare: jid::bare(own).to_owned(),
            roster: Roster::default(),
            presences: Presences::default(),
            convs: BTreeMap::new(),
            states: States::new(STATES_KEPT),
            events: VecDeque::new(),
            outgoing: VecDeque::new(),
            disco: VecDeque::new(),
            caps_cache: Recent::new(CAPS_KEPT),
            allow_offline: false,
            offline_out: VecDeque::new(),
            rng,
            closing: false,
            offline: None,
            gone: Vec::new(),
            gajim_stalled: Vec::new(),
        }
    }

    /// Keeps the messages of sessions whose `logging` is `may` (XEP-0155 §8) in `store`
    /// from now on; without it, every message is kept in memory only.
    pub fn keep_history(&mut self, store: Box<dyn MessageLog + Send>) {
        self.log.set_store(store);
    }

    /// The newest `limit` messages with `bare`, oldest first: those in the store and those
    /// kept in memory (of `mustnot` sessions, while this process lives).
    ///
    /// # Errors
    /// Why the store could not be read.
    pub fn history(&self, bare: &str, limit: usize) -> Result<Page, String> {
        self.log.page(jid::bare(bare), limit)
    }

    /// The roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The contacts' online resources.
    pub fn presences(&self) -> &Presences {
        &self.presences
    }

    /// The conversation with `bare`, if any.
    pub fn conversation(&self, bare: &str) -> Option<&Conversation> {
        self.convs.get(jid::bare(bare))
    }

    /// Every conversation, by contact.
    pub fn conversations(&self) -> impl Iterator<Item = (&String, &Conversation)> {
        self.convs.iter()
    }

    /// The state of message `id`: of every message not settled yet, and of the newest
    /// delivered or failed ones (the oldest are forgotten, see `STATES_KEPT`).
    pub fn state(&self, id: &str) -> Option<&DeliveryState> {
        self.states.get(id)
    }

    /// Keeps at most `cap` settled message states (tests).
    #[cfg(test)]
    pub(crate) fn keep_states(&mut self, cap: usize) {
        self.states = States::new(cap);
    }

    /// How many message states are kept.
    #[cfg(test)]
    pub(crate) fn states_kept(&self) -> usize {
        self.states.len()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The next stanza of this layer to send (roster and subscription stanzas; the
    /// engine's own stanzas are polled from the engine).
    pub fn poll_outgoing(&mut self) -> Option<Element> {
        self.outgoing.pop_front()
    }

    /// The next resource whose disco#info features are wanted (XEP-0116 §3), to answer
    /// with [`Conversations::disco_info`] (or [`Conversations::set_esessions`]).
    pub fn poll_disco(&mut self) -> Option<DiscoRequest> {
        self.disco.pop_front()
    }

    /// Allows (or not) sending to a contact without an available resource in an XEP-0187
    /// offline session, which has no forward secrecy (§3.1): off unless the user says so.
    pub fn set_allow_offline(&mut self, allowed: bool) {
        self.allow_offline = allowed;
    }

    /// Whether messages wait for [`Conversations::poll_offline`].
    pub fn has_offline(&self) -> bool {
        !self.offline_out.is_empty()
    }

    /// The next message to send in an offline session (see [`OfflineRequest`]).
    pub fn poll_offline(&mut self) -> Option<OfflineRequest> {
        self.offline_out.pop_front()
    }

    /// The outcome of an offline-session attempt for message `id` to `bare`: sent (its
    /// state becomes [`DeliveryState::SentOffline`]: encrypted, without forward secrecy),
    /// or not (it stays queued, marked not sent with `Err`'s reason: nothing published,
    /// options not signed by a key trusted for the contact, …).
    pub fn offline_sent(
        &mut self,
        bare: &str,
        id: &str,
        body: &str,
        outcome: Result<(), String>,
        now: Timestamp,
    ) {
        let sent = outcome.is_ok();
        if let Some(c) = self.convs.get_mut(bare) {
            c.queue.offline_done(id, sent);
        }
        match outcome {
            Ok(()) => {
                self.keep(bare, Direction::Sent, Some(id), body, now, None);
                self.set_state(bare, id, DeliveryState::SentOffline);
            }
            Err(why) => {
                let reason = Some(format!("not sent: {why}"));
                self.set_state(bare, id, DeliveryState::Queued { reason });
            }
        }
    }

    /// Takes in the disco#info `<query/>` of `full` (`None`: it did not answer, taken as
    /// not supporting ESessions). When `full` sent caps, the answer's hash is checked
    /// against their `ver` (XEP-0115 §5.4) and, if it matches, kept for every resource
    /// that shows that `ver` later: they need no question.
    pub fn disco_info<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        answer: Option<&Element>,
        now: Timestamp,
    ) {
        let supported = answer.is_some_and(|q| {
            q.children()
                .any(|f| f.is("feature", ns::DISCO_INFO) && f.attr("var") == Some(ns::ESESSION))
        });
        let caps = self.presences.caps(full).cloned();
        if let (Some(q), Some(caps)) = (answer, caps) {
            // XEP-0115 §5.4: only SHA-1 is verified; another hash is not cached.
            match esession_xmpp::caps_ver(q) {
                Ok(v) if caps.hash == "sha-1" && v == caps.ver => {
                    self.caps_cache.keep(&v, supported);
                }
                Ok(_) if caps.hash != "sha-1" => {}
                Ok(v) => self.warn(
                    Some(full.to_owned()),
                    format!(
                        "caps ver {} does not match its disco#info ({v}): not cached",
                        caps.ver
                    ),
                ),
                Err(e) => self.warn(
                    Some(full.to_owned()),
                    format!("disco#info answer not usable for caps: {e}"),
                ),
            }
        }
        self.set_esessions(engine, full, supported, now);
    }

    /// Whether to ask `full`'s software version (XEP-0092) before taking in its
    /// disco#info `answer`: its presence came without caps and it advertises ESessions and
    /// XEP-0092 ([`esession_xmpp::worth_asking`]). Issue 13 §1: a Gajim without caps is
    /// recognised by its version ([`esession_xmpp::Client::learn_software`] tells the
    /// engine), which must be known before a session is started with it.
    pub fn wants_software(&self, full: &str, answer: Option<&Element>) -> bool {
        self.presences.caps(full).is_none() && answer.is_some_and(esession_xmpp::worth_asking)
    }

    /// Takes in the roster fetched at login (RFC 6121 §2.1.3).
    pub fn set_roster(&mut self, items: Vec<RosterItem>) {
        for item in items {
            self.roster_item(item);
        }
    }

    /// Whether the connection to the server is up (see [`Conversations::connection_lost`]).
    pub fn is_online(&self) -> bool {
        self.offline.is_none()
    }

    /// The connection to the server was lost (`reason`): every session ends here (the
    /// contacts saw us go offline; the engine's terminates are for the record and need
    /// not be sent), their unacknowledged messages and the queued ones wait for the next
    /// connection, marked with the reason, and every contact resource is shown offline.
    /// Nothing is negotiated until [`Conversations::online`].
    pub fn connection_lost<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        reason: &str,
        now: Timestamp,
    ) {
        let event = ClientEvent::ConnectionLost {
            reason: reason.to_owned(),
        };
        let lost = format!("connection to the server lost: {reason}");
        self.go_offline(engine, reason, event, lost, now);
    }

    /// The server signed the session bound to `jid` out (`why`; `text`: what it said):
    /// as a lost connection ([`Conversations::connection_lost`]: the sessions end, the
    /// messages wait, the contacts are shown offline), except that nothing reconnects
    /// until the user asks ([`crate::Account::reconnect`]).
    pub fn signed_out<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        jid: &str,
        why: SignOut,
        text: Option<String>,
        now: Timestamp,
    ) {
        let reason = format!("signed out: {}", why.explain(jid));
        let event = ClientEvent::SignedOut {
            jid: jid.to_owned(),
            why,
            text,
        };
        self.go_offline(engine, &reason, event, reason.clone(), now);
    }

    /// Goes offline (`reason`, reported as `event`): every session ends (`lost`: why, for
    /// each), the messages wait, the contacts are shown offline.
    fn go_offline<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        reason: &str,
        event: ClientEvent,
        lost: String,
        now: Timestamp,
    ) {
        self.offline = Some(reason.to_owned());
        self.events.push_back(event);
        self.disco.clear();
        for (_, s) in std::mem::take(&mut self.gone) {
            self.session_over(s.bare(), &s, lost.clone());
        }
        let bares: Vec<String> = self.convs.keys().cloned().collect();
        for bare in &bares {
            let open: Vec<SessionRef> = self
                .convs
                .get_mut(bare)
                .map(|c| {
                    let all: Vec<SessionRef> = c.sessions().cloned().collect();
                    for s in &all {
                        c.remove(s.thread());
                    }
                    all
                })
                .unwrap_or_default();
            for s in open {
                let _ = sessions::end(engine, &s, now);
                self.session_over(bare, &s, lost.clone());
            }
            self.hold_pending(bare);
        }
        for full in self.presences.clear() {
            self.events.push_back(ClientEvent::Presence {
                jid: full,
                show: None,
                esessions: None,
            });
        }
        self.drain(engine, now);
    }

    /// Reports attempt `attempt` to reconnect, in `in_secs` seconds (`error`: why the
    /// previous one failed).
    pub fn reconnecting(&mut self, attempt: u32, in_secs: u64, error: Option<String>) {
        self.events.push_back(ClientEvent::Reconnecting {
            attempt,
            in_secs,
            error,
        });
    }

    /// Online again as `jid`, with the roster fetched again (RFC 6121 §2.1.3; `None`:
    /// the fetch failed, the old roster is kept). Messages waiting go out once their
    /// contacts' presence arrives.
    pub fn online(&mut self, jid: &str, roster: Option<Vec<RosterItem>>) {
        self.offline = None;
        self.events.push_back(ClientEvent::Online {
            jid: jid.to_owned(),
        });
        if let Some(items) = roster {
            let gone: Vec<RosterItem> = self
                .roster
                .items()
                .filter(|old| !items.iter().any(|i| i.jid == old.jid))
                .map(|old| RosterItem {
                    subscription: roster::Subscription::Remove,
                    ..old.clone()
                })
                .collect();
            self.set_roster(gone);
            self.set_roster(items);
        }
    }

    fn roster_item(&mut self, item: RosterItem) {
        self.roster.apply(item.clone());
        self.events.push_back(ClientEvent::Roster(item));
    }

    /// Records whether `full` advertises ESessions (its disco#info, XEP-0116 §3) and
    /// sends what waited for it.
    pub fn set_esessions<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        supported: bool,
        now: Timestamp,
    ) {
        if !self.presences.set_esessions(full, supported) {
            return;
        }
        let show = self
            .presences
            .resources(jid::bare(full))
            .find(|(j, _)| *j == full)
            .map(|(_, r)| r.show);
        self.events.push_back(ClientEvent::Presence {
            jid: full.to_owned(),
            show,
            esessions: Some(supported),
        });
        self.pump(engine, jid::bare(full), now);
    }

    /// Handles one stanza from the server: roster pushes and presence here, the rest in
    /// the engine.
    pub fn handle_stanza<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        stanza: Element,
        now: Timestamp,
    ) {
        if let Some(push) = roster::push_query(&stanza, &self.own_bare) {
            match push.and_then(roster::parse_items) {
                Ok(items) => {
                    self.set_roster(items);
                    // RFC 6121 §2.1.6: the client acknowledges the push.
                    self.outgoing.push_back(roster::push_ack(&stanza));
                }
                Err(detail) => self.warn(None, detail),
            }
            return;
        }
        // Presence with encrypted content belongs to a session (XEP-0200 §5).
        if stanza.child("c", ns::STANZA_ENCRYPTION).is_none() {
            match presence::parse(&stanza, &self.own_bare) {
                Some(Ok(update)) => return self.presence(engine, update, now),
                Some(Err(detail)) => {
                    let from = stanza.attr("from").map(str::to_owned);
                    return self.warn(from, detail);
                }
                None => {}
            }
        }
        engine.handle_stanza(stanza, now);
        self.drain(engine, now);
    }

    /// Lets the engine's timers run (negotiation and terminate timeouts).
    pub fn handle_timeout<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        // Known before the engine's timeout forgets the negotiation.
        self.gajim_stalled = self
            .convs
            .values()
            .flat_map(|c| c.sessions().filter(|s| c.negotiating_on(s.thread())))
            .filter(|s| engine.stalled_by_gajim_bug(&s.id))
            .map(|s| s.thread().to_owned())
            .collect();
        engine.handle_timeout(now);
        self.drain(engine, now);
        self.gajim_stalled.clear();
        self.report_gone(engine, Some(now), now);
        self.replace_stale(engine, now);
    }

    /// Reports the end of the sessions whose resource went offline, those due at `due`
    /// (all of them for `None`), and sends what waits for another resource.
    fn report_gone<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        due: Option<Timestamp>,
        now: Timestamp,
    ) {
        let (ended, held) = std::mem::take(&mut self.gone)
            .into_iter()
            .partition(|(at, _)| due.is_none_or(|d| *at <= d));
        self.gone = held;
        for (_, s) in ended {
            self.session_over(s.bare(), &s, "the contact went offline".into());
            self.pump(engine, s.bare(), now);
        }
    }

    /// Ends the sessions left stale (see [`RECEIPT_WAIT`]): their resources are avoided
    /// until their next presence, their unacknowledged messages go in a new session.
    fn replace_stale<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        let Some(since) = now.0.checked_sub(RECEIPT_WAIT).map(Timestamp) else {
            return;
        };
        let stale: Vec<(String, SessionRef)> = self
            .convs
            .iter()
            .flat_map(|(bare, c)| c.stale(since).into_iter().map(|s| (bare.clone(), s)))
            .collect();
        for (bare, s) in stale {
            if let Some(c) = self.convs.get_mut(&bare) {
                c.remove(s.thread());
            }
            // The contact's client may still be there: it is told (XEP-0116 §5).
            let _ = sessions::end(engine, &s, now);
            self.presences.set_unresponsive(&s.full);
            let reason = format!("no receipt within {RECEIPT_WAIT} s: the session is stale");
            self.session_over(&bare, &s, reason);
            self.pump(engine, &bare, now);
        }
    }

    /// Sends `body` to the contact `to` (bare JID): in the current session, or once the
    /// session being negotiated is established, or after negotiating one with the best
    /// resource. Returns the message id and its state.
    pub fn send<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        to: &str,
        body: &str,
        now: Timestamp,
    ) -> (String, DeliveryState) {
        let bare = jid::bare(to).to_owned();
        let id = self.new_id();
        let queued = DeliveryState::Queued { reason: None };
        self.states.set(&id, queued.clone());
        self.convs
            .entry(bare.clone())
            .or_default()
            .queue
            .push(id.clone(), body.to_owned());
        self.pump(engine, &bare, now);
        let state = self.states.get(&id).cloned().unwrap_or(queued);
        (id, state)
    }

    /// Ends every session with `bare` (XEP-0116 §5); returns how many there were.
    pub fn end<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        bare: &str,
        now: Timestamp,
    ) -> usize {
        let open: Vec<SessionRef> = self
            .convs
            .get(jid::bare(bare))
            .map(|c| c.sessions().cloned().collect())
            .unwrap_or_default();
        for s in &open {
            if let Err(e) = sessions::end(engine, s, now) {
                self.warn_session(s, e.to_string());
            }
        }
        self.drain(engine, now);
        open.len()
    }

    /// Compares the SAS the user heard from `bare` with the current session's (XEP-0116
    /// §7.3): `Ok(true)` marks it verified, `Ok(false)` is a possible man in the middle.
    pub fn verify<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        bare: &str,
        sas: &str,
    ) -> Result<bool, String> {
        let session = self
            .convs
            .get(jid::bare(bare))
            .and_then(Conversation::current)
            .ok_or_else(|| format!("no established session with {bare}"))?;
        sessions::verify(engine, session, sas).map_err(|e| e.to_string())
    }

    /// The shield of the conversation with `bare`.
    pub fn shield<S: SecretStore>(&self, engine: &Engine<S>, bare: &str) -> Shield {
        self.session_info(engine, bare)
            .map_or(Shield::NotEncrypted, |i| Shield::of(&i))
    }

    /// The summary of the current session with `bare`, with the contact's key marked
    /// trusted as the store says now (a key trusted during the session counts at once).
    pub fn session_info<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        bare: &str,
    ) -> Option<SessionInfo> {
        let mut info = self
            .convs
            .get(jid::bare(bare))
            .and_then(Conversation::current)
            .and_then(|s| sessions::info(engine, s))?;
        let stored = self.stored_key(engine, &info);
        if let (Some(key), Some(stored)) = (info.peer_key.as_mut(), stored) {
            key.trusted |= stored.trusted;
            key.petname = stored.petname;
        }
        Some(info)
    }

    /// What the store knows of the key presented in session `info` (its trust and
    /// petname, XEP-0116 §7.3–7.4).
    fn stored_key<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        info: &SessionInfo,
    ) -> Option<KnownKey> {
        let key = info.peer_key.as_ref()?;
        let fp = Fingerprint::from_b64(&key.fingerprint).ok()?;
        engine
            .store()
            .known_key(&self.own_bare, fp.as_bytes())
            .ok()?
    }

    /// Marks the key the contact presented in the current session with `bare` trusted
    /// for it, after the user compared its fingerprint out of band (XEP-0116 §7.3);
    /// returns the fingerprint.
    ///
    /// # Errors
    /// No established session, no key presented in it, or the store refused.
    pub fn trust<S: SecretStore>(
        &self,
        engine: &mut Engine<S>,
        bare: &str,
    ) -> Result<String, String> {
        let (fp, b64) = self.presented_key(engine, bare, "trust")?;
        engine
            .store_mut()
            .set_trusted(&self.own_bare, fp.as_bytes(), true)
            .map_err(|e| e.to_string())?;
        Ok(b64)
    }

    /// Gives the key `bare` presented in its current session the petname `petname`, or
    /// removes it (`None`) (XEP-0116 §7.4: the name a person knows the key by, shown
    /// before the JID). A petname that could fake a line or a lock on a terminal is
    /// refused by the store ([`esession::trust::check_petname`]). Returns the key's
    /// fingerprint.
    pub fn rename<S: SecretStore>(
        &self,
        engine: &mut Engine<S>,
        bare: &str,
        petname: Option<&str>,
    ) -> Result<String, String> {
        let (fp, b64) = self.presented_key(engine, bare, "name")?;
        let known = engine
            .store_mut()
            .set_petname(&self.own_bare, fp.as_bytes(), petname)
            .map_err(|e| e.to_string())?;
        known
            .then_some(b64)
            .ok_or_else(|| format!("the key {bare} presented is not in the store"))
    }

    /// The key `bare` presented in its current session (fingerprint, in Base64), or why
    /// there is none to `what`.
    fn presented_key<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        bare: &str,
        what: &str,
    ) -> Result<(Fingerprint, String), String> {
        let info = self
            .session_info(engine, bare)
            .ok_or_else(|| format!("no established session with {bare}"))?;
        let key = info.peer_key.ok_or_else(|| {
            format!("{bare} presented no public key in this session: nothing to {what}")
        })?;
        let fp = Fingerprint::from_b64(&key.fingerprint).map_err(|e| e.to_string())?;
        Ok((fp, key.fingerprint))
    }

    /// Adds `jid` to the roster and asks to see its presence (RFC 6121 §2.3, §3.1.1); the
    /// roster set's answer needs no handling (the server pushes the new item).
    pub fn add(&mut self, jid_: &str) {
        let set = Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", self.new_id())
            .with_child(roster::add_item(jid_));
        self.outgoing.push_back(set);
        self.outgoing.push_back(roster::subscribe(jid_));
    }

    /// Approves (or pre-approves) `jid`'s subscription to our presence (RFC 6121 §3.1.4,
    /// §3.4).
    pub fn approve(&mut self, jid_: &str) {
        self.outgoing.push_back(roster::approve(jid_));
    }

    /// Removes `jid` from the roster (RFC 6121 §2.5.2): the server cancels the
    /// subscriptions both ways and pushes the removal, reported as a
    /// [`ClientEvent::Roster`] item with subscription `remove`.
    pub fn remove(&mut self, jid_: &str) {
        let set = Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", self.new_id())
            .with_child(roster::remove_item(jid_));
        self.outgoing.push_back(set);
    }

    /// Denies `jid`'s subscription request, or cancels the subscription granted before
    /// (RFC 6121 §3.2.1); a roster item changed by it is pushed by the server.
    pub fn deny(&mut self, jid_: &str) {
        self.outgoing.push_back(roster::deny(jid_));
    }

    /// Before going offline: ends every session (XEP-0116 §5) and reports every message
    /// not acknowledged as failed. Nothing is negotiated after this.
    pub fn shutdown<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        self.closing = true;
        self.report_gone(engine, None, now);
        let bares: Vec<String> = self.convs.keys().cloned().collect();
        for bare in bares {
            self.end(engine, &bare, now);
            let Some(conv) = self.convs.get_mut(&bare) else {
                continue;
            };
            let queued = conv.queue.drop_pending();
            let sent = conv.unacknowledged();
            for id in queued {
                let reason = "not sent: the client shut down first".to_owned();
                self.set_state(&bare, &id, DeliveryState::Failed { reason });
            }
            for id in sent {
                let reason = "no delivery receipt before the client shut down".to_owned();
                self.set_state(&bare, &id, DeliveryState::Failed { reason });
            }
        }
    }

    fn presence<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        update: PresenceUpdate,
        now: Timestamp,
    ) {
        match update {
            PresenceUpdate::Available {
                full,
                show,
                priority,
                caps,
            } => {
                let new = self.presences.available(&full, show, priority);
                let changed = self.presences.set_caps(&full, caps.clone());
                if let (true, Some(c), Ok(peer)) = (changed, &caps, Jid::new(&full)) {
                    // Issue 13 §1: the caps node tells the engine whether the contact runs
                    // Gajim, whose dialect a session we start then speaks (Compat::Auto).
                    engine.note_peer_client(&peer, PeerClient::CapsNode(&c.node));
                }
                if new || changed {
                    // XEP-0116 §3: whether the resource supports ESessions is asked on its
                    // first presence, and again when its caps change; a caps ver seen
                    // and verified before answers without a question (XEP-0115 §6.3).
                    let known = caps
                        .as_ref()
                        .filter(|c| c.hash == "sha-1")
                        .and_then(|c| self.caps_cache.get(&c.ver).copied());
                    match known {
                        Some(supported) => {
                            self.presences.set_esessions(&full, supported);
                        }
                        None => self.disco.push_back(DiscoRequest {
                            full: full.clone(),
                            node: caps.as_ref().map(crate::presence::Caps::disco_node),
                        }),
                    }
                }
                let esessions = self
                    .presences
                    .resources(jid::bare(&full))
                    .find(|(j, _)| **j == full)
                    .and_then(|(_, r)| r.esessions);
                self.events.push_back(ClientEvent::Presence {
                    jid: full.clone(),
                    show: Some(show),
                    esessions,
                });
                self.pump(engine, jid::bare(&full), now);
            }
            PresenceUpdate::Unavailable { jid: gone } => {
                let bare = jid::bare(&gone).to_owned();
                for full in self.presences.unavailable(&gone) {
                    self.events.push_back(ClientEvent::Presence {
                        jid: full.clone(),
                        show: None,
                        esessions: None,
                    });
                    self.resource_gone(engine, &full, now);
                }
                self.pump(engine, &bare, now);
            }
            PresenceUpdate::SubscribeRequest { from } => {
                self.events
                    .push_back(ClientEvent::SubscriptionRequest { jid: from });
            }
            // RFC 6121 §3.1.5–6, §3.2: the contact approved, denied or cancelled our
            // subscription (the server pushes the changed roster item too).
            PresenceUpdate::Subscription { from, approved } => {
                self.events.push_back(ClientEvent::SubscriptionAnswer {
                    jid: from,
                    approved,
                });
            }
        }
    }

    /// The resource `full` went offline: its sessions end now (the engine's terminate is
    /// sent for the record, XEP-0116 §5); the end is reported, and their unacknowledged
    /// messages queued for the next session, [`OFFLINE_GRACE`] later, or with the loss of
    /// the connection if that comes first.
    fn resource_gone<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        now: Timestamp,
    ) {
        let bare = jid::bare(full).to_owned();
        let Some(conv) = self.convs.get_mut(&bare) else {
            return;
        };
        let gone = conv.remove_resource(full);
        for s in gone {
            // Already forgotten by the conversation: the engine's own end event is ignored.
            let _ = sessions::end(engine, &s, now);
            self.gone.push((now.plus(OFFLINE_GRACE), s));
        }
        self.drain(engine, now);
    }

    /// Reports the end of `s` (already removed from its conversation) and queues its
    /// unacknowledged messages again.
    fn session_over(&mut self, bare: &str, s: &SessionRef, reason: String) {
        let requeued = self
            .convs
            .get_mut(bare)
            .map(|c| c.queue.requeue(s.thread()))
            .unwrap_or_default();
        self.events.push_back(ClientEvent::Terminated {
            peer: bare.to_owned(),
            full: s.full.clone(),
            thread: s.thread().to_owned(),
            reason,
        });
        for id in requeued {
            let reason =
                Some("the session ended before the receipt: sent again in the next".into());
            self.set_state(bare, &id, DeliveryState::Queued { reason });
        }
    }

    /// Translates the engine's events.
    fn drain<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        while let Some(ev) = sessions::poll(engine) {
            match ev {
                SessionEvent::Established(s, info) if !info.encrypted => {
                    // Issue 10: never a body in clear. A plain stanza session (XEP-0155
                    // security c2s/none, allowed by a caller's Config) carries nothing here.
                    let bare = s.bare().to_owned();
                    if let Some(c) = self.convs.get_mut(&bare) {
                        c.remove(s.thread());
                    }
                    if let Err(e) = sessions::end(engine, &s, now) {
                        self.warn_session(&s, e.to_string());
                    }
                    self.warn_session(
                        &s,
                        "a session without encryption was ended: nothing is sent in clear".into(),
                    );
                    self.fail_pending(
                        &bare,
                        "only a session without encryption was agreed: nothing was sent".into(),
                    );
                }
                SessionEvent::Established(s, info) => {
                    let bare = s.bare().to_owned();
                    let adopted = self
                        .convs
                        .entry(bare.clone())
                        .or_default()
                        .established(s.clone());
                    self.events.push_back(ClientEvent::Established {
                        peer: bare.clone(),
                        thread: s.thread().to_owned(),
                        full: s.full,
                        sas: info.sas.clone(),
                        sas_alg: info.sas_alg,
                        shield: Shield::of(&info),
                        adopted,
                        kept: self.log.kept_for(Some(info.logging)),
                        petname: self.stored_key(engine, &info).and_then(|k| k.petname),
                        compat: info.compat,
                    });
                    self.pump(engine, &bare, now);
                }
                SessionEvent::Message {
                    from,
                    session,
                    stanza,
                    body,
                } => self.message(engine, from, session, &stanza, body, now),
                SessionEvent::Ended {
                    session: s,
                    by,
                    reason,
                } => {
                    let bare = s.bare().to_owned();
                    let Some(conv) = self.convs.get_mut(&bare) else {
                        continue;
                    };
                    let negotiating = conv.negotiating_on(s.thread());
                    if conv.remove(s.thread()).is_none() {
                        continue;
                    }
                    if negotiating && by.is_none() {
                        // Our negotiation failed (e.g. timed out): try another resource
                        // until this one shows a new presence.
                        self.presences.set_unresponsive(&s.full);
                    }
                    let reason = match by {
                        Some(EndedBy::Us) => "ended by us".to_owned(),
                        Some(EndedBy::Peer) => "ended by the contact".to_owned(),
                        None if self.gajim_stalled.iter().any(|t| t == s.thread()) => {
                            format!("failed: {reason}: {}", esession::GAJIM_STALL)
                        }
                        None => format!("failed: {reason}"),
                    };
                    self.session_over(&bare, &s, reason);
                    // A message to a contact whose session died renegotiates (issue: no
                    // lost messages): queued messages go in a new session.
                    self.pump(engine, &bare, now);
                }
                SessionEvent::TerminateUnacknowledged(s) => {
                    // Profile P10. A session whose end was reported already (connection
                    // lost, resource gone, stale) was terminated for the record only: the
                    // user was told, nothing more to say. A /end unanswered is said.
                    if self.convs.get(s.bare()).is_some_and(|c| c.has(s.thread())) {
                        let detail = esession::Warning::TerminateUnacknowledged.to_string();
                        self.warn_session(&s, detail);
                    }
                }
                SessionEvent::Warning {
                    peer,
                    thread,
                    detail,
                } => self.events.push_back(ClientEvent::Warning {
                    peer: Some(peer),
                    thread,
                    detail,
                }),
            }
        }
    }

    fn message<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        from: String,
        session: Option<SessionRef>,
        stanza: &Element,
        body: Option<String>,
        now: Timestamp,
    ) {
        let bare = jid::bare(&from).to_owned();
        let Some(session) = session else {
            // In clear: shown as such; receipts are neither given nor taken in clear.
            if let Some(body) = body {
                self.events.push_back(ClientEvent::Message {
                    peer: bare,
                    full: from,
                    body,
                    encrypted: false,
                    id: stanza.attr("id").map(str::to_owned),
                    kept: Kept::Nowhere,
                });
            }
            return;
        };
        let conv = self.convs.entry(bare.clone()).or_default();
        // XEP-0184 §4: the receipt names the message; only one sent in this session.
        let delivered =
            receipts::acknowledged(stanza).filter(|id| conv.queue.delivered(id, session.thread()));
        if delivered.is_some() {
            conv.acknowledged_in(session.thread());
        }
        let id = stanza.attr("id").map(str::to_owned);
        let fresh = id.as_deref().is_none_or(|i| conv.first_time(i));
        if let Some(acked) = delivered {
            self.set_state(&bare, acked, DeliveryState::Delivered);
        }
        if let Some(id) = receipts::requested(stanza) {
            // XEP-0184 §4: acknowledged in the session it came through, so encrypted.
            if let Err(e) = sessions::send_receipt(engine, &session, id) {
                self.warn(Some(from.clone()), format!("receipt not sent: {e}"));
            }
        }
        if let (Some(body), true) = (body, fresh) {
            let logging = sessions::info(engine, &session).map(|i| i.logging);
            let kept = self.keep(
                &bare,
                Direction::Received,
                id.as_deref(),
                &body,
                now,
                logging,
            );
            self.events.push_back(ClientEvent::Message {
                peer: bare,
                full: from,
                body,
                encrypted: true,
                id,
                kept,
            });
        }
    }

    /// Sends what the conversation with `bare` has queued, if it can: in the current
    /// session; or after a negotiation with the best resource (RFC 6121 §8.5.2.1.1).
    fn pump<S: SecretStore>(&mut self, engine: &mut Engine<S>, bare: &str, now: Timestamp) {
        if self.closing {
            return;
        }
        let Some(conv) = self.convs.get_mut(bare) else {
            return;
        };
        if !conv.queue.has_pending() {
            return;
        }
        if self.offline.is_some() {
            return self.hold_pending(bare);
        }
        if let Some(s) = conv.current().cloned() {
            for (id, body) in conv.queue.pending() {
                match sessions::send_body(engine, &s, &id, &body) {
                    Ok(()) => {
                        if let Some(c) = self.convs.get_mut(bare) {
                            c.queue.sent(&id, s.thread(), now);
                        }
                        let logging = sessions::info(engine, &s).map(|i| i.logging);
                        self.keep(bare, Direction::Sent, Some(&id), &body, now, logging);
                        self.set_state(bare, &id, DeliveryState::Sent);
                    }
                    Err(e) => {
                        // The session cannot carry data any more (e.g. its key is spent
                        // and it is ending): forget it and try again in a new one.
                        self.warn_session(&s, format!("session unusable: {e}"));
                        if let Some(c) = self.convs.get_mut(bare) {
                            c.remove(s.thread());
                        }
                        self.session_over(bare, &s, format!("failed: {e}"));
                        self.drain(engine, now);
                        return self.pump(engine, bare, now);
                    }
                }
            }
            return;
        }
        if conv.negotiating() {
            return;
        }
        let hold = |reason: &str| DeliveryState::Queued {
            reason: Some(reason.to_owned()),
        };
        match self.presences.route(bare) {
            Route::To(full) => match Jid::new(&full)
                .map_err(|e| format!("{full} is not a JID: {e}"))
                .and_then(|to| sessions::start(engine, &to, now).map_err(|e| e.to_string()))
            {
                Ok(s) => {
                    if let Some(c) = self.convs.get_mut(bare) {
                        c.negotiate(s);
                    }
                }
                Err(e) => self.fail_pending(bare, format!("cannot negotiate: {e}")),
            },
            // Waiting for the resources' disco#info answers.
            Route::Unknown => {}
            // Issue 10: an offline contact's messages go in an XEP-0187 offline session
            // with the user's consent (it has no forward secrecy); otherwise they stay
            // queued, marked not sent with the reason.
            Route::Offline => {
                let pending = conv.queue.pending();
                let fallback = OfflineFallback {
                    allowed: self.allow_offline,
                    expects_answers: false,
                };
                match fallback.check(Unreachable::NoPresence {
                    to: bare.to_owned(),
                }) {
                    Ok(_) => {
                        for (id, body) in pending {
                            if let Some(c) = self.convs.get_mut(bare) {
                                c.queue.hand_offline(&id);
                            }
                            let reason = "the contact is offline: sending in an offline \
                                          session (no forward secrecy)";
                            self.set_state(bare, &id, hold(reason));
                            self.offline_out.push_back(OfflineRequest {
                                bare: bare.to_owned(),
                                id,
                                body,
                            });
                        }
                    }
                    Err(e) => {
                        for (id, _) in pending {
                            self.set_state(bare, &id, hold(&format!("not sent yet: {e}")));
                        }
                    }
                }
            }
            Route::NotResponding => {
                for (id, _) in conv.queue.pending() {
                    let reason = "the contact's client does not answer: not sent yet";
                    self.set_state(bare, &id, hold(reason));
                }
            }
            // XEP-0116 §3: nothing is sent in clear to a client without ESessions.
            Route::NoESessions => self.fail_pending(
                bare,
                "the contact is online without ESession support: nothing was sent".into(),
            ),
        }
        self.drain(engine, now);
    }

    /// Marks the queued messages of `bare` as waiting for the connection to the server.
    fn hold_pending(&mut self, bare: &str) {
        let Some(why) = self.offline.clone() else {
            return;
        };
        let ids: Vec<String> = self
            .convs
            .get(bare)
            .map(|c| c.queue.pending().into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default();
        for id in ids {
            let reason = Some(format!("not sent yet: no connection to the server ({why})"));
            self.set_state(bare, &id, DeliveryState::Queued { reason });
        }
    }

    fn fail_pending(&mut self, bare: &str, reason: String) {
        let ids = self
            .convs
            .get_mut(bare)
            .map(|c| c.queue.drop_pending())
            .unwrap_or_default();
        for id in ids {
            let reason = reason.clone();
            self.set_state(bare, &id, DeliveryState::Failed { reason });
        }
    }

    /// Records and reports a change of message `id`'s state.
    fn set_state(&mut self, peer: &str, id: &str, state: DeliveryState) {
        if !self.states.set(id, state.clone()) {
            return;
        }
        self.events.push_back(ClientEvent::Receipt {
            peer: peer.to_owned(),
            id: id.to_owned(),
            state,
        });
    }

    /// Keeps a message in the history as its session's `logging` allows (issue 10).
    fn keep(
        &mut self,
        bare: &str,
        direction: Direction,
        id: Option<&str>,
        body: &str,
        now: Timestamp,
        logging: Option<esession::Logging>,
    ) -> Kept {
        let (kept, problem) =
            self.log
                .record(bare, direction, id.unwrap_or_default(), body, now, logging);
        if let Some(detail) = problem {
            self.warn(Some(bare.to_owned()), detail);
        }
        kept
    }

    fn warn(&mut self, peer: Option<String>, detail: String) {
        self.events.push_back(ClientEvent::Warning {
            peer,
            thread: None,
            detail,
        });
    }

    /// A warning about session `s`: its contact and thread named.
    fn warn_session(&mut self, s: &SessionRef, detail: String) {
        self.events.push_back(ClientEvent::Warning {
            peer: Some(s.full.clone()),
            thread: Some(s.thread().to_owned()),
            detail,
        });
    }

    /// A fresh message id: random, so that ids never repeat across restarts (the
    /// receiver recognizes a message sent again by its id).
    fn new_id(&mut self) -> String {
        let mut octets = [0u8; ID_OCTETS];
        self.rng.fill(&mut octets);
        let hex: String = octets.iter().map(|b| format!("{b:02x}")).collect();
        format!("m-{hex}")
    }
}
