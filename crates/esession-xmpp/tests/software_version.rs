//! Recognising Gajim by its XEP-0092 software version when its caps are unknown (issue 13
//! §1), through a real server (Prosody, or the ejabberd cluster): `Client::reach` asks a resource that advertises ESessions
//! and `jabber:iq:version` (and sent no caps) its version, and a session we start then
//! speaks Gajim's dialect only toward a Gajim older than 1.1. The peer is a client of ours
//! that answers version queries as told; for the Gajim case it is forced into the Gajim
//! mode, so that the session establishes only if we spoke Gajim's dialect too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod version_peer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esession::{Compat, Config, Event, MemoryStore, SessionInfo, Timestamp};
use esession_testkit::target;
use esession_xmpp::{Client, Reach, NS_VERSION};
use version_peer::{serve, Peer, T};

async fn client(prefix: &str, config: Config, features: &[&str]) -> Client<MemoryStore> {
    // On the cluster, each account logs in through its own node.
    let login = target().register_unique(prefix);
    let login_ref = (
        login.jid.as_str(),
        login.password.as_str(),
        login.addr.as_str(),
    );
    version_peer::client(login_ref, config, features, true).await
}

/// A peer answering version questions with `answer`, advertising that it does if
/// `advertise`.
async fn peer(prefix: &str, config: Config, answer: &str, advertise: bool) -> Peer {
    let features: &[&str] = if advertise { &[NS_VERSION] } else { &[] };
    Peer::new(client(prefix, config, features).await, answer)
}

/// Alice reaches the peer's full JID, starts a session and returns what she established
/// (`None`: the negotiation failed), with the peer.
async fn alice_starts(prefix: &str, peer: Peer) -> (Option<SessionInfo>, Peer) {
    let mut alice = client(prefix, Config::default(), &[]).await;
    starts(&mut alice, peer).await
}

/// [`alice_starts`] for an `alice` already online.
async fn starts(alice: &mut Client<MemoryStore>, peer: Peer) -> (Option<SessionInfo>, Peer) {
    let to = esession::Jid::from(peer.client.jid().clone());
    let stop = Arc::new(AtomicBool::new(false));
    let served = serve(peer, stop.clone());
    let reach = alice.reach(&to, T).await.unwrap();
    assert_eq!(reach, Reach::Negotiate);
    let id = alice.engine_mut().start(&to, Timestamp::now()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut outcome = None;
    while Instant::now() < deadline && outcome.is_none() {
        match alice.next_event(Duration::from_millis(100)).await.unwrap() {
            Some(Event::Established(info)) if info.id == id => outcome = Some(Some(info)),
            Some(Event::Failed { session, .. }) if session == id => outcome = Some(None),
            _ => {}
        }
    }
    let outcome = outcome.expect("no outcome within 20 s");
    // The peer established on reading message 3, before it sent message 4.
    stop.store(true, Ordering::Relaxed);
    (outcome, served.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gajim_1_0_without_caps_is_recognised_by_its_version() {
    // The peer speaks only Gajim's dialect: the session establishes only if we do too.
    let gajim = Config {
        compat: Compat::Gajim,
        ..Config::default()
    };
    let answer = "<name>Gajim</name><version>1.0</version><os>Linux</os>";
    let peer = peer("vergajim", gajim, answer, true).await;
    let (info, peer) = alice_starts("veralice1", peer).await;
    let info = info.expect("established");
    assert_eq!(peer.asked, 1);
    assert_eq!(info.compat, Some(Compat::Gajim));
    let theirs = peer.established.expect("the peer established");
    assert_eq!(theirs.compat, Some(Compat::Gajim));
    assert_eq!(theirs.sas, info.sas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_gajims_other_clients_and_garbage_stay_strict() {
    let long = "x".repeat(5000);
    let garbage = format!("<name>Gajim</name><version>{long}</version>");
    for (n, answer) in [
        "<name>Gajim</name><version>1.1.0</version>",
        "<name>Psi</name><version>1.0</version>",
        "<name>Gajim</name>",
        garbage.as_str(),
        "<unrelated xmlns='urn:x'/>",
    ]
    .into_iter()
    .enumerate()
    {
        let peer = peer(&format!("verother{n}"), Config::default(), answer, true).await;
        let (info, peer) = alice_starts(&format!("veralice2{n}"), peer).await;
        let info = info.unwrap_or_else(|| panic!("{answer}: not established"));
        assert_eq!(peer.asked, 1, "{answer}");
        assert_eq!(info.compat, None, "{answer}");
        assert_eq!(peer.established.expect("peer").compat, None, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_advertise_versions_is_not_asked() {
    let answer = "<name>Gajim</name><version>1.0</version>";
    let peer = peer("vernoadv", Config::default(), answer, false).await;
    let (info, peer) = alice_starts("veralice3", peer).await;
    let info = info.expect("established");
    assert_eq!(peer.asked, 0);
    assert_eq!(info.compat, None);
}

/// docs/gajim.md: an answer that is not a plain name and version counts as unknown and
/// the strict protocol is used, even with a resource that answered as a Gajim before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_turned_unknown_is_strict_again() {
    let answer = "<name>Gajim</name><version>1.0</version>";
    let peer = peer("verforget", Config::default(), answer, true).await;
    let mut alice = client("veralice4", Config::default(), &[]).await;
    let to = esession::Jid::from(peer.client.jid().clone());
    let stop = Arc::new(AtomicBool::new(false));
    let served = serve(peer, stop.clone());
    assert_eq!(alice.reach(&to, T).await.unwrap(), Reach::Negotiate);
    stop.store(true, Ordering::Relaxed);
    let mut peer = served.await.unwrap();
    assert_eq!(peer.asked, 1);
    peer.answer = "<unrelated xmlns='urn:x'/>".into();
    // The peer answers in the dialect of our request: Gajim's only if we still took it
    // for a Gajim.
    let (info, peer) = starts(&mut alice, peer).await;
    assert_eq!(peer.asked, 2);
    assert_eq!(info.expect("established").compat, None);
}
