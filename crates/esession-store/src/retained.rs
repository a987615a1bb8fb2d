//! [`SecretStore`] for [`SqliteStore`]: retained secrets (profile P7) sealed under the
//! device key.
//!
//! Format 1 of a row of `retained_secret`: XChaCha20-Poly1305 under the device key over
//! `[verified (1 octet), created (8 octets, big-endian), secret]`, with associated data
//! binding the own, peer bare and peer full JIDs. The `created` column is a clear copy for
//! [`SqliteStore::purge_expired`]; the sealed one is authoritative and must match it. A row
//! whose seal does not open, or whose copies disagree, was altered: it is ignored (treated as
//! absent, so it can never report a match, let alone a verified one) and a warning logged.
//! Format 0 rows are the clear rows of schema 5 and earlier: the upgrade to schema 6 seals
//! them (`upgrade.rs`); one found later was written by hand and is never read.
use crate::error::{blob, failed, ts_to_sql};
use crate::rows::{open_retained, seal_retained, Row};
use crate::sqlite::SqliteStore;
use esession::store::{RetainedSecret, SecretId, SecretStore, StoreError};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;

/// The format this build writes.
const FORMAT: i64 = 1;

impl SqliteStore {
    fn query_secrets(
        &self,
        op: &str,
        sql_where: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RetainedSecret>, StoreError> {
        let sql = format!(
            "SELECT own, peer_bare, peer_full, created, nonce, sealed FROM retained_secret
             WHERE format = {FORMAT} AND {sql_where} ORDER BY own, peer_bare, peer_full"
        );
        let rows = read_rows(&self.conn, &self.path, op, &sql, params)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| open_retained(&self.device, &self.path, r))
            .collect())
    }
}

fn read_rows(
    conn: &Connection,
    path: &Path,
    op: &str,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Row>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, |r| {
                Ok(Row {
                    id: SecretId {
                        own: r.get(0)?,
                        peer_bare: r.get(1)?,
                        peer_full: r.get(2)?,
                    },
                    created: r.get(3)?,
                    nonce: blob(r, 4)?,
                    sealed: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| failed(op, path, e))
}

fn id_params(id: &SecretId) -> [&dyn rusqlite::ToSql; 3] {
    [&id.own, &id.peer_bare, &id.peer_full]
}

impl SecretStore for SqliteStore {
    fn secrets_with(&self, own: &str, peer_bare: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        self.query_secrets(
            "reading retained secrets with a peer",
            "own = ?1 AND peer_bare = ?2",
            &[&own, &peer_bare],
        )
    }

    fn all_secrets(&self, own: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        self.query_secrets("reading all retained secrets", "own = ?1", &[&own])
    }

    fn rotate(&mut self, used: Option<&SecretId>, new: RetainedSecret) -> Result<(), StoreError> {
        let op = "rotating a retained secret";
        let created = ts_to_sql(new.created, "creation time", op, &self.path)?;
        let s = seal_retained(&self.device, &self.path, op, &new)?;
        let path = &self.path;
        // One transaction: after a crash either the old state or the new one is found
        // (SecretStore::rotate contract, profile P7). IMMEDIATE takes the write lock up front.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        if let Some(id) = used {
            tx.prepare_cached(
                "DELETE FROM retained_secret WHERE own = ?1 AND peer_bare = ?2 AND peer_full = ?3",
            )
            .and_then(|mut s| s.execute(&id_params(id)[..]))
            .map_err(|e| failed(op, path, e))?;
        }
        tx.prepare_cached(
            "INSERT INTO retained_secret (own, peer_bare, peer_full, created, format, nonce, sealed)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
             ON CONFLICT (own, peer_bare, peer_full) DO UPDATE SET
                 created = excluded.created, format = 1, verified = NULL,
                 nonce = excluded.nonce, sealed = excluded.sealed",
        )
        .and_then(|mut st| {
            st.execute(params![
                new.id.own,
                new.id.peer_bare,
                new.id.peer_full,
                created,
                &s.nonce[..],
                s.sealed
            ])
        })
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(())
    }

    fn mark_verified(&mut self, id: &SecretId) -> Result<bool, StoreError> {
        let op = "marking a retained secret verified";
        let path = &self.path;
        // Read, reseal with the flag set and write back in one transaction (profile P7).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let row = read_rows(
            &tx,
            path,
            op,
            "SELECT own, peer_bare, peer_full, created, nonce, sealed FROM retained_secret
             WHERE format = 1 AND own = ?1 AND peer_bare = ?2 AND peer_full = ?3",
            &id_params(id),
        )?
        .pop();
        let Some(mut r) = row.and_then(|row| open_retained(&self.device, path, row)) else {
            return Ok(false);
        };
        r.verified = true;
        let s = seal_retained(&self.device, path, op, &r)?;
        tx.execute(
            "UPDATE retained_secret SET nonce = ?4, sealed = ?5
             WHERE own = ?1 AND peer_bare = ?2 AND peer_full = ?3",
            params![id.own, id.peer_bare, id.peer_full, &s.nonce[..], s.sealed],
        )
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(true)
    }

    fn forget(&mut self, own: &str, peer_bare: &str) -> Result<usize, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM retained_secret WHERE own = ?1 AND peer_bare = ?2",
                [own, peer_bare],
            )
            .map_err(|e| failed("forgetting retained secrets", &self.path, e))?;
        self.scrub_destroyed();
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::DEFAULT_MAX_AGE_SECS;
    use esession::store::MemoryStore;
    use esession::time::Timestamp;
    use zeroize::Zeroizing;

    use crate::test_files::on_disk;
    use esession::store::conformance::{self, retained as rs};

    fn fresh() -> SqliteStore {
        SqliteStore::open_in_memory().unwrap()
    }

    #[test]
    fn passes_the_conformance_suite() {
        conformance::all(fresh);
        let dir = tempfile::tempdir().unwrap();
        conformance::retained_secrets(&mut SqliteStore::open(&dir.path().join("s.db")).unwrap());
    }

    /// A random sequence of operations gives the same answers from both stores.
    #[test]
    fn differential_against_memory_store() {
        let mut m = MemoryStore::new();
        let mut q = SqliteStore::open_in_memory().unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let owns = ["a@x", "c@x"];
        let peers = ["b@y", "d@y", "e@z"];
        for step in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let own = owns[(x % 2) as usize];
            let peer = peers[((x >> 8) % 3) as usize];
            let id = SecretId {
                own: own.into(),
                peer_bare: peer.into(),
                peer_full: format!("{peer}/{}", (x >> 16) % 3),
            };
            match (x >> 24) % 10 {
                0..=5 => {
                    let used = (x >> 32).is_multiple_of(2).then(|| SecretId {
                        peer_full: format!("{peer}/{}", (x >> 40) % 3),
                        ..id.clone()
                    });
                    let new = RetainedSecret {
                        id,
                        secret: Zeroizing::new(step.to_le_bytes().repeat(8)),
                        created: Timestamp(u64::from(step)),
                        verified: (x >> 48).is_multiple_of(3),
                    };
                    m.rotate(used.as_ref(), new.clone()).unwrap();
                    q.rotate(used.as_ref(), new).unwrap();
                }
                6 | 7 => assert_eq!(m.mark_verified(&id).unwrap(), q.mark_verified(&id).unwrap()),
                _ => assert_eq!(m.forget(own, peer).unwrap(), q.forget(own, peer).unwrap()),
            }
            assert_eq!(
                m.secrets_with(own, peer).unwrap(),
                q.secrets_with(own, peer).unwrap()
            );
            assert_eq!(m.all_secrets(own).unwrap(), q.all_secrets(own).unwrap());
        }
    }

    #[test]
    fn purge_expired_keeps_young_secrets() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        for (i, created) in [100u64, 200, 300].into_iter().enumerate() {
            let mut r = rs(&format!("b@y/{i}"), 1);
            r.created = Timestamp(created);
            s.rotate(None, r).unwrap();
        }
        // Too early for anything to be expired.
        assert_eq!(s.purge_expired(Timestamp(50), 100).unwrap(), 0);
        // created + max_age <= now is expired: 100 + 100 <= 200.
        assert_eq!(s.purge_expired(Timestamp(200), 100).unwrap(), 1);
        assert_eq!(s.purge_expired(Timestamp(399), 100).unwrap(), 1);
        let left = s.secrets_with("a@x", "b@y").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].created, Timestamp(300));
        assert_eq!(
            s.purge_expired(Timestamp(300), DEFAULT_MAX_AGE_SECS)
                .unwrap(),
            0
        );
    }

    #[test]
    fn timestamps_beyond_i64_are_refused_not_wrapped() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let mut r = rs("b@y/1", 1);
        r.created = Timestamp(u64::MAX);
        let e = s.rotate(None, r).unwrap_err();
        assert!(e.to_string().contains("rotating a retained secret"), "{e}");
        assert!(e.to_string().contains("too large"), "{e}");
        assert!(s.secrets_with("a@x", "b@y").unwrap().is_empty());
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.rotate(None, rs("b@y/1", 0xAB)).unwrap();
        assert_eq!(format!("{s:?}"), "SqliteStore { path: \":memory:\", .. }");
    }

    fn file_store(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join("s.db")).unwrap()
    }

    /// Issue: retained secrets were stored in clear. Nothing of one is in the database, its
    /// WAL or the key file, while open or after.
    #[test]
    fn no_retained_secret_in_clear_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let secret = *b"RETAINED-SECRET-IN-CLEAR-0123456";
        let mut s = file_store(dir.path());
        let mut r = rs("b@y/1", 0);
        r.secret = Zeroizing::new(secret.to_vec());
        s.rotate(None, r).unwrap();
        s.mark_verified(&rs("b@y/1", 0).id).unwrap();
        assert!(!on_disk(dir.path(), &secret[..16]));
        drop(s);
        assert!(!on_disk(dir.path(), &secret[..16]));
        let got = file_store(dir.path()).secrets_with("a@x", "b@y").unwrap();
        assert_eq!(got[0].secret.as_slice(), &secret);
        assert!(got[0].verified);
    }

    /// Edits a column of a row directly in the file, as someone with the file can.
    fn edit(dir: &Path, sql: &str) {
        let c = Connection::open(dir.join("s.db")).unwrap();
        assert_eq!(c.execute(sql, []).unwrap(), 1, "{sql}");
    }

    /// Issue: whoever edits the file could set `verified` (or plant a secret) and later
    /// MITM with "srs: matched, verified: true". Every edit makes the row ignored.
    #[test]
    fn an_edited_secret_or_flag_is_ignored_never_verified() {
        for sql in [
            // The ciphertext, one octet flipped.
            "UPDATE retained_secret SET sealed = CAST(CASE WHEN substr(sealed, 1, 1) = x'00' \
             THEN x'01' ELSE x'00' END || substr(sealed, 2) AS BLOB) \
             WHERE peer_full = 'b@y/1'",
            // The flag of schema 5, set by hand: a clear row is never read after step 6.
            "UPDATE retained_secret SET format = 0, verified = 1, nonce = NULL,              sealed = x'00112233' WHERE peer_full = 'b@y/1'",
            // The row moved to another peer.
            "UPDATE retained_secret SET peer_full = 'b@y/9' WHERE peer_full = 'b@y/1'",
            // The clear copy of the creation time.
            "UPDATE retained_secret SET created = 11 WHERE peer_full = 'b@y/1'",
            // The seal of another (unverified) record copied over.
            "UPDATE retained_secret SET (nonce, sealed) =              (SELECT nonce, sealed FROM retained_secret WHERE peer_full = 'b@y/2')              WHERE peer_full = 'b@y/1'",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = file_store(dir.path());
            s.rotate(None, rs("b@y/1", 1)).unwrap();
            s.rotate(None, rs("b@y/2", 2)).unwrap();
            drop(s);
            edit(dir.path(), sql);
            let mut s = file_store(dir.path());
            let got = s.secrets_with("a@x", "b@y").unwrap();
            assert!(got.iter().all(|r| !r.verified), "{sql}");
            assert_eq!(got.len(), 1, "{sql}");
            assert_eq!(got[0].id.peer_full, "b@y/2", "{sql}");
            assert!(!s.mark_verified(&rs("b@y/1", 0).id).unwrap(), "{sql}");
            assert!(!s.mark_verified(&rs("b@y/9", 0).id).unwrap(), "{sql}");
        }
        // Control: the same flow without an edit keeps both records.
        let dir = tempfile::tempdir().unwrap();
        let mut s = file_store(dir.path());
        s.rotate(None, rs("b@y/1", 1)).unwrap();
        s.rotate(None, rs("b@y/2", 2)).unwrap();
        drop(s);
        assert_eq!(
            file_store(dir.path())
                .secrets_with("a@x", "b@y")
                .unwrap()
                .len(),
            2
        );
    }

    /// Schema 5 kept secrets and the flag in clear: the upgrade seals them (nothing of them
    /// stays in clear on disk) and they keep their values.
    #[test]
    fn the_upgrade_seals_clear_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let secret = *b"OLD-CLEAR-RETAINED-SECRET-012345";
        {
            let mut conn = Connection::open(&path).unwrap();
            crate::schema::migrate_to(&mut conn, &path, 5, &|_, _| Ok(())).unwrap();
            conn.execute(
                "INSERT INTO retained_secret VALUES ('a@x', 'b@y', 'b@y/1', ?1, 7, 1)",
                [&secret[..]],
            )
            .unwrap();
        }
        assert!(on_disk(dir.path(), &secret));
        let s = SqliteStore::open(&path).unwrap();
        let got = s.secrets_with("a@x", "b@y").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].secret.as_slice(), &secret);
        assert!(got[0].verified);
        assert_eq!(got[0].created, Timestamp(7));
        drop(s);
        assert!(!on_disk(dir.path(), &secret[..16]));
    }
}
