//! A MAC key made ready for many HMACs (RFC 2104 §4: the hashes of the key's two padded
//! blocks "may be precomputed and stored"): a session MACs every stanza with the same
//! KM (XEP-0200 §6 step 5, §8 step 3) until it re-keys.
use super::hash::{hmac, HashAlg};
use sha2::compress256;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// SHA-256's block length in octets (FIPS 180-4 §1).
const BLOCK: usize = 64;

/// SHA-256's initial hash value H(0) (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A MAC key KM of a session with, for SHA-256, the hashes of its inner and outer padded
/// blocks computed once: each MAC then hashes the message and one more block, instead of
/// two blocks more. The states are wiped when dropped. Other hashes (Whirlpool) keep the
/// plain computation.
#[derive(Clone)]
pub struct MacKey {
    pads: Option<Pads>,
}

/// SHA-256 after the block (K ⊕ ipad), and after the block (K ⊕ opad) (RFC 2104 §2).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Pads {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl MacKey {
    /// `km` made ready for HMAC with `alg`.
    pub fn new(alg: HashAlg, km: &[u8]) -> Self {
        MacKey {
            pads: (alg == HashAlg::Sha256).then(|| Pads::new(km)),
        }
    }

    /// HMAC(`alg`, `km`, `parts[0] | parts[1] | …`), `km` and `alg` being those this key
    /// was made from (the same octets as [`hmac`]).
    pub fn mac(&self, alg: HashAlg, km: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match &self.pads {
            Some(pads) if alg == HashAlg::Sha256 => pads.mac(parts).to_vec(),
            _ => hmac(alg, km, parts),
        }
    }
}

impl Pads {
    fn new(key: &[u8]) -> Self {
        // RFC 2104 §2: a key longer than B octets is hashed first; the key is padded
        // with zero octets to B.
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut hashed: [u8; 32] = Sha256::digest(key).into();
            block.iter_mut().zip(hashed).for_each(|(b, k)| *b = k);
            hashed.zeroize();
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let pad = |byte: u8| {
            let mut padded = block;
            padded.iter_mut().for_each(|b| *b ^= byte);
            let mut state = IV;
            compress(&mut state, &padded);
            padded.zeroize();
            state
        };
        let (inner, outer) = (pad(0x36), pad(0x5c));
        block.zeroize();
        Pads { inner, outer }
    }

    /// HMAC-SHA256 of the concatenated `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Tail::new(self.inner);
        for part in parts {
            inner.update(part);
        }
        let mut outer = Tail::new(self.outer);
        outer.update(&inner.finish());
        outer.finish()
    }
}

/// A SHA-256 computation that has hashed one block (a key pad) and takes the rest.
struct Tail {
    state: [u32; 8],
    buffer: [u8; BLOCK],
    filled: usize,
    /// Octets hashed so far, the pad's block included.
    length: u64,
}

impl Tail {
    fn new(state: [u32; 8]) -> Self {
        Tail {
            state,
            buffer: [0; BLOCK],
            filled: 0,
            length: BLOCK as u64,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let free = self.buffer.get_mut(self.filled..).unwrap_or_default();
            let take = free.len().min(data.len());
            let (now, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
            free.iter_mut().zip(now).for_each(|(b, d)| *b = *d);
            self.filled += take;
            data = rest;
            if self.filled == BLOCK {
                compress(&mut self.state, &self.buffer);
                self.filled = 0;
            }
        }
    }

    /// FIPS 180-4 §5.1.1: a 1 bit, zeros, and the length in bits as 64 big-endian bits.
    fn finish(mut self) -> [u8; 32] {
        let bits = self.length.wrapping_mul(8);
        let mut rest = self.buffer.iter_mut().skip(self.filled);
        if let Some(one) = rest.next() {
            *one = 0x80;
        }
        rest.for_each(|b| *b = 0);
        if self.filled + 1 > BLOCK - 8 {
            compress(&mut self.state, &self.buffer);
            self.buffer.fill(0);
        }
        let length = self.buffer.iter_mut().skip(BLOCK - 8);
        length.zip(bits.to_be_bytes()).for_each(|(b, l)| *b = l);
        compress(&mut self.state, &self.buffer);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.state.zeroize();
        self.buffer.zeroize();
    }
}

fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_hmac_for_every_key_and_message_length_class() {
        // Keys: empty, short, KM's 32 octets, one short of a block, a block, longer
        // (hashed first). Messages across the one- and two-block finishes.
        for key_len in [0usize, 1, 32, 63, 64, 65, 131] {
            let km: Vec<u8> = (0..key_len).map(|i| (i * 13 + 7) as u8).collect();
            let key = MacKey::new(HashAlg::Sha256, &km);
            for len in (0..=200).chain([255, 256, 1000]) {
                let msg: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
                let expected = hmac(HashAlg::Sha256, &km, &[&msg]);
                assert_eq!(
                    key.mac(HashAlg::Sha256, &km, &[&msg]),
                    expected,
                    "{key_len} {len}"
                );
                // Split anywhere into parts, an empty one among them.
                let at = len / 3;
                let parts: [&[u8]; 3] = [&msg[..at], &[], &msg[at..]];
                assert_eq!(key.mac(HashAlg::Sha256, &km, &parts), expected);
            }
        }
    }

    #[test]
    fn other_hashes_are_computed_plainly() {
        let km = [9u8; 64];
        let key = MacKey::new(HashAlg::Whirlpool, &km);
        assert!(key.pads.is_none());
        let parts: [&[u8]; 2] = [b"<data>x</data>", b"\x01"];
        let got = key.mac(HashAlg::Whirlpool, &km, &parts);
        assert_eq!(got, hmac(HashAlg::Whirlpool, &km, &parts));
        assert_eq!(got.len(), 64);
    }
}
