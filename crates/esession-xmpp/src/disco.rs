//! Service discovery (XEP-0030): answering disco#info and reading answers.

// The infallible `From<&T> for Element` of xso-derived types panics on
// failure; we keep the fallible path so a library bug cannot panic here.
#![allow(clippy::unnecessary_fallible_conversions)]

use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult, Identity};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stanza_error::StanzaError;

use crate::error::XmppError;

/// If `iq` is a disco#info get, the answer to send: identity client/pc
/// (XEP-0030 §3.1) and our features.
pub(crate) fn answer(iq: &Iq, features: &[String]) -> Option<Iq> {
    let Iq::Get {
        from, id, payload, ..
    } = iq
    else {
        return None;
    };
    if !payload.is("query", ns::DISCO_INFO) {
        return None;
    }
    let node = payload.attr("node").map(str::to_owned);
    let mut result = DiscoInfoResult {
        node,
        identities: vec![Identity {
            category: "client".to_owned(),
            type_: "pc".to_owned(),
            lang: None,
            name: None,
        }],
        features: features.iter().cloned().collect(),
        extensions: Vec::new(),
    };
    result.features.insert(ns::DISCO_INFO.to_owned());
    let payload = Element::try_from(&result).ok();
    Some(Iq::Result {
        from: None,
        to: from.clone(),
        id: id.clone(),
        payload,
    })
}

/// A disco#info get for `to` (about `node`, if any: XEP-0115 §6.2 asks about
/// `node#ver`).
pub(crate) fn request(to: Jid, id: String, node: Option<&str>) -> Result<Iq, XmppError> {
    let node = node.map(str::to_owned);
    let payload = Element::try_from(&DiscoInfoQuery { node })
        .map_err(|e| XmppError::Protocol(format!("disco#info query: {e}")))?;
    Ok(Iq::Get {
        from: None,
        to: Some(to),
        id,
        payload,
    })
}

/// Features from a disco#info result payload.
pub(crate) fn features_of(payload: Option<&Element>) -> Result<Vec<String>, XmppError> {
    let payload =
        payload.ok_or_else(|| XmppError::Protocol("disco#info result without <query/>".into()))?;
    let result = DiscoInfoResult::try_from(payload.clone())
        .map_err(|e| XmppError::Protocol(format!("bad disco#info result: {e}")))?;
    Ok(result.features.into_iter().collect())
}

/// The RFC 6120 §8.3.3 condition name of a stanza error.
pub(crate) fn condition_name(error: &StanzaError) -> String {
    Element::try_from(&error.defined_condition)
        .map(|e| e.name().to_owned())
        .unwrap_or_else(|_| format!("{:?}", error.defined_condition))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_disco_info_get_only() {
        let get = Iq::Get {
            from: Some("bob@localhost/x".parse().unwrap()),
            to: None,
            id: "q1".into(),
            payload: Element::try_from(&DiscoInfoQuery { node: None }).unwrap(),
        };
        let features = vec!["urn:xmpp:ssn".to_owned()];
        let Some(Iq::Result {
            to, id, payload, ..
        }) = answer(&get, &features)
        else {
            unreachable!("no answer")
        };
        assert_eq!(id, "q1");
        assert_eq!(to.unwrap().to_string(), "bob@localhost/x");
        let f = features_of(payload.as_ref()).unwrap();
        assert!(f.contains(&"urn:xmpp:ssn".to_owned()));
        assert!(f.contains(&ns::DISCO_INFO.to_owned()));

        let ping = Iq::Get {
            from: None,
            to: None,
            id: "p".into(),
            payload: Element::builder("ping", "urn:xmpp:ping").build(),
        };
        assert!(answer(&ping, &features).is_none());
    }

    #[test]
    fn condition_names() {
        let e = StanzaError::new(
            tokio_xmpp::parsers::stanza_error::ErrorType::Cancel,
            tokio_xmpp::parsers::stanza_error::DefinedCondition::ServiceUnavailable,
            "en",
            "",
        );
        assert_eq!(condition_name(&e), "service-unavailable");
    }
}
