//! What a negotiation step may use from its surroundings.
use crate::config::Config;
use crate::crypto::pubkey::IdentityKey;
use crate::crypto::DhPool;
use crate::random::Random;
use crate::store::SecretStore;
use crate::time::Timestamp;

/// Everything a negotiation step needs besides its own state.
pub(crate) struct Ctx<'a> {
    pub rng: &'a mut dyn Random,
    /// Precomputed DH values to use before computing new ones.
    pub pool: Option<&'a DhPool>,
    pub store: &'a mut dyn SecretStore,
    pub config: &'a Config,
    /// Our bare JID.
    pub own_bare: &'a str,
    /// The peer's full JID (the session is bound to it, XEP-0155 §4.2).
    pub peer: &'a str,
    /// The peer's bare JID (retained secrets and keys are kept per contact).
    pub peer_bare: jid::BareJid,
    pub now: Timestamp,
    /// The other shared secret for this peer (XEP-0116 §4.7.3, profile P1/A8).
    pub oss: Option<&'a [u8]>,
    /// Our identity key, when one is loaded (profile P8).
    pub identity: Option<&'a IdentityKey>,
}
