//! The result of a completed ESession negotiation.
use super::terms::Terms;
use crate::channel::Channel;
use crate::event::SrsStatus;
use crate::store::SecretId;

/// A negotiation that completed: the channel and what to tell the person.
pub(crate) struct Established {
    pub channel: Channel,
    pub terms: Terms,
    pub sas: String,
    pub srs: SrsStatus,
    pub verified: bool,
    /// The record holding the new retained secret (for SAS confirmation).
    pub secret_id: SecretId,
}

/// The retained-secret outcome (profile P7): a mismatch when we held a live secret for
/// the peer and none matched.
pub(crate) fn srs_status(found: bool, had_candidates: bool) -> SrsStatus {
    match (found, had_candidates) {
        (true, _) => SrsStatus::Matched,
        (false, true) => SrsStatus::Mismatch,
        (false, false) => SrsStatus::None,
    }
}
