//! Full XEP-0116 in memory: the 3-message flow, public-key identities in both flows, every
//! cipher, hash and compression, and the trust alerts (XEP-0116 §4.2, §7.3–7.4, §8;
//! profile P8, P12).
use super::tests::{failed, Pair, ALICE, BOB, NOW};
use super::*;
use crate::compress::CompressAlg;
use crate::config::{Config, Flow, PubkeyMode};
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::{CipherAlg, HashAlg};
use crate::engine::tests::sid;
use crate::store::{KeyStore, MemoryStore};
use crate::trust::Provenance;

const RSA_A: &[u8] = include_bytes!("../../tests/keys/rsa2048.pk8.der");
const DSA_B: &[u8] = include_bytes!("../../tests/keys/dsa2048.pk8.der");

fn rsa() -> IdentityKey {
    IdentityKey::from_pkcs8_der(RSA_A).unwrap()
}

fn dsa() -> IdentityKey {
    IdentityKey::from_pkcs8_der(DSA_B).unwrap()
}

/// A second RSA key, generated once per test binary.
fn rsa_b() -> IdentityKey {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let der = KEY.get_or_init(|| {
        let mut rng = crate::random::SeededRandom::from_label("rsa-b");
        IdentityKey::generate_rsa(&mut rng, 2048)
            .unwrap()
            .to_pkcs8_der()
            .to_vec()
    });
    IdentityKey::from_pkcs8_der(der).unwrap()
}

/// A pair where Alice and Bob hold the given identity keys.
fn keyed(
    label: &str,
    a: Config,
    b: Config,
    ka: Option<IdentityKey>,
    kb: Option<IdentityKey>,
) -> Pair {
    let mut p = Pair::with(label, a, b, MemoryStore::new(), MemoryStore::new());
    p.alice.set_identity_key(ka);
    p.bob.set_identity_key(kb);
    p
}

fn three() -> Config {
    Config {
        flow: Flow::Three,
        ..Config::default()
    }
}

/// Sends one message each way and checks it arrives decrypted.
fn exchange(p: &mut Pair, thread: &str) {
    p.alice
        .send_message(&sid("bob@example.com", thread), "hello bob")
        .unwrap();
    p.run();
    match p.bob.poll_event() {
        Some(Event::Message {
            body, encrypted, ..
        }) => {
            assert_eq!(body.as_deref(), Some("hello bob"));
            assert!(encrypted);
        }
        other => panic!("expected a message, got {other:?}"),
    }
    p.bob
        .send_message(&sid(ALICE, thread), "hello alice")
        .unwrap();
    p.run();
    match p.alice.poll_event() {
        Some(Event::Message {
            body, encrypted, ..
        }) => {
            assert_eq!(body.as_deref(), Some("hello alice"));
            assert!(encrypted);
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Which negotiation wrappers crossed: 3 messages, no `<init/>`.
fn messages_on_wire(p: &Pair) -> usize {
    p.wire
        .iter()
        .filter(|(_, s)| s.contains("urn:xmpp:ssn"))
        .count()
}

#[test]
fn three_message_rsa_key_both_directions() {
    let mut p = keyed(
        "3msg-rsa",
        three(),
        Config::default(),
        Some(rsa()),
        Some(rsa()),
    );
    let (thread, a, b) = p.negotiate();
    assert_eq!(messages_on_wire(&p), 3);
    for info in [&a, &b] {
        assert_eq!(info.flow, Some(3));
        assert_eq!(info.sas, None, "no SAS in the 3-message flow (P12)");
        let key = info.peer_key.as_ref().unwrap();
        assert_eq!(key.fingerprint, rsa().public().fingerprint().to_b64());
        assert!(!key.trusted);
    }
    assert!(p
        .alice
        .verify_sas(&sid("bob@example.com", &thread), "aaaaa")
        .is_err());
    exchange(&mut p, &thread);
}

#[test]
fn three_message_hash_mode_needs_a_known_key() {
    // Bob requires Alice's fingerprint only: he must know her key already.
    let a = Config {
        present_pubkey: vec![PubkeyMode::Hash],
        ..three()
    };
    let b = Config::default();
    let mut p = keyed(
        "3msg-hash-unknown",
        a.clone(),
        b.clone(),
        Some(rsa()),
        Some(rsa_b()),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.bob);
    assert!(err.to_string().contains("not known"), "{err}");

    // After a `key` session Bob knows Alice's key; `hash` then works.
    let mut p = keyed(
        "3msg-hash-known",
        three(),
        b.clone(),
        Some(rsa()),
        Some(rsa_b()),
    );
    p.negotiate();
    let (sa, sb) = p.into_stores();
    let mut p = Pair::with("3msg-hash-known-2", a, b, sa, sb);
    p.alice.set_identity_key(Some(rsa()));
    p.bob.set_identity_key(Some(rsa_b()));
    let (thread, ia, ib) = p.negotiate();
    assert_eq!(
        ib.peer_key.unwrap().fingerprint,
        rsa().public().fingerprint().to_b64()
    );
    assert_eq!(
        ia.peer_key.unwrap().fingerprint,
        rsa_b().public().fingerprint().to_b64()
    );
    exchange(&mut p, &thread);
}

#[test]
fn dsa_identities_and_mixed_key_types_refused() {
    // Both DSA: fine.
    let mut p = keyed(
        "dsa-both",
        three(),
        Config::default(),
        Some(dsa()),
        Some(dsa()),
    );
    let (thread, a, _) = p.negotiate();
    assert_eq!(
        a.peer_key.unwrap().fingerprint,
        dsa().public().fingerprint().to_b64()
    );
    exchange(&mut p, &thread);
    // Profile P8: one sign_algs value per session, so RSA ↔ DSA keys cannot both sign.
    let mut p = keyed(
        "dsa-rsa",
        three(),
        Config::default(),
        Some(rsa()),
        Some(dsa()),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(matches!(p.alice.poll_event(), Some(Event::Failed { .. })));
}

#[test]
fn four_message_flow_with_keys_keeps_sas_and_retained_secrets() {
    let a = Config {
        present_pubkey: vec![PubkeyMode::Key],
        ..Config::default()
    };
    let b = Config {
        present_pubkey: vec![PubkeyMode::Hash, PubkeyMode::Key],
        accept_pubkey: vec![PubkeyMode::Key],
        ..Config::default()
    };
    let mut p = keyed("4msg-keys", a, b, Some(rsa()), Some(rsa()));
    let (thread, ia, ib) = p.negotiate();
    assert_eq!(ia.flow, Some(4));
    assert_eq!(ia.sas, ib.sas);
    assert!(ia.sas.is_some());
    assert!(ia.peer_key.is_some() && ib.peer_key.is_some());
    exchange(&mut p, &thread);
}

#[test]
fn three_message_without_a_key_cannot_start() {
    let mut p = keyed("3msg-nokey", three(), Config::default(), None, Some(rsa()));
    let err = p.alice.start_str("bob@example.com", NOW).unwrap_err();
    assert!(
        matches!(err, Error::Usage(Usage::NoIdentityKey(_))),
        "{err}"
    );
}

#[test]
fn responder_without_key_refuses_three_message() {
    let mut p = keyed(
        "3msg-bob-nokey",
        three(),
        Config::default(),
        Some(rsa()),
        None,
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.alice);
    assert!(err.to_string().contains("resp_pubkey"), "{err}");
}

#[test]
fn every_cipher_and_hash() {
    for cipher in CipherAlg::ALL {
        for hash in HashAlg::ALL {
            let a = Config {
                crypt: vec![cipher],
                hashes: vec![hash],
                allow_unencrypted: true,
                ..Config::default()
            };
            let b = Config {
                crypt: CipherAlg::ALL.to_vec(),
                hashes: HashAlg::ALL.to_vec(),
                allow_unencrypted: true,
                ..Config::default()
            };
            let label = format!("{}-{}", cipher.name(), hash.name());
            let mut p = Pair::with(&label, a, b, MemoryStore::new(), MemoryStore::new());
            let (thread, ia, _) = p.negotiate();
            assert_eq!(ia.crypt, Some(cipher.name()));
            assert_eq!(ia.hash, Some(hash.name()));
            exchange(&mut p, &thread);
            if cipher == CipherAlg::None {
                // XEP-0200 §6: `none` sends the plaintext, integrity only.
                assert!(p.wire.iter().any(|(_, s)| s.contains("<data")));
            } else {
                assert!(
                    !p.wire.iter().any(|(_, s)| s.contains("hello bob")),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn cipher_none_is_refused_unless_allowed() {
    let a = Config {
        crypt: vec![CipherAlg::None],
        allow_unencrypted: true,
        ..Config::default()
    };
    let mut p = Pair::with(
        "none-refused",
        a,
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.alice);
    assert!(err.to_string().contains("crypt_algs"), "{err}");
    // And the initiator does not offer it without the flag.
    let a = Config {
        crypt: vec![CipherAlg::None],
        ..Config::default()
    };
    let mut p = Pair::with(
        "none-not-offered",
        a,
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    assert!(p.alice.start_str("bob@example.com", NOW).is_err());
}

#[test]
fn zlib_when_both_offer_it() {
    let z = Config {
        compress: vec![CompressAlg::Zlib, CompressAlg::None],
        ..Config::default()
    };
    let mut p = Pair::with(
        "zlib",
        z.clone(),
        z.clone(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, ia, ib) = p.negotiate();
    assert_eq!(ia.compress, Some("zlib"));
    assert_eq!(ib.compress, Some("zlib"));
    for _ in 0..5 {
        exchange(&mut p, &thread);
    }
    // Profile P9: the text is compressed before encryption, so 4 KiB of one letter
    // travels in far fewer octets (and decompresses back exactly).
    let long = "z".repeat(4096);
    p.alice
        .send_message(&sid("bob@example.com", &thread), &long)
        .unwrap();
    p.run();
    let (_, last) = p.wire.last().unwrap();
    assert!(
        last.len() < 1500,
        "compressed stanza is {} octets",
        last.len()
    );
    match p.bob.poll_event() {
        Some(Event::Message { body, .. }) => assert_eq!(body.as_deref(), Some(long.as_str())),
        other => panic!("expected the long message, got {other:?}"),
    }
    // Only one side offers it: none.
    let mut p = Pair::with(
        "zlib-one",
        z,
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (_, ia, _) = p.negotiate();
    assert_eq!(ia.compress, Some("none"));
}

#[test]
fn simplified_profile_interoperates_with_the_full_one() {
    let mut p = Pair::with(
        "simplified",
        Config::simplified(),
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, ia, _) = p.negotiate();
    assert_eq!(ia.crypt, Some("aes128-ctr"));
    assert_eq!(ia.rekey_freq, Some(u32::MAX));
    exchange(&mut p, &thread);
    let mut p = Pair::with(
        "simplified-b",
        Config::default(),
        Config::simplified(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, _, ib) = p.negotiate();
    assert_eq!(ib.hash, Some("sha256"));
    exchange(&mut p, &thread);
}

#[test]
fn untrusted_key_refused_when_trust_is_required() {
    let b = Config {
        require_trusted_key: true,
        ..Config::default()
    };
    let mut p = keyed(
        "trust-required",
        three(),
        b.clone(),
        Some(rsa()),
        Some(rsa()),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(matches!(p.bob.poll_event(), Some(Event::Failed { .. })));
    // The refused key was remembered; once Bob marks it trusted, the same negotiation
    // succeeds.
    let fp = *rsa().public().fingerprint().as_bytes();
    let (sa, mut sb) = p.into_stores();
    assert!(sb.set_trusted("bob@example.com", &fp, true).unwrap());
    let mut p = Pair::with("trust-required-2", three(), b, sa, sb);
    p.alice.set_identity_key(Some(rsa()));
    p.bob.set_identity_key(Some(rsa()));
    let (_, _, ib) = p.negotiate();
    assert!(ib.peer_key.unwrap().trusted);
}

/// Found in review: a peer presenting no key (what a man in the middle may choose in the
/// 4-message flow; the 3-message flow always presents one, P12) passed
/// `require_trusted_key`, and a JID that presented a key before raised no alert when it
/// presented none (XEP-0116 §7.4: "or no key at all").
#[test]
fn no_key_is_refused_when_trust_is_required_and_alerted_after_a_key() {
    let presenting = |mode: PubkeyMode| Config {
        present_pubkey: vec![mode],
        ..Config::default()
    };
    let b = Config {
        require_trusted_key: true,
        ..Config::default()
    };
    let mut p = keyed(
        "no-key-required",
        presenting(PubkeyMode::None),
        b,
        None,
        Some(rsa_b()),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    match p.bob.poll_event() {
        Some(Event::Failed { error, .. }) => {
            assert!(error.to_string().contains("presented no key"), "{error}")
        }
        other => panic!("no key accepted: {other:?}"),
    }
    // Without the policy: Alice presents her key once, then none.
    let mut p = keyed(
        "key-then",
        presenting(PubkeyMode::Key),
        Config::default(),
        Some(rsa()),
        Some(rsa_b()),
    );
    let (_, _, ib) = p.negotiate();
    assert!(ib.peer_key.is_some());
    let (sa, sb) = p.into_stores();
    let none = presenting(PubkeyMode::None);
    let mut p = Pair::with("then-none", none, Config::default(), sa, sb);
    p.bob.set_identity_key(Some(rsa_b()));
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let events: Vec<Event> = std::iter::from_fn(|| p.bob.poll_event()).collect();
    assert!(
        matches!(
            &events[..],
            [
                Event::Established(i),
                Event::Warning {
                    detail: crate::Warning::PeerKeyMissing,
                    ..
                }
            ] if i.peer_key.is_none()
        ),
        "{events:?}"
    );
}

/// Found in review: the responder of the 4-message flow replaced the retained secret
/// before judging the initiator's key, so a key refused (here untrusted when trust is
/// required) still overwrote the secret shared with the real contact.
#[test]
fn a_refused_key_leaves_the_retained_secret_as_it_was() {
    let mut p = keyed(
        "secret-kept-1",
        Config {
            present_pubkey: vec![PubkeyMode::Key],
            ..Config::default()
        },
        Config::default(),
        Some(rsa()),
        Some(rsa_b()),
    );
    p.negotiate();
    let (_, sb) = p.into_stores();
    let before = sb.all_secrets("bob@example.com").unwrap();
    assert_eq!(before.len(), 1);
    let b = Config {
        require_trusted_key: true,
        ..Config::default()
    };
    // Alice presents a key Bob never trusted.
    let presenting = Config {
        present_pubkey: vec![PubkeyMode::Key],
        ..Config::default()
    };
    let mut p = Pair::with("secret-kept-2", presenting, b, MemoryStore::new(), sb);
    p.alice.set_identity_key(Some(dsa()));
    p.bob.set_identity_key(Some(rsa_b()));
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(matches!(p.bob.poll_event(), Some(Event::Failed { .. })));
    let (_, sb) = p.into_stores();
    let after = sb.all_secrets("bob@example.com").unwrap();
    assert_eq!(format!("{after:?}"), format!("{before:?}"));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].secret.as_slice(), before[0].secret.as_slice());
}

/// Found in review: a key refused under `require_trusted_key` was still recorded as
/// presented by that JID, so a key trusted for another contact (Mallory's) became trusted
/// for Alice at the second attempt, without a session ever established with it.
#[test]
fn a_key_trusted_for_another_contact_stays_refused_for_alice() {
    let k = rsa().public();
    let fp = *k.fingerprint().as_bytes();
    let mut sb = MemoryStore::new();
    let bob = "bob@example.com";
    sb.record_sighting(
        bob,
        &fp,
        &k.normalized(),
        "mallory@example.net",
        NOW,
        Provenance::Session,
    )
    .unwrap();
    assert!(sb.set_trusted(bob, &fp, true).unwrap());
    let b = Config {
        require_trusted_key: true,
        ..Config::default()
    };
    for attempt in 0..2 {
        let mut p = Pair::with(
            "trusted-elsewhere",
            three(),
            b.clone(),
            MemoryStore::new(),
            sb,
        );
        p.alice.set_identity_key(Some(rsa()));
        p.bob.set_identity_key(Some(rsa_b()));
        p.alice.start_str(bob, NOW).unwrap();
        p.run();
        match p.bob.poll_event() {
            Some(Event::Failed { error, .. }) => {
                assert!(
                    error.to_string().contains("not trusted"),
                    "{attempt}: {error}"
                )
            }
            other => panic!("attempt {attempt}: accepted: {other:?}"),
        }
        sb = p.into_stores().1;
    }
    let k = sb.known_key(bob, &fp).unwrap().unwrap();
    assert!(!k.seen_from("alice@example.org"));
}

#[test]
fn revoked_key_refused_whatever_the_policy() {
    // Decision "Published keys (XEP-0189)": Bob recorded a revocation of Alice's key; a
    // session presenting it fails even though trust is not required, and the key cannot
    // be trusted again.
    let fp = *rsa().public().fingerprint().as_bytes();
    let mut sb = MemoryStore::new();
    sb.record_revocation("bob@example.com", &fp, NOW).unwrap();
    assert!(sb.set_trusted("bob@example.com", &fp, true).is_err());
    let mut p = Pair::with("revoked", three(), three(), MemoryStore::new(), sb);
    p.alice.set_identity_key(Some(rsa()));
    p.bob.set_identity_key(Some(rsa_b()));
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    match p.bob.poll_event() {
        Some(Event::Failed { error, .. }) => {
            assert!(error.to_string().contains("revoked"), "{error}")
        }
        other => panic!("revoked key accepted: {other:?}"),
    }
}

#[test]
fn key_change_and_key_reuse_alerts() {
    // Bob sees Alice with the RSA key, then Alice's JID with the DSA key.
    let mut p = keyed(
        "alert-1",
        three(),
        Config::default(),
        Some(dsa()),
        Some(dsa()),
    );
    p.negotiate();
    let (sa, sb) = p.into_stores();
    let mut p = Pair::with("alert-2", three(), Config::default(), sa, sb);
    p.alice.set_identity_key(Some(dsa()));
    p.bob.set_identity_key(Some(dsa()));
    // Same key again: no alerts.
    let (_, _, ib) = p.negotiate();
    assert!(ib.peer_key.unwrap().alerts.is_empty());
    // Bob's own key was presented by another JID (alice presents Bob's key back).
    let (_, sb) = p.into_stores();
    let mut p = Pair::with(
        "alert-3",
        three(),
        Config::default(),
        MemoryStore::new(),
        sb,
    );
    p.alice.set_identity_key(Some(rsa()));
    p.bob.set_identity_key(Some(rsa()));
    let (_, _, ib) = p.negotiate();
    let alerts = ib.peer_key.unwrap().alerts;
    assert!(!alerts.is_empty(), "a changed key must alert");
    let _ = BOB;
}

#[test]
fn presence_and_iq_encryption_when_negotiated() {
    use crate::config::StanzaKind;
    use crate::xml::ns;
    let all = Config {
        stanzas: vec![StanzaKind::Message, StanzaKind::Presence, StanzaKind::Iq],
        ..Config::default()
    };
    let mut p = Pair::with(
        "presence-iq",
        all.clone(),
        all,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, ia, ib) = p.negotiate();
    assert_eq!(ia.stanzas.len(), 3);
    assert_eq!(ib.stanzas.len(), 3);
    let presence = Element::new("presence", ns::JABBER_CLIENT)
        .with_child(Element::new("status", ns::JABBER_CLIENT).with_text("secret status"));
    p.alice
        .send_stanza(&sid("bob@example.com", &thread), presence)
        .unwrap();
    let iq = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "get")
        .with_attr("id", "q1")
        .with_child(Element::new("query", "jabber:iq:version"));
    p.bob.send_stanza(&sid(ALICE, &thread), iq).unwrap();
    p.run();
    // Nothing readable crossed, and the clear fallback body rides on messages only.
    assert!(!p.wire.iter().any(|(_, s)| s.contains("secret status")));
    assert!(!p.wire.iter().any(|(_, s)| s.contains("jabber:iq:version")));
    match p.bob.poll_event() {
        Some(Event::Stanza {
            stanza, session, ..
        }) => {
            assert_eq!(session.thread(), thread);
            assert_eq!(stanza.name(), "presence");
            let status = stanza.child("status", ns::JABBER_CLIENT).unwrap();
            assert_eq!(status.text(), "secret status");
        }
        other => panic!("expected the decrypted presence, got {other:?}"),
    }
    match p.alice.poll_event() {
        Some(Event::Stanza { stanza, .. }) => {
            assert_eq!(stanza.name(), "iq");
            assert_eq!(stanza.attr("id"), Some("q1"));
            assert!(stanza.child("query", "jabber:iq:version").is_some());
        }
        other => panic!("expected the decrypted iq, got {other:?}"),
    }
    exchange(&mut p, &thread);
}

#[test]
fn stanza_kinds_not_negotiated_are_refused() {
    use crate::config::StanzaKind;
    use crate::xml::ns;
    // Only messages negotiated: sending a presence is a usage error, and a received
    // encrypted presence ends the session.
    let mut p = Pair::new("presence-refused");
    let (thread, ia, _) = p.negotiate();
    assert_eq!(ia.stanzas, vec![StanzaKind::Message]);
    let presence = Element::new("presence", ns::JABBER_CLIENT);
    assert!(p
        .alice
        .send_stanza(&sid("bob@example.com", &thread), presence)
        .is_err());
    p.alice
        .send_message(&sid("bob@example.com", &thread), "x")
        .unwrap();
    let mut msg = p.alice.poll_outgoing().unwrap();
    msg.set_attr("from", ALICE);
    let mut forged = Element::new("presence", ns::JABBER_CLIENT);
    for (k, v) in msg.attrs() {
        forged.set_attr(k.clone(), v.as_str());
    }
    for c in msg.children() {
        forged.push(c.clone());
    }
    p.bob.handle_stanza(forged, NOW);
    let failed =
        std::iter::from_fn(|| p.bob.poll_event()).any(|e| matches!(e, Event::Failed { .. }));
    assert!(
        failed,
        "an encrypted presence in a message-only session must fail it"
    );
}
