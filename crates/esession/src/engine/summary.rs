//! What an established session keeps of its [`SessionInfo`], compactly (issue 14 item 3:
//! 100,000 sessions held in one process). The session's id, peer, role and kind are in its
//! `Common` (engine/session.rs), which adds them; the algorithms are kept as values and
//! named when the info is built.
use crate::compat::Compat;
use crate::compress::CompressAlg;
use crate::config::{Flow, Logging, Security, StanzaKind};
use crate::crypto::{CipherAlg, HashAlg, SasAlg};
use crate::event::{PeerKeyInfo, Role, SessionInfo, SrsStatus};
use crate::negotiation::terms::Terms;
use crate::session_id::SessionId;
use crate::small_text::SmallText;
use jid::Jid;

/// The [`SessionInfo`] of an established session, less what its `Common` holds.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Summary {
    pub(super) encrypted: bool,
    /// Inline: a SAS is a few characters (XEP-0116 §9: sas28x5, five).
    pub(super) sas: Option<SmallText<15>>,
    pub(super) sas_alg: Option<SasAlg>,
    pub(super) group: Option<u32>,
    pub(super) srs: SrsStatus,
    pub(super) verified: bool,
    pub(super) logging: Logging,
    pub(super) stanzas: Kinds,
    /// What an encrypted session negotiated (`None` for a plain one).
    pub(super) algorithms: Option<Algorithms>,
    pub(super) peer_key: Option<Box<PeerKeyInfo>>,
    pub(super) compat: Option<Compat>,
}

/// The negotiated stanza kinds in their order (XEP-0200 §5): up to three without a heap
/// block, the usual case; a longer list (a peer repeating kinds) boxed.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) enum Kinds {
    /// The list, then `None`s.
    Few([Option<StanzaKind>; 3]),
    Many(Box<[StanzaKind]>),
}

impl Kinds {
    fn of(list: &[StanzaKind]) -> Self {
        if list.len() > 3 {
            return Kinds::Many(list.into());
        }
        let mut few = [None; 3];
        for (slot, kind) in few.iter_mut().zip(list) {
            *slot = Some(*kind);
        }
        Kinds::Few(few)
    }

    fn iter(&self) -> impl Iterator<Item = StanzaKind> + '_ {
        let (few, many) = match self {
            Kinds::Few(few) => (few.as_slice(), [].as_slice()),
            Kinds::Many(list) => ([].as_slice(), &**list),
        };
        few.iter().flatten().chain(many).copied()
    }
}

/// The negotiated flow and algorithms of an encrypted session (XEP-0116 §4.4).
#[derive(Clone, Copy)]
pub(super) struct Algorithms {
    flow: Flow,
    crypt: CipherAlg,
    hash: HashAlg,
    compress: CompressAlg,
    rekey_freq: u32,
}

impl Summary {
    /// A session established under `terms`, before what an ESession adds (SAS, retained
    /// secret, algorithms, the peer's key).
    pub(super) fn of(terms: &Terms) -> Self {
        Summary {
            encrypted: terms.security == Security::E2e,
            sas: None,
            sas_alg: terms.sas,
            group: terms.group,
            srs: SrsStatus::None,
            verified: false,
            logging: terms.logging,
            stanzas: Kinds::of(&terms.stanzas),
            algorithms: None,
            peer_key: None,
            compat: terms.dialect.compat(),
        }
    }

    /// Whether stanzas of `kind` were negotiated.
    pub(super) fn protects(&self, kind: StanzaKind) -> bool {
        self.stanzas.iter().any(|k| k == kind)
    }

    /// The flow's message count, for an encrypted session.
    pub(super) fn flow(&self) -> Option<u8> {
        self.algorithms.map(|a| a.flow.messages())
    }

    /// The full summary, given what the session's `Common` holds.
    pub(super) fn info(&self, id: SessionId, peer: Jid, role: Role, offline: bool) -> SessionInfo {
        let a = self.algorithms;
        SessionInfo {
            id,
            peer,
            role,
            encrypted: self.encrypted,
            sas: self.sas.as_ref().map(|s| s.as_str().to_owned()),
            sas_alg: self.sas_alg,
            group: self.group,
            srs: self.srs,
            verified: self.verified,
            logging: self.logging,
            stanzas: self.stanzas.iter().collect(),
            flow: self.flow(),
            crypt: a.map(|a| a.crypt.name()),
            hash: a.map(|a| a.hash.name()),
            compress: a.map(|a| a.compress.name()),
            rekey_freq: a.map(|a| a.rekey_freq),
            peer_key: self.peer_key.as_deref().cloned(),
            offline,
            compat: self.compat,
        }
    }
}

impl Algorithms {
    /// What `terms` negotiated.
    pub(super) fn of(terms: &Terms) -> Self {
        Algorithms {
            flow: terms.flow,
            crypt: terms.crypt,
            hash: terms.hash,
            compress: terms.compress,
            rekey_freq: terms.rekey_freq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StanzaKind::{Iq, Message, Presence};

    #[test]
    fn stanza_kinds_keep_their_order_and_repeats_inline_or_boxed() {
        for list in [
            &[][..],
            &[Iq],
            &[Presence, Message],
            &[Iq, Message, Presence],
            &[Message, Message, Iq, Message],
        ] {
            let kinds = Kinds::of(list);
            assert_eq!(kinds.iter().collect::<Vec<_>>(), list);
            assert_eq!(matches!(kinds, Kinds::Many(_)), list.len() > 3);
        }
    }
}
