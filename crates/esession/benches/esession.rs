//! Benchmarks of the `esession` engine against the cost of the primitives it cannot avoid.
//!
//! Run with `cargo bench -p esession --bench esession`; `docs/benchmarks.md` explains each
//! group and records figures from one run.
//!
//! * `negotiation_modp{5,14,15,16,17,18}`: CPU time of one complete 4-message negotiation, per party,
//!   with both sides restricted to the one group. `alice` times `start` + handling
//!   message 2 + handling message 4; `bob` times handling message 1 + handling message 3.
//!   The other party's work runs outside the timed region, and every iteration is a fresh
//!   negotiation between fresh engines (nonces, counters and DH values are single-use).
//!   `dh_floor` is the modular exponentiation each party cannot avoid: one
//!   `public_value` (Alice offers one group) and one `shared_secret`.
//! * `message_200B`: `engine_roundtrip` is `send_message` of a 200-byte body on one engine,
//!   then the peer's `handle_stanza` and `poll_event`, through one long-lived session.
//!   `primitive_floor` is the crypto the channel must do on the same 200 bytes:
//!   AES-128-CTR both ways, HMAC-SHA256 over the base64 text on both sides, base64 encode
//!   and decode.
//!
//! Every figure is thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a shared
//! machine a preempted benchmark thread does not accrue time, so the ratios between the
//! engine and its floors stay meaningful under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use esession::crypto::{apply_ctr, stanza_mac, CipherAlg, HashAlg, ModpGroup};
use esession::{b64, Config, DhPool, Element, Engine, Event, MemoryStore, SeededRandom, Timestamp};

const ALICE: &str = "alice@example.org/pda";
const BOB: &str = "bob@example.com/laptop";
const BOB_BARE: &str = "bob@example.com";
const NOW: Timestamp = Timestamp(1_800_000_000);
const GROUPS: [u32; 6] = [5, 14, 15, 16, 17, 18];

type Party = Engine<MemoryStore>;

/// Criterion measurement: CPU time of the benchmark thread.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time like criterion formats wall time.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_ns < 1e3 {
            (1.0, "ns")
        } else if typical_ns < 1e6 {
            (1e-3, "µs")
        } else if typical_ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for v in values.iter_mut() {
            *v *= factor;
        }
        unit
    }
    fn scale_throughputs(&self, _: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            Throughput::Elements(n) => *n as f64,
        };
        for v in values.iter_mut() {
            *v = per * 1e9 / *v;
        }
        "units/s (CPU)"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

type Crit = Criterion<ThreadCpu>;

fn criterion() -> Crit {
    Criterion::default().with_measurement(ThreadCpu)
}

/// Two fresh engines that accept only MODP group `group`; `seed` varies the randomness.
fn pair(group: u32, seed: u64) -> (Party, Party) {
    let config = Config {
        groups: vec![group],
        ..Config::default()
    };
    let alice = Engine::new(
        ALICE,
        config.clone(),
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(&format!("bench/{group}/{seed}/a"))),
    );
    let bob = Engine::new(
        BOB,
        config,
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(&format!("bench/{group}/{seed}/b"))),
    );
    (alice, bob)
}

/// Everything `engine` has queued, stamped with `from` as a server would.
fn drain(engine: &mut Party, from: &str) -> Vec<Element> {
    let mut out = Vec::new();
    while let Some(mut s) = engine.poll_outgoing() {
        s.set_attr("from", from);
        out.push(s);
    }
    out
}

fn deliver(engine: &mut Party, stanzas: Vec<Element>) {
    for s in stanzas {
        engine.handle_stanza(s, NOW);
    }
}

/// Checks (untimed) that a negotiation ended with both parties established and nothing
/// left to send.
fn check_established(alice: &mut Party, bob: &mut Party) {
    assert!(drain(alice, ALICE).is_empty(), "alice has more to send");
    assert!(drain(bob, BOB).is_empty(), "bob has more to send");
    assert!(matches!(alice.poll_event(), Some(Event::Established(_))));
    assert!(matches!(bob.poll_event(), Some(Event::Established(_))));
}

/// A pool holding one precomputed value in `group` (filled untimed), for one party.
fn warm_pool(group: u32, seed: u64) -> DhPool {
    let pool = DhPool::new();
    let mut rng = SeededRandom::from_label(&format!("bench/{group}/{seed}/pool"));
    pool.fill(group, 1, &mut rng).expect("fill");
    pool
}

/// Alice's CPU time: `start` + message 2 + message 4; Bob's work is not timed. With
/// `pooled`, Alice's DH value comes from a warm pool (filled outside the timed region).
fn alice_negotiations(group: u32, iters: u64, seed: &mut u64, pooled: bool) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        *seed += 1;
        let (mut alice, mut bob) = pair(group, *seed);
        if pooled {
            alice.set_dh_pool(Some(warm_pool(group, *seed)));
        }

        let t = ThreadTime::now();
        black_box(alice.start(BOB_BARE, NOW).expect("start"));
        total += t.elapsed();
        let m1 = drain(&mut alice, ALICE);
        deliver(&mut bob, m1);
        let m2 = drain(&mut bob, BOB);

        let t = ThreadTime::now();
        deliver(&mut alice, m2);
        total += t.elapsed();
        let m3 = drain(&mut alice, ALICE);
        deliver(&mut bob, m3);
        let m4 = drain(&mut bob, BOB);

        let t = ThreadTime::now();
        deliver(&mut alice, m4);
        total += t.elapsed();

        check_established(&mut alice, &mut bob);
    }
    total
}

/// Bob's CPU time: message 1 + message 3; Alice's work is not timed. With `pooled`,
/// Bob's DH value comes from a warm pool (filled outside the timed region).
fn bob_negotiations(group: u32, iters: u64, seed: &mut u64, pooled: bool) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        *seed += 1;
        let (mut alice, mut bob) = pair(group, *seed);
        if pooled {
            bob.set_dh_pool(Some(warm_pool(group, *seed)));
        }
        alice.start(BOB_BARE, NOW).expect("start");
        let m1 = drain(&mut alice, ALICE);

        let t = ThreadTime::now();
        deliver(&mut bob, m1);
        total += t.elapsed();
        let m2 = drain(&mut bob, BOB);
        deliver(&mut alice, m2);
        let m3 = drain(&mut alice, ALICE);

        let t = ThreadTime::now();
        deliver(&mut bob, m3);
        total += t.elapsed();
        let m4 = drain(&mut bob, BOB);
        deliver(&mut alice, m4);

        check_established(&mut alice, &mut bob);
    }
    total
}

fn negotiation(c: &mut Crit) {
    for group in GROUPS {
        let mut g = c.benchmark_group(format!("negotiation_modp{group}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        let mut seed = 0u64;
        g.bench_function("alice", |b| {
            b.iter_custom(|iters| alice_negotiations(group, iters, &mut seed, false));
        });
        g.bench_function("bob", |b| {
            b.iter_custom(|iters| bob_negotiations(group, iters, &mut seed, false));
        });
        g.bench_function("alice_pooled", |b| {
            b.iter_custom(|iters| alice_negotiations(group, iters, &mut seed, true));
        });
        g.bench_function("bob_pooled", |b| {
            b.iter_custom(|iters| bob_negotiations(group, iters, &mut seed, true));
        });

        // The floor: one public value and one shared secret in this group (each party
        // does exactly this much modular exponentiation).
        let modp = ModpGroup::get(group).expect("group");
        let mut rng = SeededRandom::from_label(&format!("bench/{group}/floor"));
        let peer = modp.public_value(&modp.generate_secret(&mut rng));
        g.bench_function("dh_floor", |b| {
            b.iter_batched(
                || modp.generate_secret(&mut rng),
                |x| {
                    let e = modp.public_value(&x);
                    let k = modp.shared_secret(&x, &peer).expect("shared secret");
                    (e, k)
                },
                BatchSize::SmallInput,
            );
        });
        g.finish();
    }
}

/// Body sizes of the message benchmarks.
const SIZES: [(usize, &str); 4] = [(16, "16B"), (200, "200B"), (2048, "2KiB"), (16384, "16KiB")];

/// A chat body of `len` ASCII bytes (nothing to escape).
fn body(len: usize) -> String {
    let text = "The quick brown fox jumps over the lazy dog. ";
    text.chars().cycle().take(len).collect()
}

fn message(c: &mut Crit) {
    // One long-lived established session: every send advances the counters, so each
    // stanza goes straight to the peer.
    let (mut alice, mut bob) = pair(14, 0);
    let thread = alice.start(BOB_BARE, NOW).expect("start");
    loop {
        let a = drain(&mut alice, ALICE);
        let moved = !a.is_empty();
        deliver(&mut bob, a);
        let b = drain(&mut bob, BOB);
        let moved = moved || !b.is_empty();
        deliver(&mut alice, b);
        if !moved {
            break;
        }
    }
    assert!(matches!(alice.poll_event(), Some(Event::Established(_))));
    assert!(matches!(bob.poll_event(), Some(Event::Established(_))));

    let roundtrip = |alice: &mut Party, bob: &mut Party, body: &str| {
        alice
            .send_message(BOB, &thread, body)
            .expect("send_message");
        let mut s = alice.poll_outgoing().expect("stanza");
        s.set_attr("from", ALICE);
        bob.handle_stanza(s, NOW);
        bob.poll_event()
    };

    for (len, name) in SIZES {
        let body = body(len);
        assert_eq!(body.len(), len);
        // Untimed check that the path really delivers the body, decrypted.
        match roundtrip(&mut alice, &mut bob, &body) {
            Some(Event::Message {
                body: Some(got),
                encrypted: true,
                ..
            }) => assert_eq!(got, body),
            other => panic!("expected an encrypted message, got {other:?}"),
        }

        let mut g = c.benchmark_group(format!("message_{name}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Bytes(len as u64));
        g.bench_function("engine_roundtrip", |b| {
            b.iter(|| roundtrip(&mut alice, &mut bob, &body));
        });

        // The floor: the channel's crypto on the same bytes, both sides.
        let kc = [0x11u8; 16];
        let km = [0x22u8; 32];
        let plain = body.clone().into_bytes();
        let mut counter = 0x0123_4567_89ab_cdef_u128;
        g.bench_function("primitive_floor", |b| {
            b.iter(|| {
                // Sender: encrypt, base64, MAC over the base64 text.
                let before = counter;
                let mut data = black_box(plain.as_slice()).to_vec();
                apply_ctr(CipherAlg::Aes128Ctr, &kc, &mut counter, &mut data).expect("ctr");
                let text = b64::encode(&data);
                let mac = stanza_mac(HashAlg::Sha256, &km, text.as_bytes(), before);
                // Receiver: MAC again, decode, decrypt.
                let check = stanza_mac(HashAlg::Sha256, &km, black_box(text.as_bytes()), before);
                let mut back = b64::decode("data", &text).expect("base64");
                let mut c2 = before;
                apply_ctr(CipherAlg::Aes128Ctr, &kc, &mut c2, &mut back).expect("ctr");
                (mac == check, back)
            });
        });
        g.finish();
    }
}

mod group {
    #![allow(missing_docs)]
    use super::{message, negotiation};
    criterion::criterion_group! {
        name = benches;
        config = super::criterion();
        targets = negotiation, message
    }
}
criterion_main!(group::benches);
