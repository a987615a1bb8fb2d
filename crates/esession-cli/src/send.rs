//! `esession send`: negotiate, send, optionally collect echoes, terminate. With
//! `--allow-offline`, a contact who is offline gets the messages in an offline session from
//! her published options (XEP-0187), which has no forward secrecy. Nothing is ever sent in
//! plaintext: every failure before establishment ends with exit 1.
use crate::account::{connect, History};
use crate::args::{Global, SendArgs};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use crate::wait::wait_for;
use esession::xml::{ns, Element};
use esession::{jid, Event, SessionInfo, Timestamp};
use esession_store::SqliteStore;
use esession_xmpp::{Client, OfflineError, XmppError};
use std::time::Duration;

pub(crate) async fn run(global: &Global, args: &SendArgs, out: Out) -> Result<(), Fail> {
    if args.count == 0 {
        return Err(Fail::usage("--count must be at least 1"));
    }
    let config = crate::policy::send_config(args)?;
    // The key is needed (and created on first use) only when we present one (profile P8).
    let key = if crate::policy::presents_key(&config) {
        KeyUse::Create
    } else {
        KeyUse::Never
    };
    let mut client = connect(global, config, key).await?;
    out.online(client.jid());
    let mut history = History::default();
    history.archive =
        crate::archiving::enable(&mut client, global, !args.logging.is_empty()).await?;
    let result = exchange(&mut client, &mut history, args, out).await;
    // XEP-0136 §5: upload the session's messages when its logging was `may`.
    let archived = crate::archiving::finish(&mut client, &mut history.archive, out).await;
    for ev in client
        .shutdown(Duration::from_secs(3))
        .await
        .unwrap_or_default()
    {
        out.event(&ev);
    }
    result.and(archived)
}

async fn exchange(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    args: &SendArgs,
    out: Out,
) -> Result<(), Fail> {
    let step = Duration::from_secs(args.timeout);
    let to = args.to.as_str();
    // XEP-0116 §3: check a full JID's support before negotiating.
    if jid::is_full(to) {
        match client.peer_supports_esessions(to, step).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Fail::protocol(
                    "unsupported",
                    format!(
                        "{to} does not support encrypted sessions (XEP-0116); nothing was sent"
                    ),
                ))
            }
            Err(XmppError::Stanza(c)) => {
                let why = format!("{to} cannot be reached ({c})");
                return send_offline(client, history, args, out, ("unavailable", &why)).await;
            }
            Err(XmppError::Timeout(_)) => {
                let why = format!("{to} did not answer disco#info");
                return send_offline(client, history, args, out, ("unavailable", &why)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let thread = client.engine_mut().start(to, Timestamp::now())?;
    let info = match established(client, history, out, &thread, step, to).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            let why = format!(
                "{to} did not answer within {}s (offline, or no ESession support)",
                step.as_secs()
            );
            return send_offline(client, history, args, out, ("timeout", &why)).await;
        }
        Err(f) => return Err(f.at(to, &thread)),
    };
    let in_session = |f: Fail| f.at(&info.peer, &thread);
    for _ in 0..args.count {
        client
            .engine_mut()
            .send_message(&info.peer, &thread, &args.message)?;
        history.archive.sent(&info.peer, &thread, &args.message);
    }
    client.flush().await?;
    if args.expect_echo {
        let expected = format!("echo: {}", args.message);
        let mut left = args.count;
        while left > 0 {
            let got = wait_for(client, history, out, step, |ev| match ev {
                Event::Message {
                    thread: Some(t),
                    body: Some(b),
                    encrypted: true,
                    ..
                } if *t == thread && *b == expected => Some(Ok(())),
                Event::Failed {
                    thread: t, error, ..
                } if *t == thread => Some(Err(Fail::from(error.clone()))),
                _ => None,
            })
            .await?;
            if got.is_none() {
                return Err(Fail::protocol(
                    "timeout",
                    format!("{left} echo(es) did not arrive within {}s", args.timeout),
                ));
            }
            left -= 1;
        }
    }
    client
        .engine_mut()
        .terminate(&info.peer, &thread, Timestamp::now())?;
    client.flush().await?;
    let acked = wait_for(client, history, out, step, |ev| match ev {
        Event::Terminated { thread: t, .. } if *t == thread => Some(Ok(())),
        Event::Failed {
            thread: t, error, ..
        } if *t == thread => Some(Err(Fail::from(error.clone()))),
        _ => None,
    })
    .await?;
    acked.ok_or_else(|| {
        in_session(Fail::protocol(
            "timeout",
            "the terminate was not acknowledged",
        ))
    })
}

/// The contact looks offline (`why`, a failure kind and its text): with `--allow-offline`,
/// send the messages in an offline session from her published options (XEP-0116 §4.1,
/// XEP-0187 §3.2–3.3, profile P11), one-shot with the terminate. Without the flag, or if she
/// published none, exit 1 with `why`'s kind; if none verifies with a key trusted for her
/// bare JID, exit 1 with the refusal's kind; nothing is sent in any of these cases.
async fn send_offline(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    args: &SendArgs,
    out: Out,
    (kind, why): (&'static str, &str),
) -> Result<(), Fail> {
    let alice = jid::bare(&args.to);
    if args.expect_echo {
        return Err(Fail::protocol(
            kind,
            format!("{why}; an offline contact cannot echo (--expect-echo); nothing was sent"),
        ));
    }
    // An offline session's key agreement uses the DH values Alice published in advance
    // (XEP-0187 §3.1), kept until she comes online, so it lacks the forward secrecy of an
    // online one: never without the user's consent (issue 11 §9).
    if !args.allow_offline {
        return Err(Fail::protocol(
            kind,
            format!(
                "{why}; {alice} looks offline and nothing was sent: --allow-offline would \
                 send in an offline session (XEP-0187), which has no forward secrecy"
            ),
        ));
    }
    // XEP-0187 §3.3: Bob always presents his key (`key` identity), so it is loaded (or
    // created) now if the online attempt did not need it.
    if client.engine().identity_key().is_none() {
        let own = jid::bare(client.jid()).to_owned();
        let key = crate::identity::load(client.engine_mut().store_mut(), &own, KeyUse::Create)?;
        client.engine_mut().set_identity_key(key);
    }
    let step = Duration::from_secs(args.timeout);
    let body = Element::new("body", ns::JABBER_CLIENT).with_text(args.message.as_str());
    let start = match client.start_offline(alice, vec![body], step).await {
        Ok(Some(start)) => start,
        Ok(None) => {
            return Err(Fail::protocol(
                kind,
                format!("{why}; {alice} published no offline options; nothing was sent"),
            ))
        }
        Err(OfflineError::Engine(e)) => {
            return Err(Fail::protocol(
                e.kind().name(),
                format!(
                    "{why}; the offline options of {alice} were refused: {e}; nothing was sent"
                ),
            ))
        }
        Err(OfflineError::Xmpp(e)) => return Err(e.into()),
    };
    let thread = start.thread.as_str();
    for _ in 1..args.count {
        client
            .engine_mut()
            .send_message(alice, thread, &args.message)
            .map_err(|e| Fail::from(e).at(alice, thread))?;
    }
    // XEP-0187 §3.3: one-shot; Bob's terminate is not acknowledged (profile P11).
    client
        .engine_mut()
        .terminate(alice, thread, Timestamp::now())
        .map_err(|e| Fail::from(e).at(alice, thread))?;
    client.flush().await?;
    while let Some(ev) = client.engine_mut().poll_event() {
        history.note(client, &ev);
        out.event(&ev);
    }
    out.sent_offline(alice, &start, args.count);
    Ok(())
}

/// Waits for the session on `thread` to be established: `None` when the peer did not
/// answer in time (the negotiation is abandoned); a refusal is exit 1 with nothing sent.
async fn established(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    out: Out,
    thread: &str,
    step: Duration,
    to: &str,
) -> Result<Option<SessionInfo>, Fail> {
    let got = wait_for(client, history, out, step, |ev| match ev {
        Event::Established(i) if i.thread == thread => Some(Ok(i.clone())),
        Event::Failed {
            thread: t, error, ..
        } if t == thread => Some(Err(Fail::protocol(
            error.kind().name(),
            format!("negotiation failed: {error}; nothing was sent"),
        ))),
        _ => None,
    })
    .await?;
    let Some(info) = got else {
        let _ = client.engine_mut().terminate(to, thread, Timestamp::now());
        return Ok(None);
    };
    if !info.encrypted {
        return Err(Fail::protocol(
            "plain",
            "the peer refused encryption; nothing was sent",
        ));
    }
    Ok(Some(info))
}
