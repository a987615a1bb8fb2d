//! Errors: a coarse [`ErrorKind`] for callers and a precise [`Violation`] that names each
//! protocol violation (for logs, tests and the person debugging an interop failure).
use crate::crypto::CryptoError;
use crate::forms::FormError;
use crate::xml::XmlError;

/// A storage failure. The engine treats it as fatal for the negotiation that needed it.
#[derive(Debug, thiserror::Error)]
#[error("secret store failure: {0}")]
pub struct StoreError(pub String);

/// What kind of failure happened, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The peer declined the session or accepted none of our options.
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

/// One precise reason, naming the field or value at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The form is not an `urn:xmpp:ssn` form (XEP-0155 §4.3).
    #[error("not an urn:xmpp:ssn negotiation form")]
    NotSsnForm,
    /// A form of the wrong type for this step.
    #[error("form type {got} where {expected} was expected")]
    WrongFormType {
        /// Expected type.
        expected: &'static str,
        /// Received type.
        got: &'static str,
    },
    /// A required field is absent or empty.
    #[error("field {0} is missing")]
    MissingField(String),
    /// A single-valued field has several values.
    #[error("field {0} has more than one value")]
    MultipleValues(String),
    /// A field value is not valid base64.
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
    /// The peer chose a value we did not offer.
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
    /// The 3-message flow (a request with `dhkeys`) is not supported here.
    #[error("3-message negotiation (dhkeys in the request) is not supported")]
    UnsupportedFlow,
    /// A Diffie–Hellman public value is outside 1 < v < p−1 (profile P6).
    #[error("public value in field {0} is out of range")]
    PublicValueOutOfRange(String),
    /// SHA-256(e) differs from the committed He (XEP-0116 §4.6.1).
    #[error("e does not match the hash commitment He")]
    CommitmentMismatch,
    /// The `nonce` field does not echo our nonce.
    #[error("field nonce does not echo our nonce")]
    NonceMismatch,
    /// The identity MAC (M_A or M_B) is wrong.
    #[error("identity MAC (field mac) does not verify")]
    IdentityMacMismatch,
    /// The decrypted identity (mac_A or mac_B) is wrong.
    #[error("decrypted identity does not verify")]
    IdentityMismatch,
    /// The peer's public-key identity failed (XEP-0116 §4.6.2 step 3–4, profile P8); the
    /// text names the step: parsing, key lookup, key type, signature or trust.
    #[error("peer identity: {0}")]
    PeerIdentity(String),
    /// A public-key identification was negotiated but no identity key is loaded.
    #[error("no identity key is loaded, but the negotiation needs one for {0:?} identification")]
    NoIdentityKey(&'static str),
    /// An XEP-0200 stanza MAC is wrong.
    #[error("stanza MAC does not verify")]
    StanzaMacMismatch,
    /// The `<c/>` element is malformed.
    #[error("malformed encrypted content: {0}")]
    MalformedEncryptedContent(String),
    /// A re-key rule was broken (XEP-0200 §9, profile P13): `<new/>` naming a key set not
    /// held, a `<key/>` sooner than `rekey_freq` allows, …
    #[error("re-key rule broken: {0}")]
    Rekey(String),
    /// The decrypted plaintext is not a well-formed XML fragment.
    #[error("decrypted content is not well-formed XML: {0}")]
    PlaintextNotXml(String),
    /// A message that does not fit the session's state.
    #[error("unexpected message: {0}")]
    UnexpectedMessage(String),
    /// The peer answered with an error stanza.
    #[error("peer returned error {condition}{}", fields_suffix(.fields))]
    PeerError {
        /// The defined condition (`not-acceptable`, …).
        condition: String,
        /// The fields the peer named.
        fields: Vec<String>,
    },
    /// The peer declined the session (XEP-0155 §4.3 reject) or cancelled it.
    #[error("peer declined the session{}", reason_suffix(.0))]
    PeerDeclined(Option<String>),
    /// The send counter reached the 2^32-block limit (XEP-0200 §11.4).
    #[error("2^32 blocks were sent under one key: the session must be renegotiated")]
    KeyExhausted,
    /// A stanza could not be parsed.
    #[error("XML: {0}")]
    Xml(#[from] XmlError),
    /// A form could not be parsed.
    #[error("data form: {0}")]
    Form(#[from] FormError),
    /// A cryptographic operation refused its input.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error("{0}")]
    Store(String),
    /// No session with that peer and thread.
    #[error("no session with {peer} on thread {thread}")]
    NoSuchSession {
        /// Peer JID.
        peer: String,
        /// Thread.
        thread: String,
    },
    /// The session is not in a state that allows this.
    #[error("session is {0}")]
    WrongState(&'static str),
    /// The negotiation was not answered in time.
    #[error("no answer within {0} seconds")]
    TimedOut(u64),

    /// Offline options (XEP-0187) that may not be used: unsigned, signed by no trusted key,
    /// malformed, or not for this sender.
    #[error("offline options refused: {0}")]
    OfflineOptions(String),

    /// Offline options or an offline init whose set expired at the given XEP-0082 time
    /// (profile P11).
    #[error("offline options expired at {0}")]
    OfflineExpired(String),

    /// An offline init whose `nonce` matches none of our published sets (profile P11).
    #[error("offline init for no published option set (field nonce)")]
    NoOfflineSet,

    /// An offline init already seen: its d or N_B was accepted before for that set, or its
    /// thread already has a session (profile P11).
    #[error("offline init replayed: {0}")]
    OfflineReplay(&'static str),

    // Gajim compatibility mode (issue 13).
    /// What the Gajim compatibility mode cannot do with this peer: the 3-message flow,
    /// public keys, re-keying, zlib, or a policy without what Gajim needs.
    #[error("Gajim compatibility mode refuses {0}")]
    CompatRefused(String),
}

fn fields_suffix(fields: &[String]) -> String {
    if fields.is_empty() {
        String::new()
    } else {
        format!(" on field(s) {}", fields.join(", "))
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// An error: a coarse kind plus the precise violation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {violation}", kind.name())]
pub struct Error {
    kind: ErrorKind,
    violation: Violation,
}

impl Error {
    /// An error of `kind` for `violation`.
    pub fn new(kind: ErrorKind, violation: Violation) -> Self {
        Error { kind, violation }
    }

    /// The coarse kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The precise violation.
    pub fn violation(&self) -> &Violation {
        &self.violation
    }

    pub(crate) fn usage(v: Violation) -> Self {
        Error::new(ErrorKind::Usage, v)
    }
}

impl From<StoreError> for Violation {
    fn from(e: StoreError) -> Self {
        Violation::Store(e.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::new(ErrorKind::Store, e.into())
    }
}
