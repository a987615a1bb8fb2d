//! What the Gajim compatibility mode cannot do with a peer (issue 13, D9).
use super::peer::Condition;

/// A negotiation or an operation the Gajim compatibility mode refuses, naming what Gajim
/// lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CompatRefusal {
    /// The 3-message flow (XEP-0116 §4.5): Gajim has only the 4-message flow.
    #[error(
        "Gajim compatibility mode refuses the 3-message flow (Gajim has only the 4-message flow)"
    )]
    ThreeMessage,
    /// D9: the policy does not allow aes128-ctr.
    #[error(
        "Gajim compatibility mode refuses a policy without aes128-ctr (the only cipher Gajim has)"
    )]
    NoAes128Ctr,
    /// D9: the policy does not allow sha256.
    #[error("Gajim compatibility mode refuses a policy without sha256 (the only hash Gajim has)")]
    NoSha256,
    /// D9: the policy allows only zlib.
    #[error("Gajim compatibility mode refuses zlib-only compression (Gajim has no zlib)")]
    ZlibOnly,
    /// D9: the policy does not allow the classic sas28x5 (profile P15).
    #[error(
        "Gajim compatibility mode refuses a policy without the classic sas28x5 (the only SAS \
         Gajim has)"
    )]
    NoClassicSas,
    /// D9: the policy allows only public-key identification (profile P8).
    #[error("Gajim compatibility mode refuses public-key identification only (broken in Gajim)")]
    PublicKeysOnly,
    /// D9: the policy does not allow e2e.
    #[error("Gajim compatibility mode refuses a policy without e2e")]
    NoE2e,
    /// D9: the policy does not protect message stanzas.
    #[error("Gajim compatibility mode refuses a policy without message stanzas")]
    NoMessages,
    /// Re-keying (XEP-0200 §9): Gajim never re-keys.
    #[error("Gajim compatibility mode refuses re-keying (Gajim never re-keys)")]
    Rekey,
    /// A renegotiation (XEP-0155 §4.5): not in Gajim's session code.
    #[error("Gajim compatibility mode refuses renegotiation (not in Gajim's session code)")]
    Renegotiation,
}

impl CompatRefusal {
    /// The condition of the error reply to a request refused for this (profile P10b): a
    /// flow this mode lacks is `feature-not-implemented`, a policy Gajim cannot meet
    /// `not-acceptable`.
    pub fn condition(self) -> Condition {
        match self {
            CompatRefusal::ThreeMessage => Condition::FeatureNotImplemented,
            _ => Condition::NotAcceptable,
        }
    }
}
