//! Our published offline option sets (XEP-0187 §3.1, profile P11 "Stored secrets" and
//! "Replay storage"), encrypted at rest.
//!
//! A row of `offline_set` seals [`OfflineSet::secret_bytes`] (N_A, every x_i, the offered
//! options) under the device key like identity keys (format 2, `rows.rs`), with associated
//! data binding the row to its account, its kind and its expiry, so that neither can be
//! changed or the row moved without the seal failing. Format 1 rows (sealed with a
//! passphrase before schema 6) wait for [`SqliteStore::reseal_legacy`]. The accepted d and
//! N_B (SHA-256 digests, not secret) live in `offline_accepted` and go with their set.
use crate::error::{blob, failed, refused, ts_from_sql, ts_to_sql};
use crate::rows::{legacy_pending, offline_ad};
use crate::sqlite::SqliteStore;
use esession::offline::{AcceptedInit, OfflineSet, OfflineSetKind};
use esession::store::{no_offline_set, OfflineStore, StoreError};
use rusqlite::{params, TransactionBehavior};

pub(crate) fn kind_from_sql(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<OfflineSetKind> {
    let name: String = row.get(idx)?;
    OfflineSetKind::from_name(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unknown offline set kind {name:?}").into(),
        )
    })
}

impl SqliteStore {
    fn accepted_of(
        &self,
        op: &str,
        own: &str,
        kind: OfflineSetKind,
    ) -> Result<Vec<AcceptedInit>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT d, n_b FROM offline_accepted WHERE own = ?1 AND kind = ?2 ORDER BY d",
            )
            .and_then(|mut s| {
                s.query_map([own, kind.name()], |r| {
                    Ok(AcceptedInit {
                        d: blob(r, 0)?,
                        n_b: blob(r, 1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| failed(op, &self.path, e))
    }

    /// Every stored set of `own`, opened, each with the AEAD nonce of its seal (unique per
    /// write, so it names the exact row).
    fn sealed_sets(&self, op: &str, own: &str) -> Result<Vec<(OfflineSet, [u8; 24])>, StoreError> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT kind, expires, format, nonce, sealed
                 FROM offline_set WHERE own = ?1 ORDER BY kind DESC",
            )
            .and_then(|mut s| {
                s.query_map([own], |r| {
                    Ok((
                        kind_from_sql(r, 0)?,
                        ts_from_sql(r, 1)?,
                        r.get::<_, i64>(2)?,
                        blob::<24>(r, 3)?,
                        r.get::<_, Vec<u8>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| failed(op, &self.path, e))?;
        let mut sets = Vec::with_capacity(rows.len());
        for (kind, expires, format, nonce, sealed) in rows {
            if format == 1 {
                return Err(refused(
                    op,
                    &self.path,
                    legacy_pending("offline option sets", own),
                ));
            }
            let bytes = self
                .device
                .open(&nonce, &sealed, &offline_ad(own, kind, expires))
                .ok_or_else(|| {
                    refused(
                        op,
                        &self.path,
                        format_args!(
                            "the {} option set of {own} was altered (its seal does not open \
                             under the device key); it was left untouched",
                            kind.name()
                        ),
                    )
                })?;
            let accepted = self.accepted_of(op, own, kind)?;
            let set = OfflineSet::from_secret_bytes(kind, expires, &bytes, accepted).ok_or_else(
                || {
                    refused(
                        op,
                        &self.path,
                        format_args!("the {} option set does not decode", kind.name()),
                    )
                },
            )?;
            sets.push((set, nonce));
        }
        Ok(sets)
    }
}

impl OfflineStore for SqliteStore {
    fn put_offline_set(&mut self, own: &str, set: &OfflineSet) -> Result<(), StoreError> {
        let op = "storing an offline option set";
        let expires = ts_to_sql(set.expires, "expiry", op, &self.path)?;
        let s = self.device.seal(
            &self.path,
            op,
            &offline_ad(own, set.kind, set.expires),
            &set.secret_bytes(),
        )?;
        let path = &self.path;
        // One transaction: the old set and its accepted inits go, the new set comes
        // (profile P11: republishing discards the replay records).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        tx.execute(
            "DELETE FROM offline_accepted WHERE own = ?1 AND kind = ?2",
            [own, set.kind.name()],
        )
        .and_then(|_| {
            tx.execute(
                "DELETE FROM offline_set WHERE own = ?1 AND kind = ?2",
                [own, set.kind.name()],
            )
        })
        .and_then(|_| {
            tx.execute(
                "INSERT INTO offline_set (own, kind, expires, format, nonce, sealed)
                 VALUES (?1, ?2, ?3, 2, ?4, ?5)",
                params![own, set.kind.name(), expires, &s.nonce[..], s.sealed],
            )
        })
        .map_err(|e| failed(op, path, e))?;
        for a in &set.accepted {
            tx.execute(
                "INSERT INTO offline_accepted (own, kind, d, n_b) VALUES (?1, ?2, ?3, ?4)",
                params![own, set.kind.name(), &a.d[..], &a.n_b[..]],
            )
            .map_err(|e| failed(op, path, e))?;
        }
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(())
    }

    fn offline_sets(&self, own: &str) -> Result<Vec<OfflineSet>, StoreError> {
        let op = "reading the offline option sets";
        self.sealed_sets(op, own)?
            .into_iter()
            .map(|(set, _)| Ok(set))
            .collect()
    }

    fn remove_offline_set(&mut self, own: &str, kind: OfflineSetKind) -> Result<bool, StoreError> {
        let op = "removing an offline option set";
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let n = tx
            .execute(
                "DELETE FROM offline_accepted WHERE own = ?1 AND kind = ?2",
                [own, kind.name()],
            )
            .and_then(|_| {
                tx.execute(
                    "DELETE FROM offline_set WHERE own = ?1 AND kind = ?2",
                    [own, kind.name()],
                )
            })
            .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(n > 0)
    }

    fn accept_offline_init(
        &mut self,
        own: &str,
        kind: OfflineSetKind,
        nonce: &[u8],
        init: &AcceptedInit,
    ) -> Result<bool, StoreError> {
        let op = "recording an offline init";
        // The set's N_A is sealed: open it to be sure the record goes to the set that was
        // used, and check inside the transaction that this very row is still there (not
        // withdrawn or republished meanwhile).
        let (_, row_nonce) = self
            .sealed_sets(op, own)?
            .into_iter()
            .find(|(s, _)| s.kind == kind && s.has_nonce(nonce))
            .ok_or_else(|| no_offline_set(own, kind))?;
        let path = &self.path;
        // Check and insert in one IMMEDIATE transaction (profile P11: atomically).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let same_row: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM offline_set
                 WHERE own = ?1 AND kind = ?2 AND nonce = ?3)",
                params![own, kind.name(), &row_nonce[..]],
                |r| r.get(0),
            )
            .map_err(|e| failed(op, path, e))?;
        if !same_row {
            return Err(no_offline_set(own, kind));
        }
        let seen: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM offline_accepted
                 WHERE own = ?1 AND kind = ?2 AND (d = ?3 OR n_b = ?4))",
                params![own, kind.name(), &init.d[..], &init.n_b[..]],
                |r| r.get(0),
            )
            .map_err(|e| failed(op, path, e))?;
        if seen {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO offline_accepted (own, kind, d, n_b) VALUES (?1, ?2, ?3, ?4)",
            params![own, kind.name(), &init.d[..], &init.n_b[..]],
        )
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        Ok(true)
    }
}
