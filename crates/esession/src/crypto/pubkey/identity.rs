//! Our own identity key: the private half of a [`PublicKey`] (XEP-0116 §4.5.4 signKey).
use super::dsa_key::DsaSecret;
use super::rsa_key::RsaSecret;
use super::{KeyError, PublicKey, SignAlg};
use crate::random::Random;
use dsa::pkcs8::PrivateKeyInfoRef;
use zeroize::Zeroizing;

/// A private RSA or DSA identity key. The key material is zeroized on drop and never shown
/// by `Debug` (XEP-0116 §7).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub struct IdentityKey {
    secret: Secret,
    public: PublicKey,
    /// The unencrypted PKCS#8 DER of the key, encoded once when the key is made so that
    /// [`IdentityKey::to_pkcs8_der`] cannot fail.
    pkcs8: Zeroizing<Vec<u8>>,
}

#[cfg_attr(feature = "test-util", derive(Clone))]
enum Secret {
    Rsa(RsaSecret),
    Dsa(DsaSecret),
}

impl IdentityKey {
    fn from_secret(secret: Secret) -> Result<IdentityKey, KeyError> {
        let (public, pkcs8) = match &secret {
            Secret::Rsa(k) => (PublicKey::Rsa(k.public()?), k.to_pkcs8_der()?),
            Secret::Dsa(k) => (PublicKey::Dsa(k.public().clone()), k.to_pkcs8_der()?),
        };
        Ok(IdentityKey {
            secret,
            public,
            pkcs8,
        })
    }

    /// A new RSA key of `bits` bits (2048 to 8192, profile P8), public exponent 65537.
    ///
    /// # Errors
    /// [`KeyError::GenerateSize`] for a size outside that range.
    pub fn generate_rsa(rng: &mut dyn Random, bits: usize) -> Result<IdentityKey, KeyError> {
        IdentityKey::from_secret(Secret::Rsa(RsaSecret::generate(rng, bits)?))
    }

    /// A new DSA key with p of 2048 bits and q of 256 bits (FIPS 186-4). Parameter
    /// generation takes seconds; long-lived keys are usually read with
    /// [`IdentityKey::from_pkcs8_der`].
    ///
    /// # Errors
    /// Only when the generated key fails the P8 checks (a bug).
    pub fn generate_dsa(rng: &mut dyn Random) -> Result<IdentityKey, KeyError> {
        IdentityKey::from_secret(Secret::Dsa(DsaSecret::generate(rng)?))
    }

    /// Reads an unencrypted PKCS#8 (RFC 5958) RSA or DSA private key in DER. The public
    /// half must pass the checks of a received key (P8: at least 2048 bits).
    ///
    /// # Errors
    /// [`KeyError::Pkcs8`] for a malformed document, [`KeyError::Pkcs8Algorithm`] for
    /// another algorithm, or the key check that failed.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<IdentityKey, KeyError> {
        let info = PrivateKeyInfoRef::try_from(der).map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        let secret = if info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID {
            Secret::Rsa(RsaSecret::from_pkcs8_der(der)?)
        } else if info.algorithm.oid == dsa::OID {
            Secret::Dsa(DsaSecret::from_pkcs8_der(der)?)
        } else {
            return Err(KeyError::Pkcs8Algorithm(info.algorithm.oid.to_string()));
        };
        IdentityKey::from_secret(secret)
    }

    /// The key as unencrypted PKCS#8 DER (wiped when dropped).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public.clone()
    }

    /// The signature algorithm of this key.
    pub fn sign_alg(&self) -> SignAlg {
        self.public.sign_alg()
    }

    /// Signs `msg` (the SIGMA mac octets, profile P8): RSASSA-PKCS1-v1_5 with SHA-256, or
    /// DSA-SHA256 with the RFC 6979 deterministic k and the value r|s, each left-padded to
    /// the octet length of q.
    ///
    /// # Errors
    /// [`KeyError::SigningFailed`] when the library fails.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let compute = || match &self.secret {
            Secret::Rsa(k) => k.sign(msg),
            Secret::Dsa(k) => k.sign(msg),
        };
        // Fuzzing only: both schemes are deterministic, and the public key names the key.
        #[cfg(feature = "fuzz-memo")]
        let compute = || {
            let key = (self.public.clone(), msg.to_vec());
            crate::crypto::memo::through(&crate::crypto::memo::SIGN, key, compute)
        };
        compute()
    }
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IdentityKey({}, {} bits, <redacted>)",
            self.sign_alg(),
            self.public.bits()
        )
    }
}
