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
//!
//! Alice's state after every second op of an input is kept (`Checkpoints`): an input that
//! starts with the same bytes as one run before resumes from a copy of it.
#![no_main]
use esession::trust::Provenance;
use esession::xml::{ns, parse_element, Limits};
use esession::{BareJid, Element, IdentityKey, KeyStore, OfflineSetKind, Timestamp};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

const RSA_ALICE: &[u8] = include_bytes!("../../crates/esession/tests/keys/rsa2048.pk8.der");
/// RSA for Bob too: verifying a DSA signature (and checking its domain) costs two
/// 2048-bit exponentiations per input; the DSA path is covered by the unit tests.
const RSA_BOB: &[u8] = include_bytes!("../../crates/esession/tests/keys/rsa2048-b.pk8.der");
/// One day after `NOW`.
const EXPIRES: Timestamp = Timestamp(NOW.0 + 86_400);
const TEXTS: [&str; 2] = ["first", "second"];
/// Most ops of Alice's side per input.
const MAX_OPS: usize = 32;
/// Most states of Alice kept after prefixes of inputs.
const CHECKPOINTS: usize = 256;
/// A state is kept after every this many ops.
const EVERY: usize = 2;

struct Offline {
    /// Alice holding her published set.
    alice: Snap,
    /// Bob before starting, Alice's key trusted.
    bob: Snap,
    /// The published options.
    options: String,
    /// Where `mutate` aims in the options and in each of Bob's stanzas.
    options_targets: Targets,
    targets: Vec<Targets>,
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
            Provenance::Session,
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
    let targets = stanzas.iter().map(|s| Targets::of(s)).collect();
    let options = x.to_string();
    check_outgoing(&mut alice.engine);
    Offline {
        alice,
        bob,
        options_targets: Targets::of(&options),
        options,
        stanzas,
        targets,
        parsed,
    }
}

thread_local! {
    static OFFLINE: Offline = captured();
    static KEPT: RefCell<Checkpoints<Receiver>> = RefCell::new(Checkpoints::new(CHECKPOINTS, EVERY));
}

/// One op of Alice's side: Bob's captured stanza `i` with mutations, or raw XML.
enum Op<'a> {
    Captured { i: usize, mutations: &'a [u8] },
    Raw(&'a [u8]),
}

/// The ops of `rest` (at most [`MAX_OPS`]) and where each ends in `data` (of which
/// `rest` is the tail).
fn decode<'a>(data: &[u8], mut rest: &'a [u8], stanzas: usize) -> (Vec<Op<'a>>, Vec<usize>) {
    let mut ops = Vec::new();
    let mut ends = Vec::new();
    while let Some((&k, tail)) = rest.split_first() {
        if ops.len() == MAX_OPS {
            break;
        }
        rest = tail;
        ops.push(if k < 0x80 {
            Op::Captured {
                i: k as usize % stanzas,
                mutations: split_mutations(&mut rest),
            }
        } else {
            Op::Raw(split_raw(&mut rest))
        });
        ends.push(data.len() - rest.len());
    }
    (ops, ends)
}

/// Alice and what she has delivered so far.
struct Receiver {
    alice: Snap,
    seen: [usize; 2],
    /// Index of the next captured stanza while the input replays them unchanged in order.
    in_order: Option<usize>,
}

impl Resumable for Receiver {
    fn copy(&self) -> Receiver {
        Receiver {
            alice: self.alice.copy(),
            seen: self.seen,
            in_order: self.in_order,
        }
    }
}

fn apply(off: &Offline, r: &mut Receiver, op: &Op<'_>) {
    let (stanza, expect) = match *op {
        Op::Captured { i, mutations } => {
            let unchanged = mutations.is_empty();
            let expect = match r.in_order {
                Some(j) if unchanged && i == j => {
                    r.in_order = Some(j + 1);
                    TEXTS.get(i).copied()
                }
                _ => {
                    r.in_order = None;
                    None
                }
            };
            let stanza = if unchanged {
                Some(off.parsed[i].clone())
            } else {
                parse_cached(&mutate_at(&off.stanzas[i], &off.targets[i], mutations))
            };
            (stanza, expect)
        }
        Op::Raw(xml) => {
            r.in_order = None;
            (parse_cached(xml), None)
        }
    };
    let Some(stanza) = stanza else {
        return;
    };
    let alice = &mut r.alice;
    alice.refill();
    alice.engine.handle_stanza(stanza, NOW);
    check_outgoing(&mut alice.engine);
    let got = encrypted_texts(&mut alice.engine);
    for body in &got {
        let i = TEXTS
            .iter()
            .position(|t| body.as_deref() == Some(*t))
            .unwrap_or_else(|| panic!("Alice delivered text Bob never sent: {body:?}"));
        r.seen[i] += 1;
        assert!(r.seen[i] <= 1, "{:?} delivered twice (replay)", TEXTS[i]);
    }
    if let Some(text) = expect {
        assert_eq!(got, [Some(text.to_owned())], "an unchanged stanza in order");
    }
}

fn alice_side(off: &Offline, data: &[u8], rest: &[u8]) {
    let (ops, ends) = decode(data, rest, off.stanzas.len());
    let prefixes = Prefixes::new(data, ends);
    let (done, mut r) = KEPT
        .with(|k| k.borrow_mut().resume(&prefixes))
        .unwrap_or_else(|| {
            let r = Receiver {
                alice: off.alice.copy(),
                seen: [0; 2],
                in_order: Some(0),
            };
            (0, r)
        });
    for (i, op) in ops.iter().enumerate().skip(done) {
        apply(off, &mut r, op);
        KEPT.with(|k| k.borrow_mut().keep(&prefixes, i + 1, &r));
    }
}

fn bob_side(off: &Offline, ops: &[u8]) {
    let bytes = mutate_at(&off.options, &off.options_targets, ops);
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
            alice_side(off, data, rest);
        } else {
            bob_side(off, rest);
        }
    });
});
