//! The connection to the server as the conversations see it: lost, signed out,
//! reconnecting, online again (docs/decisions.md, "The layer on a loss").
use super::*;

impl Conversations {
    /// Whether the connection to the server is up (see [`Conversations::connection_lost`]).
    pub fn is_online(&self) -> bool {
        self.offline.is_none()
    }

    /// The connection to the server was lost (`reason`): every session ends here (the
    /// engine's terminates wait: they go out if the server resumes the stream, whose
    /// contacts saw no departure, and are dropped on a new one, whose contacts saw us go
    /// offline; see `Account`), their unacknowledged messages and the queued ones wait for the next
    /// connection, marked with the reason, and every contact resource is shown offline.
    /// Nothing is negotiated until [`Conversations::online`].
    pub fn connection_lost<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        reason: &str,
        now: Timestamp,
    ) {
        let event = ClientEvent::ConnectionLost {
            reason: reason.to_owned(),
        };
        let lost = format!("connection to the server lost: {reason}");
        self.go_offline(engine, reason, event, lost, now);
    }

    /// The server signed the session bound to `jid` out (`why`; `text`: what it said):
    /// as a lost connection ([`Conversations::connection_lost`]: the sessions end, the
    /// messages wait, the contacts are shown offline), except that nothing reconnects
    /// until the user asks ([`crate::Account::reconnect`]).
    pub fn signed_out<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        jid: &str,
        why: SignOut,
        text: Option<String>,
        now: Timestamp,
    ) {
        let reason = format!("signed out: {}", why.explain(jid));
        let event = ClientEvent::SignedOut {
            jid: jid.to_owned(),
            why,
            text,
        };
        self.go_offline(engine, &reason, event, reason.clone(), now);
    }

    /// Goes offline (`reason`, reported as `event`): every session ends (`lost`: why, for
    /// each), the messages wait, the contacts are shown offline.
    pub(super) fn go_offline<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        reason: &str,
        event: ClientEvent,
        lost: String,
        now: Timestamp,
    ) {
        self.offline = Some(reason.to_owned());
        self.events.push_back(event);
        self.disco.clear();
        for (_, s) in std::mem::take(&mut self.gone) {
            self.session_over(s.bare(), &s, lost.clone());
        }
        let bares: Vec<String> = self.convs.keys().cloned().collect();
        for bare in &bares {
            let open: Vec<SessionRef> = self
                .convs
                .get_mut(bare)
                .map(|c| {
                    let all: Vec<SessionRef> = c.sessions().cloned().collect();
                    for s in &all {
                        c.remove(s.thread());
                    }
                    all
                })
                .unwrap_or_default();
            for s in open {
                let _ = sessions::end(engine, &s, now);
                self.session_over(bare, &s, lost.clone());
            }
            self.hold_pending(bare);
        }
        self.presences_at_loss = std::mem::take(&mut self.presences);
        for (full, _) in self.presences_at_loss.all() {
            self.events.push_back(ClientEvent::Presence {
                jid: full.clone(),
                show: None,
                esessions: None,
            });
        }
        self.drain(engine, now);
    }

    /// Reports attempt `attempt` to reconnect, in `in_secs` seconds (`error`: why the
    /// previous one failed).
    pub fn reconnecting(&mut self, attempt: u32, in_secs: u64, error: Option<String>) {
        self.events.push_back(ClientEvent::Reconnecting {
            attempt,
            in_secs,
            error,
        });
    }

    /// Our initial presence was sent at `now` (RFC 6121 §4.2: at login, and on a new
    /// stream after a loss): the server probes our contacts and their presence follows.
    /// For 5 seconds (`PRESENCE_SETTLE`) a contact not seen online is not taken as
    /// offline: its messages wait instead of going into an offline session.
    pub fn presence_sent(&mut self, now: Timestamp) {
        self.presence_due = Some(now.plus(PRESENCE_SETTLE));
    }

    /// After [`Conversations::online`]: the server resumed the stream that was lost
    /// (XEP-0198 §5), so nothing sent to us was lost, and the contacts' presence known at
    /// the loss holds again: on a resumed stream our presence is an update, for which the
    /// server sends no probes (RFC 6121 §4.2.2), so no contact would tell it again. Each
    /// resource is shown online again and the messages waiting for it go out.
    pub fn resumed<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        let before = std::mem::take(&mut self.presences_at_loss);
        let mut bares = Vec::new();
        for (full, resource) in before.all() {
            if !self.presences.restore(full, resource.clone()) {
                continue;
            }
            if resource.esessions.is_none() {
                // Its disco#info question went with the connection (XEP-0116 §3).
                self.ask_disco(full, resource.caps.as_ref());
            }
            self.events.push_back(ClientEvent::Presence {
                jid: full.to_owned(),
                show: Some(resource.show),
                esessions: resource.esessions,
            });
            bares.push(jid::bare(full).to_owned());
        }
        bares.dedup();
        for bare in bares {
            self.pump(engine, &bare, now);
        }
    }

    /// Online again as `jid`, with the roster fetched again (RFC 6121 §2.1.3; `None`:
    /// the fetch failed, the old roster is kept). Messages waiting go out once their
    /// contacts' presence arrives.
    pub fn online(&mut self, jid: &str, roster: Option<Vec<RosterItem>>) {
        self.offline = None;
        self.events.push_back(ClientEvent::Online {
            jid: jid.to_owned(),
        });
        if let Some(items) = roster {
            let gone: Vec<RosterItem> = self
                .roster
                .items()
                .filter(|old| !items.iter().any(|i| i.jid == old.jid))
                .map(|old| RosterItem {
                    subscription: roster::Subscription::Remove,
                    ..old.clone()
                })
                .collect();
            self.set_roster(gone);
            self.set_roster(items);
        }
    }
}
