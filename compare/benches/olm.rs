//! The engine's message path against vodozemac's Olm, in one run (thread CPU time).
//!
//! `cargo bench` in `compare/` (see docs/benchmarks.md). For each body size:
//! * `esession_text`: the `text_roundtrip` of the engine's benchmark (`send_message`, the
//!   stanza as text, `parse_element`, `handle_stanza`, the `Message` event) through an
//!   established session.
//! * `olm`: vodozemac's Olm (`SessionConfig::version_1`, libolm's format) through an
//!   established session both ways: `Session::encrypt` of the same body, the message as
//!   base64 text (`to_parts` + base64, as Olm messages travel), base64 decoded back
//!   (`from_parts`), and the peer's `Session::decrypt`. After the first reply every
//!   message of a run is a normal message of one sending chain: a symmetric ratchet step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
#[path = "../../crates/esession/benches/support/message_path.rs"]
mod message_path;
#[path = "../../crates/esession/benches/support/thread_cpu.rs"]
mod thread_cpu;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use esession::b64;
use message_path::{assert_delivered, body, established, text_roundtrip, Relay};
use thread_cpu::ThreadCpu;
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

/// Two Olm sessions that have each sent and received (untimed).
fn olm_pair() -> (Session, Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().expect("a one-time key");
    bob.mark_keys_as_published();
    let config = SessionConfig::version_1();
    let mut a = alice
        .create_outbound_session(config, bob.curve25519_key(), otk)
        .expect("outbound session");
    let OlmMessage::PreKey(first) = a.encrypt("hello").expect("encrypt") else {
        panic!("the first message is a pre-key message");
    };
    let mut b = bob
        .create_inbound_session(config, alice.curve25519_key(), &first)
        .expect("inbound session")
        .session;
    let reply = b.encrypt("hi").expect("encrypt");
    assert_eq!(a.decrypt(&reply).expect("decrypt"), b"hi");
    (a, b)
}

/// One Olm message from `a` to `b` as text both ways.
fn olm_roundtrip(a: &mut Session, b: &mut Session, body: &str) -> Vec<u8> {
    let message = a.encrypt(body).expect("encrypt");
    let (kind, bytes) = message.to_parts();
    let text = b64::encode(&bytes);
    let bytes = b64::decode("body", black_box(&text)).expect("base64");
    let message = OlmMessage::from_parts(kind, &bytes).expect("an Olm message");
    b.decrypt(&message).expect("decrypt")
}

fn compare(c: &mut Criterion<ThreadCpu>) {
    let (mut alice, mut bob, thread) = established();
    let mut relay = Relay::default();
    let (mut a, mut b) = olm_pair();
    for (len, name) in [(16, "16B"), (200, "200B")] {
        let body = body(len);
        assert_delivered(text_roundtrip(&mut alice, &mut bob, &thread, &body, &mut relay), &body);
        assert_eq!(olm_roundtrip(&mut a, &mut b, &body), body.as_bytes());
        let mut g = c.benchmark_group(format!("compare_{name}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Bytes(len as u64));
        g.bench_function("esession_text", |bench| {
            bench.iter(|| text_roundtrip(&mut alice, &mut bob, &thread, &body, &mut relay));
        });
        g.bench_function("olm", |bench| {
            bench.iter(|| olm_roundtrip(&mut a, &mut b, &body));
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = compare
}
criterion_main!(benches);
