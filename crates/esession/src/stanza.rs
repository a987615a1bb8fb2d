//! The clear parts of encrypted stanzas and the SSN termination forms (profile P9, P10).
use crate::config::Logging;
use crate::forms::{Field, Form, FormType};
use crate::xml::{ns, Element};

/// The clear `<body/>` of an encrypted message, for clients without ESessions (P9).
pub const FALLBACK_BODY: &str = "This message is end-to-end encrypted with an XMPP Encrypted \
Session (XEP-0116/XEP-0200); your client cannot decrypt it.";

/// XEP-0200 §5: the children of a stanza that stay in clear in an ESession: its
/// `<thread/>` (the engine writes the session's own in its place), an `<error/>` and AMP
/// rules (XEP-0079). The receiver does not deliver clear children other than the thread
/// (profile P9).
pub fn stays_clear(e: &Element) -> bool {
    e.is("thread", ns::JABBER_CLIENT) || e.is("error", ns::JABBER_CLIENT) || e.ns() == ns::AMP
}

/// Profile P9: the clear extras of every encrypted data `<message/>`: fallback body,
/// XEP-0380 marker, XEP-0334 no-permanent-store hint, XEP-0280 private; in a session whose
/// `logging` is `mustnot`, also the XEP-0334 `<no-store/>` hint (XEP-0136 §3.2: nothing of
/// an off-the-record session is archived anywhere).
pub(crate) fn clear_extras(logging: Logging) -> Vec<Element> {
    let mut extras = vec![
        Element::new("body", ns::JABBER_CLIENT).with_text(FALLBACK_BODY),
        Element::new("encryption", ns::EME)
            .with_attr("namespace", ns::STANZA_ENCRYPTION)
            .with_attr("name", "ESessions"),
    ];
    extras.extend(storage_hints(logging));
    extras.push(Element::new("private", ns::CARBONS));
    extras
}

/// The XEP-0334 storage hints of a session's messages: `<no-permanent-store/>` always
/// (profile P9), and `<no-store/>` when `logging` is `mustnot` (XEP-0136 §3.2).
pub(crate) fn storage_hints(logging: Logging) -> Vec<Element> {
    let mut hints = Vec::with_capacity(2);
    if logging == Logging::MustNot {
        hints.push(Element::new("no-store", ns::HINTS));
    }
    hints.push(Element::new("no-permanent-store", ns::HINTS));
    hints
}

/// The SSN termination form inside `<feature/>` (P10): `submit` to terminate, `result`
/// to acknowledge.
pub(crate) fn termination(kind: FormType) -> Element {
    let mut form = Form::with_untyped_form_type(kind, ns::SSN);
    form.push(Field::new("terminate", None, &["1"]));
    Element::new("feature", ns::FEATURE_NEG).with_child(form.to_element())
}

/// Reads a termination form: `Some(Submit)` for a terminate, `Some(Result)` for an
/// acknowledgement (P10: `1` or `true`, with or without field types).
pub(crate) fn read_termination(feature: &Element) -> Option<FormType> {
    if !feature.is("feature", ns::FEATURE_NEG) {
        return None;
    }
    let form = Form::parse(feature.child("x", ns::DATA)?).ok()?;
    if form.form_type() != Some(ns::SSN) {
        return None;
    }
    let terminate = form.value("terminate")?;
    if !matches!(terminate, "1" | "true") {
        return None;
    }
    matches!(form.kind, FormType::Submit | FormType::Result).then_some(form.kind)
}

/// A `<message type='chat'/>` holding `content`: what a session carries (RFC 6121
/// §5.2.2, one-to-one chat; XEP-0155 sessions are chat sessions).
pub fn chat(content: impl IntoIterator<Item = Element>) -> Element {
    let mut msg = Element::new("message", ns::JABBER_CLIENT).with_attr("type", "chat");
    for c in content {
        msg.push(c);
    }
    msg
}

/// A `<message/>` to `to` on `thread` (no type).
pub(crate) fn message(to: &str, thread: &str) -> Element {
    Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", to)
        .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(thread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mustnot_messages_carry_no_store_as_well() {
        let names = |l| {
            clear_extras(l)
                .iter()
                .map(|e| format!("{}:{}", e.ns(), e.name()))
                .collect::<Vec<_>>()
        };
        let may = names(Logging::May);
        assert!(may.contains(&"urn:xmpp:hints:no-permanent-store".to_owned()));
        assert!(!may.contains(&"urn:xmpp:hints:no-store".to_owned()));
        let mustnot = names(Logging::MustNot);
        assert!(mustnot.contains(&"urn:xmpp:hints:no-store".to_owned()));
        assert!(mustnot.contains(&"urn:xmpp:hints:no-permanent-store".to_owned()));
        assert_eq!(mustnot.len(), may.len() + 1);
    }

    #[test]
    fn terminate_plaintext_is_exactly_the_profile_text() {
        // Profile P10, byte for byte.
        let expected = "<feature xmlns=\"http://jabber.org/protocol/feature-neg\"><x xmlns=\"jabber:x:data\" type=\"submit\"><field var=\"FORM_TYPE\"><value>urn:xmpp:ssn</value></field><field var=\"terminate\"><value>1</value></field></x></feature>";
        assert_eq!(
            termination(FormType::Submit).serialize_in(ns::JABBER_CLIENT),
            expected
        );
        assert_eq!(
            termination(FormType::Result).serialize_in(ns::JABBER_CLIENT),
            expected.replace("submit", "result")
        );
        assert_eq!(
            read_termination(&termination(FormType::Result)),
            Some(FormType::Result)
        );
    }
}
