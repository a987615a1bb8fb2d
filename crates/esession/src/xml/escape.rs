//! Character escaping for the serializations of profiles P4 and P9.

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

/// Appends `s` to `out`, escaped per `mode`.
pub(crate) fn escape_into(out: &mut String, s: &str, mode: Escape) {
    // Fast path: most text (base64, tokens, JIDs) needs no escaping at all.
    if !s
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(s);
        return;
    }
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
}
