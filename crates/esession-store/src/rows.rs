//! The sealed row formats of the store, in one place: what each seal covers and binds
//! (associated data), for the device key (`device_key.rs`) and for the passphrase seals of
//! older versions, which are only ever opened, to be resealed (format 1 of `identity_key`
//! and `offline_set`).
//!
//! Every associated data starts with a label naming the purpose and format, then the parts
//! that bind the row to its place (JIDs contain no NUL, the separator): a seal moved to
//! another row, account or purpose does not open.
use crate::aead::{self, costs_acceptable, KdfParams, MAX_KDF, NONCE_LEN};
use crate::device_key::{ad, DeviceKey, DeviceSeal};
use crate::error::{blob, cost, refused};
use esession::offline::OfflineSetKind;
use esession::store::{RetainedSecret, SecretId, StoreError};
use esession::time::Timestamp;
use std::path::Path;
use zeroize::Zeroizing;

/// Octets before the secret in the sealed payload of a retained secret.
const HEAD: usize = 9;

/// Salt length of the passphrase seals.
const SALT_LEN: usize = 16;

/// The associated data of the seal of record `id`.
pub(crate) fn retained_ad(id: &SecretId) -> Vec<u8> {
    ad(
        "esession retained secret 1",
        &[
            id.own.as_bytes(),
            id.peer_bare.as_bytes(),
            id.peer_full.as_bytes(),
        ],
    )
}

/// A row as read from the table, not yet opened.
pub(crate) struct Row {
    pub id: SecretId,
    pub created: i64,
    pub nonce: [u8; NONCE_LEN],
    pub sealed: Vec<u8>,
}

/// Seals retained secret `r` (format 1 of `retained_secret`): `[verified, created
/// (8 octets, big-endian), secret]`.
pub(crate) fn seal_retained(
    device: &DeviceKey,
    path: &Path,
    op: &str,
    r: &RetainedSecret,
) -> Result<DeviceSeal, StoreError> {
    let mut payload = Zeroizing::new(Vec::with_capacity(HEAD + r.secret.len()));
    payload.push(u8::from(r.verified));
    payload.extend_from_slice(&r.created.0.to_be_bytes());
    payload.extend_from_slice(&r.secret);
    device.seal(path, op, &retained_ad(&r.id), &payload)
}

/// Opens a row; `None` (with a warning) when it was altered.
pub(crate) fn open_retained(device: &DeviceKey, path: &Path, row: Row) -> Option<RetainedSecret> {
    let opened = device
        .open(&row.nonce, &row.sealed, &retained_ad(&row.id))
        .and_then(|p| {
            let verified = match p.first()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            let created = u64::from_be_bytes(p.get(1..HEAD)?.try_into().ok()?);
            (i64::try_from(created).ok()? == row.created).then(|| RetainedSecret {
                id: row.id.clone(),
                secret: Zeroizing::new(p.get(HEAD..).unwrap_or_default().to_vec()),
                created: Timestamp(created),
                verified,
            })
        });
    if opened.is_none() {
        tracing::warn!(
            store = %path.display(),
            own = %row.id.own,
            peer = %row.id.peer_full,
            "a retained secret was altered in the store (its seal does not open): ignored"
        );
    }
    opened
}

/// The trust seal of key `fp` of `own`: it exists only while the key is trusted, so it
/// vouches for `trusted = 1` of that row alone.
pub(crate) fn trust_ad(own: &str, fp: &[u8]) -> Vec<u8> {
    ad("esession trusted key 1", &[own.as_bytes(), fp])
}

/// Format 2 of `identity_key`: the PKCS#8 DER under the device key.
pub(crate) fn identity_ad(own: &str) -> Vec<u8> {
    ad("esession identity key 2", &[own.as_bytes()])
}

/// Format 2 of `offline_set`: [`esession::OfflineSet::secret_bytes`] under the device key,
/// bound to the account, the kind and the expiry.
pub(crate) fn offline_ad(own: &str, kind: OfflineSetKind, expires: Timestamp) -> Vec<u8> {
    ad(
        "esession offline set 2",
        &[
            own.as_bytes(),
            kind.name().as_bytes(),
            &expires.0.to_be_bytes(),
        ],
    )
}

/// Format 1 of `identity_key` (before schema 6): bound to the own bare JID alone.
pub(crate) fn legacy_identity_ad(own: &str) -> Vec<u8> {
    own.as_bytes().to_vec()
}

/// Format 1 of `offline_set` (before schema 6).
pub(crate) fn legacy_offline_ad(own: &str, kind: OfflineSetKind, expires: Timestamp) -> Vec<u8> {
    format!(
        "esession offline set 1\0{own}\0{}\0{}",
        kind.name(),
        expires.0
    )
    .into_bytes()
}

/// What the `legacy` tag of a format 1 row vouches for: that schema step 6 found the row
/// in the store, all of it: its table, account and kind, and its whole seal (salt, costs,
/// nonce and ciphertext; the salt and nonce have fixed lengths and the ciphertext comes
/// last, so no two rows share these parts). Version 2, given by schema step 9
/// ([`crate::upgrade::revouch_legacy`]): version 1 bound the nonce alone, so a row sealed
/// again under the same nonce by someone who knows the passphrase (the account password,
/// the default passphrase then) passed (found in review).
pub(crate) fn legacy_vouch_ad(table: &str, own: &str, kind: &str, row: &Legacy) -> Vec<u8> {
    let k = row.kdf;
    let costs = format!("{} {} {}", k.m_kib, k.t_cost, k.p_cost);
    ad(
        "esession legacy row 2",
        &[
            table.as_bytes(),
            own.as_bytes(),
            kind.as_bytes(),
            costs.as_bytes(),
            &row.salt,
            &row.nonce,
            &row.sealed,
        ],
    )
}

/// Version 1 of [`legacy_vouch_ad`] (schema steps 6 to 8: the nonce alone), read only by
/// schema step 9.
pub(crate) fn legacy_vouch_ad_1(table: &str, own: &str, kind: &str, nonce: &[u8]) -> Vec<u8> {
    ad(
        "esession legacy row 1",
        &[table.as_bytes(), own.as_bytes(), kind.as_bytes(), nonce],
    )
}

/// A row sealed with a passphrase (format 1): Argon2id (v0x13) of the passphrase over the
/// row's salt with the row's costs gives the key of its XChaCha20-Poly1305 seal.
pub(crate) struct Legacy {
    pub salt: [u8; SALT_LEN],
    pub kdf: KdfParams,
    pub nonce: [u8; NONCE_LEN],
    pub sealed: Vec<u8>,
}

impl Legacy {
    /// Reads the six columns salt, m_kib, t_cost, p_cost, nonce, sealed, starting at
    /// column `first`.
    pub(crate) fn from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Legacy {
            salt: blob(r, first)?,
            kdf: KdfParams {
                m_kib: cost(r, first + 1)?,
                t_cost: cost(r, first + 2)?,
                p_cost: cost(r, first + 3)?,
            },
            nonce: blob(r, first + 4)?,
            sealed: r.get(first + 5)?,
        })
    }

    /// Opens the row of `what` (`identity key`, `offline option set`) of `own` with
    /// `passphrase`; a wrong passphrase and an altered row both fail the tag.
    pub(crate) fn open(
        &self,
        path: &Path,
        op: &str,
        (what, own): (&str, &str),
        aad: &[u8],
        passphrase: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let k = self.kdf;
        if !costs_acceptable(k) {
            return Err(refused(
                op,
                path,
                format_args!(
                    "the {what} of {own} asks for Argon2id costs {k:?}, above the accepted \
                     {MAX_KDF:?} (a damaged or altered row)"
                ),
            ));
        }
        let kek = aead::derive_key(passphrase.as_bytes(), &self.salt, k)
            .map_err(|e| refused(op, path, e))?;
        aead::open(&kek, &self.nonce, &self.sealed, aad).ok_or_else(|| {
            refused(
                op,
                path,
                format_args!(
                    "{LEGACY_WRONG} (the {what} of {own}, sealed by an older esession); \
                     it was left untouched"
                ),
            )
        })
    }

    /// Seals `msg` the way versions before schema 6 did (tests of the upgrade only).
    #[cfg(any(test, feature = "test-util"))]
    #[allow(clippy::expect_used)]
    pub(crate) fn seal(passphrase: &str, kdf: KdfParams, aad: &[u8], msg: &[u8]) -> Self {
        use esession::random::{OsRandom, Random};
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRandom.fill(&mut salt);
        OsRandom.fill(&mut nonce);
        let kek = aead::derive_key(passphrase.as_bytes(), &salt, kdf).expect("Argon2id");
        let sealed = aead::seal(&kek, &nonce, msg, aad).expect("sealing");
        Legacy {
            salt,
            kdf,
            nonce,
            sealed,
        }
    }
}

/// The error text for a format 1 row read before [`crate::SqliteStore::reseal_legacy`].
pub(crate) fn legacy_pending(what: &str, own: &str) -> String {
    format!(
        "the {what} of {own} is still sealed with a passphrase by an older esession; unlock \
         it once with that passphrase (SqliteStore::reseal_legacy) to move it under the \
         device key"
    )
}

/// The error text of a passphrase that does not open a format 1 row.
pub(crate) const LEGACY_WRONG: &str = "the passphrase is wrong, or the stored row was altered";
