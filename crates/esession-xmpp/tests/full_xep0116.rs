//! Full XEP-0116 through a real server (Prosody, or the ejabberd cluster with a test's
//! first account on node 1 and its second on node 2): the 3-message flow with RSA
//! identities, a non-AES cipher, whirlpool, zlib, re-keying at every stanza, and encrypted
//! presence and iq (XEP-0116 §4.2, XEP-0200 §5, §9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use esession::compress::CompressAlg;
use esession::config::{Flow, PubkeyMode};
use esession::event::RekeyedBy;
use esession::xml::{ns, Element};
use esession::{CipherAlg, Config, Event, HashAlg, IdentityKey, MemoryStore, OsRandom, StanzaKind};
use esession_testkit::target;
use esession_xmpp::{Client, ConnectOptions, TlsMode};

const RSA_A: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048.pk8.der");

async fn client(prefix: &str, config: Config, key: IdentityKey) -> Client<MemoryStore> {
    let login = target().register_unique(prefix);
    let (jid, pw) = (login.jid, login.password);
    let mut o = ConnectOptions::new(&jid, &pw);
    o.server = Some(login.addr);
    o.tls = TlsMode::StartTls;
    o.timeout = Duration::from_secs(10);
    let mut c = Client::connect(o, config, MemoryStore::new(), Box::new(OsRandom))
        .await
        .unwrap_or_else(|e| panic!("{jid} could not log in: {e}"));
    c.engine_mut().set_identity_key(Some(key));
    c
}

/// Reads both clients until `want` accepts an event of `which` (true: Alice), collecting
/// every event seen; panics after 20 s.
async fn until(
    a: &mut Client<MemoryStore>,
    b: &mut Client<MemoryStore>,
    seen: &mut Vec<(bool, Event)>,
    want: impl Fn(bool, &Event) -> bool,
) -> Event {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for (is_a, c) in [(true, &mut *a), (false, &mut *b)] {
            if let Some(ev) = c.next_event(Duration::from_millis(50)).await.unwrap() {
                seen.push((is_a, ev.clone()));
                if want(is_a, &ev) {
                    return ev;
                }
                assert!(
                    !matches!(ev, Event::Failed { .. }),
                    "unexpected failure: {ev:?}"
                );
            }
        }
    }
    panic!("event not seen within 20 s; seen: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_message_rsa_twofish_whirlpool_zlib_rekey_presence_iq() {
    let config = Config {
        flow: Flow::Three,
        crypt: vec![CipherAlg::Twofish256Ctr],
        hashes: vec![HashAlg::Whirlpool],
        compress: vec![CompressAlg::Zlib],
        stanzas: vec![StanzaKind::Message, StanzaKind::Presence, StanzaKind::Iq],
        present_pubkey: vec![PubkeyMode::Key],
        rekey_every: Some(1),
        ..Config::default()
    };
    let bob_key = IdentityKey::generate_rsa(&mut OsRandom, 2048).unwrap();
    let bob_fp = bob_key.public().fingerprint().to_b64();
    let alice_key = IdentityKey::from_pkcs8_der(RSA_A).unwrap();
    let alice_fp = alice_key.public().fingerprint().to_b64();
    let mut alice = client("alice3", config.clone(), alice_key).await;
    let mut bob = client("bob3", config, bob_key).await;
    let bob_full = bob.jid().clone();
    alice.record_trace();

    let thread = alice
        .engine_mut()
        .start(&bob_full, esession::Timestamp::now())
        .unwrap();
    let mut seen = Vec::new();
    let ea = until(&mut alice, &mut bob, &mut seen, |a, e| {
        a && matches!(e, Event::Established(_))
    })
    .await;
    let eb = until(&mut alice, &mut bob, &mut seen, |a, e| {
        !a && matches!(e, Event::Established(_))
    })
    .await;
    let (Event::Established(ia), Event::Established(ib)) = (ea, eb) else {
        unreachable!()
    };
    for info in [&ia, &ib] {
        assert_eq!(info.flow, Some(3));
        assert_eq!(info.crypt, Some("twofish256-ctr"));
        assert_eq!(info.hash, Some("whirlpool"));
        assert_eq!(info.compress, Some("zlib"));
        assert_eq!(info.sas, None);
    }
    assert_eq!(ia.peer_key.as_ref().unwrap().fingerprint, bob_fp);
    assert_eq!(ib.peer_key.as_ref().unwrap().fingerprint, alice_fp);

    // Messages both ways, each carrying a <key/> (rekey_every 1).
    for i in 0..3 {
        let text = format!("secret {i}");
        alice.engine_mut().send_message(&thread, &text).unwrap();
        let want = text.clone();
        until(&mut alice, &mut bob, &mut seen, move |a, e| {
            !a && matches!(e, Event::Message { body: Some(b), encrypted: true, .. } if *b == want)
        })
        .await;
        bob.engine_mut()
            .send_message(&ib.id, &format!("echo {i}"))
            .unwrap();
        let want = format!("echo {i}");
        until(&mut alice, &mut bob, &mut seen, move |a, e| {
            a && matches!(e, Event::Message { body: Some(b), encrypted: true, .. } if *b == want)
        })
        .await;
    }
    let rekeys = |side: bool, by: RekeyedBy| {
        seen.iter()
            .filter(|(a, e)| *a == side && matches!(e, Event::Rekeyed { by: b, .. } if *b == by))
            .count()
    };
    assert!(rekeys(true, RekeyedBy::Us) >= 3, "{seen:?}");
    assert!(rekeys(false, RekeyedBy::Peer) >= 3, "{seen:?}");

    // Encrypted directed presence and an encrypted iq, through the server.
    let presence = Element::new("presence", ns::JABBER_CLIENT)
        .with_child(Element::new("status", ns::JABBER_CLIENT).with_text("hidden status"));
    alice.engine_mut().send_stanza(&thread, presence).unwrap();
    let ev = until(&mut alice, &mut bob, &mut seen, |a, e| {
        !a && matches!(e, Event::Stanza { .. })
    })
    .await;
    let Event::Stanza { stanza, .. } = ev else {
        unreachable!()
    };
    assert_eq!(stanza.name(), "presence");
    assert_eq!(
        stanza.child("status", ns::JABBER_CLIENT).unwrap().text(),
        "hidden status"
    );
    let iq = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("type", "get")
        .with_attr("id", "v1")
        .with_child(Element::new("query", "jabber:iq:version"));
    alice.engine_mut().send_stanza(&thread, iq).unwrap();
    let ev = until(&mut alice, &mut bob, &mut seen, |a, e| {
        !a && matches!(e, Event::Stanza { .. })
    })
    .await;
    let Event::Stanza { stanza, .. } = ev else {
        unreachable!()
    };
    assert_eq!(stanza.name(), "iq");
    assert!(stanza.child("query", "jabber:iq:version").is_some());

    // Nothing readable went to the server.
    let trace = alice.take_trace();
    assert!(!trace.is_empty());
    for t in trace.iter().filter(|t| t.outgoing) {
        let xml = t.stanza.to_string();
        assert!(
            !xml.contains("secret") && !xml.contains("hidden status"),
            "{xml}"
        );
        assert!(!xml.contains("jabber:iq:version"), "{xml}");
    }
    alice.shutdown(Duration::from_secs(5)).await.unwrap();
    bob.shutdown(Duration::from_secs(5)).await.unwrap();
}
