//! The client runs the engine's timers at their deadline, with no stanza to wake it
//! (`Client::next_event` waits until `Engine::next_timeout`), through a real server (Prosody,
//! or the ejabberd cluster with Bob on node 1 and Alice on node 2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use esession::{Config, ErrorKind, Event, MemoryStore, OsRandom, Timestamp};
use esession_testkit::target;
use esession_xmpp::{Client, ConnectOptions, Connection, TlsMode};

fn options(prefix: &str) -> ConnectOptions {
    let login = target().register_unique(prefix);
    let mut o = ConnectOptions::new(&login.jid, &login.password);
    o.server = Some(login.addr);
    o.tls = TlsMode::Plain;
    o.timeout = Duration::from_secs(10);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_negotiation_fails_at_its_deadline() {
    // Bob is online but runs no engine: the request reaches him and is never answered.
    let bob = Connection::connect(options("silentbob")).await.unwrap();
    let config = Config {
        negotiation_timeout: 1,
        ..Config::default()
    };
    let mut alice = Client::connect(
        options("timeralice"),
        config,
        MemoryStore::new(),
        Box::new(OsRandom),
    )
    .await
    .unwrap();
    let thread = alice
        .engine_mut()
        .start(bob.bound(), Timestamp::now())
        .unwrap();
    assert!(alice.engine().next_timeout().is_some());
    // XEP-0155 §4.2: no answer, the negotiation ends. One wait far longer than the
    // deadline (1 s): the event comes from the timer, since Bob sends nothing, and the
    // wait ends with it rather than at its end.
    let wait = Duration::from_secs(30);
    let started = Instant::now();
    let event = loop {
        match alice.next_event(wait).await.unwrap() {
            Some(Event::Failed { session, error, .. }) if session == thread => {
                break Some(error.kind())
            }
            Some(_) => {}
            None => break None,
        }
    };
    assert_eq!(
        event,
        Some(ErrorKind::Timeout),
        "the unanswered negotiation did not time out within 30 s"
    );
    assert!(
        started.elapsed() < wait / 2,
        "the timer fired only when the wait ended"
    );
    assert_eq!(alice.engine().next_timeout(), None);
    bob.close().await.unwrap();
    drop(alice.shutdown(Duration::from_secs(2)).await);
}
