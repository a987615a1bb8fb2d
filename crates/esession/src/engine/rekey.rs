//! The engine's re-key policy (XEP-0200 §9, §11.4; profile P9, P13): which stanza we send
//! carries a `<key/>`, and where its fresh Diffie–Hellman value comes from.
use super::session::{Common, Pacing, Secure, State};
use super::shared::{Core, Outbox};
use super::{find_session, Engine, TERMINATE_RESERVE_BLOCKS};
use crate::channel::{Channel, Fresh, Sealed};
use crate::compat::gajim::{self, Dialect};
use crate::config::Config;
use crate::crypto::pool::take_or_compute;
use crate::error::{Error, Usage};
use crate::event::{Event, RekeyedBy};
use crate::session_id::SessionId;
use crate::stanza::message;
use crate::store::SecretStore;
use crate::time::Timestamp;

/// Whether the policy asks for a `<key/>` on the next stanza of `m_len` octets.
fn wanted(
    config: &Config,
    channel: &Channel,
    pacing: &Pacing,
    m_len: usize,
    now: Timestamp,
) -> bool {
    // Profile P9: re-key before 2^32 blocks under one key (here: when the stanza would
    // eat into the terminate reserve, or from the soft limit on).
    let budget = !channel.fits(m_len, TERMINATE_RESERVE_BLOCKS) || channel.wants_rekey();
    // `rekey_every`: every Nth stanza, never sooner than rekey_freq allows (XEP-0200 §9).
    let every = config.rekey_every.is_some_and(|n| {
        let n = u64::from(n.max(channel.rekey_freq()).max(1));
        channel.sent_since_key().saturating_add(1) >= n
    });
    // XEP-0200 §11.4: after an extended period of inactivity entities SHOULD re-key.
    let idle = config
        .rekey_after_idle
        .is_some_and(|secs| now.0.saturating_sub(pacing.last_sent.0) >= secs);
    budget || every || idle || pacing.requested
}

impl<S: SecretStore> Engine<S> {
    /// Makes the next stanza we send in ESession `id` carry a
    /// `<key/>` (XEP-0200 §9: the key SHOULD travel with content, so none is sent alone).
    /// When the negotiated rekey_freq does not allow one yet, the first stanza that may
    /// carry it does.
    ///
    /// # Errors
    /// `Usage` when there is no such ESession or re-keying was not negotiated.
    pub fn rekey(&mut self, id: &SessionId) -> Result<(), Error> {
        let s = find_session(&mut self.sessions, id)?;
        match &mut s.state {
            State::Encrypted(secure) if secure.channel.dialect() == Dialect::Gajim => {
                Err(gajim::rekey_refused().into())
            }
            State::Encrypted(secure) if secure.channel.rekey_group().is_some() => {
                secure.pacing.requested = true;
                Ok(())
            }
            State::Encrypted(_) => Err(Usage::RekeyOff.into()),
            other => Err(other.wrong().into()),
        }
    }
}

impl Secure {
    /// Seals plaintext `m` in this ESession (XEP-0200 §6) and returns the `<c/>` for the
    /// caller's stanza. When the policy calls for a re-key and rekey_freq allows it, the
    /// stanza carries a `<key/>`; when the content would not fit under the old key even
    /// without the reserve, a content-free `<c/>` with the `<key/>` is queued first and
    /// the content goes under the new keys.
    pub(super) fn seal_outgoing<S>(
        &mut self,
        common: &Common,
        m: &[u8],
        core: &mut Core<S>,
        out: &mut Outbox,
    ) -> Result<Sealed, Usage> {
        let now = core.clock;
        let channel = &mut self.channel;
        let group = channel
            .rekey_group()
            .filter(|_| channel.may_rekey())
            .filter(|_| wanted(&core.config, channel, &self.pacing, m.len(), now));
        let Some(group) = group else {
            let c = channel.seal_parts(m, TERMINATE_RESERVE_BLOCKS, None)?;
            self.pacing.last_sent = now;
            return Ok(c);
        };
        if !channel.fits_fresh(m.len(), TERMINATE_RESERVE_BLOCKS) {
            // Not even a fresh key could carry this content.
            return Err(Usage::KeyExhausted);
        }
        // A fresh value per re-key (XEP-0200 §11.3: every x unique), pooled when possible.
        let (secret, public) = take_or_compute(core.dh_pool.as_ref(), group, core.rng.as_mut());
        crate::transcript::record!("rekey.secret", &secret.expose_mpi()); // test vectors only
        let fresh = Fresh { secret, public };
        let c = if channel.fits(m.len(), 0) {
            // The new keys start their own budget, so the reserve is not needed here.
            channel.seal_parts(m, 0, Some(fresh))?
        } else {
            let key_only = channel.seal_with_key(&[], 0, fresh)?;
            let c = channel.seal_parts(m, TERMINATE_RESERVE_BLOCKS, None)?;
            out.send(message(common.peer().as_str(), common.thread()).with_child(key_only));
            c
        };
        self.pacing.requested = false;
        self.pacing.last_sent = now;
        out.event(Event::Rekeyed {
            peer: common.peer().clone(),
            session: common.id.clone(),
            by: RekeyedBy::Us,
        });
        Ok(c)
    }
}
