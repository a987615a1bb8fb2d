//! The result of a completed ESession negotiation.
use super::context::Ctx;
use super::terms::Terms;
use crate::channel::Channel;
use crate::config::PubkeyMode;
use crate::crypto::pubkey::PublicKey;
use crate::crypto::{new_retained_secret, HashAlg};
use crate::error::{Error, IdentityFault, PeerMisbehaved};
use crate::event::{PeerKeyInfo, SrsStatus};
use crate::store::{RetainedSecret, SecretId};
use crate::trust::{KeyAlert, Provenance};

/// A negotiation that completed: the channel and what to tell the person.
pub(crate) struct Established {
    pub channel: Channel,
    pub terms: Terms,
    /// The SAS (4-message flow only).
    pub sas: Option<String>,
    pub srs: SrsStatus,
    pub verified: bool,
    /// The record holding the new retained secret (4-message flow, for SAS confirmation).
    pub secret_id: Option<SecretId>,
    /// The peer's public key and what the trust store says of it (profile P8).
    pub peer_key: Option<PeerKeyInfo>,
    /// The peer presented no key, but presented keys before (XEP-0116 §7.4: alerted).
    pub key_missing: bool,
}

/// What [`peer_key_status`] found: the presented key, or the alert for a key missing.
pub(crate) struct PeerKey {
    pub info: Option<PeerKeyInfo>,
    pub missing: bool,
}

/// The P4 text of every key we know, for finding the peer's key by its fingerprint in
/// `hash` mode (XEP-0116 §4.6.2 step 3); empty for the other modes.
pub(crate) fn known_keys(ctx: &Ctx<'_>, mode: PubkeyMode) -> Result<Vec<String>, Error> {
    if mode != PubkeyMode::Hash {
        return Ok(Vec::new());
    }
    let keys = ctx.store.all_keys(ctx.own_bare)?;
    Ok(keys.into_iter().map(|k| k.key_value).collect())
}

/// The trust step of profile P8 for a verified peer key (XEP-0116 §7.3–7.4): assess the
/// key against what we know of the peer's JID, refuse it when the policy requires trust,
/// then remember that this JID presented it. Without a key: refused when the policy
/// requires a trusted key, and alerted when this JID presented keys before (found in
/// review: a man in the middle choosing no key passed `require_trusted_key` and raised no
/// alert).
pub(crate) fn peer_key_status(ctx: &mut Ctx<'_>, key: Option<PublicKey>) -> Result<PeerKey, Error> {
    let peer_bare = ctx.peer_bare.as_str();
    let Some(key) = key else {
        if ctx.config.require_trusted_key {
            // XEP-0116 §7.3: the policy requires a trusted key, and none was presented.
            return Err(PeerMisbehaved::PeerIdentity(IdentityFault::NoKey {
                peer: peer_bare.to_owned(),
            })
            .into());
        }
        let assessment = ctx.store.assess(ctx.own_bare, None, peer_bare)?;
        let missing = assessment
            .alerts
            .iter()
            .any(|a| matches!(a, KeyAlert::KeyMissing { .. }));
        return Ok(PeerKey {
            info: None,
            missing,
        });
    };
    let fp = key.fingerprint();
    let assessment = ctx
        .store
        .assess(ctx.own_bare, Some(*fp.as_bytes()), peer_bare)?;
    let refused = ctx.config.require_trusted_key && !assessment.trusted;
    // Remembered even when refused below, so that the person can inspect and trust it;
    // but not a refused key trusted already (for other JIDs): this JID's sighting would
    // make it trusted for this JID at the next attempt, without a session (found in
    // review: a server posing twice as Alice with Mallory's trusted key).
    let trusted_elsewhere = refused
        && ctx
            .store
            .known_key(ctx.own_bare, fp.as_bytes())?
            .is_some_and(|k| k.trusted);
    if !trusted_elsewhere {
        ctx.store.record_sighting(
            ctx.own_bare,
            fp.as_bytes(),
            &key.normalized(),
            peer_bare,
            ctx.now,
            Provenance::Session,
        )?;
    }
    // Decision "Published keys (XEP-0189)": a key its holder revoked (XEP-0189 §4) is
    // refused whatever the policy.
    if let Some(at) = ctx.store.revoked_at(ctx.own_bare, fp.as_bytes())? {
        return Err(PeerMisbehaved::PeerIdentity(IdentityFault::Revoked {
            fingerprint: fp.to_string(),
            at: at.to_datetime(),
        })
        .into());
    }
    if refused {
        // XEP-0116 §7.3: the policy requires a trusted key.
        return Err(PeerMisbehaved::PeerIdentity(IdentityFault::Untrusted {
            fingerprint: fp.to_string(),
            peer: peer_bare.to_owned(),
        })
        .into());
    }
    Ok(PeerKey {
        info: Some(PeerKeyInfo {
            fingerprint: fp.to_b64(),
            petname: assessment.petname,
            trusted: assessment.trusted,
            alerts: assessment.alerts.iter().map(|a| a.describe()).collect(),
        }),
        missing: false,
    })
}

/// The retained-secret outcome with `peer_bare` (profile P7): a mismatch when we held a
/// live secret for the peer and none matched; a match of a secret retained with another
/// bare JID (the extended search) is reported as such.
pub(crate) fn srs_status(
    srs: Option<&RetainedSecret>,
    had_candidates: bool,
    peer_bare: &str,
) -> SrsStatus {
    match (srs, had_candidates) {
        (Some(s), _) if s.id.peer_bare != peer_bare => SrsStatus::MatchedOtherJid,
        (Some(_), _) => SrsStatus::Matched,
        (None, true) => SrsStatus::Mismatch,
        (None, false) => SrsStatus::None,
    }
}

/// Replaces the shared retained secret `srs` (if any) by the new one, HMAC(K', "New
/// Retained Secret") (XEP-0116 §4.7.3, §4.8.1), stored for the peer's full JID and
/// inheriting `verified` (profile P7) when `srs` was retained with the same bare JID, in
/// one atomic store operation. Returns the new record's id and its verified flag.
pub(crate) fn retain_new_secret(
    ctx: &mut Ctx<'_>,
    hash: HashAlg,
    k_final: &[u8],
    srs: Option<&RetainedSecret>,
) -> Result<(SecretId, bool), Error> {
    let id = SecretId::new(ctx.own_bare, &ctx.peer_bare, ctx.peer);
    // A person confirmed a SAS with the JID the secret was retained with, not with this
    // one (issue 11: a secret found by the extended search proves no identity).
    let verified = srs.is_some_and(|s| s.verified && s.id.peer_bare == id.peer_bare);
    let new = RetainedSecret {
        id: id.clone(),
        secret: zeroize::Zeroizing::new(new_retained_secret(hash, k_final).expose().to_vec()),
        created: ctx.now,
        verified,
    };
    ctx.store.rotate(srs.map(|s| &s.id), new)?;
    Ok((id, verified))
}
