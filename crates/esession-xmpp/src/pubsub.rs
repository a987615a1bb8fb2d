//! Publish-subscribe (XEP-0060) on personal eventing nodes (XEP-0163): publish with
//! publish-options and the configure fallback (profile P14), fetch a node's items,
//! retract an item without notification.
//!
//! Payloads cross this module's API as XML text (one element that declares its
//! namespace), like stanzas cross the rest of the crate: the engine parses what comes
//! from the network with its own bounded parser.

// The infallible `From<&T> for Element` of xso-derived types panics on failure; we keep
// the fallible path so a library bug cannot panic here.
#![allow(clippy::unnecessary_fallible_conversions)]

use std::time::Duration;

use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::pubsub::owner::{Owner, Payload};
use tokio_xmpp::parsers::pubsub::pubsub::{
    Configure, Create, Item, Items, PubSub, Publish, PublishOptions, Retract,
};
use tokio_xmpp::parsers::pubsub::{ItemId, NodeName};
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, StanzaError};

use crate::connection::{parse_jid, Connection, IqAnswer};
use crate::disco;
use crate::error::XmppError;
use crate::xml;

/// FORM_TYPE of publish-options (XEP-0060 §7.1.5).
const PUBLISH_OPTIONS: &str = "http://jabber.org/protocol/pubsub#publish-options";

/// How a publish succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The server accepted the item with its publish-options (XEP-0060 §7.1.5).
    WithOptions,
    /// The server refused the publish-options (precondition-not-met, or options it does
    /// not know): the node was configured with the same values (XEP-0060 §8.2; created
    /// with them, §8.1.3, if it did not exist) and the item published again (profile P14).
    AfterConfigure,
}

/// One item of a node (XEP-0060 §6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubsubItem {
    /// The item id, if the service gave one.
    pub id: Option<String>,
    /// The payload element as XML text (namespace declared on its root), if any.
    pub payload: Option<String>,
}

/// What fetching a node's items found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeItems {
    /// The node exists; its items, in the service's order (possibly none).
    Items(Vec<PubsubItem>),
    /// The node does not exist (`item-not-found`, XEP-0060 §6.5.9.11).
    NoSuchNode,
}

impl Connection {
    /// Publish `payload_xml` as item `item_id` of our own PEP node `node` (XEP-0163 §3,
    /// XEP-0060 §7.1), with `options` (field var, value) as publish-options
    /// (XEP-0060 §7.1.5). If the server refuses them (the node exists with another
    /// configuration, or the server does not know an option), configure the node with the
    /// same values (XEP-0060 §8.2; create it with them if it does not exist, §8.1.3) and
    /// publish again (profile P14). Each round trip waits at most `timeout`; a request of
    /// the fallback that the server asks to retry later (RFC 6120 §8.3.2: an error of type
    /// `wait`) is sent again after a pause, at most three times. The publish with options
    /// is sent once: its refusal has the fallback, and ejabberd refuses the options it does
    /// not know with a `wait` error that no retry changes.
    ///
    /// Errors: [`XmppError::InvalidArgument`] if `payload_xml` is not one element with
    /// its namespace, [`XmppError::Stanza`] naming the condition of a refusal,
    /// [`XmppError::Timeout`] if the server does not answer.
    pub async fn pep_publish(
        &mut self,
        node: &str,
        item_id: &str,
        payload_xml: &str,
        options: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Published, XmppError> {
        let payload = parse_payload(payload_xml)?;
        let own = self.bare_jid();
        let request = publish_request(node, item_id, payload.clone(), options)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let answer = self
            .iq_answer(request, &own, deadline, "waiting for a publish answer")
            .await?;
        let refusal = match answer {
            IqAnswer::Result(_) => return Ok(Published::WithOptions),
            // Profile P14 names precondition-not-met (Prosody); ejabberd answers
            // `resource-constraint` ("Unknown field") for the options it does not know:
            // any refusal of the publish-options falls back to configuring the node.
            IqAnswer::Error(e) => condition_text(&e),
        };
        tracing::info!(
            node,
            refusal,
            "publish-options refused: configuring the node"
        );
        // XEP-0060 §8.2: configure the node with the values (profile P14); a node that does
        // not exist yet is created with them (XEP-0060 §8.1.3).
        let configure = configure_request(node, options)?;
        let answer = self
            .iq_round_trip(configure, &own, timeout, "waiting for a configure answer")
            .await?;
        match answer {
            IqAnswer::Result(_) => {}
            IqAnswer::Error(e) if e.defined_condition == DefinedCondition::ItemNotFound => {
                let create = create_request(node, options)?;
                let answer = self
                    .iq_round_trip(create, &own, timeout, "waiting for a create answer")
                    .await?;
                if let IqAnswer::Error(e) = answer {
                    return Err(fallback_refused(&refusal, "create", &e));
                }
            }
            IqAnswer::Error(e) => return Err(fallback_refused(&refusal, "configure", &e)),
        }
        // The node now holds the values: publish without options, which a server that
        // refused them the first time would refuse again (docs/decisions.md).
        let request = publish_request(node, item_id, payload, &[])?;
        match self
            .iq_round_trip(request, &own, timeout, "waiting for a publish answer")
            .await?
        {
            IqAnswer::Result(_) => Ok(Published::AfterConfigure),
            IqAnswer::Error(e) => Err(XmppError::Stanza(condition_text(&e))),
        }
    }

    /// The items of node `node` of `jid` (XEP-0060 §6.5; a bare JID for PEP,
    /// XEP-0163 §5). A node that does not exist gives [`NodeItems::NoSuchNode`].
    ///
    /// Errors: [`XmppError::Stanza`] naming any other refusal,
    /// [`XmppError::Protocol`] for a malformed answer, [`XmppError::Timeout`].
    pub async fn pubsub_items(
        &mut self,
        jid: &str,
        node: &str,
        timeout: Duration,
    ) -> Result<NodeItems, XmppError> {
        let to = parse_jid(jid)?;
        let request = items_request(to.clone(), node)?;
        let answer = self
            .iq_round_trip(request, &to, timeout, "waiting for pubsub items")
            .await?;
        items_of(answer, node)
    }

    /// Retract item `item_id` of our own PEP node `node` without notifying the
    /// subscribers (XEP-0060 §7.2, `notify` false).
    ///
    /// Errors: [`XmppError::Stanza`] naming the refusal (e.g. `item-not-found`),
    /// [`XmppError::Timeout`].
    pub async fn pep_retract(
        &mut self,
        node: &str,
        item_id: &str,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        let own = self.bare_jid();
        let request = retract_request(node, item_id)?;
        match self
            .iq_round_trip(request, &own, timeout, "waiting for a retract answer")
            .await?
        {
            IqAnswer::Result(_) => Ok(()),
            IqAnswer::Error(e) => Err(XmppError::Stanza(condition_text(&e))),
        }
    }
}

/// The payload text as one element; minidom requires its namespace to be declared.
fn parse_payload(payload_xml: &str) -> Result<Element, XmppError> {
    payload_xml
        .trim()
        .parse::<Element>()
        .map_err(|e| XmppError::InvalidArgument(format!("pubsub payload: {e}")))
}

/// A data form of `form_type` with `values` as single-valued fields.
fn form(type_: DataFormType, form_type: &str, values: &[(&str, &str)]) -> DataForm {
    let fields = values
        .iter()
        .map(|(var, value)| Field::new(var, FieldType::TextSingle).with_value(value))
        .collect();
    DataForm::new(type_, form_type, fields)
}

fn to_element<T>(what: &str, value: &T) -> Result<Element, XmppError>
where
    for<'a> Element: TryFrom<&'a T>,
    for<'a> <Element as TryFrom<&'a T>>::Error: std::fmt::Display,
{
    Element::try_from(value).map_err(|e| XmppError::Protocol(format!("building {what}: {e}")))
}

/// `<pubsub xmlns='…pubsub'>` around `children`.
fn pubsub(children: Vec<Element>) -> Element {
    Element::builder("pubsub", ns::PUBSUB)
        .append_all(children)
        .build()
}

/// XEP-0060 §7.1.5: publish one item with publish-options, to our own PEP service
/// (no `to`, XEP-0163 §3).
fn publish_request(
    node: &str,
    item_id: &str,
    payload: Element,
    options: &[(&str, &str)],
) -> Result<Iq, XmppError> {
    let publish = Publish {
        node: NodeName(node.to_owned()),
        items: vec![Item {
            id: Some(ItemId(item_id.to_owned())),
            publisher: None,
            payload: Some(payload),
        }],
    };
    let mut children = vec![to_element("<publish/>", &publish)?];
    if !options.is_empty() {
        let publish_options = PublishOptions {
            form: Some(form(DataFormType::Submit, PUBLISH_OPTIONS, options)),
        };
        children.push(to_element("<publish-options/>", &publish_options)?);
    }
    Ok(Iq::Set {
        from: None,
        to: None,
        id: String::new(),
        payload: pubsub(children),
    })
}

/// XEP-0060 §8.2.4: submit the node configuration form with `values`.
fn configure_request(node: &str, values: &[(&str, &str)]) -> Result<Iq, XmppError> {
    let owner = Owner {
        payload: Payload::Configure {
            node: Some(NodeName(node.to_owned())),
            form: Some(form(DataFormType::Submit, ns::PUBSUB_CONFIGURE, values)),
        },
    };
    Ok(Iq::Set {
        from: None,
        to: None,
        id: String::new(),
        payload: to_element("<pubsub/> (owner)", &owner)?,
    })
}

/// XEP-0060 §8.1.3: create `node` with the configuration `values`.
fn create_request(node: &str, values: &[(&str, &str)]) -> Result<Iq, XmppError> {
    let create = PubSub::Create {
        create: Create {
            node: Some(NodeName(node.to_owned())),
        },
        configure: Some(Configure {
            form: Some(form(DataFormType::Submit, ns::PUBSUB_CONFIGURE, values)),
        }),
    };
    Ok(Iq::Set {
        from: None,
        to: None,
        id: String::new(),
        payload: Element::from(create),
    })
}

/// The error of a fallback `step` (configure or create) that failed after the server
/// refused the publish-options with `refusal`: both are named.
fn fallback_refused(refusal: &str, step: &str, error: &StanzaError) -> XmppError {
    XmppError::Stanza(format!(
        "{} (publish-options refused: {refusal}; then {step} refused)",
        condition_text(error)
    ))
}

/// XEP-0060 §6.5.2: request all items of a node.
fn items_request(to: Jid, node: &str) -> Result<Iq, XmppError> {
    let items = Items::new(node);
    Ok(Iq::Get {
        from: None,
        to: Some(to),
        id: String::new(),
        payload: pubsub(vec![to_element("<items/>", &items)?]),
    })
}

/// XEP-0060 §7.2.1: retract one item, without notification.
fn retract_request(node: &str, item_id: &str) -> Result<Iq, XmppError> {
    let retract = Retract {
        node: NodeName(node.to_owned()),
        notify: false,
        items: vec![Item {
            id: Some(ItemId(item_id.to_owned())),
            publisher: None,
            payload: None,
        }],
    };
    Ok(Iq::Set {
        from: None,
        to: None,
        id: String::new(),
        payload: pubsub(vec![to_element("<retract/>", &retract)?]),
    })
}

/// The items of an answer to [`items_request`] for `node` (XEP-0060 §6.5.3,
/// §6.5.9.11).
fn items_of(answer: IqAnswer, node: &str) -> Result<NodeItems, XmppError> {
    let payload = match answer {
        IqAnswer::Error(e) if e.defined_condition == DefinedCondition::ItemNotFound => {
            return Ok(NodeItems::NoSuchNode)
        }
        IqAnswer::Error(e) => return Err(XmppError::Stanza(condition_text(&e))),
        IqAnswer::Result(payload) => payload,
    };
    let bad = |why: String| XmppError::Protocol(format!("pubsub items answer: {why}"));
    let payload = payload.ok_or_else(|| bad("no <pubsub/>".into()))?;
    if !payload.is("pubsub", ns::PUBSUB) {
        return Err(bad(format!("<{}/> instead of <pubsub/>", payload.name())));
    }
    let items = payload
        .get_child("items", ns::PUBSUB)
        .ok_or_else(|| bad("no <items/>".into()))?;
    let items = Items::try_from(items.clone()).map_err(|e| bad(e.to_string()))?;
    if items.node.0 != node {
        return Err(bad(format!("items of node {:?}", items.node.0)));
    }
    items
        .items
        .into_iter()
        .map(|item| {
            Ok(PubsubItem {
                id: item.id.map(|id| id.0),
                payload: item
                    .payload
                    .as_ref()
                    .map(xml::element_to_string)
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, XmppError>>()
        .map(NodeItems::Items)
}

/// The defined condition of `error` (RFC 6120 §8.3.3), followed by its
/// application-specific condition in parentheses when there is one.
fn condition_text(error: &StanzaError) -> String {
    let defined = disco::condition_name(error);
    match &error.other {
        Some(other) => format!("{defined} ({})", other.name()),
        None => defined,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio_xmpp::parsers::stanza_error::ErrorType;

    fn text(iq: Iq) -> String {
        xml::stanza_to_string(&tokio_xmpp::Stanza::Iq(iq)).unwrap()
    }

    const PAYLOAD: &str = "<pubkey xmlns='urn:xmpp:pubkey:2'><KeyValue xmlns='http://www.w3.org/2000/09/xmldsig#'/></pubkey>";

    #[test]
    fn publish_carries_item_and_options() {
        let iq = publish_request(
            "urn:xmpp:pubkey:2",
            "current",
            parse_payload(PAYLOAD).unwrap(),
            &[("pubsub#access_model", "open"), ("pubsub#max_items", "1")],
        )
        .unwrap();
        assert!(iq.to().is_none(), "PEP publish goes to our own account");
        let out = text(iq);
        for want in [
            "type='set'",
            "<publish node='urn:xmpp:pubkey:2'>",
            "<item id='current'>",
            "<pubkey xmlns='urn:xmpp:pubkey:2'>",
            "<publish-options>",
            "type='submit'",
            "<value>http://jabber.org/protocol/pubsub#publish-options</value>",
            "var='pubsub#access_model'",
            "<value>open</value>",
            "var='pubsub#max_items'",
        ] {
            assert!(out.contains(want), "{want} missing in {out}");
        }
    }

    #[test]
    fn publish_without_options_has_no_form() {
        let iq = publish_request("n", "i", parse_payload(PAYLOAD).unwrap(), &[]).unwrap();
        assert!(!text(iq).contains("publish-options"));
    }

    #[test]
    fn payload_must_be_one_namespaced_element() {
        assert!(matches!(
            parse_payload("<pubkey/>"),
            Err(XmppError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_payload("not xml"),
            Err(XmppError::InvalidArgument(_))
        ));
    }

    #[test]
    fn configure_submits_node_config() {
        let out = text(configure_request("n", &[("pubsub#access_model", "presence")]).unwrap());
        for want in [
            "xmlns='http://jabber.org/protocol/pubsub#owner'",
            "<configure node='n'>",
            "<value>http://jabber.org/protocol/pubsub#node_config</value>",
            "var='pubsub#access_model'",
            "<value>presence</value>",
        ] {
            assert!(out.contains(want), "{want} missing in {out}");
        }
    }

    #[test]
    fn create_carries_node_config() {
        let out = text(create_request("n", &[("pubsub#max_items", "1")]).unwrap());
        for want in [
            "<create node='n'/>",
            "<configure>",
            "<value>http://jabber.org/protocol/pubsub#node_config</value>",
            "var='pubsub#max_items'",
            "<value>1</value>",
        ] {
            assert!(out.contains(want), "{want} missing in {out}");
        }
    }

    #[test]
    fn fallback_refusal_names_both_steps() {
        let e = error(DefinedCondition::Forbidden, None);
        match fallback_refused("resource-constraint", "configure", &e) {
            XmppError::Stanza(t) => assert_eq!(
                t,
                "forbidden (publish-options refused: resource-constraint; then configure refused)"
            ),
            other => unreachable!("{other:?}"),
        }
    }

    #[test]
    fn retract_does_not_notify() {
        let out = text(retract_request("n", "current").unwrap());
        assert!(out.contains("<retract node='n'"), "{out}");
        assert!(out.contains("<item id='current'/>"), "{out}");
        assert!(
            !out.contains("notify='true'") && !out.contains("notify='1'"),
            "{out}"
        );
    }

    #[test]
    fn items_request_addresses_the_contact() {
        let iq = items_request("bob@localhost".parse().unwrap(), "n").unwrap();
        assert_eq!(iq.to().unwrap().to_string(), "bob@localhost");
        assert!(matches!(iq, Iq::Get { .. }));
        assert!(text(iq).contains("<items node='n'/>"));
    }

    fn answer(xml: &str) -> IqAnswer {
        IqAnswer::Result(Some(xml.parse().unwrap()))
    }

    #[test]
    fn items_answer_parsed() {
        let a = answer(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'>\
             <item id='current'><pubkey xmlns='urn:xmpp:pubkey:2'><x/></pubkey></item>\
             <item id='empty'/></items></pubsub>",
        );
        let NodeItems::Items(items) = items_of(a, "n").unwrap() else {
            unreachable!()
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].id.as_deref(), Some("current"));
        let p = items[0].payload.as_deref().unwrap();
        assert!(p.starts_with("<pubkey xmlns='urn:xmpp:pubkey:2'>"), "{p}");
        assert_eq!(items[1].payload, None);
    }

    #[test]
    fn items_answer_hostile_shapes_are_errors() {
        for bad in [
            "<query xmlns='jabber:iq:version'/>",
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'/>",
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='other'/></pubsub>",
        ] {
            assert!(
                matches!(items_of(answer(bad), "n"), Err(XmppError::Protocol(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            items_of(IqAnswer::Result(None), "n"),
            Err(XmppError::Protocol(_))
        ));
    }

    fn error(condition: DefinedCondition, other: Option<Element>) -> StanzaError {
        let mut e = StanzaError::new(ErrorType::Cancel, condition, "en", "");
        e.other = other;
        e
    }

    #[test]
    fn missing_node_is_a_distinct_outcome() {
        let a = IqAnswer::Error(error(DefinedCondition::ItemNotFound, None));
        assert_eq!(items_of(a, "n").unwrap(), NodeItems::NoSuchNode);
        let a = IqAnswer::Error(error(DefinedCondition::Forbidden, None));
        match items_of(a, "n") {
            Err(XmppError::Stanza(c)) => assert_eq!(c, "forbidden"),
            other => unreachable!("{other:?}"),
        }
    }

    #[test]
    fn condition_text_names_the_application_condition() {
        let pnm = Element::builder("precondition-not-met", ns::PUBSUB_ERRORS).build();
        let e = error(DefinedCondition::Conflict, Some(pnm));
        assert_eq!(condition_text(&e), "conflict (precondition-not-met)");
    }
}
