//! Shared harness for the esession fuzz targets: two deterministic in-memory engines
//! (`SeededRandom`, fixed time), a captured real run (the four negotiation messages and
//! encrypted stanzas), engines captured once per process in the states that run left them
//! in and copied for every input (`Engine::snapshot`, feature `test-util`), and
//! byte-level mutation of captured stanzas.
//!
//! Everything here panics freely: a panic in the harness itself would mean the engine
//! stopped behaving deterministically, which is a finding too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::stanza::FALLBACK_BODY;
use esession::xml::{ns, parse_element, Limits, Node};
use esession::Timestamp;
use esession::{Config, DhPool, Element, Engine, Event, MemoryStore, Random, SeededRandom};
use esession::{FullJid, Jid, SessionId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Every target allocates through mimalloc: the engine states the targets copy and drop
/// for every input (and the trees of parsed stanzas) made the system allocator's free
/// and consolidation paths a quarter of the time of `negotiation_sequence`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Alice's full JID (the initiator).
pub const ALICE: &str = "alice@example.org/pda";
/// Bob's full JID (the responder).
pub const BOB: &str = "bob@example.com/laptop";
/// Alice starts the negotiation with Bob's bare JID.
pub const BOB_BARE: &str = "bob@example.com";
/// The fixed time of every run.
pub const NOW: Timestamp = Timestamp(1_800_000_000);
/// The plaintext of the captured Alice-to-Bob stanza.
pub const HELLO: &str = "Hello Bob";
/// The plaintext of the captured Bob-to-Alice stanza.
pub const HELLO_BACK: &str = "Hello Alice";

/// The policy of both engines: the default, restricted to the 768-bit MODP group 1 so
/// that the modular exponentiations of a negotiation an input drives stay cheap. The code
/// paths are those of every group; the group choice itself is covered by the unit tests
/// and vectors, not here.
pub fn config() -> Config {
    Config {
        groups: vec![1],
        allow_insecure_groups: true,
        ..Config::default()
    }
}

/// A `SeededRandom` the harness keeps a handle on, so that a copy of an engine can go on
/// with the very stream the original would have drawn (`Engine::snapshot` takes a new
/// generator; this one is the original's, forked).
pub struct SharedRandom(Arc<Mutex<SeededRandom>>);

impl Random for SharedRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.lock().unwrap().fill(buf);
    }
}

/// Diffie–Hellman pairs an engine finds in its pool (see [`Snap::refill`]).
const POOL_PAIRS: usize = 2;

/// The pool every engine of `label` starts from: [`POOL_PAIRS`] pairs of group 1 drawn
/// from a generator seeded from `label` (computed once per process).
fn pool_template(label: &str) -> DhPool {
    thread_local! {
        static POOLS: std::cell::RefCell<HashMap<String, DhPool>> = Default::default();
    }
    POOLS.with(|p| {
        p.borrow_mut()
            .entry(label.to_owned())
            .or_insert_with(|| {
                let pool = DhPool::new();
                let mut rng = SeededRandom::from_label(&format!("{label}/pool"));
                pool.fill(1, POOL_PAIRS, &mut rng).unwrap();
                pool
            })
            .clone()
    })
}

/// An engine with a handle on its generator and its pool's starting pairs: copyable,
/// deterministically.
pub struct Snap {
    /// The engine.
    pub engine: Engine<MemoryStore>,
    rng: Arc<Mutex<SeededRandom>>,
    pool: DhPool,
}

impl Snap {
    /// A fresh engine for `own` whose generator is seeded from `label`, its DH pool full
    /// (see [`Snap::refill`]).
    pub fn new(own: &str, config: Config, label: &str) -> Snap {
        let rng = Arc::new(Mutex::new(SeededRandom::from_label(label)));
        let engine = Engine::new(
            FullJid::new(own).unwrap(),
            config,
            MemoryStore::new(),
            Box::new(SharedRandom(Arc::clone(&rng))),
        );
        let mut snap = Snap {
            engine,
            rng,
            pool: pool_template(label),
        };
        snap.refill();
        snap
    }

    /// Gives the engine its starting pool again: the same [`POOL_PAIRS`] precomputed
    /// pairs (the production path of `Engine::set_dh_pool`). Starting or answering a
    /// negotiation then costs no exponentiation for our own public value, and every
    /// answer uses the same pair, so the captured run's messages fit any copy.
    /// (A pool still holding all its pairs is untouched, since nothing but a refill
    /// adds pairs to it, and is kept.)
    pub fn refill(&mut self) {
        let held = self.engine.dh_pool().map_or(0, |p| p.len(1));
        if held < POOL_PAIRS {
            self.engine.set_dh_pool(Some(self.pool.detached_copy()));
        }
    }

    /// A copy in exactly this state, generator and pool included: whatever the copy does
    /// next is what this engine would do next.
    pub fn copy(&self) -> Snap {
        let rng = Arc::new(Mutex::new(self.rng.lock().unwrap().clone()));
        let engine = self
            .engine
            .snapshot(Box::new(SharedRandom(Arc::clone(&rng))));
        Snap {
            engine,
            rng,
            pool: self.pool.clone(),
        }
    }
}

/// Alice's engine, fresh, with the deterministic generator of the captured run.
pub fn alice(config: Config) -> Snap {
    Snap::new(ALICE, config, "fuzz/alice")
}

/// Bob's engine, fresh, with the deterministic generator of the captured run.
pub fn bob(config: Config) -> Snap {
    Snap::new(BOB, config, "fuzz/bob")
}

/// A state an input's operations go through, copied exactly (a copy goes on as the
/// original would, see [`Snap::copy`]).
pub trait Resumable {
    /// A copy in exactly this state.
    fn copy(&self) -> Self;
}

impl Resumable for Snap {
    fn copy(&self) -> Snap {
        Snap::copy(self)
    }
}

/// States an input reached after a prefix of its operations, kept so that a later input
/// that starts with the same bytes resumes there instead of doing those operations again
/// (libFuzzer mutates an input at one place, so the operations before it are those of
/// an input run before). A state is kept after every `every`-th operation, keyed by the
/// exact bytes of the operations so far; a copy of it goes on exactly as the original
/// did, so an input's outcome is the same whether it resumes or not. Bounded: past `cap`
/// states, the least recently used is dropped.
pub struct Checkpoints<S> {
    map: HashMap<u64, Kept<S>>,
    /// Hashes in the order they were kept or last used, with the use they stand for
    /// (older entries of a hash used since are skipped when dropping).
    order: std::collections::VecDeque<(u64, u64)>,
    uses: u64,
    cap: usize,
    every: usize,
}

struct Kept<S> {
    key: Vec<u8>,
    state: S,
    used: u64,
}

/// The operations of one input as [`Checkpoints`] sees them: `ends[i]` is the byte
/// length of the first `i + 1` operations of `data`, `hashes[i]` the hash of those bytes.
pub struct Prefixes<'a> {
    data: &'a [u8],
    ends: Vec<usize>,
    hashes: Vec<u64>,
}

impl<'a> Prefixes<'a> {
    /// The prefixes of `data` that end at `ends` (increasing).
    pub fn new(data: &'a [u8], ends: Vec<usize>) -> Prefixes<'a> {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut at = 0;
        let hashes = ends
            .iter()
            .map(|&end| {
                h.write(&data[at..end]);
                at = end;
                h.finish()
            })
            .collect();
        Prefixes { data, ends, hashes }
    }

    /// The bytes of the first `ops` operations.
    fn key(&self, ops: usize) -> &'a [u8] {
        &self.data[..self.ends[ops - 1]]
    }
}

impl<S: Resumable> Checkpoints<S> {
    /// No states yet; at most `cap` kept, one after every `every` operations.
    pub fn new(cap: usize, every: usize) -> Checkpoints<S> {
        Checkpoints {
            map: HashMap::new(),
            order: std::collections::VecDeque::new(),
            uses: 0,
            cap,
            every: every.max(1),
        }
    }

    fn stamp(&mut self, hash: u64) -> u64 {
        if self.order.len() > 4 * self.cap.max(1) {
            // Mostly superseded entries: rebuilt from the uses that count.
            let mut live: Vec<(u64, u64)> = self.map.iter().map(|(h, k)| (*h, k.used)).collect();
            live.sort_unstable_by_key(|&(_, used)| used);
            self.order = live.into();
        }
        self.uses += 1;
        self.order.push_back((hash, self.uses));
        self.uses
    }

    /// The deepest kept state among the prefixes of `p`: how many operations it has done
    /// and a copy of it (`None`: start from the beginning).
    pub fn resume(&mut self, p: &Prefixes<'_>) -> Option<(usize, S)> {
        let deepest = p.ends.len() / self.every * self.every;
        for ops in (self.every..=deepest).rev().step_by(self.every) {
            let hash = p.hashes[ops - 1];
            let found = match self.map.get(&hash) {
                Some(kept) => kept.key.as_slice() == p.key(ops),
                None => false,
            };
            if found {
                let used = self.stamp(hash);
                let kept = self.map.get_mut(&hash).expect("found");
                kept.used = used;
                return Some((ops, kept.state.copy()));
            }
        }
        None
    }

    /// Keeps a copy of `state`, reached after the first `ops` operations of `p`, if `ops`
    /// is a multiple of `every`; drops the least recently used state past `cap`.
    pub fn keep(&mut self, p: &Prefixes<'_>, ops: usize, state: &S) {
        if ops == 0 || !ops.is_multiple_of(self.every) || ops > p.ends.len() {
            return;
        }
        let hash = p.hashes[ops - 1];
        let used = self.stamp(hash);
        let kept = Kept {
            key: p.key(ops).to_vec(),
            state: state.copy(),
            used,
        };
        self.map.insert(hash, kept);
        while self.map.len() > self.cap {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|k| k.used == stamp) {
                self.map.remove(&old);
            }
        }
    }
}

/// `parse_element` of `bytes` (lossily decoded as UTF-8, default [`Limits`]), remembered:
/// the same text parses to the same tree, so a text an earlier input already carried (an
/// unchanged operation after the place libFuzzer mutated) costs a look-up and a clone.
/// Bounded (cleared when full); the result is the same either way.
pub fn parse_cached(bytes: &[u8]) -> Option<Element> {
    const CAP: usize = 4096;
    thread_local! {
        static PARSED: std::cell::RefCell<HashMap<Vec<u8>, Option<Element>>> = Default::default();
    }
    PARSED.with(|m| {
        if let Some(e) = m.borrow().get(bytes) {
            return e.clone();
        }
        let e = parse_element(&String::from_utf8_lossy(bytes), &Limits::default()).ok();
        let mut m = m.borrow_mut();
        if m.len() >= CAP {
            m.clear();
        }
        m.insert(bytes.to_vec(), e.clone());
        e
    })
}

/// One real run, serialized as received (with `from` stamped as a server would).
pub struct Capture {
    /// The XEP-0201 thread of the session.
    pub thread: String,
    /// Alice's handle of the session (the same in every deterministic rerun).
    pub alice_session: SessionId,
    /// Messages 1 (A→B), 2 (B→A), 3 (A→B), 4 (B→A).
    pub negotiation: Vec<String>,
    /// Alice's first encrypted stanza, body [`HELLO`], before Bob has received anything.
    pub alice_to_bob: String,
    /// Bob's first encrypted stanza, body [`HELLO_BACK`].
    pub bob_to_alice: String,
    /// Alice's encrypted terminate (sent after `alice_to_bob`).
    pub alice_terminate: String,
    /// Every captured stanza parsed, in the order of [`Capture::all`].
    pub parsed: Vec<Element>,
    /// Where [`mutate`] aims in each captured stanza, in the same order.
    pub targets: Vec<Targets>,
}

/// The index of `alice_to_bob` in [`Capture::all`] and `parsed`.
pub const ALICE_TO_BOB: usize = 4;

impl Capture {
    /// Captured stanza `i`, in the order of [`Capture::all`] (`None` past the last).
    pub fn text(&self, i: usize) -> Option<&str> {
        match i {
            0..=3 => self.negotiation.get(i).map(String::as_str),
            ALICE_TO_BOB => Some(&self.alice_to_bob),
            5 => Some(&self.bob_to_alice),
            6 => Some(&self.alice_terminate),
            _ => None,
        }
    }

    /// Every captured stanza: the negotiation, then the encrypted ones.
    pub fn all(&self) -> Vec<&str> {
        (0..).map_while(|i| self.text(i)).collect()
    }

    /// Captured stanza `i` (of [`Capture::all`]) with mutation `ops` applied (see
    /// [`mutate`]); empty past the last.
    pub fn mutated(&self, i: usize, ops: &[u8]) -> Vec<u8> {
        match (self.text(i), self.targets.get(i)) {
            (Some(text), Some(targets)) => mutate_at(text, targets, ops),
            _ => Vec::new(),
        }
    }
}

fn stamped(mut s: Element, from: &str) -> Element {
    s.set_attr("from", from);
    s
}

fn one_out(e: &mut Engine<MemoryStore>, from: &str) -> Element {
    let s = e.poll_outgoing().expect("engine sent nothing");
    assert!(
        e.poll_outgoing().is_none(),
        "engine sent more than one stanza"
    );
    stamped(s, from)
}

/// Bob's bare JID, which Alice starts the negotiation with.
pub fn bob_bare() -> Jid {
    Jid::new(BOB_BARE).unwrap()
}

/// Drains `e`'s events; returns the session they established.
fn expect_established(e: &mut Engine<MemoryStore>) -> SessionId {
    let mut established = None;
    while let Some(ev) = e.poll_event() {
        if let Event::Established(info) = ev {
            established = Some(info.id);
        }
    }
    established.expect("the replay did not establish the session")
}

/// The captured run (computed once per process).
pub fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let mut a = alice(config()).engine;
        let mut b = bob(config()).engine;
        let session = a.start(&bob_bare(), NOW).unwrap();
        let m1 = one_out(&mut a, ALICE);
        b.handle_stanza(m1.clone(), NOW);
        let m2 = one_out(&mut b, BOB);
        a.handle_stanza(m2.clone(), NOW);
        let m3 = one_out(&mut a, ALICE);
        b.handle_stanza(m3.clone(), NOW);
        let m4 = one_out(&mut b, BOB);
        a.handle_stanza(m4.clone(), NOW);
        expect_established(&mut a);
        let bob_session = expect_established(&mut b);
        a.send_message(&session, HELLO).unwrap();
        let s1 = one_out(&mut a, ALICE);
        b.send_message(&bob_session, HELLO_BACK).unwrap();
        let s2 = one_out(&mut b, BOB);
        a.terminate(&session, NOW).unwrap();
        let t = one_out(&mut a, ALICE);
        let mut cap = Capture {
            thread: session.thread().to_owned(),
            alice_session: session,
            negotiation: [m1, m2, m3, m4].iter().map(Element::to_string).collect(),
            alice_to_bob: s1.to_string(),
            bob_to_alice: s2.to_string(),
            alice_terminate: t.to_string(),
            parsed: Vec::new(),
            targets: Vec::new(),
        };
        cap.parsed = cap.all().into_iter().map(parse).collect();
        cap.targets = cap.all().into_iter().map(Targets::of).collect();
        cap
    })
}

/// Parses a captured (well-formed) stanza.
pub fn parse(s: &str) -> Element {
    parse_element(s, &Limits::default()).expect("captured stanza parses")
}

/// Bob in the state the captured run left him in right after the negotiation (messages 1
/// and 3 replayed once per process, then copied); his outgoing queue and events drained.
pub fn established_bob() -> Snap {
    thread_local! {
        static BOB_AFTER: Snap = {
            let cap = capture();
            let mut b = bob(config());
            b.engine.handle_stanza(parse(&cap.negotiation[0]), NOW);
            while b.engine.poll_outgoing().is_some() {}
            b.engine.handle_stanza(parse(&cap.negotiation[2]), NOW);
            while b.engine.poll_outgoing().is_some() {}
            expect_established(&mut b.engine);
            b
        };
    }
    BOB_AFTER.with(Snap::copy)
}

/// Alice in the state the captured run left her in right after the negotiation (started,
/// messages 2 and 4 replayed once per process, then copied); queues drained.
pub fn established_alice() -> Snap {
    thread_local! {
        static ALICE_AFTER: Snap = {
            let cap = capture();
            let mut a = alice(config());
            let session = a.engine.start(&bob_bare(), NOW).unwrap();
            assert_eq!(
                session, cap.alice_session,
                "thread ids are not deterministic"
            );
            while a.engine.poll_outgoing().is_some() {}
            a.engine.handle_stanza(parse(&cap.negotiation[1]), NOW);
            while a.engine.poll_outgoing().is_some() {}
            a.engine.handle_stanza(parse(&cap.negotiation[3]), NOW);
            while a.engine.poll_outgoing().is_some() {}
            expect_established(&mut a.engine);
            a
        };
    }
    ALICE_AFTER.with(Snap::copy)
}

/// Byte range of the text of the first `<tag>…</tag>` in `s` (empty range if absent).
fn text_range(s: &str, tag: &str) -> std::ops::Range<usize> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    match s.find(&open) {
        Some(i) => {
            let start = i + open.len();
            let end = s[start..].find(&close).map_or(start, |j| start + j);
            start..end
        }
        None => 0..0,
    }
}

/// Where [`mutate`] aims in a text: the byte ranges of its `<data/>` and `<mac/>` base64.
pub struct Targets {
    data: std::ops::Range<usize>,
    mac: std::ops::Range<usize>,
}

impl Targets {
    /// The ranges in `s`.
    pub fn of(s: &str) -> Targets {
        Targets {
            data: text_range(s, "data"),
            mac: text_range(s, "mac"),
        }
    }
}

/// [`mutate_at`] with the [`Targets`] of `base`.
pub fn mutate(base: &str, ops: &[u8]) -> Vec<u8> {
    mutate_at(base, &Targets::of(base), ops)
}

/// Applies mutation ops to `base`, four bytes each: `[kind, pos_lo, pos_hi, value]`.
/// kind % 6: 0 flip any byte, 1 flip a byte of the `<data/>` base64, 2 flip a byte of the
/// `<mac/>` base64, 3 insert `value`, 4 delete a byte, 5 replace a `<data/>` base64 byte
/// by a base64 letter (keeps the text valid base64 more often). A flip always changes the byte.
/// `targets` must be those of `base` ([`Targets::of`]).
pub fn mutate_at(base: &str, targets: &Targets, ops: &[u8]) -> Vec<u8> {
    let (data, mac) = (&targets.data, &targets.mac);
    let mut out = base.as_bytes().to_vec();
    for op in ops.chunks_exact(4) {
        let (kind, pos, val) = (
            op[0] % 6,
            u16::from_le_bytes([op[1], op[2]]) as usize,
            op[3],
        );
        if out.is_empty() {
            out.push(val);
            continue;
        }
        let in_range = |r: &std::ops::Range<usize>, len: usize| {
            if r.is_empty() {
                pos % len
            } else {
                (r.start + pos % r.len()).min(len - 1)
            }
        };
        let len = out.len();
        match kind {
            0 => out[pos % len] ^= val.max(1),
            1 => out[in_range(data, len)] ^= val.max(1),
            2 => out[in_range(mac, len)] ^= val.max(1),
            3 => out.insert(pos % (len + 1), val),
            4 => {
                out.remove(pos % len);
            }
            _ => {
                const B64: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n";
                out[in_range(data, len)] = B64[val as usize % B64.len()];
            }
        }
    }
    out
}

/// Splits a mutation list off the front of `rest`: a count byte `n % 8`, then `n` ops of
/// 4 bytes for [`mutate`] (fewer if `rest` ends).
pub fn split_mutations<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let n = rest.first().map_or(0, |n| *n as usize % 8);
    let tail = rest.get(1..).unwrap_or(&[]);
    let (mutations, tail) = tail.split_at((n * 4).min(tail.len()));
    *rest = tail;
    mutations
}

/// Splits raw text off the front of `rest`: a little-endian u16 length, then that many
/// bytes (fewer if `rest` ends).
pub fn split_raw<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let len = match rest {
        [lo, hi, ..] => u16::from_le_bytes([*lo, *hi]) as usize,
        _ => rest.len(),
    };
    let tail = rest.get(2..).unwrap_or(&[]);
    let (raw, tail) = tail.split_at(len.min(tail.len()));
    *rest = tail;
    raw
}

/// The texts of the encrypted messages `e` delivered (drains its events).
pub fn encrypted_texts(e: &mut Engine<MemoryStore>) -> Vec<Option<String>> {
    std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| match ev {
            Event::Message {
                encrypted: true,
                body,
                ..
            } => Some(body),
            _ => None,
        })
        .collect()
}

/// m_content of XEP-0200 §6 step 4 / §8 step 2 as profile P9 fixes it: the children of
/// `<c/>` other than `<mac/>`, each in its P4 form, every XML white-space character
/// removed. (The engine's own copy is crate-private; this is the spec's definition.)
pub fn m_content(c: &Element) -> String {
    c.children()
        .filter(|e| e.name() != "mac")
        .map(Element::normalized)
        .collect::<String>()
        .chars()
        .filter(|ch| !matches!(ch, ' ' | '\t' | '\r' | '\n'))
        .collect()
}

/// The decoded `<mac/>` of a `<c/>`, if it has one that decodes.
pub fn mac_of(c: &Element) -> Option<Vec<u8>> {
    let mac = c.child("mac", ns::STANZA_ENCRYPTION)?;
    esession::b64::decode("mac", &mac.text()).ok()
}

/// The `<c/>` of a stanza, as the engine finds it.
pub fn c_of(stanza: &Element) -> Option<&Element> {
    stanza.child("c", ns::STANZA_ENCRYPTION)
}

/// Whether two `<c/>` elements are the same to a receiver: byte-identical when
/// serialized, or equal in everything XEP-0200 authenticates (m_content and the MAC
/// value). The second case is the spec's own malleability: white space inside `<data/>`
/// and `<mac/>`, attribute order and quoting, text directly inside `<c/>` and attributes of
/// `<c/>` itself are not MACed (XEP-0200 §8, profile P9), and carry no plaintext.
pub fn same_authenticated_content(a: &Element, b: &Element) -> bool {
    a.to_string() == b.to_string() || (m_content(a) == m_content(b) && mac_of(a) == mac_of(b))
}

/// Asserts that no stanza the engine wants to send carries a clear `<body/>` other than
/// the fallback notice of profile P9 (the engine's policy in these targets is e2e only,
/// so plaintext must never leave in clear).
pub fn check_outgoing(e: &mut Engine<MemoryStore>) {
    while let Some(s) = e.poll_outgoing() {
        check_no_clear_body(&s);
    }
}

/// Asserts that stanza `s` carries no clear `<body/>` other than the fallback notice.
pub fn check_no_clear_body(s: &Element) {
    for node in s.nodes() {
        if let Node::Element(child) = node {
            if child.name() == "body" {
                assert_eq!(
                    child.text(),
                    FALLBACK_BODY,
                    "clear <body/> in an outgoing stanza: {s}"
                );
            }
        }
    }
}
