//! The long-running account: one connection, its engine and its conversations.
use std::time::Duration;

use esession::pubkeys::key_request_answer;
use esession::xml::{parse_element, Limits};
use esession::{OsRandom, SecretStore, SessionInfo, Timestamp};
use esession_xmpp::{Client, XmppError};
use tokio::time::Instant;

use crate::conversations::Conversations;
use crate::event::{ClientEvent, Shield};
use crate::history::{MessageLog, Page};
use crate::queue::DeliveryState;
use crate::roster;

/// Longest single wait on the stream, so that engine timers fire on time.
const TICK: Duration = Duration::from_millis(250);

/// How long a contact resource may take to answer disco#info (XEP-0030).
const DISCO_WAIT: Duration = Duration::from_secs(5);

/// An account online: the connection, the engine and every conversation.
pub struct Account<S: SecretStore> {
    client: Client<S>,
    convs: Conversations,
    limits: Limits,
}

impl<S: SecretStore> Account<S> {
    /// Takes over `client` (logged in, initial presence not sent yet): fetches the roster
    /// (RFC 6121 §2.2: before initial presence), then sends initial presence.
    pub async fn start(mut client: Client<S>, wait: Duration) -> Result<Self, XmppError> {
        let mut convs = Conversations::new(client.jid().as_str(), Box::new(OsRandom));
        let conn = client.connection_mut();
        // RFC 6121 §2.1.3: a roster get to our own account.
        let result = conn.iq("get", None, &roster::query(), wait).await?;
        if let Some(query) = result {
            let items = roster::parse_items(&query).map_err(XmppError::Protocol)?;
            convs.set_roster(items);
        }
        conn.send_presence().await?;
        Ok(Account {
            client,
            convs,
            limits: Limits::default(),
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

    /// Marks the key `bare` presented in the current session trusted (see
    /// [`Conversations::trust`]).
    ///
    /// # Errors
    /// Why nothing was marked.
    pub fn trust(&mut self, bare: &str) -> Result<String, String> {
        self.convs.trust(self.client.engine_mut(), bare)
    }

    /// The client (engine and connection), for what this layer does not cover.
    pub fn client_mut(&mut self) -> &mut Client<S> {
        &mut self.client
    }

    /// Sends `body` to the contact `to` (see [`Conversations::send`]).
    pub async fn send(
        &mut self,
        to: &str,
        body: &str,
    ) -> Result<(String, DeliveryState), XmppError> {
        let sent = self
            .convs
            .send(self.client.engine_mut(), to, body, Timestamp::now());
        self.flush().await?;
        Ok(sent)
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

    /// Sends what the engine and the conversations queued.
    async fn flush(&mut self) -> Result<(), XmppError> {
        self.client.flush().await?;
        while let Some(stanza) = self.convs.poll_outgoing() {
            self.client
                .connection_mut()
                .send_xml(&stanza.to_string())
                .await?;
        }
        Ok(())
    }

    /// The next event, reading the stream for up to `wait`; `None` when nothing happened.
    pub async fn next_event(&mut self, wait: Duration) -> Result<Option<ClientEvent>, XmppError> {
        let deadline = Instant::now() + wait;
        loop {
            self.flush().await?;
            if let Some(ev) = self.convs.poll_event() {
                return Ok(Some(ev));
            }
            if let Some(full) = self.convs.poll_disco() {
                // A resource that does not answer is taken as not supporting ESessions.
                let supported = self
                    .client
                    .peer_supports_esessions(&full, DISCO_WAIT)
                    .await
                    .unwrap_or(false);
                let engine = self.client.engine_mut();
                self.convs
                    .set_esessions(engine, full.as_str(), supported, Timestamp::now());
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
                            self.client
                                .connection_mut()
                                .send_xml(&reply.to_string())
                                .await?;
                            continue;
                        }
                        self.convs.handle_stanza(engine, stanza, Timestamp::now());
                    }
                    Err(e) => tracing::warn!(error = %e, "dropped a stanza that did not parse"),
                }
            }
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
        // Closes the stream; the engine events it returns concern sessions whose end this
        // layer has already reported.
        self.client.shutdown(Duration::ZERO).await?;
        Ok(events)
    }
}
