//! A negotiation failure: the violation, and the XEP-0155 error reply it calls for
//! (profile P10b).
use crate::error::Violation;

/// The defined conditions used in negotiation error replies (profile P10b).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    NotAcceptable,
    FeatureNotImplemented,
    ServiceUnavailable,
    /// A request refused by the flood limits (issue 11 §3, `Config::flood`).
    ResourceConstraint,
}

impl Condition {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Condition::NotAcceptable => "not-acceptable",
            Condition::FeatureNotImplemented => "feature-not-implemented",
            Condition::ServiceUnavailable => "service-unavailable",
            Condition::ResourceConstraint => "resource-constraint",
        }
    }
}

/// Why a negotiation step failed, and how to tell the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub violation: Violation,
    /// The error reply to send; `None` means stay silent.
    pub condition: Option<Condition>,
    pub fields: Vec<String>,
}

impl Failure {
    /// `feature-not-implemented` naming `field` (P10b: commitment, e range or identity
    /// checks of messages 3 and 4, XEP-0116 §4.6).
    pub(crate) fn not_implemented(field: &str, violation: Violation) -> Self {
        Failure {
            violation,
            condition: Some(Condition::FeatureNotImplemented),
            fields: vec![field.to_owned()],
        }
    }

    /// A form-level problem: `not-acceptable` naming the field the violation names.
    pub(crate) fn bad_form(violation: Violation) -> Self {
        let field = match &violation {
            Violation::MissingField(f)
            | Violation::MultipleValues(f)
            | Violation::BadBase64(f)
            | Violation::PublicValueOutOfRange(f) => f.clone(),
            Violation::BadValue { field, .. } | Violation::UnofferedOption { field, .. } => {
                field.clone()
            }
            Violation::NonceMismatch => "nonce".to_owned(),
            _ => String::new(),
        };
        Failure {
            violation,
            condition: Some(Condition::NotAcceptable),
            fields: if field.is_empty() {
                Vec::new()
            } else {
                vec![field]
            },
        }
    }
}

impl Failure {
    /// A failed identity check (XEP-0116 §4.6.2): `feature-not-implemented` naming `mac`
    /// when M failed, `identity` when the decrypted identity did.
    pub(crate) fn identity(v: Violation) -> Self {
        let field = if v == Violation::IdentityMacMismatch {
            "mac"
        } else {
            "identity"
        };
        Failure::not_implemented(field, v)
    }

    /// A failure that is not answered on the wire (a cancel, our own store failure).
    pub(crate) fn silent(violation: Violation) -> Self {
        Failure {
            violation,
            condition: None,
            fields: Vec::new(),
        }
    }
}

impl From<Violation> for Failure {
    fn from(v: Violation) -> Self {
        Failure::bad_form(v)
    }
}
