//! Revocations (XEP-0189 §4): a key withdrawn by its holder.
use super::payload::expect;
use super::statement::{
    fingerprint_child, key_child, key_text, same, sign, signature_child, text_child, time_child,
    verify,
};
use super::{PubkeyError, NS_REVOKE};
use crate::b64;
use crate::crypto::pubkey::{Fingerprint, IdentityKey, PublicKey};
use crate::time::Timestamp;
use crate::xml::Element;

/// A revocation whose signature by the revoked key itself verified.
///
/// Decision (docs/decisions.md): only self-signed revocations are honoured
/// (`revocationprint` = `keyprint`): a revocation by another key would need trust in that
/// key, which XEP-0189 leaves open. Element `<revoke xmlns='urn:xmpp:revoke:2'>` as
/// XEP-0189 §2 names it; `<revocation/>` (its example and schema) is read too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    key: PublicKey,
    time: String,
    revoked_at: Timestamp,
    signature: Vec<u8>,
}

impl Revocation {
    /// Revokes our own key `identity` at `at` (XEP-0189 §4).
    ///
    /// # Errors
    /// [`PubkeyError::Key`] if signing fails.
    pub fn create(identity: &IdentityKey, at: Timestamp) -> Result<Revocation, PubkeyError> {
        let key = identity.public();
        let time = at.to_datetime();
        let fp = key.fingerprint().to_b64();
        // XEP-0189 §4: key, keyprint, revocationprint, revocationtime.
        let signature = sign(identity, &[&key_text(&key), &fp, &fp, &time])?;
        Ok(Revocation {
            key,
            time,
            revoked_at: at,
            signature,
        })
    }

    /// Reads a received revocation and verifies it: every child once, `keyprint` the
    /// fingerprint of `<key/>`, `revocationprint` the same key, the signature by that key
    /// over the XEP-0189 §4 octets.
    ///
    /// # Errors
    /// A [`PubkeyError`] naming the first thing that is wrong.
    pub fn parse(el: &Element) -> Result<Revocation, PubkeyError> {
        const P: &str = "revoke";
        if !el.is("revocation", NS_REVOKE) {
            expect(el, "revoke", NS_REVOKE)?;
        }
        let (key_text, key) = key_child(el, P)?;
        let (keyprint, kp) = fingerprint_child(el, P, "keyprint")?;
        let (revocationprint, rp) = fingerprint_child(el, P, "revocationprint")?;
        let (time, revoked_at) = time_child(el, P, "revocationtime")?;
        let signature = signature_child(el, P)?;
        let fp = key.fingerprint();
        if !same(&kp, &fp) {
            return Err(PubkeyError::FingerprintMismatch {
                child: "keyprint",
                of: "the revoked key",
            });
        }
        if !same(&rp, &fp) {
            return Err(PubkeyError::FingerprintMismatch {
                child: "revocationprint",
                of: "the revoked key (only self-signed revocations are honoured)",
            });
        }
        verify(
            &key,
            &[&key_text, &keyprint, &revocationprint, &time],
            &signature,
        )?;
        Ok(Revocation {
            key,
            time,
            revoked_at,
            signature,
        })
    }

    /// The `<revoke xmlns='urn:xmpp:revoke:2'>` element, children in XEP-0189 §4 order.
    pub fn to_element(&self) -> Element {
        let fp = self.key.fingerprint().to_b64();
        let el = Element::new("revoke", NS_REVOKE);
        let children = [
            text_child(&el, "key", &key_text(&self.key)),
            text_child(&el, "keyprint", &fp),
            text_child(&el, "signature", &b64::encode(&self.signature)),
            text_child(&el, "revocationprint", &fp),
            text_child(&el, "revocationtime", &self.time),
        ];
        children.into_iter().fold(el, Element::with_child)
    }

    /// The revoked key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The revoked key's fingerprint (profile P8).
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }

    /// When the key was revoked, as the revocation says.
    pub fn revoked_at(&self) -> Timestamp {
        self.revoked_at
    }
}
