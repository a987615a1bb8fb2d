//! What the engine must persist, as traits, with an in-memory implementation.
//!
//! Retained secrets follow profile P7: one record per (own bare JID, peer bare JID, peer
//! full JID), with its creation time and a `verified` flag. The engine never keeps a
//! retained secret longer than a negotiation; the store is the only owner.
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// Which record a retained secret is (profile P7: keyed by own bare, peer bare, peer full).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretId {
    /// Our own bare JID.
    pub own: String,
    /// The peer's bare JID.
    pub peer_bare: String,
    /// The peer's full JID at the session that produced the secret.
    pub peer_full: String,
}

/// A retained secret (XEP-0116 §4.10) with its bookkeeping.
#[derive(Clone, PartialEq, Eq)]
pub struct RetainedSecret {
    /// Which record this is.
    pub id: SecretId,
    /// The secret octets (the HMAC output "New Retained Secret").
    pub secret: Zeroizing<Vec<u8>>,
    /// When the secret was created.
    pub created: Timestamp,
    /// Whether a person confirmed a SAS somewhere in the chain of secrets (profile P7).
    pub verified: bool,
}

impl fmt::Debug for RetainedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetainedSecret")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("created", &self.created)
            .field("verified", &self.verified)
            .finish()
    }
}

/// A storage failure. The engine treats it as fatal for the negotiation that needed it.
#[derive(Debug, thiserror::Error)]
#[error("secret store failure: {0}")]
pub struct StoreError(pub String);

/// Persistent storage of retained secrets (XEP-0116 §4.10, profile P7).
///
/// Implementations must make [`SecretStore::rotate`] atomic: after a crash either the old
/// state or the new state is found, never a state with both or neither.
pub trait SecretStore: Send {
    /// Every stored secret between `own` (bare) and `peer_bare`, expired ones included.
    fn secrets_with(&self, own: &str, peer_bare: &str) -> Result<Vec<RetainedSecret>, StoreError>;

    /// Every stored secret of `own` (bare) with any peer (for the responder's extended
    /// search of P7).
    fn all_secrets(&self, own: &str) -> Result<Vec<RetainedSecret>, StoreError>;

    /// Atomically destroys the shared retained secret `used` (if any) and stores `new`,
    /// replacing any record with the same [`SecretId`] (P7).
    fn rotate(&mut self, used: Option<&SecretId>, new: RetainedSecret) -> Result<(), StoreError>;

    /// Marks the record `id` verified (the person confirmed the SAS). Returns whether the
    /// record existed.
    fn mark_verified(&mut self, id: &SecretId) -> Result<bool, StoreError>;

    /// Destroys every secret of `own` with `peer_bare` (the person asked to forget them).
    fn forget(&mut self, own: &str, peer_bare: &str) -> Result<usize, StoreError>;
}

/// Keeps retained secrets in memory only: they die with the process.
#[derive(Default, Debug, Clone)]
pub struct MemoryStore {
    records: BTreeMap<SecretId, RetainedSecret>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemoryStore {
    fn secrets_with(&self, own: &str, peer_bare: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        Ok(self
            .records
            .values()
            .filter(|r| r.id.own == own && r.id.peer_bare == peer_bare)
            .cloned()
            .collect())
    }

    fn all_secrets(&self, own: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        Ok(self
            .records
            .values()
            .filter(|r| r.id.own == own)
            .cloned()
            .collect())
    }

    fn rotate(&mut self, used: Option<&SecretId>, new: RetainedSecret) -> Result<(), StoreError> {
        if let Some(id) = used {
            self.records.remove(id);
        }
        self.records.insert(new.id.clone(), new);
        Ok(())
    }

    fn mark_verified(&mut self, id: &SecretId) -> Result<bool, StoreError> {
        Ok(match self.records.get_mut(id) {
            Some(r) => {
                r.verified = true;
                true
            }
            None => false,
        })
    }

    fn forget(&mut self, own: &str, peer_bare: &str) -> Result<usize, StoreError> {
        let before = self.records.len();
        self.records
            .retain(|k, _| !(k.own == own && k.peer_bare == peer_bare));
        Ok(before - self.records.len())
    }
}

impl<S: SecretStore + ?Sized> SecretStore for Box<S> {
    fn secrets_with(&self, own: &str, peer_bare: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        (**self).secrets_with(own, peer_bare)
    }
    fn all_secrets(&self, own: &str) -> Result<Vec<RetainedSecret>, StoreError> {
        (**self).all_secrets(own)
    }
    fn rotate(&mut self, used: Option<&SecretId>, new: RetainedSecret) -> Result<(), StoreError> {
        (**self).rotate(used, new)
    }
    fn mark_verified(&mut self, id: &SecretId) -> Result<bool, StoreError> {
        (**self).mark_verified(id)
    }
    fn forget(&mut self, own: &str, peer_bare: &str) -> Result<usize, StoreError> {
        (**self).forget(own, peer_bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(full: &str, byte: u8) -> RetainedSecret {
        RetainedSecret {
            id: SecretId {
                own: "a@x".into(),
                peer_bare: "b@y".into(),
                peer_full: full.into(),
            },
            secret: Zeroizing::new(vec![byte; 32]),
            created: Timestamp(10),
            verified: false,
        }
    }

    #[test]
    fn rotate_replaces_same_full_jid_and_destroys_used() {
        let mut s = MemoryStore::new();
        s.rotate(None, rs("b@y/1", 1)).unwrap();
        s.rotate(None, rs("b@y/2", 2)).unwrap();
        s.rotate(None, rs("b@y/1", 3)).unwrap();
        assert_eq!(s.secrets_with("a@x", "b@y").unwrap().len(), 2);
        let used = rs("b@y/2", 0).id;
        s.rotate(Some(&used), rs("b@y/1", 4)).unwrap();
        let left = s.secrets_with("a@x", "b@y").unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].secret.as_slice(), &[4u8; 32]);
        assert!(format!("{:?}", left[0]).contains("<redacted>"));
        assert!(s.mark_verified(&left[0].id).unwrap());
        assert_eq!(s.forget("a@x", "b@y").unwrap(), 1);
    }
}
