//! The conformance suite every [`SecretStore`] must pass: the engine's [`MemoryStore`](super::MemoryStore)
//! and the embedded SQLite store run the same functions, so their semantics cannot drift
//! apart (feature `test-util`; not part of the stable API).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test code: a failed index is a failed check, as a failed unwrap is.
#![allow(clippy::indexing_slicing)]

use super::{RetainedSecret, SecretId, SecretStore};
use crate::time::Timestamp;
use crate::trust::{self, Provenance};
use zeroize::Zeroizing;

/// A retained secret of `a@x` with `b@y` at full JID `full`, every octet `byte`.
pub fn retained(full: &str, byte: u8) -> RetainedSecret {
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

/// Profile P7: `rotate` replaces the record of the same full JID and destroys the one used;
/// `mark_verified` and `forget` act on what is there; records are separated by own and peer
/// bare JID; `Debug` redacts the secret. `s` must start empty.
pub fn retained_secrets(s: &mut dyn SecretStore) {
    s.rotate(None, retained("b@y/1", 1)).unwrap();
    s.rotate(None, retained("b@y/2", 2)).unwrap();
    s.rotate(None, retained("b@y/1", 3)).unwrap();
    assert_eq!(s.secrets_with("a@x", "b@y").unwrap().len(), 2);
    let used = retained("b@y/2", 0).id;
    s.rotate(Some(&used), retained("b@y/1", 4)).unwrap();
    let left = s.secrets_with("a@x", "b@y").unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].secret.as_slice(), &[4u8; 32]);
    assert!(!left[0].verified);
    assert!(format!("{:?}", left[0]).contains("<redacted>"));
    assert!(s.mark_verified(&left[0].id).unwrap());
    assert!(s.secrets_with("a@x", "b@y").unwrap()[0].verified);
    assert!(!s.mark_verified(&retained("b@y/9", 0).id).unwrap());
    assert_eq!(s.forget("a@x", "b@y").unwrap(), 1);
    assert!(s.secrets_with("a@x", "b@y").unwrap().is_empty());

    s.rotate(None, retained("b@y/1", 1)).unwrap();
    let mut other = retained("c@z/1", 2);
    other.id.peer_bare = "c@z".into();
    s.rotate(None, other).unwrap();
    let mut foreign = retained("b@y/1", 3);
    foreign.id.own = "q@x".into();
    s.rotate(None, foreign).unwrap();
    assert_eq!(s.secrets_with("a@x", "b@y").unwrap().len(), 1);
    assert_eq!(s.secrets_with("a@x", "b@y").unwrap()[0].secret[0], 1);
    assert_eq!(s.all_secrets("a@x").unwrap().len(), 2);
    assert_eq!(s.all_secrets("q@x").unwrap().len(), 1);
    assert_eq!(s.forget("a@x", "nobody@y").unwrap(), 0);
}

/// XEP-0116 §7.3: identity keys are per account, never overwritten by
/// `set_identity_key`, replaced only by `replace_identity_key`, checked to be DER.
pub fn identity_keys(s: &mut dyn SecretStore) {
    assert!(s.identity_key("a@x").unwrap().is_none());
    let der = [0x30, 0x82, 0x01, 0x0a, 0xAB, 0xCD];
    s.set_identity_key("a@x", &der).unwrap();
    assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), &der);
    assert!(s.identity_key("c@x").unwrap().is_none());
    let e = s.set_identity_key("a@x", &[0x30, 1]).unwrap_err();
    assert!(e.what().contains("refusing to overwrite"), "{e}");
    assert_eq!(s.identity_key("a@x").unwrap().unwrap().as_slice(), &der);
    assert!(s.set_identity_key("c@x", b"not der").is_err());
    s.replace_identity_key("a@x", &[0x30, 1]).unwrap();
    assert_eq!(
        s.identity_key("a@x").unwrap().unwrap().as_slice(),
        &[0x30, 1]
    );
}

fn kv(n: u8) -> String {
    format!("<KeyValue><DSAKeyValue><Y>{n}</Y></DSAKeyValue></KeyValue>")
}

fn fp(n: u8) -> [u8; 32] {
    crate::crypto::sha256(&[kv(n).as_bytes()])
}

/// XEP-0116 §7.4: peer keys with their sightings, trust, petnames and forgetting, through
/// the shared rules of [`trust`]. `s` must start empty.
pub fn known_keys(s: &mut dyn SecretStore) {
    assert!(s.known_key("a@x", &fp(1)).unwrap().is_none());
    s.record_sighting(
        "a@x",
        &fp(1),
        &kv(1),
        "b@y",
        Timestamp(5),
        Provenance::Session,
    )
    .unwrap();
    s.record_sighting(
        "a@x",
        &fp(1),
        &kv(1),
        "c@y",
        Timestamp(6),
        Provenance::Session,
    )
    .unwrap();
    s.record_sighting(
        "a@x",
        &fp(2),
        &kv(2),
        "b@y",
        Timestamp(7),
        Provenance::Session,
    )
    .unwrap();
    s.record_sighting(
        "q@x",
        &fp(1),
        &kv(1),
        "b@y",
        Timestamp(8),
        Provenance::Session,
    )
    .unwrap();
    let k = s.known_key("a@x", &fp(1)).unwrap().unwrap();
    assert_eq!(k.key_value, kv(1));
    assert_eq!(k.jids.len(), 2);
    assert!(!k.trusted && k.petname.is_none());
    let mut both = vec![fp(1), fp(2)];
    both.sort();
    let of_b: Vec<_> = s
        .keys_of("a@x", "b@y")
        .unwrap()
        .iter()
        .map(|k| k.fingerprint)
        .collect();
    assert_eq!(of_b, both);
    assert_eq!(s.keys_of("a@x", "c@y").unwrap().len(), 1);
    assert_eq!(s.all_keys("a@x").unwrap().len(), 2);
    assert_eq!(s.all_keys("q@x").unwrap().len(), 1);
    // A mismatched fingerprint is refused and changes nothing.
    assert!(s
        .record_sighting(
            "a@x",
            &fp(1),
            &kv(2),
            "d@y",
            Timestamp(9),
            Provenance::Session
        )
        .is_err());
    assert!(s.keys_of("a@x", "d@y").unwrap().is_empty());

    assert!(s.set_trusted("a@x", &fp(1), true).unwrap());
    assert!(!s.set_trusted("a@x", &fp(3), true).unwrap());
    assert!(s.set_petname("a@x", &fp(1), Some("Bob")).unwrap());
    assert!(s.set_petname("a@x", &fp(1), Some("B\nob")).is_err());
    assert!(!s.set_petname("a@x", &fp(3), Some("Nobody")).unwrap());
    let k = s.known_key("a@x", &fp(1)).unwrap().unwrap();
    assert!(k.trusted);
    assert_eq!(k.petname.as_deref(), Some("Bob"));
    assert!(!s.known_key("q@x", &fp(1)).unwrap().unwrap().trusted);
    // A later sighting keeps trust and petname.
    s.record_sighting(
        "a@x",
        &fp(1),
        &kv(1),
        "b@y",
        Timestamp(20),
        Provenance::Session,
    )
    .unwrap();
    let k = s.known_key("a@x", &fp(1)).unwrap().unwrap();
    assert!(k.trusted && k.petname.is_some());
    assert_eq!(k.jids[0].last_seen, Timestamp(20));
    assert!(s.set_petname("a@x", &fp(1), None).unwrap());
    assert!(s
        .known_key("a@x", &fp(1))
        .unwrap()
        .unwrap()
        .petname
        .is_none());

    let a = s.assess("a@x", Some(fp(1)), "b@y").unwrap();
    assert!(a.trusted);
    assert_eq!(
        a.alerts,
        vec![trust::KeyAlert::SharedWith {
            other_jids: vec!["c@y".into()]
        }]
    );

    assert!(s.forget_key("a@x", &fp(1)).unwrap());
    assert!(!s.forget_key("a@x", &fp(1)).unwrap());
    assert!(s.known_key("a@x", &fp(1)).unwrap().is_none());
    assert!(s.known_key("q@x", &fp(1)).unwrap().is_some());
    let a = s.assess("a@x", None, "b@y").unwrap();
    assert_eq!(
        a.alerts,
        vec![trust::KeyAlert::KeyMissing {
            expected: vec![fp(2)]
        }]
    );
}

/// Each sighting keeps whether the JID presented the key in a session or only had it
/// fetched (XEP-0116 §7.4, XEP-0189): a session sighting sets it, a fetched one never
/// clears it, and only session sightings are the keys a JID presented before.
/// `s` must start empty.
pub fn sighting_provenance(s: &mut dyn SecretStore) {
    let record = |s: &mut dyn SecretStore, n: u8, jid: &str, t: u64, how: Provenance| {
        s.record_sighting("a@x", &fp(n), &kv(n), jid, Timestamp(t), how)
            .unwrap();
    };
    let in_session = |s: &dyn SecretStore, n: u8, jid: &str| {
        let k = s.known_key("a@x", &fp(n)).unwrap().unwrap();
        assert!(k.seen_from(jid), "{k:?}");
        k.presented_in_session_by(jid)
    };
    record(s, 1, "b@y", 5, Provenance::Fetched);
    assert!(!in_session(s, 1, "b@y"));
    record(s, 1, "b@y", 6, Provenance::Session);
    assert!(in_session(s, 1, "b@y"));
    record(s, 1, "b@y", 7, Provenance::Fetched);
    assert!(in_session(s, 1, "b@y"));
    record(s, 2, "b@y", 8, Provenance::Session);
    record(s, 2, "c@y", 9, Provenance::Fetched);
    assert!(in_session(s, 2, "b@y") && !in_session(s, 2, "c@y"));
    // c@y presented nothing in a session: nothing is missing.
    assert!(s.assess("a@x", None, "c@y").unwrap().alerts.is_empty());
    let mut both = vec![fp(1), fp(2)];
    both.sort();
    assert_eq!(
        s.assess("a@x", None, "b@y").unwrap().alerts,
        vec![trust::KeyAlert::KeyMissing { expected: both }]
    );
}

/// Every part of the suite, each on a fresh store from `fresh`.
pub fn all<S: SecretStore>(mut fresh: impl FnMut() -> S) {
    retained_secrets(&mut fresh());
    identity_keys(&mut fresh());
    known_keys(&mut fresh());
    sighting_provenance(&mut fresh());
}
