//! Identity keys sealed at rest, and known keys persisting in the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::crypto::sha256;
use esession::store::KeyStore;
use esession::time::Timestamp;
use esession::trust::{self, KeyAlert, Provenance};
use esession_store::SqliteStore;
use std::path::Path;

/// A stand-in for PKCS#8 DER: an outer SEQUENCE and recognizable, non-repeating content.
fn der() -> Vec<u8> {
    let mut d = vec![0x30, 0x82, 0x04, 0xbd];
    d.extend((0..1213u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    d
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

fn key_of(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".devicekey");
    name.into()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the store (database, WAL, shared memory) as one byte string.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    all
}

#[test]
fn round_trip_across_reopen_under_the_device_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = open(&path);
        assert!(s.identity_key("a@x").unwrap().is_none());
        s.set_identity_key("a@x", &der()).unwrap();
    }
    let s = open(&path);
    assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), der());
    assert!(s.identity_key("other@x").unwrap().is_none());
    let format: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT format FROM identity_key", [], |r| r.get(0))
        .unwrap();
    assert_eq!(format, 2);
}

#[test]
fn the_device_key_file_is_private_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let key = dir.path().join("s.db.devicekey");
    open(&path).set_identity_key("a@x", &der()).unwrap();
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let saved = std::fs::read(&key).unwrap();
    // Missing: an error naming the file, and no new key is made.
    std::fs::remove_file(&key).unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    assert!(e.to_string().contains("device key file is missing"), "{e}");
    assert!(!key.exists());
    // Another store's key: refused.
    let other = dir.path().join("o.db");
    open(&other);
    std::fs::copy(dir.path().join("o.db.devicekey"), &key).unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    assert!(e.to_string().contains("does not belong"), "{e}");
    std::fs::write(&key, &saved[..31]).unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    // Not a file of the key's length: refused before anything is read.
    std::fs::remove_file(&key).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", &key).unwrap();
        let e = SqliteStore::open(&path).unwrap_err();
        assert!(e.to_string().contains("not a file of 32 octets"), "{e}");
        std::fs::remove_file(&key).unwrap();
    }
    // Restored: everything opens again, and a key file others could read is made private.
    std::fs::write(&key, &saved).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open(&path));
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(
        open(&path).identity_key("a@x").unwrap().unwrap().as_slice(),
        der()
    );
}

/// Found in review: a sealed store whose check value was deleted was taken for an
/// interrupted upgrade ("remove this key file"), and without its key file it silently got
/// a new key, after which every sealed secret read as absent or altered.
#[test]
fn a_sealed_store_without_its_check_value_is_refused_with_or_without_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let key = key_of(&path);
    open(&path).set_identity_key("a@x", &der()).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM device_key_check", [])
        .unwrap();
    let e = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("lost the check value") && !e.contains("remove"),
        "{e}"
    );
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let e = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(e.contains("lost the check value"), "{e}");
    assert!(!key.exists(), "no new key");
    std::fs::write(&key, &saved).unwrap();
    assert!(SqliteStore::open(&path).is_err(), "still altered");
}

/// Found in review: two processes opening one fresh store at once could see each other's
/// migration half done (one transaction per step) and refuse the store.
#[test]
fn two_opens_of_one_fresh_store_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..40 {
        let path = dir.path().join(format!("s{round}.db"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let opens: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(drop)
                })
            })
            .collect();
        for o in opens {
            if let Err(e) = o.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}

#[test]
fn the_file_holds_no_plaintext_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path);
    s.set_identity_key("a@x", &der()).unwrap();
    // Checked while the store is open (the WAL holds the write) and after closing.
    for slice in [&der()[4..40], &der()[600..632], &der()[1180..]] {
        assert!(!contains(&all_bytes(dir.path()), slice));
    }
    drop(s);
    let bytes = all_bytes(dir.path());
    for slice in [&der()[4..40], &der()[600..632], &der()[1180..]] {
        assert!(!contains(&bytes, slice));
    }
    // Control: the same search finds the same octets stored in clear in an SQLite file,
    // so the test can fail.
    let plain = tempfile::tempdir().unwrap();
    let c = rusqlite::Connection::open(plain.path().join("plain.db")).unwrap();
    c.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
    c.execute("INSERT INTO t VALUES (?1)", [der()]).unwrap();
    drop(c);
    assert!(contains(&all_bytes(plain.path()), &der()[4..40]));
}

#[test]
fn any_altered_column_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    open(&path).set_identity_key("a@x", &der()).unwrap();
    let alterations = [
        "-- one bit of the sealed key flipped (done below, on the bytes)",
        "UPDATE identity_key SET sealed = substr(sealed, 1, length(sealed) - 1)",
        "UPDATE identity_key SET nonce = zeroblob(24)",
        // A row moved to another account: the own JID is the associated data.
        "UPDATE identity_key SET own = 'mallory@x'",
    ];
    for (i, sql) in alterations.iter().enumerate() {
        let copy = dir.path().join(format!("t{i}.db"));
        std::fs::copy(&path, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        if i == 0 {
            let mut sealed: Vec<u8> = conn
                .query_row("SELECT sealed FROM identity_key", [], |r| r.get(0))
                .unwrap();
            sealed[100] ^= 1;
            conn.execute("UPDATE identity_key SET sealed = ?1", [sealed])
                .unwrap();
        } else {
            conn.execute_batch(sql).unwrap();
        }
        drop(conn);
        std::fs::copy(dir.path().join("s.db.devicekey"), key_of(&copy)).unwrap();
        let who = if i == 3 { "mallory@x" } else { "a@x" };
        let e = open(&copy).identity_key(who).unwrap_err();
        assert!(e.to_string().contains("was altered"), "{sql}: {e}");
    }
}

#[test]
fn replace_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path);
    s.set_identity_key("a@x", &der()).unwrap();
    let e = s.set_identity_key("a@x", &[0x30, 1, 2]).unwrap_err();
    assert!(e.to_string().contains("replace_identity_key"), "{e}");
    assert!(s.set_identity_key("b@x", b"PEM, not DER").is_err());
    s.replace_identity_key("a@x", &[0x30, 1, 2]).unwrap();
    drop(s);
    assert_eq!(
        open(&path).identity_key("a@x").unwrap().unwrap().as_slice(),
        &[0x30, 1, 2]
    );
}

fn kv(n: u8) -> String {
    format!("<KeyValue><RSAKeyValue><Modulus>{n}</Modulus></RSAKeyValue></KeyValue>")
}

fn fp(n: u8) -> [u8; 32] {
    sha256(&[kv(n).as_bytes()])
}

#[test]
fn known_keys_persist_across_reopen_and_forget_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    {
        let mut s = open(&path);
        s.record_sighting(
            "a@x",
            &fp(1),
            &kv(1),
            "bob@y",
            Timestamp(10),
            Provenance::Session,
        )
        .unwrap();
        s.record_sighting(
            "a@x",
            &fp(1),
            &kv(1),
            "bob@work",
            Timestamp(20),
            Provenance::Session,
        )
        .unwrap();
        s.record_sighting(
            "a@x",
            &fp(2),
            &kv(2),
            "carol@z",
            Timestamp(30),
            Provenance::Session,
        )
        .unwrap();
        assert!(s.set_trusted("a@x", &fp(1), true).unwrap());
        assert!(s.set_petname("a@x", &fp(1), Some("Bob")).unwrap());
        assert!(s.set_petname("a@x", &fp(1), Some("Bob\u{202E}")).is_err());
    }
    let mut s = open(&path);
    let bob = s.known_key("a@x", &fp(1)).unwrap().unwrap();
    assert!(bob.trusted);
    assert_eq!(bob.petname.as_deref(), Some("Bob"));
    assert_eq!(bob.key_value, kv(1));
    let jids: Vec<_> = bob.jids.iter().map(|j| j.jid.as_str()).collect();
    assert_eq!(jids, ["bob@work", "bob@y"]);
    assert_eq!(bob.jids[1].first_seen, Timestamp(10));
    assert_eq!(trust::display_name(&bob, "bob@y"), "Bob (bob@y)");

    let a = s.assess("a@x", Some(fp(1)), "bob@y").unwrap();
    assert!(a.trusted);
    assert_eq!(
        a.alerts,
        vec![KeyAlert::SharedWith {
            other_jids: vec!["bob@work".into()]
        }]
    );
    let a = s.assess("a@x", Some(fp(2)), "bob@y").unwrap();
    assert!(!a.trusted);
    assert!(matches!(a.alerts[0], KeyAlert::KeyChanged { .. }));

    assert!(s.forget_key("a@x", &fp(1)).unwrap());
    assert!(!s.forget_key("a@x", &fp(1)).unwrap());
    drop(s);
    let s = open(&path);
    assert!(s.known_key("a@x", &fp(1)).unwrap().is_none());
    assert!(s.keys_of("a@x", "bob@y").unwrap().is_empty());
    assert_eq!(s.all_keys("a@x").unwrap().len(), 1);
    let orphans: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM key_sighting WHERE fingerprint = ?1",
            [&fp(1)[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "sightings go with their key");
    s.check_integrity().unwrap();
}
