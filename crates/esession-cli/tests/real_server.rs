//! The `esession` binary against a real server on loopback (see `esession-testkit`: the
//! Prosody of `scripts/test.sh`, or its two-node ejabberd cluster with
//! `ESESSION_TEST_SERVER=ejabberd`, Alice on node 1 and Bob on node 2; or a private one
//! started on first use).
//!
//! Every test uses its own accounts and state directories, bounds every wait, and kills
//! the processes it started when it fails. Message bodies are unique per test, so that
//! the server's stanza log and stored data can be searched for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

mod support;

use std::time::{Duration, Instant};

use esession_xmpp::{ConnectOptions, Connection, TlsMode};
use serde_json::Value;
use support::{assert_server_never_saw, run, target, unique_body, Account, Proc};

/// Bound for a whole `send` run (its own steps are bounded by `--timeout`, default 20 s).
const SEND_LIMIT: Duration = Duration::from_secs(45);
/// Bound for a single event of a running process.
const EVENT_LIMIT: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// `listen --echo` as `bob` (optionally with more arguments), once online; its full JID.
fn start_listener(bob: &Account, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["listen", "--echo", "--timeout", "30"];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn("bob (listen)", &bob.args(&args));
    let online = p.wait_named("online", EVENT_LIMIT);
    let jid = s(&online["jid"]).to_owned();
    assert!(
        jid.starts_with(&format!("{}/", bob.jid)),
        "online as {jid}, expected a full JID of {}",
        bob.jid
    );
    // `online` must be the first thing printed.
    assert_eq!(p.events()[0]["event"], "online", "{}", p.transcript());
    (p, jid)
}

/// What one `send --expect-echo` to a listening Bob produced.
struct Exchange {
    alice: Proc,
    bob: Proc,
    bob_full: String,
    /// `established` of Alice and of Bob.
    est: (Value, Value),
}

/// Bob listens (with echo), Alice sends `count` × `body` to `to(bob's full JID)` expecting
/// the echoes; checks everything a successful session must show, on both sides.
fn exchange(
    alice: &Account,
    bob: &Account,
    to: impl Fn(&str) -> String,
    count: u32,
    body: &str,
) -> Exchange {
    let (mut bob_p, bob_full) = start_listener(bob, &[]);
    let target = to(&bob_full);
    let started = Instant::now();
    let (code, alice_p) = run(
        "alice (send)",
        &alice.args(&[
            "send",
            "--to",
            &target,
            "--count",
            &count.to_string(),
            "--expect-echo",
            body,
        ]),
        SEND_LIMIT,
    );
    if code != 0 {
        bob_p.drain(Duration::from_millis(500));
        panic!(
            "send exited {code}\n{}\n{}",
            alice_p.transcript(),
            bob_p.transcript()
        );
    }
    eprintln!("send to {target}: {:?}", started.elapsed());

    // Alice: online first, one encrypted session as initiator with Bob's full JID.
    let a_events = alice_p.events();
    assert_eq!(a_events[0]["event"], "online", "{}", alice_p.transcript());
    assert!(
        s(&a_events[0]["jid"]).starts_with(&format!("{}/", alice.jid)),
        "{}",
        alice_p.transcript()
    );
    assert!(
        alice_p.events_named("error").is_empty(),
        "{}",
        alice_p.transcript()
    );
    let ea = alice_p.only("established");
    assert_eq!(ea["role"], "initiator", "{ea}");
    assert_eq!(ea["encrypted"], true, "{ea}");
    assert_eq!(ea["peer"], bob_full.as_str(), "{ea}");
    let sas = s(&ea["sas"]);
    assert_eq!(sas.chars().count(), 5, "SAS {sas:?}");
    // Profile P15: both sides offer and accept the committed SAS first.
    assert_eq!(ea["sas_alg"], "sas28x5-commit", "{ea}");
    let thread = s(&ea["thread"]).to_owned();
    assert!(!thread.is_empty());

    // Bob: the same session as responder, with the same SAS.
    let eb = bob_p.wait_named("established", EVENT_LIMIT);
    assert_eq!(eb["role"], "responder", "{eb}");
    assert_eq!(eb["encrypted"], true, "{eb}");
    assert_eq!(eb["thread"], thread.as_str(), "{eb}");
    assert_eq!(eb["sas"], sas, "the two SAS differ: {ea} / {eb}");
    assert_eq!(eb["sas_alg"], "sas28x5-commit", "{eb}");
    assert_eq!(eb["group"], ea["group"], "{ea} / {eb}");
    assert_eq!(s(&eb["peer"]), s(&a_events[0]["jid"]), "{eb}");

    // Bob decrypted every message; Alice every echo. Both saw the end.
    bob_p.wait_event("the terminate", EVENT_LIMIT, |e| {
        e["event"] == "terminated" && e["thread"] == thread.as_str()
    });
    let got: Vec<Value> = bob_p.events_named("message");
    assert_eq!(got.len(), count as usize, "{}", bob_p.transcript());
    for m in &got {
        assert_eq!(m["body"], body, "{m}");
        assert_eq!(m["encrypted"], true, "{m}");
        assert_eq!(m["thread"], thread.as_str(), "{m}");
    }
    let echoes = alice_p.events_named("message");
    assert_eq!(echoes.len(), count as usize, "{}", alice_p.transcript());
    for m in &echoes {
        assert_eq!(m["body"], format!("echo: {body}").as_str(), "{m}");
        assert_eq!(m["encrypted"], true, "{m}");
        assert_eq!(m["peer"], bob_full.as_str(), "{m}");
    }
    let ta = alice_p.only("terminated");
    assert_eq!(ta["by"], "self", "{ta}");
    assert_eq!(ta["thread"], thread.as_str(), "{ta}");
    let tb = bob_p.only("terminated");
    assert_eq!(tb["by"], "peer", "{tb}");

    // Bob stops cleanly on SIGTERM.
    let code = bob_p.stop(Duration::from_secs(10));
    assert_eq!(
        code,
        0,
        "listen did not exit 0 on SIGTERM\n{}",
        bob_p.transcript()
    );
    assert!(
        bob_p.events_named("error").is_empty(),
        "{}",
        bob_p.transcript()
    );
    Exchange {
        alice: alice_p,
        bob: bob_p,
        bob_full,
        est: (ea, eb),
    }
}

/// (Test 1 + 9.) A full session through `listen --echo` and `send --expect-echo`, and the server
/// never sees the body.
#[test]
fn send_to_listener_full_session() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let body = unique_body("hello bob, three times");
    let x = exchange(&alice, &bob, |full| full.to_owned(), 3, &body);
    // A first meeting: no retained secret yet, so nothing is verified.
    assert_eq!(x.est.0["srs"], "none", "{}", x.est.0);
    assert_eq!(x.est.1["srs"], "none", "{}", x.est.1);
    assert_eq!(x.est.0["verified"], false);
    assert_server_never_saw(&body, Some(s(&x.est.0["thread"])));
}

/// (Test 2 + 9.) Retained secrets survive the processes (they live in `--state`): matched the
/// second time; after Bob loses his state, Alice is told of the mismatch.
#[test]
fn retained_secret_across_restarts() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let bodies: Vec<String> = (1..=3).map(|i| unique_body(&format!("run {i}"))).collect();
    let full = |f: &str| f.to_owned();

    let first = exchange(&alice, &bob, full, 1, &bodies[0]);
    assert_eq!(first.est.0["srs"], "none", "{}", first.est.0);
    assert_eq!(first.est.1["srs"], "none", "{}", first.est.1);

    let second = exchange(&alice, &bob, full, 1, &bodies[1]);
    assert_ne!(
        second.bob_full, first.bob_full,
        "a new process, a new resource"
    );
    assert_eq!(
        second.est.0["srs"],
        "matched",
        "{}",
        second.alice.transcript()
    );
    assert_eq!(
        second.est.1["srs"],
        "matched",
        "{}",
        second.bob.transcript()
    );
    assert_ne!(second.est.0["thread"], first.est.0["thread"]);

    bob.wipe_state();
    let third = exchange(&alice, &bob, full, 1, &bodies[2]);
    assert_eq!(
        third.est.0["srs"],
        "mismatch",
        "{}",
        third.alice.transcript()
    );
    assert_eq!(third.est.1["srs"], "none", "{}", third.bob.transcript());
    assert_eq!(third.est.0["verified"], false, "{}", third.est.0);

    for (b, x) in bodies.iter().zip([&first, &second, &third]) {
        assert_server_never_saw(b, Some(s(&x.est.0["thread"])));
    }
}

/// (Test 3 + 9.) `send --to` a bare JID: the server routes it to the listening resource, and
/// the session is with that full JID.
#[test]
fn send_to_bare_jid_reaches_listener() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let body = unique_body("to the bare jid");
    let bare = bob.jid.clone();
    let x = exchange(&alice, &bob, move |_| bare.clone(), 2, &body);
    assert!(x.bob_full.starts_with(&bob.jid));
    assert_server_never_saw(&body, Some(s(&x.est.0["thread"])));
}

/// A raw client (no ESession features advertised, initial presence sent) that records
/// every stanza it receives until `stop` is set; disco#info is answered by `Connection`.
async fn raw_peer(account: &Account) -> Connection {
    let mut opts = ConnectOptions::new(&account.jid, &account.password);
    opts.server = Some(account.addr.clone());
    opts.tls = TlsMode::Plain;
    opts.timeout = Duration::from_secs(10);
    assert!(opts.features.is_empty());
    Connection::connect(opts).await.unwrap()
}

/// Reads the raw peer's stanzas for `dur`.
async fn read_for(conn: &mut Connection, dur: Duration) -> Vec<String> {
    let deadline = Instant::now() + dur;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        if let Some(xml) = conn
            .next_stanza(left.min(Duration::from_millis(200)))
            .await
            .unwrap()
        {
            seen.push(xml);
        }
    }
    seen
}

/// (Test 4.) A peer without ESession support: to its full JID, `send` checks disco#info, exits 1
/// (`unsupported`) and sends nothing; to its bare JID (no disco possible), the request
/// goes unanswered, `send` exits 1 (`timeout`), and the peer got no plaintext either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_without_esession_support_gets_no_plaintext() {
    let alice = Account::new("alice");
    let carol = Account::new("carol");
    let mut raw = raw_peer(&carol).await;
    let carol_full = raw.bound_jid().to_owned();
    let body = unique_body("for carol's eyes only");

    // Full JID: the disco#info answer lacks the ESession feature.
    let args = alice.args(&["send", "--to", &carol_full, "--timeout", "5", &body]);
    let sender = tokio::task::spawn_blocking(move || run("alice (send)", &args, SEND_LIMIT));
    // Carol keeps reading (which answers disco#info) while Alice runs.
    let mut seen = Vec::new();
    while !sender.is_finished() {
        seen.extend(read_for(&mut raw, Duration::from_millis(300)).await);
    }
    let (code, p) = sender.await.unwrap();
    seen.extend(read_for(&mut raw, Duration::from_secs(2)).await);
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert_eq!(err["kind"], "unsupported", "{err}");
    assert!(s(&err["detail"]).contains("nothing was sent"), "{err}");
    assert!(
        p.events_named("established").is_empty(),
        "{}",
        p.transcript()
    );
    assert!(
        seen.iter()
            .all(|x| !x.contains(&body) && !x.starts_with("<message")),
        "carol received: {seen:#?}"
    );

    // Bare JID: no disco; the negotiation request reaches Carol and is never answered.
    let body2 = unique_body("still for carol only");
    let args = alice.args(&["send", "--to", &carol.jid, "--timeout", "3", &body2]);
    let sender = tokio::task::spawn_blocking(move || run("alice (send)", &args, SEND_LIMIT));
    let mut seen = Vec::new();
    while !sender.is_finished() {
        seen.extend(read_for(&mut raw, Duration::from_millis(300)).await);
    }
    let (code, p) = sender.await.unwrap();
    seen.extend(read_for(&mut raw, Duration::from_secs(2)).await);
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert_eq!(err["kind"], "timeout", "{err}");
    assert!(
        seen.iter()
            .any(|x| x.starts_with("<message") && x.contains("urn:xmpp:ssn")),
        "carol did not get the negotiation request: {seen:#?}"
    );
    assert!(
        seen.iter().all(|x| !x.contains(&body2)),
        "carol received the plaintext: {seen:#?}"
    );
    assert_server_never_saw(&body, None);
    assert_server_never_saw(&body2, None);
    raw.close().await.unwrap();
}

/// (Test 5.) An offline peer: `send --to` its bare JID exits 1, and neither the server's
/// traffic record nor its storage holds the body. Our request carries the XEP-0334
/// `<no-store/>` hint: ejabberd bounces it at once (`unavailable`) and keeps nothing for
/// Dave; Prosody 0.12 ignores the hint and stores the request, so `send` gives up after
/// `--timeout` (`timeout`) and Dave's next login replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_peer_gets_no_plaintext_and_no_stale_request() {
    let alice = Account::new("alice");
    let dave = Account::new("dave");
    let body = unique_body("dave is away");
    let started = Instant::now();
    let args = alice.args(&["send", "--to", &dave.jid, "--timeout", "3", &body]);
    let (code, p) = tokio::task::spawn_blocking(move || run("alice (send)", &args, SEND_LIMIT))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert!(s(&err["detail"]).contains("nothing was sent"), "{err}");
    let ejabberd = target().is_ejabberd();
    if ejabberd {
        assert_eq!(err["kind"], "unavailable", "{err}");
        assert!(s(&err["detail"]).contains("service-unavailable"), "{err}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    } else {
        assert_eq!(err["kind"], "timeout", "{err}");
        assert!(took < Duration::from_secs(15), "took {took:?}");
    }
    assert_server_never_saw(&body, Some(dave.user()));

    // Dave's next login: Prosody replays the stored request, ejabberd kept nothing.
    let mut raw = raw_peer(&dave).await;
    let replayed = read_for(&mut raw, Duration::from_secs(2)).await;
    raw.close().await.unwrap();
    let stale: Vec<&String> = replayed
        .iter()
        .filter(|x| x.starts_with("<message") && x.contains("urn:xmpp:ssn"))
        .collect();
    if ejabberd {
        assert!(stale.is_empty(), "{replayed:#?}");
    } else {
        // The request, and the cancel sent when `send` gave up.
        assert!(
            stale.iter().any(|x| x.contains("type='form'")),
            "{replayed:#?}"
        );
    }
    assert!(replayed.iter().all(|x| !x.contains(&body)), "{replayed:#?}");

    // A full JID of an absent resource: the server answers disco#info with an error.
    let started = Instant::now();
    let gone = format!("{}/gone", dave.jid);
    let (code, p) = run(
        "alice (send)",
        &alice.args(&["send", "--to", &gone, "--timeout", "3", &body]),
        SEND_LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    assert_eq!(p.only("error")["kind"], "unavailable", "{}", p.transcript());
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_server_never_saw(&body, None);
}

/// (Test 6.) Login failures are exit 3, quickly: a wrong password, and a closed port.
#[test]
fn connection_failures_exit_3() {
    let mut bob = Account::new("bob");
    bob.password = "not-the-password".into();
    for cmd in [
        vec!["send", "--to", "x@localhost", "hi"],
        vec!["listen", "--timeout", "5"],
    ] {
        let started = Instant::now();
        let (code, p) = run("wrong password", &bob.args(&cmd), Duration::from_secs(20));
        assert_eq!(code, 3, "{cmd:?}\n{}", p.transcript());
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(p.events_named("online").is_empty(), "{}", p.transcript());
        assert_eq!(p.only("error")["kind"], "connection", "{}", p.transcript());
    }

    let port = esession_testkit::free_port();
    let started = Instant::now();
    let mut args = bob.args(&["send", "--to", "x@localhost", "hi"]);
    let i = args.iter().position(|a| a == "--server").unwrap();
    args[i + 1] = format!("127.0.0.1:{port}");
    let (code, p) = run("closed port", &args, Duration::from_secs(20));
    assert_eq!(code, 3, "{}", p.transcript());
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(p.only("error")["kind"], "connection", "{}", p.transcript());
}

/// Issue 11 item 2: a server offering only SASL PLAIN (it would see the password) is refused,
/// exit 3 naming what it offers and the flag, and used with `--allow-plain-auth`.
#[test]
fn plain_only_server_needs_allow_plain_auth() {
    let domain = &target()
        .prosody("plain-only virtual host")
        .plain_only_domain;
    let carol = Account::at(domain, "plainonly");
    let (code, p) = run(
        "refused",
        &carol.args(&["keys", "publish"]),
        Duration::from_secs(20),
    );
    assert_eq!(code, 3, "{}", p.transcript());
    assert!(p.events_named("published").is_empty(), "{}", p.transcript());
    let error = p.only("error");
    assert_eq!(error["kind"], "connection", "{}", p.transcript());
    let message = s(&error["detail"]);
    for needle in ["it offers: PLAIN", "--allow-plain-auth"] {
        assert!(message.contains(needle), "{needle:?}: {}", p.transcript());
    }

    let (code, p) = run(
        "allowed",
        &carol.args(&["--allow-plain-auth", "keys", "publish"]),
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{}", p.transcript());
    assert_eq!(
        p.only("published")["jid"],
        carol.jid.as_str(),
        "{}",
        p.transcript()
    );
}

/// (Test 7.) Usage errors are exit 2 and never connect.
#[test]
fn usage_errors_exit_2() {
    let alice = Account::new("alice");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("send without --to", alice.args(&["send", "hello"])),
        (
            "send without a message",
            alice.args(&["send", "--to", "b@localhost"]),
        ),
        (
            "--count 0",
            alice.args(&["send", "--to", "b@localhost", "--count", "0", "hi"]),
        ),
        ("unknown --tls", {
            let mut a = alice.args(&["send", "--to", "b@localhost", "hi"]);
            let i = a.iter().position(|x| x == "plain").unwrap();
            a[i] = "bogus".into();
            a
        }),
        ("no command", alice.args(&[])),
        ("unknown option", alice.args(&["listen", "--frobnicate"])),
        ("send without --jid", {
            let mut a = alice.connection_args();
            a.extend(["send", "--to", "b@localhost", "hi"].map(String::from));
            a
        }),
        ("listen without a password", {
            let mut a = alice.connection_args();
            a.extend(["--jid", &alice.jid, "listen"].map(String::from));
            a
        }),
        ("demo --server without --peer-jid", alice.args(&["demo"])),
        // Issue 11 §14 (and issue 10: it was exit 1): a JID that does not parse.
        ("malformed --jid", {
            let mut a = alice.connection_args();
            a.extend(["--jid", "alice@", "--password", "x", "listen"].map(String::from));
            a
        }),
        (
            "malformed --to",
            alice.args(&["send", "--to", "@localhost", "hi"]),
        ),
    ];
    for (what, args) in cases {
        let (code, p) = run(what, &args, Duration::from_secs(10));
        assert_eq!(code, 2, "{what}\n{}", p.transcript());
        assert!(
            p.events_named("online").is_empty(),
            "{what}\n{}",
            p.transcript()
        );
    }
}

/// (Test 8.) `listen --only` refuses everybody else: `send` exits 1 with a `rejected` error, and
/// nothing was established or delivered.
#[test]
fn listen_only_refuses_others() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let body = unique_body("bob does not want this");
    let (mut bob_p, bob_full) = start_listener(&bob, &["--only", "other@localhost"]);
    let (code, p) = run(
        "alice (send)",
        &alice.args(&["send", "--to", &bob_full, "--timeout", "10", &body]),
        SEND_LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert!(["rejected", "declined"].contains(&s(&err["kind"])), "{err}");
    assert!(
        p.events_named("established").is_empty(),
        "{}",
        p.transcript()
    );
    let alice_full = s(&p.only("online")["jid"]).to_owned();
    // Bob says whom he declined.
    let warning = bob_p.wait_named("warning", EVENT_LIMIT);
    assert_eq!(warning["peer"], alice_full.as_str(), "{warning}");
    let code = bob_p.stop(Duration::from_secs(10));
    assert_eq!(code, 0, "{}", bob_p.transcript());
    assert!(
        bob_p.events_named("established").is_empty(),
        "{}",
        bob_p.transcript()
    );
    assert!(
        bob_p.events_named("message").is_empty(),
        "{}",
        bob_p.transcript()
    );
    assert_server_never_saw(&body, None);
}

/// (Test 10.) `demo` against the test server with two given accounts: exit 0, and both sides
/// show the same SAS.
#[test]
fn demo_against_test_server() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let args: Vec<String> = [
        "--server",
        &alice.addr,
        "--tls",
        "plain",
        "--state",
        &alice.state.path().to_string_lossy(),
        "--jid",
        &alice.jid,
        "--password",
        &alice.password,
        "demo",
        "--peer-jid",
        &bob.jid,
        "--peer-password",
        &bob.password,
    ]
    .map(String::from)
    .to_vec();
    let (code, p) = run("demo", &args, Duration::from_secs(60));
    assert_eq!(code, 0, "{}", p.transcript());
    // "[ alice] established with …: SAS abcde (MODP group …"
    let sas_of = |who: &str| -> String {
        let line = p
            .seen
            .iter()
            .find(|l| l.contains(&format!("{who}] established with")))
            .unwrap_or_else(|| panic!("no established line for {who}\n{}", p.transcript()));
        let rest = line
            .split("SAS ")
            .nth(1)
            .unwrap_or_else(|| panic!("{line}"));
        rest.split_whitespace().next().unwrap().to_owned()
    };
    let (sa, sb) = (sas_of("alice"), sas_of("bob"));
    assert_eq!(sa.chars().count(), 5, "{sa:?}");
    // Both sides offer profile P15 first, so the demo shows the committed SAS by name.
    assert!(
        p.seen
            .iter()
            .filter(|l| l.contains("] established with"))
            .all(|l| l.contains(&format!("SAS {sa} (sas28x5-commit, MODP group"))),
        "{}",
        p.transcript()
    );
    assert_eq!(sa, sb, "{}", p.transcript());
    assert!(
        p.seen.iter().any(|l| l.contains("the SAS match")),
        "{}",
        p.transcript()
    );
    assert!(
        p.seen.iter().any(|l| l.contains("] done")),
        "{}",
        p.transcript()
    );
}

/// The `error` event that ends `send` after a failed negotiation names the peer and the
/// thread (both are known once the negotiation started).
#[test]
fn failed_send_error_event_names_peer_and_thread() {
    let (alice, bob) = (Account::new("alice"), Account::new("bob"));
    let (mut bob_p, bob_full) = start_listener(&bob, &["--only", "other@localhost"]);
    let (code, p) = run(
        "alice (send)",
        &alice.args(&["send", "--to", &bob_full, "--timeout", "10", "not for bob"]),
        SEND_LIMIT,
    );
    bob_p.stop(Duration::from_secs(10));
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert_eq!(err["peer"], bob_full.as_str(), "{err}");
    assert!(err["thread"].is_string(), "{err}");
}
