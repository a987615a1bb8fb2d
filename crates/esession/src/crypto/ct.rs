//! Constant-time comparisons (XEP-0116 §7 and profile P3: every MAC is compared in
//! constant time, so a forger learns nothing from how long a rejection takes).
use subtle::{ConstantTimeEq, ConstantTimeLess};

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
pub(crate) fn ct_less_be(a: &[u8], b: &[u8]) -> Option<bool> {
    if a.len() != b.len() {
        return None;
    }
    let mut less = subtle::Choice::from(0);
    let mut equal_so_far = subtle::Choice::from(1);
    for (x, y) in a.iter().zip(b.iter()) {
        less |= equal_so_far & x.ct_lt(y);
        equal_so_far &= x.ct_eq(y);
    }
    Some(bool::from(less))
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
}
