//! `esession jsonrpc` against a real server (Prosody, or the ejabberd cluster: Alice on
//! node 1, Bob on node 2): two processes become contacts through the roster and hold a
//! two-way conversation, started by either side and by both at once, without losing a
//! message or showing the server a body; a server restart under them is reported and
//! survived (that test runs a Prosody of its own).
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ChildStdin;
use std::time::Duration;

use serde_json::{json, Value};
use support::{assert_server_never_saw, run, target, unique_body, Account, Proc};

/// Bound for a single event or answer.
const EVENT_LIMIT: Duration = Duration::from_secs(30);
/// Messages each way per round.
const PER_ROUND: usize = 50;

/// A running `esession jsonrpc` and its input.
struct Rpc {
    p: Proc,
    stdin: ChildStdin,
    next_id: u64,
    /// Our bare JID.
    jid: String,
}

impl Rpc {
    fn start(name: &str, acct: &Account) -> Rpc {
        Rpc::start_with(name, acct, &[])
    }

    /// `esession jsonrpc EXTRA…`.
    fn start_with(name: &str, acct: &Account, extra: &[&str]) -> Rpc {
        let args: Vec<&str> = ["jsonrpc"].iter().chain(extra).copied().collect();
        Rpc::spawn(name, &acct.args(&args), &acct.jid)
    }

    /// `esession ARGS` (a `jsonrpc` command line) as the account `jid`, once online.
    fn spawn(name: &str, args: &[String], jid: &str) -> Rpc {
        Rpc::spawn_env(name, args, jid, &[])
    }

    /// [`Rpc::spawn`] with extra environment variables.
    fn spawn_env(name: &str, args: &[String], jid: &str, env: &[(&str, &str)]) -> Rpc {
        let (mut p, stdin) = Proc::spawn_interactive_env(name, args, env);
        let online = p.wait_event("online", EVENT_LIMIT, |e| e["method"] == "online");
        assert!(online["params"]["jid"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{jid}/")));
        // `online` comes first.
        assert_eq!(p.events()[0]["method"], "online", "{}", p.transcript());
        Rpc {
            p,
            stdin,
            next_id: 0,
            jid: jid.to_owned(),
        }
    }

    /// Sends a raw line; does not wait.
    fn line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
    }

    /// Sends a request; its id.
    fn ask(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.line(&req.to_string());
        id
    }

    /// The response to request `id`.
    fn answer(&mut self, id: u64) -> Value {
        self.p
            .wait_event(&format!("answer {id}"), EVENT_LIMIT, |e| e["id"] == id)
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.ask(method, params);
        let a = self.answer(id);
        assert!(
            a.get("error").is_none(),
            "{method}: {a}\n{}",
            self.p.transcript()
        );
        a["result"].clone()
    }

    /// Waits for the notification `method` whose params satisfy `pick`.
    fn notified(&mut self, method: &str, pick: impl Fn(&Value) -> bool) -> Value {
        self.p.wait_event(method, EVENT_LIMIT, |e| {
            e["method"] == method && pick(&e["params"])
        })["params"]
            .clone()
    }

    fn notifications(&self, method: &str) -> Vec<Value> {
        self.p
            .events()
            .into_iter()
            .filter(|e| e["method"] == method)
            .map(|e| e["params"].clone())
            .collect()
    }

    /// Sends `n` messages to `to`; their (id, body).
    fn send_many(&mut self, to: &str, what: &str, n: usize) -> Vec<(String, String)> {
        let asked: Vec<(u64, String)> = (0..n)
            .map(|i| {
                let body = unique_body(&format!("{what} {i}"));
                (self.ask("send", json!({"to": to, "body": body})), body)
            })
            .collect();
        asked
            .into_iter()
            .map(|(req, body)| {
                let a = self.answer(req);
                let state = a["result"]["state"].as_str().unwrap_or_default().to_owned();
                assert!(
                    state == "queued" || state == "sent",
                    "send answered {a}\n{}",
                    self.p.transcript()
                );
                (a["result"]["id"].as_str().unwrap().to_owned(), body)
            })
            .collect()
    }

    /// Waits until every message of `sent` is acknowledged by the contact.
    fn all_delivered(&mut self, sent: &[(String, String)]) {
        for (id, _) in sent {
            let id = id.clone();
            self.notified("receipt", |p| {
                p["id"] == id.as_str() && p["state"] == "delivered"
            });
        }
    }

    /// Waits until every body of `sent` was received, encrypted; each exactly once.
    fn all_received(&mut self, sent: &[(String, String)]) {
        for (_, body) in sent {
            let body = body.clone();
            let m = self.notified("message", |p| p["body"] == body.as_str());
            assert_eq!(m["encrypted"], true, "{m}");
        }
        let bodies: Vec<String> = self
            .notifications("message")
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect();
        let unique: BTreeSet<&String> = bodies.iter().collect();
        assert_eq!(
            unique.len(),
            bodies.len(),
            "a message shown twice: {bodies:#?}"
        );
    }
}

/// Makes Alice and Bob contacts who see each other's presence (RFC 6121 §3), and waits
/// until each sees the other online with ESessions.
fn befriend(alice: &mut Rpc, bob: &mut Rpc) {
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    alice.call("add", json!({"jid": b}));
    bob.notified("subscription", |p| p["jid"] == a.as_str());
    bob.call("approve", json!({"jid": a}));
    bob.call("add", json!({"jid": a}));
    alice.notified("subscription", |p| p["jid"] == b.as_str());
    alice.call("approve", json!({"jid": b}));
    let bare_of = |j: &Value, bare: &str| {
        j.as_str()
            .unwrap_or_default()
            .starts_with(&format!("{bare}/"))
    };
    alice.notified("presence", |p| {
        bare_of(&p["jid"], &b) && p["esessions"] == true
    });
    bob.notified("presence", |p| {
        bare_of(&p["jid"], &a) && p["esessions"] == true
    });
    // RFC 6121 §3.1.5: Alice's approval reaches her roster by a push of its own, which may
    // come after Bob's presence (on the ejabberd cluster it often does).
    alice.notified("roster", |p| {
        p["jid"] == b.as_str() && p["subscription"] == "both"
    });
    let roster = alice.call("roster", json!({}));
    let item = roster
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["jid"] == b.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("bob not in alice's roster: {roster}"));
    assert_eq!(item["subscription"], "both", "{roster}");
    assert_eq!(item["resources"][0]["esessions"], true, "{roster}");
    // XEP-0115: our own software's node, from the caps in the presence.
    assert_eq!(
        item["resources"][0]["caps_node"], "https://crates.io/crates/esession",
        "{roster}"
    );
}

/// Two fresh accounts, each served by `esession jsonrpc`, contacts of each other.
fn contacts(prefix: &str) -> (Account, Rpc, Rpc) {
    let (_, bob_acct, alice, bob) = contacts_with(prefix, &[]);
    (bob_acct, alice, bob)
}

/// [`contacts`], each process started with `extra` arguments; both accounts.
fn contacts_with(prefix: &str, extra: &[&str]) -> (Account, Account, Rpc, Rpc) {
    let (alice_acct, bob_acct) = (
        Account::new(&format!("{prefix}a")),
        Account::new(&format!("{prefix}b")),
    );
    let mut alice = Rpc::start_with("alice (jsonrpc)", &alice_acct, extra);
    let mut bob = Rpc::start_with("bob (jsonrpc)", &bob_acct, extra);
    befriend(&mut alice, &mut bob);
    (alice_acct, bob_acct, alice, bob)
}

/// Panics if the server's record of the traffic, its logs or its stored data hold any of
/// the bodies.
fn assert_no_body_at_server<'a>(sent: impl IntoIterator<Item = &'a (String, String)>) {
    let bodies: Vec<&str> = sent.into_iter().map(|(_, body)| body.as_str()).collect();
    target().assert_never_saw_any(&bodies, None);
}

#[test]
fn two_jsonrpc_processes_converse_both_ways_without_loss_or_plaintext() {
    let (_, mut alice, mut bob) = contacts("rpc");
    let (a, b) = (alice.jid.clone(), bob.jid.clone());

    // Bad requests get JSON-RPC errors and the process goes on.
    alice.line("{not json");
    let e = alice
        .p
        .wait_event("parse error", EVENT_LIMIT, |e| e["error"]["code"] == -32700);
    assert_eq!(e["id"], Value::Null);
    let id = alice.ask("fly", json!({}));
    assert_eq!(alice.answer(id)["error"]["code"], -32601);
    let id = alice.ask("send", json!({"to": "nobody"}));
    assert_eq!(alice.answer(id)["error"]["code"], -32602);
    alice.line(r#"{"jsonrpc":"1.0","id":"x","method":"status"}"#);
    let e = alice
        .p
        .wait_event("invalid request", EVENT_LIMIT, |e| e["id"] == "x");
    assert_eq!(e["error"]["code"], -32600);

    let mut all = Vec::new();

    // Alice starts; Bob's answers go in the session he adopted.
    let sent = alice.send_many(&b, "alice first", PER_ROUND);
    bob.all_received(&sent);
    alice.all_delivered(&sent);
    all.extend(sent);
    let established = bob.notified("established", |_| true);
    assert_eq!(established["adopted"], true, "{established}");
    let sent = bob.send_many(&a, "bob answers", PER_ROUND);
    alice.all_received(&sent);
    bob.all_delivered(&sent);
    all.extend(sent);
    assert_eq!(
        bob.notifications("established").len(),
        1,
        "no second negotiation"
    );
    let thread = established["thread"].as_str().unwrap().to_owned();
    let alice_est = alice.notified("established", |p| p["thread"] == thread.as_str());
    assert_eq!(alice_est["sas"], established["sas"]);
    assert_eq!(alice_est["shield"], "unverified");

    // Alice ends it; Bob starts the next session.
    assert_eq!(alice.call("end", json!({"jid": b}))["ended"], 1);
    bob.notified("terminated", |p| p["thread"] == thread.as_str());
    let sent = bob.send_many(&a, "bob starts", PER_ROUND);
    alice.all_received(&sent);
    bob.all_delivered(&sent);
    all.extend(sent);

    // Both end, then both start at once.
    bob.call("end", json!({"jid": a}));
    let sent_a = alice.send_many(&b, "both alice", PER_ROUND);
    let sent_b = bob.send_many(&a, "both bob", PER_ROUND);
    bob.all_received(&sent_a);
    alice.all_received(&sent_b);
    alice.all_delivered(&sent_a);
    bob.all_delivered(&sent_b);
    all.extend(sent_a);
    all.extend(sent_b);

    // A contact's NEL, line and paragraph separators reach Alice escaped: they do not cut
    // her output line where a reader splits lines on them (Python's `splitlines`).
    let odd = bob.send_many(&a, "cut\u{2028}here\u{85}and\u{2029}there", 1);
    alice.all_received(&odd);
    bob.all_delivered(&odd);
    let raw = alice
        .p
        .seen
        .iter()
        .find(|l| l.contains(r"cut\u2028here\u0085and"));
    let raw = raw.unwrap_or_else(|| panic!("not escaped: {}", alice.p.transcript()));
    assert!(!raw.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{raw:?}");
    all.extend(odd);

    // SAS verification from the API.
    let current = alice.call("status", json!({}));
    let conv = &current["conversations"][0];
    assert_eq!(conv["peer"], b.as_str(), "{current}");
    assert_eq!(conv["unacknowledged"], 0, "{current}");
    let last = alice.notifications("established").last().cloned().unwrap();
    assert_eq!(
        alice.call("verify", json!({"jid": b, "sas": "zzzzz"}))["verified"],
        false
    );
    let sas = last["sas"].as_str().unwrap().to_uppercase();
    let verified = alice.call("verify", json!({"jid": b, "sas": sas}));
    assert_eq!(verified["verified"], true, "{verified}");
    // Profile P15: our clients agree on the committed SAS, which has no caveat.
    assert_eq!(verified["sas_alg"], "sas28x5-commit", "{verified}");
    assert_eq!(verified["caveat"], Value::Null, "{verified}");

    // Alice stops (SIGTERM): Bob is told; both exit cleanly.
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
    bob.notified("terminated", |_| true);
    drop(bob.stdin);
    assert_eq!(bob.p.finish(EVENT_LIMIT), 0, "{}", bob.p.transcript());
    for p in [&alice.p, &bob.p] {
        assert!(
            p.events().iter().all(|e| e["method"] != "error"),
            "{}",
            p.transcript()
        );
    }

    // 0 lost: every message was delivered (checked above); 0 in clear at the server.
    assert_server_never_saw(&all[0].1, Some(&thread));
    assert_no_body_at_server(&all);
}

#[test]
fn messages_to_a_contact_who_restarts_wait_for_it_and_arrive_in_a_new_session() {
    let (bob_acct, mut alice, mut bob) = contacts("rpcr");
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    let before = alice.send_many(&b, "before restart", 5);
    bob.all_received(&before);
    alice.all_delivered(&before);

    // Bob quits: his session ends on Alice's side (his terminate, then his presence).
    assert_eq!(bob.p.stop(EVENT_LIMIT), 0, "{}", bob.p.transcript());
    alice.notified("terminated", |_| true);
    alice.notified("presence", |p| p["show"] == "unavailable");
    // Lines sent meanwhile stay queued, marked not sent, and nothing leaves.
    let waiting: Vec<(String, String)> = (0..5)
        .map(|i| {
            let body = unique_body(&format!("while away {i}"));
            let r = alice.call("send", json!({"to": b, "body": body}));
            assert_eq!(r["state"], "queued", "{r}");
            assert!(r["reason"].as_str().unwrap().contains("offline"), "{r}");
            (r["id"].as_str().unwrap().to_owned(), body)
        })
        .collect();

    // Bob is back (a new process, same state): the queued lines arrive, once, encrypted.
    let mut bob = Rpc::start("bob again (jsonrpc)", &bob_acct);
    bob.all_received(&waiting);
    alice.all_delivered(&waiting);
    let after = bob.send_many(&a, "after restart", 5);
    alice.all_received(&after);
    bob.all_delivered(&after);

    assert_no_body_at_server(before.iter().chain(&waiting).chain(&after));
    drop(alice.stdin);
    assert_eq!(alice.p.finish(EVENT_LIMIT), 0, "{}", alice.p.transcript());
}

#[test]
fn lines_sent_to_a_contact_whose_client_crashed_arrive_once_it_is_back() {
    let (bob_acct, mut alice, mut bob) = contacts("rpck");
    let b = bob.jid.clone();
    let before = alice.send_many(&b, "before crash", 3);
    bob.all_received(&before);
    alice.all_delivered(&before);

    // Bob's client dies without a word (SIGKILL): no terminate, and the server keeps its
    // resource for a while (XEP-0198 hibernation), so Alice's next lines go into a dead
    // session. Bob comes back on a new resource; the missing receipts make Alice replace
    // the stale session (RECEIPT_WAIT) and send those lines again.
    bob.p.kill(EVENT_LIMIT);
    let around = alice.send_many(&b, "around the crash", 3);
    let mut bob = Rpc::start("bob again (jsonrpc)", &bob_acct);
    let ended = alice.notified("terminated", |_| true);
    assert!(
        ended["reason"].as_str().unwrap().contains("stale")
            || ended["reason"] == "the contact went offline",
        "{ended}"
    );
    let after = alice.send_many(&b, "after the crash", 3);
    bob.all_received(&around);
    bob.all_received(&after);
    alice.all_delivered(&around);
    alice.all_delivered(&after);
    assert_no_body_at_server(before.iter().chain(&around).chain(&after));
}

/// The bodies `esession history CONTACT --json` prints, a separate process, with their
/// directions.
fn stored_history(acct: &Account, contact: &str) -> Vec<(String, String)> {
    let (code, p) = run("history", &acct.args(&["history", contact]), EVENT_LIMIT);
    assert_eq!(code, 0, "{}", p.transcript());
    p.events()
        .iter()
        .map(|m| {
            assert_eq!(m["peer"], contact, "{m}");
            (
                m["direction"].as_str().unwrap().to_owned(),
                m["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Issue 10: local history. Of a `logging` = `may` session each side keeps every message
/// sealed in its store, in order, readable by `esession history` after the process exits
/// (and nothing of a body is in clear in the state files); of a `mustnot` session
/// (XEP-0155 §8) messages are kept in memory only, said so in every event, and nothing is
/// left after exit.
#[test]
fn history_keeps_a_may_conversation_after_exit_and_nothing_of_a_mustnot_one() {
    for (logging, prefix) in [("may", "rpchm"), ("mustnot", "rpchn")] {
        let (alice_acct, bob_acct, mut alice, mut bob) =
            contacts_with(prefix, &["--logging", logging]);
        let (a, b) = (alice.jid.clone(), bob.jid.clone());
        let kept = if logging == "may" { "store" } else { "memory" };
        let to_bob = alice.send_many(&b, "history to bob", 3);
        bob.all_received(&to_bob);
        alice.all_delivered(&to_bob);
        let to_alice = bob.send_many(&a, "history to alice", 3);
        alice.all_received(&to_alice);
        bob.all_delivered(&to_alice);
        for ev in alice
            .notifications("established")
            .iter()
            .chain(&alice.notifications("message"))
        {
            assert_eq!(ev["kept"], kept, "{logging}: {ev}");
        }
        let bodies = |v: &[(String, String)]| -> Vec<String> {
            v.iter().map(|(_, body)| body.clone()).collect()
        };
        let conversation: Vec<String> = bodies(&to_bob)
            .into_iter()
            .chain(bodies(&to_alice))
            .collect();

        // While it runs, the conversation layer shows the whole conversation, in order.
        let h = alice.call("history", json!({"jid": b, "limit": 100}));
        let shown: Vec<&str> = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["kept"], kept, "{logging}: {m}");
                m["body"].as_str().unwrap()
            })
            .collect();
        assert_eq!(shown, conversation, "{logging}: {h}");
        let newest = alice.call("history", json!({"jid": b, "limit": 2}));
        assert_eq!(
            newest["messages"][1]["body"],
            conversation[5].as_str(),
            "{newest}"
        );
        assert_eq!(newest["messages"].as_array().unwrap().len(), 2, "{newest}");
        let id = alice.ask("history", json!({"jid": b, "limit": -1}));
        assert_eq!(alice.answer(id)["error"]["code"], -32602);

        drop(alice.stdin);
        assert_eq!(alice.p.finish(EVENT_LIMIT), 0, "{}", alice.p.transcript());
        drop(bob.stdin);
        assert_eq!(bob.p.finish(EVENT_LIMIT), 0, "{}", bob.p.transcript());

        // After exit, a separate process reads the store.
        let alice_saw = stored_history(&alice_acct, &b);
        let bob_saw = stored_history(&bob_acct, &a);
        if logging == "may" {
            let expect = |first: &str, second: &str| -> Vec<(String, String)> {
                to_bob
                    .iter()
                    .map(|(_, body)| (first.to_owned(), body.clone()))
                    .chain(
                        to_alice
                            .iter()
                            .map(|(_, body)| (second.to_owned(), body.clone())),
                    )
                    .collect()
            };
            assert_eq!(alice_saw, expect("sent", "received"));
            assert_eq!(bob_saw, expect("received", "sent"));
            // The text form: the newest N, each line made safe, oldest first.
            let (code, p) = run(
                "history text",
                &alice_acct.text_args(&["history", &b, "--limit", "2"]),
                EVENT_LIMIT,
            );
            assert_eq!(code, 0, "{}", p.transcript());
            assert_eq!(p.seen.len(), 2, "{}", p.transcript());
            assert!(
                p.seen[0].ends_with(&format!("{b}: {}", conversation[4])),
                "{}",
                p.transcript()
            );
            assert!(
                p.seen[1].ends_with(&format!("{b}: {}", conversation[5])),
                "{}",
                p.transcript()
            );
        } else {
            assert!(alice_saw.is_empty(), "{alice_saw:?}");
            assert!(bob_saw.is_empty(), "{bob_saw:?}");
        }
        // Nothing of a body in clear in the state files (database, WAL, device key).
        for acct in [&alice_acct, &bob_acct] {
            for entry in std::fs::read_dir(acct.state.path()).unwrap().flatten() {
                let bytes = std::fs::read(entry.path()).unwrap();
                for body in &conversation {
                    assert!(
                        !bytes.windows(body.len()).any(|w| w == body.as_bytes()),
                        "{} holds {body:?} in clear",
                        entry.path().display()
                    );
                }
            }
        }
    }
}

#[test]
fn a_denied_request_is_reported_and_a_removed_contact_leaves_the_roster() {
    let (alice_acct, bob_acct) = (Account::new("dena"), Account::new("denb"));
    let mut alice = Rpc::start("alice (jsonrpc)", &alice_acct);
    let mut bob = Rpc::start("bob (jsonrpc)", &bob_acct);
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    alice.call("add", json!({"jid": b}));
    alice.notified("roster", |p| p["jid"] == b.as_str());
    bob.notified("subscription", |p| p["jid"] == a.as_str());
    bob.call("deny", json!({"jid": a}));
    let answer = alice.notified("subscription_answer", |p| p["jid"] == b.as_str());
    assert_eq!(answer["approved"], false, "{answer}");
    alice.call("remove", json!({"jid": b}));
    alice.notified("roster", |p| {
        p["jid"] == b.as_str() && p["subscription"] == "remove"
    });
    let roster = alice.call("roster", json!({}));
    assert!(
        roster
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["jid"] != b.as_str()),
        "{roster}"
    );
    // A request without a JID is refused, the process goes on.
    let id = alice.ask("remove", json!({}));
    assert_eq!(alice.answer(id)["error"]["code"], -32602);
}

/// Waits for a presence of `bare` with ESessions (the next one, once the older are read).
fn see_online(rpc: &mut Rpc, bare: &str) {
    let prefix = format!("{bare}/");
    rpc.notified("presence", |p| {
        p["jid"].as_str().unwrap_or_default().starts_with(&prefix) && p["esessions"] == true
    });
}

/// How many notifications `method` were read.
fn count(rpc: &Rpc, method: &str) -> usize {
    rpc.notifications(method).len()
}

/// Waits for the `online` notification after the `before` first ones (the events already
/// read are scanned first: the next `online` is the new one).
fn online_again(rpc: &mut Rpc, before: usize) -> Value {
    let n = std::cell::Cell::new(0);
    rpc.p.wait_event("online again", EVENT_LIMIT, |e| {
        n.set(n.get() + usize::from(e["method"] == "online"));
        n.get() > before
    })
}

/// Alice (logging in through a relay the test can cut) and Bob, contacts, with a session
/// in which Alice's first message was delivered; their accounts (whose state directories
/// live as long as they do).
fn through_a_relay(prefix: &str) -> (support::CutRelay, [Account; 2], Rpc, Rpc) {
    let mut alice_acct = Account::new(&format!("{prefix}a"));
    let bob_acct = Account::new(&format!("{prefix}b"));
    let relay = support::CutRelay::start(&alice_acct.addr);
    alice_acct.addr = relay.addr.clone();
    let mut alice = Rpc::start("alice (jsonrpc)", &alice_acct);
    let mut bob = Rpc::start("bob (jsonrpc)", &bob_acct);
    befriend(&mut alice, &mut bob);
    let sent = alice.send_many(&bob.jid, "before the cut", 1);
    alice.all_delivered(&sent);
    (relay, [alice_acct, bob_acct], alice, bob)
}

/// XEP-0198: Alice's connection breaks, her client ends every session (it cannot know yet
/// whether the server will resume the stream) and the server resumes it. Bob, who saw no
/// departure, is told the session ended: the terminate the loss made goes out on the
/// resumed stream (before, it was dropped, and Bob kept sending into a session Alice no
/// longer had).
#[test]
fn a_resumed_stream_tells_the_contact_the_session_ended_at_the_loss() {
    let (relay, _accounts, mut alice, mut bob) = through_a_relay("rpcres");
    let thread = bob.notified("established", |_| true)["thread"].clone();
    let before = count(&alice, "online");
    relay.cut();
    alice.notified("connection_lost", |_| true);
    online_again(&mut alice, before);
    let ended = bob.notified("terminated", |t| t["thread"] == thread);
    assert_eq!(ended["peer"], alice.jid.as_str(), "{ended}");
    // The stream was resumed: Bob never saw Alice leave.
    assert!(
        !bob.notifications("presence").iter().any(|p| {
            p["show"].is_null()
                && p["jid"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(&alice.jid)
        }),
        "{}",
        bob.p.transcript()
    );
    let again = alice.send_many(&bob.jid, "after the resumption", 1);
    alice.all_delivered(&again);
    bob.all_received(&again);
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
    assert_eq!(bob.p.stop(EVENT_LIMIT), 0, "{}", bob.p.transcript());
}

/// Quitting while the connection is lost and cannot come back: the program ends at once
/// and cleanly (the terminates kept for a resumed stream are dropped, not waited on).
#[test]
fn quitting_while_the_connection_is_lost_ends_cleanly() {
    let (relay, _accounts, mut alice, mut bob) = through_a_relay("rpcquit");
    relay.refuse(true);
    relay.cut();
    alice.notified("connection_lost", |_| true);
    // Before: the kept terminates waited out the send timeout, and the program failed.
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
    assert_eq!(bob.p.stop(EVENT_LIMIT), 0, "{}", bob.p.transcript());
}

#[test]
fn a_server_restart_is_reported_and_the_message_typed_meanwhile_is_delivered() {
    let server = esession_testkit::private_server();
    let (alice_acct, bob_acct) = (Account::on(&server, "rca"), Account::on(&server, "rcb"));
    let mut alice = Rpc::start("alice (jsonrpc)", &alice_acct);
    let mut bob = Rpc::start("bob (jsonrpc)", &bob_acct);
    befriend(&mut alice, &mut bob);
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    let before = unique_body("before the restart");
    let sent = alice.call("send", json!({"to": b, "body": before}));
    alice.all_delivered(&[(sent["id"].as_str().unwrap().to_owned(), before.clone())]);

    server.stop();
    // Each saw the other go offline (the server said so before it went) or its own
    // connection end the session; either way no session is left.
    for rpc in [&mut alice, &mut bob] {
        let lost = rpc.notified("connection_lost", |_| true);
        assert!(!lost["reason"].as_str().unwrap().is_empty(), "{lost}");
        let r = rpc.notified("reconnecting", |_| true);
        assert_eq!(r["attempt"], 1, "{r}");
        let status = rpc.call("status", json!({}));
        for c in status["conversations"].as_array().unwrap() {
            assert_eq!(c["sessions"], json!([]), "{status}");
        }
    }
    // A second attempt is announced with its pause while the server is still down.
    let second = alice.notified("reconnecting", |p| p["attempt"] == 2);
    assert!(second["in_secs"].as_u64().unwrap() <= 2, "{second}");
    assert!(second["error"].is_string(), "{second}");
    let offline = unique_body("typed while the server was down");
    let sent = alice.call("send", json!({"to": b, "body": offline}));
    assert_eq!(sent["state"], "queued", "{sent}");
    assert!(
        sent["reason"]
            .as_str()
            .unwrap()
            .contains("no connection to the server"),
        "{sent}"
    );
    let offline_id = sent["id"].as_str().unwrap().to_owned();
    // The log is rewritten at each start: what the server saw so far is kept.
    let first_log = server.log_text();

    let onlines = (count(&alice, "online"), count(&bob, "online"));
    server.start_again();
    for (rpc, before) in [(&mut alice, onlines.0), (&mut bob, onlines.1)] {
        let again = online_again(rpc, before);
        let prefix = format!("{}/", rpc.jid);
        assert!(again["params"]["jid"]
            .as_str()
            .unwrap()
            .starts_with(&prefix));
    }
    see_online(&mut alice, &b);
    see_online(&mut bob, &a);
    alice.all_delivered(&[(offline_id, offline.clone())]);
    let m = bob.notified("message", |p| p["body"] == offline.as_str());
    assert_eq!(m["encrypted"], true);
    // And back the other way.
    let after = unique_body("after the restart");
    let sent = bob.call("send", json!({"to": a, "body": after}));
    bob.all_delivered(&[(sent["id"].as_str().unwrap().to_owned(), after.clone())]);
    alice.notified("message", |p| p["body"] == after.as_str());

    let log = first_log + &server.log_text();
    assert!(log.contains(&b), "the log records this test's stanzas");
    for body in [&before, &offline, &after] {
        assert!(!log.contains(body.as_str()), "the server saw {body:?}");
        assert!(
            server.data_files_containing(body).is_empty(),
            "stored: {body:?}"
        );
    }
}

/// SIGHUP (the terminal closed) ends `jsonrpc` and `listen` as SIGTERM does: every open
/// session is terminated and the contact is told; the process exits 0.
#[test]
fn a_hang_up_ends_jsonrpc_and_listen_cleanly_and_the_contact_is_told() {
    let (alice_acct, _, mut alice, mut bob) = contacts_with("hup", &[]);
    let b = bob.jid.clone();
    let sent = alice.send_many(&b, "before hang-up", 1);
    bob.all_received(&sent);
    let est = bob.notified("established", |_| true);
    alice.p.signal("HUP");
    assert_eq!(alice.p.finish(EVENT_LIMIT), 0, "{}", alice.p.transcript());
    let thread = est["thread"].as_str().unwrap().to_owned();
    let ended = bob.notified("terminated", |p| p["thread"] == thread.as_str());
    assert_eq!(ended["reason"], "ended by the contact", "{ended}");

    // `listen` as Alice: Bob's next message goes to it; a hang-up ends that session too.
    let mut listen = Proc::spawn(
        "alice (listen)",
        &alice_acct.args(&["listen", "--timeout", "60"]),
    );
    let online = listen.wait_named("online", EVENT_LIMIT);
    let full = online["jid"].as_str().unwrap().to_owned();
    bob.notified("presence", |p| {
        p["jid"] == full.as_str() && p["esessions"] == true
    });
    let sent = bob.send_many(&alice.jid.clone(), "to listen", 1);
    let got = listen.wait_named("message", EVENT_LIMIT);
    assert_eq!(got["body"], sent[0].1.as_str(), "{}", listen.transcript());
    let est = bob.notified("established", |p| p["jid"] == full.as_str());
    listen.signal("HUP");
    assert_eq!(listen.finish(EVENT_LIMIT), 0, "{}", listen.transcript());
    let thread = est["thread"].as_str().unwrap().to_owned();
    let ended = bob.notified("terminated", |p| p["thread"] == thread.as_str());
    assert_eq!(ended["reason"], "ended by the contact", "{ended}");
    assert!(
        listen
            .events_named("terminated")
            .iter()
            .any(|e| e["thread"] == thread.as_str()),
        "{}",
        listen.transcript()
    );
    drop(bob.stdin);
    assert_eq!(bob.p.finish(EVENT_LIMIT), 0, "{}", bob.p.transcript());
}

#[path = "../../esession-xmpp/tests/version_peer/mod.rs"]
mod version_peer;

/// An engine-only peer (`version_peer`) served in a task, and Alice (`esession jsonrpc`)
/// who added it and sees it online with ESessions.
struct PeerScene {
    rt: tokio::runtime::Runtime,
    alice: Rpc,
    /// The peer's bare JID.
    peer: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    served: Option<tokio::task::JoinHandle<version_peer::Peer>>,
}

/// How the peer of a [`PeerScene`] runs.
struct PeerSetup<'a> {
    config: esession::Config,
    /// Its disco#info features beside the ESession ones.
    features: &'a [&'a str],
    /// Whether its presence carries caps.
    caps: bool,
    /// What its software version answers hold.
    version: &'a str,
}

impl PeerScene {
    /// Accounts named from `prefix`; Alice's process gets `env`.
    fn new(prefix: &str, setup: PeerSetup<'_>, env: &[(&str, &str)]) -> PeerScene {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let alice_acct = Account::new(&format!("{prefix}a"));
        let login = support::target().register_unique(&format!("{prefix}p"));
        let client = rt.block_on(version_peer::client(
            (&login.jid, &login.password, &login.addr),
            setup.config,
            setup.features,
            setup.caps,
        ));
        let peer_full = client.jid().to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let served = {
            let _in_rt = rt.enter();
            let peer = version_peer::Peer::new(client, setup.version);
            version_peer::serve(peer, stop.clone())
        };
        let args = alice_acct.args(&["jsonrpc"]);
        let mut alice = Rpc::spawn_env("alice (jsonrpc)", &args, &alice_acct.jid, env);
        let p = login.jid.as_str();
        alice.call("add", json!({"jid": p}));
        alice.notified("subscription", |e| e["jid"] == p);
        alice.call("approve", json!({"jid": p}));
        alice.notified("presence", |e| {
            e["jid"] == peer_full.as_str() && e["esessions"] == true
        });
        PeerScene {
            rt,
            alice,
            peer: login.jid,
            stop,
            served: Some(served),
        }
    }

    /// Stops the peer, after `linger` (it reads a stanza every 100 ms at most), and gives
    /// back what it saw.
    fn stop_peer(&mut self, linger: Duration) -> version_peer::Peer {
        std::thread::sleep(linger);
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let served = self.served.take().unwrap();
        self.rt.block_on(served).unwrap()
    }
}

/// Issue 13 §1 in the conversation layer (what `jsonrpc`, `chat` and `tui` share): a
/// contact whose presence brings no caps, and whose disco#info lists ESessions and
/// `jabber:iq:version`, is asked its software version once; a Gajim 1.0 then gets Gajim's
/// dialect in a session we start, and the message reaches it. The contact is forced into
/// Gajim's mode, so the session establishes only if we speak that dialect too.
#[test]
fn a_contact_without_caps_is_asked_its_version_and_gajim_gets_its_dialect() {
    use esession::{Compat, Config};
    let setup = PeerSetup {
        config: Config {
            compat: Compat::Gajim,
            ..Config::default()
        },
        features: &[esession_xmpp::NS_VERSION],
        caps: false,
        version: "<name>Gajim</name><version>1.0.3</version>",
    };
    let mut scene = PeerScene::new("rpcver", setup, &[]);
    let (alice, g) = (&mut scene.alice, scene.peer.as_str());
    let sent = alice.send_many(g, "to gajim", 1);
    let est = alice.notified("established", |p| p["peer"] == g);
    assert_eq!(est["compat"], "gajim", "{est}\n{}", alice.p.transcript());
    // The peer sends no receipts (XEP-0184): the message left Alice, encrypted.
    let id = sent[0].0.as_str();
    alice.notified("receipt", |p| p["id"] == id && p["state"] == "sent");
    let peer = scene.stop_peer(Duration::from_secs(2));
    assert_eq!(peer.asked, 1, "asked once");
    assert_eq!(
        peer.established.map(|i| i.compat),
        Some(Some(Compat::Gajim))
    );
    assert_eq!(peer.bodies, vec![sent[0].1.clone()]);
    let alice = &mut scene.alice;
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
}

/// XEP-0136 §3.1 in the conversation layer: the negotiation follows the user's archiving
/// preferences (before, only `send` and `listen` read them, and `jsonrpc`, `chat` and
/// `tui` kept in the local history a session the user had asked to be off the record).
#[test]
fn the_conversation_layer_follows_the_archiving_preferences() {
    let alice = Account::new("rpcotra");
    let bob = Account::new("rpcotrb");
    let prefs = [
        "archive",
        "prefs",
        "--contact",
        &bob.jid,
        "--otr",
        "require",
    ];
    let (code, p) = run("alice (prefs)", &alice.args(&prefs), EVENT_LIMIT);
    // ejabberd has no XEP-0136 (MAM only): the command says so, and the conversation layer
    // logs in all the same, its own `logging` deciding (it accepts the `may` offered).
    let archiving = !target().is_ejabberd();
    if archiving {
        assert_eq!(code, 0, "{}", p.transcript());
    } else {
        assert_eq!(code, 1, "{}", p.transcript());
        assert_eq!(p.only("error")["kind"], "unsupported", "{}", p.transcript());
    }
    let mut a = Rpc::start("alice (jsonrpc)", &alice);
    let full = a.p.events()[0]["params"]["jid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob offers `may` first: without Alice's preferences she would accept it.
    let body = unique_body("off the record");
    let send = ["send", "--to", &full, "--logging", "may,mustnot", &body];
    let (code, p) = run("bob (send)", &bob.args(&send), EVENT_LIMIT);
    assert_eq!(code, 0, "{}", p.transcript());
    let (logging, kept) = if archiving {
        ("mustnot", "memory")
    } else {
        ("may", "store")
    };
    assert_eq!(p.events_named("established")[0]["logging"], logging);
    let m = a.notified("message", |m| m["body"] == body.as_str());
    assert_eq!(m["kept"], kept, "{m}");
    assert_eq!(a.p.stop(EVENT_LIMIT), 0, "{}", a.p.transcript());
}

/// Profile P15 "Display": a contact whose client knows only the classic SAS gets a session
/// whose SAS, and its verification, carry the classic SAS's caveat wherever they are said.
#[test]
fn a_classic_sas_is_verified_with_its_caveat() {
    use esession::{Config, SasAlg};
    let setup = PeerSetup {
        config: Config {
            sas: vec![SasAlg::Classic],
            ..Config::default()
        },
        features: &[],
        caps: true,
        version: "",
    };
    let mut scene = PeerScene::new("rpcsas", setup, &[]);
    let (alice, p) = (&mut scene.alice, scene.peer.clone());
    alice.send_many(&p, "classic", 1);
    let est = alice.notified("established", |e| e["peer"] == p.as_str());
    let caveat = SasAlg::Classic.caveat().unwrap();
    assert_eq!(est["sas_alg"], "sas28x5", "{est}");
    assert_eq!(est["caveat"], caveat, "{est}");
    let sas = est["sas"].as_str().unwrap().to_owned();
    let verified = alice.call("verify", json!({"jid": p, "sas": sas}));
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["sas_alg"], "sas28x5", "{verified}");
    assert_eq!(verified["caveat"], caveat, "{verified}");
    scene.stop_peer(Duration::ZERO);
    let alice = &mut scene.alice;
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
}

/// A contact's software name goes into the diagnostics (`ESESSION_LOG`): a name holding
/// a line separator and a bidi override (control characters are refused already, see
/// `Software::parse`) shows escaped inside its record, and forges no line.
#[test]
fn a_hostile_software_name_forges_no_line_in_the_log() {
    let setup = PeerSetup {
        config: esession::Config::default(),
        features: &[esession_xmpp::NS_VERSION],
        caps: false,
        version: "<name>Evil&#x2028;FORGED ERROR&#x202E;z</name><version>1</version>",
    };
    let mut scene = PeerScene::new("rpclogn", setup, &[("ESESSION_LOG", "info")]);
    assert_eq!(scene.stop_peer(Duration::ZERO).asked, 1);
    let alice = &mut scene.alice;
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
    let log = alice.p.stderr_text();
    let record = log.lines().find(|l| l.contains("software version"));
    let record = record.unwrap_or_else(|| panic!("no record of the version\n{log}"));
    assert!(
        record.contains(r"Evil\u{2028}FORGED ERROR\u{202e}z"),
        "{record}"
    );
    assert!(!log.contains(['\u{2028}', '\u{202e}']), "{log:?}");
}

/// XEP-0184 §5 through the server: a contact whose client does not advertise receipts (an
/// engine-only peer) is not asked for one; its message is `sent` for good, and the end of
/// the session does not send it again in the next (before: each session end sent every
/// message since the first again). Our own clients advertise receipts: the other tests
/// here see `delivered`.
#[test]
fn a_contact_without_receipts_gets_each_message_once() {
    let setup = PeerSetup {
        config: esession::Config::default(),
        features: &[],
        caps: true,
        version: "",
    };
    let mut scene = PeerScene::new("rpcnorc", setup, &[]);
    let (alice, p) = (&mut scene.alice, scene.peer.as_str());
    let first = alice.send_many(p, "once", 1);
    alice.notified("receipt", |e| {
        e["id"] == first[0].0.as_str() && e["state"] == "sent"
    });
    let thread = alice.notified("established", |e| e["peer"] == p)["thread"].clone();
    assert_eq!(alice.call("end", json!({"jid": p}))["ended"], 1);
    alice.notified("terminated", |e| e["thread"] == thread);
    let second = alice.send_many(p, "then", 1);
    alice.notified("receipt", |e| {
        e["id"] == second[0].0.as_str() && e["state"] == "sent"
    });
    assert_eq!(
        alice.notifications("established").len(),
        2,
        "{}",
        alice.p.transcript()
    );
    let peer = scene.stop_peer(Duration::from_secs(2));
    assert_eq!(peer.bodies, vec![first[0].1.clone(), second[0].1.clone()]);
    let alice = &mut scene.alice;
    for id in [&first[0].0, &second[0].0] {
        let states: Vec<Value> = alice
            .notifications("receipt")
            .into_iter()
            .filter(|e| e["id"] == id.as_str())
            .map(|e| e["state"].clone())
            .collect();
        let sent = states.iter().filter(|s| *s == "sent").count();
        assert_eq!(sent, 1, "{id}: {states:?}\n{}", alice.p.transcript());
        assert_eq!(states.last(), Some(&json!("sent")), "{id}: {states:?}");
    }
    assert_eq!(alice.p.stop(EVENT_LIMIT), 0, "{}", alice.p.transcript());
}

/// RFC 6120 §4.9.3.3: two programs signed in with the same full JID. The first is signed
/// out once (`signed_out`, reason `conflict`), does not come back on its own (no
/// `reconnecting`), keeps what is sent meanwhile queued, and signs in again only on the
/// `reconnect` method, which signs the second out in turn.
#[test]
fn a_program_signed_out_by_another_with_the_same_full_jid_waits_for_reconnect() {
    let acct = Account::new("twice");
    let (first_acct, second_acct) = (acct.as_resource("same"), acct.as_resource("same"));
    let full = first_acct.jid.clone();
    let mut first = Rpc::spawn("first", &first_acct.args(&["jsonrpc"]), &acct.jid);
    let mut second = Rpc::spawn("second", &second_acct.args(&["jsonrpc"]), &acct.jid);
    let out = first.notified("signed_out", |_| true);
    assert_eq!(out["reason"], "conflict", "{out}");
    assert_eq!(out["jid"], full.as_str());
    assert_eq!(out["detail"], format!("another client signed in as {full}"));
    let queued = first.call("send", json!({"to": "nobody@localhost", "body": "later"}));
    assert_eq!(queued["state"], "queued", "{queued}");
    assert!(
        queued["reason"].as_str().unwrap().contains("signed out"),
        "{queued}"
    );
    // Longer than the first reconnection pause (at most 1 s): neither moves.
    first.p.drain(Duration::from_millis(2500));
    second.p.drain(Duration::ZERO);
    for (rpc, quiet) in [
        (&first, ["reconnecting", "online", "connection_lost"]),
        (&second, ["reconnecting", "signed_out", "connection_lost"]),
    ] {
        for method in quiet {
            let seen = rpc.notifications(method);
            let expected = usize::from(method == "online");
            assert_eq!(seen.len(), expected, "{method}: {}", rpc.p.transcript());
        }
    }
    assert_eq!(second.call("reconnect", json!({}))["reconnecting"], false);
    assert_eq!(first.call("reconnect", json!({}))["reconnecting"], true);
    let again = online_again(&mut first, 1);
    assert_eq!(again["params"]["jid"], full.as_str(), "{again}");
    let out = second.notified("signed_out", |_| true);
    assert_eq!(out["reason"], "conflict", "{out}");
}

#[test]
fn a_session_started_before_any_message_is_established_on_both_sides() {
    let (_, mut alice, mut bob) = contacts("rpcstart");
    let b = bob.jid.clone();
    let started = alice.call("start", json!({"jid": b}));
    assert_eq!(started["session"], "started", "{started}");
    let theirs = bob.notified("established", |_| true);
    assert_eq!(theirs["adopted"], true, "{theirs}");
    let thread = theirs["thread"].clone();
    let ours = alice.notified("established", |p| p["thread"] == thread);
    assert!(ours["sas"].is_string(), "{ours}");
    assert_eq!(ours["sas"], theirs["sas"]);
    // Asked again, the session is kept.
    let again = alice.call("start", json!({"jid": b}));
    assert_eq!(again["session"], "established", "{again}");
    // No session with a contact who is not online: refused, naming why.
    let id = alice.ask("start", json!({"jid": "nobody@localhost"}));
    let refused = alice.answer(id);
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("nobody@localhost is offline"), "{refused}");
    // The first message goes in the session started: no second negotiation.
    let sent = alice.send_many(&b, "after start", 2);
    bob.all_received(&sent);
    alice.all_delivered(&sent);
    assert_eq!(alice.notifications("established").len(), 1);
    assert_eq!(bob.notifications("established").len(), 1);
    assert_no_body_at_server(&sent);
}
