//! Identity keys sealed at rest, and known keys persisting in the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::crypto::sha256;
use esession::store::{KeyStore, RetainedSecret, SecretId, SecretStore};
use esession::time::Timestamp;
use esession::trust::{self, KeyAlert};
use esession_store::{KdfParams, SqliteStore, IDENTITY_KDF};
use std::path::Path;
use zeroize::Zeroizing;

/// Cheap costs: the tests check the sealing, not Argon2's strength.
const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

/// A stand-in for PKCS#8 DER: an outer SEQUENCE and recognizable, non-repeating content.
fn der() -> Vec<u8> {
    let mut d = vec![0x30, 0x82, 0x04, 0xbd];
    d.extend((0..1213u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    d
}

fn pass(p: &str) -> Zeroizing<String> {
    Zeroizing::new(p.to_owned())
}

fn open(path: &Path, passphrase: Option<&str>) -> SqliteStore {
    let s = SqliteStore::open(path).unwrap().with_kdf_params(CHEAP);
    match passphrase {
        Some(p) => s.with_key_passphrase(pass(p)),
        None => s,
    }
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
fn round_trip_across_reopen_with_the_default_costs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = SqliteStore::open(&path)
            .unwrap()
            .with_key_passphrase(pass("correct horse"));
        assert!(s.identity_key("a@x").unwrap().is_none());
        s.set_identity_key("a@x", &der()).unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (m, t, p): (u32, u32, u32) = conn
        .query_row(
            "SELECT m_kib, t_cost, p_cost FROM identity_key WHERE own = 'a@x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        KdfParams {
            m_kib: m,
            t_cost: t,
            p_cost: p
        },
        IDENTITY_KDF
    );
    drop(conn);
    let s = SqliteStore::open(&path)
        .unwrap()
        .with_key_passphrase(pass("correct horse"));
    assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), der());
    assert!(s.identity_key("other@x").unwrap().is_none());
    assert!(!format!("{s:?}").contains("correct horse"));
}

#[test]
fn the_file_holds_no_plaintext_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path, Some("pw"));
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
    // Control: the same search finds the same octets stored in clear (as a retained secret,
    // which the store keeps unencrypted), so the test can fail.
    let plain = tempfile::tempdir().unwrap();
    let mut p = SqliteStore::open(&plain.path().join("plain.db")).unwrap();
    p.rotate(
        None,
        RetainedSecret {
            id: SecretId {
                own: "a@x".into(),
                peer_bare: "b@y".into(),
                peer_full: "b@y/r".into(),
            },
            secret: Zeroizing::new(der()),
            created: Timestamp(1),
            verified: false,
        },
    )
    .unwrap();
    assert!(contains(&all_bytes(plain.path()), &der()[4..40]));
}

#[test]
fn a_wrong_passphrase_is_an_error_and_keeps_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    open(&path, Some("right"))
        .set_identity_key("a@x", &der())
        .unwrap();
    let mut s = open(&path, Some("wrong"));
    let e = s.identity_key("a@x").unwrap_err();
    assert!(e.0.contains("identity key passphrase is wrong"), "{e}");
    assert!(e.0.contains(&path.display().to_string()), "{e}");
    // Never a silent new key: storing one is refused too.
    let e = s.set_identity_key("a@x", &[0x30, 0]).unwrap_err();
    assert!(e.0.contains("refusing to overwrite"), "{e}");
    drop(s);
    assert_eq!(
        open(&path, Some("right"))
            .identity_key("a@x")
            .unwrap()
            .unwrap()
            .as_slice(),
        der()
    );
}

#[test]
fn a_missing_passphrase_is_an_error_when_a_key_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path, None);
    // Nothing stored: nothing to open.
    assert!(s.identity_key("a@x").unwrap().is_none());
    let e = s.set_identity_key("a@x", &der()).unwrap_err();
    assert!(e.0.contains("no passphrase was given"), "{e}");
    drop(s);
    open(&path, Some("pw"))
        .set_identity_key("a@x", &der())
        .unwrap();
    let e = open(&path, None).identity_key("a@x").unwrap_err();
    assert!(e.0.contains("no passphrase was given"), "{e}");
    let e = open(&path, Some("")).identity_key("a@x").unwrap_err();
    assert!(e.0.contains("passphrase is empty"), "{e}");
}

#[test]
fn any_altered_column_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    open(&path, Some("pw"))
        .set_identity_key("a@x", &der())
        .unwrap();
    let alterations = [
        "-- one bit of the sealed key flipped (done below, on the bytes)",
        "UPDATE identity_key SET sealed = substr(sealed, 1, length(sealed) - 1)",
        "UPDATE identity_key SET nonce = zeroblob(24)",
        "UPDATE identity_key SET salt = zeroblob(16)",
        "UPDATE identity_key SET t_cost = 2",
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
        let who = if i == 5 { "mallory@x" } else { "a@x" };
        let e = open(&copy, Some("pw")).identity_key(who).unwrap_err();
        assert!(e.0.contains("passphrase is wrong"), "{sql}: {e}");
    }
}

#[test]
fn absurd_costs_in_a_row_are_refused_before_deriving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    open(&path, Some("pw"))
        .set_identity_key("a@x", &der())
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE identity_key SET m_kib = 4000000000", [])
        .unwrap();
    let e = open(&path, Some("pw")).identity_key("a@x").unwrap_err();
    assert!(e.0.contains("above the accepted"), "{e}");
}

#[test]
fn replace_and_change_passphrase_are_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path, Some("one"));
    s.set_identity_key("a@x", &der()).unwrap();
    let e = s.set_identity_key("a@x", &[0x30, 1, 2]).unwrap_err();
    assert!(e.0.contains("replace_identity_key"), "{e}");
    assert!(s.set_identity_key("b@x", b"PEM, not DER").is_err());
    s.replace_identity_key("a@x", &[0x30, 1, 2]).unwrap();
    assert_eq!(
        s.identity_key("a@x").unwrap().unwrap().as_slice(),
        &[0x30, 1, 2]
    );
    s.change_key_passphrase("a@x", pass("two")).unwrap();
    assert!(s.change_key_passphrase("nobody@x", pass("three")).is_err());
    drop(s);
    assert!(open(&path, Some("one")).identity_key("a@x").is_err());
    let mut s = open(&path, Some("two"));
    assert_eq!(
        s.identity_key("a@x").unwrap().unwrap().as_slice(),
        &[0x30, 1, 2]
    );
    // A failed change keeps the current passphrase working.
    drop(s);
    let mut wrong = open(&path, Some("nope"));
    assert!(wrong.change_key_passphrase("a@x", pass("x")).is_err());
    drop(wrong);
    s = open(&path, Some("two"));
    assert!(s.identity_key("a@x").unwrap().is_some());
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
        let mut s = open(&path, None);
        s.record_sighting("a@x", &fp(1), &kv(1), "bob@y", Timestamp(10))
            .unwrap();
        s.record_sighting("a@x", &fp(1), &kv(1), "bob@work", Timestamp(20))
            .unwrap();
        s.record_sighting("a@x", &fp(2), &kv(2), "carol@z", Timestamp(30))
            .unwrap();
        assert!(s.set_trusted("a@x", &fp(1), true).unwrap());
        assert!(s.set_petname("a@x", &fp(1), Some("Bob")).unwrap());
        assert!(s.set_petname("a@x", &fp(1), Some("Bob\u{202E}")).is_err());
    }
    let mut s = open(&path, None);
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
    let s = open(&path, None);
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
