//! What the clients say of a new session's SAS (XEP-0116 §7.3): users SHOULD compare it
//! when the clients share no retained secret and no authenticated key is in use, and a
//! client SHOULD remember whether the whole chain of retained secrets was ever verified.
//! A session that goes on from such a chain, or whose contact presented a trusted key,
//! is vouched for: comparing its SAS is then optional, and the clients say so instead of
//! asking for it again at every session.
use esession::SasAlg;
use esession_client::Shield;

/// Profile P15 "Display": ` (classic SAS: resists about 2^24 work)` after a classic SAS
/// (and after any "verified" that rests on it); nothing for the committed SAS.
pub(crate) fn caveat(alg: Option<SasAlg>) -> String {
    alg.and_then(SasAlg::caveat)
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}

/// Why a session with `shield` needs no SAS comparison, or `None` when it does.
pub(crate) fn vouched(shield: Shield) -> Option<&'static str> {
    match shield {
        Shield::SasVerified => Some(
            "this session goes on from one whose SAS you verified (retained secret): \
             comparing it again is optional",
        ),
        Shield::KeyTrusted => Some("the contact's key is one you trust: comparing it is optional"),
        Shield::Unverified | Shield::NotEncrypted => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unverified_session_asks_for_a_comparison() {
        assert_eq!(vouched(Shield::Unverified), None);
        assert_eq!(vouched(Shield::NotEncrypted), None);
        assert!(vouched(Shield::SasVerified).is_some_and(|w| w.contains("verified")));
        assert!(vouched(Shield::KeyTrusted).is_some_and(|w| w.contains("trust")));
    }
}
