//! Failures and their exit codes (0 success, 1 protocol or negotiation failure, 2 usage,
//! 3 connection or login failure).
use esession_xmpp::XmppError;
use std::fmt;

/// Exit code of a protocol or negotiation failure.
pub(crate) const PROTOCOL: i32 = 1;
/// Exit code of a usage error.
pub(crate) const USAGE: i32 = 2;

/// A failure that ends the command.
#[derive(Debug)]
pub(crate) struct Fail {
    pub code: i32,
    pub kind: &'static str,
    pub message: String,
    /// The peer and thread the failure concerns, when known.
    pub peer: Option<String>,
    pub thread: Option<String>,
}

impl Fail {
    pub(crate) fn protocol(kind: &'static str, message: impl Into<String>) -> Self {
        Fail {
            code: PROTOCOL,
            kind,
            message: message.into(),
            peer: None,
            thread: None,
        }
    }

    /// The same failure, naming the session it concerns.
    pub(crate) fn at(mut self, peer: &str, thread: &str) -> Self {
        self.peer = Some(peer.to_owned());
        self.thread = Some(thread.to_owned());
        self
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Fail {
            code: USAGE,
            kind: "usage",
            message: message.into(),
            peer: None,
            thread: None,
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<XmppError> for Fail {
    fn from(e: XmppError) -> Self {
        // What the user gave cannot be used (a JID without a local part, a server that is
        // not HOST:PORT, plain TCP to a remote host): a usage error.
        if matches!(e, XmppError::InvalidArgument(_)) {
            return Fail::usage(e.to_string());
        }
        let kind = if e.is_connect_failure() {
            "connection"
        } else if matches!(e, XmppError::SignedOut { .. }) {
            // RFC 6120 §4.9.3.3: another client took over the full JID.
            "signed_out"
        } else {
            "xmpp"
        };
        Fail {
            code: e.exit_code(),
            kind,
            message: e.to_string(),
            peer: None,
            thread: None,
        }
    }
}

impl From<esession::StoreError> for Fail {
    fn from(e: esession::StoreError) -> Self {
        Fail::protocol("store", e.to_string())
    }
}

impl From<esession::Error> for Fail {
    fn from(e: esession::Error) -> Self {
        Fail::protocol(e.kind().name(), e.to_string())
    }
}

impl From<esession_xmpp::OfflineError> for Fail {
    fn from(e: esession_xmpp::OfflineError) -> Self {
        match e {
            esession_xmpp::OfflineError::Engine(e) => e.into(),
            esession_xmpp::OfflineError::Xmpp(e) => e.into(),
        }
    }
}
