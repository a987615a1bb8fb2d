//! What this side offers and accepts in a negotiation (profile P6).

/// XEP-0155 §8 `logging` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Logging {
    /// The session may be logged.
    May,
    /// The session must not be logged (off the record).
    MustNot,
}

/// XEP-0155 §8 `security` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Security {
    /// End-to-end: an ESession.
    E2e,
    /// Only client-to-server protection: a plain stanza session.
    C2s,
    /// No protection: a plain stanza session.
    None,
}

impl Security {
    /// The wire value.
    pub fn name(self) -> &'static str {
        match self {
            Security::E2e => "e2e",
            Security::C2s => "c2s",
            Security::None => "none",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        [Security::E2e, Security::C2s, Security::None]
            .into_iter()
            .find(|v| v.name() == s)
    }
}

/// Stanza kinds that XEP-0200 may encrypt (the `stanzas` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StanzaKind {
    /// `<message/>`
    Message,
    /// `<presence/>`
    Presence,
    /// `<iq/>`
    Iq,
}

impl StanzaKind {
    /// The wire value (and element name).
    pub fn name(self) -> &'static str {
        match self {
            StanzaKind::Message => "message",
            StanzaKind::Presence => "presence",
            StanzaKind::Iq => "iq",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        [StanzaKind::Message, StanzaKind::Presence, StanzaKind::Iq]
            .into_iter()
            .find(|v| v.name() == s)
    }
}

/// Who may open a session with us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcceptPolicy {
    /// Anyone.
    Anyone,
    /// Only these bare JIDs; others are declined (XEP-0155 §4.3 reject).
    Only(Vec<String>),
    /// Nobody: every request is declined.
    Nobody,
}

/// The negotiation policy of one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// MODP groups in preference order (P6 default 15, 14, 16, 5). As responder, the set
    /// of groups accepted.
    pub groups: Vec<u32>,
    /// Accept and offer groups 1 and 2 (768 and 1024 bits; P6: off by default).
    pub allow_insecure_groups: bool,
    /// Stanza kinds to protect, in preference order.
    pub stanzas: Vec<StanzaKind>,
    /// `logging` values in preference order; as responder, the acceptable ones.
    pub logging: Vec<Logging>,
    /// `security` levels in preference order; as responder, the acceptable ones. Only
    /// with `C2s` or `None` listed does a plain stanza session ever happen.
    pub security: Vec<Security>,
    /// Who may open sessions with us.
    pub accept: AcceptPolicy,
    /// Seconds a retained secret lives (P7: 90 days).
    pub retained_secret_lifetime: u64,
    /// Seconds to wait for each negotiation answer.
    pub negotiation_timeout: u64,
    /// Search every retained secret when none of the peer's bare JID matches (P7).
    pub extended_search: bool,
    /// Answer bad negotiation messages with XEP-0155 error replies (P10b). Off means
    /// silence, which reveals nothing about our presence (XEP-0155 §10.1).
    pub answer_errors: bool,
    /// `rekey_freq` (XEP-0116 §4.5.2): the minimum number of stanzas a sender sends between
    /// two of its `<key/>`s (XEP-0200 §9, profile P13). As initiator the value offered (the
    /// answer must be at least this); as responder the least value answered (the answer is
    /// max(this, offered)). 4294967295 turns re-keying off (XEP-0217 §4.1); 0 counts as 1.
    /// Default 1: re-keying allowed at every stanza, the fields below decide when.
    pub rekey_freq: u32,
    /// Attach a `<key/>` to every Nth stanza we send (at the earliest every rekey_freq-th,
    /// whatever N is). `None` (the default): no count-based re-key.
    pub rekey_every: Option<u32>,
    /// Seconds without sending in a session after which the next stanza we send carries a
    /// `<key/>` (XEP-0200 §11.4: re-key after an extended period of inactivity). Measured
    /// on the engine's clock, the latest time given to it. Default 300.
    pub rekey_after_idle: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            groups: vec![15, 14, 16, 5],
            allow_insecure_groups: false,
            stanzas: vec![StanzaKind::Message],
            logging: vec![Logging::MustNot, Logging::May],
            security: vec![Security::E2e],
            accept: AcceptPolicy::Anyone,
            retained_secret_lifetime: 90 * 24 * 3600,
            negotiation_timeout: 60,
            extended_search: true,
            answer_errors: true,
            rekey_freq: 1,
            rekey_every: None,
            rekey_after_idle: Some(300),
        }
    }
}

impl Config {
    /// Whether group `id` may be used under this policy (P6: never 3 or 4; 1 and 2 only
    /// when insecure groups are allowed).
    pub fn group_allowed(&self, id: u32) -> bool {
        let known = matches!(id, 1 | 2 | 5 | 14..=18);
        let weak = matches!(id, 1 | 2);
        known && self.groups.contains(&id) && (!weak || self.allow_insecure_groups)
    }
}
