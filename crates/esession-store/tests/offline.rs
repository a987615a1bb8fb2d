//! Offline option sets in the SQLite store (XEP-0187, profile P11): the same semantics as
//! the engine's MemoryStore, sealed at rest under the device key, replay
//! records atomic and discarded with their set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use esession::offline::{AcceptedInit, OfflineSet, OfflineSetKind};
use esession::store::{MemoryStore, OfflineStore};
use esession::time::Timestamp;
use esession_store::SqliteStore;
use std::path::Path;
use zeroize::Zeroizing;

const NONCE: [u8; 32] = *b"N_A-of-the-set-0123456789abcdef!";
const X: [u8; 40] = [0x5A; 40];

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

fn set(kind: OfflineSetKind, nonce: &[u8], expires: u64) -> OfflineSet {
    OfflineSet {
        kind,
        nonce: Zeroizing::new(nonce.to_vec()),
        exponents: vec![
            (14, Zeroizing::new(X.to_vec())),
            (15, Zeroizing::new(vec![9; 48])),
        ],
        expires: Timestamp(expires),
        options: "<x xmlns=\"jabber:x:data\" type=\"form\"><field var=\"modp\"/></x>".into(),
        accepted: Vec::new(),
    }
}

/// The semantics every OfflineStore has.
fn semantics(s: &mut dyn OfflineStore) {
    let a = "alice@example.org";
    assert!(s.offline_sets(a).unwrap().is_empty());
    s.put_offline_set(a, &set(OfflineSetKind::Open, &NONCE, 100))
        .unwrap();
    s.put_offline_set(a, &set(OfflineSetKind::Subscriber, b"other", 50))
        .unwrap();
    s.put_offline_set("carol@example.org", &set(OfflineSetKind::Open, b"c", 7))
        .unwrap();
    let sets = s.offline_sets(a).unwrap();
    assert_eq!(
        sets,
        [
            set(OfflineSetKind::Subscriber, b"other", 50),
            set(OfflineSetKind::Open, &NONCE, 100)
        ]
    );
    let first = AcceptedInit::of(&[1, 2, 3], b"nb-1");
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Open, &NONCE, &first)
        .unwrap());
    // The same d, or the same N_B, is a replay; nothing more is recorded.
    for replay in [
        AcceptedInit::of(&[1, 2, 3], b"nb-2"),
        AcceptedInit::of(&[4], b"nb-1"),
    ] {
        assert!(!s
            .accept_offline_init(a, OfflineSetKind::Open, &NONCE, &replay)
            .unwrap());
    }
    let second = AcceptedInit::of(&[4], b"nb-2");
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Open, &NONCE, &second)
        .unwrap());
    let open = s.offline_sets(a).unwrap().pop().unwrap();
    let mut expected = vec![first, second];
    expected.sort();
    let mut got = open.accepted.clone();
    got.sort();
    assert_eq!(got, expected);
    // Another set's nonce, or a set of another kind, is not this set.
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Open, b"other", &second)
        .is_err());
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Subscriber, &NONCE, &second)
        .is_err());
    // Republishing discards the records.
    s.put_offline_set(a, &set(OfflineSetKind::Open, b"fresh", 200))
        .unwrap();
    let open = s.offline_sets(a).unwrap().pop().unwrap();
    assert!(open.accepted.is_empty() && open.nonce.as_slice() == b"fresh");
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Open, &NONCE, &first)
        .is_err());
    // Withdrawal.
    assert!(s.remove_offline_set(a, OfflineSetKind::Subscriber).unwrap());
    assert!(!s.remove_offline_set(a, OfflineSetKind::Subscriber).unwrap());
    assert_eq!(s.offline_sets(a).unwrap().len(), 1);
    assert_eq!(s.offline_sets("carol@example.org").unwrap().len(), 1);
}

#[test]
fn same_semantics_as_memory_store() {
    semantics(&mut MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    semantics(&mut open(&dir.path().join("s.db")));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_are_sealed_at_rest_under_the_device_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = open(&path);
        s.put_offline_set("a@x", &set(OfflineSetKind::Open, &NONCE, 100))
            .unwrap();
    }
    let mut raw = std::fs::read(&path).unwrap();
    for wal in ["s.db-wal"] {
        if let Ok(more) = std::fs::read(dir.path().join(wal)) {
            raw.extend(more);
        }
    }
    assert!(!contains(&raw, &NONCE), "N_A in clear on disk");
    assert!(!contains(&raw, &X), "an exponent in clear on disk");
    assert!(
        !contains(&raw, b"field var"),
        "the options in clear on disk"
    );

    assert_eq!(open(&path).offline_sets("a@x").unwrap().len(), 1);

    // The expiry is bound to the seal: a row with a later expiry does not open.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE offline_set SET expires = 999", [])
            .unwrap();
    }
    let e = open(&path).offline_sets("a@x").unwrap_err();
    assert!(
        e.to_string().contains("option set of a@x was altered"),
        "{e}"
    );
}

#[test]
fn purge_destroys_expired_sets_with_their_replay_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = open(&path);
    let a = "alice@example.org";
    s.put_offline_set(a, &set(OfflineSetKind::Open, &NONCE, 100))
        .unwrap();
    s.put_offline_set(a, &set(OfflineSetKind::Subscriber, b"other", 300))
        .unwrap();
    s.put_offline_set("carol@example.org", &set(OfflineSetKind::Open, b"c", 50))
        .unwrap();
    let init = AcceptedInit::of(&[1, 2, 3], b"nb-1");
    assert!(s
        .accept_offline_init(a, OfflineSetKind::Open, &NONCE, &init)
        .unwrap());
    let max_age = esession_store::DEFAULT_MAX_AGE_SECS;
    // Expired from `expires` on, whatever the account.
    assert_eq!(s.purge_expired(Timestamp(99), max_age).unwrap(), 1);
    assert_eq!(s.offline_sets(a).unwrap().len(), 2);
    assert!(s.offline_sets("carol@example.org").unwrap().is_empty());
    assert_eq!(s.purge_expired(Timestamp(100), max_age).unwrap(), 1);
    let left = s.offline_sets(a).unwrap();
    assert_eq!(left, [set(OfflineSetKind::Subscriber, b"other", 300)]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let records: i64 = conn
        .query_row("SELECT count(*) FROM offline_accepted", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records, 0, "the replay records went with their set");
}
