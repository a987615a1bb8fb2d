//! One session per (peer bare JID, thread) (XEP-0201, XEP-0155 §4.2): what every state
//! shares ([`Common`]) and the state machine ([`State`]).
use super::admission::Bucket;
use super::summary::Summary;
use crate::channel::Channel;
use crate::config::{Logging, StanzaKind};
use crate::error::Usage;
use crate::event::Role;
use crate::negotiation::initiator::{AwaitingInit, Offer};
use crate::negotiation::responder::AwaitingResult;
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::negotiation::terms::Terms;
use crate::session_id::{Route, SessionId};
use crate::time::Timestamp;
use crate::xml::Element;
use jid::Jid;

/// The id of the session with `peer` (bare or full JID) on `thread`: how the engine finds
/// it (XEP-0201).
pub(super) fn key(peer: &Jid, thread: &str) -> SessionId {
    SessionId::new(peer.to_bare(), thread)
}

/// [`key`], borrowed from `peer` and `thread`: the bare JID is the normalized JID
/// without its `/resource` (RFC 7622 §3.1), which is how `Jid::to_bare` writes it too.
pub(super) fn route<'a>(peer: &'a Jid, thread: &'a str) -> Route<'a> {
    let full = peer.as_str();
    let bare = match peer.resource() {
        Some(resource) => full
            .len()
            .checked_sub(resource.len() + 1)
            .and_then(|end| full.get(..end))
            .unwrap_or(full),
        None => full,
    };
    Route { peer: bare, thread }
}

/// A session: what stays across its states, and its state.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Session {
    pub(super) common: Common,
    pub(super) state: State,
}

/// Who the session is with (XEP-0155 §4.2, profile P6).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) enum Peer {
    /// The JID the initiator addressed (bare or full), until a responder answers.
    Addressed(Jid),
    /// The full JID of the first valid responder (or of the initiator; for an offline
    /// session, the address of the options).
    Bound(Jid),
}

/// What a session keeps in every state.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Common {
    pub(super) peer: Peer,
    pub(super) id: SessionId,
    pub(super) role: Role,
    /// Set for a session of an offline exchange (XEP-0187).
    pub(super) offline: Option<OfflineRole>,
    /// When the current wait ends (negotiation answer or terminate acknowledgement).
    pub(super) deadline: Option<Timestamp>,
}

/// Where a session is in the XEP-0155 state chart and the XEP-0116 flow.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) enum State {
    /// Initiator: message 1 sent.
    Offered(Box<Offer>),
    /// Initiator: message 3 sent.
    AwaitingInit(Box<AwaitingInit>),
    /// Responder: message 2 sent.
    Responded(Box<AwaitingResult>),
    /// Responder: accepted a plain stanza session; waiting for the completion.
    PlainPending(Box<Terms>),
    /// A plain (unencrypted) stanza session (`security` = `c2s` or `none`).
    Plain(Box<Open>),
    /// An established ESession.
    Encrypted(Box<Secure>),
    /// We sent an encrypted terminate; waiting for its acknowledgement (P10).
    Terminating(Box<Closing>),
}

/// What an established session (plain or encrypted) keeps.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Open {
    /// What the person is told about the session (with [`Common`]).
    pub(super) summary: Summary,
    /// Whether this session created a retained-secret record (profile P7). Its
    /// [`SecretId`](crate::store::SecretId) is not kept: a SAS confirmation finds it again from our bare JID and
    /// the full JID the session is bound to, the JIDs it was made from.
    pub(super) retained: bool,
    /// The `logging` values we offered in a renegotiation awaiting its answer.
    pub(super) renegotiating: Option<Box<[Logging]>>,
}

/// An established ESession.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Secure {
    pub(super) open: Open,
    pub(super) channel: Channel,
    /// When the next stanza we send carries a `<key/>` (XEP-0200 §9 policy).
    pub(super) pacing: Pacing,
}

/// An ESession whose terminate we sent (profile P10): it only receives.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Closing {
    pub(super) open: Open,
    pub(super) channel: Channel,
}

impl State {
    /// Whether the negotiation is still in progress.
    pub(super) fn negotiating(&self) -> bool {
        matches!(
            self,
            State::Offered(_)
                | State::AwaitingInit(_)
                | State::Responded(_)
                | State::PlainPending(_)
        )
    }

    /// The established session, in any state that has one.
    pub(super) fn open(&self) -> Option<&Open> {
        match self {
            State::Plain(open) => Some(open),
            State::Encrypted(secure) => Some(&secure.open),
            State::Terminating(closing) => Some(&closing.open),
            _ => None,
        }
    }

    /// The established session, mutably.
    pub(super) fn open_mut(&mut self) -> Option<&mut Open> {
        match self {
            State::Plain(open) => Some(open),
            State::Encrypted(secure) => Some(&mut secure.open),
            State::Terminating(closing) => Some(&mut closing.open),
            _ => None,
        }
    }

    /// Whether stanzas of `kind` were negotiated for this session.
    pub(super) fn negotiated(&self, kind: StanzaKind) -> bool {
        self.open().is_some_and(|o| o.summary.protects(kind))
    }

    /// The usage error for an operation this state does not allow.
    pub(super) fn wrong(&self) -> Usage {
        Usage::WrongState(match self {
            State::Offered(_)
            | State::AwaitingInit(_)
            | State::Responded(_)
            | State::PlainPending(_) => "negotiating",
            State::Plain(_) => "plain",
            State::Encrypted(_) => "encrypted",
            State::Terminating(_) => "terminating",
        })
    }
}

impl Peer {
    /// The JID: as addressed until bound, then the full JID that answered.
    pub(super) fn jid(&self) -> &Jid {
        match self {
            Peer::Addressed(j) | Peer::Bound(j) => j,
        }
    }
}

impl Common {
    /// The [`SessionInfo`](crate::SessionInfo) of this session, from its `summary`.
    pub(super) fn info(&self, summary: &Summary) -> crate::event::SessionInfo {
        summary.info(
            self.id.clone(),
            self.peer().clone(),
            self.role,
            self.offline.is_some(),
        )
    }

    /// The peer's JID (see [`Peer::jid`]).
    pub(super) fn peer(&self) -> &Jid {
        self.peer.jid()
    }

    /// Whether a stanza from `from` belongs to this session (P6: the session binds to
    /// the first valid responder's full JID; other resources are ignored).
    pub(super) fn accepts_from(&self, from: &Jid) -> bool {
        match &self.peer {
            Peer::Addressed(addr) if addr.is_bare() => from.to_bare() == *addr,
            Peer::Addressed(jid) | Peer::Bound(jid) => jid == from,
        }
    }

    /// The thread (XEP-0201).
    pub(super) fn thread(&self) -> &str {
        self.id.thread()
    }

    /// XEP-0155 §4.2 / profile P6: the initiator's session binds to the full JID of the
    /// first valid responder; returns our answer to it (carrying `x`).
    pub(super) fn bind(&mut self, from: &Jid, x: Element) -> Element {
        self.peer = Peer::Bound(from.clone());
        negotiation_message(from.as_str(), self.thread(), Wrapper::Feature, x, false)
    }
}

/// How a session came from offline options (XEP-0187, profile P11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OfflineRole {
    /// Alice: opened from an offline init; she never sends in it.
    Received,
    /// Bob: started from Alice's options; nothing comes back, the terminate is not
    /// acknowledged, and with `match_resource` every stanza carries the AMP rule.
    Sent { match_resource: bool },
}

/// Per-session re-key pacing: engine policy, not protocol state.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pacing {
    /// When we last sent an encrypted stanza in the session (or it was established).
    pub(super) last_sent: Timestamp,
    /// `Engine::rekey` asked for a `<key/>` on the next stanza that may carry one.
    pub(super) requested: bool,
    /// The peer's `<key/>`s (issue 11 §3: each costs us a modular exponentiation).
    pub(super) peer_rekeys: Bucket,
}

impl Pacing {
    /// Pacing of a session established at `now`.
    pub(super) fn since(now: Timestamp) -> Self {
        Pacing {
            last_sent: now,
            requested: false,
            peer_rekeys: Bucket::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_id::Keyed;

    #[test]
    fn a_route_is_the_key_borrowed() {
        for jid in [
            "bob@example.com",
            "bob@example.com/laptop",
            "example.com",
            "example.com/res",
            "bob@example.com/a/b@c",
            "Bob@EXAMPLE.com/Laptop",
        ] {
            let jid = Jid::new(jid).unwrap();
            let (owned, borrowed) = (key(&jid, "t"), route(&jid, "t"));
            assert_eq!(borrowed.peer, jid.to_bare().as_str(), "{jid}");
            assert!(&owned as &dyn Keyed == &borrowed as &dyn Keyed, "{jid}");
        }
    }
}
