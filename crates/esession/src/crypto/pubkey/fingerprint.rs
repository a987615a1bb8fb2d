//! Key fingerprints (profile P8): SHA-256 of the P4-normalized `<KeyValue/>`, B64 wherever
//! people see or exchange them, hex in the vector files.
use super::KeyError;
use crate::crypto::{ct_eq, sha256};
use crate::xml::Element;

/// SHA-256 of a normalized `<KeyValue/>` (profile P8).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of the P4 text `normalized` of a `<KeyValue/>` (P8: HASH(pubKey)).
    pub fn of_normalized(normalized: &str) -> Fingerprint {
        Fingerprint(sha256(&[normalized.as_bytes()]))
    }

    /// The fingerprint of a received `<KeyValue/>` element as received (its P4 text, P8).
    pub fn of_key_value(key_value: &Element) -> Fingerprint {
        Fingerprint::of_normalized(&super::normalized_of(key_value))
    }

    /// Wraps 32 hash octets.
    pub fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }

    /// The 32 hash octets.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Base64 (RFC 4648 §4, padded): the form shown to people and carried in
    /// `<fingerprint/>` (P8, A10).
    pub fn to_b64(&self) -> String {
        crate::b64::encode(&self.0)
    }

    /// Lowercase hex: the form of the vector files (P8).
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64);
        for b in self.0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// Reads a B64 fingerprint (white space tolerated, spec-digest §2.3).
    ///
    /// # Errors
    /// [`KeyError::BadFingerprint`] when the text is not base64 or not 32 octets.
    pub fn from_b64(text: &str) -> Result<Fingerprint, KeyError> {
        // 32 octets are 44 characters of base64; bound the work on hostile input first.
        if text.len() > 256 {
            return Err(KeyError::BadFingerprint("text too long"));
        }
        let bytes = crate::b64::decode("fingerprint", text)
            .map_err(|_| KeyError::BadFingerprint("not base64"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::BadFingerprint("not 32 octets"))?;
        Ok(Fingerprint(bytes))
    }

    /// Constant-time comparison (profile P3 style: a comparison on a received value
    /// reveals nothing through its timing).
    pub fn ct_eq(&self, other: &Fingerprint) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_b64())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.to_b64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8 * 7;
        }
        let fp = Fingerprint::from_bytes(bytes);
        assert_eq!(fp.as_bytes(), &bytes);
        assert_eq!(Fingerprint::from_b64(&fp.to_b64()).unwrap(), fp);
        assert_eq!(fp.to_string(), fp.to_b64());
        assert_eq!(
            fp.to_hex(),
            "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9"
        );
        assert_eq!(format!("{fp:?}"), format!("Fingerprint({})", fp.to_b64()));
        assert!(fp.ct_eq(&fp));
        assert!(!fp.ct_eq(&Fingerprint::from_bytes([0; 32])));
    }

    #[test]
    fn of_normalized_is_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            Fingerprint::of_normalized("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bad_b64_fingerprints_are_named() {
        assert_eq!(
            Fingerprint::from_b64("!!"),
            Err(KeyError::BadFingerprint("not base64"))
        );
        assert_eq!(
            Fingerprint::from_b64(&crate::b64::encode(&[1; 31])),
            Err(KeyError::BadFingerprint("not 32 octets"))
        );
        assert_eq!(
            Fingerprint::from_b64(&"A".repeat(300)),
            Err(KeyError::BadFingerprint("text too long"))
        );
    }
}
