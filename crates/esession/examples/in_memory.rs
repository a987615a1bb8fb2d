//! Alice and Bob negotiate an ESession in memory, exchange a message each way and end the
//! session: the whole engine API in one page. Run: `cargo run -p esession --example in_memory`.
use esession::{BareJid, Config, Engine, Event, FullJid, MemoryStore, OsRandom, Timestamp};

const ALICE: &str = "alice@example.org/pda";
const BOB: &str = "bob@example.com/laptop";

/// Delivers every queued stanza between the two engines, stamping `from` as a server
/// would, until both are quiet; returns every event in order.
fn shuttle(
    a: &mut Engine<MemoryStore>,
    b: &mut Engine<MemoryStore>,
    now: Timestamp,
) -> Vec<(&'static str, Event)> {
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some(mut s) = a.poll_outgoing() {
            s.set_attr("from", ALICE);
            println!("alice -> bob: {s}");
            b.handle_stanza(s, now);
            moved = true;
        }
        while let Some(mut s) = b.poll_outgoing() {
            s.set_attr("from", BOB);
            println!("bob -> alice: {s}");
            a.handle_stanza(s, now);
            moved = true;
        }
        while let Some(e) = a.poll_event() {
            events.push(("alice", e));
        }
        while let Some(e) = b.poll_event() {
            events.push(("bob", e));
        }
        if !moved {
            return events;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Timestamp::now();
    // JIDs are parsed (and normalized, RFC 7622) once, here at the edge.
    let mut alice = Engine::new(
        FullJid::new(ALICE)?,
        Config::default(),
        MemoryStore::new(),
        Box::new(OsRandom),
    );
    let mut bob = Engine::new(
        FullJid::new(BOB)?,
        Config::default(),
        MemoryStore::new(),
        Box::new(OsRandom),
    );

    // Alice asks for a session with Bob's bare JID; the four negotiation messages follow.
    // Each side names the session by the handle it got: Alice from `start`, Bob from his
    // `Established` event.
    let with_bob = alice.start(&BareJid::new("bob@example.com")?.into(), now)?;
    let mut with_alice = None;
    for (who, event) in shuttle(&mut alice, &mut bob, now) {
        if let Event::Established(info) = event {
            println!(
                "{who}: established {} with {}, SAS {:?}",
                info.id, info.peer, info.sas
            );
            if who == "bob" {
                with_alice = Some(info.id);
            }
        }
    }
    let with_alice = with_alice.ok_or("Bob did not establish the session")?;

    alice.send_message(&with_bob, "Hello Bob")?;
    bob.send_message(&with_alice, "Hello Alice")?;
    alice.terminate(&with_bob, now)?;
    for (who, event) in shuttle(&mut alice, &mut bob, now) {
        match event {
            Event::Message {
                body, encrypted, ..
            } => println!("{who} received {body:?} (encrypted: {encrypted})"),
            Event::Terminated { by, .. } => println!("{who}: session ended by {by:?}"),
            other => println!("{who}: {other:?}"),
        }
    }
    Ok(())
}
