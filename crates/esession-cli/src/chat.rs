//! `esession chat JID`: one conversation of the account on a terminal, a thin view of the
//! conversation layer ([`esession_client::Account`], as `jsonrpc` and `tui` use it). The
//! contact's sessions are adopted whichever side starts them; lines typed while a session
//! is negotiated wait and go out encrypted once it is established; after a session ends
//! the next line negotiates a new one. Commands (`/help`) are handled here and never sent.
//! What arrives is printed above the line being typed (rustyline's external printer).
//! `/quit`, Ctrl-C, Ctrl-D, SIGTERM and SIGHUP end every session cleanly (XEP-0116 §5).
//! Sessions and messages of other contacts are not shown here: a notice says they exist.
use crate::args::{ChatArgs, Global};
use crate::driver::{self, Input};
use crate::fail::Fail;
use crate::sanitize::safe;
use crate::sas_advice;
use esession_client::{Account, ClientEvent, DeliveryState, Kept};
use esession_store::SqliteStore;
use rustyline::ExternalPrinter;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Seconds to wait for the acknowledgements of our terminates at exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// Characters of a sent line repeated in its delivery notice.
const QUOTE_CHARS: usize = 40;

const HELP: &str = "\
Type a line and press Enter to send it, encrypted (it waits while the session is negotiated).
  /verify SAS   compare the SAS the contact reads to you: a match marks the session verified
  /status       the session's shield and SAS
  /add          ask to see the contact's presence (needed to reach them)
  /approve      let the contact see your presence
  /reconnect    sign in again after being signed out by another client
  /quit         end the session, telling the contact, and leave (also Ctrl-C, Ctrl-D)
  //text        send a line that starts with /
Any other /command is an error and is never sent.";

/// Where the lines for the user go: above the line being typed on a terminal, else
/// plainly to stdout.
struct Screen {
    printer: Option<Box<dyn ExternalPrinter + Send>>,
}

impl Screen {
    fn say(&mut self, text: &str) {
        if let Some(p) = &mut self.printer {
            if p.print(format!("{text}\n")).is_ok() {
                return;
            }
        }
        println!("{text}");
    }
}

/// One typed line, understood.
#[derive(Debug, PartialEq, Eq)]
enum Typed<'a> {
    Nothing,
    Send(&'a str),
    Help,
    Verify(&'a str),
    Status,
    Add,
    Approve,
    Reconnect,
    Quit,
    Unknown(&'a str),
}

fn parse(line: &str) -> Typed<'_> {
    let line = line.trim();
    if line.is_empty() {
        return Typed::Nothing;
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Typed::Send(line.get(1..).unwrap_or(escaped));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Typed::Send(line);
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    match (name, rest.trim()) {
        ("help", _) => Typed::Help,
        ("verify", sas) if !sas.is_empty() => Typed::Verify(sas),
        ("status", _) => Typed::Status,
        ("add", _) => Typed::Add,
        ("approve", _) => Typed::Approve,
        ("reconnect", _) => Typed::Reconnect,
        ("quit", _) => Typed::Quit,
        _ => Typed::Unknown(line),
    }
}

pub(crate) async fn run(global: &Global, args: &ChatArgs) -> Result<(), Fail> {
    if global.json {
        return Err(Fail::usage(
            "chat is for a person at a terminal: programs use `esession jsonrpc`",
        ));
    }
    let contact = esession::jid::bare(&args.contact).to_owned();
    let mut account = crate::account::online(
        global,
        crate::policy::accepting(global),
        crate::identity::KeyUse::IfStored,
        false,
    )
    .await?;
    let saved_terminal = rustix::termios::tcgetattr(std::io::stdin()).ok();
    let (mut screen, mut input) = start_input()?;
    let mut view = View {
        contact,
        sent: HashMap::new(),
        thread: None,
        sas: None,
    };
    screen.say(&format!(
        "online as {}; chatting with {} (/help lists the commands)",
        safe(account.jid()),
        safe(&view.contact)
    ));
    let known = account
        .conversations()
        .roster()
        .items()
        .any(|i| i.jid == view.contact);
    if !known {
        screen.say(&format!(
            "{} is not in your roster: /add asks to see their presence, which is needed to \
             reach them",
            safe(&view.contact)
        ));
    }
    let mut chat = Chat {
        view: &mut view,
        screen: &mut screen,
    };
    let outcome = driver::serve(&mut account, &mut chat, &mut input).await;
    // Sessions are ended even after a failure; the first failure is the one reported.
    let closed = account.shutdown(SHUTDOWN_WAIT).await;
    for ev in closed.iter().flatten() {
        view.show(&mut screen, ev);
    }
    if let Some(t) = &saved_terminal {
        // The input thread may be reading in raw mode: the terminal is left as found.
        let _ =
            rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, t);
    }
    outcome.and(closed.map(drop).map_err(Fail::from))
}

/// Starts reading lines (Ctrl-C, Ctrl-D, the end of input or a broken terminal end them).
fn start_input() -> Result<(Screen, mpsc::UnboundedReceiver<Input>), Fail> {
    let mut editor = rustyline::DefaultEditor::new()
        .map_err(|e| Fail::protocol("terminal", format!("cannot read the terminal: {e}")))?;
    // Not a terminal (a pipe): lines are printed plainly.
    let printer = editor
        .create_external_printer()
        .ok()
        .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>);
    let input = driver::read_lines(move || {
        std::iter::from_fn(move || {
            let line = editor.readline("> ").ok()?;
            let _ = editor.add_history_entry(line.as_str());
            Some(line)
        })
    });
    Ok((Screen { printer }, input))
}

/// The conversation on the terminal: typed lines and the events shown.
struct Chat<'a> {
    view: &'a mut View,
    screen: &'a mut Screen,
}

impl driver::Lines for Chat<'_> {
    async fn line(
        &mut self,
        account: &mut Account<SqliteStore>,
        line: String,
    ) -> Result<bool, Fail> {
        self.view.typed(account, self.screen, &line).await
    }

    fn event(&mut self, event: &ClientEvent) {
        self.view.show(self.screen, event);
    }
}

/// The conversation as this view shows it.
struct View {
    /// The contact's bare JID.
    contact: String,
    /// Our messages by id, for their delivery notices.
    sent: HashMap<String, String>,
    /// The thread of the session last established (the current one).
    thread: Option<String>,
    /// Its SAS and the SAS's caveat.
    sas: Option<String>,
}

impl View {
    /// Acts on one typed line; `false` to quit.
    async fn typed(
        &mut self,
        account: &mut Account<SqliteStore>,
        screen: &mut Screen,
        line: &str,
    ) -> Result<bool, Fail> {
        let contact = self.contact.clone();
        match parse(line) {
            Typed::Nothing => {}
            Typed::Quit => return Ok(false),
            Typed::Help => screen.say(HELP),
            Typed::Unknown(c) => screen.say(&format!(
                "unknown command {}: /help lists them; nothing was sent",
                safe(c)
            )),
            Typed::Status => {
                let shield = account.shield(&contact).name();
                let sas = self.sas.as_deref().unwrap_or("none");
                let mode = account
                    .session_info(&contact)
                    .and_then(|i| i.compat)
                    .map(|c| format!("; compat: {}", c.name()))
                    .unwrap_or_default();
                screen.say(&format!("shield: {shield}; SAS: {sas}{mode}"));
            }
            Typed::Verify(sas) => match account.verify(&contact, sas) {
                // Profile P15 "Display": a match of a classic SAS is never reported
                // without its caveat.
                Ok(true) => screen.say(&format!(
                    "the SAS matches: the session is verified (shield: {}){}",
                    account.shield(&contact).name(),
                    crate::sas_advice::caveat(
                        account.session_info(&contact).and_then(|i| i.sas_alg)
                    )
                )),
                Ok(false) => screen.say(
                    "WARNING: the SAS you heard does not match: someone may be in the middle. \
                     Do not trust this session.",
                ),
                Err(m) => screen.say(&safe(&m).to_string()),
            },
            Typed::Add => {
                account.add(&contact).await?;
                screen.say(&format!("asked to see {}'s presence", safe(&contact)));
            }
            Typed::Approve => {
                account.approve(&contact).await?;
                screen.say(&format!("{} may see your presence", safe(&contact)));
            }
            Typed::Reconnect => {
                let started = account.reconnect();
                let answer = crate::sign_out::reconnect_answer(started, account.jid());
                screen.say(&safe(&answer).to_string());
            }
            Typed::Send(body) => {
                let (id, state) = account.send(&contact, body).await?;
                self.sent.insert(id.clone(), body.to_owned());
                self.delivery(screen, &id, &state);
            }
        }
        Ok(true)
    }

    /// Says what became of our message `id` when the user needs to know.
    fn delivery(&mut self, screen: &mut Screen, id: &str, state: &DeliveryState) {
        let quoted: String = self
            .sent
            .get(id)
            .map(|b| b.chars().take(QUOTE_CHARS).collect())
            .unwrap_or_default();
        let quoted = safe(&quoted);
        match state {
            DeliveryState::Queued { reason: None } | DeliveryState::Sent => {}
            DeliveryState::Queued {
                reason: Some(reason),
            } => screen.say(&format!("[waiting] {quoted}: {}", safe(reason))),
            DeliveryState::Delivered => {
                screen.say(&format!("[delivered] {quoted}"));
                self.sent.remove(id);
            }
            DeliveryState::Failed { reason } => {
                screen.say(&format!("[NOT SENT] {quoted}: {}", safe(reason)));
                self.sent.remove(id);
            }
            DeliveryState::SentOffline => {
                screen.say(&format!(
                    "[sent offline] {quoted}: encrypted, without forward secrecy"
                ));
                self.sent.remove(id);
            }
        }
    }

    /// Shows one event of the account.
    fn show(&mut self, screen: &mut Screen, ev: &ClientEvent) {
        let ours = |peer: &str| peer == self.contact;
        match ev {
            ClientEvent::Established {
                peer,
                full,
                thread,
                sas,
                sas_alg,
                shield,
                adopted,
                kept,
                compat,
                ..
            } if ours(peer) => {
                let caveat = crate::sas_advice::caveat(*sas_alg);
                self.thread = Some(thread.clone());
                self.sas = sas.as_ref().map(|s| format!("{s}{caveat}"));
                let by = if *adopted { "the contact" } else { "us" };
                let logged = match kept {
                    Kept::Store => "kept in the local history",
                    _ => "off the record: kept in memory only",
                };
                // Issue 13 §4: a session in Gajim's dialect says so with the shield, and what
                // it costs.
                let mode = compat
                    .map(|c| format!("; compat: {}", c.name()))
                    .unwrap_or_default();
                screen.say(&format!(
                    "encrypted session with {} (started by {by}; shield: {}{mode}; {logged})",
                    safe(full),
                    shield.name()
                ));
                for cost in compat.iter().flat_map(|c| c.costs()) {
                    screen.say(cost);
                }
                if let Some(sas) = &self.sas {
                    screen.say(&match sas_advice::vouched(*shield) {
                        Some(why) => format!("SAS: {sas}: {why}"),
                        None => format!(
                            "SAS: {sas}: compare it with the contact (by voice), then /verify SAS"
                        ),
                    });
                }
            }
            ClientEvent::Established { peer, .. } => screen.say(&format!(
                "notice: {} opened an encrypted session with you (not shown here: this chat is \
                 with {})",
                safe(peer),
                safe(&self.contact)
            )),
            ClientEvent::Message {
                peer,
                body,
                encrypted,
                offline,
                ..
            } if ours(peer) => {
                // XEP-0187 §4: an offline session has no forward secrecy; said so.
                let mark = match (*encrypted, *offline) {
                    (false, _) => "[NOT ENCRYPTED] ",
                    (true, true) => "[offline session: no forward secrecy] ",
                    (true, false) => "",
                };
                screen.say(&format!("{mark}{}: {}", safe(peer), safe(body)));
            }
            ClientEvent::Message { peer, .. } => screen.say(&format!(
                "notice: a message from {} (not shown here: this chat is with {})",
                safe(peer),
                safe(&self.contact)
            )),
            ClientEvent::Receipt { peer, id, state } if ours(peer) => {
                self.delivery(screen, id, state)
            }
            ClientEvent::Receipt { .. } | ClientEvent::Roster(_) => {}
            ClientEvent::Terminated {
                peer,
                full,
                thread,
                reason,
            } if ours(peer) => {
                // Only the end of the current session forgets its SAS: another session
                // of the contact (another resource) may end meanwhile.
                let current = self.thread.as_ref() == Some(thread);
                if current {
                    self.thread = None;
                    self.sas = None;
                }
                screen.say(&format!(
                    "the session with {} ended ({}){}",
                    safe(full),
                    safe(reason),
                    if current {
                        "; the next line starts a new one"
                    } else {
                        ""
                    }
                ));
            }
            ClientEvent::Terminated { .. } => {}
            ClientEvent::Presence {
                jid,
                show,
                esessions,
            } if ours(esession::jid::bare(jid)) => {
                let show = show.map_or("offline", |s| s.name());
                let support = match esessions {
                    Some(true) => ", ESessions",
                    Some(false) => ", WITHOUT ESessions: nothing can be sent to it",
                    None => "",
                };
                screen.say(&format!("{} is {show}{support}", safe(jid)));
            }
            ClientEvent::Presence { .. } => {}
            ClientEvent::SubscriptionRequest { jid } if ours(jid) => screen.say(&format!(
                "{} asks to see your presence: /approve lets them",
                safe(jid)
            )),
            ClientEvent::SubscriptionRequest { jid } => {
                screen.say(&format!("notice: {} asks to see your presence", safe(jid)))
            }
            ClientEvent::SubscriptionAnswer { jid, approved } if ours(jid) => {
                let answer = if *approved { "approved" } else { "refused" };
                screen.say(&format!(
                    "{} {answer} your request to see their presence",
                    safe(jid)
                ));
            }
            ClientEvent::SubscriptionAnswer { .. } => {}
            ClientEvent::ConnectionLost { reason } => screen.say(&format!(
                "connection to the server lost ({}); the session ended, reconnecting: lines typed \
                 now wait",
                safe(reason)
            )),
            ClientEvent::SignedOut { jid, why, text } => {
                let notice = crate::sign_out::notice(jid, *why, text.as_deref());
                screen.say(&safe(&notice).to_string());
            }
            ClientEvent::Reconnecting {
                attempt, in_secs, ..
            } => screen.say(&format!("reconnecting in {in_secs} s (attempt {attempt})")),
            ClientEvent::Online { jid } => screen.say(&format!("online again as {}", safe(jid))),
            ClientEvent::Warning { peer, detail, .. } => match peer {
                Some(p) => screen.say(&format!("warning ({}): {}", safe(p), safe(detail))),
                None => screen.say(&format!("warning: {}", safe(detail))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A printer that keeps what is said.
    struct Said(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl ExternalPrinter for Said {
        fn print(&mut self, msg: String) -> rustyline::Result<()> {
            self.0.lock().unwrap().push(msg);
            Ok(())
        }
    }

    fn established(thread: &str, sas: &str) -> ClientEvent {
        ClientEvent::Established {
            peer: "bob@example.com".into(),
            full: format!("bob@example.com/{thread}"),
            thread: thread.into(),
            sas: Some(sas.into()),
            sas_alg: Some(esession::SasAlg::Committed),
            shield: esession_client::Shield::Unverified,
            adopted: false,
            kept: Kept::Memory,
            petname: None,
            compat: None,
        }
    }

    fn terminated(thread: &str) -> ClientEvent {
        ClientEvent::Terminated {
            peer: "bob@example.com".into(),
            full: format!("bob@example.com/{thread}"),
            thread: thread.into(),
            reason: "ended by the contact".into(),
        }
    }

    /// The end of another session of the contact (another resource) leaves the SAS of
    /// the current one to compare.
    #[test]
    fn only_the_current_session_ending_forgets_its_sas() {
        let said = std::sync::Arc::default();
        let mut screen = Screen {
            printer: Some(Box::new(Said(std::sync::Arc::clone(&said)))),
        };
        let mut view = View {
            contact: "bob@example.com".into(),
            sent: HashMap::new(),
            thread: None,
            sas: None,
        };
        view.show(&mut screen, &established("phone", "aaaaa"));
        view.show(&mut screen, &established("pc", "bbbbb"));
        view.show(&mut screen, &terminated("phone"));
        assert_eq!(view.sas.as_deref(), Some("bbbbb"));
        view.show(&mut screen, &terminated("pc"));
        assert_eq!(view.sas, None);
        let said = said.lock().unwrap();
        let ends: Vec<&String> = said.iter().filter(|l| l.contains("ended")).collect();
        assert!(!ends[0].contains("next line"), "{ends:?}");
        assert!(
            ends[1].contains("the next line starts a new one"),
            "{ends:?}"
        );
    }

    #[test]
    fn commands_are_handled_here_and_never_sent() {
        assert_eq!(parse("hello"), Typed::Send("hello"));
        assert_eq!(parse("  "), Typed::Nothing);
        assert_eq!(parse("/help"), Typed::Help);
        assert_eq!(parse("/verify AbC12"), Typed::Verify("AbC12"));
        assert_eq!(parse("/verify"), Typed::Unknown("/verify"));
        assert_eq!(parse("/quit"), Typed::Quit);
        assert_eq!(parse("/reconnect"), Typed::Reconnect);
        assert_eq!(parse("/me waves"), Typed::Unknown("/me waves"));
        assert_eq!(parse("//me waves"), Typed::Send("/me waves"));
    }
}
