//! XEP-0187 offline sessions over the network (profile P11): Alice publishes her two
//! option sets to PEP and withdraws the subscriber set at login; Bob fetches a contact's
//! options and starts an offline session from them. The protocol logic (building,
//! storing, verifying the sets) is the engine's; this module only moves the sets.
use std::time::Duration;

use esession::xml::{ns, parse_element, Element, Limits};
use esession::{BareJid, OfflineSetKind, SecretStore, SessionId, Timestamp};

use crate::client::Client;
use crate::error::XmppError;
use crate::pubsub::{NodeItems, Published, PubsubItem};

/// Profile P11 "Nodes": every set is item `current` of its node.
pub const OFFLINE_ITEM_ID: &str = "current";

/// The publish-options of an option set of `kind` (profile P11 "Nodes"): one persisted
/// item, never pushed to anyone, and the access model of the set (XEP-0187 §3.1).
pub fn offline_publish_options(kind: OfflineSetKind) -> [(&'static str, &'static str); 5] {
    [
        ("pubsub#access_model", kind.access_model()),
        ("pubsub#persist_items", "1"),
        ("pubsub#max_items", "1"),
        ("pubsub#send_last_published_item", "never"),
        ("pubsub#deliver_notifications", "0"),
    ]
}

/// A failure of an offline-session operation: the engine refused, or the network failed.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The engine refused (no identity key, expired or untrusted options, store failure, …).
    #[error(transparent)]
    Engine(#[from] esession::Error),
    /// The server refused or did not answer.
    #[error(transparent)]
    Xmpp(#[from] XmppError),
}

/// What happened to the subscriber set at login (profile P11 "Withdrawal").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawal {
    /// No subscriber set was stored: nothing to withdraw.
    NoneStored,
    /// Item `current` was retracted (or was already gone) and the set dropped from storage;
    /// it stays in memory for the inits delivered now.
    Withdrawn,
    /// The retraction failed (the text says why): the set stays stored, so that what Bob
    /// sends with it can still be opened at a later login.
    Failed(String),
}

/// What [`Client::prepare_offline_login`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineLogin {
    /// How many stored option sets were loaded.
    pub loaded: usize,
    /// The subscriber set's withdrawal.
    pub withdrawal: Withdrawal,
}

/// Bob's offline session, started from a published set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineStart {
    /// The session.
    pub session: SessionId,
    /// The set it answers.
    pub kind: OfflineSetKind,
}

impl<S: SecretStore> Client<S> {
    /// Alice: builds, stores and publishes both option sets (subscriber, then open),
    /// expiring at `expires` and optionally restricted to our `match_resource`
    /// (XEP-0187 §3.1, profile P11: the secrets are stored before the item is published).
    /// Each PEP round trip waits at most `timeout`.
    ///
    /// # Errors
    /// [`OfflineError::Engine`] when the engine cannot build or store a set (nothing of
    /// that set is published), [`OfflineError::Xmpp`] when the server refuses or does not
    /// answer.
    pub async fn publish_offline(
        &mut self,
        expires: Timestamp,
        match_resource: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<(OfflineSetKind, Published)>, OfflineError> {
        let mut done = Vec::with_capacity(OfflineSetKind::ALL.len());
        for kind in OfflineSetKind::ALL {
            let x = self.engine_mut().publish_offline(
                kind,
                expires,
                match_resource,
                Timestamp::now(),
            )?;
            let payload = x.to_string();
            let how = self
                .connection_mut()
                .pep_publish(
                    kind.node(),
                    OFFLINE_ITEM_ID,
                    &payload,
                    &offline_publish_options(kind),
                    timeout,
                )
                .await?;
            done.push((kind, how));
        }
        Ok(done)
    }

    /// Alice at login, before initial presence (profile P11 "Withdrawal"): loads the
    /// stored option sets, retracts item `current` of the subscriber node without
    /// notification and drops that set from storage (keeping it in memory for the inits
    /// the server is about to deliver). Send presence afterwards.
    ///
    /// # Errors
    /// [`OfflineError::Engine`] when the stored sets cannot be read or dropped; a failed
    /// retraction is not an error but [`Withdrawal::Failed`].
    pub async fn prepare_offline_login(
        &mut self,
        timeout: Duration,
    ) -> Result<OfflineLogin, OfflineError> {
        let loaded = self.engine_mut().load_offline_sets(Timestamp::now())?;
        let stored = self
            .engine()
            .offline_sets()
            .iter()
            .any(|(k, _, stored)| *k == OfflineSetKind::Subscriber && *stored);
        if !stored {
            return Ok(OfflineLogin {
                loaded,
                withdrawal: Withdrawal::NoneStored,
            });
        }
        let node = OfflineSetKind::Subscriber.node();
        let retracted = self
            .connection_mut()
            .pep_retract(node, OFFLINE_ITEM_ID, timeout)
            .await;
        let withdrawal = match retracted {
            Ok(()) => Withdrawal::Withdrawn,
            // Already gone (another client withdrew it): nobody can fetch it any more.
            Err(XmppError::Stanza(c)) if c.starts_with("item-not-found") => Withdrawal::Withdrawn,
            Err(e) => Withdrawal::Failed(e.to_string()),
        };
        if withdrawal == Withdrawal::Withdrawn {
            self.engine_mut()
                .withdraw_offline(OfflineSetKind::Subscriber)?;
        }
        Ok(OfflineLogin { loaded, withdrawal })
    }

    /// Bob: the option sets `alice` (a bare JID) published, in the order he tries them
    /// (profile P11: subscriber node first, then the open node; XEP-0187 §3.2). A node that
    /// does not exist, is empty, or refuses us (e.g. we are no presence subscriber) gives
    /// nothing; each round trip waits at most `timeout`.
    ///
    /// # Errors
    /// [`XmppError::Timeout`] and stream failures; a payload that is not one data form is
    /// skipped (the engine would refuse it anyway).
    pub async fn fetch_offline_options(
        &mut self,
        alice: &str,
        timeout: Duration,
    ) -> Result<Vec<(OfflineSetKind, Element)>, XmppError> {
        let alice = esession::jid::bare(alice);
        let mut found = Vec::with_capacity(OfflineSetKind::ALL.len());
        for kind in OfflineSetKind::ALL {
            let items = match self
                .connection_mut()
                .pubsub_items(alice, kind.node(), timeout)
                .await
            {
                Ok(NodeItems::Items(items)) => items,
                Ok(NodeItems::NoSuchNode) => continue,
                // XEP-0060 §6.5.9: not authorized for this access model: try the next set.
                Err(XmppError::Stanza(c)) => {
                    tracing::debug!(node = kind.node(), condition = %c, "no access to options");
                    continue;
                }
                // Profile P11: the subscriber set, tried first, is in hand already; the
                // open node that did not answer is not needed to use it.
                Err(e) if !found.is_empty() => {
                    tracing::warn!(node = kind.node(), error = %e, "options not fetched");
                    break;
                }
                Err(e) => return Err(e),
            };
            if let Some(x) = options_form(&items) {
                found.push((kind, x));
            }
        }
        Ok(found)
    }

    /// Bob: fetches `alice`'s options ([`Client::fetch_offline_options`]) and starts an
    /// offline session with the first set the engine accepts (signed by a key trusted for
    /// her bare JID, not expired, acceptable: [`esession::Engine::start_offline`]), queueing its
    /// first stanza with `content`. `Ok(None)` when she published no options.
    ///
    /// # Errors
    /// [`OfflineError::Engine`] with the refusal of the first set tried when none is
    /// accepted (nothing is queued then), [`OfflineError::Xmpp`] when fetching fails.
    pub async fn start_offline(
        &mut self,
        alice: &BareJid,
        content: Vec<Element>,
        timeout: Duration,
    ) -> Result<Option<OfflineStart>, OfflineError> {
        let sets = self.fetch_offline_options(alice.as_str(), timeout).await?;
        let mut first_refusal = None;
        for (kind, x) in sets {
            match self
                .engine_mut()
                .start_offline(alice, &x, content.clone(), Timestamp::now())
            {
                Ok(session) => return Ok(Some(OfflineStart { session, kind })),
                Err(e) => {
                    tracing::info!(set = kind.name(), error = %e, "offline options refused");
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match first_refusal {
            Some(e) => Err(e.into()),
            None => Ok(None),
        }
    }
}

/// The published `<x xmlns='jabber:x:data'/>` among `items`: item `current` if present,
/// else the first item (profile P11: one item, id `current`), parsed with the engine's
/// bounded parser.
fn options_form(items: &[PubsubItem]) -> Option<Element> {
    let item = items
        .iter()
        .find(|i| i.id.as_deref() == Some(OFFLINE_ITEM_ID))
        .or_else(|| items.first())?;
    let payload = item.payload.as_deref()?;
    let x = match parse_element(payload, &Limits::default()) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "published options do not parse");
            return None;
        }
    };
    x.is("x", ns::DATA).then_some(x)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(id: Option<&str>, payload: Option<&str>) -> PubsubItem {
        PubsubItem {
            id: id.map(str::to_owned),
            payload: payload.map(str::to_owned),
        }
    }

    const FORM: &str = "<x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE'><value>urn:xmpp:ssn</value></field></x>";

    #[test]
    fn options_follow_the_profile() {
        let o = offline_publish_options(OfflineSetKind::Subscriber);
        assert_eq!(o[0], ("pubsub#access_model", "presence"));
        let o = offline_publish_options(OfflineSetKind::Open);
        assert_eq!(o[0], ("pubsub#access_model", "open"));
        for want in [
            ("pubsub#persist_items", "1"),
            ("pubsub#max_items", "1"),
            ("pubsub#send_last_published_item", "never"),
            ("pubsub#deliver_notifications", "0"),
        ] {
            assert!(o.contains(&want), "{want:?}");
        }
    }

    #[test]
    fn the_current_item_is_taken_and_must_be_a_data_form() {
        let other = "<x xmlns='jabber:x:data' type='form'/>";
        let items = [
            item(Some("old"), Some(other)),
            item(Some("current"), Some(FORM)),
        ];
        let x = options_form(&items).unwrap();
        assert_eq!(x.children().count(), 1);
        // Without `current`, the first item.
        let x = options_form(&[item(Some("old"), Some(other))]).unwrap();
        assert_eq!(x.children().count(), 0);
        for bad in [
            vec![],
            vec![item(Some("current"), None)],
            vec![item(
                Some("current"),
                Some("<pubkey xmlns='urn:xmpp:pubkey:2'/>"),
            )],
            vec![item(Some("current"), Some("<x xmlns='jabber:x:data'"))],
        ] {
            assert!(options_form(&bad).is_none(), "{bad:?}");
        }
    }
}
