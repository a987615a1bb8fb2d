//! The result of a completed ESession negotiation.
use super::context::Ctx;
use super::failure::Failure;
use super::terms::Terms;
use crate::channel::Channel;
use crate::crypto::{new_retained_secret, HashAlg};
use crate::event::SrsStatus;
use crate::jid;
use crate::store::{RetainedSecret, SecretId};

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

/// Replaces the shared retained secret `srs` (if any) by the new one, HMAC(K', "New
/// Retained Secret") (XEP-0116 §4.7.3, §4.8.1), stored for the peer's full JID and
/// inheriting `verified` (profile P7), in one atomic store operation. Returns the new
/// record's id and its verified flag.
pub(crate) fn retain_new_secret(
    ctx: &mut Ctx<'_>,
    hash: HashAlg,
    k_final: &[u8],
    srs: Option<&RetainedSecret>,
) -> Result<(SecretId, bool), Failure> {
    let id = SecretId {
        own: ctx.own_bare.to_owned(),
        peer_bare: jid::bare(ctx.peer).to_owned(),
        peer_full: ctx.peer.to_owned(),
    };
    let verified = srs.is_some_and(|s| s.verified);
    let new = RetainedSecret {
        id: id.clone(),
        secret: zeroize::Zeroizing::new(new_retained_secret(hash, k_final).expose().to_vec()),
        created: ctx.now,
        verified,
    };
    ctx.store
        .rotate(srs.map(|s| &s.id), new)
        .map_err(|e| Failure::silent(e.into()))?;
    Ok((id, verified))
}
