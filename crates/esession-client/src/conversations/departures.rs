//! Sessions whose contact left: a resource gone offline (held back [`super::OFFLINE_GRACE`]),
//! a session gone stale without receipts ([`super::RECEIPT_WAIT`]), and the report of an end.
use super::*;

impl Conversations {
    /// Reports the end of the sessions whose resource went offline, those due at `due`
    /// (all of them for `None`), and sends what waits for another resource.
    pub(super) fn report_gone<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        due: Option<Timestamp>,
        now: Timestamp,
    ) {
        let (ended, held) = std::mem::take(&mut self.gone)
            .into_iter()
            .partition(|(at, _)| due.is_none_or(|d| *at <= d));
        self.gone = held;
        for (_, s) in ended {
            self.session_over(s.bare(), &s, "the contact went offline".into());
            self.pump(engine, s.bare(), now);
        }
    }

    /// Ends the sessions left stale (see [`RECEIPT_WAIT`]): their resources are avoided
    /// until their next presence, their unacknowledged messages go in a new session.
    pub(super) fn replace_stale<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        let Some(since) = now.0.checked_sub(RECEIPT_WAIT).map(Timestamp) else {
            return;
        };
        let stale: Vec<(String, SessionRef)> = self
            .convs
            .iter()
            .flat_map(|(bare, c)| c.stale(since).into_iter().map(|s| (bare.clone(), s)))
            .collect();
        for (bare, s) in stale {
            if let Some(c) = self.convs.get_mut(&bare) {
                c.remove(s.thread());
            }
            // The contact's client may still be there: it is told (XEP-0116 §5).
            let _ = sessions::end(engine, &s, now);
            self.presences.set_unresponsive(&s.full);
            let reason = format!("no receipt within {RECEIPT_WAIT} s: the session is stale");
            self.session_over(&bare, &s, reason);
            self.pump(engine, &bare, now);
        }
    }

    /// The resource `full` went offline: its sessions end now (the engine's terminate is
    /// sent for the record, XEP-0116 §5); the end is reported, and their unacknowledged
    /// messages queued for the next session, [`OFFLINE_GRACE`] later, or with the loss of
    /// the connection if that comes first.
    pub(super) fn resource_gone<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        full: &str,
        now: Timestamp,
    ) {
        let bare = jid::bare(full).to_owned();
        let Some(conv) = self.convs.get_mut(&bare) else {
            return;
        };
        let gone = conv.remove_resource(full);
        for s in gone {
            // Already forgotten by the conversation: the engine's own end event is ignored.
            let _ = sessions::end(engine, &s, now);
            self.gone.push((now.plus(OFFLINE_GRACE), s));
        }
        self.drain(engine, now);
    }

    /// Reports the end of `s` (already removed from its conversation) and queues its
    /// unacknowledged messages again, unless the client is shutting down: those were
    /// reported failed ([`Conversations::shutdown`]) and nothing is sent any more.
    pub(super) fn session_over(&mut self, bare: &str, s: &SessionRef, reason: String) {
        let requeued = match self.convs.get_mut(bare) {
            Some(c) if !self.closing => c.queue.requeue(s.thread()),
            _ => Vec::new(),
        };
        self.events.push_back(ClientEvent::Terminated {
            peer: bare.to_owned(),
            full: s.full.clone(),
            thread: s.thread().to_owned(),
            reason,
        });
        for id in requeued {
            let reason =
                Some("the session ended before the receipt: sent again in the next".into());
            self.set_state(bare, &id, DeliveryState::Queued { reason });
        }
    }
}
