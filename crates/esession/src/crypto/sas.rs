//! The short authentication strings: `sas28x5` (XEP-0116 §9, profile P5) and the committed
//! `sas28x5-commit` (profile P15), and the `sas_algs` value that chooses between them.
use super::hash::{hash, HashAlg};
use super::mpi::mpi;

/// The 28 digits of sas28x5, value 0 first (XEP-0116 §9).
const ALPHABET: &[u8; 28] = b"acdefghikmopqruvwxy123456789";

/// What the person is told about a classic SAS (profile P15 "Display").
const CLASSIC_CAVEAT: &str = "classic SAS: resists about 2^24 work";

/// A `sas_algs` value (XEP-0116 §9, profile P5, P15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SasAlg {
    /// `sas28x5-commit` (profile P15): computed only from values fixed once the responder
    /// sent message 2, so a man in the middle cannot grind it.
    Committed,
    /// `sas28x5` (XEP-0116 §9, profile P5): covers message 3, whose fillers the initiator
    /// chooses after seeing d; a man in the middle can match it in about 2^24 hashes.
    Classic,
}

impl SasAlg {
    /// Both values, in the order profile P15 offers them.
    pub const ALL: [SasAlg; 2] = [SasAlg::Committed, SasAlg::Classic];

    /// The wire value.
    pub fn name(self) -> &'static str {
        match self {
            SasAlg::Committed => "sas28x5-commit",
            SasAlg::Classic => "sas28x5",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        SasAlg::ALL.into_iter().find(|a| a.name() == s)
    }

    /// What must be said next to this SAS whenever it is shown or reported as matched
    /// (profile P15 "Display"): `None` for the committed SAS.
    pub fn caveat(self) -> Option<&'static str> {
        match self {
            SasAlg::Committed => None,
            SasAlg::Classic => Some(CLASSIC_CAVEAT),
        }
    }
}

/// SAS = the last 3 octets of HASH(M_A | form_B | "Short Authentication String") as a
/// big-endian integer, rendered by [`render_sas28x5`] (XEP-0116 §9, profile P5).
pub fn sas28x5(alg: HashAlg, m_a: &[u8], form_b: &[u8]) -> String {
    render_sas28x5(last_24_bits(&hash(
        alg,
        &[m_a, form_b, b"Short Authentication String"],
    )))
}

/// Profile P15: SAS = the last 3 octets of HASH(mpi(e) | mpi(d) | N_A | N_B | "Committed
/// Short Authentication String"), rendered as P5. `e` and `d` are the public values (any
/// leading zero octets are stripped here), `n_a` and `n_b` the decoded `my_nonce` octets of
/// messages 1 and 2; the parts are concatenated without length prefixes.
pub fn sas28x5_commit(alg: HashAlg, e: &[u8], d: &[u8], n_a: &[u8], n_b: &[u8]) -> String {
    render_sas28x5(last_24_bits(&hash(
        alg,
        &[
            mpi(e),
            mpi(d),
            n_a,
            n_b,
            b"Committed Short Authentication String",
        ],
    )))
}

/// XEP-0116 §9: the least significant 24 bits of a hash, i.e. its last 3 octets read as a
/// big-endian integer.
fn last_24_bits(h: &[u8]) -> u32 {
    h.iter()
        .rev()
        .take(3)
        .rev()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
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

    /// Profile P15, computed by hand outside this crate (Python `hashlib`):
    /// SHA-256(02 01 | 03 03 03 | 11×32 | 22×32 | "Committed Short Authentication String")
    /// is fde4…c606. Its last 3 octets 0x89c606 = 9029126 =
    /// 14·28^4 + 19·28^3 + 8·28^2 + 20·28 + 22 are the digits `u1k24`. e is given with a
    /// leading zero octet, which mpi() strips (profile P2).
    #[test]
    fn committed_hand_computed() {
        let (e, d) = ([0x00u8, 0x02, 0x01], [0x03u8; 3]);
        let (n_a, n_b) = ([0x11u8; 32], [0x22u8; 32]);
        let h = sha256(&[
            &[0x02, 0x01],
            &d,
            &n_a,
            &n_b,
            b"Committed Short Authentication String",
        ]);
        assert_eq!(
            hex::encode(h),
            "fde4403d2b49c920b243bd49e597ad885a6f9b4c141089fcf3766f9ec389c606"
        );
        assert_eq!(render_sas28x5(9_029_126), "u1k24");
        assert_eq!(sas28x5_commit(HashAlg::Sha256, &e, &d, &n_a, &n_b), "u1k24");
    }

    /// Profile P15: every part counts, in its place (no length prefixes, so only the
    /// order and the octets matter), and the label differs from P5's.
    #[test]
    fn committed_depends_on_every_part_in_order() {
        let (e, d) = ([0x02u8, 0x01], [0x03u8; 3]);
        let (n_a, n_b) = ([0x11u8; 32], [0x22u8; 32]);
        let base = sas28x5_commit(HashAlg::Sha256, &e, &d, &n_a, &n_b);
        let others = [
            sas28x5_commit(HashAlg::Sha256, &d, &e, &n_a, &n_b),
            sas28x5_commit(HashAlg::Sha256, &e, &d, &n_b, &n_a),
            sas28x5_commit(HashAlg::Sha256, &[0x02, 0x02], &d, &n_a, &n_b),
            sas28x5_commit(HashAlg::Sha256, &e, &d, &n_a, &[0x23; 32]),
            sas28x5_commit(HashAlg::Whirlpool, &e, &d, &n_a, &n_b),
        ];
        for other in others {
            assert_ne!(base, other);
        }
        // The P5 label over the same octets gives another value.
        let p5_label = render_sas28x5(last_24_bits(&sha256(&[
            &e,
            &d,
            &n_a,
            &n_b,
            b"Short Authentication String",
        ])));
        assert_ne!(base, p5_label);
    }

    #[test]
    fn sas_alg_names() {
        assert_eq!(SasAlg::from_name("sas28x5-commit"), Some(SasAlg::Committed));
        assert_eq!(SasAlg::from_name("sas28x5"), Some(SasAlg::Classic));
        assert_eq!(SasAlg::from_name("sas28x6"), None);
        for a in SasAlg::ALL {
            assert_eq!(SasAlg::from_name(a.name()), Some(a));
        }
        assert_eq!(SasAlg::Committed.caveat(), None);
        assert_eq!(
            SasAlg::Classic.caveat(),
            Some("classic SAS: resists about 2^24 work")
        );
    }
}
