//! Character escaping for the serializations of profiles P4 and P9.
use crate::byte_set::ByteSet;

/// Which characters an escaping replaces.
#[derive(Clone, Copy)]
pub(crate) enum Escape {
    /// Text content (C14N and P9): `& < > CR`.
    Text,
    /// Attribute values, Canonical XML rules (P4): `& < " TAB LF CR`.
    C14nAttr,
    /// Attribute values of the P9 stanza serialization: `& < > " TAB LF CR`.
    StanzaAttr,
}

/// The bytes that some [`Escape`] mode replaces (all ASCII: `& < > " TAB LF CR`).
const SPECIAL: ByteSet = ByteSet::of(b"&<>\"\t\n\r");

/// Appends `s` to `out`, escaped per `mode`.
pub(crate) fn escape_into(out: &mut String, s: &str, mode: Escape) {
    // Fast path: most text (base64, tokens, JIDs) needs no escaping at all.
    if !SPECIAL.any_in(s.as_bytes()) {
        out.push_str(s);
        return;
    }
    out.reserve(s.len());
    // Copy the runs between replaced characters as slices. Every replaced character is
    // ASCII, so each run starts and ends on a character boundary.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match (b, mode) {
            (b'&', _) => "&amp;",
            (b'<', _) => "&lt;",
            (b'>', Escape::Text | Escape::StanzaAttr) => "&gt;",
            (b'\r', Escape::Text | Escape::C14nAttr) => "&#xD;",
            (b'"', Escape::C14nAttr) => "&quot;",
            (b'\t', Escape::C14nAttr) => "&#x9;",
            (b'\n', Escape::C14nAttr) => "&#xA;",
            (b'"', Escape::StanzaAttr) => "&quot;",
            (b'\t', Escape::StanzaAttr) => "&#9;",
            (b'\n', Escape::StanzaAttr) => "&#10;",
            (b'\r', Escape::StanzaAttr) => "&#13;",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        out.push_str(replacement);
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-at-a-time escaping this module used before, as the reference.
    fn reference(s: &str, mode: Escape) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match (c, mode) {
                ('&', _) => out.push_str("&amp;"),
                ('<', _) => out.push_str("&lt;"),
                ('>', Escape::Text | Escape::StanzaAttr) => out.push_str("&gt;"),
                ('\r', Escape::Text | Escape::C14nAttr) => out.push_str("&#xD;"),
                ('"', Escape::C14nAttr) => out.push_str("&quot;"),
                ('\t', Escape::C14nAttr) => out.push_str("&#x9;"),
                ('\n', Escape::C14nAttr) => out.push_str("&#xA;"),
                ('"', Escape::StanzaAttr) => out.push_str("&quot;"),
                ('\t', Escape::StanzaAttr) => out.push_str("&#9;"),
                ('\n', Escape::StanzaAttr) => out.push_str("&#10;"),
                ('\r', Escape::StanzaAttr) => out.push_str("&#13;"),
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn matches_the_character_reference() {
        let pieces = [
            "",
            "a",
            "&",
            "<",
            ">",
            "\"",
            "\t",
            "\n",
            "\r",
            "é",
            "日本",
            "\u{1f600}",
            "'",
            " ",
        ];
        let mut inputs: Vec<String> = Vec::new();
        for a in pieces {
            for b in pieces {
                inputs.push(format!("{a}x{b}"));
                inputs.push(format!("{a}{b}{a}"));
            }
        }
        // Long inputs cross the 32-byte chunks, with a special byte at each position.
        for at in 0..70 {
            let text = "The quick brown fox jumps é over".repeat(3);
            let mut end = at.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let long = text.get(..end).unwrap().to_owned();
            inputs.push(format!("{long}<{long}"));
            inputs.push(format!("{long}\r"));
            inputs.push(long);
        }
        for s in &inputs {
            for mode in [Escape::Text, Escape::C14nAttr, Escape::StanzaAttr] {
                let mut out = String::from("prefix");
                escape_into(&mut out, s, mode);
                assert_eq!(out, format!("prefix{}", reference(s, mode)), "{s:?}");
            }
        }
    }
}
