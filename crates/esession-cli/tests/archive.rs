//! XEP-0136 through the `esession` binary and the real Prosody with the project's
//! `mod_archive_manual` (issue 6 part 3): a `may` ESession is archived sealed by the
//! client and read back by another client of the account; the server keeps no plaintext;
//! a `mustnot` session leaves nothing in any archive; preferences round trip; list paging;
//! remove. These need the project's Prosody module; one test runs against both servers:
//! ejabberd offers no XEP-0136 (MAM only), and the client says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

#[allow(dead_code)]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{run, target, unique_body, Account, Proc};

const LIMIT: Duration = Duration::from_secs(45);
const EVENT_LIMIT: Duration = Duration::from_secs(20);

/// The Prosody with the project's XEP-0136 module (ejabberd has none).
fn prosody() -> &'static esession_testkit::Server {
    target().prosody("XEP-0136 module (mod_archive_manual)")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The key passphrase of these tests (never the account password).
const KEY_COMMAND: &str = "echo archive-key-passphrase";

fn ok(name: &str, who: &Account, args: &[&str]) -> Proc {
    let (code, p) = run(name, &who.args(args), LIMIT);
    assert_eq!(code, 0, "{name} {args:?} exited {code}\n{}", p.transcript());
    p
}

/// Alice's `send --expect-echo` to Bob, with the key passphrase for the archive key.
fn send_archiving(alice: &Account, bob_jid: &str, body: &str) -> Proc {
    ok(
        "alice (send)",
        alice,
        &[
            "send",
            "--to",
            bob_jid,
            "--expect-echo",
            body,
            "--key-passphrase-command",
            KEY_COMMAND,
        ],
    )
}

fn listener(bob: &Account) -> (Proc, String) {
    let mut p = Proc::spawn(
        "bob (listen)",
        &bob.args(&["listen", "--echo", "--timeout", "40"]),
    );
    let online = p.wait_named("online", EVENT_LIMIT);
    (p, s(&online["jid"]).to_owned())
}

/// Alice's collections, as `archive list --json` prints them.
fn collections(alice: &Account, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["archive", "list"];
    args.extend_from_slice(extra);
    ok("alice (archive list)", alice, &args).events_named("collection")
}

#[test]
fn may_session_is_archived_sealed_and_read_back_by_another_client() {
    let alice = Account::new("arcalice");
    let bob = Account::new("arcbob");
    // Alice: save bodies, concede OTR (offers may first, XEP-0136 §3.1).
    let prefs = ok(
        "alice (prefs)",
        &alice,
        &[
            "archive",
            "prefs",
            "--default-otr",
            "concede",
            "--default-save",
            "body",
        ],
    )
    .only("prefs");
    assert_eq!(prefs["default"]["otr"], "concede");
    assert_eq!(prefs["default"]["save"], "body");
    assert_eq!(prefs["default"]["unset"], false);

    let (mut bob_p, bob_jid) = listener(&bob);
    let body = unique_body("archived");
    let send = send_archiving(&alice, &bob_jid, &body);
    let est = send.only("established");
    assert_eq!(est["logging"], "may", "{est}");
    let thread = s(&est["thread"]).to_owned();
    let archived = send.only("archived");
    assert_eq!(archived["messages"], 2, "{archived}");
    assert_eq!(archived["with"], bob_jid.as_str());
    bob_p.stop(Duration::from_secs(10));

    // Another client of the account (other resource and state directory, same
    // passphrase) lists and reads the collection.
    let other = Account {
        jid: format!("{}/second", alice.jid),
        password: alice.password.clone(),
        addr: alice.addr.clone(),
        state: tempfile::tempdir().unwrap(),
    };
    let list = collections(&other, &["--with", &bob.jid]);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["messages"], 2);
    assert_eq!(list[0]["thread"], thread.as_str());
    let start = s(&list[0]["start"]).to_owned();
    let with = s(&list[0]["with"]).to_owned();
    let shown = ok(
        "alice2 (show)",
        &other,
        &[
            "archive",
            "show",
            &with,
            &start,
            "--key-passphrase-command",
            KEY_COMMAND,
        ],
    )
    .events_named("archived_message");
    let bodies: Vec<(&str, &str)> = shown
        .iter()
        .map(|m| (s(&m["direction"]), s(&m["body"])))
        .collect();
    let echo = format!("echo: {body}");
    assert_eq!(bodies, [("to", body.as_str()), ("from", echo.as_str())]);

    // The server's stored data holds the collection (its thread) but no plaintext.
    assert!(
        !prosody().data_files_containing(&thread).is_empty(),
        "the collection is not in the server's data"
    );
    support::assert_server_never_saw(&body, Some(&thread));

    // A wrong passphrase cannot read it (exit 2), and says why.
    let mut p = Proc::spawn_env(
        "alice2 (wrong passphrase)",
        &other.args(&["archive", "show", &with, &start]),
        &[("ESESSION_KEY_PASSPHRASE", "not the passphrase")],
    );
    assert_eq!(p.finish(LIMIT), 2, "{}", p.transcript());
    assert!(p.events_named("archived_message").is_empty());
    // Nor can the account password: with no key passphrase at all, a usage error naming
    // the ways to give one.
    let (code, p) = run(
        "alice2 (no passphrase)",
        &other.args(&["archive", "show", &with, &start]),
        LIMIT,
    );
    assert_eq!(code, 2, "{}", p.transcript());
    assert!(
        p.transcript().contains("--key-passphrase-command"),
        "{}",
        p.transcript()
    );

    // Remove: gone from the list; removing again is an error.
    let removed = ok(
        "alice (remove)",
        &alice,
        &["archive", "remove", &with, &start],
    );
    assert_eq!(removed.only("removed")["start"], start.as_str());
    assert!(collections(&alice, &[]).is_empty());
    let (code, _) = run(
        "alice (remove again)",
        &alice.args(&["archive", "remove", &with, &start]),
        LIMIT,
    );
    assert_eq!(code, 1);
}

#[test]
fn mustnot_session_leaves_nothing_in_any_archive() {
    let alice = Account::new("otralice");
    let bob = Account::new("otrbob");
    // Alice would save bodies, but this session is negotiated off the record.
    ok(
        "alice (prefs)",
        &alice,
        &[
            "archive",
            "prefs",
            "--default-otr",
            "concede",
            "--default-save",
            "body",
        ],
    );
    let (mut bob_p, bob_jid) = listener(&bob);
    let body = unique_body("offrecord");
    let send = ok(
        "alice (send)",
        &alice,
        &[
            "send",
            "--to",
            &bob_jid,
            "--logging",
            "mustnot",
            "--expect-echo",
            &body,
        ],
    );
    let est = send.only("established");
    assert_eq!(est["logging"], "mustnot", "{est}");
    assert!(send.events_named("archived").is_empty());
    let thread = s(&est["thread"]).to_owned();
    bob_p.stop(Duration::from_secs(10));
    // The data stanzas (those with the P9 clear extras; not the terminate) carried both
    // XEP-0334 hints (the log shows the clear parts).
    let log = prosody().log_text();
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&thread) && l.contains("name='ESessions'"))
        .collect();
    assert!(!ours.is_empty(), "no data stanza of the session in the log");
    for l in &ours {
        assert!(
            l.contains("no-store") && l.contains("no-permanent-store"),
            "{l}"
        );
    }
    // Nothing in our module's archive, nor in MAM, nor anywhere in the stored data.
    assert!(collections(&alice, &[]).is_empty());
    assert!(
        prosody().data_files_containing(&thread).is_empty(),
        "the mustnot session's thread is in the server's data: {:?}",
        prosody().data_files_containing(&thread)
    );
    support::assert_server_never_saw(&body, Some(&thread));
}

/// On Prosody (the project's module) the archive commands work; ejabberd has no XEP-0136
/// module and answers `service-unavailable`, which the client names as the missing
/// capability (exit 1, kind `unsupported`) instead of a bare stanza error.
#[test]
fn archive_commands_name_a_missing_xep0136() {
    let alice = Account::new("arcneed");
    for cmd in [["archive", "prefs"], ["archive", "list"]] {
        let (code, p) = run("alice (archive)", &alice.args(&cmd), LIMIT);
        if target().is_ejabberd() {
            assert_eq!(code, 1, "{cmd:?}\n{}", p.transcript());
            let err = p.only("error");
            assert_eq!(err["kind"], "unsupported", "{err}");
            assert!(
                s(&err["detail"]).contains("does not offer XEP-0136 message archiving"),
                "{err}"
            );
        } else {
            assert_eq!(code, 0, "{cmd:?}\n{}", p.transcript());
            assert!(p.events_named("error").is_empty(), "{}", p.transcript());
        }
    }
}

#[test]
fn preferences_round_trip_and_contact_modes_decide_logging() {
    let alice = Account::new("pralice");
    let bob = Account::new("prbob");
    let p = ok("alice (prefs)", &alice, &["archive", "prefs"]).only("prefs");
    assert_eq!(p["default"]["unset"], true);
    let p = ok(
        "alice (prefs set)",
        &alice,
        &[
            "archive",
            "prefs",
            "--default-otr",
            "forbid",
            "--default-save",
            "body",
            "--contact",
            &bob.jid,
            "--otr",
            "require",
            "--save",
            "false",
        ],
    )
    .only("prefs");
    assert_eq!(p["default"]["otr"], "forbid");
    assert_eq!(p["items"][0]["jid"], bob.jid.as_str());
    assert_eq!(p["items"][0]["otr"], "require");
    // require with a saving mode is refused before anything is sent (exit 2).
    let (code, _) = run(
        "alice (bad prefs)",
        &alice.args(&[
            "archive",
            "prefs",
            "--contact",
            "x@localhost",
            "--otr",
            "require",
            "--save",
            "body",
        ]),
        LIMIT,
    );
    assert_eq!(code, 2);
    // Bob's item (require) makes Alice offer mustnot only: the session is off the record.
    let (mut bob_p, bob_jid) = listener(&bob);
    let body = unique_body("required");
    let send = ok("alice (send)", &alice, &["send", "--to", &bob_jid, &body]);
    assert_eq!(send.only("established")["logging"], "mustnot");
    assert!(send.events_named("archived").is_empty());
    bob_p.stop(Duration::from_secs(10));
    // Forget the contact: the default (forbid) applies and Bob's listener (default
    // config: mustnot first, may allowed) must answer may.
    let p = ok(
        "alice (forget)",
        &alice,
        &["archive", "prefs", "--contact", &bob.jid, "--forget"],
    )
    .only("prefs");
    assert_eq!(p["items"].as_array().map(Vec::len), Some(0));
    let (mut bob_p, bob_jid) = listener(&bob);
    let send = send_archiving(&alice, &bob_jid, &body);
    assert_eq!(send.only("established")["logging"], "may");
    assert_eq!(send.only("archived")["messages"], 2);
    bob_p.stop(Duration::from_secs(10));
}

#[test]
fn list_pages_through_more_collections_than_one_page() {
    // 55 collections (the CLI lists in pages of 50), uploaded through the adapter.
    let alice = Account::new("pgalice");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o = esession_xmpp::ConnectOptions::new(&alice.jid, &alice.password);
        o.server = Some(prosody().addr.clone());
        o.tls = esession_xmpp::TlsMode::Plain;
        o.send_presence = false;
        let mut c = esession_xmpp::Connection::connect(o).await.unwrap();
        for i in 0..55u64 {
            let mut col = esession::archive::Collection::new(
                "bob@localhost",
                esession::Timestamp(1_700_000_000 + i),
                None,
            );
            col.entries.push(esession::archive::Entry {
                dir: esession::archive::Direction::To,
                secs: Some(0),
                utc: None,
                body: format!("m{i}"),
            });
            c.archive_save(&col, Duration::from_secs(10)).await.unwrap();
        }
        c.close().await.unwrap();
    });
    let list = collections(&alice, &[]);
    assert_eq!(list.len(), 55);
    let starts: Vec<&str> = list.iter().map(|c| s(&c["start"])).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(starts, sorted, "chronological, each once");
}
