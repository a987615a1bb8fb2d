//! The negotiated block cipher in CTR mode (`crypt_algs`, XEP-0116 §8; NIST SP 800-38A §6.5).
use aes::cipher::{KeyIvInit, StreamCipher};

use super::CryptoError;

/// A cipher from the `crypt_algs` field (SSH names, RFC 4344).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    /// AES with a 128-bit key, `aes128-ctr` (the mandatory one, XEP-0116 §8).
    Aes128Ctr,
    /// AES with a 192-bit key, `aes192-ctr`.
    Aes192Ctr,
    /// AES with a 256-bit key, `aes256-ctr`.
    Aes256Ctr,
}

impl CipherAlg {
    /// The name used in the `crypt_algs` field.
    pub fn name(self) -> &'static str {
        match self {
            CipherAlg::Aes128Ctr => "aes128-ctr",
            CipherAlg::Aes192Ctr => "aes192-ctr",
            CipherAlg::Aes256Ctr => "aes256-ctr",
        }
    }

    /// The cipher named `s` in a `crypt_algs` field, if supported.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "aes128-ctr" => Some(CipherAlg::Aes128Ctr),
            "aes192-ctr" => Some(CipherAlg::Aes192Ctr),
            "aes256-ctr" => Some(CipherAlg::Aes256Ctr),
            _ => None,
        }
    }

    /// Key length in octets (profile P1: KC is this many octets).
    pub fn key_len(self) -> usize {
        match self {
            CipherAlg::Aes128Ctr => 16,
            CipherAlg::Aes192Ctr => 24,
            CipherAlg::Aes256Ctr => 32,
        }
    }

    /// Block size n in bits (XEP-0116 §4.5.1: C_A is an n-bit number).
    pub fn block_bits(self) -> u32 {
        128
    }
}

/// Number of counter values that `len` octets consume: ceil(len / 16).
///
/// XEP-0200 §6: C increments by 1 per encrypted block or partial block.
pub fn blocks_for(len: usize) -> u128 {
    len.div_ceil(16) as u128
}

/// Encrypts or decrypts `data` in place in CTR mode (NIST SP 800-38A), with the counter
/// block = `*counter` as 16 big-endian octets, +1 (mod 2^128) per block or partial block;
/// advances `*counter` by [`blocks_for`]`(data.len())`. Empty data: no change (callers handle
/// the "no content" +1 of XEP-0200 §6 themselves).
///
/// # Errors
/// [`CryptoError::KeyLength`] when `key` is not `alg.key_len()` octets.
pub fn apply_ctr(
    alg: CipherAlg,
    key: &[u8],
    counter: &mut u128,
    data: &mut [u8],
) -> Result<(), CryptoError> {
    if key.len() != alg.key_len() {
        return Err(CryptoError::KeyLength {
            expected: alg.key_len(),
            got: key.len(),
        });
    }
    if data.is_empty() {
        return Ok(());
    }
    // XEP-0116 §4.5.1 / profile P2: the CTR counter block is C as 16 big-endian octets.
    let iv = counter.to_be_bytes();
    match alg {
        CipherAlg::Aes128Ctr => xor_keystream::<ctr::Ctr128BE<aes::Aes128>>(key, &iv, data)?,
        CipherAlg::Aes192Ctr => xor_keystream::<ctr::Ctr128BE<aes::Aes192>>(key, &iv, data)?,
        CipherAlg::Aes256Ctr => xor_keystream::<ctr::Ctr128BE<aes::Aes256>>(key, &iv, data)?,
    }
    // XEP-0200 §6: C increments per block or partial block, modulo 2^n (n = 128).
    *counter = counter.wrapping_add(blocks_for(data.len()));
    Ok(())
}

fn xor_keystream<C: KeyIvInit + StreamCipher>(
    key: &[u8],
    iv: &[u8; 16],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let mut c = C::new_from_slices(key, iv).map_err(|_| CryptoError::KeyLength {
        expected: C::key_size(),
        got: key.len(),
    })?;
    // Ctr128BE wraps the full 128-bit counter block modulo 2^128; it refuses only a
    // message longer than 2^128 blocks.
    c.try_apply_keystream(data)
        .map_err(|_| CryptoError::KeystreamExhausted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a\
                         ae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52ef\
                         f69f2445df4f9b17ad2b417be66c3710";
    const CIPHER: &str = "874d6191b620e3261bef6864990db6ce\
                          9806f66b7970fdff8617187bb9fffdff\
                          5ae4df3edbd5d35e5b4f09020db03eab\
                          1e031dda2fbe03d1792170a0f3009cee";

    fn counter() -> u128 {
        u128::from_str_radix(CTR, 16).unwrap()
    }

    #[test]
    fn names_and_sizes() {
        for alg in [
            CipherAlg::Aes128Ctr,
            CipherAlg::Aes192Ctr,
            CipherAlg::Aes256Ctr,
        ] {
            assert_eq!(CipherAlg::from_name(alg.name()), Some(alg));
            assert_eq!(alg.block_bits(), 128);
        }
        assert_eq!(CipherAlg::Aes128Ctr.name(), "aes128-ctr");
        assert_eq!(CipherAlg::Aes192Ctr.key_len(), 24);
        assert_eq!(CipherAlg::Aes256Ctr.key_len(), 32);
        assert_eq!(CipherAlg::from_name("none"), None);
        assert_eq!(CipherAlg::from_name("twofish128-ctr"), None);
    }

    #[test]
    fn nist_sp800_38a_f5_1_aes128_ctr() {
        let key = hex::decode(KEY).unwrap();
        let mut data = hex::decode(PLAIN).unwrap();
        let mut c = counter();
        apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(hex::encode(&data), CIPHER);
        assert_eq!(c, counter().wrapping_add(4));
        // F.5.2: decryption is the same operation.
        let mut c = counter();
        apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(hex::encode(&data), PLAIN);
    }

    #[test]
    fn split_calls_continue_the_keystream_block_by_block() {
        let key = hex::decode(KEY).unwrap();
        let plain = hex::decode(PLAIN).unwrap();
        let mut c = counter();
        let mut first = plain[..16].to_vec();
        let mut rest = plain[16..].to_vec();
        apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut first).unwrap();
        apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut rest).unwrap();
        first.extend_from_slice(&rest);
        assert_eq!(hex::encode(first), CIPHER);
    }

    #[test]
    fn counter_advance() {
        let key = [7u8; 16];
        for (len, blocks) in [
            (0usize, 0u128),
            (1, 1),
            (15, 1),
            (16, 1),
            (17, 2),
            (32, 2),
            (33, 3),
        ] {
            assert_eq!(blocks_for(len), blocks);
            let mut c = 1000u128;
            let mut data = vec![0u8; len];
            apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut data).unwrap();
            assert_eq!(c, 1000 + blocks, "len {len}");
        }
    }

    #[test]
    fn wraps_at_2_pow_128() {
        let key = hex::decode(KEY).unwrap();
        let mut c = u128::MAX;
        let mut data = [0u8; 48];
        apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(c, 2);
        // Block i of the keystream is AES(K, (2^128 - 1 + i) mod 2^128): compare with three
        // single-block calls at the explicit counters ffff…ff, 0, 1.
        for (i, start) in [u128::MAX, 0, 1].into_iter().enumerate() {
            let mut c1 = start;
            let mut block = [0u8; 16];
            apply_ctr(CipherAlg::Aes128Ctr, &key, &mut c1, &mut block).unwrap();
            assert_eq!(block, data[16 * i..16 * (i + 1)], "block {i}");
        }
        // And the counter-0 block is the raw AES encryption of 16 zero octets.
        use aes::cipher::{BlockEncrypt, KeyInit};
        let aes = aes::Aes128::new_from_slice(&key).unwrap();
        let mut zero = aes::Block::default();
        aes.encrypt_block(&mut zero);
        assert_eq!(zero.as_slice(), &data[16..32]);
    }

    #[test]
    fn key_length_is_checked() {
        let mut c = 0u128;
        let mut data = [0u8; 4];
        assert_eq!(
            apply_ctr(CipherAlg::Aes256Ctr, &[0u8; 16], &mut c, &mut data),
            Err(CryptoError::KeyLength {
                expected: 32,
                got: 16
            })
        );
        assert_eq!(c, 0);
        assert_eq!(data, [0u8; 4]);
    }

    #[test]
    fn aes256_roundtrip() {
        let key = [9u8; 32];
        let mut data = b"hello, encrypted world".to_vec();
        let mut c = 5u128;
        apply_ctr(CipherAlg::Aes256Ctr, &key, &mut c, &mut data).unwrap();
        assert_ne!(&data[..], b"hello, encrypted world");
        let mut c = 5u128;
        apply_ctr(CipherAlg::Aes256Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(&data[..], b"hello, encrypted world");
    }
}
