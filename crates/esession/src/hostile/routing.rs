//! Who may speak in a session: other resources, third parties, crossing requests,
//! offline-stored requests; and counter and nonce edge values.
use super::mallory::*;
use crate::config::Config;
use crate::engine::tests::{full, sid};
use crate::engine::tests::{ALICE, BOB, NOW};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, PeerMisbehaved, Rejected, RequestRefused};
use crate::random::{Random, SeededRandom};
use crate::store::MemoryStore;
use crate::xml::{ns, Element};

const BOB_PHONE: &str = "bob@example.com/phone";
const ALICE_EVIL: &str = "alice@example.org/evil";

fn peer_error(condition: &str, fields: &[&str]) -> Rejected {
    Rejected::PeerError {
        condition: condition.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

#[test]
fn second_responder_on_same_thread_is_ignored() {
    // Both of Bob's resources answer Alice's request to his bare JID; the laptop answers
    // first and binds the session (P6); the phone's answer is ignored without a reply.
    let mut m = Mallory::new("second");
    let mut phone = Engine::new(
        full(BOB_PHONE),
        Config::default(),
        MemoryStore::new(),
        Box::new(SeededRandom::from_label("second/phone")),
    );
    let thread = m.start();
    m.run(|dir, _, s| match (dir, step(s)) {
        (Dir::ToBob, Some(1)) => {
            phone.handle_stanza(s.clone(), NOW);
            Fate::Pass
        }
        (Dir::ToAlice, Some(2)) => {
            let mut r = phone.poll_outgoing().unwrap();
            r.set_attr("from", BOB_PHONE);
            Fate::Also(r)
        }
        _ => Fate::Pass,
    });
    let (a, b, p) = (
        outcome(&mut m.alice),
        outcome(&mut m.bob),
        outcome(&mut phone),
    );
    assert!(
        a.established && a.failed.is_none() && a.warnings.is_empty(),
        "{a:?}"
    );
    assert!(b.established, "{b:?}");
    p.assert_quiet();
    assert_eq!(
        m.alice.session(&sid(BOB, &thread)).unwrap().peer.as_str(),
        BOB
    );
    assert!(
        phone.poll_outgoing().is_none(),
        "the phone got nothing more"
    );
    // The phone's negotiation waits for a message 3 that never comes.
    assert_eq!(phone.session_ids().len(), 1);
    phone.handle_timeout(NOW.plus(61));
    outcome(&mut phone).assert_failed(
        ErrorKind::Timeout,
        Error::Timeout {
            seconds: 60,
            gajim_stall: false,
        },
    );
    assert!(secrets(&phone).is_empty());
    // The session with the laptop works; the phone cannot inject into it.
    m.bob
        .send_message(&sid(ALICE, &thread), "from laptop")
        .unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.alice).bodies, ["from laptop"]);
}

#[test]
fn both_sides_initiate_at_once() {
    // Decision: two requests that cross are two independent threads; both complete and
    // both are usable (XEP-0201 threads are independent sessions).
    let mut m = Mallory::new("crossing");
    let t1 = m.start();
    let t2 = m.bob.start_str("alice@example.org", NOW).unwrap();
    assert_ne!(t1, t2);
    m.clean();
    let a: Vec<_> = std::iter::from_fn(|| m.alice.poll_event()).collect();
    let b: Vec<_> = std::iter::from_fn(|| m.bob.poll_event()).collect();
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(b.len(), 2, "{b:?}");
    assert!(a
        .iter()
        .chain(&b)
        .all(|e| matches!(e, crate::event::Event::Established(_))));
    assert_eq!(m.alice.sessions().len(), 2);
    assert_eq!(m.bob.sessions().len(), 2);
    m.alice.send_message(&sid(BOB, &t1), "on t1").unwrap();
    m.alice.send_message(&sid(BOB, &t2), "on t2").unwrap();
    m.bob.send_message(&sid(ALICE, &t2), "back on t2").unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.bob).bodies, ["on t1", "on t2"]);
    assert_eq!(outcome(&mut m.alice).bodies, ["back on t2"]);
    // Two sessions, two retained secrets on each side? No: one record per peer full
    // JID (P7), the later one replacing the earlier.
    assert_eq!(secrets(&m.alice).len(), 1);
    assert_eq!(secrets(&m.bob).len(), 1);
}

#[test]
fn impersonated_resource_injects_message_3_and_stanzas() {
    // Bob's negotiation is bound to alice@example.org/pda: message 3 from another
    // resource of Alice is ignored, and the real one still completes.
    let mut m = Mallory::new("evil-resource");
    let thread = m.start();
    m.run(|dir, _, s| {
        if dir == Dir::ToBob && step(s) == Some(3) {
            let mut fake = s.clone();
            fake.set_attr("from", ALICE_EVIL);
            set_values(&mut fake, "mac", &["AAAA"]);
            return Fate::Before(fake);
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    assert!(a.established && b.established, "{a:?} {b:?}");
    // In the session: Alice's genuine stanza relayed from the other resource.
    m.alice.send_message(&sid(BOB, &thread), "real").unwrap();
    let mut s = m.take(Dir::ToBob).remove(0);
    s.set_attr("from", ALICE_EVIL);
    m.deliver(Dir::ToBob, s.clone());
    let b = outcome(&mut m.bob);
    assert!(
        b.bodies.is_empty() && b.warnings.len() == 1 && b.failed.is_none(),
        "{b:?}"
    );
    // Nothing advanced: the same stanza from the bound resource is delivered.
    s.set_attr("from", ALICE);
    m.deliver(Dir::ToBob, s);
    assert_eq!(outcome(&mut m.bob).bodies, ["real"]);
}

#[test]
fn request_from_offline_storage_is_not_answered() {
    let mut m = Mallory::new("delay");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(1) {
            s.push(
                Element::new("delay", ns::DELAY)
                    .with_attr("from", "example.com")
                    .with_attr("stamp", "2026-01-01T00:00:00Z"),
            );
        }
        Fate::Pass
    });
    let b = outcome(&mut m.bob);
    assert_eq!(b.warnings.len(), 1, "{b:?}");
    assert!(b.failed.is_none() && !b.established);
    assert!(m.bob.session_ids().is_empty());
    let a = outcome(&mut m.alice);
    a.assert_quiet();
    assert!(
        m.wire.iter().all(|(d, _)| *d == Dir::ToBob),
        "Bob sent nothing"
    );
    m.alice.handle_timeout(NOW.plus(61));
    outcome(&mut m.alice).assert_failed(
        ErrorKind::Timeout,
        Error::Timeout {
            seconds: 60,
            gajim_stall: false,
        },
    );
}

fn error_from(from: &str, thread: &str) -> Element {
    Element::new("message", ns::JABBER_CLIENT)
        .with_attr("type", "error")
        .with_attr("from", from)
        .with_attr("to", ALICE)
        .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(thread))
        .with_child(
            Element::new("error", ns::JABBER_CLIENT)
                .with_attr("type", "cancel")
                .with_child(Element::new("not-acceptable", ns::STANZAS)),
        )
}

#[test]
fn third_party_error_stanzas_for_our_thread_are_ignored() {
    let mut m = Mallory::new("third-error");
    let thread = m.start();
    let t = thread.clone();
    m.run(|dir, _, s| match (dir, step(s)) {
        // Before Bob's answer: an error from a stranger.
        (Dir::ToAlice, Some(2)) => Fate::Before(error_from("carol@example.net/x", &t)),
        // After the session is bound to Bob's laptop: an error from his phone.
        (Dir::ToAlice, Some(4)) => Fate::Before(error_from(BOB_PHONE, &t)),
        _ => Fate::Pass,
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    assert!(a.established && a.failed.is_none(), "{a:?}");
    assert!(b.established && b.failed.is_none(), "{b:?}");
    // An error from the peer itself on an established session does not end it either.
    m.alice.handle_stanza(error_from(BOB, &thread), NOW);
    outcome(&mut m.alice).assert_quiet();
    m.bob
        .send_message(&sid(ALICE, &thread), "still up")
        .unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.alice).bodies, ["still up"]);
}

/// Alice's refusal of message 4 (an error echoing our `<init/>`), as a server could forge
/// it: from Alice's own JID, for the session's thread.
fn refusal_of_message_4(thread: &str) -> Element {
    let mut e = error_from(ALICE, thread).with_child(Element::new("init", ns::ESESSION_INIT));
    e.set_attr("to", BOB);
    e
}

/// Found in review: an error echoing `<init/>` ended the responder's established session
/// at any time, silently. Once a `<c/>` of Alice opened (she holds the keys, so she
/// accepted), such an error is ignored; before, it ends the session and Bob tells Alice
/// under the session's keys, so that a forged refusal leaves her no session that is dead
/// at Bob's end.
#[test]
fn a_refusal_of_message_4_is_believed_only_before_the_peer_spoke() {
    let mut m = Mallory::new("late-refusal");
    let thread = m.negotiate();
    m.alice.send_message(&sid(BOB, &thread), "hello").unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.bob).bodies, ["hello"]);
    m.deliver(Dir::ToBob, refusal_of_message_4(&thread));
    outcome(&mut m.bob).assert_quiet();
    assert!(m.take(Dir::ToAlice).is_empty(), "Bob says nothing");
    m.alice
        .send_message(&sid(BOB, &thread), "still up")
        .unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.bob).bodies, ["still up"]);

    // Before Alice said anything, the refusal ends Bob's session, and Alice hears of it.
    let mut m = Mallory::new("early-refusal");
    let thread = m.negotiate();
    m.deliver(Dir::ToBob, refusal_of_message_4(&thread));
    outcome(&mut m.bob).assert_failed(ErrorKind::Rejected, peer_error("not-acceptable", &[]));
    assert!(m.bob.session_ids().is_empty());
    m.clean();
    assert_eq!(
        outcome(&mut m.alice).terminated,
        Some(crate::event::EndedBy::Peer)
    );
    assert!(m.alice.session_ids().is_empty());
}

#[test]
fn error_from_unbound_resource_of_peer_ends_pending_request() {
    // Before any answer binds the session, Alice addressed Bob's bare JID: an error
    // from any of his resources is an answer (XEP-0155 §4.3) and ends the request.
    let mut m = Mallory::new("bare-error");
    let thread = m.start();
    m.take(Dir::ToBob);
    m.deliver(Dir::ToAlice, error_from(BOB_PHONE, &thread));
    outcome(&mut m.alice).assert_failed(ErrorKind::Rejected, peer_error("not-acceptable", &[]));
    assert!(m.alice.session_ids().is_empty());
}

/// Bob's randomness, except that the 16-octet draw (only C_A) is fixed.
struct FixedCounter {
    inner: SeededRandom,
    counter: [u8; 16],
}

impl Random for FixedCounter {
    fn fill(&mut self, buf: &mut [u8]) {
        if buf.len() == 16 {
            buf.copy_from_slice(&self.counter);
        } else {
            self.inner.fill(buf);
        }
    }
}

fn wrap_session(label: &str, counter: u128) {
    let rb = Box::new(FixedCounter {
        inner: SeededRandom::from_label(&format!("{label}/b")),
        counter: counter.to_be_bytes(),
    });
    let mut m = Mallory::with_bob_rng(
        label,
        Config::default(),
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
        rb,
    );
    let thread = m.negotiate();
    let c2 = m
        .wire
        .iter()
        .find(|(_, s)| s.contains("var=\"counter\""))
        .unwrap();
    assert!(c2.1.contains(&crate::b64::encode(&counter.to_be_bytes())));
    // Long messages, so stanzas span the wrap of C_A (and, for Bob, C_B later on).
    let long = "x".repeat(100);
    for i in 0..4 {
        m.alice
            .send_message(&sid(BOB, &thread), &format!("{i}{long}"))
            .unwrap();
        m.bob
            .send_message(&sid(ALICE, &thread), &format!("{i}"))
            .unwrap();
    }
    m.clean();
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    assert_eq!(b.bodies.len(), 4, "{label}: {b:?}");
    assert_eq!(a.bodies, ["0", "1", "2", "3"], "{label}: {a:?}");
    assert!(a.failed.is_none() && b.failed.is_none());
}

#[test]
fn counter_close_to_2_pow_128_wraps() {
    // C_A = 2^128 − 1: the identity's two blocks already wrap (P3: mod 2^128).
    wrap_session("wrap-ff", u128::MAX);
    // C_A = 2^128 − 3: the identity ends just before the wrap; the first stanza spans it.
    wrap_session("wrap-fd", u128::MAX - 2);
}

#[test]
fn counter_field_longer_than_16_octets() {
    // 17 significant octets: not a 128-bit counter; Alice refuses message 2.
    let mut m = Mallory::new("ctr17");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(2) {
            set_values(s, "counter", &[&crate::b64::encode(&[0x11; 17])]);
        }
        Fate::Pass
    });
    outcome(&mut m.alice).assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::BadValue {
            field: "counter".into(),
            value: "17 octets".into(),
        },
    );
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["counter"]),
    );

    // 17 octets with a leading zero: the same integer (P2 reads the counter as an
    // integer), but not the form Bob sent: Alice's check of mac_B (over form_B) fails
    // at message 4, after Bob has established.
    let mut m = Mallory::new("ctr17z");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(2) {
            let mut raw = vec![0u8];
            raw.extend(crate::b64::decode("c", &values(s, "counter")[0]).unwrap());
            set_values(s, "counter", &[&crate::b64::encode(&raw)]);
        }
        Fate::Pass
    });
    outcome(&mut m.alice).assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMismatch);
    assert!(outcome(&mut m.bob).established);
    assert!(secrets(&m.alice).is_empty());
}

#[test]
fn nonce_of_0_or_1000_octets() {
    let big = crate::b64::encode(&[0x42; 1000]);
    for (label, value, octets) in [("n0", String::new(), 0), ("n1000", big, 1000)] {
        // In message 1 (N_A): Bob refuses, naming my_nonce.
        let mut m = Mallory::new(&format!("{label}-1"));
        m.start();
        m.run(|_, _, s| {
            if step(s) == Some(1) {
                set_values(s, "my_nonce", &[&value]);
            }
            Fate::Pass
        });
        outcome(&mut m.bob).assert_failed(
            ErrorKind::Rejected,
            Rejected::Request(RequestRefused::Unacceptable(vec!["my_nonce".into()])),
        );
        outcome(&mut m.alice).assert_failed(
            ErrorKind::Rejected,
            peer_error("not-acceptable", &["my_nonce"]),
        );
        // In message 2 (N_B): Alice refuses.
        let mut m = Mallory::new(&format!("{label}-2"));
        m.start();
        m.run(|_, _, s| {
            if step(s) == Some(2) {
                set_values(s, "my_nonce", &[&value]);
            }
            Fate::Pass
        });
        outcome(&mut m.alice).assert_failed(
            ErrorKind::Negotiation,
            PeerMisbehaved::BadValue {
                field: "my_nonce".into(),
                value: format!("{octets} octets"),
            },
        );
        outcome(&mut m.bob).assert_failed(
            ErrorKind::Rejected,
            peer_error("not-acceptable", &["my_nonce"]),
        );
    }
}
