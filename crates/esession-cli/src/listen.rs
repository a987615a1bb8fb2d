//! `esession listen`: stay online, accept ESessions, optionally echo; terminate open
//! sessions cleanly on exit (XEP-0116 §5). At login it opens what contacts sent while we
//! were offline (XEP-0187 §3.4, profile P11).
use crate::account::{connect_without_presence, History};
use crate::args::{Global, ListenArgs};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use esession::Event;
use std::time::Duration;
use tokio::time::Instant;

/// Seconds to wait for the retraction of the subscriber options at login.
const LOGIN_STEP: u64 = 10;

pub(crate) async fn run(global: &Global, args: &ListenArgs, out: Out) -> Result<(), Fail> {
    let config = crate::policy::listen_config(global, args)?;
    // We present our key whenever an initiator asks for it (XEP-0116 §4.3 resp_pubkey), so
    // the key is created on the first listen.
    let mut client = connect_without_presence(global, config, KeyUse::Create).await?;
    out.online(client.jid().as_str());
    // Profile P11 "Withdrawal": load the stored offline options and withdraw the
    // subscriber set before presence; the server then delivers what was sent with them.
    let login = client
        .prepare_offline_login(Duration::from_secs(LOGIN_STEP))
        .await?;
    out.offline_login(&login);
    client.connection_mut().send_presence().await?;
    let mut history = History::default();
    history.archive =
        crate::archiving::enable(&mut client, global, !args.logging.is_empty()).await?;
    let end = args
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(t));
    let mut stop = Box::pin(crate::signals::stop());
    loop {
        let wait = match end {
            Some(end) => end
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
            None => Duration::from_secs(1),
        };
        if wait.is_zero() {
            break;
        }
        let ev = tokio::select! {
            _ = &mut stop => break,
            ev = client.next_event(wait) => ev?,
        };
        let Some(ev) = ev else { continue };
        history.note(&mut client, &ev);
        out.event(&ev);
        if let Event::Message {
            peer,
            session: Some(session),
            body: Some(body),
            encrypted: true,
            // XEP-0187 §3.4: nothing is sent in an offline session, so no echo.
            offline: false,
            ..
        } = &ev
        {
            if args.echo {
                let reply = format!("echo: {body}");
                match client.engine_mut().send_message(session, &reply) {
                    Ok(()) => history.archive.sent(session, &reply),
                    Err(e) => out.error(
                        Some(peer.as_str()),
                        Some(session.thread()),
                        e.kind().name(),
                        &e.to_string(),
                    ),
                }
                client.flush().await?;
            }
        }
        // XEP-0136 §5: a finished `may` session is uploaded as soon as it ends.
        if history.archive.has_ready() {
            if let Err(f) = crate::archiving::upload(&mut client, &mut history.archive, out).await {
                out.error(f.peer.as_deref(), f.thread.as_deref(), f.kind, &f.message);
            }
        }
    }
    if let Err(f) = crate::archiving::finish(&mut client, &mut history.archive, out).await {
        out.error(f.peer.as_deref(), f.thread.as_deref(), f.kind, &f.message);
    }
    for ev in client.shutdown(Duration::from_secs(5)).await? {
        out.event(&ev);
    }
    Ok(())
}
