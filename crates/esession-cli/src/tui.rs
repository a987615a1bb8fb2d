//! `esession tui`: a full-screen terminal client over the conversation layer. The state
//! and its drawing are pure ([`app`], [`view`]); this loop only carries keys and the
//! account's events to the state and its effects to the account. Ends on `/quit`,
//! Ctrl-C, SIGTERM or SIGHUP, terminating every session first (XEP-0116 §5) and giving the
//! terminal back on every path out.
mod app;
mod command;
mod input;
mod rows;
mod screen;
#[cfg(test)]
mod tests;
mod view;

use std::io;
use std::time::Duration;

use crossterm::event::{Event, KeyEventKind};
use esession::Timestamp;
use esession_client::{Account, Shield};
use esession_store::SqliteStore;
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver};

use crate::args::{Global, JsonrpcArgs};
use crate::fail::Fail;
use app::{App, Contact, Effect, SessionView};
use screen::Screen;

/// Longest wait for network events before reading keys again.
const POLL: Duration = Duration::from_millis(50);
/// Seconds to wait for the acknowledgements of our terminates at exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// Messages `/history` loads.
const HISTORY_LIMIT: usize = 200;

pub(crate) async fn run(global: &Global, args: &JsonrpcArgs) -> Result<(), Fail> {
    // Logged in before the screen is taken: a passphrase prompt still works.
    let mut account = crate::account::online_conversations(global, args).await?;
    let mut app = App::new(account.jid(), Timestamp::now());
    let mut screen = Screen::enter().map_err(terminal)?;
    let mut keys = read_keys();
    let (stop_tx, mut stop) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        crate::signals::stop_or_hangup().await;
        let _ = stop_tx.send(());
    });
    let outcome = serve(&mut account, &mut app, &mut screen, &mut keys, &mut stop).await;
    app.connection = "closing: ending every session".into();
    // The terminal may be gone (SIGHUP): the sessions are ended all the same.
    let _ = screen.terminal.draw(|f| view::draw(f, &app));
    let closed = account.shutdown(SHUTDOWN_WAIT).await;
    drop(screen);
    outcome.and(closed.map(drop).map_err(Fail::from))
}

/// Carries keys and events until `/quit`, Ctrl-C or a signal.
async fn serve(
    account: &mut Account<SqliteStore>,
    app: &mut App,
    screen: &mut Screen,
    keys: &mut UnboundedReceiver<io::Result<Event>>,
    stop: &mut UnboundedReceiver<()>,
) -> Result<(), Fail> {
    loop {
        refresh(app, account);
        screen
            .terminal
            .draw(|f| view::draw(f, app))
            .map_err(terminal)?;
        let mut effects = Vec::new();
        loop {
            match keys.try_recv() {
                Ok(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    effects.extend(app.key(k, Timestamp::now()));
                }
                // A resize is drawn on the next turn.
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(terminal(e)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        if stop.try_recv().is_ok() {
            return Ok(());
        }
        if let Some(ev) = account.next_event(POLL).await? {
            effects.extend(app.client_event(&ev, Timestamp::now()));
        }
        for effect in effects {
            if !apply(account, app, screen, effect).await? {
                return Ok(());
            }
        }
    }
}

/// Carries out one effect and reports its result to the state; `false` for `/quit`.
async fn apply(
    account: &mut Account<SqliteStore>,
    app: &mut App,
    screen: &mut Screen,
    effect: Effect,
) -> Result<bool, Fail> {
    let now = Timestamp::now();
    match effect {
        Effect::Send { to, body } => {
            let (id, state) = account.send(&to, &body).await?;
            app.sent(&to, &id, &body, state, now);
        }
        Effect::Verify { peer, sas } => {
            let verified = account.verify(&peer, &sas);
            app.verified(&peer, &sas, verified, now);
        }
        Effect::Fingerprints { peer } => {
            let own = account.fingerprint();
            let info = account.session_info(&peer);
            let theirs = info
                .as_ref()
                .and_then(|i| i.peer_key.as_ref())
                .map(|k| (k.fingerprint.as_str(), k.petname.as_deref()));
            app.fingerprints(&peer, own.as_deref(), theirs, now);
        }
        Effect::Trust { peer, fingerprint } => {
            let trusted = account.trust(&peer, fingerprint.as_deref());
            app.trusted(&peer, trusted, now);
        }
        Effect::Rename { peer, petname } => {
            let renamed = account.rename(&peer, petname.as_deref());
            app.renamed(&peer, petname.as_deref(), renamed, now);
        }
        Effect::Start { peer } => {
            let opened = account.start_session(&peer).await?;
            app.starting(&peer, opened, now);
        }
        Effect::End { peer } => {
            let n = account.end(&peer).await?;
            app.ended(&peer, n, now);
        }
        Effect::Add(jid) => {
            account.add(&jid).await?;
            app.done(
                format!(
                    "asked the server to add {jid} to your contacts, and to see their presence"
                ),
                now,
            );
        }
        Effect::Approve(jid) => {
            account.approve(&jid).await?;
            app.done(format!("{jid} may see your presence"), now);
        }
        Effect::History { peer } => {
            let page = account.history(&peer, HISTORY_LIMIT);
            app.history(&peer, page, now);
        }
        Effect::Reconnect => {
            let started = account.reconnect();
            app.done(
                crate::sign_out::reconnect_answer(started, account.jid()),
                now,
            );
        }
        Effect::Bell => screen.bell().map_err(terminal)?,
        Effect::Quit => return Ok(false),
    }
    Ok(true)
}

/// Copies what the layer knows of the contacts and of the open conversations' sessions
/// into the state.
fn refresh(app: &mut App, account: &Account<SqliteStore>) {
    let convs = account.conversations();
    app.contacts = convs
        .roster()
        .items()
        .map(|item| {
            let online: Vec<_> = convs
                .presences()
                .resources(&item.jid)
                .map(|(_, r)| r)
                .collect();
            Contact {
                jid: item.jid.clone(),
                name: item.name.clone(),
                show: online.iter().map(|r| r.show).max(),
                esessions: online.iter().any(|r| r.esessions == Some(true)),
            }
        })
        .collect();
    for peer in app.peers() {
        let session = account.session_info(&peer).map(|info| SessionView {
            shield: Shield::of(&info),
            sas: info.sas,
            sas_alg: info.sas_alg,
            compat: info.compat,
        });
        app.set_session(&peer, session);
    }
}

/// The terminal's key presses and resizes, read by a thread of its own (a blocking read
/// that ends with the process).
fn read_keys() -> UnboundedReceiver<io::Result<Event>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        let ev = crossterm::event::read();
        let failed = ev.is_err();
        if tx.send(ev).is_err() || failed {
            return;
        }
    });
    rx
}

fn terminal(e: io::Error) -> Fail {
    Fail::protocol("terminal", format!("the terminal failed: {e}"))
}
