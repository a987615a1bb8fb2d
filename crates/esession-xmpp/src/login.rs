//! Opening and authenticating the underlying stream.
//!
//! tokio-xmpp's own client retries a failed login forever without telling
//! anyone. We hand its `StanzaStream` a connector of our own instead: it
//! reports every failure, classified, on a channel, and gives up at once on a
//! failure before the first successful login and on any authentication
//! failure, so `Connection::connect` can return an error instead of waiting.

use std::borrow::Cow;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::error::{AuthError, Error as TxError, ProtocolError};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::{ns, stream_features::StreamFeatures};
use tokio_xmpp::stanzastream::{Connection as RawConnection, StanzaStream};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts, XmppStream};

use crate::error::XmppError;
use crate::options::{Target, TlsMode};
use crate::transport;

/// Depth of tokio-xmpp's incoming and outgoing stanza queues.
const QUEUE_DEPTH: usize = 64;
/// Longest pause between two reconnection attempts after a lost connection.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// A login failure seen by the connector.
#[derive(Debug)]
pub(crate) struct LoginFailure {
    pub(crate) error: XmppError,
    /// The connector gave up: no more attempts will follow.
    pub(crate) fatal: bool,
}

/// Start a stanza stream that logs in with our connector. Failures arrive on
/// the returned channel.
pub(crate) fn start_stream(
    tls: TlsMode,
    target: &Target,
    jid: Jid,
    password: String,
) -> (StanzaStream, mpsc::UnboundedReceiver<LoginFailure>) {
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
        TlsMode::StartTls => spawn(transport::Tls::starttls(dns), tls, jid, password, tx),
        TlsMode::DirectTls => spawn(transport::Tls::direct(dns), tls, jid, password, tx),
        TlsMode::Plain => spawn(transport::Plain(dns), tls, jid, password, tx),
    };
    (stream, rx)
}

fn spawn<C: ServerConnector>(
    connector: C,
    tls: TlsMode,
    jid: Jid,
    password: String,
    failures: mpsc::UnboundedSender<LoginFailure>,
) -> StanzaStream {
    let was_online = Arc::new(AtomicBool::new(false));
    let reconnector = move |_location: Option<String>, slot: oneshot::Sender<RawConnection>| {
        let connector = connector.clone();
        let jid = jid.clone();
        let password = password.clone();
        let failures = failures.clone();
        let was_online = was_online.clone();
        tokio::spawn(attempt_loop(
            connector, tls, jid, password, failures, was_online, slot,
        ));
    };
    StanzaStream::new(Box::new(reconnector), QUEUE_DEPTH)
}

async fn attempt_loop<C: ServerConnector>(
    connector: C,
    tls: TlsMode,
    jid: Jid,
    password: String,
    failures: mpsc::UnboundedSender<LoginFailure>,
    was_online: Arc<AtomicBool>,
    mut slot: oneshot::Sender<RawConnection>,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        if slot.is_closed() {
            return;
        }
        tracing::debug!(%jid, ?tls, "opening stream");
        match login(connector.clone(), tls, &jid, &password).await {
            Ok((features, stream)) => {
                tracing::debug!(%jid, "logged in");
                was_online.store(true, Ordering::SeqCst);
                let conn = RawConnection {
                    stream: stream.box_stream(),
                    features,
                    identity: jid,
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
                let _ = failures.send(LoginFailure { error, fatal });
                if fatal {
                    // Keep the slot (dropping it makes tokio-xmpp's worker
                    // panic) but not the password.
                    drop(password);
                    slot.closed().await;
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = slot.closed() => return,
                }
                delay = (delay * 2).min(MAX_RETRY_DELAY);
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
) -> Result<(StreamFeatures, XmppStream<C::Stream>), XmppError> {
    let username = jid
        .node()
        .ok_or_else(|| XmppError::InvalidArgument(format!("JID {jid} has no local part")))?
        .as_str()
        .to_owned();
    let (pending, channel_binding) = connector
        .connect(jid, ns::JABBER_CLIENT, Timeouts::default())
        .await
        .map_err(|e| classify_connect(e, tls))?;
    let (features, stream) = pending
        .recv_features()
        .await
        .map_err(|e| classify_connect(e.into(), tls))?;
    let creds = sasl::common::Credentials::default()
        .with_username(username)
        .with_password(password.to_owned())
        .with_channel_binding(channel_binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, creds)
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
}
