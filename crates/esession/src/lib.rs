//! `esession`: a sans-IO engine for XMPP Encrypted Sessions.
//!
//! The engine implements XEP-0201 threads, XEP-0155 stanza session negotiation, the
//! XEP-0217 profile of XEP-0116 (4-message SIGMA-R negotiation) and XEP-0200 stanza
//! encryption, exactly as the project's wire profile (`docs/profile.md`) fixes them.
//! It does no I/O: stanzas go in through [`Engine::handle_stanza`], stanzas and events
//! come out through [`Engine::poll_outgoing`] and [`Engine::poll_event`]; randomness and
//! time are injected ([`OsRandom`] is the generator to use).
//!
//! The [`manual`] explains how a stanza travels through the engine, the states of a
//! session, and how to embed the engine in any XMPP client, with a runnable example; it
//! includes the wire profile and the design decisions.
//!
//! ## Features
//!
//! - `hazmat`: the low-level cryptography as `esession::crypto` (MODP groups, mpi(), the
//!   KDFs, CTR+HMAC, the SAS), for test vectors, benchmarks and fuzzing. An application
//!   needs none of it: the engine applies every rule of the profile around these calls.
//! - `test-util`: `SeededRandom`, a deterministic generator for reproducible tests.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod archive;
pub mod b64;
mod byte_set;
mod channel;
pub mod compat;
pub mod compress;
pub mod config;
// The primitives are public only under `hazmat` (vectors, benchmarks, fuzzing); the types an
// application needs (keys, algorithm names, the DH pool) are re-exported below.
#[cfg(feature = "hazmat")]
pub mod crypto;
#[cfg(not(feature = "hazmat"))]
#[allow(unreachable_pub)]
mod crypto;
mod engine;
pub mod error;
pub mod event;
pub mod forms;
#[cfg(test)]
mod hostile;
pub mod jid;
pub mod manual;
mod negotiation;
pub mod offline;
pub mod pubkeys;
pub mod random;
mod session_id;
mod small_text;
pub mod stanza;
pub mod store;
pub mod thread;
pub mod time;
mod transcript;
pub mod trust;
pub mod warning;
pub mod xml;

pub use compat::{Compat, PeerClient, GAJIM_STALL};
pub use config::{AcceptPolicy, Config, FloodLimits, Logging, Rate, Security, StanzaKind};
pub use crypto::pubkey::{DsaPublic, RsaPublic};
pub use crypto::{
    CipherAlg, CryptoError, DhPool, Fingerprint, HashAlg, IdentityKey, KeyError, PublicKey, SasAlg,
    SecretBytes, SignAlg,
};
pub use engine::Engine;
pub use error::{Error, ErrorKind, PeerMisbehaved, Rejected, StanzaFault, Usage};
// The JIDs of the API (RFC 7622, normalized when parsed).
pub use ::jid::{BareJid, Error as JidError, FullJid, Jid};
pub use event::{EndedBy, Event, RekeyedBy, Role, SessionInfo, SrsStatus};
pub use offline::{OfflineSet, OfflineSetKind};
#[cfg(any(test, feature = "test-util"))]
pub use random::SeededRandom;
pub use random::{OsRandom, Random};
pub use session_id::SessionId;
pub use store::{
    KeyStore, MemoryStore, OfflineStore, RetainedSecret, SecretId, SecretStore, StoreError,
};
pub use time::Timestamp;
pub use warning::Warning;
pub use xml::Element;

#[cfg(test)]
mod vectors;
