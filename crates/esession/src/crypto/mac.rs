//! The two MACs keyed with KM (profile P3). Note the opposite orders: the identity MAC puts
//! the counter first, the stanza MAC puts it last.
use super::hash::{hmac, HashAlg};
use super::mpi::mpi_u128;

/// Identity MAC of negotiation: HMAC(HASH, KM, mpi(C) | ID), with C the counter value
/// *before* ID was encrypted (XEP-0116 §4.5.4, profile P3).
pub fn identity_mac(alg: HashAlg, km: &[u8], counter_before: u128, id: &[u8]) -> Vec<u8> {
    hmac(alg, km, &[&mpi_u128(counter_before), id])
}

/// Stanza MAC: HMAC(HASH, KM, m_content | mpi(C)), with C the counter value before the
/// stanza was encrypted (XEP-0200 §6 step 5, profile P3). (A session computes it with its
/// prepared key, through `stanza_mac_with`.)
#[cfg(any(test, feature = "hazmat"))]
pub fn stanza_mac(alg: HashAlg, km: &[u8], m_content: &[u8], counter_before: u128) -> Vec<u8> {
    stanza_mac_with(|parts| hmac(alg, km, parts), m_content, counter_before)
}

/// [`stanza_mac`] with the HMAC given as `mac` (a session's prepared key).
pub(crate) fn stanza_mac_with(
    mac: impl FnOnce(&[&[u8]]) -> Vec<u8>,
    m_content: &[u8],
    counter_before: u128,
) -> Vec<u8> {
    mac(&[m_content, &mpi_u128(counter_before)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_minimal_counter() {
        let km = [3u8; 32];
        let c = 0x0102u128;
        assert_eq!(
            identity_mac(HashAlg::Sha256, &km, c, b"ID"),
            hmac(HashAlg::Sha256, &km, &[&[1, 2, b'I', b'D']])
        );
        assert_eq!(
            stanza_mac(HashAlg::Sha256, &km, b"<data>x</data>", c),
            hmac(HashAlg::Sha256, &km, &[b"<data>x</data>\x01\x02"])
        );
        assert_ne!(
            identity_mac(HashAlg::Sha256, &km, c, b"ab"),
            stanza_mac(HashAlg::Sha256, &km, b"ab", c)
        );
        assert_eq!(identity_mac(HashAlg::Sha256, &km, 0, b"").len(), 32);
        assert_eq!(
            stanza_mac(HashAlg::Sha256, &km, b"", 0),
            hmac(HashAlg::Sha256, &km, &[&[0]])
        );
    }
}
