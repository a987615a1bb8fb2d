//! The negotiated block cipher in CTR mode (`crypt_algs`, XEP-0116 §8; NIST SP 800-38A §6.5).
use aes::cipher::{
    consts::U16, BlockCipher, BlockEncryptMut, InnerIvInit, KeyInit, StreamCipher,
    StreamCipherCoreWrapper,
};

use super::CryptoError;

/// A cipher from the `crypt_algs` field (SSH names, RFC 4344; the list of XEP-0116 §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    /// AES with a 128-bit key, `aes128-ctr` (the mandatory one, XEP-0116 §8).
    Aes128Ctr,
    /// AES with a 192-bit key, `aes192-ctr`.
    Aes192Ctr,
    /// AES with a 256-bit key, `aes256-ctr`.
    Aes256Ctr,
    /// Twofish with a 128-bit key, `twofish128-ctr`.
    Twofish128Ctr,
    /// Twofish with a 192-bit key, `twofish192-ctr`.
    Twofish192Ctr,
    /// Twofish with a 256-bit key, `twofish256-ctr`.
    Twofish256Ctr,
    /// Serpent with a 128-bit key, `serpent128-ctr`.
    Serpent128Ctr,
    /// Serpent with a 192-bit key, `serpent192-ctr`.
    Serpent192Ctr,
    /// Serpent with a 256-bit key, `serpent256-ctr`.
    Serpent256Ctr,
    /// `none`: no encryption, integrity only (XEP-0116 §8, XEP-0200 §6 step 3). Weak.
    None,
}

impl CipherAlg {
    /// Every cipher of XEP-0116 §8, the mandatory `aes128-ctr` first and `none` last.
    pub const ALL: [CipherAlg; 10] = [
        CipherAlg::Aes128Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes256Ctr,
        CipherAlg::Twofish128Ctr,
        CipherAlg::Twofish192Ctr,
        CipherAlg::Twofish256Ctr,
        CipherAlg::Serpent128Ctr,
        CipherAlg::Serpent192Ctr,
        CipherAlg::Serpent256Ctr,
        CipherAlg::None,
    ];

    /// The name used in the `crypt_algs` field.
    pub fn name(self) -> &'static str {
        match self {
            CipherAlg::Aes128Ctr => "aes128-ctr",
            CipherAlg::Aes192Ctr => "aes192-ctr",
            CipherAlg::Aes256Ctr => "aes256-ctr",
            CipherAlg::Twofish128Ctr => "twofish128-ctr",
            CipherAlg::Twofish192Ctr => "twofish192-ctr",
            CipherAlg::Twofish256Ctr => "twofish256-ctr",
            CipherAlg::Serpent128Ctr => "serpent128-ctr",
            CipherAlg::Serpent192Ctr => "serpent192-ctr",
            CipherAlg::Serpent256Ctr => "serpent256-ctr",
            CipherAlg::None => "none",
        }
    }

    /// The cipher named `s` in a `crypt_algs` field, if supported (exact, case-sensitive
    /// match).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == s)
    }

    /// Key length in octets (profile P1: KC is the last this many octets of the HMAC
    /// output; 0 for `none`, which has no cipher key).
    pub fn key_len(self) -> usize {
        match self {
            CipherAlg::Aes128Ctr | CipherAlg::Twofish128Ctr | CipherAlg::Serpent128Ctr => 16,
            CipherAlg::Aes192Ctr | CipherAlg::Twofish192Ctr | CipherAlg::Serpent192Ctr => 24,
            CipherAlg::Aes256Ctr | CipherAlg::Twofish256Ctr | CipherAlg::Serpent256Ctr => 32,
            CipherAlg::None => 0,
        }
    }

    /// Block size n in bits (XEP-0116 §4.5.1: C_A is an n-bit number). Every listed cipher
    /// has a 128-bit block; for `none` n is undefined and taken as 128 (A27).
    pub fn block_bits(self) -> u32 {
        128
    }

    /// `true` for an algorithm that gives no confidentiality: only `none` (XEP-0116 §8).
    pub fn is_weak(self) -> bool {
        self == CipherAlg::None
    }

    /// `true` for a cipher whose implementation indexes tables with secret data (Twofish's
    /// key-dependent S-boxes), so its timing may leak key bits to a local observer. Still
    /// negotiable, but kept out of the default offer and accept lists.
    pub fn uses_secret_indexed_tables(self) -> bool {
        matches!(
            self,
            CipherAlg::Twofish128Ctr | CipherAlg::Twofish192Ctr | CipherAlg::Twofish256Ctr
        )
    }

    /// Number of counter values that encrypting `len` octets consumes: ceil(len / 16) for
    /// the block ciphers (XEP-0200 §6: +1 per block or partial block); for `none`, 1 when
    /// `len` > 0 (XEP-0200 §6 step 3: "C MUST be incremented by 1"; A27). 0 when `len` is
    /// 0 (callers handle the "no content" +1 of XEP-0200 §6 themselves).
    pub fn counter_steps(self, len: usize) -> u128 {
        match self {
            CipherAlg::None => u128::from(len > 0),
            _ => blocks_for(len),
        }
    }
}

/// Number of counter values that `len` octets consume under a 128-bit block cipher:
/// ceil(len / 16).
///
/// XEP-0200 §6: C increments by 1 per encrypted block or partial block. For a
/// cipher-dependent count (`none` steps by 1), use [`CipherAlg::counter_steps`].
pub fn blocks_for(len: usize) -> u128 {
    len.div_ceil(16) as u128
}

/// Encrypts or decrypts `data` in place in CTR mode (NIST SP 800-38A), with the counter
/// block = `*counter` as 16 big-endian octets, +1 (mod 2^128) per block or partial block;
/// advances `*counter` by [`CipherAlg::counter_steps`]`(data.len())`. With
/// [`CipherAlg::None`] `data` is left unchanged and the counter advances by 1 (XEP-0200 §6
/// step 3; A27). Empty data: no change (callers handle the "no content" +1 of XEP-0200 §6
/// themselves).
///
/// # Errors
/// [`CryptoError::KeyLength`] when `key` is not `alg.key_len()` octets (for `none`: not
/// empty).
pub fn apply_ctr(
    alg: CipherAlg,
    key: &[u8],
    counter: &mut u128,
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let expected = alg.key_len();
    if key.len() != expected {
        return Err(CryptoError::KeyLength {
            expected,
            got: key.len(),
        });
    }
    if data.is_empty() {
        return Ok(());
    }
    // XEP-0116 §4.5.1 / profile P2: the CTR counter block is C as 16 big-endian octets.
    let iv = counter.to_be_bytes();
    match alg {
        CipherAlg::Aes128Ctr => xor_keystream::<aes::Aes128>(key, &iv, data)?,
        CipherAlg::Aes192Ctr => xor_keystream::<aes::Aes192>(key, &iv, data)?,
        CipherAlg::Aes256Ctr => xor_keystream::<aes::Aes256>(key, &iv, data)?,
        CipherAlg::Twofish128Ctr | CipherAlg::Twofish192Ctr | CipherAlg::Twofish256Ctr => {
            xor_keystream::<twofish::Twofish>(key, &iv, data)?
        }
        CipherAlg::Serpent128Ctr | CipherAlg::Serpent192Ctr | CipherAlg::Serpent256Ctr => {
            xor_keystream::<serpent::Serpent>(key, &iv, data)?
        }
        // XEP-0200 §6 step 3: with `none`, encryption MUST NOT be performed.
        CipherAlg::None => {}
    }
    // XEP-0200 §6: C increments per block or partial block (by 1 for `none`), modulo 2^n
    // (n = 128, A27).
    *counter = counter.wrapping_add(alg.counter_steps(data.len()));
    Ok(())
}

/// XORs the CTR keystream of block cipher `C` (128-bit block, full 128-bit big-endian
/// counter, `ctr::Ctr128BE`) into `data`. The key is given to `C` by slice, so that one
/// type serves every key size Twofish and Serpent accept; the caller checked its length.
/// `ZeroizeOnDrop`: the key schedule and the keystream state are wiped when `c` is dropped.
fn xor_keystream<C>(key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError>
where
    C: KeyInit + BlockCipher + BlockEncryptMut<BlockSize = U16> + zeroize::ZeroizeOnDrop,
{
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::KeyLength {
        expected: C::key_size(),
        got: key.len(),
    })?;
    let core = ctr::CtrCore::<C, ctr::flavors::Ctr128BE>::inner_iv_init(cipher, iv.into());
    let mut c = StreamCipherCoreWrapper::from_core(core);
    // Ctr128BE wraps the full 128-bit counter block modulo 2^128; it refuses only a
    // message longer than 2^128 blocks.
    c.try_apply_keystream(data)
        .map_err(|_| CryptoError::KeystreamExhausted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11 §12: every block cipher and the CTR state wipe their keys on drop.
    #[test]
    fn cipher_states_are_wiped_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        type Stream<C> = StreamCipherCoreWrapper<ctr::CtrCore<C, ctr::flavors::Ctr128BE>>;
        wiped::<Stream<aes::Aes128>>();
        wiped::<Stream<aes::Aes192>>();
        wiped::<Stream<aes::Aes256>>();
        wiped::<Stream<twofish::Twofish>>();
        wiped::<Stream<serpent::Serpent>>();
    }

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
        for alg in CipherAlg::ALL {
            assert_eq!(CipherAlg::from_name(alg.name()), Some(alg));
            assert_eq!(alg.block_bits(), 128);
            assert_eq!(alg.is_weak(), alg == CipherAlg::None);
        }
        let mut names: Vec<_> = CipherAlg::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CipherAlg::ALL.len());
        for (alg, name, len) in [
            (CipherAlg::Aes128Ctr, "aes128-ctr", 16),
            (CipherAlg::Aes192Ctr, "aes192-ctr", 24),
            (CipherAlg::Aes256Ctr, "aes256-ctr", 32),
            (CipherAlg::Twofish128Ctr, "twofish128-ctr", 16),
            (CipherAlg::Twofish192Ctr, "twofish192-ctr", 24),
            (CipherAlg::Twofish256Ctr, "twofish256-ctr", 32),
            (CipherAlg::Serpent128Ctr, "serpent128-ctr", 16),
            (CipherAlg::Serpent192Ctr, "serpent192-ctr", 24),
            (CipherAlg::Serpent256Ctr, "serpent256-ctr", 32),
            (CipherAlg::None, "none", 0),
        ] {
            assert_eq!(alg.name(), name);
            assert_eq!(alg.key_len(), len, "{name}");
        }
        for bad in [
            "",
            "AES128-CTR",
            "aes128-cbc",
            "twofish-ctr",
            "None",
            "none ",
        ] {
            assert_eq!(CipherAlg::from_name(bad), None, "{bad:?}");
        }
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

    /// The keystream block at counter `ctr`: CIPHER(K, ctr) (CTR over one zero block).
    fn keystream_block(alg: CipherAlg, key: &str, ctr: &str) -> String {
        let key = hex::decode(key).unwrap();
        let mut c = u128::from_str_radix(ctr, 16).unwrap();
        let start = c;
        let mut block = [0u8; 16];
        apply_ctr(alg, &key, &mut c, &mut block).unwrap();
        assert_eq!(c, start.wrapping_add(1));
        hex::encode(block)
    }

    #[test]
    fn twofish_published_ecb_vectors_as_keystream() {
        // Twofish AES submission, ecb_tbl.txt (I = 1 and I = 3 of each key size) and
        // ecb_ival.txt: E(K, PT) is the keystream block at counter = PT.
        for (alg, key, pt, ct) in [
            (
                CipherAlg::Twofish128Ctr,
                "00000000000000000000000000000000",
                "00000000000000000000000000000000",
                "9f589f5cf6122c32b6bfec2f2ae8c35a",
            ),
            (
                CipherAlg::Twofish128Ctr,
                "9f589f5cf6122c32b6bfec2f2ae8c35a",
                "d491db16e7b1c39e86cb086b789f5419",
                "019f9809de1711858faac3a3ba20fbc3",
            ),
            (
                CipherAlg::Twofish192Ctr,
                "000000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000",
                "efa71f788965bd4453f860178fc19101",
            ),
            (
                CipherAlg::Twofish192Ctr,
                "efa71f788965bd4453f860178fc191010000000000000000",
                "88b2b2706b105e36b446bb6d731a1e88",
                "39da69d6ba4997d585b6dc073ca341b2",
            ),
            (
                CipherAlg::Twofish192Ctr,
                "0123456789abcdeffedcba98765432100011223344556677",
                "00000000000000000000000000000000",
                "cfd1d2e5a9be9cdf501f13b892bd2248",
            ),
            (
                CipherAlg::Twofish256Ctr,
                "0000000000000000000000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000",
                "57ff739d4dc92c1bd7fc01700cc8216f",
            ),
            (
                CipherAlg::Twofish256Ctr,
                "57ff739d4dc92c1bd7fc01700cc8216f00000000000000000000000000000000",
                "d43bb7556ea32e46f2a282b7d45b4e0d",
                "90afe91bb288544f2c32dc239b2635e6",
            ),
            (
                CipherAlg::Twofish256Ctr,
                "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff",
                "00000000000000000000000000000000",
                "37527be0052334b89f0cfccae87cfa20",
            ),
        ] {
            assert_eq!(keystream_block(alg, key, pt), ct, "{} {key}", alg.name());
        }
    }

    #[test]
    fn serpent_nessie_vectors_as_keystream() {
        // NESSIE Serpent test vectors: Set 1 vector 0 and Set 4 vectors 0 and 1 of each key
        // size. E(K, PT) is the keystream block at counter = PT.
        for (alg, key, pt, ct) in [
            (
                CipherAlg::Serpent128Ctr,
                "80000000000000000000000000000000",
                "00000000000000000000000000000000",
                "264e5481eff42a4606abda06c0bfda3d",
            ),
            (
                CipherAlg::Serpent128Ctr,
                "000102030405060708090a0b0c0d0e0f",
                "00112233445566778899aabbccddeeff",
                "563e2cf8740a27c164804560391e9b27",
            ),
            (
                CipherAlg::Serpent128Ctr,
                "2bd6459f82c5b300952c49104881ff48",
                "ea024714ad5c4d84ea024714ad5c4d84",
                "92d7f8ef2c36c53409f275902f06539f",
            ),
            (
                CipherAlg::Serpent192Ctr,
                "800000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000",
                "9e274ead9b737bb21efcfca548602689",
            ),
            (
                CipherAlg::Serpent192Ctr,
                "000102030405060708090a0b0c0d0e0f1011121314151617",
                "00112233445566778899aabbccddeeff",
                "6ab816c82de53b93005008afa2246a02",
            ),
            (
                CipherAlg::Serpent192Ctr,
                "2bd6459f82c5b300952c49104881ff482bd6459f82c5b300",
                "ea024714ad5c4d84ea024714ad5c4d84",
                "827b18c2678a239dfc5512842000e204",
            ),
            (
                CipherAlg::Serpent256Ctr,
                "8000000000000000000000000000000000000000000000000000000000000000",
                "00000000000000000000000000000000",
                "a223aa1288463c0e2be38ebd825616c0",
            ),
            (
                CipherAlg::Serpent256Ctr,
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "00112233445566778899aabbccddeeff",
                "2868b7a2d28ecd5e4fdefac3c4330074",
            ),
            (
                CipherAlg::Serpent256Ctr,
                "2bd6459f82c5b300952c49104881ff482bd6459f82c5b300952c49104881ff48",
                "ea024714ad5c4d84ea024714ad5c4d84",
                "3e507730776b93fdea661235e1dd99f0",
            ),
        ] {
            assert_eq!(keystream_block(alg, key, pt), ct, "{} {key}", alg.name());
        }
    }

    #[test]
    fn new_ciphers_wrap_at_2_pow_128_and_continue_across_calls() {
        for alg in CipherAlg::ALL.into_iter().filter(|a| !a.is_weak()) {
            let key: Vec<u8> = (0..alg.key_len()).map(|i| i as u8 ^ 0x5a).collect();
            let mut c = u128::MAX;
            let mut data = [0u8; 40];
            apply_ctr(alg, &key, &mut c, &mut data).unwrap();
            assert_eq!(c, 2, "{}", alg.name());
            // Block i is CIPHER(K, (2^128 - 1 + i) mod 2^128): the counter block wraps
            // from ff…ff to 00…00 (the last block is partial).
            for (i, start) in [u128::MAX, 0, 1].into_iter().enumerate() {
                let mut c1 = start;
                let mut block = [0u8; 16];
                apply_ctr(alg, &key, &mut c1, &mut block).unwrap();
                let end = (16 * (i + 1)).min(data.len());
                assert_eq!(
                    block[..end - 16 * i],
                    data[16 * i..end],
                    "{} {i}",
                    alg.name()
                );
            }
            // Two calls split at a block boundary give the same keystream as one call.
            let mut c2 = u128::MAX;
            let mut split = [0u8; 40];
            let (first, rest) = split.split_at_mut(16);
            apply_ctr(alg, &key, &mut c2, first).unwrap();
            apply_ctr(alg, &key, &mut c2, rest).unwrap();
            assert_eq!(split, data, "{}", alg.name());
            assert_eq!(c2, 2);
        }
    }

    #[test]
    fn counter_wrap_block_is_the_raw_cipher_of_zero() {
        use aes::cipher::{BlockEncrypt, KeyInit};
        let key = [0x11u8; 24];
        let mut zero = aes::Block::default();
        twofish::Twofish::new_from_slice(&key)
            .unwrap()
            .encrypt_block(&mut zero);
        let mut c = u128::MAX;
        let mut data = [0u8; 32];
        apply_ctr(CipherAlg::Twofish192Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(zero.as_slice(), &data[16..]);

        let mut zero = aes::Block::default();
        serpent::Serpent::new_from_slice(&key)
            .unwrap()
            .encrypt_block(&mut zero);
        let mut c = u128::MAX;
        let mut data = [0u8; 32];
        apply_ctr(CipherAlg::Serpent192Ctr, &key, &mut c, &mut data).unwrap();
        assert_eq!(zero.as_slice(), &data[16..]);
    }

    #[test]
    fn counter_steps_per_algorithm() {
        for alg in CipherAlg::ALL {
            for len in [0usize, 1, 15, 16, 17, 32, 33, 1000] {
                let expected = if alg == CipherAlg::None {
                    u128::from(len > 0)
                } else {
                    blocks_for(len)
                };
                assert_eq!(alg.counter_steps(len), expected, "{} {len}", alg.name());
                let key = vec![3u8; alg.key_len()];
                let mut c = 7u128;
                let mut data = vec![0u8; len];
                apply_ctr(alg, &key, &mut c, &mut data).unwrap();
                assert_eq!(c, 7 + expected, "{} {len}", alg.name());
            }
        }
    }

    #[test]
    fn none_leaves_data_and_steps_the_counter_by_one() {
        let plain = b"integrity only, no confidentiality: XEP-0200 section 6".to_vec();
        let mut data = plain.clone();
        let mut c = u128::MAX;
        apply_ctr(CipherAlg::None, &[], &mut c, &mut data).unwrap();
        assert_eq!(data, plain);
        assert_eq!(c, 0, "wraps modulo 2^128 (n = 128, A27)");
        let mut empty: [u8; 0] = [];
        apply_ctr(CipherAlg::None, &[], &mut c, &mut empty).unwrap();
        assert_eq!(c, 0);
        // `none` has no cipher key: a key is a caller bug, refused.
        assert_eq!(
            apply_ctr(CipherAlg::None, &[1], &mut c, &mut data),
            Err(CryptoError::KeyLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(c, 0);
        assert_eq!(data, plain);
    }

    #[test]
    fn new_cipher_key_lengths_are_checked() {
        for (alg, wrong) in [
            (CipherAlg::Twofish128Ctr, 24),
            (CipherAlg::Twofish256Ctr, 16),
            (CipherAlg::Serpent192Ctr, 32),
            (CipherAlg::Serpent128Ctr, 0),
        ] {
            let mut c = 9u128;
            let mut data = [0u8; 4];
            assert_eq!(
                apply_ctr(alg, &vec![1u8; wrong], &mut c, &mut data),
                Err(CryptoError::KeyLength {
                    expected: alg.key_len(),
                    got: wrong
                }),
                "{}",
                alg.name()
            );
            assert_eq!((c, data), (9, [0u8; 4]));
        }
    }

    #[test]
    fn every_cipher_round_trips_and_key_sizes_differ() {
        let plain = b"hello, encrypted world of many ciphers".to_vec();
        let mut outputs = Vec::new();
        for alg in CipherAlg::ALL.into_iter().filter(|a| !a.is_weak()) {
            let key = vec![9u8; alg.key_len()];
            let mut data = plain.clone();
            let mut c = 5u128;
            apply_ctr(alg, &key, &mut c, &mut data).unwrap();
            assert_ne!(data, plain, "{}", alg.name());
            outputs.push(data.clone());
            let mut c = 5u128;
            apply_ctr(alg, &key, &mut c, &mut data).unwrap();
            assert_eq!(data, plain, "{}", alg.name());
        }
        // A 128-, 192- and 256-bit key of the same cipher really are different ciphers.
        let n = outputs.len();
        outputs.sort();
        outputs.dedup();
        assert_eq!(outputs.len(), n);
    }
}
