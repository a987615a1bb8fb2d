//! The stanzas that carry negotiation forms, and XEP-0155 error replies (profile P10b).
use crate::error::Condition;
use crate::xml::{ns, Element};

/// Which wrapper carries a form: `<feature/>` (messages 1–3, XEP-0020) or `<init/>`
/// (message 4, XEP-0116 §4.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wrapper {
    Feature,
    Init,
}

/// A negotiation `<message/>` (no `type`, no `<body/>`, XEP-0155 §3) to `to` on `thread`
/// carrying form `x`. A request also carries the AMP rule that keeps it out of offline
/// storage (XEP-0155 §4.1, XEP-0116 §4.3).
pub(crate) fn negotiation_message(
    to: &str,
    thread: &str,
    wrapper: Wrapper,
    x: Element,
    request: bool,
) -> Element {
    let inner = match wrapper {
        Wrapper::Feature => Element::new("feature", ns::FEATURE_NEG),
        Wrapper::Init => Element::new("init", ns::ESESSION_INIT),
    };
    let mut msg = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", to)
        .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(thread))
        .with_child(inner.with_child(x));
    if request {
        msg.push(
            Element::new("amp", ns::AMP)
                .with_attr("per-hop", "true")
                .with_child(
                    Element::new("rule", ns::AMP)
                        .with_attr("action", "drop")
                        .with_attr("condition", "deliver")
                        .with_attr("value", "stored"),
                ),
        );
    }
    msg
}

/// The form inside a negotiation stanza, and which wrapper held it.
pub(crate) fn negotiation_form(stanza: &Element) -> Option<(Wrapper, &Element)> {
    if let Some(f) = stanza.child("feature", ns::FEATURE_NEG) {
        return f.child("x", ns::DATA).map(|x| (Wrapper::Feature, x));
    }
    stanza
        .child("init", ns::ESESSION_INIT)
        .and_then(|i| i.child("x", ns::DATA))
        .map(|x| (Wrapper::Init, x))
}

/// Profile P10b: a `<message type='error'/>` echoing the received `<feature/>` (or
/// `<init/>`), with `<error type='cancel'>`, the condition and the fields at fault.
pub(crate) fn error_reply(
    received: &Element,
    to: &str,
    condition: Condition,
    fields: &[&str],
) -> Element {
    let mut msg = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("type", "error")
        .with_attr("to", to);
    for child in received.children() {
        let echo = child.is("thread", ns::JABBER_CLIENT)
            || child.is("feature", ns::FEATURE_NEG)
            || child.is("init", ns::ESESSION_INIT);
        if echo {
            msg.push(child.clone());
        }
    }
    let mut error = Element::new("error", ns::JABBER_CLIENT)
        .with_attr("type", "cancel")
        .with_child(Element::new(condition.name(), ns::STANZAS));
    if !fields.is_empty() {
        let mut feature = Element::new("feature", ns::FEATURE_NEG);
        for f in fields {
            feature.push(Element::new("field", ns::FEATURE_NEG).with_attr("var", *f));
        }
        error.push(feature);
    }
    msg.push(error);
    msg
}

/// Reads an error stanza: its defined condition and the fields it names.
pub(crate) fn read_error(stanza: &Element) -> (String, Vec<String>) {
    let Some(error) = stanza.child("error", ns::JABBER_CLIENT) else {
        return ("undefined-condition".into(), Vec::new());
    };
    let condition = error
        .children()
        .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| "undefined-condition".into());
    let fields = error
        .child("feature", ns::FEATURE_NEG)
        .map(|f| {
            f.children()
                .filter_map(|c| c.attr("var").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (condition, fields)
}
