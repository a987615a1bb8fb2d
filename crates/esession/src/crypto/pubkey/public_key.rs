//! A public identity key (XEP-0116 §4.5.4 `pubKey`, profile P8).
use super::key_value::{parse, KeyInts};
use super::{DsaPublic, Fingerprint, KeyError, RsaPublic, SignAlg};
use crate::xml::Element;

/// An RSA or DSA public key that passed every P8 check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// An RSA key (modulus of at least 2048 bits).
    Rsa(RsaPublic),
    /// A DSA key (p of at least 2048 bits).
    Dsa(DsaPublic),
}

impl PublicKey {
    /// Reads a received `<KeyValue/>` (xmldsig namespace, or none as in its P4 text) holding
    /// exactly one RSAKeyValue (Modulus, Exponent) or DSAKeyValue (P, Q, G, Y) of base64
    /// integers, and checks the key (profile P8).
    ///
    /// # Errors
    /// A [`KeyError`] naming the first thing that is wrong: the element, a child, a value's
    /// encoding or size, or a key check (RSA sizes and exponent; DSA sizes, q | p - 1,
    /// 1 < g, y < p, g^q = y^q = 1 mod p).
    pub fn from_key_value(el: &Element) -> Result<PublicKey, KeyError> {
        match parse(el)? {
            KeyInts::Rsa([n, e]) => RsaPublic::from_ints(&n, &e).map(PublicKey::Rsa),
            KeyInts::Dsa([p, q, g, y]) => DsaPublic::from_ints(&p, &q, &g, &y).map(PublicKey::Dsa),
        }
    }

    /// The `<KeyValue/>` element of this key, in the xmldsig namespace, children in the P8
    /// order, values B64(mpi(..)).
    pub fn key_value(&self) -> Element {
        match self {
            PublicKey::Rsa(k) => k.key_value(),
            PublicKey::Dsa(k) => k.key_value(),
        }
    }

    /// The P4 text of [`PublicKey::key_value`], its own tags included: the `pubKey` of the
    /// SIGMA mac when *we* send this key (P8). For a received key MAC
    /// `normalized_of` the element as received instead.
    pub fn normalized(&self) -> String {
        self.key_value().normalized()
    }

    /// SHA-256 of [`PublicKey::normalized`] (P8).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_normalized(&self.normalized())
    }

    /// The signature algorithm of this key.
    pub fn sign_alg(&self) -> SignAlg {
        match self {
            PublicKey::Rsa(_) => SignAlg::RsaSha256,
            PublicKey::Dsa(_) => SignAlg::DsaSha256,
        }
    }

    /// Bits of the RSA modulus or of the DSA prime p.
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa(k) => k.bits(),
            PublicKey::Dsa(k) => k.bits(),
        }
    }

    /// Verifies `signature` over `msg` (the SIGMA mac octets, P8) with algorithm `alg`:
    /// RSASSA-PKCS1-v1_5 with SHA-256, or DSA-SHA256 with the value r|s, each left-padded
    /// to the octet length of q.
    ///
    /// # Errors
    /// [`KeyError::AlgMismatch`] when `alg` is not this key's algorithm,
    /// [`KeyError::SignatureLength`] for a DSA value of the wrong length,
    /// [`KeyError::BadSignature`] when the signature does not verify.
    pub fn verify(&self, alg: SignAlg, msg: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        // Profile P8 check order: type before signature.
        if alg != self.sign_alg() {
            return Err(KeyError::AlgMismatch {
                key: self.sign_alg(),
                alg,
            });
        }
        let compute = || match self {
            PublicKey::Rsa(k) => k.verify(msg, signature),
            PublicKey::Dsa(k) => k.verify(msg, signature),
        };
        // Fuzzing only: a replayed signature costs a lookup.
        #[cfg(feature = "fuzz-memo")]
        let compute = || {
            let key = (self.clone(), alg, msg.to_vec(), signature.to_vec());
            crate::crypto::memo::through(&crate::crypto::memo::VERIFY, key, compute)
        };
        compute()
    }
}
