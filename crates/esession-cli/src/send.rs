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
use esession::{BareJid, Event, SessionId, SessionInfo, Timestamp};
use esession_store::SqliteStore;
use esession_xmpp::{
    bounced_request, Client, OfflineFallback, OfflineSendError, Reach, Unreachable,
};
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
    out.online(client.jid().as_str());
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
    let to = crate::typed_jid::parse("--to", &args.to)?;
    let alice = to.to_bare();
    // XEP-0116 §3: check a full JID's support before negotiating.
    match client.reach(&to, step).await? {
        Reach::Negotiate => {}
        Reach::Offline(why) => return send_offline(client, history, args, &alice, out, why).await,
        // Reach::Unsupported: the full JID answered without the feature.
        _ => {
            return Err(Fail::protocol(
                "unsupported",
                format!("{to} does not support encrypted sessions (XEP-0116); nothing was sent"),
            ))
        }
    }
    let session = client.engine_mut().start(&to, Timestamp::now())?;
    let info = match established(client, history, out, &session, to.as_str(), step).await {
        Ok(Ok(info)) => info,
        Ok(Err(why)) => return send_offline(client, history, args, &alice, out, why).await,
        Err(f) => return Err(f.at(to.as_str(), session.thread())),
    };
    let in_session = |f: Fail| f.at(info.peer.as_str(), session.thread());
    for _ in 0..args.count {
        client.engine_mut().send_message(&session, &args.message)?;
        history.archive.sent(&session, &args.message);
    }
    client.flush().await?;
    if args.expect_echo {
        let expected = format!("echo: {}", args.message);
        let mut left = args.count;
        while left > 0 {
            let got = wait_for(client, history, out, step, |ev| match ev {
                Event::Message {
                    session: Some(s),
                    body: Some(b),
                    encrypted: true,
                    ..
                } if *s == session && *b == expected => Some(Ok(())),
                Event::Failed {
                    session: s, error, ..
                } if *s == session => Some(Err(Fail::from(error.clone()))),
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
    client.engine_mut().terminate(&session, Timestamp::now())?;
    client.flush().await?;
    let acked = wait_for(client, history, out, step, |ev| match ev {
        Event::Terminated { session: s, .. } if *s == session => Some(Ok(())),
        Event::Failed {
            session: s, error, ..
        } if *s == session => Some(Err(Fail::from(error.clone()))),
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

/// The contact looks offline (`why`): with `--allow-offline`, send the messages in an
/// offline session from her published options ([`Client::send_offline`]). Without the flag,
/// or if she published none, exit 1 with `why`'s kind; if none verifies with a key trusted
/// for her bare JID, exit 1 with the refusal's kind; nothing is sent in any of these cases.
async fn send_offline(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    args: &SendArgs,
    alice: &BareJid,
    out: Out,
    why: Unreachable,
) -> Result<(), Fail> {
    let fallback = OfflineFallback {
        allowed: args.allow_offline,
        expects_answers: args.expect_echo,
    };
    let why = fallback.check(why).map_err(|e| offline_fail(e, alice))?;
    // XEP-0187 §3.3: Bob always presents his key (`key` identity), so it is loaded (or
    // created) now if the online attempt did not need it.
    if client.engine().identity_key().is_none() {
        let own = client.jid().to_bare().to_string();
        let key = crate::identity::load(client.engine_mut().store_mut(), &own, KeyUse::Create)?;
        client.engine_mut().set_identity_key(key);
    }
    let step = Duration::from_secs(args.timeout);
    let start = client
        .send_offline(alice, why, &args.message, args.count, step)
        .await
        .map_err(|e| offline_fail(e, alice))?;
    while let Some(ev) = client.engine_mut().poll_event() {
        history.note(client, &ev);
        out.event(&ev);
    }
    out.sent_offline(alice.as_str(), &start, args.count);
    Ok(())
}

/// The failure of an offline send to `alice`, worded for the command's flags.
fn offline_fail(e: OfflineSendError, alice: &BareJid) -> Fail {
    match e {
        OfflineSendError::CannotAnswer(why) => Fail::protocol(
            why.kind(),
            format!("{why}; an offline contact cannot echo (--expect-echo); nothing was sent"),
        ),
        OfflineSendError::NotAllowed(why) => Fail::protocol(
            why.kind(),
            format!(
                "{why}; {alice} looks offline and nothing was sent: --allow-offline would \
                 send in an offline session (XEP-0187), which has no forward secrecy"
            ),
        ),
        OfflineSendError::NoOptions(why) => Fail::protocol(
            why.kind(),
            format!("{why}; {alice} published no offline options; nothing was sent"),
        ),
        OfflineSendError::Refused { why, error } => Fail::protocol(
            error.kind().name(),
            format!(
                "{why}; the offline options of {alice} were refused: {error}; nothing was sent"
            ),
        ),
        OfflineSendError::Session { thread, error } => {
            Fail::from(error).at(alice.as_str(), &thread)
        }
        OfflineSendError::Xmpp(e) => e.into(),
        e => Fail::protocol("offline", e.to_string()),
    }
}

/// Waits for `session` with `to` to be established: why `to` looks offline when the
/// server bounced the request or the peer did not answer in time (the negotiation is
/// abandoned); a refusal is exit 1 with nothing sent.
async fn established(
    client: &mut Client<SqliteStore>,
    history: &mut History,
    out: Out,
    session: &SessionId,
    to: &str,
    step: Duration,
) -> Result<Result<SessionInfo, Unreachable>, Fail> {
    let got = wait_for(client, history, out, step, |ev| match ev {
        Event::Established(i) if i.id == *session => Some(Ok(Ok(i.clone()))),
        Event::Failed {
            session: s, error, ..
        } if s == session => Some(match bounced_request(to, error) {
            // The server bounced the request (its <no-store/> hint): the contact is offline.
            Some(why) => Ok(Err(why)),
            None => Err(Fail::protocol(
                error.kind().name(),
                format!("negotiation failed: {error}; nothing was sent"),
            )),
        }),
        _ => None,
    })
    .await?;
    let info = match got {
        Some(Ok(info)) => info,
        Some(Err(why)) => return Ok(Err(why)),
        None => {
            // Issue 13: Gajim 1.0 crashes on 1 in 128 of the counters it draws (its bug B1);
            // that silence is not the contact being offline, and trying again works.
            let gajim_bug = client.engine().stalled_by_gajim_bug(session);
            let _ = client.engine_mut().terminate(session, Timestamp::now());
            if gajim_bug {
                return Err(Fail::protocol(
                    "timeout",
                    format!(
                        "the negotiation did not finish within {}s: {}; nothing was sent",
                        step.as_secs(),
                        esession::GAJIM_STALL
                    ),
                ));
            }
            return Ok(Err(Unreachable::NoAnswer {
                to: to.to_owned(),
                secs: step.as_secs(),
            }));
        }
    };
    if !info.encrypted {
        return Err(Fail::protocol(
            "plain",
            "the peer refused encryption; nothing was sent",
        ));
    }
    Ok(Ok(info))
}
