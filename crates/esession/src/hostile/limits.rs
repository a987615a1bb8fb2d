//! Size and shape limits: huge, deep, wide XML and forms (XML parser `Limits`, form
//! bounds of 128 fields, 64 values, 16 KiB per value).
use super::mallory::*;
use crate::engine::tests::sid;
use crate::engine::tests::{ALICE, BOB};
use crate::error::{Error, ErrorKind, PeerMisbehaved, Rejected, RequestRefused, StanzaFault};
use crate::forms::{Field, FormError};
use crate::xml::{ns, parse_element, Element, Limits, XmlError};

#[test]
fn huge_xml_over_the_parser_limit() {
    // On the wire: a 600 KiB stanza is refused before it becomes an Element.
    let body = "A".repeat(600 * 1024);
    let text =
        format!("<message xmlns='jabber:client' from='{ALICE}'><body>{body}</body></message>");
    assert_eq!(
        parse_element(&text, &Limits::default()),
        Err(XmlError::TooLarge(text.len()))
    );
    // Inside a session: the peer encrypts a plaintext over the limit; Bob ends the session
    // and delivers nothing.
    let mut m = Mallory::new("huge");
    let thread = m.negotiate();
    m.alice.send_message(&sid(BOB, &thread), &body).unwrap();
    m.clean();
    let b = outcome(&mut m.bob);
    match b.failure() {
        Some((ErrorKind::Decryption, Error::Stanza(StanzaFault::PlaintextNotXml(d)))) => {
            assert!(d.to_string().starts_with("XML too large"), "{d}")
        }
        other => panic!("{other:?}"),
    }
    assert!(b.bodies.is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn many_attributes_on_one_element() {
    // On the wire: ~190 KB of distinct attributes on one stanza (issue 11 §7: this cost
    // ~0.6 s when duplicates were found by comparing each attribute with every other).
    let attrs: String = (0..20_000).map(|i| format!(" a{i}=''")).collect();
    let text = format!("<message xmlns='jabber:client' from='{ALICE}'{attrs}/>");
    assert!(text.len() > 150_000);
    assert_eq!(
        parse_element(&text, &Limits::default()),
        Err(XmlError::TooManyAttributes(64))
    );
    // A repeated attribute is still refused (XML 1.0 §3.1, Unique Att Spec).
    let twice = format!("<message xmlns='jabber:client' from='{ALICE}' from='{BOB}'/>");
    assert_eq!(
        parse_element(&twice, &Limits::default()),
        Err(XmlError::Syntax("duplicate attribute from".into()))
    );
    // Inside a session: the peer encrypts an element with 100 attributes; Bob ends the
    // session and delivers nothing.
    let mut m = Mallory::new("attrs");
    let thread = m.negotiate();
    let wide = (0..100).fold(Element::new("x", "urn:example:attrs"), |el, i| {
        el.with_attr(format!("a{i}"), "")
    });
    let body = Element::new("body", ns::JABBER_CLIENT).with_text("hidden");
    m.alice
        .send_content(&sid(BOB, &thread), vec![body, wide])
        .unwrap();
    m.clean();
    let b = outcome(&mut m.bob);
    b.assert_failed(
        ErrorKind::Decryption,
        StanzaFault::PlaintextNotXml(XmlError::TooManyAttributes(64)),
    );
    assert!(b.bodies.is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn deeply_nested_xml() {
    let depth = 40;
    let open: String = (0..depth).map(|_| "<a>").collect();
    let close: String = (0..depth).map(|_| "</a>").collect();
    let text = format!("<message xmlns='jabber:client'>{open}{close}</message>");
    assert_eq!(
        parse_element(&text, &Limits::default()),
        Err(XmlError::TooDeep(32))
    );
    // Encrypted: the peer nests 40 elements in its plaintext.
    let mut m = Mallory::new("deep");
    let thread = m.negotiate();
    let mut el = Element::new("x", "urn:example:deep");
    for _ in 0..depth {
        el = Element::new("x", "urn:example:deep").with_child(el);
    }
    let body = Element::new("body", ns::JABBER_CLIENT).with_text("hidden");
    m.alice
        .send_content(&sid(BOB, &thread), vec![body, el])
        .unwrap();
    m.clean();
    let b = outcome(&mut m.bob);
    b.assert_failed(
        ErrorKind::Decryption,
        StanzaFault::PlaintextNotXml(XmlError::TooDeep(32)),
    );
    // And thousands of sibling nodes.
    let mut m = Mallory::new("wide");
    let thread = m.negotiate();
    let many: Vec<Element> = (0..25_000)
        .map(|_| Element::new("i", ns::JABBER_CLIENT))
        .collect();
    m.alice.send_content(&sid(BOB, &thread), many).unwrap();
    m.clean();
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Decryption,
        StanzaFault::PlaintextNotXml(XmlError::TooManyNodes(20_000)),
    );
    // Entity expansion is refused outright.
    let bomb = "<!DOCTYPE m [<!ENTITY a 'aaaa'>]><message xmlns='jabber:client'>&a;</message>";
    assert_eq!(
        parse_element(bomb, &Limits::default()),
        Err(XmlError::Doctype)
    );
}

#[test]
fn huge_base64_values() {
    // Over the 16 KiB value bound: the form does not parse; silence (P10b decisions:
    // an unparseable form in messages 2–4 may not come from the peer).
    let huge = "QUFB".repeat(5000);
    let mut m = Mallory::new("huge-b64");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(2) {
            set_values(s, "dhkeys", &[&huge]);
        }
        Fate::Pass
    });
    outcome(&mut m.alice).assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::Form(FormError::TooLarge("value too long")),
    );
    outcome(&mut m.bob).assert_quiet();
    assert_eq!(m.bob.session_ids().len(), 1, "Bob waits for his timeout");
    // Under the bound but far larger than p.
    let big = "QUFB".repeat(3000);
    let mut m = Mallory::new("big-b64");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(2) {
            set_values(s, "dhkeys", &[&big]);
        }
        Fate::Pass
    });
    outcome(&mut m.alice).assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::PublicValueOutOfRange("dhkeys".into()),
    );
}

#[test]
fn thousands_of_fields_or_values() {
    // Message 1 with 2000 extra fields: not-acceptable without fields.
    let mut m = Mallory::new("fields");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(1) {
            for i in 0..2000 {
                add_field(
                    s,
                    Field::new(&format!("junk{i}"), None, &["x"]).to_element(),
                );
            }
        }
        Fate::Pass
    });
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Form(FormError::TooLarge("too many fields"))),
    );
    outcome(&mut m.alice).assert_failed(
        ErrorKind::Rejected,
        Rejected::PeerError {
            condition: "not-acceptable".into(),
            fields: vec![],
        },
    );
    // Message 1 offering 5000 groups.
    let mut m = Mallory::new("options");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(1) {
            let groups: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
            let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
            set_values(s, "modp", &refs);
        }
        Fate::Pass
    });
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Form(FormError::TooLarge(
            "too many options",
        ))),
    );
    // Message 3 with 5000 rshashes: silence, nothing stored.
    let mut m = Mallory::new("values");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(3) {
            let v = vec!["AAAA"; 5000];
            set_values(s, "rshashes", &v);
        }
        Fate::Pass
    });
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::Form(FormError::TooLarge("too many values")),
    );
    outcome(&mut m.alice).assert_quiet();
    assert!(secrets(&m.alice).is_empty() && secrets(&m.bob).is_empty());
}
