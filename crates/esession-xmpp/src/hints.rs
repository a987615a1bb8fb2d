//! The XEP-0334 `<no-store/>` hint beside the engine's AMP drop-if-stored rule, for servers
//! without AMP (XEP-0079).
use esession::xml::{ns, Element};
use esession::{Error, Rejected};

use crate::Unreachable;

/// XEP-0155 §4.1, XEP-0116 §4.3: the online negotiation request carries an AMP rule that
/// drops it rather than store it for an offline contact. A server without AMP ignores the
/// rule and stores the request, which then waits unanswered and is replayed, stale, at the
/// contact's next login. XEP-0334 §4.3: `<no-store/>` asks the same of such a server, and
/// ejabberd honours it by bouncing the request at once with `service-unavailable` (the
/// sender learns at once that the contact is offline); Prosody 0.12 ignores it and stores
/// the request as before. Offline sessions (XEP-0187) carry no drop rule: their stanzas are
/// meant to be stored, and get no hint.
pub(crate) fn add_no_store_to_dropped(stanza: &mut Element) {
    let drops_if_stored = stanza.child("amp", ns::AMP).is_some_and(|amp| {
        amp.children().any(|rule| {
            rule.is("rule", ns::AMP)
                && rule.attr("action") == Some("drop")
                && rule.attr("condition") == Some("deliver")
                && rule.attr("value") == Some("stored")
        })
    });
    if drops_if_stored && stanza.child("no-store", ns::HINTS).is_none() {
        stanza.push(Element::new("no-store", ns::HINTS));
    }
}

/// Whether `error`, which ended our negotiation request to `to` before any answer, is the
/// server's bounce of the request (the hint above): RFC 6121 §8.5.2.2.1, a message that is
/// not stored for a contact without an available resource is answered with
/// `service-unavailable`. Then the contact is offline, known at once.
pub fn bounced_request(to: &str, error: &Error) -> Option<Unreachable> {
    match error {
        Error::Rejected(Rejected::PeerError { condition, .. })
            if condition == "service-unavailable" =>
        {
            Some(Unreachable::Unavailable {
                to: to.to_owned(),
                condition: condition.clone(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::xml::{parse_element, Limits};

    #[test]
    fn only_a_service_unavailable_error_is_a_bounce() {
        let error = |condition: &str| -> Error {
            Rejected::PeerError {
                condition: condition.into(),
                fields: vec![],
            }
            .into()
        };
        assert_eq!(
            bounced_request("b@x", &error("service-unavailable")),
            Some(Unreachable::Unavailable {
                to: "b@x".into(),
                condition: "service-unavailable".into()
            })
        );
        assert_eq!(bounced_request("b@x", &error("not-acceptable")), None);
        assert_eq!(bounced_request("b@x", &Rejected::Cancelled.into()), None);
    }

    fn with_hint(xml: &str) -> String {
        let mut e = parse_element(xml, &Limits::default()).unwrap();
        add_no_store_to_dropped(&mut e);
        e.to_string()
    }

    #[test]
    fn only_a_stanza_that_amp_drops_if_stored_gets_the_hint_once() {
        let request = "<message xmlns='jabber:client' to='b@x'><thread>t</thread>\
            <amp xmlns='http://jabber.org/protocol/amp' per-hop='true'>\
            <rule action='drop' condition='deliver' value='stored'/></amp></message>";
        let hinted = with_hint(request);
        assert!(
            hinted.ends_with("<no-store xmlns=\"urn:xmpp:hints\"/></message>"),
            "{hinted}"
        );
        assert_eq!(with_hint(&hinted), hinted);
        // XEP-0187 offline-session stanzas (match-resource) and everything else: untouched.
        for other in [
            "<message xmlns='jabber:client' to='b@x'><amp xmlns='http://jabber.org/protocol/amp'>\
             <rule action='error' condition='match-resource' value='exact'/></amp></message>",
            "<message xmlns='jabber:client' to='b@x'><body>hi</body></message>",
        ] {
            let before = parse_element(other, &Limits::default())
                .unwrap()
                .to_string();
            assert_eq!(with_hint(other), before);
        }
    }
}
