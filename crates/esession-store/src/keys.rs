//! [`KeyStore`] for [`SqliteStore`]: peer keys with their sightings (XEP-0116 §7.4) in
//! `known_key` / `key_sighting`, and our identity keys (sealed, see `identity.rs`).
use crate::device_key::DeviceKey;
use crate::error::{failed, ts_from_sql, ts_to_sql};
use crate::rows::trust_ad;
use crate::sqlite::SqliteStore;
use esession::store::{KeyStore, StoreError};
use esession::time::Timestamp;
use esession::trust::{self, KeySighting, KnownKey, Provenance};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;
use zeroize::Zeroizing;

/// One row of the join of a key with one of its sightings (none for a key without any),
/// and the key's trust seal.
type KeyRow = (KnownKey, Option<KeySighting>, Option<Vec<u8>>);

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    let fp = row.get_ref(0)?.as_blob()?;
    let fingerprint = <[u8; 32]>::try_from(fp).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("a fingerprint of {} octets (32 expected)", fp.len()).into(),
        )
    })?;
    let key = KnownKey {
        fingerprint,
        key_value: row.get(1)?,
        petname: row.get(2)?,
        trusted: row.get(3)?,
        jids: Vec::new(),
    };
    let sighting = match row.get::<_, Option<String>>(4)? {
        Some(jid) => Some(KeySighting {
            jid,
            first_seen: ts_from_sql(row, 5)?,
            last_seen: ts_from_sql(row, 6)?,
            in_session: row.get(8)?,
        }),
        None => None,
    };
    Ok((key, sighting, row.get(7)?))
}

/// The keys of `own` matching `sql_where` (over `k`, the key, with `?1` = own), each with its
/// sightings, ordered by fingerprint then JID (the order of `MemoryStore`).
/// A key counts as trusted only with a trust seal that opens under the device key
/// (schema step 6): a flag set by editing the file is ignored. The seal binds the
/// fingerprint, and the fingerprint the KeyValue (profile P8): a record whose KeyValue
/// does not hash to its fingerprint was altered and is refused with an error naming it.
fn load_keys(
    store: (&Connection, &Path, &DeviceKey),
    op: &str,
    own: &str,
    sql_where: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<KnownKey>, StoreError> {
    let (conn, path, device) = store;
    let sql = format!(
        "SELECT k.fingerprint, k.key_value, k.petname, k.trusted,
                s.jid, s.first_seen, s.last_seen, k.trust_seal, s.in_session
         FROM known_key k LEFT JOIN key_sighting s
              ON s.own = k.own AND s.fingerprint = k.fingerprint
         WHERE k.own = ?1 AND {sql_where}
         ORDER BY k.fingerprint, s.jid"
    );
    let rows = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, key_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| failed(op, path, e))?;
    let mut keys: Vec<KnownKey> = Vec::new();
    for (mut key, sighting, seal) in rows {
        let same = keys
            .last()
            .is_some_and(|k| k.fingerprint == key.fingerprint);
        if !same {
            if !key.is_intact() {
                return Err(StoreError::new(format!(
                    "{op}: {}: the stored key {} was altered: its KeyValue is not the key of \
                     that fingerprint (profile P8)",
                    path.display(),
                    key.fingerprint_b64()
                )));
            }
            if key.trusted {
                let ad = trust_ad(own, &key.fingerprint);
                key.trusted = seal.is_some_and(|t| device.verify_tag(&t, &ad));
                if !key.trusted {
                    tracing::warn!(
                        store = %path.display(),
                        %own,
                        "a key is marked trusted in the store without a valid seal: not trusted"
                    );
                }
            }
            keys.push(key);
        }
        if let (Some(s), Some(k)) = (sighting, keys.last_mut()) {
            k.jids.push(s);
        }
    }
    Ok(keys)
}

fn one_key(
    store: (&Connection, &Path, &DeviceKey),
    op: &str,
    own: &str,
    fp: &[u8; 32],
) -> Result<Option<KnownKey>, StoreError> {
    let mut keys = load_keys(store, op, own, "k.fingerprint = ?2", &[&own, &&fp[..]])?;
    Ok(keys.pop())
}

/// Forgets keys of `own` per [`trust::evictions`] with `limit`, never `keep` (their
/// sightings go with them: ON DELETE CASCADE). Counts the unnamed keys first, so the usual
/// case reads nothing more; which of them are trusted is then read through their seals
/// (a flag set by editing the file does not protect a key).
fn evict_untrusted(
    store: (&Connection, &Path, &DeviceKey),
    own: &str,
    keep: &[u8; 32],
    limit: usize,
) -> Result<(), StoreError> {
    let op = "forgetting keys never trusted";
    let (conn, path, _) = store;
    let unnamed: i64 = conn
        .prepare_cached("SELECT count(*) FROM known_key WHERE own = ?1 AND petname IS NULL")
        .and_then(|mut st| st.query_row(params![own], |r| r.get(0)))
        .map_err(|e| failed(op, path, e))?;
    if usize::try_from(unnamed).unwrap_or(usize::MAX) <= limit {
        return Ok(());
    }
    let keys = load_keys(store, op, own, "k.petname IS NULL", &[&own])?;
    for fp in trust::evictions(&keys, keep, limit) {
        conn.prepare_cached("DELETE FROM known_key WHERE own = ?1 AND fingerprint = ?2")
            .and_then(|mut st| st.execute(params![own, &fp[..]]))
            .map_err(|e| failed(op, path, e))?;
    }
    Ok(())
}

impl KeyStore for SqliteStore {
    fn identity_key(&self, own: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.read_identity("reading the identity key", own)
    }

    fn set_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        self.write_identity("storing the identity key", own, der, false)
    }

    fn replace_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        self.write_identity("replacing the identity key", own, der, true)
    }

    fn known_key(&self, own: &str, fp: &[u8; 32]) -> Result<Option<KnownKey>, StoreError> {
        one_key(
            (&self.conn, &self.path, &self.device),
            "reading a known key",
            own,
            fp,
        )
    }

    fn keys_of(&self, own: &str, peer_bare: &str) -> Result<Vec<KnownKey>, StoreError> {
        load_keys(
            (&self.conn, &self.path, &self.device),
            "reading the keys of a peer",
            own,
            "k.fingerprint IN (SELECT fingerprint FROM key_sighting WHERE own = ?1 AND jid = ?2)",
            &[&own, &peer_bare],
        )
    }

    fn all_keys(&self, own: &str) -> Result<Vec<KnownKey>, StoreError> {
        load_keys(
            (&self.conn, &self.path, &self.device),
            "reading all known keys",
            own,
            "1",
            &[&own],
        )
    }

    fn record_sighting(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        key_value: &str,
        peer_bare: &str,
        now: Timestamp,
        provenance: Provenance,
    ) -> Result<(), StoreError> {
        let op = "recording a key sighting";
        let path = &self.path;
        // One transaction: read the record, apply the shared rules, write it back whole.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let existing = one_key((&tx, path, &self.device), op, own, fp)?;
        let new = existing.is_none();
        let key = trust::sighting(existing, fp, key_value, peer_bare, now, provenance)?;
        tx.prepare_cached(
            "INSERT INTO known_key (own, fingerprint, key_value, petname, trusted)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (own, fingerprint) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                own,
                &fp[..],
                key.key_value,
                key.petname,
                key.trusted
            ])
        })
        .map_err(|e| failed(op, path, e))?;
        tx.prepare_cached("DELETE FROM key_sighting WHERE own = ?1 AND fingerprint = ?2")
            .and_then(|mut s| s.execute(params![own, &fp[..]]))
            .map_err(|e| failed(op, path, e))?;
        for s in &key.jids {
            let first = ts_to_sql(s.first_seen, "first sighting", op, path)?;
            let last = ts_to_sql(s.last_seen, "last sighting", op, path)?;
            tx.prepare_cached(
                "INSERT INTO key_sighting (own, fingerprint, jid, first_seen, last_seen,
                                          in_session)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| st.execute(params![own, &fp[..], s.jid, first, last, s.in_session]))
            .map_err(|e| failed(op, path, e))?;
        }
        if new {
            evict_untrusted(
                (&tx, path, &self.device),
                own,
                fp,
                trust::MAX_UNTRUSTED_KEYS,
            )?;
        }
        tx.commit().map_err(|e| failed(op, path, e))
    }

    fn set_trusted(&mut self, own: &str, fp: &[u8; 32], trusted: bool) -> Result<bool, StoreError> {
        let op = "marking a key trusted";
        let path = &self.path;
        // One transaction: a revocation another process records meanwhile cannot fall
        // between the check and the write (found in review).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let seal = if trusted {
            trust::check_not_revoked(fp, revoked_at(&tx, path, own, fp)?)?;
            Some(self.device.tag(path, op, &trust_ad(own, fp))?)
        } else {
            None
        };
        let n = tx
            .execute(
                "UPDATE known_key SET trusted = ?3, trust_seal = ?4
                 WHERE own = ?1 AND fingerprint = ?2",
                params![own, &fp[..], trusted, seal],
            )
            .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        Ok(n > 0)
    }

    fn set_petname(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        petname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let op = "naming a key";
        trust::check_petname(op, petname)?;
        let n = self
            .conn
            .execute(
                "UPDATE known_key SET petname = ?3 WHERE own = ?1 AND fingerprint = ?2",
                params![own, &fp[..], petname],
            )
            .map_err(|e| failed(op, &self.path, e))?;
        Ok(n > 0)
    }

    fn forget_key(&mut self, own: &str, fp: &[u8; 32]) -> Result<bool, StoreError> {
        // The sightings go with the key (ON DELETE CASCADE; foreign_keys is on).
        let n = self
            .conn
            .execute(
                "DELETE FROM known_key WHERE own = ?1 AND fingerprint = ?2",
                params![own, &fp[..]],
            )
            .map_err(|e| failed("forgetting a key", &self.path, e))?;
        self.scrub_destroyed();
        Ok(n > 0)
    }

    fn record_revocation(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        revoked_at: Timestamp,
    ) -> Result<(), StoreError> {
        let op = "recording a key revocation";
        let path = &self.path;
        let at = ts_to_sql(revoked_at, "revocation time", op, path)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        tx.execute(
            "INSERT INTO revoked_key (own, fingerprint, revoked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (own, fingerprint) DO UPDATE
             SET revoked_at = min(revoked_at, excluded.revoked_at)",
            params![own, &fp[..], at],
        )
        .map_err(|e| failed(op, path, e))?;
        tx.execute(
            "UPDATE known_key SET trusted = 0, trust_seal = NULL
             WHERE own = ?1 AND fingerprint = ?2",
            params![own, &fp[..]],
        )
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))
    }

    fn revoked_at(&self, own: &str, fp: &[u8; 32]) -> Result<Option<Timestamp>, StoreError> {
        revoked_at(&self.conn, &self.path, own, fp)
    }
}

/// When `own` learned that the key `fp` was revoked, if it did.
fn revoked_at(
    conn: &Connection,
    path: &Path,
    own: &str,
    fp: &[u8; 32],
) -> Result<Option<Timestamp>, StoreError> {
    conn.prepare_cached("SELECT revoked_at FROM revoked_key WHERE own = ?1 AND fingerprint = ?2")
        .and_then(|mut s| {
            s.query_map(params![own, &fp[..]], |row| ts_from_sql(row, 0))?
                .next()
                .transpose()
        })
        .map_err(|e| failed("reading a key revocation", path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use esession::crypto::sha256;
    use esession::store::MemoryStore;

    fn kv(n: u64) -> String {
        format!("<KeyValue><RSAKeyValue><Modulus>{n}</Modulus></RSAKeyValue></KeyValue>")
    }

    fn fp(n: u64) -> [u8; 32] {
        sha256(&[kv(n).as_bytes()])
    }

    /// Issue 11 §14: keys never trusted nor named are bounded per account; the stalest go
    /// with their sightings, trusted and named ones stay, other accounts are untouched.
    #[test]
    fn untrusted_keys_are_bounded() {
        let mut q = SqliteStore::open_in_memory().unwrap();
        for n in 0..6 {
            q.record_sighting(
                "a@x",
                &fp(n),
                &kv(n),
                "b@y",
                Timestamp(100 + n),
                Provenance::Session,
            )
            .unwrap();
        }
        q.record_sighting(
            "other@x",
            &fp(9),
            &kv(9),
            "b@y",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap();
        q.set_trusted("a@x", &fp(0), true).unwrap();
        q.set_petname("a@x", &fp(1), Some("Bo")).unwrap();
        let before = q.all_keys("a@x").unwrap();
        // The shared rule picks 3 and 4 (the stalest but 2, which is kept).
        let gone = trust::evictions(&before, &fp(2), 2);
        assert_eq!(gone, vec![fp(3), fp(4)]);
        evict_untrusted((&q.conn, &q.path, &q.device), "a@x", &fp(2), 2).unwrap();
        let after = q.all_keys("a@x").unwrap();
        assert_eq!(after.len(), 4);
        assert!(after.iter().all(|k| !gone.contains(&k.fingerprint)));
        assert_eq!(q.all_keys("other@x").unwrap().len(), 1);
        let sightings: i64 = q
            .conn
            .query_row(
                "SELECT count(*) FROM key_sighting WHERE own = 'a@x'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sightings, 4, "the forgotten keys' sightings went with them");
    }

    /// A random sequence of key operations gives the same answers from both stores.
    #[test]
    fn differential_against_memory_store() {
        let mut m = MemoryStore::new();
        let mut q = SqliteStore::open_in_memory().unwrap();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let owns = ["a@x", "c@x"];
        let peers = ["b@y", "d@y", "e@z", "f@z"];
        for step in 0..1500u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let own = owns[(x % 2) as usize];
            let peer = peers[((x >> 8) % 4) as usize];
            let n = (x >> 16) % 5;
            let now = Timestamp(1000 + step / 2 - (x >> 60));
            if step % 97 == 50 {
                // Key 4 gets revoked now and then (XEP-0189 §4); the earliest time stays.
                m.record_revocation(own, &fp(4), now).unwrap();
                q.record_revocation(own, &fp(4), now).unwrap();
            }
            assert_eq!(
                m.revoked_at(own, &fp(n)).unwrap(),
                q.revoked_at(own, &fp(n)).unwrap()
            );
            match (x >> 24) % 10 {
                0..=4 => {
                    // Now and then a mismatched key value: both must refuse it.
                    let value = if (x >> 32).is_multiple_of(13) {
                        kv(n + 1)
                    } else {
                        kv(n)
                    };
                    // Both provenances, so that both stores keep `in_session` alike.
                    let how = if (x >> 36).is_multiple_of(3) {
                        Provenance::Fetched
                    } else {
                        Provenance::Session
                    };
                    let a = m.record_sighting(own, &fp(n), &value, peer, now, how);
                    let b = q.record_sighting(own, &fp(n), &value, peer, now, how);
                    assert_eq!(a.is_ok(), b.is_ok(), "{a:?} {b:?}");
                }
                5 => {
                    // Trusting a revoked key fails in both.
                    let t = (x >> 40).is_multiple_of(2);
                    assert_eq!(
                        m.set_trusted(own, &fp(n), t).ok(),
                        q.set_trusted(own, &fp(n), t).ok()
                    );
                }
                6 | 7 => {
                    let name = ["Bob", "", "Dee"][((x >> 40) % 3) as usize];
                    let name = (!(x >> 44).is_multiple_of(4)).then_some(name);
                    let a = m.set_petname(own, &fp(n), name);
                    let b = q.set_petname(own, &fp(n), name);
                    assert_eq!(a.ok(), b.ok());
                }
                _ => assert_eq!(
                    m.forget_key(own, &fp(n)).unwrap(),
                    q.forget_key(own, &fp(n)).unwrap()
                ),
            }
            assert_eq!(m.keys_of(own, peer).unwrap(), q.keys_of(own, peer).unwrap());
            assert_eq!(m.all_keys(own).unwrap(), q.all_keys(own).unwrap());
            assert_eq!(
                m.known_key(own, &fp(n)).unwrap(),
                q.known_key(own, &fp(n)).unwrap()
            );
        }
        assert!(!q.all_keys("a@x").unwrap().is_empty());
    }

    #[test]
    fn the_jid_bound_holds_in_the_file() {
        let mut q = SqliteStore::open_in_memory().unwrap();
        for i in 0..(trust::MAX_JIDS_PER_KEY as u64 + 5) {
            q.record_sighting(
                "a@x",
                &fp(1),
                &kv(1),
                &format!("j{i:03}@y"),
                Timestamp(i),
                Provenance::Session,
            )
            .unwrap();
        }
        let rows: i64 = q
            .conn
            .query_row("SELECT count(*) FROM key_sighting", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, trust::MAX_JIDS_PER_KEY as i64);
        assert!(q.keys_of("a@x", "j000@y").unwrap().is_empty());
        assert_eq!(q.keys_of("a@x", "j068@y").unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_fingerprint_is_an_error_not_a_panic() {
        let q = SqliteStore::open_in_memory().unwrap();
        q.conn
            .execute_batch(
                "PRAGMA ignore_check_constraints = ON;
                 INSERT INTO known_key (own, fingerprint, key_value, petname, trusted)
                 VALUES ('a@x', x'0102', 'kv', NULL, 0);",
            )
            .unwrap();
        let e = q.all_keys("a@x").unwrap_err();
        assert!(e.to_string().contains("reading all known keys"), "{e}");
    }

    /// Issue: the trusted flag had no integrity. Set by editing the file (or with the seal
    /// of another key) it counts for nothing; set through the store it survives reopening.
    #[test]
    fn a_trusted_flag_set_in_the_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            for n in [1, 2] {
                s.record_sighting(
                    "a@x",
                    &fp(n),
                    &kv(n),
                    "b@y",
                    Timestamp(5),
                    Provenance::Session,
                )
                .unwrap();
            }
            assert!(s.set_trusted("a@x", &fp(1), true).unwrap());
        }
        let trusted = |n| {
            SqliteStore::open(&path)
                .unwrap()
                .known_key("a@x", &fp(n))
                .unwrap()
                .unwrap()
                .trusted
        };
        assert!(trusted(1) && !trusted(2));
        let c = Connection::open(&path).unwrap();
        c.execute(
            "UPDATE known_key SET trusted = 1 WHERE fingerprint = ?1",
            [&fp(2)[..]],
        )
        .unwrap();
        assert!(!trusted(2), "a bare flag");
        c.execute(
            "UPDATE known_key SET trust_seal = (SELECT trust_seal FROM known_key
             WHERE fingerprint = ?1) WHERE fingerprint = ?2",
            [&fp(1)[..], &fp(2)[..]],
        )
        .unwrap();
        assert!(!trusted(2), "another key's seal");
        assert!(
            !SqliteStore::open(&path)
                .unwrap()
                .assess("a@x", Some(fp(2)), "b@y")
                .unwrap()
                .trusted
        );
        assert!(trusted(1));
    }

    /// Found in review: the trust seal binds the fingerprint, not the KeyValue, so another
    /// key written under a trusted fingerprint kept the trust (offline options signed by
    /// it accepted, attestations signed for it). The KeyValue must hash to the fingerprint.
    #[test]
    fn another_key_under_a_trusted_fingerprint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.record_sighting(
                "a@x",
                &fp(1),
                &kv(1),
                "b@y",
                Timestamp(5),
                Provenance::Session,
            )
            .unwrap();
            assert!(s.set_trusted("a@x", &fp(1), true).unwrap());
        }
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE known_key SET key_value = ?1 WHERE fingerprint = ?2",
                rusqlite::params![kv(2), &fp(1)[..]],
            )
            .unwrap();
        let s = SqliteStore::open(&path).unwrap();
        let shown = esession::b64::encode(&fp(1));
        for e in [
            s.known_key("a@x", &fp(1)).unwrap_err(),
            s.keys_of("a@x", "b@y").unwrap_err(),
            s.all_keys("a@x").unwrap_err(),
            s.assess("a@x", Some(fp(1)), "b@y").unwrap_err(),
        ] {
            let e = e.to_string();
            assert!(e.contains("was altered") && e.contains(&shown), "{e}");
        }
    }
}
