//! Re-key bookkeeping of a channel (XEP-0200 §9, §10; profile P13): the receive key sets,
//! the base of our next re-key, the `<new/>` count and the old MAC keys to publish.
use super::Keys;
use crate::crypto::CryptoError;
use crate::crypto::{
    rekey_keys, CipherAlg, DhSecret, DirectionKeys, HashAlg, ModpGroup, SecretBytes,
};
use crate::error::{RekeyFault, StanzaFault};

/// At most this many receive sets: we start no re-key while as many of our `<key/>`s are
/// unacknowledged (memory stays bounded whatever the peer does; XEP-0200 §9 lets the
/// initiator choose when to re-key).
pub(super) const MAX_SETS: usize = 32;

/// At most this many old MAC keys wait in each queue; beyond, the oldest is dropped
/// unpublished (publishing is a MAY, XEP-0200 §10).
const MAX_QUEUED: usize = 64;

/// What a channel needs to re-key (XEP-0200 §4, §9): the negotiated MODP group, our own
/// negotiated DH secret (x or y) and the peer's negotiated public value (d or e) as mpi
/// octets.
pub(crate) struct RekeyBase {
    /// The negotiated group.
    pub group: &'static ModpGroup,
    /// Our negotiated secret exponent.
    pub own: DhSecret,
    /// The peer's negotiated public value, `mpi()` octets.
    pub peer_public: Vec<u8>,
}

/// A fresh DH pair (x', mpi(g^x' mod p)) for a `<key/>` we send (XEP-0200 §9).
pub(crate) struct Fresh {
    /// The new secret x'.
    pub secret: DhSecret,
    /// e' = g^x' mod p as mpi octets.
    pub public: Vec<u8>,
}

/// One receive set {peer KC, peer KM, own private value} (XEP-0200 §9, profile P13).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct RecvSet {
    /// The keys the peer sends with when it has seen this set's `<key/>`.
    pub peer: Keys,
    /// Our private value of this set (`None` when re-keying is off: nothing to combine).
    pub own: Option<DhSecret>,
    /// MAC keys of ours that may be published once the peer's `<new/>` shows it saw the
    /// `<key/>` that created this set (profile P13).
    pub on_ack: Vec<SecretBytes>,
}

/// Re-key state beyond the key sets: only present when re-keying was negotiated.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Rekeying {
    pub group: &'static ModpGroup,
    /// The base of our next re-key: the peer's latest public value (profile P13).
    pub base: Vec<u8>,
    /// Peer `<key/>`s accepted since our last stanza: our next `<new/>` (XEP-0200 §6).
    pub accepted: u32,
    /// Our send MAC keys replaced by accepting a peer `<key/>`: published once a `<new/>`
    /// acknowledges our next own `<key/>` (profile P13).
    pub until_next_key: Vec<SecretBytes>,
    /// Old MAC keys to publish on our next stanza (XEP-0200 §10), each once.
    pub publish: Vec<SecretBytes>,
}

impl Rekeying {
    pub(super) fn new(base: RekeyBase) -> (Self, DhSecret) {
        (
            Rekeying {
                group: base.group,
                base: base.peer_public,
                accepted: 0,
                until_next_key: Vec::new(),
                publish: Vec::new(),
            },
            base.own,
        )
    }

    /// Queues `km` for publication unless it is already queued (each key once, P13).
    pub(super) fn queue(&mut self, km: SecretBytes) {
        push_bounded(&mut self.publish, km);
    }

    /// Keeps our replaced send MAC key `km` until our next own `<key/>` (profile P13).
    pub(super) fn retire_send_km(&mut self, km: SecretBytes) {
        push_bounded(&mut self.until_next_key, km);
    }
}

/// Appends `km` unless present, dropping the oldest entry beyond [`MAX_QUEUED`].
fn push_bounded(keys: &mut Vec<SecretBytes>, km: SecretBytes) {
    if keys.iter().any(|k| k == &km) {
        return;
    }
    if keys.len() >= MAX_QUEUED {
        keys.remove(0);
    }
    keys.push(km);
}

/// The keys a re-key yields: (Rekey Initiator keys, Rekey Acceptor keys), from
/// K = mpi(public^secret mod p), unhashed (XEP-0200 §9, profile P1).
pub(super) fn derive(
    hash: HashAlg,
    cipher: CipherAlg,
    group: &ModpGroup,
    secret: &DhSecret,
    public: &[u8],
) -> Result<(DirectionKeys, DirectionKeys), CryptoError> {
    let k = group.shared_secret(secret, public)?;
    Ok(rekey_keys(hash, cipher, k.expose()))
}

/// Parses the text of a received `<new/>`: a positive decimal integer (XEP-0200 §14:
/// `positiveInteger`; whitespace is not part of m_content and is ignored).
pub(super) fn parse_new(text: &str) -> Result<usize, StanzaFault> {
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bad = || StanzaFault::Rekey(RekeyFault::BadNew(format!("{digits:.20}")));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match digits.parse::<u32>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(n) => usize::try_from(n).map_err(|_| bad()),
    }
}

/// Whether a `<key/>` may ride on the `(since + 1)`-th stanza since the sender's previous
/// `<key/>` (profile P13: at least the rekey_freq-th).
pub(super) fn freq_allows(since: u64, rekey_freq: u32) -> bool {
    since.saturating_add(1) >= u64::from(rekey_freq)
}
