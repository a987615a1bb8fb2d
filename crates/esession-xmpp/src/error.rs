//! Errors of the network layer.

use thiserror::Error;

use crate::stream_error::SignOut;

/// Everything that can go wrong between this process and the XMPP server.
///
/// Connection and login failures ([`Auth`](Self::Auth),
/// [`Unreachable`](Self::Unreachable), [`Tls`](Self::Tls) and a
/// [`Timeout`](Self::Timeout) while connecting) map to exit code 3, the rest
/// to 1: see [`XmppError::exit_code`].
#[derive(Debug, Error)]
pub enum XmppError {
    /// The server rejected the credentials (SASL failure) or offered no usable
    /// mechanism.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server could not be reached (DNS, TCP connect, connection dropped
    /// before the stream was set up).
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// TLS could not be established (certificate not trusted, handshake
    /// failure, STARTTLS not offered).
    #[error("TLS failure: {0}")]
    Tls(String),
    /// A bounded wait ran out; the text names what was being waited for.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// The peer or the server answered a request with a stanza error; the text
    /// is the RFC 6120 defined condition (e.g. `service-unavailable`).
    #[error("stanza error: {0}")]
    Stanza(String),
    /// The stream or a stanza did not look like XMPP should, or the stream
    /// ended.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server signed this session out (`why`, e.g. another client signed in with the
    /// same full JID); the connection stays down until `Connection::reconnect`.
    #[error("signed out: {}", why.explain(jid))]
    SignedOut {
        /// The full JID that was bound.
        jid: String,
        /// Why.
        why: SignOut,
    },
    /// The caller passed something unusable (bad JID, bad XML, plain TCP to a
    /// remote host, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Exit code for connection and login failures.
pub const EXIT_CONNECT: i32 = 3;
/// Exit code for every other failure.
pub const EXIT_OTHER: i32 = 1;

impl XmppError {
    /// Process exit code for this error: 3 for connection and login failures
    /// (authentication, unreachable server, TLS, timeout while connecting),
    /// 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Auth(_) | Self::Unreachable(_) | Self::Tls(_) => EXIT_CONNECT,
            Self::Timeout(what) if *what == CONNECT_TIMEOUT => EXIT_CONNECT,
            _ => EXIT_OTHER,
        }
    }

    /// True for the failures that mean "could not connect or log in".
    pub fn is_connect_failure(&self) -> bool {
        self.exit_code() == EXIT_CONNECT
    }
}

/// The [`XmppError::Timeout`] text used while connecting and logging in.
pub const CONNECT_TIMEOUT: &str = "connecting and logging in";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(XmppError::Auth("x".into()).exit_code(), 3);
        assert_eq!(XmppError::Unreachable("x".into()).exit_code(), 3);
        assert_eq!(XmppError::Tls("x".into()).exit_code(), 3);
        assert_eq!(XmppError::Timeout(CONNECT_TIMEOUT).exit_code(), 3);
        assert_eq!(XmppError::Timeout("sending a stanza").exit_code(), 1);
        assert_eq!(XmppError::Stanza("item-not-found".into()).exit_code(), 1);
        assert_eq!(XmppError::Protocol("x".into()).exit_code(), 1);
        assert_eq!(XmppError::InvalidArgument("x".into()).exit_code(), 1);
        let out = XmppError::SignedOut {
            jid: "bob@localhost/t".into(),
            why: SignOut::Conflict,
        };
        assert_eq!(out.exit_code(), 1);
        assert_eq!(
            out.to_string(),
            "signed out: another client signed in as bob@localhost/t"
        );
    }
}
