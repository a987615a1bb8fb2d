//! Presence of every contact resource (RFC 6121 §4), and which resource a message goes to.
use std::collections::{BTreeMap, HashMap};

use esession::jid;
use esession::xml::{ns, Element};

/// Availability of one resource (RFC 6121 §4.7.2.1 `<show/>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Show {
    /// Do not disturb (`dnd`).
    DoNotDisturb,
    /// Extended away (`xa`).
    ExtendedAway,
    /// Away (`away`).
    Away,
    /// Available (no `<show/>`).
    Available,
    /// Free for chat (`chat`).
    Chat,
}

impl Show {
    /// `dnd`, `xa`, `away`, `available` or `chat`.
    pub fn name(self) -> &'static str {
        match self {
            Show::DoNotDisturb => "dnd",
            Show::ExtendedAway => "xa",
            Show::Away => "away",
            Show::Available => "available",
            Show::Chat => "chat",
        }
    }
}

/// What one incoming `<presence/>` (without encrypted content) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresenceUpdate {
    /// `full` is available (RFC 6121 §4.2, §4.7.2.1–3).
    Available {
        /// The resource's full JID.
        full: String,
        /// Its availability.
        show: Show,
        /// Its priority.
        priority: i8,
        /// Its entity capabilities (XEP-0115 §4), if it sent them.
        caps: Option<Caps>,
    },
    /// `full` went offline (RFC 6121 §4.5); a bare JID means all its resources.
    Unavailable {
        /// The JID that went offline.
        jid: String,
    },
    /// `from` asks to see our presence (RFC 6121 §3.1.2).
    SubscribeRequest {
        /// The contact's bare JID.
        from: String,
    },
    /// `from` approved (`subscribed`) or cancelled (`unsubscribed`) our subscription
    /// (RFC 6121 §3.1.5, §3.2).
    Subscription {
        /// The contact's bare JID.
        from: String,
        /// Whether it was approved.
        approved: bool,
    },
}

/// The entity capabilities of a resource (XEP-0115 §4): which software (`node`) and the
/// hash of its disco#info answer (`ver`, computed with `hash`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    /// The software's URI (e.g. `http://gajim.org`).
    pub node: String,
    /// The hash of its disco#info answer.
    pub ver: String,
    /// The hash function (`sha-1` is the one XEP-0115 §5.1 requires).
    pub hash: String,
}

impl Caps {
    /// The `<c/>` of a presence, if it has one with every attribute (XEP-0115 §4).
    fn of(presence: &Element) -> Option<Caps> {
        let c = presence.child("c", esession_xmpp::NS_CAPS)?;
        let attr = |a: &str| c.attr(a).filter(|v| !v.is_empty()).map(str::to_owned);
        Some(Caps {
            node: attr("node")?,
            ver: attr("ver")?,
            hash: attr("hash")?,
        })
    }

    /// The node of its disco#info query (XEP-0115 §6.2: `node#ver`).
    pub fn disco_node(&self) -> String {
        format!("{}#{}", self.node, self.ver)
    }
}

/// The update `stanza` carries, or `None` if it is not a presence we track (probes,
/// errors, presence without `from`, our own resources).
pub fn parse(stanza: &Element, own_bare: &str) -> Option<Result<PresenceUpdate, String>> {
    if !stanza.is("presence", ns::JABBER_CLIENT) {
        return None;
    }
    let from = stanza.attr("from")?.to_owned();
    if jid::bare(&from) == own_bare {
        return None;
    }
    let bare = jid::bare(&from).to_owned();
    Some(match stanza.attr("type") {
        None if jid::is_full(&from) => available(stanza, from),
        // RFC 6121 §4.7.1: available presence comes from a full JID.
        None => Err(format!("available presence from a bare JID ({from})")),
        Some("unavailable") => Ok(PresenceUpdate::Unavailable { jid: from }),
        Some("subscribe") => Ok(PresenceUpdate::SubscribeRequest { from: bare }),
        Some("subscribed") => Ok(PresenceUpdate::Subscription {
            from: bare,
            approved: true,
        }),
        Some("unsubscribed") => Ok(PresenceUpdate::Subscription {
            from: bare,
            approved: false,
        }),
        // RFC 6121 §4.7.1: probe, unsubscribe, error concern the server or carry nothing
        // about the contact's resources.
        Some(_) => return None,
    })
}

fn available(stanza: &Element, full: String) -> Result<PresenceUpdate, String> {
    // RFC 6121 §4.7.2.1: absent <show/> means available.
    let show = match stanza.child("show", ns::JABBER_CLIENT).map(|s| s.text()) {
        None => Show::Available,
        Some(s) => match s.trim() {
            "away" => Show::Away,
            "chat" => Show::Chat,
            "dnd" => Show::DoNotDisturb,
            "xa" => Show::ExtendedAway,
            other => return Err(format!("presence <show/> {other:?} is not defined")),
        },
    };
    // RFC 6121 §4.7.2.3: an integer in -128..=127, absent means 0.
    let priority = match stanza.child("priority", ns::JABBER_CLIENT) {
        None => 0,
        Some(p) => p
            .text()
            .trim()
            .parse()
            .map_err(|_| format!("presence <priority/> {:?} is not in -128..127", p.text()))?,
    };
    Ok(PresenceUpdate::Available {
        full,
        show,
        priority,
        caps: Caps::of(stanza),
    })
}

/// What a resource's disco#info answer advertises (XEP-0030 §3.1) of what this layer
/// uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// ESessions (XEP-0116 §3).
    pub esessions: bool,
    /// Message receipts (XEP-0184 §5).
    pub receipts: bool,
}

impl Features {
    /// The features of a disco#info `<query/>` (`None`: no answer, so neither).
    pub fn of(answer: Option<&Element>) -> Features {
        let has = |var: &str| {
            answer.is_some_and(|q| {
                q.children()
                    .any(|f| f.is("feature", ns::DISCO_INFO) && f.attr("var") == Some(var))
            })
        };
        Features {
            esessions: has(ns::ESESSION),
            receipts: has(crate::receipts::NS_RECEIPTS),
        }
    }
}

/// One online resource of a contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its availability.
    pub show: Show,
    /// Its priority.
    pub priority: i8,
    /// Whether it advertises ESessions (XEP-0116 §3 disco#info); `None` until known.
    pub esessions: Option<bool>,
    /// Whether it advertises message receipts (XEP-0184 §5 disco#info); `None` until
    /// known, or when only its ESession support was told
    /// ([`crate::Conversations::set_esessions`]).
    pub receipts: Option<bool>,
    /// Its entity capabilities (XEP-0115), if its last presence had them.
    pub caps: Option<Caps>,
    /// Whether it stopped answering in a session (no receipt, or a negotiation timed
    /// out) since its last presence.
    pub unresponsive: bool,
}

/// Where a message to a contact can go now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// This full JID: online and advertising ESessions.
    To(String),
    /// No resource is online.
    Offline,
    /// Online resources exist, but whether they support ESessions is not known yet.
    Unknown,
    /// Every online resource is known not to support ESessions.
    NoESessions,
    /// The resources that support ESessions stopped answering.
    NotResponding,
}

/// The online resources of every contact.
#[derive(Clone, Debug, Default)]
pub struct Presences {
    by_bare: HashMap<String, BTreeMap<String, Resource>>,
}

impl Presences {
    /// Records `full` as available; returns whether it is new (its features unknown).
    pub fn available(&mut self, full: &str, show: Show, priority: i8) -> bool {
        let resources = self.by_bare.entry(jid::bare(full).to_owned()).or_default();
        match resources.get_mut(full) {
            Some(r) => {
                r.show = show;
                r.priority = priority;
                // A fresh presence shows it is alive.
                r.unresponsive = false;
                false
            }
            None => {
                resources.insert(
                    full.to_owned(),
                    Resource {
                        show,
                        priority,
                        esessions: None,
                        receipts: None,
                        caps: None,
                        unresponsive: false,
                    },
                );
                true
            }
        }
    }

    /// Removes `jid` (a full JID, or every resource of a bare JID); returns the full JIDs
    /// that went offline.
    pub fn unavailable(&mut self, jid_: &str) -> Vec<String> {
        let bare = jid::bare(jid_);
        let Some(resources) = self.by_bare.get_mut(bare) else {
            return Vec::new();
        };
        let gone: Vec<String> = if jid::is_full(jid_) {
            resources
                .remove(jid_)
                .map(|_| jid_.to_owned())
                .into_iter()
                .collect()
        } else {
            std::mem::take(resources).into_keys().collect()
        };
        if resources.is_empty() {
            self.by_bare.remove(bare);
        }
        gone
    }

    /// Every online resource: its full JID and what is known of it.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Resource)> {
        self.by_bare.values().flatten()
    }

    /// Puts back `full` as it was known (a resumed stream, see
    /// [`crate::Conversations::resumed`]) unless a newer presence of it came meanwhile;
    /// whether it was put back.
    pub fn restore(&mut self, full: &str, resource: Resource) -> bool {
        let resources = self.by_bare.entry(jid::bare(full).to_owned()).or_default();
        if resources.contains_key(full) {
            return false;
        }
        resources.insert(full.to_owned(), resource);
        true
    }

    /// Records whether `full` advertises ESessions, and receipts if known; false if it is
    /// not online.
    pub fn set_features(&mut self, full: &str, esessions: bool, receipts: Option<bool>) -> bool {
        match self
            .by_bare
            .get_mut(jid::bare(full))
            .and_then(|r| r.get_mut(full))
        {
            Some(r) => {
                r.esessions = Some(esessions);
                r.receipts = receipts;
                true
            }
            None => false,
        }
    }

    /// Whether a receipt may come from `full`: false only when its disco#info lacks the
    /// receipts feature (XEP-0184 §5).
    pub fn acknowledges(&self, full: &str) -> bool {
        self.by_bare
            .get(jid::bare(full))
            .and_then(|r| r.get(full))
            .is_none_or(|r| r.receipts != Some(false))
    }

    /// Records the caps of `full`'s last presence; returns whether they changed.
    pub fn set_caps(&mut self, full: &str, caps: Option<Caps>) -> bool {
        match self
            .by_bare
            .get_mut(jid::bare(full))
            .and_then(|r| r.get_mut(full))
        {
            Some(r) if r.caps != caps => {
                r.caps = caps;
                true
            }
            _ => false,
        }
    }

    /// The caps of `full`, if online with caps.
    pub fn caps(&self, full: &str) -> Option<&Caps> {
        self.by_bare.get(jid::bare(full))?.get(full)?.caps.as_ref()
    }

    /// Marks `full` as not answering: it is chosen again only after a new presence.
    pub fn set_unresponsive(&mut self, full: &str) {
        if let Some(r) = self
            .by_bare
            .get_mut(jid::bare(full))
            .and_then(|r| r.get_mut(full))
        {
            r.unresponsive = true;
        }
    }

    /// The online resources of `bare`.
    pub fn resources(&self, bare: &str) -> impl Iterator<Item = (&String, &Resource)> {
        self.by_bare.get(bare).into_iter().flatten()
    }

    /// Where a message to `bare` goes: among the resources advertising ESessions, the one
    /// of highest priority, then the most available (RFC 6121 §8.5.2.1.1: resources of
    /// negative priority receive no messages to the bare JID, so they are not chosen).
    pub fn route(&self, bare: &str) -> Route {
        let online: Vec<(&String, &Resource)> = self
            .resources(bare)
            .filter(|(_, r)| r.priority >= 0)
            .collect();
        if online.is_empty() {
            return Route::Offline;
        }
        let capable = || online.iter().filter(|(_, r)| r.esessions == Some(true));
        let best = capable()
            .filter(|(_, r)| !r.unresponsive)
            .max_by_key(|(_, r)| (r.priority, r.show));
        match best {
            Some((full, _)) => Route::To((*full).clone()),
            None if online.iter().any(|(_, r)| r.esessions.is_none()) => Route::Unknown,
            None if capable().next().is_some() => Route::NotResponding,
            None => Route::NoESessions,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use esession::xml::{parse_element, Limits};

    fn update(xml: &str) -> Option<Result<PresenceUpdate, String>> {
        parse(&parse_element(xml, &Limits::default()).unwrap(), "alice@a")
    }

    #[test]
    fn presence_stanzas_are_read_per_rfc_6121() {
        assert_eq!(
            update(
                "<presence xmlns='jabber:client' from='bob@b/x'><show>away</show>\
                    <priority>5</priority></presence>"
            ),
            Some(Ok(PresenceUpdate::Available {
                full: "bob@b/x".into(),
                show: Show::Away,
                priority: 5,
                caps: None,
            }))
        );
        assert_eq!(
            update("<presence xmlns='jabber:client' from='bob@b/x' type='unavailable'/>"),
            Some(Ok(PresenceUpdate::Unavailable {
                jid: "bob@b/x".into()
            }))
        );
        assert_eq!(
            update("<presence xmlns='jabber:client' from='bob@b' type='subscribe'/>"),
            Some(Ok(PresenceUpdate::SubscribeRequest {
                from: "bob@b".into()
            }))
        );
        let Some(Ok(PresenceUpdate::Available { caps, .. })) = update(
            "<presence xmlns='jabber:client' from='bob@b/x'><c xmlns='http://jabber.org/protocol/caps' \
                    hash='sha-1' node='http://gajim.org' ver='abc='/></presence>",
        ) else {
            panic!("not available")
        };
        let caps = caps.unwrap();
        assert_eq!(caps.node, "http://gajim.org");
        assert_eq!(caps.disco_node(), "http://gajim.org#abc=");
        assert!(update("<presence xmlns='jabber:client' from='alice@a/other'/>").is_none());
        assert!(update(
            "<presence xmlns='jabber:client' from='bob@b/x'><priority>300</priority>\
                        </presence>"
        )
        .unwrap()
        .is_err());
        assert!(update(
            "<presence xmlns='jabber:client' from='bob@b/x'><show>busy</show>\
                        </presence>"
        )
        .unwrap()
        .is_err());
    }

    #[test]
    fn the_route_is_the_best_resource_that_supports_esessions() {
        let mut p = Presences::default();
        assert_eq!(p.route("bob@b"), Route::Offline);
        assert!(p.available("bob@b/phone", Show::Away, 5));
        assert!(p.available("bob@b/pc", Show::Available, 5));
        assert!(p.available("bob@b/old", Show::Chat, 10));
        assert_eq!(p.route("bob@b"), Route::Unknown);
        p.set_features("bob@b/old", false, None);
        p.set_features("bob@b/phone", true, None);
        assert_eq!(p.route("bob@b"), Route::To("bob@b/phone".into()));
        p.set_features("bob@b/pc", true, None);
        assert_eq!(p.route("bob@b"), Route::To("bob@b/pc".into()));
        p.set_unresponsive("bob@b/pc");
        assert_eq!(p.route("bob@b"), Route::To("bob@b/phone".into()));
        p.set_unresponsive("bob@b/phone");
        assert_eq!(p.route("bob@b"), Route::NotResponding);
        p.available("bob@b/phone", Show::Away, 5);
        assert_eq!(p.route("bob@b"), Route::To("bob@b/phone".into()));
        assert_eq!(p.unavailable("bob@b/pc"), vec!["bob@b/pc".to_owned()]);
        assert_eq!(p.route("bob@b"), Route::To("bob@b/phone".into()));
        p.unavailable("bob@b/phone");
        assert_eq!(p.route("bob@b"), Route::NoESessions);
        assert_eq!(p.unavailable("bob@b"), vec!["bob@b/old".to_owned()]);
        assert_eq!(p.route("bob@b"), Route::Offline);
    }
}
