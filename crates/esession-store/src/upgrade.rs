//! Schema step 6, the work beyond its SQL (in its transaction): everything the store holds
//! from before the device key is sealed or vouched for under it, and the key's check value
//! recorded. Only this step vouches for old rows: clear retained secrets, trusted flags
//! without a seal, or passphrase-sealed rows written later are never accepted.
use crate::device_key::DeviceKey;
use crate::error::failed;
use crate::rows::{legacy_vouch_ad, seal_retained, trust_ad};
use esession::store::{RetainedSecret, SecretId, StoreError};
use esession::time::Timestamp;
use rusqlite::{params, Connection};
use std::path::Path;
use zeroize::Zeroizing;

/// Runs the step's work on `tx` (the migration's transaction).
pub(crate) fn to_device_key(
    tx: &Connection,
    device: &DeviceKey,
    path: &Path,
) -> Result<(), StoreError> {
    seal_clear_secrets(tx, device, path)?;
    seal_clear_trust(tx, device, path)?;
    vouch_for_legacy(tx, device, path, "identity_key", "''")?;
    vouch_for_legacy(tx, device, path, "offline_set", "kind")?;
    device.write_check(tx, path)
}

/// Seals every clear (format 0) retained secret.
fn seal_clear_secrets(
    conn: &Connection,
    device: &DeviceKey,
    path: &Path,
) -> Result<(), StoreError> {
    let op = "sealing retained secrets under the device key";
    let clear: Vec<(RetainedSecret, i64)> = conn
        .prepare(
            "SELECT own, peer_bare, peer_full, created, verified, sealed
             FROM retained_secret WHERE format = 0",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                let created: i64 = r.get(3)?;
                Ok((
                    RetainedSecret {
                        id: SecretId {
                            own: r.get(0)?,
                            peer_bare: r.get(1)?,
                            peer_full: r.get(2)?,
                        },
                        created: Timestamp(u64::try_from(created).unwrap_or_default()),
                        verified: r.get(4)?,
                        secret: Zeroizing::new(r.get_ref(5)?.as_blob()?.to_vec()),
                    },
                    created,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| failed(op, path, e))?;
    for (r, created) in &clear {
        let s = seal_retained(device, path, op, r)?;
        conn.execute(
            "UPDATE retained_secret SET format = 1, verified = NULL, nonce = ?5, sealed = ?6
             WHERE own = ?1 AND peer_bare = ?2 AND peer_full = ?3 AND created = ?4
               AND format = 0",
            params![
                r.id.own,
                r.id.peer_bare,
                r.id.peer_full,
                created,
                &s.nonce[..],
                s.sealed
            ],
        )
        .map_err(|e| failed(op, path, e))?;
    }
    Ok(())
}

/// Seals the trusted flags found.
fn seal_clear_trust(conn: &Connection, device: &DeviceKey, path: &Path) -> Result<(), StoreError> {
    let op = "sealing trusted flags under the device key";
    let trusted: Vec<(String, Vec<u8>)> = conn
        .prepare("SELECT own, fingerprint FROM known_key WHERE trusted = 1")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| failed(op, path, e))?;
    for (own, fp) in trusted {
        let seal = device.tag(path, op, &trust_ad(&own, &fp))?;
        conn.execute(
            "UPDATE known_key SET trust_seal = ?3 WHERE own = ?1 AND fingerprint = ?2",
            params![own, fp, seal],
        )
        .map_err(|e| failed(op, path, e))?;
    }
    Ok(())
}

/// Gives each passphrase-sealed (format 1) row of `table` its `legacy` tag.
fn vouch_for_legacy(
    conn: &Connection,
    device: &DeviceKey,
    path: &Path,
    table: &str,
    kind_column: &str,
) -> Result<(), StoreError> {
    let op = "vouching for rows sealed with a passphrase";
    let rows: Vec<(String, String, Vec<u8>)> = conn
        .prepare(&format!(
            "SELECT own, {kind_column}, nonce FROM {table} WHERE format = 1"
        ))
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| failed(op, path, e))?;
    for (own, kind, nonce) in rows {
        let tag = device.tag(path, op, &legacy_vouch_ad(table, &own, &kind, &nonce))?;
        conn.execute(
            &format!("UPDATE {table} SET legacy = ?3 WHERE own = ?1 AND nonce = ?2"),
            params![own, nonce, tag],
        )
        .map_err(|e| failed(op, path, e))?;
    }
    Ok(())
}
