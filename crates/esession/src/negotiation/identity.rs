//! SIGMA identity protection without public keys (XEP-0116 §4.5.4, §4.6.3; XEP-0217
//! §4.4.3): mac = HMAC(KS, …), ID = CIPHER(KC, C, mac), M = HMAC(KM, C | ID).
use crate::crypto::{apply_ctr, ct_eq, hmac, identity_mac, CipherAlg, HashAlg, SessionKeys};
use crate::error::Violation;

/// Proof that a peer's identity MAC and encrypted identity verified. Only
/// [`open_identity`] mints it, and an established channel cannot be built without one.
#[derive(Debug)]
pub(crate) struct PeerVerified(());

/// The sealed identity: the values sent in the `identity` and `mac` fields.
pub(crate) struct SealedIdentity {
    pub id: Vec<u8>,
    pub m: Vec<u8>,
}

/// Key material for one identity.
pub(crate) struct IdentityKeys<'a> {
    pub hash: HashAlg,
    pub cipher: CipherAlg,
    pub ks: &'a [u8],
    pub kc: &'a [u8],
    pub km: &'a [u8],
}

impl<'a> IdentityKeys<'a> {
    /// The initiator's identity keys (KS_A, KC_A, KM_A) of `keys`.
    pub(crate) fn initiator(hash: HashAlg, cipher: CipherAlg, keys: &'a SessionKeys) -> Self {
        IdentityKeys {
            hash,
            cipher,
            ks: keys.ks_a.expose(),
            kc: keys.initiator.kc.expose(),
            km: keys.initiator.km.expose(),
        }
    }

    /// The responder's identity keys (KS_B, KC_B, KM_B) of `keys`.
    pub(crate) fn responder(hash: HashAlg, cipher: CipherAlg, keys: &'a SessionKeys) -> Self {
        IdentityKeys {
            hash,
            cipher,
            ks: keys.ks_b.expose(),
            kc: keys.responder.kc.expose(),
            km: keys.responder.km.expose(),
        }
    }
}

/// Seals our identity: mac = HMAC(KS, parts…), ID = CIPHER(KC, C, mac) (the counter
/// advances, profile P3), M = HMAC(KM, mpi(C before) | ID).
pub(crate) fn seal_identity(
    keys: &IdentityKeys<'_>,
    counter: &mut u128,
    mac_parts: &[&[u8]],
) -> Result<SealedIdentity, Violation> {
    let mac = hmac(keys.hash, keys.ks, mac_parts);
    let before = *counter;
    let mut id = mac.clone();
    apply_ctr(keys.cipher, keys.kc, counter, &mut id)?;
    let m = identity_mac(keys.hash, keys.km, before, &id);
    Ok(SealedIdentity { id, m })
}

/// Opens the peer's identity in the order XEP-0116 §4.6.2 gives: verify M (constant
/// time), decrypt ID (advancing the counter only on success), then compare the decrypted
/// mac with HMAC(KS, parts…).
pub(crate) fn open_identity(
    keys: &IdentityKeys<'_>,
    counter: &mut u128,
    id: &[u8],
    m: &[u8],
    mac_parts: &[&[u8]],
) -> Result<PeerVerified, Violation> {
    if !ct_eq(&identity_mac(keys.hash, keys.km, *counter, id), m) {
        return Err(Violation::IdentityMacMismatch);
    }
    let mut c = *counter;
    let mut plain = id.to_vec();
    apply_ctr(keys.cipher, keys.kc, &mut c, &mut plain)?;
    let expected = hmac(keys.hash, keys.ks, mac_parts);
    if !ct_eq(&plain, &expected) {
        return Err(Violation::IdentityMismatch);
    }
    *counter = c;
    Ok(PeerVerified(()))
}
