//! Per-message bookkeeping that a long-running account keeps bounded: the delivery state
//! of each message sent, and the ids of the messages received (to show a message sent
//! again only once). The oldest entries that are settled go first; a message still
//! waiting or unacknowledged is never forgotten.
use std::collections::{HashMap, HashSet, VecDeque};

use crate::queue::DeliveryState;

/// Settled (delivered, sent offline or failed) message states kept, per account.
pub(crate) const STATES_KEPT: usize = 10_000;
/// Ids of received messages kept, per conversation (and of sent ones recorded in the
/// history, per account).
pub(crate) const SEEN_KEPT: usize = 10_000;

/// The delivery state of each message sent, by id.
#[derive(Debug)]
pub(crate) struct States {
    map: HashMap<String, DeliveryState>,
    /// Ids in the order they settled, oldest first.
    settled: VecDeque<String>,
    cap: usize,
}

fn is_settled(state: &DeliveryState) -> bool {
    matches!(
        state,
        DeliveryState::Delivered | DeliveryState::SentOffline | DeliveryState::Failed { .. }
    )
}

impl States {
    /// At most `cap` settled states kept (and every unsettled one).
    pub(crate) fn new(cap: usize) -> Self {
        States {
            map: HashMap::new(),
            settled: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&DeliveryState> {
        self.map.get(id)
    }

    /// Records `state` for `id`; false if it was already the state.
    pub(crate) fn set(&mut self, id: &str, state: DeliveryState) -> bool {
        if self.map.get(id) == Some(&state) {
            return false;
        }
        if is_settled(&state) {
            self.settled.push_back(id.to_owned());
        }
        self.map.insert(id.to_owned(), state);
        while self.settled.len() > self.cap {
            let Some(old) = self.settled.pop_front() else {
                break;
            };
            // Still settled (not queued again since): forgotten.
            if self.map.get(&old).is_some_and(is_settled) && !self.settled.contains(&old) {
                self.map.remove(&old);
            }
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The most recent ids, at most a bound of them.
#[derive(Clone, Debug)]
pub(crate) struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Default for RecentIds {
    fn default() -> Self {
        RecentIds::new(SEEN_KEPT)
    }
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        RecentIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    /// Adds `id`; false if it is among the ids kept already.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_oldest_settled_states_are_forgotten() {
        let mut s = States::new(2);
        let queued = DeliveryState::Queued { reason: None };
        assert!(s.set("waiting", queued.clone()));
        assert!(!s.set("waiting", queued.clone()));
        for id in ["a", "b", "c", "d"] {
            s.set(id, DeliveryState::Sent);
            s.set(id, DeliveryState::Delivered);
        }
        // Two settled kept, the unsettled one too.
        assert_eq!(s.len(), 3);
        assert!(s.get("a").is_none() && s.get("b").is_none());
        assert_eq!(s.get("d"), Some(&DeliveryState::Delivered));
        assert_eq!(s.get("waiting"), Some(&queued));
        // Many unsettled: none is forgotten.
        for i in 0..10 {
            s.set(&format!("q{i}"), queued.clone());
        }
        assert_eq!(s.len(), 13);
    }

    #[test]
    fn the_recent_ids_keep_the_newest() {
        let mut r = RecentIds::new(3);
        for id in ["1", "2", "3", "4"] {
            assert!(r.insert(id));
        }
        assert_eq!(r.len(), 3);
        assert!(!r.insert("4"), "kept: a repeat");
        assert!(r.insert("1"), "forgotten: the oldest");
    }
}
