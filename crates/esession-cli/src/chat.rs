//! `esession chat JID`: an interactive ESession. The state is always shown: plain,
//! negotiating, encrypted-unverified, encrypted-verified, failed.
use crate::account::{connect, History};
use crate::args::{ChatArgs, Global};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use esession::{Config, Event, SessionInfo, Timestamp};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const HELP: &str = "type a message and press Enter; /verify SAS  /status  /end  /quit";

fn state_name(info: Option<&SessionInfo>, failed: bool) -> &'static str {
    match info {
        _ if failed => "failed",
        None => "negotiating",
        Some(i) if !i.encrypted => "plain",
        Some(i) if i.verified => "encrypted-verified",
        Some(_) => "encrypted-unverified",
    }
}

fn show_state(out: Out, info: Option<&SessionInfo>, failed: bool) {
    let state = state_name(info, failed);
    let sas = info.and_then(|i| i.sas.clone());
    let text = match &sas {
        Some(sas) => format!("state: {state}; SAS {sas}"),
        None => format!("state: {state}"),
    };
    out.emit(json!({"event": "state", "state": state, "sas": sas}), &text);
}

pub async fn run(global: &Global, args: &ChatArgs, out: Out) -> Result<(), Fail> {
    let mut client = connect(global, Config::default(), KeyUse::IfStored).await?;
    out.online(client.jid());
    out.emit(json!({"event": "help", "text": HELP}), HELP);
    let mut history = History::default();
    history.archive = crate::archiving::enable(&mut client, global, false).await?;
    let thread = client.engine_mut().start(&args.contact, Timestamp::now())?;
    let mut info: Option<SessionInfo> = None;
    let mut failed = false;
    show_state(out, None, false);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let started = tokio::time::Instant::now();
    loop {
        if info.is_none() && !failed && started.elapsed() > Duration::from_secs(args.timeout) {
            failed = true;
            out.error(
                Some(&args.contact),
                Some(&thread),
                "timeout",
                "no answer: the contact is offline or lacks ESessions",
            );
            show_state(out, None, true);
        }
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                let line = line.trim();
                if line == "/quit" { break; }
                if line == "/status" { show_state(out, info.as_ref(), failed); continue; }
                let Some(peer) = info.as_ref().map(|i| i.peer.clone()) else {
                    out.emit(json!({"event": "notice", "text": "not established yet: nothing was sent"}), "not established yet: nothing was sent");
                    continue;
                };
                if line == "/end" {
                    client.engine_mut().terminate(&peer, &thread, Timestamp::now())?;
                } else if let Some(sas) = line.strip_prefix("/verify") {
                    if client.engine_mut().verify_sas(&peer, &thread, sas)? {
                        if let Some(i) = info.as_mut() { i.verified = true; }
                        show_state(out, info.as_ref(), failed);
                    } else {
                        out.emit(json!({"event": "sas-mismatch", "peer": peer}),
                            "WARNING: the SAS you heard does not match: someone may be in the middle. Do not trust this session.");
                    }
                } else if !line.is_empty() {
                    client.engine_mut().send_message(&peer, &thread, line)?;
                    history.archive.sent(&peer, &thread, line);
                }
                client.flush().await?;
            }
            ev = client.next_event(Duration::from_millis(500)) => {
                let Some(ev) = ev? else { continue };
                history.note(&mut client, &ev);
                out.event(&ev);
                match &ev {
                    Event::Established(i) if i.thread == thread => {
                        info = Some(i.clone());
                        show_state(out, info.as_ref(), failed);
                    }
                    Event::Failed { thread: t, .. } if *t == thread => {
                        failed = true;
                        show_state(out, info.as_ref(), failed);
                    }
                    Event::Terminated { thread: t, .. } if *t == thread => break,
                    _ => {}
                }
            }
        }
    }
    let archived = crate::archiving::finish(&mut client, &mut history.archive, out).await;
    for ev in client.shutdown(Duration::from_secs(5)).await? {
        out.event(&ev);
    }
    archived?;
    if failed {
        return Err(Fail::protocol("failed", "the session failed"));
    }
    Ok(())
}
