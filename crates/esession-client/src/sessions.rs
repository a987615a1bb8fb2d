//! The one place this crate calls the engine: sessions named by (full JID, thread), the
//! engine's events translated for the conversations. When the engine names sessions by a
//! handle, only this module changes.
use esession::xml::{ns, Element};
use esession::{EndedBy, Engine, Error, Event, SecretStore, SessionInfo, Timestamp};

use crate::receipts;

/// One session of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRef {
    /// The peer's full JID.
    pub full: String,
    /// The XEP-0201 thread.
    pub thread: String,
}

/// What the engine reported, per session.
#[derive(Debug)]
pub(crate) enum SessionEvent {
    Established(SessionRef, SessionInfo),
    Message {
        from: String,
        /// The session it came through (decrypted), `None` in clear.
        session: Option<SessionRef>,
        stanza: Element,
        body: Option<String>,
    },
    Ended {
        session: SessionRef,
        by: Option<EndedBy>,
        reason: String,
    },
    Warning {
        peer: String,
        detail: String,
    },
}

/// Starts a negotiation with `full` (XEP-0155 §4.1).
pub(crate) fn start<S: SecretStore>(
    engine: &mut Engine<S>,
    full: &str,
    now: Timestamp,
) -> Result<SessionRef, Error> {
    let thread = engine.start(full, now)?;
    Ok(SessionRef {
        full: full.to_owned(),
        thread,
    })
}

/// Sends `body` as message `id` in `session`, asking for a receipt (XEP-0184 §4); the
/// engine encrypts the body and the request (XEP-0200 §5).
pub(crate) fn send_body<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    id: &str,
    body: &str,
) -> Result<(), Error> {
    let msg = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("type", "chat")
        .with_attr("id", id)
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text(body))
        .with_child(receipts::request());
    engine.send_stanza(&session.full, &session.thread, msg)
}

/// Acknowledges message `id` in `session` (XEP-0184 §4), encrypted like any content.
pub(crate) fn send_receipt<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    id: &str,
) -> Result<(), Error> {
    let msg = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("type", "chat")
        .with_child(receipts::received(id));
    engine.send_stanza(&session.full, &session.thread, msg)
}

/// Ends `session` (XEP-0116 §5).
pub(crate) fn end<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    now: Timestamp,
) -> Result<(), Error> {
    engine.terminate(&session.full, &session.thread, now)
}

/// Compares the SAS read by the user with `session`'s (XEP-0116 §7.3).
pub(crate) fn verify<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    sas: &str,
) -> Result<bool, Error> {
    engine.verify_sas(&session.full, &session.thread, sas)
}

/// The summary of an established `session`.
pub(crate) fn info<S: SecretStore>(
    engine: &Engine<S>,
    session: &SessionRef,
) -> Option<SessionInfo> {
    engine.session(&session.full, &session.thread)
}

/// The next engine event, per session.
pub(crate) fn poll<S: SecretStore>(engine: &mut Engine<S>) -> Option<SessionEvent> {
    Some(match engine.poll_event()? {
        Event::Established(info) | Event::Renegotiated(info) => SessionEvent::Established(
            SessionRef {
                full: info.peer.clone(),
                thread: info.thread.clone(),
            },
            info,
        ),
        Event::Message {
            peer,
            thread,
            body,
            stanza,
            encrypted,
            ..
        } => SessionEvent::Message {
            session: thread.filter(|_| encrypted).map(|thread| SessionRef {
                full: peer.clone(),
                thread,
            }),
            from: peer,
            stanza,
            body,
        },
        Event::Terminated { peer, thread, by } => SessionEvent::Ended {
            session: SessionRef { full: peer, thread },
            by: Some(by),
            reason: "terminated".into(),
        },
        Event::Failed {
            peer,
            thread,
            error,
        } => SessionEvent::Ended {
            session: SessionRef { full: peer, thread },
            by: None,
            reason: error.to_string(),
        },
        Event::Warning { peer, detail, .. } => SessionEvent::Warning {
            peer,
            detail: detail.to_string(),
        },
        // Encrypted presence and iq are not negotiated by this layer; re-keys change
        // nothing a conversation shows.
        Event::Stanza { .. } | Event::Rekeyed { .. } => return poll(engine),
    })
}
