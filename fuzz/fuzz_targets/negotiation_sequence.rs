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
//! Invariants: no panic; the engine (policy: e2e only) never emits a clear `<body/>` other
//! than the fallback notice, so the secret never leaves in clear.
#![no_main]
use esession::xml::{parse_element, Limits};
use esession::{AcceptPolicy, Config, Engine, MemoryStore, Timestamp};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "the plaintext that must never be sent in clear";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let cap = capture();
    let captured = cap.all();
    let limits = Limits::default();
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
    let (mut engine, peer): (Engine<MemoryStore>, &str) = if initiator {
        let mut a = alice(cfg);
        a.start(&bob_bare(), NOW).expect("start");
        (a, BOB)
    } else {
        (bob(cfg), ALICE)
    };
    if flags & 4 != 0 {
        let contact = esession::Jid::new(peer).expect("a JID").to_bare();
        engine.set_other_shared_secret(&contact, Some("correct horse"));
    }
    check_outgoing(&mut engine);
    let mut now = NOW;
    let mut ops = 0;
    while let Some((&k, tail)) = rest.split_first() {
        rest = tail;
        ops += 1;
        if ops > 64 {
            break;
        }
        match k {
            0x00..=0x7f => {
                let base = captured[k as usize % captured.len()];
                let n = rest.first().map_or(0, |n| *n as usize % 8);
                rest = rest.get(1..).unwrap_or(&[]);
                let take = (n * 4).min(rest.len());
                let bytes = mutate(base, &rest[..take]);
                rest = &rest[take..];
                let text = String::from_utf8_lossy(&bytes);
                if let Ok(mut stanza) = parse_element(&text, &limits) {
                    if k & 8 != 0 {
                        stanza.set_attr("from", peer);
                    }
                    engine.handle_stanza(stanza, now);
                }
            }
            0x80..=0xbf => {
                let len = match rest {
                    [lo, hi, ..] => u16::from_le_bytes([*lo, *hi]) as usize,
                    _ => rest.len(),
                };
                rest = rest.get(2..).unwrap_or(&[]);
                let take = len.min(rest.len());
                let text = String::from_utf8_lossy(&rest[..take]);
                rest = &rest[take..];
                if let Ok(stanza) = parse_element(&text, &limits) {
                    engine.handle_stanza(stanza, now);
                }
            }
            0xc0..=0xdf => {
                now = Timestamp(now.0 + u64::from(k & 0x1f) * 10);
                engine.handle_timeout(now);
            }
            0xe0..=0xef => {
                for id in engine.session_ids() {
                    let _ = engine.send_message(&id, SECRET);
                }
            }
            _ => engine.terminate_all(now),
        }
        check_outgoing(&mut engine);
        while engine.poll_event().is_some() {}
    }
    // Whatever state the sequence left: sending must still not leak.
    for id in engine.session_ids() {
        let _ = engine.send_message(&id, SECRET);
    }
    check_outgoing(&mut engine);
});
