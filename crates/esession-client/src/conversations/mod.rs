//! The conversation layer, sans-IO: stanzas and time in; stanzas, events and disco#info
//! requests out. The engine is passed to each call (the caller owns it, with the
//! connection).
mod contacts;
mod delivery;
mod departures;
mod link;
mod opening;
mod trust;
pub use opening::Opening;
use std::collections::{BTreeMap, VecDeque};

use esession::jid;
use esession::trust::KnownKey;
use esession::xml::{ns, Element};
use esession::{
    EndedBy, Engine, Fingerprint, Jid, PeerClient, Random, SecretStore, SessionInfo, Timestamp,
};
use esession_xmpp::{OfflineFallback, SignOut, Unreachable};

use crate::bounded::{Recent, States, CAPS_KEPT, ROSTER_SETS_KEPT, STATES_KEPT};
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

/// Seconds after our initial presence during which a contact not seen online is not yet
/// taken as offline: the server probes our contacts then (RFC 6121 §4.2.2) and their
/// presence follows, so an offline session (XEP-0187: no forward secrecy) is not started
/// for a contact whose presence is still on its way.
pub(crate) const PRESENCE_SETTLE: u64 = 5;

/// Most resources of one contact whose presence is followed (each is asked its disco#info;
/// a person has a few devices).
pub(crate) const MAX_RESOURCES: usize = 16;

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
    /// The contacts' presence when the connection was last lost: it holds again if the
    /// server resumes that stream ([`Conversations::resumed`]).
    presences_at_loss: Presences,
    convs: BTreeMap<String, Conversation>,
    states: States,
    events: VecDeque<ClientEvent>,
    outgoing: VecDeque<Element>,
    /// Our roster sets by iq id: what they asked (`add`, `remove`) and for whom, so that
    /// a refusal is said (RFC 6121 §2.3.3: an error instead of the push).
    roster_sets: Recent<(&'static str, String)>,
    disco: VecDeque<DiscoRequest>,
    /// What the software of a caps `ver` supports, for the `ver`s whose hash matched the
    /// disco#info answer (XEP-0115 §5.4); the most recent `CAPS_KEPT`, since each
    /// contact's presence may bring a new one.
    caps_cache: Recent<presence::Features>,
    /// The user consented to offline sessions (XEP-0187: no forward secrecy).
    allow_offline: bool,
    offline_out: VecDeque<OfflineRequest>,
    rng: Box<dyn Random>,
    closing: bool,
    /// Why the connection to the server is down, while it is.
    offline: Option<String>,
    /// Until when the contacts' presence may still be on its way after our initial
    /// presence ([`PRESENCE_SETTLE`]).
    presence_due: Option<Timestamp>,
    /// Sessions whose resource went offline, already out of their conversation, whose
    /// end is reported at the instant given ([`OFFLINE_GRACE`]) unless the connection is
    /// lost first.
    gone: Vec<(Timestamp, SessionRef)>,
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
            presences_at_loss: Presences::default(),
            convs: BTreeMap::new(),
            states: States::new(STATES_KEPT),
            events: VecDeque::new(),
            outgoing: VecDeque::new(),
            roster_sets: Recent::new(ROSTER_SETS_KEPT),
            disco: VecDeque::new(),
            caps_cache: Recent::new(CAPS_KEPT),
            allow_offline: false,
            offline_out: VecDeque::new(),
            rng,
            closing: false,
            offline: None,
            presence_due: None,
            gone: Vec::new(),
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

    /// Whether `stanza` answers one of our roster sets; a refusal is said (RFC 6121
    /// §2.3.3: e.g. `not-acceptable` for a JID the server will not take), a success is
    /// reported by the push that follows it.
    fn roster_answer(&mut self, stanza: &Element) -> bool {
        if !stanza.is("iq", ns::JABBER_CLIENT)
            || stanza.attr("from").is_some_and(|f| f != self.own_bare)
        {
            return false;
        }
        let Some((what, jid_)) = stanza
            .attr("id")
            .and_then(|id| self.roster_sets.get(id))
            .cloned()
        else {
            return false;
        };
        match stanza.attr("type") {
            Some("result") => true,
            Some("error") => {
                let condition = stanza
                    .child("error", ns::JABBER_CLIENT)
                    .and_then(|e| {
                        e.children()
                            .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
                    })
                    .map_or("no condition given", |c| c.name());
                self.warn(
                    Some(jid_.clone()),
                    format!("the server refused to {what} {jid_} in your contacts ({condition})"),
                );
                true
            }
            _ => false,
        }
    }

    /// Whether the available presence of `update` is one the conversations follow: from a
    /// contact in the roster or one we hold a conversation with (a stranger who started a
    /// session, or whom the user wrote to; RFC 6121 §4.6: anyone may send directed
    /// presence), and one of at most [`MAX_RESOURCES`] resources of it. Each new resource costs a disco#info
    /// question (XEP-0116 §3) that the account's loop waits for, so presence from any
    /// number of strangers, or of resources of one contact, would stall it. Other updates
    /// (unavailable, subscriptions) are always taken.
    fn tracks(&self, update: &PresenceUpdate) -> bool {
        let PresenceUpdate::Available { full, .. } = update else {
            return true;
        };
        let bare = jid::bare(full);
        let ours = self.roster.get(bare).is_some() || self.convs.contains_key(bare);
        let (mut followed, mut known) = (0, false);
        for (resource, _) in self.presences.resources(bare) {
            followed += 1;
            known |= resource == full;
        }
        ours && (known || followed < MAX_RESOURCES)
    }

    /// Handles one stanza from the server: roster pushes and presence here, the rest in
    /// the engine.
    pub fn handle_stanza<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        stanza: Element,
        now: Timestamp,
    ) {
        if self.roster_answer(&stanza) {
            return;
        }
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
                Some(Ok(update)) if !self.tracks(&update) => return,
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

    /// Lets the engine's timers run (negotiation and terminate timeouts), and sends what
    /// waited for the contacts' presence once it had time to arrive.
    pub fn handle_timeout<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        engine.handle_timeout(now);
        if self.presence_due.is_some_and(|due| now >= due) {
            self.presence_due = None;
            let bares: Vec<String> = self.convs.keys().cloned().collect();
            for bare in bares {
                self.pump(engine, &bare, now);
            }
        }
        self.drain(engine, now);
        self.report_gone(engine, Some(now), now);
        self.replace_stale(engine, now);
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

    pub(crate) fn warn(&mut self, peer: Option<String>, detail: String) {
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
