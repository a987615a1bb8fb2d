//! Tests of the public-key identities against committed OpenSSL fixtures
//! (`tests/keys/`, test-only keys) and hostile `<KeyValue/>` variants (profile P8).
use super::*;
use crate::random::SeededRandom;
use crate::xml::{parse_element, Limits};
use std::sync::OnceLock;

const RSA_DER: &[u8] = include_bytes!("../../../tests/keys/rsa2048.pk8.der");
const DSA_DER: &[u8] = include_bytes!("../../../tests/keys/dsa2048.pk8.der");
const RSA_OPENSSL_SIG: &[u8] = include_bytes!("../../../tests/keys/rsa2048.openssl-sig.bin");
const DSA_OPENSSL_SIG: &[u8] = include_bytes!("../../../tests/keys/dsa2048.openssl-sig.bin");
const FIXTURE_MSG: &[u8] = b"esession pubkey fixture message";

/// The RSA fixture's KeyValue, written from `openssl rsa -modulus` (not by this crate).
const RSA_NORMALIZED: &str = "<KeyValue><RSAKeyValue><Modulus>k6sjT4Jpgu95Lvb/5A1svbCRFmW/2NTht8a9q6kIgqKKRYnLRKzfDVNk5U8KCjrJEZI65eIp4pXW7rnFPY7chpgSngEcjCRPK29gErrt02pyfkDdQDIYYzLToy6geKUOTyxxy33jSVDdx3SMi3zNU6xaFHlfUGan99uN5+Knd8R4ldE4n68WxNgkV4fC/nvQsrXk3VoXlVNLVpm1M70DWR14Ow1kXV10hBarCf/zIPSdQgL96hiMggdbSLBzG8gO3A1Sk89PXdeGqb/cgddTk79Jd1tXwoRvqHBUlueVdBb/WZHv6vk5hUakLbYoAtZHRS7r4mOw7FDWA7T8q70h3w==</Modulus><Exponent>AQAB</Exponent></RSAKeyValue></KeyValue>";
/// `sha256sum` of [`RSA_NORMALIZED`].
const RSA_FINGERPRINT_HEX: &str =
    "dfd6737083a0737d4db873ef6e87cd6f014c8f992ad714e03fa40c44902d7804";

/// The DSA fixture's KeyValue, written from `openssl pkey -text` (not by this crate).
const DSA_NORMALIZED: &str = "<KeyValue><DSAKeyValue><P>/cppNpnO0hzUZ3eMbTlvQNT/ppdUmmuENZpRCLxt5MV0RoQwZhbKCF/bq8IKkejOpk/06huRfwLEXFRfwGP1b8Ucb2P1p9w6yfYxiOfpsrXwLef76uqUM2msvfebtjEjX+B5vy4LxSWpvqIkFeegsIh5yTxVERiF3ScpLvz1X5vVMO0utdE5IAuVkZ4srZGVxlTbUFHe2Hcrmw+JOJ6leLbrQw31Vo7i7RoXgc3fSOXvHHfNImC0r7UWMfHBqs0l4lzvZqAlKVDVYXwOKS19ULWRFPHDa+s8F/nasqiKKjD5PAdKLvEUujapiJZS5zacgWGM/2GdPzdAXYkl3KZkNQ==</P><Q>jDrPxlIRLISRC7o/bAnSNg3PtBzzv0cz3+fB6VJGtFc=</Q><G>h+FAHvYhh8FTiSJx63jwQAQr9ACy6e2JoGt2rvsWRmuBGStW2iEpEOmRZFyIx62Hi4ZIxVHgUdYRRogYMnR1tSk9WM8DuVmaAJRKuzSpAPFiZtnao+B6uHLzr5i9kQOS9t1U2Hok7chB5K67WJGY0efrgiet11iNc6a3KIxkQHwKgeYSAoTpl8blalkBaZCOShTcJC+h9aA/J523GWEl8l14q5pZyHztwMj70YQIb+nuuMc0YPBiiqcknO6wzZIBoJroJMch3L+6pxkTT468ugkBxYT+cnh1YWVwtrf0HlcidRKw6M+6t35A5p8+a13DUIIsMCYbYnnNu3usmtUogA==</G><Y>sSb5k0OIQMVU4TM8ClglVTD+lAdowJyC3vcpWohY4B0xA9cR9Yha0T+7e1ADctIoxKcYIXKjLouw9igzoGku1ZrVARAlZeBE1uJpNLxwEvpw7PIiaN4MXEa1GqhPz/jek/2sRVwskDANHg1FPdm586tzAcBAVNs4vYXm/4oomYDL3RphaJJucJA2hnAlbpNOOW2CdPUomjYTLqA3YrtZf4ar4DU+NBJhcqV3NcmteNf4Yj2KtqmwEIEx5aVsVDRVuzray/bCcpTlxOtw6wnWNKoOi96K683tqT6oWAAFwLHeoH4hMF5nodCAaXvdy4go3t5NNkRP1WmPpBirh6N18g==</Y></DSAKeyValue></KeyValue>";
/// `sha256sum` of [`DSA_NORMALIZED`].
const DSA_FINGERPRINT_HEX: &str =
    "8ae4749f8ac451f13855049b04a01b22c74334838778ebdd9c155d18eb8041e1";

fn rsa_key() -> &'static IdentityKey {
    static KEY: OnceLock<IdentityKey> = OnceLock::new();
    KEY.get_or_init(|| IdentityKey::from_pkcs8_der(RSA_DER).unwrap())
}

fn dsa_key() -> &'static IdentityKey {
    static KEY: OnceLock<IdentityKey> = OnceLock::new();
    KEY.get_or_init(|| IdentityKey::from_pkcs8_der(DSA_DER).unwrap())
}

/// A second RSA key, generated once per test binary (exercises `generate_rsa`).
fn other_rsa_key() -> &'static IdentityKey {
    static KEY: OnceLock<IdentityKey> = OnceLock::new();
    KEY.get_or_init(|| {
        IdentityKey::generate_rsa(&mut SeededRandom::from_label("pubkey other"), 2048).unwrap()
    })
}

fn parse(xml: &str) -> Element {
    parse_element(xml, &Limits::default()).unwrap()
}

/// A KeyValue in the xmldsig namespace with `inner` as its content.
fn key_value_xml(inner: &str) -> String {
    format!("<KeyValue xmlns='{XMLDSIG_NS}'>{inner}</KeyValue>")
}

fn from_xml(xml: &str) -> Result<PublicKey, KeyError> {
    PublicKey::from_key_value(&parse(xml))
}

/// The base64 texts of the children of the fixture's key element, by name.
fn fixture_parts(normalized: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            let open = format!("<{n}>");
            let start = normalized.find(&open).unwrap() + open.len();
            let end = start + normalized[start..].find(&format!("</{n}>")).unwrap();
            normalized[start..end].to_owned()
        })
        .collect()
}

fn rsa_xml(modulus: &str, exponent: &str) -> String {
    key_value_xml(&format!(
        "<RSAKeyValue><Modulus>{modulus}</Modulus><Exponent>{exponent}</Exponent></RSAKeyValue>"
    ))
}

fn dsa_xml(parts: &[String]) -> String {
    key_value_xml(&format!(
        "<DSAKeyValue><P>{}</P><Q>{}</Q><G>{}</G><Y>{}</Y></DSAKeyValue>",
        parts[0], parts[1], parts[2], parts[3]
    ))
}

fn dsa_parts() -> Vec<String> {
    fixture_parts(DSA_NORMALIZED, &["P", "Q", "G", "Y"])
}

fn rsa_modulus() -> String {
    fixture_parts(RSA_NORMALIZED, &["Modulus"]).remove(0)
}

/// `b64` as an integer, transformed by `f` on its big-endian octets, re-encoded.
fn tweak(b64: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut v = crate::b64::decode("t", b64).unwrap();
    f(&mut v);
    crate::b64::encode(&v)
}

#[test]
fn fixtures_load_with_their_sizes_and_algorithms() {
    let (rsa, dsa) = (rsa_key(), dsa_key());
    assert_eq!(rsa.sign_alg(), SignAlg::RsaSha256);
    assert_eq!(rsa.public().bits(), 2048);
    assert_eq!(dsa.sign_alg(), SignAlg::DsaSha256);
    assert_eq!(dsa.public().bits(), 2048);
    assert_eq!(dsa.public().sign_alg(), SignAlg::DsaSha256);
}

#[test]
fn normalized_text_is_exactly_the_p8_form() {
    assert_eq!(rsa_key().public().normalized(), RSA_NORMALIZED);
    assert_eq!(dsa_key().public().normalized(), DSA_NORMALIZED);
    let kv = rsa_key().public().key_value();
    assert!(kv.is("KeyValue", XMLDSIG_NS));
    assert_eq!(normalized_of(&kv), RSA_NORMALIZED);
}

#[test]
fn fingerprints_of_the_fixtures_are_pinned() {
    let rsa = rsa_key().public().fingerprint();
    assert_eq!(rsa.to_hex(), RSA_FINGERPRINT_HEX);
    assert_eq!(Fingerprint::from_b64(&rsa.to_b64()).unwrap(), rsa);
    assert_eq!(
        dsa_key().public().fingerprint().to_hex(),
        DSA_FINGERPRINT_HEX
    );
}

#[test]
fn key_value_round_trips_through_the_wire() {
    for key in [rsa_key(), dsa_key()] {
        let public = key.public();
        let wire = public.key_value().serialize_in("jabber:client");
        let received = parse(&wire);
        let parsed = PublicKey::from_key_value(&received).unwrap();
        assert_eq!(parsed, public);
        assert_eq!(parsed.fingerprint(), public.fingerprint());
        assert_eq!(Fingerprint::of_key_value(&received), public.fingerprint());
        assert_eq!(normalized_of(&received), public.normalized());
    }
}

#[test]
fn p4_text_of_a_key_value_without_namespace_is_accepted() {
    // The encrypted identity carries the P4 text, which has no xmlns (P4, P8).
    let parsed = from_xml(RSA_NORMALIZED).unwrap();
    assert_eq!(parsed, rsa_key().public());
    let prefixed = parse(&format!(
        "<ds:KeyValue xmlns:ds='{XMLDSIG_NS}'>\n <ds:RSAKeyValue>\n  <ds:Modulus>{}</ds:Modulus>\n  \
         <ds:Exponent>AQAB</ds:Exponent>\n </ds:RSAKeyValue>\n</ds:KeyValue>",
        rsa_modulus()
    ));
    assert_eq!(
        PublicKey::from_key_value(&prefixed).unwrap(),
        rsa_key().public()
    );
    assert_eq!(normalized_of(&prefixed), RSA_NORMALIZED);
}

#[test]
fn sign_and_verify_both_algorithms() {
    for key in [rsa_key(), dsa_key()] {
        let mac = [0x5au8; 32];
        let sig = key.sign(&mac).unwrap();
        key.public().verify(key.sign_alg(), &mac, &sig).unwrap();
        // Both signatures are deterministic (PKCS#1 v1.5; RFC 6979 for DSA).
        assert_eq!(key.sign(&mac).unwrap(), sig);
    }
    assert_eq!(rsa_key().sign(&[1]).unwrap().len(), 256);
    assert_eq!(dsa_key().sign(&[1]).unwrap().len(), 64);
}

#[test]
fn signatures_match_openssl() {
    // RSASSA-PKCS1-v1_5 is deterministic: the same octets as `openssl dgst -sha256 -sign`.
    assert_eq!(rsa_key().sign(FIXTURE_MSG).unwrap(), RSA_OPENSSL_SIG);
    rsa_key()
        .public()
        .verify(SignAlg::RsaSha256, FIXTURE_MSG, RSA_OPENSSL_SIG)
        .unwrap();
    // OpenSSL's DSA signature (random k), converted to r|s.
    dsa_key()
        .public()
        .verify(SignAlg::DsaSha256, FIXTURE_MSG, DSA_OPENSSL_SIG)
        .unwrap();
}

#[test]
fn tampered_signatures_and_messages_are_refused() {
    for (key, alg) in [
        (rsa_key(), SignAlg::RsaSha256),
        (dsa_key(), SignAlg::DsaSha256),
    ] {
        let public = key.public();
        let sig = key.sign(FIXTURE_MSG).unwrap();
        for i in [0, sig.len() / 2, sig.len() - 1] {
            let mut bad = sig.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                public.verify(alg, FIXTURE_MSG, &bad),
                Err(KeyError::BadSignature(alg))
            );
        }
        assert_eq!(
            public.verify(alg, b"another mac", &sig),
            Err(KeyError::BadSignature(alg))
        );
        let zeros = vec![0u8; sig.len()];
        assert_eq!(
            public.verify(alg, FIXTURE_MSG, &zeros),
            Err(KeyError::BadSignature(alg))
        );
    }
    // A signature longer than the modulus.
    let mut long = rsa_key().sign(FIXTURE_MSG).unwrap();
    long.insert(0, 0);
    assert_eq!(
        rsa_key()
            .public()
            .verify(SignAlg::RsaSha256, FIXTURE_MSG, &long),
        Err(KeyError::BadSignature(SignAlg::RsaSha256))
    );
    // DSA values of the wrong length are named (P8: r|s, 32 + 32 octets here).
    let dsa_sig = dsa_key().sign(FIXTURE_MSG).unwrap();
    for len in [0, 63, 65] {
        let mut v = dsa_sig.clone();
        v.resize(len, 0);
        assert_eq!(
            dsa_key()
                .public()
                .verify(SignAlg::DsaSha256, FIXTURE_MSG, &v),
            Err(KeyError::SignatureLength {
                expected: 64,
                got: len
            })
        );
    }
    // r or s of 0, or at least q.
    let q = crate::b64::decode("q", &dsa_parts()[1]).unwrap();
    for bad in [
        [vec![0; 32], dsa_sig[32..].to_vec()].concat(),
        [dsa_sig[..32].to_vec(), vec![0; 32]].concat(),
        [q.clone(), dsa_sig[32..].to_vec()].concat(),
        [dsa_sig[..32].to_vec(), vec![0xff; 32]].concat(),
    ] {
        assert_eq!(
            dsa_key()
                .public()
                .verify(SignAlg::DsaSha256, FIXTURE_MSG, &bad),
            Err(KeyError::BadSignature(SignAlg::DsaSha256))
        );
    }
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let other = other_rsa_key();
    assert_eq!(other.public().bits(), 2048);
    assert_ne!(other.public(), rsa_key().public());
    let sig = other.sign(FIXTURE_MSG).unwrap();
    other
        .public()
        .verify(SignAlg::RsaSha256, FIXTURE_MSG, &sig)
        .unwrap();
    assert_eq!(
        rsa_key()
            .public()
            .verify(SignAlg::RsaSha256, FIXTURE_MSG, &sig),
        Err(KeyError::BadSignature(SignAlg::RsaSha256))
    );
    // Another DSA key of the same domain: y = g (g^q = 1, so it passes the checks).
    let mut parts = dsa_parts();
    parts[3] = parts[2].clone();
    let other_dsa = from_xml(&dsa_xml(&parts)).unwrap();
    let sig = dsa_key().sign(FIXTURE_MSG).unwrap();
    assert_eq!(
        other_dsa.verify(SignAlg::DsaSha256, FIXTURE_MSG, &sig),
        Err(KeyError::BadSignature(SignAlg::DsaSha256))
    );
}

#[test]
fn a_key_of_the_other_type_is_refused() {
    let rsa_sig = rsa_key().sign(FIXTURE_MSG).unwrap();
    let dsa_sig = dsa_key().sign(FIXTURE_MSG).unwrap();
    assert_eq!(
        rsa_key()
            .public()
            .verify(SignAlg::DsaSha256, FIXTURE_MSG, &dsa_sig),
        Err(KeyError::AlgMismatch {
            key: SignAlg::RsaSha256,
            alg: SignAlg::DsaSha256
        })
    );
    assert_eq!(
        dsa_key()
            .public()
            .verify(SignAlg::RsaSha256, FIXTURE_MSG, &rsa_sig),
        Err(KeyError::AlgMismatch {
            key: SignAlg::DsaSha256,
            alg: SignAlg::RsaSha256
        })
    );
}

#[test]
fn short_keys_are_refused() {
    // A real 1024-bit RSA key, made here, as a KeyValue and as PKCS#8.
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let short = rsa::PrivateKey::new(
        &mut rng::RngAdapter(&mut SeededRandom::from_label("short")),
        1024,
    )
    .unwrap();
    let n = crate::b64::encode(&short.n().to_be_bytes_trimmed_vartime());
    assert_eq!(
        from_xml(&rsa_xml(&n, "AQAB")),
        Err(KeyError::ModulusTooSmall {
            bits: 1024,
            min: 2048
        })
    );
    let der = short.to_pkcs8_der().unwrap();
    assert_eq!(
        IdentityKey::from_pkcs8_der(der.as_bytes()).unwrap_err(),
        KeyError::ModulusTooSmall {
            bits: 1024,
            min: 2048
        }
    );
    // 2047 bits: the fixture's modulus shifted right by one bit, made odd.
    let m2047 = tweak(&rsa_modulus(), |v| {
        let mut carry = 0u8;
        for b in v.iter_mut() {
            let next = *b & 1;
            *b = (*b >> 1) | (carry << 7);
            carry = next;
        }
        *v.last_mut().unwrap() |= 1;
    });
    assert_eq!(
        from_xml(&rsa_xml(&m2047, "AQAB")),
        Err(KeyError::ModulusTooSmall {
            bits: 2047,
            min: 2048
        })
    );
    assert_eq!(
        IdentityKey::generate_rsa(&mut SeededRandom::from_label("g"), 1024).unwrap_err(),
        KeyError::GenerateSize {
            bits: 1024,
            min: 2048,
            max: 8192
        }
    );
}

#[test]
fn rsa_key_checks_name_what_is_wrong() {
    let n = rsa_modulus();
    let even = tweak(&n, |v| *v.last_mut().unwrap() &= 0xfe);
    assert_eq!(
        from_xml(&rsa_xml(&even, "AQAB")),
        Err(KeyError::EvenModulus)
    );
    assert_eq!(from_xml(&rsa_xml(&n, "AQAA")), Err(KeyError::EvenExponent));
    assert_eq!(
        from_xml(&rsa_xml(&n, "AQ==")),
        Err(KeyError::ExponentTooSmall)
    );
    assert_eq!(from_xml(&rsa_xml(&n, "Aw==")).unwrap().bits(), 2048);
    // 2^33 - 1 is the largest exponent accepted, 2^33 + 1 is refused.
    let max = crate::b64::encode(&[0x01, 0xff, 0xff, 0xff, 0xff]);
    assert!(from_xml(&rsa_xml(&n, &max)).is_ok());
    let over = crate::b64::encode(&[0x02, 0, 0, 0, 1]);
    assert_eq!(
        from_xml(&rsa_xml(&n, &over)),
        Err(KeyError::ExponentTooLarge)
    );
    let huge = crate::b64::encode(&[0xff; 9]);
    assert_eq!(
        from_xml(&rsa_xml(&n, &huge)),
        Err(KeyError::ExponentTooLarge)
    );
    // 8193 bits: the value check of the KeyValue (1025 octets) comes first.
    let mut big = vec![0xffu8; 1025];
    big[0] = 1;
    assert_eq!(
        from_xml(&rsa_xml(&crate::b64::encode(&big), "AQAB")),
        Err(KeyError::ComponentTooLarge {
            component: "Modulus",
            len: 1025,
            max_bits: 8192
        })
    );
    assert_eq!(
        from_xml(&rsa_xml(&"A".repeat(4100), "AQAB")),
        Err(KeyError::ComponentTooLarge {
            component: "Modulus",
            len: 4100,
            max_bits: 8192
        })
    );
}

#[test]
fn dsa_key_checks_name_what_is_wrong() {
    let good = dsa_parts();
    let with = |i: usize, v: String| {
        let mut parts = good.clone();
        parts[i] = v;
        from_xml(&dsa_xml(&parts))
    };
    let one = crate::b64::encode(&[1]);
    let p = good[0].clone();
    // q - 1 is even, so not prime; 2^256 - 189 is a 256-bit prime that does not divide
    // p - 1.
    let q_minus_1 = tweak(&good[1], |v| *v.last_mut().unwrap() -= 1);
    assert_eq!(with(1, q_minus_1), Err(KeyError::DsaQNotPrime));
    let mut prime = vec![0xffu8; 32];
    prime[31] = 0xff - 188;
    assert_eq!(
        with(1, crate::b64::encode(&prime)),
        Err(KeyError::DsaQNotDivisor)
    );
    assert_eq!(with(2, one.clone()), Err(KeyError::DsaGOutOfRange));
    assert_eq!(with(2, p.clone()), Err(KeyError::DsaGOutOfRange));
    assert_eq!(with(2, crate::b64::encode(&[2])), Err(KeyError::DsaGOrder));
    assert_eq!(with(3, one), Err(KeyError::DsaYOutOfRange));
    assert_eq!(with(3, p.clone()), Err(KeyError::DsaYOutOfRange));
    let p_plus = tweak(&p, |v| v.insert(0, 1));
    assert_eq!(with(3, p_plus), Err(KeyError::DsaYOutOfRange));
    assert_eq!(with(3, crate::b64::encode(&[2])), Err(KeyError::DsaYOrder));
    // p must be odd; its size and q's must be a FIPS 186-4 pair of at least 2048 bits.
    let even_p = tweak(&p, |v| *v.last_mut().unwrap() &= 0xfe);
    assert_eq!(with(0, even_p), Err(KeyError::DsaEvenP));
    let short_p = tweak(&p, |v| {
        v.remove(0);
    });
    let short_bits = super::key_value::bit_len(&crate::b64::decode("p", &short_p).unwrap());
    assert_eq!(
        with(0, short_p),
        Err(KeyError::DsaSizes {
            p_bits: short_bits,
            q_bits: 256
        })
    );
    assert_eq!(
        with(1, crate::b64::encode(&[0x83; 20])),
        Err(KeyError::DsaSizes {
            p_bits: 2048,
            q_bits: 160
        })
    );
}

#[test]
fn malformed_key_values_are_refused_by_name() {
    let n = rsa_modulus();
    let rsa_inner =
        format!("<RSAKeyValue><Modulus>{n}</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>");
    let cases: Vec<(String, KeyError)> = vec![
        (
            format!("<KeyInfo xmlns='{XMLDSIG_NS}'>{rsa_inner}</KeyInfo>"),
            KeyError::NotKeyValue {
                name: "KeyInfo".into(),
                ns: XMLDSIG_NS.into(),
            },
        ),
        (
            format!("<KeyValue xmlns='urn:example'>{rsa_inner}</KeyValue>"),
            KeyError::NotKeyValue {
                name: "KeyValue".into(),
                ns: "urn:example".into(),
            },
        ),
        (key_value_xml(""), KeyError::NoKeyValue),
        (key_value_xml(" \n "), KeyError::NoKeyValue),
        (
            key_value_xml(&format!("{rsa_inner}{rsa_inner}")),
            KeyError::SeveralKeyValues,
        ),
        (
            key_value_xml(&format!(
                "{rsa_inner}<DSAKeyValue><P>AQ==</P></DSAKeyValue>"
            )),
            KeyError::SeveralKeyValues,
        ),
        (
            key_value_xml("<ECKeyValue/>"),
            KeyError::UnexpectedElement {
                parent: "KeyValue",
                child: "ECKeyValue".into(),
            },
        ),
        (
            key_value_xml(&format!("x{rsa_inner}")),
            KeyError::UnexpectedText("KeyValue"),
        ),
        (
            key_value_xml(&format!("<RSAKeyValue><Modulus>{n}</Modulus></RSAKeyValue>")),
            KeyError::MissingComponent {
                key: "RSAKeyValue",
                component: "Exponent",
            },
        ),
        (
            key_value_xml("<RSAKeyValue><Exponent>AQAB</Exponent></RSAKeyValue>"),
            KeyError::MissingComponent {
                key: "RSAKeyValue",
                component: "Modulus",
            },
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue><Modulus>{n}</Modulus><Exponent>AQAB</Exponent><Extra/></RSAKeyValue>"
            )),
            KeyError::UnexpectedElement {
                parent: "RSAKeyValue",
                child: "Extra".into(),
            },
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue><Modulus>{n}</Modulus><Exponent>AQAB</Exponent><Exponent>AQAB</Exponent></RSAKeyValue>"
            )),
            KeyError::DuplicateComponent {
                key: "RSAKeyValue",
                component: "Exponent",
            },
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue><Exponent>AQAB</Exponent><Modulus>{n}</Modulus></RSAKeyValue>"
            )),
            KeyError::ComponentOrder {
                key: "RSAKeyValue",
                component: "Exponent",
                expected: "Modulus, Exponent".into(),
            },
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue><Modulus>{n}</Modulus>!<Exponent>AQAB</Exponent></RSAKeyValue>"
            )),
            KeyError::UnexpectedText("RSAKeyValue"),
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue><Modulus>{n}<b/></Modulus><Exponent>AQAB</Exponent></RSAKeyValue>"
            )),
            KeyError::UnexpectedElement {
                parent: "Modulus",
                child: "b".into(),
            },
        ),
        (
            key_value_xml(&format!(
                "<RSAKeyValue xmlns='urn:other'><Modulus>{n}</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>"
            )),
            KeyError::UnexpectedElement {
                parent: "KeyValue",
                child: "RSAKeyValue".into(),
            },
        ),
        (rsa_xml(&n, "AQA*"), KeyError::BadBase64("Exponent")),
        (rsa_xml(&n[1..], "AQAB"), KeyError::BadBase64("Modulus")),
        (rsa_xml(&n, ""), KeyError::EmptyComponent("Exponent")),
    ];
    for (xml, expected) in cases {
        assert_eq!(from_xml(&xml), Err(expected), "{xml}");
    }
    // DSA: exactly P, Q, G, Y (P8), so the optional xmldsig J, Seed, PgenCounter are refused.
    let d = dsa_parts();
    let with_j = key_value_xml(&format!(
        "<DSAKeyValue><P>{}</P><Q>{}</Q><G>{}</G><Y>{}</Y><J>AQ==</J></DSAKeyValue>",
        d[0], d[1], d[2], d[3]
    ));
    assert_eq!(
        from_xml(&with_j),
        Err(KeyError::UnexpectedElement {
            parent: "DSAKeyValue",
            child: "J".into()
        })
    );
    let no_g = key_value_xml(&format!(
        "<DSAKeyValue><P>{}</P><Q>{}</Q><Y>{}</Y></DSAKeyValue>",
        d[0], d[1], d[3]
    ));
    assert_eq!(
        from_xml(&no_g),
        Err(KeyError::MissingComponent {
            key: "DSAKeyValue",
            component: "G"
        })
    );
    let swapped = key_value_xml(&format!(
        "<DSAKeyValue><Q>{}</Q><P>{}</P><G>{}</G><Y>{}</Y></DSAKeyValue>",
        d[1], d[0], d[2], d[3]
    ));
    assert_eq!(
        from_xml(&swapped),
        Err(KeyError::ComponentOrder {
            key: "DSAKeyValue",
            component: "Q",
            expected: "P, Q, G, Y".into()
        })
    );
    // A long hostile name is cut in the error message.
    let long = "a".repeat(300);
    let err = from_xml(&key_value_xml(&format!("<{long}/>"))).unwrap_err();
    assert_eq!(
        err,
        KeyError::UnexpectedElement {
            parent: "KeyValue",
            child: "a".repeat(64)
        }
    );
}

#[test]
fn leading_zeros_and_whitespace_are_read_as_the_integer() {
    // XEP-0116 §6.1: the value is an integer; leading zero octets do not change it, but
    // the P4 text of the received element keeps them (P8: that text is what is MACed).
    let n = tweak(&rsa_modulus(), |v| v.splice(0..0, [0, 0]).for_each(drop));
    let e = crate::b64::encode(&[0, 1, 0, 1]);
    let el = parse(&rsa_xml(&n, &e));
    let key = PublicKey::from_key_value(&el).unwrap();
    assert_eq!(key, rsa_key().public());
    assert_eq!(key.normalized(), RSA_NORMALIZED);
    assert_ne!(normalized_of(&el), RSA_NORMALIZED);
    assert!(normalized_of(&el).contains(&format!("<Modulus>{n}</Modulus>")));
    assert_ne!(Fingerprint::of_key_value(&el), key.fingerprint());
    // White space inside a value is tolerated (spec-digest §2.3).
    let m = rsa_modulus();
    let spaced = format!("{}\n  {}", &m[..100], &m[100..]);
    assert_eq!(
        from_xml(&rsa_xml(&spaced, "AQAB")).unwrap(),
        rsa_key().public()
    );
    let mut parts = dsa_parts();
    parts[1] = tweak(&parts[1], |v| v.insert(0, 0));
    assert_eq!(from_xml(&dsa_xml(&parts)).unwrap(), dsa_key().public());
}

#[test]
fn pkcs8_round_trips() {
    for (key, der) in [(rsa_key(), RSA_DER), (dsa_key(), DSA_DER)] {
        let ours = key.to_pkcs8_der();
        let again = IdentityKey::from_pkcs8_der(&ours).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(*again.to_pkcs8_der(), *ours);
        assert_eq!(
            again.sign(FIXTURE_MSG).unwrap(),
            key.sign(FIXTURE_MSG).unwrap()
        );
        assert_eq!(
            IdentityKey::from_pkcs8_der(der).unwrap().public(),
            key.public()
        );
    }
}

#[test]
fn bad_pkcs8_documents_are_named() {
    assert!(matches!(
        IdentityKey::from_pkcs8_der(b"not DER"),
        Err(KeyError::Pkcs8(_))
    ));
    assert!(matches!(
        IdentityKey::from_pkcs8_der(&RSA_DER[..RSA_DER.len() - 1]),
        Err(KeyError::Pkcs8(_))
    ));
    // `openssl genpkey -algorithm ed25519 -outform DER` (a throwaway key).
    let ed25519: [u8; 48] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
        0xee, 0xff, 0x00,
    ];
    assert_eq!(
        IdentityKey::from_pkcs8_der(&ed25519).unwrap_err(),
        KeyError::Pkcs8Algorithm("1.3.101.112".into())
    );
}

#[test]
fn dsa_r_and_s_are_left_padded_to_the_length_of_q() {
    assert_eq!(dsa_key::left_pad(&[0, 0, 7], 4), Some(vec![0, 0, 0, 7]));
    assert_eq!(dsa_key::left_pad(&[9, 8, 7, 6], 4), Some(vec![9, 8, 7, 6]));
    assert_eq!(dsa_key::left_pad(&[1, 9, 8, 7, 6], 4), None);
    // PAD_MSG_INDEX: the first message "pad {i}" whose RFC 6979 signature with the fixture
    // has r or s below 2^248 (a leading zero octet), found by a search over i.
    let msg = format!("pad {PAD_MSG_INDEX}");
    let sig = dsa_key().sign(msg.as_bytes()).unwrap();
    assert_eq!(sig.len(), 64);
    assert!(sig[0] == 0 || sig[32] == 0, "{}", hex::encode(&sig));
    dsa_key()
        .public()
        .verify(SignAlg::DsaSha256, msg.as_bytes(), &sig)
        .unwrap();
}

const PAD_MSG_INDEX: usize = 116;

#[test]
fn identity_debug_is_redacted() {
    assert_eq!(
        format!("{:?}", rsa_key()),
        "IdentityKey(RSA-SHA256, 2048 bits, <redacted>)"
    );
    assert_eq!(
        format!("{:?}", dsa_key()),
        "IdentityKey(DSA-SHA256, 2048 bits, <redacted>)"
    );
    assert_eq!(
        format!("{:?}", rsa_key().public()),
        "Rsa(RsaPublic(2048 bits))"
    );
    assert_eq!(
        format!("{:?}", dsa_key().public()),
        "Dsa(DsaPublic(2048/256 bits))"
    );
}

#[test]
fn generated_dsa_keys_sign_and_survive_pkcs8() {
    // FIPS 186-4 (2048, 256) parameters from the injected randomness: about half a second.
    let key = IdentityKey::generate_dsa(&mut SeededRandom::from_label("dsa gen")).unwrap();
    assert_eq!(
        format!("{:?}", key.public()),
        "Dsa(DsaPublic(2048/256 bits))"
    );
    let sig = key.sign(FIXTURE_MSG).unwrap();
    key.public()
        .verify(SignAlg::DsaSha256, FIXTURE_MSG, &sig)
        .unwrap();
    let again = IdentityKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
    assert_eq!(again.public(), key.public());
    assert_ne!(key.public(), dsa_key().public());
}
