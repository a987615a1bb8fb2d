//! DSA identity keys (XEP-0116 §8: DSA SHOULD; profile P8): the checks on a received key,
//! DSA-SHA256 with the value r|s, and the private key (RFC 6979 deterministic signing).
use super::key_value::{bit_len, DSA_KEY, DSA_PARTS};
use super::rng::RngAdapter;
use super::{KeyError, SignAlg, MIN_KEY_BITS};
use crate::crypto::{mpi, sha256};
use crate::random::Random;
use crate::xml::Element;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd};
use dsa::pkcs8::der::asn1::UintRef;
use dsa::pkcs8::der::Decode as _;
use dsa::pkcs8::{EncodePrivateKey, PrivateKeyInfoRef};
use dsa::signature::hazmat::PrehashVerifier;
use dsa::{Components, KeySize, Signature, SigningKey, VerifyingKey};
use sha2_11::Sha256;
use zeroize::Zeroizing;

/// FIPS 186-4 §4.2 (L, N) pairs with L ≥ 2048 (profile P8: p of at least 2048 bits).
const SIZES: [(usize, usize); 3] = [(2048, 224), (2048, 256), (3072, 256)];

/// A checked DSA public key (opaque; see [`super::PublicKey`]).
#[derive(Clone)]
pub struct DsaPublic {
    /// P, Q, G, Y as `mpi` octets (P2), the values of the `<KeyValue/>`.
    ints: [Vec<u8>; 4],
    key: VerifyingKey,
}

/// The checked domain parameters, each integer at the precision of p (the `dsa` crate
/// computes modulo p and needs g, y and x at that precision).
struct Domain {
    p: BoxedUint,
    q: BoxedUint,
    g: BoxedUint,
    params: BoxedMontyParams,
}

impl Domain {
    /// Profile P8 and FIPS 186-4: sizes, p odd, q prime, q | p - 1, 1 < g < p, g^q = 1.
    fn check(p: &[u8], q: &[u8], g: &[u8]) -> Result<Domain, KeyError> {
        let (p, q, g) = (mpi(p), mpi(q), mpi(g));
        let (p_bits, q_bits) = (bit_len(p), bit_len(q));
        if p_bits < MIN_KEY_BITS || !SIZES.contains(&(p_bits, q_bits)) {
            return Err(KeyError::DsaSizes { p_bits, q_bits });
        }
        let p = Odd::new(BoxedUint::from_be_slice_vartime(p))
            .into_option()
            .ok_or(KeyError::DsaEvenP)?;
        let q = BoxedUint::from_be_slice_vartime(q);
        if !crypto_primes::is_prime(crypto_primes::Flavor::Any, &q) {
            return Err(KeyError::DsaQNotPrime);
        }
        let q_nz = NonZero::new(q.clone())
            .into_option()
            .ok_or(KeyError::DsaQNotPrime)?;
        let p_minus_1 = p.wrapping_sub(BoxedUint::one());
        if !bool::from(p_minus_1.rem_vartime(&q_nz).is_zero()) {
            return Err(KeyError::DsaQNotDivisor);
        }
        let precision = p.bits_precision();
        let params = BoxedMontyParams::new_vartime(p.clone());
        let domain = Domain {
            g: in_range(g, &p, precision).ok_or(KeyError::DsaGOutOfRange)?,
            p: p.get(),
            q,
            params,
        };
        if !domain.pow_q_is_one(&domain.g) {
            return Err(KeyError::DsaGOrder);
        }
        Ok(domain)
    }

    /// Whether x^q mod p = 1 (x in the subgroup of order q).
    fn pow_q_is_one(&self, x: &BoxedUint) -> bool {
        let form = BoxedMontyForm::new(x.clone(), &self.params);
        bool::from(form.pow(&self.q).retrieve().is_one())
    }

    /// A public key with public value `y`: 1 < y < p and y^q = 1 (FIPS 186-4 / SP 800-89
    /// partial public-key validation).
    fn public(self, y: &[u8]) -> Result<DsaPublic, KeyError> {
        let precision = self.p.bits_precision();
        let y = in_range(mpi(y), &self.p, precision).ok_or(KeyError::DsaYOutOfRange)?;
        if !self.pow_q_is_one(&y) {
            return Err(KeyError::DsaYOrder);
        }
        let ints = [
            trimmed(&self.p),
            trimmed(&self.q),
            trimmed(&self.g),
            trimmed(&y),
        ];
        let library = |_| KeyError::Library {
            library: "dsa",
            reason: "components refused".into(),
        };
        let components = Components::from_components(self.p, self.q, self.g).map_err(library)?;
        let key = VerifyingKey::from_components(components, y).map_err(library)?;
        Ok(DsaPublic { ints, key })
    }
}

/// `v` as an integer of `precision` bits when 1 < v < p.
fn in_range(v: &[u8], p: &BoxedUint, precision: u32) -> Option<BoxedUint> {
    let v = BoxedUint::from_be_slice(mpi(v), precision).ok()?;
    (v > BoxedUint::one() && v < *p).then_some(v)
}

/// The `mpi` octets of `v` (P2).
fn trimmed(v: &BoxedUint) -> Vec<u8> {
    mpi(&v.to_be_bytes()).to_vec()
}

impl DsaPublic {
    /// Checks and wraps P, Q, G, Y (big-endian octets, leading zeros allowed); see
    /// [`Domain::check`] and [`Domain::public`] for the rules.
    pub(super) fn from_ints(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<DsaPublic, KeyError> {
        Domain::check(p, q, g)?.public(y)
    }

    /// The `<KeyValue><DSAKeyValue>` element (P8: exactly P, Q, G, Y in this order).
    pub(super) fn key_value(&self) -> Element {
        let parts: Vec<(&'static str, &[u8])> = DSA_PARTS
            .iter()
            .zip(self.ints.iter())
            .map(|(name, v)| (*name, v.as_slice()))
            .collect();
        super::key_value::build(DSA_KEY, &parts)
    }

    /// Bits of p.
    pub(super) fn bits(&self) -> usize {
        bit_len(&self.ints[0])
    }

    /// The octet length of q: each of r and s is left-padded to it (P8).
    fn q_len(&self) -> usize {
        self.ints[1].len()
    }

    /// Profile P8: DSA-SHA256 over `msg` (the SIGMA mac octets); `signature` is r|s, each
    /// left-padded to the octet length of q.
    pub(super) fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let q_len = self.q_len();
        if signature.len() != 2 * q_len {
            return Err(KeyError::SignatureLength {
                expected: 2 * q_len,
                got: signature.len(),
            });
        }
        let bad = KeyError::BadSignature(SignAlg::DsaSha256);
        let (r, s) = signature.split_at(q_len);
        let sig = Signature::from_components(
            BoxedUint::from_be_slice_vartime(r),
            BoxedUint::from_be_slice_vartime(s),
        )
        .ok_or(bad.clone())?;
        self.key
            .verify_prehash(&sha256(&[msg]), &sig)
            .map_err(|_| bad)
    }
}

impl PartialEq for DsaPublic {
    fn eq(&self, other: &Self) -> bool {
        self.ints == other.ints
    }
}

impl Eq for DsaPublic {}

impl std::hash::Hash for DsaPublic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ints.hash(state);
    }
}

impl std::fmt::Debug for DsaPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DsaPublic({}/{} bits)",
            self.bits(),
            bit_len(&self.ints[1])
        )
    }
}

/// A DSA private key (zeroized on drop by the `dsa` crate) and its checked public key.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct DsaSecret {
    key: SigningKey,
    public: DsaPublic,
}

impl DsaSecret {
    /// The key with domain `p, q, g` and private value `x` (0 < x < q); y = g^x mod p.
    fn from_ints(p: &[u8], q: &[u8], g: &[u8], x: &[u8]) -> Result<DsaSecret, KeyError> {
        let domain = Domain::check(p, q, g)?;
        let invalid = || KeyError::Pkcs8("DSA private value x is not in 0 < x < q".into());
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(mpi(x), domain.p.bits_precision()).map_err(|_| invalid())?,
        );
        if bool::from(x.is_zero()) || *x >= domain.q {
            return Err(invalid());
        }
        let y = BoxedMontyForm::new(domain.g.clone(), &domain.params)
            .pow(&x)
            .retrieve();
        let public = domain.public(&y.to_be_bytes())?;
        let key = SigningKey::from_components(public.key.clone(), (*x).clone()).map_err(|_| {
            KeyError::Library {
                library: "dsa",
                reason: "private value refused".into(),
            }
        })?;
        Ok(DsaSecret { key, public })
    }

    /// A new key with p of 2048 bits and q of 256 bits (FIPS 186-4 A.1.1.2 parameters).
    pub(super) fn generate(rng: &mut dyn Random) -> Result<DsaSecret, KeyError> {
        let mut rng = RngAdapter(rng);
        let components =
            Components::try_generate_from_rng_with_key_size(&mut rng, KeySize::DSA_2048_256)
                .map_err(|never| match never {})?;
        let key = SigningKey::try_generate_from_rng_with_components(&mut rng, components)
            .map_err(|never| match never {})?;
        let c = key.verifying_key().components();
        DsaSecret::from_ints(
            &c.p().to_be_bytes(),
            &c.q().to_be_bytes(),
            &c.g().to_be_bytes(),
            &Zeroizing::new(key.x().to_be_bytes()),
        )
    }

    /// Reads an unencrypted PKCS#8 `id-dsa` key (RFC 5958; parameters `Dss-Parms`
    /// SEQUENCE { p, q, g }, private key INTEGER x). The integers are read here and every
    /// P8 check applies to them.
    pub(super) fn from_pkcs8_der(der: &[u8]) -> Result<DsaSecret, KeyError> {
        let malformed = |err: dsa::pkcs8::der::Error| KeyError::Pkcs8(err.to_string());
        let info = PrivateKeyInfoRef::try_from(der).map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        if info.algorithm.oid != dsa::OID {
            return Err(KeyError::Pkcs8Algorithm(info.algorithm.oid.to_string()));
        }
        let params = info
            .algorithm
            .parameters_any()
            .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        let (p, q, g) = params
            .sequence(|r| {
                Ok::<_, dsa::pkcs8::der::Error>((
                    UintRef::decode(r)?,
                    UintRef::decode(r)?,
                    UintRef::decode(r)?,
                ))
            })
            .map_err(malformed)?;
        let x = UintRef::from_der(info.private_key.as_bytes()).map_err(malformed)?;
        DsaSecret::from_ints(p.as_bytes(), q.as_bytes(), g.as_bytes(), x.as_bytes())
    }

    /// The key as unencrypted PKCS#8 DER.
    pub(super) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|err| KeyError::Pkcs8(err.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The checked public half.
    pub(super) fn public(&self) -> &DsaPublic {
        &self.public
    }

    /// Profile P8: DSA-SHA256 over `msg` with the RFC 6979 deterministic k, the value r|s
    /// with each left-padded to the octet length of q.
    pub(super) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::SigningFailed(SignAlg::DsaSha256);
        let sig = self
            .key
            .sign_prehashed_rfc6979::<Sha256>(&sha256(&[msg]))
            .map_err(|_| failed())?;
        let q_len = self.public.q_len();
        let mut out = left_pad(&sig.r().to_be_bytes(), q_len).ok_or_else(failed)?;
        out.extend(left_pad(&sig.s().to_be_bytes(), q_len).ok_or_else(failed)?);
        Ok(out)
    }
}

/// The integer `be` as exactly `len` big-endian octets (P8: r and s are left-padded to the
/// octet length of q); `None` when it does not fit.
pub(super) fn left_pad(be: &[u8], len: usize) -> Option<Vec<u8>> {
    let v = mpi(be);
    let mut out = vec![0u8; len.checked_sub(v.len())?];
    out.extend_from_slice(v);
    Some(out)
}
