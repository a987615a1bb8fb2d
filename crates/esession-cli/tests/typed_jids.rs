//! JIDs as users type them (issue 11 §14): normalized (RFC 7622 §3) before use, through
//! the `esession` binary and a real server (Prosody, or the ejabberd cluster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{run, Account, Proc};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// `Bob@LocalHost/res` typed by Alice is Bob's `bob@localhost/res`: the negotiation with
/// him establishes (his answers come from the normalized JID), and the account's own
/// `--jid` typed in capitals is the same account.
#[test]
fn typed_jids_are_normalized() {
    let (alice, bob) = (Account::new("casea"), Account::new("caseb"));
    let mut listen = Proc::spawn("bob (listen)", &bob.args(&["listen", "--timeout", "30"]));
    let bob_full = s(&listen.wait_named("online", Duration::from_secs(20))["jid"]).to_owned();
    let (bare, resource) = bob_full.split_once('/').unwrap();
    let typed = format!("{}/{resource}", bare.to_uppercase());

    let mut args = alice.args(&["send", "--to", &typed, "--timeout", "10", "hello"]);
    let i = args.iter().position(|a| *a == alice.jid).unwrap();
    args[i] = alice.jid.to_uppercase();
    let (code, p) = run("alice (send, capitals)", &args, Duration::from_secs(45));
    assert_eq!(code, 0, "{}", p.transcript());
    let est = p.only("established");
    assert_eq!(s(&est["peer"]), bob_full, "{est}");
    assert!(
        s(&p.only("online")["jid"]).starts_with(&format!("{}/", alice.jid)),
        "{}",
        p.transcript()
    );
    let got = listen.wait_named("message", Duration::from_secs(20));
    assert_eq!(s(&got["body"]), "hello", "{got}");
    assert_eq!(
        listen.stop(Duration::from_secs(10)),
        0,
        "{}",
        listen.transcript()
    );
}
