//! What the engine reports to its user.
use crate::compat::Compat;
use crate::config::{Logging, StanzaKind};
use crate::crypto::SasAlg;
use crate::error::Error;
use crate::session_id::SessionId;
use crate::warning::Warning;
use crate::xml::Element;
use jid::Jid;

/// Which side of the negotiation we were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the request (Alice).
    Initiator,
    /// We answered it (Bob).
    Responder,
}

impl Role {
    /// `initiator` or `responder`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        }
    }
}

/// What became of the retained secrets in a negotiation (XEP-0116 §4.10, profile P7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrsStatus {
    /// A shared retained secret was found and mixed into the keys.
    Matched,
    /// Neither side expected one.
    None,
    /// We held a live secret for this peer but the peer proved none: a possible man in the
    /// middle (or lost state). The SAS must be confirmed again.
    Mismatch,
    /// A secret matched, but it was retained with another bare JID (the extended search
    /// of XEP-0116 §4.7.3, profile P7): the peer shares a secret with us, which does not
    /// show it is the contact it now names. Its `verified` flag is not inherited.
    MatchedOtherJid,
}

impl SrsStatus {
    /// `matched`, `none`, `mismatch` or `matched-other-jid`.
    pub fn name(self) -> &'static str {
        match self {
            SrsStatus::Matched => "matched",
            SrsStatus::None => "none",
            SrsStatus::Mismatch => "mismatch",
            SrsStatus::MatchedOtherJid => "matched-other-jid",
        }
    }
}

/// Who ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndedBy {
    /// We did.
    Us,
    /// The peer did.
    Peer,
}

/// The peer's public key in a session where it presented one (XEP-0116 §7.3–7.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerKeyInfo {
    /// B64 of SHA-256 of the normalized `<KeyValue/>` (profile P8).
    pub fingerprint: String,
    /// The name the person gave this key; show it more prominently than the JID.
    pub petname: Option<String>,
    /// Whether the person marked this key trusted for this JID.
    pub trusted: bool,
    /// Key-change and key-reuse alerts, one line each.
    pub alerts: Vec<String>,
}

/// Who started a re-key (XEP-0200 §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RekeyedBy {
    /// We sent a `<key/>`: our send keys changed.
    Us,
    /// We accepted the peer's `<key/>` (and, unless our own `<key/>` was still
    /// unacknowledged, our send keys changed with it).
    Peer,
}

/// A summary of an established session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// The peer's JID: the full JID the session is bound to (XEP-0155 §4.2, profile P6); for
    /// an offline session we started, the address of the contact's options (its bare JID,
    /// or with the resource of `match_resource`, XEP-0187).
    pub peer: Jid,
    /// Our role.
    pub role: Role,
    /// Whether the session is encrypted (`security` = `e2e`).
    pub encrypted: bool,
    /// The short authentication string (4-message flow).
    pub sas: Option<String>,
    /// Which SAS `sas` is (profile P15): the committed one, or the classic one a man in the
    /// middle can match in about 2^24 hashes, whose [`SasAlg::caveat`] must be shown with it
    /// and with any "verified" that rests on it.
    pub sas_alg: Option<SasAlg>,
    /// The MODP group (encrypted sessions).
    pub group: Option<u32>,
    /// The retained-secret outcome.
    pub srs: SrsStatus,
    /// Whether a person confirmed the SAS in this chain of retained secrets.
    pub verified: bool,
    /// The negotiated `logging` value.
    pub logging: Logging,
    /// The stanza kinds protected.
    pub stanzas: Vec<StanzaKind>,
    /// The negotiation flow: 3 or 4 messages (encrypted sessions).
    pub flow: Option<u8>,
    /// The negotiated cipher, hash and compression names (encrypted sessions).
    pub crypt: Option<&'static str>,
    /// The negotiated hash.
    pub hash: Option<&'static str>,
    /// The negotiated compression.
    pub compress: Option<&'static str>,
    /// The negotiated `rekey_freq` (4294967295: re-keying off).
    pub rekey_freq: Option<u32>,
    /// The peer's public key, when it presented one (for an offline session Bob started:
    /// the key whose signature of Alice's options verified).
    pub peer_key: Option<PeerKeyInfo>,
    /// Whether the session is an offline one (XEP-0187, profile P11): established from
    /// published options; only Bob sends in it.
    pub offline: bool,
    /// `Some(Compat::Gajim)` for a session in the Gajim compatibility mode (issue 13),
    /// whose [`Compat::costs`] must be shown with its shield; `None` for the profile.
    pub compat: Option<Compat>,
}

impl SessionInfo {
    /// What the person must be alerted to about this session, one line each: the key
    /// alerts (XEP-0116 §7.4: "alert their users immediately" to a changed key, or a key
    /// another JID presented) and a retained secret that did not match or matched another
    /// JID's (§4.7, profile P7). Every client shows them with the session, not only in a
    /// summary asked for later.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .peer_key
            .as_ref()
            .map(|k| k.alerts.clone())
            .unwrap_or_default();
        match self.srs {
            SrsStatus::MatchedOtherJid => out.push(
                "the secret this contact proved was shared with another address: it does \
                 not show who this is. Confirm the SAS."
                    .into(),
            ),
            SrsStatus::Mismatch => out.push(
                "this contact no longer knows the secret you shared last time: a possible \
                 man in the middle, or lost state. Confirm the SAS again."
                    .into(),
            ),
            SrsStatus::Matched | SrsStatus::None => {}
        }
        out
    }
}

/// An event for the engine's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A session is established and can carry messages.
    Established(SessionInfo),
    /// The peer accepted a renegotiation (XEP-0155 §4.5): the session's terms changed.
    Renegotiated(SessionInfo),
    /// A message arrived. `encrypted` says whether it came through an ESession.
    Message {
        /// The sender, as the server stamped it.
        peer: Jid,
        /// The session its thread names (XEP-0201), if it has a thread: the session it was
        /// decrypted in when `encrypted`.
        session: Option<SessionId>,
        /// The best `<body/>`, if any.
        body: Option<String>,
        /// The stanza with any decrypted content in place of `<c/>`.
        stanza: Element,
        /// Whether it was decrypted from an ESession.
        encrypted: bool,
        /// Whether it came through an offline session (XEP-0187, profile P11).
        offline: bool,
    },
    /// A `<presence/>` or `<iq/>` decrypted from an ESession that negotiated its kind
    /// (XEP-0200 §5), with the decrypted content in place of `<c/>`.
    Stanza {
        /// The sender.
        peer: Jid,
        /// The session.
        session: SessionId,
        /// The stanza.
        stanza: Element,
    },
    /// The keys of an ESession changed (XEP-0200 §9): we sent a `<key/>` (`by: Us`) or
    /// accepted the peer's (`by: Peer`). The session goes on; counters never reset.
    Rekeyed {
        /// The peer (see [`SessionInfo::peer`]).
        peer: Jid,
        /// The session.
        session: SessionId,
        /// Whose `<key/>` it was.
        by: RekeyedBy,
    },
    /// A session ended cleanly.
    Terminated {
        /// The peer: the JID the session is bound to, or the one we addressed while
        /// negotiating.
        peer: Jid,
        /// The session.
        session: SessionId,
        /// Who ended it.
        by: EndedBy,
    },
    /// A negotiation or session failed; nothing more will flow on it.
    Failed {
        /// The peer (as for `Terminated`).
        peer: Jid,
        /// The session.
        session: SessionId,
        /// Why.
        error: Error,
    },
    /// Something was refused without ending a session (e.g. cleartext inside an
    /// ESession, a stored-offline request).
    Warning {
        /// The peer.
        peer: Jid,
        /// The session its thread names, if the stanza had one.
        session: Option<SessionId>,
        /// What happened.
        detail: Warning,
    },
}
