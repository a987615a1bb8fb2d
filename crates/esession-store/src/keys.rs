//! [`KeyStore`] for [`SqliteStore`]: peer keys with their sightings (XEP-0116 §7.4) in
//! `known_key` / `key_sighting`, and our identity keys (sealed, see `identity.rs`).
use crate::error::{failed, ts_from_sql, ts_to_sql};
use crate::sqlite::SqliteStore;
use esession::store::{KeyStore, StoreError};
use esession::time::Timestamp;
use esession::trust::{self, KeySighting, KnownKey};
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;
use zeroize::Zeroizing;

/// One row of the join of a key with one of its sightings (none for a key without any).
type KeyRow = (KnownKey, Option<KeySighting>);

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
        }),
        None => None,
    };
    Ok((key, sighting))
}

/// The keys of `own` matching `sql_where` (over `k`, the key, with `?1` = own), each with its
/// sightings, ordered by fingerprint then JID (the order of `MemoryStore`).
fn load_keys(
    conn: &Connection,
    path: &Path,
    op: &str,
    sql_where: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<KnownKey>, StoreError> {
    let sql = format!(
        "SELECT k.fingerprint, k.key_value, k.petname, k.trusted,
                s.jid, s.first_seen, s.last_seen
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
    for (key, sighting) in rows {
        let same = keys
            .last()
            .is_some_and(|k| k.fingerprint == key.fingerprint);
        if !same {
            keys.push(key);
        }
        if let (Some(s), Some(k)) = (sighting, keys.last_mut()) {
            k.jids.push(s);
        }
    }
    Ok(keys)
}

fn one_key(
    conn: &Connection,
    path: &Path,
    op: &str,
    own: &str,
    fp: &[u8; 32],
) -> Result<Option<KnownKey>, StoreError> {
    let mut keys = load_keys(conn, path, op, "k.fingerprint = ?2", &[&own, &&fp[..]])?;
    Ok(keys.pop())
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
        one_key(&self.conn, &self.path, "reading a known key", own, fp)
    }

    fn keys_of(&self, own: &str, peer_bare: &str) -> Result<Vec<KnownKey>, StoreError> {
        load_keys(
            &self.conn,
            &self.path,
            "reading the keys of a peer",
            "k.fingerprint IN (SELECT fingerprint FROM key_sighting WHERE own = ?1 AND jid = ?2)",
            &[&own, &peer_bare],
        )
    }

    fn all_keys(&self, own: &str) -> Result<Vec<KnownKey>, StoreError> {
        load_keys(&self.conn, &self.path, "reading all known keys", "1", &[&own])
    }

    fn record_sighting(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        key_value: &str,
        peer_bare: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let op = "recording a key sighting";
        let path = &self.path;
        // One transaction: read the record, apply the shared rules, write it back whole.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let existing = one_key(&tx, path, op, own, fp)?;
        let key = trust::sighting(existing, fp, key_value, peer_bare, now)?;
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
                "INSERT INTO key_sighting (own, fingerprint, jid, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![own, &fp[..], s.jid, first, last]))
            .map_err(|e| failed(op, path, e))?;
        }
        tx.commit().map_err(|e| failed(op, path, e))
    }

    fn set_trusted(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        trusted: bool,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE known_key SET trusted = ?3 WHERE own = ?1 AND fingerprint = ?2",
                params![own, &fp[..], trusted],
            )
            .map_err(|e| failed("marking a key trusted", &self.path, e))?;
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
}
