//! Secret octet strings: zeroized on drop, redacted in `Debug`, compared in constant time
//! (XEP-0116 §7: keys MUST be destroyed when no longer needed).
use zeroize::Zeroizing;

/// Secret key material (K, K', KC, KM, KS, retained secrets, the DH shared value).
///
/// The octets are wiped when the value is dropped; `Debug` shows only the length.
/// Equality (`==`) is constant time in the content, like [`SecretBytes::ct_eq`].
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Box<[u8]>>);

impl SecretBytes {
    /// Takes ownership of `v` (no copy is left behind).
    pub fn new(v: Vec<u8>) -> Self {
        // Held as a boxed slice, one word smaller than a `Vec` (issue 14 item 3: each held
        // session keeps four keys). Converting a `Vec` with spare room would move the
        // octets and free the old buffer unwiped: those are copied, and `v` wiped.
        let mut v = Zeroizing::new(v);
        let octets: Box<[u8]> = if v.len() == v.capacity() {
            std::mem::take(&mut *v).into_boxed_slice()
        } else {
            v.as_slice().into()
        };
        SecretBytes(Zeroizing::new(octets))
    }

    /// The secret octets. Callers must not copy them into unprotected storage.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of octets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when there are no octets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with `other` (unequal lengths compare unequal).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        super::ct::ct_eq(&self.0, other)
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        // Profile P3 / XEP-0116 §7: secrets are compared in constant time.
        self.ct_eq(other.expose())
    }
}

impl Eq for SecretBytes {}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<redacted {} octets>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::new(vec![0x41, 0x42, 0x43]);
        assert_eq!(format!("{s:?}"), "SecretBytes(<redacted 3 octets>)");
    }

    #[test]
    fn accessors_and_comparison() {
        let s = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(s.expose(), &[1, 2, 3]);
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert!(s.ct_eq(&[1, 2, 3]));
        assert!(!s.ct_eq(&[1, 2, 4]));
        assert!(!s.ct_eq(&[1, 2]));
        assert!(SecretBytes::new(Vec::new()).is_empty());
        assert_eq!(s.clone(), s);
        assert_ne!(s, SecretBytes::new(vec![1, 2]));
        assert_ne!(s, SecretBytes::new(vec![1, 2, 4]));
    }

    #[test]
    fn a_vec_with_spare_room_keeps_its_octets() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[7, 8, 9]);
        let s = SecretBytes::new(v);
        assert_eq!((s.expose(), s.len()), (&[7, 8, 9][..], 3));
    }
}
