//! Cryptographic primitives: MODP groups, mpi(), KDF, CTR+HMAC, SAS, constant-time helpers.
//!
//! Everything here follows `profile.md` (P1, P2, P3, P5, P6); each rule cites its section.
pub mod cipher;
pub mod ct;
pub mod group;
pub mod hash;
pub mod kdf;
pub mod mac;
pub(crate) mod mac_key;
#[cfg(feature = "fuzz-memo")]
mod memo;
// The memo keeps DH secrets in clear memory and answers from a cache: for fuzzing only,
// whose builds keep debug assertions on (cargo-fuzz's default). An optimized build without
// them that turns the feature on (`--all-features`, say) is refused.
#[cfg(all(feature = "fuzz-memo", not(debug_assertions)))]
compile_error!(
    "the feature fuzz-memo is for the fuzz crate only (it caches secrets in clear memory)"
);
pub mod mpi;
pub mod nonce;
pub mod pool;
mod primes;
pub mod pubkey;
pub mod sas;
pub mod secret;

pub use cipher::{apply_ctr, blocks_for, CipherAlg};
pub use ct::ct_eq;
pub use group::{DhSecret, ModpGroup};
pub use hash::{hash, hmac, sha256, HashAlg};
pub use kdf::{
    commitment, final_k, negotiation_k, new_retained_secret, rekey_keys, rshash, session_keys,
    srshash, DirectionKeys, SessionKeys,
};
pub use mac::identity_mac;
#[cfg(any(test, feature = "hazmat"))]
pub use mac::stanza_mac;
#[cfg(feature = "hazmat")]
pub use mac_key::MacKey;
#[cfg(feature = "hazmat")]
pub use mpi::mpi_u128;
pub use mpi::{mpi, u128_from_be};
pub use nonce::{draw_counter, draw_nonce, responder_counter};
pub use pool::DhPool;
pub use pubkey::{Fingerprint, IdentityKey, KeyError, PublicKey, SignAlg};
#[cfg(feature = "hazmat")]
pub use sas::render_sas28x5;
pub use sas::{sas28x5, sas28x5_commit, SasAlg};
pub use secret::SecretBytes;

/// A cryptographic failure. Each message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The MODP group id is not one of 1, 2, 5, 14, 15, 16, 17, 18 (3 and 4 are EC2N groups
    /// and are refused, A15).
    #[error("MODP group {0} is not supported (supported: 1, 2, 5, 14, 15, 16, 17, 18; 3 and 4 are EC2N groups)")]
    UnknownGroup(u32),
    /// A built-in group constant failed to load (a bug in this crate).
    #[error("the built-in prime of MODP group {0} is malformed")]
    GroupConstant(u32),
    /// A received DH public value failed 1 < v < p-1.
    #[error("DH public value out of range for MODP group {group}: 1 < v < p-1 does not hold")]
    PublicOutOfRange {
        /// The group the value was checked against.
        group: u32,
    },
    /// A secret exponent failed 2^255 < x < p-1.
    #[error(
        "DH secret exponent out of range for MODP group {group}: 2^255 < x < p-1 does not hold"
    )]
    SecretOutOfRange {
        /// The group the secret was meant for.
        group: u32,
    },
    /// A secret of one group was used with another group.
    #[error("DH secret belongs to MODP group {secret}, not to group {group}")]
    GroupMismatch {
        /// The secret's group.
        secret: u32,
        /// The group it was used with.
        group: u32,
    },
    /// A cipher key has the wrong length.
    #[error("cipher key has {got} octets, the algorithm needs {expected}")]
    KeyLength {
        /// Octets the algorithm needs.
        expected: usize,
        /// Octets given.
        got: usize,
    },
    /// A received counter has more than 16 significant octets.
    #[error("counter has {got} significant octets, at most 16 allowed")]
    CounterLength {
        /// Significant octets (after leading zeros are removed).
        got: usize,
    },
    /// A received counter has no octets at all.
    #[error("counter is empty")]
    EmptyCounter,
    /// The CTR keystream would run past 2^128 blocks in one call.
    #[error("CTR keystream exhausted: data longer than 2^128 blocks")]
    KeystreamExhausted,
}
