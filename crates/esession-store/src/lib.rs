//! The embedded default store of `esession`: retained secrets (profile P7), keys (XEP-0116
//! §7.3–7.4) and session history metadata in one SQLite file.
//!
//! [`SqliteStore`] implements [`esession::store::SecretStore`] with the same semantics as
//! the engine's `MemoryStore`, but durably: every change is one SQLite transaction in a
//! WAL-journaled file with `synchronous=FULL`, so a crash (even `SIGKILL` mid-write) leaves
//! either the old or the new state, never a mix. The file is created with mode `0600` on
//! unix; destroyed secrets are overwritten in the file (`secure_delete`, then a WAL
//! checkpoint) rather than merely unlinked from the b-tree.
//!
//! It implements [`esession::store::KeyStore`] too: peer keys with the JIDs that presented
//! them, and our identity private key per account, sealed under the store's device key.
//!
//! The session history keeps metadata only (who, when, role, SAS, whether the retained
//! secret matched, how the session ended). The message history keeps the messages of
//! sessions whose `logging` is `may`, each sealed under the device key.
//!
//! ```
//! use esession::store::{RetainedSecret, SecretId, SecretStore};
//! use esession::time::Timestamp;
//! use esession_store::SqliteStore;
//! use zeroize::Zeroizing;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut store = SqliteStore::open_in_memory()?;
//! let id = SecretId {
//!     own: "alice@example.org".into(),
//!     peer_bare: "bob@example.net".into(),
//!     peer_full: "bob@example.net/phone".into(),
//! };
//! let rs = RetainedSecret {
//!     id: id.clone(),
//!     secret: Zeroizing::new(vec![7u8; 32]),
//!     created: Timestamp(1_700_000_000),
//!     verified: false,
//! };
//! store.rotate(None, rs)?;
//! assert_eq!(store.secrets_with("alice@example.org", "bob@example.net")?.len(), 1);
//! assert!(store.mark_verified(&id)?);
//! # Ok(())
//! # }
//! ```

mod aead;
mod archive_key;
mod device_key;
mod error;
mod history;
mod identity;
mod keys;
mod messages;
mod offline;
mod private_file;
mod retained;
mod rows;
mod schema;
mod sqlite;
#[cfg(test)]
mod test_files;
#[cfg(feature = "test-util")]
pub mod test_util;
mod unlock;
mod upgrade;

pub use aead::{KdfParams, IDENTITY_KDF};
pub use archive_key::{ArchiveKey, ArchiveKeyError, CHECK_AD, CHECK_PLAINTEXT};
pub use history::{SessionRecord, ROLES, SRS_STATES};
pub use messages::{Direction, History, MessageRecord};
pub use schema::SCHEMA_VERSION;
pub use sqlite::{SqliteStore, DEFAULT_MAX_AGE_SECS};
