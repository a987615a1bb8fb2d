//! Instruction-count harness (throw-away): N text round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#[path = "../benches/support/message_path.rs"]
#[allow(dead_code)]
mod message_path;
use message_path::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse().unwrap()).unwrap_or(0);
    let len: usize = args.next().map(|a| a.parse().unwrap()).unwrap_or(200);
    let print = std::env::var("PRINT").is_ok();
    let (mut alice, mut bob, thread) = established();
    let b = body(len);
    if print {
        alice.send_message(&thread, &b).unwrap();
        let mut s = alice.poll_outgoing().unwrap();
        s.set_attr("from", ALICE);
        println!("{s}");
        bob.handle_stanza(s, NOW);
        bob.poll_event();
    }
    for _ in 0..n {
        let e = text_roundtrip(&mut alice, &mut bob, &thread, &b);
        assert_delivered(e, &b);
    }
}
