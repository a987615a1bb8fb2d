//! [`SqliteStore`]: opening the file safely and the [`SecretStore`] implementation.
use crate::device_key::DeviceKey;
use crate::error::{failed, refused};
use crate::schema;
use esession::store::StoreError;
use esession::time::Timestamp;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Profile P7: retained secrets expire after 90 days by default (for [`SqliteStore::purge_expired`]).
pub const DEFAULT_MAX_AGE_SECS: u64 = 90 * 24 * 60 * 60;

/// How long a writer waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Retained secrets, keys and session history in one SQLite database (see the crate docs).
///
/// One value owns one connection; it is `Send` but not `Sync`, like the
/// [`SecretStore`](esession::store::SecretStore) trait asks. Several processes may open the
/// same file: writers wait up to five seconds for each other.
pub struct SqliteStore {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// Seals what only this device needs (`device_key.rs`).
    pub(crate) device: DeviceKey,
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
        let version = schema::check_identity(&conn, &path).map_err(|e| match e {
            schema::Identity::Sql(e) => not_a_store(&path, e),
            schema::Identity::Refused(e) => e,
        })?;
        run_check(&conn, &path, "quick_check")?;
        if on_disk {
            let mode = wal_mode(&conn, &path)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(refused(
                    "switching to WAL journal mode",
                    &path,
                    format_args!("SQLite kept journal mode {mode:?}"),
                ));
            }
        }
        for (pragma, value) in [("synchronous", "FULL"), ("secure_delete", "ON")] {
            pragma_on(&conn, &path, pragma, value)?;
        }
        let device = if on_disk {
            DeviceKey::for_database(&conn, &path, version)?
        } else {
            DeviceKey::random()
        };
        let mut conn = conn;
        // Migration steps that rebuild a table need foreign keys off (SQLite's procedure
        // for schema changes); they check the keys themselves.
        schema::migrate(
            &mut conn,
            &path,
            &crate::upgrade::after_step(&device, &path),
        )?;
        pragma_on(&conn, &path, "foreign_keys", "ON")?;
        Ok(SqliteStore { conn, path, device })
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
    /// (profile P7: [`DEFAULT_MAX_AGE_SECS`] by default) and every offline option set of
    /// any account expired at `now`, with its replay records (profile P11 "Expiry": every
    /// init for it is discarded, so neither its secrets nor its records serve any more;
    /// XEP-0187 §6.2, §6.4). Returns how many secrets and sets. Session history is not
    /// touched.
    ///
    /// # Errors
    /// A [`StoreError`] if the deletion fails (nothing is deleted then).
    pub fn purge_expired(
        &mut self,
        now: Timestamp,
        max_age_secs: u64,
    ) -> Result<usize, StoreError> {
        let op = "purging expired secrets";
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let n = purge_in(&tx, now, max_age_secs).map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
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
}

/// The deletions of [`SqliteStore::purge_expired`], in its transaction.
fn purge_in(tx: &Transaction<'_>, now: Timestamp, max_age_secs: u64) -> rusqlite::Result<usize> {
    let secrets = match now.0.checked_sub(max_age_secs) {
        // Expired iff created + max_age <= now, i.e. created <= now - max_age.
        Some(cutoff) => tx.execute(
            "DELETE FROM retained_secret WHERE created <= ?1",
            [sql_time(cutoff)],
        )?,
        None => 0,
    };
    // Profile P11 "Expiry": a set is expired from its `expires` on.
    let now = sql_time(now.0);
    tx.execute(
        "DELETE FROM offline_accepted WHERE (own, kind) IN
         (SELECT own, kind FROM offline_set WHERE expires <= ?1)",
        [now],
    )?;
    let sets = tx.execute("DELETE FROM offline_set WHERE expires <= ?1", [now])?;
    Ok(secrets + sets)
}

/// Seconds as an SQL integer; past `i64::MAX` (never stored), the largest.
fn sql_time(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Switches the database to WAL journal mode; returns the mode SQLite kept. The switch
/// needs the database to itself, and SQLite reports a busy database at once rather than
/// through the busy timeout, so it is retried until [`BUSY_TIMEOUT`] (found in review:
/// another process opening the same fresh store at the same moment made it fail).
fn wal_mode(conn: &Connection, path: &Path) -> Result<String, StoreError> {
    let step = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && waited < BUSY_TIMEOUT =>
            {
                std::thread::sleep(step);
                waited += step;
            }
            r => return r.map_err(|e| failed("switching to WAL journal mode", path, e)),
        }
    }
}

fn pragma_on(conn: &Connection, path: &Path, pragma: &str, value: &str) -> Result<(), StoreError> {
    conn.pragma_update(None, pragma, value)
        .map_err(|e| failed(&format!("setting PRAGMA {pragma}={value}"), path, e))
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
        Err(refused(
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
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => refused(
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
    crate::private_file::owner_only(&file, path, "the store file")
}
