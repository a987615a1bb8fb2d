//! The server stops under two running `esession jsonrpc`: both report the lost connection
//! and their attempts, come back online when it starts again, and a message typed while it
//! was down is delivered, encrypted. This test runs a Prosody of its own (the shared one
//! serves the other tests meanwhile).
#![allow(clippy::indexing_slicing)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use esession_testkit::{free_port, prosody_script, unique};
use serde_json::{json, Value};
use support::{unique_body, Proc};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(40);

/// A Prosody of this test, on ports of its own; stopped when dropped.
struct OwnServer {
    dir: TempDir,
    c2s: u16,
    tls: u16,
}

impl OwnServer {
    fn start() -> OwnServer {
        let s = OwnServer {
            dir: tempfile::tempdir().unwrap(),
            c2s: free_port(),
            tls: free_port(),
        };
        s.run_start();
        s
    }

    fn script(&self, args: &[&str]) -> bool {
        Command::new(prosody_script())
            .args(args)
            .env("ESESSION_C2S_PORT", self.c2s.to_string())
            .env("ESESSION_TLS_PORT", self.tls.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn run_start(&self) {
        // The port may linger for a moment after a stop: retry.
        for _ in 0..20 {
            if self.script(&["start", self.dir()]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("prosody.sh start failed in {}", self.dir());
    }

    fn stop(&self) {
        assert!(self.script(&["stop", self.dir()]));
    }

    fn register(&self, prefix: &str) -> (String, String) {
        let user = unique(prefix);
        let pw = format!("pw-{user}");
        assert!(self.script(&["register", self.dir(), &user, &pw]));
        (format!("{user}@localhost"), pw)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("prosody.log")
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.script(&["stop", self.dir()]);
    }
}

/// Files under `dir` whose content holds `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
            found.push(path);
        }
    }
    found
}

struct Rpc {
    p: Proc,
    stdin: ChildStdin,
    next_id: u64,
    jid: String,
    _state: TempDir,
}

impl Rpc {
    fn start(name: &str, server: &OwnServer, (jid, pw): (String, String)) -> Rpc {
        let state = tempfile::tempdir().unwrap();
        let args: Vec<String> = [
            "--server",
            &format!("127.0.0.1:{}", server.c2s),
            "--tls",
            "plain",
            "--json",
            "--state",
            state.path().to_str().unwrap(),
            "--jid",
            &jid,
            "--password",
            &pw,
            "jsonrpc",
        ]
        .map(str::to_owned)
        .to_vec();
        let (mut p, stdin) = Proc::spawn_interactive(name, &args);
        p.wait_event("online", LIMIT, |e| e["method"] == "online");
        Rpc {
            p,
            stdin,
            next_id: 0,
            jid,
            _state: state,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{req}").unwrap();
        let a = self
            .p
            .wait_event(&format!("answer {id}"), LIMIT, |e| e["id"] == id);
        assert!(a.get("error").is_none(), "{method}: {a}");
        a["result"].clone()
    }

    fn notified(&mut self, method: &str, pick: impl Fn(&Value) -> bool) -> Value {
        self.p.wait_event(method, LIMIT, |e| {
            e["method"] == method && pick(&e["params"])
        })["params"]
            .clone()
    }

    fn count(&self, method: &str) -> usize {
        self.p
            .events()
            .iter()
            .filter(|e| e["method"] == method)
            .count()
    }
}

fn befriend(alice: &mut Rpc, bob: &mut Rpc) {
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    alice.call("add", json!({"jid": b}));
    bob.notified("subscription", |p| p["jid"] == a.as_str());
    bob.call("approve", json!({"jid": a}));
    bob.call("add", json!({"jid": a}));
    alice.notified("subscription", |p| p["jid"] == b.as_str());
    alice.call("approve", json!({"jid": b}));
    see_online(alice, &b);
    see_online(bob, &a);
}

/// Waits for a presence of `bare` with ESessions, after the last one seen.
fn see_online(rpc: &mut Rpc, bare: &str) {
    let prefix = format!("{bare}/");
    rpc.notified("presence", |p| {
        p["jid"].as_str().unwrap_or_default().starts_with(&prefix) && p["esessions"] == true
    });
}

fn delivered(rpc: &mut Rpc, id: &str) {
    rpc.notified("receipt", |p| p["id"] == id && p["state"] == "delivered");
}

#[test]
fn a_server_restart_is_reported_and_the_message_typed_meanwhile_is_delivered() {
    let server = OwnServer::start();
    let mut alice = Rpc::start("alice (jsonrpc)", &server, server.register("rca"));
    let mut bob = Rpc::start("bob (jsonrpc)", &server, server.register("rcb"));
    befriend(&mut alice, &mut bob);
    let (a, b) = (alice.jid.clone(), bob.jid.clone());
    let before = unique_body("before the restart");
    let sent = alice.call("send", json!({"to": b, "body": before}));
    delivered(&mut alice, sent["id"].as_str().unwrap());

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
    let first_log = std::fs::read_to_string(server.log()).unwrap();

    let onlines = (alice.count("online"), bob.count("online"));
    server.run_start();
    for (rpc, before) in [(&mut alice, onlines.0), (&mut bob, onlines.1)] {
        // The events already read are scanned first: the next `online` is the new one.
        let n = std::cell::Cell::new(0);
        let again = rpc.p.wait_event("online again", LIMIT, |e| {
            n.set(n.get() + usize::from(e["method"] == "online"));
            n.get() > before
        });
        let prefix = format!("{}/", rpc.jid);
        assert!(again["params"]["jid"]
            .as_str()
            .unwrap()
            .starts_with(&prefix));
    }
    see_online(&mut alice, &b);
    see_online(&mut bob, &a);
    delivered(&mut alice, &offline_id);
    let m = bob.notified("message", |p| p["body"] == offline.as_str());
    assert_eq!(m["encrypted"], true);
    // And back the other way.
    let after = unique_body("after the restart");
    let sent = bob.call("send", json!({"to": a, "body": after}));
    delivered(&mut bob, sent["id"].as_str().unwrap());
    alice.notified("message", |p| p["body"] == after.as_str());

    let log = first_log + &std::fs::read_to_string(server.log()).unwrap();
    assert!(log.contains(&b), "the log records this test's stanzas");
    for body in [&before, &offline, &after] {
        assert!(!log.contains(body.as_str()), "the server saw {body:?}");
        let data = server.dir.path().join("data");
        assert!(files_containing(&data, body).is_empty(), "stored: {body:?}");
    }
}
