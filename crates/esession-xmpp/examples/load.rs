//! End-to-end load through a real XMPP server on loopback, and memory per session.
//!
//! ```sh
//! cargo run --release -p esession-xmpp --example load -- [--messages N] [--rounds R]
//!     [--storm N] [--sessions S] [--time-limit SECONDS] [--skip-server] [--skip-memory]
//!     [--skip-messages]
//! ```
//!
//! The server is the test server of `esession-testkit`: the one named by
//! `ESESSION_TEST_ENV` (the `env` file of `scripts/prosody.sh start DIR`), or else a
//! private Prosody started on free loopback ports for this run and stopped at exit; with
//! `ESESSION_TEST_SERVER=ejabberd`, the two-node ejabberd cluster (`ESESSION_EJABBERD_ENV`,
//! the `env` file of `scripts/ejabberd.sh start DIR`), Alice on node 1 and Bob on node 2.
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
//! * (b') relay floor: the stanzas Alice sent and received in the last round of the
//!   group-14 ESession with a warm pool and of the plain session, up to the one that
//!   established her, relayed R times between two bare streams (no engine) through the
//!   same server, each sent when the one before has arrived: what the server and the
//!   streams alone take for that negotiation's stanzas.
//! * (d) storm: N sessions (default 1000; `--storm 0` skips it) started at once by one
//!   client with another, group 14, each side with a DH pool filled with N values first;
//!   wall time until every session is established on each side, failures, and the CPU
//!   time of this process and of the server. The receiving side needs a
//!   `Config::flood` that admits N requests from one JID ([`storm_limits`]); the default
//!   answers a burst of 8.
//! * (c) memory: two engines in memory (no server) establish up to S sessions (group 14,
//!   one DH pool filled by a background thread), and the growth of this process's
//!   resident set (`/proc/self/statm`) is divided by the number of sessions. The retained
//!   secret each side stores (in `MemoryStore`, one record per peer full JID, replaced by
//!   every new session) is part of it. A counting allocator gives the heap bytes still
//!   allocated (requested sizes, without the allocator's own overhead) in each engine:
//!   what dropping it frees. Bob's engine admits S requests from Alice ([`storm_limits`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

use std::alloc::System;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use esession::{
    Config, DhPool, Element, Engine, Event, FloodLimits, FullJid, Jid, MemoryStore, OsRandom, Rate,
    Security, SessionId, Timestamp,
};
use esession_xmpp::{Client, ConnectOptions, Connection, TlsMode, Traced};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Wall-clock bound of each server phase.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
/// Length of every message body.
const BODY_LEN: usize = 200;

struct Args {
    messages: usize,
    rounds: usize,
    storm: usize,
    sessions: usize,
    time_limit: Duration,
    server: bool,
    memory: bool,
    /// Parts (a) and (b).
    messages_and_setup: bool,
}

fn args() -> Args {
    let mut a = Args {
        messages: 1000,
        rounds: 20,
        storm: 1000,
        sessions: 10_000,
        time_limit: Duration::from_secs(60),
        server: true,
        memory: true,
        messages_and_setup: true,
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
            "--storm" => a.storm = num("--storm").min(10_000),
            "--sessions" => a.sessions = num("--sessions").clamp(1, 100_000),
            "--time-limit" => {
                a.time_limit = Duration::from_secs(num("--time-limit").clamp(1, 3600) as u64)
            }
            "--skip-server" => a.server = false,
            "--skip-memory" => a.memory = false,
            "--skip-messages" => a.messages_and_setup = false,
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

/// The system allocator, counting what is allocated.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// (bytes, blocks) allocated on the heap now (requested sizes, without the allocator's
/// own overhead).
fn heap() -> (isize, isize) {
    let s = ALLOCATOR.stats();
    let signed = |n: usize| isize::try_from(n).unwrap_or(isize::MAX);
    (
        signed(s.bytes_allocated) - signed(s.bytes_deallocated) + s.bytes_reallocated,
        signed(s.allocations) - signed(s.deallocations),
    )
}

/// CPU time (user + system) of the process `pid` ("self" for this one) so far, from
/// `/proc/PID/stat` (clock ticks of 10 ms).
fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses): utime and stime are
    // the 12th and 13th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// `Config::flood` of a side that expects `n` new sessions at once from one peer: `n`
/// requests admitted in a burst and held at once (per sender and in all). The default
/// (burst 8, 30 a minute, 8 pending per sender, 256 in all) refuses the rest of a burst.
fn storm_limits(n: usize) -> FloodLimits {
    let default = FloodLimits::default();
    FloodLimits {
        pending: default.pending.max(n),
        pending_per_jid: default.pending_per_jid.max(n),
        requests: Rate {
            burst: u32::try_from(n)
                .unwrap_or(u32::MAX)
                .max(default.requests.burst),
            per_minute: default.requests.per_minute,
        },
        ..default
    }
}

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

/// Login options for a fresh account named after `prefix` on the test server (on the
/// ejabberd cluster, consecutive accounts alternate between its two nodes).
fn account(prefix: &str) -> ConnectOptions {
    let login = esession_testkit::target().register_unique(prefix);
    let mut opts = ConnectOptions::new(&login.jid, &login.password);
    opts.server = Some(login.addr);
    opts.tls = TlsMode::Plain; // loopback only
    opts.timeout = Duration::from_secs(10);
    opts
}

async fn connect(prefix: &str, config: Config) -> Client<MemoryStore> {
    let opts = account(prefix);
    let jid = opts.jid.clone();
    Client::connect(opts, config, MemoryStore::new(), Box::new(OsRandom))
        .await
        .unwrap_or_else(|e| panic!("{jid} could not log in: {e}"))
}

/// A bare stream for a fresh account: no engine, nothing answered but disco#info.
async fn connect_raw(prefix: &str) -> Connection {
    let opts = account(prefix);
    let jid = opts.jid.clone();
    Connection::connect(opts)
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
    let server = esession_testkit::target();
    println!(
        "server: {} ({:?}, plain TCP on loopback)",
        server.addr(),
        server.kind()
    );
    if args.messages_and_setup {
        messages_and_setup(args).await;
    }
    if args.storm > 0 {
        storm(args.storm, args.time_limit).await;
    }
}

/// Parts (a) and (b).
async fn messages_and_setup(args: &Args) {
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
    let mut chains = Vec::new();
    for (name, config, pooled) in kinds {
        let (mut setup, mut ends, chain) = establishment(config, pooled, args.rounds).await;
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
        chains.push((name, median, chain));
    }
    if let Some((_, plain)) = medians.pop() {
        for (name, median) in medians {
            println!("{name} / plain: {:.2}", median / plain);
        }
    }
    relay_floors(&chains, args.rounds).await;
}

/// The relay floor ([`relay`]) of the group-14 ESession with a warm pool and of the plain
/// session, beside their setup medians.
async fn relay_floors(chains: &[(&str, f64, Chain)], rounds: usize) {
    println!(
        "\n(b') the same negotiation stanzas (the last round's) relayed through the server \
         between two bare streams, each sent when the one before has arrived, {rounds} rounds"
    );
    println!(
        "| negotiation | stanzas (bytes) | relay median | relay p99 | setup median | setup / relay |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    let picked: Vec<&(&str, f64, Chain)> = chains
        .iter()
        .filter(|(name, _, chain)| {
            (name.contains("group 14, warm") || name.starts_with("plain")) && !chain.is_empty()
        })
        .collect();
    let chain_refs: Vec<&Chain> = picked.iter().map(|(_, _, chain)| chain).collect();
    let mut floors = Vec::new();
    for ((name, setup, chain), mut took) in picked.iter().zip(relay(&chain_refs, rounds).await) {
        let sizes: Vec<String> = chain
            .iter()
            .map(|(_, s)| s.to_string().len().to_string())
            .collect();
        let (median, p99) = stats(&mut took);
        println!(
            "| {name} | {} ({}) | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |",
            chain.len(),
            sizes.join(" + "),
            median / 1e3,
            p99 / 1e3,
            setup / 1e3,
            setup / median
        );
        floors.push(median);
    }
    if let [esession, plain] = floors[..] {
        println!(
            "relay floor, ESession group 14 / plain: {:.2}",
            esession / plain
        );
    }
}

/// Prosody's process id, from the pidfile `scripts/prosody.sh` writes in its directory
/// (`None` on the ejabberd cluster: two nodes).
fn server_pid() -> Option<String> {
    let esession_testkit::Target::Prosody(server) = esession_testkit::target() else {
        return None;
    };
    let dir = &server.dir;
    let pid = std::fs::read_to_string(dir.join("prosody.pid")).ok()?;
    Some(pid.trim().to_owned()).filter(|p| !p.is_empty())
}

/// (d) `n` sessions started at once from Alice to Bob, both with warm DH pools.
async fn storm(n: usize, limit: Duration) {
    println!(
        "\n(d) negotiation storm: {n} sessions started at once, Alice -> Bob, group 14, \
         a DH pool of {n} values filled on each side first; Bob admits {n} requests"
    );
    let group14 = Config {
        groups: vec![14],
        ..Config::default()
    };
    let mut alice = connect("storma", group14.clone()).await;
    let mut bob = connect(
        "stormb",
        Config {
            flood: storm_limits(n),
            ..group14
        },
    )
    .await;
    // Filled before the storm, one thread per side, and not refilled during it: the
    // storm's CPU time is the negotiations' alone.
    let fill_start = Instant::now();
    let fill = || {
        let pool = DhPool::new();
        let filling = pool.clone();
        let task = tokio::task::spawn_blocking(move || filling.fill(14, n, &mut OsRandom));
        (pool, task)
    };
    let (alice_pool, alice_fill) = fill();
    let (bob_pool, bob_fill) = fill();
    alice_fill.await.unwrap().unwrap();
    bob_fill.await.unwrap().unwrap();
    println!(
        "pools filled in {:.1} s: Alice {}, Bob {} values",
        fill_start.elapsed().as_secs_f64(),
        alice_pool.len(14),
        bob_pool.len(14)
    );
    alice.engine_mut().set_dh_pool(Some(alice_pool.clone()));
    bob.engine_mut().set_dh_pool(Some(bob_pool.clone()));
    let bob_jid = bob.jid().to_string();
    let to = Jid::new(&bob_jid).unwrap();
    let mut bob = spawn_peer(bob);

    let server = server_pid();
    let server_cpu = || server.as_deref().map(cpu_of);
    let (own0, server0) = (cpu_of("self"), server_cpu());
    let t0 = Instant::now();
    let deadline = t0 + limit;
    let now = Timestamp::now();
    let mut pending: HashSet<String> = (0..n)
        .map(|_| {
            let id = alice.engine_mut().start(&to, now).unwrap();
            id.thread().to_owned()
        })
        .collect();
    let threads = pending.clone();
    let (mut alice_failed, mut alice_warnings) = (0, 0);
    let mut alice_done = None;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match alice.next_event(left).await.unwrap() {
            Some(Event::Established(info)) => {
                pending.remove(info.id.thread());
            }
            Some(Event::Failed { session, error, .. }) if pending.remove(session.thread()) => {
                alice_failed += 1;
                eprintln!("storm: Alice's session failed: {error}");
            }
            Some(Event::Warning { detail, .. }) => {
                alice_warnings += 1;
                eprintln!("storm: Alice warned: {detail}");
            }
            _ => {}
        }
        if pending.is_empty() {
            alice_done = Some(t0.elapsed());
        }
    }
    let alice_established = n - pending.len() - alice_failed;
    let (mut bob_left, mut bob_failed, mut bob_warnings, mut bob_last) = (threads, 0, 0, None);
    while !bob_left.is_empty() {
        let seen = bob
            .wait(deadline, |at, ev| match ev {
                Event::Established(info) => Some((at, info.id.thread().to_owned(), true)),
                Event::Failed { session, error, .. } => {
                    eprintln!("storm: Bob's session failed: {error}");
                    Some((at, session.thread().to_owned(), false))
                }
                Event::Warning { detail, .. } => {
                    eprintln!("storm: Bob warned: {detail}");
                    Some((at, String::new(), false))
                }
                _ => None,
            })
            .await;
        let Some((at, thread, established)) = seen else {
            break;
        };
        if thread.is_empty() {
            bob_warnings += 1;
        } else if bob_left.remove(&thread) {
            if established {
                bob_last = Some(at - t0);
            } else {
                bob_failed += 1;
            }
        }
    }
    let bob_established = n - bob_left.len() - bob_failed;
    let own = cpu_of("self").saturating_sub(own0);
    let server_used = server_cpu().zip(server0).map(|(b, a)| b.saturating_sub(a));
    let secs = |d: Option<Duration>| {
        d.map_or("not reached".to_owned(), |d| {
            format!("{:.2} s", d.as_secs_f64())
        })
    };
    println!("| side | established | failed | warnings | all established after |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| Alice (initiator) | {alice_established} of {n} | {alice_failed} | {alice_warnings} | {} |",
        secs(alice_done)
    );
    println!(
        "| Bob (responder) | {bob_established} of {n} | {bob_failed} | {bob_warnings} | {} |",
        secs(bob_last.filter(|_| bob_left.is_empty()))
    );
    println!(
        "CPU time during the storm: this process (both clients) {:.2} s, the server {}; \
         wall time {:.2} s",
        own.as_secs_f64(),
        server_used.map_or("unknown".to_owned(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        )),
        t0.elapsed().as_secs_f64()
    );
    println!(
        "pool values left: Alice {}, Bob {}",
        alice_pool.len(14),
        bob_pool.len(14)
    );
    drop(alice.shutdown(Duration::from_secs(5)).await);
    drop(bob.finish().await.shutdown(Duration::from_secs(5)).await);
}

/// `rounds` sessions between two fresh clients with `config` (with a warm pool of one DH
/// value per group on both sides if `pooled`): the setup times and the terminate gaps.
async fn establishment(
    config: Config,
    pooled: bool,
    rounds: usize,
) -> (Vec<Duration>, Vec<Duration>, Chain) {
    let mut alice = connect("loadsa", config.clone()).await;
    // `rounds` requests from one JID within seconds: more than the default flood limits
    // admit (burst 8, 30 a minute), which would answer the ninth `resource-constraint`.
    let bob_config = Config {
        flood: storm_limits(rounds),
        ..config
    };
    let mut bob = connect("loadsb", bob_config).await;
    if pooled {
        alice.enable_dh_pool(1);
        bob.enable_dh_pool(1);
    }
    let bob_jid = bob.jid().to_string();
    let mut bob = spawn_peer(bob);
    let (mut setup, mut ends, mut chain) = (Vec::new(), Vec::new(), Vec::new());
    let limit = Instant::now() + PHASE_LIMIT;
    for _ in 0..rounds {
        if Instant::now() > limit {
            break;
        }
        // Let the fillers refill (the same pause with and without pools).
        tokio::time::sleep(Duration::from_millis(50)).await;
        alice.record_trace();
        let Some((took, thread)) = establish(&mut alice, &mut bob, &bob_jid).await else {
            break;
        };
        chain = negotiation_of(alice.take_trace(), &thread);
        setup.push(took);
        ends.extend(end(&mut alice, &mut bob, &thread).await);
    }
    drop(alice.shutdown(Duration::from_secs(2)).await);
    drop(bob.finish().await.shutdown(Duration::from_secs(2)).await);
    (setup, ends, chain)
}

/// The stanzas of one negotiation, in the order Alice sent (`true`) and received them.
type Chain = Vec<(bool, Element)>;

/// The `<message/>` stanzas of `trace` in `thread`.
fn negotiation_of(trace: Vec<Traced>, thread: &SessionId) -> Chain {
    trace
        .into_iter()
        .filter(|t| {
            t.stanza.name() == "message"
                && t.stanza
                    .child("thread", esession::xml::ns::JABBER_CLIENT)
                    .is_some_and(|th| th.text() == thread.thread())
        })
        .map(|t| (t.outgoing, t.stanza))
        .collect::<Chain>()
        .into_iter()
        // Alice is established on the last stanza she receives; what she sends after
        // it (XEP-0155's confirmation of a plain session) is not waited for.
        .rev()
        .skip_while(|(outgoing, _)| *outgoing)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// The floor of a negotiation through the server: the stanzas of each chain relayed
/// between two bare streams (no engine: nothing is computed, checked or answered), each
/// sent once the one before it has arrived; `rounds` rounds, the chains alternating within
/// each round so that both meet the same load. The wall time of each whole chain, per
/// chain. What a negotiation takes above this is the clients' own work.
async fn relay(chains: &[&Chain], rounds: usize) -> Vec<Vec<Duration>> {
    let mut alice = connect_raw("loadra").await;
    let mut bob = connect_raw("loadrb").await;
    let (to_bob, to_alice) = (bob.bound_jid().to_owned(), alice.bound_jid().to_owned());
    let chains: Vec<Chain> = chains
        .iter()
        .map(|chain| {
            chain
                .iter()
                .map(|(from_alice, stanza)| {
                    let mut stanza = stanza.clone();
                    stanza.remove_attr("from");
                    stanza.set_attr("to", if *from_alice { &to_bob } else { &to_alice });
                    (*from_alice, stanza)
                })
                .collect()
        })
        .collect();
    let mut took = vec![Vec::new(); chains.len()];
    let limit = Instant::now() + PHASE_LIMIT;
    for _ in 0..rounds {
        if Instant::now() > limit {
            break;
        }
        for (chain, took) in chains.iter().zip(&mut took) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let t0 = Instant::now();
            for (from_alice, stanza) in chain {
                let (tx, rx) = if *from_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                tx.send_element(stanza).await.unwrap();
                loop {
                    match rx.next_stanza(Duration::from_secs(10)).await.unwrap() {
                        Some(got) if got.starts_with("<message") => break,
                        Some(_) => {}
                        None => panic!("a relayed stanza did not arrive within 10 s"),
                    }
                }
            }
            took.push(t0.elapsed());
        }
    }
    drop(alice.close().await);
    drop(bob.close().await);
    took
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
    // Every request comes from Alice at the same instant.
    let bob_config = Config {
        flood: storm_limits(target),
        ..config.clone()
    };
    let pool = DhPool::new();
    // One filler (the second core) precomputes public values for both engines.
    let filler = pool.spawn_filler(vec![14], 64, Box::new(OsRandom));
    let (a, b) = (FullJid::new(A).unwrap(), FullJid::new(B).unwrap());
    let mut alice = Engine::new(a, config, MemoryStore::new(), Box::new(OsRandom));
    let mut bob = Engine::new(b, bob_config, MemoryStore::new(), Box::new(OsRandom));
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
    // What each engine holds on the heap: what dropping it frees (its sessions, its maps,
    // its store). The pool is dropped first so that its values are not counted.
    alice.set_dh_pool(None);
    bob.set_dh_pool(None);
    drop(pool);
    filler.join().unwrap();
    let per = |(bytes, blocks): (isize, isize)| {
        let n = done.max(1) as f64;
        format!(
            "{bytes} B in {blocks} blocks = {:.0} B in {:.1} blocks per session",
            bytes as f64 / n,
            blocks as f64 / n
        )
    };
    let held = heap();
    drop(alice);
    let after_alice = heap();
    drop(bob);
    let after_bob = heap();
    let diff = |a: (isize, isize), b: (isize, isize)| (a.0 - b.0, a.1 - b.1);
    println!(
        "heap of Alice's engine (initiator): {}",
        per(diff(held, after_alice))
    );
    println!(
        "heap of Bob's engine (responder): {}",
        per(diff(after_alice, after_bob))
    );
    println!("heap of both engines: {}", per(diff(held, after_bob)));
}
