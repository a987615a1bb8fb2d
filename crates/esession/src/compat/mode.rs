//! The per-peer compatibility setting (issue 13), apart from the dialects it selects.

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
}
