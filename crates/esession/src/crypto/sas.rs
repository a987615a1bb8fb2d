//! The short authentication string `sas28x5` (XEP-0116 §9, profile P5).
use super::hash::{hash, HashAlg};

/// The 28 digits of sas28x5, value 0 first (XEP-0116 §9).
const ALPHABET: &[u8; 28] = b"acdefghikmopqruvwxy123456789";

/// SAS = the last 3 octets of HASH(M_A | form_B | "Short Authentication String") as a
/// big-endian integer, rendered by [`render_sas28x5`] (XEP-0116 §9, profile P5).
pub fn sas28x5(alg: HashAlg, m_a: &[u8], form_b: &[u8]) -> String {
    let h = hash(alg, &[m_a, form_b, b"Short Authentication String"]);
    // XEP-0116 §9: the least significant 24 bits of the hash, i.e. its last 3 octets.
    let v = h
        .iter()
        .rev()
        .take(3)
        .rev()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    render_sas28x5(v)
}

/// `v` mod 28^5 as 5 base-28 digits, most significant first, left-padded with the zero
/// digit `a` (profile P5, A9). 0 is `aaaaa`, 27 is `aaaa9`.
pub fn render_sas28x5(v: u32) -> String {
    let mut digits = [ALPHABET[0]; 5];
    let mut rest = v;
    for d in digits.iter_mut().rev() {
        *d = ALPHABET
            .get((rest % 28) as usize)
            .copied()
            .unwrap_or(ALPHABET[0]);
        rest /= 28;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash::sha256;

    #[test]
    fn rendering_and_padding() {
        assert_eq!(render_sas28x5(0), "aaaaa");
        assert_eq!(render_sas28x5(1), "aaaac");
        assert_eq!(render_sas28x5(27), "aaaa9");
        assert_eq!(render_sas28x5(28), "aaaca");
        assert_eq!(render_sas28x5(28u32.pow(5) - 1), "99999");
        // 2^24 - 1 = 16777215 = 27·28^4 + 8·28^3 + 7·28^2 + 14·28 + 7.
        assert_eq!(render_sas28x5(0xff_ffff), "9kiui");
    }

    #[test]
    fn fixed_input() {
        let m_a = [0x11u8; 32];
        let form_b = b"<field var=\"FORM_TYPE\"><value>urn:xmpp:ssn</value></field>";
        // Independent computation of the formula.
        let h = sha256(&[&m_a, form_b, b"Short Authentication String"]);
        let v = (u32::from(h[29]) << 16) | (u32::from(h[30]) << 8) | u32::from(h[31]);
        let alphabet: Vec<char> = "acdefghikmopqruvwxy123456789".chars().collect();
        let mut expected = String::new();
        let mut n = v;
        let mut place = 28u32.pow(4);
        for _ in 0..5 {
            expected.push(alphabet[(n / place) as usize]);
            n %= place;
            place /= 28;
        }
        let got = sas28x5(HashAlg::Sha256, &m_a, form_b);
        assert_eq!(got, expected);
        assert_eq!(got.len(), 5);
    }
}
