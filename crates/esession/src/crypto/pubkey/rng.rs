//! The crate's injected randomness ([`crate::random::Random`]) as the `rand_core` 0.10
//! generator that the `rsa` and `dsa` crates take for key generation (XEP-0116 §7: a strong
//! PRNG for every random value).
use crate::random::Random;
use rsa::rand_core::{TryCryptoRng, TryRng};
use std::convert::Infallible;

/// Borrows a [`Random`] as a `rand_core` cryptographic generator.
pub(super) struct RngAdapter<'a>(pub(super) &'a mut dyn Random);

impl TryRng for RngAdapter<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

/// [`Random`] is a cryptographically strong source by contract (`OsRandom` in production;
/// `SeededRandom` only in tests and vectors).
impl TryCryptoRng for RngAdapter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn adapter_draws_from_the_injected_source() {
        let mut a = SeededRandom::from_label("rng");
        let mut b = SeededRandom::from_label("rng");
        let mut expected = [0u8; 12];
        b.fill(&mut expected);
        let mut adapter = RngAdapter(&mut a);
        let x = adapter.try_next_u32().unwrap();
        let y = adapter.try_next_u64().unwrap();
        let mut got = Vec::new();
        got.extend_from_slice(&x.to_le_bytes());
        got.extend_from_slice(&y.to_le_bytes());
        assert_eq!(got, expected);
        let mut z = [0u8; 5];
        adapter.try_fill_bytes(&mut z).unwrap();
        let mut expected_z = [0u8; 5];
        b.fill(&mut expected_z);
        assert_eq!(z, expected_z);
    }
}
