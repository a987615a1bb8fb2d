//! Engine-level re-key tests (XEP-0200 §9, §10, §11.4; profile P9, P13) with the `Pair`
//! harness: the policy, the events, and the sessions going on across re-keys.
use super::tests::{Pair, ALICE, BOB, NOW};
use super::*;
use crate::engine::tests::sid;
use crate::error::{StanzaFault, Usage};
use crate::event::RekeyedBy;
use crate::store::MemoryStore;
use crate::xml::{parse_element, Limits};

fn pair(label: &str, a: Config, b: Config) -> (Pair, String) {
    let mut p = Pair::with(label, a, b, MemoryStore::new(), MemoryStore::new());
    let (thread, _, _) = p.negotiate();
    (p, thread)
}

/// Every event of `e`: (bodies delivered, re-keys reported, failures).
#[derive(Debug, Default)]
struct Seen {
    bodies: Vec<String>,
    rekeys: Vec<RekeyedBy>,
    failed: Vec<Error>,
    terminated: bool,
}

fn seen(e: &mut Engine<MemoryStore>) -> Seen {
    let mut s = Seen::default();
    while let Some(ev) = e.poll_event() {
        match ev {
            Event::Message { body, .. } => s.bodies.push(body.unwrap_or_default()),
            Event::Rekeyed { by, .. } => s.rekeys.push(by),
            Event::Failed { error, .. } => s.failed.push(error),
            Event::Terminated { .. } => s.terminated = true,
            _ => {}
        }
    }
    s
}

/// The wire stanzas from Alice (`true`) or Bob since index `from`.
fn sent(p: &Pair, alice: bool, from: usize) -> Vec<String> {
    p.wire
        .iter()
        .skip(from)
        .filter(|(a, _)| *a == alice)
        .map(|(_, s)| s.clone())
        .collect()
}

fn off() -> Config {
    Config {
        rekey_freq: u32::MAX,
        ..Config::default()
    }
}

#[test]
fn rekey_started_by_either_side() {
    let (mut p, thread) = pair("erk/either", Config::default(), Config::default());
    let mark = p.wire.len();
    p.alice.rekey(&sid(BOB, &thread)).unwrap();
    p.alice.send_message(&sid(BOB, &thread), "one").unwrap();
    p.run();
    let wire = sent(&p, true, mark);
    assert_eq!(wire.len(), 1);
    assert!(
        wire[0].contains("<key>") && wire[0].contains("<data>"),
        "{wire:?}"
    );
    assert_eq!(seen(&mut p.alice).rekeys, [RekeyedBy::Us]);
    let b = seen(&mut p.bob);
    assert_eq!(
        (b.rekeys, b.bodies),
        (vec![RekeyedBy::Peer], vec!["one".to_owned()])
    );
    // The request is used up: the next stanza carries no <key/>, Bob's carries <new/>.
    let mark = p.wire.len();
    p.alice.send_message(&sid(BOB, &thread), "two").unwrap();
    p.bob.send_message(&sid(ALICE, &thread), "three").unwrap();
    p.run();
    assert!(!sent(&p, true, mark)[0].contains("<key>"));
    assert!(sent(&p, false, mark)[0].contains("<new>1</new>"));

    // Bob's turn.
    p.bob.rekey(&sid(ALICE, &thread)).unwrap();
    p.bob.send_message(&sid(ALICE, &thread), "four").unwrap();
    p.run();
    for i in 0..3 {
        p.alice
            .send_message(&sid(BOB, &thread), &format!("a{i}"))
            .unwrap();
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("b{i}"))
            .unwrap();
        p.run();
    }
    let (a, b) = (seen(&mut p.alice), seen(&mut p.bob));
    assert_eq!(
        (a.rekeys, b.rekeys),
        (vec![RekeyedBy::Peer], vec![RekeyedBy::Us])
    );
    assert_eq!(a.bodies, ["three", "four", "b0", "b1", "b2"]);
    assert_eq!(b.bodies, ["two", "a0", "a1", "a2"]);
    assert!(a.failed.is_empty() && b.failed.is_empty());
}

#[test]
fn crossing_rekeys_through_the_engine() {
    let (mut p, thread) = pair("erk/crossing", Config::default(), Config::default());
    for round in 0..3 {
        // Both send a <key/> before either sees the other's.
        p.alice.rekey(&sid(BOB, &thread)).unwrap();
        p.bob.rekey(&sid(ALICE, &thread)).unwrap();
        p.alice
            .send_message(&sid(BOB, &thread), &format!("a{round}"))
            .unwrap();
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("b{round}"))
            .unwrap();
        p.run();
        p.alice
            .send_message(&sid(BOB, &thread), &format!("a{round}'"))
            .unwrap();
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("b{round}'"))
            .unwrap();
        p.run();
    }
    let (a, b) = (seen(&mut p.alice), seen(&mut p.bob));
    assert!(a.failed.is_empty() && b.failed.is_empty(), "{a:?} {b:?}");
    assert_eq!(a.bodies.len(), 6);
    assert_eq!(b.bodies, ["a0", "a0'", "a1", "a1'", "a2", "a2'"]);
    assert_eq!(a.rekeys.len(), 6);
    assert_eq!(
        b.rekeys.iter().filter(|r| **r == RekeyedBy::Peer).count(),
        3
    );
}

#[test]
fn rekey_at_every_stanza_fifty_both_ways() {
    let every = Config {
        rekey_every: Some(1),
        ..Config::default()
    };
    let (mut p, thread) = pair("erk/every", every.clone(), every);
    let mark = p.wire.len();
    for i in 0..50 {
        p.alice
            .send_message(&sid(BOB, &thread), &format!("a{i}"))
            .unwrap();
        if i % 3 == 0 {
            p.run();
        }
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("b{i}"))
            .unwrap();
        if i % 5 != 2 {
            p.run();
        }
    }
    p.run();
    let (a, b) = (seen(&mut p.alice), seen(&mut p.bob));
    assert!(a.failed.is_empty() && b.failed.is_empty(), "{a:?} {b:?}");
    let expected = |who: &str| (0..50).map(|i| format!("{who}{i}")).collect::<Vec<_>>();
    assert_eq!(a.bodies, expected("b"));
    assert_eq!(b.bodies, expected("a"));
    for alice in [true, false] {
        let wire = sent(&p, alice, mark);
        assert_eq!(wire.len(), 50);
        assert!(wire.iter().all(|s| s.contains("<key>")));
    }
    assert_eq!(a.rekeys.len(), 100);
}

#[test]
fn negotiated_rekey_freq_paces_rekey_every() {
    // Alice offers 1, Bob requires 3: both use 3 (XEP-0116 §4.5.2).
    let a = Config {
        rekey_every: Some(1),
        ..Config::default()
    };
    let b = Config {
        rekey_freq: 3,
        ..Config::default()
    };
    let (mut p, thread) = pair("erk/freq", a, b);
    assert!(p.wire[1]
        .1
        .contains("<field var=\"rekey_freq\"><value>3</value>"));
    let mark = p.wire.len();
    for i in 0..9 {
        p.alice
            .send_message(&sid(BOB, &thread), &format!("a{i}"))
            .unwrap();
        p.run();
    }
    let keyed: Vec<bool> = sent(&p, true, mark)
        .iter()
        .map(|s| s.contains("<key>"))
        .collect();
    assert_eq!(
        keyed,
        [false, false, true, false, false, true, false, false, true]
    );
    assert_eq!(seen(&mut p.bob).bodies.len(), 9);
    // An explicit request waits for the count too.
    p.bob.rekey(&sid(ALICE, &thread)).unwrap();
    let mark = p.wire.len();
    for i in 0..3 {
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("b{i}"))
            .unwrap();
        p.run();
    }
    let keyed: Vec<bool> = sent(&p, false, mark)
        .iter()
        .map(|s| s.contains("<key>"))
        .collect();
    assert_eq!(keyed, [false, false, true]);
}

#[test]
fn forced_rekey_near_the_block_limit() {
    let (mut p, thread) = pair("erk/limit", Config::default(), Config::default());
    // The stanza would eat into the terminate reserve: it carries a <key/> instead.
    p.alice
        .channel_mut(&sid(BOB, &thread))
        .unwrap()
        .set_sent_blocks((1u128 << 32) - 65);
    let mark = p.wire.len();
    p.alice
        .send_message(&sid(BOB, &thread), "near the limit")
        .unwrap();
    p.run();
    let wire = sent(&p, true, mark);
    assert_eq!(wire.len(), 1);
    assert!(wire[0].contains("<key>"));
    assert_eq!(seen(&mut p.bob).bodies, ["near the limit"]);
    // Content that cannot fit under the old key at all: a content-free <c/> with the
    // <key/> goes first, the content follows under the new keys.
    p.alice
        .channel_mut(&sid(BOB, &thread))
        .unwrap()
        .set_sent_blocks((1u128 << 32) - 2);
    let mark = p.wire.len();
    let long = "x".repeat(200);
    p.alice.send_message(&sid(BOB, &thread), &long).unwrap();
    p.run();
    let wire = sent(&p, true, mark);
    assert_eq!(wire.len(), 2, "{wire:?}");
    assert!(wire[0].contains("<key>") && !wire[0].contains("<data>"));
    assert!(!wire[0].contains("<body>") && !wire[0].contains("type="));
    assert!(!wire[1].contains("<key>") && wire[1].contains("<data>"));
    let b = seen(&mut p.bob);
    assert_eq!(
        (b.bodies, b.failed.len(), b.terminated),
        (vec![long], 0, false)
    );
    // From the soft limit on, the next stanza re-keys.
    p.bob
        .channel_mut(&sid(ALICE, &thread))
        .unwrap()
        .set_sent_blocks(1u128 << 31);
    let mark = p.wire.len();
    p.bob.send_message(&sid(ALICE, &thread), "soft").unwrap();
    p.run();
    assert!(sent(&p, false, mark)[0].contains("<key>"));

    // When rekey_freq forbids a <key/> now, the old path stays: refuse and terminate.
    let strict = Config {
        rekey_freq: 5,
        ..Config::default()
    };
    let (mut p, thread) = pair("erk/limit-freq", strict.clone(), strict);
    super::tests::exhaust(&mut p, &thread);
    p.run();
    assert!(seen(&mut p.bob).terminated);
}

#[test]
fn idle_session_rekeys_on_the_next_stanza() {
    let (mut p, thread) = pair("erk/idle", Config::default(), Config::default());
    let mark = p.wire.len();
    p.alice.send_message(&sid(BOB, &thread), "soon").unwrap();
    p.alice.handle_timeout(NOW.plus(299));
    assert_eq!(p.alice.clock(), NOW.plus(299));
    p.alice
        .send_message(&sid(BOB, &thread), "299 s later")
        .unwrap();
    p.alice.handle_timeout(NOW.plus(299 + 300));
    p.alice
        .send_message(&sid(BOB, &thread), "300 s later")
        .unwrap();
    p.alice
        .send_message(&sid(BOB, &thread), "right after")
        .unwrap();
    p.run();
    let keyed: Vec<bool> = sent(&p, true, mark)
        .iter()
        .map(|s| s.contains("<key>"))
        .collect();
    assert_eq!(keyed, [false, false, true, false]);
    assert_eq!(seen(&mut p.bob).bodies.len(), 4);
    // A clock given earlier never moves the engine's clock back.
    p.alice.handle_timeout(NOW);
    assert_eq!(p.alice.clock(), NOW.plus(599));

    // Without the idle rule, nothing re-keys.
    let quiet = Config {
        rekey_after_idle: None,
        ..Config::default()
    };
    let (mut p, thread) = pair("erk/idle-off", quiet.clone(), quiet);
    p.alice.handle_timeout(NOW.plus(100_000));
    let mark = p.wire.len();
    p.alice.send_message(&sid(BOB, &thread), "late").unwrap();
    p.run();
    assert!(!sent(&p, true, mark)[0].contains("<key>"));
}

#[test]
fn replayed_pre_rekey_stanza_fails_after_the_rekey() {
    let (mut p, thread) = pair("erk/replay", Config::default(), Config::default());
    let mark = p.wire.len();
    p.alice.send_message(&sid(BOB, &thread), "before").unwrap();
    p.run();
    let before = parse_element(&sent(&p, true, mark)[0], &Limits::default()).unwrap();
    p.alice.rekey(&sid(BOB, &thread)).unwrap();
    p.alice
        .send_message(&sid(BOB, &thread), "with key")
        .unwrap();
    p.bob.send_message(&sid(ALICE, &thread), "ack").unwrap();
    p.alice.send_message(&sid(BOB, &thread), "after").unwrap();
    p.run();
    assert_eq!(seen(&mut p.bob).bodies, ["before", "with key", "after"]);
    p.bob.handle_stanza(before, NOW);
    let b = seen(&mut p.bob);
    assert!(b.bodies.is_empty());
    assert_eq!(b.failed.len(), 1);
    assert_eq!(b.failed[0], StanzaFault::MacMismatch);
}

#[test]
fn old_mac_keys_travel_and_are_ignored() {
    let (mut p, thread) = pair("erk/old", Config::default(), Config::default());
    p.alice.rekey(&sid(BOB, &thread)).unwrap();
    p.alice.send_message(&sid(BOB, &thread), "k").unwrap();
    p.run();
    let mark = p.wire.len();
    p.bob.send_message(&sid(ALICE, &thread), "b").unwrap();
    p.run();
    p.alice.send_message(&sid(BOB, &thread), "a").unwrap();
    p.run();
    let (b, a) = (sent(&p, false, mark), sent(&p, true, mark));
    assert_eq!(b[0].matches("<old>").count(), 1, "{b:?}");
    assert_eq!(a[0].matches("<old>").count(), 2, "{a:?}");
    assert_eq!(seen(&mut p.alice).bodies, ["b"]);
    assert_eq!(seen(&mut p.bob).bodies, ["k", "a"]);
}

#[test]
fn rekeying_off_when_either_side_says_so() {
    for (a, b) in [(off(), Config::default()), (Config::default(), off())] {
        let (mut p, thread) = pair("erk/off", a, b);
        for e in [&mut p.alice, &mut p.bob] {
            let peer = if e.own_jid().as_str() == ALICE {
                BOB
            } else {
                ALICE
            };
            let err = e.rekey(&sid(peer, &thread)).unwrap_err();
            assert_eq!(err, Usage::RekeyOff);
        }
        // Idle or not, no <key/> ever travels.
        p.alice.handle_timeout(NOW.plus(10_000));
        let mark = p.wire.len();
        p.alice
            .send_message(&sid(BOB, &thread), "plain keys")
            .unwrap();
        p.run();
        assert!(!sent(&p, true, mark)[0].contains("<key>"));
        assert_eq!(seen(&mut p.bob).bodies, ["plain keys"]);
    }
    let mut p = Pair::new("erk/none");
    assert!(p.alice.rekey(&sid(BOB, "no-such-thread")).is_err());
    let thread = p.alice.start_str("bob@example.com", NOW).unwrap();
    let err = p.alice.rekey(&sid("bob@example.com", &thread)).unwrap_err();
    assert_eq!(err, Usage::WrongState("negotiating"));
}
