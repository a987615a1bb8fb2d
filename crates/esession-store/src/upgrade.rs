//! Schema step 6, the work beyond its SQL (in its transaction): everything the store holds
//! from before the device key is sealed or vouched for under it, and the key's check value
//! recorded. Only this step vouches for old rows: clear retained secrets, trusted flags
//! without a seal, or passphrase-sealed rows written later are never accepted. Schema step
//! 9 makes the tags of the rows step 6 vouched for bind the whole row.
use crate::device_key::{DeviceKey, SEALED_SINCE};
use crate::error::failed;
use crate::rows::{legacy_vouch_ad, legacy_vouch_ad_1, seal_retained, trust_ad, Legacy};
use esession::store::{RetainedSecret, SecretId, StoreError};
use esession::time::Timestamp;
use rusqlite::{params, Connection};
use std::path::Path;
use zeroize::Zeroizing;

/// The work beyond the SQL of every schema step ([`crate::schema::AfterStep`]), as an
/// open runs it: step 6 ([`to_device_key`]) and step 9 ([`revouch_legacy`]). Tests build
/// old databases with it, as those versions wrote them.
pub(crate) fn after_step<'a>(
    device: &'a DeviceKey,
    path: &'a Path,
) -> impl Fn(&Connection, usize) -> Result<(), StoreError> + 'a {
    move |tx, reached| match reached {
        SEALED_SINCE => to_device_key(tx, device, path),
        WHOLE_ROW_VOUCH_SINCE => revouch_legacy(tx, device, path),
        _ => Ok(()),
    }
}

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

/// The format 1 rows of `table` (`kind_column` names each row's kind): account, kind, the
/// row, and its `legacy` tag.
type LegacyRow = (String, String, Legacy, Option<Vec<u8>>);

fn legacy_rows(
    conn: &Connection,
    path: &Path,
    op: &str,
    table: &str,
    kind_column: &str,
) -> Result<Vec<LegacyRow>, StoreError> {
    conn.prepare(&format!(
        "SELECT own, {kind_column}, salt, m_kib, t_cost, p_cost, nonce, sealed, legacy
         FROM {table} WHERE format = 1"
    ))
    .and_then(|mut s| {
        s.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, Legacy::from_row(r, 2)?, r.get(8)?))
        })?
        .collect::<Result<Vec<_>, _>>()
    })
    .map_err(|e| failed(op, path, e))
}

/// Sets the `legacy` tag of the format 1 row of `table` sealed under `nonce`.
fn set_legacy_tag(
    conn: &Connection,
    path: &Path,
    op: &str,
    (table, own, nonce): (&str, &str, &[u8]),
    tag: Vec<u8>,
) -> Result<(), StoreError> {
    conn.execute(
        &format!("UPDATE {table} SET legacy = ?3 WHERE own = ?1 AND nonce = ?2"),
        params![own, nonce, tag],
    )
    .map_err(|e| failed(op, path, e))?;
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
    for (own, kind, row, _) in legacy_rows(conn, path, op, table, kind_column)? {
        let tag = device.tag(path, op, &legacy_vouch_ad(table, &own, &kind, &row))?;
        set_legacy_tag(conn, path, op, (table, &own, &row.nonce), tag)?;
    }
    Ok(())
}

/// The schema step whose stores hold `legacy` tags of version 2 ([`legacy_vouch_ad`]).
pub(crate) const WHOLE_ROW_VOUCH_SINCE: usize = 9;

/// Schema step 9: each `legacy` tag of version 1 (the nonce alone) that is genuine is
/// replaced by one of version 2 (the whole row); a tag that is not genuine is left, and
/// its row refused by [`crate::SqliteStore::reseal_legacy`] as before.
pub(crate) fn revouch_legacy(
    conn: &Connection,
    device: &DeviceKey,
    path: &Path,
) -> Result<(), StoreError> {
    let op = "vouching for whole rows sealed with a passphrase";
    for (table, kind_column) in [("identity_key", "''"), ("offline_set", "kind")] {
        for (own, kind, row, tag) in legacy_rows(conn, path, op, table, kind_column)? {
            let v1 = legacy_vouch_ad_1(table, &own, &kind, &row.nonce);
            if tag.is_some_and(|t| device.verify_tag(&t, &v1)) {
                let tag = device.tag(path, op, &legacy_vouch_ad(table, &own, &kind, &row))?;
                set_legacy_tag(conn, path, op, (table, &own, &row.nonce), tag)?;
            }
        }
    }
    Ok(())
}
