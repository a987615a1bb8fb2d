//! `esession history JID`: the local history with a contact, read from the store (the
//! messages of sessions whose `logging` was `may`; issue 10).
use crate::account::{open_store, own_jid};
use crate::args::{Global, HistoryArgs};
use crate::fail::Fail;
use crate::output::Out;
use crate::sanitize::safe;
use esession_store::Direction;
use serde_json::json;

pub(crate) fn run(global: &Global, args: &HistoryArgs, out: Out) -> Result<(), Fail> {
    let jid = own_jid(global)?;
    let own = esession::jid::bare(&jid);
    let peer = esession::jid::bare(&args.contact);
    // Sealed under the device key: no passphrase needed.
    let store = open_store(global, &jid, None)?;
    let history = store.messages_with(own, peer, args.limit)?;
    if history.altered > 0 {
        eprintln!(
            "esession: warning: {} message(s) with {} were altered in the store and are not \
             shown",
            history.altered,
            safe(peer)
        );
    }
    if history.messages.is_empty() && !out.json {
        out.emit(json!(null), &format!("no history with {}", safe(peer)));
    }
    for m in &history.messages {
        let who = match m.direction {
            Direction::Sent => own,
            Direction::Received => peer,
        };
        out.emit(
            json!({"peer": m.peer, "direction": m.direction.name(), "at": m.at.to_datetime(),
                   "id": m.id, "body": m.body}),
            // The body and the JIDs come from other people: made safe for a terminal line.
            &format!("{} {}: {}", m.at.to_datetime(), safe(who), safe(&m.body)),
        );
    }
    Ok(())
}
