//! RSA identity keys (XEP-0116 §8: RSA MUST; profile P8): the checks on a received key,
//! RSASSA-PKCS1-v1_5 with SHA-256 over the SIGMA mac octets, and the private key.
use super::key_value::{bit_len, RSA_KEY, RSA_PARTS};
use super::rng::RngAdapter;
use super::{KeyError, SignAlg, MAX_KEY_BITS, MIN_KEY_BITS};
use crate::crypto::{mpi, sha256};
use crate::random::Random;
use crate::xml::Element;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use sha2_11::Sha256;
use zeroize::Zeroizing;

/// The largest public exponent accepted: 2^33 - 1. Larger exponents only make verification
/// slow (a denial-of-service vector); the `rsa` crate draws the same line.
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// A checked RSA public key (opaque; see [`super::PublicKey`]).
#[derive(Clone)]
pub struct RsaPublic {
    /// Modulus and exponent as `mpi` octets (P2), the values of the `<KeyValue/>`.
    ints: [Vec<u8>; 2],
    key: RsaPublicKey,
}

impl RsaPublic {
    /// Checks and wraps modulus `n` and exponent `e` (big-endian octets, leading zeros
    /// allowed). Profile P8: n has at least 2048 bits; n odd; e odd, 3 ≤ e ≤ 2^33 - 1.
    pub(super) fn from_ints(n: &[u8], e: &[u8]) -> Result<RsaPublic, KeyError> {
        let (n, e) = (mpi(n), mpi(e));
        let bits = bit_len(n);
        if bits < MIN_KEY_BITS {
            return Err(KeyError::ModulusTooSmall {
                bits,
                min: MIN_KEY_BITS,
            });
        }
        if bits > MAX_KEY_BITS {
            return Err(KeyError::ModulusTooLarge {
                bits,
                max: MAX_KEY_BITS,
            });
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::EvenModulus);
        }
        if e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::EvenExponent);
        }
        let mut e64 = [0u8; 8];
        let start = e64
            .len()
            .checked_sub(e.len())
            .ok_or(KeyError::ExponentTooLarge)?;
        e64.get_mut(start..)
            .ok_or(KeyError::ExponentTooLarge)?
            .copy_from_slice(e);
        let e64 = u64::from_be_bytes(e64);
        if e64 < 3 {
            return Err(KeyError::ExponentTooSmall);
        }
        if e64 > MAX_EXPONENT {
            return Err(KeyError::ExponentTooLarge);
        }
        let key = RsaPublicKey::new_with_size_limits(
            BoxedUint::from_be_slice_vartime(n),
            BoxedUint::from_be_slice_vartime(e),
            MIN_KEY_BITS..=MAX_KEY_BITS,
        )
        .map_err(|err| KeyError::Library {
            library: "rsa",
            reason: err.to_string(),
        })?;
        Ok(RsaPublic {
            ints: [n.to_vec(), e.to_vec()],
            key,
        })
    }

    /// The `<KeyValue><RSAKeyValue>` element (P8 order: Modulus, Exponent).
    pub(super) fn key_value(&self) -> Element {
        let [n, e] = &self.ints;
        let [mod_name, exp_name] = RSA_PARTS;
        super::key_value::build(RSA_KEY, &[(mod_name, n), (exp_name, e)])
    }

    /// Bits of the modulus.
    pub(super) fn bits(&self) -> usize {
        bit_len(&self.ints[0])
    }

    /// Profile P8: RSASSA-PKCS1-v1_5 with SHA-256 over `msg` (the SIGMA mac octets).
    pub(super) fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        self.key
            .verify(Pkcs1v15Sign::new::<Sha256>(), &sha256(&[msg]), signature)
            .map_err(|_| KeyError::BadSignature(SignAlg::RsaSha256))
    }
}

impl PartialEq for RsaPublic {
    fn eq(&self, other: &Self) -> bool {
        self.ints == other.ints
    }
}

impl Eq for RsaPublic {}

impl std::hash::Hash for RsaPublic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ints.hash(state);
    }
}

impl std::fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublic({} bits)", self.bits())
    }
}

/// An RSA private key (zeroized on drop by the `rsa` crate).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct RsaSecret(RsaPrivateKey);

impl RsaSecret {
    /// A new key of `bits` bits (2048 to 8192, P8), e = 65537.
    pub(super) fn generate(rng: &mut dyn Random, bits: usize) -> Result<RsaSecret, KeyError> {
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(KeyError::GenerateSize {
                bits,
                min: MIN_KEY_BITS,
                max: MAX_KEY_BITS,
            });
        }
        RsaPrivateKey::new(&mut RngAdapter(rng), bits)
            .map(RsaSecret)
            .map_err(|_| KeyError::GenerationFailed(SignAlg::RsaSha256))
    }

    /// Reads an unencrypted PKCS#8 `rsaEncryption` key (the `rsa` crate checks that its
    /// parts are consistent).
    pub(super) fn from_pkcs8_der(der: &[u8]) -> Result<RsaSecret, KeyError> {
        RsaPrivateKey::from_pkcs8_der(der)
            .map(RsaSecret)
            .map_err(|err| KeyError::Pkcs8(err.to_string()))
    }

    /// The key as unencrypted PKCS#8 DER.
    pub(super) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self
            .0
            .to_pkcs8_der()
            .map_err(|err| KeyError::Pkcs8(err.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The public half, with the checks of a received key (P8).
    pub(super) fn public(&self) -> Result<RsaPublic, KeyError> {
        RsaPublic::from_ints(&self.0.n().to_be_bytes(), &self.0.e().to_be_bytes())
    }

    /// Profile P8: RSASSA-PKCS1-v1_5 with SHA-256 over `msg`.
    pub(super) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.0
            .sign(Pkcs1v15Sign::new::<Sha256>(), &sha256(&[msg]))
            .map_err(|_| KeyError::SigningFailed(SignAlg::RsaSha256))
    }
}
