//! Published keys (XEP-0189, profile P14) through the `esession` binary and a real server
//! (Prosody, or the ejabberd cluster: Alice on node 1, Bob on node 2): publish, fetch into the trust store, verify, a 3-message session between trusted keys,
//! the direct request, an attestation, and a revocation that the peer then enforces
//! (issue 6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

#[allow(dead_code)]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{run, target, unique_body, Account, Proc};

const LIMIT: Duration = Duration::from_secs(30);
const EVENT_LIMIT: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Runs `esession ARGS` as `account`; it must exit 0. The finished process.
fn ok(name: &str, account: &Account, args: &[&str]) -> Proc {
    let (code, p) = run(name, &account.args(args), LIMIT);
    assert_eq!(code, 0, "{name} {args:?} exited {code}\n{}", p.transcript());
    p
}

/// The fingerprint `keys show` prints for `account`.
fn shown(account: &Account) -> String {
    s(&ok("keys show", account, &["keys", "show"]).only("key")["fingerprint"]).to_owned()
}

/// `listen` as `bob`, once online; its full JID.
fn listener(bob: &Account) -> (Proc, String) {
    let mut p = Proc::spawn("bob (listen)", &bob.args(&["listen", "--timeout", "30"]));
    let online = p.wait_named("online", EVENT_LIMIT);
    (p, s(&online["jid"]).to_owned())
}

/// A copy of `account` with a copy of its state directory as it is now (what a stolen or
/// stale device would hold).
fn stale_copy(account: &Account) -> Account {
    let state = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(account.state.path()).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), state.path().join(entry.file_name())).unwrap();
        }
    }
    Account {
        jid: account.jid.clone(),
        password: account.password.clone(),
        addr: account.addr.clone(),
        state,
    }
}

#[test]
fn publish_fetch_verify_attest_revoke() {
    let alice = Account::new("pka");
    let bob = Account::new("pkb");
    let carol = Account::new("pkc");

    // Alice publishes her key (created on this first need); Bob fetches it: the same key,
    // not trusted yet (XEP-0116 §7.3).
    // ejabberd refuses most publish-options ("Unknown field"): the node is created or
    // configured first (profile P14's fallback), on every publish; Prosody takes them.
    let mut published = Value::Null;
    for _ in 0..2 {
        published = ok("alice publish", &alice, &["keys", "publish"]).only("published");
        assert_eq!(
            published["reconfigured"],
            target().is_ejabberd(),
            "{published}"
        );
    }
    let alice_fp = s(&published["fingerprint"]).to_owned();
    assert_eq!(shown(&alice), alice_fp);
    // A contact who published nothing: ejabberd says the node does not exist, and the
    // client says so (text output), exit 0; Prosody checks access before existence and
    // refuses a stranger (`forbidden`, exit 1), and the client says why.
    let (code, p) = run(
        "bob fetch (nothing yet)",
        &bob.text_args(&["keys", "fetch", &carol.jid]),
        LIMIT,
    );
    if target().is_ejabberd() {
        assert_eq!(code, 0, "{}", p.transcript());
        assert!(
            p.seen.iter().any(|l| l.contains("publishes no keys")),
            "{}",
            p.transcript()
        );
    } else {
        assert_eq!(code, 1, "{}", p.transcript());
        let err = p.stderr_text();
        assert!(err.contains("forbidden"), "{}", p.transcript());
        assert!(err.contains("share presence"), "{}", p.transcript());
    }
    let fetched = ok("bob fetch", &bob, &["keys", "fetch", &alice.jid]).only("key");
    assert_eq!(fetched["jid"], alice.jid.as_str(), "{fetched}");
    assert_eq!(fetched["fingerprint"], alice_fp.as_str(), "{fetched}");
    assert_eq!(fetched["trusted"], false, "{fetched}");
    assert_eq!(fetched["revoked"], false, "{fetched}");

    // Bob verifies it; his own key is published for Alice to check his attestation.
    let verified = ok(
        "bob verify",
        &bob,
        &["trust", "verify", &alice.jid, &alice_fp],
    )
    .only("trusted_key");
    assert_eq!(verified["trusted"], true, "{verified}");
    let bob_fp = s(&ok("bob publish", &bob, &["keys", "publish"]).only("published")["fingerprint"])
        .to_owned();

    // A 3-message session: Bob sees Alice's fetched key as trusted, Alice sees Bob's.
    let (mut listen, bob_full) = listener(&bob);
    let body = unique_body("pubkeys");
    let send = ok(
        "alice send",
        &alice,
        &["send", "--to", &bob_full, "--flow", "3", &body],
    );
    let est = send.only("established");
    assert_eq!(est["peer_fingerprint"], bob_fp.as_str(), "{est}");
    let thread = s(&est["thread"]).to_owned();
    let bob_est = listen.wait_event("established", EVENT_LIMIT, |e| {
        e["event"] == "established" && e["thread"] == thread.as_str()
    });
    assert_eq!(bob_est["peer_fingerprint"], alice_fp.as_str(), "{bob_est}");
    assert_eq!(bob_est["trusted"], true, "{bob_est}");

    // The direct request (XEP-0189 §6) is answered by Bob's running client.
    let requested = ok("alice request", &alice, &["keys", "request", &bob_full]).only("key");
    assert_eq!(requested["fingerprint"], bob_fp.as_str(), "{requested}");
    assert_eq!(requested["trusted"], false, "{requested}");
    let (code, p) = run(
        "alice request bare",
        &alice.args(&["keys", "request", &bob.jid]),
        LIMIT,
    );
    assert_eq!(code, 2, "a bare JID is a usage error\n{}", p.transcript());
    listen.stop(EVENT_LIMIT);

    // Bob attests Alice's trusted key; Alice finds the attestation of her key, verified
    // against Bob's published key (XEP-0189 §5).
    let attested = ok("bob attest", &bob, &["keys", "attest", &alice.jid]).only("attested");
    assert_eq!(attested["fingerprint"], alice_fp.as_str(), "{attested}");
    let seen = ok("alice fetch bob", &alice, &["keys", "fetch", &bob.jid]);
    let att = seen.only("attestation");
    assert_eq!(att["fingerprint"], alice_fp.as_str(), "{att}");
    assert_eq!(att["ours"], true, "{att}");
    assert_eq!(att["verified"], true, "{att}");
    assert_eq!(att["signer_fingerprint"], bob_fp.as_str(), "{att}");
    // Nothing is attested for a contact whose key Bob does not trust.
    let (code, p) = run(
        "alice attest bob",
        &alice.args(&["keys", "attest", &bob.jid]),
        LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    assert_eq!(p.only("error")["kind"], "untrusted_key");
    // Carol has no key: she attests nothing, and no key is made for it (one nobody has
    // could attest nothing).
    let (code, p) = run(
        "carol attest alice",
        &carol.args(&["keys", "attest", &alice.jid]),
        LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    let err = p.only("error");
    assert_eq!(err["kind"], "identity_key", "{err}");
    assert!(
        s(&err["detail"]).contains("no identity key to attest with"),
        "{err}"
    );

    // Alice revokes her key; a device still holding it is kept for the last step.
    let stale = stale_copy(&alice);
    let revoked = ok("alice revoke", &alice, &["keys", "revoke"]).only("revoked");
    assert_eq!(revoked["fingerprint"], alice_fp.as_str(), "{revoked}");
    let after = ok("bob fetch again", &bob, &["keys", "fetch", &alice.jid]).only("key");
    assert_eq!(after["fingerprint"], alice_fp.as_str(), "{after}");
    assert_eq!(after["revoked"], true, "{after}");
    assert_eq!(after["trusted"], false, "{after}");
    // Decision "Own revoked key": the next need creates a new key.
    let new_fp = shown(&alice);
    assert_ne!(new_fp, alice_fp);
    // Alice trusts Bob's key, but her new key is not published yet: an attestation
    // signed with it could be checked by no one, so none is made (XEP-0189 §5).
    ok(
        "alice verify bob",
        &alice,
        &["trust", "verify", &bob.jid, &bob_fp],
    );
    let (code, p) = run(
        "alice attest bob (key not published)",
        &alice.args(&["keys", "attest", &bob.jid]),
        LIMIT,
    );
    assert_eq!(code, 1, "{}", p.transcript());
    assert!(
        s(&p.only("error")["detail"]).contains("is not among the keys we publish"),
        "{}",
        p.transcript()
    );

    // The revoked key, presented again, is refused by Bob whatever his trust said.
    let (mut listen, bob_full) = listener(&bob);
    let body = unique_body("revoked");
    let (code, p) = run(
        "stale alice send",
        &stale.args(&["send", "--to", &bob_full, "--flow", "3", &body]),
        LIMIT,
    );
    // SIGMA-I (XEP-0116 §4.2): the initiator's key comes in the last message, so the
    // initiator cannot learn the refusal before it counts the session established; the
    // session never ends cleanly (exit 1), and Bob never establishes it.
    assert_eq!(code, 1, "{}\n{}", p.transcript(), listen.transcript());
    let refused = listen.wait_named("error", EVENT_LIMIT);
    assert!(
        s(&refused["detail"]).contains("revoked") && s(&refused["detail"]).contains(&alice_fp),
        "{refused}\n{}",
        listen.transcript()
    );
    listen.stop(EVENT_LIMIT);
    for name in ["established", "message"] {
        assert!(
            listen.events_named(name).is_empty(),
            "{}",
            listen.transcript()
        );
    }
}
