//! Moving what versions before schema 6 sealed with a passphrase (identity keys and offline
//! option sets, format 1) under the device key (format 2): once, with that passphrase, in
//! one transaction, so an interruption leaves every row as it was and nothing is lost.
use crate::error::{failed, refused, ts_from_sql};
use crate::offline::kind_from_sql;
use crate::rows::{
    identity_ad, legacy_identity_ad, legacy_offline_ad, legacy_vouch_ad, offline_ad, Legacy,
};
use crate::sqlite::SqliteStore;
use esession::store::StoreError;
use rusqlite::{params, TransactionBehavior};

impl SqliteStore {
    /// Whether `own` has rows still sealed with a passphrase by an older esession, which
    /// [`SqliteStore::reseal_legacy`] must move under the device key before they are read.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    pub fn legacy_seals(&self, own: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM identity_key WHERE own = ?1 AND format = 1)
                     OR EXISTS (SELECT 1 FROM offline_set WHERE own = ?1 AND format = 1)",
                [own],
                |r| r.get(0),
            )
            .map_err(|e| failed("looking for passphrase-sealed rows", &self.path, e))
    }

    /// Opens the identity key and offline option sets of `own` that an older esession sealed
    /// with `passphrase` (Argon2id, then XChaCha20-Poly1305) and seals them under the device
    /// key instead, all in one transaction; returns how many rows moved. Only rows the
    /// schema upgrade found in the store are accepted (a passphrase-sealed row written
    /// later, by someone who knows the passphrase, is refused).
    ///
    /// # Errors
    /// A [`StoreError`] when the passphrase does not open a row, a row was not in the store
    /// when it was upgraded, or the store fails; nothing is changed then.
    pub fn reseal_legacy(&mut self, own: &str, passphrase: &str) -> Result<usize, StoreError> {
        let op = "moving passphrase-sealed rows under the device key";
        let path = &self.path;
        let device = &self.device;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let vouched = |table: &str, kind: &str, row: &Legacy, tag: Option<Vec<u8>>| {
            let ad = legacy_vouch_ad(table, own, kind, row);
            if tag.is_some_and(|t| device.verify_tag(&t, &ad)) {
                Ok(())
            } else {
                Err(refused(
                    op,
                    path,
                    format_args!(
                        "a passphrase-sealed row of {own} in {table} was not in the store when \
                         it was upgraded (written later, or altered): refused; the store was \
                         left untouched"
                    ),
                ))
            }
        };
        let identities: Vec<(Legacy, Option<Vec<u8>>)> = tx
            .prepare(
                "SELECT salt, m_kib, t_cost, p_cost, nonce, sealed, legacy
                 FROM identity_key WHERE own = ?1 AND format = 1",
            )
            .and_then(|mut s| {
                s.query_map([own], |r| Ok((Legacy::from_row(r, 0)?, r.get(6)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| failed(op, path, e))?;
        let mut moved = 0;
        for (row, tag) in identities {
            vouched("identity_key", "", &row, tag)?;
            let what = ("identity key", own);
            let der = row.open(path, op, what, &legacy_identity_ad(own), passphrase)?;
            let s = device.seal(path, op, &identity_ad(own), &der)?;
            moved += tx
                .execute(
                    "UPDATE identity_key SET format = 2, salt = NULL, m_kib = NULL,
                         t_cost = NULL, p_cost = NULL, legacy = NULL, nonce = ?2, sealed = ?3
                     WHERE own = ?1 AND format = 1",
                    params![own, &s.nonce[..], s.sealed],
                )
                .map_err(|e| failed(op, path, e))?;
        }
        let sets = tx
            .prepare(
                "SELECT kind, expires, salt, m_kib, t_cost, p_cost, nonce, sealed, legacy
                 FROM offline_set WHERE own = ?1 AND format = 1",
            )
            .and_then(|mut s| {
                s.query_map([own], |r| {
                    Ok((
                        kind_from_sql(r, 0)?,
                        ts_from_sql(r, 1)?,
                        Legacy::from_row(r, 2)?,
                        r.get::<_, Option<Vec<u8>>>(8)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| failed(op, path, e))?;
        for (kind, expires, row, tag) in sets {
            vouched("offline_set", kind.name(), &row, tag)?;
            let what = ("offline option set", own);
            let aad = legacy_offline_ad(own, kind, expires);
            let bytes = row.open(path, op, what, &aad, passphrase)?;
            let s = device.seal(path, op, &offline_ad(own, kind, expires), &bytes)?;
            moved += tx
                .execute(
                    "UPDATE offline_set SET format = 2, salt = NULL, m_kib = NULL,
                         t_cost = NULL, p_cost = NULL, legacy = NULL, nonce = ?3, sealed = ?4
                     WHERE own = ?1 AND kind = ?2 AND format = 1",
                    params![own, kind.name(), &s.nonce[..], s.sealed],
                )
                .map_err(|e| failed(op, path, e))?;
        }
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(moved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::aead::KdfParams;
    use esession::offline::{OfflineSet, OfflineSetKind};
    use esession::store::{KeyStore, OfflineStore};
    use esession::time::Timestamp;
    use rusqlite::Connection;
    use std::path::Path;
    use zeroize::Zeroizing;

    const CHEAP: KdfParams = KdfParams {
        m_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    const DER: [u8; 6] = [0x30, 0x82, 0x01, 0x0a, 0xAB, 0xCD];

    fn offline_set() -> OfflineSet {
        OfflineSet {
            kind: OfflineSetKind::Open,
            nonce: Zeroizing::new(vec![7; 32]),
            exponents: vec![(14, Zeroizing::new(vec![0x5A; 40]))],
            expires: Timestamp(100),
            options: "<x xmlns=\"jabber:x:data\" type=\"form\"/>".into(),
            accepted: Vec::new(),
        }
    }

    /// Rows as versions before schema 6 wrote them (passphrase seals, format 1).
    fn insert_legacy(conn: &Connection, own: &str, passphrase: &str) {
        let id = Legacy::seal(passphrase, CHEAP, &legacy_identity_ad(own), &DER);
        conn.execute(
            "INSERT INTO identity_key (own, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![own, &id.salt[..], 64, 1, 1, &id.nonce[..], id.sealed],
        )
        .unwrap();
        insert_legacy_set(conn, own, passphrase);
    }

    fn insert_legacy_set(conn: &Connection, own: &str, passphrase: &str) {
        let set = offline_set();
        let aad = legacy_offline_ad(own, set.kind, set.expires);
        let o = Legacy::seal(passphrase, CHEAP, &aad, &set.secret_bytes());
        conn.execute(
            "INSERT INTO offline_set
             (own, kind, expires, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
             VALUES (?1, 'open', 100, 1, ?2, 64, 1, 1, ?3, ?4)",
            params![own, &o.salt[..], &o.nonce[..], o.sealed],
        )
        .unwrap();
    }

    /// A store of schema 5 holding an identity key and an offline set sealed with "pw".
    fn old_store(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        crate::schema::migrate_to(&mut conn, path, 5, &|_, _| Ok(())).unwrap();
        insert_legacy(&conn, "a@x", "pw");
    }

    fn formats(path: &Path) -> Vec<i64> {
        Connection::open(path)
            .unwrap()
            .prepare("SELECT format FROM identity_key UNION ALL SELECT format FROM offline_set")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn old_rows_move_under_the_device_key_on_first_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_store(&path);
        let mut s = SqliteStore::open(&path).unwrap();
        assert!(s.legacy_seals("a@x").unwrap());
        assert!(!s.legacy_seals("b@x").unwrap());
        let e = s.identity_key("a@x").unwrap_err();
        assert!(
            e.to_string().contains("still sealed with a passphrase"),
            "{e}"
        );
        assert!(s.offline_sets("a@x").is_err());
        // A wrong passphrase changes nothing.
        let e = s.reseal_legacy("a@x", "wrong").unwrap_err();
        assert!(e.to_string().contains(crate::rows::LEGACY_WRONG), "{e}");
        assert_eq!(formats(&path), [1, 1]);
        assert_eq!(s.reseal_legacy("a@x", "pw").unwrap(), 2);
        assert_eq!(formats(&path), [2, 2]);
        assert!(!s.legacy_seals("a@x").unwrap());
        drop(s);
        // Reopened: everything opens under the device key, without any passphrase.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), &DER);
        assert_eq!(s.offline_sets("a@x").unwrap(), [offline_set()]);
    }

    /// A passphrase-sealed row written after the upgrade (by someone who knows or chose the
    /// passphrase, e.g. the account password) is refused, and the refusal rolls back the
    /// whole unlock: the rows moved before it in the transaction stay as they were.
    #[test]
    fn rows_written_in_the_old_form_after_the_upgrade_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_store(&path);
        drop(SqliteStore::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            c.execute("DELETE FROM offline_set", []).unwrap();
            insert_legacy_set(&c, "a@x", "pw");
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let e = s.reseal_legacy("a@x", "pw").unwrap_err();
        assert!(
            e.to_string()
                .contains("was not in the store when it was upgraded"),
            "{e}"
        );
        assert_eq!(
            formats(&path),
            [1, 1],
            "the identity key was not moved either"
        );
        // A fresh store never accepts one.
        let fresh = dir.path().join("f.db");
        drop(SqliteStore::open(&fresh).unwrap());
        insert_legacy(&Connection::open(&fresh).unwrap(), "a@x", "pw");
        let e = SqliteStore::open(&fresh)
            .unwrap()
            .reseal_legacy("a@x", "pw")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("was not in the store when it was upgraded"),
            "{e}"
        );
    }

    /// Found in review: the `legacy` tag bound the nonce alone, so someone who knows the
    /// old passphrase (the account password by default then, known to the server) could
    /// seal their own key under the vouched nonce with a salt of their own, and the unlock
    /// moved it under the device key as ours.
    #[test]
    fn a_vouched_row_sealed_again_under_its_nonce_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_store(&path);
        drop(SqliteStore::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            let nonce: Vec<u8> = c
                .query_row("SELECT nonce FROM identity_key", [], |r| r.get(0))
                .unwrap();
            let nonce = <[u8; crate::aead::NONCE_LEN]>::try_from(&nonce[..]).unwrap();
            let salt = [9u8; 16];
            let kek = crate::aead::derive_key(b"pw", &salt, CHEAP).unwrap();
            let theirs = [0x30, 0x82, 0x01, 0x0a, 0xEE, 0xEE];
            let sealed = crate::aead::seal(&kek, &nonce, &theirs, &legacy_identity_ad("a@x"));
            c.execute(
                "UPDATE identity_key SET salt = ?1, sealed = ?2",
                params![&salt[..], sealed.unwrap()],
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let e = s.reseal_legacy("a@x", "pw").unwrap_err().to_string();
        assert!(
            e.contains("was not in the store when it was upgraded"),
            "{e}"
        );
        assert_eq!(formats(&path), [1, 1]);
    }

    /// A store upgraded before schema 9 holds tags of version 1: step 9 replaces each
    /// genuine one, so its rows still unlock (nothing is lost).
    #[test]
    fn rows_vouched_before_schema_9_still_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_store(&path);
        {
            let mut conn = Connection::open(&path).unwrap();
            let device = crate::device_key::DeviceKey::for_database(&conn, &path, 5).unwrap();
            let step_6 = |tx: &Connection, reached: usize| {
                if reached == crate::device_key::SEALED_SINCE {
                    crate::upgrade::to_device_key(tx, &device, &path)?;
                }
                Ok(())
            };
            crate::schema::migrate_to(&mut conn, &path, 8, &step_6).unwrap();
            // The tags as schema 6 to 8 wrote them.
            for (table, kind) in [("identity_key", ""), ("offline_set", "open")] {
                let nonce: Vec<u8> = conn
                    .query_row(&format!("SELECT nonce FROM {table}"), [], |r| r.get(0))
                    .unwrap();
                let ad = crate::rows::legacy_vouch_ad_1(table, "a@x", kind, &nonce);
                let tag = device.tag(&path, "test", &ad).unwrap();
                conn.execute(&format!("UPDATE {table} SET legacy = ?1"), [tag])
                    .unwrap();
            }
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.reseal_legacy("a@x", "pw").unwrap(), 2);
        assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), &DER);
    }

    #[test]
    fn absurd_costs_in_an_old_row_are_refused_before_deriving() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        old_store(&path);
        // Damaged before the upgrade, which vouches for the row as it found it (an altered
        // row after it fails its `legacy` tag first).
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE identity_key SET m_kib = 4000000000", [])
            .unwrap();
        let e = SqliteStore::open(&path)
            .unwrap()
            .reseal_legacy("a@x", "pw")
            .unwrap_err();
        assert!(e.to_string().contains("above the accepted"), "{e}");
    }
}
