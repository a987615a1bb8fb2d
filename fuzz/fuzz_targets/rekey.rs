//! Re-keying on an established ESession (XEP-0200 §9 `<key/>`, the acceptance and the
//! old-key window of profile P13; XEP-0155 §4.5 renegotiation of `logging` inside the
//! session; the idle re-key of XEP-0200 §11.4): Alice and Bob, copied per input from the
//! state the captured run left them in, exchange stanzas through two queues the input
//! drives. Each op is a byte `k`:
//!
//! * `k % 8` 0 / 1: Alice / Bob sends a message (bit 4: asks for a `<key/>` first,
//!   `Engine::rekey`);
//! * 2 / 3: the next stanza to Bob / to Alice is delivered, with `(k >> 4) & 7` mutations
//!   of 4 bytes each (see `mutate`) applied to its text (the mutation bytes belong to the
//!   op even when nothing is in flight);
//! * 4 / 5: the next stanza to Bob / to Alice is lost;
//! * 6: the last stanza delivered to Bob (bit 4 clear) or to Alice is delivered again;
//! * 7: bit 7 set: Alice asks to renegotiate `logging` (bit 6: `may`, else `mustnot`);
//!   clear: time advances by `(k >> 3) & 15` minutes and both handle the timeout.
//!
//! Invariants: no panic; no stanza leaves with a clear `<body/>` other than the fallback;
//! an encrypted message is delivered only with the text its sender sealed in the stanza
//! delivered; a replayed stanza is never delivered again; while a direction has lost,
//! mutated and replayed nothing, every message sent in it is delivered, in order, with
//! its text (re-keys included).
//!
//! Both engines and the queues after every eighth op of an input are kept
//! (`Checkpoints`): an input that starts with the same bytes as one run before resumes
//! from a copy of that state, which goes on exactly as the original did.
#![no_main]
use esession::{Element, Engine, Logging, MemoryStore, SessionId, Timestamp};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Ops per input (below the default `peer_rekeys` burst of 64, so that the flood limit
/// never ends a session that follows the rules).
const MAX_OPS: usize = 48;
/// Most states kept after prefixes of inputs (two engines and the queues each).
const CHECKPOINTS: usize = 256;
/// A state is kept after every this many ops.
const EVERY: usize = 8;

/// One direction: what is in flight, what was last delivered, whether it stayed clean.
#[derive(Clone, Default)]
struct Wire {
    queue: VecDeque<(Rc<Element>, Option<String>)>,
    last: Option<Rc<Element>>,
    clean: bool,
}

/// The stanzas `e` sent, `from` stamped, each with the text it carries (`text` for the
/// first, none for the rest: control stanzas and re-key carriers without content).
fn sent(e: &mut Engine<MemoryStore>, from: &str, text: Option<String>, wire: &mut Wire) {
    let mut stanzas = Vec::new();
    while let Some(mut s) = e.poll_outgoing() {
        check_no_clear_body(&s);
        s.set_attr("from", from);
        stanzas.push(s);
    }
    // A `<key/>` that does not fit under the old key travels first in a content-free
    // `<c/>` (XEP-0200 §9): the text is in the last stanza.
    let n = stanzas.len();
    for (i, s) in stanzas.into_iter().enumerate() {
        let t = if i + 1 == n { text.clone() } else { None };
        wire.queue.push_back((Rc::new(s), t));
    }
}

struct Side {
    snap: Snap,
    id: SessionId,
    jid: &'static str,
}

impl Side {
    fn copy(&self) -> Side {
        Side {
            snap: self.snap.copy(),
            id: self.id.clone(),
            jid: self.jid,
        }
    }
}

/// Both ends, the two directions between them, the clock and the messages sent so far.
struct World {
    alice: Side,
    bob: Side,
    /// wires[0]: to Bob; wires[1]: to Alice.
    wires: [Wire; 2],
    now: Timestamp,
    n: u32,
}

impl Resumable for World {
    fn copy(&self) -> World {
        World {
            alice: self.alice.copy(),
            bob: self.bob.copy(),
            wires: self.wires.clone(),
            now: self.now,
            n: self.n,
        }
    }
}

/// Alice and Bob as the captured run left them, nothing in flight.
fn start() -> World {
    let bob_snap = established_bob();
    let bob_id = bob_snap.engine.session_ids().pop().expect("Bob's session");
    let clean = Wire {
        clean: true,
        ..Wire::default()
    };
    World {
        alice: Side {
            snap: established_alice(),
            id: capture().alice_session.clone(),
            jid: ALICE,
        },
        bob: Side {
            snap: bob_snap,
            id: bob_id,
            jid: BOB,
        },
        wires: [clean.clone(), clean],
        now: NOW,
        n: 0,
    }
}

/// The ops of `data` (at most [`MAX_OPS`]): each op byte with its mutation bytes, and
/// where each op ends.
fn decode(mut rest: &[u8]) -> (Vec<(u8, &[u8])>, Vec<usize>) {
    let len = rest.len();
    let mut ops = Vec::new();
    let mut ends = Vec::new();
    while let Some((&k, tail)) = rest.split_first() {
        if ops.len() == MAX_OPS {
            break;
        }
        rest = tail;
        let mutations = if matches!(k % 8, 2 | 3) {
            let take = (((k >> 4) & 7) as usize * 4).min(rest.len());
            let (mutations, tail) = rest.split_at(take);
            rest = tail;
            mutations
        } else {
            &[]
        };
        ops.push((k, mutations));
        ends.push(len - rest.len());
    }
    (ops, ends)
}

/// Applies op `k` (with its `mutations`) to the world and checks the invariants.
fn apply(w: &mut World, k: u8, mutations: &[u8]) {
    let World {
        alice,
        bob,
        wires,
        now,
        n,
    } = w;
    // Every op starts with full DH pools (`Snap::refill`): a `<key/>` we send costs
    // no exponentiation; one we accept still costs one.
    alice.snap.refill();
    bob.snap.refill();
    match k % 8 {
        0 | 1 => {
            let (from, wire) = if k % 8 != 1 {
                (alice, &mut wires[0])
            } else {
                (bob, &mut wires[1])
            };
            if k & 0x10 != 0 {
                // Refused only when re-keying is off or the session has ended.
                let _ = from.snap.engine.rekey(&from.id);
            }
            *n += 1;
            let text = format!("{} {n}", from.jid);
            if from.snap.engine.send_message(&from.id, &text).is_ok() {
                sent(&mut from.snap.engine, from.jid, Some(text), wire);
            } else {
                sent(&mut from.snap.engine, from.jid, None, wire);
            }
        }
        2 | 3 => {
            let (to, i) = if k % 8 == 2 { (bob, 0) } else { (alice, 1) };
            let Some((stanza, text)) = wires[i].queue.pop_front() else {
                return;
            };
            let fed = if mutations.is_empty() {
                Some(Element::clone(&stanza))
            } else {
                let text = stanza.to_string();
                let bytes = mutate(&text, mutations);
                if bytes != text.as_bytes() {
                    wires[i].clean = false;
                }
                parse_cached(&bytes)
            };
            let Some(fed) = fed else {
                wires[i].clean = false;
                return;
            };
            // An unmutated stanza is the one sent (no need to compare).
            let same = mutations.is_empty()
                || match (c_of(&fed), c_of(&stanza)) {
                    (Some(a), Some(b)) => same_authenticated_content(a, b),
                    (None, None) => true,
                    _ => false,
                };
            let shown = (!same).then(|| fed.to_string());
            to.snap.engine.handle_stanza(fed, *now);
            let got = encrypted_texts(&mut to.snap.engine);
            for body in &got {
                assert!(same, "a changed <c/> was delivered: {shown:?}");
                assert_eq!(body, &text, "delivered other text than was sealed");
            }
            if wires[i].clean && text.is_some() {
                assert_eq!(got, [text], "a clean in-order stanza was not delivered");
            }
            if !got.is_empty() {
                wires[i].last = Some(stanza);
            }
            // What the receiver sends back (an acknowledgement of a `<key/>`, ...).
            sent(&mut to.snap.engine, to.jid, None, &mut wires[1 - i]);
        }
        4 | 5 => {
            let i = usize::from(k % 8 == 5);
            if wires[i].queue.pop_front().is_some() {
                wires[i].clean = false;
            }
        }
        6 => {
            let (to, i) = if k & 0x10 == 0 { (bob, 0) } else { (alice, 1) };
            if let Some(again) = wires[i].last.clone() {
                wires[i].clean = false;
                to.snap.engine.handle_stanza(Element::clone(&again), *now);
                let got = encrypted_texts(&mut to.snap.engine);
                assert!(got.is_empty(), "a replayed stanza was delivered: {got:?}");
                sent(&mut to.snap.engine, to.jid, None, &mut wires[1 - i]);
            }
        }
        _ => {
            if k & 0x80 != 0 {
                let offer = if k & 0x40 != 0 {
                    Logging::May
                } else {
                    Logging::MustNot
                };
                if alice
                    .snap
                    .engine
                    .renegotiate_logging(&alice.id, &[offer])
                    .is_ok()
                {
                    sent(&mut alice.snap.engine, ALICE, None, &mut wires[0]);
                }
            } else {
                *now = Timestamp(now.0 + u64::from((k >> 3) & 15) * 60);
                alice.snap.engine.handle_timeout(*now);
                bob.snap.engine.handle_timeout(*now);
                sent(&mut alice.snap.engine, ALICE, None, &mut wires[0]);
                sent(&mut bob.snap.engine, BOB, None, &mut wires[1]);
            }
        }
    }
}

thread_local! {
    static START: World = start();
    static KEPT: RefCell<Checkpoints<World>> = RefCell::new(Checkpoints::new(CHECKPOINTS, EVERY));
}

fuzz_target!(|data: &[u8]| {
    let (ops, ends) = decode(data);
    let prefixes = Prefixes::new(data, ends);
    let (done, mut world) = KEPT
        .with(|k| k.borrow_mut().resume(&prefixes))
        .unwrap_or_else(|| (0, START.with(World::copy)));
    for (i, &(k, mutations)) in ops.iter().enumerate().skip(done) {
        apply(&mut world, k, mutations);
        KEPT.with(|k| k.borrow_mut().keep(&prefixes, i + 1, &world));
    }
});
