//! The markup of a document, one token at a time: text, tags with their attributes,
//! CDATA sections, and what is skipped or refused (XML 1.0 §2.4–2.8, §3.1).
//!
//! Tokens borrow from the input; references are left for [`super::reference`], names
//! for the namespace [`super::scope`].
use super::names::{name_len, shorten, split_qname, Of};
use super::reference::unescape;
use super::XmlError;
use std::borrow::Cow;

/// One piece of markup or text.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// Character data up to the next `<` (never empty), references not yet replaced;
    /// `escaped` when it has any (a `&`), else it is the text as it is.
    Text { raw: &'a str, escaped: bool },
    /// The content of a CDATA section (XML 1.0 §2.7), taken as it is.
    CData(&'a str),
    /// A start tag or an empty-element tag (XML 1.0 §3.1) with its qualified name; its
    /// attributes are in the list given to [`Lexer::next`].
    Start { name: QName<'a>, empty: bool },
    /// An end tag with its name.
    End(&'a str),
    /// A comment or a processing instruction: nothing for the tree.
    Skipped,
    /// A document type declaration.
    Doctype,
}

/// An element's name as written, and its prefix and local part (Namespaces in XML 1.0
/// §4), split once by the lexer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QName<'a> {
    pub(super) written: &'a str,
    pub(super) prefix: Option<&'a str>,
    pub(super) local: &'a str,
}

/// An attribute as written: its qualified name and its value between the quotes, with
/// references not yet replaced (`escaped` when it has any, a `&`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawAttr<'a> {
    pub(super) name: &'a str,
    pub(super) value: &'a str,
    pub(super) escaped: bool,
}

impl<'a> RawAttr<'a> {
    /// The value with its references replaced: borrowed when it has none.
    pub(super) fn unescaped(&self) -> Result<Cow<'a, str>, XmlError> {
        if self.escaped {
            unescape(self.value)
        } else {
            Ok(Cow::Borrowed(self.value))
        }
    }
}

/// The length of `s` up to the first `end` (all of it when there is none), and whether a
/// `&` comes before that: one search for both, the usual text and value having neither
/// reference nor anything else to look at.
fn until_unescaped(s: &str, end: u8) -> (Option<usize>, bool) {
    let bytes = s.as_bytes();
    match memchr::memchr2(end, b'&', bytes) {
        Some(at) if bytes.get(at) == Some(&b'&') => {
            let after = at + 1;
            let rest = bytes.get(after..).unwrap_or_default();
            (memchr::memchr(end, rest).map(|n| after + n), true)
        }
        found => (found, false),
    }
}

pub(super) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

/// XML 1.0 §2.3 `S`: space, tab, carriage return, line feed.
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn unclosed(what: &str) -> XmlError {
    XmlError::Syntax(format!("unclosed {what}"))
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        Lexer { input, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        // `pos` only moves past ASCII delimiters and whole names, so it is always on a
        // character boundary; were it not, the rest would read as empty and end the input
        // early. The fuzz builds keep debug assertions on to catch that.
        debug_assert!(
            self.input.is_char_boundary(self.pos),
            "lexer off a char boundary"
        );
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// The octets from `pos` on: the small steps of the lexer (a delimiter, white space)
    /// look at octets, with no character boundary to check.
    fn rest_bytes(&self) -> &'a [u8] {
        self.input.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) -> bool {
        let n = self
            .rest_bytes()
            .iter()
            .take_while(|&&b| is_space(b))
            .count();
        self.pos += n;
        n > 0
    }

    /// Skips `prefix` (ASCII) if the rest starts with it.
    fn eat(&mut self, prefix: &str) -> bool {
        let found = self.rest_bytes().starts_with(prefix.as_bytes());
        if found {
            self.pos += prefix.len();
        }
        found
    }

    /// The text up to `end` (which is then skipped), or `unclosed what`.
    fn until(&mut self, end: &str, what: &str) -> Result<&'a str, XmlError> {
        let rest = self.rest();
        let at = rest.find(end).ok_or_else(|| unclosed(what))?;
        self.pos += at + end.len();
        Ok(rest.get(..at).unwrap_or_default())
    }

    fn name(&mut self) -> &'a str {
        let rest = self.rest();
        let len = name_len(rest);
        self.pos += len;
        rest.get(..len).unwrap_or_default()
    }

    /// The next token, or `None` at the end of the input. A start tag's attributes are
    /// put in `attrs` (cleared first); more than `max_attributes` is refused.
    pub(super) fn next(
        &mut self,
        attrs: &mut Vec<RawAttr<'a>>,
        max_attributes: usize,
    ) -> Result<Option<Token<'a>>, XmlError> {
        let rest = self.rest();
        if rest.is_empty() {
            return Ok(None);
        }
        if !rest.starts_with('<') {
            // XML 1.0 §2.4: character data is everything up to the next `<`.
            let (end, escaped) = until_unescaped(rest, b'<');
            let len = end.unwrap_or(rest.len());
            self.pos += len;
            let raw = rest.get(..len).unwrap_or_default();
            return Ok(Some(Token::Text { raw, escaped }));
        }
        self.pos += 1;
        // Most markup is a start tag: anything but `/`, `!` or `?` after the `<` is one
        // (or refused by it), with no other opening to try first.
        if !matches!(self.peek(), Some(b'/' | b'!' | b'?')) {
            return self.start_tag(attrs, max_attributes).map(Some);
        }
        let token = if self.eat("/") {
            self.end_tag()?
        } else if self.eat("!--") {
            // XML 1.0 §2.5: a comment ends at the first `-->`. Like the parser this one
            // replaced, a `--` inside is let through.
            self.until("-->", "comment")?;
            Token::Skipped
        } else if self.eat("![CDATA[") {
            // XML 1.0 §2.7: a CDATA section ends at the first `]]>`.
            Token::CData(self.until("]]>", "CDATA section")?)
        } else if self.eat("!DOCTYPE") {
            // Refused (no DTD: entity expansion), wherever it appears.
            Token::Doctype
        } else if self.eat("?") {
            // XML 1.0 §2.6 (and §2.8 for the XML declaration): `'<?' PITarget (S …)? '?>'`,
            // ending at the first `?>`; skipped, as by the parser this one replaced.
            let target = self.name();
            if target.is_empty() {
                return Err(XmlError::Syntax(
                    "processing instruction without a target".into(),
                ));
            }
            match self.peek() {
                Some(b) if is_space(b) || b == b'?' => {}
                None => return Err(unclosed("processing instruction")),
                Some(_) => {
                    return Err(XmlError::Syntax(format!(
                        "{:?} in processing instruction target",
                        self.rest().chars().next().unwrap_or_default()
                    )))
                }
            }
            self.until("?>", "processing instruction")?;
            Token::Skipped
        } else {
            return Err(XmlError::Syntax(
                "markup declaration other than a comment or CDATA".into(),
            ));
        };
        Ok(Some(token))
    }

    /// XML 1.0 §3.1 `ETag ::= '</' Name S? '>'` (after the `</`).
    fn end_tag(&mut self) -> Result<Token<'a>, XmlError> {
        let name = self.name();
        if name.is_empty() {
            return Err(XmlError::Syntax("end tag without a name".into()));
        }
        self.skip_space();
        if !self.eat(">") {
            return Err(unclosed_tag("end tag", name, self.rest().chars().next()));
        }
        Ok(Token::End(name))
    }

    /// XML 1.0 §3.1 `STag ::= '<' Name (S Attribute)* S? '>'` and
    /// `EmptyElemTag ::= '<' Name (S Attribute)* S? '/>'` (after the `<`).
    fn start_tag(
        &mut self,
        attrs: &mut Vec<RawAttr<'a>>,
        max_attributes: usize,
    ) -> Result<Token<'a>, XmlError> {
        attrs.clear();
        let name = self.name();
        if name.is_empty() {
            // `< />` and `<>`: XML 1.0 §2.3, a Name is never empty; a tag that starts with
            // something else than a NameStartChar has none either.
            return match self.peek() {
                None | Some(b'/' | b'>') => Err(XmlError::Syntax("element without a name".into())),
                Some(b) if is_space(b) => Err(XmlError::Syntax("element without a name".into())),
                Some(_) => Err(XmlError::Syntax(format!(
                    "element name starts with {:?}",
                    self.rest().chars().next().unwrap_or_default()
                ))),
            };
        }
        match self.peek() {
            Some(b) if !is_space(b) && b != b'>' && !self.rest_bytes().starts_with(b"/>") => {
                return Err(XmlError::Syntax(format!(
                    "{:?} in element name {}",
                    self.rest().chars().next().unwrap_or_default(),
                    shorten(name)
                )))
            }
            _ => {}
        }
        let (prefix, local) = split_qname(name, Of::Element)?;
        let name = QName {
            written: name,
            prefix,
            local,
        };
        loop {
            let spaced = self.skip_space();
            if self.eat(">") {
                return Ok(Token::Start { name, empty: false });
            }
            if self.eat("/>") {
                return Ok(Token::Start { name, empty: true });
            }
            if self.peek().is_none() {
                return Err(unclosed("tag"));
            }
            // `(S Attribute)*`: white space before every attribute.
            if !spaced {
                return Err(unclosed_tag(
                    "tag",
                    name.written,
                    self.rest().chars().next(),
                ));
            }
            if attrs.len() >= max_attributes {
                return Err(XmlError::TooManyAttributes(max_attributes));
            }
            attrs.push(self.attribute()?);
        }
    }

    /// XML 1.0 §3.1 `Attribute ::= Name Eq AttValue`, `Eq ::= S? '=' S?`.
    fn attribute(&mut self) -> Result<RawAttr<'a>, XmlError> {
        let name = self.name();
        if name.is_empty() {
            return Err(XmlError::Syntax("attribute without a name".into()));
        }
        // Namespaces in XML 1.0 §4: an attribute name is a QName.
        split_qname(name, Of::Attribute)?;
        match self.peek() {
            Some(b)
                if !is_space(b)
                    && b != b'='
                    && !self.rest_bytes().starts_with(b"/>")
                    && b != b'>' =>
            {
                return Err(XmlError::Syntax(format!(
                    "{:?} in attribute name {}",
                    self.rest().chars().next().unwrap_or_default(),
                    shorten(name)
                )))
            }
            _ => {}
        }
        self.skip_space();
        if !self.eat("=") {
            return Err(XmlError::Syntax(format!(
                "attribute {} without a value",
                shorten(name)
            )));
        }
        self.skip_space();
        // XML 1.0 §2.3 `AttValue`: between matching quotes. A literal `<` in it is let
        // through like the parser this one replaced did (it is escaped when written).
        let quote = match self.peek() {
            Some(b'"') => b'"',
            Some(b'\'') => b'\'',
            _ => {
                return Err(XmlError::Syntax(format!(
                    "value of attribute {} is not quoted",
                    shorten(name)
                )))
            }
        };
        self.pos += 1;
        let rest = self.rest();
        let (end, escaped) = until_unescaped(rest, quote);
        let end = end.ok_or_else(|| unclosed("attribute value"))?;
        self.pos += end + 1;
        Ok(RawAttr {
            name,
            value: rest.get(..end).unwrap_or_default(),
            escaped,
        })
    }
}

/// A tag that does not end where it should: `found` is what came instead.
fn unclosed_tag(what: &str, name: &str, found: Option<char>) -> XmlError {
    match found {
        None => unclosed(what),
        Some(c) => XmlError::Syntax(format!(
            "{what} <{}> has {c:?} where '>' or white space belongs",
            shorten(name)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Result<Vec<(Token<'_>, Vec<RawAttr<'_>>)>, XmlError> {
        let mut lexer = Lexer::new(input);
        let mut attrs = Vec::new();
        let mut out = Vec::new();
        while let Some(t) = lexer.next(&mut attrs, 4)? {
            out.push((t, std::mem::take(&mut attrs)));
        }
        Ok(out)
    }

    fn attr<'a>(name: &'a str, value: &'a str) -> RawAttr<'a> {
        let escaped = value.contains('&');
        RawAttr {
            name,
            value,
            escaped,
        }
    }

    fn start(name: &str, empty: bool) -> Token<'_> {
        let (prefix, local) = split_qname(name, Of::Element).unwrap();
        Token::Start {
            name: QName {
                written: name,
                prefix,
                local,
            },
            empty,
        }
    }

    #[test]
    fn splits_markup_and_text() {
        let t = tokens(
            "<?xml version='1.0'?><a x = '1' y=\"'&amp;\">t&lt;<!-- c --><![CDATA[<&]]><b/></a >",
        )
        .unwrap();
        assert_eq!(
            t,
            [
                (Token::Skipped, vec![]),
                (start("a", false), vec![attr("x", "1"), attr("y", "'&amp;")]),
                (
                    Token::Text {
                        raw: "t&lt;",
                        escaped: true
                    },
                    vec![]
                ),
                (Token::Skipped, vec![]),
                (Token::CData("<&"), vec![]),
                (start("b", true), vec![]),
                (Token::End("a"), vec![]),
            ]
        );
        assert_eq!(tokens("<!DOCTYPE a>").unwrap()[0].0, Token::Doctype);
        assert_eq!(
            tokens("<a v='x</y>'/>").unwrap()[0].1,
            [attr("v", "x</y>")],
            "a literal '<' in a value, as before"
        );
    }

    #[test]
    fn says_which_text_and_values_have_references() {
        let t = tokens("<a v='x' w='&amp;' z=\"'\">x<b/>y&amp;z<c/>&#60;").unwrap();
        assert_eq!(t[0].1, [attr("v", "x"), attr("w", "&amp;"), attr("z", "'")]);
        assert!(!t[0].1[0].escaped && t[0].1[1].escaped && !t[0].1[2].escaped);
        let texts: Vec<_> = t
            .iter()
            .filter_map(|(token, _)| match token {
                Token::Text { raw, escaped } => Some((*raw, *escaped)),
                _ => None,
            })
            .collect();
        assert_eq!(texts, [("x", false), ("y&amp;z", true), ("&#60;", true)]);
        assert_eq!(until_unescaped("ab", b'<'), (None, false));
        assert_eq!(until_unescaped("a&b", b'<'), (None, true));
        assert_eq!(until_unescaped("a<&", b'<'), (Some(1), false));
        assert_eq!(until_unescaped("&<", b'<'), (Some(1), true));
    }

    #[test]
    fn refuses_malformed_tags_by_name() {
        for (input, message) in [
            ("<a", "unclosed tag"),
            ("<a x='1'", "unclosed tag"),
            ("<a x='1", "unclosed attribute value"),
            ("<a x>", "attribute x without a value"),
            ("<a x=1>", "value of attribute x is not quoted"),
            (
                "<a x='1'y='2'>",
                "tag <a> has 'y' where '>' or white space belongs",
            ),
            ("<a =''>", "attribute without a name"),
            ("<a x&y=''>", "'&' in attribute name x"),
            ("<a x/y=''>", "'/' in attribute name x"),
            ("<a x/>", "attribute x without a value"),
            ("<a a:b:c=''>", "attribute name \"a:b:c\" is not a QName"),
            ("<a/ >", "'/' in element name a"),
            (
                "<a x=''/ >",
                "tag <a> has '/' where '>' or white space belongs",
            ),
            ("<xml:&e/>", "'&' in element name xml:"),
            ("<1a/>", "element name starts with '1'"),
            ("< a/>", "element without a name"),
            ("<>", "element without a name"),
            ("</>", "end tag without a name"),
            (
                "</a b>",
                "end tag <a> has 'b' where '>' or white space belongs",
            ),
            ("</a", "unclosed end tag"),
            ("<!-- x ->", "unclosed comment"),
            ("<!-->", "unclosed comment"),
            ("<![CDATA[x]>", "unclosed CDATA section"),
            ("<?pi", "unclosed processing instruction"),
            ("<?pi>", "'>' in processing instruction target"),
            ("<?>?>", "processing instruction without a target"),
            ("<? x?>", "processing instruction without a target"),
            (
                "<!ELEMENT a ANY>",
                "markup declaration other than a comment or CDATA",
            ),
        ] {
            assert_eq!(
                tokens(input),
                Err(XmlError::Syntax(message.into())),
                "{input}"
            );
        }
        assert_eq!(
            tokens("<a a='' b='' c='' d='' e=''/>"),
            Err(XmlError::TooManyAttributes(4))
        );
    }
}
