//! The negotiated hash (`hash_algs`) and HMAC (RFC 2104) over it (XEP-0116 §8: `sha256` is
//! mandatory, `whirlpool` SHOULD be supported; sha1 and md5 are not offered).
use hmac::digest::block_buffer::Eager;
use hmac::digest::core_api::{
    BlockSizeUser, BufferKindUser, CoreProxy, FixedOutputCore, UpdateCore,
};
use hmac::digest::typenum::{IsLess, Le, NonZero, U256};
use hmac::digest::{HashMarker, Key, KeyInit, Output};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use whirlpool::Whirlpool;
use zeroize::Zeroize;

/// A hash algorithm from the `hash_algs` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4), `sha256` on the wire (the mandatory one, XEP-0116 §8).
    Sha256,
    /// Whirlpool (ISO/IEC 10118-3:2004), `whirlpool` on the wire: 64-octet output, 64-octet
    /// block (XEP-0116 §8 SHOULD).
    Whirlpool,
}

impl HashAlg {
    /// Every hash of XEP-0116 §8 this crate supports, the mandatory `sha256` first.
    pub const ALL: [HashAlg; 2] = [HashAlg::Sha256, HashAlg::Whirlpool];

    /// The name used in the `hash_algs` field.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Whirlpool => "whirlpool",
        }
    }

    /// The algorithm named `s` in a `hash_algs` field, if supported (exact, case-sensitive
    /// match).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == s)
    }

    /// Length of the hash (and HMAC) output in octets.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Whirlpool => 64,
        }
    }

    /// `true` for a hash XEP-0116 §8 calls broken (sha1, md5); neither supported one is.
    pub fn is_weak(self) -> bool {
        match self {
            HashAlg::Sha256 | HashAlg::Whirlpool => false,
        }
    }

    /// `true` for a hash whose implementation indexes tables with secret data (Whirlpool's
    /// S-box lookups on the HMAC key and the shared secret), so its timing may leak to a local
    /// observer. Still negotiable, but kept out of the default offer and accept lists.
    pub fn uses_secret_indexed_tables(self) -> bool {
        self == HashAlg::Whirlpool
    }
}

/// HASH(`parts[0] | parts[1] | …`). The output keeps its full length (profile P2).
pub fn hash(alg: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        HashAlg::Sha256 => digest_parts::<Sha256>(parts).to_vec(),
        HashAlg::Whirlpool => digest_parts::<Whirlpool>(parts).to_vec(),
    }
}

/// HMAC(HASH, key, `parts[0] | parts[1] | …`) per RFC 2104, for any key length.
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        HashAlg::Sha256 => hmac_with::<Sha256>(key, parts),
        HashAlg::Whirlpool => hmac_with::<Whirlpool>(key, parts),
    }
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    digest_parts::<Sha256>(parts).into()
}

/// D(`parts[0] | parts[1] | …`).
fn digest_parts<D: Digest>(parts: &[&[u8]]) -> Output<D> {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// HMAC over digest `D` with the RFC 2104 full-block key handling.
fn hmac_with<D>(key: &[u8], parts: &[&[u8]]) -> Vec<u8>
where
    D: Digest + CoreProxy,
    D::Core: HashMarker
        + UpdateCore
        + FixedOutputCore
        + BufferKindUser<BufferKind = Eager>
        + Default
        + Clone,
    <D::Core as BlockSizeUser>::BlockSize: IsLess<U256>,
    Le<<D::Core as BlockSizeUser>::BlockSize, U256>: NonZero,
{
    // RFC 2104 §2: a key longer than the block size B (64 octets for SHA-256 and for
    // Whirlpool) is first hashed; a shorter key is padded with zero octets to B. Doing both
    // here lets us use the infallible full-block constructor.
    let mut block = Key::<Hmac<D>>::default();
    if key.len() > block.len() {
        let mut hashed = digest_parts::<D>(&[key]);
        if let Some(dst) = block.get_mut(..hashed.len()) {
            dst.copy_from_slice(&hashed);
        }
        hashed.as_mut_slice().zeroize();
    } else if let Some(dst) = block.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    let mut mac = <Hmac<D> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(HashAlg::Sha256.name(), "sha256");
        assert_eq!(HashAlg::Whirlpool.name(), "whirlpool");
        for alg in HashAlg::ALL {
            assert_eq!(HashAlg::from_name(alg.name()), Some(alg));
            assert!(!alg.is_weak());
            assert_eq!(hash(alg, &[b"x"]).len(), alg.output_len());
            assert_eq!(hmac(alg, b"k", &[b"x"]).len(), alg.output_len());
        }
        for bad in ["sha1", "md5", "SHA256", "Whirlpool", "whirlpool-0", ""] {
            assert_eq!(HashAlg::from_name(bad), None, "{bad:?}");
        }
        assert_eq!(HashAlg::Sha256.output_len(), 32);
        assert_eq!(HashAlg::Whirlpool.output_len(), 64);
    }

    #[test]
    fn whirlpool_iso_nessie_vectors() {
        // ISO/IEC 10118-3:2004 Whirlpool test vectors (also NESSIE): "" and "abc".
        let empty = "19fa61d75522a4669b44e39c1d2e1726c530232130d407f89afee0964997f7a7\
                     3e83be698b288febcf88e3e03c4f0757ea8964e59b63d93708b138cc42a66eb3";
        let abc = "4e2448a4c6f486bb16b6562c73b4020bf3043e3a731bce721ae1b303d97e6d4c\
                   7181eebdb6c57e277d0e34957114cbd6c797fc9d95d8b582d225292076d4eef5";
        assert_eq!(hex::encode(hash(HashAlg::Whirlpool, &[])), empty);
        assert_eq!(hex::encode(hash(HashAlg::Whirlpool, &[b""])), empty);
        assert_eq!(hex::encode(hash(HashAlg::Whirlpool, &[b"abc"])), abc);
        assert_eq!(
            hex::encode(hash(HashAlg::Whirlpool, &[b"a", b"", b"bc"])),
            abc
        );
    }

    /// The `hmac` crate's own HMAC (it hashes a long key itself), as a cross-check.
    fn reference_hmac<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn hmac_whirlpool_matches_the_hmac_crate_for_every_key_length_class() {
        let msg = b"Encrypted sessions with a 64-octet block";
        // Empty, short, one short of the 64-octet block, exactly one block, one over, long.
        for len in [0usize, 20, 63, 64, 65, 131] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let expected = reference_hmac::<Hmac<Whirlpool>>(&key, msg);
            assert_eq!(expected.len(), 64);
            assert_eq!(
                hmac(HashAlg::Whirlpool, &key, &[&msg[..9], &msg[9..]]),
                expected,
                "key length {len}"
            );
            // The shared generic path serves SHA-256 as well.
            let sha = hmac(HashAlg::Sha256, &key, &[msg]);
            assert_eq!(
                sha,
                reference_hmac::<Hmac<Sha256>>(&key, msg),
                "key length {len}"
            );
            assert_ne!(sha[..], expected[..32]);
        }
    }

    #[test]
    fn sha256_of_abc_split_in_parts() {
        let expected =
            hex::decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap();
        assert_eq!(sha256(&[b"abc"]).to_vec(), expected);
        assert_eq!(hash(HashAlg::Sha256, &[b"a", b"", b"bc"]), expected);
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let expected =
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap();
        let got = hmac(
            HashAlg::Sha256,
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn hmac_rfc4231_case_6_long_key() {
        // Key longer than the block size: it is hashed first.
        let key = [0xaa_u8; 131];
        let expected =
            hex::decode("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
                .unwrap();
        let got = hmac(
            HashAlg::Sha256,
            &key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn hmac_full_block_key() {
        // A key of exactly 64 octets is used as is; cross-check with the crate's own path.
        let key = [0x0b_u8; 64];
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(b"data");
        let expected = m.finalize().into_bytes().to_vec();
        assert_eq!(hmac(HashAlg::Sha256, &key, &[b"da", b"ta"]), expected);
    }
}
