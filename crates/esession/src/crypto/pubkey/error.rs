//! The failures of public-key handling. Each message names what was wrong (everything from
//! the network is hostile, and the person debugging an interop failure needs the reason).
use super::SignAlg;

/// Why a key, a `<KeyValue/>`, a fingerprint or a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The element is not a `<KeyValue/>` (xmldsig namespace or, as in the P4 text, none).
    #[error(
        "expected a KeyValue element in the xmldsig namespace, got <{name}> in namespace {ns:?}"
    )]
    NotKeyValue {
        /// Local name of the element received (at most 64 characters).
        name: String,
        /// Its namespace.
        ns: String,
    },
    /// The `<KeyValue/>` holds neither an RSAKeyValue nor a DSAKeyValue.
    #[error("KeyValue holds no RSAKeyValue or DSAKeyValue")]
    NoKeyValue,
    /// The `<KeyValue/>` holds more than one key.
    #[error("KeyValue holds more than one key value")]
    SeveralKeyValues,
    /// A child element that does not belong where it was found.
    #[error("unexpected element <{child}> inside {parent}")]
    UnexpectedElement {
        /// The element it was found in.
        parent: &'static str,
        /// The unexpected child's local name (at most 64 characters).
        child: String,
    },
    /// Non-whitespace character data between the elements of a key.
    #[error("unexpected character data inside {0}")]
    UnexpectedText(&'static str),
    /// A key component is absent.
    #[error("{key} has no {component}")]
    MissingComponent {
        /// RSAKeyValue or DSAKeyValue.
        key: &'static str,
        /// The absent child.
        component: &'static str,
    },
    /// A key component appears twice.
    #[error("{key} has more than one {component}")]
    DuplicateComponent {
        /// RSAKeyValue or DSAKeyValue.
        key: &'static str,
        /// The repeated child.
        component: &'static str,
    },
    /// A key component is not in the xmldsig order (P8).
    #[error("{key}: {component} is out of order (expected order: {expected})")]
    ComponentOrder {
        /// RSAKeyValue or DSAKeyValue.
        key: &'static str,
        /// The misplaced child.
        component: &'static str,
        /// The required order.
        expected: String,
    },
    /// A key component is not valid base64.
    #[error("{0} is not valid base64")]
    BadBase64(&'static str),
    /// A key component is empty.
    #[error("{0} is empty")]
    EmptyComponent(&'static str),
    /// A key component is larger than `MAX_KEY_BITS` (8192 bits).
    #[error(
        "{component} is too large: {len} octets of text or value, at most {max_bits} bits allowed"
    )]
    ComponentTooLarge {
        /// The component.
        component: &'static str,
        /// Its length as received.
        len: usize,
        /// The limit.
        max_bits: usize,
    },
    /// An RSA modulus below 2048 bits (P8).
    #[error("RSA modulus has {bits} bits, at least {min} are required (profile P8)")]
    ModulusTooSmall {
        /// Bits of the modulus.
        bits: usize,
        /// The minimum.
        min: usize,
    },
    /// An RSA modulus above the size limit.
    #[error("RSA modulus has {bits} bits, at most {max} are accepted")]
    ModulusTooLarge {
        /// Bits of the modulus.
        bits: usize,
        /// The maximum.
        max: usize,
    },
    /// An even RSA modulus (it cannot be a product of two odd primes).
    #[error("RSA modulus is even")]
    EvenModulus,
    /// An even RSA public exponent.
    #[error("RSA public exponent is even")]
    EvenExponent,
    /// An RSA public exponent below 3.
    #[error("RSA public exponent is below 3")]
    ExponentTooSmall,
    /// An RSA public exponent above 2^33 - 1 (slow to verify: a denial-of-service vector).
    #[error("RSA public exponent is above 2^33 - 1")]
    ExponentTooLarge,
    /// DSA sizes other than the FIPS 186-4 pairs of at least 2048 bits.
    #[error("DSA p of {p_bits} bits with q of {q_bits} bits: only (2048, 224), (2048, 256) and (3072, 256) are accepted (profile P8: p of at least 2048 bits)")]
    DsaSizes {
        /// Bits of p.
        p_bits: usize,
        /// Bits of q.
        q_bits: usize,
    },
    /// DSA p is even.
    #[error("DSA p is even")]
    DsaEvenP,
    /// DSA q is not prime.
    #[error("DSA q is not prime")]
    DsaQNotPrime,
    /// DSA q does not divide p - 1.
    #[error("DSA q does not divide p - 1")]
    DsaQNotDivisor,
    /// DSA g outside 1 < g < p.
    #[error("DSA g is not in 1 < g < p")]
    DsaGOutOfRange,
    /// DSA g^q mod p is not 1.
    #[error("DSA g^q mod p is not 1 (g does not generate the subgroup of order q)")]
    DsaGOrder,
    /// DSA y outside 1 < y < p.
    #[error("DSA y is not in 1 < y < p")]
    DsaYOutOfRange,
    /// DSA y^q mod p is not 1.
    #[error("DSA y^q mod p is not 1 (y is not in the subgroup of order q)")]
    DsaYOrder,
    /// The underlying library refused a key that passed our checks.
    #[error("key refused by the {library} library: {reason}")]
    Library {
        /// `rsa` or `dsa`.
        library: &'static str,
        /// Its message.
        reason: String,
    },
    /// A signature algorithm that does not match the key.
    #[error("{alg} signature requested, but the key is for {key}")]
    AlgMismatch {
        /// The algorithm the key is for.
        key: SignAlg,
        /// The algorithm asked for.
        alg: SignAlg,
    },
    /// A DSA signature value of the wrong length (P8: r|s, each as long as q).
    #[error("DSA signature has {got} octets, r|s with this key has {expected}")]
    SignatureLength {
        /// 2 × the octet length of q.
        expected: usize,
        /// Octets received.
        got: usize,
    },
    /// The signature does not verify.
    #[error("{0} signature does not verify")]
    BadSignature(SignAlg),
    /// Signing failed.
    #[error("{0} signing failed")]
    SigningFailed(SignAlg),
    /// A key size that cannot be generated.
    #[error("cannot generate a {bits}-bit key: {min} to {max} bits are supported")]
    GenerateSize {
        /// Bits requested.
        bits: usize,
        /// Smallest size.
        min: usize,
        /// Largest size.
        max: usize,
    },
    /// Key generation failed.
    #[error("{0} key generation failed")]
    GenerationFailed(SignAlg),
    /// A PKCS#8 document that cannot be read.
    #[error("malformed PKCS#8 private key: {0}")]
    Pkcs8(String),
    /// A PKCS#8 key of an algorithm other than RSA and DSA.
    #[error("PKCS#8 key algorithm {0} is neither rsaEncryption nor id-dsa")]
    Pkcs8Algorithm(String),
    /// A fingerprint that is not B64 of 32 octets.
    #[error("fingerprint is not base64 of 32 octets: {0}")]
    BadFingerprint(&'static str),
}

/// At most the first 64 characters of a name from the network, for an error message.
pub(super) fn short_name(name: &str) -> String {
    name.chars().take(64).collect()
}
