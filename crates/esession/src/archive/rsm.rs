//! XEP-0059 result set management: the request `<set/>` and the answer's `<set/>`.
use super::{bad, ArchiveError, RSM_NS};
use crate::xml::Element;

/// A page request (XEP-0059 §2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsmQuery {
    /// Most items in the page (`<max/>`; 0 asks for the count only, §2.6).
    pub max: Option<u32>,
    /// The page after this item ID.
    pub after: Option<String>,
    /// The page before this item ID; `Some("")` asks for the last page (§2.5).
    pub before: Option<String>,
    /// The page starting at this index (§2.4).
    pub index: Option<u32>,
}

/// A page description in an answer (XEP-0059 §2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsmResult {
    /// The first item's ID.
    pub first: Option<String>,
    /// The first item's index in the whole set.
    pub first_index: Option<u32>,
    /// The last item's ID.
    pub last: Option<String>,
    /// The size of the whole set.
    pub count: Option<u32>,
}

impl RsmQuery {
    /// The `<set/>` element, or `None` for an empty query.
    pub fn to_element(&self) -> Option<Element> {
        if *self == RsmQuery::default() {
            return None;
        }
        let mut set = Element::new("set", RSM_NS);
        if let Some(m) = self.max {
            set.push(Element::new("max", RSM_NS).with_text(m.to_string()));
        }
        if let Some(a) = &self.after {
            set.push(Element::new("after", RSM_NS).with_text(a.as_str()));
        }
        if let Some(b) = &self.before {
            let e = Element::new("before", RSM_NS);
            set.push(if b.is_empty() {
                e
            } else {
                e.with_text(b.as_str())
            });
        }
        if let Some(i) = self.index {
            set.push(Element::new("index", RSM_NS).with_text(i.to_string()));
        }
        Some(set)
    }
}

fn number(what: &'static str, text: &str) -> Result<u32, ArchiveError> {
    text.trim().parse().map_err(|_| bad(what, text))
}

impl RsmResult {
    /// Reads the `<set/>` child of `parent`, if any.
    pub fn from_parent(parent: &Element) -> Result<Option<RsmResult>, ArchiveError> {
        let Some(set) = parent.child("set", RSM_NS) else {
            return Ok(None);
        };
        let mut r = RsmResult::default();
        if let Some(f) = set.child("first", RSM_NS) {
            r.first = Some(f.text());
            r.first_index = f
                .attr("index")
                .map(|i| number("rsm first index", i))
                .transpose()?;
        }
        r.last = set.child("last", RSM_NS).map(|l| l.text());
        r.count = set
            .child("count", RSM_NS)
            .map(|c| number("rsm count", &c.text()))
            .transpose()?;
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    #[test]
    fn queries_serialize_and_answers_parse() {
        assert_eq!(RsmQuery::default().to_element(), None);
        let q = RsmQuery {
            max: Some(2),
            after: Some("x".into()),
            before: Some(String::new()),
            index: None,
        };
        assert_eq!(
            q.to_element().unwrap().to_string(),
            "<set xmlns=\"http://jabber.org/protocol/rsm\"><max>2</max><after>x</after><before/></set>"
        );
        let e = parse_element(
            "<list xmlns='urn:xmpp:archive'><set xmlns='http://jabber.org/protocol/rsm'>\
             <first index='3'>a</first><last>b</last><count>9</count></set></list>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            RsmResult::from_parent(&e).unwrap(),
            Some(RsmResult {
                first: Some("a".into()),
                first_index: Some(3),
                last: Some("b".into()),
                count: Some(9),
            })
        );
        let e = parse_element(
            "<list xmlns='urn:xmpp:archive'><set xmlns='http://jabber.org/protocol/rsm'>\
             <count>many</count></set></list>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(RsmResult::from_parent(&e), Err(bad("rsm count", "many")));
    }
}
