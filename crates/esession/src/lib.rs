//! `esession`: a sans-IO engine for XMPP Encrypted Sessions.
//!
//! The engine implements XEP-0201 threads, XEP-0155 stanza session negotiation, the
//! XEP-0217 profile of XEP-0116 (4-message SIGMA-R negotiation) and XEP-0200 stanza
//! encryption, exactly as the project's wire profile (`docs/profile.md`) fixes them.
//! It does no I/O: stanzas go in through [`Engine::handle_stanza`], stanzas and events
//! come out through [`Engine::poll_outgoing`] and [`Engine::poll_event`]; randomness and
//! time are injected.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod archive;
pub mod b64;
mod channel;
pub mod compress;
pub mod config;
pub mod crypto;
mod engine;
pub mod error;
pub mod event;
pub mod forms;
#[cfg(test)]
mod hostile;
pub mod jid;
mod negotiation;
pub mod offline;
pub mod pubkeys;
pub mod random;
pub mod stanza;
pub mod store;
pub mod thread;
pub mod time;
mod transcript;
pub mod trust;
pub mod xml;

pub use config::{AcceptPolicy, Config, FloodLimits, Logging, Rate, Security, StanzaKind};
pub use crypto::{DhPool, SasAlg};
pub use engine::Engine;
pub use error::{Error, ErrorKind, Violation};
pub use event::{EndedBy, Event, RekeyedBy, Role, SessionInfo, SrsStatus};
pub use offline::{OfflineSet, OfflineSetKind};
pub use random::{OsRandom, Random, SeededRandom};
pub use store::{
    KeyStore, MemoryStore, OfflineStore, RetainedSecret, SecretId, SecretStore, StoreError,
};
pub use time::Timestamp;
pub use xml::Element;

#[cfg(test)]
mod vectors;
