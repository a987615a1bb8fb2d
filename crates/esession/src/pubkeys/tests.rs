//! In-memory tests of XEP-0189 payloads, revocations and attestations (profile P14).
use super::*;
use crate::crypto::pubkey::{IdentityKey, XMLDSIG_NS};
use crate::time::Timestamp;
use crate::xml::Element;

const RSA_A: &[u8] = include_bytes!("../../tests/keys/rsa2048.pk8.der");
const RSA_B: &[u8] = include_bytes!("../../tests/keys/rsa2048-b.pk8.der");
const DSA: &[u8] = include_bytes!("../../tests/keys/dsa2048.pk8.der");

fn key(der: &[u8]) -> IdentityKey {
    IdentityKey::from_pkcs8_der(der).unwrap()
}

/// 2026-11-26T15:23:46Z.
const AT: Timestamp = Timestamp(1_795_706_626);

/// Serialized and parsed back, as the network delivers it.
fn wire(el: &Element) -> Element {
    parse_item(&el.serialize_in("")).unwrap()
}

/// `el` with the text of child `name` replaced.
fn with_text(el: &Element, name: &str, text: &str) -> Element {
    let mut out = Element::new(el.name().to_owned(), el.ns().to_owned());
    for c in el.children() {
        if c.name() == name {
            out.push(Element::new(name.to_owned(), el.ns().to_owned()).with_text(text));
        } else {
            out.push(c.clone());
        }
    }
    out
}

fn without(el: &Element, name: &str) -> Element {
    let mut out = Element::new(el.name().to_owned(), el.ns().to_owned());
    for c in el.children().filter(|c| c.name() != name) {
        out.push(c.clone());
    }
    out
}

#[test]
fn pubkey_round_trip_rsa_and_dsa() {
    for der in [RSA_A, DSA] {
        let public = key(der).public();
        let el = wire(&pubkey_payload(&public));
        assert!(el.is("pubkey", NS_PUBKEY));
        assert_eq!(el.children().count(), 1, "profile P14: only the KeyValue");
        assert_eq!(parse_pubkey(&el).unwrap(), public);
    }
}

#[test]
fn pubkey_other_children_ignored_but_exactly_one_key_value() {
    let public = key(RSA_A).public();
    // XEP-0189 v0.14 children around the KeyValue are ignored (profile P14).
    let el = pubkey_payload(&public)
        .with_child(Element::new("jid", NS_PUBKEY).with_text("a@b"))
        .with_child(Element::new("print", NS_PUBKEY).with_text("xyz"));
    assert_eq!(parse_pubkey(&wire(&el)).unwrap(), public);

    let none = Element::new("pubkey", NS_PUBKEY);
    assert_eq!(parse_pubkey(&none), Err(PubkeyError::KeyValueCount(0)));
    let two = pubkey_payload(&public).with_child(public.key_value());
    assert_eq!(parse_pubkey(&two), Err(PubkeyError::KeyValueCount(2)));
    // A KeyValue in no namespace is not the xmldsig one.
    let bare = Element::new("pubkey", NS_PUBKEY).with_child(Element::new("KeyValue", ""));
    assert_eq!(parse_pubkey(&bare), Err(PubkeyError::KeyValueCount(0)));
    assert!(matches!(
        parse_pubkey(&Element::new("pubkey", "urn:xmpp:pubkey:1")),
        Err(PubkeyError::WrongElement { .. })
    ));
}

#[test]
fn pubkey_with_weak_or_broken_key_refused() {
    let kv = Element::new("KeyValue", XMLDSIG_NS).with_child(
        Element::new("RSAKeyValue", XMLDSIG_NS)
            .with_child(Element::new("Modulus", XMLDSIG_NS).with_text("AQAB"))
            .with_child(Element::new("Exponent", XMLDSIG_NS).with_text("AQAB")),
    );
    let el = Element::new("pubkey", NS_PUBKEY).with_child(kv);
    assert!(matches!(parse_pubkey(&el), Err(PubkeyError::Key(_))));
}

#[test]
fn items_are_bounded() {
    let huge = format!(
        "<pubkey xmlns='{NS_PUBKEY}'>{}</pubkey>",
        "x".repeat(70_000)
    );
    assert!(matches!(parse_item(&huge), Err(PubkeyError::Xml(_))));
    assert!(matches!(parse_item("<pubkey"), Err(PubkeyError::Xml(_))));
}

#[test]
fn revocation_round_trip() {
    for der in [RSA_A, DSA] {
        let id = key(der);
        let r = Revocation::create(&id, AT).unwrap();
        let el = wire(&r.to_element());
        assert!(el.is("revoke", NS_REVOKE));
        let names: Vec<&str> = el.children().map(Element::name).collect();
        assert_eq!(
            names,
            [
                "key",
                "keyprint",
                "signature",
                "revocationprint",
                "revocationtime"
            ]
        );
        let back = Revocation::parse(&el).unwrap();
        assert_eq!(back.fingerprint(), id.public().fingerprint());
        assert_eq!(back.revoked_at(), AT);
        assert_eq!(back.key(), &id.public());
        assert_eq!(
            el.child("revocationtime", NS_REVOKE).unwrap().text(),
            "2026-11-26T15:23:46Z"
        );
    }
}

#[test]
fn revocation_signed_octets_are_the_documented_ones() {
    // docs/decisions.md: B64(P4 KeyValue) | keyprint | revocationprint | revocationtime.
    let id = key(RSA_A);
    let el = Revocation::create(&id, AT).unwrap().to_element();
    let public = id.public();
    let fp = public.fingerprint().to_b64();
    let msg = format!(
        "{}{fp}{fp}2026-11-26T15:23:46Z",
        crate::b64::encode(public.normalized().as_bytes())
    );
    let sig = crate::b64::decode("sig", &el.child("signature", NS_REVOKE).unwrap().text()).unwrap();
    public
        .verify(public.sign_alg(), msg.as_bytes(), &sig)
        .unwrap();
}

#[test]
fn revocation_line_wrapped_and_old_element_name_accepted() {
    let el = Revocation::create(&key(RSA_A), AT).unwrap().to_element();
    let key_text = el.child("key", NS_REVOKE).unwrap().text();
    let wrapped: String = key_text
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n    ");
    let el = with_text(&el, "key", &format!("\n    {wrapped}\n  "));
    assert!(Revocation::parse(&wire(&el)).is_ok());
    let mut renamed = Element::new("revocation", NS_REVOKE);
    for c in el.children() {
        renamed.push(c.clone());
    }
    assert!(Revocation::parse(&renamed).is_ok());
}

#[test]
fn revocation_tampering_refused() {
    let a = key(RSA_A);
    let b = key(RSA_B);
    let el = Revocation::create(&a, AT).unwrap().to_element();
    let fp_b = b.public().fingerprint().to_b64();

    // A later time than signed.
    let later = with_text(&el, "revocationtime", "2026-11-26T15:23:47Z");
    assert!(matches!(
        Revocation::parse(&later),
        Err(PubkeyError::Signature(_))
    ));
    // Someone else's key with A's signature.
    let other = with_text(
        &el,
        "key",
        &crate::b64::encode(b.public().normalized().as_bytes()),
    );
    assert!(matches!(
        Revocation::parse(&other),
        Err(PubkeyError::FingerprintMismatch {
            child: "keyprint",
            ..
        })
    ));
    // Signed by another key: not honoured.
    let by_b = with_text(&el, "revocationprint", &fp_b);
    assert!(matches!(
        Revocation::parse(&by_b),
        Err(PubkeyError::FingerprintMismatch {
            child: "revocationprint",
            ..
        })
    ));
    // Missing, doubled, malformed children.
    for child in [
        "key",
        "keyprint",
        "signature",
        "revocationprint",
        "revocationtime",
    ] {
        assert_eq!(
            Revocation::parse(&without(&el, child)),
            Err(PubkeyError::Child {
                parent: "revoke",
                child
            }),
        );
    }
    let doubled = el
        .clone()
        .with_child(Element::new("keyprint", NS_REVOKE).with_text("x"));
    assert!(matches!(
        Revocation::parse(&doubled),
        Err(PubkeyError::Child { .. })
    ));
    for (child, text) in [
        ("revocationtime", "yesterday"),
        ("keyprint", "not base64!"),
        ("signature", "@@"),
        ("key", "AAAA"),
    ] {
        assert!(
            Revocation::parse(&with_text(&el, child, text)).is_err(),
            "{child}={text}"
        );
    }
    let mut sha1 = el.clone();
    for n in sha1.nodes_mut() {
        if let crate::xml::Node::Element(c) = n {
            if c.name() == "keyprint" {
                c.set_attr("algo", "sha-1");
            }
        }
    }
    assert!(matches!(
        Revocation::parse(&sha1),
        Err(PubkeyError::BadValue {
            child: "keyprint",
            ..
        })
    ));
    // A non-canonical KeyValue text inside <key/> (extra whitespace) is refused.
    let spaced = format!("{} ", a.public().normalized());
    let spaced = with_text(&el, "key", &crate::b64::encode(spaced.as_bytes()));
    assert!(Revocation::parse(&spaced).is_err());
}

#[test]
fn attestation_round_trip_and_verify() {
    let alice = key(RSA_A);
    let bob = key(RSA_B);
    let dsa = key(DSA);
    let att = Attestation::create(&bob, "bob@example.org", &alice.public(), AT).unwrap();
    let el = wire(&att.to_element());
    assert!(el.is("attest", NS_ATTEST));
    let names: Vec<&str> = el.children().map(Element::name).collect();
    assert_eq!(
        names,
        [
            "keyprint",
            "signature",
            "signerjid",
            "signerprint",
            "signtime"
        ]
    );
    let back = Attestation::parse(&el).unwrap();
    assert_eq!(back, att);
    assert_eq!(back.signer_jid(), "bob@example.org");
    assert_eq!(back.keyprint(), alice.public().fingerprint());
    assert_eq!(back.signer_print(), bob.public().fingerprint());
    assert_eq!(back.signed_at(), AT);
    back.verify(&alice.public(), &bob.public()).unwrap();

    // Wrong keys named.
    assert!(matches!(
        back.verify(&dsa.public(), &bob.public()),
        Err(PubkeyError::FingerprintMismatch {
            child: "keyprint",
            ..
        })
    ));
    assert!(matches!(
        back.verify(&alice.public(), &dsa.public()),
        Err(PubkeyError::FingerprintMismatch {
            child: "signerprint",
            ..
        })
    ));
    // The signer JID is signed.
    let moved = Attestation::parse(&with_text(&el, "signerjid", "mallory@example.org")).unwrap();
    assert!(matches!(
        moved.verify(&alice.public(), &bob.public()),
        Err(PubkeyError::Signature(_))
    ));
    // A DSA signer works the same way.
    let by_dsa = Attestation::create(&dsa, "d@example.org", &alice.public(), AT).unwrap();
    Attestation::parse(&wire(&by_dsa.to_element()))
        .unwrap()
        .verify(&alice.public(), &dsa.public())
        .unwrap();
}

#[test]
fn attestation_structure_checked() {
    let att = Attestation::create(&key(RSA_B), "bob@example.org", &key(RSA_A).public(), AT)
        .unwrap()
        .to_element();
    for child in [
        "keyprint",
        "signature",
        "signerjid",
        "signerprint",
        "signtime",
    ] {
        assert_eq!(
            Attestation::parse(&without(&att, child)),
            Err(PubkeyError::Child {
                parent: "attest",
                child
            })
        );
    }
    for jid in ["bob@example.org/res", "/"] {
        assert!(matches!(
            Attestation::parse(&with_text(&att, "signerjid", jid)),
            Err(PubkeyError::BadValue {
                child: "signerjid",
                ..
            })
        ));
    }
    let long = "a".repeat(4000);
    assert!(Attestation::parse(&with_text(&att, "signerjid", &long)).is_err());
    assert!(Attestation::create(&key(RSA_B), "", &key(RSA_A).public(), AT).is_err());
    assert!(matches!(
        Attestation::parse(&Element::new("attest", NS_REVOKE)),
        Err(PubkeyError::WrongElement { .. })
    ));
}

#[test]
fn direct_request_and_generating_signal() {
    let req = key_request();
    assert!(is_key_request(&wire(&req)));
    assert!(!is_key_request(&pubkey_payload(&key(RSA_A).public())));
    assert!(!is_key_request(&Element::new("pubkey", "urn:other")));
    assert!(is_generating(&wire(&generating())));
    assert!(!is_generating(&req));
    assert_eq!(FEATURES, [NS_PUBKEY, NS_REVOKE, NS_ATTEST]);
}

#[test]
fn absorb_records_sightings_and_revocations() {
    use crate::store::{KeyStore, MemoryStore};
    let own = "me@example.org";
    let peer = "alice@example.org";
    let a = key(RSA_A).public();
    let b = key(RSA_B).public();
    let mut store = MemoryStore::new();

    // First fetch: an untrusted first key.
    let got = absorb(&mut store, own, peer, std::slice::from_ref(&a), &[], AT).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].fingerprint, a.fingerprint().to_b64());
    assert!(!got[0].trusted && got[0].revoked_at.is_none());
    assert!(!got[0].alerts.is_empty(), "first key alert");
    assert!(store
        .known_key(own, a.fingerprint().as_bytes())
        .unwrap()
        .unwrap()
        .seen_from(peer));

    // Verified by the user: the next fetch reports it trusted.
    assert!(store
        .set_trusted(own, a.fingerprint().as_bytes(), true)
        .unwrap());
    let got = absorb(&mut store, own, peer, std::slice::from_ref(&a), &[], AT).unwrap();
    assert!(got[0].trusted);

    // Alice revokes it and publishes B: A is revoked and untrusted, B is untrusted (not a
    // changed key: Alice presented none in a session).
    let r = Revocation::create(&key(RSA_A), AT).unwrap();
    let got = absorb(
        &mut store,
        own,
        peer,
        &[a.clone(), b.clone()],
        &[r],
        AT.plus(5),
    )
    .unwrap();
    assert!(!got[0].trusted);
    assert_eq!(got[0].revoked_at, Some(AT));
    assert!(
        !store
            .known_key(own, a.fingerprint().as_bytes())
            .unwrap()
            .unwrap()
            .trusted
    );
    assert!(!got[1].trusted && got[1].revoked_at.is_none());
    assert!(store
        .set_trusted(own, a.fingerprint().as_bytes(), true)
        .is_err());
}

/// Found in review: a fetched key was recorded as the publisher's whoever presented it
/// before, so a server publishing a trusted contact's key in Alice's node made it Alice's
/// trusted key (offline options it signed accepted as hers).
#[test]
fn a_key_of_another_contact_published_for_alice_is_not_taken_as_hers() {
    use crate::store::{KeyStore, MemoryStore};
    use crate::trust::Provenance;
    let own = "me@example.org";
    let m = key(RSA_B).public();
    let fp = m.fingerprint();
    let mut store = MemoryStore::new();
    store
        .record_sighting(
            own,
            fp.as_bytes(),
            &m.normalized(),
            "mallory@example.net",
            AT,
            Provenance::Session,
        )
        .unwrap();
    assert!(store.set_trusted(own, fp.as_bytes(), true).unwrap());
    for _ in 0..2 {
        let got = absorb(
            &mut store,
            own,
            "alice@example.org",
            std::slice::from_ref(&m),
            &[],
            AT,
        )
        .unwrap();
        assert!(!got[0].trusted);
        assert!(
            got[0].alerts.iter().any(|a| a.contains("not taken as")),
            "{:?}",
            got[0].alerts
        );
    }
    let k = store.known_key(own, fp.as_bytes()).unwrap().unwrap();
    assert!(!k.seen_from("alice@example.org"));
    assert!(
        !store
            .assess(own, Some(*fp.as_bytes()), "alice@example.org")
            .unwrap()
            .trusted
    );
}

/// Found in review: a fetched key was recorded like a key presented in a session, so a key
/// Alice's server put in her node was, once fetched, among the keys she "used before"
/// (XEP-0116 §7.4): presented by the server in a negotiation, it raised no `KeyChanged`.
/// Only a session proves that Alice holds a key.
#[test]
fn a_key_fetched_for_alice_is_not_a_key_she_presented() {
    use crate::store::{KeyStore, MemoryStore};
    use crate::trust::{KeyAlert, Provenance};
    let own = "me@example.org";
    let peer = "alice@example.org";
    let a = key(RSA_A).public();
    let m = key(RSA_B).public();
    let (fa, fm) = (*a.fingerprint().as_bytes(), *m.fingerprint().as_bytes());
    let mut store = MemoryStore::new();

    // Only M fetched: no key is missing when Alice presents none, and her real key is a
    // first key, not a change.
    absorb(&mut store, own, peer, std::slice::from_ref(&m), &[], AT).unwrap();
    let got = store.assess(own, None, peer).unwrap();
    assert!(got.alerts.is_empty(), "{:?}", got.alerts);
    let got = store.assess(own, Some(fa), peer).unwrap();
    assert_eq!(got.alerts, vec![KeyAlert::FirstKey]);

    // Alice presents A in a session; M fetched again is a different key, and presented
    // in a negotiation (the server in the middle) it is a changed key.
    store
        .record_sighting(own, &fa, &a.normalized(), peer, AT, Provenance::Session)
        .unwrap();
    let got = absorb(&mut store, own, peer, std::slice::from_ref(&m), &[], AT).unwrap();
    assert!(
        got[0].alerts.iter().any(|x| x.contains("different key")),
        "{:?}",
        got[0].alerts
    );
    let got = store.assess(own, Some(fm), peer).unwrap();
    assert_eq!(
        got.alerts,
        vec![KeyAlert::KeyChanged { previous: vec![fa] }]
    );
    assert!(!got.trusted);
}

#[test]
fn direct_request_answered_with_our_key_or_item_not_found() {
    use crate::xml::ns;
    let public = key(RSA_A).public();
    let get = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "get")
        .with_attr("from", "bob@example.org/x")
        .with_attr("id", "k1")
        .with_child(key_request());
    let answer = key_request_answer(&get, Some(&public)).unwrap();
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(answer.attr("to"), Some("bob@example.org/x"));
    assert_eq!(answer.attr("id"), Some("k1"));
    let payload = answer.child("pubkey", NS_PUBKEY).unwrap();
    assert_eq!(parse_pubkey(&wire(payload)).unwrap(), public);

    let none = key_request_answer(&get, None).unwrap();
    assert_eq!(none.attr("type"), Some("error"));
    assert!(none.to_string().contains("item-not-found"));

    // Not a request: a set, a result, a pubkey with content, a message.
    let mut set = get.clone();
    set.set_attr("type", "set");
    assert!(key_request_answer(&set, Some(&public)).is_none());
    let full = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "get")
        .with_attr("from", "b@x/y")
        .with_attr("id", "2")
        .with_child(pubkey_payload(&public));
    assert!(key_request_answer(&full, Some(&public)).is_none());
    let msg = Element::new("message", ns::JABBER_CLIENT).with_child(key_request());
    assert!(key_request_answer(&msg, Some(&public)).is_none());
}
