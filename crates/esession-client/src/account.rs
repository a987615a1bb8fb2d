//! The long-running account: one connection, its engine and its conversations.
use std::time::Duration;

use esession::pubkeys::key_request_answer;
use esession::xml::{parse_element, Limits};
use esession::{FullJid, OsRandom, SecretStore, SessionInfo, Timestamp};
use esession_xmpp::{
    Client, LinkEvent, OfflineError, OfflineLogin, OfflineSendError, Unreachable, Withdrawal,
    XmppError,
};
use tokio::time::Instant;

use crate::conversations::{Conversations, Opening};
use crate::event::{ClientEvent, Shield};
use crate::history::{MessageLog, Page};
use crate::queue::DeliveryState;
use crate::roster;

/// Longest single wait on the stream, so that engine timers fire on time.
const TICK: Duration = Duration::from_millis(250);

/// How long a contact resource may take to answer disco#info (XEP-0030).
const DISCO_WAIT: Duration = Duration::from_secs(5);

/// The disco#info features a client driven by this layer advertises beside the ESession
/// ones ([`esession_xmpp::ConnectOptions::features`]): it gives receipts (XEP-0184 §5).
pub const FEATURES: [&str; 1] = [crate::receipts::NS_RECEIPTS];

/// An account online: the connection, the engine and every conversation.
pub struct Account<S: SecretStore> {
    client: Client<S>,
    convs: Conversations,
    limits: Limits,
    /// Bound for the roster fetch (at login and after each reconnection).
    wait: Duration,
}

impl<S: SecretStore> Account<S> {
    /// Takes over `client` (logged in with [`FEATURES`] among its own, initial presence
    /// not sent yet): fetches the roster (RFC 6121 §2.2: before initial presence) and the
    /// archiving preferences the negotiations follow (XEP-0136 §3.1; unless the user
    /// chose `logging` explicitly for this program, `explicit_logging`), loads
    /// our stored offline options and withdraws the subscriber set (profile P11
    /// "Withdrawal", XEP-0187 §3.4: what contacts sent with them while we were offline
    /// is delivered after our presence, and opened then), then sends initial presence.
    pub async fn start(
        mut client: Client<S>,
        wait: Duration,
        explicit_logging: bool,
    ) -> Result<Self, XmppError> {
        let mut convs = Conversations::new(client.jid().as_str(), Box::new(OsRandom));
        let items = fetch_roster(&mut client, wait).await?;
        convs.set_roster(items);
        client.follow_archive_prefs(explicit_logging).await?;
        match client.prepare_offline_login(wait).await {
            Ok(OfflineLogin {
                withdrawal: Withdrawal::Failed(why),
                ..
            }) => convs.warn(
                None,
                format!(
                    "the offline options for your contacts were not withdrawn ({why}): they \
                     can still send you offline sessions until you publish again"
                ),
            ),
            Ok(_) => {}
            Err(OfflineError::Xmpp(e)) => return Err(e),
            Err(OfflineError::Engine(e)) => convs.warn(
                None,
                format!(
                    "your stored offline options could not be read ({e}): what contacts \
                     sent offline with them cannot be opened"
                ),
            ),
        }
        client.connection_mut().send_presence().await?;
        convs.presence_sent(Timestamp::now());
        Ok(Account {
            client,
            convs,
            limits: Limits::default(),
            wait,
        })
    }

    /// Our full JID.
    pub fn jid(&self) -> &str {
        self.client.jid().as_str()
    }

    /// The conversations (roster, presence, queues).
    pub fn conversations(&self) -> &Conversations {
        &self.convs
    }

    /// Keeps the messages of `logging` = `may` sessions in `store` from now on (see
    /// [`Conversations::keep_history`]).
    pub fn keep_history(&mut self, store: Box<dyn MessageLog + Send>) {
        self.convs.keep_history(store);
    }

    /// The newest `limit` messages with `bare`, oldest first (see
    /// [`Conversations::history`]).
    ///
    /// # Errors
    /// Why the store could not be read.
    pub fn history(&self, bare: &str, limit: usize) -> Result<Page, String> {
        self.convs.history(bare, limit)
    }

    /// The shield of the conversation with `bare`.
    pub fn shield(&self, bare: &str) -> Shield {
        self.convs.shield(self.client.engine(), bare)
    }

    /// The summary of the current session with `bare` (see
    /// [`Conversations::session_info`]).
    pub fn session_info(&self, bare: &str) -> Option<SessionInfo> {
        self.convs.session_info(self.client.engine(), bare)
    }

    /// The fingerprint of our identity key (Base64 SHA-256, profile P8), if we have one.
    pub fn fingerprint(&self) -> Option<String> {
        self.client
            .engine()
            .identity_key()
            .map(|k| k.public().fingerprint().to_b64())
    }

    /// Marks the key `bare` presented in the current session trusted, if it has the
    /// fingerprint `expected` when one is given (see [`Conversations::trust`]).
    ///
    /// # Errors
    /// Why nothing was marked.
    pub fn trust(&mut self, bare: &str, expected: Option<&str>) -> Result<String, String> {
        self.convs.trust(self.client.engine_mut(), bare, expected)
    }

    /// Names (or un-names) the key `bare` presented in its current session (see
    /// [`Conversations::rename`]).
    pub fn rename(&mut self, bare: &str, petname: Option<&str>) -> Result<String, String> {
        self.convs.rename(self.client.engine_mut(), bare, petname)
    }

    /// The client (engine and connection), for what this layer does not cover.
    pub fn client_mut(&mut self) -> &mut Client<S> {
        &mut self.client
    }

    /// After the server signed the session out ([`ClientEvent::SignedOut`]), logs in
    /// again with the same full JID: the user's explicit choice, which signs out the
    /// client that took it (see [`esession_xmpp::Connection::reconnect`]). The attempt
    /// and the return are reported as after a lost connection. Returns false when the
    /// session was not signed out (after a loss it reconnects on its own).
    pub fn reconnect(&mut self) -> bool {
        self.client.connection_mut().reconnect()
    }

    /// Sends `body` to the contact `to` (see [`Conversations::send`]).
    pub async fn send(
        &mut self,
        to: &str,
        body: &str,
    ) -> Result<(String, DeliveryState), XmppError> {
        let (id, state) = self
            .convs
            .send(self.client.engine_mut(), to, body, Timestamp::now());
        self.flush().await?;
        self.send_offline_queued().await?;
        let state = self.convs.state(&id).cloned().unwrap_or(state);
        Ok((id, state))
    }

    /// Starts negotiating a session with the contact `bare` now, before any message (see
    /// [`Conversations::start_session`]): the outer error is the connection's, the inner one why
    /// no session was started.
    pub async fn start_session(
        &mut self,
        bare: &str,
    ) -> Result<Result<Opening, String>, XmppError> {
        let opened = self
            .convs
            .start_session(self.client.engine_mut(), bare, Timestamp::now());
        self.flush().await?;
        Ok(opened)
    }

    /// Allows (or not) offline sessions (see [`Conversations::set_allow_offline`]).
    pub fn set_allow_offline(&mut self, allowed: bool) {
        self.convs.set_allow_offline(allowed);
    }

    /// Sends the messages the conversations hand to offline sessions, each in its own
    /// (XEP-0187 §3.3: one-shot; the options are fetched and checked each time).
    async fn send_offline_queued(&mut self) -> Result<(), XmppError> {
        while let Some(req) = self.convs.poll_offline() {
            let why = Unreachable::NoPresence {
                to: req.bare.clone(),
            };
            let outcome = match esession::BareJid::new(&req.bare) {
                Err(e) => Err(format!("{} is not a bare JID: {e}", req.bare)),
                Ok(bare) => self
                    .client
                    .send_offline(&bare, why, &req.body, 1, DISCO_WAIT)
                    .await
                    .map(drop)
                    .map_err(|e| match e {
                        // The contact's options answered nothing useful: say which.
                        OfflineSendError::NoOptions(_) => {
                            "the contact published no offline options".to_owned()
                        }
                        OfflineSendError::Refused { error, .. } => {
                            format!("the contact's offline options were refused: {error}")
                        }
                        other => other.to_string(),
                    }),
            };
            self.convs
                .offline_sent(&req.bare, &req.id, &req.body, outcome, Timestamp::now());
            self.flush().await?;
        }
        Ok(())
    }

    /// Ends every session with `bare`; returns how many there were.
    pub async fn end(&mut self, bare: &str) -> Result<usize, XmppError> {
        let n = self
            .convs
            .end(self.client.engine_mut(), bare, Timestamp::now());
        self.flush().await?;
        Ok(n)
    }

    /// Compares the SAS heard from `bare` (see [`Conversations::verify`]).
    pub fn verify(&mut self, bare: &str, sas: &str) -> Result<bool, String> {
        self.convs.verify(self.client.engine_mut(), bare, sas)
    }

    /// Adds `jid` to the roster and asks for its presence.
    pub async fn add(&mut self, jid: &str) -> Result<(), XmppError> {
        self.convs.add(jid);
        self.flush().await
    }

    /// Approves `jid`'s subscription to our presence.
    pub async fn approve(&mut self, jid: &str) -> Result<(), XmppError> {
        self.convs.approve(jid);
        self.flush().await
    }

    /// Removes `jid` from the roster (see [`Conversations::remove`]).
    pub async fn remove(&mut self, jid: &str) -> Result<(), XmppError> {
        self.convs.remove(jid);
        self.flush().await
    }

    /// Denies (or cancels) `jid`'s subscription to our presence (see
    /// [`Conversations::deny`]).
    pub async fn deny(&mut self, jid: &str) -> Result<(), XmppError> {
        self.convs.deny(jid);
        self.flush().await
    }

    /// Sends what the engine and the conversations queued; while the connection is down,
    /// both wait.
    async fn flush(&mut self) -> Result<(), XmppError> {
        // While the link is down, what the engine has to send waits in its outbox: the
        // terminates of the sessions the loss ended go out if the server resumes the
        // stream (the contacts still hold those sessions then), and are dropped on a new
        // one (`link_events`).
        if !self.client.connection_mut().is_up() {
            return Ok(());
        }
        let sent = self.send_queued().await;
        match sent {
            // The link broke under the write: the loss is read from the stream next, and
            // the messages not acknowledged wait for the next connection.
            Err(XmppError::Timeout(what)) => {
                tracing::warn!(what, "a stanza was not sent: the connection is stalled");
                Ok(())
            }
            other => unless_signed_out(other),
        }
    }

    async fn send_queued(&mut self) -> Result<(), XmppError> {
        self.client.flush().await?;
        while let Some(stanza) = self.convs.poll_outgoing() {
            self.client
                .connection_mut()
                .send_xml(&stanza.to_string())
                .await?;
        }
        Ok(())
    }

    /// Takes in what happened to the link to the server: a loss ends every session, an
    /// attempt is announced, a return fetches the roster again and sends presence
    /// (RFC 6121 §2.1.3, §4.2).
    async fn link_events(&mut self) -> Result<(), XmppError> {
        while let Some(ev) = self.client.connection_mut().next_link_event() {
            match ev {
                LinkEvent::Lost { reason } => {
                    let engine = self.client.engine_mut();
                    self.convs
                        .connection_lost(engine, &reason, Timestamp::now());
                }
                LinkEvent::SignedOut { jid, why, text } => {
                    let engine = self.client.engine_mut();
                    self.convs
                        .signed_out(engine, &jid, why, text, Timestamp::now());
                }
                LinkEvent::Reconnecting {
                    attempt,
                    after,
                    error,
                } => {
                    let in_secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
                    self.convs.reconnecting(attempt, in_secs, error);
                }
                LinkEvent::Online { jid, resumed } => {
                    if !resumed {
                        // A new stream: the contacts saw us leave (RFC 6121 §4.5.2) and
                        // ended our sessions; what the engine had for them is stale.
                        let engine = self.client.engine_mut();
                        while engine.poll_outgoing().is_some() {}
                    }
                    let roster = match fetch_roster(&mut self.client, self.wait).await {
                        Ok(items) => Some(items),
                        Err(e) => {
                            tracing::warn!(error = %e, "roster not fetched again");
                            None
                        }
                    };
                    let presence = self.client.connection_mut().send_presence().await;
                    unless_signed_out(presence)?;
                    if self.client.jid() != self.client.engine().own_jid() {
                        tracing::warn!(bound = %jid, "the server bound another resource");
                    }
                    self.convs.online(&jid, roster);
                    if resumed {
                        let engine = self.client.engine_mut();
                        self.convs.resumed(engine, Timestamp::now());
                    } else {
                        self.convs.presence_sent(Timestamp::now());
                    }
                }
            }
        }
        Ok(())
    }

    /// The next event, reading the stream for up to `wait`; `None` when nothing happened.
    pub async fn next_event(&mut self, wait: Duration) -> Result<Option<ClientEvent>, XmppError> {
        let deadline = Instant::now() + wait;
        loop {
            self.link_events().await?;
            self.flush().await?;
            if let Some(ev) = self.convs.poll_event() {
                return Ok(Some(ev));
            }
            if let Some(req) = self.convs.poll_disco() {
                let conn = self.client.connection_mut();
                let node = req.node.as_deref();
                let mut answer = conn.disco_info(&req.full, node, DISCO_WAIT).await;
                if answer.is_err() && node.is_some() && conn.is_up() {
                    // A client that does not answer about its caps node is asked plainly.
                    answer = conn.disco_info(&req.full, None, DISCO_WAIT).await;
                }
                // A resource that does not answer is taken as not supporting ESessions;
                // unless the connection was lost meanwhile (its presence is gone then).
                if answer.is_err() && !conn.is_up() {
                    continue;
                }
                let answer = answer.ok();
                if self.convs.wants_software(&req.full, answer.as_ref()) {
                    let full = FullJid::new(&req.full);
                    let learnt = match full {
                        Ok(full) => self.client.learn_software(&full, DISCO_WAIT).await,
                        Err(_) => Ok(None),
                    };
                    // Only a lost connection fails here: as for disco#info above.
                    if learnt.is_err() {
                        continue;
                    }
                }
                let engine = self.client.engine_mut();
                self.convs
                    .disco_info(engine, &req.full, answer.as_ref(), Timestamp::now());
                continue;
            }
            if self.convs.has_offline() {
                self.send_offline_queued().await?;
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let xml = self
                .client
                .connection_mut()
                .next_stanza(left.min(TICK))
                .await?;
            if let Some(xml) = xml {
                match parse_element(&xml, &self.limits) {
                    Ok(stanza) => {
                        // XEP-0189 §6: a direct key request is answered with our key.
                        let engine = self.client.engine_mut();
                        let key = engine.identity_key().map(|k| k.public());
                        if let Some(reply) = key_request_answer(&stanza, key.as_ref()) {
                            let answer = self
                                .client
                                .connection_mut()
                                .send_xml(&reply.to_string())
                                .await;
                            unless_signed_out(answer)?;
                            continue;
                        }
                        self.convs.handle_stanza(engine, stanza, Timestamp::now());
                    }
                    Err(e) => tracing::warn!(error = %e, "dropped a stanza that did not parse"),
                }
            }
            // A loss the read just saw comes before the timers: a contact's departure held
            // back (the server shutting down, `OFFLINE_GRACE`) is then our lost connection,
            // even when a send into the dying stream took longer than the grace.
            self.link_events().await?;
            let engine = self.client.engine_mut();
            self.convs.handle_timeout(engine, Timestamp::now());
        }
    }

    /// Ends every session (XEP-0116 §5), reports unacknowledged messages as failed, waits
    /// up to `wait` for the acknowledgements and closes the stream. Returns the events
    /// seen meanwhile.
    pub async fn shutdown(mut self, wait: Duration) -> Result<Vec<ClientEvent>, XmppError> {
        self.convs
            .shutdown(self.client.engine_mut(), Timestamp::now());
        let mut events = Vec::new();
        let deadline = Instant::now() + wait;
        while !self.client.engine().session_ids().is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(ev) = self.next_event(left).await? {
                events.push(ev);
            }
        }
        self.flush().await?;
        while let Some(ev) = self.convs.poll_event() {
            events.push(ev);
        }
        if !self.client.connection_mut().is_up() {
            // The terminates kept for a resumed stream (`flush`) will not go out: nothing
            // would carry them, and the stream is not coming back.
            let engine = self.client.engine_mut();
            while engine.poll_outgoing().is_some() {}
        }
        // Closes the stream; the engine events it returns concern sessions whose end this
        // layer has already reported.
        self.client.shutdown(Duration::ZERO).await?;
        Ok(events)
    }
}

/// `sent`, except that a sign-out is not an error of the account: the server's stream
/// error arrived while the stanza waited, the sign-out is the next link event, and what
/// was being sent waits like any message after a lost connection.
fn unless_signed_out(sent: Result<(), XmppError>) -> Result<(), XmppError> {
    match sent {
        Err(XmppError::SignedOut { jid, why }) => {
            tracing::warn!(%jid, why = why.name(), "a stanza was not sent: signed out");
            Ok(())
        }
        other => other,
    }
}

/// The roster (RFC 6121 §2.1.3: a roster get to our own account), waiting up to `wait`.
async fn fetch_roster<S: SecretStore>(
    client: &mut Client<S>,
    wait: Duration,
) -> Result<Vec<crate::RosterItem>, XmppError> {
    let conn = client.connection_mut();
    match conn.iq("get", None, &roster::query(), wait).await? {
        Some(query) => roster::parse_items(&query).map_err(XmppError::Protocol),
        None => Ok(Vec::new()),
    }
}
