//! Two engines with an established session and the message path between them, shared by
//! this crate's benchmark and the vodozemac comparison in `compare/`.
use std::hint::black_box;

use esession::xml::{parse_element, Limits};
use esession::{Config, Element, Engine, Event, MemoryStore, SeededRandom, Timestamp};
use esession::{FullJid, Jid, SessionId};

pub(crate) const ALICE: &str = "alice@example.org/pda";
pub(crate) const BOB: &str = "bob@example.com/laptop";
const BOB_BARE: &str = "bob@example.com";
pub(crate) const NOW: Timestamp = Timestamp(1_800_000_000);

pub(crate) type Party = Engine<MemoryStore>;

/// `jid` parsed (the benchmarks' JIDs are valid).
pub(crate) fn full(jid: &str) -> FullJid {
    FullJid::new(jid).expect("a full JID")
}

pub(crate) fn bob_bare() -> Jid {
    Jid::new(BOB_BARE).expect("a JID")
}

/// Two fresh engines that accept only MODP group `group`; `seed` varies the randomness.
pub(crate) fn pair(group: u32, seed: u64) -> (Party, Party) {
    let config = Config {
        groups: vec![group],
        ..Config::default()
    };
    let alice = Engine::new(
        full(ALICE),
        config.clone(),
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(&format!("bench/{group}/{seed}/a"))),
    );
    let bob = Engine::new(
        full(BOB),
        config,
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(&format!("bench/{group}/{seed}/b"))),
    );
    (alice, bob)
}

/// Everything `engine` has queued, stamped with `from` as a server would.
pub(crate) fn drain(engine: &mut Party, from: &str) -> Vec<Element> {
    let mut out = Vec::new();
    while let Some(mut s) = engine.poll_outgoing() {
        s.set_attr("from", from);
        out.push(s);
    }
    out
}

pub(crate) fn deliver(engine: &mut Party, stanzas: Vec<Element>) {
    for s in stanzas {
        engine.handle_stanza(s, NOW);
    }
}

/// Passes stanzas between Alice and Bob (stamped with `from`) until neither has any.
pub(crate) fn exchange(alice: &mut Party, bob: &mut Party) {
    loop {
        let a = drain(alice, ALICE);
        let moved = !a.is_empty();
        deliver(bob, a);
        let b = drain(bob, BOB);
        let moved = moved || !b.is_empty();
        deliver(alice, b);
        if !moved {
            break;
        }
    }
}

/// Alice and Bob with one long-lived session negotiated in group 14 (untimed): every
/// send advances the counters, so each stanza goes straight to the peer.
pub(crate) fn established() -> (Party, Party, SessionId) {
    let (mut alice, mut bob) = pair(14, 0);
    let thread = alice.start(&bob_bare(), NOW).expect("start");
    exchange(&mut alice, &mut bob);
    assert!(matches!(alice.poll_event(), Some(Event::Established(_))));
    assert!(matches!(bob.poll_event(), Some(Event::Established(_))));
    (alice, bob, thread)
}

/// A chat body of `len` ASCII bytes (nothing to escape).
pub(crate) fn body(len: usize) -> String {
    let text = "The quick brown fox jumps over the lazy dog. ";
    text.chars().cycle().take(len).collect()
}

/// `from="ALICE"` as a server stamps it on Alice's stanzas.
const FROM_ALICE: &str = " from=\"alice@example.org/pda\"";

/// The server between Alice and Bob: it writes each stanza it relays, with `from`
/// stamped, into a buffer of its own that it keeps from one stanza to the next, as a
/// server writes into its connection's buffer. (Stamping by inserting into the sent text
/// instead grew that exact-sized allocation for every stanza: 4 % of the round trip at
/// 16 B, none of it the engine's; docs/benchmarks.md.)
#[derive(Default)]
pub(crate) struct Relay {
    wire: String,
}

impl Relay {
    /// `sent` as Bob receives it: `from` stamped after the element's name, which the
    /// `xmlns` declaration follows.
    fn stamp(&mut self, sent: &str) -> &str {
        debug_assert_eq!(FROM_ALICE, format!(" from=\"{ALICE}\""));
        let at = sent.find(' ').expect("a stanza's attributes");
        self.wire.clear();
        self.wire.push_str(sent.get(..at).unwrap_or_default());
        self.wire.push_str(FROM_ALICE);
        self.wire.push_str(sent.get(at..).unwrap_or_default());
        &self.wire
    }
}

/// The message path with the outer stanza as text both ways: Alice's `send_message`, her
/// stanza taken as the text a connection sends (`poll_outgoing_text`), that text relayed
/// with `from` stamped as a server does on the way ([`Relay`]), the relayed text parsed
/// as a received stanza is (`parse_element`, default limits), Bob's `handle_stanza` and
/// `poll_event`.
pub(crate) fn text_roundtrip(
    alice: &mut Party,
    bob: &mut Party,
    thread: &SessionId,
    body: &str,
    relay: &mut Relay,
) -> Option<Event> {
    alice.send_message(thread, body).expect("send_message");
    let sent = alice.poll_outgoing_text().expect("stanza");
    let received =
        parse_element(black_box(relay.stamp(&sent)), &Limits::default()).expect("stanza text");
    bob.handle_stanza(received, NOW);
    bob.poll_event()
}

/// Checks (untimed) that `event` delivers `body`, decrypted.
pub(crate) fn assert_delivered(event: Option<Event>, body: &str) {
    match event {
        Some(Event::Message {
            body: Some(got),
            encrypted: true,
            ..
        }) => assert_eq!(got, body),
        other => panic!("expected an encrypted message, got {other:?}"),
    }
}
