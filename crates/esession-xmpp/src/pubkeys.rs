//! XEP-0189 over the network (profile P14): publish our key, revocations and
//! attestations through PEP, fetch a contact's, request a key directly (§6).
//! The payloads are built and checked by [`esession::pubkeys`].

// The infallible `From<&T> for Element` of xso-derived types panics on failure.
#![allow(clippy::unnecessary_fallible_conversions)]

use std::time::Duration;

use esession::pubkeys::{
    self, parse_item, parse_pubkey, pubkey_payload, Attestation, Revocation, CURRENT_ITEM,
    NS_ATTEST, NS_PUBKEY, NS_REVOKE,
};
use esession::xml::Element;
use esession::PublicKey;
use tokio_xmpp::minidom;
use tokio_xmpp::parsers::iq::Iq;

use crate::connection::{parse_jid, Connection, IqAnswer};
use crate::disco;
use crate::error::XmppError;
use crate::pubsub::{NodeItems, Published, PubsubItem};
use crate::xml;

/// Publish-options of the pubkey node (profile P14): access model `open`, the other
/// settings as the P11 nodes.
pub(crate) const KEY_NODE_OPTIONS: [(&str, &str); 5] = [
    ("pubsub#access_model", "open"),
    ("pubsub#persist_items", "1"),
    ("pubsub#max_items", "1"),
    ("pubsub#send_last_published_item", "never"),
    ("pubsub#deliver_notifications", "0"),
];

/// Publish-options of the revocation and attestation nodes: as [`KEY_NODE_OPTIONS`] but
/// one item per revoked or attested key, up to [`MAX_STATEMENTS`] (decision "Published
/// keys (XEP-0189)").
pub(crate) const STATEMENT_NODE_OPTIONS: [(&str, &str); 5] = [
    ("pubsub#access_model", "open"),
    ("pubsub#persist_items", "1"),
    ("pubsub#max_items", "64"),
    ("pubsub#send_last_published_item", "never"),
    ("pubsub#deliver_notifications", "0"),
];

/// The most items read from one fetched node; the rest are ignored (and reported).
pub(crate) const MAX_STATEMENTS: usize = 64;

/// What a contact publishes (XEP-0189 §7): every item checked by the engine, the ones
/// that failed a check named in `refused`.
#[derive(Debug, Default)]
pub struct PublishedKeys {
    /// The keys of the pubkey node (profile P14: usually one, item `current`).
    pub keys: Vec<PublicKey>,
    /// Revocations whose self-signature verified.
    pub revocations: Vec<Revocation>,
    /// Attestations published by the contact (signature not yet checked: see
    /// [`Attestation::verify`]).
    pub attestations: Vec<Attestation>,
    /// One line per item or node that could not be used, naming why.
    pub refused: Vec<String>,
}

impl Connection {
    /// Publishes `key` as item `current` of our pubkey node (XEP-0189 §7, profile P14).
    pub async fn publish_key(
        &mut self,
        key: &PublicKey,
        timeout: Duration,
    ) -> Result<Published, XmppError> {
        let payload = pubkey_payload(key).to_string();
        self.pep_publish(
            NS_PUBKEY,
            CURRENT_ITEM,
            &payload,
            &KEY_NODE_OPTIONS,
            timeout,
        )
        .await
    }

    /// Publishes `revocation` (item id: the revoked key's B64 fingerprint) and, if our
    /// pubkey node still holds that key, retracts it (XEP-0060 §7.2, no notification).
    pub async fn publish_revocation(
        &mut self,
        revocation: &Revocation,
        timeout: Duration,
    ) -> Result<Published, XmppError> {
        let how = self.publish_revocation_item(revocation, timeout).await?;
        self.withdraw_revoked_key(revocation, timeout).await?;
        Ok(how)
    }

    /// Publishes `revocation` alone (the first half of [`Connection::publish_revocation`]).
    pub(crate) async fn publish_revocation_item(
        &mut self,
        revocation: &Revocation,
        timeout: Duration,
    ) -> Result<Published, XmppError> {
        let payload = revocation.to_element().to_string();
        let item = revocation.fingerprint().to_b64();
        self.pep_publish(NS_REVOKE, &item, &payload, &STATEMENT_NODE_OPTIONS, timeout)
            .await
    }

    /// Retracts the key `revocation` revokes from our pubkey node if it is still there
    /// (the second half of [`Connection::publish_revocation`]).
    pub(crate) async fn withdraw_revoked_key(
        &mut self,
        revocation: &Revocation,
        timeout: Duration,
    ) -> Result<(), XmppError> {
        let fp = revocation.fingerprint();
        let own = self.bare_jid().to_string();
        let current = match self.pubsub_items(&own, NS_PUBKEY, timeout).await? {
            NodeItems::Items(items) => items,
            NodeItems::NoSuchNode => Vec::new(),
        };
        let still_published = current.iter().any(|item| {
            item.id.as_deref() == Some(CURRENT_ITEM)
                && item_key(item).is_ok_and(|k| k.fingerprint().ct_eq(&fp))
        });
        if still_published {
            self.pep_retract(NS_PUBKEY, CURRENT_ITEM, timeout).await?;
        }
        Ok(())
    }

    /// Publishes `attestation` in our attestation node (item id: the attested key's B64
    /// fingerprint), where the attested contact can fetch it (XEP-0189 §5, §7).
    pub async fn publish_attestation(
        &mut self,
        attestation: &Attestation,
        timeout: Duration,
    ) -> Result<Published, XmppError> {
        let id = attestation.keyprint().to_b64();
        let payload = attestation.to_element().to_string();
        self.pep_publish(NS_ATTEST, &id, &payload, &STATEMENT_NODE_OPTIONS, timeout)
            .await
    }

    /// Fetches what `jid` (a bare JID) publishes: its keys, revocations and attestations
    /// (XEP-0189 §7). A node that does not exist is empty. An error on the pubkey node is
    /// returned; on the other two it is noted in [`PublishedKeys::refused`].
    pub async fn fetch_published_keys(
        &mut self,
        jid: &str,
        timeout: Duration,
    ) -> Result<PublishedKeys, XmppError> {
        let mut out = PublishedKeys::default();
        let keys = self.pubsub_items(jid, NS_PUBKEY, timeout).await?;
        for item in bounded(keys, NS_PUBKEY, &mut out.refused) {
            match item_key(&item) {
                Ok(k) => out.keys.push(k),
                Err(why) => out.refused.push(format!("{NS_PUBKEY} item: {why}")),
            }
        }
        for node in [NS_REVOKE, NS_ATTEST] {
            let items = match self.pubsub_items(jid, node, timeout).await {
                Ok(items) => items,
                Err(XmppError::Stanza(c)) => {
                    out.refused.push(format!("{node}: {c}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            for item in bounded(items, node, &mut out.refused) {
                let parsed = item_element(&item).and_then(|el| {
                    if node == NS_REVOKE {
                        Revocation::parse(&el).map(|r| out.revocations.push(r))
                    } else {
                        Attestation::parse(&el).map(|a| out.attestations.push(a))
                    }
                });
                if let Err(why) = parsed {
                    out.refused.push(format!("{node} item: {why}"));
                }
            }
        }
        Ok(out)
    }

    /// Asks `full_jid` for its key directly (XEP-0189 §6) and checks the answer.
    ///
    /// Errors: [`XmppError::Stanza`] naming a refusal, [`XmppError::Protocol`] for an
    /// answer that is not a valid `<pubkey/>` (P8, P14), [`XmppError::Timeout`].
    pub async fn request_key(
        &mut self,
        full_jid: &str,
        timeout: Duration,
    ) -> Result<PublicKey, XmppError> {
        let to = parse_jid(full_jid)?;
        let payload: minidom::Element = pubkeys::key_request()
            .to_string()
            .parse()
            .map_err(|e| XmppError::Protocol(format!("key request: {e}")))?;
        let request = Iq::Get {
            from: None,
            to: Some(to.clone()),
            id: String::new(),
            payload,
        };
        let answer = self
            .iq_round_trip(request, &to, timeout, "waiting for a key")
            .await?;
        let payload = match answer {
            IqAnswer::Error(e) => return Err(XmppError::Stanza(disco::condition_name(&e))),
            IqAnswer::Result(None) => {
                return Err(XmppError::Protocol("key answer without <pubkey/>".into()))
            }
            IqAnswer::Result(Some(p)) => p,
        };
        let text = xml::element_to_string(&payload)?;
        parse_item(&text)
            .and_then(|el| parse_pubkey(&el))
            .map_err(|e| XmppError::Protocol(format!("key answer: {e}")))
    }
}

/// At most [`MAX_STATEMENTS`] items of a fetched node; what is cut is noted.
fn bounded(items: NodeItems, node: &str, refused: &mut Vec<String>) -> Vec<PubsubItem> {
    let NodeItems::Items(mut items) = items else {
        return Vec::new();
    };
    if items.len() > MAX_STATEMENTS {
        refused.push(format!(
            "{node}: {} items, only the first {MAX_STATEMENTS} read",
            items.len()
        ));
        items.truncate(MAX_STATEMENTS);
    }
    items
}

/// An item's payload parsed by the engine's bounded parser.
fn item_element(item: &PubsubItem) -> Result<Element, pubkeys::PubkeyError> {
    let text = item.payload.as_deref().unwrap_or("");
    parse_item(text)
}

/// The key of a pubkey node item.
fn item_key(item: &PubsubItem) -> Result<PublicKey, pubkeys::PubkeyError> {
    item_element(item).and_then(|el| parse_pubkey(&el))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn node_options_follow_p14_and_p11() {
        for opts in [KEY_NODE_OPTIONS, STATEMENT_NODE_OPTIONS] {
            assert!(opts.contains(&("pubsub#access_model", "open")));
            assert!(opts.contains(&("pubsub#send_last_published_item", "never")));
            assert!(opts.contains(&("pubsub#deliver_notifications", "0")));
            assert!(opts.contains(&("pubsub#persist_items", "1")));
        }
        assert!(KEY_NODE_OPTIONS.contains(&("pubsub#max_items", "1")));
    }

    #[test]
    fn fetched_nodes_are_bounded() {
        let item = PubsubItem {
            id: None,
            payload: None,
        };
        let mut refused = Vec::new();
        let got = bounded(
            NodeItems::Items(vec![item; MAX_STATEMENTS + 3]),
            "n",
            &mut refused,
        );
        assert_eq!(got.len(), MAX_STATEMENTS);
        assert_eq!(refused.len(), 1);
        assert!(bounded(NodeItems::NoSuchNode, "n", &mut refused).is_empty());
    }

    #[test]
    fn item_without_payload_is_refused_by_name() {
        let item = PubsubItem {
            id: Some("current".into()),
            payload: None,
        };
        assert!(item_key(&item).is_err());
        let item = PubsubItem {
            id: Some("current".into()),
            payload: Some("<pubkey xmlns='urn:xmpp:pubkey:2'/>".into()),
        };
        assert!(matches!(
            item_key(&item),
            Err(pubkeys::PubkeyError::KeyValueCount(0))
        ));
    }
}
