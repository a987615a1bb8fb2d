//! `esession`: a sans-IO engine for XMPP Encrypted Sessions.
//!
//! The engine implements XEP-0201 threads, XEP-0155 stanza session negotiation, the
//! XEP-0217 profile of XEP-0116 (4-message SIGMA-R negotiation) and XEP-0200 stanza
//! encryption, exactly as `docs/profile.md` (the project's wire profile) fixes them.
//! It does no I/O: stanzas go in through [`Engine::handle_stanza`], stanzas and events
//! come out through [`Engine::poll_outgoing`] and [`Engine::poll_event`]; randomness and
//! time are injected.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod crypto;
pub mod forms;
pub mod random;
pub mod store;
pub mod time;
pub mod xml;
