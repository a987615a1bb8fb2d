//! A session opened before anything is sent (XEP-0155 §4.1, XEP-0116 §4): so that the
//! contact's SAS can be compared before the first message.
use super::*;

/// What [`Conversations::start_session`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opening {
    /// A negotiation was started with this resource of the contact.
    Started(String),
    /// One is being negotiated already.
    Negotiating,
    /// A session is established already.
    Established,
}

impl Conversations {
    /// Starts negotiating an encrypted session with the contact `bare` now, with no
    /// message to send, with the resource its messages would go to. A session that is
    /// established or being negotiated is kept. Refused, with the reason, while the
    /// connection is down or the account signs out, and when no resource of the contact
    /// can take one: an offline session (XEP-0187) is opened by the message it carries.
    pub fn start_session<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        bare: &str,
        now: Timestamp,
    ) -> Result<Opening, String> {
        let bare = jid::bare(bare).to_owned();
        if self.closing {
            return Err("signing out: no session is started".into());
        }
        if let Some(why) = &self.offline {
            return Err(format!("no connection to the server ({why})"));
        }
        let conv = self.convs.entry(bare.clone()).or_default();
        if conv.current().is_some() {
            return Ok(Opening::Established);
        }
        if conv.negotiating() {
            return Ok(Opening::Negotiating);
        }
        let full = match self.presences.route(&bare) {
            Route::To(full) => full,
            Route::Offline => {
                return Err(format!(
                    "{bare} is offline (an offline session starts with a message)"
                ))
            }
            Route::Unknown => {
                return Err(format!(
                    "whether {bare}'s client supports ESessions is not known yet: \
                     try again in a moment"
                ))
            }
            // XEP-0116 §3: nothing is negotiated with a client without ESessions.
            Route::NoESessions => return Err(format!("{bare} is online without ESession support")),
            Route::NotResponding => return Err(format!("{bare}'s client does not answer")),
        };
        let to = Jid::new(&full).map_err(|e| format!("{full} is not a JID: {e}"))?;
        let session =
            sessions::start(engine, &to, now).map_err(|e| format!("cannot negotiate: {e}"))?;
        if let Some(c) = self.convs.get_mut(&bare) {
            c.negotiate(session);
        }
        self.drain(engine, now);
        Ok(Opening::Started(full))
    }
}
