//! Attestations (XEP-0189 §5): a key signed by another entity's key.
use super::payload::expect;
use super::statement::{
    child_text, fingerprint_child, key_text, same, sign, signature_child, text_child, time_child,
    verify, MAX_JID_OCTETS,
};
use super::{PubkeyError, NS_ATTEST};
use crate::b64;
use crate::crypto::pubkey::{Fingerprint, IdentityKey, PublicKey};
use crate::time::Timestamp;
use crate::xml::Element;

/// An attestation as received: its structure is checked by [`Attestation::parse`], its
/// signature only by [`Attestation::verify`], once the caller holds both keys (the
/// attested key by `keyprint`, the signer's by `signerprint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    keyprint: Fingerprint,
    signer_jid: String,
    signer_print: Fingerprint,
    time: String,
    signed_at: Timestamp,
    signature: Vec<u8>,
}

impl Attestation {
    /// Attests `attested` with our key `signer` (of `signer_jid`, a bare JID) at `at`
    /// (XEP-0189 §5).
    ///
    /// # Errors
    /// [`PubkeyError::BadValue`] for an empty or too long JID, [`PubkeyError::Key`] if
    /// signing fails.
    pub fn create(
        signer: &IdentityKey,
        signer_jid: &str,
        attested: &PublicKey,
        at: Timestamp,
    ) -> Result<Attestation, PubkeyError> {
        check_jid(signer_jid)?;
        let keyprint = attested.fingerprint();
        let signer_print = signer.public().fingerprint();
        let time = at.to_datetime();
        let signature = sign(
            signer,
            &Self::parts(
                attested,
                &keyprint.to_b64(),
                signer_jid,
                &signer_print.to_b64(),
                &time,
            ),
        )?;
        Ok(Attestation {
            keyprint,
            signer_jid: signer_jid.to_owned(),
            signer_print,
            time,
            signed_at: at,
            signature,
        })
    }

    /// XEP-0189 §5: key, keyprint, signerjid, signerprint, signtime.
    fn parts<'a>(
        attested: &PublicKey,
        keyprint: &'a str,
        signer_jid: &'a str,
        signer_print: &'a str,
        time: &'a str,
    ) -> [String; 5] {
        [
            key_text(attested),
            keyprint.to_owned(),
            signer_jid.to_owned(),
            signer_print.to_owned(),
            time.to_owned(),
        ]
    }

    /// Reads a received `<attest xmlns='urn:xmpp:attest:2'>`: every child once, bounded,
    /// fingerprints and time well-formed. The signature is not checked here.
    ///
    /// # Errors
    /// A [`PubkeyError`] naming the first thing that is wrong.
    pub fn parse(el: &Element) -> Result<Attestation, PubkeyError> {
        const P: &str = "attest";
        expect(el, "attest", NS_ATTEST)?;
        let (_, keyprint) = fingerprint_child(el, P, "keyprint")?;
        let signer_jid = child_text(el, P, "signerjid", MAX_JID_OCTETS)?;
        check_jid(&signer_jid)?;
        let (_, signer_print) = fingerprint_child(el, P, "signerprint")?;
        let (time, signed_at) = time_child(el, P, "signtime")?;
        let signature = signature_child(el, P)?;
        Ok(Attestation {
            keyprint,
            signer_jid,
            signer_print,
            time,
            signed_at,
            signature,
        })
    }

    /// Verifies the attestation: `attested` is the key `keyprint` names, `signer` the key
    /// `signerprint` names, and the signature by `signer` verifies over the XEP-0189 §5
    /// octets.
    ///
    /// # Errors
    /// [`PubkeyError::FingerprintMismatch`] or [`PubkeyError::Signature`].
    pub fn verify(&self, attested: &PublicKey, signer: &PublicKey) -> Result<(), PubkeyError> {
        if !same(&self.keyprint, &attested.fingerprint()) {
            return Err(PubkeyError::FingerprintMismatch {
                child: "keyprint",
                of: "the attested key",
            });
        }
        if !same(&self.signer_print, &signer.fingerprint()) {
            return Err(PubkeyError::FingerprintMismatch {
                child: "signerprint",
                of: "the signer's key",
            });
        }
        let parts = Self::parts(
            attested,
            &self.keyprint.to_b64(),
            &self.signer_jid,
            &self.signer_print.to_b64(),
            &self.time,
        );
        verify(signer, &parts, &self.signature)
    }

    /// The `<attest xmlns='urn:xmpp:attest:2'>` element, children in XEP-0189 §5 order.
    pub fn to_element(&self) -> Element {
        let el = Element::new("attest", NS_ATTEST);
        let children = [
            text_child(&el, "keyprint", &self.keyprint.to_b64()),
            text_child(&el, "signature", &b64::encode(&self.signature)),
            text_child(&el, "signerjid", &self.signer_jid),
            text_child(&el, "signerprint", &self.signer_print.to_b64()),
            text_child(&el, "signtime", &self.time),
        ];
        children.into_iter().fold(el, Element::with_child)
    }

    /// The fingerprint of the attested key.
    pub fn keyprint(&self) -> Fingerprint {
        self.keyprint
    }

    /// The signer's bare JID, as the attestation claims it.
    pub fn signer_jid(&self) -> &str {
        &self.signer_jid
    }

    /// The fingerprint of the signer's key.
    pub fn signer_print(&self) -> Fingerprint {
        self.signer_print
    }

    /// When the key was signed, as the attestation says.
    pub fn signed_at(&self) -> Timestamp {
        self.signed_at
    }
}

/// A signer JID: non-empty, bounded, bare (XEP-0189 §5 names an address).
fn check_jid(jid: &str) -> Result<(), PubkeyError> {
    let bad = |why: &str| PubkeyError::BadValue {
        child: "signerjid",
        why: why.to_owned(),
    };
    if jid.is_empty() {
        return Err(bad("empty"));
    }
    if jid.len() > MAX_JID_OCTETS {
        return Err(bad("too long"));
    }
    if jid.contains('/') || jid.chars().any(char::is_whitespace) {
        return Err(bad("not a bare JID"));
    }
    Ok(())
}
