//! Memoized public-key operations for fuzzing only (feature `fuzz-memo`, enabled by the
//! `fuzz/` crate and nothing else).
//!
//! A fuzz input replays captured stanzas, so the same DH exponentiation, signature check
//! and signature come back in almost every input; each costs a modular exponentiation
//! (768 to 2048 bits) that dwarfs the parsing and dispatch the fuzzer is there to explore.
//! Every operation memoized here is a pure function of exactly the inputs its key holds,
//! so a hit returns what the computation returns; a mutated input misses and is computed
//! for real. Keys and results (DH secrets included) are kept in clear memory, per
//! thread, bounded: never enable this feature outside a fuzzer.
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::thread::LocalKey;

use super::{CryptoError, KeyError, PublicKey, SecretBytes, SignAlg};

/// Entries kept per table; a full table starts over (a fuzzer's hot values come back at
/// once).
const CAP: usize = 8192;

type Table<K, V> = RefCell<HashMap<K, V>>;
/// (group, secret exponent octets, exponent bits, peer value without leading zeros).
type DhKey = (u32, Vec<u8>, u32, Vec<u8>);
/// (key, algorithm, message, signature).
type VerifyKey = (PublicKey, SignAlg, Vec<u8>, Vec<u8>);

thread_local! {
    /// DH exponentiations: to the shared value.
    pub(super) static DH: Table<DhKey, Result<SecretBytes, CryptoError>> = RefCell::default();
    /// Signature checks: to the outcome.
    pub(super) static VERIFY: Table<VerifyKey, Result<(), KeyError>> = RefCell::default();
    /// (the signer's public key, message) to the signature (RSASSA-PKCS1-v1_5 and RFC 6979
    /// DSA are deterministic).
    pub(super) static SIGN: Table<(PublicKey, Vec<u8>), Result<Vec<u8>, KeyError>> =
        RefCell::default();
}

/// The value of `compute` for `key`, from `table` when it was computed before.
pub(super) fn through<K: Hash + Eq, V: Clone>(
    table: &'static LocalKey<Table<K, V>>,
    key: K,
    compute: impl FnOnce() -> V,
) -> V {
    if let Some(hit) = table.with(|t| t.borrow().get(&key).cloned()) {
        return hit;
    }
    let value = compute();
    table.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() >= CAP {
            t.clear();
        }
        t.insert(key, value.clone());
    });
    value
}

#[cfg(test)]
mod tests {
    use super::super::{IdentityKey, ModpGroup};
    use super::*;
    use crate::random::SeededRandom;

    const RSA: &[u8] = include_bytes!("../../tests/keys/rsa2048.pk8.der");

    #[test]
    fn hits_return_exactly_what_the_computation_returns() {
        let g = ModpGroup::get(1).unwrap();
        let mut rng = SeededRandom::from_label("memo");
        let (a, b) = (g.generate_secret(&mut rng), g.generate_secret(&mut rng));
        let (a_pub, b_pub) = (g.public_value(&a), g.public_value(&b));
        let direct = g.exponentiate(&a, &b_pub).unwrap();
        for _ in 0..2 {
            assert_eq!(g.shared_secret(&a, &b_pub).unwrap(), direct);
        }
        // Another secret or another peer value is another entry, computed for real.
        assert_eq!(g.shared_secret(&b, &a_pub).unwrap(), direct);
        assert_ne!(g.shared_secret(&a, &a_pub).unwrap(), direct);
        // A refused value is refused before the memo, every time.
        assert!(g.shared_secret(&a, &[1]).is_err());

        let key = IdentityKey::from_pkcs8_der(RSA).unwrap();
        let sig = key.sign(b"mac").unwrap();
        assert_eq!(key.sign(b"mac").unwrap(), sig);
        assert_ne!(key.sign(b"MAC").unwrap(), sig);
        let public = key.public();
        for _ in 0..2 {
            assert_eq!(public.verify(SignAlg::RsaSha256, b"mac", &sig), Ok(()));
            assert!(public.verify(SignAlg::RsaSha256, b"MAC", &sig).is_err());
        }
    }

    #[test]
    fn a_full_table_starts_over() {
        thread_local! {
            static T: Table<u32, u32> = RefCell::default();
        }
        let mut calls = 0;
        for k in 0..=CAP as u32 {
            through(&T, k, || {
                calls += 1;
                k
            });
        }
        assert_eq!(T.with(|t| t.borrow().len()), 1);
        assert_eq!(through(&T, CAP as u32, || unreachable!()), CAP as u32);
        assert_eq!(calls, CAP + 1);
    }
}
