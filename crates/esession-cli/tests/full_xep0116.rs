//! Full XEP-0116 through the `esession` binary and a real server (Prosody, or the ejabberd
//! cluster: Alice on node 1, Bob on node 2): the 3-message flow with RSA keys, `hash`
//! identities, each cipher family, whirlpool, zlib, re-keying, required public keys, the
//! identity key at rest, and trust (issue 4 §8).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

#[allow(dead_code)]
mod support;

use std::process::Command;
use std::time::Duration;

use esession::store::KeyStore;
use esession_store::SqliteStore;
use serde_json::Value;
use support::{run, unique_body, Account, Proc};

const SEND_LIMIT: Duration = Duration::from_secs(45);
const EVENT_LIMIT: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// `listen --echo` as `bob` with `extra`, once online; its full JID.
fn listener(bob: &Account, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["listen", "--echo", "--timeout", "40"];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn("bob (listen)", &bob.args(&args));
    let online = p.wait_named("online", EVENT_LIMIT);
    (p, s(&online["jid"]).to_owned())
}

/// `send --expect-echo` from `alice` to `to` with `extra`; must succeed. Alice's
/// `established`, and the finished process.
fn send_ok(alice: &Account, to: &str, extra: &[&str], bob: &mut Proc) -> (Value, Proc) {
    let body = unique_body("full");
    let mut args = vec!["send", "--to", to, "--expect-echo"];
    args.extend_from_slice(extra);
    args.push(&body);
    let (code, p) = run("alice (send)", &alice.args(&args), SEND_LIMIT);
    if code != 0 {
        bob.drain(Duration::from_millis(300));
        panic!(
            "send {extra:?} exited {code}\n{}\n{}",
            p.transcript(),
            bob.transcript()
        );
    }
    let est = p.only("established");
    assert_eq!(est["encrypted"], true, "{est}");
    (est, p)
}

/// Bob's `established` on `thread`.
fn bob_established(bob: &mut Proc, thread: &str) -> Value {
    bob.wait_event("established", EVENT_LIMIT, |e| {
        e["event"] == "established" && e["thread"] == thread
    })
}

/// The `established` on both sides agree on the negotiated terms.
fn same_terms(a: &Value, b: &Value) {
    for k in ["flow", "crypt", "hash", "compress", "rekey_freq", "sas"] {
        assert_eq!(a[k], b[k], "{k}: {a} / {b}");
    }
}

/// Runs `esession ARGS` (no network) with extra environment; exit code and stdout.
fn offline(args: &[String], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esession"));
    cmd.args(args)
        .env_remove("ESESSION_PASSWORD")
        .env_remove("ESESSION_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The one JSON line named `event` of `stdout`.
fn line(stdout: &str, event: &str) -> Value {
    let found: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect();
    assert_eq!(found.len(), 1, "one {event:?} expected in {stdout}");
    found.into_iter().next().unwrap()
}

fn fingerprint_of(acc: &Account) -> String {
    let (code, out) = offline(&acc.args(&["keys", "show"]), &[]);
    assert_eq!(code, 0, "{out}");
    let ev = line(&out, "key");
    assert_eq!(ev["jid"], acc.jid.as_str(), "{ev}");
    s(&ev["fingerprint"]).to_owned()
}

#[test]
fn three_message_rsa_then_hash_identity_then_trust() {
    let alice = Account::new("fa");
    let bob = Account::new("fb");
    let (mut bob_p, bob_full) = listener(&bob, &[]);
    let (alice_fp, bob_fp) = (fingerprint_of(&alice), fingerprint_of(&bob));

    // XEP-0116 §4.2: SIGMA-I in 3 messages, both sides present RSA keys, no SAS.
    let (ea, _) = send_ok(&alice, &bob_full, &["--flow", "3"], &mut bob_p);
    let eb = bob_established(&mut bob_p, s(&ea["thread"]));
    same_terms(&ea, &eb);
    assert_eq!(ea["flow"], 3, "{ea}");
    assert_eq!(ea["sas"], Value::Null, "{ea}");
    assert_eq!(ea["peer_fingerprint"], bob_fp.as_str(), "{ea}");
    assert_eq!(eb["peer_fingerprint"], alice_fp.as_str(), "{eb}");
    assert_eq!(
        (&ea["trusted"], &eb["trusted"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    // §7.3: a first key is an alert (compare it out of band).
    assert!(!eb["alerts"].as_array().unwrap().is_empty(), "{eb}");

    // `hash`: Bob knows Alice's key from the first session (profile P8).
    let (ea, _) = send_ok(&alice, &bob_full, &["--pubkey", "hash"], &mut bob_p);
    let eb = bob_established(&mut bob_p, s(&ea["thread"]));
    assert_eq!(ea["flow"], 4, "{ea}");
    assert_eq!(eb["peer_fingerprint"], alice_fp.as_str(), "{eb}");
    assert_eq!(eb["alerts"], serde_json::json!([]), "{eb}");

    // Trust: only a key seen from that JID; then the next session reports it trusted.
    let (code, out) = offline(&alice.args(&["trust", "verify", &alice.jid, &bob_fp]), &[]);
    assert_eq!(
        code, 1,
        "verify for a JID that never presented the key: {out}"
    );
    let (code, out) = offline(&alice.args(&["trust", "verify", &bob.jid, &bob_fp]), &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "trusted_key")["trusted"], true, "{out}");
    let (code, out) = offline(&alice.args(&["trust", "rename", &bob_fp, "Bob"]), &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = offline(&alice.args(&["trust", "list"]), &[]);
    assert_eq!(code, 0, "{out}");
    let listed = line(&out, "trusted_key");
    assert_eq!(listed["fingerprint"], bob_fp.as_str(), "{listed}");
    assert_eq!(listed["petname"], "Bob", "{listed}");
    assert_eq!(listed["jids"], serde_json::json!([bob.jid]), "{listed}");
    let (ea, _) = send_ok(&alice, &bob_full, &["--flow", "3"], &mut bob_p);
    assert_eq!(ea["trusted"], true, "{ea}");
    assert_eq!(ea["petname"], "Bob", "{ea}");
    let (code, out) = offline(&alice.args(&["trust", "forget", &bob_fp]), &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = offline(&alice.args(&["trust", "list"]), &[]);
    assert_eq!((code, out.trim()), (0, ""), "forgotten key still listed");
    bob_p.stop(EVENT_LIMIT);
}

#[test]
fn each_cipher_family_whirlpool_and_zlib() {
    let alice = Account::new("fc");
    let bob = Account::new("fd");
    // Twofish and Whirlpool are accepted only when listed (not in the defaults).
    let (mut bob_p, bob_full) = listener(
        &bob,
        &[
            "--compress",
            "none,zlib",
            "--crypt",
            "aes256-ctr,twofish256-ctr,serpent128-ctr",
            "--hash",
            "sha256,whirlpool",
        ],
    );
    for (extra, crypt, hash, compress) in [
        (
            vec!["--crypt", "aes256-ctr"],
            "aes256-ctr",
            "sha256",
            "none",
        ),
        (
            vec!["--crypt", "twofish256-ctr", "--hash", "whirlpool"],
            "twofish256-ctr",
            "whirlpool",
            "none",
        ),
        (
            vec!["--crypt", "serpent128-ctr", "--compress", "zlib"],
            "serpent128-ctr",
            "sha256",
            "zlib",
        ),
    ] {
        let (ea, _) = send_ok(&alice, &bob_full, &extra, &mut bob_p);
        let eb = bob_established(&mut bob_p, s(&ea["thread"]));
        same_terms(&ea, &eb);
        assert_eq!(
            (s(&ea["crypt"]), s(&ea["hash"]), s(&ea["compress"])),
            (crypt, hash, compress),
            "{ea}"
        );
    }
    // XEP-0116 §8: `none` only with an explicit flag.
    let (code, p) = run(
        "alice (send none)",
        &alice.args(&["send", "--to", &bob_full, "--crypt", "none", "x"]),
        SEND_LIMIT,
    );
    assert_eq!(code, 2, "{}", p.transcript());
    bob_p.stop(EVENT_LIMIT);
}

#[test]
fn rekey_every_stanza_reported_on_both_sides() {
    let alice = Account::new("fe");
    let bob = Account::new("ff");
    let (mut bob_p, bob_full) = listener(&bob, &["--rekey-every", "1"]);
    let (ea, alice_p) = send_ok(
        &alice,
        &bob_full,
        &["--rekey-every", "1", "--count", "3"],
        &mut bob_p,
    );
    let thread = s(&ea["thread"]).to_owned();
    bob_p.wait_event("the terminate", EVENT_LIMIT, |e| {
        e["event"] == "terminated" && e["thread"] == thread.as_str()
    });
    for (who, p) in [("alice", &alice_p), ("bob", &bob_p)] {
        let rekeys = p.events_named("rekey");
        for by in ["us", "peer"] {
            assert!(
                rekeys
                    .iter()
                    .any(|e| e["by"] == by && e["thread"] == thread.as_str()),
                "{who}: no rekey by {by}\n{}",
                p.transcript()
            );
        }
    }
    bob_p.stop(EVENT_LIMIT);
}

#[test]
fn require_pubkey_key_refuses_an_initiator_without_one() {
    let alice = Account::new("fg");
    let bob = Account::new("fh");
    let (mut bob_p, bob_full) = listener(&bob, &["--require-pubkey", "key"]);
    let body = unique_body("refused");
    let (code, p) = run(
        "alice (send)",
        &alice.args(&["send", "--to", &bob_full, "--timeout", "10", &body]),
        SEND_LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    assert!(
        p.events_named("established").is_empty(),
        "{}",
        p.transcript()
    );
    assert_eq!(p.events_named("error").len(), 1, "{}", p.transcript());
    bob_p.drain(Duration::from_millis(300));
    assert!(
        bob_p.events_named("established").is_empty(),
        "{}",
        bob_p.transcript()
    );
    bob_p.stop(EVENT_LIMIT);
}

#[test]
fn identity_key_is_stable_and_sealed_at_rest() {
    let acc = Account::new("fi");
    let first = fingerprint_of(&acc);
    assert_eq!(fingerprint_of(&acc), first, "keys show changed the key");
    // The key is sealed under the store's device key: no passphrase opens or changes it,
    // and the account password (which the server can learn) plays no part.
    let (code, out) = offline(
        &acc.args(&["keys", "show"]),
        &[("ESESSION_KEY_PASSPHRASE", "not the password")],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&first), "{out}");

    // The private key is in the store, but nowhere in the files in clear.
    let path = acc.state.path().join(format!("{}.sqlite", acc.jid));
    let der = SqliteStore::open(&path)
        .unwrap()
        .identity_key(&acc.jid)
        .unwrap()
        .unwrap();
    assert!(der.len() > 1000, "{} octets", der.len());
    // Any 32 octets of the key would betray it; look for a middle slice too.
    let needles = [&der[..], &der[der.len() / 2..der.len() / 2 + 32]];
    for entry in std::fs::read_dir(acc.state.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n),
                "{} holds the private key in clear",
                entry.path().display()
            );
        }
    }
}
