//! Received public keys (profile P8): `PublicKey::from_key_value` on arbitrary XML never
//! panics, and an accepted key round-trips: rebuilding its `<KeyValue/>` and parsing that
//! again gives the same fingerprint, and a signature check of garbage fails cleanly.
#![no_main]
use esession::crypto::pubkey::{PublicKey, SignAlg};
use esession::xml::{parse_element, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(el) = parse_element(text, &Limits::default()) else {
        return;
    };
    let Ok(key) = PublicKey::from_key_value(&el) else {
        return;
    };
    let again = PublicKey::from_key_value(&key.key_value()).expect("a rebuilt key parses");
    assert_eq!(again.fingerprint().to_b64(), key.fingerprint().to_b64());
    for alg in [SignAlg::RsaSha256, SignAlg::DsaSha256] {
        assert!(key.verify(alg, b"mac", data).is_err());
    }
});
