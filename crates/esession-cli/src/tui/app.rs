//! The state of the terminal client: windows, contacts, the input line. Changed only by
//! [`App::key`], [`App::client_event`] and the results of the effects it asks for; drawn by
//! `view::draw`. No I/O here: what needs the network or the store is an [`Effect`].
use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use esession::{SasAlg, Timestamp};
use esession_client::history::{Direction, Page};
use esession_client::{ClientEvent, DeliveryState, Kept, Opening, Shield, Show};

use super::command::{self, Typed};
use super::input::Input;
use crate::sas_advice;

/// Rows PageUp / PageDown scroll by.
const PAGE: usize = 10;

/// A contact of the roster pane, as the conversation layer reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Contact {
    /// The bare JID.
    pub jid: String,
    /// The roster name, if any.
    pub name: Option<String>,
    /// The most available resource's presence; `None`: offline.
    pub show: Option<Show>,
    /// Whether an online resource advertises ESessions.
    pub esessions: bool,
}

/// The current session of a conversation, as the conversation layer reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionView {
    /// How far it can be trusted.
    pub shield: Shield,
    /// The SAS to compare aloud, if any.
    pub sas: Option<String>,
    /// Which SAS it is (profile P15).
    pub sas_alg: Option<SasAlg>,
    /// The compatibility mode off the profile the session speaks (issue 13), if any.
    pub compat: Option<esession::Compat>,
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    /// This account.
    Me,
    /// The contact's resource (full JID).
    Them(String),
}

/// How a notice is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Information.
    Info,
    /// Something that went wrong or needs attention.
    Error,
}

/// One entry of a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A message.
    Message {
        at: Timestamp,
        who: Who,
        body: String,
        /// Whether it travelled encrypted.
        encrypted: bool,
        /// The message id, if it has one.
        id: Option<String>,
        /// Our message's id and delivery state.
        sent: Option<(String, DeliveryState)>,
    },
    /// Something the client says.
    Notice {
        at: Timestamp,
        level: Level,
        text: String,
    },
}

/// A window: the console (no peer) or the conversation with one contact.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    /// The contact's bare JID; `None` for the console.
    pub peer: Option<String>,
    pub entries: Vec<Entry>,
    /// Messages that arrived while the window was not shown.
    pub unread: usize,
    /// Rows scrolled back from the newest.
    pub scroll: usize,
    /// Where the current session keeps its messages.
    pub kept: Option<Kept>,
    /// The current session, if one is established.
    pub session: Option<SessionView>,
}

impl Window {
    fn say(&mut self, at: Timestamp, level: Level, text: String) {
        self.entries.push(Entry::Notice { at, level, text });
    }

    /// Takes out our messages still queued (waiting for a session), in their order.
    fn take_queued(&mut self) -> Vec<Entry> {
        let (queued, rest) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| {
                matches!(
                    e,
                    Entry::Message {
                        sent: Some((_, DeliveryState::Queued { .. })),
                        ..
                    }
                )
            });
        self.entries = rest;
        queued
    }
}

/// What the client must do for the user: the event loop carries it out and reports the
/// result with the matching `App` method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Send `body` to `to` ([`App::sent`]).
    Send { to: String, body: String },
    /// Compare the SAS ([`App::verified`]).
    Verify { peer: String, sas: String },
    /// Show the fingerprints ([`App::fingerprints`]).
    Fingerprints { peer: String },
    /// Trust the contact's key ([`App::trusted`]).
    Trust {
        peer: String,
        /// The fingerprint the user read, which the key must have.
        fingerprint: Option<String>,
    },
    /// Name the contact's key, or remove its name ([`App::renamed`]).
    Rename {
        peer: String,
        petname: Option<String>,
    },
    /// Start a session with `peer` now ([`App::starting`]).
    Start { peer: String },
    /// End the sessions with `peer` ([`App::ended`]).
    End { peer: String },
    /// Add a contact ([`App::done`]).
    Add(String),
    /// Approve a subscription ([`App::done`]).
    Approve(String),
    /// Load the stored history ([`App::history`]).
    History { peer: String },
    /// Sign in again after a sign-out ([`App::done`]).
    Reconnect,
    /// Ring the terminal bell.
    Bell,
    /// End every session and leave.
    Quit,
}

/// The whole client state.
#[derive(Debug)]
pub(crate) struct App {
    /// Our full JID.
    pub account: String,
    /// The connection's state, in words.
    pub connection: String,
    /// Window 1: what concerns no conversation.
    pub console: Window,
    /// Windows 2 and up: the conversations, in the order opened.
    pub convs: Vec<Window>,
    /// The window shown: 0 is the console, `k` is `convs[k - 1]`.
    pub current: usize,
    pub input: Input,
    pub contacts: Vec<Contact>,
    /// Whether the help is shown over the windows.
    pub help: bool,
    /// The first entry of the help shown, when not all fit (PageUp / PageDown).
    pub help_first: usize,
}

impl App {
    /// The client of account `account` (full JID), online.
    pub(crate) fn new(account: &str, now: Timestamp) -> App {
        let mut console = Window::default();
        console.say(
            now,
            Level::Info,
            format!(
                "{account}: online. /open JID starts a conversation; /help lists the commands."
            ),
        );
        App {
            account: account.to_owned(),
            connection: "online".into(),
            console,
            convs: Vec::new(),
            current: 0,
            input: Input::default(),
            contacts: Vec::new(),
            help: false,
            help_first: 0,
        }
    }

    /// Every window, the console first.
    pub(crate) fn windows(&self) -> impl Iterator<Item = &Window> {
        std::iter::once(&self.console).chain(&self.convs)
    }

    /// How many windows there are.
    fn count(&self) -> usize {
        1 + self.convs.len()
    }

    /// Window `i` (0 is the console; an index past the end is the console too).
    pub(crate) fn window(&self, i: usize) -> &Window {
        match i.checked_sub(1).and_then(|k| self.convs.get(k)) {
            Some(w) => w,
            None => &self.console,
        }
    }

    fn window_mut(&mut self, i: usize) -> &mut Window {
        if let Some(w) = i.checked_sub(1).and_then(|k| self.convs.get_mut(k)) {
            return w;
        }
        &mut self.console
    }

    /// The window shown.
    pub(crate) fn shown(&self) -> &Window {
        self.window(self.current)
    }

    /// The contact of the window shown, if it is a conversation.
    pub(crate) fn peer(&self) -> Option<&str> {
        self.shown().peer.as_deref()
    }

    /// The index of `peer`'s window, if open.
    fn find(&self, peer: &str) -> Option<usize> {
        self.convs
            .iter()
            .position(|w| w.peer.as_deref() == Some(peer))
            .map(|k| k + 1)
    }

    /// The index of `peer`'s window, opened if needed; whether it is new.
    fn window_of(&mut self, peer: &str) -> (usize, bool) {
        match self.find(peer) {
            Some(i) => (i, false),
            None => {
                self.convs.push(Window {
                    peer: Some(peer.to_owned()),
                    ..Window::default()
                });
                (self.convs.len(), true)
            }
        }
    }

    /// The window of `peer` if open, else the console.
    fn window_or_console(&mut self, peer: &str) -> &mut Window {
        let i = self.find(peer).unwrap_or(0);
        self.window_mut(i)
    }

    /// Shows window `i`.
    fn switch(&mut self, i: usize) {
        if i < self.count() {
            self.current = i;
            self.window_mut(i).unread = 0;
        }
    }

    /// A notice in the window shown.
    fn tell(&mut self, now: Timestamp, level: Level, text: String) {
        self.window_mut(self.current).say(now, level, text);
    }

    /// One key pressed.
    pub(crate) fn key(&mut self, key: KeyEvent, now: Timestamp) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('c') if ctrl => return vec![Effect::Quit],
            KeyCode::Char('n') if ctrl => self.switch((self.current + 1) % self.count()),
            KeyCode::Char('p') if ctrl => {
                let n = self.count();
                self.switch((self.current + n - 1) % n);
            }
            KeyCode::Char('u') if ctrl => self.input.clear(),
            KeyCode::Char(c @ '1'..='9') if alt => {
                if let Some(n) = c.to_digit(10) {
                    self.switch(n as usize - 1);
                }
            }
            KeyCode::Char(c) if !ctrl && !alt => self.input.insert(c),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Esc => self.help = false,
            // While the help is shown, the page keys scroll it, one entry at a time.
            KeyCode::PageUp if self.help => self.help_first = self.help_first.saturating_sub(1),
            KeyCode::PageDown if self.help => {
                self.help_first = (self.help_first + 1).min(command::HELP.len() - 1);
            }
            KeyCode::PageUp => {
                let w = self.window_mut(self.current);
                w.scroll = w.scroll.saturating_add(PAGE);
            }
            KeyCode::PageDown => {
                let w = self.window_mut(self.current);
                w.scroll = w.scroll.saturating_sub(PAGE);
            }
            KeyCode::Enter => {
                let line = self.input.take();
                return self.submit(&line, now);
            }
            _ => {}
        }
        Vec::new()
    }

    /// A line typed and submitted.
    pub(crate) fn submit(&mut self, line: &str, now: Timestamp) -> Vec<Effect> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let typed = match command::parse(line) {
            Ok(t) => t,
            Err(e) => {
                self.tell(now, Level::Error, e);
                return Vec::new();
            }
        };
        let peer = self.peer().map(str::to_owned);
        let in_conversation = |effect: &dyn Fn(String) -> Effect| match &peer {
            Some(p) => Ok(vec![effect(p.clone())]),
            None => Err("not in a conversation: /open JID first (nothing was sent)".to_owned()),
        };
        let result = match typed {
            Typed::Say(body) => in_conversation(&|to| Effect::Send {
                to,
                body: body.clone(),
            }),
            Typed::Help => {
                self.help = true;
                self.help_first = 0;
                Ok(Vec::new())
            }
            Typed::Open(jid) => self.open(&jid),
            Typed::Close => self.close(),
            Typed::Win(n) => {
                if n <= self.count() {
                    self.switch(n - 1);
                    Ok(Vec::new())
                } else {
                    Err(format!("no window {n} (there are {})", self.count()))
                }
            }
            Typed::Verify(sas) => in_conversation(&|peer| Effect::Verify {
                peer,
                sas: sas.clone(),
            }),
            Typed::Fingerprints => in_conversation(&|peer| Effect::Fingerprints { peer }),
            Typed::Trust(fingerprint) => in_conversation(&|peer| Effect::Trust {
                peer,
                fingerprint: fingerprint.clone(),
            }),
            Typed::Name(petname) => in_conversation(&|peer| Effect::Rename {
                peer,
                petname: petname.clone(),
            }),
            Typed::Start => in_conversation(&|peer| Effect::Start { peer }),
            Typed::End => in_conversation(&|peer| Effect::End { peer }),
            Typed::History => in_conversation(&|peer| Effect::History { peer }),
            Typed::Add(jid) => contact("/add", &jid).map(|j| vec![Effect::Add(j)]),
            Typed::Approve(jid) => contact("/approve", &jid).map(|j| vec![Effect::Approve(j)]),
            Typed::Reconnect => Ok(vec![Effect::Reconnect]),
            Typed::Quit => Ok(vec![Effect::Quit]),
        };
        result.unwrap_or_else(|e| {
            self.tell(now, Level::Error, e);
            Vec::new()
        })
    }

    fn open(&mut self, typed: &str) -> Result<Vec<Effect>, String> {
        let jid = contact("/open", typed)?;
        let (i, _) = self.window_of(&jid);
        self.switch(i);
        Ok(Vec::new())
    }

    fn close(&mut self) -> Result<Vec<Effect>, String> {
        if self.current == 0 {
            return Err("the console stays open (/quit leaves)".into());
        }
        let i = self.current - 1;
        if i < self.convs.len() {
            self.convs.remove(i);
        }
        self.switch(i);
        Ok(Vec::new())
    }

    /// An event of the conversation layer.
    pub(crate) fn client_event(&mut self, ev: &ClientEvent, now: Timestamp) -> Vec<Effect> {
        match ev {
            ClientEvent::Established {
                peer,
                full,
                sas,
                sas_alg,
                adopted,
                kept,
                petname,
                compat,
                shield,
                ..
            } => {
                let (i, new) = self.window_of(peer);
                let w = self.window_mut(i);
                w.kept = Some(*kept);
                // Decision (tui order): lines typed while the session was negotiated are
                // shown at once as queued, and move below the session's lines when it is
                // established: they travel in it, and are marked sent when they leave.
                let queued = w.take_queued();
                let started = if *adopted {
                    "they started it"
                } else {
                    "we started it"
                };
                let logged = match kept {
                    Kept::Store => "kept in the sealed local history",
                    Kept::Memory | Kept::Nowhere => "not logged: kept in memory only",
                };
                // XEP-0116 §7.4: the petname the user gave the contact's key comes first.
                let who = match petname {
                    Some(p) => format!("{p} ({full})"),
                    None => full.clone(),
                };
                w.say(
                    now,
                    Level::Info,
                    format!("encrypted session with {who} ({started}); {logged}"),
                );
                if let Some(sas) = sas {
                    let caveat = sas_advice::caveat(*sas_alg);
                    let advice = match sas_advice::vouched(*shield) {
                        Some(why) => format!("SAS {sas}: {why}{caveat}"),
                        None => {
                            format!(
                                "SAS {sas}: compare it aloud, then /verify what they read{caveat}"
                            )
                        }
                    };
                    w.say(now, Level::Info, advice);
                }
                // Issue 13 §4: a session in Gajim's dialect says so, and what it costs.
                let w = self.window_mut(i);
                if let Some(c) = compat {
                    // Each cost names the mode ("Gajim compatibility: …").
                    for cost in c.costs() {
                        w.say(now, Level::Error, (*cost).to_owned());
                    }
                }
                w.entries.extend(queued);
                if new && *adopted {
                    self.arrived(i, now, "a new conversation", false)
                } else {
                    Vec::new()
                }
            }
            ClientEvent::Message {
                peer,
                full,
                body,
                encrypted,
                offline,
                id,
                ..
            } => {
                let (i, _) = self.window_of(peer);
                let w = self.window_mut(i);
                w.entries.push(Entry::Message {
                    at: now,
                    who: Who::Them(full.clone()),
                    body: body.clone(),
                    encrypted: *encrypted,
                    id: id.clone(),
                    sent: None,
                });
                if *offline {
                    w.say(now, Level::Error, OFFLINE_NOTE.to_owned());
                }
                self.arrived(i, now, "a message", true)
            }
            ClientEvent::Receipt { id, state, .. } => {
                self.set_state(id, state);
                Vec::new()
            }
            ClientEvent::Terminated {
                peer, full, reason, ..
            } => {
                self.window_or_console(peer).say(
                    now,
                    Level::Info,
                    format!("session ended with {full}: {reason}"),
                );
                Vec::new()
            }
            ClientEvent::Warning { peer, detail, .. } => {
                // Every line about a session names its contact (the resource: which
                // session), in the console as in the contact's window.
                match peer {
                    Some(p) => self.window_or_console(esession::jid::bare(p)).say(
                        now,
                        Level::Error,
                        format!("{p}: {detail}"),
                    ),
                    None => self.console.say(now, Level::Error, detail.clone()),
                }
                Vec::new()
            }
            ClientEvent::SubscriptionRequest { jid } => {
                self.console.say(
                    now,
                    Level::Info,
                    format!("{jid} asks to see your presence: /approve {jid} to let them"),
                );
                vec![Effect::Bell]
            }
            ClientEvent::SubscriptionAnswer { jid, approved } => {
                let answer = if *approved {
                    "approved: you see their presence"
                } else {
                    "refused or cancelled your presence subscription"
                };
                self.console
                    .say(now, Level::Info, format!("{jid} {answer}"));
                Vec::new()
            }
            ClientEvent::ConnectionLost { reason } => {
                self.connection = "connection lost".into();
                // Our link, not the contacts: what ended and what happens next is said.
                let text = format!(
                    "connection to the server lost: {reason}. Every session ended; \
                     reconnecting, messages wait"
                );
                self.console.say(now, Level::Error, text);
                vec![Effect::Bell]
            }
            ClientEvent::SignedOut { jid, why, text } => {
                self.connection = "signed out: /reconnect to sign in again".into();
                let text = crate::sign_out::notice(jid, *why, text.as_deref());
                self.console.say(now, Level::Error, text);
                vec![Effect::Bell]
            }
            ClientEvent::Reconnecting {
                attempt, in_secs, ..
            } => {
                self.connection = format!("reconnecting (attempt {attempt} in {in_secs} s)");
                Vec::new()
            }
            ClientEvent::Online { jid } => {
                self.connection = "online".into();
                self.console
                    .say(now, Level::Info, format!("online again as {jid}"));
                Vec::new()
            }
            // The contacts pane is refreshed from the layer after every event.
            ClientEvent::Roster(_) | ClientEvent::Presence { .. } => Vec::new(),
            // Events this client does not know yet are still shown.
            #[allow(unreachable_patterns)]
            other => {
                self.console.say(now, Level::Info, format!("{other:?}"));
                Vec::new()
            }
        }
    }

    /// Something arrived in window `i`: when the window is not shown, a notice in the
    /// one shown and the bell; a message (`count`) is counted unread.
    fn arrived(&mut self, i: usize, now: Timestamp, what: &str, count: bool) -> Vec<Effect> {
        if i == self.current {
            return Vec::new();
        }
        let w = self.window_mut(i);
        if count {
            w.unread += 1;
        }
        let peer = w.peer.clone().unwrap_or_default();
        let n = i + 1;
        self.tell(
            now,
            Level::Info,
            format!("{what} from {peer} in window {n} (Alt+{n})"),
        );
        vec![Effect::Bell]
    }

    fn set_state(&mut self, id: &str, state: &DeliveryState) {
        for w in std::iter::once(&mut self.console).chain(&mut self.convs) {
            for e in w.entries.iter_mut().rev() {
                if let Entry::Message {
                    sent: Some((sent_id, s)),
                    ..
                } = e
                {
                    if sent_id == id {
                        *s = state.clone();
                        return;
                    }
                }
            }
        }
    }

    /// Our message `body` to `peer` was taken as `id`, in `state`.
    pub(crate) fn sent(
        &mut self,
        peer: &str,
        id: &str,
        body: &str,
        state: DeliveryState,
        now: Timestamp,
    ) {
        let (i, _) = self.window_of(peer);
        let w = self.window_mut(i);
        w.entries.push(Entry::Message {
            at: now,
            who: Who::Me,
            body: body.to_owned(),
            encrypted: true,
            id: Some(id.to_owned()),
            sent: Some((id.to_owned(), state)),
        });
        w.scroll = 0;
    }

    /// The result of `/verify`.
    pub(crate) fn verified(
        &mut self,
        peer: &str,
        typed: &str,
        result: Result<bool, String>,
        now: Timestamp,
    ) {
        let alg = self
            .find(peer)
            .and_then(|i| self.window(i).session.as_ref())
            .and_then(|s| s.sas_alg);
        let caveat = sas_advice::caveat(alg);
        let (level, text) = match result {
            Ok(true) => (
                Level::Info,
                format!("SAS verified: the session with {peer} is sas-verified{caveat}"),
            ),
            Ok(false) => (
                Level::Error,
                format!(
                    "the SAS you typed ({typed}) does not match: someone may be in the \
                     middle. The session is not shown SAS-verified any more"
                ),
            ),
            Err(e) => (Level::Error, format!("not verified: {e}")),
        };
        self.window_or_console(peer).say(now, level, text);
    }

    /// The result of `/fp`: our fingerprint and the key the contact presented in the
    /// current session (fingerprint, petname).
    pub(crate) fn fingerprints(
        &mut self,
        peer: &str,
        own: Option<&str>,
        theirs: Option<(&str, Option<&str>)>,
        now: Timestamp,
    ) {
        let own = own.map_or("you have no identity key yet".to_owned(), |fp| {
            format!("yours: {}", groups(fp))
        });
        let theirs = match theirs {
            Some((fp, Some(petname))) => format!("{peer} ({petname}): {}", groups(fp)),
            Some((fp, None)) => format!("{peer}: {}", groups(fp)),
            None => format!("{peer} presented no key in the current session"),
        };
        let w = self.window_or_console(peer);
        w.say(now, Level::Info, own);
        w.say(now, Level::Info, theirs);
    }

    /// The result of `/trust`.
    pub(crate) fn trusted(&mut self, peer: &str, result: Result<String, String>, now: Timestamp) {
        let (level, text) = match result {
            Ok(fp) => (
                Level::Info,
                format!("key {} trusted for {peer}", groups(&fp)),
            ),
            Err(e) => (Level::Error, format!("nothing trusted: {e}")),
        };
        self.window_or_console(peer).say(now, level, text);
    }

    /// The result of `/name`.
    pub(crate) fn renamed(
        &mut self,
        peer: &str,
        petname: Option<&str>,
        result: Result<String, String>,
        now: Timestamp,
    ) {
        let (level, text) = match (result, petname) {
            (Ok(fp), Some(name)) => (
                Level::Info,
                format!("key {} of {peer} is now named {name}", groups(&fp)),
            ),
            (Ok(fp), None) => (
                Level::Info,
                format!("key {} of {peer} has no name now", groups(&fp)),
            ),
            (Err(e), _) => (Level::Error, format!("nothing named: {e}")),
        };
        self.window_or_console(peer).say(now, level, text);
    }

    /// The result of `/end`.
    pub(crate) fn ended(&mut self, peer: &str, n: usize, now: Timestamp) {
        let text = match n {
            0 => format!("no session with {peer} to end"),
            n => format!("ending {n} session(s) with {peer}"),
        };
        self.window_or_console(peer).say(now, Level::Info, text);
    }

    /// The answer to `/start` with `peer`: the negotiation started, or the session there
    /// is already, or why none was started.
    pub(crate) fn starting(&mut self, peer: &str, opened: Result<Opening, String>, now: Timestamp) {
        let (level, text) = match opened {
            Ok(Opening::Started(full)) => (
                Level::Info,
                format!("negotiating an encrypted session with {full}: its SAS shows here"),
            ),
            Ok(Opening::Negotiating) => (
                Level::Info,
                format!("a session with {peer} is being negotiated already"),
            ),
            Ok(Opening::Established) => (
                Level::Info,
                format!("the session with {peer} is established already (/end ends it)"),
            ),
            Err(why) => (Level::Error, format!("no session started: {why}")),
        };
        self.window_or_console(peer).say(now, level, text);
    }

    /// A command that needs no answer was carried out.
    pub(crate) fn done(&mut self, text: String, now: Timestamp) {
        self.tell(now, Level::Info, text);
    }

    /// The result of `/history`: the stored messages, shown before the window's entries.
    pub(crate) fn history(&mut self, peer: &str, page: Result<Page, String>, now: Timestamp) {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                return self.window_or_console(peer).say(
                    now,
                    Level::Error,
                    format!("history not read: {e}"),
                )
            }
        };
        let (i, _) = self.window_of(peer);
        // Messages of this run are shown once, where they are already.
        let here: HashSet<String> = self
            .window(i)
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Message { id: Some(id), .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        let stored: Vec<Entry> = page
            .entries
            .into_iter()
            .filter(|e| !here.contains(&e.message.id))
            .map(|e| Entry::Message {
                at: e.message.at,
                who: match e.message.direction {
                    Direction::Sent => Who::Me,
                    Direction::Received => Who::Them(peer.to_owned()),
                },
                body: e.message.body,
                encrypted: true,
                id: Some(e.message.id),
                sent: None,
            })
            .collect();
        if stored.is_empty() && page.altered == 0 {
            self.window_mut(i).say(
                now,
                Level::Info,
                "no stored message that is not shown already".into(),
            );
            return;
        }
        let mut shown: Vec<Entry> = Vec::with_capacity(stored.len() + 3);
        shown.push(Entry::Notice {
            at: now,
            level: Level::Info,
            text: format!("— {} stored message(s) —", stored.len()),
        });
        shown.extend(stored);
        if page.altered > 0 {
            shown.push(Entry::Notice {
                at: now,
                level: Level::Error,
                text: format!(
                    "{} stored message(s) were altered in the file and skipped",
                    page.altered
                ),
            });
        }
        shown.push(Entry::Notice {
            at: now,
            level: Level::Info,
            text: "— end of the stored history (PageUp scrolls) —".into(),
        });
        let w = self.window_mut(i);
        shown.append(&mut w.entries);
        w.entries = shown;
    }

    /// The current session of `peer`'s conversation, from the layer.
    pub(crate) fn set_session(&mut self, peer: &str, session: Option<SessionView>) {
        if let Some(i) = self.find(peer) {
            self.window_mut(i).session = session;
        }
    }

    /// The conversations' contacts.
    pub(crate) fn peers(&self) -> Vec<String> {
        self.convs.iter().filter_map(|w| w.peer.clone()).collect()
    }

    /// The unread count of `peer`'s window.
    pub(crate) fn unread(&self, peer: &str) -> usize {
        self.find(peer).map_or(0, |i| self.window(i).unread)
    }
}

/// `typed` as a contact's bare JID for `command`.
fn contact(command: &str, typed: &str) -> Result<String, String> {
    crate::typed_jid::contact(command, typed)
}

/// Said under a message that came in an offline session (XEP-0187 §4).
const OFFLINE_NOTE: &str = "the line above was sent while you were offline (XEP-0187 offline \
     session): encrypted and signed, but without forward secrecy";

/// A fingerprint in groups of four characters, for reading aloud.
pub(crate) fn groups(fp: &str) -> String {
    let chars: Vec<char> = fp.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}
