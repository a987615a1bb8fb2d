//! Peer-controlled text made safe for a terminal line (issue 11 §4).
//!
//! Bodies, JIDs, resources, error texts, petnames and thread ids come from other people or
//! their servers. Printed raw, a newline forges a whole line (`alice@… [encrypted]: …`), a
//! carriage return overwrites one, escape sequences drive the terminal, and bidi controls
//! reorder what is shown. [`safe`] shows each such character as a visible escape: `\n`,
//! `\r`, `\t`, and `\u{…}` for the rest. JSON output needs less ([`json_line`]): serde_json
//! escapes control characters, and the JSON reader sees the real text.
use std::fmt;

/// One JSON output line (`--json`, `jsonrpc`): the JSON text of `v` with every character
/// a line reader may take for a line end escaped. serde_json escapes U+0000–U+001F; NEL
/// (U+0085) and the line and paragraph separators (U+2028, U+2029) are legal raw in a JSON
/// string (RFC 8259 §7), but Python's `str.splitlines` and the line readers of many
/// editors and terminals end a line there, so a contact's message holding one would cut a
/// line in two. They occur only inside strings, where `\uXXXX` means the same character.
pub(crate) fn json_line(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let splits = |c: char| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}');
    if !text.contains(splits) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 12);
    for c in text.chars() {
        if splits(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` for a text line: control and line-separator characters and bidi controls escaped.
pub(crate) fn safe(s: &str) -> Safe<'_> {
    Safe(s)
}

/// The [`Display`](fmt::Display) form of [`safe`].
pub(crate) struct Safe<'a>(&'a str);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(escaped) {
            f.write_str(&rest[..at])?;
            let mut chars = rest[at..].chars();
            if let Some(c) = chars.next() {
                match c {
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    other => write!(f, "\\u{{{:x}}}", u32::from(other))?,
                }
            }
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

/// Whether `c` is shown escaped.
fn escaped(c: char) -> bool {
    matches!(c,
        // C0 controls, DEL and C1 controls (U+0085 NEXT LINE among them).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Line and paragraph separators.
        | '\u{2028}' | '\u{2029}'
        // Bidi marks, embeddings, overrides and isolates (Unicode UAX #9).
        | '\u{200e}' | '\u{200f}' | '\u{061c}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::{json_line, safe};
    use serde_json::{json, Value};

    fn shown(s: &str) -> String {
        safe(s).to_string()
    }

    #[test]
    fn line_breaks_and_controls_are_escaped() {
        assert_eq!(
            shown("hi\nalice@example.org [encrypted]: send money"),
            "hi\\nalice@example.org [encrypted]: send money"
        );
        assert_eq!(shown("a\rb\tc"), "a\\rb\\tc");
        assert_eq!(shown("\u{1b}[2J\u{0}\u{7f}"), "\\u{1b}[2J\\u{0}\\u{7f}");
        assert_eq!(shown("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(shown("x\u{2028}y\u{2029}z"), "x\\u{2028}y\\u{2029}z");
    }

    #[test]
    fn bidi_controls_are_escaped() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}',
        ] {
            assert_eq!(
                shown(&format!("a{c}b")),
                format!("a\\u{{{:x}}}b", u32::from(c))
            );
        }
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in [
            "",
            "hello bob",
            "Grüße, ça va? 日本語 עברית العربية 👋",
            "a\\nb (a backslash and an n, as typed)",
            "alice@example.org/pda",
        ] {
            assert_eq!(shown(s), s);
        }
    }

    #[test]
    fn a_line_holds_no_character_a_reader_takes_for_a_line_end() {
        let body = "a\nb\rc\u{85}d\u{2028}e\u{2029}f\u{b}g\u{c}h\u{1c}i";
        let v = json!({"jsonrpc": "2.0", "method": "message", "params": {"body": body}});
        let out = json_line(&v);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(
            out.chars()
                .filter(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
                .count(),
            0,
            "{out:?}"
        );
        assert!(out.contains("\\u2028"), "{out}");
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), v);
        let plain = json!({"body": "plain"});
        assert_eq!(json_line(&plain), plain.to_string());
    }
}
