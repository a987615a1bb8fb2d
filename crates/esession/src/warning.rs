//! What the engine refused or ignored without ending a session: the `detail` of
//! [`Event::Warning`](crate::Event::Warning).
use crate::config::StanzaKind;

/// Something refused or ignored; no session ended because of it. The text
/// (`Display`) is for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// XEP-0116 §7.4: the peer presented no key, but presented keys before ("or no key at
    /// all"): possibly someone in the middle.
    #[error(
        "this address presented no key, but used a key before: possibly someone in the \
         middle; compare the SAS"
    )]
    PeerKeyMissing,
    /// Profile P9: clear content inside an ESession is never delivered.
    #[error("unencrypted content inside an encrypted session was ignored")]
    ClearInsideEncrypted,
    /// Profile P10: a negotiation form in clear inside an ESession is ignored.
    #[error("unencrypted negotiation form inside an encrypted session was ignored")]
    ClearNegotiationInsideEncrypted,
    /// An encrypted stanza without a thread that matches no single session (XEP-0201).
    #[error("encrypted {} matching no single session was ignored", .0.name())]
    UnroutedEncrypted(StanzaKind),
    /// An encrypted stanza on a thread with no open session (XEP-0200 §8).
    #[error("encrypted stanza for no open session could not be decrypted")]
    EncryptedForNoSession,
    /// An encrypted stanza while the session is still negotiating (XEP-0200 §8).
    #[error("encrypted stanza before the session was established was ignored")]
    EncryptedBeforeEstablished,
    /// A negotiation reply for a thread we know nothing of (XEP-0155 §4).
    #[error("negotiation message for an unknown thread was ignored")]
    NegotiationForUnknownThread,
    /// Profile P10b / XEP-0155 §4.2: a request delivered from offline storage is not
    /// answered.
    #[error("negotiation request delivered from offline storage was not answered")]
    StoredRequest,
    /// XEP-0155 §4.3: a request from a JID the accept policy does not allow was declined.
    #[error("declined a session request from a JID that is not allowed")]
    DeclinedNotAllowed,
    /// Requests refused by the flood limits (`Config::flood`); reported once per sender
    /// per window.
    #[error("{0}")]
    RequestsRefused(FloodRefusal),
    /// XEP-0155 §4.5: the peer declined our renegotiation; the session keeps its terms.
    #[error("the peer declined the renegotiation: the session keeps its terms")]
    PeerDeclinedRenegotiation,
    /// XEP-0155 §4.5: we declined the peer's renegotiation; the session keeps its terms.
    #[error("declined a renegotiation: the session keeps its terms")]
    DeclinedRenegotiation,
    /// Profile P10: a terminate acknowledgement we were not waiting for.
    #[error("unexpected terminate acknowledgement was ignored")]
    UnexpectedTerminateAck,
    /// Issue 13 D7: a Gajim-mode peer ended the session with a terminate in clear, which
    /// nobody authenticated.
    #[error(
        "the peer ended the session with a terminate in clear (Gajim compatibility: \
         unauthenticated, anyone could have sent it)"
    )]
    GajimClearTerminate,
    /// Profile P10: our terminate was not acknowledged before the negotiation timeout;
    /// the session ended anyway.
    #[error("terminate was not acknowledged in time")]
    TerminateUnacknowledged,
}

/// Which flood limit refused negotiation requests (`Config::flood`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FloodRefusal {
    /// The sender already has `pending_per_jid` negotiations in progress.
    #[error("negotiation requests refused: too many negotiations in progress with this address")]
    PerJid,
    /// `pending` negotiations are in progress across all senders.
    #[error("negotiation requests refused: too many negotiations in progress with everyone")]
    Global,
    /// The sender's request bucket is empty.
    #[error("negotiation requests refused: this address sends too many")]
    Rate,
    /// The budget for 3-message requests from JIDs without a trusted key is spent.
    #[error(
        "3-message negotiation requests refused: too many from addresses without a trusted key"
    )]
    UntrustedThreeMessage,
    /// Too many senders are being tracked to track another.
    #[error("negotiation requests refused: too many addresses are asking")]
    Senders,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_read_as_before() {
        let rows: [(Warning, &str); 5] = [
            (
                Warning::ClearInsideEncrypted,
                "unencrypted content inside an encrypted session was ignored",
            ),
            (
                Warning::UnroutedEncrypted(StanzaKind::Presence),
                "encrypted presence matching no single session was ignored",
            ),
            (
                Warning::RequestsRefused(FloodRefusal::UntrustedThreeMessage),
                "3-message negotiation requests refused: too many from addresses without a \
                 trusted key",
            ),
            (
                Warning::StoredRequest,
                "negotiation request delivered from offline storage was not answered",
            ),
            (
                Warning::TerminateUnacknowledged,
                "terminate was not acknowledged in time",
            ),
        ];
        for (warning, text) in rows {
            assert_eq!(warning.to_string(), text);
        }
    }
}
