//! The roster (RFC 6121 §2): the contact list the server keeps for the account, and the
//! subscription requests that fill it (RFC 6121 §3).
use std::collections::BTreeMap;

use esession::jid;
use esession::xml::{ns, Element};

/// The roster namespace (RFC 6121 §2.1.1).
pub const NS_ROSTER: &str = "jabber:iq:roster";

/// The subscription state of a roster item (RFC 6121 §2.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// Neither side sees the other's presence.
    None,
    /// We see the contact's presence.
    To,
    /// The contact sees ours.
    From,
    /// Both.
    Both,
    /// The item was removed (roster pushes only, RFC 6121 §2.5.2).
    Remove,
}

impl Subscription {
    /// The attribute value.
    pub fn name(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
            Subscription::Remove => "remove",
        }
    }

    fn parse(value: Option<&str>) -> Result<Self, String> {
        // RFC 6121 §2.1.2.5: absent means "none".
        Ok(match value.unwrap_or("none") {
            "none" => Subscription::None,
            "to" => Subscription::To,
            "from" => Subscription::From,
            "both" => Subscription::Both,
            "remove" => Subscription::Remove,
            other => return Err(format!("roster item subscription {other:?} is not defined")),
        })
    }
}

/// One contact of the roster (RFC 6121 §2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterItem {
    /// The contact's bare JID.
    pub jid: String,
    /// The name the user gave the contact.
    pub name: Option<String>,
    /// The subscription state.
    pub subscription: Subscription,
    /// Whether our subscription request is pending (`ask='subscribe'`, §2.1.2.2).
    pub pending_out: bool,
}

/// The roster as last fetched and pushed.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    items: BTreeMap<String, RosterItem>,
}

impl Roster {
    /// Applies an item from a roster result or push: `remove` deletes it (RFC 6121 §2.5.2).
    pub fn apply(&mut self, item: RosterItem) {
        if item.subscription == Subscription::Remove {
            self.items.remove(&item.jid);
        } else {
            self.items.insert(item.jid.clone(), item);
        }
    }

    /// Every item, by JID.
    pub fn items(&self) -> impl Iterator<Item = &RosterItem> {
        self.items.values()
    }

    /// The item of `bare`, if on the roster.
    pub fn get(&self, bare: &str) -> Option<&RosterItem> {
        self.items.get(bare)
    }
}

/// The payload of a roster get (RFC 6121 §2.1.3): an empty `<query/>`.
pub fn query() -> Element {
    Element::new("query", NS_ROSTER)
}

/// The payload of a roster set adding (or updating) `jid` (RFC 6121 §2.3.1).
pub fn add_item(jid: &str) -> Element {
    query().with_child(Element::new("item", NS_ROSTER).with_attr("jid", jid::bare(jid)))
}

/// The payload of a roster set removing `jid` (RFC 6121 §2.5.2: `subscription='remove'`;
/// the server also cancels the subscriptions both ways).
pub fn remove_item(jid: &str) -> Element {
    query().with_child(
        Element::new("item", NS_ROSTER)
            .with_attr("jid", jid::bare(jid))
            .with_attr("subscription", Subscription::Remove.name()),
    )
}

/// The items of a `<query xmlns='jabber:iq:roster'/>` (a roster result or push).
pub fn parse_items(query: &Element) -> Result<Vec<RosterItem>, String> {
    if !query.is("query", NS_ROSTER) {
        return Err(format!("<{}/> is not a roster query", query.name()));
    }
    query
        .children()
        .filter(|c| c.is("item", NS_ROSTER))
        .map(|item| {
            let jid = item
                .attr("jid")
                .filter(|j| !j.is_empty())
                .ok_or("roster item without a jid")?;
            Ok(RosterItem {
                jid: jid::bare(jid).to_owned(),
                name: item.attr("name").map(str::to_owned),
                subscription: Subscription::parse(item.attr("subscription"))?,
                pending_out: item.attr("ask") == Some("subscribe"),
            })
        })
        .collect()
}

/// The query of a roster push (an iq set carrying a roster query, RFC 6121 §2.1.6), or
/// `None` if `stanza` is not one. A push not from our own account is refused (§2.1.6:
/// the client MUST ignore it), as `Err`.
pub fn push_query<'a>(stanza: &'a Element, own_bare: &str) -> Option<Result<&'a Element, String>> {
    if !stanza.is("iq", ns::JABBER_CLIENT) || stanza.attr("type") != Some("set") {
        return None;
    }
    let query = stanza.child("query", NS_ROSTER)?;
    match stanza.attr("from") {
        None => Some(Ok(query)),
        Some(from) if from == own_bare => Some(Ok(query)),
        Some(from) => Some(Err(format!(
            "roster push from {from}, not from our account"
        ))),
    }
}

/// The empty result acknowledging a roster push (RFC 6121 §2.1.6).
pub fn push_ack(push: &Element) -> Element {
    let mut ack = Element::new("iq", ns::JABBER_CLIENT).with_attr("type", "result");
    if let Some(id) = push.attr("id") {
        ack.set_attr("id", id);
    }
    ack
}

/// A subscription request to `jid` (RFC 6121 §3.1.1).
pub fn subscribe(jid: &str) -> Element {
    subscription(jid, "subscribe")
}

/// Approval of `jid`'s subscription request (RFC 6121 §3.1.4), also pre-approval (§3.4).
pub fn approve(jid: &str) -> Element {
    subscription(jid, "subscribed")
}

/// Denial of `jid`'s subscription request, or cancellation of a subscription granted before
/// (RFC 6121 §3.2.1: `unsubscribed`).
pub fn deny(jid: &str) -> Element {
    subscription(jid, "unsubscribed")
}

fn subscription(jid: &str, kind: &str) -> Element {
    Element::new("presence", ns::JABBER_CLIENT)
        .with_attr("to", jid::bare(jid))
        .with_attr("type", kind)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::xml::{parse_element, Limits};

    fn el(xml: &str) -> Element {
        parse_element(xml, &Limits::default()).unwrap()
    }

    #[test]
    fn a_result_fills_the_roster_and_a_remove_push_empties_it() {
        let q = el(
            "<query xmlns='jabber:iq:roster'><item jid='bob@b/x' name='Bob' \
                    subscription='both'/><item jid='carol@c' ask='subscribe'/></query>",
        );
        let mut roster = Roster::default();
        for i in parse_items(&q).unwrap() {
            roster.apply(i);
        }
        let bob = roster.get("bob@b").unwrap();
        assert_eq!(bob.subscription, Subscription::Both);
        assert_eq!(bob.name.as_deref(), Some("Bob"));
        let carol = roster.get("carol@c").unwrap();
        assert_eq!(carol.subscription, Subscription::None);
        assert!(carol.pending_out);
        let push = el(
            "<iq xmlns='jabber:client' type='set' id='p1'><query xmlns='jabber:iq:roster'>\
                       <item jid='bob@b' subscription='remove'/></query></iq>",
        );
        let q = push_query(&push, "alice@a").unwrap().unwrap();
        for i in parse_items(q).unwrap() {
            roster.apply(i);
        }
        assert!(roster.get("bob@b").is_none());
        assert_eq!(push_ack(&push).attr("id"), Some("p1"));
        assert_eq!(
            remove_item("bob@b/x").to_string(),
            r#"<query xmlns="jabber:iq:roster"><item jid="bob@b" subscription="remove"/></query>"#
        );
        assert_eq!(
            deny("bob@b/x").to_string(),
            r#"<presence xmlns="jabber:client" to="bob@b" type="unsubscribed"/>"#
        );
    }

    #[test]
    fn a_push_from_someone_else_and_a_bad_item_are_refused() {
        let push = el(
            "<iq xmlns='jabber:client' type='set' from='mallory@m' id='p'>\
                       <query xmlns='jabber:iq:roster'/></iq>",
        );
        assert!(push_query(&push, "alice@a").unwrap().is_err());
        let bad =
            el("<query xmlns='jabber:iq:roster'><item jid='x@y' subscription='all'/></query>");
        assert!(parse_items(&bad).unwrap_err().contains("all"));
        let nojid = el("<query xmlns='jabber:iq:roster'><item/></query>");
        assert!(parse_items(&nojid).is_err());
    }
}
