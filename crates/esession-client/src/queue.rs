//! The messages of one conversation on their way out, with their delivery state.
//!
//! A message is queued until a session is established, then sent in it and kept until its
//! XEP-0184 receipt arrives (unless the contact's client gives none, §5). A message whose
//! session ended before the receipt goes back to the queue and is sent again in the next
//! session: the receiver recognizes it by its id (decisions.md, "conversation layer"), so
//! nothing is lost and nothing is shown twice.
use std::collections::VecDeque;

use esession::Timestamp;

/// Where a message stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for a session; `reason` says why it cannot be sent now, if it cannot.
    Queued {
        /// Why it is not sent yet (e.g. the contact is offline).
        reason: Option<String>,
    },
    /// Sent encrypted; no receipt yet, or none will come: the contact's client does not
    /// give receipts (XEP-0184 §5).
    Sent,
    /// Sent in an XEP-0187 offline session, with the user's consent: encrypted, without
    /// forward secrecy; no receipt can come (the session is one-shot).
    SentOffline,
    /// The contact's client acknowledged it (XEP-0184).
    Delivered,
    /// It will not be sent; nothing of it left this client.
    Failed {
        /// Why.
        reason: String,
    },
}

impl DeliveryState {
    /// `queued`, `sent`, `delivered` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryState::Queued { .. } => "queued",
            DeliveryState::Sent | DeliveryState::SentOffline => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed { .. } => "failed",
        }
    }

    /// Whether a message sent has forward secrecy: an online session's keys are gone
    /// when it ends; an offline session's (XEP-0187 §3.1) come from values published in
    /// advance. `None` while not sent.
    pub fn forward_secrecy(&self) -> Option<bool> {
        match self {
            DeliveryState::Sent | DeliveryState::Delivered => Some(true),
            DeliveryState::SentOffline => Some(false),
            DeliveryState::Queued { .. } | DeliveryState::Failed { .. } => None,
        }
    }

    /// The reason of a queued or failed message.
    pub fn reason(&self) -> Option<&str> {
        match self {
            DeliveryState::Queued { reason } => reason.as_deref(),
            DeliveryState::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}

/// A message sent (or to be sent) and not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outgoing {
    id: String,
    body: String,
    /// The thread it was sent in; `None` while queued.
    thread: Option<String>,
    /// When it was sent.
    sent_at: Option<Timestamp>,
    /// Handed to an offline-session attempt (XEP-0187), not settled yet.
    offline: bool,
}

impl Outgoing {
    fn waiting(&self) -> bool {
        self.thread.is_none() && !self.offline
    }
}

/// The unacknowledged messages of a conversation, oldest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Outgoing>,
}

impl Queue {
    /// Queues `body` as message `id`.
    pub(crate) fn push(&mut self, id: String, body: String) {
        self.items.push_back(Outgoing {
            id,
            body,
            thread: None,
            sent_at: None,
            offline: false,
        });
    }

    /// The (id, body) of every queued message, oldest first.
    pub(crate) fn pending(&self) -> Vec<(String, String)> {
        self.items
            .iter()
            .filter(|m| m.waiting())
            .map(|m| (m.id.clone(), m.body.clone()))
            .collect()
    }

    /// Whether messages wait for a session.
    pub(crate) fn has_pending(&self) -> bool {
        self.items.iter().any(Outgoing::waiting)
    }

    /// Marks `id` sent in `thread` at `now`.
    pub(crate) fn sent(&mut self, id: &str, thread: &str, now: Timestamp) {
        if let Some(m) = self.items.iter_mut().find(|m| m.id == id) {
            m.thread = Some(thread.to_owned());
            m.sent_at = Some(now);
        }
    }

    /// Hands `id` to an offline-session attempt: not pending any more until
    /// [`Queue::offline_done`].
    pub(crate) fn hand_offline(&mut self, id: &str) {
        if let Some(m) = self.items.iter_mut().find(|m| m.id == id) {
            m.offline = true;
        }
    }

    /// The offline attempt for `id` ended: sent (forgotten: no receipt can come) or not
    /// (pending again).
    pub(crate) fn offline_done(&mut self, id: &str, sent: bool) {
        if sent {
            self.forget(id);
        } else if let Some(m) = self.items.iter_mut().find(|m| m.id == id) {
            m.offline = false;
        }
    }

    /// Settles `id` as sent for good: no receipt can come for it.
    pub(crate) fn forget(&mut self, id: &str) {
        self.items.retain(|m| m.id != id);
    }

    /// The threads with a message sent at or before `since` and still unacknowledged.
    pub(crate) fn overdue(&self, since: Timestamp) -> Vec<String> {
        let mut threads: Vec<String> = self
            .items
            .iter()
            .filter(|m| m.sent_at.is_some_and(|t| t <= since))
            .filter_map(|m| m.thread.clone())
            .collect();
        threads.dedup();
        threads
    }

    /// Removes `id` once acknowledged in `thread`; false if it is not a message we sent in
    /// that session (a receipt must come through the session the message went in).
    pub(crate) fn delivered(&mut self, id: &str, thread: &str) -> bool {
        match self
            .items
            .iter()
            .position(|m| m.id == id && m.thread.as_deref() == Some(thread))
        {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// Puts the messages sent in `thread` and not acknowledged back in the queue; returns
    /// their ids.
    pub(crate) fn requeue(&mut self, thread: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for m in &mut self.items {
            if m.thread.as_deref() == Some(thread) {
                m.thread = None;
                m.sent_at = None;
                ids.push(m.id.clone());
            }
        }
        ids
    }

    /// Removes every queued message (not those awaiting a receipt); returns their ids.
    pub(crate) fn drop_pending(&mut self) -> Vec<String> {
        let (gone, kept): (VecDeque<Outgoing>, VecDeque<Outgoing>) =
            std::mem::take(&mut self.items)
                .into_iter()
                .partition(|m| m.thread.is_none());
        self.items = kept;
        gone.into_iter().map(|m| m.id).collect()
    }

    /// The ids of every message not acknowledged (queued or sent).
    pub(crate) fn unacknowledged(&self) -> Vec<String> {
        self.items.iter().map(|m| m.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_of_an_ended_session_is_queued_again_and_a_stray_receipt_ignored() {
        let mut q = Queue::default();
        q.push("m1".into(), "one".into());
        q.push("m2".into(), "two".into());
        assert_eq!(q.pending().len(), 2);
        q.sent("m1", "t1", Timestamp(10));
        q.sent("m2", "t1", Timestamp(20));
        assert!(q.overdue(Timestamp(9)).is_empty());
        assert_eq!(q.overdue(Timestamp(10)), vec!["t1".to_owned()]);
        assert!(!q.has_pending());
        assert!(!q.delivered("m1", "t2"), "a receipt from another session");
        assert!(q.delivered("m1", "t1"));
        assert!(!q.delivered("m1", "t1"), "acknowledged once");
        assert_eq!(q.requeue("t1"), vec!["m2".to_owned()]);
        assert_eq!(q.pending(), vec![("m2".to_owned(), "two".to_owned())]);
        q.hand_offline("m2");
        assert!(!q.has_pending(), "in an offline attempt");
        q.offline_done("m2", false);
        assert_eq!(q.pending().len(), 1, "pending again");
        q.hand_offline("m2");
        q.offline_done("m2", true);
        assert!(q.unacknowledged().is_empty(), "sent offline: settled");
        q.push("m3".into(), "three".into());
        assert_eq!(q.drop_pending(), vec!["m3".to_owned()]);
        assert!(q.unacknowledged().is_empty());
    }
}
