//! Sending to a contact who may be offline: an online ESession first (XEP-0116 §3 checks
//! a full JID's support before negotiating); when the contact looks offline (§4.1), an
//! offline session from her published options (XEP-0187 §3.2–3.3, profile P11), only
//! when the caller allows it, since it lacks forward secrecy. Nothing is ever sent in
//! plaintext.
use crate::{Client, OfflineError, OfflineStart, XmppError};
use esession::store::SecretStore;
use esession::xml::{ns, Element};
use esession::{BareJid, Jid, PeerClient, Timestamp};
use std::time::Duration;
use thiserror::Error;

/// Why a contact looks offline.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unreachable {
    /// Her server answered disco#info with a stanza error (RFC 6120 condition).
    #[error("{to} cannot be reached ({condition})")]
    Unavailable {
        /// The JID tried.
        to: String,
        /// The stanza error's defined condition.
        condition: String,
    },
    /// disco#info got no answer in time.
    #[error("{to} did not answer disco#info")]
    NoDiscoAnswer {
        /// The JID tried.
        to: String,
    },
    /// No resource of the contact is available (RFC 6121 §4.3: no presence seen).
    #[error("{to} has no available resource")]
    NoPresence {
        /// The contact's bare JID.
        to: String,
    },
    /// The negotiation got no answer in time (the attempt is abandoned).
    #[error("{to} did not answer within {secs}s (offline, or no ESession support)")]
    NoAnswer {
        /// The JID tried.
        to: String,
        /// The wait, in seconds.
        secs: u64,
    },
}

impl Unreachable {
    /// A short name of the reason: `unavailable` (disco#info failed) or `timeout` (the
    /// negotiation got no answer).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } | Self::NoDiscoAnswer { .. } | Self::NoPresence { .. } => {
                "unavailable"
            }
            Self::NoAnswer { .. } => "timeout",
        }
    }
}

/// What a contact's disco#info says before negotiating.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reach {
    /// Negotiate online: a full JID that advertises ESessions, or a bare JID (whose
    /// resource is not known before the negotiation, so nothing is asked).
    Negotiate,
    /// The full JID answered without the ESession feature.
    Unsupported,
    /// The full JID looks offline.
    Offline(Unreachable),
}

/// Why no offline session was used, or what failed in it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OfflineSendError {
    /// The caller waits for answers, which an offline contact cannot give (XEP-0187 §3.4:
    /// nothing is sent in an offline session by its receiver).
    #[error("{0}; an offline contact cannot answer")]
    CannotAnswer(Unreachable),
    /// The caller did not allow an offline session, which has no forward secrecy.
    #[error("{0}; offline sessions were not allowed")]
    NotAllowed(Unreachable),
    /// The contact published no offline options.
    #[error("{0}; no offline options are published")]
    NoOptions(Unreachable),
    /// No published option set was accepted (the refusal of the first one tried).
    #[error("{why}; the offline options were refused: {error}")]
    Refused {
        /// Why the contact looked offline.
        why: Unreachable,
        /// The engine's refusal.
        error: esession::Error,
    },
    /// The offline session started, but sending in it or ending it failed.
    #[error("{error}")]
    Session {
        /// The offline session's thread.
        thread: String,
        /// The engine's error.
        error: esession::Error,
    },
    /// Fetching the options or sending failed on the network.
    #[error(transparent)]
    Xmpp(#[from] XmppError),
}

/// When the offline fallback may be used.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineFallback {
    /// The user consented to an offline session (no forward secrecy).
    pub allowed: bool,
    /// The caller waits for answers from the contact.
    pub expects_answers: bool,
}

impl OfflineFallback {
    /// Whether an offline session may be started for a contact who looks offline for
    /// `why`; the error names why not. Nothing is sent in either case.
    pub fn check(self, why: Unreachable) -> Result<Unreachable, OfflineSendError> {
        if self.expects_answers {
            return Err(OfflineSendError::CannotAnswer(why));
        }
        // XEP-0187 §3.1: the key agreement uses the DH values she published in advance,
        // kept until she comes online, so it lacks the forward secrecy of an online one:
        // never without the user's consent.
        if !self.allowed {
            return Err(OfflineSendError::NotAllowed(why));
        }
        Ok(why)
    }
}

impl<S: SecretStore> Client<S> {
    /// Checks a full JID's support before negotiating (XEP-0116 §3); a bare JID is not
    /// asked. A stanza error or no answer means the contact looks offline. Before a
    /// negotiation, what is known of the contact's client goes to the engine (issue 13
    /// §1): its caps node if its presence came with one, else its XEP-0092 version when it
    /// advertises that ([`crate::worth_asking`]).
    pub async fn reach(&mut self, to: &Jid, timeout: Duration) -> Result<Reach, XmppError> {
        let Ok(full) = to.try_as_full() else {
            return Ok(Reach::Negotiate);
        };
        let info = match self
            .connection_mut()
            .disco_info(full.as_str(), None, timeout)
            .await
        {
            Ok(info) => info,
            Err(XmppError::Stanza(condition)) => {
                return Ok(Reach::Offline(Unreachable::Unavailable {
                    to: to.to_string(),
                    condition,
                }))
            }
            // The contact did not answer, on a link that is up: a timeout of our own (the
            // link went down while asking) is ours, not the contact's absence, and must
            // not steer the caller to an offline session (found in review).
            Err(XmppError::Timeout(_)) if self.connection_mut().is_up() => {
                return Ok(Reach::Offline(Unreachable::NoDiscoAnswer {
                    to: to.to_string(),
                }))
            }
            Err(e) => return Err(e),
        };
        if !crate::caps::features(&info).any(|f| f == ns::ESESSION) {
            return Ok(Reach::Unsupported);
        }
        match self.connection_mut().caps_node_seen(full) {
            Some(node) => {
                self.engine_mut()
                    .note_peer_client(full, PeerClient::CapsNode(&node));
            }
            None if crate::worth_asking(&info) => {
                self.learn_software(full, timeout).await?;
            }
            None => {}
        }
        Ok(Reach::Negotiate)
    }

    /// Sends `body` `count` times to the bare JID `alice`, who looked offline for `why`, in
    /// an offline session from her published options (XEP-0116 §4.1, XEP-0187 §3.2–3.3,
    /// profile P11): the first message in the session's first stanza, one-shot with the
    /// terminate (her acknowledgement is not awaited). Check [`OfflineFallback::check`]
    /// first; the engine needs our identity key (XEP-0187 §3.3: Bob always presents it).
    pub async fn send_offline(
        &mut self,
        alice: &BareJid,
        why: Unreachable,
        body: &str,
        count: u32,
        timeout: Duration,
    ) -> Result<OfflineStart, OfflineSendError> {
        let first = Element::new("body", ns::JABBER_CLIENT).with_text(body);
        let start = match self.start_offline(alice, vec![first], timeout).await {
            Ok(Some(start)) => start,
            Ok(None) => return Err(OfflineSendError::NoOptions(why)),
            Err(OfflineError::Engine(error)) => {
                return Err(OfflineSendError::Refused { why, error })
            }
            Err(OfflineError::Xmpp(e)) => return Err(e.into()),
        };
        let session = &start.session;
        let in_session = |error| OfflineSendError::Session {
            thread: session.thread().to_owned(),
            error,
        };
        for _ in 1..count {
            self.engine_mut()
                .send_message(session, body)
                .map_err(in_session)?;
        }
        // XEP-0187 §3.3: one-shot; Bob's terminate is not acknowledged (profile P11).
        self.engine_mut()
            .terminate(session, Timestamp::now())
            .map_err(in_session)?;
        self.flush().await?;
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> Unreachable {
        Unreachable::NoAnswer {
            to: "alice@x".into(),
            secs: 5,
        }
    }

    #[test]
    fn reasons_name_the_contact_and_their_kind() {
        let u = Unreachable::Unavailable {
            to: "alice@x/r".into(),
            condition: "service-unavailable".into(),
        };
        assert_eq!(
            u.to_string(),
            "alice@x/r cannot be reached (service-unavailable)"
        );
        assert_eq!(u.kind(), "unavailable");
        let d = Unreachable::NoDiscoAnswer {
            to: "alice@x/r".into(),
        };
        assert_eq!(d.kind(), "unavailable");
        let p = Unreachable::NoPresence {
            to: "alice@x".into(),
        };
        assert_eq!(p.to_string(), "alice@x has no available resource");
        assert_eq!(
            offline().to_string(),
            "alice@x did not answer within 5s (offline, or no ESession support)"
        );
        assert_eq!(offline().kind(), "timeout");
    }

    #[test]
    fn offline_session_needs_consent_and_no_awaited_answer() {
        let both = |allowed, expects_answers| {
            OfflineFallback {
                allowed,
                expects_answers,
            }
            .check(offline())
        };
        assert!(matches!(
            both(false, false),
            Err(OfflineSendError::NotAllowed(_))
        ));
        // Waiting for answers is refused first, even with consent.
        assert!(matches!(
            both(true, true),
            Err(OfflineSendError::CannotAnswer(_))
        ));
        assert!(matches!(
            both(false, true),
            Err(OfflineSendError::CannotAnswer(_))
        ));
        assert_eq!(both(true, false).ok(), Some(offline()));
    }
}
