//! The schema and its migrations, driven by `PRAGMA user_version`.
//!
//! Step `i` of [`MIGRATIONS`] takes the database from version `i` to `i + 1`; the steps an
//! open applies run in one `IMMEDIATE` transaction together with the new `user_version`, so
//! a crash or a failure in the middle of a migration leaves the version the database had,
//! and another process never sees a version in between (found in review: a second process
//! opening a fresh store while the first migrated it saw a schema without the device
//! key's check value and refused the store). A database whose
//! `user_version` is above [`SCHEMA_VERSION`] was written by a newer build and is refused
//! (never downgraded). The `application_id` marks the file as ours, so another program's
//! SQLite database is refused rather than "migrated".
use crate::error::{failed, refused};
use esession::store::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// `PRAGMA application_id` of an esession store: "ESES" in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x4553_4553;

/// The columns of a sealed row of `identity_key` and `offline_set` from schema 6 on:
/// format 1 (a passphrase seal of older versions, with its salt and Argon2id costs, and the
/// `legacy` tag of the upgrade) or format 2 (a device-key seal).
macro_rules! sealed_columns {
    () => {
        "
        format INTEGER NOT NULL CHECK (format IN (1, 2)),
        salt   BLOB,
        m_kib  INTEGER,
        t_cost INTEGER,
        p_cost INTEGER,
        nonce  BLOB    NOT NULL CHECK (length(nonce) = 24),
        sealed BLOB    NOT NULL,
        legacy BLOB    CHECK (length(legacy) = 40),
        CHECK (format = 1 AND length(salt) = 16 AND m_kib > 0 AND t_cost > 0 AND p_cost > 0
            OR format = 2 AND salt IS NULL AND m_kib IS NULL AND t_cost IS NULL
               AND p_cost IS NULL AND legacy IS NULL)"
    };
}

/// The migration steps, oldest first. Never edit a released step: append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 0 -> 1: retained secrets (profile P7), one record per (own, peer bare, peer full).
    "CREATE TABLE retained_secret (
        own       TEXT    NOT NULL,
        peer_bare TEXT    NOT NULL,
        peer_full TEXT    NOT NULL,
        secret    BLOB    NOT NULL,
        created   INTEGER NOT NULL CHECK (created >= 0),
        verified  INTEGER NOT NULL CHECK (verified IN (0, 1)),
        PRIMARY KEY (own, peer_bare, peer_full)
    ) WITHOUT ROWID;",
    // 1 -> 2: session history metadata. No message bodies, ever.
    "CREATE TABLE session (
        id         INTEGER PRIMARY KEY,
        own        TEXT    NOT NULL,
        peer_bare  TEXT    NOT NULL,
        peer_full  TEXT    NOT NULL,
        thread     TEXT    NOT NULL,
        role       TEXT    NOT NULL CHECK (role IN ('initiator', 'responder')),
        started    INTEGER NOT NULL CHECK (started >= 0),
        ended      INTEGER CHECK (ended >= 0),
        end_reason TEXT,
        sas        TEXT    NOT NULL,
        srs        TEXT    NOT NULL CHECK (srs IN ('matched', 'none', 'mismatch')),
        verified   INTEGER NOT NULL CHECK (verified IN (0, 1))
    );
    CREATE INDEX session_by_peer ON session (own, peer_bare, started);",
    // 2 -> 3: our identity private keys, sealed (format 1: Argon2id KEK from the passphrase,
    // XChaCha20-Poly1305 with the own JID as associated data; see identity.rs), and the peer
    // keys we received with the JIDs that presented them (XEP-0116 §7.4).
    "CREATE TABLE identity_key (
        own    TEXT    NOT NULL PRIMARY KEY,
        format INTEGER NOT NULL CHECK (format = 1),
        salt   BLOB    NOT NULL CHECK (length(salt) = 16),
        m_kib  INTEGER NOT NULL CHECK (m_kib > 0),
        t_cost INTEGER NOT NULL CHECK (t_cost > 0),
        p_cost INTEGER NOT NULL CHECK (p_cost > 0),
        nonce  BLOB    NOT NULL CHECK (length(nonce) = 24),
        sealed BLOB    NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE known_key (
        own         TEXT    NOT NULL,
        fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
        key_value   TEXT    NOT NULL,
        petname     TEXT,
        trusted     INTEGER NOT NULL CHECK (trusted IN (0, 1)),
        PRIMARY KEY (own, fingerprint)
    ) WITHOUT ROWID;
    CREATE TABLE key_sighting (
        own         TEXT    NOT NULL,
        fingerprint BLOB    NOT NULL,
        jid         TEXT    NOT NULL,
        first_seen  INTEGER NOT NULL CHECK (first_seen >= 0),
        last_seen   INTEGER NOT NULL CHECK (last_seen >= first_seen),
        PRIMARY KEY (own, fingerprint, jid),
        FOREIGN KEY (own, fingerprint) REFERENCES known_key (own, fingerprint) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX key_sighting_by_jid ON key_sighting (own, jid);",
    // 3 -> 4: keys revoked by their holders (XEP-0189 §4, verified revocations): refused
    // in negotiation and never trusted again. Not tied to known_key: a revocation may
    // arrive before the key is ever presented, and outlives forgetting the key.
    "CREATE TABLE revoked_key (
        own         TEXT    NOT NULL,
        fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
        revoked_at  INTEGER NOT NULL CHECK (revoked_at >= 0),
        PRIMARY KEY (own, fingerprint)
    ) WITHOUT ROWID;",
    // 4 -> 5: our published offline option sets (XEP-0187, profile P11): N_A, the secret
    // exponents and the offered options sealed like identity keys (the associated data binds
    // own, kind and expiry; see offline.rs), and the d and N_B values accepted for each set
    // (SHA-256 digests), discarded with it.
    "CREATE TABLE offline_set (
        own     TEXT    NOT NULL,
        kind    TEXT    NOT NULL CHECK (kind IN ('subscriber', 'open')),
        expires INTEGER NOT NULL CHECK (expires >= 0),
        format  INTEGER NOT NULL CHECK (format = 1),
        salt    BLOB    NOT NULL CHECK (length(salt) = 16),
        m_kib   INTEGER NOT NULL CHECK (m_kib > 0),
        t_cost  INTEGER NOT NULL CHECK (t_cost > 0),
        p_cost  INTEGER NOT NULL CHECK (p_cost > 0),
        nonce   BLOB    NOT NULL CHECK (length(nonce) = 24),
        sealed  BLOB    NOT NULL,
        PRIMARY KEY (own, kind)
    ) WITHOUT ROWID;
    CREATE TABLE offline_accepted (
        own  TEXT NOT NULL,
        kind TEXT NOT NULL,
        d    BLOB NOT NULL CHECK (length(d) = 32),
        n_b  BLOB NOT NULL CHECK (length(n_b) = 32),
        PRIMARY KEY (own, kind, d),
        UNIQUE (own, kind, n_b),
        FOREIGN KEY (own, kind) REFERENCES offline_set (own, kind) ON DELETE CASCADE
    ) WITHOUT ROWID;",
    // 5 -> 6: the device key (device_key.rs) seals what only this device needs, so nothing
    // derived from the account password does. Tables are rebuilt (SQLite cannot change a
    // CHECK), with foreign keys off during migrations (setup turns them on after).
    // - device_key_check: a tag under the device key, naming a key file that does not match.
    // - retained_secret (issue: secrets and the verified flag were in clear): format 1 rows
    //   seal [verified, created (8 octets, big-endian), secret] with associated data binding
    //   own, peer bare and peer full JID; rows copied here are format 0 (clear, as before)
    //   and are sealed by the first open, which has the key (sqlite.rs).
    // - identity_key, offline_set: format 2 rows are sealed under the device key (no salt, no
    //   costs); format 1 rows (Argon2id of a passphrase) are kept until the first unlock with
    //   that passphrase reseals them (identity.rs, offline.rs), and only with `legacy`, a
    //   device-key tag this step gives the rows it found (a format 1 row written later,
    //   sealed with a password the server knows, is refused).
    // - known_key.trust_seal: the nonce and tag of a device-key seal over the trusted flag,
    //   which a row marked trusted without it does not count as (keys.rs).
    // Everything this step finds is vouched for by the device key in the same transaction
    // (sqlite.rs, `upgrade_to_device_key`); nothing is afterwards.
    concat!(
        "CREATE TABLE device_key_check (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        nonce  BLOB    NOT NULL CHECK (length(nonce) = 24),
        sealed BLOB    NOT NULL
    );
    CREATE TABLE retained_secret_6 (
        own       TEXT    NOT NULL,
        peer_bare TEXT    NOT NULL,
        peer_full TEXT    NOT NULL,
        created   INTEGER NOT NULL CHECK (created >= 0),
        format    INTEGER NOT NULL CHECK (format IN (0, 1)),
        verified  INTEGER CHECK (verified IN (0, 1)),
        nonce     BLOB    CHECK (length(nonce) = 24),
        sealed    BLOB    NOT NULL,
        CHECK (format = 0 AND verified IS NOT NULL AND nonce IS NULL
            OR format = 1 AND verified IS NULL AND nonce IS NOT NULL),
        PRIMARY KEY (own, peer_bare, peer_full)
    ) WITHOUT ROWID;
    INSERT INTO retained_secret_6 (own, peer_bare, peer_full, created, format, verified, sealed)
        SELECT own, peer_bare, peer_full, created, 0, verified, secret FROM retained_secret;
    DROP TABLE retained_secret;
    ALTER TABLE retained_secret_6 RENAME TO retained_secret;
    CREATE TABLE identity_key_6 (
        own    TEXT    NOT NULL PRIMARY KEY,
",
        sealed_columns!(),
        "
    ) WITHOUT ROWID;
    INSERT INTO identity_key_6 (own, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
        SELECT own, format, salt, m_kib, t_cost, p_cost, nonce, sealed FROM identity_key;
    DROP TABLE identity_key;
    ALTER TABLE identity_key_6 RENAME TO identity_key;
    CREATE TABLE offline_set_6 (
        own     TEXT    NOT NULL,
        kind    TEXT    NOT NULL CHECK (kind IN ('subscriber', 'open')),
        expires INTEGER NOT NULL CHECK (expires >= 0),
",
        sealed_columns!(),
        ",
        PRIMARY KEY (own, kind)
    ) WITHOUT ROWID;
    INSERT INTO offline_set_6 (own, kind, expires, format, salt, m_kib, t_cost, p_cost, nonce,
        sealed) SELECT own, kind, expires, format, salt, m_kib, t_cost, p_cost, nonce, sealed
        FROM offline_set;
    DROP TABLE offline_set;
    ALTER TABLE offline_set_6 RENAME TO offline_set;
    ALTER TABLE known_key ADD COLUMN trust_seal BLOB CHECK (length(trust_seal) = 40);"
    ),
    // 6 -> 7: the local message history (issue 10), sealed under the device key
    // (messages.rs). `seq` numbers the messages of one (own, peer) conversation; the clear
    // columns are bound by the seal's associated data, the message id and body are sealed.
    "CREATE TABLE message (
        own       TEXT    NOT NULL,
        peer      TEXT    NOT NULL,
        seq       INTEGER NOT NULL CHECK (seq > 0),
        direction TEXT    NOT NULL CHECK (direction IN ('sent', 'received')),
        at        INTEGER NOT NULL CHECK (at >= 0),
        nonce     BLOB    NOT NULL CHECK (length(nonce) = 24),
        sealed    BLOB    NOT NULL,
        PRIMARY KEY (own, peer, seq)
    ) WITHOUT ROWID;",
    // 7 -> 8: a retained secret that matched one kept for another full JID of the contact
    // (`SrsStatus::MatchedOtherJid`, never verified) is recorded as such, not as `matched`.
    "CREATE TABLE session_8 (
        id         INTEGER PRIMARY KEY,
        own        TEXT    NOT NULL,
        peer_bare  TEXT    NOT NULL,
        peer_full  TEXT    NOT NULL,
        thread     TEXT    NOT NULL,
        role       TEXT    NOT NULL CHECK (role IN ('initiator', 'responder')),
        started    INTEGER NOT NULL CHECK (started >= 0),
        ended      INTEGER CHECK (ended >= 0),
        end_reason TEXT,
        sas        TEXT    NOT NULL,
        srs        TEXT    NOT NULL
                   CHECK (srs IN ('matched', 'matched-other-jid', 'none', 'mismatch')),
        verified   INTEGER NOT NULL CHECK (verified IN (0, 1))
    );
    INSERT INTO session_8 SELECT id, own, peer_bare, peer_full, thread, role, started, ended,
        end_reason, sas, srs, verified FROM session;
    DROP TABLE session;
    ALTER TABLE session_8 RENAME TO session;
    CREATE INDEX session_by_peer ON session (own, peer_bare, started);",
    // 8 -> 9: no table changes. The `legacy` tags of passphrase-sealed rows bind the whole
    // row instead of its nonce (upgrade::revouch_legacy, run in this step's transaction).
    "-- legacy tags of version 2",
    // 9 -> 10: whether the JID presented the key in a session (XEP-0116 §7.4: the keys it
    // "used before"), or only had it fetched for it (XEP-0189, a node its server can
    // write); only the former count as the keys it presented before (`trust::assess`).
    // The provenance of older rows is unknown: they count as presented, as they did.
    "ALTER TABLE key_sighting ADD COLUMN in_session INTEGER NOT NULL DEFAULT 1
        CHECK (in_session IN (0, 1));",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Why [`check_identity`] said no.
pub(crate) enum Identity {
    /// SQLite could not answer.
    Sql(rusqlite::Error),
    /// The file is not (or not yet) a store this build may open.
    Refused(StoreError),
}

impl From<rusqlite::Error> for Identity {
    fn from(e: rusqlite::Error) -> Self {
        Identity::Sql(e)
    }
}

/// Reads (never writes) what the file says it is: a fresh database, or an esession store
/// of a known version, whose `user_version` is returned. Another program's database and a
/// store from a newer build are refused.
pub(crate) fn check_identity(conn: &Connection, path: &Path) -> Result<usize, Identity> {
    let version = user_version(conn)?;
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    let fresh = version == 0 && app_id == 0 && objects == 0;
    if !fresh && app_id != APPLICATION_ID {
        return Err(Identity::Refused(refused(
            "opening the store",
            path,
            format_args!(
                "this is an SQLite database but not an esession store \
                 (application_id {app_id:#x}, user_version {version}); it was left untouched"
            ),
        )));
    }
    usize::try_from(version)
        .ok()
        .filter(|v| *v <= MIGRATIONS.len())
        .ok_or_else(|| {
            Identity::Refused(refused(
                "opening the store",
                path,
                format_args!(
                    "schema version {version} was written by a newer esession \
                     (this build knows up to {SCHEMA_VERSION}); refusing to open it, \
                     upgrade esession; it was left untouched"
                ),
            ))
        })
}

/// What a step does beyond its SQL, in its transaction: called with the version reached.
pub(crate) type AfterStep<'a> = &'a dyn Fn(&Connection, usize) -> Result<(), StoreError>;

/// Brings the database at `path` up to [`SCHEMA_VERSION`], or refuses it.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    after: AfterStep<'_>,
) -> Result<(), StoreError> {
    migrate_to(conn, path, MIGRATIONS.len(), after)
}

/// Applies the migration steps up to version `target` (tests use a lower target to build
/// old databases).
pub(crate) fn migrate_to(
    conn: &mut Connection,
    path: &Path,
    target: usize,
    after: AfterStep<'_>,
) -> Result<(), StoreError> {
    let op = "migrating the store schema";
    // IMMEDIATE: two processes opening the same fresh file must not both apply a step.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(op, path, e))?;
    loop {
        let version = check_identity(&tx, path).map_err(|e| match e {
            Identity::Sql(e) => failed(op, path, e),
            Identity::Refused(e) => e,
        })?;
        let step = MIGRATIONS.get(version).filter(|_| version < target);
        let Some(step) = step else {
            return tx.commit().map_err(|e| failed(op, path, e));
        };
        let step_op = format!(
            "migrating the store schema from version {version} to {}",
            version + 1
        );
        tx.execute_batch(step)
            .map_err(|e| failed(&step_op, path, e))?;
        // Steps that rebuild tables run with foreign keys off: check them by hand.
        let dangling: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(|e| failed(&step_op, path, e))?;
        if dangling != 0 {
            return Err(refused(
                &step_op,
                path,
                format_args!("{dangling} rows would break a foreign key; nothing was changed"),
            ));
        }
        after(&tx, version + 1)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| failed(&step_op, path, e))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64)
            .map_err(|e| failed(&step_op, path, e))?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use esession::store::SecretStore;

    /// No work beyond the SQL (the device key's part is tested in sqlite.rs).
    fn none(_: &Connection, _: usize) -> Result<(), StoreError> {
        Ok(())
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, &path, 1, &none).unwrap();
            assert_eq!(user_version(&conn).unwrap(), 1);
            conn.execute(
                "INSERT INTO retained_secret VALUES ('a@x', 'b@y', 'b@y/1', x'0102', 7, 1)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            user_version(&store.conn).unwrap(),
            i64::from(SCHEMA_VERSION)
        );
        let got = store.secrets_with("a@x", "b@y").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].secret.as_slice(), &[1, 2]);
        assert!(got[0].verified);
        assert!(store.sessions_with("a@x", "b@y").unwrap().is_empty());
    }

    #[test]
    fn upgrades_a_version_2_database_keeping_secrets_and_history() {
        use esession::store::KeyStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, &path, 2, &none).unwrap();
            assert_eq!(user_version(&conn).unwrap(), 2);
            conn.execute_batch(
                "INSERT INTO retained_secret VALUES ('a@x', 'b@y', 'b@y/1', x'0304', 7, 0);
                 INSERT INTO session (own, peer_bare, peer_full, thread, role, started, sas,
                                      srs, verified)
                 VALUES ('a@x', 'b@y', 'b@y/1', 't', 'initiator', 3, 'SAS12', 'none', 0);",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            user_version(&store.conn).unwrap(),
            i64::from(SCHEMA_VERSION)
        );
        assert_eq!(store.secrets_with("a@x", "b@y").unwrap().len(), 1);
        assert_eq!(store.sessions_with("a@x", "b@y").unwrap().len(), 1);
        assert!(store.all_keys("a@x").unwrap().is_empty());
        assert!(store.identity_key("a@x").unwrap().is_none());
        let kv = "<KeyValue/>";
        let fp = esession::crypto::sha256(&[kv.as_bytes()]);
        store
            .record_sighting(
                "a@x",
                &fp,
                kv,
                "b@y",
                esession::Timestamp(9),
                esession::trust::Provenance::Session,
            )
            .unwrap();
        assert_eq!(store.keys_of("a@x", "b@y").unwrap().len(), 1);
    }

    /// A database at `path` brought to schema `version` with the work a real store does
    /// after each step (the device key made, the store sealed at step 6).
    fn sealed_at_version(path: &std::path::Path, version: usize) -> Connection {
        let mut conn = Connection::open(path).unwrap();
        let device = crate::device_key::DeviceKey::for_database(&conn, path, 0).unwrap();
        migrate_to(
            &mut conn,
            path,
            version,
            &crate::upgrade::after_step(&device, path),
        )
        .unwrap();
        conn
    }

    #[test]
    fn version_8_records_a_secret_of_another_jid_and_keeps_version_7_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v7.db");
        let insert = |srs: &str| {
            format!(
                "INSERT INTO session (own, peer_bare, peer_full, thread, role, started, ended,
                                      end_reason, sas, srs, verified)
                 VALUES ('a@x', 'b@y', 'b@y/1', 't', 'responder', 3, 4, 'terminated', 'SAS12',
                         '{srs}', 1)"
            )
        };
        {
            // Sealed at step 6 as a real store is (its check value written then).
            let conn = sealed_at_version(&path, 7);
            conn.execute_batch(&insert("matched")).unwrap();
            // Version 7's CHECK knew no secret of another JID.
            assert!(conn.execute_batch(&insert("matched-other-jid")).is_err());
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let before = store.sessions_with("a@x", "b@y").unwrap();
        assert_eq!(before.len(), 1);
        let kept = &before[0];
        assert_eq!(
            (
                kept.role.as_str(),
                kept.started,
                kept.ended,
                kept.end_reason.as_deref(),
                kept.sas.as_str(),
                kept.srs.as_str(),
                kept.verified
            ),
            (
                "responder",
                esession::Timestamp(3),
                Some(esession::Timestamp(4)),
                Some("terminated"),
                "SAS12",
                "matched",
                true
            )
        );
        let mut other = kept.clone();
        other.srs = "matched-other-jid".into();
        other.verified = false;
        store.record_session(&other).unwrap();
        let after = store.sessions_with("a@x", "b@y").unwrap();
        assert_eq!(
            after.last().map(|r| r.srs.as_str()),
            Some("matched-other-jid")
        );
    }

    /// Version 10 records whether a JID presented a key in a session or only had it
    /// fetched for it (XEP-0116 §7.4, XEP-0189; found in review). Sightings of version 9
    /// count as presented, as they did: the JID is still alerted when it presents no key.
    #[test]
    fn version_10_keeps_version_9_sightings_as_presented_and_records_fetched_ones() {
        use esession::store::KeyStore;
        use esession::trust::{KeyAlert, Provenance};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v9.db");
        let kv = "<KeyValue/>";
        let fp = esession::crypto::sha256(&[kv.as_bytes()]);
        {
            let conn = sealed_at_version(&path, 9);
            conn.execute(
                "INSERT INTO known_key (own, fingerprint, key_value, trusted)
                 VALUES ('a@x', ?1, ?2, 0)",
                rusqlite::params![&fp[..], kv],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO key_sighting (own, fingerprint, jid, first_seen, last_seen)
                 VALUES ('a@x', ?1, 'b@y', 3, 4)",
                [&fp[..]],
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            user_version(&store.conn).unwrap(),
            i64::from(SCHEMA_VERSION)
        );
        let k = store.known_key("a@x", &fp).unwrap().unwrap();
        assert!(k.presented_in_session_by("b@y"), "{k:?}");
        assert_eq!(
            store.assess("a@x", None, "b@y").unwrap().alerts,
            vec![KeyAlert::KeyMissing { expected: vec![fp] }]
        );
        // A key fetched for another JID stays fetched in the file.
        store
            .record_sighting(
                "a@x",
                &fp,
                kv,
                "c@y",
                esession::Timestamp(9),
                Provenance::Fetched,
            )
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let k = store.known_key("a@x", &fp).unwrap().unwrap();
        assert!(
            k.seen_from("c@y") && !k.presented_in_session_by("c@y"),
            "{k:?}"
        );
        assert!(k.presented_in_session_by("b@y"), "{k:?}");
        assert!(store.assess("a@x", None, "c@y").unwrap().alerts.is_empty());
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        let path = store.path.clone();
        migrate(&mut store.conn, &path, &none).unwrap();
        assert_eq!(
            user_version(&store.conn).unwrap(),
            i64::from(SCHEMA_VERSION)
        );
    }

    #[test]
    fn a_failing_step_leaves_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, &path, 1, &none).unwrap();
        // Make step 2 fail: its table already exists.
        conn.execute_batch("CREATE TABLE session (x)").unwrap();
        let e = migrate(&mut conn, &path, &none).unwrap_err();
        assert!(e.to_string().contains("from version 1 to 2"), "{e}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert_eq!(user_version(&conn).unwrap(), 1);
    }
}
