//! Opening and authenticating the underlying stream.
//!
//! tokio-xmpp's own client retries a failed login forever without telling
//! anyone. We hand its `StanzaStream` a connector of our own instead: it
//! reports every failure, classified, on a channel, and gives up at once on a
//! failure before the first successful login and on any authentication
//! failure, so `Connection::connect` can return an error instead of waiting.
//! After a lost connection it announces each attempt and waits between them
//! ([`Backoff`]: exponential with jitter).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sasl::common::ChannelBinding;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::error::{AuthError, Error as TxError, ProtocolError};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::{ns, sasl_cb, stream_features::StreamFeatures};
use tokio_xmpp::stanzastream::{Connection as RawConnection, StanzaStream};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts, XmppStream};

use esession::OsRandom;

use crate::backoff::Backoff;
use crate::error::XmppError;
use crate::link::{self, Keepalive, SharedLink};
use crate::options::{Target, TlsMode};
use crate::transport;

/// Depth of tokio-xmpp's incoming and outgoing stanza queues.
const QUEUE_DEPTH: usize = 64;

/// What the connector reports.
#[derive(Debug)]
pub(crate) enum LoginNote {
    /// A login failed.
    Failed(LoginFailure),
    /// After a lost connection: attempt `attempt` starts in `after`.
    Retry { attempt: u32, after: Duration },
}

/// A login failure seen by the connector.
#[derive(Debug)]
pub(crate) struct LoginFailure {
    pub(crate) error: XmppError,
    /// The connector gave up: no more attempts will follow.
    pub(crate) fatal: bool,
}

/// Start a stanza stream that logs in with our connector. Failures and
/// reconnection attempts arrive on the returned channel; the TCP connections
/// are watched through `link`.
pub(crate) fn start_stream(
    tls: TlsMode,
    target: &Target,
    login: Login,
    link: SharedLink,
) -> (StanzaStream, mpsc::UnboundedReceiver<LoginNote>) {
    let jid = login.jid.clone();
    let dns = match target {
        Target::Addr(a) => DnsConfig::addr(&a.to_string()),
        Target::Host(h, p) => DnsConfig::no_srv(h, *p),
        Target::Srv => match tls {
            TlsMode::DirectTls => DnsConfig::srv_xmpps(jid.domain().as_str()),
            TlsMode::StartTls | TlsMode::Plain => {
                DnsConfig::srv_default_client(jid.domain().as_str())
            }
        },
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = match tls {
        TlsMode::StartTls => spawn(transport::Tls::starttls(dns, link.clone()), login, link, tx),
        TlsMode::DirectTls => spawn(transport::Tls::direct(dns, link.clone()), login, link, tx),
        TlsMode::Plain => spawn(transport::Plain(dns, link.clone()), login, link, tx),
    };
    (stream, rx)
}

fn spawn<C: ServerConnector>(
    connector: C,
    login: Login,
    link: SharedLink,
    notes: mpsc::UnboundedSender<LoginNote>,
) -> StanzaStream {
    let was_online = Arc::new(AtomicBool::new(false));
    let reconnector = move |_location: Option<String>, slot: oneshot::Sender<RawConnection>| {
        let task = Attempts {
            connector: connector.clone(),
            login: login.clone(),
            link: link.clone(),
            notes: notes.clone(),
            was_online: was_online.clone(),
        };
        tokio::spawn(task.run(slot));
    };
    StanzaStream::new(Box::new(reconnector), QUEUE_DEPTH)
}

/// What a login attempt needs besides the connector.
#[derive(Clone)]
pub(crate) struct Login {
    pub(crate) tls: TlsMode,
    pub(crate) jid: Jid,
    pub(crate) password: String,
    /// Whether PLAIN and ANONYMOUS may be used when the server offers nothing better.
    pub(crate) allow_plain: bool,
    /// How a silent link is detected.
    pub(crate) keepalive: Keepalive,
}

/// One series of login attempts: the first login, or the reconnection after a loss.
struct Attempts<C> {
    connector: C,
    login: Login,
    link: SharedLink,
    notes: mpsc::UnboundedSender<LoginNote>,
    was_online: Arc<AtomicBool>,
}

impl<C: ServerConnector> Attempts<C> {
    async fn run(self, mut slot: oneshot::Sender<RawConnection>) {
        let Attempts {
            connector,
            login: login_data,
            link,
            notes,
            was_online,
        } = self;
        let Login {
            tls,
            jid,
            password,
            allow_plain,
            keepalive,
        } = login_data;
        let so_far = link::with(&link, |s| s.attempts_so_far()).unwrap_or_default();
        let mut backoff = Backoff::after(Box::new(OsRandom), so_far);
        loop {
            if slot.is_closed() {
                return;
            }
            if was_online.load(Ordering::SeqCst) {
                // RFC 6120 §4.9.3.3: after <conflict/> the other client holds our resource;
                // coming back with it would sign that one out, and it us. Nothing is
                // attempted while signed out: until the user asks (`Connection::reconnect`
                // forgets the sign-out, then wakes us; a wake-up left over from an earlier
                // request finds us still signed out and we wait again).
                loop {
                    let held = link::with(&link, |s| {
                        s.signed_out().map(|(why, _)| (why, s.resume.clone()))
                    })
                    .flatten();
                    let Some((why, resume)) = held else { break };
                    tracing::info!(%jid, why = why.name(), "signed out: not reconnecting");
                    tokio::select! {
                        () = resume.notified() => {}
                        () = slot.closed() => return,
                    }
                }
                // A lost connection: wait before each attempt, saying so.
                let after = backoff.next_delay();
                let attempt = backoff.attempt();
                let _ = notes.send(LoginNote::Retry { attempt, after });
                tokio::select! {
                    () = tokio::time::sleep(after) => {}
                    () = slot.closed() => return,
                }
            }
            // RFC 6120 §7.7.2.1: a reconnection asks for the resource bound before.
            let identity = link::with(&link, |s| s.bound.clone())
                .flatten()
                .unwrap_or_else(|| jid.clone());
            tracing::debug!(%identity, ?tls, "opening stream");
            let timeouts = Timeouts {
                read_timeout: keepalive.idle,
                response_timeout: keepalive.answer,
            };
            let attempt = login(
                connector.clone(),
                tls,
                &identity,
                &password,
                allow_plain,
                timeouts,
            );
            match attempt.await {
                Ok((features, stream)) => {
                    tracing::debug!(%identity, "logged in");
                    was_online.store(true, Ordering::SeqCst);
                    link::with(&link, |s| s.logged_in(backoff.attempt()));
                    let conn = RawConnection {
                        stream: stream.box_stream(),
                        features,
                        identity,
                    };
                    if slot.send(conn).is_err() {
                        tracing::debug!("stream owner gone before login finished");
                    }
                    return;
                }
                Err(error) => {
                    // Before the first login every failure is final (the caller is
                    // waiting in `connect`); afterwards only a rejected password is.
                    let fatal =
                        !was_online.load(Ordering::SeqCst) || matches!(error, XmppError::Auth(_));
                    tracing::warn!(%jid, %error, fatal, "login failed");
                    // The receiver may be gone already; then nobody waits for us.
                    let _ = notes.send(LoginNote::Failed(LoginFailure { error, fatal }));
                    if fatal {
                        // Keep the slot (dropping it makes tokio-xmpp's worker
                        // panic) but not the password.
                        drop(password);
                        slot.closed().await;
                        return;
                    }
                }
            }
        }
    }
}

/// Connect, secure, authenticate (SASL) and restart the stream; resource
/// binding is left to the `StanzaStream`. Each step's failure is classified.
async fn login<C: ServerConnector>(
    connector: C,
    tls: TlsMode,
    jid: &Jid,
    password: &str,
    allow_plain: bool,
    timeouts: Timeouts,
) -> Result<(StreamFeatures, XmppStream<C::Stream>), XmppError> {
    let username = jid
        .node()
        .ok_or_else(|| XmppError::InvalidArgument(format!("JID {jid} has no local part")))?
        .as_str()
        .to_owned();
    let (pending, channel_binding) = connector
        .connect(jid, ns::JABBER_CLIENT, timeouts)
        .await
        .map_err(|e| classify_connect(e, tls))?;
    let (features, stream) = pending
        .recv_features()
        .await
        .map_err(|e| classify_connect(e.into(), tls))?;
    let cb_types = features.sasl_cb.as_ref().map(|cb| cb.types.as_slice());
    let choice = choose_mechanism(
        &features.sasl_mechanisms,
        channel_binding,
        cb_types,
        allow_plain,
    )?;
    tracing::debug!(%jid, mechanism = choice.mechanism, "authenticating");
    let creds = sasl::common::Credentials::default()
        .with_username(username)
        .with_password(password.to_owned())
        .with_channel_binding(choice.binding);
    // tokio-xmpp tries its mechanisms in its own order among those offered: offering it
    // only our choice makes it use that one.
    let only = BTreeSet::from([choice.mechanism.to_owned()]);
    let stream = tokio_xmpp::client_login(stream, only, creds)
        .await
        .map_err(classify_auth)?;
    let pending = stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(jid.domain().as_str())),
            from: None,
            id: None,
        })
        .await
        .map_err(|e| XmppError::Protocol(format!("stream restart after login: {e}")))?;
    pending.recv_features().await.map_err(|e| {
        XmppError::Protocol(format!("stream features after login: {}", TxError::from(e)))
    })
}

/// The SASL mechanism to use and the channel binding presented with it.
#[derive(Debug, PartialEq)]
struct Choice {
    mechanism: &'static str,
    binding: ChannelBinding,
}

/// Our order of preference (RFC 6120 §6.3.3: the client chooses): SCRAM-*-PLUS, then SCRAM,
/// then PLAIN, then ANONYMOUS. tokio-xmpp's own order names its SCRAM mechanisms `-PLUS`
/// whenever TLS 1.3 gave it a `tls-exporter` binding, so against a server without `-PLUS`
/// over TLS 1.3 (Prosody 0.12, which binds with `tls-unique` only) it skipped SCRAM and sent
/// the password with PLAIN.
///
/// `-PLUS` is used only when the server lists `tls-exporter` among its channel-binding types
/// (XEP-0440): the binding tokio-xmpp computes (RFC 9266) is the only one it has, and a
/// server that offers `-PLUS` for another type fails the login (ejabberd 23.01: "Invalid
/// channel binding"). Plain SCRAM says `y` (RFC 5802 §6: "I could bind, you offer no
/// binding", so a server that does bind detects stripped `-PLUS` offers) when the server
/// offers no `-PLUS`, and `n` when it offers a `-PLUS` we do not use (`y` would make it refuse
/// the login as a downgrade).
///
/// PLAIN gives the server the password and ANONYMOUS logs in as nobody (issue 11 item 2: the
/// server is the party the keys must defeat): both are refused unless `allow_plain`, with an
/// error naming what the server offers.
fn choose_mechanism(
    offered: &BTreeSet<String>,
    binding: ChannelBinding,
    cb_types: Option<&[sasl_cb::Type]>,
    allow_plain: bool,
) -> Result<Choice, XmppError> {
    const SCRAM: [(&str, &str); 2] = [
        ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"),
        ("SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"),
    ];
    let has = |m: &str| offered.contains(m);
    let exporter = matches!(binding, ChannelBinding::TlsExporter(_));
    let server_binds_exporter = cb_types.is_some_and(|t| t.contains(&sasl_cb::Type::TlsExporter));
    if exporter && server_binds_exporter {
        if let Some((plus, _)) = SCRAM.iter().find(|(plus, _)| has(plus)) {
            return Ok(Choice {
                mechanism: plus,
                binding,
            });
        }
    }
    if let Some((_, scram)) = SCRAM.iter().find(|(_, scram)| has(scram)) {
        let any_plus = SCRAM.iter().any(|(plus, _)| has(plus));
        let binding = if exporter && !any_plus {
            ChannelBinding::Unsupported
        } else {
            ChannelBinding::None
        };
        return Ok(Choice {
            mechanism: scram,
            binding,
        });
    }
    let offered_list = || offered.iter().cloned().collect::<Vec<_>>().join(", ");
    let Some(weak) = ["PLAIN", "ANONYMOUS"].into_iter().find(|m| has(m)) else {
        return Err(XmppError::Auth(format!(
            "no SASL mechanism in common with the server (it offers: {})",
            offered_list()
        )));
    };
    if !allow_plain {
        return Err(XmppError::Auth(format!(
            "the server offers no SCRAM mechanism (it offers: {}); PLAIN would give it the \
             password and ANONYMOUS logs in as nobody, so they are refused unless plain \
             authentication is allowed (--allow-plain-auth)",
            offered_list()
        )));
    }
    Ok(Choice {
        mechanism: weak,
        binding: ChannelBinding::None,
    })
}

/// Classify a failure while opening the connection (TCP, TLS, stream header).
fn classify_connect(e: TxError, tls: TlsMode) -> XmppError {
    match e {
        TxError::Io(io) => classify_io(io, tls),
        // The only connector-specific errors are TLS ones.
        TxError::Connection(c) => XmppError::Tls(c.to_string()),
        TxError::Protocol(ProtocolError::NoTls) => {
            XmppError::Tls("the server does not offer STARTTLS".into())
        }
        e @ (TxError::DnsProto(_)
        | TxError::DnsNet(_)
        | TxError::Idna
        | TxError::Addr(_)
        | TxError::Disconnected) => XmppError::Unreachable(e.to_string()),
        e => XmppError::Protocol(e.to_string()),
    }
}

fn classify_io(e: io::Error, tls: TlsMode) -> XmppError {
    if let Some(tls_error) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<tokio_xmpp::rustls::Error>())
    {
        return XmppError::Tls(tls_error.to_string());
    }
    match e.kind() {
        io::ErrorKind::InvalidData if tls != TlsMode::Plain => XmppError::Tls(e.to_string()),
        io::ErrorKind::InvalidData => XmppError::Protocol(e.to_string()),
        _ => XmppError::Unreachable(e.to_string()),
    }
}

/// Classify a failure during SASL.
fn classify_auth(e: TxError) -> XmppError {
    match e {
        TxError::Auth(AuthError::Fail(condition)) => {
            XmppError::Auth(format!("server said {condition:?}"))
        }
        TxError::Auth(AuthError::NoMechanism) => {
            XmppError::Auth("no SASL mechanism in common with the server".into())
        }
        TxError::Auth(a) => XmppError::Auth(a.to_string()),
        e => XmppError::Protocol(format!("during authentication: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn io_errors() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert!(matches!(
            classify_connect(refused.into(), TlsMode::StartTls),
            XmppError::Unreachable(_)
        ));
        let garbled = io::Error::new(io::ErrorKind::InvalidData, "bad record");
        assert!(matches!(
            classify_io(garbled, TlsMode::DirectTls),
            XmppError::Tls(_)
        ));
        let garbled = io::Error::new(io::ErrorKind::InvalidData, "bad xml");
        assert!(matches!(
            classify_io(garbled, TlsMode::Plain),
            XmppError::Protocol(_)
        ));
        let rustls = io::Error::new(
            io::ErrorKind::InvalidData,
            tokio_xmpp::rustls::Error::General("certificate unknown".into()),
        );
        assert!(matches!(
            classify_io(rustls, TlsMode::Plain),
            XmppError::Tls(_)
        ));
    }

    #[test]
    fn auth_errors() {
        assert!(matches!(
            classify_auth(TxError::Auth(AuthError::NoMechanism)),
            XmppError::Auth(_)
        ));
        assert!(matches!(
            classify_auth(TxError::Disconnected),
            XmppError::Protocol(_)
        ));
    }

    fn offer(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// The choice without `allow_plain`: SCRAM never needs it.
    fn choose(names: &[&str], binding: ChannelBinding, cb: Option<&[sasl_cb::Type]>) -> Choice {
        choose_mechanism(&offer(names), binding, cb, false).unwrap()
    }

    #[test]
    fn scram_is_chosen_over_plain_whatever_the_binding() {
        let exporter = || ChannelBinding::TlsExporter(vec![7; 32]);
        // Prosody 0.12 over TLS 1.3: no -PLUS; tokio-xmpp alone fell back to PLAIN here.
        let c = choose(&["PLAIN", "SCRAM-SHA-1"], exporter(), None);
        assert_eq!(c.mechanism, "SCRAM-SHA-1");
        assert_eq!(c.binding, ChannelBinding::Unsupported, "gs2 flag y");
        let c = choose(
            &["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"],
            ChannelBinding::None,
            None,
        );
        assert_eq!(c.mechanism, "SCRAM-SHA-256");
        assert_eq!(c.binding, ChannelBinding::None);
        // -PLUS offered, but tls-exporter not announced (XEP-0440): plain SCRAM with "n".
        let c = choose(&["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"], exporter(), None);
        assert_eq!(c.mechanism, "SCRAM-SHA-1");
        assert_eq!(c.binding, ChannelBinding::None);
        let unique = [sasl_cb::Type::TlsUnique];
        let c = choose(
            &["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"],
            exporter(),
            Some(&unique),
        );
        assert_eq!(c.mechanism, "SCRAM-SHA-1");
    }

    #[test]
    fn scram_plus_when_the_server_binds_tls_exporter() {
        let types = [sasl_cb::Type::TlsUnique, sasl_cb::Type::TlsExporter];
        let all = [
            "PLAIN",
            "SCRAM-SHA-1",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-256-PLUS",
        ];
        let c = choose(&all, ChannelBinding::TlsExporter(vec![1; 32]), Some(&types));
        assert_eq!(c.mechanism, "SCRAM-SHA-256-PLUS");
        assert_eq!(c.binding, ChannelBinding::TlsExporter(vec![1; 32]));
        // No binding of our own (plain TCP, TLS 1.2): never -PLUS.
        let c = choose(&all, ChannelBinding::None, Some(&types));
        assert_eq!(c.mechanism, "SCRAM-SHA-256");
    }

    #[test]
    fn plain_and_anonymous_only_when_allowed() {
        let allowed = |names: &[&str]| {
            choose_mechanism(&offer(names), ChannelBinding::None, None, true)
                .unwrap()
                .mechanism
        };
        assert_eq!(allowed(&["PLAIN", "ANONYMOUS"]), "PLAIN");
        assert_eq!(allowed(&["ANONYMOUS"]), "ANONYMOUS");
        assert_eq!(allowed(&["PLAIN", "SCRAM-SHA-1"]), "SCRAM-SHA-1");
        for names in [
            &["PLAIN"][..],
            &["ANONYMOUS"],
            &["PLAIN", "ANONYMOUS", "X-OAUTH2"],
        ] {
            let e = choose_mechanism(&offer(names), ChannelBinding::None, None, false).unwrap_err();
            assert!(matches!(e, XmppError::Auth(_)), "{e:?}");
            let shown = e.to_string();
            assert!(shown.contains("--allow-plain-auth"), "{shown}");
            for name in names {
                assert!(shown.contains(name), "{shown}");
            }
        }
        // With the flag or without it, a server offering SCRAM too gets SCRAM.
        let c = choose(
            &["PLAIN", "ANONYMOUS", "SCRAM-SHA-256"],
            ChannelBinding::None,
            None,
        );
        assert_eq!(c.mechanism, "SCRAM-SHA-256");
    }

    #[test]
    fn nothing_in_common() {
        for allow_plain in [false, true] {
            let e = choose_mechanism(
                &offer(&["X-OAUTH2"]),
                ChannelBinding::None,
                None,
                allow_plain,
            )
            .unwrap_err();
            assert!(e.to_string().contains("X-OAUTH2"), "{e}");
            assert!(!e.to_string().contains("--allow-plain-auth"), "{e}");
        }
    }
}
