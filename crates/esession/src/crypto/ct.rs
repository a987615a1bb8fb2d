//! Constant-time comparisons (XEP-0116 §7 and profile P3: every MAC is compared in
//! constant time, so a forger learns nothing from how long a rejection takes).
use subtle::ConstantTimeEq;

/// `true` when `a` and `b` are equal. The time taken depends only on the lengths, never on
/// the content; slices of unequal length are unequal.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    bool::from(a.ct_eq(b))
}

/// `a < b` for two big-endian integers of the *same* octet length, in time that depends only
/// on that length. Returns `None` when the lengths differ.
///
/// Computed as the borrow out of `a - b`, taken eight octets at a time from the least
/// significant end: no branch and no table look-up depends on the values.
pub(crate) fn ct_less_be(a: &[u8], b: &[u8]) -> Option<bool> {
    if a.len() != b.len() {
        return None;
    }
    let mut borrow = 0u64;
    for (x, y) in a.rchunks(8).zip(b.rchunks(8)) {
        let (d, b1) = word(x).overflowing_sub(word(y));
        let (_, b2) = d.overflowing_sub(borrow);
        borrow = u64::from(b1 | b2);
    }
    Some(bool::from(subtle::Choice::from(borrow as u8)))
}

/// Up to eight big-endian octets as a number.
fn word(octets: &[u8]) -> u64 {
    octets.iter().fold(0, |w, &o| (w << 8) | u64::from(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }

    #[test]
    fn less_than() {
        assert_eq!(ct_less_be(&[0, 1], &[0, 2]), Some(true));
        assert_eq!(ct_less_be(&[0, 2], &[0, 2]), Some(false));
        assert_eq!(ct_less_be(&[1, 0], &[0, 255]), Some(false));
        assert_eq!(ct_less_be(&[0, 255], &[1, 0]), Some(true));
        assert_eq!(ct_less_be(&[], &[]), Some(false));
        assert_eq!(ct_less_be(&[1], &[1, 2]), None);
    }

    #[test]
    fn less_than_agrees_with_the_order_of_the_octets_across_words() {
        // Same-length big-endian numbers compare like their octet strings. Lengths around
        // the eight-octet words, values differing in one octet or equal.
        let mut rng = crate::SeededRandom::from_label("ct_less_be");
        for len in [1usize, 7, 8, 9, 15, 16, 17, 96] {
            for _ in 0..200 {
                let mut a = vec![0u8; len];
                crate::Random::fill(&mut rng, &mut a);
                let mut b = a.clone();
                let mut pick = [0u8; 2];
                crate::Random::fill(&mut rng, &mut pick);
                if pick[0] % 4 != 0 {
                    b[pick[0] as usize % len] = pick[1];
                }
                assert_eq!(ct_less_be(&a, &b), Some(a < b), "{a:?} < {b:?}");
                assert_eq!(ct_less_be(&b, &a), Some(b < a), "{b:?} < {a:?}");
            }
        }
    }
}
