//! The conversation layer of esession: one long-running account that owns the
//! connection and the engine, keeps the roster (RFC 6121) and the contacts' presence,
//! holds one conversation per contact (bare JID) whichever side started its sessions,
//! queues messages until a session is established, follows their delivery with XEP-0184
//! receipts carried inside the session, keeps the local history ([`history`]: sealed in
//! the store for `logging` = `may` sessions, in memory only for `mustnot` ones), and
//! reports everything as UI-agnostic [`ClientEvent`]s.
//!
//! [`Conversations`] is the sans-IO core (stanzas and time in; stanzas, events and
//! disco#info requests out); [`Account`] drives it over a real connection.
//!
//! ```
//! use esession::{Config, Engine, FullJid, MemoryStore, SeededRandom, Timestamp};
//! use esession_client::{Conversations, DeliveryState};
//! let now = Timestamp(1_800_000_000);
//! let own = FullJid::new("alice@example.org/pda")?;
//! let mut engine = Engine::new(own, Config::default(), MemoryStore::new(),
//!                              Box::new(SeededRandom::from_label("alice")));
//! let mut convs = Conversations::new("alice@example.org/pda",
//!                                    Box::new(SeededRandom::from_label("ids")));
//! // Bob is offline: the message waits, marked not sent, and nothing leaves.
//! let (_id, state) = convs.send(&mut engine, "bob@example.com", "hi", now);
//! assert!(matches!(state, DeliveryState::Queued { reason: Some(_) }));
//! assert!(engine.poll_outgoing().is_none());
//! # Ok::<(), esession::JidError>(())
//! ```

mod account;
mod bounded;
mod conversation;
mod conversations;
mod event;
pub mod history;
pub mod presence;
mod queue;
pub mod receipts;
pub mod roster;
mod sessions;
#[cfg(test)]
mod tests;

pub use account::{Account, FEATURES};
pub use conversation::Conversation;
pub use conversations::{Conversations, DiscoRequest, OfflineRequest, Opening};
pub use event::{ClientEvent, Shield};
pub use history::{Kept, MessageLog};
pub use presence::{Caps, Route, Show};
pub use queue::DeliveryState;
pub use roster::{RosterItem, Subscription};
pub use sessions::SessionRef;
