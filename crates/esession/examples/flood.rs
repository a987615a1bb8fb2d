//! Issue 11 §3, measured: one JID floods Bob with negotiation requests while Alice, from
//! another JID, negotiates with him in the middle of the flood (her stanzas queue behind
//! the flood's in Bob's inbox). Prints the time Alice's session takes to establish, the
//! thread CPU time Bob spends on the flood, and the peak RSS.
//!
//! Run: `cargo run --release -p esession --example flood -- [REQUESTS] [--unlimited]`
//! (default 10,000 requests; `--unlimited` lifts `Config::flood`, as before the limits).
use cpu_time::ThreadTime;
use esession::{xml::ns, xml::Node, Timestamp};
use esession::{Config, Element, Engine, Event, FloodLimits, MemoryStore, Rate, SeededRandom};
use esession::{FullJid, Jid};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.org/pda";
const BOB: &str = "bob@example.com/laptop";
const MALLORY: &str = "mallory@evil.example/x";

/// The peak resident set size (`VmHWM` in `/proc/self/status`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `template` on its own thread `n`.
fn request(template: &Element, n: usize) -> Element {
    let mut s = template.clone();
    for node in s.nodes_mut() {
        if let Node::Element(e) = node {
            if e.is("thread", ns::JABBER_CLIENT) {
                *e = Element::new("thread", ns::JABBER_CLIENT).with_text(format!("flood-{n}"));
            }
        }
    }
    s
}

fn engine(own: &str, config: Config) -> Result<Engine<MemoryStore>, esession::JidError> {
    let rng = Box::new(SeededRandom::from_label(own));
    Ok(Engine::new(
        FullJid::new(own)?,
        config,
        MemoryStore::new(),
        rng,
    ))
}

/// A stanza waiting in Bob's inbox.
enum Item {
    /// Mallory's request on thread `flood-n`.
    Flood(usize),
    /// Alice's negotiation message.
    Alice(Element),
}

/// Queues what Alice sent behind everything already in Bob's inbox.
fn queue_from_alice(alice: &mut Engine<MemoryStore>, inbox: &mut VecDeque<Item>) {
    while let Some(mut s) = alice.poll_outgoing() {
        s.set_attr("from", ALICE);
        inbox.push_back(Item::Alice(s));
    }
}

/// What Bob did with the flood.
#[derive(Default)]
struct Tally {
    answered: usize,
    errors: usize,
    warnings: usize,
    cpu: Duration,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let unlimited = args.iter().any(|a| a == "--unlimited");
    let requests: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let flood = if unlimited {
        let wide = Rate {
            burst: u32::MAX,
            per_minute: u32::MAX,
        };
        FloodLimits {
            pending: usize::MAX,
            pending_per_jid: usize::MAX,
            requests: wide,
            untrusted_three_message: wide,
            peer_rekeys: wide,
        }
    } else {
        FloodLimits::default()
    };
    let mut bob = engine(
        BOB,
        Config {
            flood,
            ..Config::default()
        },
    )?;
    let mut alice = engine(ALICE, Config::default())?;
    let mut mallory = engine(MALLORY, Config::default())?;
    let bob_bare = Jid::new("bob@example.com")?;
    let start = Timestamp::now();
    mallory.start(&bob_bare, start)?;
    let mut template = mallory.poll_outgoing().ok_or("no message 1")?;
    template.set_attr("from", MALLORY);

    // Bob's inbox is one FIFO, as a client's connection is: Mallory's burst of requests
    // is queued, Alice starts when half of it was sent, and each of her messages queues
    // behind the flood stanzas already there.
    let mut inbox: VecDeque<Item> = (0..requests / 2).map(Item::Flood).collect();
    let began = Instant::now();
    let clock = || start.plus(began.elapsed().as_secs());
    alice.start(&bob_bare, clock())?;
    queue_from_alice(&mut alice, &mut inbox);
    inbox.extend((requests / 2..requests).map(Item::Flood));
    let mut tally = Tally::default();
    let mut established: Option<Duration> = None;
    let mut events_seen = (false, false);
    while let Some(item) = inbox.pop_front() {
        match item {
            Item::Flood(n) => {
                let stanza = request(&template, n);
                let now = clock();
                // Thread CPU time (CLOCK_THREAD_CPUTIME_ID): the machine is shared.
                let before = ThreadTime::now();
                bob.handle_stanza(stanza, now);
                tally.cpu += before.elapsed();
            }
            Item::Alice(s) => bob.handle_stanza(s, clock()),
        }
        while let Some(mut s) = bob.poll_outgoing() {
            if s.attr("to").is_some_and(|t| t.starts_with("mallory@")) {
                if s.attr("type") == Some("error") {
                    tally.errors += 1;
                } else {
                    tally.answered += 1;
                }
            } else {
                // Alice is not flooded: Bob's answers reach her at once.
                s.set_attr("from", BOB);
                alice.handle_stanza(s, clock());
            }
        }
        while let Some(e) = bob.poll_event() {
            match e {
                Event::Warning { peer, .. } if peer.as_str().starts_with("mallory@") => {
                    tally.warnings += 1
                }
                Event::Established(i) if i.peer.as_str() == ALICE => events_seen.1 = true,
                _ => {}
            }
        }
        queue_from_alice(&mut alice, &mut inbox);
        while let Some(e) = alice.poll_event() {
            if let Event::Established(_) = e {
                events_seen.0 = true;
            }
        }
        if events_seen == (true, true) && established.is_none() {
            established = Some(began.elapsed());
        }
    }
    let total = began.elapsed();
    println!(
        "flood: {requests} requests from one JID ({})",
        if unlimited {
            "no limits"
        } else {
            "default Config::flood"
        }
    );
    println!(
        "  answered {}, refused with an error {}, warnings {}, refused silently {}",
        tally.answered,
        tally.errors,
        tally.warnings,
        requests - tally.answered - tally.errors
    );
    println!(
        "  CPU on the flood: {:.3} s ({:.1} µs a request); wall time {:.3} s",
        tally.cpu.as_secs_f64(),
        tally.cpu.as_secs_f64() * 1e6 / requests.max(1) as f64,
        total.as_secs_f64()
    );
    match established {
        Some(d) => println!(
            "  legitimate session (another JID, queued behind half the flood) established in {:.3} s",
            d.as_secs_f64()
        ),
        None => println!("  legitimate session NOT established during the flood"),
    }
    println!("  negotiations held by Bob: {}", bob.session_ids().len());
    println!(
        "  peak RSS (VmHWM): {:.1} MB",
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}
