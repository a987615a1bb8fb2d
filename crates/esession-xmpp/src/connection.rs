//! A logged-in client connection that carries stanzas as XML strings or as esession
//! elements.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, FullJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::presence::Type as PresenceType;
use tokio_xmpp::parsers::stanza_error::{ErrorType, StanzaError};
use tokio_xmpp::stanzastream::{Event, StanzaStage, StanzaState, StanzaStream, StreamEvent};
use tokio_xmpp::Stanza;
use tracing::Instrument;

use crate::caps;
use crate::disco;
use crate::error::{XmppError, CONNECT_TIMEOUT};
use crate::link::{self, Keepalive, LinkEvent, SharedLink};
use crate::login::{self, Login, LoginNote};
use crate::options::{self, ConnectOptions};
use crate::stream_error::SignOut;
use crate::wait_retry;
use crate::xml;

/// Link events kept for a caller that does not read them.
const LINK_EVENTS_KEPT: usize = 64;

/// Bound on closing the stream, whatever the connect timeout.
const MAX_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A client session with an XMPP server.
///
/// Incoming stanzas are read with [`next_stanza`](Self::next_stanza); the
/// stream must be read regularly, since disco#info requests addressed to us
/// are answered while reading. tokio-xmpp reconnects (and resumes with
/// XEP-0198 where possible) if the connection drops after login; each loss,
/// attempt and return is reported by [`next_link_event`](Self::next_link_event); except
/// after the server signs the session out ([`LinkEvent::SignedOut`], e.g. another client
/// signed in with the same full JID): then nothing reconnects until
/// [`reconnect`](Self::reconnect).
#[derive(Debug)]
pub struct Connection {
    stream: StanzaStream,
    notes: mpsc::UnboundedReceiver<LoginNote>,
    link: SharedLink,
    keepalive: Keepalive,
    /// Whether the stream is up (false from a loss until it is back).
    up: bool,
    /// Why the last reconnection attempt failed.
    last_failure: Option<String>,
    /// Why the server signed us out, until [`Connection::reconnect`].
    signed_out: Option<SignOut>,
    /// The sign-out as soon as the server's stream error is read, before the end of the
    /// stream is: a send waiting for a stream that will not come back ends with it.
    sign_out: watch::Receiver<Option<SignOut>>,
    link_events: VecDeque<LinkEvent>,
    bound: FullJid,
    bound_text: String,
    bare: BareJid,
    features: Vec<String>,
    /// Our XEP-0115 `ver`: the hash of what we answer to disco#info.
    caps_ver: String,
    timeout: Duration,
    /// Stanzas read while waiting for something else, oldest first.
    pending: VecDeque<Stanza>,
}

/// The answer to an iq request.
#[derive(Debug)]
pub(crate) enum IqAnswer {
    /// `type='result'`, with its payload if any.
    Result(Option<Element>),
    /// `type='error'`.
    Error(StanzaError),
}

/// What one read of the stream produced.
enum Incoming {
    Stanza(Box<Stanza>),
    Nothing,
}

impl Connection {
    /// Connect, secure, log in, bind a resource and (if asked) send initial
    /// presence, all within `opts.timeout`.
    ///
    /// Errors: [`XmppError::Auth`] as soon as the server rejects the
    /// credentials, [`XmppError::Unreachable`] if the server cannot be
    /// reached, [`XmppError::Tls`] if TLS fails, [`XmppError::Timeout`] if the
    /// session is not online in time, [`XmppError::InvalidArgument`] for a bad
    /// JID or server, or plain TCP to a non-loopback server.
    pub async fn connect(opts: ConnectOptions) -> Result<Connection, XmppError> {
        let valid = options::validate(&opts)?;
        install_crypto_provider();
        let span = tracing::info_span!("xmpp_connect", jid = %valid.bare, tls = ?opts.tls);
        Self::connect_validated(opts, valid).instrument(span).await
    }

    async fn connect_validated(
        opts: ConnectOptions,
        valid: options::Validated,
    ) -> Result<Connection, XmppError> {
        tracing::info!(server = ?opts.server, "connecting");
        let link = SharedLink::default();
        let login = Login {
            tls: opts.tls,
            jid: valid.jid.clone(),
            password: opts.password.clone(),
            allow_plain: opts.allow_plain_auth,
            keepalive: opts.keepalive,
        };
        let (mut stream, mut notes) =
            login::start_stream(opts.tls, &valid.target, login, link.clone());
        let deadline = Instant::now() + opts.timeout;
        let mut early = VecDeque::new();
        let bound = loop {
            tokio::select! {
                event = stream.next() => match event {
                    Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => break bound_jid,
                    Some(Event::Stream(_)) => {}
                    Some(Event::Stanza(s)) => early.push_back(s),
                    None => {
                        drain_close(stream).await;
                        return Err(XmppError::Protocol("stream ended during login".into()));
                    }
                },
                Some(note) = notes.recv() => {
                    if let LoginNote::Failed(failure) = note {
                        if failure.fatal {
                            drain_close(stream).await;
                            return Err(failure.error);
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!("not online after {:?}", opts.timeout);
                    drain_close(stream).await;
                    return Err(XmppError::Timeout(CONNECT_TIMEOUT));
                }
            }
        };
        let bound = match bound.try_into_full() {
            Ok(full) => full,
            Err(bare) => {
                drain_close(stream).await;
                return Err(XmppError::Protocol(format!(
                    "server bound a bare JID ({bare})"
                )));
            }
        };
        tracing::info!(bound = %bound, "online");
        let mut features = opts.features;
        // XEP-0115 §6.1: an entity that sends caps advertises the feature.
        if !features.iter().any(|f| f == caps::NS_CAPS) {
            features.push(caps::NS_CAPS.to_owned());
        }
        let caps_ver = caps::ver(&caps::own_info(&features)).map_err(XmppError::Protocol)?;
        link::with(&link, |s| s.bound = Some(Jid::from(bound.clone())));
        let sign_out =
            link::with(&link, |s| s.watch_sign_out()).unwrap_or_else(|| watch::channel(None).1);
        let mut conn = Connection {
            stream,
            notes,
            link,
            keepalive: opts.keepalive,
            up: true,
            last_failure: None,
            signed_out: None,
            sign_out,
            link_events: VecDeque::new(),
            bound_text: bound.to_string(),
            bound,
            bare: valid.bare,
            features,
            caps_ver,
            timeout: opts.timeout,
            pending: early,
        };
        if opts.send_presence {
            conn.send_presence().await?;
        }
        Ok(conn)
    }

    /// The next change of the link to the server (seen while reading the stream).
    pub fn next_link_event(&mut self) -> Option<LinkEvent> {
        self.link_events.pop_front()
    }

    /// Whether the stream to the server is up: false from a lost connection until it is
    /// back. Sending meanwhile waits for it (up to the timeout).
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Why the server signed this session out, if it did (see [`LinkEvent::SignedOut`]):
    /// the connection stays down until [`reconnect`](Self::reconnect).
    pub fn signed_out(&self) -> Option<SignOut> {
        self.signed_out
    }

    /// [`XmppError::SignedOut`] if the server signed this session out.
    pub(crate) fn still_signed_in(&self) -> Result<(), XmppError> {
        match self.signed_out {
            Some(why) => Err(XmppError::SignedOut {
                jid: self.bound_text.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// After a sign-out, logs in again with the same full JID (the user's explicit choice:
    /// after a `<conflict/>` it signs the other client out); the attempt and the return are
    /// reported as after a lost connection. Returns false, doing nothing, when the session
    /// was not signed out.
    pub fn reconnect(&mut self) -> bool {
        if self.signed_out.take().is_none() {
            return false;
        }
        tracing::info!(jid = %self.bound, "reconnecting at the user's request");
        link::with(&self.link, |s| {
            s.set_stream_error(None);
            s.resume.notify_one();
        });
        true
    }

    /// The full JID the server bound this session to.
    pub fn bound_jid(&self) -> &str {
        &self.bound_text
    }

    /// The full JID the server bound this session to, typed.
    pub fn bound(&self) -> &FullJid {
        &self.bound
    }

    /// Send one stanza (`<message/>`, `<presence/>` or `<iq/>`, namespace
    /// `jabber:client`, which is assumed when the root has none). Returns once
    /// it has been written to the stream (bounded by the connect timeout).
    pub async fn send_xml(&mut self, stanza: &str) -> Result<(), XmppError> {
        let stanza = xml::parse_stanza(stanza)?;
        self.send(stanza).await
    }

    /// Send one stanza given as an element, as [`send_xml`](Self::send_xml) does its
    /// text: converted to tokio-xmpp's stanza directly, without a text form.
    pub async fn send_element(&mut self, stanza: &esession::Element) -> Result<(), XmppError> {
        let stanza = xml::element_to_stanza(stanza)?;
        self.send(stanza).await
    }

    /// Send initial (available) presence, with our entity capabilities (XEP-0115 §4).
    pub async fn send_presence(&mut self) -> Result<(), XmppError> {
        let presence = esession::Element::new("presence", esession::xml::ns::JABBER_CLIENT)
            .with_child(caps::presence_caps(&self.caps_ver));
        self.send_element(&presence).await
    }

    /// The next incoming `<message/>`, `<presence/>` or `<iq/>` as XML, in
    /// arrival order, or `Ok(None)` if none arrives within `timeout`.
    ///
    /// disco#info requests addressed to us are answered (identity client/pc,
    /// the configured features and disco#info) and not returned.
    pub async fn next_stanza(&mut self, timeout: Duration) -> Result<Option<String>, XmppError> {
        match self.next_incoming(Instant::now() + timeout).await? {
            Some(stanza) => xml::stanza_to_string(&stanza).map(Some),
            None => Ok(None),
        }
    }

    /// The next incoming stanza (as [`next_stanza`](Self::next_stanza) reads them), or
    /// `Ok(None)` if none arrives before `deadline`.
    pub(crate) async fn next_incoming(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Stanza>, XmppError> {
        if let Some(stanza) = self.pending.pop_front() {
            return Ok(Some(stanza));
        }
        loop {
            match self.read_until(deadline).await? {
                Some(Incoming::Stanza(stanza)) => return Ok(Some(*stanza)),
                Some(Incoming::Nothing) => {}
                None => return Ok(None),
            }
        }
    }

    /// The features (XEP-0030 disco#info) of `jid`, usually a full JID.
    ///
    /// Other stanzas arriving meanwhile are kept for
    /// [`next_stanza`](Self::next_stanza), in order. An error answer gives
    /// [`XmppError::Stanza`] with its condition; no answer within `timeout`
    /// gives [`XmppError::Timeout`].
    pub async fn disco_features(
        &mut self,
        jid: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, XmppError> {
        let to = parse_jid(jid)?;
        let request = disco::request(to.clone(), String::new(), None)?;
        match self
            .iq_round_trip(request, &to, timeout, "waiting for a disco#info answer")
            .await?
        {
            IqAnswer::Result(payload) => disco::features_of(payload.as_ref()),
            IqAnswer::Error(error) => Err(XmppError::Stanza(disco::condition_name(&error))),
        }
    }

    /// The XEP-0115 caps node in the latest available presence from `full` among the
    /// stanzas read but not yet returned by [`next_stanza`](Self::next_stanza) (those that
    /// arrived during a request, e.g. right after login): what is known of its client
    /// before starting a session with it (issue 13 §1).
    pub fn caps_node_seen(&self, full: &FullJid) -> Option<String> {
        let latest = self.pending.iter().rev().find_map(|s| match s {
            Stanza::Presence(p)
                if p.type_ == PresenceType::None
                    && p.from
                        .as_ref()
                        .is_some_and(|f| f.to_string() == full.as_str()) =>
            {
                Some(p)
            }
            _ => None,
        })?;
        latest
            .payloads
            .iter()
            .find(|c| c.is("c", caps::NS_CAPS))
            .and_then(|c| c.attr("node"))
            .map(str::to_owned)
    }

    /// The disco#info answer (XEP-0030) of `jid` about `node` (XEP-0115 §6.2: `node#ver`
    /// of its caps), as its `<query/>`, to check against a caps hash
    /// ([`crate::caps_ver`]). Errors as [`disco_features`](Self::disco_features).
    pub async fn disco_info(
        &mut self,
        jid: &str,
        node: Option<&str>,
        timeout: Duration,
    ) -> Result<esession::Element, XmppError> {
        let to = parse_jid(jid)?;
        let request = disco::request(to.clone(), String::new(), node)?;
        match self
            .iq_round_trip(request, &to, timeout, "waiting for a disco#info answer")
            .await?
        {
            IqAnswer::Result(Some(p)) => xml::from_minidom(p, &esession::xml::Limits::default())
                .map_err(|e| XmppError::Protocol(format!("disco#info answer: {e}"))),
            IqAnswer::Result(None) => Err(XmppError::Protocol(
                "disco#info result without <query/>".into(),
            )),
            IqAnswer::Error(error) => Err(XmppError::Stanza(disco::condition_name(&error))),
        }
    }

    /// Send `request` (an iq get or set; its id is replaced by a fresh one) and wait
    /// until `timeout` for the result or error with that id from `answerer` (RFC 6120
    /// §8.2.3). An error of type `wait` sends the request again after a pause while that
    /// wait allows (RFC 6120 §8.3.2, [`wait_retry`]). Other stanzas arriving meanwhile
    /// are kept for [`next_stanza`](Self::next_stanza), in order; `what` names the wait in
    /// the [`XmppError::Timeout`].
    pub(crate) async fn iq_round_trip(
        &mut self,
        request: Iq,
        answerer: &Jid,
        timeout: Duration,
        what: &'static str,
    ) -> Result<IqAnswer, XmppError> {
        let deadline = Instant::now() + timeout;
        let mut retries = 0;
        loop {
            let answer = self
                .iq_answer(request.clone(), answerer, deadline, what)
                .await?;
            let pause = match &answer {
                IqAnswer::Error(e) => wait_retry::pause(e, retries),
                IqAnswer::Result(_) => None,
            };
            match pause {
                Some(pause) if Instant::now() + pause < deadline => {
                    tracing::info!(what, retries, "the server asked to retry later");
                    tokio::time::sleep(pause).await;
                    retries += 1;
                }
                _ => return Ok(answer),
            }
        }
    }

    /// One attempt of [`iq_round_trip`](Self::iq_round_trip), never sent again: `request`
    /// sent with a fresh id, its answer awaited until `deadline`. For a request whose
    /// refusal has a fallback of its own.
    pub(crate) async fn iq_answer(
        &mut self,
        mut request: Iq,
        answerer: &Jid,
        deadline: Instant,
        what: &'static str,
    ) -> Result<IqAnswer, XmppError> {
        let id = next_id("iq");
        *request.id_mut() = id.clone();
        self.send(Stanza::Iq(request)).await?;
        loop {
            let stanza = match self.read_until(deadline).await? {
                Some(Incoming::Stanza(s)) => s,
                Some(Incoming::Nothing) => continue,
                None => return Err(XmppError::Timeout(what)),
            };
            match *stanza {
                Stanza::Iq(Iq::Result {
                    id: ref rid,
                    ref from,
                    ref payload,
                    ..
                }) if *rid == id && self.is_from(from.as_ref(), answerer) => {
                    return Ok(IqAnswer::Result(payload.clone()));
                }
                Stanza::Iq(Iq::Error {
                    id: ref rid,
                    ref from,
                    ref error,
                    ..
                }) if *rid == id && self.is_from(from.as_ref(), answerer) => {
                    return Ok(IqAnswer::Error(error.clone()));
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// Sends an iq of `kind` (`get` or `set`) carrying `payload` to `to` (`None`: our own
    /// account, RFC 6120 §8.1.1.1) and waits up to `timeout` for its answer (through
    /// `iq_round_trip`): the result's payload (`None` for an empty
    /// result), [`XmppError::Stanza`] with the condition of an error answer,
    /// [`XmppError::Timeout`] without an answer.
    pub async fn iq(
        &mut self,
        kind: &str,
        to: Option<&str>,
        payload: &esession::Element,
        timeout: Duration,
    ) -> Result<Option<esession::Element>, XmppError> {
        self.iq_or_error(kind, to, payload, timeout)
            .await?
            .map_err(|(_, condition)| XmppError::Stanza(condition))
    }

    /// As [`iq`](Self::iq), but an error answer is given with its type (which tells
    /// whether sending again may help, RFC 6120 §8.3.2) and condition.
    pub(crate) async fn iq_or_error(
        &mut self,
        kind: &str,
        to: Option<&str>,
        payload: &esession::Element,
        timeout: Duration,
    ) -> Result<Result<Option<esession::Element>, (ErrorType, String)>, XmppError> {
        if !matches!(kind, "get" | "set") {
            return Err(XmppError::InvalidArgument(format!(
                "iq type {kind:?}: only get or set expect an answer"
            )));
        }
        let mut iq = esession::Element::new("iq", esession::xml::ns::JABBER_CLIENT)
            .with_attr("type", kind)
            .with_attr("id", "x");
        let answerer = match to {
            Some(to) => {
                iq.set_attr("to", to);
                parse_jid(to)?
            }
            None => self.bare_jid(),
        };
        let Stanza::Iq(request) = xml::element_to_stanza(&iq.with_child(payload.clone()))? else {
            return Err(XmppError::InvalidArgument("not an iq".into()));
        };
        match self
            .iq_round_trip(request, &answerer, timeout, "waiting for an iq answer")
            .await?
        {
            IqAnswer::Result(None) => Ok(Ok(None)),
            IqAnswer::Result(Some(p)) => xml::from_minidom(p, &esession::xml::Limits::default())
                .map(|p| Ok(Some(p)))
                .map_err(|e| XmppError::Protocol(format!("iq answer: {e}"))),
            IqAnswer::Error(error) => {
                let condition = disco::condition_name(&error);
                Ok(Err((error.type_, condition)))
            }
        }
    }

    /// Our own bare JID (the answerer of PEP requests without `to`, XEP-0163 §3).
    pub(crate) fn bare_jid(&self) -> Jid {
        Jid::from(self.bare.clone())
    }

    /// Close the stream cleanly (bounded by the connect timeout, at most 5 s). A stream the
    /// server signed out, or a link that is down, has no stream to close (RFC 6120 §4.4:
    /// the server closed it): it is dropped at once.
    pub async fn close(self) -> Result<(), XmppError> {
        if self.signed_out.is_some() || !self.up {
            tracing::info!(jid = %self.bound, "closed (no stream open)");
            return Ok(());
        }
        let wait = self.timeout.min(MAX_CLOSE_WAIT);
        tracing::info!(jid = %self.bound, "closing");
        tokio::time::timeout(wait, self.stream.close())
            .await
            .map_err(|_| XmppError::Timeout("closing the stream"))
    }

    /// Whether a reply's `from` matches the JID we asked (no `from` means our
    /// own account, RFC 6120 §8.1.2.1).
    fn is_from(&self, from: Option<&Jid>, asked: &Jid) -> bool {
        match from {
            Some(f) => f == asked,
            None => asked.resource().is_none() && asked.to_bare() == self.bare,
        }
    }

    async fn send(&mut self, stanza: Stanza) -> Result<(), XmppError> {
        // Nothing will carry it: said at once rather than after the timeout.
        self.still_signed_in()?;
        // One deadline for queueing and sending: tokio-xmpp's queue holds 64 stanzas and
        // is not drained while the link is down, so queueing itself can wait for the link
        // (found in review: outside the timeout, a send blocked for as long as the link
        // stayed down). A stanza that timed out once queued is still sent if the link
        // comes back.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut sign_out = self.sign_out.clone();
        let queued = tokio::time::timeout_at(deadline, self.stream.send(Box::new(stanza)));
        let mut token = tokio::select! {
            queued = queued => queued.map_err(|_| XmppError::Timeout("queueing a stanza"))?,
            Ok(Some(why)) = async { sign_out.wait_for(Option::is_some).await.map(|r| *r) } => {
                return Err(XmppError::SignedOut { jid: self.bound_text.clone(), why });
            }
        };
        let sent = tokio::time::timeout_at(deadline, token.wait_for(StanzaStage::Sent));
        let mut sign_out = self.sign_out.clone();
        let sent = tokio::select! {
            sent = sent => sent,
            // The stream error came in while the stanza waited: it will not be sent.
            Ok(Some(why)) = async { sign_out.wait_for(Option::is_some).await.map(|r| *r) } => {
                return Err(XmppError::SignedOut { jid: self.bound_text.clone(), why });
            }
        };
        match sent {
            Err(_) => Err(XmppError::Timeout("sending a stanza")),
            Ok(Some(StanzaState::Sent { .. } | StanzaState::Acked { .. })) => Ok(()),
            Ok(Some(StanzaState::Failed { error })) => Err(XmppError::Protocol(format!(
                "stanza not sent: {}",
                error.into_io_error()
            ))),
            Ok(_) => Err(XmppError::Protocol(
                "stream closed before the stanza was sent".into(),
            )),
        }
    }

    /// Read one event before `deadline` (`None` when it passes). Answers
    /// disco#info requests itself.
    async fn read_until(&mut self, deadline: Instant) -> Result<Option<Incoming>, XmppError> {
        tokio::select! {
            // The stream first: its loss is queued before the connector's first note
            // about the reconnection, so the loss is reported first.
            biased;
            event = self.stream.next() => match event {
                Some(Event::Stanza(stanza)) => self.handle(stanza).await.map(Some),
                Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                    tracing::warn!(%bound_jid, "stream re-established without state");
                    if let Ok(full) = bound_jid.try_into_full() {
                        self.bound_text = full.to_string();
                        self.bound = full;
                    }
                    self.back(false);
                    Ok(Some(Incoming::Nothing))
                }
                Some(Event::Stream(StreamEvent::Suspended)) => {
                    self.up = false;
                    let seen = link::with(&self.link, |s| (s.signed_out(), s.reason(self.keepalive)));
                    match seen {
                        Some((Some((why, text)), _)) => {
                            tracing::warn!(why = why.name(), "signed out by the server, not reconnecting");
                            self.signed_out = Some(why);
                            self.note_link(LinkEvent::SignedOut {
                                jid: self.bound_text.clone(),
                                why,
                                text,
                            });
                        }
                        other => {
                            let reason = other
                                .map(|(_, reason)| reason)
                                .unwrap_or_else(|| "the connection was lost".into());
                            tracing::warn!(%reason, "connection lost, reconnecting");
                            self.note_link(LinkEvent::Lost { reason });
                        }
                    }
                    Ok(Some(Incoming::Nothing))
                }
                Some(Event::Stream(StreamEvent::Resumed)) => {
                    tracing::info!("stream resumed");
                    self.back(true);
                    Ok(Some(Incoming::Nothing))
                }
                None => Err(XmppError::Protocol("the stream has ended".into())),
            },
            Some(note) = self.notes.recv() => match note {
                LoginNote::Failed(failure) if failure.fatal => Err(failure.error),
                LoginNote::Failed(failure) => {
                    tracing::warn!(error = %failure.error, "reconnection attempt failed");
                    self.last_failure = Some(failure.error.to_string());
                    Ok(Some(Incoming::Nothing))
                }
                LoginNote::Retry { attempt, after } => {
                    let error = self.last_failure.take();
                    self.note_link(LinkEvent::Reconnecting {
                        attempt,
                        after,
                        error,
                    });
                    Ok(Some(Incoming::Nothing))
                }
            },
            () = tokio::time::sleep_until(deadline) => Ok(None),
        }
    }

    /// Keeps `ev` for [`next_link_event`](Self::next_link_event); a caller that never
    /// asks keeps only the newest [`LINK_EVENTS_KEPT`].
    fn note_link(&mut self, ev: LinkEvent) {
        if self.link_events.len() >= LINK_EVENTS_KEPT {
            self.link_events.pop_front();
        }
        self.link_events.push_back(ev);
    }

    /// The stream is back after a loss (or resumed, XEP-0198 §5).
    fn back(&mut self, resumed: bool) {
        link::with(&self.link, |s| {
            s.bound = Some(Jid::from(self.bound.clone()));
        });
        self.up = true;
        self.last_failure = None;
        self.signed_out = None;
        self.note_link(LinkEvent::Online {
            jid: self.bound_text.clone(),
            resumed,
        });
    }

    async fn handle(&mut self, stanza: Stanza) -> Result<Incoming, XmppError> {
        if let Stanza::Iq(iq) = &stanza {
            if let Some(reply) = disco::answer(iq, &self.features) {
                tracing::debug!(to = ?iq.from(), "answering disco#info");
                match self.send(Stanza::Iq(reply)).await {
                    // Signed out meanwhile: the sign-out is read next, not failed on.
                    Ok(()) | Err(XmppError::SignedOut { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Ok(Incoming::Nothing);
            }
        }
        Ok(Incoming::Stanza(Box::new(stanza)))
    }
}

/// Give up on a stream that never came online.
///
/// A graceful close would wait for tokio-xmpp's worker, which waits for the
/// connector's next connection, which never comes after a fatal failure; so
/// the stream is dropped. The worker and our connector task then stay parked
/// (a few hundred bytes) until the runtime shuts down: dropping the
/// connector's slot instead would make tokio-xmpp's worker panic.
async fn drain_close(stream: StanzaStream) {
    drop(stream);
}

/// Use ring for rustls, whatever else the process links (the default
/// provider is ambiguous when several are compiled in).
fn install_crypto_provider() {
    if tokio_xmpp::rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one first: fine either way.
        let _ = tokio_xmpp::rustls::crypto::ring::default_provider().install_default();
    }
}

/// `jid` parsed, or an [`XmppError::InvalidArgument`] naming it.
pub(crate) fn parse_jid(jid: &str) -> Result<Jid, XmppError> {
    jid.parse()
        .map_err(|e| XmppError::InvalidArgument(format!("JID {jid:?}: {e}")))
}

/// A stanza id unique within this process.
fn next_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("es-{prefix}-{nanos:x}-{n}")
}
