//! Offline encrypted sessions (XEP-0187, profile P11) through the `esession` binary and a
//! real server (Prosody, or the ejabberd cluster: Alice on node 1, Bob on node 2): Alice publishes her options and goes offline, Bob sends, Alice decrypts at
//! her next login; a replayed stored stanza, expired options and an untrusted key are
//! refused, and nothing is ever sent in plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use esession::xml::{ns, parse_element, Element, Limits, Node};
use esession_xmpp::{ConnectOptions, Connection, TlsMode};
use serde_json::Value;
use support::{assert_server_never_saw, run, target, unique_body, Account, Proc};

/// Bound for a whole command run.
const RUN_LIMIT: Duration = Duration::from_secs(45);
/// Bound for a single event of a running process.
const EVENT_LIMIT: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Runs `esession ARGS` as `acc`, expecting exit `code`; the finished process.
fn run_as(acc: &Account, name: &str, args: &[&str], code: i32) -> Proc {
    let (got, p) = run(name, &acc.args(args), RUN_LIMIT);
    assert_eq!(got, code, "{name} exited {got}\n{}", p.transcript());
    p
}

/// The error kind of a `send` to an offline bare JID: ejabberd bounces our request (its
/// XEP-0334 `<no-store/>` hint) at once (`unavailable`); Prosody stores it, unanswered
/// until `--timeout` (`timeout`).
fn offline_kind() -> &'static str {
    if target().is_ejabberd() {
        "unavailable"
    } else {
        "timeout"
    }
}

/// Alice's identity-key fingerprint (`keys show`).
fn fingerprint(acc: &Account) -> String {
    let p = run_as(acc, "keys show", &["keys", "show"], 0);
    s(&p.only("key")["fingerprint"]).to_owned()
}

/// Bob and Alice run one 3-message session (Bob sends to the listening Alice), so that each
/// has seen the other's key; Bob then verifies Alice's key (XEP-0116 §7.3).
fn bob_trusts_alice(alice: &Account, bob: &Account) {
    let mut listen = Proc::spawn(
        "alice (listen)",
        &alice.args(&["listen", "--timeout", "30"]),
    );
    let alice_full = s(&listen.wait_named("online", EVENT_LIMIT)["jid"]).to_owned();
    // No option set stored yet: nothing to withdraw.
    let login = listen.wait_named("offline_login", EVENT_LIMIT);
    assert_eq!(
        (login["loaded"].as_u64(), s(&login["withdrawn"])),
        (Some(0), "none")
    );
    let sent = run_as(
        bob,
        "bob (send --flow 3)",
        &["send", "--to", &alice_full, "--flow", "3", "hello online"],
        0,
    );
    let est = sent.only("established");
    assert_eq!(est["offline"], false, "{est}");
    let fp = s(&est["peer_fingerprint"]).to_owned();
    assert_eq!(fp, fingerprint(alice), "Bob saw another key than Alice's");
    listen.wait_event("the message", EVENT_LIMIT, |e| {
        e["event"] == "message" && e["body"] == "hello online"
    });
    listen.stop(EVENT_LIMIT);
    let p = run_as(
        bob,
        "bob (trust verify)",
        &["trust", "verify", &alice.jid, &fp],
        0,
    );
    assert_eq!(p.only("trusted_key")["trusted"], true, "{}", p.transcript());
}

/// `offline publish` as `alice` with `extra` arguments: both sets published.
fn publish(alice: &Account, extra: &[&str]) {
    let mut args = vec!["offline", "publish"];
    args.extend_from_slice(extra);
    let p = run_as(alice, "alice (offline publish)", &args, 0);
    let sets: Vec<Value> = p.events_named("offline_published");
    let names: Vec<&str> = sets.iter().map(|e| s(&e["set"])).collect();
    assert_eq!(names, ["subscriber", "open"], "{}", p.transcript());
    assert_eq!(sets[0]["access_model"], "presence");
    assert_eq!(sets[1]["access_model"], "open");
    assert!(p.events_named("message").is_empty(), "{}", p.transcript());
}

/// Logs `acc` in with a plain connection (no engine).
async fn raw_login(acc: &Account, presence: bool) -> Connection {
    let mut o = ConnectOptions::new(&acc.jid, &acc.password);
    o.server = Some(acc.addr.clone());
    o.tls = TlsMode::Plain;
    o.send_presence = presence;
    Connection::connect(o).await.unwrap()
}

/// The stanzas the server delivers to `acc` at login (its offline storage), read for
/// `dur`; the storage is emptied.
async fn take_stored(acc: &Account, dur: Duration) -> Vec<Element> {
    let mut conn = raw_login(acc, true).await;
    let end = Instant::now() + dur;
    let mut got = Vec::new();
    while let Some(xml) = conn
        .next_stanza(end.saturating_duration_since(Instant::now()))
        .await
        .unwrap()
    {
        got.push(parse_element(&xml, &Limits::default()).unwrap());
    }
    conn.close().await.unwrap();
    got
}

fn thread_of(stanza: &Element) -> Option<String> {
    stanza.child("thread", ns::JABBER_CLIENT).map(|t| t.text())
}

/// Sends `stanzas` again, unchanged but for the addressing and the server's delay stamp,
/// from `from`'s account to `to`'s bare JID (the server stores them offline again).
async fn inject(from: &Account, to: &Account, stanzas: &[Element]) {
    let mut conn = raw_login(from, false).await;
    for st in stanzas {
        let mut st = st.clone();
        st.remove_attr("from");
        st.set_attr("to", to.jid.as_str());
        st.nodes_mut()
            .retain(|n| !matches!(n, Node::Element(e) if e.is("delay", ns::DELAY)));
        conn.send_xml(&st.to_string()).await.unwrap();
    }
    conn.close().await.unwrap();
}

/// `listen --timeout SECS` as Alice, run to its end.
fn alice_listens(alice: &Account, secs: u64) -> Proc {
    run_as(
        alice,
        "alice (listen)",
        &["listen", "--timeout", &secs.to_string()],
        0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_message_is_decrypted_at_login_and_its_replay_refused() {
    let alice = Account::new("offa");
    let bob = Account::new("offb");
    bob_trusts_alice(&alice, &bob);
    publish(&alice, &[]);

    // Alice is offline: without --allow-offline, Bob's send exits 1 and sends nothing,
    // saying why (an offline session has no forward secrecy).
    let refused_body = unique_body("not offline");
    let refused = run_as(
        &bob,
        "bob (send, offline not allowed)",
        &["send", "--to", &alice.jid, "--timeout", "3", &refused_body],
        1,
    );
    let err = refused.only("error");
    assert_eq!(err["kind"], offline_kind(), "{err}");
    for needle in [
        "offline",
        "--allow-offline",
        "no forward secrecy",
        "nothing was sent",
    ] {
        assert!(s(&err["detail"]).contains(needle), "{needle}: {err}");
    }
    assert!(refused.events_named("sent_offline").is_empty());

    // With it, Bob's online attempt fails (bounced, or unanswered) and he sends offline.
    let body = unique_body("offline");
    let sent = run_as(
        &bob,
        "bob (send offline)",
        &[
            "send",
            "--to",
            &alice.jid,
            "--timeout",
            "3",
            "--allow-offline",
            &body,
        ],
        0,
    );
    let ev = sent.only("sent_offline");
    assert_eq!(ev["forward_secrecy"], false, "{ev}");
    // Bob is no presence subscriber of Alice: her open set.
    assert_eq!(
        (s(&ev["peer"]), s(&ev["set"])),
        (alice.jid.as_str(), "open"),
        "{ev}"
    );
    let thread = s(&ev["thread"]).to_owned();
    let est = sent.only("established");
    assert_eq!(
        (&est["offline"], &est["role"], &est["thread"]),
        (
            &Value::Bool(true),
            &Value::from("responder"),
            &Value::from(thread.as_str())
        ),
        "{est}"
    );
    assert!(
        sent.events_named("error").is_empty(),
        "{}",
        sent.transcript()
    );

    // What the server stored for Alice: the offline init (with the first <c/>) and the
    // terminate on Bob's thread; nothing in plaintext.
    let stored = take_stored(&alice, Duration::from_secs(3)).await;
    // The refused send stored nothing: one offline <init/>, the allowed one's.
    let inits = stored
        .iter()
        .filter(|m| m.child("init", ns::ESESSION_INIT).is_some())
        .count();
    assert_eq!(inits, 1, "{stored:?}");
    let session: Vec<Element> = stored
        .into_iter()
        .filter(|m| thread_of(m).as_deref() == Some(thread.as_str()))
        .collect();
    assert_eq!(session.len(), 2, "{session:?}");
    let init = session[0]
        .child("init", ns::ESESSION_INIT)
        .expect("the first stored stanza carries the <init/>");
    assert_eq!(
        init.child("x", ns::DATA).and_then(|x| x.attr("type")),
        Some("submit")
    );
    // Profile P9: a clear body, if any, is the fixed fallback text.
    assert!(session.iter().all(|m| {
        m.child("c", ns::STANZA_ENCRYPTION).is_some()
            && m.children()
                .filter(|c| c.is("body", ns::JABBER_CLIENT))
                .all(|b| b.text() == esession::stanza::FALLBACK_BODY)
    }));
    assert_server_never_saw(&body, Some(&thread));

    // Stored for Alice once more: her next login opens and decrypts it.
    inject(&bob, &alice, &session).await;
    let got = alice_listens(&alice, 6);
    let login = got.only("offline_login");
    assert_eq!(
        (login["loaded"].as_u64(), s(&login["withdrawn"])),
        (Some(2), "withdrawn")
    );
    let msg = got.only("message");
    assert_eq!(
        (
            &msg["body"],
            &msg["encrypted"],
            &msg["offline"],
            &msg["thread"]
        ),
        (
            &Value::from(body.as_str()),
            &Value::Bool(true),
            &Value::Bool(true),
            &Value::from(thread.as_str())
        ),
        "{}",
        got.transcript()
    );
    let est = got.only("established");
    assert_eq!(
        (&est["offline"], &est["role"]),
        (&Value::Bool(true), &Value::from("initiator"))
    );
    assert!(
        s(&msg["peer"]).starts_with(&format!("{}/", bob.jid)),
        "{msg}"
    );
    assert!(
        got.events_named("error").is_empty(),
        "nothing may fail the first time\n{}",
        got.transcript()
    );

    // The same stored stanzas again: the replay is refused and nothing is decrypted.
    inject(&bob, &alice, &session).await;
    let again = alice_listens(&alice, 6);
    assert!(
        again.events_named("message").is_empty(),
        "a replay was decrypted\n{}",
        again.transcript()
    );
    let refused = again
        .events_named("error")
        .into_iter()
        .find(|e| e["thread"] == thread.as_str())
        .unwrap_or_else(|| panic!("no refusal\n{}", again.transcript()));
    assert_eq!(refused["kind"], "rejected", "{refused}");
    assert!(s(&refused["detail"]).contains("replay"), "{refused}");
}

#[test]
fn expired_options_and_untrusted_keys_send_nothing() {
    let alice = Account::new("offx");
    let bob = Account::new("offy");
    let carol = Account::new("offz");
    bob_trusts_alice(&alice, &bob);

    // Expired: Bob's clock is past `expires`. Publishing takes a server round trip per
    // set, so a loaded machine needs a few seconds before the last set is out: 5 s, then
    // a wait past it (whole seconds, so one more).
    publish(&alice, &["--expires", "5s"]);
    std::thread::sleep(Duration::from_millis(6100));
    let body = unique_body("expired");
    let p = run_as(
        &bob,
        "bob (send, expired options)",
        &[
            "send",
            "--to",
            &alice.jid,
            "--timeout",
            "2",
            "--allow-offline",
            &body,
        ],
        1,
    );
    let err = p.only("error");
    assert_eq!(err["kind"], "rejected", "{err}");
    assert!(s(&err["detail"]).contains("expired"), "{err}");
    assert!(p.events_named("sent_offline").is_empty());

    // Untrusted: valid options, but Carol trusts no key of Alice.
    publish(&alice, &[]);
    let body2 = unique_body("untrusted");
    let p = run_as(
        &carol,
        "carol (send, untrusted)",
        &[
            "send",
            "--to",
            &alice.jid,
            "--timeout",
            "2",
            "--allow-offline",
            &body2,
        ],
        1,
    );
    let err = p.only("error");
    assert_eq!(err["kind"], "rejected", "{err}");
    assert!(s(&err["detail"]).contains("trusted"), "{err}");
    assert!(p.events_named("sent_offline").is_empty());

    // No options at all: exit 1 as before.
    let dave = Account::new("offw");
    let p = run_as(
        &carol,
        "carol (send, no options)",
        &[
            "send",
            "--to",
            &dave.jid,
            "--timeout",
            "2",
            "--allow-offline",
            &body2,
        ],
        1,
    );
    let err = p.only("error");
    assert_eq!(err["kind"], offline_kind(), "{err}");
    assert!(s(&err["detail"]).contains("no offline options"), "{err}");

    assert_server_never_saw(&body, None);
    assert_server_never_saw(&body2, None);
}

/// One `send` request to a running `esession jsonrpc`; its answer's result.
fn rpc_send(p: &mut Proc, stdin: &mut std::process::ChildStdin, to: &str, body: &str) -> Value {
    use std::io::Write;
    let req = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "send",
                                 "params": {"to": to, "body": body}});
    writeln!(stdin, "{req}").unwrap();
    let a = p.wait_event("the answer", EVENT_LIMIT, |e| e["id"] == 1);
    assert!(a.get("error").is_none(), "{a}\n{}", p.transcript());
    a["result"].clone()
}

#[test]
fn jsonrpc_sends_to_an_offline_contact_in_an_offline_session_only_with_consent() {
    let alice = Account::new("ofja");
    let bob = Account::new("ofjb");
    bob_trusts_alice(&alice, &bob);
    publish(&alice, &[]);

    // Alice has no available resource. Without --allow-offline the message waits,
    // marked not sent, and nothing leaves.
    let (mut p, mut stdin) = Proc::spawn_interactive("bob (jsonrpc)", &bob.args(&["jsonrpc"]));
    let waiting = unique_body("waits");
    let r = rpc_send(&mut p, &mut stdin, &alice.jid, &waiting);
    assert_eq!(r["state"], "queued", "{r}");
    assert!(
        s(&r["reason"]).contains("offline sessions were not allowed"),
        "{r}"
    );
    drop(stdin);
    assert_eq!(p.finish(RUN_LIMIT), 0, "{}", p.transcript());

    // With it: sent in an offline session, without forward secrecy.
    let (mut p, mut stdin) = Proc::spawn_interactive(
        "bob (jsonrpc --allow-offline)",
        &bob.args(&["jsonrpc", "--allow-offline"]),
    );
    // Right after signing in, Alice's presence may still be on its way: the message waits
    // that long (PRESENCE_SETTLE), then goes in an offline session.
    let body = unique_body("offline by jsonrpc");
    let r = rpc_send(&mut p, &mut stdin, &alice.jid, &body);
    assert_eq!(r["state"], "queued", "{r}\n{}", p.transcript());
    assert!(s(&r["reason"]).contains("presence is not known yet"), "{r}");
    let id = r["id"].clone();
    let sent = p.wait_event("the offline send", EVENT_LIMIT, |e| {
        e["method"] == "receipt" && e["params"]["id"] == id && e["params"]["state"] != "queued"
    });
    assert_eq!(
        (&sent["params"]["state"], &sent["params"]["forward_secrecy"]),
        (&Value::from("sent"), &Value::Bool(false)),
        "{sent}\n{}",
        p.transcript()
    );
    drop(stdin);
    assert_eq!(p.finish(RUN_LIMIT), 0, "{}", p.transcript());

    // Alice reads it at her next login, with the same conversation layer (before: only
    // `listen` loaded her offline options, and `jsonrpc`, `chat` and `tui` refused what
    // the server delivered, which it had dropped: lost). The other one never left Bob.
    let (mut got, stdin) = Proc::spawn_interactive("alice (jsonrpc)", &alice.args(&["jsonrpc"]));
    let m = got.wait_event("the offline message", EVENT_LIMIT, |e| {
        e["method"] == "message"
    });
    let m = &m["params"];
    assert_eq!(s(&m["body"]), body, "{}", got.transcript());
    assert_eq!(
        (&m["encrypted"], &m["offline"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{m}"
    );
    std::thread::sleep(Duration::from_secs(1));
    drop(stdin);
    assert_eq!(got.finish(RUN_LIMIT), 0, "{}", got.transcript());
    let messages = got
        .events()
        .into_iter()
        .filter(|e| e["method"] == "message")
        .count();
    assert_eq!(messages, 1, "{}", got.transcript());
    assert_server_never_saw(&body, Some(&alice.jid));
    assert_server_never_saw(&waiting, None);
}
