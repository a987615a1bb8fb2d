//! Entity and character references in text and attribute values (XML 1.0 §4.1, §4.6).
use super::names::shorten;
use super::XmlError;
use std::borrow::Cow;

/// `raw` with its references replaced: borrowed when it has none (the usual case).
pub(super) fn unescape(raw: &str) -> Result<Cow<'_, str>, XmlError> {
    let Some(first) = raw.find('&') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(raw.get(..first).unwrap_or_default());
    let mut rest = raw.get(first..).unwrap_or_default();
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        // XML 1.0 §4.1: a reference is `'&' Name ';'` or `'&#' [0-9]+ ';'` or
        // `'&#x' [0-9a-fA-F]+ ';'`; a bare `&` is not well-formed (§2.4).
        let semi = after
            .find(';')
            .ok_or_else(|| XmlError::Syntax("'&' without a reference".into()))?;
        out.push(resolve(after.get(..semi).unwrap_or_default())?);
        rest = after.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// The character that the reference `&name;` stands for.
fn resolve(name: &str) -> Result<char, XmlError> {
    // XML 1.0 §4.6: the five predefined entities. No document type is accepted (DOCTYPE
    // is refused), so no other entity is declared (§4.1 WFC: Entity Declared).
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => match name.strip_prefix('#') {
            Some(number) => char_ref(number)?,
            None => {
                return Err(XmlError::Syntax(format!(
                    "unknown entity &{};",
                    shorten(name)
                )))
            }
        },
    })
}

/// XML 1.0 §4.1 `CharRef`: decimal, or hexadecimal after a lowercase `x`. The referenced
/// character must be a Unicode scalar value other than U+0000 (WFC: Legal Character; like
/// the parser this one replaced, other control characters are let through, as they are
/// when written literally, so that what the engine accepted before it still accepts).
fn char_ref(number: &str) -> Result<char, XmlError> {
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    let bad = || XmlError::Syntax(format!("bad character reference &#{};", shorten(number)));
    // `from_str_radix` takes a sign, which a reference does not.
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let code = u32::from_str_radix(digits, radix).map_err(|_| bad())?;
    match char::from_u32(code) {
        Some(c) if code != 0 => Ok(c),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_replaced() {
        assert!(matches!(unescape("plain").unwrap(), Cow::Borrowed("plain")));
        assert_eq!(
            unescape("&lt;&gt;&amp;&apos;&quot;").unwrap(),
            "<>&'\"".to_owned()
        );
        assert_eq!(unescape("a&#60;b&#x3C;c&#x1F600;").unwrap(), "a<b<c😀");
        assert_eq!(unescape("&#0065;").unwrap(), "A", "leading zeros");
    }

    #[test]
    fn bad_references_are_refused_with_their_name() {
        for (raw, message) in [
            ("a & b", "'&' without a reference"),
            ("&bogus;", "unknown entity &bogus;"),
            ("&;", "unknown entity &;"),
            ("&#;", "bad character reference &#;"),
            ("&#x;", "bad character reference &#x;"),
            ("&#0;", "bad character reference &#0;"),
            ("&#xD800;", "bad character reference &#xD800;"),
            ("&#x110000;", "bad character reference &#x110000;"),
            ("&#+5;", "bad character reference &#+5;"),
            ("&#X41;", "bad character reference &#X41;"),
            ("&#1a;", "bad character reference &#1a;"),
            ("&#99999999999;", "bad character reference &#99999999999;"),
        ] {
            assert_eq!(
                unescape(raw),
                Err(XmlError::Syntax(message.into())),
                "{raw}"
            );
        }
    }
}
