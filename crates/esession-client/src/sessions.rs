//! The one place this crate calls the engine: sessions named by the engine's handle (with
//! the full JID they are bound to), the engine's events translated for the conversations.
use esession::xml::{ns, Element};
use esession::Timestamp;
use esession::{EndedBy, Engine, Error, Event, Jid, SecretStore, SessionId, SessionInfo, Warning};

use crate::receipts;

/// One session of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRef {
    /// The engine's handle of the session.
    pub id: SessionId,
    /// The peer's full JID (the one we addressed while negotiating).
    pub full: String,
}

impl SessionRef {
    fn new(id: SessionId, peer: &Jid) -> Self {
        SessionRef {
            id,
            full: peer.to_string(),
        }
    }

    /// The XEP-0201 thread.
    pub fn thread(&self) -> &str {
        self.id.thread()
    }

    /// The contact's bare JID.
    pub fn bare(&self) -> &str {
        self.id.peer().as_str()
    }
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
    /// Our terminate of the session was not acknowledged in time (profile P10).
    TerminateUnacknowledged(SessionRef),
    Warning {
        peer: String,
        /// The thread of the session concerned, if the stanza named one.
        thread: Option<String>,
        detail: String,
    },
}

/// Starts a negotiation with `full` (XEP-0155 §4.1).
pub(crate) fn start<S: SecretStore>(
    engine: &mut Engine<S>,
    full: &Jid,
    now: Timestamp,
) -> Result<SessionRef, Error> {
    let id = engine.start(full, now)?;
    Ok(SessionRef::new(id, full))
}

/// Sends `body` as message `id` in `session`, asking for a receipt (XEP-0184 §4) if
/// `receipt`; the engine encrypts the body and the request (XEP-0200 §5).
pub(crate) fn send_body<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    id: &str,
    body: &str,
    receipt: bool,
) -> Result<(), Error> {
    let body = Element::new("body", ns::JABBER_CLIENT).with_text(body);
    let request = receipt.then(receipts::request);
    let msg = esession::stanza::chat([body].into_iter().chain(request)).with_attr("id", id);
    engine.send_stanza(&session.id, msg)
}

/// Acknowledges message `id` in `session` (XEP-0184 §4), encrypted like any content.
pub(crate) fn send_receipt<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    id: &str,
) -> Result<(), Error> {
    engine.send_content(&session.id, vec![receipts::received(id)])
}

/// Ends `session` (XEP-0116 §5).
pub(crate) fn end<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    now: Timestamp,
) -> Result<(), Error> {
    engine.terminate(&session.id, now)
}

/// Compares the SAS read by the user with `session`'s (XEP-0116 §7.3).
pub(crate) fn verify<S: SecretStore>(
    engine: &mut Engine<S>,
    session: &SessionRef,
    sas: &str,
) -> Result<bool, Error> {
    engine.verify_sas(&session.id, sas)
}

/// The summary of an established `session`.
pub(crate) fn info<S: SecretStore>(
    engine: &Engine<S>,
    session: &SessionRef,
) -> Option<SessionInfo> {
    engine.session(&session.id)
}

/// The next engine event, per session.
pub(crate) fn poll<S: SecretStore>(engine: &mut Engine<S>) -> Option<SessionEvent> {
    Some(match engine.poll_event()? {
        Event::Established(info) | Event::Renegotiated(info) => {
            SessionEvent::Established(SessionRef::new(info.id.clone(), &info.peer), info)
        }
        Event::Message {
            peer,
            session,
            body,
            stanza,
            encrypted,
            ..
        } => SessionEvent::Message {
            session: session
                .filter(|_| encrypted)
                .map(|id| SessionRef::new(id, &peer)),
            from: peer.to_string(),
            stanza,
            body,
        },
        Event::Terminated { peer, session, by } => SessionEvent::Ended {
            session: SessionRef::new(session, &peer),
            by: Some(by),
            reason: "terminated".into(),
        },
        Event::Failed {
            peer,
            session,
            error,
        } => SessionEvent::Ended {
            session: SessionRef::new(session, &peer),
            by: None,
            reason: error.to_string(),
        },
        Event::Warning {
            peer,
            session: Some(id),
            detail: Warning::TerminateUnacknowledged,
        } => SessionEvent::TerminateUnacknowledged(SessionRef::new(id, &peer)),
        Event::Warning {
            peer,
            session,
            detail,
        } => SessionEvent::Warning {
            peer: peer.to_string(),
            thread: session.map(|s| s.thread().to_owned()),
            detail: detail.to_string(),
        },
        // Encrypted presence and iq are not negotiated by this layer; re-keys change
        // nothing a conversation shows.
        Event::Stanza { .. } | Event::Rekeyed { .. } => return poll(engine),
    })
}
