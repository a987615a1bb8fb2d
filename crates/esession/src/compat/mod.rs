//! Interoperability modes outside the profile, chosen per peer (issue 13). Strict mode is
//! the profile exactly; `compat::gajim` (private) holds every deviation the Gajim mode makes.
pub(crate) mod gajim;
#[cfg(test)]
pub(crate) mod gajim_double;
// The setting alone, so that `Config` holds it without depending on the Gajim dialect.
pub(crate) mod mode;

pub use mode::Compat;

/// What a person is told when a negotiation we started in the Gajim mode timed out because
/// of Gajim's bug B1 ([`crate::Engine::stalled_by_gajim_bug`], issue 13): the one text of
/// every interface (the engine's own timeout says it in [`crate::Error::Timeout`]).
pub const GAJIM_STALL: &str = "the contact's Gajim drew a counter that Gajim 1.0 cannot \
     handle (its known bug, about 1 session in 128 that Gajim answers): trying again works, \
     a new session draws a new counter";

impl Compat {
    /// What a session in this mode costs, one line each, to show with its shield (empty
    /// for the profile).
    pub fn costs(self) -> &'static [&'static str] {
        match self {
            Compat::Gajim => &gajim::COSTS,
            Compat::Auto | Compat::Strict => &[],
        }
    }
}

/// What an adapter learnt about a contact's client, for [`crate::Engine::note_peer_client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClient<'a> {
    /// The `node` of its XEP-0115 entity capabilities.
    CapsNode(&'a str),
    /// Its XEP-0092 software version.
    Software {
        /// `<name/>`.
        name: &'a str,
        /// `<version/>`.
        version: &'a str,
    },
}

impl PeerClient<'_> {
    /// Whether this shows a Gajim that may speak ESessions: caps node `http://gajim.org`,
    /// or software `Gajim` older than 1.1 (Gajim removed ESessions in 1.1).
    pub fn is_gajim(&self) -> bool {
        gajim::client_is_gajim(self)
    }
}
