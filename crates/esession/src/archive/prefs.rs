//! XEP-0136 §2 archiving preferences: the `<pref/>` element, and the precedence rules of
//! §2.8 that give one contact's OTR and Save Modes.
use super::{bad, jid_matches, xs_bool, ArchiveError, NS};
use crate::xml::Element;

/// XEP-0136 §2.2.2.2 OTR Mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtrMode {
    /// The user must explicitly approve off-the-record communication.
    Approve,
    /// Communications may be off the record if requested by another user.
    Concede,
    /// Communications must not be off the record.
    Forbid,
    /// Communications should not be off the record even if requested.
    Oppose,
    /// Communications should be off the record if possible.
    Prefer,
    /// Communications must be off the record.
    Require,
}

impl OtrMode {
    /// Every mode.
    pub const ALL: [OtrMode; 6] = [
        OtrMode::Approve,
        OtrMode::Concede,
        OtrMode::Forbid,
        OtrMode::Oppose,
        OtrMode::Prefer,
        OtrMode::Require,
    ];

    /// The wire value.
    pub fn name(self) -> &'static str {
        match self {
            OtrMode::Approve => "approve",
            OtrMode::Concede => "concede",
            OtrMode::Forbid => "forbid",
            OtrMode::Oppose => "oppose",
            OtrMode::Prefer => "prefer",
            OtrMode::Require => "require",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// XEP-0136 §2.2.2.3 Save Mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaveMode {
    /// Save only `<body/>` elements.
    Body,
    /// Save nothing.
    False,
    /// Save the full XML of each message.
    Message,
    /// Save every byte of the stream (out of the XEP's scope).
    Stream,
}

impl SaveMode {
    /// Every mode.
    pub const ALL: [SaveMode; 4] = [
        SaveMode::Body,
        SaveMode::False,
        SaveMode::Message,
        SaveMode::Stream,
    ];

    /// The wire value.
    pub fn name(self) -> &'static str {
        match self {
            SaveMode::Body => "body",
            SaveMode::False => "false",
            SaveMode::Message => "message",
            SaveMode::Stream => "stream",
        }
    }

    /// Parses a wire value.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether anything is saved.
    pub fn saves(self) -> bool {
        self != SaveMode::False
    }
}

/// XEP-0136 §2.2.3 `<item/>`: the modes for one contact (or domain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemPref {
    /// The JID the item applies to (§10.1 matching).
    pub jid: String,
    /// OTR Mode.
    pub otr: OtrMode,
    /// Save Mode.
    pub save: SaveMode,
    /// Seconds after which the server should delete saved messages.
    pub expire: Option<u64>,
    /// `exactmatch` (§10.1).
    pub exact: bool,
}

/// XEP-0136 §2.2.4 `<session/>`: the Save Mode for one chat session (thread).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPref {
    /// The session's thread ID.
    pub thread: String,
    /// Save Mode.
    pub save: SaveMode,
    /// OTR Mode (as the §2.5 example carries it), if given.
    pub otr: Option<OtrMode>,
}

/// A user's archiving preferences (XEP-0136 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefs {
    /// Default OTR Mode.
    pub default_otr: OtrMode,
    /// Default Save Mode.
    pub default_save: SaveMode,
    /// Default expiry in seconds.
    pub default_expire: Option<u64>,
    /// The user never set the defaults (§2.3 `unset`).
    pub unset: bool,
    /// Automatic archiving for this stream (§2.2.1), when the server said.
    pub auto_save: Option<bool>,
    /// Per-contact modes.
    pub items: Vec<ItemPref>,
    /// Per-session Save Modes.
    pub sessions: Vec<SessionPref>,
}

impl Default for Prefs {
    /// What a server answers for a user who never set anything (the §2.3 example):
    /// otr `concede`, save `false`, unset.
    fn default() -> Self {
        Prefs {
            default_otr: OtrMode::Concede,
            default_save: SaveMode::False,
            default_expire: None,
            unset: true,
            auto_save: None,
            items: Vec::new(),
            sessions: Vec::new(),
        }
    }
}

fn otr_attr(e: &Element) -> Result<OtrMode, ArchiveError> {
    let v = e
        .attr("otr")
        .ok_or(ArchiveError::Missing("otr attribute"))?;
    OtrMode::from_name(v).ok_or_else(|| bad("otr", v))
}

fn save_attr(e: &Element) -> Result<SaveMode, ArchiveError> {
    let v = e
        .attr("save")
        .ok_or(ArchiveError::Missing("save attribute"))?;
    SaveMode::from_name(v).ok_or_else(|| bad("save", v))
}

fn expire_attr(e: &Element) -> Result<Option<u64>, ArchiveError> {
    e.attr("expire")
        .map(|v| v.parse().map_err(|_| bad("expire", v)))
        .transpose()
}

/// XEP-0136 §2.2.2.2 note: OTR `require` needs Save Mode `false`.
fn check_pair(otr: OtrMode, save: SaveMode) -> Result<(), ArchiveError> {
    if otr == OtrMode::Require && save.saves() {
        return Err(bad(
            "save with otr='require' (must be 'false')",
            save.name(),
        ));
    }
    Ok(())
}

impl Prefs {
    /// XEP-0136 §2.3: the request `<pref xmlns='urn:xmpp:archive'/>` (iq get).
    pub fn get_request() -> Element {
        Element::new("pref", NS)
    }

    /// Parses the `<pref/>` of a §2.3 answer. Unknown children are ignored.
    pub fn parse(pref: &Element) -> Result<Prefs, ArchiveError> {
        if !pref.is("pref", NS) {
            return Err(ArchiveError::Unexpected("pref"));
        }
        let mut p = Prefs::default();
        let mut seen_default = false;
        for c in pref.children().filter(|c| c.ns() == NS) {
            match c.name() {
                "default" => {
                    p.default_otr = otr_attr(c)?;
                    p.default_save = save_attr(c)?;
                    p.default_expire = expire_attr(c)?;
                    p.unset = c.attr("unset").and_then(xs_bool).unwrap_or(false);
                    seen_default = true;
                }
                "auto" => {
                    let v = c.attr("save").ok_or(ArchiveError::Missing("auto save"))?;
                    p.auto_save = Some(xs_bool(v).ok_or_else(|| bad("auto save", v))?);
                }
                "item" => p.items.push(ItemPref {
                    jid: c
                        .attr("jid")
                        .ok_or(ArchiveError::Missing("item jid"))?
                        .to_owned(),
                    otr: otr_attr(c)?,
                    save: save_attr(c)?,
                    expire: expire_attr(c)?,
                    exact: c.attr("exactmatch").and_then(xs_bool).unwrap_or(false),
                }),
                "session" => p.sessions.push(SessionPref {
                    thread: c
                        .attr("thread")
                        .ok_or(ArchiveError::Missing("session thread"))?
                        .to_owned(),
                    save: save_attr(c)?,
                    otr: c
                        .attr("otr")
                        .map(|v| OtrMode::from_name(v).ok_or_else(|| bad("otr", v)))
                        .transpose()?,
                }),
                _ => {}
            }
        }
        // §2.2: a server's answer MUST include <default/>.
        if !seen_default {
            return Err(ArchiveError::Missing("default element"));
        }
        Ok(p)
    }

    /// The `<item/>` that applies to `peer` (§10.1): the full JID's, else the bare JID's,
    /// else the domain's.
    pub fn item_for(&self, peer: &str) -> Option<&ItemPref> {
        let specificity = |i: &ItemPref| {
            if crate::jid::is_full(&i.jid) {
                3
            } else if i.jid.contains('@') {
                2
            } else {
                1
            }
        };
        self.items
            .iter()
            .filter(|i| jid_matches(&i.jid, peer, i.exact))
            .max_by_key(|i| specificity(i))
    }

    /// §2.8: the OTR Mode for `peer`: its item's, else the default.
    pub fn otr_for(&self, peer: &str) -> OtrMode {
        self.item_for(peer).map_or(self.default_otr, |i| i.otr)
    }

    /// §2.8: the Save Mode for a message with `peer` on `thread`: the session's, else the
    /// contact's item's, else the default.
    pub fn save_for(&self, peer: &str, thread: Option<&str>) -> SaveMode {
        if let Some(s) = thread.and_then(|t| self.sessions.iter().find(|s| s.thread == t)) {
            return s.save;
        }
        self.item_for(peer).map_or(self.default_save, |i| i.save)
    }

    /// §2.4: sets the default modes (iq set).
    pub fn set_default_request(
        otr: OtrMode,
        save: SaveMode,
        expire: Option<u64>,
    ) -> Result<Element, ArchiveError> {
        check_pair(otr, save)?;
        let mut d = Element::new("default", NS)
            .with_attr("otr", otr.name())
            .with_attr("save", save.name());
        if let Some(e) = expire {
            d.set_attr("expire", e.to_string());
        }
        Ok(Element::new("pref", NS).with_child(d))
    }

    /// §2.5: sets the modes for one contact (iq set).
    pub fn set_item_request(item: &ItemPref) -> Result<Element, ArchiveError> {
        check_pair(item.otr, item.save)?;
        if item.jid.is_empty() {
            return Err(ArchiveError::Missing("item jid"));
        }
        let mut i = Element::new("item", NS)
            .with_attr("jid", item.jid.as_str())
            .with_attr("otr", item.otr.name())
            .with_attr("save", item.save.name());
        if let Some(e) = item.expire {
            i.set_attr("expire", e.to_string());
        }
        if item.exact {
            i.set_attr("exactmatch", "true");
        }
        Ok(Element::new("pref", NS).with_child(i))
    }

    /// §2.6: sets the Save Mode for one chat session (iq set).
    pub fn set_session_request(session: &SessionPref) -> Result<Element, ArchiveError> {
        if session.thread.is_empty() {
            return Err(ArchiveError::Missing("session thread"));
        }
        let mut s = Element::new("session", NS)
            .with_attr("thread", session.thread.as_str())
            .with_attr("save", session.save.name());
        if let Some(o) = session.otr {
            check_pair(o, session.save)?;
            s.set_attr("otr", o.name());
        }
        Ok(Element::new("pref", NS).with_child(s))
    }

    /// §2.5: removes the modes for one contact (`<itemremove/>`, iq set).
    pub fn remove_item_request(jid: &str) -> Element {
        Element::new("itemremove", NS).with_child(Element::new("item", NS).with_attr("jid", jid))
    }

    /// §2.6: removes the Save Mode of one session (`<sessionremove/>`, iq set).
    pub fn remove_session_request(thread: &str) -> Element {
        Element::new("sessionremove", NS)
            .with_child(Element::new("session", NS).with_attr("thread", thread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    const EXAMPLE: &str = "<pref xmlns='urn:xmpp:archive'>\
        <auto save='false'/>\
        <default expire='31536000' otr='concede' save='body'/>\
        <item jid='romeo@montague.net' otr='require' save='false'/>\
        <item expire='630720000' jid='benvolio@montague.net' otr='forbid' save='message'/>\
        <item jid='montague.net' otr='prefer' save='false'/>\
        <session thread='ffd7076498744578d10edabfe7f4a866' save='body'/>\
        <method type='auto' use='forbid'/>\
        </pref>";

    #[test]
    fn the_section_2_example_parses_and_precedence_follows_2_8() {
        let p = Prefs::parse(&parse_element(EXAMPLE, &Limits::default()).unwrap()).unwrap();
        assert_eq!(p.auto_save, Some(false));
        assert_eq!(
            (p.default_otr, p.default_save, p.default_expire, p.unset),
            (OtrMode::Concede, SaveMode::Body, Some(31536000), false)
        );
        assert_eq!(p.otr_for("romeo@montague.net/orchard"), OtrMode::Require);
        assert_eq!(p.otr_for("benvolio@montague.net"), OtrMode::Forbid);
        // The domain item covers other montague.net contacts; others get the default.
        assert_eq!(p.otr_for("tybalt@montague.net"), OtrMode::Prefer);
        assert_eq!(p.otr_for("nurse@capulet.com"), OtrMode::Concede);
        assert_eq!(p.save_for("romeo@montague.net", None), SaveMode::False);
        // The session's save wins over the contact's.
        assert_eq!(
            p.save_for(
                "romeo@montague.net",
                Some("ffd7076498744578d10edabfe7f4a866")
            ),
            SaveMode::Body
        );
        assert_eq!(
            p.save_for("benvolio@montague.net", Some("t")),
            SaveMode::Message
        );
    }

    #[test]
    fn bad_preferences_name_what_is_wrong() {
        let parse = |s: &str| Prefs::parse(&parse_element(s, &Limits::default()).unwrap());
        assert_eq!(
            parse("<pref xmlns='urn:xmpp:archive'/>"),
            Err(ArchiveError::Missing("default element"))
        );
        assert_eq!(
            parse("<pref xmlns='urn:xmpp:archive'><default otr='maybe' save='body'/></pref>"),
            Err(bad("otr", "maybe"))
        );
        assert_eq!(
            parse("<pref xmlns='urn:xmpp:archive'><default otr='concede' save='body' expire='-1'/></pref>"),
            Err(bad("expire", "-1"))
        );
        assert_eq!(
            parse("<pref xmlns='urn:xmpp:other'/>"),
            Err(ArchiveError::Unexpected("pref"))
        );
        // §2.2.2.2: require with a saving mode is refused before it is sent.
        assert!(Prefs::set_default_request(OtrMode::Require, SaveMode::Body, None).is_err());
        let item = ItemPref {
            jid: "a@x".into(),
            otr: OtrMode::Require,
            save: SaveMode::Message,
            expire: None,
            exact: false,
        };
        assert!(Prefs::set_item_request(&item).is_err());
    }

    #[test]
    fn set_requests_round_trip_through_parse() {
        let d = Prefs::set_default_request(OtrMode::Prefer, SaveMode::Body, Some(60)).unwrap();
        assert_eq!(
            d.to_string(),
            "<pref xmlns=\"urn:xmpp:archive\"><default otr=\"prefer\" save=\"body\" expire=\"60\"/></pref>"
        );
        let p = Prefs::parse(&d).unwrap();
        assert_eq!(
            (p.default_otr, p.default_save),
            (OtrMode::Prefer, SaveMode::Body)
        );
        let item = ItemPref {
            jid: "a@x".into(),
            otr: OtrMode::Forbid,
            save: SaveMode::Body,
            expire: None,
            exact: true,
        };
        let mut e = Prefs::set_item_request(&item).unwrap();
        e.push(
            Element::new("default", NS)
                .with_attr("otr", "concede")
                .with_attr("save", "false"),
        );
        let p = Prefs::parse(&e).unwrap();
        assert_eq!(p.items, vec![item]);
        assert_eq!(p.otr_for("a@x"), OtrMode::Forbid);
        assert_eq!(p.otr_for("a@x/r"), OtrMode::Concede, "exactmatch");
        let s = SessionPref {
            thread: "t1".into(),
            save: SaveMode::False,
            otr: None,
        };
        let mut e = Prefs::set_session_request(&s).unwrap();
        e.push(
            Element::new("default", NS)
                .with_attr("otr", "concede")
                .with_attr("save", "body"),
        );
        assert_eq!(
            Prefs::parse(&e).unwrap().save_for("a@x", Some("t1")),
            SaveMode::False
        );
        assert_eq!(
            Prefs::remove_item_request("a@x").to_string(),
            "<itemremove xmlns=\"urn:xmpp:archive\"><item jid=\"a@x\"/></itemremove>"
        );
    }
}
