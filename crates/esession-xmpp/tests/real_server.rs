//! Integration tests against a real server on loopback: Prosody, or the two-node ejabberd
//! cluster with `ESESSION_TEST_SERVER=ejabberd` (a test's first account on node 1, its
//! second on node 2).
//!
//! The server is found through `ESESSION_TEST_ENV` / `ESESSION_EJABBERD_ENV` (the `env`
//! files written by `scripts/prosody.sh start DIR` and `scripts/ejabberd.sh start DIR`, as
//! `scripts/test.sh` does). Without it, the first test starts a private server on free
//! ports in a temporary directory; a watchdog stops it when this process exits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use esession_xmpp::{ConnectOptions, Connection, TlsMode, XmppError};

use esession_testkit::{free_port, target, Login, Target};

/// Register a fresh account.
fn account(prefix: &str) -> Login {
    target().register_unique(prefix)
}

/// Logs `login` in over `tls`: through its node, or the first node's direct-TLS port.
fn options(login: &Login, tls: TlsMode) -> ConnectOptions {
    let mut o = ConnectOptions::new(&login.jid, &login.password);
    o.server = Some(match tls {
        TlsMode::DirectTls => target().direct_tls_addr(),
        TlsMode::StartTls | TlsMode::Plain => login.addr.clone(),
    });
    o.tls = tls;
    o.timeout = Duration::from_secs(10);
    o
}

async fn login(prefix: &str, tls: TlsMode) -> Connection {
    let login = account(prefix);
    Connection::connect(options(&login, tls))
        .await
        .unwrap_or_else(|e| panic!("{} could not log in over {tls:?}: {e}", login.jid))
}

/// Read until a stanza contains `needle` (others are skipped).
async fn expect_stanza(conn: &mut Connection, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(xml) = conn.next_stanza(Duration::from_millis(500)).await.unwrap() {
            if xml.contains(needle) {
                return xml;
            }
        }
    }
    panic!("no stanza containing {needle:?} within 10 s");
}

fn chat(to: &str, body: &str) -> String {
    format!("<message xmlns='jabber:client' to='{to}' type='chat'><body>{body}</body></message>")
}

/// Waits until a stanza from `from` to `to`'s full JID reaches `to`. On the cluster a
/// session bound on one node is known to the other a few ms later, and ejabberd stores a
/// message to a resource it does not know yet offline (RFC 6121 §8.5.3.2.1: as for the
/// bare JID with no available resource), delivered only at the next login. A client
/// learns a full JID from the presence, which arrives after that; these tests take it
/// from the login, so they wait for a ping (XEP-0199) to get through.
async fn until_routable(from: &mut Connection, to: &mut Connection) {
    let to_jid = to.bound_jid().to_owned();
    for i in 0..50 {
        from.send_xml(&format!(
            "<iq xmlns='jabber:client' type='get' to='{to_jid}' id='route-{i}'>\
             <ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await
        .unwrap();
        if let Some(xml) = to.next_stanza(Duration::from_millis(200)).await.unwrap() {
            if xml.contains("urn:xmpp:ping") {
                return;
            }
        }
    }
    panic!("no ping reached {to_jid} within 10 s");
}

async fn exchange_both_ways(tls: TlsMode) {
    let mut alice = login("alice", tls).await;
    let mut bob = login("bob", tls).await;
    assert!(alice.bound_jid().contains('/'), "{}", alice.bound_jid());
    until_routable(&mut alice, &mut bob).await;

    let hello = format!("hello-bob-{tls:?}");
    alice
        .send_xml(&chat(bob.bound_jid(), &hello))
        .await
        .unwrap();
    let got = expect_stanza(&mut bob, &hello).await;
    assert!(got.starts_with("<message"), "{got}");
    assert!(got.contains(alice.bound_jid()), "from missing: {got}");

    let reply = format!("hello-alice-{tls:?}");
    bob.send_xml(&chat(alice.bound_jid(), &reply))
        .await
        .unwrap();
    let got = expect_stanza(&mut alice, &reply).await;
    assert!(got.contains(bob.bound_jid()), "from missing: {got}");

    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_message_both_ways() {
    exchange_both_ways(TlsMode::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_message_both_ways() {
    exchange_both_ways(TlsMode::StartTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_tls_message_both_ways() {
    exchange_both_ways(TlsMode::DirectTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disco_features_of_peer_and_buffered_stanzas() {
    const FEATURE: &str = "urn:xmpp:ssn";
    let alice_login = account("alice");
    let mut opts = options(&alice_login, TlsMode::Plain);
    opts.features = vec![
        FEATURE.to_owned(),
        "http://www.xmpp.org/extensions/xep-0116.html#ns".into(),
    ];
    let mut alice = Connection::connect(opts).await.unwrap();
    let alice_jid = alice.bound_jid().to_owned();
    let mut bob = login("bob", TlsMode::Plain).await;
    let bob_jid = bob.bound_jid().to_owned();

    // Alice keeps reading (which answers disco) until told to stop.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            if stop_rx.try_recv().is_ok() {
                return (alice, seen);
            }
            if let Some(xml) = alice.next_stanza(Duration::from_millis(100)).await.unwrap() {
                seen.push(xml);
            }
        }
    });

    // A message that reaches Bob while he waits for the disco answer must be
    // kept for next_stanza.
    let mut carol = Connection::connect(options(&account("carol"), TlsMode::Plain))
        .await
        .unwrap();
    until_routable(&mut carol, &mut bob).await;
    carol
        .send_xml(&chat(&bob_jid, "queued-during-disco"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let features = bob
        .disco_features(&alice_jid, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(features.iter().any(|f| f == FEATURE), "{features:?}");
    assert!(
        features
            .iter()
            .any(|f| f == "http://jabber.org/protocol/disco#info"),
        "{features:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // Everything that arrived meanwhile comes out, in order (Bob's own
    // presence reflected by the server, then Carol's message).
    let mut queued = Vec::new();
    while let Some(xml) = bob.next_stanza(Duration::from_millis(300)).await.unwrap() {
        queued.push(xml);
    }
    assert!(
        queued.iter().any(|x| x.contains("queued-during-disco")),
        "{queued:?}"
    );

    // An unavailable resource: the server answers with a stanza error.
    let err = bob
        .disco_features(
            &format!("{}/no-such-resource", alice_login.jid),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, XmppError::Stanza(_)), "{err:?}");
    assert_eq!(err.exit_code(), 1);

    stop_tx.send(()).unwrap();
    let (alice, seen) = reader.await.unwrap();
    assert!(
        seen.iter().all(|s| !s.contains("disco#info")),
        "disco request leaked to the caller: {seen:?}"
    );
    alice.close().await.unwrap();
    bob.close().await.unwrap();
    carol.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_auth_error_quickly() {
    for tls in [TlsMode::Plain, TlsMode::StartTls] {
        let mut mallory = account("mallory");
        mallory.password = "wrong-password".into();
        let started = Instant::now();
        let err = Connection::connect(options(&mallory, tls))
            .await
            .unwrap_err();
        assert!(matches!(err, XmppError::Auth(_)), "{tls:?}: {err:?}");
        assert_eq!(err.exit_code(), 3);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}

/// Issue 11 item 2: a server offering only SASL PLAIN is refused before the password is
/// sent, over TLS as over plain TCP, unless `allow_plain_auth`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_only_server_is_refused_unless_allowed() {
    let s = target().prosody("plain-only virtual host");
    let (jid, password) = s.register_unique_at(&s.plain_only_domain, "plainonly");
    let carol = Login {
        jid,
        password,
        addr: s.addr.clone(),
    };
    for tls in [TlsMode::Plain, TlsMode::StartTls, TlsMode::DirectTls] {
        let err = Connection::connect(options(&carol, tls)).await.unwrap_err();
        assert!(matches!(err, XmppError::Auth(_)), "{tls:?}: {err:?}");
        let shown = err.to_string();
        assert!(shown.contains("it offers: PLAIN)"), "{tls:?}: {shown}");
        let mut allowed = options(&carol, tls);
        allowed.allow_plain_auth = true;
        let conn = Connection::connect(allowed)
            .await
            .unwrap_or_else(|e| panic!("{tls:?} with allow_plain_auth: {e}"));
        conn.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_port_fails_quickly() {
    // A port nobody listens on: bind, note, release.
    let port = free_port();
    for tls in [TlsMode::Plain, TlsMode::StartTls, TlsMode::DirectTls] {
        let mut opts = ConnectOptions::new("nobody@localhost", "x");
        opts.server = Some(format!("127.0.0.1:{port}"));
        opts.tls = tls;
        let started = Instant::now();
        let err = Connection::connect(opts).await.unwrap_err();
        assert!(matches!(err, XmppError::Unreachable(_)), "{tls:?}: {err:?}");
        assert_eq!(err.exit_code(), 3);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_tls_to_plain_port_fails_quickly() {
    let mut opts = ConnectOptions::new("nobody@localhost", "x");
    opts.server = Some(target().addr().to_owned());
    opts.tls = TlsMode::DirectTls;
    opts.timeout = Duration::from_secs(5);
    let started = Instant::now();
    let err = Connection::connect(opts).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_to_remote_host_is_refused() {
    let mut opts = ConnectOptions::new("alice@example.org", "x");
    opts.server = Some("192.0.2.1:5222".into());
    opts.tls = TlsMode::Plain;
    let err = Connection::connect(opts).await.unwrap_err();
    assert!(matches!(err, XmppError::InvalidArgument(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_log_records_sent_stanza() {
    let mut alice = login("alice", TlsMode::Plain).await;
    let mut bob = login("bob", TlsMode::Plain).await;
    until_routable(&mut alice, &mut bob).await;
    let token = format!("log-probe-{}", std::process::id());
    alice
        .send_xml(&chat(bob.bound_jid(), &token))
        .await
        .unwrap();
    expect_stanza(&mut bob, &token).await;
    let sent = format!("<body>{token}</body>");
    assert!(
        target().wait_for_traffic(&sent, Duration::from_secs(5)),
        "{token} not in the {:?} server's record of the traffic",
        target().kind()
    );
    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

/// The start of the base64 of an `<auth>` payload beginning with `prefix` (whole 3-octet
/// groups only, so it does not depend on what follows).
fn auth_prefix(prefix: &str) -> String {
    let whole = prefix.len() / 3 * 3;
    esession::b64::encode(&prefix.as_bytes()[..whole])
}

/// Over TLS 1.3 Prosody offers no SCRAM-*-PLUS (Prosody 0.12 binds with tls-unique
/// only), and tokio-xmpp alone then skipped SCRAM and sent the password with PLAIN. We log
/// in with SCRAM, saying `y` ("I could bind, you offer no binding", RFC 5802 §6).
/// ejabberd offers SCRAM-SHA-1-PLUS without announcing tls-exporter, so the client takes
/// SCRAM-SHA-1 (a -PLUS login with the wrong binding fails there): its log names the
/// mechanism and the TLS connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_logins_use_scram_not_plain() {
    for tls in [TlsMode::StartTls, TlsMode::DirectTls] {
        let login = account("scram");
        let conn = Connection::connect(options(&login, tls)).await.unwrap();
        match target() {
            Target::Prosody(s) => {
                let user = login.jid.split('@').next().unwrap();
                let scram = auth_prefix(&format!("y,,n={user},r="));
                let plain = auth_prefix(&format!("\0{user}\0"));
                assert!(
                    s.wait_for_log(&scram, Duration::from_secs(5)),
                    "{tls:?}: no SCRAM <auth> for {user} in the server log"
                );
                assert!(!s.log_text().contains(&plain), "{tls:?}: PLAIN was used");
            }
            Target::Ejabberd(c) => {
                // The node logs the login asynchronously: wait for the line.
                let scram = format!("Accepted c2s SCRAM-SHA-1 authentication for {}", login.jid);
                assert!(
                    c.wait_for_log(&scram, Duration::from_secs(10)),
                    "{tls:?}: no SCRAM-SHA-1 login for {} in the log",
                    login.jid
                );
                let log = c.log_text();
                assert!(
                    log.lines()
                        .any(|l| l.contains("(tls|") && l.contains(&scram)),
                    "{tls:?}: the SCRAM-SHA-1 login of {} was not over TLS",
                    login.jid
                );
                let plain = format!("Accepted c2s PLAIN authentication for {}", login.jid);
                assert!(!log.contains(&plain), "{tls:?}: PLAIN was used");
            }
        }
        drop(conn);
    }
}
