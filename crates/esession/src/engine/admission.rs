//! Bounded work for strangers (issue 11 §3, `Config::flood`): whether a new negotiation
//! request is answered at all, decided before any modular exponentiation or signature, on
//! the engine's injected clock.
use crate::config::{FloodLimits, Rate};
use crate::time::Timestamp;
use crate::warning::FloodRefusal;
use jid::BareJid;
use std::collections::HashMap;

/// Senders whose buckets are remembered at once; beyond this, buckets that refilled are
/// forgotten, and a new sender is refused while none has.
const TRACKED_SENDERS: usize = 4096;

/// A refused sender hears of it, and the application is warned, once per this window.
const WARN_WINDOW_SECS: u64 = 60;

/// One token, in the bucket's units (a token refills over 60 s at one token a minute).
const TOKEN: u64 = 60;

/// A token bucket kept as the debt its takes left, which drains at the refill rate.
/// An empty debt is a full bucket, so a new bucket needs no parameters.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Bucket {
    /// Tokens taken and not yet refilled, in sixtieths of a token.
    debt: u64,
    /// When `debt` was last brought up to date.
    at: Timestamp,
}

impl Bucket {
    /// Brings the debt up to `now` (the clock never goes back; an earlier `now` changes
    /// nothing).
    fn refill(&mut self, rate: Rate, now: Timestamp) {
        let elapsed = now.0.saturating_sub(self.at.0);
        // per_minute tokens a minute = per_minute sixtieths of a token a second.
        let drained = elapsed.saturating_mul(u64::from(rate.per_minute));
        self.debt = self.debt.saturating_sub(drained);
        self.at = self.at.max(now);
    }

    /// Takes a token if the bucket holds one at `now`.
    pub(super) fn take(&mut self, rate: Rate, now: Timestamp) -> bool {
        self.refill(rate, now);
        let capacity = u64::from(rate.burst).saturating_mul(TOKEN);
        let after = self.debt.saturating_add(TOKEN);
        if after > capacity {
            return false;
        }
        self.debt = after;
        true
    }

    /// Whether the bucket is full again at `now`.
    fn full(&mut self, rate: Rate, now: Timestamp) -> bool {
        self.refill(rate, now);
        self.debt == 0
    }
}

/// What the engine remembers of one sender bare JID.
#[derive(Default)]
#[cfg_attr(feature = "test-util", derive(Clone))]
struct Sender {
    requests: Bucket,
    /// When the sender was last told of a refusal (and the application warned).
    warned: Option<Timestamp>,
}

/// The limits' state: a request bucket per sender bare JID, and the global budget for
/// 3-message requests from JIDs without a trusted key.
#[derive(Default)]
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(super) struct Admission {
    senders: HashMap<BareJid, Sender>,
    untrusted_three_message: Bucket,
    /// When the application was last warned of a refusal for `FloodRefusal::Senders`.
    senders_warned: Option<Timestamp>,
}

impl Admission {
    /// Whether a new request from `bare` is answered, given the negotiations already in
    /// progress with it (`pending_jid`) and with everyone (`pending_all`). The caps are
    /// checked before a token is taken, so a refused request costs none.
    pub(super) fn admit(
        &mut self,
        limits: &FloodLimits,
        bare: &BareJid,
        pending_jid: usize,
        pending_all: usize,
        now: Timestamp,
    ) -> Result<(), FloodRefusal> {
        if pending_jid >= limits.pending_per_jid {
            return Err(FloodRefusal::PerJid);
        }
        if pending_all >= limits.pending {
            return Err(FloodRefusal::Global);
        }
        if !self.senders.contains_key(bare) && self.senders.len() >= TRACKED_SENDERS {
            let rate = limits.requests;
            self.senders.retain(|_, s| !s.requests.full(rate, now));
            if self.senders.len() >= TRACKED_SENDERS {
                return Err(FloodRefusal::Senders);
            }
        }
        let sender = self.senders.entry(bare.clone()).or_default();
        if sender.requests.take(limits.requests, now) {
            Ok(())
        } else {
            Err(FloodRefusal::Rate)
        }
    }

    /// Whether a 3-message request from a JID without a trusted key fits the budget.
    pub(super) fn admit_untrusted_three_message(
        &mut self,
        limits: &FloodLimits,
        now: Timestamp,
    ) -> Result<(), FloodRefusal> {
        if self
            .untrusted_three_message
            .take(limits.untrusted_three_message, now)
        {
            Ok(())
        } else {
            Err(FloodRefusal::UntrustedThreeMessage)
        }
    }

    /// Whether a refusal of `bare` at `now` is the first in its window: then the sender
    /// is answered and the application warned; otherwise both stay silent.
    pub(super) fn first_refusal(
        &mut self,
        bare: &BareJid,
        why: FloodRefusal,
        now: Timestamp,
    ) -> bool {
        let tracked = self.senders.contains_key(bare) || self.senders.len() < TRACKED_SENDERS;
        let slot = if why == FloodRefusal::Senders || !tracked {
            &mut self.senders_warned
        } else {
            &mut self.senders.entry(bare.clone()).or_default().warned
        };
        let due = slot.is_none_or(|at| now.0 >= at.0.saturating_add(WARN_WINDOW_SECS));
        if due {
            *slot = Some(now);
        }
        due
    }
}
