//! A session that did not come about: the peer declined it, answered with an error, or
//! we refused its request or its offline options.
use super::compat::CompatRefusal;
use super::peer::{Condition, PeerMisbehaved};
use crate::forms::FormError;

/// Why a session was refused, by the peer or by us.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The peer declined the session (XEP-0155 §4.3 reject), with its reason if it gave
    /// one.
    #[error("peer declined the session{}", reason_suffix(.0))]
    PeerDeclined(Option<String>),
    /// The peer cancelled the negotiation (XEP-0155 §4.4 \[5\]: `accept` 0).
    #[error("peer declined the session: cancelled")]
    Cancelled,
    /// The peer answered with an error stanza (XEP-0155 §4.3, profile P10b).
    #[error("peer returned error {condition}{}", fields_suffix(.fields))]
    PeerError {
        /// The defined condition (`not-acceptable`, …).
        condition: String,
        /// The fields the peer named.
        fields: Vec<String>,
    },
    /// We refused the peer's session request (XEP-0155 §4.3, profile P10b).
    #[error("{0}")]
    Request(RequestRefused),
    /// We refused offline options or an offline init (XEP-0187 §3.2, profile P11: never
    /// answered).
    #[error("{0}")]
    Offline(PeerMisbehaved),
    /// We refused an offline init from a JID our accept policy does not allow
    /// (`Config::accept`, XEP-0155 §4.3 applied to XEP-0187; profile P11: never answered).
    #[error("offline init from a JID that may not open sessions with us")]
    NotAllowed,
}

/// Why we refused a session request (XEP-0155 §4.3); [`RequestRefused::condition`] and
/// [`RequestRefused::fields`] give the error reply (profile P10b).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestRefused {
    /// Not an `urn:xmpp:ssn` form: `service-unavailable`.
    #[error("not an urn:xmpp:ssn negotiation form")]
    Unsupported,
    /// A flow or feature we lack, or a bad public value: `feature-not-implemented`
    /// naming the fields.
    #[error("3-message negotiation (dhkeys in the request) is not supported")]
    Unimplemented(Vec<String>),
    /// No acceptable option or a bad value: `not-acceptable` naming the fields
    /// (XEP-0116 §4.4).
    #[error("no acceptable option for field(s) {}", .0.join(", "))]
    Unacceptable(Vec<String>),
    /// The form does not parse: `not-acceptable`.
    #[error("data form: {0}")]
    Form(#[from] FormError),
    /// The Gajim compatibility mode refuses the request (issue 13), naming the fields at
    /// fault.
    #[error("{0}")]
    Compat(CompatRefusal, Vec<String>),
}

impl RequestRefused {
    /// The condition of the error reply (profile P10b).
    pub fn condition(&self) -> Condition {
        match self {
            RequestRefused::Unsupported => Condition::ServiceUnavailable,
            RequestRefused::Unimplemented(_) => Condition::FeatureNotImplemented,
            RequestRefused::Unacceptable(_) | RequestRefused::Form(_) => Condition::NotAcceptable,
            RequestRefused::Compat(refusal, _) => refusal.condition(),
        }
    }

    /// The fields the error reply names.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            RequestRefused::Unimplemented(f)
            | RequestRefused::Unacceptable(f)
            | RequestRefused::Compat(_, f) => f.iter().map(String::as_str).collect(),
            RequestRefused::Unsupported | RequestRefused::Form(_) => Vec::new(),
        }
    }

    /// The same refusal met as a negotiation rule the peer broke (Bob applying
    /// offline options as an online responder would, profile P11).
    pub(crate) fn misbehaviour(&self) -> PeerMisbehaved {
        match self {
            RequestRefused::Unsupported => PeerMisbehaved::NotSsnForm,
            RequestRefused::Unimplemented(_) => PeerMisbehaved::UnsupportedFlow,
            RequestRefused::Unacceptable(f) => PeerMisbehaved::NoAcceptableOption(f.clone()),
            RequestRefused::Form(e) => PeerMisbehaved::Form(e.clone()),
            RequestRefused::Compat(..) => PeerMisbehaved::UnsupportedFlow,
        }
    }
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
