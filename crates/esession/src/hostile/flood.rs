//! Work for strangers (issue 11 §3, `Config::flood`): floods of negotiation requests are
//! refused before any exponentiation, per sender and in all, with one error reply and one
//! warning per sender per minute; a peer's `<key/>`s are counted per session.
use super::mallory::{outcome, rsa, step, Outcome};
use crate::config::{Config, FloodLimits, Flow, Rate};
use crate::crypto::pubkey::IdentityKey;
use crate::engine::tests::{established, Pair, ALICE, BOB, NOW};
use crate::engine::tests::{full, sid};
use crate::engine::Engine;
use crate::error::{ErrorKind, RekeyFault, StanzaFault};
use crate::random::SeededRandom;
use crate::store::{KeyStore, MemoryStore};
use crate::time::Timestamp;
use crate::warning::Warning;
use crate::xml::{ns, Element};

const MALLORY: &str = "mallory@evil.example/x";

/// Message 1 to Bob as `from` sends it under `config` (a template: each request gets
/// its own thread).
fn message_1(from: &str, config: Config, key: Option<IdentityKey>) -> Element {
    let mut e = Engine::new(
        full(from),
        config,
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(from)),
    );
    e.set_identity_key(key);
    e.start_str("bob@example.com", NOW).unwrap();
    let mut s = e.poll_outgoing().unwrap();
    s.set_attr("from", from);
    s
}

/// `template` on thread `n`, from `from`.
fn request(template: &Element, from: &str, n: usize) -> Element {
    let mut s = template.clone();
    s.set_attr("from", from);
    for node in s.nodes_mut() {
        if let crate::xml::Node::Element(e) = node {
            if e.is("thread", ns::JABBER_CLIENT) {
                *e = Element::new("thread", ns::JABBER_CLIENT).with_text(format!("flood-{n}"));
            }
        }
    }
    s
}

/// What Bob sent back: (answers = messages 2, `resource-constraint` errors).
fn answers(bob: &mut Engine<MemoryStore>) -> (usize, usize) {
    let (mut answered, mut refused) = (0, 0);
    while let Some(s) = bob.poll_outgoing() {
        if step(&s) == Some(2) {
            answered += 1;
        } else if s.attr("type") == Some("error") {
            let error = s.child("error", ns::JABBER_CLIENT).unwrap();
            assert!(
                error.child("resource-constraint", ns::STANZAS).is_some(),
                "{s}"
            );
            refused += 1;
        } else {
            panic!("unexpected answer {s}");
        }
    }
    (answered, refused)
}

fn bob(flood: FloodLimits) -> Engine<MemoryStore> {
    let config = Config {
        flood,
        ..Config::default()
    };
    Engine::new(
        full(BOB),
        config,
        MemoryStore::new(),
        Box::new(SeededRandom::from_label("flooded-bob")),
    )
}

/// Limits where only `f` binds.
fn only(f: impl FnOnce(&mut FloodLimits)) -> FloodLimits {
    let wide = Rate {
        burst: 100_000,
        per_minute: 100_000,
    };
    let mut l = FloodLimits {
        pending: 100_000,
        pending_per_jid: 100_000,
        requests: wide,
        untrusted_three_message: wide,
        peer_rekeys: wide,
    };
    f(&mut l);
    l
}

fn flood_warnings(o: &Outcome) -> usize {
    o.warnings
        .iter()
        .filter(|w| matches!(w, Warning::RequestsRefused(_)))
        .count()
}

#[test]
fn per_jid_cap_answers_a_few_then_one_error_then_silence() {
    let mut bob = bob(only(|l| l.pending_per_jid = 3));
    let m1 = message_1(MALLORY, Config::default(), None);
    for n in 0..20 {
        bob.handle_stanza(request(&m1, MALLORY, n), NOW);
    }
    assert_eq!(answers(&mut bob), (3, 1));
    assert_eq!(bob.session_ids().len(), 3);
    let o = outcome(&mut bob);
    assert_eq!(flood_warnings(&o), 1, "{o:?}");
    assert!(o.failed.is_none() && !o.established);
    // Another resource of the same bare JID shares the cap.
    bob.handle_stanza(request(&m1, "mallory@evil.example/y", 99), NOW);
    assert_eq!(answers(&mut bob), (0, 0));
    // Once those negotiations time out, the JID is served again.
    bob.handle_timeout(NOW.plus(61));
    bob.handle_stanza(request(&m1, MALLORY, 100), NOW.plus(61));
    assert_eq!(answers(&mut bob).0, 1);
}

#[test]
fn global_cap_counts_every_sender() {
    let mut bob = bob(only(|l| l.pending = 4));
    let m1 = message_1(MALLORY, Config::default(), None);
    let mut n = 0;
    for who in ["a", "b", "c"] {
        let from = format!("{who}@evil.example/x");
        for _ in 0..3 {
            n += 1;
            bob.handle_stanza(request(&m1, &from, n), NOW);
        }
    }
    // Four answered (a, a, a, b); b's next and c's first refusals are answered once each.
    assert_eq!(answers(&mut bob), (4, 2));
    assert_eq!(flood_warnings(&outcome(&mut bob)), 2);
}

#[test]
fn token_bucket_refills_with_the_engines_clock() {
    // Default bucket: 8 at once, then one every 2 s (30 a minute).
    let mut bob = bob(only(|l| l.requests = FloodLimits::default().requests));
    let m1 = message_1(MALLORY, Config::default(), None);
    let mut n = 0;
    let mut burst = |bob: &mut Engine<MemoryStore>, at: Timestamp, count: usize| {
        for _ in 0..count {
            n += 1;
            bob.handle_stanza(request(&m1, MALLORY, n), at);
        }
        answers(bob)
    };
    assert_eq!(burst(&mut bob, NOW, 20), (8, 1));
    assert_eq!(burst(&mut bob, NOW.plus(1), 5).0, 0);
    assert_eq!(burst(&mut bob, NOW.plus(2), 5).0, 1);
    // A minute later the bucket is full again: 8, not 30. The warning window (60 s) has
    // passed too, so the sender is answered once more and the application warned again.
    assert_eq!(burst(&mut bob, NOW.plus(62), 20), (8, 1));
    assert_eq!(flood_warnings(&outcome(&mut bob)), 2);
}

#[test]
fn legitimate_jid_is_served_during_a_flood_from_another() {
    let mut p = Pair::new("flood-legit");
    let m1 = message_1(MALLORY, Config::default(), None);
    for n in 0..1_000 {
        p.bob.handle_stanza(request(&m1, MALLORY, n), NOW);
    }
    // Defaults: 8 answered (the bucket), one error.
    assert_eq!(answers(&mut p.bob), (8, 1));
    let o = outcome(&mut p.bob);
    assert_eq!(flood_warnings(&o), 1);
    let thread = p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    established(&mut p.alice);
    let info = established(&mut p.bob);
    assert_eq!(info.peer.as_str(), ALICE);
    p.alice
        .send_message(&sid(BOB, &thread), "still here")
        .unwrap();
    p.run();
    assert_eq!(outcome(&mut p.bob).bodies, ["still here"]);
}

#[test]
fn three_message_requests_from_strangers_within_a_budget() {
    let three = Config {
        flow: Flow::Three,
        ..Config::default()
    };
    let mut p = Pair::with(
        "flood-3msg",
        three.clone(),
        Config {
            flood: only(|l| {
                l.untrusted_three_message = Rate {
                    burst: 2,
                    per_minute: 1,
                }
            }),
            ..Config::default()
        },
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.set_identity_key(Some(rsa()));
    p.bob.set_identity_key(Some(rsa()));
    // Alice's first 3-message session spends one of the two; Bob then trusts her key.
    p.negotiate();
    let fp = rsa().public().fingerprint();
    assert!(p
        .bob
        .store_mut()
        .set_trusted("bob@example.com", fp.as_bytes(), true)
        .unwrap());
    // Strangers: one more is answered, then each is refused (once per sender).
    let m1 = message_1(MALLORY, three, Some(rsa()));
    for n in 0..3 {
        let from = format!("stranger{n}@evil.example/x");
        p.bob.handle_stanza(request(&m1, &from, n), NOW);
    }
    assert_eq!(answers(&mut p.bob), (1, 2));
    assert_eq!(flood_warnings(&outcome(&mut p.bob)), 2);
    // Alice's key is trusted: her request does not count and is answered.
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    established(&mut p.alice);
    established(&mut p.bob);
}

/// Alice re-keys on every stanza; Bob's budget is `rekeys`. Returns Bob's outcome after
/// Alice sent `count` stanzas one every `every` seconds.
fn rekeying(label: &str, rekeys: Rate, count: u64, every: u64) -> Outcome {
    let a = Config {
        rekey_every: Some(1),
        ..Config::default()
    };
    let b = Config {
        flood: only(|l| l.peer_rekeys = rekeys),
        ..Config::default()
    };
    let mut p = Pair::with(label, a, b, MemoryStore::new(), MemoryStore::new());
    let (thread, _, _) = p.negotiate();
    for i in 0..count {
        let at = NOW.plus(i * every);
        if p.alice
            .send_message(&sid(BOB, &thread), &format!("m{i}"))
            .is_err()
        {
            break;
        }
        while let Some(mut s) = p.alice.poll_outgoing() {
            s.set_attr("from", ALICE);
            assert!(s.to_string().contains("<key"), "every stanza re-keys");
            p.bob.handle_stanza(s, at);
        }
    }
    outcome(&mut p.bob)
}

#[test]
fn peer_rekeys_beyond_the_budget_end_the_session() {
    let rate = Rate {
        burst: 10,
        per_minute: 30,
    };
    // 25 <key/>s at once: 10 accepted, the 11th ends the session (nothing more delivered).
    let o = rekeying("rekey-flood", rate, 25, 0);
    assert_eq!(o.bodies.len(), 10);
    let v = StanzaFault::Rekey(RekeyFault::Flood {
        burst: 10,
        per_minute: 30,
    });
    assert_eq!(o.failure(), Some((ErrorKind::Decryption, v.into())));
    // One every 2 s is within 30 a minute: all 25 accepted.
    let o = rekeying("rekey-paced", rate, 25, 2);
    assert_eq!(o.bodies.len(), 25);
    assert!(o.failed.is_none(), "{o:?}");
}
