//! A stanza of an established ESession that failed verification or decryption: the
//! session ends (profile P9).
use crate::compress::CompressError;
use crate::config::StanzaKind;
use crate::crypto::CryptoError;
use crate::xml::XmlError;

/// Why a received `<c/>` was refused (XEP-0200 §8, profile P9, P13). Never answered with
/// an error: the session ends with an encrypted terminate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StanzaFault {
    /// The stanza MAC is wrong (XEP-0200 §8 step 3).
    #[error("stanza MAC does not verify")]
    MacMismatch,
    /// The `<c/>` element is malformed (XEP-0200 §14, profile P9).
    #[error("malformed encrypted content: {0}")]
    Malformed(Malformed),
    /// A re-key rule was broken (XEP-0200 §9, profile P13).
    #[error("re-key rule broken: {0}")]
    Rekey(RekeyFault),
    /// The `<key/>` value is outside 1 < e' < p−1 (XEP-0200 §9, profile P13).
    #[error("public value in field key is out of range")]
    KeyOutOfRange,
    /// The decrypted plaintext is not UTF-8 (profile P9).
    #[error("decrypted content is not well-formed XML: not UTF-8")]
    PlaintextNotUtf8,
    /// The decrypted plaintext is not a well-formed XML fragment (profile P9).
    #[error("decrypted content is not well-formed XML: {0}")]
    PlaintextNotXml(XmlError),
    /// An encrypted stanza of a kind the session did not negotiate (XEP-0200 §5).
    #[error(
        "unexpected message: encrypted {} stanza, but {} stanzas were not negotiated",
        .0.name(),
        .0.name()
    )]
    Unnegotiated(StanzaKind),
    /// A cryptographic operation refused the stanza.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The session no longer receives (profile P10: after our terminate was acknowledged).
    #[error("session is closed for receiving")]
    ClosedForReceiving,
    /// The key set that verified the `<key/>` kept no private value (XEP-0200 §9).
    #[error("session is no private value for this key set")]
    NoPrivateValue,
    /// The key set that verified the stanza is no longer held.
    #[error("session is key set vanished")]
    KeySetVanished,
}

/// What is wrong with a received `<c/>` (XEP-0200 §14, profile P9).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Text (not white space) directly inside `<c/>`.
    #[error("text directly inside <c/>")]
    Text,
    /// A foreign element, or one with element children.
    #[error("unexpected element <{0}/>")]
    UnexpectedElement(String),
    /// An unknown or repeated child.
    #[error("unexpected or repeated <{0}/>")]
    Repeated(String),
    /// No `<mac/>`.
    #[error("no <mac/>")]
    NoMac,
    /// `<mac/>` is not base64.
    #[error("mac is not base64")]
    MacNotBase64,
    /// `<data/>` is not base64.
    #[error("data is not base64")]
    DataNotBase64,
    /// `<key/>` is not base64.
    #[error("key is not base64")]
    KeyNotBase64,
    /// `<key/>` or `<new/>` although re-keying is off (profile P9: rekey_freq 2^32−1).
    #[error("re-key element while re-keying is off")]
    RekeyWhileOff,
    /// The decrypted data does not inflate (profile P9).
    #[error("zlib: {0}")]
    Inflate(CompressError),
}

/// Which re-key rule the peer broke (XEP-0200 §9, profile P13).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekeyFault {
    /// More `<key/>`s than `Config::flood.peer_rekeys` allows (each costs a modular
    /// exponentiation).
    #[error(
        "the peer sent more <key/>s than the budget of {burst} (refilled at {per_minute} a minute)"
    )]
    Flood {
        /// The burst allowed.
        burst: u32,
        /// The refill rate.
        per_minute: u32,
    },
    /// `<new>N</new>` names a key set we do not hold (P13).
    #[error("<new>{index}</new> names a key set beyond the {held} held")]
    UnknownKeySet {
        /// The set named.
        index: usize,
        /// How many sets are held.
        held: usize,
    },
    /// A `<key/>` sooner than `rekey_freq` allows (P13: the receiver enforces it).
    #[error(
        "<key/> on stanza {stanza} since the peer's previous <key/>; rekey_freq is {rekey_freq}"
    )]
    TooSoon {
        /// The stanza's number since the peer's previous `<key/>`.
        stanza: u64,
        /// The negotiated `rekey_freq`.
        rekey_freq: u32,
    },
    /// `<new/>` is not a positive integer (XEP-0200 §14); the text, at most 20 characters.
    #[error("<new/> is not a positive integer: {0}")]
    BadNew(String),
}
