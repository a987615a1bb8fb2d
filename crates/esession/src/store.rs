//! What the engine must persist, as traits, with an in-memory implementation.
//!
//! Retained secrets follow profile P7: one record per (own bare JID, peer bare JID, peer
//! full JID), with its creation time and a `verified` flag. The engine never keeps a
//! retained secret longer than a negotiation; the store is the only owner.
//!
//! Keys follow XEP-0116 §7.3–7.4 ([`KeyStore`]): our own identity private key per account,
//! and every peer key received, with the JIDs that presented it (rules in [`crate::trust`]).
use crate::crypto::SecretBytes;
use crate::offline::{AcceptedInit, OfflineSet, OfflineSetKind};
use crate::time::Timestamp;
use crate::trust::{self, KnownKey, Provenance};
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

impl SecretId {
    /// The record of a session between `own` (our bare JID) and the peer's full JID
    /// `peer_full`, whose bare JID is `peer_bare` (profile P7).
    pub(crate) fn new(own: &str, peer_bare: &jid::BareJid, peer_full: &str) -> Self {
        SecretId {
            own: own.to_owned(),
            peer_bare: peer_bare.as_str().to_owned(),
            peer_full: peer_full.to_owned(),
        }
    }
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

pub use crate::error::StoreError;

/// Persistent storage of our identity keys and of the peer keys we received (XEP-0116 §7.3,
/// §7.4). Everything is per own account (`own` = our bare JID).
///
/// Sightings go through [`trust::sighting`], so every store applies the same rules.
pub trait KeyStore: Send {
    /// Our identity private key (PKCS#8 DER) for `own`, if one is stored.
    ///
    /// # Errors
    /// A [`StoreError`] when a key is stored but cannot be read (e.g. a store that encrypts it
    /// at rest was given no passphrase or a wrong one): never `Ok(None)` then, so a caller
    /// never makes a new key in place of one it failed to read.
    fn identity_key(&self, own: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError>;

    /// Stores our identity private key `der` (PKCS#8 DER) for `own`.
    ///
    /// # Errors
    /// A [`StoreError`] when `own` already has one (a key is never lost by accident; use
    /// [`KeyStore::replace_identity_key`]), or `der` is refused by [`trust::check_identity_der`].
    fn set_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError>;

    /// Stores `der` as the identity key of `own`, destroying the previous one if any.
    ///
    /// # Errors
    /// A [`StoreError`] when `der` is refused or the store fails.
    fn replace_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError>;

    /// The peer key with fingerprint `fp`, if `own` received it before.
    fn known_key(&self, own: &str, fp: &[u8; 32]) -> Result<Option<KnownKey>, StoreError>;

    /// Every key `peer_bare` presented to `own` or that `own` fetched for it (every key
    /// [`KnownKey::seen_from`] it), ordered by fingerprint.
    fn keys_of(&self, own: &str, peer_bare: &str) -> Result<Vec<KnownKey>, StoreError>;

    /// Every key `own` received, ordered by fingerprint.
    fn all_keys(&self, own: &str) -> Result<Vec<KnownKey>, StoreError>;

    /// Remembers that `peer_bare` presented the key `key_value` (fingerprint `fp`) at `now`
    /// in a session, or that it was fetched for it (`provenance`): creates the record
    /// (untrusted, no petname) or adds/updates the JID's sighting ([`trust::sighting`]).
    /// Call it after [`trust::assess`], once the signature verified.
    ///
    /// # Errors
    /// A [`StoreError`] when [`trust::sighting`] refuses the input or the store fails.
    fn record_sighting(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        key_value: &str,
        peer_bare: &str,
        now: Timestamp,
        provenance: Provenance,
    ) -> Result<(), StoreError>;

    /// Marks the key `fp` verified by the user, or not (§7.3). Returns whether it exists.
    ///
    /// # Errors
    /// A [`StoreError`] when asked to trust a revoked key ([`KeyStore::revoked_at`]).
    fn set_trusted(&mut self, own: &str, fp: &[u8; 32], trusted: bool) -> Result<bool, StoreError>;

    /// Names the key `fp` (§7.4 petname), or removes its name. Returns whether it exists.
    ///
    /// # Errors
    /// A [`StoreError`] when [`trust::check_petname`] refuses the name.
    fn set_petname(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        petname: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Forgets the key `fp` with its sightings, trust and petname. Returns whether it existed.
    /// A recorded revocation of it stays ([`KeyStore::revoked_at`]).
    fn forget_key(&mut self, own: &str, fp: &[u8; 32]) -> Result<bool, StoreError>;

    /// Remembers that the key `fp` was revoked by its holder at `revoked_at` (XEP-0189 §4,
    /// a revocation the caller verified with [`crate::pubkeys::Revocation::parse`]) and
    /// marks the key untrusted if it is known. A revoked key is refused in every later
    /// negotiation and can never be trusted again (decision "Published keys (XEP-0189)").
    /// Recording it again keeps the earliest time.
    fn record_revocation(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        revoked_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// When the key `fp` was revoked, if a revocation of it was recorded for `own`.
    fn revoked_at(&self, own: &str, fp: &[u8; 32]) -> Result<Option<Timestamp>, StoreError>;

    /// [`trust::assess`] (XEP-0116 §7.3–7.4) of the key `presented` by `peer_bare`, with the
    /// past read from this store for our account `own`. Call it before recording the
    /// sighting.
    ///
    /// # Errors
    /// The store's error, if it cannot be read.
    fn assess(
        &self,
        own: &str,
        presented: Option<[u8; 32]>,
        peer_bare: &str,
    ) -> Result<trust::Assessment, StoreError> {
        let keys = self.keys_of(own, peer_bare)?;
        let key = match presented {
            Some(fp) => self.known_key(own, &fp)?,
            None => None,
        };
        Ok(trust::assess(&keys, key.as_ref(), presented, peer_bare))
    }
}

/// Persistent storage of our published offline option sets (XEP-0187 §3.1, profile P11):
/// one set per (own bare JID, [`OfflineSetKind`]), its secrets kept encrypted at rest by
/// stores that write to disk, with the inits accepted for it.
pub trait OfflineStore: Send {
    /// Stores `set` for `own`, replacing the set of the same kind and discarding that set's
    /// accepted inits (profile P11: republishing discards them). Called before the set is
    /// published.
    fn put_offline_set(&mut self, own: &str, set: &OfflineSet) -> Result<(), StoreError>;

    /// Every stored set of `own`, with its accepted inits, ordered by kind.
    fn offline_sets(&self, own: &str) -> Result<Vec<OfflineSet>, StoreError>;

    /// Destroys the set of `kind` and its accepted inits (withdrawal). Returns whether it
    /// existed.
    fn remove_offline_set(&mut self, own: &str, kind: OfflineSetKind) -> Result<bool, StoreError>;

    /// Atomically records `init` as accepted for the stored set of `kind` whose N_A is
    /// `nonce`, unless its d or N_B was accepted before for that set: then nothing is
    /// recorded and the answer is `Ok(false)` (a replay, profile P11).
    ///
    /// # Errors
    /// A [`StoreError`] when no such set is stored (withdrawn or republished meanwhile).
    fn accept_offline_init(
        &mut self,
        own: &str,
        kind: OfflineSetKind,
        nonce: &[u8],
        init: &AcceptedInit,
    ) -> Result<bool, StoreError>;
}

/// Persistent storage of retained secrets (XEP-0116 §4.10, profile P7), of keys
/// ([`KeyStore`]) and of offline option sets ([`OfflineStore`]).
///
/// Implementations must make [`SecretStore::rotate`] atomic: after a crash either the old
/// state or the new state is found, never a state with both or neither.
pub trait SecretStore: KeyStore + OfflineStore {
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

/// Keeps retained secrets and keys in memory only: they die with the process.
#[derive(Default, Debug, Clone)]
pub struct MemoryStore {
    records: BTreeMap<SecretId, RetainedSecret>,
    identity: BTreeMap<String, SecretBytes>,
    keys: BTreeMap<(String, [u8; 32]), KnownKey>,
    offline: BTreeMap<(String, OfflineSetKind), OfflineSet>,
    revoked: BTreeMap<(String, [u8; 32]), Timestamp>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets keys of `own` per [`trust::evictions`] with `limit`, never `keep`.
    fn evict_untrusted(&mut self, own: &str, keep: &[u8; 32], limit: usize) {
        let candidates = self
            .keys
            .iter()
            .filter(|((o, _), k)| o == own && !k.trusted && k.petname.is_none())
            .count();
        if candidates <= limit {
            return;
        }
        let keys: Vec<KnownKey> = self
            .keys
            .iter()
            .filter(|((o, _), _)| o == own)
            .map(|(_, k)| k.clone())
            .collect();
        for fp in trust::evictions(&keys, keep, limit) {
            self.keys.remove(&(own.to_owned(), fp));
        }
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

impl OfflineStore for MemoryStore {
    fn put_offline_set(&mut self, own: &str, set: &OfflineSet) -> Result<(), StoreError> {
        self.offline.insert((own.to_owned(), set.kind), set.clone());
        Ok(())
    }

    fn offline_sets(&self, own: &str) -> Result<Vec<OfflineSet>, StoreError> {
        Ok(self
            .offline
            .iter()
            .filter(|((o, _), _)| o == own)
            .map(|(_, s)| s.clone())
            .collect())
    }

    fn remove_offline_set(&mut self, own: &str, kind: OfflineSetKind) -> Result<bool, StoreError> {
        Ok(self.offline.remove(&(own.to_owned(), kind)).is_some())
    }

    fn accept_offline_init(
        &mut self,
        own: &str,
        kind: OfflineSetKind,
        nonce: &[u8],
        init: &AcceptedInit,
    ) -> Result<bool, StoreError> {
        let set = self
            .offline
            .get_mut(&(own.to_owned(), kind))
            .filter(|s| s.has_nonce(nonce))
            .ok_or_else(|| no_offline_set(own, kind))?;
        if set.accepted.iter().any(|a| a.replayed_by(init)) {
            return Ok(false);
        }
        set.accepted.push(*init);
        Ok(true)
    }
}

/// The error of [`OfflineStore::accept_offline_init`] for a set that is not stored.
pub fn no_offline_set(own: &str, kind: OfflineSetKind) -> StoreError {
    StoreError::new(format!(
        "recording an offline init: {own} has no stored {} option set with that nonce \
         (withdrawn or republished)",
        kind.name()
    ))
}

impl KeyStore for MemoryStore {
    fn identity_key(&self, own: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        Ok(self
            .identity
            .get(own)
            .map(|k| Zeroizing::new(k.expose().to_vec())))
    }

    fn set_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        let op = "storing the identity key";
        trust::check_identity_der(op, der)?;
        if self.identity.contains_key(own) {
            return Err(StoreError::new(format!(
                "{op}: {own} already has an identity key; refusing to overwrite it \
                 (replace_identity_key replaces it explicitly)"
            )));
        }
        self.identity
            .insert(own.to_owned(), SecretBytes::new(der.to_vec()));
        Ok(())
    }

    fn replace_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        trust::check_identity_der("replacing the identity key", der)?;
        self.identity
            .insert(own.to_owned(), SecretBytes::new(der.to_vec()));
        Ok(())
    }

    fn known_key(&self, own: &str, fp: &[u8; 32]) -> Result<Option<KnownKey>, StoreError> {
        Ok(self.keys.get(&(own.to_owned(), *fp)).cloned())
    }

    fn keys_of(&self, own: &str, peer_bare: &str) -> Result<Vec<KnownKey>, StoreError> {
        Ok(self
            .keys
            .iter()
            .filter(|((o, _), k)| o == own && k.seen_from(peer_bare))
            .map(|(_, k)| k.clone())
            .collect())
    }

    fn all_keys(&self, own: &str) -> Result<Vec<KnownKey>, StoreError> {
        Ok(self
            .keys
            .iter()
            .filter(|((o, _), _)| o == own)
            .map(|(_, k)| k.clone())
            .collect())
    }

    fn record_sighting(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        key_value: &str,
        peer_bare: &str,
        now: Timestamp,
        provenance: Provenance,
    ) -> Result<(), StoreError> {
        let id = (own.to_owned(), *fp);
        let existing = self.keys.get(&id).cloned();
        let new = existing.is_none();
        let updated = trust::sighting(existing, fp, key_value, peer_bare, now, provenance)?;
        self.keys.insert(id, updated);
        if new {
            self.evict_untrusted(own, fp, trust::MAX_UNTRUSTED_KEYS);
        }
        Ok(())
    }

    fn set_trusted(&mut self, own: &str, fp: &[u8; 32], trusted: bool) -> Result<bool, StoreError> {
        if trusted {
            trust::check_not_revoked(fp, self.revoked_at(own, fp)?)?;
        }
        Ok(match self.keys.get_mut(&(own.to_owned(), *fp)) {
            Some(k) => {
                k.trusted = trusted;
                true
            }
            None => false,
        })
    }

    fn set_petname(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        petname: Option<&str>,
    ) -> Result<bool, StoreError> {
        trust::check_petname("naming a key", petname)?;
        Ok(match self.keys.get_mut(&(own.to_owned(), *fp)) {
            Some(k) => {
                k.petname = petname.map(str::to_owned);
                true
            }
            None => false,
        })
    }

    fn forget_key(&mut self, own: &str, fp: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.keys.remove(&(own.to_owned(), *fp)).is_some())
    }

    fn record_revocation(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        revoked_at: Timestamp,
    ) -> Result<(), StoreError> {
        let at = self
            .revoked
            .entry((own.to_owned(), *fp))
            .or_insert(revoked_at);
        *at = (*at).min(revoked_at);
        if let Some(k) = self.keys.get_mut(&(own.to_owned(), *fp)) {
            k.trusted = false;
        }
        Ok(())
    }

    fn revoked_at(&self, own: &str, fp: &[u8; 32]) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.revoked.get(&(own.to_owned(), *fp)).copied())
    }
}

impl<S: KeyStore + ?Sized> KeyStore for Box<S> {
    fn identity_key(&self, own: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        (**self).identity_key(own)
    }
    fn set_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        (**self).set_identity_key(own, der)
    }
    fn replace_identity_key(&mut self, own: &str, der: &[u8]) -> Result<(), StoreError> {
        (**self).replace_identity_key(own, der)
    }
    fn known_key(&self, own: &str, fp: &[u8; 32]) -> Result<Option<KnownKey>, StoreError> {
        (**self).known_key(own, fp)
    }
    fn keys_of(&self, own: &str, peer_bare: &str) -> Result<Vec<KnownKey>, StoreError> {
        (**self).keys_of(own, peer_bare)
    }
    fn all_keys(&self, own: &str) -> Result<Vec<KnownKey>, StoreError> {
        (**self).all_keys(own)
    }
    fn record_sighting(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        key_value: &str,
        peer_bare: &str,
        now: Timestamp,
        provenance: Provenance,
    ) -> Result<(), StoreError> {
        (**self).record_sighting(own, fp, key_value, peer_bare, now, provenance)
    }
    fn set_trusted(&mut self, own: &str, fp: &[u8; 32], trusted: bool) -> Result<bool, StoreError> {
        (**self).set_trusted(own, fp, trusted)
    }
    fn set_petname(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        petname: Option<&str>,
    ) -> Result<bool, StoreError> {
        (**self).set_petname(own, fp, petname)
    }
    fn forget_key(&mut self, own: &str, fp: &[u8; 32]) -> Result<bool, StoreError> {
        (**self).forget_key(own, fp)
    }
    fn record_revocation(
        &mut self,
        own: &str,
        fp: &[u8; 32],
        revoked_at: Timestamp,
    ) -> Result<(), StoreError> {
        (**self).record_revocation(own, fp, revoked_at)
    }
    fn revoked_at(&self, own: &str, fp: &[u8; 32]) -> Result<Option<Timestamp>, StoreError> {
        (**self).revoked_at(own, fp)
    }
}

impl<S: OfflineStore + ?Sized> OfflineStore for Box<S> {
    fn put_offline_set(&mut self, own: &str, set: &OfflineSet) -> Result<(), StoreError> {
        (**self).put_offline_set(own, set)
    }
    fn offline_sets(&self, own: &str) -> Result<Vec<OfflineSet>, StoreError> {
        (**self).offline_sets(own)
    }
    fn remove_offline_set(&mut self, own: &str, kind: OfflineSetKind) -> Result<bool, StoreError> {
        (**self).remove_offline_set(own, kind)
    }
    fn accept_offline_init(
        &mut self,
        own: &str,
        kind: OfflineSetKind,
        nonce: &[u8],
        init: &AcceptedInit,
    ) -> Result<bool, StoreError> {
        (**self).accept_offline_init(own, kind, nonce, init)
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

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        conformance::all(MemoryStore::new);
    }

    #[test]
    fn debug_redacts_identity_keys() {
        let mut s = MemoryStore::new();
        s.set_identity_key("a@x", &[0x30, 1]).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("48, 1") && dbg.contains("redacted"), "{dbg}");
    }

    /// Issue 11 §14: keys never trusted nor named are bounded per account; the stalest go,
    /// trusted and named ones stay, other accounts are untouched.
    #[test]
    fn untrusted_keys_are_bounded() {
        let mut s = MemoryStore::new();
        let kv = |n: u64| format!("<KeyValue>{n}</KeyValue>");
        let fp = |n: u64| crate::crypto::sha256(&[kv(n).as_bytes()]);
        for n in 0..6 {
            s.record_sighting(
                "a@x",
                &fp(n),
                &kv(n),
                "b@y",
                Timestamp(100 + n),
                Provenance::Session,
            )
            .unwrap();
        }
        s.record_sighting(
            "other@x",
            &fp(9),
            &kv(9),
            "b@y",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap();
        assert!(s.set_trusted("a@x", &fp(0), true).unwrap());
        assert!(s.set_petname("a@x", &fp(1), Some("Bo")).unwrap());
        s.evict_untrusted("a@x", &fp(2), 2);
        let left: Vec<[u8; 32]> = s
            .all_keys("a@x")
            .unwrap()
            .iter()
            .map(|k| k.fingerprint)
            .collect();
        let mut want = vec![fp(0), fp(1), fp(2), fp(5)];
        want.sort();
        assert_eq!(left, want);
        assert_eq!(s.all_keys("other@x").unwrap().len(), 1);
    }
}
