//! XEP-0189 published keys tied to the account's trust store: fetching a contact's keys,
//! revocations and attestations and checking them, revoking our key, attesting the keys
//! we trust (profile P14). The payloads are built and checked by [`esession::pubkeys`];
//! the nodes are read and written by [`pubkeys`](crate::pubkeys).
use crate::{Connection, XmppError};
use esession::pubkeys::{absorb, parse_item, Attestation, FetchedKey, PubkeyError, Revocation};
use esession::store::KeyStore;
use esession::{Fingerprint, IdentityKey, PublicKey, StoreError, Timestamp};
use std::time::Duration;
use thiserror::Error;

/// Bound of each PEP or iq round trip.
const STEP: Duration = Duration::from_secs(10);

/// What went wrong with published keys.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PublishedKeysError {
    /// A request to the server or the contact failed.
    #[error(transparent)]
    Xmpp(#[from] XmppError),
    /// The trust store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A payload could not be built or a stored key not read.
    #[error(transparent)]
    Pubkey(#[from] PubkeyError),
    /// `keys attest`: no key of the contact is trusted (verified and not revoked).
    #[error("no key of {peer} is trusted here")]
    NoTrustedKey {
        /// The contact's bare JID.
        peer: String,
    },
    /// `keys attest`: our key is not in our pubkey node, so no contact could check an
    /// attestation signed with it (XEP-0189 §5: the signer's key is looked up there).
    #[error(
        "our key {fingerprint} is not among the keys we publish: an attestation signed with \
         it could not be checked by anyone (publish it first: `esession keys publish`)"
    )]
    SignerNotPublished {
        /// Our key's fingerprint (Base64).
        fingerprint: String,
    },
    /// `keys revoke`: the revocation is published and recorded, but the key could not be
    /// withdrawn from our pubkey node (`error`): contacts who fetch the node see it revoked.
    #[error(
        "the key {fingerprint} is revoked (the revocation is published and recorded here), \
         but it is still in our pubkey node: {error}; `esession keys publish` replaces it \
         with a new key"
    )]
    RevokedNotWithdrawn {
        /// The revoked key's fingerprint (Base64).
        fingerprint: String,
        /// Why it was not withdrawn.
        error: XmppError,
    },
}

/// Why an attestation a contact publishes is not used (XEP-0189 §5; decision
/// "Attestations are checked in two steps").
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AttestationRefused {
    /// It names another signer than the contact whose node holds it.
    #[error("signed for {signed_for} but published by {published_by}")]
    OtherSigner {
        /// The signer JID it names.
        signed_for: String,
        /// The contact whose node holds it.
        published_by: String,
    },
    /// Its signing key is not one the contact publishes.
    #[error("the signing key is not among the keys published")]
    UnknownSigner,
    /// Its signing key is revoked (XEP-0189 §4: no longer to be relied on).
    #[error("the signing key is revoked")]
    RevokedSigner,
    /// Its signing key is another contact's: published in this node, it was not taken as
    /// the contact's (decision "Trust does not move to a JID without a session with it").
    #[error("the signing key is another contact's, not the publisher's")]
    SignerOfAnother,
    /// The key it attests is neither ours nor one we have seen.
    #[error("the attested key is unknown here")]
    UnknownKey,
    /// The trust store failed while looking the attested key up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored attested key is unreadable, or the signature does not verify.
    #[error(transparent)]
    Pubkey(#[from] PubkeyError),
}

/// What [`Connection::fetch_keys`] found for a contact.
#[derive(Debug)]
pub struct FetchedKeys {
    /// The contact's keys as the trust store now sees them: those published, then the
    /// revoked ones whose revocation alone names them.
    pub keys: Vec<FetchedKey>,
    /// The attestations the contact publishes, each with whether it verified.
    pub attestations: Vec<(Attestation, Result<(), AttestationRefused>)>,
    /// One line per item or node that could not be used, naming why (never used).
    pub refused: Vec<String>,
    /// The contact publishes neither keys nor revocations.
    pub nothing_published: bool,
}

impl Connection {
    /// `peer`'s published keys, revocations and attestations (XEP-0189 §7), fed into the
    /// trust store of our account `own` ([`absorb`]); attestations are checked against
    /// `ours` (our identity key, if any) and the keys we know.
    pub async fn fetch_keys(
        &mut self,
        store: &mut impl KeyStore,
        own: &str,
        ours: Option<&IdentityKey>,
        peer: &str,
    ) -> Result<FetchedKeys, PublishedKeysError> {
        let published = self.fetch_published_keys(peer, STEP).await?;
        let mut keys = absorb(
            store,
            own,
            peer,
            &published.keys,
            &published.revocations,
            Timestamp::now(),
        )?;
        keys.extend(revoked_only(
            store,
            own,
            peer,
            &published.keys,
            &published.revocations,
        )?);
        let attestations = published
            .attestations
            .into_iter()
            .map(|a| {
                let verdict = check_attestation(store, own, ours, peer, &published.keys, &a);
                (a, verdict)
            })
            .collect();
        Ok(FetchedKeys {
            keys,
            attestations,
            refused: published.refused,
            nothing_published: published.keys.is_empty() && published.revocations.is_empty(),
        })
    }

    /// Asks the online contact `full_jid` for its key directly (XEP-0189 §6) and records
    /// it for `peer` (its bare JID) in our account `own`'s trust store.
    pub async fn request_keys(
        &mut self,
        store: &mut impl KeyStore,
        own: &str,
        full_jid: &str,
        peer: &str,
    ) -> Result<Vec<FetchedKey>, PublishedKeysError> {
        let key = self.request_key(full_jid, STEP).await?;
        Ok(absorb(store, own, peer, &[key], &[], Timestamp::now())?)
    }

    /// Revokes `key`: a revocation signed by it, published (XEP-0189 §4), then recorded in
    /// our account `own`'s store so the key is never presented again (decision "Own
    /// revoked key").
    pub async fn revoke_key(
        &mut self,
        store: &mut impl KeyStore,
        own: &str,
        key: &IdentityKey,
    ) -> Result<Revocation, PublishedKeysError> {
        let revocation = Revocation::create(key, Timestamp::now())?;
        self.publish_revocation_item(&revocation, STEP).await?;
        // Recorded once published (a failed publication leaves the key in use, to be
        // revoked again), and before the key is withdrawn from our pubkey node: a failure
        // there must not leave a key our contacts see revoked in use here (found in
        // review: the record came after the withdrawal).
        store.record_revocation(
            own,
            revocation.fingerprint().as_bytes(),
            revocation.revoked_at(),
        )?;
        self.withdraw_revoked_key(&revocation, STEP)
            .await
            .map_err(|error| PublishedKeysError::RevokedNotWithdrawn {
                fingerprint: revocation.fingerprint().to_b64(),
                error,
            })?;
        Ok(revocation)
    }

    /// Attests with `signer` each key of `peer` our account `own` trusts (XEP-0116 §7.3)
    /// and publishes the attestations (XEP-0189 §5), calling `published` after each.
    pub async fn attest_trusted(
        &mut self,
        store: &impl KeyStore,
        own: &str,
        signer: &IdentityKey,
        peer: &str,
        mut published: impl FnMut(&Attestation),
    ) -> Result<(), PublishedKeysError> {
        let attested = trusted_keys(store, own, peer)?;
        if attested.is_empty() {
            return Err(PublishedKeysError::NoTrustedKey {
                peer: peer.to_owned(),
            });
        }
        let ours = signer.public().fingerprint();
        let mine = self.fetch_published_keys(own, STEP).await?;
        if !mine.keys.iter().any(|k| k.fingerprint().ct_eq(&ours)) {
            return Err(PublishedKeysError::SignerNotPublished {
                fingerprint: ours.to_b64(),
            });
        }
        let mut statements = Vec::with_capacity(attested.len());
        for key in &attested {
            statements.push(Attestation::create(signer, own, key, Timestamp::now())?);
        }
        for a in &statements {
            self.publish_attestation(a, STEP).await?;
            published(a);
        }
        Ok(())
    }
}

/// The keys of `peer` that `own` trusts: verified by the user, and never a revoked one
/// (XEP-0189 §4).
fn trusted_keys(
    store: &impl KeyStore,
    own: &str,
    peer: &str,
) -> Result<Vec<PublicKey>, PublishedKeysError> {
    let mut keys = Vec::new();
    for known in store.keys_of(own, peer)? {
        if known.trusted && store.revoked_at(own, &known.fingerprint)?.is_none() {
            keys.push(public_of(&known.key_value)?);
        }
    }
    Ok(keys)
}

/// The revoked keys not in `keys`: a revoked key is usually no longer in the pubkey node
/// (`publish_revocation` retracts it), so the revocation alone names it. A revocation is
/// self-signed, so anyone may republish it: one of a key other JIDs presented, and `peer`
/// never did, is said to be theirs (XEP-0116 §7.4), not listed as `peer`'s under their
/// petname.
fn revoked_only(
    store: &impl KeyStore,
    own: &str,
    peer: &str,
    keys: &[PublicKey],
    revocations: &[Revocation],
) -> Result<Vec<FetchedKey>, StoreError> {
    let mut out = Vec::new();
    for r in revocations {
        let fp = r.fingerprint();
        if keys.iter().any(|k| k.fingerprint().ct_eq(&fp)) {
            continue;
        }
        let known = store.known_key(own, fp.as_bytes())?;
        let others: Vec<String> = known
            .iter()
            .filter(|k| !k.seen_from(peer))
            .flat_map(|k| k.jids.iter().map(|s| s.jid.clone()))
            .collect();
        let alerts = if others.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "this revoked key is the key of {}, not of {peer}: published in {peer}'s node",
                others.join(", ")
            )]
        };
        let revoked_at = store.revoked_at(own, fp.as_bytes())?;
        out.push(FetchedKey {
            fingerprint: fp.to_b64(),
            trusted: false,
            revoked_at: revoked_at.or(Some(r.revoked_at())),
            petname: known.filter(|_| others.is_empty()).and_then(|k| k.petname),
            alerts,
        });
    }
    Ok(out)
}

/// Whether attestation `a`, fetched from `peer`'s node, is `peer`'s and verifies: the
/// signer's key must be one `peer` publishes, the attested key ours or one we know
/// (XEP-0189 §5; decision "Attestations are checked in two steps").
fn check_attestation(
    store: &impl KeyStore,
    own: &str,
    ours: Option<&IdentityKey>,
    peer: &str,
    peer_keys: &[PublicKey],
    a: &Attestation,
) -> Result<(), AttestationRefused> {
    if a.signer_jid() != peer {
        return Err(AttestationRefused::OtherSigner {
            signed_for: a.signer_jid().to_owned(),
            published_by: peer.to_owned(),
        });
    }
    let signer_print = a.signer_print();
    let signer = peer_keys
        .iter()
        .find(|k| k.fingerprint().ct_eq(&signer_print))
        .ok_or(AttestationRefused::UnknownSigner)?;
    // The published signing key must be the contact's and usable: `absorb` recorded it as
    // the contact's unless other JIDs presented it, and a revocation in the same fetch is
    // recorded already.
    if store.revoked_at(own, signer_print.as_bytes())?.is_some() {
        return Err(AttestationRefused::RevokedSigner);
    }
    let signer_known = store.known_key(own, signer_print.as_bytes())?;
    if !signer_known.is_some_and(|k| k.seen_from(peer)) {
        return Err(AttestationRefused::SignerOfAnother);
    }
    let keyprint = a.keyprint();
    let attested = match ours {
        Some(ours) if ours.public().fingerprint().ct_eq(&keyprint) => ours.public(),
        _ => known_public(store, own, &keyprint)?.ok_or(AttestationRefused::UnknownKey)?,
    };
    Ok(a.verify(&attested, signer)?)
}

/// The key with fingerprint `fp` that `own` has seen, as a [`PublicKey`].
fn known_public(
    store: &impl KeyStore,
    own: &str,
    fp: &Fingerprint,
) -> Result<Option<PublicKey>, AttestationRefused> {
    match store.known_key(own, fp.as_bytes())? {
        Some(known) => Ok(Some(public_of(&known.key_value)?)),
        None => Ok(None),
    }
}

/// A stored P4-normalized `<KeyValue/>` as a [`PublicKey`] (profile P8).
fn public_of(key_value: &str) -> Result<PublicKey, PubkeyError> {
    let el = parse_item(key_value)?;
    Ok(PublicKey::from_key_value(&el)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::MemoryStore;

    const RSA_A: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048.pk8.der");
    const RSA_B: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048-b.pk8.der");
    const DSA: &[u8] = include_bytes!("../../esession/tests/keys/dsa2048.pk8.der");
    const AT: Timestamp = Timestamp(1_795_706_626);

    fn key(der: &[u8]) -> IdentityKey {
        IdentityKey::from_pkcs8_der(der).unwrap()
    }

    /// Bob (key B) attests Alice's key A; we are carol, who has seen A from alice.
    #[test]
    fn attestation_checks_name_what_failed() {
        let (alice, bob, other) = (key(RSA_A), key(RSA_B), key(DSA));
        let mut store = MemoryStore::default();
        absorb(&mut store, "carol@x", "alice@x", &[alice.public()], &[], AT).unwrap();
        let a = Attestation::create(&bob, "bob@x", &alice.public(), AT).unwrap();
        let check = |store: &MemoryStore, peer: &str, keys: &[PublicKey], a: &Attestation| {
            check_attestation(store, "carol@x", None, peer, keys, a)
        };
        // Bob's key published in Bob's node, but presented only by mallory: not Bob's.
        let mut taken = store.clone();
        taken
            .record_sighting(
                "carol@x",
                bob.public().fingerprint().as_bytes(),
                &bob.public().normalized(),
                "mallory@x",
                AT,
                esession::trust::Provenance::Session,
            )
            .unwrap();
        absorb(&mut taken, "carol@x", "bob@x", &[bob.public()], &[], AT).unwrap();
        assert!(matches!(
            check(&taken, "bob@x", &[bob.public()], &a),
            Err(AttestationRefused::SignerOfAnother)
        ));
        // Fetched from Bob's node (`fetch_keys` absorbs before it checks): Bob's.
        absorb(&mut store, "carol@x", "bob@x", &[bob.public()], &[], AT).unwrap();
        assert!(check(&store, "bob@x", &[bob.public()], &a).is_ok());
        assert!(matches!(
            check(&store, "mallory@x", &[bob.public()], &a),
            Err(AttestationRefused::OtherSigner { .. })
        ));
        assert!(matches!(
            check(&store, "bob@x", &[other.public()], &a),
            Err(AttestationRefused::UnknownSigner)
        ));
        // Bob's key known as his, Alice's not at all: the attested key is unknown, and
        // our own needs no store entry.
        let mut bobs = MemoryStore::default();
        absorb(&mut bobs, "alice@x", "bob@x", &[bob.public()], &[], AT).unwrap();
        assert!(matches!(
            check_attestation(&bobs, "alice@x", None, "bob@x", &[bob.public()], &a),
            Err(AttestationRefused::UnknownKey)
        ));
        let ours = check_attestation(&bobs, "alice@x", Some(&alice), "bob@x", &[bob.public()], &a);
        assert!(ours.is_ok());
        // A revoked signing key attests nothing, even still published (XEP-0189 §4).
        let revoked = Revocation::create(&bob, AT).unwrap();
        absorb(
            &mut store,
            "carol@x",
            "bob@x",
            &[bob.public()],
            &[revoked],
            AT,
        )
        .unwrap();
        assert!(matches!(
            check(&store, "bob@x", &[bob.public()], &a),
            Err(AttestationRefused::RevokedSigner)
        ));
    }

    #[test]
    fn only_verified_unrevoked_keys_are_attested_and_revocations_name_retracted_keys() {
        let (alice, other) = (key(RSA_A), key(DSA));
        let mut store = MemoryStore::default();
        absorb(
            &mut store,
            "carol@x",
            "alice@x",
            &[alice.public(), other.public()],
            &[],
            AT,
        )
        .unwrap();
        assert!(trusted_keys(&store, "carol@x", "alice@x")
            .unwrap()
            .is_empty());
        let fp = alice.public().fingerprint();
        store.set_trusted("carol@x", fp.as_bytes(), true).unwrap();
        let trusted = trusted_keys(&store, "carol@x", "alice@x").unwrap();
        assert_eq!(trusted.len(), 1);
        assert!(trusted[0].fingerprint().ct_eq(&fp));

        let revocation = Revocation::create(&alice, AT).unwrap();
        absorb(
            &mut store,
            "carol@x",
            "alice@x",
            &[],
            std::slice::from_ref(&revocation),
            AT,
        )
        .unwrap();
        assert!(trusted_keys(&store, "carol@x", "alice@x")
            .unwrap()
            .is_empty());
        let named = revoked_only(
            &store,
            "carol@x",
            "alice@x",
            &[],
            std::slice::from_ref(&revocation),
        )
        .unwrap();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].fingerprint, fp.to_b64());
        assert_eq!(named[0].revoked_at, Some(AT));
        assert!(!named[0].trusted);
        assert!(named[0].alerts.is_empty());
        // The same revocation republished in Bob's node: said to be Alice's key, without
        // its petname (anyone may republish a self-signed revocation).
        store
            .set_petname("carol@x", fp.as_bytes(), Some("Alice"))
            .unwrap();
        let in_bobs = revoked_only(
            &store,
            "carol@x",
            "bob@x",
            &[],
            std::slice::from_ref(&revocation),
        )
        .unwrap();
        assert_eq!(in_bobs[0].petname, None);
        assert!(
            in_bobs[0].alerts[0].contains("the key of alice@x, not of bob@x"),
            "{:?}",
            in_bobs[0].alerts
        );
        // Still published: its own line comes from `absorb`.
        assert!(revoked_only(
            &store,
            "carol@x",
            "alice@x",
            &[alice.public()],
            &[revocation]
        )
        .unwrap()
        .is_empty());
    }
}
