//! Entity capabilities (XEP-0115): the `ver` hash of a disco#info answer, which a
//! client puts in its presence so that contacts who saw the same `ver` before need not ask
//! again.
use std::collections::BTreeSet;

use esession::b64;
use esession::xml::Element;
use tokio_xmpp::parsers::caps::hash_caps;
use tokio_xmpp::parsers::hashes::Algo;

/// The caps namespace (XEP-0115 §4).
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
/// The node of this software (XEP-0115 §4: a URI identifying the application).
pub const CAPS_NODE: &str = "https://crates.io/crates/esession";
/// The disco#info namespace (XEP-0030 §3.1).
pub(crate) const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_DATA: &str = "jabber:x:data";

/// The `ver` of a disco#info `<query/>` (XEP-0115 §5.1: identities, features and extended
/// forms, each sorted, joined with `<`, hashed with SHA-1, in base64). A query the
/// algorithm cannot describe unambiguously is refused, naming why (§5.4 step 3).
pub fn ver(query: &Element) -> Result<String, String> {
    if !query.is("query", NS_DISCO_INFO) {
        return Err(format!("<{}/> is not a disco#info query", query.name()));
    }
    let mut s = String::new();
    // §5.1 steps 2–4: identities as category/type/lang/name, sorted.
    let mut identities = Vec::new();
    for i in query.children().filter(|c| c.is("identity", NS_DISCO_INFO)) {
        let part = |a: &str| i.attr(a).unwrap_or_default();
        identities.push(format!(
            "{}/{}/{}/{}<",
            part("category"),
            part("type"),
            part("xml:lang"),
            part("name")
        ));
    }
    push_sorted(&mut s, identities, "identity")?;
    // §5.1 steps 5–6: features, sorted.
    let features = query
        .children()
        .filter(|c| c.is("feature", NS_DISCO_INFO))
        .map(|f| format!("{}<", f.attr("var").unwrap_or_default()))
        .collect();
    push_sorted(&mut s, features, "feature")?;
    // §5.1 step 7: extended forms (XEP-0128) sorted by FORM_TYPE; in each, the fields
    // sorted by var, each followed by its values sorted.
    let mut forms = Vec::new();
    let mut types = BTreeSet::new();
    for form in query.children().filter(|c| c.is("x", NS_DATA)) {
        let fields: Vec<&Element> = form.children().filter(|c| c.is("field", NS_DATA)).collect();
        let form_type = fields
            .iter()
            .find(|f| f.attr("var") == Some("FORM_TYPE"))
            .filter(|f| f.attr("type") == Some("hidden"));
        // §5.4 step 3.6: a form without a hidden FORM_TYPE is ignored.
        let Some(form_type) = form_type else {
            continue;
        };
        let ft = values(form_type);
        let [ft] = ft.as_slice() else {
            return Err("an extended form with several FORM_TYPE values".into());
        };
        // §5.4 step 3.5: two forms of one FORM_TYPE are refused.
        if !types.insert(ft.clone()) {
            return Err(format!("two extended forms of FORM_TYPE {ft}"));
        }
        let mut sorted: Vec<(String, Vec<String>)> = fields
            .iter()
            .filter(|f| f.attr("var") != Some("FORM_TYPE"))
            .map(|f| (f.attr("var").unwrap_or_default().to_owned(), values(f)))
            .collect();
        sorted.sort();
        let mut part = format!("{ft}<");
        for (var, mut vals) in sorted {
            part.push_str(&var);
            part.push('<');
            vals.sort();
            for v in vals {
                part.push_str(&v);
                part.push('<');
            }
        }
        forms.push(part);
    }
    forms.sort();
    s.extend(forms);
    let hash = hash_caps(s.as_bytes(), Algo::Sha_1)?;
    Ok(b64::encode(&hash.hash))
}

/// Appends `parts` sorted (i;octet, XEP-0115 §5.1); two equal ones are refused (§5.4 step
/// 3.3–3.4).
fn push_sorted(s: &mut String, mut parts: Vec<String>, what: &str) -> Result<(), String> {
    parts.sort();
    if let Some(w) = parts.windows(2).find(|w| w.first() == w.get(1)) {
        let dup = w
            .first()
            .map(|d| d.trim_end_matches('<'))
            .unwrap_or_default();
        return Err(format!("the {what} {dup:?} is listed twice"));
    }
    s.extend(parts);
    Ok(())
}

fn values(field: &Element) -> Vec<String> {
    field
        .children()
        .filter(|c| c.is("value", NS_DATA))
        .map(Element::text)
        .collect()
}

/// The features a disco#info `<query/>` advertises (XEP-0030 §3.1).
pub(crate) fn features(query: &Element) -> impl Iterator<Item = &str> {
    query
        .children()
        .filter(|c| c.is("feature", NS_DISCO_INFO))
        .filter_map(|f| f.attr("var"))
}

/// Our disco#info answer (what `disco::answer` sends): identity client/pc
/// (XEP-0030 §3.1), `features` and disco#info.
pub(crate) fn own_info(features: &[String]) -> Element {
    let mut all: BTreeSet<&str> = features.iter().map(String::as_str).collect();
    all.insert(NS_DISCO_INFO);
    let mut q = Element::new("query", NS_DISCO_INFO).with_child(
        Element::new("identity", NS_DISCO_INFO)
            .with_attr("category", "client")
            .with_attr("type", "pc"),
    );
    for f in all {
        q.push(Element::new("feature", NS_DISCO_INFO).with_attr("var", f));
    }
    q
}

/// The `<c/>` of our presence (XEP-0115 §4).
pub(crate) fn presence_caps(ver: &str) -> Element {
    Element::new("c", NS_CAPS)
        .with_attr("hash", "sha-1")
        .with_attr("node", CAPS_NODE)
        .with_attr("ver", ver)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::xml::{parse_element, Limits};

    fn el(xml: &str) -> Element {
        parse_element(xml, &Limits::default()).unwrap()
    }

    /// XEP-0115 §5.2, the simple generation example.
    #[test]
    fn the_simple_example_of_section_5_2() {
        let q = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='client' name='Exodus 0.9.1' type='pc'/>\
            <feature var='http://jabber.org/protocol/caps'/>\
            <feature var='http://jabber.org/protocol/disco#info'/>\
            <feature var='http://jabber.org/protocol/disco#items'/>\
            <feature var='http://jabber.org/protocol/muc'/></query>");
        assert_eq!(ver(&q).unwrap(), "QgayPKawpkPSDYmwT/WM94uAlu0=");
    }

    /// XEP-0115 §5.3, the complex generation example (two identities, an extended form).
    #[test]
    fn the_complex_example_of_section_5_3() {
        let q = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>\
            <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>\
            <feature var='http://jabber.org/protocol/caps'/>\
            <feature var='http://jabber.org/protocol/disco#info'/>\
            <feature var='http://jabber.org/protocol/disco#items'/>\
            <feature var='http://jabber.org/protocol/muc'/>\
            <x xmlns='jabber:x:data' type='result'>\
              <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
              <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>\
              <field var='os'><value>Mac</value></field>\
              <field var='os_version'><value>10.5.1</value></field>\
              <field var='software'><value>Psi</value></field>\
              <field var='software_version'><value>0.11</value></field>\
            </x></query>");
        assert_eq!(ver(&q).unwrap(), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
        // The order on the wire does not matter.
        let shuffled = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <feature var='http://jabber.org/protocol/muc'/>\
            <x xmlns='jabber:x:data' type='result'>\
              <field var='software_version'><value>0.11</value></field>\
              <field var='ip_version'><value>ipv6</value><value>ipv4</value></field>\
              <field var='os_version'><value>10.5.1</value></field>\
              <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
              <field var='software'><value>Psi</value></field>\
              <field var='os'><value>Mac</value></field>\
            </x>\
            <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>\
            <feature var='http://jabber.org/protocol/disco#items'/>\
            <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>\
            <feature var='http://jabber.org/protocol/caps'/>\
            <feature var='http://jabber.org/protocol/disco#info'/></query>");
        assert_eq!(ver(&shuffled).unwrap(), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    }

    #[test]
    fn ambiguous_answers_are_refused() {
        let dup = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='client' type='pc'/>\
            <feature var='urn:x'/><feature var='urn:x'/></query>");
        assert!(ver(&dup).unwrap_err().contains("urn:x"));
        let two_forms = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
            <value>urn:f</value></field></x>\
            <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
            <value>urn:f</value></field></x></query>");
        assert!(ver(&two_forms).unwrap_err().contains("urn:f"));
        assert!(ver(&el("<query xmlns='urn:other'/>")).is_err());
    }

    #[test]
    fn our_own_ver_covers_what_we_answer() {
        let features = vec!["urn:xmpp:ssn".to_owned(), NS_CAPS.to_owned()];
        let q = own_info(&features);
        let v = ver(&q).unwrap();
        assert_eq!(v.len(), 28, "base64 of 20 octets");
        assert_ne!(v, ver(&own_info(&[])).unwrap());
        // The hash covers exactly what we answer, node#ver included (XEP-0115 §6.2).
        let get = tokio_xmpp::parsers::iq::Iq::Get {
            from: None,
            to: None,
            id: "q".into(),
            payload: tokio_xmpp::minidom::Element::from(
                tokio_xmpp::parsers::disco::DiscoInfoQuery {
                    node: Some(format!("{CAPS_NODE}#{v}")),
                },
            ),
        };
        let Some(tokio_xmpp::parsers::iq::Iq::Result {
            payload: Some(answer),
            ..
        }) = crate::disco::answer(&get, &features)
        else {
            unreachable!("no answer")
        };
        let answer = crate::xml::from_minidom(answer, &Limits::default()).unwrap();
        assert_eq!(
            answer.attr("node"),
            Some(format!("{CAPS_NODE}#{v}").as_str())
        );
        assert_eq!(ver(&answer).unwrap(), v);
        let c = presence_caps(&v);
        assert_eq!(c.attr("hash"), Some("sha-1"));
        assert_eq!(c.attr("ver"), Some(v.as_str()));
    }
}
