//! Nonces and initial block counters (profile P2, XEP-0116 §4.5.1).
use crate::random::Random;

/// A 32-octet nonce (N_A or N_B) with a non-zero first octet (profile P2), drawn uniformly
/// among such strings by rejection.
pub fn draw_nonce(rng: &mut dyn Random) -> [u8; 32] {
    let mut n = [0u8; 32];
    loop {
        rng.fill(&mut n);
        // Profile P2: the first octet is non-zero, so mpi() and the raw octets coincide.
        if n[0] != 0 {
            return n;
        }
    }
}

/// C_A: 128 random bits whose first octet is neither 0x00 nor 0x80 (profile P2), so that
/// both C_A and C_B = C_A XOR 2^127 have a non-zero first octet.
pub fn draw_counter(rng: &mut dyn Random) -> u128 {
    let mut c = [0u8; 16];
    loop {
        rng.fill(&mut c);
        if c[0] != 0x00 && c[0] != 0x80 {
            return u128::from_be_bytes(c);
        }
    }
}

/// C_B = C_A XOR 2^(n-1) with n = 128 (XEP-0116 §4.5.1).
pub fn responder_counter(c_a: u128) -> u128 {
    c_a ^ (1u128 << 127)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn counters_never_start_with_0_or_0x80() {
        let mut rng = SeededRandom::from_label("counters");
        let mut firsts = std::collections::HashSet::new();
        for _ in 0..20_000 {
            let c = draw_counter(&mut rng);
            let first = c.to_be_bytes()[0];
            assert!(first != 0x00 && first != 0x80);
            let b = responder_counter(c).to_be_bytes()[0];
            assert_ne!(b, 0x00);
            firsts.insert(first);
        }
        // The other 254 first octets all occur.
        assert_eq!(firsts.len(), 254);
    }

    #[test]
    fn nonces_have_non_zero_first_octet() {
        let mut rng = SeededRandom::from_label("nonces");
        let mut a = draw_nonce(&mut rng);
        for _ in 0..5_000 {
            let b = draw_nonce(&mut rng);
            assert_ne!(b[0], 0);
            assert_ne!(a, b);
            a = b;
        }
    }

    #[test]
    fn responder_counter_flips_the_top_bit() {
        assert_eq!(responder_counter(1), (1 << 127) | 1);
        assert_eq!(responder_counter(responder_counter(12345)), 12345);
        assert_eq!(responder_counter(u128::MAX), u128::MAX >> 1);
    }
}
