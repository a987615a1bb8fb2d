//! Alice and Bob negotiate an ESession in memory, exchange a message each way and end the
//! session: the whole engine API in one page. Run: `cargo run -p esession --example in_memory`.
use esession::{Config, Engine, Event, MemoryStore, OsRandom, Timestamp};

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

fn main() -> Result<(), esession::Error> {
    let now = Timestamp::now();
    let mut alice = Engine::new(
        ALICE,
        Config::default(),
        MemoryStore::new(),
        Box::new(OsRandom),
    );
    let mut bob = Engine::new(
        BOB,
        Config::default(),
        MemoryStore::new(),
        Box::new(OsRandom),
    );

    // Alice asks for a session with Bob's bare JID; the four negotiation messages follow.
    let thread = alice.start("bob@example.com", now)?;
    for (who, event) in shuttle(&mut alice, &mut bob, now) {
        if let Event::Established(info) = event {
            println!("{who}: established with {}, SAS {:?}", info.peer, info.sas);
        }
    }

    alice.send_message(BOB, &thread, "Hello Bob")?;
    bob.send_message(ALICE, &thread, "Hello Alice")?;
    alice.terminate(BOB, &thread, now)?;
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
