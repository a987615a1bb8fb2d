//! XEP-0136 §4 collections (`<chat/>`), §5.2 manual upload (`<save/>`) and §7 archive
//! management (`<list/>`, `<retrieve/>`, `<remove/>`).
use super::{bad, clipped, ArchiveError, RsmQuery, RsmResult, MAX_ENTRIES, NS};
use crate::time::Timestamp;
use crate::xml::{ns, Element};

/// Who sent an archived message (XEP-0136 §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<to/>`: we sent it to the collection's `with`.
    To,
    /// `<from/>`: we received it from `with`.
    From,
}

impl Direction {
    /// The element name.
    pub fn name(self) -> &'static str {
        match self {
            Direction::To => "to",
            Direction::From => "from",
        }
    }
}

/// One archived message (XEP-0136 §4.6): its direction, time and `<body/>` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Sent or received.
    pub dir: Direction,
    /// Whole seconds after the previous message (or the collection's start).
    pub secs: Option<u64>,
    /// Absolute UTC time (XEP-0082), instead of `secs` (§5.4).
    pub utc: Option<String>,
    /// The `<body/>` text (not empty: §4.6 forbids empty entries).
    pub body: String,
}

/// A collection (XEP-0136 §4): identified by `with` and `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// The JID the messages were exchanged with.
    pub with: String,
    /// The start time, XEP-0082 UTC DateTime.
    pub start: String,
    /// The XEP-0201 thread of the conversation.
    pub thread: Option<String>,
    /// A friendly name.
    pub subject: Option<String>,
    /// The server's version number (§4.4), in answers only.
    pub version: Option<u32>,
    /// The messages (one page when retrieved).
    pub entries: Vec<Entry>,
}

/// A §7.1 list query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only collections with this JID (§10.1 matching).
    pub with: Option<String>,
    /// Only collections on or after this time.
    pub start: Option<String>,
    /// Only collections before this time.
    pub end: Option<String>,
    /// The page.
    pub rsm: RsmQuery,
}

/// A start time must be an XEP-0082 UTC DateTime (§4.1).
fn check_time(what: &'static str, v: &str) -> Result<(), ArchiveError> {
    if Timestamp::is_datetime(v) {
        Ok(())
    } else {
        Err(bad(what, v))
    }
}

fn with_rsm(mut e: Element, rsm: &RsmQuery) -> Element {
    if let Some(set) = rsm.to_element() {
        e.push(set);
    }
    e
}

impl Collection {
    /// A new collection with `with` starting at `start`, no entries yet.
    pub fn new(with: &str, start: Timestamp, thread: Option<&str>) -> Self {
        Collection {
            with: with.to_owned(),
            start: start.to_datetime(),
            thread: thread.map(str::to_owned),
            subject: None,
            version: None,
            entries: Vec::new(),
        }
    }

    /// The `<chat/>` header (attributes only).
    fn header(&self) -> Element {
        let mut chat = Element::new("chat", NS)
            .with_attr("with", self.with.as_str())
            .with_attr("start", self.start.as_str());
        if let Some(t) = &self.thread {
            chat.set_attr("thread", t.as_str());
        }
        if let Some(s) = &self.subject {
            chat.set_attr("subject", s.as_str());
        }
        chat
    }

    /// §5.2: the `<save/>` upload of this collection (iq set). Entries with an empty
    /// body are refused (§4.6: `<to/>`/`<from/>` MUST NOT be empty).
    pub fn save_request(&self) -> Result<Element, ArchiveError> {
        check_time("chat start", &self.start)?;
        if self.with.is_empty() {
            return Err(ArchiveError::Missing("chat with"));
        }
        let mut chat = self.header();
        for e in &self.entries {
            if e.body.is_empty() {
                return Err(ArchiveError::Missing("body of an entry"));
            }
            let mut el = Element::new(e.dir.name(), NS);
            if let Some(s) = e.secs {
                el.set_attr("secs", s.to_string());
            }
            if let Some(u) = &e.utc {
                el.set_attr("utc", u.as_str());
            }
            chat.push(el.with_child(Element::new("body", NS).with_text(e.body.as_str())));
        }
        Ok(Element::new("save", NS).with_child(chat))
    }

    /// Parses a `<chat/>` (a §7.2 answer page, or a §7.1 list item without entries) and
    /// its `<set/>`. Notes, links and forms are skipped.
    pub fn parse(chat: &Element) -> Result<(Collection, Option<RsmResult>), ArchiveError> {
        if !chat.is("chat", NS) {
            return Err(ArchiveError::Unexpected("chat"));
        }
        let with = chat
            .attr("with")
            .ok_or(ArchiveError::Missing("chat with"))?;
        let start = chat
            .attr("start")
            .ok_or(ArchiveError::Missing("chat start"))?;
        check_time("chat start", start)?;
        let version = chat
            .attr("version")
            .map(|v| v.parse().map_err(|_| bad("chat version", v)))
            .transpose()?;
        let mut entries = Vec::new();
        for c in chat.children().filter(|c| c.ns() == NS) {
            let dir = match c.name() {
                "to" => Direction::To,
                "from" => Direction::From,
                _ => continue,
            };
            if entries.len() >= MAX_ENTRIES {
                return Err(ArchiveError::TooMany(MAX_ENTRIES));
            }
            let secs = c
                .attr("secs")
                .map(|v| v.parse().map_err(|_| bad("secs", v)))
                .transpose()?;
            let utc = c.attr("utc").map(str::to_owned);
            if let Some(u) = &utc {
                check_time("utc", u)?;
            }
            // The body is in the archive namespace (as uploaded) or jabber:client.
            let body = c
                .children()
                .find(|b| b.name() == "body" && (b.ns() == NS || b.ns() == ns::JABBER_CLIENT))
                .ok_or(ArchiveError::Missing("body of an entry"))?
                .text();
            entries.push(Entry {
                dir,
                secs,
                utc,
                body,
            });
        }
        let collection = Collection {
            with: with.to_owned(),
            start: start.to_owned(),
            thread: chat.attr("thread").map(str::to_owned),
            subject: chat.attr("subject").map(str::to_owned),
            version,
            entries,
        };
        Ok((collection, RsmResult::from_parent(chat)?))
    }

    /// §7.2: parses the answer to a `<retrieve/>` of the collection with `with` started
    /// at `start`, refusing any other collection: its bodies are opened against its
    /// header, so a server answering with Bob's collection would have it shown as
    /// Alice's (found in review). §4 and §7.2: `with` and `start` together identify a
    /// collection; `with` must be the same string, `start` the same second however
    /// written (§4.1: an XEP-0082 DateTime, whose text the server may normalize).
    pub fn parse_retrieved(
        chat: &Element,
        with: &str,
        start: &str,
    ) -> Result<(Collection, Option<RsmResult>), ArchiveError> {
        let (c, rsm) = Collection::parse(chat)?;
        if c.with != with || !Timestamp::same_datetime(&c.start, start) {
            return Err(ArchiveError::OtherCollection {
                asked_with: clipped(with),
                asked_start: clipped(start),
                with: clipped(&c.with),
                start: clipped(&c.start),
            });
        }
        Ok((c, rsm))
    }
}

/// §5.2: the version the server gave an upload (`<save><chat version/></save>`), if any.
pub fn parse_saved(save: &Element) -> Result<Option<u32>, ArchiveError> {
    if !save.is("save", NS) {
        return Err(ArchiveError::Unexpected("save"));
    }
    match save.child("chat", NS) {
        Some(chat) => Ok(Collection::parse(chat)?.0.version),
        None => Ok(None),
    }
}

/// §7.1: the `<list/>` request (iq get).
pub fn list_request(q: &ListQuery) -> Result<Element, ArchiveError> {
    let mut list = Element::new("list", NS);
    if let Some(w) = &q.with {
        list.set_attr("with", w.as_str());
    }
    for (name, v) in [("start", &q.start), ("end", &q.end)] {
        if let Some(v) = v {
            check_time("list range", v)?;
            list.set_attr(name, v.as_str());
        }
    }
    Ok(with_rsm(list, &q.rsm))
}

/// §7.1: the collections of a `<list/>` answer (headers only) and its page description.
/// An answer with no collections is an empty `<list/>`.
pub fn parse_list(list: &Element) -> Result<(Vec<Collection>, Option<RsmResult>), ArchiveError> {
    if !list.is("list", NS) {
        return Err(ArchiveError::Unexpected("list"));
    }
    let mut out = Vec::new();
    for chat in list.children().filter(|c| c.is("chat", NS)) {
        if out.len() >= MAX_ENTRIES {
            return Err(ArchiveError::TooMany(MAX_ENTRIES));
        }
        out.push(Collection::parse(chat)?.0);
    }
    Ok((out, RsmResult::from_parent(list)?))
}

/// §7.2: the `<retrieve/>` request for one collection (iq get).
pub fn retrieve_request(with: &str, start: &str, rsm: &RsmQuery) -> Result<Element, ArchiveError> {
    check_time("retrieve start", start)?;
    let e = Element::new("retrieve", NS)
        .with_attr("with", with)
        .with_attr("start", start);
    Ok(with_rsm(e, rsm))
}

/// §7.3: the `<remove/>` request for one collection (iq set).
pub fn remove_request(with: &str, start: &str) -> Result<Element, ArchiveError> {
    check_time("remove start", start)?;
    Ok(Element::new("remove", NS)
        .with_attr("with", with)
        .with_attr("start", start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    fn parse(s: &str) -> Element {
        parse_element(s, &Limits::default()).unwrap()
    }

    #[test]
    fn upload_serializes_as_section_5_2() {
        let mut c = Collection::new("juliet@capulet.com/chamber", Timestamp(0), Some("th"));
        c.entries.push(Entry {
            dir: Direction::From,
            secs: Some(0),
            utc: None,
            body: "Art thou not Romeo?".into(),
        });
        c.entries.push(Entry {
            dir: Direction::To,
            secs: Some(11),
            utc: None,
            body: "Neither & <nor>".into(),
        });
        let save = c.save_request().unwrap();
        assert_eq!(
            save.to_string(),
            "<save xmlns=\"urn:xmpp:archive\"><chat with=\"juliet@capulet.com/chamber\" \
             start=\"1970-01-01T00:00:00Z\" thread=\"th\"><from secs=\"0\"><body>Art thou not \
             Romeo?</body></from><to secs=\"11\"><body>Neither &amp; &lt;nor&gt;</body></to>\
             </chat></save>"
        );
        // What we upload parses back (the server echoes the same shape on retrieval).
        let (back, rsm) = Collection::parse(save.child("chat", NS).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(rsm, None);
        c.entries[0].body.clear();
        assert_eq!(
            c.save_request(),
            Err(ArchiveError::Missing("body of an entry"))
        );
        c.start = "yesterday".into();
        assert_eq!(c.save_request(), Err(bad("chat start", "yesterday")));
    }

    #[test]
    fn list_and_retrieve_answers_parse_with_their_pages() {
        let list = parse(
            "<list xmlns='urn:xmpp:archive'>\
             <chat with='a@x' start='1469-07-21T02:56:15Z' version='0'/>\
             <chat with='b@x/r' start='1469-07-21T03:56:15Z' thread='t' version='2'/>\
             <set xmlns='http://jabber.org/protocol/rsm'><first index='0'>1</first>\
             <last>2</last><count>5</count></set></list>",
        );
        let (cs, rsm) = parse_list(&list).unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!((cs[1].with.as_str(), cs[1].version), ("b@x/r", Some(2)));
        assert_eq!(rsm.unwrap().count, Some(5));
        assert_eq!(
            parse_list(&parse("<list xmlns='urn:xmpp:archive'/>"))
                .unwrap()
                .0,
            vec![]
        );
        let page = parse(
            "<chat xmlns='urn:xmpp:archive' with='a@x' start='1469-07-21T02:56:15Z' version='4'>\
             <from secs='0'><body>one</body></from><note utc='1469-07-21T03:04:35Z'>n</note>\
             <to utc='1469-07-21T03:00:00Z'><body xmlns='jabber:client'>two</body></to>\
             <set xmlns='http://jabber.org/protocol/rsm'><count>2</count></set></chat>",
        );
        let (c, rsm) = Collection::parse(&page).unwrap();
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.entries[1].dir, Direction::To);
        assert_eq!(c.entries[1].body, "two");
        assert_eq!(rsm.unwrap().count, Some(2));
        let bad_entry = parse(
            "<chat xmlns='urn:xmpp:archive' with='a@x' start='1469-07-21T02:56:15Z'>\
             <from secs='-3'><body>x</body></from></chat>",
        );
        assert_eq!(Collection::parse(&bad_entry), Err(bad("secs", "-3")));
        let no_start = parse("<chat xmlns='urn:xmpp:archive' with='a@x'/>");
        assert_eq!(
            Collection::parse(&no_start),
            Err(ArchiveError::Missing("chat start"))
        );
    }

    /// Found in review: asked for Alice's collection, a server answering with Bob's had
    /// it opened against Bob's header and shown as Alice's.
    #[test]
    fn a_retrieve_answer_for_another_collection_is_refused() {
        let chat = |with: &str, start: &str| {
            parse(&format!(
                "<chat xmlns='urn:xmpp:archive' with='{with}' start='{start}'>\
                 <to secs='0'><body>b</body></to></chat>"
            ))
        };
        let asked = ("alice@x", "2020-01-01T00:00:00Z");
        for (with, start) in [
            ("bob@x", "2020-01-01T00:00:00Z"),
            ("alice@x", "2020-01-01T00:00:01Z"),
            ("alice@x/r", "2020-01-01T00:00:00Z"),
        ] {
            let err =
                Collection::parse_retrieved(&chat(with, start), asked.0, asked.1).unwrap_err();
            assert_eq!(
                err,
                ArchiveError::OtherCollection {
                    asked_with: asked.0.into(),
                    asked_start: asked.1.into(),
                    with: with.into(),
                    start: start.into(),
                }
            );
            assert!(err.to_string().contains(with), "{err}");
        }
        // The same second written otherwise by the server is the same collection.
        for start in ["2020-01-01T01:00:00+01:00", "2020-01-01T00:00:00.000Z"] {
            let (c, _) =
                Collection::parse_retrieved(&chat(asked.0, start), asked.0, asked.1).unwrap();
            assert_eq!(c.entries.len(), 1);
        }
    }

    #[test]
    fn requests_carry_their_attributes_and_page() {
        let q = ListQuery {
            with: Some("a@x".into()),
            start: Some("2020-01-01T00:00:00Z".into()),
            end: None,
            rsm: RsmQuery {
                max: Some(30),
                ..RsmQuery::default()
            },
        };
        assert_eq!(
            list_request(&q).unwrap().to_string(),
            "<list xmlns=\"urn:xmpp:archive\" with=\"a@x\" start=\"2020-01-01T00:00:00Z\">\
             <set xmlns=\"http://jabber.org/protocol/rsm\"><max>30</max></set></list>"
        );
        assert!(list_request(&ListQuery {
            end: Some("soon".into()),
            ..ListQuery::default()
        })
        .is_err());
        assert_eq!(
            remove_request("a@x", "2020-01-01T00:00:00Z")
                .unwrap()
                .to_string(),
            "<remove xmlns=\"urn:xmpp:archive\" with=\"a@x\" start=\"2020-01-01T00:00:00Z\"/>"
        );
        assert!(retrieve_request("a@x", "", &RsmQuery::default()).is_err());
        let saved = parse(
            "<save xmlns='urn:xmpp:archive'><chat with='a@x' start='2020-01-01T00:00:00Z' version='3'/></save>",
        );
        assert_eq!(parse_saved(&saved), Ok(Some(3)));
    }
}
