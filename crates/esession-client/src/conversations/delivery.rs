//! Messages on their way: the engine's events drained into conversations, the queue
//! pumped into sessions, receipts (XEP-0184) and the delivery states.
use super::*;

impl Conversations {
    /// Translates the engine's events.
    pub(super) fn drain<S: SecretStore>(&mut self, engine: &mut Engine<S>, now: Timestamp) {
        while let Some(ev) = sessions::poll(engine) {
            match ev {
                SessionEvent::Established(s, info) if !info.encrypted => {
                    // Issue 10: never a body in clear. A plain stanza session (XEP-0155
                    // security c2s/none, allowed by a caller's Config) carries nothing here.
                    let bare = s.bare().to_owned();
                    if let Some(c) = self.convs.get_mut(&bare) {
                        c.remove(s.thread());
                    }
                    if let Err(e) = sessions::end(engine, &s, now) {
                        self.warn_session(&s, e.to_string());
                    }
                    self.warn_session(
                        &s,
                        "a session without encryption was ended: nothing is sent in clear".into(),
                    );
                    self.fail_pending(
                        &bare,
                        "only a session without encryption was agreed: nothing was sent".into(),
                    );
                }
                SessionEvent::Established(s, info) if info.offline => {
                    // XEP-0187: nothing can be sent in an offline session (§3.4: Alice
                    // only reads; Bob's is one-shot), so it is no route for the
                    // conversation; its messages say they came offline. Its alerts are
                    // said as for any session (§7.4 of XEP-0116 applies to its key).
                    for warning in info.warnings() {
                        self.warn_session(&s, warning);
                    }
                }
                SessionEvent::Established(s, info) => {
                    let bare = s.bare().to_owned();
                    let adopted = self
                        .convs
                        .entry(bare.clone())
                        .or_default()
                        .established(s.clone());
                    self.events.push_back(ClientEvent::Established {
                        peer: bare.clone(),
                        thread: s.thread().to_owned(),
                        full: s.full.clone(),
                        sas: info.sas.clone(),
                        sas_alg: info.sas_alg,
                        shield: Shield::of(&info),
                        adopted,
                        kept: self.log.kept_for(Some(info.logging)),
                        petname: self.stored_key(engine, &info).and_then(|k| k.petname),
                        compat: info.compat,
                    });
                    // XEP-0116 §7.4, §4.7: alerted with the session, where the person
                    // reads its SAS.
                    for warning in info.warnings() {
                        self.warn_session(&s, warning);
                    }
                    self.pump(engine, &bare, now);
                }
                SessionEvent::Message {
                    from,
                    session,
                    stanza,
                    body,
                } => self.message(engine, from, session, &stanza, body, now),
                SessionEvent::Ended {
                    session: s,
                    by,
                    reason,
                } => {
                    let bare = s.bare().to_owned();
                    let Some(conv) = self.convs.get_mut(&bare) else {
                        continue;
                    };
                    let negotiating = conv.negotiating_on(s.thread());
                    if conv.remove(s.thread()).is_none() {
                        continue;
                    }
                    if negotiating && by.is_none() {
                        // Our negotiation failed (e.g. timed out): try another resource
                        // until this one shows a new presence.
                        self.presences.set_unresponsive(&s.full);
                    }
                    let reason = match by {
                        Some(EndedBy::Us) => "ended by us".to_owned(),
                        Some(EndedBy::Peer) => "ended by the contact".to_owned(),
                        None => format!("failed: {reason}"),
                    };
                    self.session_over(&bare, &s, reason);
                    // A message to a contact whose session died renegotiates (issue: no
                    // lost messages): queued messages go in a new session.
                    self.pump(engine, &bare, now);
                }
                SessionEvent::TerminateUnacknowledged(s) => {
                    // Profile P10. A session whose end was reported already (connection
                    // lost, resource gone, stale) was terminated for the record only: the
                    // user was told, nothing more to say. A /end unanswered is said.
                    if self.convs.get(s.bare()).is_some_and(|c| c.has(s.thread())) {
                        let detail = esession::Warning::TerminateUnacknowledged.to_string();
                        self.warn_session(&s, detail);
                    }
                }
                SessionEvent::Warning {
                    peer,
                    thread,
                    detail,
                } => self.events.push_back(ClientEvent::Warning {
                    peer: Some(peer),
                    thread,
                    detail,
                }),
            }
        }
    }

    pub(super) fn message<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        from: String,
        session: Option<SessionRef>,
        stanza: &Element,
        body: Option<String>,
        now: Timestamp,
    ) {
        let bare = jid::bare(&from).to_owned();
        let Some(session) = session else {
            // In clear: shown as such; receipts are neither given nor taken in clear.
            if let Some(body) = body {
                self.events.push_back(ClientEvent::Message {
                    peer: bare,
                    full: from,
                    body,
                    encrypted: false,
                    offline: false,
                    id: stanza.attr("id").map(str::to_owned),
                    kept: Kept::Nowhere,
                });
            }
            return;
        };
        let conv = self.convs.entry(bare.clone()).or_default();
        // XEP-0184 §4: the receipt names the message; only one sent in this session.
        let delivered =
            receipts::acknowledged(stanza).filter(|id| conv.queue.delivered(id, session.thread()));
        if delivered.is_some() {
            conv.acknowledged_in(session.thread());
        }
        let id = stanza.attr("id").map(str::to_owned);
        let fresh = id
            .as_deref()
            .is_none_or(|i| conv.first_time(i, body.as_deref().unwrap_or_default()));
        if let Some(acked) = delivered {
            self.set_state(&bare, acked, DeliveryState::Delivered);
        }
        let info = sessions::info(engine, &session);
        let offline = info.as_ref().is_some_and(|i| i.offline);
        // XEP-0184 §4: acknowledged in the session it came through, so encrypted; an
        // offline session carries nothing back (XEP-0187 §3.4).
        if let Some(id) = receipts::requested(stanza).filter(|_| !offline) {
            if let Err(e) = sessions::send_receipt(engine, &session, id) {
                self.warn(Some(from.clone()), format!("receipt not sent: {e}"));
            }
        }
        if let (Some(body), true) = (body, fresh) {
            let logging = info.map(|i| i.logging);
            let kept = self.keep(
                &bare,
                Direction::Received,
                id.as_deref(),
                &body,
                now,
                logging,
            );
            self.events.push_back(ClientEvent::Message {
                peer: bare,
                full: from,
                body,
                encrypted: true,
                offline,
                id,
                kept,
            });
        }
    }

    /// Sends what the conversation with `bare` has queued, if it can: in the current
    /// session; or after a negotiation with the best resource (RFC 6121 §8.5.2.1.1).
    pub(super) fn pump<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        bare: &str,
        now: Timestamp,
    ) {
        if self.closing {
            return;
        }
        let Some(conv) = self.convs.get_mut(bare) else {
            return;
        };
        if !conv.queue.has_pending() {
            return;
        }
        if self.offline.is_some() {
            return self.hold_pending(bare);
        }
        if let Some(s) = conv.current().cloned() {
            // XEP-0184 §5: a client whose disco#info lacks receipts gives none, so none
            // is asked for nor waited for: its message is settled once sent, never sent
            // again in a later session (decisions.md, "Receipts").
            let acknowledges = self.presences.acknowledges(&s.full);
            for (id, body) in conv.queue.pending() {
                match sessions::send_body(engine, &s, &id, &body, acknowledges) {
                    Ok(()) => {
                        if let Some(c) = self.convs.get_mut(bare) {
                            if acknowledges {
                                c.queue.sent(&id, s.thread(), now);
                            } else {
                                c.queue.forget(&id);
                            }
                        }
                        let logging = sessions::info(engine, &s).map(|i| i.logging);
                        self.keep(bare, Direction::Sent, Some(&id), &body, now, logging);
                        self.set_state(bare, &id, DeliveryState::Sent);
                    }
                    Err(e) => {
                        // The session cannot carry data any more (e.g. its key is spent
                        // and it is ending): forget it and try again in a new one.
                        self.warn_session(&s, format!("session unusable: {e}"));
                        if let Some(c) = self.convs.get_mut(bare) {
                            c.remove(s.thread());
                        }
                        self.session_over(bare, &s, format!("failed: {e}"));
                        self.drain(engine, now);
                        return self.pump(engine, bare, now);
                    }
                }
            }
            return;
        }
        if conv.negotiating() {
            return;
        }
        let hold = |reason: &str| DeliveryState::Queued {
            reason: Some(reason.to_owned()),
        };
        match self.presences.route(bare) {
            Route::To(full) => match Jid::new(&full)
                .map_err(|e| format!("{full} is not a JID: {e}"))
                .and_then(|to| sessions::start(engine, &to, now).map_err(|e| e.to_string()))
            {
                Ok(s) => {
                    if let Some(c) = self.convs.get_mut(bare) {
                        c.negotiate(s);
                    }
                }
                Err(e) => self.fail_pending(bare, format!("cannot negotiate: {e}")),
            },
            // Waiting for the resources' disco#info answers.
            Route::Unknown => {}
            // Issue 10: an offline contact's messages go in an XEP-0187 offline session
            // with the user's consent (it has no forward secrecy); otherwise they stay
            // queued, marked not sent with the reason.
            Route::Offline if self.allow_offline && self.presence_due.is_some_and(|d| now < d) => {
                // The contact's presence may still be on its way after our initial
                // presence: no offline session (no forward secrecy) for it yet.
                let reason = "the contact's presence is not known yet after signing in";
                self.mark_waiting(bare, reason);
            }
            Route::Offline => {
                let pending = conv.queue.pending();
                let fallback = OfflineFallback {
                    allowed: self.allow_offline,
                    expects_answers: false,
                };
                match fallback.check(Unreachable::NoPresence {
                    to: bare.to_owned(),
                }) {
                    Ok(_) => {
                        for (id, body) in pending {
                            if let Some(c) = self.convs.get_mut(bare) {
                                c.queue.hand_offline(&id);
                            }
                            let reason = "the contact is offline: sending in an offline \
                                          session (no forward secrecy)";
                            self.set_state(bare, &id, hold(reason));
                            self.offline_out.push_back(OfflineRequest {
                                bare: bare.to_owned(),
                                id,
                                body,
                            });
                        }
                    }
                    Err(e) => self.mark_waiting(bare, &format!("not sent yet: {e}")),
                }
            }
            Route::NotResponding => {
                self.mark_waiting(bare, "the contact's client does not answer: not sent yet");
            }
            // XEP-0116 §3: nothing is sent in clear to a client without ESessions.
            Route::NoESessions => self.fail_pending(
                bare,
                "the contact is online without ESession support: nothing was sent".into(),
            ),
        }
        self.drain(engine, now);
    }

    /// Marks the queued messages of `bare` as waiting for the connection to the server.
    pub(super) fn hold_pending(&mut self, bare: &str) {
        let Some(why) = self.offline.clone() else {
            return;
        };
        self.mark_waiting(
            bare,
            &format!("not sent yet: no connection to the server ({why})"),
        );
    }

    /// Marks the queued messages of `bare` as waiting, for `reason`.
    fn mark_waiting(&mut self, bare: &str, reason: &str) {
        let ids: Vec<String> = self
            .convs
            .get(bare)
            .map(|c| c.queue.pending().into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default();
        for id in ids {
            let reason = Some(reason.to_owned());
            self.set_state(bare, &id, DeliveryState::Queued { reason });
        }
    }

    pub(super) fn fail_pending(&mut self, bare: &str, reason: String) {
        let ids = self
            .convs
            .get_mut(bare)
            .map(|c| c.queue.drop_pending())
            .unwrap_or_default();
        for id in ids {
            let reason = reason.clone();
            self.set_state(bare, &id, DeliveryState::Failed { reason });
        }
    }

    /// Records and reports a change of message `id`'s state.
    pub(super) fn set_state(&mut self, peer: &str, id: &str, state: DeliveryState) {
        if !self.states.set(id, state.clone()) {
            return;
        }
        self.events.push_back(ClientEvent::Receipt {
            peer: peer.to_owned(),
            id: id.to_owned(),
            state,
        });
    }

    /// Keeps a message in the history as its session's `logging` allows (issue 10).
    pub(super) fn keep(
        &mut self,
        bare: &str,
        direction: Direction,
        id: Option<&str>,
        body: &str,
        now: Timestamp,
        logging: Option<esession::Logging>,
    ) -> Kept {
        let (kept, problem) =
            self.log
                .record(bare, direction, id.unwrap_or_default(), body, now, logging);
        if let Some(detail) = problem {
            self.warn(Some(bare.to_owned()), detail);
        }
        kept
    }
}
