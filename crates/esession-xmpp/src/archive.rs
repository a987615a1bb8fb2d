//! XEP-0136 message archiving against our own server: preferences (§2), manual upload
//! (§5), list / retrieve / remove with result set management (§7), and the archive-key
//! record in XEP-0049 private storage. The XML is built and read by `esession::archive`.
use std::time::Duration;

use esession::archive::{
    self, ArchiveKeyInfo, Collection, ItemPref, ListQuery, OtrMode, Prefs, RsmQuery, RsmResult,
    SaveMode,
};
use esession::Element;

use crate::connection::Connection;
use crate::error::XmppError;
use tokio_xmpp::parsers::stanza_error::ErrorType;

/// Why a §5.2 upload failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The server refused it with an error of type `cancel` or `modify` (RFC 6120 §8.3.2:
    /// "do not retry", "retry after changing the data sent"): the same upload never
    /// succeeds. The condition (e.g. `not-acceptable` for a body over the server's limit).
    #[error("the server refused the collection for good: {0}")]
    Refused(String),
    /// Anything else (an error of type `wait` or `auth`, no answer, the link down): the
    /// same upload may succeed later.
    #[error(transparent)]
    Failed(#[from] XmppError),
}

/// A §7.1 list page: the collection headers and the page description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// The collections (no entries), in chronological order.
    pub collections: Vec<Collection>,
    /// The page description, when the server gave one.
    pub rsm: Option<RsmResult>,
}

fn bad_answer(e: archive::ArchiveError) -> XmppError {
    XmppError::Protocol(e.to_string())
}

fn missing(what: &str) -> XmppError {
    XmppError::Protocol(format!("the server answered {what} without a payload"))
}

impl Connection {
    /// §2.3: the account's archiving preferences.
    pub async fn archive_prefs(&mut self, timeout: Duration) -> Result<Prefs, XmppError> {
        let answer = self
            .iq("get", None, &Prefs::get_request(), timeout)
            .await?
            .ok_or_else(|| missing("the preferences request"))?;
        Prefs::parse(&answer).map_err(bad_answer)
    }

    async fn set(&mut self, payload: &Element, timeout: Duration) -> Result<(), XmppError> {
        self.iq("set", None, payload, timeout).await.map(|_| ())
    }

    /// §2.4: sets the default OTR and Save Modes.
    pub async fn archive_set_default(
        &mut self,
        otr: OtrMode,
        save: SaveMode,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        let p = Prefs::set_default_request(otr, save, None)
            .map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        self.set(&p, timeout).await
    }

    /// §2.5: sets the modes for one contact.
    pub async fn archive_set_item(
        &mut self,
        item: &ItemPref,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        let p =
            Prefs::set_item_request(item).map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        self.set(&p, timeout).await
    }

    /// §2.5: removes the modes for one contact.
    pub async fn archive_remove_item(
        &mut self,
        jid: &str,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        self.set(&Prefs::remove_item_request(jid), timeout).await
    }

    /// §5.2: uploads `collection` (appending to it if it exists); the server's version.
    pub async fn archive_save(
        &mut self,
        collection: &Collection,
        timeout: Duration,
    ) -> Result<Option<u32>, SaveError> {
        let save = collection
            .save_request()
            .map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        match self.iq_or_error("set", None, &save, timeout).await? {
            Ok(Some(answer)) => Ok(archive::parse_saved(&answer).map_err(bad_answer)?),
            Ok(None) => Ok(None),
            Err((ErrorType::Cancel | ErrorType::Modify, condition)) => {
                Err(SaveError::Refused(condition))
            }
            Err((_, condition)) => Err(SaveError::Failed(XmppError::Stanza(condition))),
        }
    }

    /// §7.1: one page of the list of collections.
    pub async fn archive_list(
        &mut self,
        query: &ListQuery,
        timeout: Duration,
    ) -> Result<ListPage, XmppError> {
        let list =
            archive::list_request(query).map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        let answer = self
            .iq("get", None, &list, timeout)
            .await?
            .ok_or_else(|| missing("the list request"))?;
        let (collections, rsm) = archive::parse_list(&answer).map_err(bad_answer)?;
        Ok(ListPage { collections, rsm })
    }

    /// §7.1 with XEP-0059 paging: every collection matching `query` (its `rsm.max` is
    /// the page size), following `<last/>` until a page comes back empty or short.
    /// At most `limit` collections are returned.
    pub async fn archive_list_all(
        &mut self,
        query: &ListQuery,
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<Collection>, XmppError> {
        let mut q = query.clone();
        let mut out = Vec::new();
        loop {
            let page = self.archive_list(&q, timeout).await?;
            let n = page.collections.len();
            out.extend(page.collections);
            let last = page.rsm.and_then(|r| r.last);
            let full = q.rsm.max.is_some_and(|m| n >= m as usize);
            match last {
                Some(last) if n > 0 && full && out.len() < limit => {
                    q.rsm.after = Some(last);
                    q.rsm.before = None;
                    q.rsm.index = None;
                }
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// §7.2: one page of the collection with `with` started at `start` (an answer with
    /// another collection is an error).
    pub async fn archive_retrieve(
        &mut self,
        with: &str,
        start: &str,
        rsm: &RsmQuery,
        timeout: Duration,
    ) -> Result<(Collection, Option<RsmResult>), XmppError> {
        let req = archive::retrieve_request(with, start, rsm)
            .map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        let answer = self
            .iq("get", None, &req, timeout)
            .await?
            .ok_or_else(|| missing("the retrieve request"))?;
        Collection::parse_retrieved(&answer, with, start).map_err(bad_answer)
    }

    /// §7.2 with XEP-0059 paging: the whole collection (pages of `page_size`), at most
    /// `limit` entries.
    pub async fn archive_retrieve_all(
        &mut self,
        with: &str,
        start: &str,
        page_size: u32,
        limit: usize,
        timeout: Duration,
    ) -> Result<Collection, XmppError> {
        let mut rsm = RsmQuery {
            max: Some(page_size.max(1)),
            ..RsmQuery::default()
        };
        let (mut all, mut page) = self.archive_retrieve(with, start, &rsm, timeout).await?;
        loop {
            let full = all.entries.len() < limit;
            let last = page.as_ref().and_then(|r| r.last.clone());
            let count = page.as_ref().and_then(|r| r.count).map(|c| c as usize);
            let more = count.is_some_and(|c| all.entries.len() < c);
            match last {
                Some(last) if full && more => {
                    rsm.after = Some(last);
                    let (next, p) = self.archive_retrieve(with, start, &rsm, timeout).await?;
                    if next.entries.is_empty() {
                        break;
                    }
                    all.entries.extend(next.entries);
                    page = p;
                }
                _ => break,
            }
        }
        all.entries.truncate(limit);
        Ok(all)
    }

    /// §7.2 with `<max>0</max>` (XEP-0059 §2.6): the number of messages of a collection,
    /// `None` when the server does not say (`<count/>` is optional, and the page asked for
    /// is empty whatever the collection holds).
    pub async fn archive_count(
        &mut self,
        with: &str,
        start: &str,
        timeout: Duration,
    ) -> Result<Option<u32>, XmppError> {
        let rsm = RsmQuery {
            max: Some(0),
            ..RsmQuery::default()
        };
        let (_, page) = self.archive_retrieve(with, start, &rsm, timeout).await?;
        Ok(page.and_then(|p| p.count))
    }

    /// §7.3: removes one collection.
    pub async fn archive_remove(
        &mut self,
        with: &str,
        start: &str,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        let req = archive::remove_request(with, start)
            .map_err(|e| XmppError::InvalidArgument(e.to_string()))?;
        self.set(&req, timeout).await
    }

    /// XEP-0049: the archive-key record, `None` when no client stored one yet.
    pub async fn archive_key_info(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ArchiveKeyInfo>, XmppError> {
        let answer = self
            .iq("get", None, &ArchiveKeyInfo::get_request(), timeout)
            .await?
            .ok_or_else(|| missing("the private storage request"))?;
        ArchiveKeyInfo::parse_answer(&answer).map_err(bad_answer)
    }

    /// XEP-0049: stores the archive-key record.
    pub async fn set_archive_key_info(
        &mut self,
        info: &ArchiveKeyInfo,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        self.set(&info.set_request(), timeout).await
    }
}
