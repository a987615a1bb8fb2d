//! [`SqliteStore`]: opening the file safely and the [`SecretStore`] implementation.
use crate::error::{failed, ts_from_sql, ts_to_sql};
use crate::identity::Sealer;
use crate::schema;
use esession::store::{RetainedSecret, SecretId, SecretStore, StoreError};
use esession::time::Timestamp;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Row, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// Profile P7: retained secrets expire after 90 days by default (for [`SqliteStore::purge_expired`]).
pub const DEFAULT_MAX_AGE_SECS: u64 = 90 * 24 * 60 * 60;

/// How long a writer waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SECRET_COLUMNS: &str = "own, peer_bare, peer_full, secret, created, verified";

/// Retained secrets, keys and session history in one SQLite database (see the crate docs).
///
/// One value owns one connection; it is `Send` but not `Sync`, like the
/// [`SecretStore`] trait asks. Several processes may open the same file: writers wait up to
/// five seconds for each other.
pub struct SqliteStore {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// Seals and opens identity keys (`identity.rs`).
    pub(crate) sealer: Sealer,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`, migrating its schema to
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    ///
    /// Missing parent directories are created (mode `0700` on unix) and a new file gets mode
    /// `0600`; an existing file readable by group or others is restricted to `0600`. The
    /// database runs in WAL mode with `synchronous=FULL`, a busy timeout, foreign keys and
    /// `secure_delete` on.
    ///
    /// # Errors
    /// A [`StoreError`] naming `path` when the file cannot be created or opened, is not an
    /// SQLite database, is corrupt (`PRAGMA quick_check` fails), belongs to another program,
    /// or was written by a newer schema version. A refused file is never modified.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        prepare_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| failed("opening the store", path, e))?;
        Self::setup(conn, path.to_path_buf(), true)
    }

    /// A store in memory only: its contents die with the value (for tests and ephemeral use).
    ///
    /// # Errors
    /// A [`StoreError`] if SQLite cannot allocate the database.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn =
            Connection::open_in_memory().map_err(|e| failed("opening the store", &path, e))?;
        Self::setup(conn, path, false)
    }

    /// The file this store lives in (`:memory:` for [`SqliteStore::open_in_memory`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn setup(conn: Connection, path: PathBuf, on_disk: bool) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| failed("setting the busy timeout", &path, e))?;
        // Read-only checks first: a file that is not a database, is another program's, comes
        // from a newer build or is corrupt is refused before anything is written to it.
        schema::check_identity(&conn, &path).map_err(|e| match e {
            schema::Identity::Sql(e) => not_a_store(&path, e),
            schema::Identity::Refused(e) => e,
        })?;
        run_check(&conn, &path, "quick_check")?;
        if on_disk {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(|e| failed("switching to WAL journal mode", &path, e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(failed(
                    "switching to WAL journal mode",
                    &path,
                    format_args!("SQLite kept journal mode {mode:?}"),
                ));
            }
        }
        for (pragma, value) in [
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
            ("secure_delete", "ON"),
        ] {
            conn.pragma_update(None, pragma, value)
                .map_err(|e| failed(&format!("setting PRAGMA {pragma}={value}"), &path, e))?;
        }
        let mut store = SqliteStore {
            conn,
            path,
            sealer: Sealer::default(),
        };
        schema::migrate(&mut store.conn, &store.path)?;
        Ok(store)
    }

    /// Runs SQLite's full `PRAGMA integrity_check` on the database.
    ///
    /// # Errors
    /// A [`StoreError`] listing the first problems SQLite found, or why the check could not
    /// run.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        run_check(&self.conn, &self.path, "integrity_check")
    }

    /// Destroys every retained secret created `max_age_secs` or more before `now`
    /// (profile P7: [`DEFAULT_MAX_AGE_SECS`] by default); returns how many. Session history
    /// is not touched.
    ///
    /// # Errors
    /// A [`StoreError`] if the deletion fails (nothing is deleted then).
    pub fn purge_expired(
        &mut self,
        now: Timestamp,
        max_age_secs: u64,
    ) -> Result<usize, StoreError> {
        let op = "purging expired retained secrets";
        // Expired iff created + max_age <= now, i.e. created <= now - max_age.
        let Some(cutoff) = now.0.checked_sub(max_age_secs) else {
            return Ok(0);
        };
        let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
        let n = self
            .conn
            .execute("DELETE FROM retained_secret WHERE created <= ?1", [cutoff])
            .map_err(|e| failed(op, &self.path, e))?;
        self.scrub_destroyed();
        Ok(n)
    }

    /// After a destroying commit: copy the WAL (whose frames still hold the old pages) into
    /// the database, where `secure_delete` has zeroed the deleted cells, and truncate it.
    /// Best effort: the change is already committed, and a reader holding an old snapshot
    /// only delays the scrub to a later checkpoint.
    pub(crate) fn scrub_destroyed(&self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }

    fn query_secrets(
        &self,
        op: &str,
        sql_where: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RetainedSecret>, StoreError> {
        let sql = format!(
            "SELECT {SECRET_COLUMNS} FROM retained_secret WHERE {sql_where} \
             ORDER BY own, peer_bare, peer_full"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| failed(op, &self.path, e))?;
        let rows = stmt
            .query_map(params, secret_from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| failed(op, &self.path, e))?;
        Ok(rows)
    }
}

fn secret_from_row(row: &Row<'_>) -> rusqlite::Result<RetainedSecret> {
    // Copied straight from SQLite's buffer into zeroizing memory.
    let secret = Zeroizing::new(row.get_ref(3)?.as_blob()?.to_vec());
    Ok(RetainedSecret {
        id: SecretId {
            own: row.get(0)?,
            peer_bare: row.get(1)?,
            peer_full: row.get(2)?,
        },
        secret,
        created: ts_from_sql(row, 4)?,
        verified: row.get(5)?,
    })
}

/// Runs `PRAGMA quick_check` or `integrity_check`; anything but a single "ok" is corruption.
fn run_check(conn: &Connection, path: &Path, pragma: &str) -> Result<(), StoreError> {
    let op = format!("checking the store (PRAGMA {pragma})");
    let lines = conn
        .prepare(&format!("PRAGMA {pragma}(20)"))
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| not_a_store(path, e))?;
    if lines.len() == 1 && lines.iter().all(|l| l == "ok") {
        Ok(())
    } else {
        Err(failed(
            &op,
            path,
            format_args!(
                "the database is corrupt ({}); it was left untouched",
                lines.join("; ")
            ),
        ))
    }
}

/// The error for a file SQLite cannot read as a database.
fn not_a_store(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => failed(
            "opening the store",
            path,
            format_args!("not an SQLite database, or a corrupt one ({e}); it was left untouched"),
        ),
        _ => failed("opening the store", path, e),
    }
}

/// Creates the parent directories and the file itself with owner-only permissions, so
/// SQLite never creates it with the umask's (its WAL and shared-memory files copy the
/// database file's mode).
fn prepare_file(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(parent)
            .map_err(|e| failed("creating the store's directory", parent, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .map_err(|e| failed("creating the store file", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file
            .metadata()
            .map_err(|e| failed("reading the store file's permissions", path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| failed("restricting the store file to mode 0600", path, e))?;
        }
    }
    drop(file);
    Ok(())
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
        let path = &self.path;
        let created = ts_to_sql(new.created, "creation time", op, path)?;
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
            "INSERT INTO retained_secret (own, peer_bare, peer_full, secret, created, verified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (own, peer_bare, peer_full) DO UPDATE SET
                 secret = excluded.secret, created = excluded.created,
                 verified = excluded.verified",
        )
        .and_then(|mut s| {
            s.execute(params![
                new.id.own,
                new.id.peer_bare,
                new.id.peer_full,
                &new.secret[..],
                created,
                new.verified
            ])
        })
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        self.scrub_destroyed();
        Ok(())
    }

    fn mark_verified(&mut self, id: &SecretId) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE retained_secret SET verified = 1
                 WHERE own = ?1 AND peer_bare = ?2 AND peer_full = ?3",
            )
            .and_then(|mut s| s.execute(&id_params(id)[..]))
            .map_err(|e| failed("marking a retained secret verified", &self.path, e))?;
        Ok(n > 0)
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
    use esession::store::MemoryStore;

    fn rs(full: &str, byte: u8) -> RetainedSecret {
        RetainedSecret {
            id: SecretId {
                own: "a@x".into(),
                peer_bare: "b@y".into(),
                peer_full: full.into(),
            },
            secret: Zeroizing::new(vec![byte; 32]),
            created: Timestamp(10),
            verified: false,
        }
    }

    /// The engine's MemoryStore test, verbatim, against a SqliteStore.
    fn memory_store_semantics(s: &mut dyn SecretStore) {
        s.rotate(None, rs("b@y/1", 1)).unwrap();
        s.rotate(None, rs("b@y/2", 2)).unwrap();
        s.rotate(None, rs("b@y/1", 3)).unwrap();
        assert_eq!(s.secrets_with("a@x", "b@y").unwrap().len(), 2);
        let used = rs("b@y/2", 0).id;
        s.rotate(Some(&used), rs("b@y/1", 4)).unwrap();
        let left = s.secrets_with("a@x", "b@y").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].secret.as_slice(), &[4u8; 32]);
        assert!(format!("{:?}", left[0]).contains("<redacted>"));
        assert!(s.mark_verified(&left[0].id).unwrap());
        assert_eq!(s.forget("a@x", "b@y").unwrap(), 1);
    }

    #[test]
    fn same_semantics_as_memory_store() {
        memory_store_semantics(&mut MemoryStore::new());
        memory_store_semantics(&mut SqliteStore::open_in_memory().unwrap());
        let dir = tempfile::tempdir().unwrap();
        memory_store_semantics(&mut SqliteStore::open(&dir.path().join("s.db")).unwrap());
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
    fn secrets_are_separated_by_own_and_peer() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.rotate(None, rs("b@y/1", 1)).unwrap();
        let mut other = rs("c@z/1", 2);
        other.id.peer_bare = "c@z".into();
        s.rotate(None, other).unwrap();
        let mut foreign = rs("b@y/1", 3);
        foreign.id.own = "q@x".into();
        s.rotate(None, foreign).unwrap();
        assert_eq!(s.secrets_with("a@x", "b@y").unwrap().len(), 1);
        assert_eq!(s.all_secrets("a@x").unwrap().len(), 2);
        assert_eq!(s.all_secrets("q@x").unwrap().len(), 1);
        assert!(!s.mark_verified(&rs("b@y/9", 0).id).unwrap());
        assert_eq!(s.forget("a@x", "nobody@y").unwrap(), 0);
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
        assert!(e.0.contains("rotating a retained secret"), "{e}");
        assert!(e.0.contains("too large"), "{e}");
        assert!(s.secrets_with("a@x", "b@y").unwrap().is_empty());
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.rotate(None, rs("b@y/1", 0xAB)).unwrap();
        assert_eq!(format!("{s:?}"), "SqliteStore { path: \":memory:\", .. }");
    }
}
