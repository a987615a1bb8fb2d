//! Per-message bookkeeping that a long-running account keeps bounded: the delivery state
//! of each message sent, and the ids of the messages received (to show a message sent
//! again only once). The oldest entries that are settled go first; a message still
//! waiting or unacknowledged is never forgotten. Also the caps `ver`s already asked about.
use std::collections::{HashMap, VecDeque};

use crate::queue::DeliveryState;

/// Settled (delivered, sent offline or failed) message states kept, per account.
pub(crate) const STATES_KEPT: usize = 10_000;
/// Ids of received messages kept, per conversation (and of sent ones recorded in the
/// history, per account).
pub(crate) const SEEN_KEPT: usize = 10_000;
/// Caps `ver`s whose support of ESessions is known, per account (XEP-0115 §5.4).
pub(crate) const CAPS_KEPT: usize = 1_000;
/// Roster sets remembered until their answer (a person adds or removes a few at a time).
pub(crate) const ROSTER_SETS_KEPT: usize = 256;

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

/// The most recent keys with their values, at most a bound of them: the oldest key goes
/// first.
#[derive(Clone, Debug)]
pub(crate) struct Recent<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

/// The most recent ids, at most a bound of them.
pub(crate) type RecentIds = Recent<()>;

impl Default for RecentIds {
    fn default() -> Self {
        Recent::new(SEEN_KEPT)
    }
}

impl<V> Recent<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Recent {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    /// Keeps `value` for `key`; false (and the value kept before) if `key` is among the
    /// keys kept already.
    pub(crate) fn keep(&mut self, key: &str, value: V) -> bool {
        if self.map.contains_key(key) {
            return false;
        }
        self.map.insert(key.to_owned(), value);
        self.order.push_back(key.to_owned());
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        true
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl RecentIds {
    /// Adds `id`; false if it is among the ids kept already.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        self.keep(id, ())
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

    #[test]
    fn recent_values_keep_the_first_value_of_a_key() {
        let mut r = Recent::new(2);
        assert!(r.keep("a", true));
        assert!(!r.keep("a", false));
        assert_eq!(r.get("a"), Some(&true));
        assert!(r.keep("b", false) && r.keep("c", true));
        assert_eq!((r.len(), r.get("a")), (2, None), "the oldest went first");
    }
}
