//! One engine (Bob as responder, or Alice after `start`) fed an arbitrary sequence of
//! operations decoded from the input:
//!
//! * byte 0: bit 0 role (0 Bob, 1 Alice), bit 1 `answer_errors` off, bit 2 an OSS set for
//!   the peer, bit 3 accept nobody;
//! * then ops, each starting with a byte `k`:
//!   - `k < 0x80`: captured stanza `k % 7` of a real run (messages 1–4, Alice's and Bob's
//!     encrypted stanzas, Alice's encrypted terminate), then a count byte `n % 8` and `n`
//!     mutations of 4 bytes (see `mutate`); bit 3 of `k` restamps `from` as the peer;
//!   - `0x80..0xC0`: raw XML: a little-endian u16 length, then that many bytes;
//!   - `0xC0..0xE0`: time advances by `(k & 0x1f) * 10` s, then `handle_timeout`;
//!   - `0xE0..0xF0`: `send_message` of a secret in every session;
//!   - `0xF0..`: `terminate_all`.
//!
//! The engine after the flags is computed once per process and copied, and the engine
//! after every fourth operation of an input is kept (`Checkpoints`): an input that
//! starts with the same bytes as one run before resumes from a copy of its state. A copy
//! behaves exactly as the original, so an input's outcome does not depend on what ran
//! before it.
//!
//! Invariants: no panic; the engine (policy: e2e only) never emits a clear `<body/>` other
//! than the fallback notice, so the secret never leaves in clear.
#![no_main]
use esession::{AcceptPolicy, Config, Timestamp};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::collections::HashMap;

const SECRET: &str = "the plaintext that must never be sent in clear";

/// Most states kept after prefixes of inputs (one engine each).
const CHECKPOINTS: usize = 256;
/// A state is kept after every this many operations.
const EVERY: usize = 4;
/// Most operations per input.
const MAX_OPS: usize = 64;

/// One decoded operation (see the module documentation).
enum Op<'a> {
    Captured { k: u8, mutations: &'a [u8] },
    Raw(&'a [u8]),
    Wait(u8),
    Send,
    TerminateAll,
}

/// The operations of `rest`, at most [`MAX_OPS`], and where each ends in `data` (of
/// which `rest` is the tail).
fn decode<'a>(data: &[u8], mut rest: &'a [u8]) -> (Vec<Op<'a>>, Vec<usize>) {
    let mut ops = Vec::new();
    let mut ends = Vec::new();
    while let Some((&k, tail)) = rest.split_first() {
        rest = tail;
        if ops.len() == MAX_OPS {
            break;
        }
        ops.push(match k {
            0x00..=0x7f => Op::Captured {
                k,
                mutations: split_mutations(&mut rest),
            },
            0x80..=0xbf => Op::Raw(split_raw(&mut rest)),
            0xc0..=0xdf => Op::Wait(k & 0x1f),
            0xe0..=0xef => Op::Send,
            _ => Op::TerminateAll,
        });
        ends.push(data.len() - rest.len());
    }
    (ops, ends)
}

/// The engine the flags ask for, its first stanza (Alice's request) drained.
fn initial(flags: u8) -> Snap {
    let initiator = flags & 1 == 1;
    let cfg = Config {
        answer_errors: flags & 2 == 0,
        accept: if flags & 8 == 0 {
            AcceptPolicy::Anyone
        } else {
            AcceptPolicy::Nobody
        },
        ..config()
    };
    let mut snap = if initiator {
        let mut a = alice(cfg);
        a.engine.start(&bob_bare(), NOW).expect("start");
        a
    } else {
        bob(cfg)
    };
    if flags & 4 != 0 {
        let contact = esession::Jid::new(peer(flags)).expect("a JID").to_bare();
        snap.engine
            .set_other_shared_secret(&contact, Some("correct horse"));
    }
    check_outgoing(&mut snap.engine);
    snap
}

fn peer(flags: u8) -> &'static str {
    if flags & 1 == 1 {
        BOB
    } else {
        ALICE
    }
}

/// Applies `op` to the engine at `now` (advanced by a wait), with its DH pool full
/// (`Snap::refill`), then checks and drains what it produced.
fn apply(snap: &mut Snap, op: &Op<'_>, peer: &str, now: &mut Timestamp) {
    snap.refill();
    let engine = &mut snap.engine;
    match op {
        Op::Captured { k, mutations } => {
            let cap = capture();
            let i = *k as usize % cap.parsed.len();
            let parsed = if mutations.is_empty() {
                Some(cap.parsed[i].clone())
            } else {
                parse_cached(&cap.mutated(i, mutations))
            };
            if let Some(mut stanza) = parsed {
                if k & 8 != 0 {
                    stanza.set_attr("from", peer);
                }
                engine.handle_stanza(stanza, *now);
            }
        }
        Op::Raw(xml) => {
            if let Some(stanza) = parse_cached(xml) {
                engine.handle_stanza(stanza, *now);
            }
        }
        Op::Wait(ticks) => {
            *now = Timestamp(now.0 + u64::from(*ticks) * 10);
            engine.handle_timeout(*now);
        }
        Op::Send => {
            for id in engine.session_ids() {
                let _ = engine.send_message(&id, SECRET);
            }
        }
        Op::TerminateAll => engine.terminate_all(*now),
    }
    check_outgoing(engine);
    while engine.poll_event().is_some() {}
}

/// The engine and its clock after some operations.
struct State {
    snap: Snap,
    now: Timestamp,
}

impl Resumable for State {
    fn copy(&self) -> State {
        State {
            snap: self.snap.copy(),
            now: self.now,
        }
    }
}

thread_local! {
    static INITIAL: RefCell<HashMap<u8, Snap>> = RefCell::new(HashMap::new());
    static KEPT: RefCell<Checkpoints<State>> = RefCell::new(Checkpoints::new(CHECKPOINTS, EVERY));
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let flags = flags & 0x0f;
    let peer = peer(flags);
    let (ops, ends) = decode(data, rest);
    let prefixes = Prefixes::new(data, ends);
    let (done, mut state) = KEPT
        .with(|k| k.borrow_mut().resume(&prefixes))
        .unwrap_or_else(|| {
            let snap = INITIAL.with(|i| {
                i.borrow_mut()
                    .entry(flags)
                    .or_insert_with(|| initial(flags))
                    .copy()
            });
            (0, State { snap, now: NOW })
        });
    for (i, op) in ops.iter().enumerate().skip(done) {
        apply(&mut state.snap, op, peer, &mut state.now);
        KEPT.with(|k| k.borrow_mut().keep(&prefixes, i + 1, &state));
    }
    let engine = &mut state.snap.engine;
    // Whatever state the sequence left: sending must still not leak.
    for id in engine.session_ids() {
        let _ = engine.send_message(&id, SECRET);
    }
    check_outgoing(engine);
});
