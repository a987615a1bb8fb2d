//! Stores in the forms of older versions, for the upgrade tests of other crates (feature
//! `test-util`; not part of the stable API).
use crate::aead::KdfParams;
use crate::error::failed;
use crate::rows::{legacy_identity_ad, Legacy};
use esession::store::StoreError;
use rusqlite::{params, Connection};
use std::path::Path;

/// Writes at `path` a store of schema 5 (before the device key) holding `der` as the
/// identity key of `own`, sealed with `passphrase` as those versions did (cheap Argon2id
/// costs: the tests check the upgrade, not Argon2).
///
/// # Errors
/// A [`StoreError`] if the file cannot be written.
pub fn schema5_store_with_identity_key(
    path: &Path,
    own: &str,
    passphrase: &str,
    der: &[u8],
) -> Result<(), StoreError> {
    let op = "writing a schema 5 store";
    let mut conn = Connection::open(path).map_err(|e| failed(op, path, e))?;
    crate::schema::migrate_to(&mut conn, path, 5, &|_, _| Ok(()))?;
    let kdf = KdfParams {
        m_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let row = Legacy::seal(passphrase, kdf, &legacy_identity_ad(own), der);
    conn.execute(
        "INSERT INTO identity_key (own, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
         VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            own,
            &row.salt[..],
            kdf.m_kib,
            kdf.t_cost,
            kdf.p_cost,
            &row.nonce[..],
            row.sealed
        ],
    )
    .map_err(|e| failed(op, path, e))?;
    Ok(())
}
