//! Diffie-Hellman over the MODP groups of RFC 2409 §6 and RFC 3526, generator g = 2
//! (XEP-0116 §4.3 and §8, profile P6).
//!
//! Exponentiation with a secret exponent is constant time (`crypto-bigint` Montgomery
//! ladder with a fixed window) and iterates only over the group's fixed exponent length, so
//! the short exponents of P6 stay fast.
use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use zeroize::{Zeroize, Zeroizing};

use super::ct::ct_less_be;
use super::mpi::mpi;
use super::primes;
use super::secret::SecretBytes;
use super::CryptoError;
use crate::random::Random;

/// The group ids this module knows, with modulus size and secret exponent size in bits.
/// Profile P6: 256 bits for groups 5 and 14, 320 for 15, 384 for 16, 448 for 17, 512 for
/// 18, 1 and 2. Groups 3 and 4 are EC2N groups, not MODP groups (A15), and are absent.
const TABLE: [(u32, usize, usize, &str); 8] = [
    (1, 768, 512, primes::GROUP_1),
    (2, 1024, 512, primes::GROUP_2),
    (5, 1536, 256, primes::GROUP_5),
    (14, 2048, 256, primes::GROUP_14),
    (15, 3072, 320, primes::GROUP_15),
    (16, 4096, 384, primes::GROUP_16),
    (17, 6144, 448, primes::GROUP_17),
    (18, 8192, 512, primes::GROUP_18),
];

/// Each group's constants and Montgomery parameters, built once on first use.
static GROUPS: [OnceLock<Option<ModpGroup>>; 8] = [const { OnceLock::new() }; 8];

/// One MODP group with generator 2.
pub struct ModpGroup {
    id: u32,
    bits: usize,
    exponent_bits: usize,
    /// p, big-endian in bits/8 octets.
    prime: Vec<u8>,
    /// p - 1, big-endian in bits/8 octets.
    p_minus_1: Vec<u8>,
    params: BoxedMontyParams,
    /// The generator 2 in Montgomery form.
    generator: BoxedMontyForm,
}

impl std::fmt::Debug for ModpGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModpGroup")
            .field("id", &self.id)
            .field("bits", &self.bits)
            .finish()
    }
}

impl ModpGroup {
    /// The group with this id: 1, 2, 5, 14, 15, 16, 17 or 18.
    ///
    /// # Errors
    /// [`CryptoError::UnknownGroup`] for any other id, in particular 3 and 4, which are EC2N
    /// groups (profile P6, A15).
    pub fn get(id: u32) -> Result<&'static ModpGroup, CryptoError> {
        let index = TABLE
            .iter()
            .position(|row| row.0 == id)
            .ok_or(CryptoError::UnknownGroup(id))?;
        let (cell, &(_, bits, exponent_bits, hex)) = GROUPS
            .get(index)
            .zip(TABLE.get(index))
            .ok_or(CryptoError::UnknownGroup(id))?;
        cell.get_or_init(|| Self::build(id, bits, exponent_bits, hex))
            .as_ref()
            .ok_or(CryptoError::GroupConstant(id))
    }

    fn build(id: u32, bits: usize, exponent_bits: usize, hex: &str) -> Option<ModpGroup> {
        let prime = parse_hex(hex)?;
        if prime.len() * 8 != bits {
            return None;
        }
        let precision = u32::try_from(bits).ok()?;
        let p = BoxedUint::from_be_slice(&prime, precision).ok()?;
        let params = BoxedMontyParams::new(Option::from(Odd::new(p))?);
        let two = BoxedUint::from_be_slice(&[2], precision).ok()?;
        let generator = BoxedMontyForm::new(two, &params);
        let mut p_minus_1 = prime.clone();
        // p is odd, so p - 1 only clears the lowest bit.
        *p_minus_1.last_mut()? &= 0xfe;
        Some(ModpGroup {
            id,
            bits,
            exponent_bits,
            prime,
            p_minus_1,
            params,
            generator,
        })
    }

    /// The group id (as in the `modp` field).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Size of p in bits.
    #[cfg(any(test, feature = "hazmat"))]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// p, big-endian in bits/8 octets.
    #[cfg(any(test, feature = "hazmat"))]
    pub fn prime_be(&self) -> Vec<u8> {
        self.prime.clone()
    }

    /// Size in bits of the secret exponents this project draws (profile P6).
    #[cfg(any(test, feature = "hazmat"))]
    pub fn exponent_bits(&self) -> usize {
        self.exponent_bits
    }

    /// A fresh secret exponent: uniformly random, exactly `exponent_bits` bits with the top bit
    /// set, and within 2^255 < x < p - 1 (XEP-0116 §4.3, profile P6), by rejection sampling.
    pub fn generate_secret(&self, rng: &mut dyn Random) -> DhSecret {
        let mut buf = Zeroizing::new(vec![0u8; self.exponent_bits / 8]);
        loop {
            rng.fill(&mut buf);
            if let Some(first) = buf.first_mut() {
                // Profile P6: the top bit is set, so x has exactly exponent_bits bits.
                *first |= 0x80;
            }
            // Rejection sampling (no modulo bias): retry whenever the range check fails.
            if let Ok(secret) = DhSecret::from_be(self.id, &buf) {
                return secret;
            }
        }
    }

    /// The public value mpi(2^x mod p) (XEP-0116 §4.3, profile P2), computed in constant time.
    pub fn public_value(&self, x: &DhSecret) -> Vec<u8> {
        let mut y = self
            .generator
            .pow_bounded_exp(&x.value, x.exponent_bits)
            .retrieve();
        let out = mpi(&y.to_be_bytes()).to_vec();
        y.zeroize();
        out
    }

    /// Checks a received public value `v` (big-endian, leading zero octets allowed):
    /// 1 < v < p - 1 (XEP-0116 §4.3: the receivers of d and of e check the range; profile
    /// P6).
    ///
    /// # Errors
    /// [`CryptoError::PublicOutOfRange`] when the check fails.
    pub fn check_public(&self, v: &[u8]) -> Result<(), CryptoError> {
        let out_of_range = CryptoError::PublicOutOfRange { group: self.id };
        let padded = self.pad(v).ok_or_else(|| out_of_range.clone())?;
        let mut two = vec![0u8; self.prime.len()];
        if let Some(last) = two.last_mut() {
            *last = 2;
        }
        // v > 1 is !(v < 2); v < p - 1.
        let above_one = ct_less_be(&padded, &two) == Some(false);
        let below_p_minus_1 = ct_less_be(&padded, &self.p_minus_1) == Some(true);
        if above_one && below_p_minus_1 {
            Ok(())
        } else {
            Err(out_of_range)
        }
    }

    /// The DH shared value mpi(peer_public^own mod p), after checking 1 < peer_public < p - 1.
    ///
    /// # Errors
    /// [`CryptoError::GroupMismatch`] when `own` belongs to another group,
    /// [`CryptoError::PublicOutOfRange`] when the peer's value fails the range check.
    pub fn shared_secret(
        &self,
        own: &DhSecret,
        peer_public: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        if own.group != self.id {
            return Err(CryptoError::GroupMismatch {
                secret: own.group,
                group: self.id,
            });
        }
        self.check_public(peer_public)?;
        let compute = || self.exponentiate(own, peer_public);
        // Fuzzing only: a replayed (secret, peer value) pair costs a lookup.
        #[cfg(feature = "fuzz-memo")]
        let compute = || {
            let key = (
                self.id,
                own.value.to_be_bytes().to_vec(),
                own.exponent_bits,
                mpi(peer_public).to_vec(),
            );
            super::memo::through(&super::memo::DH, key, compute)
        };
        compute()
    }

    /// peer_public^own mod p as mpi(), for a value that passed [`ModpGroup::check_public`].
    pub(super) fn exponentiate(
        &self,
        own: &DhSecret,
        peer_public: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let precision = self.params.bits_precision();
        let base = BoxedUint::from_be_slice(mpi(peer_public), precision)
            .map_err(|_| CryptoError::PublicOutOfRange { group: self.id })?;
        let base = BoxedMontyForm::new(base, &self.params);
        let mut power = base.pow_bounded_exp(&own.value, own.exponent_bits);
        let mut z = power.retrieve();
        power.zeroize();
        let be = Zeroizing::new(z.to_be_bytes());
        z.zeroize();
        // Profile P2: the shared value is mpi() everywhere.
        Ok(SecretBytes::new(mpi(&be).to_vec()))
    }

    /// `v` without leading zeros, left-padded with zeros to the length of p; `None` when
    /// longer than p.
    fn pad(&self, v: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let v = mpi(v);
        let mut out = Zeroizing::new(vec![0u8; self.prime.len()]);
        let start = self.prime.len().checked_sub(v.len())?;
        out.get_mut(start..)?.copy_from_slice(v);
        Some(out)
    }
}

/// A secret DH exponent x. Wiped on drop, redacted in `Debug`; remembers its group.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub struct DhSecret {
    group: u32,
    value: BoxedUint,
    /// Bits of `value` the exponentiation visits: the group's exponent size, or more for an
    /// imported longer value. Public (a function of the length only).
    exponent_bits: u32,
}

impl DhSecret {
    /// A secret exponent from its big-endian octets (leading zero octets allowed), for use in
    /// group `group`.
    ///
    /// # Errors
    /// [`CryptoError::UnknownGroup`] for an unsupported group; [`CryptoError::SecretOutOfRange`]
    /// unless 2^255 < x < p - 1 (XEP-0116 §4.3: 2^(2n-1) < x < p - 1 with n = 128).
    pub fn from_be(group: u32, be: &[u8]) -> Result<Self, CryptoError> {
        let g = ModpGroup::get(group)?;
        let out_of_range = CryptoError::SecretOutOfRange { group };
        let padded = g.pad(be).ok_or_else(|| out_of_range.clone())?;
        let mut bound = vec![0u8; g.prime.len()];
        // 2^255 as a big-endian number of p's length.
        let at = bound
            .len()
            .checked_sub(32)
            .ok_or_else(|| out_of_range.clone())?;
        if let Some(octet) = bound.get_mut(at) {
            *octet = 0x80;
        }
        // XEP-0116 §4.3: 2^(2n-1) < x (n = 128, the AES block size) and x < p - 1.
        let above_bound = ct_less_be(&bound, &padded) == Some(true);
        let below_p_minus_1 = ct_less_be(&padded, &g.p_minus_1) == Some(true);
        if !(above_bound && below_p_minus_1) {
            return Err(out_of_range);
        }
        let significant = mpi(be);
        let bits = g.exponent_bits.max(significant.len() * 8);
        let exponent_bits = u32::try_from(bits).map_err(|_| out_of_range.clone())?;
        let value =
            BoxedUint::from_be_slice(significant, exponent_bits).map_err(|_| out_of_range)?;
        Ok(DhSecret {
            group,
            value,
            exponent_bits,
        })
    }

    /// The secret as mpi() octets. Handle with care: this copies the secret out.
    pub fn expose_mpi(&self) -> Vec<u8> {
        let be = Zeroizing::new(self.value.to_be_bytes());
        mpi(&be).to_vec()
    }

    /// The id of the group this secret belongs to.
    #[cfg(any(test, feature = "hazmat"))]
    pub fn group(&self) -> u32 {
        self.group
    }
}

impl Drop for DhSecret {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl std::fmt::Debug for DhSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhSecret(group {}, <redacted>)", self.group)
    }
}

/// Hexadecimal digits to octets, ignoring whitespace; `None` on any other character or an odd
/// number of digits.
fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(
        digits
            .chunks(2)
            .map(|pair| pair.iter().fold(0u8, |acc, d| (acc << 4) | d))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash::sha256;
    use crate::random::SeededRandom;
    use num_bigint::BigUint;

    const ALL: [u32; 8] = [1, 2, 5, 14, 15, 16, 17, 18];

    #[test]
    fn primes_match_the_published_checksums() {
        // spec-digest.md §2.6: SHA-256 of p, big-endian in N/8 octets.
        let sums = [
            (
                1,
                "b52ba6a3026520a6c49d37e4587601801bee500123b3259b6bf03e7cecc3e63d",
            ),
            (
                2,
                "3f35a3f5f6c4376a744acad409bb22f8d897f949d2311d885adaa890981b67a0",
            ),
            (
                5,
                "64fcc83ec403930bf18393dbc883ccaa1fbb08ac876f77f7aa99748ca945019b",
            ),
            (
                14,
                "d66436f79bbd6b2e38c0ffbd079be904d2641415e2e67140e09448be9a60890e",
            ),
            (
                15,
                "48cf8b092fbce4359d9871abf74f98e25b6163379eaa15cd9087e800c6d1c55c",
            ),
            (
                16,
                "4ee95187682bcb230ad26a95205f6920e84708f6251b3894329b09ec23919e33",
            ),
            (
                17,
                "d1bfe6d0925ce7e4da262b62861514a7755e35831e429f343e7b864848657efd",
            ),
            (
                18,
                "39ab4feab950a3128fb71accb9fc3965d857012e081998a85996e3ea8b3c3bcf",
            ),
        ];
        for (id, sum) in sums {
            let g = ModpGroup::get(id).unwrap();
            assert_eq!(g.id(), id);
            assert_eq!(g.prime_be().len() * 8, g.bits());
            assert_eq!(hex::encode(sha256(&[&g.prime_be()])), sum, "group {id}");
        }
    }

    #[test]
    fn sizes() {
        let expect = [
            (1, 768, 512),
            (2, 1024, 512),
            (5, 1536, 256),
            (14, 2048, 256),
            (15, 3072, 320),
            (16, 4096, 384),
            (17, 6144, 448),
            (18, 8192, 512),
        ];
        for (id, bits, exp) in expect {
            let g = ModpGroup::get(id).unwrap();
            assert_eq!((g.bits(), g.exponent_bits()), (bits, exp), "group {id}");
        }
    }

    #[test]
    fn unknown_groups_are_refused() {
        for id in [0, 3, 4, 6, 13, 19, 24, u32::MAX] {
            assert_eq!(
                ModpGroup::get(id).unwrap_err(),
                CryptoError::UnknownGroup(id)
            );
            assert_eq!(
                DhSecret::from_be(id, &[0xff; 40]).unwrap_err(),
                CryptoError::UnknownGroup(id)
            );
        }
    }

    fn big(b: &BigUint, len: usize) -> Vec<u8> {
        let v = b.to_bytes_be();
        let mut out = vec![0u8; len.saturating_sub(v.len())];
        out.extend_from_slice(&v);
        out
    }

    #[test]
    fn public_value_range_check() {
        for id in ALL {
            let g = ModpGroup::get(id).unwrap();
            let p = BigUint::from_bytes_be(&g.prime_be());
            let n = g.prime_be().len();
            let one = BigUint::from(1u8);
            let bad = CryptoError::PublicOutOfRange { group: id };
            let check = |v: &BigUint| g.check_public(&v.to_bytes_be());
            assert_eq!(g.check_public(&[]), Err(bad.clone()));
            assert_eq!(g.check_public(&[0]), Err(bad.clone()));
            assert_eq!(g.check_public(&[1]), Err(bad.clone()));
            assert_eq!(g.check_public(&[2]), Ok(()));
            assert_eq!(check(&(&p - 2u8)), Ok(()));
            assert_eq!(check(&(&p - &one)), Err(bad.clone()));
            assert_eq!(check(&p), Err(bad.clone()));
            assert_eq!(check(&(&p + &one)), Err(bad.clone()));
            // Leading zero octets are allowed, even beyond p's length.
            assert_eq!(g.check_public(&big(&(&p - 2u8), n + 3)), Ok(()));
            assert_eq!(g.check_public(&[0, 0, 0, 5]), Ok(()));
            assert_eq!(g.check_public(&[0, 0, 1]), Err(bad.clone()));
            // Longer than p.
            let mut long = vec![1u8];
            long.extend_from_slice(&[0u8; 1024]);
            assert_eq!(g.check_public(&long), Err(bad.clone()));
            assert_eq!(g.check_public(&vec![0xff; n]), Err(bad));
        }
    }

    #[test]
    fn generated_secrets_have_exactly_exponent_bits() {
        let mut rng = SeededRandom::from_label("exponents");
        for id in ALL {
            let g = ModpGroup::get(id).unwrap();
            for _ in 0..8 {
                let x = g.generate_secret(&mut rng);
                assert_eq!(x.group(), id);
                let m = x.expose_mpi();
                assert_eq!(m.len() * 8, g.exponent_bits(), "group {id}");
                assert!(m[0] & 0x80 != 0);
                let v = BigUint::from_bytes_be(&m);
                assert_eq!(v.bits() as usize, g.exponent_bits());
                assert!(v > BigUint::from(1u8) << 255u32);
            }
        }
    }

    #[test]
    fn secret_range_and_redaction() {
        let g = ModpGroup::get(14).unwrap();
        let p = BigUint::from_bytes_be(&g.prime_be());
        let bad = CryptoError::SecretOutOfRange { group: 14 };
        let two255 = BigUint::from(1u8) << 255u32;
        assert_eq!(
            DhSecret::from_be(14, &two255.to_bytes_be()).unwrap_err(),
            bad
        );
        assert!(DhSecret::from_be(14, &(&two255 + 1u8).to_bytes_be()).is_ok());
        assert_eq!(
            DhSecret::from_be(14, &(&p - 1u8).to_bytes_be()).unwrap_err(),
            bad
        );
        assert!(DhSecret::from_be(14, &(&p - 2u8).to_bytes_be()).is_ok());
        assert_eq!(DhSecret::from_be(14, &[5]).unwrap_err(), bad);
        let mut be = vec![0u8, 0, 0x90];
        be.extend(1u8..32);
        let x = DhSecret::from_be(14, &be).unwrap();
        assert_eq!(x.expose_mpi()[0], 0x90);
        assert_eq!(x.expose_mpi().len(), 32);
        assert_eq!(format!("{x:?}"), "DhSecret(group 14, <redacted>)");
        assert!(format!("{g:?}").contains("14"));
    }

    fn reference_pow(base: &[u8], exp: &[u8], p: &[u8]) -> Vec<u8> {
        BigUint::from_bytes_be(base)
            .modpow(&BigUint::from_bytes_be(exp), &BigUint::from_bytes_be(p))
            .to_bytes_be()
    }

    #[test]
    fn agreement_matches_reference() {
        let mut rng = SeededRandom::from_label("dh agreement");
        for id in ALL {
            let g = ModpGroup::get(id).unwrap();
            let a = g.generate_secret(&mut rng);
            let b = g.generate_secret(&mut rng);
            let ea = g.public_value(&a);
            let eb = g.public_value(&b);
            assert_eq!(
                ea,
                reference_pow(&[2], &a.expose_mpi(), &g.prime_be()),
                "group {id}"
            );
            assert_eq!(eb, reference_pow(&[2], &b.expose_mpi(), &g.prime_be()));
            assert_eq!(ea, mpi(&ea));
            g.check_public(&ea).unwrap();
            let ka = g.shared_secret(&a, &eb).unwrap();
            let kb = g.shared_secret(&b, &ea).unwrap();
            assert_eq!(ka.expose(), kb.expose(), "group {id}");
            assert_eq!(
                ka.expose(),
                reference_pow(&eb, &a.expose_mpi(), &g.prime_be())
            );
            assert_eq!(ka.expose(), mpi(ka.expose()));
        }
    }

    #[test]
    fn shared_secret_accepts_padded_peer_values_and_is_minimal() {
        let g = ModpGroup::get(5).unwrap();
        let mut rng = SeededRandom::from_label("padded");
        let x = g.generate_secret(&mut rng);
        let peer = [0u8, 0, 0, 3];
        let k = g.shared_secret(&x, &peer).unwrap();
        assert_eq!(
            k.expose(),
            reference_pow(&[3], &x.expose_mpi(), &g.prime_be())
        );
        // An imported secret longer than exponent_bits still works.
        let p = BigUint::from_bytes_be(&g.prime_be());
        let long = DhSecret::from_be(5, &(&p - 2u8).to_bytes_be()).unwrap();
        assert_eq!(
            g.public_value(&long),
            reference_pow(&[2], &long.expose_mpi(), &g.prime_be())
        );
    }

    #[test]
    fn shared_secret_refuses_bad_inputs() {
        let g14 = ModpGroup::get(14).unwrap();
        let g15 = ModpGroup::get(15).unwrap();
        let mut rng = SeededRandom::from_label("bad inputs");
        let x = g14.generate_secret(&mut rng);
        assert_eq!(
            g15.shared_secret(&x, &[5]).unwrap_err(),
            CryptoError::GroupMismatch {
                secret: 14,
                group: 15
            }
        );
        assert_eq!(
            g14.shared_secret(&x, &[1]).unwrap_err(),
            CryptoError::PublicOutOfRange { group: 14 }
        );
        let p_minus_1 = (BigUint::from_bytes_be(&g14.prime_be()) - 1u8).to_bytes_be();
        assert_eq!(
            g14.shared_secret(&x, &p_minus_1).unwrap_err(),
            CryptoError::PublicOutOfRange { group: 14 }
        );
    }

    #[test]
    fn hex_parser() {
        assert_eq!(parse_hex(" 0a FF\n10 "), Some(vec![0x0a, 0xff, 0x10]));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex("zz"), None);
    }
}
