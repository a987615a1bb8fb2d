//! Errors: a closed catalogue. Each [`Error`] variant is one category — the peer broke a
//! negotiation rule, a session stanza failed, a session was refused, the caller misused
//! the engine, the store failed, the peer did not answer — and the coarse [`ErrorKind`]
//! callers branch on is derived from it. A negotiation rule the peer broke
//! ([`PeerMisbehaved`]) also gives the error reply it calls for (profile P10b).
mod compat;
mod peer;
mod rejected;
mod stanza;
mod store;
#[cfg(test)]
mod tests;
mod usage;

pub use compat::CompatRefusal;
pub use peer::{Condition, IdentityFault, OfflineOptionsFault, PeerMisbehaved, Replay};
pub use rejected::{Rejected, RequestRefused};
pub use stanza::{Malformed, RekeyFault, StanzaFault};
pub use store::StoreError;
pub use usage::Usage;

/// What kind of failure happened, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer declined the session or accepted none of our options, or we refused its
    /// request or its offline options.
    Rejected,
    /// The peer broke the negotiation protocol (bad value, commitment or identity).
    Negotiation,
    /// A stanza of an established session failed verification or decryption.
    Decryption,
    /// The secret store failed.
    Store,
    /// The caller asked for something impossible (no such session, wrong state).
    Usage,
    /// The peer did not answer in time.
    Timeout,
}

impl ErrorKind {
    /// A stable lowercase name (used in the CLI's JSON events).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Rejected => "rejected",
            ErrorKind::Negotiation => "negotiation",
            ErrorKind::Decryption => "decryption",
            ErrorKind::Store => "store",
            ErrorKind::Usage => "usage",
            ErrorKind::Timeout => "timeout",
        }
    }
}

/// An error of the engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke a negotiation rule (XEP-0155, XEP-0116; kind
    /// [`ErrorKind::Negotiation`]).
    #[error("negotiation: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// A stanza of an established session failed verification or decryption (XEP-0200
    /// §8; kind [`ErrorKind::Decryption`]).
    #[error("decryption: {0}")]
    Stanza(#[from] StanzaFault),
    /// The session was declined or refused (kind [`ErrorKind::Rejected`]).
    #[error("rejected: {0}")]
    Rejected(#[from] Rejected),
    /// The caller asked for something impossible (kind [`ErrorKind::Usage`]).
    #[error("usage: {0}")]
    Usage(#[from] Usage),
    /// The secret store failed (kind [`ErrorKind::Store`]).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The negotiation was not answered within `seconds` (`Config::negotiation_timeout`;
    /// kind [`ErrorKind::Timeout`]).
    #[error("timeout: no answer within {seconds} seconds{}", stall_note(*gajim_stall))]
    Timeout {
        /// The timeout that passed.
        seconds: u64,
        /// Whether the answer never came because of Gajim's bug B1: we started the
        /// negotiation in the Gajim mode and Gajim drew a counter it cannot handle
        /// ([`crate::Engine::stalled_by_gajim_bug`], issue 13). The text then says so
        /// ([`crate::GAJIM_STALL`]).
        gajim_stall: bool,
    },
}

/// What the text of [`Error::Timeout`] adds when Gajim's bug B1 is the cause.
fn stall_note(gajim_stall: bool) -> String {
    if gajim_stall {
        format!(": {}", crate::GAJIM_STALL)
    } else {
        String::new()
    }
}

impl Error {
    /// The coarse kind, derived from the variant.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::PeerMisbehaved(_) => ErrorKind::Negotiation,
            Error::Stanza(_) => ErrorKind::Decryption,
            Error::Rejected(_) => ErrorKind::Rejected,
            Error::Usage(_) => ErrorKind::Usage,
            Error::Store(_) => ErrorKind::Store,
            Error::Timeout { .. } => ErrorKind::Timeout,
        }
    }
}

/// Tests compare an error with the rule it carries: `assert_eq!(err, PeerMisbehaved::…)`.
#[cfg(test)]
macro_rules! eq_inner {
    ($($variant:ident($inner:ty)),*) => {$(
        impl PartialEq<$inner> for Error {
            fn eq(&self, other: &$inner) -> bool {
                matches!(self, Error::$variant(e) if e == other)
            }
        }
    )*};
}
#[cfg(test)]
eq_inner!(
    PeerMisbehaved(PeerMisbehaved),
    Stanza(StanzaFault),
    Rejected(Rejected),
    Usage(Usage)
);
