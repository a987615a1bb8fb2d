//! The message path of the benchmark's `text_roundtrip`, N times, for counting
//! instructions (docs/benchmarks.md, "The sealed stanza written as text"):
//!
//! ```text
//! cargo build --release -p esession --example message_count
//! valgrind --tool=callgrind target/release/examples/message_count 500 200
//! valgrind --tool=callgrind target/release/examples/message_count 0 200
//! ```
//!
//! The difference of the two totals divided by 500 is the count per round trip of a
//! 200-byte body (the session setup cancels out). Arguments: N (default 0) and the body
//! length in octets (default 200). With `PRINT` set in the environment it first prints
//! one stanza as sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/support/message_path.rs"]
#[allow(dead_code)]
mod message_path;

use message_path::{assert_delivered, body, established, text_roundtrip, Relay};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(0, |a| a.parse().expect("N"));
    let len: usize = args.next().map_or(200, |a| a.parse().expect("a length"));
    let (mut alice, mut bob, thread) = established();
    let mut relay = Relay::default();
    let body = body(len);
    if std::env::var_os("PRINT").is_some() {
        alice.send_message(&thread, &body).expect("send_message");
        let text = alice.poll_outgoing_text().expect("a stanza");
        println!("{text}");
        let mut stanza =
            esession::xml::parse_element(&text, &Default::default()).expect("stanza text");
        stanza.set_attr("from", message_path::ALICE);
        bob.handle_stanza(stanza, message_path::NOW);
        bob.poll_event();
    }
    for _ in 0..n {
        let event = text_roundtrip(&mut alice, &mut bob, &thread, &body, &mut relay);
        assert_delivered(event, &body);
    }
}
