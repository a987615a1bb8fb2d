//! Interoperability modes outside the profile, chosen per peer (issue 13). Strict mode is
//! the profile exactly; `compat::gajim` (private) holds every deviation the Gajim mode makes.
pub(crate) mod gajim;
#[cfg(test)]
pub(crate) mod gajim_double;

/// How the engine speaks to a peer: the per-peer compatibility setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compat {
    /// Gajim's dialect only toward a peer that showed Gajim's signs: its XEP-0115 caps node
    /// or XEP-0092 version (see [`crate::Engine::note_peer_client`]) when we initiate, the
    /// shape of its request when it does. The profile otherwise.
    #[default]
    Auto,
    /// Always Gajim's dialect with this peer (the user says it runs Gajim 0.12–1.0).
    Gajim,
    /// Always the profile, whatever the peer looks like.
    Strict,
}

impl Compat {
    /// `auto`, `gajim` or `strict`.
    pub fn name(self) -> &'static str {
        match self {
            Compat::Auto => "auto",
            Compat::Gajim => "gajim",
            Compat::Strict => "strict",
        }
    }

    /// Parses `auto`, `gajim` or `strict`.
    pub fn from_name(s: &str) -> Option<Self> {
        [Compat::Auto, Compat::Gajim, Compat::Strict]
            .into_iter()
            .find(|c| c.name() == s)
    }

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
