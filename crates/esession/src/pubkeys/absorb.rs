//! Fetched keys and revocations into the trust store (XEP-0116 §7.3–7.4 via XEP-0189).
use super::Revocation;
use crate::crypto::pubkey::PublicKey;
use crate::store::{KeyStore, StoreError};
use crate::time::Timestamp;
use crate::trust::Provenance;

/// What the trust store says of one key fetched for a JID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedKey {
    /// The key's P8 fingerprint, B64.
    pub fingerprint: String,
    /// Trusted for that JID ([`crate::trust::assess`]): verified and seen from it before.
    pub trusted: bool,
    /// When its holder revoked it, if a revocation was recorded (then never trusted).
    pub revoked_at: Option<Timestamp>,
    /// The key's petname, if the user gave one.
    pub petname: Option<String>,
    /// The alerts of [`crate::trust::assess`], for people.
    pub alerts: Vec<String>,
}

/// Feeds what was fetched from `peer_bare`'s published nodes into `store` for our account
/// `own`: first every verified revocation ([`KeyStore::record_revocation`]; a revocation
/// proves possession of the key whoever published it), then every key as a sighting from
/// `peer_bare`, assessed before it is recorded (against the keys `peer_bare` presented in
/// sessions, XEP-0116 §7.4). The sighting is [`Provenance::Fetched`]: it lets the user
/// verify and trust the key for `peer_bare`, and hash-mode negotiations find it by
/// fingerprint, but it is not a key `peer_bare` "used before" (§7.4): whoever can write the
/// node can publish any key, and only a session proves that `peer_bare` holds it (found in
/// review: a key the server published passed as the contact's in a later negotiation).
///
/// A key other JIDs presented and `peer_bare` never did is reported (not trusted, with an
/// alert) but not recorded as `peer_bare`'s: whoever can write a node can publish any
/// public key, and a sighting would make a key trusted for another contact trusted for
/// `peer_bare` (found in review). Such a key becomes `peer_bare`'s when `peer_bare`
/// presents it in a session (decisions.md, "Trust and identity keys").
///
/// # Errors
/// The store's error.
pub fn absorb(
    store: &mut dyn KeyStore,
    own: &str,
    peer_bare: &str,
    keys: &[PublicKey],
    revocations: &[Revocation],
    now: Timestamp,
) -> Result<Vec<FetchedKey>, StoreError> {
    for r in revocations {
        store.record_revocation(own, r.fingerprint().as_bytes(), r.revoked_at())?;
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let fp = key.fingerprint();
        let assessment = store.assess(own, Some(*fp.as_bytes()), peer_bare)?;
        let mut alerts: Vec<String> = assessment.alerts.iter().map(|a| a.describe()).collect();
        let others = store
            .known_key(own, fp.as_bytes())?
            .filter(|k| !k.seen_from(peer_bare))
            .map(|k| k.jids.into_iter().map(|s| s.jid).collect::<Vec<_>>())
            .unwrap_or_default();
        if others.is_empty() {
            store.record_sighting(
                own,
                fp.as_bytes(),
                &key.normalized(),
                peer_bare,
                now,
                Provenance::Fetched,
            )?;
        } else {
            alerts.push(format!(
                "published for {peer_bare}, but it is the key of {}: not taken as \
                 {peer_bare}'s unless {peer_bare} presents it in a session",
                others.join(", ")
            ));
        }
        let revoked_at = store.revoked_at(own, fp.as_bytes())?;
        out.push(FetchedKey {
            fingerprint: fp.to_b64(),
            trusted: assessment.trusted && revoked_at.is_none(),
            revoked_at,
            petname: assessment.petname,
            alerts,
        });
    }
    Ok(out)
}
