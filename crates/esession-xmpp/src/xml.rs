//! Stanzas as XML strings: the form in which they cross this crate's API.

use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::Stanza;

use crate::error::XmppError;

/// Parse one `<message/>`, `<presence/>` or `<iq/>` from XML text. A root
/// element without a namespace is put in `jabber:client`.
pub(crate) fn parse_stanza(xml: &str) -> Result<Stanza, XmppError> {
    let xml = xml.trim();
    let element: Element = match xml.parse() {
        Ok(element) => element,
        Err(tokio_xmpp::minidom::Error::MissingNamespace) => {
            with_default_namespace(xml)?.parse().map_err(|e| {
                XmppError::InvalidArgument(format!("stanza is not well-formed XML: {e}"))
            })?
        }
        Err(e) => {
            return Err(XmppError::InvalidArgument(format!(
                "stanza is not well-formed XML: {e}"
            )))
        }
    };
    if element.ns() != ns::JABBER_CLIENT {
        return Err(XmppError::InvalidArgument(format!(
            "stanza root must be in namespace {}, not {:?}",
            ns::JABBER_CLIENT,
            element.ns()
        )));
    }
    let name = element.name().to_owned();
    Stanza::try_from(element)
        .map_err(|e| XmppError::InvalidArgument(format!("<{name}/> is not a valid stanza: {e}")))
}

/// `xml` with `xmlns='jabber:client'` declared on its root element.
fn with_default_namespace(xml: &str) -> Result<String, XmppError> {
    let bad = || XmppError::InvalidArgument("stanza does not start with an element".into());
    let rest = xml.strip_prefix('<').ok_or_else(bad)?;
    let name_len = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .ok_or_else(bad)?;
    if name_len == 0 {
        return Err(bad());
    }
    let (name, tail) = rest.split_at(name_len);
    Ok(format!("<{name} xmlns='{}'{tail}", ns::JABBER_CLIENT))
}

/// Serialize a stanza (namespace `jabber:client` declared on the root).
// `From<&Stanza> for Element` panics on failure; keep the error path.
#[allow(clippy::unnecessary_fallible_conversions)]
pub(crate) fn stanza_to_string(stanza: &Stanza) -> Result<String, XmppError> {
    let element = Element::try_from(stanza)
        .map_err(|e| XmppError::Protocol(format!("stanza cannot be serialized: {e}")))?;
    element_to_string(&element)
}

/// Serialize an element.
pub(crate) fn element_to_string(element: &Element) -> Result<String, XmppError> {
    let mut out = Vec::new();
    element
        .write_to(&mut out)
        .map_err(|e| XmppError::Protocol(format!("element cannot be serialized: {e}")))?;
    String::from_utf8(out).map_err(|e| XmppError::Protocol(format!("serialized XML: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_message() {
        let s = parse_stanza(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='m1'><body>hi &amp; bye</body></message>",
        )
        .unwrap();
        let out = stanza_to_string(&s).unwrap();
        assert!(out.starts_with("<message"), "{out}");
        assert!(out.contains("xmlns='jabber:client'"), "{out}");
        assert!(out.contains("hi &amp; bye"), "{out}");
        let again = parse_stanza(&out).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn default_namespace_added() {
        let s = parse_stanza("<presence/>").unwrap();
        assert!(matches!(s, Stanza::Presence(_)));
        let s = parse_stanza("  <message to='a@b'><body>x</body></message>\n").unwrap();
        assert!(matches!(s, Stanza::Message(_)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            parse_stanza("<message"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<foo xmlns='jabber:client'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<message xmlns='urn:other'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_stanza("<iq xmlns='jabber:client' type='get'/>"),
            Err(XmppError::InvalidArgument(_))
        ));
    }
}
