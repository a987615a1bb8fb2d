//! Names and qualified names: XML 1.0 §2.3 and Namespaces in XML 1.0 §3–4.
use super::XmlError;
use crate::byte_set::ByteSet;

/// XML 1.0 §2.3 `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 §2.3 `NameChar`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// The ASCII octets that are `NameChar`s (XML 1.0 §2.3): letters, digits, `:`, `_`, `-`
/// and `.`; one lookup per octet.
const ASCII_NAME_CHARS: ByteSet =
    ByteSet::of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_-.");

fn is_ascii_name_char(b: u8) -> bool {
    ASCII_NAME_CHARS.has(b)
}

/// The length in octets of the longest run of `NameChar`s that `s` starts with (XML 1.0
/// §2.3); 0 when `s` does not start with a `NameStartChar`.
pub(super) fn name_len(s: &str) -> usize {
    // The usual name is ASCII: its octets are checked without decoding characters.
    let ascii = s
        .bytes()
        .position(|b| !is_ascii_name_char(b))
        .unwrap_or(s.len());
    match s.as_bytes().get(ascii) {
        Some(b) if !b.is_ascii() => {}
        _ => {
            return match s.bytes().next() {
                Some(b) if b.is_ascii_digit() || b == b'-' || b == b'.' => 0,
                _ => ascii,
            }
        }
    }
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if is_name_start(c) => {}
        _ => return 0,
    }
    chars
        .find(|&(_, c)| !is_name_char(c))
        .map_or(s.len(), |(i, _)| i)
}

/// What a qualified name names, for the error messages.
#[derive(Clone, Copy)]
pub(super) enum Of {
    Element,
    Attribute,
}

/// Splits `name` (a `Name`) into prefix and local part. Namespaces in XML 1.0 §4: a
/// QName is `Prefix ':' LocalPart` or `LocalPart`, both `NCName`s (names without a
/// colon, each starting with a `NameStartChar`), so a name with an empty part, a second
/// colon, or a local part that starts with a digit, `-`, `.` or another character that
/// may only follow (`p:1d`: found by fuzzing, it was written back as `<1d/>`) is refused.
pub(super) fn split_qname(name: &str, of: Of) -> Result<(Option<&str>, &str), XmlError> {
    // Names are short: a plain loop finds the colon sooner than a vectorized search.
    let Some(colon) = name.bytes().position(|b| b == b':') else {
        return Ok((None, name));
    };
    let (prefix, local) = (
        name.get(..colon).unwrap_or_default(),
        name.get(colon + 1..).unwrap_or_default(),
    );
    if local.is_empty() && matches!(of, Of::Element) {
        return Err(XmlError::Syntax("element without a name".into()));
    }
    let starts_a_name = local.chars().next().is_some_and(is_name_start);
    if prefix.is_empty() || !starts_a_name || local.bytes().any(|b| b == b':') {
        let what = match of {
            Of::Element => "element",
            Of::Attribute => "attribute",
        };
        return Err(XmlError::Syntax(format!(
            "{what} name {:?} is not a QName",
            shorten(name)
        )));
    }
    Ok((Some(prefix), local))
}

/// At most the first 64 characters of `s`, for an error message about hostile input.
pub(super) fn shorten(s: &str) -> &str {
    s.char_indices()
        .nth(64)
        .map_or(s, |(i, _)| s.get(..i).unwrap_or(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_xml_1_0_section_2_3() {
        assert_eq!(name_len("message xmlns"), 7);
        assert_eq!(name_len("a:b-c.d_e9/>"), 10);
        assert_eq!(name_len("é·x>"), "é·x".len());
        assert_eq!(name_len("9a"), 0, "a digit does not start a name");
        assert_eq!(name_len("-a"), 0);
        assert_eq!(name_len("·a"), 0, "U+00B7 is a NameChar only");
        assert_eq!(name_len(""), 0);
        assert_eq!(name_len("a\u{FFFE}"), 1, "U+FFFE is not a NameChar");
    }

    #[test]
    fn the_ascii_mask_is_the_name_char_production() {
        for b in 0..=u8::MAX {
            let by_production = b.is_ascii() && is_name_char(char::from(b));
            assert_eq!(is_ascii_name_char(b), by_production, "octet {b:#04x}");
        }
    }

    #[test]
    fn qualified_names_follow_namespaces_section_4() {
        assert_eq!(split_qname("a", Of::Element).unwrap(), (None, "a"));
        assert_eq!(split_qname("p:a", Of::Element).unwrap(), (Some("p"), "a"));
        assert_eq!(
            split_qname("p:", Of::Element),
            Err(XmlError::Syntax("element without a name".into()))
        );
        for bad in [
            ":a",
            "a:b:c",
            "::",
            "p::a",
            "p:1d",
            "p:-a",
            "p:.a",
            "p:·a",
            "p:\u{300}a",
        ] {
            assert!(split_qname(bad, Of::Element).is_err(), "{bad}");
            assert!(split_qname(bad, Of::Attribute).is_err(), "{bad}");
        }
        assert_eq!(
            split_qname("xmlns:", Of::Attribute),
            Err(XmlError::Syntax(
                "attribute name \"xmlns:\" is not a QName".into()
            ))
        );
        assert_eq!(shorten(&"x".repeat(100)).len(), 64);
    }
}
