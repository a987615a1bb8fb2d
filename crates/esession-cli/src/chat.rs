//! `esession chat JID`: an interactive ESession. The state is always shown: plain,
//! negotiating, encrypted-unverified, encrypted-verified, failed.
use crate::account::{connect, History};
use crate::args::{ChatArgs, Global};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use esession::{Config, Event, SessionInfo, Timestamp};
use serde_json::{json, Value};
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
    let (value, text) = state_event(info, failed);
    out.emit(value, &text);
}

/// The `state` event: JSON and text.
fn state_event(info: Option<&SessionInfo>, failed: bool) -> (Value, String) {
    let state = state_name(info, failed);
    let sas = info.and_then(|i| i.sas.clone());
    // Profile P15 "Display": a classic SAS, and a "verified" resting on it, carry the caveat.
    let caveat = info.map(crate::output::sas_caveat).unwrap_or_default();
    let text = match &sas {
        Some(sas) => format!("state: {state}{caveat}; SAS {sas}"),
        None => format!("state: {state}"),
    };
    let sas_alg = info.and_then(|i| i.sas_alg).map(esession::SasAlg::name);
    (
        json!({"event": "state", "state": state, "sas": sas, "sas_alg": sas_alg}),
        text,
    )
}

pub(crate) async fn run(global: &Global, args: &ChatArgs, out: Out) -> Result<(), Fail> {
    let mut client = connect(global, Config::default(), KeyUse::IfStored).await?;
    out.online(client.jid().as_str());
    out.emit(json!({"event": "help", "text": HELP}), HELP);
    let mut history = History::default();
    history.archive = crate::archiving::enable(&mut client, global, false).await?;
    let contact = crate::typed_jid::parse("the contact", &args.contact)?;
    let session = client.engine_mut().start(&contact, Timestamp::now())?;
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
                Some(session.thread()),
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
                let Some(peer) = info.as_ref().map(|i| i.peer.to_string()) else {
                    out.emit(json!({"event": "notice", "text": "not established yet: nothing was sent"}), "not established yet: nothing was sent");
                    continue;
                };
                if line == "/end" {
                    client.engine_mut().terminate(&session, Timestamp::now())?;
                } else if let Some(sas) = line.strip_prefix("/verify") {
                    if client.engine_mut().verify_sas(&session, sas)? {
                        if let Some(i) = info.as_mut() { i.verified = true; }
                        show_state(out, info.as_ref(), failed);
                    } else {
                        out.emit(json!({"event": "sas-mismatch", "peer": peer}),
                            "WARNING: the SAS you heard does not match: someone may be in the middle. Do not trust this session.");
                    }
                } else if !line.is_empty() {
                    client.engine_mut().send_message(&session, line)?;
                    history.archive.sent(&session, line);
                }
                client.flush().await?;
            }
            ev = client.next_event(Duration::from_millis(500)) => {
                let Some(ev) = ev? else { continue };
                history.note(&mut client, &ev);
                out.event(&ev);
                match &ev {
                    Event::Established(i) if i.id == session => {
                        info = Some(i.clone());
                        show_state(out, info.as_ref(), failed);
                    }
                    Event::Failed { session: s, .. } if *s == session => {
                        failed = true;
                        show_state(out, info.as_ref(), failed);
                    }
                    Event::Terminated { session: s, .. } if *s == session => break,
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

#[cfg(test)]
mod tests {
    use super::*;
    use esession::{Logging, Role, SasAlg, SrsStatus};

    fn info(sas_alg: SasAlg, verified: bool) -> SessionInfo {
        let bob = esession::Jid::new("bob@example.com/laptop").unwrap();
        SessionInfo {
            id: esession::SessionId::for_tests(&bob, "t"),
            peer: bob,
            role: Role::Initiator,
            encrypted: true,
            sas: Some("qwf43".into()),
            sas_alg: Some(sas_alg),
            group: Some(14),
            srs: SrsStatus::None,
            verified,
            logging: Logging::MustNot,
            stanzas: Vec::new(),
            flow: Some(4),
            crypt: Some("aes128-ctr"),
            hash: Some("sha256"),
            compress: Some("none"),
            rekey_freq: Some(1),
            peer_key: None,
            offline: false,
        }
    }

    #[test]
    fn a_classic_sas_match_is_never_verified_without_the_caveat() {
        // Profile P15 "Display".
        for verified in [false, true] {
            let (value, text) = state_event(Some(&info(SasAlg::Classic, verified)), false);
            assert!(
                text.contains("(classic SAS: resists about 2^24 work)"),
                "{text}"
            );
            assert_eq!(value["sas_alg"], "sas28x5");
        }
        let (_, text) = state_event(Some(&info(SasAlg::Classic, true)), false);
        assert_eq!(
            text,
            "state: encrypted-verified (classic SAS: resists about 2^24 work); SAS qwf43"
        );
    }

    #[test]
    fn a_committed_sas_match_is_verified_without_a_note() {
        let (value, text) = state_event(Some(&info(SasAlg::Committed, true)), false);
        assert_eq!(text, "state: encrypted-verified; SAS qwf43");
        assert_eq!(value["sas_alg"], "sas28x5-commit");
        assert_eq!(value["state"], "encrypted-verified");
    }
}
