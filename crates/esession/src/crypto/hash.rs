//! The negotiated hash (`hash_algs`) and HMAC (RFC 2104) over it (XEP-0116 §8: `sha256` is
//! the one mandatory algorithm and the only one this project offers).
use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// A hash algorithm from the `hash_algs` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4), `sha256` on the wire.
    Sha256,
}

impl HashAlg {
    /// The name used in the `hash_algs` field.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
        }
    }

    /// The algorithm named `s` in a `hash_algs` field, if supported.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(HashAlg::Sha256),
            _ => None,
        }
    }

    /// Length of the hash (and HMAC) output in octets.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
        }
    }
}

/// HASH(`parts[0] | parts[1] | …`). The output keeps its full length (profile P2).
pub fn hash(alg: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        HashAlg::Sha256 => sha256(parts).to_vec(),
    }
}

/// HMAC(HASH, key, `parts[0] | parts[1] | …`) per RFC 2104, for any key length.
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        HashAlg::Sha256 => hmac_sha256(key, parts).to_vec(),
    }
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // RFC 2104 §2: a key longer than the block size B is first hashed; a shorter key is
    // padded with zero octets to B. Doing both here lets us use the infallible
    // full-block constructor.
    let mut block = Key::<Hmac<Sha256>>::default();
    if key.len() > block.len() {
        let mut hashed = sha256(&[key]);
        if let Some(dst) = block.get_mut(..hashed.len()) {
            dst.copy_from_slice(&hashed);
        }
        hashed.zeroize();
    } else if let Some(dst) = block.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(HashAlg::Sha256.name(), "sha256");
        assert_eq!(HashAlg::from_name("sha256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_name("sha1"), None);
        assert_eq!(HashAlg::from_name("SHA256"), None);
        assert_eq!(HashAlg::Sha256.output_len(), 32);
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
