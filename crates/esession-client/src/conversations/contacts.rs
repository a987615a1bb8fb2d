//! Contacts: the roster (RFC 6121 §2), subscriptions (§3), presence (§4) and whether each
//! resource speaks ESessions (its disco#info or caps, XEP-0116 §3, XEP-0115).
use super::*;
use crate::presence::{Caps, Features};
use esession::FullJid;

impl Conversations {
    /// Takes in the disco#info `<query/>` of `full` (`None`: it did not answer, taken as
    /// supporting neither ESessions nor receipts). When `full` sent caps, the answer's hash
    /// is checked against their `ver` (XEP-0115 §5.4) and, if it matches, kept for every
    /// resource that shows that `ver` later: they need no question.
    pub fn disco_info<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        answer: Option<&Element>,
        now: Timestamp,
    ) {
        let features = Features::of(answer);
        let caps = self.presences.caps(full).cloned();
        if let (Some(q), Some(caps)) = (answer, caps) {
            // XEP-0115 §5.4: only SHA-1 is verified; another hash is not cached.
            match esession_xmpp::caps_ver(q) {
                Ok(v) if caps.hash == "sha-1" && v == caps.ver => {
                    self.caps_cache.keep(&v, features);
                }
                Ok(_) if caps.hash != "sha-1" => {}
                Ok(v) => self.warn(
                    Some(full.to_owned()),
                    format!(
                        "caps ver {} does not match its disco#info ({v}): not cached",
                        caps.ver
                    ),
                ),
                Err(e) => self.warn(
                    Some(full.to_owned()),
                    format!("disco#info answer not usable for caps: {e}"),
                ),
            }
        }
        self.learned(
            engine,
            full,
            features.esessions,
            Some(features.receipts),
            now,
        );
    }

    /// Whether to ask `full`'s software version (XEP-0092) before taking in its
    /// disco#info `answer`: its presence came without caps and it advertises ESessions and
    /// XEP-0092 ([`esession_xmpp::worth_asking`]). Issue 13 §1: a Gajim without caps is
    /// recognised by its version ([`esession_xmpp::Client::learn_software`] tells the
    /// engine), which must be known before a session is started with it.
    pub fn wants_software(&self, full: &str, answer: Option<&Element>) -> bool {
        self.presences.caps(full).is_none() && answer.is_some_and(esession_xmpp::worth_asking)
    }

    /// Takes in the roster fetched at login (RFC 6121 §2.1.3).
    pub fn set_roster(&mut self, items: Vec<RosterItem>) {
        for item in items {
            self.roster_item(item);
        }
    }

    pub(super) fn roster_item(&mut self, item: RosterItem) {
        self.roster.apply(item.clone());
        self.events.push_back(ClientEvent::Roster(item));
    }

    /// Records whether `full` advertises ESessions (its disco#info, XEP-0116 §3) and
    /// sends what waited for it. Whether it gives receipts stays unknown: a message sent
    /// to it is kept until its receipt, as to a client that gives them.
    pub fn set_esessions<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        supported: bool,
        now: Timestamp,
    ) {
        self.learned(engine, full, supported, None, now);
    }

    /// Records what `full` supports (`receipts`: `None` if unknown), reports it and sends
    /// what waited for it.
    fn learned<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        esessions: bool,
        receipts: Option<bool>,
        now: Timestamp,
    ) {
        if !self.presences.set_features(full, esessions, receipts) {
            return;
        }
        let show = self
            .presences
            .resources(jid::bare(full))
            .find(|(j, _)| *j == full)
            .map(|(_, r)| r.show);
        self.events.push_back(ClientEvent::Presence {
            jid: full.to_owned(),
            show,
            esessions: Some(esessions),
        });
        self.pump(engine, jid::bare(full), now);
    }

    /// Asks `full` its disco#info (XEP-0030), about the node of its `caps` if it sent any
    /// (XEP-0115 §6.2): whether it supports ESessions (XEP-0116 §3).
    pub(super) fn ask_disco(&mut self, full: &str, caps: Option<&Caps>) {
        self.disco.push_back(DiscoRequest {
            full: full.to_owned(),
            node: caps.map(Caps::disco_node),
        });
    }

    /// Adds `jid` to the roster and asks to see its presence (RFC 6121 §2.3, §3.1.1); the
    /// roster set's answer needs no handling (the server pushes the new item).
    pub fn add(&mut self, jid_: &str) {
        let set = self.roster_set("add", jid_, roster::add_item(jid_));
        self.outgoing.push_back(set);
        self.outgoing.push_back(roster::subscribe(jid_));
    }

    /// Approves (or pre-approves) `jid`'s subscription to our presence (RFC 6121 §3.1.4,
    /// §3.4).
    pub fn approve(&mut self, jid_: &str) {
        self.outgoing.push_back(roster::approve(jid_));
    }

    /// Removes `jid` from the roster (RFC 6121 §2.5.2): the server cancels the
    /// subscriptions both ways and pushes the removal, reported as a
    /// [`ClientEvent::Roster`] item with subscription `remove`.
    pub fn remove(&mut self, jid_: &str) {
        let set = self.roster_set("remove", jid_, roster::remove_item(jid_));
        self.outgoing.push_back(set);
    }

    /// A roster set (RFC 6121 §2.3) carrying `query`, which asks to `what` `jid_`;
    /// remembered so that a refusal is said.
    fn roster_set(&mut self, what: &'static str, jid_: &str, query: Element) -> Element {
        let id = self.new_id();
        self.roster_sets.keep(&id, (what, jid_.to_owned()));
        Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", id)
            .with_child(query)
    }

    /// Denies `jid`'s subscription request, or cancels the subscription granted before
    /// (RFC 6121 §3.2.1); a roster item changed by it is pushed by the server.
    pub fn deny(&mut self, jid_: &str) {
        self.outgoing.push_back(roster::deny(jid_));
    }

    pub(super) fn presence<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        update: PresenceUpdate,
        now: Timestamp,
    ) {
        match update {
            PresenceUpdate::Available {
                full,
                show,
                priority,
                caps,
            } => {
                let new = self.presences.available(&full, show, priority);
                let changed = self.presences.set_caps(&full, caps.clone());
                if changed {
                    note_caps(engine, &full, caps.as_ref());
                }
                if new || changed {
                    // XEP-0116 §3: whether the resource supports ESessions is asked on its
                    // first presence, and again when its caps change; a caps ver seen
                    // and verified before answers without a question (XEP-0115 §6.3).
                    let known = caps
                        .as_ref()
                        .filter(|c| c.hash == "sha-1")
                        .and_then(|c| self.caps_cache.get(&c.ver).copied());
                    match known {
                        Some(f) => {
                            self.presences
                                .set_features(&full, f.esessions, Some(f.receipts));
                        }
                        None => self.ask_disco(&full, caps.as_ref()),
                    }
                }
                let esessions = self
                    .presences
                    .resources(jid::bare(&full))
                    .find(|(j, _)| **j == full)
                    .and_then(|(_, r)| r.esessions);
                self.events.push_back(ClientEvent::Presence {
                    jid: full.clone(),
                    show: Some(show),
                    esessions,
                });
                self.pump(engine, jid::bare(&full), now);
            }
            PresenceUpdate::Unavailable { jid: gone } => {
                let bare = jid::bare(&gone).to_owned();
                for full in self.presences.unavailable(&gone) {
                    self.events.push_back(ClientEvent::Presence {
                        jid: full.clone(),
                        show: None,
                        esessions: None,
                    });
                    forget_client(engine, &full);
                    self.resource_gone(engine, &full, now);
                }
                self.pump(engine, &bare, now);
            }
            PresenceUpdate::SubscribeRequest { from } => {
                self.events
                    .push_back(ClientEvent::SubscriptionRequest { jid: from });
            }
            // RFC 6121 §3.1.5–6, §3.2: the contact approved, denied or cancelled our
            // subscription (the server pushes the changed roster item too).
            PresenceUpdate::Subscription { from, approved } => {
                self.events.push_back(ClientEvent::SubscriptionAnswer {
                    jid: from,
                    approved,
                });
            }
        }
    }
}

/// Issue 13 §1: tells the engine what the new caps of resource `full` say of its client,
/// whose dialect a session we start with that resource then speaks (`Compat::Auto`);
/// without caps its client is unknown.
fn note_caps<S: SecretStore>(engine: &mut Engine<S>, full: &str, caps: Option<&Caps>) {
    match (caps, FullJid::new(full)) {
        (Some(c), Ok(peer)) => {
            engine.note_peer_client(&peer, PeerClient::CapsNode(&c.node));
        }
        (None, _) => forget_client(engine, full),
        (_, Err(_)) => {}
    }
}

/// Issue 13 §1: what the engine knew of the client at resource `full` no longer holds
/// (the resource went unavailable or dropped its caps).
fn forget_client<S: SecretStore>(engine: &mut Engine<S>, full: &str) {
    if let Ok(peer) = FullJid::new(full) {
        engine.forget_peer_client(&peer);
    }
}
