//! `esession chat` on real terminals (tmux) against a real server (Prosody, or the ejabberd
//! cluster with Alice on node 1 and Bob on node 2): two people hold a conversation both
//! ways, in sessions either side starts; commands stay local; what arrives never lands in
//! the half-typed line; quitting, Ctrl-C and closing the terminal (SIGHUP) end the session
//! on the other side; a third person's session is only a notice.
#![allow(clippy::indexing_slicing)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::time::Duration;

use support::tmux::Tmux;
use support::{assert_server_never_saw, run, unique_body, Account};

const LIMIT: Duration = Duration::from_secs(30);

/// `chat CONTACT` as `acct` in terminal `name` (the password from the environment).
fn start_chat(tmux: &Tmux, name: &str, acct: &Account, contact: &Account) -> String {
    start_chat_with(tmux, name, acct, contact, &[])
}

/// [`start_chat`] with the global options `extra`.
fn start_chat_with(
    tmux: &Tmux,
    name: &str,
    acct: &Account,
    contact: &Account,
    extra: &[&str],
) -> String {
    let mut args = acct.connection_args();
    args.retain(|a| a != "--json");
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend([
        "--jid".into(),
        acct.jid.clone(),
        "chat".into(),
        contact.jid.clone(),
    ]);
    tmux.start(
        name,
        &args,
        &[
            ("ESESSION_PASSWORD", &acct.password),
            ("ESESSION_KEY_PASSPHRASE", "kp"),
        ],
    );
    let screen = tmux.wait_for(name, "(/help lists the commands)", LIMIT);
    // Our full JID, for the third person.
    let line = screen.lines().find(|l| l.contains("online as ")).unwrap();
    line.split("online as ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The SAS terminal `name` shows for the current session.
fn sas(tmux: &Tmux, name: &str) -> String {
    let screen = tmux.wait_for(name, "SAS: ", LIMIT);
    let line = screen
        .lines()
        .rev()
        .find(|l| l.starts_with("SAS: "))
        .unwrap();
    line["SAS: ".len()..]
        .split(':')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// The chats in terminals `alice` and `bob` make their people contacts with `/add` and
/// `/approve` (RFC 6121 §3), until each sees the other online with ESessions.
fn befriend(tmux: &Tmux) {
    tmux.line("alice", "/add");
    tmux.wait_for("bob", "asks to see your presence: /approve", LIMIT);
    tmux.line("bob", "/approve");
    tmux.line("bob", "/add");
    tmux.wait_for("alice", "asks to see your presence: /approve", LIMIT);
    tmux.line("alice", "/approve");
    tmux.wait_for("alice", "is available, ESessions", LIMIT);
    tmux.wait_for("bob", "is available, ESessions", LIMIT);
}

/// How many times terminal `name` shows `needle`.
fn count(tmux: &Tmux, name: &str, needle: &str) -> usize {
    tmux.screen(name).matches(needle).count()
}

#[test]
fn two_chats_converse_both_ways_in_sessions_either_side_starts() {
    let (alice, bob, carol) = (
        Account::new("chata"),
        Account::new("chatb"),
        Account::new("chatc"),
    );
    let tmux = Tmux::new();
    let alice_full = start_chat(&tmux, "alice", &alice, &bob);
    start_chat(&tmux, "bob", &bob, &alice);
    tmux.wait_for("alice", "is not in your roster: /add", LIMIT);

    // They become contacts from inside the chats.
    befriend(&tmux);

    // Commands stay local: /help is answered, an unknown command is refused. Both are
    // typed in one burst, as a paste or a fast typist sends them: the second line is read
    // ahead of the next prompt and must not be lost (the line editor keeps its buffer).
    tmux.type_text("bob", "/help\r/me waves\r");
    tmux.wait_for("bob", "/verify SAS", LIMIT);
    tmux.wait_for(
        "bob",
        "unknown command /me waves: /help lists them; nothing was sent",
        LIMIT,
    );

    // Bob starts the first session; Alice adopts it and answers in it.
    let first = unique_body("bob first");
    tmux.line("bob", &first);
    tmux.wait_for("alice", &format!("{}: {first}", bob.jid), LIMIT);
    tmux.wait_for("alice", "(started by the contact;", LIMIT);
    tmux.wait_for("bob", &format!("[delivered] {}", &first[..20]), LIMIT);
    let answer = unique_body("alice answers");
    tmux.line("alice", &answer);
    tmux.wait_for("bob", &format!("{}: {answer}", alice.jid), LIMIT);
    tmux.wait_for("alice", "[delivered] alice answers", LIMIT);
    assert_eq!(
        count(&tmux, "alice", "encrypted session with"),
        1,
        "{}",
        tmux.screen("alice")
    );
    assert_eq!(
        count(&tmux, "bob", "encrypted session with"),
        1,
        "{}",
        tmux.screen("bob")
    );
    // Both screens show the same SAS; Alice verifies it.
    let sas_a = sas(&tmux, "alice");
    assert_eq!(sas_a, sas(&tmux, "bob"));
    tmux.line("alice", "/verify zzzzz");
    tmux.wait_for("alice", "WARNING: the SAS you heard does not match", LIMIT);
    tmux.line("alice", &format!("/verify {}", sas_a.to_uppercase()));
    tmux.wait_for(
        "alice",
        "the SAS matches: the session is verified (shield: sas-verified)",
        LIMIT,
    );
    // Nothing typed as a command reached Bob or Alice.
    for (name, from) in [("alice", &bob.jid), ("bob", &alice.jid)] {
        let screen = tmux.screen(name);
        assert!(!screen.contains(&format!("{from}: /")), "{screen}");
    }

    // A line arriving while Alice types is printed above her half-typed line.
    tmux.type_text("alice", "half typed");
    std::thread::sleep(Duration::from_millis(300));
    let meanwhile = unique_body("meanwhile");
    tmux.line("bob", &meanwhile);
    tmux.wait_for("alice", &meanwhile, LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    let screen = tmux.screen("alice");
    let screen = screen.trim_end();
    assert_eq!(screen.lines().last().unwrap(), "> half typed", "{screen}");
    assert!(
        screen
            .lines()
            .all(|l| !(l.contains("half typed") && l.contains("meanwhile"))),
        "{screen}"
    );
    tmux.press("alice", "Enter");
    tmux.wait_for("bob", &format!("{}: half typed", alice.jid), LIMIT);

    // A third person's session is a notice in Alice's chat, its text not shown.
    let carols = unique_body("carol");
    let (code, p) = run(
        "carol (send)",
        &carol.args(&["send", "--to", &alice_full, "--timeout", "20", &carols]),
        LIMIT,
    );
    assert_eq!(code, 0, "{}", p.transcript());
    tmux.wait_for(
        "alice",
        &format!("notice: {} opened an encrypted session", carol.jid),
        LIMIT,
    );
    tmux.wait_for(
        "alice",
        &format!("notice: a message from {}", carol.jid),
        LIMIT,
    );
    assert!(!tmux.screen("alice").contains(&carols));

    // Bob quits: Alice is told. Her next line waits for him and starts the next session.
    tmux.line("bob", "/quit");
    assert_eq!(tmux.exit_code("bob", LIMIT), 0, "{}", tmux.screen("bob"));
    tmux.wait_for(
        "alice",
        "ended (ended by the contact); the next line starts a new one",
        LIMIT,
    );
    let later = unique_body("alice later");
    tmux.line("alice", &later);
    tmux.wait_for("alice", "[waiting] alice later", LIMIT);
    start_chat(&tmux, "bob2", &bob, &alice);
    tmux.wait_for("bob2", &format!("{}: {later}", alice.jid), LIMIT);
    tmux.wait_for("bob2", "(started by the contact;", LIMIT);
    tmux.wait_for("alice", "[delivered] alice later", LIMIT);

    // Ctrl-C ends Alice's chat and her session: Bob is told.
    tmux.press("alice", "C-c");
    assert_eq!(
        tmux.exit_code("alice", LIMIT),
        0,
        "{}",
        tmux.screen("alice")
    );
    tmux.wait_for("bob2", "ended (ended by the contact)", LIMIT);

    // Closing a terminal (SIGHUP) ends the session too.
    start_chat(&tmux, "alice2", &alice, &bob);
    tmux.wait_for("bob2", "is available, ESessions", LIMIT);
    let again = unique_body("bob again");
    tmux.line("bob2", &again);
    tmux.wait_for("alice2", &format!("{}: {again}", bob.jid), LIMIT);
    tmux.close("bob2");
    tmux.wait_for("alice2", "ended (ended by the contact)", LIMIT);
    tmux.line("alice2", "/quit");
    assert_eq!(
        tmux.exit_code("alice2", LIMIT),
        0,
        "{}",
        tmux.screen("alice2")
    );

    for body in [&first, &answer, &meanwhile, &later, &again, &carols] {
        assert_server_never_saw(body, None);
    }
}

/// Issue 13: `[contacts."JID"] compat = "gajim"` in the configuration file of both sides
/// makes their session speak Gajim's dialect, and the chat says so with its costs and in
/// `/status`.
#[test]
fn a_contact_set_to_gajim_in_the_config_file_gets_a_gajim_session_said_so() {
    let (alice, bob) = (Account::new("chatga"), Account::new("chatgb"));
    let files = tempfile::tempdir().unwrap();
    let config = |acct: &Account, contact: &Account| {
        let path = files.path().join(format!("{}.toml", acct.user()));
        // A contact named with capitals is the same contact (the key is normalized).
        let key = contact.jid.to_uppercase();
        std::fs::write(&path, format!("[contacts.\"{key}\"]\ncompat = \"gajim\"\n")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (a_conf, b_conf) = (config(&alice, &bob), config(&bob, &alice));
    let tmux = Tmux::new();
    start_chat_with(&tmux, "alice", &alice, &bob, &["--config", &a_conf]);
    start_chat_with(&tmux, "bob", &bob, &alice, &["--config", &b_conf]);
    befriend(&tmux);
    let body = unique_body("in gajim's dialect");
    tmux.line("alice", &body);
    tmux.wait_for("bob", &body, LIMIT);
    for name in ["alice", "bob"] {
        tmux.wait_for(name, "shield: unverified; compat: gajim;", LIMIT);
        tmux.wait_for(
            name,
            "Gajim compatibility: the peer's terminate is unauthenticated",
            LIMIT,
        );
        tmux.line(name, "/status");
        tmux.wait_for(name, "shield: unverified; SAS: ", LIMIT);
        tmux.wait_for(name, "; compat: gajim\n", LIMIT);
    }
}
