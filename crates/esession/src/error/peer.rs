//! A peer that broke a negotiation rule, and the XEP-0155 error reply each rule calls for
//! (profile P10b).
use crate::crypto::{CryptoError, KeyError};
use crate::forms::FormError;
use crate::xml::XmlError;

/// The defined conditions of the error replies to a negotiation (profile P10b).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// `not-acceptable`: a bad or unoffered value (XEP-0155 §4.3).
    NotAcceptable,
    /// `feature-not-implemented`: a failed commitment, range or identity check of
    /// messages 3 and 4 (XEP-0116 §4.6), or a flow we lack.
    FeatureNotImplemented,
    /// `service-unavailable`: not an `urn:xmpp:ssn` request (XEP-0155 §4.3).
    ServiceUnavailable,
    /// `resource-constraint`: a request refused by the flood limits (`Config::flood`).
    ResourceConstraint,
}

impl Condition {
    /// The condition's element name.
    pub fn name(self) -> &'static str {
        match self {
            Condition::NotAcceptable => "not-acceptable",
            Condition::FeatureNotImplemented => "feature-not-implemented",
            Condition::ServiceUnavailable => "service-unavailable",
            Condition::ResourceConstraint => "resource-constraint",
        }
    }
}

/// A negotiation rule the peer broke. [`PeerMisbehaved::condition`] and
/// [`PeerMisbehaved::fields`] give the error reply it calls for (profile P10b).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// The form is not an `urn:xmpp:ssn` form (XEP-0155 §4.3). Not answered.
    #[error("not an urn:xmpp:ssn negotiation form")]
    NotSsnForm,
    /// A form of the wrong type for this step (XEP-0155 §4.3–4.4).
    #[error("form type {got} where {expected} was expected")]
    WrongFormType {
        /// Expected type.
        expected: &'static str,
        /// Received type.
        got: &'static str,
    },
    /// A required field is absent or empty (XEP-0155 §4.3, XEP-0116 §4.3–4.6).
    #[error("field {0} is missing")]
    MissingField(String),
    /// A single-valued field has several values (XEP-0004 §3.3).
    #[error("field {0} has more than one value")]
    MultipleValues(String),
    /// A field value is not valid base64 (XEP-0116 §4.3: `B64`).
    #[error("field {0} is not valid base64")]
    BadBase64(String),
    /// A field value cannot be understood.
    #[error("field {field} has an invalid value {value:?}")]
    BadValue {
        /// The field.
        field: String,
        /// The value (never secret material).
        value: String,
    },
    /// The peer chose a value we did not offer (XEP-0155 §4.3).
    #[error("field {field}: value {value:?} was not offered")]
    UnofferedOption {
        /// The field.
        field: String,
        /// The chosen value.
        value: String,
    },
    /// No offered option is acceptable for these fields (XEP-0116 §4.4).
    #[error("no acceptable option for field(s) {}", .0.join(", "))]
    NoAcceptableOption(Vec<String>),
    /// The 3-message flow (a request with `dhkeys`) where it cannot be used (XEP-0116
    /// §4.5). Not answered.
    #[error("3-message negotiation (dhkeys in the request) is not supported")]
    UnsupportedFlow,
    /// A Diffie–Hellman public value in the named field is outside 1 < v < p−1, where it
    /// is a form value (profile P6).
    #[error("public value in field {0} is out of range")]
    PublicValueOutOfRange(String),
    /// Alice's committed e (message 3) is outside 1 < e < p−1 (XEP-0116 §4.6.1).
    #[error("public value in field dhkeys is out of range")]
    CommittedValueOutOfRange,
    /// SHA-256(e) differs from the committed He (XEP-0116 §4.6.1).
    #[error("e does not match the hash commitment He")]
    CommitmentMismatch,
    /// The `nonce` field does not echo our nonce (XEP-0116 §4.4, §4.6).
    #[error("field nonce does not echo our nonce")]
    NonceMismatch,
    /// The identity MAC (M_A or M_B) is wrong (XEP-0116 §4.6.2 step 1).
    #[error("identity MAC (field mac) does not verify")]
    IdentityMacMismatch,
    /// The decrypted identity (mac_A or mac_B) is wrong (XEP-0116 §4.6.2 step 3).
    #[error("decrypted identity does not verify")]
    IdentityMismatch,
    /// The peer's public-key identity failed a step of XEP-0116 §4.6.2 steps 3–4 (profile
    /// P8) or our trust in it.
    #[error("peer identity: {0}")]
    PeerIdentity(IdentityFault),
    /// A negotiation message that does not fit the session's state (XEP-0155 §4). Not
    /// answered.
    #[error("unexpected message: negotiation message out of order")]
    OutOfOrder,
    /// A form could not be parsed (XEP-0004). Not answered.
    #[error("data form: {0}")]
    Form(#[from] FormError),
    /// A cryptographic operation refused the peer's input (an unknown group, a bad value).
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// Offline options (XEP-0187 §3.2, profile P11) that may not be used.
    #[error("offline options refused: {0}")]
    OfflineOptions(OfflineOptionsFault),
    /// Offline options or an offline init whose set expired at the given XEP-0082 time
    /// (XEP-0187 §3.2, profile P11).
    #[error("offline options expired at {0}")]
    OfflineExpired(String),
    /// An offline init whose `nonce` matches none of our published sets (profile P11).
    #[error("offline init for no published option set (field nonce)")]
    NoOfflineSet,
    /// An offline init already seen (profile P11 "Replay storage").
    #[error("offline init replayed: {0}")]
    OfflineReplay(Replay),
}

impl PeerMisbehaved {
    /// The condition of the error reply to a negotiation that broke this rule (profile
    /// P10b); `None`: the failure is not answered (a form that is not a negotiation, a
    /// message out of order, an offline init, which is never answered, P11).
    pub fn condition(&self) -> Option<Condition> {
        use PeerMisbehaved::*;
        match self {
            // P10b: the commitment, range and identity checks of messages 3 and 4
            // (XEP-0116 §4.6).
            CommittedValueOutOfRange
            | CommitmentMismatch
            | IdentityMacMismatch
            | IdentityMismatch
            | PeerIdentity(_) => Some(Condition::FeatureNotImplemented),
            // P10b: a bad or unoffered value.
            WrongFormType { .. }
            | MissingField(_)
            | MultipleValues(_)
            | BadBase64(_)
            | BadValue { .. }
            | UnofferedOption { .. }
            | NoAcceptableOption(_)
            | PublicValueOutOfRange(_)
            | NonceMismatch
            | Crypto(_) => Some(Condition::NotAcceptable),
            NotSsnForm | UnsupportedFlow | OutOfOrder | Form(_) | OfflineOptions(_)
            | OfflineExpired(_) | NoOfflineSet | OfflineReplay(_) => None,
        }
    }

    /// The fields the error reply names (profile P10b): the field at fault, if any.
    pub fn fields(&self) -> Vec<&str> {
        use PeerMisbehaved::*;
        match self {
            MissingField(f) | MultipleValues(f) | BadBase64(f) | PublicValueOutOfRange(f) => {
                vec![f.as_str()]
            }
            BadValue { field, .. } | UnofferedOption { field, .. } => vec![field.as_str()],
            NoAcceptableOption(fields) => fields.iter().map(String::as_str).collect(),
            NonceMismatch => vec!["nonce"],
            CommittedValueOutOfRange | CommitmentMismatch => vec!["dhkeys"],
            IdentityMacMismatch => vec!["mac"],
            IdentityMismatch | PeerIdentity(_) => vec!["identity"],
            NotSsnForm
            | WrongFormType { .. }
            | UnsupportedFlow
            | OutOfOrder
            | Form(_)
            | Crypto(_)
            | OfflineOptions(_)
            | OfflineExpired(_)
            | NoOfflineSet
            | OfflineReplay(_) => Vec::new(),
        }
    }
}

/// The step at which the peer's public-key identity failed (XEP-0116 §4.6.2 steps 3–4,
/// profile P8, in its order), or why we refuse a key that verified (XEP-0116 §7.3–7.4).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityFault {
    /// Decrypting ID failed (XEP-0116 §4.6.2 step 2).
    #[error("crypto: {0}")]
    Decrypt(CryptoError),
    /// P8: the decrypted identity must be UTF-8 XML.
    #[error("decrypted identity is not UTF-8")]
    NotUtf8,
    /// P8: the decrypted identity must be an XML fragment.
    #[error("decrypted identity is not XML: {0}")]
    NotXml(XmlError),
    /// P8: two elements and nothing else.
    #[error("decrypted identity holds text outside elements")]
    TextOutsideElements,
    /// P8: exactly a key (or fingerprint) and a SignatureValue.
    #[error("decrypted identity is not exactly a key (or fingerprint) and a SignatureValue")]
    NotKeyAndSignature,
    /// P8: the second element is the SignatureValue.
    #[error("second element of the identity is not a SignatureValue")]
    NoSignatureValue,
    /// P8: the SignatureValue is base64.
    #[error("SignatureValue is not base64")]
    SignatureNotBase64,
    /// P8 `hash` mode: the first element is a fingerprint.
    #[error("first element of the identity is not a fingerprint")]
    NoFingerprint,
    /// P8 `hash` mode: the fingerprint is base64.
    #[error("fingerprint is not base64")]
    FingerprintNotBase64,
    /// XEP-0116 §4.6.2 step 3 (`hash` mode): no known key has that fingerprint.
    #[error("the key with that fingerprint is not known here")]
    UnknownFingerprint,
    /// P8 `key` mode: the first element is a KeyValue.
    #[error("first element of the identity is not a KeyValue")]
    NoKeyValue,
    /// P8 `hash` mode: the known key's stored KeyValue does not parse.
    #[error("stored key is not XML: {0}")]
    StoredKeyNotXml(XmlError),
    /// XEP-0116 §4.6.2 step 3: the KeyValue is not a usable public key.
    #[error("public key refused: {0}")]
    KeyRefused(KeyError),
    /// A key was presented although no `sign_algs` value was negotiated.
    #[error("no sign_algs value was negotiated")]
    NoSignAlg,
    /// P8: the key's type does not fit the negotiated signature algorithm.
    #[error("the key does not fit the negotiated {0}")]
    KeyAlgMismatch(&'static str),
    /// XEP-0116 §4.6.2 step 4: the signature of the mac does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(KeyError),
    /// The key was revoked by its holder (XEP-0189 §4; decision "Published keys").
    #[error("the key {fingerprint} was revoked by its holder at {at} (XEP-0189)")]
    Revoked {
        /// The key's fingerprint.
        fingerprint: String,
        /// When it was revoked (XEP-0082).
        at: String,
    },
    /// The policy requires a trusted key (`Config::require_trusted_key`, XEP-0116 §7.3),
    /// and the peer presented none.
    #[error("{peer} presented no key, and a trusted one is required")]
    NoKey {
        /// The peer's bare JID.
        peer: String,
    },
    /// The policy requires a trusted key (`Config::require_trusted_key`, XEP-0116 §7.3).
    #[error("the key {fingerprint} is not trusted for {peer}")]
    Untrusted {
        /// The key's fingerprint.
        fingerprint: String,
        /// The peer's bare JID.
        peer: String,
    },
}

/// Why offline options may not be used (XEP-0187 §3.2, profile P11).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfflineOptionsFault {
    /// Not an `urn:xmpp:ssn` options form (XEP-0187 §3.1).
    #[error("not an urn:xmpp:ssn options form")]
    NotOptionsForm,
    /// Profile P11: unsigned options are never used.
    #[error("the options are not signed (no signs field)")]
    Unsigned,
    /// XEP-0187 §3.2: no key of the publisher that we trust.
    #[error("no key trusted for {0} is known here (fetch her key and trust it first)")]
    NoTrustedKey(String),
    /// XEP-0187 §3.2: no signature verifies with a key trusted for the publisher.
    #[error("no signature of the options verifies with a key trusted for {0}")]
    NoValidSignature(String),
    /// One signature that does not verify with one key.
    #[error("signature does not verify: {0}")]
    BadSignature(KeyError),
}

/// Which replay rule an offline init broke (profile P11 "Replay storage").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Replay {
    /// Its thread already has a session.
    #[error("its thread already has a session")]
    ThreadTaken,
    /// Its d or N_B was accepted before for the same option set.
    #[error("its d or N_B was accepted before for this option set")]
    Accepted,
}
