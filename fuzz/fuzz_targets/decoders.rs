//! The small decoders of received values on arbitrary bytes, each against a reference:
//! `b64::decode` (spec-digest §2.3), `u128_from_be` (profile P2 counters) and
//! `ModpGroup::check_public` (XEP-0116 §4.3, 1 < v < p - 1).
#![no_main]
use esession::b64;
use esession::crypto::{mpi, mpi_u128, u128_from_be, ModpGroup};
use libfuzzer_sys::fuzz_target;

const GROUPS: [u32; 8] = [1, 2, 5, 14, 15, 16, 17, 18];

/// Reference: `a < b` for big-endian integers of any length (not constant time).
fn less(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (mpi(a), mpi(b));
    (a.len(), a) < (b.len(), b)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(bytes) = b64::decode("fuzz", &text) {
                // Padded, canonical base64 only: re-encoding gives the input minus white
                // space back.
                let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                assert_eq!(b64::encode(&bytes), compact);
            }
        }
        1 => match u128_from_be(rest) {
            Ok(v) => {
                assert!(!rest.is_empty());
                assert_eq!(mpi_u128(v), mpi(rest), "counter read back differently");
            }
            Err(_) => assert!(rest.is_empty() || mpi(rest).len() > 16),
        },
        _ => {
            let Some((&g, v)) = rest.split_first() else {
                return;
            };
            let group = ModpGroup::get(GROUPS[g as usize % GROUPS.len()]).expect("known group");
            let p = group.prime_be();
            let mut p_minus_1 = p.clone();
            *p_minus_1.last_mut().expect("p is not empty") -= 1;
            let expected = less(&[1], v) && less(v, &p_minus_1);
            assert_eq!(
                group.check_public(v).is_ok(),
                expected,
                "check_public disagrees with 1 < v < p-1 for group {}",
                group.id()
            );
        }
    }
});
