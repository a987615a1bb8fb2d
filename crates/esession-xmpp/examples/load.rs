//! End-to-end load through a real XMPP server on loopback, and memory per session.
//!
//! ```sh
//! cargo run --release -p esession-xmpp --example load -- [--messages N] [--rounds R]
//!     [--sessions S] [--time-limit SECONDS] [--skip-server] [--skip-memory]
//! ```
//!
//! The server is the test server of `esession-testkit`: the one named by
//! `ESESSION_TEST_ENV` (the `env` file of `scripts/prosody.sh start DIR`), or else a
//! private Prosody started on free loopback ports for this run and stopped at exit.
//! Everything is sent to 127.0.0.1 only; every loop is bounded in count and in time.
//!
//! * (a) messages: two clients with an established ESession; N messages of 200 bytes
//!   sent back to back (messages per second until the last one arrives), then N sent one
//!   at a time (latency from `send_message` to the receiver's `Message` event, median and
//!   99th percentile). The same for N plaintext messages sent by the same clients with
//!   `Connection::send_element` and received through the same `Client::next_event`. The modes
//!   alternate (plaintext, ESession, plaintext, ESession).
//!   With `LOAD_DEBUG` set, (b) also prints each round's times on stderr.
//! * (b) establishment: R sessions each of an ESession with the default configuration
//!   (Alice offers groups 15, 14, 16 and 5), with group 14 only, each without and with a
//!   warm pool of precomputed DH values on both sides, and a plain XEP-0155 session
//!   (`security = [c2s]` on both sides), each kind between two fresh clients; wall time
//!   from `start` to Alice's `Established` (median and 99th percentile). Each round ends
//!   with a last message, flushed, then the terminate; Bob's time from that message to
//!   his `Terminated` event is the terminate's delay.
//! * (c) memory: two engines in memory (no server) establish up to S sessions (group 14,
//!   one DH pool filled by a background thread), and the growth of this process's
//!   resident set (`/proc/self/statm`) is divided by the number of sessions. The retained
//!   secret each new session stores (in `MemoryStore`, on both sides) is part of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use esession::{
    Config, DhPool, Element, Engine, Event, FullJid, Jid, MemoryStore, OsRandom, Security,
    SessionId, Timestamp,
};
use esession_xmpp::{Client, ConnectOptions, TlsMode};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Wall-clock bound of each server phase.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
/// Length of every message body.
const BODY_LEN: usize = 200;

struct Args {
    messages: usize,
    rounds: usize,
    sessions: usize,
    time_limit: Duration,
    server: bool,
    memory: bool,
}

fn args() -> Args {
    let mut a = Args {
        messages: 1000,
        rounds: 20,
        sessions: 10_000,
        time_limit: Duration::from_secs(60),
        server: true,
        memory: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match flag.as_str() {
            "--messages" => a.messages = num("--messages").clamp(1, 100_000),
            "--rounds" => a.rounds = num("--rounds").clamp(1, 1000),
            "--sessions" => a.sessions = num("--sessions").clamp(1, 100_000),
            "--time-limit" => {
                a.time_limit = Duration::from_secs(num("--time-limit").clamp(1, 3600) as u64)
            }
            "--skip-server" => a.server = false,
            "--skip-memory" => a.memory = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let args = args();
    println!(
        "load: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| format!("load average {}", l.trim()))
            .unwrap_or_default()
    );
    if args.server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(server_phases(&args));
    }
    if args.memory {
        memory(args.sessions, args.time_limit);
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

/// (median, 99th percentile) of `v` (nearest rank), in microseconds.
fn stats(v: &mut [Duration]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99))
}

// ---------------------------------------------------------------------------------------
// Clients on the real server

async fn connect(prefix: &str, config: Config) -> Client<MemoryStore> {
    let server = esession_testkit::server();
    let (jid, password) = server.register_unique(prefix);
    let mut opts = ConnectOptions::new(&jid, &password);
    opts.server = Some(server.addr.clone());
    opts.tls = TlsMode::Plain; // loopback only
    opts.timeout = Duration::from_secs(10);
    Client::connect(opts, config, MemoryStore::new(), Box::new(OsRandom))
        .await
        .unwrap_or_else(|e| panic!("{jid} could not log in: {e}"))
}

/// A client served by its own task: every event it sees goes to `events` with the time
/// it was seen.
struct Peer {
    events: mpsc::UnboundedReceiver<(Instant, Event)>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Client<MemoryStore>>,
}

fn spawn_peer(mut client: Client<MemoryStore>) -> Peer {
    let (tx, events) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        while !*stop_rx.borrow() {
            match client.next_event(Duration::from_millis(20)).await {
                Ok(Some(ev)) => {
                    let _ = tx.send((Instant::now(), ev));
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("peer: {e}");
                    break;
                }
            }
        }
        client
    });
    Peer { events, stop, task }
}

impl Peer {
    async fn finish(self) -> Client<MemoryStore> {
        let _ = self.stop.send(true);
        self.task.await.unwrap()
    }

    /// The next event matching `pick`, waiting until `deadline`.
    async fn wait<T>(
        &mut self,
        deadline: Instant,
        mut pick: impl FnMut(Instant, Event) -> Option<T>,
    ) -> Option<T> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some((at, ev))) => {
                    if let Some(t) = pick(at, ev) {
                        return Some(t);
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Reads `client`'s events until `pick` accepts one or `deadline` passes.
async fn until<T>(
    client: &mut Client<MemoryStore>,
    deadline: Instant,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Option<T> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Some(ev) = client.next_event(left).await.unwrap() {
            if let Some(t) = pick(&ev) {
                return Some(t);
            }
            if let Event::Failed { error, .. } = &ev {
                panic!("negotiation failed: {error}");
            }
        }
    }
}

/// One session from `alice` to `bob`: the wall time until Alice's `Established`, and the
/// thread. Waits for Bob's `Established` too (untimed).
async fn establish(
    alice: &mut Client<MemoryStore>,
    bob: &mut Peer,
    bob_jid: &str,
) -> Option<(Duration, SessionId)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let t0 = Instant::now();
    let to = Jid::new(bob_jid).unwrap();
    let thread = alice.engine_mut().start(&to, Timestamp::now()).unwrap();
    until(alice, deadline, |ev| {
        matches!(ev, Event::Established(i) if i.id == thread).then_some(())
    })
    .await?;
    let took = t0.elapsed();
    let bob_at = bob
        .wait(deadline, |at, ev| {
            // Bob names the session by Alice's bare JID and the same thread.
            matches!(ev, Event::Established(ref i) if i.id.thread() == thread.thread())
                .then_some(at)
        })
        .await?;
    if std::env::var_os("LOAD_DEBUG").is_some() {
        eprintln!("alice {:?} bob {:?}", took, bob_at - t0);
    }
    Some((took, thread))
}

/// Sends a last message and then terminates the session (each flushed as the
/// application would: the message first, then the terminate), waits for both sides to
/// see it end, and returns how long after that message Bob saw the session terminated.
async fn end(
    alice: &mut Client<MemoryStore>,
    bob: &mut Peer,
    thread: &SessionId,
) -> Option<Duration> {
    let deadline = Instant::now() + Duration::from_secs(10);
    alice.engine_mut().send_message(thread, &body(0)).unwrap();
    alice.flush().await.unwrap();
    alice
        .engine_mut()
        .terminate(thread, Timestamp::now())
        .unwrap();
    until(alice, deadline, |ev| {
        matches!(ev, Event::Terminated { session: t, .. } if t == thread).then_some(())
    })
    .await;
    let mut last_message = None;
    let terminated = bob
        .wait(deadline, |at, ev| match ev {
            Event::Message {
                session: Some(ref t),
                ..
            } if t.thread() == thread.thread() => {
                last_message = Some(at);
                None
            }
            Event::Terminated { session: ref t, .. } if t.thread() == thread.thread() => Some(at),
            _ => None,
        })
        .await?;
    Some(terminated - last_message?)
}

/// A 200-byte body that starts with its sequence number.
fn body(seq: usize) -> String {
    let mut b = format!("{seq:08} ");
    let filler = "The quick brown fox jumps over the lazy dog. ";
    b.extend(filler.chars().cycle().take(BODY_LEN - b.len()));
    b
}

fn seq_of(body: &str) -> Option<usize> {
    body.get(..8)?.parse().ok()
}

/// How Alice sends message `seq`.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Encrypted,
    Plain,
}

async fn send(
    alice: &mut Client<MemoryStore>,
    mode: Mode,
    to: &str,
    thread: &SessionId,
    seq: usize,
) {
    match mode {
        Mode::Encrypted => {
            alice.engine_mut().send_message(thread, &body(seq)).unwrap();
            alice.flush().await.unwrap();
        }
        Mode::Plain => {
            let msg = Element::new("message", esession::xml::ns::JABBER_CLIENT)
                .with_attr("to", to)
                .with_attr("type", "chat")
                .with_child(
                    Element::new("body", esession::xml::ns::JABBER_CLIENT).with_text(body(seq)),
                );
            alice.connection_mut().send_element(&msg).await.unwrap();
        }
    }
}

/// Picks a received message of `mode`: its sequence number.
fn received(mode: Mode, ev: Event) -> Option<usize> {
    match ev {
        Event::Message {
            body: Some(b),
            encrypted,
            ..
        } if encrypted == (mode == Mode::Encrypted) => seq_of(&b),
        _ => None,
    }
}

/// (messages per second, median and p99 latency in µs of the one-at-a-time pass,
/// messages delivered in each pass).
async fn messages(
    alice: &mut Client<MemoryStore>,
    bob: &mut Peer,
    to: &str,
    thread: &SessionId,
    mode: Mode,
    n: usize,
) -> (f64, f64, f64, usize, usize) {
    // Back to back: throughput.
    let deadline = Instant::now() + PHASE_LIMIT;
    let t0 = Instant::now();
    for seq in 0..n {
        send(alice, mode, to, thread, seq).await;
    }
    let mut got = 0;
    while got < n {
        if bob
            .wait(deadline, |_, ev| received(mode, ev))
            .await
            .is_none()
        {
            break;
        }
        got += 1;
    }
    let rate = got as f64 / t0.elapsed().as_secs_f64();

    // One at a time: latency.
    let deadline = Instant::now() + PHASE_LIMIT;
    let mut lat = Vec::with_capacity(n);
    for seq in n..2 * n {
        let sent = Instant::now();
        send(alice, mode, to, thread, seq).await;
        let Some(at) = bob
            .wait(deadline, |at, ev| {
                (received(mode, ev) == Some(seq)).then_some(at)
            })
            .await
        else {
            break;
        };
        lat.push(at - sent);
    }
    let delivered = lat.len();
    let (median, p99) = stats(&mut lat);
    (rate, median, p99, got, delivered)
}

async fn server_phases(args: &Args) {
    let server = esession_testkit::server();
    println!("server: {} (Prosody, plain TCP on loopback)", server.addr);

    // (a) and (b), ESession: default configuration on both sides.
    let mut alice = connect("loada", Config::default()).await;
    let bob = connect("loadb", Config::default()).await;
    let bob_jid = bob.jid().to_string();
    let mut bob = spawn_peer(bob);

    let (_, thread) = establish(&mut alice, &mut bob, &bob_jid)
        .await
        .expect("first ESession");
    println!(
        "\n(a) {} messages of {BODY_LEN} bytes, Alice -> Bob",
        args.messages
    );
    println!("| mode | msg/s (back to back) | latency median | latency p99 | delivered |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    // Each mode runs twice, alternating, so that warm-up and drift affect both; the ratio
    // compares the second pass of each.
    let mut rates = Vec::new();
    for mode in [Mode::Plain, Mode::Encrypted, Mode::Plain, Mode::Encrypted] {
        let (rate, median, p99, got, delivered) =
            messages(&mut alice, &mut bob, &bob_jid, &thread, mode, args.messages).await;
        let name = if mode == Mode::Plain {
            "plaintext"
        } else {
            "ESession"
        };
        println!(
            "| {name} | {rate:.0} | {median:.0} µs | {p99:.0} µs | {got} + {delivered} of {} |",
            2 * args.messages
        );
        rates.push((rate, median));
    }
    if let [_, _, (pr, pm), (er, em)] = rates[..] {
        println!(
            "ESession / plaintext (second passes): throughput {:.2}, median latency {:.2}",
            er / pr,
            em / pm
        );
    }
    end(&mut alice, &mut bob, &thread).await;
    drop(alice.shutdown(Duration::from_secs(2)).await);
    drop(bob.finish().await.shutdown(Duration::from_secs(2)).await);

    // (b) Establishment times, and the terminate after a last message.
    println!(
        "\n(b) session establishment, {} rounds each (wall time from start to Alice's \
         Established), and the terminate sent right after a last message (time from that \
         message to the terminate at Bob)",
        args.rounds
    );
    println!("| session | setup median | setup p99 | terminate median | terminate p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let group14 = Config {
        groups: vec![14],
        ..Config::default()
    };
    let plain = Config {
        security: vec![Security::C2s],
        ..Config::default()
    };
    let kinds = [
        (
            "ESession, default configuration, no pool",
            Config::default(),
            false,
        ),
        (
            "ESession, default configuration, warm pool",
            Config::default(),
            true,
        ),
        ("ESession, group 14, no pool", group14.clone(), false),
        ("ESession, group 14, warm pool", group14, true),
        ("plain XEP-0155 session, security c2s", plain, false),
    ];
    let mut medians = Vec::new();
    for (name, config, pooled) in kinds {
        let (mut setup, mut ends) = establishment(config, pooled, args.rounds).await;
        let n = setup.len();
        let (median, p99) = stats(&mut setup);
        let (end_median, end_p99) = stats(&mut ends);
        println!(
            "| {name} ({n}) | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} µs |",
            median / 1e3,
            p99 / 1e3,
            end_median,
            end_p99
        );
        medians.push((name, median));
    }
    if let Some((_, plain)) = medians.pop() {
        for (name, median) in medians {
            println!("{name} / plain: {:.2}", median / plain);
        }
    }
}

/// `rounds` sessions between two fresh clients with `config` (with a warm pool of one DH
/// value per group on both sides if `pooled`): the setup times and the terminate gaps.
async fn establishment(
    config: Config,
    pooled: bool,
    rounds: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut alice = connect("loadsa", config.clone()).await;
    let mut bob = connect("loadsb", config).await;
    if pooled {
        alice.enable_dh_pool(1);
        bob.enable_dh_pool(1);
    }
    let bob_jid = bob.jid().to_string();
    let mut bob = spawn_peer(bob);
    let (mut setup, mut ends) = (Vec::new(), Vec::new());
    let limit = Instant::now() + PHASE_LIMIT;
    for _ in 0..rounds {
        if Instant::now() > limit {
            break;
        }
        // Let the fillers refill (the same pause with and without pools).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Some((took, thread)) = establish(&mut alice, &mut bob, &bob_jid).await else {
            break;
        };
        setup.push(took);
        ends.extend(end(&mut alice, &mut bob, &thread).await);
    }
    drop(alice.shutdown(Duration::from_secs(2)).await);
    drop(bob.finish().await.shutdown(Duration::from_secs(2)).await);
    (setup, ends)
}

// ---------------------------------------------------------------------------------------
// (c) Memory per session, in memory

/// Resident set size of this process in bytes (`/proc/self/statm`, 4 KiB pages).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn memory(target: usize, limit: Duration) {
    const A: &str = "alice@example.org/pda";
    const B: &str = "bob@example.com/laptop";
    println!("\n(c) sessions held in memory by two engines (group 14, no server)");
    let config = Config {
        groups: vec![14],
        ..Config::default()
    };
    let pool = DhPool::new();
    // One filler (the second core) precomputes public values for both engines.
    let filler = pool.spawn_filler(vec![14], 64, Box::new(OsRandom));
    let (a, b) = (FullJid::new(A).unwrap(), FullJid::new(B).unwrap());
    let mut alice = Engine::new(a, config.clone(), MemoryStore::new(), Box::new(OsRandom));
    let mut bob = Engine::new(b, config, MemoryStore::new(), Box::new(OsRandom));
    let bob_bare = Jid::new("bob@example.com").unwrap();
    alice.set_dh_pool(Some(pool.clone()));
    bob.set_dh_pool(Some(pool.clone()));
    let now = Timestamp::now();

    let start = Instant::now();
    let before = rss();
    println!("| sessions | RSS | growth per session | elapsed |");
    println!("| ---: | ---: | ---: | ---: |");
    let mut done = 0;
    let step = (target / 10).max(1);
    while done < target {
        if start.elapsed() > limit {
            println!("time limit of {} s reached", limit.as_secs());
            break;
        }
        alice.start(&bob_bare, now).unwrap();
        loop {
            let mut moved = false;
            while let Some(mut s) = alice.poll_outgoing() {
                s.set_attr("from", A);
                bob.handle_stanza(s, now);
                moved = true;
            }
            while let Some(mut s) = bob.poll_outgoing() {
                s.set_attr("from", B);
                alice.handle_stanza(s, now);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        for e in [&mut alice, &mut bob] {
            match e.poll_event() {
                Some(Event::Established(_)) => {}
                other => panic!("session {done}: expected Established, got {other:?}"),
            }
        }
        done += 1;
        if done % step == 0 || done == target {
            let now_rss = rss();
            println!(
                "| {done} | {:.1} MiB | {:.0} B | {:.1} s |",
                now_rss as f64 / 1048576.0,
                now_rss.saturating_sub(before) as f64 / done as f64,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let grown = rss().saturating_sub(before);
    println!(
        "sessions established and held: {done} (each engine holds {} sessions); RSS grew {:.1} MiB = {:.0} bytes per session (both ends, retained secrets included), in {:.1} s",
        alice.sessions().len(),
        grown as f64 / 1048576.0,
        grown as f64 / done.max(1) as f64,
        start.elapsed().as_secs_f64()
    );
    drop((alice, bob, pool));
    filler.join().unwrap();
}
