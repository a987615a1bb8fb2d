//! `esession tui` in real terminals: two clients in tmux (a private tmux server) against a
//! real server (Prosody, or the ejabberd cluster: Alice on node 1, Bob on node 2) become
//! contacts with `/add` and `/approve`, hold an encrypted conversation, see the same SAS,
//! verify it, and `/quit` on one side ends the session on the other screen. Screens are
//! read with `capture-pane`, polled until a deadline.
#![allow(clippy::indexing_slicing)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use support::tmux::{Launch, Tmux};
use support::{assert_server_never_saw, unique_body, Account};

/// Bound for anything to show on a screen.
const SCREEN_LIMIT: Duration = Duration::from_secs(40);

/// Starts `esession tui` for `acct` in a terminal named `name` (200×50), its password in
/// the environment; the shell around it writes its exit code to a file.
fn start<'a>(tmux: &'a Tmux, name: &str, acct: &Account) -> Screen<'a> {
    start_at(tmux, name, acct, &acct.addr, &[])
}

/// [`start`] against the server at `addr`, with the global options `extra`.
fn start_at<'a>(
    tmux: &'a Tmux,
    name: &str,
    acct: &Account,
    addr: &str,
    extra: &[&str],
) -> Screen<'a> {
    let mut args: Vec<String> = acct
        .connection_args()
        .into_iter()
        .filter(|a| a != "--json")
        .collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        args[i + 1] = addr.to_owned();
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["--jid".into(), acct.jid.clone(), "tui".into()]);
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    tmux.launch(
        name,
        &args,
        &Launch {
            env: &[("ESESSION_PASSWORD", &acct.password)],
            terminal_env: &[("LANG", "C.UTF-8")],
            status_file: Some(&status),
        },
    );
    Screen {
        tmux,
        name: name.to_owned(),
        status,
        _dir: dir,
    }
}

/// One client's pane.
struct Screen<'a> {
    tmux: &'a Tmux,
    name: String,
    /// The file the exit code goes to.
    status: std::path::PathBuf,
    /// The directory of `status`, removed with the screen.
    _dir: tempfile::TempDir,
}

impl Screen<'_> {
    fn text(&self) -> String {
        self.tmux.visible(&self.name)
    }

    /// Types `line` and Enter.
    fn type_line(&self, line: &str) {
        self.tmux.line(&self.name, line);
    }

    /// Polls the screen until `pick` accepts it; its text. Panics with the screen at the
    /// deadline.
    fn wait(&self, what: &str, pick: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_LIMIT;
        loop {
            let text = self.text();
            if pick(&text) {
                return text;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: no {what} within {SCREEN_LIMIT:?}. The screen:\n{text}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait(&format!("{needle:?}"), |t| t.contains(needle))
    }

    /// Opens the conversation with `to`, types `body` and waits until it is delivered.
    fn say_to(&self, to: &str, body: &str) {
        self.type_line(&format!("/open {to}"));
        self.type_line(body);
        self.wait(&format!("{body:?} delivered"), |t| {
            t.lines()
                .any(|l| l.contains(body) && l.contains("[delivered]"))
        });
    }

    /// Types `/verify SAS` and waits for the verified shield.
    fn verify(&self, sas: &str) {
        self.type_line(&format!("/verify {sas}"));
        self.wait("a verified shield", |t| {
            t.contains("encrypted, SAS-verified")
        });
    }

    /// The status line (the row above the input line).
    fn status(&self) -> String {
        let text = self.text();
        let rows: Vec<&str> = text.lines().collect();
        rows.iter()
            .rev()
            .find(|r| r.contains(" (online) ") || r.contains(" (closing"))
            .map(|r| (*r).to_owned())
            .unwrap_or_default()
    }

    /// The SAS the status line shows.
    fn sas(&self) -> String {
        self.wait("a SAS on the status line", |_| {
            self.status().contains(" SAS ")
        });
        let line = self.status();
        let after = &line[line.find(" SAS ").unwrap() + 5..];
        after.split_whitespace().next().unwrap().to_owned()
    }

    /// Waits until the client has exited; its exit code (as the shell around it saw it).
    fn exit_code(&self) -> String {
        let deadline = Instant::now() + SCREEN_LIMIT;
        loop {
            let code = std::fs::read_to_string(&self.status).unwrap_or_default();
            if code.ends_with('\n') {
                return code.trim().to_owned();
            }
            if Instant::now() >= deadline {
                panic!("{}: still running. The screen:\n{}", self.name, self.text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The start of `jid` as the contacts pane shows it (the pane is narrow).
fn shown(jid: &str) -> &str {
    &jid[..jid.len().min(15)]
}

/// Starts a client for each account and makes them contacts through their own commands
/// (RFC 6121 §3); returns once each shows the other online with the lock (ESessions
/// advertised).
fn contacts<'a>(tmux: &'a Tmux, a: &Account, b: &Account) -> (Screen<'a>, Screen<'a>) {
    let alice = start(tmux, "alice", a);
    let bob = start(tmux, "bob", b);
    befriend(&alice, &bob, a, b);
    (alice, bob)
}

/// The clients of `a` and `b` make each other contacts (see [`contacts`]).
fn befriend(alice: &Screen, bob: &Screen, a: &Account, b: &Account) {
    let (a, b) = (&a.jid, &b.jid);
    alice.wait_for("(online)");
    bob.wait_for("(online)");
    alice.type_line(&format!("/add {b}"));
    bob.wait_for(&format!("{a} asks to see your presence"));
    bob.type_line(&format!("/approve {a}"));
    bob.type_line(&format!("/add {a}"));
    alice.wait_for(&format!("{b} asks to see your presence"));
    alice.type_line(&format!("/approve {b}"));
    alice.wait_for(&format!("🔒● {}", shown(b)));
    bob.wait_for(&format!("🔒● {}", shown(a)));
}

#[test]
fn two_terminal_clients_talk_verify_the_sas_and_quit_cleanly() {
    let alice_acct = Account::new("tuia");
    let bob_acct = Account::new("tuib");
    let tmux = Tmux::new();
    let (alice, bob) = contacts(&tmux, &alice_acct, &bob_acct);

    // Alice opens the conversation and types; the line is queued, negotiated, delivered.
    let first = unique_body("from alice");
    alice.say_to(&bob_acct.jid, &first);
    // Bob is told in his console, then switches to the conversation.
    bob.wait_for(&format!("a message from {} in window 2", alice_acct.jid));
    bob.type_line("/win 2");
    bob.wait_for(&first);

    // Both screens show the same SAS.
    let sas = alice.sas();
    assert_eq!(bob.sas(), sas, "the SAS differs between the screens");
    assert!(
        alice.status().contains("encrypted, unverified"),
        "{}",
        alice.text()
    );

    // A wrong SAS marks nothing; the right one, typed in capitals, verifies.
    bob.type_line("/verify zzzzz");
    bob.wait_for("(zzzzz) does not match");
    assert!(
        bob.status().contains("encrypted, unverified"),
        "{}",
        bob.text()
    );
    alice.verify(&sas.to_uppercase());
    bob.verify(&sas);

    // An unknown command is not sent.
    bob.type_line("/me waves");
    bob.wait_for("unknown command /me");

    // Bob answers.
    let second = unique_body("from bob");
    bob.type_line(&second);
    alice.wait_for(&second);
    bob.wait(&format!("{second:?} delivered"), |t| {
        t.lines()
            .any(|l| l.contains(&second) && l.contains("[delivered]"))
    });
    assert!(!alice.text().contains("/me waves"));

    // Alice quits: her session ends on Bob's screen, her terminal is given back.
    alice.type_line("/quit");
    bob.wait_for("session ended with");
    bob.wait_for("ended by the contact");
    assert_eq!(alice.exit_code(), "0", "{}", alice.text());
    // The alternate screen was left: the pane shows the shell screen again, not the client.
    assert!(!alice.text().contains("contacts"), "{}", alice.text());

    // Ctrl-C leaves as cleanly.
    bob.tmux.press(&bob.name, "C-c");
    assert_eq!(bob.exit_code(), "0", "{}", bob.text());

    assert_server_never_saw(&first, Some(&bob_acct.jid));
    assert_server_never_saw(&second, None);
}

#[test]
fn a_hangup_ends_the_session_on_the_other_screen() {
    let alice_acct = Account::new("tuihupa");
    let bob_acct = Account::new("tuihupb");
    let tmux = Tmux::new();
    let (alice, bob) = contacts(&tmux, &alice_acct, &bob_acct);
    let body = unique_body("before the hangup");
    bob.say_to(&alice_acct.jid, &body);
    alice.type_line("/win 2");
    alice.wait_for(&body);
    // The terminal goes away (SIGHUP to the client): its sessions are terminated first.
    bob.tmux.close(&bob.name);
    alice.wait_for("ended by the contact");
    assert_server_never_saw(&body, Some(&alice_acct.jid));
}

/// The row of `screen` holding `needle`.
fn row(screen: &str, needle: &str) -> usize {
    screen
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not shown:\n{screen}"))
}

/// What a person meets when the server goes away: a frozen server (SIGSTOP: the TCP
/// connection stays open, nothing answers) is noticed by the keepalive within its bound and
/// said to be our connection, the client comes back by itself; a server that shuts down
/// is our lost connection too, never "the contact went offline". And a line typed before
/// the session existed is listed after the session's line.
#[test]
fn a_frozen_or_stopped_server_is_our_lost_connection_and_said_so() {
    let server = esession_testkit::private_server();
    let alice_acct = Account::on(&server, "tuifra");
    let bob_acct = Account::on(&server, "tuifrb");
    let tmux = Tmux::new();
    // Keepalive 2 s + 2 s: a dead link is noticed within 4 s of the server's last byte.
    let quick = ["--keepalive-idle", "2", "--keepalive-answer", "2"];
    let alice = start_at(&tmux, "alice", &alice_acct, &server.addr, &quick);
    let bob = start_at(&tmux, "bob", &bob_acct, &server.addr, &quick);
    befriend(&alice, &bob, &alice_acct, &bob_acct);

    let early = unique_body("typed before the session");
    alice.say_to(&bob_acct.jid, &early);
    let screen = alice.text();
    assert!(
        row(&screen, "encrypted session with") < row(&screen, &early),
        "the line typed first is listed after the session's line:\n{screen}"
    );

    let paused = server.pause();
    let frozen = std::time::Instant::now();
    for screen in [&alice, &bob] {
        screen.type_line("/win 1");
        screen.wait_for("connection to the server lost: the server did not answer for");
        screen.wait_for("(keepalive unanswered). Every session ended; reconnecting, messages wait");
    }
    assert!(
        frozen.elapsed() < Duration::from_secs(20),
        "noticed after {:?}",
        frozen.elapsed()
    );
    drop(paused);
    for screen in [&alice, &bob] {
        screen.wait_for("online again as");
        screen.wait_for("(online)");
        screen.type_line("/win 2");
    }
    alice.wait_for(&format!("🔒● {}", shown(&bob_acct.jid)));
    let again = unique_body("after the return");
    alice.type_line(&again);
    alice.wait(&format!("{again:?} delivered"), |t| {
        t.lines()
            .any(|l| l.contains(&again) && l.contains("[delivered]"))
    });

    // The server shuts down: it closes one stream, tells the other client that this
    // contact left, then closes that stream too.
    bob.type_line("/win 2");
    bob.wait_for(&again);
    server.stop();
    for screen in [&alice, &bob] {
        screen.wait_for("connection to the server lost: the server");
    }
    // The grace during which a contact's departure is held back has passed.
    std::thread::sleep(Duration::from_secs(3));
    for screen in [&alice, &bob] {
        let text = screen.text();
        assert!(!text.contains("went offline"), "{text}");
        screen.type_line("/win 1");
        screen.wait("the second loss in the console", |t| {
            t.matches("Every session ended; reconnecting").count() == 2
        });
        let text = screen.text();
        assert!(!text.contains("went offline"), "{text}");
    }
}

/// RFC 6120 §4.9.3.3: a second client signing in with the same full JID signs the first
/// out once. The terminal client says so, naming the JID, and stays signed out (no
/// reconnection that would sign the other out, and so on forever) until the person types
/// `/reconnect`; then the other client (`listen`) is signed out and exits saying why.
#[test]
fn a_client_signed_out_by_another_with_the_same_full_jid_stays_out_until_asked() {
    let tmux = Tmux::new();
    let acct = Account::new("twice");
    // The same full JID, each client with its own state (two devices, one resource).
    let here = acct.as_resource("same");
    let full = here.jid.clone();
    let screen = start(&tmux, "here", &here);
    screen.wait_for("(online)");
    let there = acct.as_resource("same");
    let mut other = support::Proc::spawn("there", &there.args(&["listen"]));
    other.wait_named("online", SCREEN_LIMIT);
    let said = format!("signed out: another client signed in as {full}");
    screen.wait_for(&said);
    screen.wait_for("(signed out: /reconnect to sign in again)");
    // Longer than the first reconnection pause (at most 1 s): nothing comes back on its
    // own, and the other client stays online.
    let quiet = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet {
        let text = screen.text();
        assert!(
            !text.contains("reconnecting (attempt") && !text.contains("online again"),
            "{text}"
        );
        assert_eq!(text.matches(&said).count(), 1, "said once: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    other.drain(Duration::ZERO);
    assert!(!other.exited(), "{}", other.transcript());
    assert!(
        other.events_named("error").is_empty(),
        "{}",
        other.transcript()
    );
    // The person's choice: sign in here again, which signs the other client out.
    screen.type_line("/reconnect");
    screen.wait_for(&format!("online again as {full}"));
    screen.wait_for("(online)");
    assert_eq!(other.finish(SCREEN_LIMIT), 1, "{}", other.transcript());
    let error = other.only("error");
    assert_eq!(error["kind"], "signed_out", "{error}");
    assert_eq!(
        error["detail"],
        format!("signed out: another client signed in as {full}")
    );
    screen.type_line("/quit");
    assert_eq!(screen.exit_code(), "0");
}

#[test]
fn a_session_started_before_writing_shows_one_sas_on_both_screens() {
    let alice_acct = Account::new("tuistarta");
    let bob_acct = Account::new("tuistartb");
    let tmux = Tmux::new();
    let (alice, bob) = contacts(&tmux, &alice_acct, &bob_acct);

    // Outside a conversation there is no one to start a session with.
    alice.type_line("/start");
    alice.wait_for("not in a conversation");
    // In Bob's conversation, the session is negotiated with nothing written yet.
    alice.type_line(&format!("/open {}", bob_acct.jid));
    alice.type_line("/start");
    alice.wait_for("negotiating an encrypted session with");
    let sas = alice.sas();
    // Bob is told of the new conversation; in its window, the same SAS.
    bob.wait_for(&format!(
        "a new conversation from {} in window 2",
        alice_acct.jid
    ));
    bob.type_line("/win 2");
    assert_eq!(bob.sas(), sas, "the SAS differs between the screens");
    // They compare it before a word is written.
    alice.verify(&sas);
    // Asked again, the session is kept; the first message goes in it.
    alice.type_line("/start");
    alice.wait_for("is established already");
    let body = unique_body("after the SAS");
    alice.type_line(&body);
    bob.wait_for(&body);
    assert_server_never_saw(&body, None);
}
