//! The caller asked for something this engine cannot do now.
use super::compat::CompatRefusal;
use crate::compress::CompressError;
use crate::config::StanzaKind;
use crate::crypto::{CryptoError, KeyError};

/// A request of the engine's user that cannot be carried out: nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Usage {
    /// No session with that peer and thread.
    #[error("no session with {peer} on thread {thread}")]
    NoSuchSession {
        /// Peer JID.
        peer: String,
        /// Thread.
        thread: String,
    },
    /// The session is in a state (named) that does not allow this.
    #[error("session is {0}")]
    WrongState(&'static str),
    /// The session has no SAS to compare (plain, or a 3-message flow, XEP-0116 §4.5).
    #[error("session is without a SAS (plain, or negotiated in 3 messages)")]
    NoSas,
    /// Re-keying was not negotiated (profile P9: rekey_freq 2^32−1).
    #[error("re-keying is off in this session (rekey_freq 2^32-1)")]
    RekeyOff,
    /// A `<key/>` now would break `rekey_freq` (XEP-0200 §9, profile P13).
    #[error("a re-key now would come sooner than the session's rekey_freq allows")]
    RekeyTooSoon,
    /// Too many of our `<key/>`s are unacknowledged (profile P13).
    #[error("too many of our re-keys in this session are unacknowledged")]
    RekeysUnacknowledged,
    /// The session no longer sends (profile P10: our terminate was sent).
    #[error("session is closed for sending")]
    ClosedForSending,
    /// An offline session while an ESession with the contact is established (XEP-0187
    /// §3.2).
    #[error("session is established with that contact already (no offline session then)")]
    OfflineWhileEstablished,
    /// The send counter reached the 2^32-block limit (XEP-0200 §11.4, profile P9).
    #[error("2^32 blocks were sent under one key: the session must be renegotiated")]
    KeyExhausted,
    /// Not a `<message/>`, `<presence/>` or `<iq/>` (the element's name).
    #[error("unexpected message: <{0}/> is not a message, presence or iq stanza")]
    NotAStanza(String),
    /// Stanzas of this kind were not negotiated for encryption (XEP-0200 §5).
    #[error(
        "unexpected message: {} stanzas were not negotiated for encryption in this session",
        .0.name()
    )]
    NotNegotiated(StanzaKind),
    /// A renegotiation offering no `logging` value (XEP-0155 §4.5).
    #[error("field logging is missing")]
    NoLoggingOffer,
    /// The configuration offers nothing for these fields (XEP-0116 §4.2).
    #[error("no acceptable option for field(s) {}", .0.join(", "))]
    NothingOffered(Vec<String>),
    /// A public-key identification needs an identity key, and none is loaded (profile P8,
    /// P11 `signs`).
    #[error("no identity key is loaded, but the negotiation needs one for {0:?} identification")]
    NoIdentityKey(&'static str),
    /// Our identity key cannot sign with the negotiated algorithm (profile P8).
    #[error("peer identity: our identity key cannot sign with the negotiated {0}")]
    IdentityKeyUnfit(&'static str),
    /// Our identity key failed to sign (profile P8).
    #[error("peer identity: signing failed: {0}")]
    Signing(KeyError),
    /// Our identity key failed to sign offline options (profile P11 `signs`).
    #[error("offline options refused: signing the options failed: {0}")]
    SigningOptions(KeyError),
    /// Our `match_resource` is not a resourcepart (profile P11; at most 64 characters).
    #[error("field match_resource has an invalid value {0:?}")]
    BadResource(String),
    /// Offline options whose `expires` is not after now (XEP-0187 §3.1).
    #[error("offline options expired at {0}")]
    ExpiryPassed(String),
    /// Compressing our stanza failed (profile P9).
    #[error("malformed encrypted content: zlib compression: {0}")]
    Compression(CompressError),
    /// The Gajim compatibility mode refuses this (issue 13).
    #[error("{0}")]
    Compat(CompatRefusal),
    /// A cryptographic operation on our side failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}
