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
//!   AES-128-CTR both ways, HMAC-SHA256 over the base64 text on both sides (each end's
//!   key prepared once, as a session's is), base64 encode and decode. `text_roundtrip` is `engine_roundtrip` with the outer stanza as text both
//!   ways: the sent stanza taken as the text a connection writes (`poll_outgoing_text`),
//!   `from` stamped on it, and that text parsed (`parse_element`) into the element the
//!   receiving engine takes. The same groups exist
//!   for 16-byte, 2 KiB and 16 KiB bodies.
//!
//! * `negotiation_3msg_rsa`: the 3-message flow (SIGMA-I) in group 14 with RSA-2048 `key`
//!   identities on both sides (test fixtures), per party: `alice` times `start` + handling
//!   message 2 (verify Bob's signature, sign her own), `bob` times handling message 1 (sign)
//!   and handling message 3 (verify). Baselines from the same run: `alice_4msg_nokeys` and
//!   `bob_4msg_nokeys` (the 4-message flow in group 14 without public keys, as in
//!   `negotiation_modp14`), `rsa_sign_verify` (one RSA-2048 PKCS#1 v1.5 SHA-256 signature of
//!   a 32-octet mac plus one verification) and `dh_floor` (as above, group 14).
//! * `rekey_modp14`: one re-key (XEP-0200 §9) in a long-lived group-14 session.
//!   `initiator` times `Engine::rekey` + `send_message` of a 16-byte body (fresh x', e',
//!   K, the four keys, the stanza); `acceptor` times the peer's `handle_stanza` and
//!   its `poll_event`s up to the message (one exponentiation, the KDF, the decryption). Baselines:
//!   `send_no_rekey` / `receive_no_rekey` (the same stanza without a `<key/>`),
//!   `dh_floor` (public value + shared secret) and `shared_floor` (one shared secret).
//!
//! Every figure is thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a shared
//! machine a preempted benchmark thread does not accrue time, so the ratios between the
//! engine and its floors stay meaningful under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/message_path.rs"]
mod message_path;
#[path = "support/thread_cpu.rs"]
mod thread_cpu;

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::{criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use esession::config::{Flow, PubkeyMode};
use esession::crypto::{apply_ctr, mpi_u128, CipherAlg, HashAlg, IdentityKey, MacKey, ModpGroup};
use esession::SessionId;
use esession::{b64, Config, DhPool, Engine, Event, MemoryStore, SeededRandom};
use message_path::{
    assert_delivered, bob_bare, body, deliver, drain, established, exchange, full, pair,
    text_roundtrip, Party, Relay, ALICE, BOB, NOW,
};
use thread_cpu::ThreadCpu;

const GROUPS: [u32; 6] = [5, 14, 15, 16, 17, 18];

type Crit = Criterion<ThreadCpu>;

fn criterion() -> Crit {
    Criterion::default().with_measurement(ThreadCpu)
}

/// Checks (untimed) that a negotiation ended with both parties established and nothing
/// left to send.
/// Checks both established, and returns Bob's session.
fn check_established(alice: &mut Party, bob: &mut Party) -> SessionId {
    assert!(drain(alice, ALICE).is_empty(), "alice has more to send");
    assert!(drain(bob, BOB).is_empty(), "bob has more to send");
    assert!(matches!(alice.poll_event(), Some(Event::Established(_))));
    match bob.poll_event() {
        Some(Event::Established(info)) => info.id,
        other => panic!("expected Bob established, got {other:?}"),
    }
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
        black_box(alice.start(&bob_bare(), NOW).expect("start"));
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
        alice.start(&bob_bare(), NOW).expect("start");
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

/// `dh_floor` in `group`: `public_value` of a fresh secret (drawn untimed) + one
/// `shared_secret`, the modular exponentiation a party cannot avoid.
fn dh_floor(g: &mut BenchmarkGroup<'_, ThreadCpu>, group: u32, label: &str) {
    let modp = ModpGroup::get(group).expect("group");
    let mut rng = SeededRandom::from_label(label);
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
        dh_floor(&mut g, group, &format!("bench/{group}/floor"));
        g.finish();
    }
}

/// Body sizes of the message benchmarks.
const SIZES: [(usize, &str); 4] = [(16, "16B"), (200, "200B"), (2048, "2KiB"), (16384, "16KiB")];

fn message(c: &mut Crit) {
    let (mut alice, mut bob, thread) = established();
    let mut relay = Relay::default();

    let roundtrip = |alice: &mut Party, bob: &mut Party, body: &str| {
        alice.send_message(&thread, body).expect("send_message");
        let mut s = alice.poll_outgoing().expect("stanza");
        s.set_attr("from", ALICE);
        bob.handle_stanza(s, NOW);
        bob.poll_event()
    };

    for (len, name) in SIZES {
        let body = body(len);
        assert_eq!(body.len(), len);
        // Untimed check that both paths really deliver the body, decrypted.
        assert_delivered(roundtrip(&mut alice, &mut bob, &body), &body);
        assert_delivered(
            text_roundtrip(&mut alice, &mut bob, &thread, &body, &mut relay),
            &body,
        );

        let mut g = c.benchmark_group(format!("message_{name}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Bytes(len as u64));
        g.bench_function("engine_roundtrip", |b| {
            b.iter(|| roundtrip(&mut alice, &mut bob, &body));
        });
        g.bench_function("text_roundtrip", |b| {
            b.iter(|| text_roundtrip(&mut alice, &mut bob, &thread, &body, &mut relay));
        });

        // The floor: the channel's crypto on the same bytes, both sides.
        let kc = [0x11u8; 16];
        let km = [0x22u8; 32];
        let plain = body.clone().into_bytes();
        let mut counter = 0x0123_4567_89ab_cdef_u128;
        // Each end's MAC key prepared once, as a session prepares its own (RFC 2104 §4):
        // the floor has every saving the engine has.
        let (send_key, receive_key) = (
            MacKey::new(HashAlg::Sha256, &km),
            MacKey::new(HashAlg::Sha256, &km),
        );
        g.bench_function("primitive_floor", |b| {
            b.iter(|| {
                // Sender: encrypt, base64, MAC over the base64 text and the counter
                // (XEP-0200 §6, as `stanza_mac`).
                let before = counter;
                let mut data = black_box(plain.as_slice()).to_vec();
                apply_ctr(CipherAlg::Aes128Ctr, &kc, &mut counter, &mut data).expect("ctr");
                let text = b64::encode(&data);
                let c = mpi_u128(before);
                let mac = send_key.mac(HashAlg::Sha256, &km, &[text.as_bytes(), &c]);
                // Receiver: MAC again, decode, decrypt.
                let c = mpi_u128(black_box(before));
                let check =
                    receive_key.mac(HashAlg::Sha256, &km, &[black_box(text.as_bytes()), &c]);
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
    use super::{message, negotiation, negotiation_keys, rekey};
    criterion::criterion_group! {
        name = benches;
        config = super::criterion();
        targets = negotiation, message, negotiation_keys, rekey
    }
}

/// The RSA-2048 test fixtures (public, test-only keys).
const RSA_A: &[u8] = include_bytes!("../tests/keys/rsa2048.pk8.der");
const RSA_B: &[u8] = include_bytes!("../tests/keys/rsa2048-b.pk8.der");

/// Which negotiation the per-party helpers run.
#[derive(Clone, Copy)]
enum Kind {
    /// 3-message flow, RSA `key` identities on both sides.
    ThreeRsa,
    /// 4-message flow, no public keys.
    FourNoKeys,
}

/// Two fresh engines in group 14 for `kind` (identity keys parsed untimed).
fn kind_pair(kind: Kind, seed: u64) -> (Party, Party) {
    let config = match kind {
        Kind::ThreeRsa => Config {
            groups: vec![14],
            flow: Flow::Three,
            present_pubkey: vec![PubkeyMode::Key],
            accept_pubkey: vec![PubkeyMode::Key],
            ..Config::default()
        },
        Kind::FourNoKeys => Config {
            groups: vec![14],
            present_pubkey: vec![PubkeyMode::None],
            accept_pubkey: vec![PubkeyMode::None],
            ..Config::default()
        },
    };
    let engine = |jid: &str, who: &str| {
        Engine::new(
            full(jid),
            config.clone(),
            MemoryStore::new(),
            Box::new(SeededRandom::from_label(&format!(
                "bench/kind/{seed}/{who}"
            ))),
        )
    };
    let (mut alice, mut bob) = (engine(ALICE, "a"), engine(BOB, "b"));
    if let Kind::ThreeRsa = kind {
        alice.set_identity_key(Some(IdentityKey::from_pkcs8_der(RSA_A).expect("key A")));
        bob.set_identity_key(Some(IdentityKey::from_pkcs8_der(RSA_B).expect("key B")));
    }
    (alice, bob)
}

/// One negotiation of `kind`; returns (Alice's, Bob's) CPU time. Each party's handling of
/// each incoming message (and Alice's `start`) is timed separately, the rest is not.
fn one_negotiation(kind: Kind, seed: u64) -> (Duration, Duration) {
    let (mut alice, mut bob) = kind_pair(kind, seed);
    let (mut ta, mut tb) = (Duration::ZERO, Duration::ZERO);
    let t = ThreadTime::now();
    black_box(alice.start(&bob_bare(), NOW).expect("start"));
    ta += t.elapsed();
    // Messages alternate until both are quiet (3 or 4 of them).
    let mut to_bob = drain(&mut alice, ALICE);
    loop {
        let t = ThreadTime::now();
        deliver(&mut bob, to_bob);
        tb += t.elapsed();
        let to_alice = drain(&mut bob, BOB);
        if to_alice.is_empty() {
            break;
        }
        let t = ThreadTime::now();
        deliver(&mut alice, to_alice);
        ta += t.elapsed();
        to_bob = drain(&mut alice, ALICE);
        if to_bob.is_empty() {
            break;
        }
    }
    check_established(&mut alice, &mut bob);
    (ta, tb)
}

fn negotiation_keys(c: &mut Crit) {
    let mut g = c.benchmark_group("negotiation_3msg_rsa");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut seed = 0u64;
    for (name, kind, alice) in [
        ("alice", Kind::ThreeRsa, true),
        ("bob", Kind::ThreeRsa, false),
        ("alice_4msg_nokeys", Kind::FourNoKeys, true),
        ("bob_4msg_nokeys", Kind::FourNoKeys, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        seed += 1;
                        let (ta, tb) = one_negotiation(kind, seed);
                        if alice {
                            ta
                        } else {
                            tb
                        }
                    })
                    .sum()
            });
        });
    }
    // The floor of the identities: one signature (own) and one verification (peer's).
    let key = IdentityKey::from_pkcs8_der(RSA_A).expect("key");
    let public = key.public();
    let mut n = 0u8;
    g.bench_function("rsa_sign_verify", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let mac = [n; 32];
            let sig = key.sign(black_box(&mac)).expect("sign");
            public.verify(key.sign_alg(), &mac, &sig).expect("verify");
        });
    });
    dh_floor(&mut g, 14, "bench/keys/floor");
    g.finish();
}

/// A long-lived group-14 session with re-keying allowed at every stanza.
struct Session {
    alice: Party,
    bob: Party,
    /// Alice's and Bob's handles of the session.
    with_bob: SessionId,
    with_alice: SessionId,
}

impl Session {
    fn new() -> Self {
        let config = Config {
            groups: vec![14],
            rekey_after_idle: None,
            ..Config::default()
        };
        let engine = |jid: &str, who: &str| {
            Engine::new(
                full(jid),
                config.clone(),
                MemoryStore::new(),
                Box::new(SeededRandom::from_label(&format!("bench/rekey/{who}"))),
            )
        };
        let (mut alice, mut bob) = (engine(ALICE, "a"), engine(BOB, "b"));
        let with_bob = alice.start(&bob_bare(), NOW).expect("start");
        exchange(&mut alice, &mut bob);
        let with_alice = check_established(&mut alice, &mut bob);
        Session {
            alice,
            bob,
            with_bob,
            with_alice,
        }
    }

    /// One stanza Alice → Bob (with a `<key/>` when `rekey`), then Bob's untimed answer
    /// (it carries `<new/>`, so Alice's receive sets stay at one). Returns (Alice's send
    /// time, Bob's receive time).
    fn round(&mut self, rekey: bool) -> (Duration, Duration) {
        let t = ThreadTime::now();
        if rekey {
            self.alice.rekey(&self.with_bob).expect("rekey");
        }
        self.alice
            .send_message(&self.with_bob, "sixteen bytes..!")
            .expect("send");
        let mut s = self.alice.poll_outgoing().expect("stanza");
        let send = t.elapsed();
        assert!(self.alice.poll_outgoing().is_none());
        let carries_key = s.to_string().contains("<key");
        assert_eq!(carries_key, rekey, "a <key/> exactly when asked");
        s.set_attr("from", ALICE);
        let t = ThreadTime::now();
        self.bob.handle_stanza(s, NOW);
        // A re-key is reported (`Event::Rekeyed`) before the message itself.
        let got = std::iter::from_fn(|| self.bob.poll_event())
            .find(|e| matches!(e, Event::Message { .. }));
        let receive = t.elapsed();
        assert!(
            matches!(
                got,
                Some(Event::Message {
                    encrypted: true,
                    ..
                })
            ),
            "{got:?}"
        );
        while self.bob.poll_event().is_some() {}
        while self.alice.poll_event().is_some() {}
        self.bob
            .send_message(&self.with_alice, "ack")
            .expect("answer");
        let back = drain(&mut self.bob, BOB);
        deliver(&mut self.alice, back);
        while self.alice.poll_event().is_some() {}
        (send, receive)
    }
}

fn rekey(c: &mut Crit) {
    let mut g = c.benchmark_group("rekey_modp14");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut session = Session::new();
    for (name, with_key, sender) in [
        ("initiator", true, true),
        ("acceptor", true, false),
        ("send_no_rekey", false, true),
        ("receive_no_rekey", false, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (s, r) = session.round(with_key);
                        if sender {
                            s
                        } else {
                            r
                        }
                    })
                    .sum()
            });
        });
    }
    dh_floor(&mut g, 14, "bench/rekey/floor");
    let modp = ModpGroup::get(14).expect("group");
    let mut rng = SeededRandom::from_label("bench/rekey/shared");
    let peer = modp.public_value(&modp.generate_secret(&mut rng));
    let own = modp.generate_secret(&mut rng);
    g.bench_function("shared_floor", |b| {
        b.iter(|| modp.shared_secret(&own, black_box(&peer)).expect("shared"));
    });
    g.finish();
}

criterion_main!(group::benches);
