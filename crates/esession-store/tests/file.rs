//! The store as a file: persistence, permissions, migrations and refusing bad files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::store::{RetainedSecret, SecretId, SecretStore};
use esession::time::Timestamp;
use esession_store::{SessionRecord, SqliteStore, SCHEMA_VERSION};
use std::path::Path;
use zeroize::Zeroizing;

fn rs(full: &str, secret: &[u8]) -> RetainedSecret {
    RetainedSecret {
        id: SecretId {
            own: "a@x".into(),
            peer_bare: "b@y".into(),
            peer_full: full.into(),
        },
        secret: Zeroizing::new(secret.to_vec()),
        created: Timestamp(1_700_000_000),
        verified: false,
    }
}

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn secrets_and_history_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/store.db");
    let session = SessionRecord {
        own: "a@x".into(),
        peer_full: "b@y/phone".into(),
        thread: "t1".into(),
        role: "responder".into(),
        started: Timestamp(5),
        ended: None,
        end_reason: None,
        sas: "7QX2P".into(),
        srs: "mismatch".into(),
        verified: false,
    };
    let id = {
        let mut s = SqliteStore::open(&path).unwrap();
        s.rotate(None, rs("b@y/phone", &[9; 32])).unwrap();
        s.mark_verified(&rs("b@y/phone", &[]).id).unwrap();
        s.record_session(&session).unwrap()
    };
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.path(), path);
    let got = s.secrets_with("a@x", "b@y").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].secret.as_slice(), &[9; 32]);
    assert!(got[0].verified);
    assert_eq!(got[0].created, Timestamp(1_700_000_000));
    s.finish_session(id, Timestamp(9), "timeout").unwrap();
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    let hist = s.sessions_with("a@x", "b@y").unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].ended, Some(Timestamp(9)));
    assert_eq!(hist[0].sas, "7QX2P");
    s.check_integrity().unwrap();
}

#[test]
fn an_empty_file_is_migrated_to_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let mut s = SqliteStore::open(&path).unwrap();
    s.rotate(None, rs("b@y/1", &[1; 32])).unwrap();
    drop(s);
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));
    let journal: String = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn a_newer_schema_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    SqliteStore::open(&path)
        .unwrap()
        .rotate(None, rs("b@y/1", &[1; 32]))
        .unwrap();
    let future = i64::from(SCHEMA_VERSION) + 7;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = SqliteStore::open(&path).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains(&format!("schema version {future}")), "{e}");
    assert!(e.contains("newer esession"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(user_version(&path), future, "never downgraded");
}

#[test]
fn garbage_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u32 = 0x1234_5678;
    let random: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let cases: [(&str, Vec<u8>); 3] = [
        ("random.db", random),
        ("text.db", b"retained secrets? not in here\n".repeat(200)),
        ("short.db", b"SQLite format 3\0".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let e = SqliteStore::open(&path).unwrap_err().to_string();
        eprintln!("{e}");
        assert!(e.contains(&path.display().to_string()), "{name}: {e}");
        assert!(e.contains("opening the store"), "{name}: {e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} was modified");
    }
}

#[test]
fn a_corrupted_store_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    {
        let mut s = SqliteStore::open(&good).unwrap();
        for i in 0..200 {
            s.rotate(None, rs(&format!("b@y/{i}"), &[i as u8; 32]))
                .unwrap();
        }
    }
    let pristine = std::fs::read(&good).unwrap();
    let pages = pristine.len() / 4096;
    assert!(pages >= 5, "{pages}");
    // Scribble over a b-tree page (the header stays intact): the second page, then the last.
    for page in [1, pages - 1] {
        let path = dir.path().join(format!("corrupt-{page}.db"));
        let mut bytes = pristine.clone();
        for b in &mut bytes[page * 4096 + 8..page * 4096 + 600] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let e = SqliteStore::open(&path).unwrap_err().to_string();
        eprintln!("{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("corrupt"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = SqliteStore::open(&path).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(e.contains("not an esession store"), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "not switched to WAL, not migrated"
    );
    assert!(!dir.path().join("other.db-wal").exists());
}

#[test]
fn a_directory_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = SqliteStore::open(dir.path()).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(e.contains(&dir.path().display().to_string()), "{e}");
}

#[cfg(unix)]
#[test]
fn files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/store.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.rotate(None, rs("b@y/1", &[1; 32])).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    // SQLite gives its WAL and shared-memory files the database file's mode.
    for side in ["store.db-wal", "store.db-shm"] {
        let p = dir.path().join("new").join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    drop(s);

    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqliteStore::open(&loose).unwrap();
    assert_eq!(mode(&loose), 0o600, "an existing file is restricted");
}

/// `secure_delete` plus the checkpoint after a destroying commit: the bytes of a destroyed
/// retained secret's row (its seal: the secret itself is never on disk in clear) are no
/// longer in the database file or its WAL.
#[test]
fn destroyed_secrets_leave_no_bytes_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scrub.db");
    let on_disk = |needle: &[u8]| {
        ["scrub.db", "scrub.db-wal"].iter().any(|f| {
            std::fs::read(dir.path().join(f))
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
    };
    // The sealed bytes of the record of `full`, read as anyone with the file can.
    let sealed = |full: &str| -> Vec<u8> {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row(
            "SELECT sealed FROM retained_secret WHERE peer_full = ?1",
            [full],
            |r| r.get(0),
        )
        .unwrap()
    };
    let mut s = SqliteStore::open(&path).unwrap();
    s.rotate(None, rs("b@y/1", &[1; 32])).unwrap();
    s.rotate(None, rs("b@y/2", &[2; 32])).unwrap();
    let (old, kept) = (sealed("b@y/1"), sealed("b@y/2"));
    assert!(on_disk(&old));
    s.rotate(Some(&rs("b@y/1", &[]).id), rs("b@y/3", &[3; 32]))
        .unwrap();
    let new = sealed("b@y/3");
    assert!(!on_disk(&old), "a used secret stays readable on disk");
    assert!(on_disk(&kept) && on_disk(&new));
    // Replacing a record for the same full JID destroys the old bytes too.
    s.rotate(None, rs("b@y/3", &[4; 32])).unwrap();
    assert!(!on_disk(&new));
    let newer = sealed("b@y/3");
    s.forget("a@x", "b@y").unwrap();
    assert!(!on_disk(&newer) && !on_disk(&kept));
}
