//! One session per (peer bare JID, thread) (XEP-0201, XEP-0155 §4.2) and its state.
use crate::channel::Channel;
use crate::event::{Role, SessionInfo};
use crate::negotiation::initiator::{AwaitingInit, Offer};
use crate::negotiation::responder::AwaitingResult;
use crate::negotiation::terms::Terms;
use crate::store::SecretId;
use crate::time::Timestamp;

/// Where a session is in the XEP-0155 state chart and the XEP-0116 flow.
pub(crate) enum State {
    /// Initiator: message 1 sent.
    Offered(Box<Offer>),
    /// Initiator: message 3 sent.
    AwaitingInit(Box<AwaitingInit>),
    /// Responder: message 2 sent.
    Responded(Box<AwaitingResult>),
    /// Responder: accepted a plain stanza session; waiting for the completion.
    PlainPending(Terms),
    /// A plain (unencrypted) stanza session (`security` = `c2s` or `none`).
    Plain,
    /// An established ESession.
    Encrypted(Channel),
    /// We sent an encrypted terminate; waiting for its acknowledgement (P10).
    Terminating(Channel),
    /// Transitional: the state was taken out to be advanced.
    Taken,
}

impl State {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::Offered(_)
            | State::AwaitingInit(_)
            | State::Responded(_)
            | State::PlainPending(_) => "negotiating",
            State::Plain => "plain",
            State::Encrypted(_) => "encrypted",
            State::Terminating(_) => "terminating",
            State::Taken => "ended",
        }
    }

    pub(crate) fn negotiating(&self) -> bool {
        self.name() == "negotiating"
    }
}

/// How a session came from offline options (XEP-0187, profile P11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OfflineRole {
    /// Alice: opened from an offline init; she never sends in it.
    Received,
    /// Bob: started from Alice's options; nothing comes back, the terminate is not
    /// acknowledged, and with `match_resource` every stanza carries the AMP rule.
    Sent { match_resource: bool },
}

/// A session.
pub(crate) struct Session {
    /// The peer: the JID we addressed until bound, then the full JID that answered.
    pub peer: String,
    /// Whether `peer` is bound to the responder's (or initiator's) full JID.
    pub bound: bool,
    pub thread: String,
    pub role: Role,
    pub state: State,
    /// When the current wait ends (negotiation answer or terminate acknowledgement).
    pub deadline: Option<Timestamp>,
    /// Set once established.
    pub info: Option<SessionInfo>,
    /// The retained-secret record this session created (for SAS confirmation).
    pub secret_id: Option<SecretId>,
    /// The `logging` values we offered in a renegotiation awaiting its answer.
    pub renegotiating: Option<Vec<crate::config::Logging>>,
    /// When the next stanza we send carries a `<key/>` (XEP-0200 §9 policy).
    pub pacing: Pacing,
    /// Set for a session of an offline exchange (XEP-0187).
    pub offline: Option<OfflineRole>,
}

impl Session {
    /// What the person is told about this session under `terms`.
    pub(crate) fn info(&self, terms: &Terms) -> SessionInfo {
        let s = self;
        SessionInfo {
            peer: s.peer.clone(),
            thread: s.thread.clone(),
            role: s.role,
            encrypted: terms.security == crate::config::Security::E2e,
            sas: None,
            sas_alg: terms.sas,
            group: terms.group,
            srs: crate::event::SrsStatus::None,
            verified: false,
            logging: terms.logging,
            stanzas: terms.stanzas.clone(),
            flow: None,
            crypt: None,
            hash: None,
            compress: None,
            rekey_freq: None,
            peer_key: None,
            offline: self.offline.is_some(),
        }
    }

    /// Whether a stanza from `from` belongs to this session (P6: the session binds to
    /// the first valid responder's full JID; other resources are ignored).
    pub(crate) fn accepts_from(&self, from: &str) -> bool {
        if self.bound || crate::jid::is_full(&self.peer) {
            self.peer == from
        } else {
            crate::jid::bare(from) == self.peer
        }
    }
}

/// Per-session re-key pacing: engine policy, not protocol state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pacing {
    /// When we last sent an encrypted stanza in the session (or it was established).
    pub last_sent: Timestamp,
    /// `Engine::rekey` asked for a `<key/>` on the next stanza that may carry one.
    pub requested: bool,
}

impl Pacing {
    /// Pacing of a session established at `now`.
    pub(crate) fn since(now: Timestamp) -> Self {
        Pacing {
            last_sent: now,
            requested: false,
        }
    }
}
