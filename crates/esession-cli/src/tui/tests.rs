//! The client without a terminal: its state driven by keys and events, and each view drawn
//! on ratatui's `TestBackend` and compared with the snapshot in `snapshots/` (set
//! `ESESSION_UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change, then read the
//! diff).
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use esession::{SasAlg, Timestamp};
use esession_client::history::{Direction, Entry as Stored, MessageRecord, Page};
use esession_client::{ClientEvent, DeliveryState, Kept, Shield, Show};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use super::app::{App, Contact, Effect, SessionView};
use super::command::HELP;
use super::view;

/// 13:07 UTC.
const NOW: Timestamp = Timestamp(1_800_000_000 - 1_800_000_000 % 86_400 + 13 * 3600 + 7 * 60);
const BOB: &str = "bob@example.com";

fn app() -> App {
    App::new("alice@example.org/pda", NOW)
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        assert!(app
            .key(key(KeyCode::Char(c), KeyModifiers::NONE), NOW)
            .is_empty());
    }
    app.key(key(KeyCode::Enter, KeyModifiers::NONE), NOW)
}

fn established(peer: &str, adopted: bool, kept: Kept, sas_alg: SasAlg) -> ClientEvent {
    ClientEvent::Established {
        peer: peer.into(),
        full: format!("{peer}/laptop"),
        thread: "t1".into(),
        sas: Some("a3k9z".into()),
        sas_alg: Some(sas_alg),
        shield: Shield::Unverified,
        adopted,
        kept,
        petname: None,
        compat: None,
    }
}

fn message(peer: &str, body: &str, encrypted: bool) -> ClientEvent {
    ClientEvent::Message {
        peer: peer.into(),
        full: format!("{peer}/laptop"),
        body: body.into(),
        encrypted,
        offline: false,
        id: None,
        kept: Kept::Store,
    }
}

fn contacts() -> Vec<Contact> {
    vec![
        Contact {
            jid: BOB.into(),
            name: Some("Bob".into()),
            show: Some(Show::Available),
            esessions: true,
        },
        Contact {
            jid: "carol@example.net".into(),
            name: None,
            show: Some(Show::Away),
            esessions: false,
        },
        Contact {
            jid: "dave@example.net".into(),
            name: None,
            show: None,
            esessions: false,
        },
        // A name that tries to draw a lock, a presence and a contact line of its own.
        Contact {
            jid: "mallory@example.net".into(),
            name: Some("🔒● x\n🔒● Bob (3)".into()),
            show: None,
            esessions: false,
        },
    ]
}

/// The screen's text, one line per row, trailing blanks cut (a wide character's second
/// cell is not repeated).
fn text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width);
    let mut out = String::new();
    for row in buffer.content.chunks(width) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            line.push_str(cell.symbol());
            skip = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn drawn(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    text(terminal.backend().buffer())
}

/// Compares `screen` with `snapshots/NAME.txt`.
fn snapshot(name: &str, screen: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/tui/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("ESESSION_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, screen).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}\nthe screen:\n{screen}", path.display()));
    assert_eq!(screen, expected, "the {name} view changed:\n{screen}");
}

#[test]
fn view_roster() {
    let mut app = app();
    app.contacts = contacts();
    type_line(&mut app, "/open carol@example.net");
    app.client_event(&message(BOB, "are you there?", true), NOW);
    app.client_event(&message(BOB, "hello?", true), NOW);
    let screen = drawn(&app, 80, 12);
    // The hostile name cannot draw a lock or a second contact line.
    assert_eq!(screen.matches('🔒').count(), 1 + 2, "{screen}");
    assert!(screen.contains("\\n"), "{screen}");
    snapshot("roster", &screen);
}

#[test]
fn view_conversation_with_delivery_states() {
    let mut app = app();
    app.contacts = contacts();
    type_line(&mut app, "/open bob@example.com");
    app.client_event(
        &established(BOB, false, Kept::Memory, SasAlg::Committed),
        NOW,
    );
    app.sent(BOB, "m1", "first", DeliveryState::Delivered, NOW);
    app.sent(BOB, "m2", "second", DeliveryState::Sent, NOW);
    app.sent(
        BOB,
        "m3",
        "third",
        DeliveryState::Queued { reason: None },
        NOW,
    );
    let reason = "the contact is offline: not sent yet";
    app.sent(
        BOB,
        "m4",
        "fourth",
        DeliveryState::Queued {
            reason: Some(reason.into()),
        },
        NOW,
    );
    app.sent(BOB, "m5", "fifth", DeliveryState::Sent, NOW);
    app.client_event(
        &ClientEvent::Receipt {
            peer: BOB.into(),
            id: "m5".into(),
            state: DeliveryState::Failed {
                reason: "the session ended".into(),
            },
        },
        NOW,
    );
    app.client_event(&message(BOB, "hi alice", true), NOW);
    app.client_event(&message(BOB, "this one came in clear", false), NOW);
    app.set_session(
        BOB,
        Some(SessionView {
            shield: Shield::Unverified,
            sas: Some("a3k9z".into()),
            sas_alg: Some(SasAlg::Committed),
            compat: None,
        }),
    );
    let screen = drawn(&app, 100, 18);
    assert!(screen.contains("not logged"), "{screen}");
    snapshot("conversation", &screen);
}

#[test]
fn view_help() {
    let mut app = app();
    type_line(&mut app, "/help");
    snapshot("help", &drawn(&app, 90, 22));
    app.key(key(KeyCode::Esc, KeyModifiers::NONE), NOW);
    assert!(!drawn(&app, 90, 20).contains("help (Esc closes)"));
}

/// On a small terminal every entry of the help can still be read: descriptions wrap
/// under their column, and PageUp / PageDown scroll the entries (not the window behind).
#[test]
fn the_help_wraps_and_scrolls_on_a_small_terminal() {
    let mut app = app();
    type_line(&mut app, "/help");
    let page = |app: &mut App, code| app.key(key(code, KeyModifiers::NONE), NOW);
    let (width, height) = (60, 12);
    let first = drawn(&app, width, height);
    assert!(first.contains("help 1–"), "{first}");
    assert!(
        first.contains("of 16 (PageUp/PageDown; Esc closes)"),
        "{first}"
    );
    assert!(first.contains("/help"), "{first}");
    assert!(!first.contains("//text"), "{first}");
    let mut seen = first.clone();
    for _ in 0..20 {
        page(&mut app, KeyCode::PageDown);
        seen.push_str(&drawn(&app, width, height));
    }
    let last = drawn(&app, width, height);
    assert!(last.contains("help 16–16 of 16"), "{last}");
    assert!(
        last.contains("//text") && !last.contains("/help "),
        "{last}"
    );
    // Every command was on some page, and /verify's description whole, wrapped.
    for (cmd, _) in HELP {
        assert!(seen.contains(cmd), "{cmd} never shown");
    }
    assert!(seen.contains("marks it verified"), "{seen}");
    // The window behind did not scroll; PageUp goes back to the first entry.
    assert_eq!(app.console.scroll, 0);
    for _ in 0..20 {
        page(&mut app, KeyCode::PageUp);
    }
    assert_eq!(drawn(&app, width, height), first);
}

#[test]
fn view_status_line_with_a_classic_sas_and_its_caveat() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    app.client_event(&established(BOB, false, Kept::Store, SasAlg::Classic), NOW);
    app.set_session(
        BOB,
        Some(SessionView {
            shield: Shield::SasVerified,
            sas: Some("a3k9z".into()),
            sas_alg: Some(SasAlg::Classic),
            compat: None,
        }),
    );
    app.client_event(&message("carol@example.net", "psst", true), NOW);
    let line = view::status_line(&app).to_string();
    let caveat = SasAlg::Classic.caveat().unwrap();
    assert!(line.contains(caveat), "{line}");
    snapshot("status", &drawn(&app, 140, 8));
}

/// XEP-0116 §7.3: a session that goes on from a verified chain of retained secrets, or
/// with a trusted key, does not ask for its SAS to be compared again; an unverified one
/// does.
#[test]
fn only_an_unverified_session_asks_to_compare_its_sas() {
    for (shield, asks) in [
        (Shield::Unverified, true),
        (Shield::SasVerified, false),
        (Shield::KeyTrusted, false),
    ] {
        let mut app = app();
        type_line(&mut app, "/open bob@example.com");
        let mut ev = established(BOB, false, Kept::Store, SasAlg::Committed);
        if let ClientEvent::Established { shield: s, .. } = &mut ev {
            *s = shield;
        }
        app.client_event(&ev, NOW);
        let screen = drawn(&app, 140, 8);
        assert!(screen.contains("SAS a3k9z"), "{screen}");
        assert_eq!(
            screen.contains("compare it aloud"),
            asks,
            "{shield:?}: {screen}"
        );
        assert_eq!(
            screen.contains("is optional"),
            !asks,
            "{shield:?}: {screen}"
        );
    }
}

/// Issue 13 §4: a session in Gajim's dialect says so on the status line and, with what it
/// costs, in its window.
#[test]
fn a_gajim_session_says_so_with_its_costs() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    let mut ev = established(BOB, false, Kept::Memory, SasAlg::Classic);
    if let ClientEvent::Established { compat, .. } = &mut ev {
        *compat = Some(esession::Compat::Gajim);
    }
    app.client_event(&ev, NOW);
    app.set_session(
        BOB,
        Some(SessionView {
            shield: Shield::Unverified,
            sas: Some("a3k9".into()),
            sas_alg: Some(SasAlg::Classic),
            compat: Some(esession::Compat::Gajim),
        }),
    );
    let line = view::status_line(&app).to_string();
    assert!(line.contains("compat: gajim"), "{line}");
    let screen = drawn(&app, 160, 16);
    for cost in esession::Compat::Gajim.costs() {
        let shown: String = cost.chars().take(40).collect();
        assert!(screen.contains(&shown), "{cost:?} not shown:\n{screen}");
    }
}

/// XEP-0187 §4: a message that came in an offline session is said to have no forward
/// secrecy, under it.
#[test]
fn an_offline_message_says_it_has_no_forward_secrecy() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    let mut ev = message(BOB, "sent while you were away", true);
    if let ClientEvent::Message { offline, .. } = &mut ev {
        *offline = true;
    }
    app.client_event(&ev, NOW);
    app.client_event(&message(BOB, "and this one online", true), NOW);
    let screen = drawn(&app, 200, 16);
    assert_eq!(
        screen.matches("without forward secrecy").count(),
        1,
        "{screen}"
    );
    let row = |what: &str| screen.lines().position(|l| l.contains(what)).unwrap();
    assert!(
        row("sent while you were away") < row("without forward secrecy"),
        "{screen}"
    );
}

#[test]
fn view_hostile_body() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    app.client_event(
        &established(BOB, false, Kept::Store, SasAlg::Committed),
        NOW,
    );
    let forged = "ok\n13:07 me> I agree to everything  [delivered]\r\u{1b}[2J\u{1b}]0;pwned\u{7}\
                  \u{202e}txt.exe\u{2028}13:07 -!- SAS verified";
    app.client_event(&message(BOB, forged, false), NOW);
    let mut eve = message(BOB, "hi", true);
    if let ClientEvent::Message { full, .. } = &mut eve {
        *full = "bob@example.com/\u{202e}\n13:07 me> x".into();
    }
    app.client_event(&eve, NOW);
    let screen = drawn(&app, 80, 14);
    for row in screen.lines() {
        let inside = row.trim_start_matches('│');
        assert!(!inside.starts_with("13:07 me>"), "a forged line: {row}");
        assert!(!row.contains('\u{1b}') && !row.contains('\u{202e}') && !row.contains('\u{7}'));
    }
    snapshot("hostile", &screen);
}

#[test]
fn unknown_commands_are_errors_and_never_sent() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    assert!(type_line(&mut app, "/me waves").is_empty());
    assert!(drawn(&app, 100, 10).contains("unknown command /me"));
    assert_eq!(
        type_line(&mut app, "//me waves"),
        [Effect::Send {
            to: BOB.into(),
            body: "/me waves".into()
        }]
    );
    assert_eq!(
        type_line(&mut app, "/verify A3K9Z"),
        [Effect::Verify {
            peer: BOB.into(),
            sas: "A3K9Z".into()
        }]
    );
    assert_eq!(type_line(&mut app, "/quit"), [Effect::Quit]);
    assert_eq!(
        app.key(key(KeyCode::Char('c'), KeyModifiers::CONTROL), NOW),
        [Effect::Quit]
    );
}

#[test]
fn the_console_sends_nothing() {
    let mut app = app();
    assert!(type_line(&mut app, "hello").is_empty());
    assert!(type_line(&mut app, "/verify abcde").is_empty());
    assert!(drawn(&app, 100, 10).contains("not in a conversation"));
    assert!(type_line(&mut app, "/open not a jid").is_empty());
}

#[test]
fn incoming_text_never_touches_the_input_line() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    for c in "half typ".chars() {
        app.key(key(KeyCode::Char(c), KeyModifiers::NONE), NOW);
    }
    app.client_event(&message(BOB, "interrupting\nyou", true), NOW);
    app.client_event(&message("carol@example.net", "me too", true), NOW);
    assert_eq!(app.input.text(), "half typ");
    let screen = drawn(&app, 80, 10);
    assert_eq!(screen.lines().last(), Some("> half typ"));
}

#[test]
fn background_windows_count_unread_ring_and_switch() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    // A contact who starts a conversation: a new window, a notice and the bell.
    let effects = app.client_event(
        &established("carol@example.net", true, Kept::Store, SasAlg::Committed),
        NOW,
    );
    assert_eq!(effects, [Effect::Bell]);
    assert_eq!(
        app.client_event(&message("carol@example.net", "hey", true), NOW),
        [Effect::Bell]
    );
    assert_eq!(app.unread("carol@example.net"), 1);
    // A message in the window shown rings nothing.
    assert!(app
        .client_event(&message(BOB, "here", true), NOW)
        .is_empty());
    assert!(drawn(&app, 100, 12).contains("a message from carol@example.net in window 3"));
    app.key(key(KeyCode::Char('3'), KeyModifiers::ALT), NOW);
    assert_eq!(app.peer(), Some("carol@example.net"));
    assert_eq!(app.unread("carol@example.net"), 0);
    app.key(key(KeyCode::Char('n'), KeyModifiers::CONTROL), NOW);
    assert_eq!(app.peer(), None, "Ctrl+N wraps to the console");
    app.key(key(KeyCode::Char('p'), KeyModifiers::CONTROL), NOW);
    assert_eq!(app.peer(), Some("carol@example.net"));
    type_line(&mut app, "/win 2");
    assert_eq!(app.peer(), Some(BOB));
    type_line(&mut app, "/close");
    assert_eq!(app.peer(), None);
    assert!(type_line(&mut app, "/win 9").is_empty());
}

#[test]
fn the_history_is_shown_before_the_window_and_scrolls() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    app.client_event(&message(BOB, "new", true), NOW);
    let stored = |direction, body: &str| Stored {
        message: MessageRecord {
            own: "alice@example.org".into(),
            peer: BOB.into(),
            direction,
            at: Timestamp(NOW.0 - 86_400),
            id: body.into(),
            body: body.into(),
        },
        kept: Kept::Store,
    };
    // A message of this run, also in the store: shown once.
    app.sent(BOB, "live", "live", DeliveryState::Delivered, NOW);
    let page = Page {
        entries: vec![
            stored(Direction::Sent, "old question"),
            stored(Direction::Received, "old answer"),
            stored(Direction::Sent, "live"),
        ],
        altered: 0,
    };
    app.history(BOB, Ok(page.clone()), NOW);
    app.history(BOB, Ok(page), NOW);
    let screen = drawn(&app, 80, 16);
    assert_eq!(screen.matches("me> live").count(), 1, "{screen}");
    assert_eq!(screen.matches("old answer").count(), 1, "{screen}");
    let at = |s: &str| {
        screen
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} not in\n{screen}"))
    };
    assert!(at("old question") < at("old answer") && at("old answer") < at("new"));
    let full = drawn(&app, 80, 8);
    assert!(full.contains("live") && !full.contains("old question"));
    app.key(key(KeyCode::PageUp, KeyModifiers::NONE), NOW);
    assert!(drawn(&app, 80, 8).contains("2 stored message(s)"));
}

#[test]
fn fingerprints_are_shown_in_groups_for_reading_aloud() {
    let mut app = app();
    assert_eq!(
        type_line(&mut app, "/open bob@example.com"),
        Vec::<Effect>::new()
    );
    assert_eq!(
        type_line(&mut app, "/fp"),
        [Effect::Fingerprints { peer: BOB.into() }]
    );
    let theirs = "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c=";
    // `/trust` with the fingerprint as read out: only that key is trusted.
    assert_eq!(
        type_line(&mut app, "/trust q1w2 e3r4"),
        [Effect::Trust {
            peer: BOB.into(),
            fingerprint: Some("q1w2 e3r4".into())
        }]
    );
    assert_eq!(
        type_line(&mut app, "/trust"),
        [Effect::Trust {
            peer: BOB.into(),
            fingerprint: None
        }]
    );
    app.fingerprints(BOB, Some("AAAABBBBCCCCDDDDEE"), Some((theirs, None)), NOW);
    app.trusted(BOB, Ok(theirs.into()), NOW);
    app.trusted(
        BOB,
        Err("bob@example.com presented no public key".into()),
        NOW,
    );
    let screen = drawn(&app, 140, 12);
    assert!(screen.contains("yours: AAAA BBBB CCCC DDDD EE"), "{screen}");
    assert!(
        screen.contains("bob@example.com: q1w2 e3r4 t5y6 u7i8 o9p0 a1s2 d3f4 g5h6 j7k8 l9z0 x1c="),
        "{screen}"
    );
    assert!(screen.contains("trusted for bob@example.com"), "{screen}");
    assert!(screen.contains("nothing trusted: bob@example.com presented no public key"));
}

/// Decision (tui order): a line typed while the session is negotiated shows at once as
/// queued, then below the session's lines once it is established, and is marked sent.
#[test]
fn a_line_typed_before_the_session_is_listed_after_its_line() {
    let mut app = app();
    type_line(&mut app, "/open bob@example.com");
    let effects = type_line(&mut app, "early");
    assert_eq!(
        effects,
        [Effect::Send {
            to: BOB.into(),
            body: "early".into()
        }]
    );
    let queued = DeliveryState::Queued { reason: None };
    app.sent(BOB, "m1", "early", queued, NOW);
    assert!(drawn(&app, 100, 8).contains("early  [queued]"));
    app.client_event(
        &established(BOB, false, Kept::Memory, SasAlg::Committed),
        NOW,
    );
    app.client_event(
        &ClientEvent::Receipt {
            peer: BOB.into(),
            id: "m1".into(),
            state: DeliveryState::Sent,
        },
        NOW,
    );
    let screen = drawn(&app, 100, 8);
    let row = |needle: &str| {
        screen
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not shown:\n{screen}"))
    };
    assert!(row("encrypted session with") < row("SAS a3k9z"), "{screen}");
    assert!(row("SAS a3k9z") < row("me> early  [sent]"), "{screen}");
}

/// Every line about a session names its contact, in the contact's window and in the
/// console when that window is closed.
#[test]
fn warnings_name_the_contact() {
    let mut app = app();
    let warning = ClientEvent::Warning {
        peer: Some(format!("{BOB}/laptop")),
        thread: Some("t1".into()),
        detail: esession::Warning::TerminateUnacknowledged.to_string(),
    };
    app.client_event(&warning, NOW);
    let console = drawn(&app, 120, 8);
    assert!(
        console.contains("bob@example.com/laptop: terminate was not acknowledged in time"),
        "{console}"
    );
    type_line(&mut app, "/open bob@example.com");
    app.client_event(&warning, NOW);
    let window = drawn(&app, 120, 8);
    assert!(
        window.contains("bob@example.com/laptop: terminate was not acknowledged"),
        "{window}"
    );
}

/// RFC 6120 §4.9.3.3: signed out by another client with our full JID, the client says so,
/// naming the JID, with the server's words escaped, and reconnects only on `/reconnect`.
#[test]
fn a_sign_out_is_said_plainly_and_reconnecting_is_the_users_choice() {
    let mut app = app();
    let effects = app.client_event(
        &ClientEvent::SignedOut {
            jid: "alice@example.org/pda".into(),
            why: esession_xmpp::SignOut::Conflict,
            text: Some("Replaced\u{1b}[2J by new connection".into()),
        },
        NOW,
    );
    assert_eq!(effects, [Effect::Bell]);
    let screen = drawn(&app, 200, 12);
    assert!(
        screen.contains("signed out: another client signed in as alice@example.org/pda"),
        "{screen}"
    );
    assert!(
        screen.contains("/reconnect signs in here again"),
        "{screen}"
    );
    assert!(!screen.contains('\u{1b}'), "escaped: {screen}");
    assert!(
        screen.contains("signed out: /reconnect to sign in again"),
        "{screen}"
    );
    assert_eq!(type_line(&mut app, "/reconnect"), [Effect::Reconnect]);
}
