//! Key derivation (profile P1; XEP-0116 §4.5.3, §4.8, §4.10; XEP-0200 §9) and the
//! retained-secret hashes (XEP-0116 §4.6.4, §4.7.3, profile P7).
use zeroize::Zeroizing;

use super::cipher::CipherAlg;
use super::hash::{hash, hmac, sha256, HashAlg};
use super::mpi::mpi;
use super::secret::SecretBytes;

/// The cipher and MAC keys protecting one direction of traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionKeys {
    /// The cipher key KC.
    pub kc: SecretBytes,
    /// The MAC key KM.
    pub km: SecretBytes,
}

/// The six keys derived from K (XEP-0116 §4.5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeys {
    /// KC_A and KM_A: what the session initiator sends with.
    pub initiator: DirectionKeys,
    /// KC_B and KM_B: what the responder sends with.
    pub responder: DirectionKeys,
    /// KS_A, the initiator's SIGMA key.
    pub ks_a: SecretBytes,
    /// KS_B, the responder's SIGMA key.
    pub ks_b: SecretBytes,
}

/// K = HASH(mpi(shared)) for negotiation (XEP-0116 §4.5.3, profile P1).
pub fn negotiation_k(alg: HashAlg, shared_mpi: &[u8]) -> SecretBytes {
    SecretBytes::new(hash(alg, &[mpi(shared_mpi)]))
}

/// K' = HASH(K | SRS | OSS), each of SRS and OSS appended only if present (XEP-0116 §4.8,
/// profile P1; OSS is the UTF-8 of the NFC-normalized passphrase, A8).
pub fn final_k(alg: HashAlg, k: &[u8], srs: Option<&[u8]>, oss: Option<&[u8]>) -> SecretBytes {
    let mut parts: Vec<&[u8]> = vec![k];
    parts.extend(srs);
    parts.extend(oss);
    SecretBytes::new(hash(alg, &parts))
}

/// HMAC(HASH, key, label) as a whole-output secret (profile P1: KM and KS are the whole
/// HMAC output).
fn whole(alg: HashAlg, key: &[u8], label: &str) -> SecretBytes {
    SecretBytes::new(hmac(alg, key, &[label.as_bytes()]))
}

/// The last `cipher.key_len()` octets of HMAC(HASH, key, label) (XEP-0116 §4.5.3: key bits
/// are the least significant bits of the HMAC output; profile P1).
fn cipher_key(alg: HashAlg, cipher: CipherAlg, key: &[u8], label: &str) -> SecretBytes {
    let out = Zeroizing::new(hmac(alg, key, &[label.as_bytes()]));
    let start = out.len().saturating_sub(cipher.key_len());
    SecretBytes::new(out.get(start..).unwrap_or_default().to_vec())
}

/// The six session keys from K (or K') with the labels of XEP-0116 §4.5.3: KC = the *last*
/// key_len octets of the HMAC output, KM and KS = the whole output (profile P1, A1, A2).
pub fn session_keys(alg: HashAlg, cipher: CipherAlg, k: &[u8]) -> SessionKeys {
    SessionKeys {
        initiator: DirectionKeys {
            kc: cipher_key(alg, cipher, k, "Initiator Cipher Key"),
            km: whole(alg, k, "Initiator MAC Key"),
        },
        responder: DirectionKeys {
            kc: cipher_key(alg, cipher, k, "Responder Cipher Key"),
            km: whole(alg, k, "Responder MAC Key"),
        },
        ks_a: whole(alg, k, "Initiator SIGMA Key"),
        ks_b: whole(alg, k, "Responder SIGMA Key"),
    }
}

/// Re-key keys (XEP-0200 §9, profile P1): K = mpi(shared), *not* hashed, is the HMAC key.
/// Returns (keys of whoever starts the re-key, keys of the acceptor); same length rules as
/// [`session_keys`].
pub fn rekey_keys(
    alg: HashAlg,
    cipher: CipherAlg,
    shared_mpi_unhashed: &[u8],
) -> (DirectionKeys, DirectionKeys) {
    let k = mpi(shared_mpi_unhashed);
    (
        DirectionKeys {
            kc: cipher_key(alg, cipher, k, "Rekey Initiator Crypt"),
            km: whole(alg, k, "Rekey Initiator MAC"),
        },
        DirectionKeys {
            kc: cipher_key(alg, cipher, k, "Rekey Acceptor Crypt"),
            km: whole(alg, k, "Rekey Acceptor MAC"),
        },
    )
}

/// The next retained secret: HMAC(HASH, K', "New Retained Secret") (XEP-0116 §4.7.3 and
/// §4.8.1, profile P7).
pub fn new_retained_secret(alg: HashAlg, k_final: &[u8]) -> SecretBytes {
    whole(alg, k_final, "New Retained Secret")
}

/// `srshash` = HMAC(HASH, SRS, "Shared Retained Secret"), sent by the responder (XEP-0116
/// §4.7.3).
pub fn srshash(alg: HashAlg, srs: &[u8]) -> Vec<u8> {
    hmac(alg, srs, &[b"Shared Retained Secret"])
}

/// One `rshashes` value: HMAC(HASH, N_A, RS), sent by the initiator in message 3 (XEP-0116
/// §4.6.4, profile P7).
pub fn rshash(alg: HashAlg, n_a: &[u8], rs: &[u8]) -> Vec<u8> {
    hmac(alg, n_a, &[rs])
}

/// The hash commitment He = SHA-256(mpi(e)), always SHA-256 whatever `hash_algs` says
/// (XEP-0116 §4.3 and §8).
pub fn commitment(e_mpi: &[u8]) -> [u8; 32] {
    sha256(&[mpi(e_mpi)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: HashAlg = HashAlg::Sha256;

    #[test]
    fn session_key_lengths_and_sources() {
        let k = [0x42u8; 32];
        let keys = session_keys(H, CipherAlg::Aes128Ctr, &k);
        let full = hmac(H, &k, &[b"Initiator Cipher Key"]);
        assert_eq!(keys.initiator.kc.expose(), &full[16..]);
        assert_eq!(
            keys.initiator.km.expose(),
            hmac(H, &k, &[b"Initiator MAC Key"])
        );
        assert_eq!(keys.initiator.km.len(), 32);
        assert_eq!(
            keys.responder.kc.expose(),
            &hmac(H, &k, &[b"Responder Cipher Key"])[16..]
        );
        assert_eq!(
            keys.responder.km.expose(),
            hmac(H, &k, &[b"Responder MAC Key"])
        );
        assert_eq!(keys.ks_a.expose(), hmac(H, &k, &[b"Initiator SIGMA Key"]));
        assert_eq!(keys.ks_b.expose(), hmac(H, &k, &[b"Responder SIGMA Key"]));

        let k192 = session_keys(H, CipherAlg::Aes192Ctr, &k);
        assert_eq!(k192.initiator.kc.expose(), &full[8..]);
        let k256 = session_keys(H, CipherAlg::Aes256Ctr, &k);
        assert_eq!(k256.initiator.kc.expose(), &full[..]);
        assert!(format!("{keys:?}").contains("redacted"));
    }

    #[test]
    fn k_and_k_prime() {
        let shared = [0u8, 0, 7, 8, 9];
        assert_eq!(negotiation_k(H, &shared).expose(), hash(H, &[&[7, 8, 9]]));
        let k = negotiation_k(H, &shared);
        assert_eq!(
            final_k(H, k.expose(), None, None).expose(),
            hash(H, &[k.expose()])
        );
        assert_eq!(
            final_k(H, k.expose(), Some(b"srs"), None).expose(),
            hash(H, &[k.expose(), b"srs"])
        );
        assert_eq!(
            final_k(H, k.expose(), None, Some(b"oss")).expose(),
            hash(H, &[k.expose(), b"oss"])
        );
        assert_eq!(
            final_k(H, k.expose(), Some(b"srs"), Some(b"oss")).expose(),
            hash(H, &[k.expose(), b"srs", b"oss"])
        );
    }

    #[test]
    fn rekey_labels_and_unhashed_key() {
        let shared = [0u8, 1, 2, 3];
        let (ini, acc) = rekey_keys(H, CipherAlg::Aes128Ctr, &shared);
        let k = [1u8, 2, 3];
        assert_eq!(
            ini.kc.expose(),
            &hmac(H, &k, &[b"Rekey Initiator Crypt"])[16..]
        );
        assert_eq!(ini.km.expose(), hmac(H, &k, &[b"Rekey Initiator MAC"]));
        assert_eq!(
            acc.kc.expose(),
            &hmac(H, &k, &[b"Rekey Acceptor Crypt"])[16..]
        );
        assert_eq!(acc.km.expose(), hmac(H, &k, &[b"Rekey Acceptor MAC"]));
    }

    #[test]
    fn retained_secret_hashes() {
        let kf = [5u8; 32];
        assert_eq!(
            new_retained_secret(H, &kf).expose(),
            hmac(H, &kf, &[b"New Retained Secret"])
        );
        assert_eq!(
            srshash(H, b"srs"),
            hmac(H, b"srs", &[b"Shared Retained Secret"])
        );
        assert_eq!(rshash(H, b"nonce", b"rs"), hmac(H, b"nonce", &[b"rs"]));
        assert_eq!(commitment(&[0, 0, 1, 2]), sha256(&[&[1, 2]]));
        assert_eq!(commitment(&[1, 2]).to_vec(), hash(H, &[&[1, 2]]));
    }

    #[test]
    fn whirlpool_keys_take_the_last_key_len_octets_and_whole_64_octet_macs() {
        // Profile P1 with a 64-octet hash: KC = the last key_len octets, KM and KS whole.
        const W: HashAlg = HashAlg::Whirlpool;
        let k = negotiation_k(W, &[0, 9, 8, 7]);
        assert_eq!(k.expose(), hash(W, &[&[9, 8, 7]]));
        assert_eq!(k.len(), 64);
        for cipher in CipherAlg::ALL {
            let keys = session_keys(W, cipher, k.expose());
            let full = hmac(W, k.expose(), &[b"Initiator Cipher Key"]);
            assert_eq!(full.len(), 64);
            assert_eq!(
                keys.initiator.kc.len(),
                cipher.key_len(),
                "{}",
                cipher.name()
            );
            assert_eq!(keys.initiator.kc.expose(), &full[64 - cipher.key_len()..]);
            assert_eq!(
                keys.responder.kc.expose(),
                &hmac(W, k.expose(), &[b"Responder Cipher Key"])[64 - cipher.key_len()..]
            );
            assert_eq!(
                keys.initiator.km.expose(),
                hmac(W, k.expose(), &[b"Initiator MAC Key"])
            );
            assert_eq!(keys.responder.km.len(), 64);
            assert_eq!(keys.ks_a.len(), 64);
            assert_eq!(
                keys.ks_b.expose(),
                hmac(W, k.expose(), &[b"Responder SIGMA Key"])
            );
        }
        let (ini, acc) = rekey_keys(W, CipherAlg::Serpent256Ctr, &[0, 1, 2]);
        assert_eq!(
            ini.kc.expose(),
            &hmac(W, &[1, 2], &[b"Rekey Initiator Crypt"])[32..]
        );
        assert_eq!(acc.km.len(), 64);
        assert_eq!(new_retained_secret(W, k.expose()).len(), 64);
        assert_eq!(srshash(W, b"srs").len(), 64);
        // The hash commitment is SHA-256 whatever `hash_algs` says (XEP-0116 §4.3).
        assert_eq!(commitment(&[0, 3]), sha256(&[&[3]]));
    }
}
