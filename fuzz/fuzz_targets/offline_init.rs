//! XEP-0187 offline sessions (profile P11), both ends, from states captured once per
//! process and copied per input: Alice (RSA identity key) has published an option set;
//! Bob (another RSA identity key, Alice's key trusted) started an offline session from it with
//! the message "first", sent "second" and terminated. Byte 0 picks the side:
//!
//! * even: Alice, holding her set, is fed ops: `k < 0x80` Bob's captured stanza `k % 3`
//!   (the `<init/>` with "first", "second", the terminate) with a count byte `n % 8` and
//!   `n` mutations of 4 bytes (see `mutate`); `k >= 0x80` raw XML (a little-endian u16
//!   length, then the text);
//! * odd: Bob starts an offline session from Alice's published options `<x/>`, mutated
//!   by the rest of the input (4-byte ops of `mutate`).
//!
//! Invariants: no panic; no stanza leaves in clear with a `<body/>` other than the
//! fallback; Alice delivers no encrypted text but Bob's two, each at most once (profile
//! P11 replay records), and the captured stanzas delivered unchanged and in order are
//! delivered with their texts; options Bob accepts produce a stanza with an `<init/>`.
#![no_main]
use esession::xml::{ns, parse_element, Limits};
use esession::{BareJid, Element, IdentityKey, KeyStore, OfflineSetKind, Timestamp};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;

const RSA_ALICE: &[u8] = include_bytes!("../../crates/esession/tests/keys/rsa2048.pk8.der");
/// RSA for Bob too: verifying a DSA signature (and checking its domain) costs two
/// 2048-bit exponentiations per input; the DSA path is covered by the unit tests.
const RSA_BOB: &[u8] = include_bytes!("../../crates/esession/tests/keys/rsa2048-b.pk8.der");
/// One day after `NOW`.
const EXPIRES: Timestamp = Timestamp(NOW.0 + 86_400);
const TEXTS: [&str; 2] = ["first", "second"];

struct Offline {
    /// Alice holding her published set.
    alice: Snap,
    /// Bob before starting, Alice's key trusted.
    bob: Snap,
    /// The published options.
    options: String,
    /// Bob's stanzas as delivered (`from` stamped): init + "first", "second", terminate.
    stanzas: Vec<String>,
    parsed: Vec<Element>,
}

fn with_key(own: &str, label: &str, der: &[u8]) -> Snap {
    let mut s = Snap::new(own, config(), label);
    s.engine
        .set_identity_key(Some(IdentityKey::from_pkcs8_der(der).expect("test key")));
    s
}

fn alice_bare() -> BareJid {
    BareJid::new("alice@example.org").expect("a JID")
}

fn captured() -> Offline {
    let mut alice = with_key(ALICE, "fuzz/offline/alice", RSA_ALICE);
    let x = alice
        .engine
        .publish_offline(OfflineSetKind::Subscriber, EXPIRES, None, NOW)
        .expect("publish");
    let mut bob = with_key(BOB, "fuzz/offline/bob", RSA_BOB);
    let public = IdentityKey::from_pkcs8_der(RSA_ALICE)
        .expect("key")
        .public();
    let fp = *public.fingerprint().as_bytes();
    let store = bob.engine.store_mut();
    store
        .record_sighting(
            BOB_BARE,
            &fp,
            &public.normalized(),
            "alice@example.org",
            NOW,
        )
        .expect("sighting");
    store.set_trusted(BOB_BARE, &fp, true).expect("trust");
    let mut sender = bob.copy();
    let body = Element::new("body", ns::JABBER_CLIENT).with_text(TEXTS[0]);
    let id = sender
        .engine
        .start_offline(&alice_bare(), &x, vec![body], NOW)
        .expect("start_offline");
    sender.engine.send_message(&id, TEXTS[1]).expect("second");
    sender.engine.terminate(&id, NOW).expect("terminate");
    let stanzas: Vec<String> = std::iter::from_fn(|| sender.engine.poll_outgoing())
        .map(|mut s| {
            s.set_attr("from", BOB);
            s.to_string()
        })
        .collect();
    assert_eq!(stanzas.len(), 3, "init, second, terminate");
    let parsed = stanzas.iter().map(|s| parse(s)).collect();
    check_outgoing(&mut alice.engine);
    Offline {
        alice,
        bob,
        options: x.to_string(),
        stanzas,
        parsed,
    }
}

thread_local! {
    static OFFLINE: Offline = captured();
}

fn alice_side(off: &Offline, mut rest: &[u8]) {
    let limits = Limits::default();
    let mut alice = off.alice.copy();
    let mut seen = [0usize; 2];
    // Index of the next captured stanza while the input replays them unchanged in order.
    let mut in_order = Some(0usize);
    let mut ops = 0;
    while let Some((&k, tail)) = rest.split_first() {
        rest = tail;
        ops += 1;
        if ops > 32 {
            break;
        }
        let (stanza, expect) = if k < 0x80 {
            let i = k as usize % off.stanzas.len();
            let mutations = split_mutations(&mut rest);
            let unchanged = mutations.is_empty();
            let expect = match in_order {
                Some(j) if unchanged && i == j => {
                    in_order = Some(j + 1);
                    TEXTS.get(i).copied()
                }
                _ => {
                    in_order = None;
                    None
                }
            };
            let stanza = if unchanged {
                Some(off.parsed[i].clone())
            } else {
                let bytes = mutate(&off.stanzas[i], mutations);
                parse_element(&String::from_utf8_lossy(&bytes), &limits).ok()
            };
            (stanza, expect)
        } else {
            in_order = None;
            let xml = split_raw(&mut rest);
            let text = String::from_utf8_lossy(xml);
            (parse_element(&text, &limits).ok(), None)
        };
        let Some(stanza) = stanza else {
            continue;
        };
        alice.refill();
        alice.engine.handle_stanza(stanza, NOW);
        check_outgoing(&mut alice.engine);
        let got = encrypted_texts(&mut alice.engine);
        for body in &got {
            let i = TEXTS
                .iter()
                .position(|t| body.as_deref() == Some(*t))
                .unwrap_or_else(|| panic!("Alice delivered text Bob never sent: {body:?}"));
            seen[i] += 1;
            assert!(seen[i] <= 1, "{:?} delivered twice (replay)", TEXTS[i]);
        }
        if let Some(text) = expect {
            assert_eq!(got, [Some(text.to_owned())], "an unchanged stanza in order");
        }
    }
}

fn bob_side(off: &Offline, ops: &[u8]) {
    let bytes = mutate(&off.options, ops);
    let Ok(options) = parse_element(&String::from_utf8_lossy(&bytes), &Limits::default()) else {
        return;
    };
    let mut bob = off.bob.copy();
    let body = Element::new("body", ns::JABBER_CLIENT).with_text(TEXTS[0]);
    if bob
        .engine
        .start_offline(&alice_bare(), &options, vec![body], NOW)
        .is_ok()
    {
        let stanza = bob
            .engine
            .poll_outgoing()
            .expect("an accepted start queues a stanza");
        check_no_clear_body(&stanza);
        assert!(
            stanza.child("init", ns::ESESSION_INIT).is_some(),
            "the first offline stanza carries <init/>: {stanza}"
        );
    }
    check_outgoing(&mut bob.engine);
}

fuzz_target!(|data: &[u8]| {
    let Some((&side, rest)) = data.split_first() else {
        return;
    };
    OFFLINE.with(|off| {
        if side % 2 == 0 {
            alice_side(off, rest);
        } else {
            bob_side(off, rest);
        }
    });
});
