//! The AEAD and passphrase crypto shared by the device-key seals (`device_key.rs`), the
//! passphrase seals of older versions (`rows.rs`, opened to be resealed) and the archive key
//! (`archive_key.rs`): Argon2id (v0x13) derives a 32-octet key from a passphrase and a
//! salt, XChaCha20-Poly1305 seals and opens under it with associated data.
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Argon2id costs of the key-encryption key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// The costs of new archive-key records: the OWASP minimum for Argon2id (19 MiB, 2 passes,
/// 1 lane); also what identity keys were sealed with before schema 6. Records keep their own
/// costs, so raising this later still opens old ones.
pub const IDENTITY_KDF: KdfParams = KdfParams {
    m_kib: 19 * 1024,
    t_cost: 2,
    p_cost: 1,
};

/// XChaCha20-Poly1305 nonce length.
pub(crate) const NONCE_LEN: usize = 24;

/// Largest costs accepted from stored data: it is not trusted to make us allocate or spin
/// without bound (1 GiB, 64 passes, 16 lanes).
pub(crate) const MAX_KDF: KdfParams = KdfParams {
    m_kib: 1 << 20,
    t_cost: 64,
    p_cost: 16,
};

/// Whether stored costs are within [`MAX_KDF`].
pub(crate) fn costs_acceptable(k: KdfParams) -> bool {
    k.m_kib <= MAX_KDF.m_kib && k.t_cost <= MAX_KDF.t_cost && k.p_cost <= MAX_KDF.p_cost
}

/// Argon2id(passphrase, salt) with costs `kdf`: a 32-octet key. The error text says why.
pub(crate) fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = Params::new(kdf.m_kib, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|e| format!("Argon2id costs {kdf:?} refused: {e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, &mut key[..])
        .map_err(|e| format!("Argon2id failed: {e}"))?;
    Ok(key)
}

/// XChaCha20-Poly1305 sealing of `msg` with `aad`.
pub(crate) fn seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    msg: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let cipher =
        XChaCha20Poly1305::new_from_slice(&key[..]).map_err(|e| format!("cipher key: {e}"))?;
    cipher
        .encrypt(&XNonce::from(*nonce), Payload { msg, aad })
        .map_err(|e| format!("sealing failed: {e}"))
}

/// Opens what [`seal`] made; `None` when the tag does not verify (wrong key, other
/// associated data, or altered data).
pub(crate) fn open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = XChaCha20Poly1305::new_from_slice(&key[..]).ok()?;
    cipher
        .decrypt(&XNonce::from(*nonce), Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}
