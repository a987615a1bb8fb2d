//! Drives the sans-IO engine over a real connection: stanzas from the server into
//! [`Engine::handle_stanza`], the engine's stanzas out to the server, its timers from the
//! wall clock at [`Engine::next_timeout`].
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use esession::pubkeys::key_request_answer;
use esession::xml::{ns, Element, Limits};
use esession::Timestamp;
use esession::{Config, DhPool, Engine, Event, FullJid, OsRandom, Random, SecretStore};
use tokio::time::Instant;
use tokio_xmpp::Stanza;

use crate::connection::Connection;
use crate::error::XmppError;
use crate::hints;
use crate::options::ConnectOptions;
use crate::xml;

/// The disco#info features of an ESession client (XEP-0155 §12.2, XEP-0116 §3).
pub const ESESSION_FEATURES: [&str; 2] = [ns::SSN, ns::ESESSION];

/// A stanza that crossed the connection, kept when tracing is on (for the demo).
#[derive(Clone, Debug)]
pub struct Traced {
    /// Whether we sent it.
    pub outgoing: bool,
    /// The stanza.
    pub stanza: Element,
}

/// An ESession client: one connection and one engine.
pub struct Client<S: SecretStore> {
    conn: Connection,
    engine: Engine<S>,
    trace: Option<Vec<Traced>>,
    limits: Limits,
}

impl<S: SecretStore> Client<S> {
    /// Logs in (advertising the ESession features) and builds the engine for the bound JID.
    pub async fn connect(
        mut opts: ConnectOptions,
        config: Config,
        store: S,
        rng: Box<dyn Random>,
    ) -> Result<Self, XmppError> {
        // XEP-0189 §9: we answer direct key requests and read revocations and attestations.
        for f in ESESSION_FEATURES
            .into_iter()
            .chain(esession::pubkeys::FEATURES)
        {
            if !opts.features.iter().any(|x| x == f) {
                opts.features.push(f.to_owned());
            }
        }
        let conn = Connection::connect(opts).await?;
        let engine = Engine::new(conn.bound().clone(), config, store, rng);
        Ok(Client {
            conn,
            engine,
            trace: None,
            limits: Limits::default(),
        })
    }

    /// Our full JID.
    pub fn jid(&self) -> &FullJid {
        self.conn.bound()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    /// The engine, to start sessions, send messages, terminate.
    pub fn engine_mut(&mut self) -> &mut Engine<S> {
        &mut self.engine
    }

    /// The connection, to send stanzas outside any session (they bypass the engine).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Gives the engine a pool of precomputed Diffie–Hellman values, kept at `target`
    /// values per group the engine's configuration allows by a background thread (OS
    /// randomness). Negotiations then skip computing their public values while the pool
    /// has some; they compute them as usual when it is empty. The thread stops once the
    /// engine's pool and every returned handle are dropped. Returns a handle to the pool.
    pub fn enable_dh_pool(&mut self, target: usize) -> DhPool {
        let config = self.engine.config();
        let groups: Vec<u32> = config.allowed_groups();
        let pool = DhPool::new();
        // Detached: it ends by itself when the pool is gone.
        drop(pool.spawn_filler(groups, target, Box::new(OsRandom)));
        self.engine.set_dh_pool(Some(pool.clone()));
        pool
    }

    /// Starts keeping every stanza sent and received (see [`Client::take_trace`]).
    pub fn record_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// The stanzas traced since the last call.
    pub fn take_trace(&mut self) -> Vec<Traced> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Sends everything the engine queued (the negotiation request with the XEP-0334
    /// `<no-store/>` hint beside its AMP rule, for servers without AMP).
    pub async fn flush(&mut self) -> Result<(), XmppError> {
        while let Some(mut stanza) = self.engine.poll_outgoing() {
            hints::add_no_store_to_dropped(&mut stanza);
            self.conn.send_element(&stanza).await?;
            if let Some(t) = self.trace.as_mut() {
                t.push(Traced {
                    outgoing: true,
                    stanza,
                });
            }
        }
        Ok(())
    }

    /// The next engine event, reading the stream for up to `wait`; `None` when nothing
    /// happened in that time. The wait on the stream ends at the engine's next deadline
    /// ([`Engine::next_timeout`]), when its timers are run.
    ///
    /// Once the server has signed the session out, [`XmppError::SignedOut`] (the engine's
    /// events before it first), until [`Connection::reconnect`].
    pub async fn next_event(&mut self, wait: Duration) -> Result<Option<Event>, XmppError> {
        let deadline = Instant::now() + wait;
        loop {
            self.flush().await?;
            if let Some(ev) = self.engine.poll_event() {
                return Ok(Some(ev));
            }
            self.conn.still_signed_in()?;
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let timer = self.engine.next_timeout();
            let until = timer
                .and_then(instant_of)
                .map_or(deadline, |t| deadline.min(t));
            if let Some(stanza) = self.conn.next_incoming(until).await? {
                self.handle_incoming(&stanza).await?;
            }
            // Runs the timers that are due, and keeps the engine's clock (which its
            // re-key policy reads when sending) current after every wait.
            self.engine.handle_timeout(Timestamp::now());
        }
    }

    /// Hands a stanza from the server to the engine, or answers it when it is a key
    /// request.
    async fn handle_incoming(&mut self, stanza: &Stanza) -> Result<(), XmppError> {
        let stanza = match xml::stanza_to_element(stanza, &self.limits) {
            Ok(stanza) => stanza,
            Err(e) => {
                tracing::warn!(error = %e, "dropped a stanza");
                return Ok(());
            }
        };
        if let Some(t) = self.trace.as_mut() {
            t.push(Traced {
                outgoing: false,
                stanza: stanza.clone(),
            });
        }
        // XEP-0189 §6: a direct key request is answered with our key.
        let key = self.engine.identity_key().map(|k| k.public());
        if let Some(reply) = key_request_answer(&stanza, key.as_ref()) {
            return self.conn.send_element(&reply).await;
        }
        self.engine.handle_stanza(stanza, Timestamp::now());
        Ok(())
    }

    /// Whether `jid` (a full JID) advertises ESessions in disco#info (XEP-0116 §3).
    pub async fn peer_supports_esessions(
        &mut self,
        jid: &FullJid,
        timeout: Duration,
    ) -> Result<bool, XmppError> {
        let features = self.conn.disco_features(jid.as_str(), timeout).await?;
        Ok(features.iter().any(|f| f == ns::ESESSION))
    }

    /// Terminates every session (XEP-0116 §5: before going offline), waits up to `wait`
    /// for the acknowledgements, closes the stream, and returns the events seen meanwhile.
    /// Signed out by the server, the terminates cannot be sent: the stream is closed at
    /// once.
    pub async fn shutdown(mut self, wait: Duration) -> Result<Vec<Event>, XmppError> {
        self.engine.terminate_all(Timestamp::now());
        let signed_out = self.conn.signed_out().is_some();
        let wait = if signed_out { Duration::ZERO } else { wait };
        let deadline = Instant::now() + wait;
        let mut events = Vec::new();
        while !self.engine.session_ids().is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(ev) = self.next_event(left).await? {
                events.push(ev);
            }
        }
        if signed_out {
            while self.engine.poll_outgoing().is_some() {}
        } else {
            self.flush().await?;
        }
        while let Some(ev) = self.engine.poll_event() {
            events.push(ev);
        }
        self.conn.close().await?;
        Ok(events)
    }
}

/// The monotonic instant at which the wall clock reads `t` (now if it has passed), or
/// `None` when it is beyond what the clocks can represent (a timer that never fires:
/// found in review, `Config::negotiation_timeout = u64::MAX` panicked here).
fn instant_of(t: Timestamp) -> Option<Instant> {
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(t.0))?;
    Instant::now().checked_add(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_timer_beyond_the_clocks_never_fires_and_does_not_panic() {
        assert!(instant_of(Timestamp(u64::MAX)).is_none());
        let soon = instant_of(Timestamp::now().plus(5)).unwrap();
        assert!(soon > Instant::now());
        assert!(instant_of(Timestamp(0)).unwrap() <= Instant::now());
    }
}
