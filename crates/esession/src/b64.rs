//! Base64 (RFC 4648 §4, padded) for field values (spec-digest §2.3).
use crate::error::PeerMisbehaved;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Encodes without line breaks.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Appends [`encode`]'s text to `out` (no intermediate string).
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

/// The length of [`encode`]'s text for `len` octets (padded: 4 per started 3).
pub(crate) fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

/// Decodes the value of field `field`, tolerating whitespace (spec-digest §2.3); a bad
/// value is [`PeerMisbehaved::BadBase64`] naming the field.
pub fn decode(field: &str, value: &str) -> Result<Vec<u8>, PeerMisbehaved> {
    let bad = |_| PeerMisbehaved::BadBase64(field.to_owned());
    // Most values have no white space: decoded as they are, without a scan for it first
    // (white space is no base64 character, so a value holding some fails here).
    if let Ok(bytes) = STANDARD.decode(value.as_bytes()) {
        return Ok(bytes);
    }
    // ASCII white space is one octet in UTF-8, so dropping those octets drops exactly the
    // white-space characters.
    let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(&compact).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_named_failure() {
        assert_eq!(decode("f", &encode(b"\x00\xffab")).unwrap(), b"\x00\xffab");
        assert_eq!(decode("f", " AAE=\n").unwrap(), [0, 1]);
        for len in 0..10 {
            let mut out = String::from("x");
            encode_into(&vec![9; len], &mut out);
            assert_eq!(out, format!("x{}", encode(&vec![9; len])));
            assert_eq!(encoded_len(len), out.len() - 1);
        }
        assert_eq!(decode("f", "A\tA\rE\x0c=").unwrap(), [0, 1]);
        let long = encode(&[7u8; 300]);
        assert_eq!(decode("f", &long).unwrap(), [7u8; 300]);
        let spaced = format!("{}\n{}", &long[..250], &long[250..]);
        assert_eq!(decode("f", &spaced).unwrap(), [7u8; 300]);
        assert_eq!(
            decode("f", "AA\u{a0}E="),
            Err(PeerMisbehaved::BadBase64("f".into()))
        );
        assert_eq!(
            decode("dhkeys", "!!"),
            Err(PeerMisbehaved::BadBase64("dhkeys".into()))
        );
        assert_eq!(
            decode("dhkeys", "AAE"),
            Err(PeerMisbehaved::BadBase64("dhkeys".into()))
        );
    }
}
