//! XEP-0187 offline encrypted sessions as profile P11 binds them: Alice publishes signed
//! option sets and keeps their secrets ([`OfflineSet`]); Bob verifies a set, answers it
//! with one init message and sends; Alice, back online, checks and decrypts.
//!
//! The engine drives both sides: [`crate::Engine::publish_offline`],
//! [`crate::Engine::load_offline_sets`], [`crate::Engine::withdraw_offline`] for Alice,
//! [`crate::Engine::start_offline`] for Bob; received offline inits are handled by
//! [`crate::Engine::handle_stanza`].
pub(crate) mod options;
pub(crate) mod receive;
pub(crate) mod send;
mod set;

pub use set::{AcceptedInit, OfflineSet, OfflineSetKind};
