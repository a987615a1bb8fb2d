//! Base64 (RFC 4648 §4, padded) for field values (spec-digest §2.3).
use crate::error::Violation;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Encodes without line breaks.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes the value of field `field`, tolerating whitespace (spec-digest §2.3); a bad
/// value is [`Violation::BadBase64`] naming the field.
pub fn decode(field: &str, value: &str) -> Result<Vec<u8>, Violation> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Violation::BadBase64(field.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_named_failure() {
        assert_eq!(decode("f", &encode(b"\x00\xffab")).unwrap(), b"\x00\xffab");
        assert_eq!(decode("f", " AAE=\n").unwrap(), [0, 1]);
        assert_eq!(
            decode("dhkeys", "!!"),
            Err(Violation::BadBase64("dhkeys".into()))
        );
        assert_eq!(
            decode("dhkeys", "AAE"),
            Err(Violation::BadBase64("dhkeys".into()))
        );
    }
}
