//! What to connect to and how.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio_xmpp::jid::{BareJid, Jid};

use crate::error::XmppError;
use crate::link::Keepalive;

/// How the client stream is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP, upgraded with STARTTLS (RFC 6120 §5); the usual port 5222.
    StartTls,
    /// TLS from the first byte (XEP-0368); the usual port 5223.
    DirectTls,
    /// Plain TCP without TLS. Only allowed to a loopback address (tests and
    /// demos against a local server); refused for any other server.
    Plain,
}

/// Everything [`Connection::connect`](crate::Connection::connect) needs.
///
/// `Debug` does not show the password.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Account JID, bare (`alice@example.org`) or full (to ask for a resource).
    pub jid: String,
    /// Account password.
    pub password: String,
    /// `HOST:PORT` of the server; `None` to find it from the JID's domain
    /// through DNS SRV (not allowed with [`TlsMode::Plain`]).
    pub server: Option<String>,
    /// Transport protection.
    pub tls: TlsMode,
    /// Bound for connecting and logging in, for sending, and for closing.
    pub timeout: Duration,
    /// Send initial presence once online (needed to receive messages sent to
    /// the bare JID).
    pub send_presence: bool,
    /// Features advertised in answers to disco#info requests (XEP-0030), in
    /// addition to `http://jabber.org/protocol/disco#info`.
    pub features: Vec<String>,
    /// Log in with SASL PLAIN or ANONYMOUS when the server offers no SCRAM mechanism. Off by
    /// default: PLAIN hands the server the account password, and ANONYMOUS is not
    /// the account. SCRAM (`-PLUS` where the server binds
    /// `tls-exporter`) is always preferred; without this, a server offering only PLAIN or
    /// ANONYMOUS fails the login with [`XmppError::Auth`].
    pub allow_plain_auth: bool,
    /// How a silent (dead) link to the server is detected after login.
    pub keepalive: Keepalive,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("jid", &self.jid)
            .field("password", &"<redacted>")
            .field("server", &self.server)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .field("send_presence", &self.send_presence)
            .field("features", &self.features)
            .field("allow_plain_auth", &self.allow_plain_auth)
            .field("keepalive", &self.keepalive)
            .finish()
    }
}

impl ConnectOptions {
    /// Options with STARTTLS, a 10 s timeout, initial presence, no extra
    /// features and SCRAM authentication only.
    pub fn new(jid: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            jid: jid.into(),
            password: password.into(),
            server: None,
            tls: TlsMode::StartTls,
            timeout: Duration::from_secs(10),
            send_presence: true,
            features: Vec::new(),
            allow_plain_auth: false,
            keepalive: Keepalive::default(),
        }
    }
}

/// Where to open the TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A literal socket address.
    Addr(SocketAddr),
    /// A host name and port (resolved without SRV).
    Host(String, u16),
    /// DNS SRV lookup for the JID's domain.
    Srv,
}

/// Options checked and parsed.
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub(crate) jid: Jid,
    pub(crate) bare: BareJid,
    pub(crate) target: Target,
}

pub(crate) fn validate(opts: &ConnectOptions) -> Result<Validated, XmppError> {
    let jid: Jid = opts
        .jid
        .parse()
        .map_err(|e| XmppError::InvalidArgument(format!("JID {:?}: {e}", opts.jid)))?;
    if jid.node().is_none() {
        return Err(XmppError::InvalidArgument(format!(
            "JID {:?} has no local part (user@domain expected)",
            opts.jid
        )));
    }
    for (name, wait) in [
        ("timeout", opts.timeout),
        ("keepalive idle time", opts.keepalive.idle),
        ("keepalive answer time", opts.keepalive.answer),
    ] {
        check_wait(name, wait)?;
    }
    let target = match &opts.server {
        None => Target::Srv,
        Some(s) => parse_server(s)?,
    };
    if opts.tls == TlsMode::Plain && !is_loopback(&target) {
        return Err(XmppError::InvalidArgument(format!(
            "plain TCP without TLS is only allowed to a loopback server (127.0.0.0/8, ::1, localhost), not {}",
            opts.server.as_deref().unwrap_or("the JID's domain via DNS")
        )));
    }
    let bare = jid.to_bare();
    Ok(Validated { jid, bare, target })
}

/// The longest wait the options may ask for. Deadlines are computed as `now + wait`,
/// which overflows (and panics, inside tokio-xmpp too) for a wait near `u64::MAX` seconds.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A wait of the options: from 1 ms to [`MAX_WAIT`].
fn check_wait(name: &str, wait: Duration) -> Result<(), XmppError> {
    if wait.is_zero() {
        return Err(XmppError::InvalidArgument(format!(
            "{name} must not be zero"
        )));
    }
    if wait > MAX_WAIT {
        return Err(XmppError::InvalidArgument(format!(
            "{name} of {} s is longer than the {} s allowed",
            wait.as_secs(),
            MAX_WAIT.as_secs()
        )));
    }
    Ok(())
}

fn parse_server(s: &str) -> Result<Target, XmppError> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(Target::Addr(addr));
    }
    let bad = || XmppError::InvalidArgument(format!("server {s:?}: HOST:PORT expected"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains(':') {
        return Err(bad());
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(Target::Addr(SocketAddr::new(ip, port))),
        Err(_) => Ok(Target::Host(host.to_owned(), port)),
    }
}

fn is_loopback(target: &Target) -> bool {
    match target {
        Target::Addr(a) => a.ip().is_loopback(),
        Target::Host(h, _) => h.eq_ignore_ascii_case("localhost"),
        Target::Srv => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(server: Option<&str>, tls: TlsMode) -> ConnectOptions {
        let mut o = ConnectOptions::new("alice@localhost", "pw");
        o.server = server.map(str::to_owned);
        o.tls = tls;
        o
    }

    #[test]
    fn server_forms() {
        assert_eq!(
            parse_server("127.0.0.1:5222").ok(),
            Some(Target::Addr(
                "127.0.0.1:5222".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        assert_eq!(
            parse_server("example.org:5223").ok(),
            Some(Target::Host("example.org".into(), 5223))
        );
        assert!(parse_server("[::1]:5222").is_ok());
        assert!(parse_server("example.org").is_err());
        assert!(parse_server(":5222").is_err());
        assert!(parse_server("host:99999").is_err());
    }

    #[test]
    fn plain_only_to_loopback() {
        assert!(validate(&opts(Some("127.0.0.1:15222"), TlsMode::Plain)).is_ok());
        assert!(validate(&opts(Some("[::1]:15222"), TlsMode::Plain)).is_ok());
        assert!(validate(&opts(Some("localhost:15222"), TlsMode::Plain)).is_ok());
        for bad in [Some("192.0.2.1:5222"), Some("example.org:5222"), None] {
            assert!(matches!(
                validate(&opts(bad, TlsMode::Plain)),
                Err(XmppError::InvalidArgument(_))
            ));
        }
        assert!(validate(&opts(Some("example.org:5222"), TlsMode::StartTls)).is_ok());
    }

    #[test]
    fn debug_hides_password() {
        let o = ConnectOptions::new("alice@localhost", "hunter2");
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("alice@localhost"), "{shown}");
    }

    #[test]
    fn waits_are_bounded() {
        let mut o = opts(Some("127.0.0.1:1"), TlsMode::StartTls);
        assert!(validate(&o).is_ok());
        let refusal = |o: &ConnectOptions| match validate(o) {
            Err(XmppError::InvalidArgument(e)) => e,
            other => format!("not refused: {:?}", other.map(|_| ())),
        };
        o.keepalive.idle = Duration::from_secs(u64::MAX);
        let e = refusal(&o);
        assert!(
            e.contains("keepalive idle time of 18446744073709551615 s is longer"),
            "{e}"
        );
        o.keepalive.idle = MAX_WAIT;
        o.keepalive.answer = Duration::ZERO;
        let e = refusal(&o);
        assert!(e.contains("keepalive answer time must not be zero"), "{e}");
        o.keepalive.answer = MAX_WAIT;
        o.timeout = MAX_WAIT + Duration::from_millis(1);
        assert!(matches!(validate(&o), Err(XmppError::InvalidArgument(_))));
    }

    #[test]
    fn jid_needs_local_part() {
        let mut o = opts(Some("127.0.0.1:1"), TlsMode::StartTls);
        o.jid = "localhost".into();
        assert!(matches!(validate(&o), Err(XmppError::InvalidArgument(_))));
        o.jid = "a@b@c".into();
        assert!(matches!(validate(&o), Err(XmppError::InvalidArgument(_))));
    }
}
