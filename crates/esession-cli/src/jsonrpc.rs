//! `esession jsonrpc`: the conversation layer for programs. JSON-RPC 2.0, one object per
//! line: requests on stdin, responses and notifications on stdout. Ends on end of input,
//! Ctrl-C or SIGTERM, terminating every session first (XEP-0116 §5).
mod framing;

use crate::args::{Global, JsonrpcArgs};
use crate::driver;
use crate::fail::Fail;
use esession_client::history::Entry;
use esession_client::{Account, ClientEvent, DeliveryState, Opening};
use esession_store::SqliteStore;
use framing::{RpcError, FAILED, METHOD_NOT_FOUND};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::time::Duration;

/// Seconds to wait for the acknowledgements of our terminates at exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Messages `history` returns when no `limit` is given.
const HISTORY_LIMIT: usize = 50;

pub(crate) async fn run(global: &Global, args: &JsonrpcArgs) -> Result<(), Fail> {
    let mut account = crate::account::online_conversations(global, args).await?;
    write(&framing::notification(
        "online",
        json!({"jid": account.jid()}),
    ));
    let mut input = driver::read_lines(|| std::io::stdin().lock().lines().map_while(Result::ok));
    let outcome = driver::serve(&mut account, &mut Requests, &mut input).await;
    if let Err(f) = &outcome {
        write(&framing::notification(
            "error",
            json!({"kind": f.kind, "message": f.message}),
        ));
    }
    // Sessions are ended even after a failure; the first failure is the one reported.
    let closed = account.shutdown(SHUTDOWN_WAIT).await;
    for ev in closed.iter().flatten() {
        write(&event(ev));
    }
    outcome.and(closed.map(drop).map_err(Fail::from))
}

/// Requests answered and events reported, one JSON object a line.
struct Requests;

impl driver::Lines for Requests {
    async fn line(
        &mut self,
        account: &mut Account<SqliteStore>,
        line: String,
    ) -> Result<bool, Fail> {
        if !line.trim().is_empty() {
            if let Some(answer) = request(account, &line).await? {
                write(&answer);
            }
        }
        Ok(true)
    }

    fn event(&mut self, ev: &ClientEvent) {
        write(&event(ev));
    }
}

/// The answer to `start`: what was done, with the resource a negotiation was started
/// with.
fn opened(opening: &Opening) -> Value {
    match opening {
        Opening::Started(full) => json!({"session": "started", "resource": full}),
        Opening::Negotiating => json!({"session": "negotiating"}),
        Opening::Established => json!({"session": "established"}),
    }
}

/// The answer to one request line (`None` for a notification, JSON-RPC 2.0 §4.1).
async fn request(account: &mut Account<SqliteStore>, line: &str) -> Result<Option<Value>, Fail> {
    let req = match framing::parse(line) {
        Ok(r) => r,
        Err((id, e)) => return Ok(Some(framing::error(id, &e))),
    };
    let answer = method(account, &req).await?;
    Ok(req.id.map(|id| match answer {
        Ok(v) => framing::result(id, v),
        Err(e) => framing::error(id, &e),
    }))
}

/// Runs one method: `Err` of the outer result is a connection failure (fatal), of the
/// inner one an error answer.
async fn method(
    account: &mut Account<SqliteStore>,
    req: &framing::Request,
) -> Result<Result<Value, RpcError>, Fail> {
    Ok(Ok(match req.method.as_str() {
        "send" => {
            let (to, body) = match (req.jid("to"), req.text("body")) {
                (Ok(to), Ok(body)) => (to, body),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
            };
            let (id, state) = account.send(&to, body).await?;
            json!({"id": id, "state": state.name(), "reason": state.reason(),
                   "forward_secrecy": state.forward_secrecy()})
        }
        "roster" => roster(account),
        // After `signed_out`: signs in again (the user's choice; it signs the other out).
        "reconnect" => json!({"reconnecting": account.reconnect()}),
        "status" => status(account),
        // A session negotiated now, before any message (the tui's `/start`).
        "start" => match req.jid("jid") {
            Ok(jid) => match account.start_session(&jid).await? {
                Ok(opening) => opened(&opening),
                Err(m) => return Ok(Err(RpcError::new(FAILED, m))),
            },
            Err(e) => return Ok(Err(e)),
        },
        "end" => match req.jid("jid") {
            Ok(jid) => json!({"ended": account.end(&jid).await?}),
            Err(e) => return Ok(Err(e)),
        },
        "rename" => {
            // XEP-0116 §7.4: a petname for the key the contact presented; null removes it.
            let jid = match req.jid("jid") {
                Ok(j) => j,
                Err(e) => return Ok(Err(e)),
            };
            let petname = match req.optional_text("petname") {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            match account.rename(&jid, petname) {
                Ok(fp) => json!({"fingerprint": fp, "petname": petname}),
                Err(m) => return Ok(Err(RpcError::new(FAILED, m))),
            }
        }
        "verify" => {
            let (jid, sas) = match (req.jid("jid"), req.text("sas")) {
                (Ok(j), Ok(s)) => (j, s),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
            };
            match account.verify(&jid, sas) {
                // Profile P15 "Display": which SAS matched, and the caveat of a classic one.
                Ok(verified) => {
                    let alg = account.session_info(&jid).and_then(|i| i.sas_alg);
                    json!({"verified": verified, "sas_alg": alg.map(esession::SasAlg::name),
                           "caveat": alg.and_then(esession::SasAlg::caveat)})
                }
                Err(m) => return Ok(Err(RpcError::new(FAILED, m))),
            }
        }
        "history" => {
            let (jid, limit) = match (req.jid("jid"), req.count("limit", HISTORY_LIMIT)) {
                (Ok(j), Ok(l)) => (j, l),
                (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
            };
            match account.history(&jid, limit) {
                Ok(page) => json!({
                    "messages": page.entries.iter().map(entry).collect::<Vec<_>>(),
                    "altered": page.altered,
                }),
                Err(m) => return Ok(Err(RpcError::new(FAILED, m))),
            }
        }
        "add" => match req.jid("jid") {
            Ok(jid) => {
                account.add(&jid).await?;
                json!({})
            }
            Err(e) => return Ok(Err(e)),
        },
        "approve" => match req.jid("jid") {
            Ok(jid) => {
                account.approve(&jid).await?;
                json!({})
            }
            Err(e) => return Ok(Err(e)),
        },
        "remove" => match req.jid("jid") {
            Ok(jid) => {
                account.remove(&jid).await?;
                json!({})
            }
            Err(e) => return Ok(Err(e)),
        },
        "deny" => match req.jid("jid") {
            Ok(jid) => {
                account.deny(&jid).await?;
                json!({})
            }
            Err(e) => return Ok(Err(e)),
        },
        other => {
            return Ok(Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("method not found: {other}"),
            )))
        }
    }))
}

/// One message of the history.
fn entry(e: &Entry) -> Value {
    let m = &e.message;
    json!({"peer": m.peer, "direction": m.direction.name(), "at": m.at.to_datetime(),
           "id": m.id, "body": m.body, "kept": e.kept.name()})
}

fn roster(account: &Account<SqliteStore>) -> Value {
    let convs = account.conversations();
    let items: Vec<Value> = convs
        .roster()
        .items()
        .map(|i| {
            let resources: Vec<Value> = convs
                .presences()
                .resources(&i.jid)
                .map(|(full, r)| {
                    json!({"jid": full, "show": r.show.name(), "esessions": r.esessions,
                           "caps_node": r.caps.as_ref().map(|c| c.node.as_str())})
                })
                .collect();
            json!({
                "jid": i.jid,
                "name": i.name,
                "subscription": i.subscription.name(),
                "pending": i.pending_out,
                "resources": resources,
            })
        })
        .collect();
    Value::Array(items)
}

fn status(account: &Account<SqliteStore>) -> Value {
    let list: Vec<Value> = account
        .conversations()
        .conversations()
        .map(|(peer, c)| {
            let sessions: Vec<Value> = c
                .sessions()
                .map(|s| json!({"jid": s.full, "thread": s.thread()}))
                .collect();
            json!({
                "peer": peer,
                "sessions": sessions,
                "shield": account.shield(peer).name(),
                "unacknowledged": c.unacknowledged().len(),
            })
        })
        .collect();
    json!({"jid": account.jid(), "conversations": list})
}

/// The notification of one event.
fn event(ev: &ClientEvent) -> Value {
    let (method, params) = match ev {
        ClientEvent::Roster(i) => (
            "roster",
            json!({"jid": i.jid, "name": i.name, "subscription": i.subscription.name(),
                   "pending": i.pending_out}),
        ),
        ClientEvent::Presence {
            jid,
            show,
            esessions,
        } => (
            "presence",
            json!({"jid": jid, "show": show.map_or("unavailable", |s| s.name()),
                   "esessions": esessions}),
        ),
        ClientEvent::SubscriptionRequest { jid } => ("subscription", json!({"jid": jid})),
        ClientEvent::SubscriptionAnswer { jid, approved } => (
            "subscription_answer",
            json!({"jid": jid, "approved": approved}),
        ),
        ClientEvent::Established {
            peer,
            full,
            thread,
            sas,
            sas_alg,
            shield,
            adopted,
            kept,
            petname,
            compat,
        } => (
            "established",
            json!({"peer": peer, "jid": full, "thread": thread, "sas": sas,
                   "sas_alg": sas_alg.map(esession::SasAlg::name),
                   "caveat": sas_alg.and_then(esession::SasAlg::caveat),
                   "shield": shield.name(), "adopted": adopted, "kept": kept.name(),
                   "petname": petname, "compat": compat.map(esession::Compat::name),
                   "compat_costs": compat.map(esession::Compat::costs)}),
        ),
        ClientEvent::Message {
            peer,
            full,
            body,
            encrypted,
            offline,
            id,
            kept,
        } => (
            "message",
            json!({"peer": peer, "jid": full, "body": body, "encrypted": encrypted,
                   "offline": offline, "id": id, "kept": kept.name()}),
        ),
        ClientEvent::Receipt { peer, id, state } => ("receipt", receipt(peer, id, state)),
        ClientEvent::Terminated {
            peer,
            full,
            thread,
            reason,
        } => (
            "terminated",
            json!({"peer": peer, "jid": full, "thread": thread, "reason": reason}),
        ),
        ClientEvent::ConnectionLost { reason } => ("connection_lost", json!({"reason": reason})),
        // A stable reason (the RFC 6120 condition, e.g. `conflict`): nothing reconnects
        // until the `reconnect` method.
        ClientEvent::SignedOut { jid, why, text } => (
            "signed_out",
            json!({"reason": why.name(), "jid": jid, "detail": why.explain(jid),
                   "server_text": text}),
        ),
        ClientEvent::Reconnecting {
            attempt,
            in_secs,
            error,
        } => (
            "reconnecting",
            json!({"attempt": attempt, "in_secs": in_secs, "error": error}),
        ),
        ClientEvent::Online { jid } => ("online", json!({"jid": jid})),
        ClientEvent::Warning {
            peer,
            thread,
            detail,
        } => (
            "warning",
            json!({"peer": peer, "thread": thread, "detail": detail}),
        ),
    };
    framing::notification(method, params)
}

fn receipt(peer: &str, id: &str, state: &DeliveryState) -> Value {
    json!({"peer": peer, "id": id, "state": state.name(), "reason": state.reason(),
           "forward_secrecy": state.forward_secrecy()})
}

/// Writes one line to stdout, flushed (a reader may wait for it).
fn write(v: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout ends nothing: requests and sessions still end cleanly.
    let _ = writeln!(out, "{}", crate::sanitize::json_line(v));
    let _ = out.flush();
}
