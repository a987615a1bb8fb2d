//! What this side offers and accepts in a negotiation (profile P6, P8, XEP-0116 §4.3, §8).
use crate::crypto::{CipherAlg, HashAlg, SasAlg};

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

/// The negotiation flow an initiator uses (XEP-0116 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flow {
    /// SIGMA-I in three messages: no hash commitment, public-key identities required, no
    /// retained secrets or SAS (XEP-0116 §4.2, profile P12).
    Three,
    /// The 4-message flow with a hash commitment, retained secrets and SAS (XEP-0116 §4.3).
    Four,
}

impl Flow {
    /// 3 or 4.
    pub fn messages(self) -> u8 {
        match self {
            Flow::Three => 3,
            Flow::Four => 4,
        }
    }
}

/// How a party identifies itself inside the encrypted identity (`init_pubkey` /
/// `resp_pubkey`, XEP-0116 §4.3, profile P8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PubkeyMode {
    /// The whole `<KeyValue/>` and a signature.
    Key,
    /// The key's fingerprint and a signature; the receiver must already know the key.
    Hash,
    /// No public key: the identity is the SIGMA mac alone (not allowed in the 3-message flow).
    None,
}

impl PubkeyMode {
    /// The wire value.
    pub fn name(self) -> &'static str {
        match self {
            PubkeyMode::Key => "key",
            PubkeyMode::Hash => "hash",
            PubkeyMode::None => "none",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        [PubkeyMode::Key, PubkeyMode::Hash, PubkeyMode::None]
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

impl AcceptPolicy {
    /// Whether `bare` may open a session with us: by a request (XEP-0155 §4.3) or by an
    /// offline init (XEP-0187, profile P11).
    pub fn allows(&self, bare: &str) -> bool {
        match self {
            AcceptPolicy::Anyone => true,
            AcceptPolicy::Only(list) => list.iter().any(|j| j == bare),
            AcceptPolicy::Nobody => false,
        }
    }
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
    /// `logging` values in preference order; as responder, the acceptable ones. Used for
    /// a contact to whom `archive_prefs` give no OTR Mode.
    pub logging: Vec<Logging>,
    /// The user's XEP-0136 archiving preferences: when set, the `logging` offer and answer
    /// for each contact follow its OTR Mode (XEP-0136 §3.1) instead of `logging`: its
    /// item's, else the default one unless the user never set the defaults (`unset`).
    pub archive_prefs: Option<crate::archive::Prefs>,
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
    /// The flow used when we initiate.
    pub flow: Flow,
    /// Answer 3-message requests (off: `feature-not-implemented` on `dhkeys`, XEP-0116 §4.4).
    pub accept_three_message: bool,
    /// Ciphers (`crypt_algs`) in preference order; as responder, the accepted set.
    pub crypt: Vec<CipherAlg>,
    /// Offer and accept the cipher `none` (integrity only, XEP-0200 §6): refused unless set.
    pub allow_unencrypted: bool,
    /// Hashes (`hash_algs`) in preference order; as responder, the accepted set.
    pub hashes: Vec<HashAlg>,
    /// Compression (`compress`) in preference order; as responder, the accepted set.
    pub compress: Vec<crate::compress::CompressAlg>,
    /// Short authentication strings (`sas_algs`, 4-message flow) in preference order; as
    /// responder, the accepted set. Default (profile P15): `sas28x5-commit`, then the
    /// classic `sas28x5` for peers without P15. Only `[SasAlg::Committed]` refuses the
    /// classic SAS, which a man in the middle can match in about 2^24 hashes.
    pub sas: Vec<SasAlg>,
    /// The identifications we are willing to present, in preference order (initiator:
    /// `init_pubkey`; responder: the `resp_pubkey` choices). `key` and `hash` need an
    /// identity key; `none` is dropped in the 3-message flow (profile P8, P12).
    pub present_pubkey: Vec<PubkeyMode>,
    /// The identifications we accept from the peer, in preference order (initiator:
    /// `resp_pubkey`; responder: what we require of the initiator in `init_pubkey`).
    pub accept_pubkey: Vec<PubkeyMode>,
    /// Fail a negotiation whose peer key is not marked trusted (XEP-0116 §7.3). Off: the
    /// session is established and reports the key as untrusted with its alerts.
    pub require_trusted_key: bool,
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
    /// Bounds on the work strangers and peers can make us do (issue 11 §3).
    pub flood: FloodLimits,
    /// The compatibility mode for peers without their own setting
    /// ([`crate::Engine::set_compat`]): `Auto` speaks Gajim's dialect only to peers that
    /// show Gajim's signs (issue 13).
    pub compat: crate::compat::mode::Compat,
}

/// A token bucket's parameters: `burst` tokens at most, refilled at `per_minute` tokens
/// a minute on the engine's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// The tokens a full bucket holds.
    pub burst: u32,
    /// The tokens added a minute.
    pub per_minute: u32,
}

/// Bounds on the work others can make the engine do: each answered 4-message request
/// costs a modular exponentiation and about 9 KB held until the negotiation timeout; a
/// 3-message request two and an RSA signature; each peer `<key/>` one. Requests beyond a
/// bound are refused before any of that work, without an answer except one
/// `resource-constraint` error and one `Event::Warning` per sender per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodLimits {
    /// Negotiations others opened with us that are not yet established, across all
    /// senders (default 256: about 2.3 MB).
    pub pending: usize,
    /// The same, per sender bare JID (default 8).
    pub pending_per_jid: usize,
    /// New negotiation requests per sender bare JID (default burst 8, 30 a minute).
    pub requests: Rate,
    /// 3-message requests from bare JIDs with no trusted key, across all senders (default
    /// burst 4, 4 a minute); requests from a JID with a trusted key are not counted.
    pub untrusted_three_message: Rate,
    /// `<key/>`s a peer sends per session (default burst 64, 120 a minute); beyond this
    /// the session ends.
    pub peer_rekeys: Rate,
}

impl Default for FloodLimits {
    fn default() -> Self {
        FloodLimits {
            pending: 256,
            pending_per_jid: 8,
            requests: Rate {
                burst: 8,
                per_minute: 30,
            },
            untrusted_three_message: Rate {
                burst: 4,
                per_minute: 4,
            },
            peer_rekeys: Rate {
                burst: 64,
                per_minute: 120,
            },
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            groups: vec![15, 14, 16, 5],
            allow_insecure_groups: false,
            stanzas: vec![StanzaKind::Message],
            logging: vec![Logging::MustNot, Logging::May],
            archive_prefs: None,
            security: vec![Security::E2e],
            accept: AcceptPolicy::Anyone,
            retained_secret_lifetime: 90 * 24 * 3600,
            negotiation_timeout: 60,
            extended_search: true,
            answer_errors: true,
            flow: Flow::Four,
            accept_three_message: true,
            // Decision: table-based Twofish and Whirlpool are negotiable only when listed.
            crypt: CipherAlg::ALL
                .into_iter()
                .filter(|c| !c.is_weak() && !c.uses_secret_indexed_tables())
                .collect(),
            allow_unencrypted: false,
            hashes: HashAlg::ALL
                .into_iter()
                .filter(|h| !h.uses_secret_indexed_tables())
                .collect(),
            compress: vec![crate::compress::CompressAlg::None],
            sas: SasAlg::ALL.to_vec(),
            present_pubkey: vec![PubkeyMode::None, PubkeyMode::Key, PubkeyMode::Hash],
            accept_pubkey: vec![PubkeyMode::None, PubkeyMode::Key, PubkeyMode::Hash],
            require_trusted_key: false,
            rekey_freq: 1,
            rekey_every: None,
            rekey_after_idle: Some(300),
            flood: FloodLimits::default(),
            compat: crate::compat::mode::Compat::Auto,
        }
    }
}

impl Config {
    /// The XEP-0217 simplified profile: exactly its fixed parameters (aes128-ctr, sha256,
    /// no compression, no public keys, re-keying off, XEP-0217 §4.1) and the 4-message flow.
    /// Message 1 then carries every fixed field as a hidden field with one value, except
    /// `sas_algs`, which offers the committed SAS first (profile P15).
    pub fn simplified() -> Self {
        Config {
            crypt: vec![CipherAlg::Aes128Ctr],
            hashes: vec![HashAlg::Sha256],
            compress: vec![crate::compress::CompressAlg::None],
            rekey_freq: u32::MAX,
            present_pubkey: vec![PubkeyMode::None],
            accept_pubkey: vec![PubkeyMode::None],
            accept_three_message: false,
            ..Config::default()
        }
    }

    /// The `logging` values offered to `peer`, in preference order: from its OTR Mode
    /// (XEP-0136 §3.1, first table) with archiving preferences, else `logging`.
    pub fn logging_offer(&self, peer: &str) -> Vec<Logging> {
        match self.otr_mode(peer) {
            Some(mode) => crate::archive::logging_offer(mode),
            None => self.logging.clone(),
        }
    }

    /// The `logging` value answered to `peer`'s `offered` values (in its order), or
    /// `None` to refuse: from its OTR Mode (XEP-0136 §3.1, second table) with archiving
    /// preferences, else the first offered value in `logging` (XEP-0116 §4.5.1).
    pub fn logging_answer(&self, peer: &str, offered: &[Logging]) -> Option<Logging> {
        match self.otr_mode(peer) {
            Some(mode) => crate::archive::logging_answer(mode, offered),
            None => offered.iter().copied().find(|l| self.logging.contains(l)),
        }
    }

    /// The OTR Mode the archiving preferences give `peer` (XEP-0136 §2.8), if they give
    /// one: its item's, else the default unless the user never set the defaults (§2.3
    /// `unset`: then the engine's own `logging` applies to contacts without an item).
    fn otr_mode(&self, peer: &str) -> Option<crate::archive::OtrMode> {
        let prefs = self.archive_prefs.as_ref()?;
        match prefs.item_for(peer) {
            Some(item) => Some(item.otr),
            None => (!prefs.unset).then_some(prefs.default_otr),
        }
    }

    /// Whether cipher `c` may be used under this policy (`none` only when allowed).
    pub fn cipher_allowed(&self, c: CipherAlg) -> bool {
        self.crypt.contains(&c) && (!c.is_weak() || self.allow_unencrypted)
    }

    /// Whether group `id` may be used under this policy (P6: never 3 or 4; 1 and 2 only
    /// when insecure groups are allowed).
    pub fn group_allowed(&self, id: u32) -> bool {
        let known = matches!(id, 1 | 2 | 5 | 14..=18);
        let weak = matches!(id, 1 | 2);
        known && self.groups.contains(&id) && (!weak || self.allow_insecure_groups)
    }

    /// The groups of [`Config::groups`] this policy allows ([`Config::group_allowed`]), in
    /// preference order: what an offer lists in `modp` and what a DH pool precomputes.
    pub fn allowed_groups(&self) -> Vec<u32> {
        self.groups
            .iter()
            .copied()
            .filter(|g| self.group_allowed(*g))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{failed, Pair, NOW};
    use crate::store::MemoryStore;

    #[test]
    fn allowed_groups_keep_preference_order_and_drop_refused_groups() {
        // P6: 3 and 4 never; 1 and 2 only when insecure groups are allowed; unknown ids never.
        let mut config = Config {
            groups: vec![14, 1, 3, 5, 99, 2, 4, 18],
            ..Config::default()
        };
        config.allow_insecure_groups = false;
        assert_eq!(config.allowed_groups(), [14, 5, 18]);
        config.allow_insecure_groups = true;
        assert_eq!(config.allowed_groups(), [14, 1, 5, 2, 18]);
    }

    /// Decision (issue 11 §13): Twofish and Whirlpool index tables with secret data, so a
    /// default engine neither offers nor accepts them; both sides listing them still works.
    #[test]
    fn table_based_algorithms_are_negotiated_only_when_listed() {
        let default = Config::default();
        assert!(!default.crypt.iter().any(|c| c.uses_secret_indexed_tables()));
        assert_eq!(default.hashes, vec![HashAlg::Sha256]);

        let twofish = Config {
            crypt: vec![CipherAlg::Twofish256Ctr],
            ..Config::default()
        };
        let whirlpool = Config {
            hashes: vec![HashAlg::Whirlpool],
            ..Config::default()
        };
        // A default responder refuses an offer of only these, naming the field.
        for (label, offer, field) in [
            ("twofish-by-default", twofish.clone(), "crypt_algs"),
            ("whirlpool-by-default", whirlpool, "hash_algs"),
        ] {
            let mut p = Pair::with(
                label,
                offer,
                Config::default(),
                MemoryStore::new(),
                MemoryStore::new(),
            );
            p.alice.start_str("bob@example.com", NOW).unwrap();
            p.run();
            let err = failed(&mut p.alice);
            assert!(err.to_string().contains(field), "{err}");
        }

        let listed = Config {
            crypt: CipherAlg::ALL.to_vec(),
            hashes: HashAlg::ALL.to_vec(),
            ..Config::default()
        };
        let mut p = Pair::with(
            "twofish-whirlpool-listed",
            Config {
                hashes: vec![HashAlg::Whirlpool],
                ..twofish
            },
            listed,
            MemoryStore::new(),
            MemoryStore::new(),
        );
        let (_, info, _) = p.negotiate();
        assert_eq!(info.crypt, Some("twofish256-ctr"));
        assert_eq!(info.hash, Some("whirlpool"));
    }

    /// XEP-0136 §2.3: defaults the user never set (`unset`) leave the engine's own
    /// `logging` for contacts without an item, but a contact's item still decides (before,
    /// unset defaults dropped every item, so `require` for one contact went unheeded).
    #[test]
    fn unset_defaults_leave_the_engine_logging_but_items_still_decide() {
        use crate::archive::{ItemPref, OtrMode, Prefs, SaveMode};
        let config = Config {
            archive_prefs: Some(Prefs {
                default_otr: OtrMode::Prefer,
                unset: true,
                items: vec![ItemPref {
                    jid: "bob@example.com".into(),
                    otr: OtrMode::Require,
                    save: SaveMode::False,
                    expire: None,
                    exact: false,
                }],
                ..Prefs::default()
            }),
            ..Config::default()
        };
        let both = [Logging::May, Logging::MustNot];
        assert_eq!(
            config.logging_offer("bob@example.com/pc"),
            [Logging::MustNot]
        );
        assert_eq!(
            config.logging_answer("bob@example.com/pc", &both),
            Some(Logging::MustNot)
        );
        assert_eq!(config.logging_offer("carol@example.net/pc"), config.logging);
        assert_eq!(
            config.logging_answer("carol@example.net/pc", &both),
            Some(Logging::May)
        );
    }
}
