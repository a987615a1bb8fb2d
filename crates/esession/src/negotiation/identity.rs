//! SIGMA identity protection (XEP-0116 §4.5.4, §4.6.2–4.6.3, §4.7.1; profile P8):
//! mac = HMAC(KS, N | N | DH value | pubKey | forms…), ID = CIPHER(KC, C, identity),
//! M = HMAC(KM, C | ID), where the identity is the mac alone (`none`) or the public key (or
//! its fingerprint) followed by a signature of the mac.
use crate::b64;
use crate::compat::gajim::Dialect;
use crate::config::PubkeyMode;
use crate::crypto::pubkey::{IdentityKey, PublicKey, SignAlg};
use crate::crypto::{ct_eq, hash, hmac, identity_mac, CipherAlg, HashAlg, SessionKeys};
use crate::error::Violation;
use crate::xml::{parse_element, parse_fragment, Element, Limits, Node};

/// The xmldsig namespace of `<KeyValue/>` and `<SignatureValue/>` (profile P8).
pub(crate) const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Proof that a peer's identity MAC and encrypted identity verified. Only
/// [`open_identity`] mints it, and an established channel cannot be built without one.
#[derive(Debug)]
pub(crate) struct PeerVerified(());

/// The sealed identity: the values sent in the `identity` and `mac` fields.
pub(crate) struct SealedIdentity {
    pub id: Vec<u8>,
    pub m: Vec<u8>,
}

/// Key material for one identity.
pub(crate) struct IdentityKeys<'a> {
    pub hash: HashAlg,
    pub cipher: CipherAlg,
    pub ks: &'a [u8],
    pub kc: &'a [u8],
    pub km: &'a [u8],
    /// Where the identity's keystream starts (D2 of the Gajim mode).
    pub dialect: Dialect,
}

impl<'a> IdentityKeys<'a> {
    /// The initiator's identity keys (KS_A, KC_A, KM_A) of `keys`.
    pub(crate) fn initiator(hash: HashAlg, cipher: CipherAlg, keys: &'a SessionKeys) -> Self {
        IdentityKeys {
            hash,
            cipher,
            ks: keys.ks_a.expose(),
            kc: keys.initiator.kc.expose(),
            km: keys.initiator.km.expose(),
            dialect: Dialect::Profile,
        }
    }

    /// The responder's identity keys (KS_B, KC_B, KM_B) of `keys`.
    pub(crate) fn responder(hash: HashAlg, cipher: CipherAlg, keys: &'a SessionKeys) -> Self {
        IdentityKeys {
            hash,
            cipher,
            ks: keys.ks_b.expose(),
            kc: keys.responder.kc.expose(),
            km: keys.responder.km.expose(),
            dialect: Dialect::Profile,
        }
    }

    /// These keys in `dialect` (the Gajim mode, issue 13).
    pub(crate) fn in_dialect(self, dialect: Dialect) -> Self {
        IdentityKeys { dialect, ..self }
    }
}

/// What goes into one SIGMA mac: the two nonces and the sender's DH value, then (after
/// pubKey) the forms (XEP-0116 §4.5.4, §4.6.3).
pub(crate) struct MacInput<'a> {
    pub prefix: [&'a [u8]; 3],
    pub forms: &'a [&'a [u8]],
}

impl MacInput<'_> {
    /// mac = HMAC(HASH, KS, prefix | pubKey | forms).
    fn mac(&self, keys: &IdentityKeys<'_>, pub_key: &[u8]) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = self.prefix.to_vec();
        parts.push(pub_key);
        parts.extend_from_slice(self.forms);
        hmac(keys.hash, keys.ks, &parts)
    }
}

/// How we identify ourselves in this negotiation.
pub(crate) struct OwnIdentity<'a> {
    pub mode: PubkeyMode,
    pub key: Option<&'a IdentityKey>,
    pub sign: Option<SignAlg>,
}

/// How the peer must identify itself, and the keys we know (for `hash` mode: the P4 text
/// of every known `<KeyValue/>`).
pub(crate) struct PeerIdentity<'a> {
    pub mode: PubkeyMode,
    pub sign: Option<SignAlg>,
    pub known: &'a [String],
}

/// Seals our identity: the identity octets per profile P8, ID = CIPHER(KC, C, identity)
/// (the counter advances, profile P3), M = HMAC(KM, mpi(C before) | ID).
pub(crate) fn seal_identity(
    keys: &IdentityKeys<'_>,
    counter: &mut u128,
    own: &OwnIdentity<'_>,
    input: &MacInput<'_>,
) -> Result<SealedIdentity, Violation> {
    let mut plain = match own.mode {
        PubkeyMode::None => input.mac(keys, b""),
        mode => {
            let key = own.key.ok_or(Violation::NoIdentityKey(mode.name()))?;
            let alg = own.sign.ok_or(Violation::NoIdentityKey(mode.name()))?;
            if key.sign_alg() != alg {
                return Err(Violation::PeerIdentity(format!(
                    "our identity key cannot sign with the negotiated {}",
                    alg.uri()
                )));
            }
            let pub_key = key.public().normalized();
            let mac = input.mac(keys, pub_key.as_bytes());
            let signature = key
                .sign(&mac)
                .map_err(|e| Violation::PeerIdentity(format!("signing failed: {e}")))?;
            // Profile P8: the P4 text of the KeyValue (or fingerprint) element immediately
            // followed by the SignatureValue element.
            let mut text = if mode == PubkeyMode::Hash {
                fingerprint_element(keys.hash, &pub_key).normalized()
            } else {
                pub_key
            };
            text.push_str(&signature_element(&signature).normalized());
            text.into_bytes()
        }
    };
    let before = *counter;
    keys.dialect
        .identity_ctr(keys.cipher, keys.kc, counter, &mut plain)?;
    let m = identity_mac(keys.hash, keys.km, before, &plain);
    Ok(SealedIdentity { id: plain, m })
}

/// Opens the peer's identity in the order profile P8 gives: verify M (constant time),
/// decrypt ID, then either compare the mac (`none`) or parse, look up the key (`hash`),
/// check its type and verify the signature. The counter advances only on success. Returns
/// the peer's public key when one was used; trust is the caller's next step.
pub(crate) fn open_identity(
    keys: &IdentityKeys<'_>,
    counter: &mut u128,
    id: &[u8],
    m: &[u8],
    peer: &PeerIdentity<'_>,
    input: &MacInput<'_>,
) -> Result<(PeerVerified, Option<PublicKey>), Violation> {
    if !ct_eq(&identity_mac(keys.hash, keys.km, *counter, id), m) {
        return Err(Violation::IdentityMacMismatch);
    }
    let mut c = *counter;
    let mut plain = id.to_vec();
    keys.dialect
        .identity_ctr(keys.cipher, keys.kc, &mut c, &mut plain)?;
    let key = match peer.mode {
        PubkeyMode::None => {
            if !ct_eq(&plain, &input.mac(keys, b"")) {
                return Err(Violation::IdentityMismatch);
            }
            None
        }
        mode => Some(open_signed(keys, &plain, mode, peer, input)?),
    };
    *counter = c;
    Ok((PeerVerified(()), key))
}

/// The `key` and `hash` identities (profile P8): a fragment of exactly two elements, the
/// KeyValue (or fingerprint) and the SignatureValue of the mac.
fn open_signed(
    keys: &IdentityKeys<'_>,
    plain: &[u8],
    mode: PubkeyMode,
    peer: &PeerIdentity<'_>,
    input: &MacInput<'_>,
) -> Result<PublicKey, Violation> {
    let bad = |what: &str| Violation::PeerIdentity(what.to_owned());
    let text = std::str::from_utf8(plain).map_err(|_| bad("decrypted identity is not UTF-8"))?;
    let nodes = parse_fragment(text, XMLDSIG, &Limits::default())
        .map_err(|e| Violation::PeerIdentity(format!("decrypted identity is not XML: {e}")))?;
    let mut elements = Vec::new();
    for node in nodes {
        match node {
            Node::Element(e) => elements.push(e),
            Node::Text(_) => return Err(bad("decrypted identity holds text outside elements")),
        }
    }
    let [first, sig] = elements.as_slice() else {
        return Err(bad(
            "decrypted identity is not exactly a key (or fingerprint) and a SignatureValue",
        ));
    };
    if sig.name() != "SignatureValue" || sig.has_element_children() {
        return Err(bad(
            "second element of the identity is not a SignatureValue",
        ));
    }
    let signature = b64::decode("SignatureValue", &sig.text())
        .map_err(|_| bad("SignatureValue is not base64"))?;
    // Step 3: the KeyValue as received, or the known key whose HASH matches.
    let pub_key_text = match mode {
        PubkeyMode::Hash => {
            if first.name() != "fingerprint" || first.has_element_children() {
                return Err(bad("first element of the identity is not a fingerprint"));
            }
            let fp = b64::decode("fingerprint", &first.text())
                .map_err(|_| bad("fingerprint is not base64"))?;
            peer.known
                .iter()
                .find(|k| ct_eq(&hash(keys.hash, &[k.as_bytes()]), &fp))
                .cloned()
                .ok_or_else(|| bad("the key with that fingerprint is not known here"))?
        }
        _ => {
            if first.name() != "KeyValue" {
                return Err(bad("first element of the identity is not a KeyValue"));
            }
            first.normalized()
        }
    };
    let key_value = match mode {
        PubkeyMode::Hash => parse_element(&wrap_xmldsig(&pub_key_text), &Limits::default())
            .map_err(|e| Violation::PeerIdentity(format!("stored key is not XML: {e}")))?,
        _ => first.clone(),
    };
    let key = PublicKey::from_key_value(&key_value)
        .map_err(|e| Violation::PeerIdentity(format!("public key refused: {e}")))?;
    let alg = peer
        .sign
        .ok_or_else(|| bad("no sign_algs value was negotiated"))?;
    if key.sign_alg() != alg {
        return Err(Violation::PeerIdentity(format!(
            "the key does not fit the negotiated {}",
            alg.uri()
        )));
    }
    let mac = input.mac(keys, pub_key_text.as_bytes());
    key.verify(alg, &mac, &signature)
        .map_err(|e| Violation::PeerIdentity(format!("signature does not verify: {e}")))?;
    Ok(key)
}

/// Signs published offline options (XEP-0187 §3.1, profile P11 `signs`): our identity key
/// signs `content`, the P4 normalization of the options' `<x/>` without `signs`
/// (RSASSA-PKCS1-v1_5-SHA256, or DSA-SHA256 r|s, by the key's type).
pub(crate) fn sign_options(key: &IdentityKey, content: &[u8]) -> Result<Vec<u8>, Violation> {
    key.sign(content)
        .map_err(|e| Violation::OfflineOptions(format!("signing the options failed: {e}")))
}

/// Verifies one `signs` value of offline options against `key` (profile P11: Bob uses the
/// options only if a signature verifies with a key trusted for Alice's bare JID; the
/// caller passes only such keys). The proof stands in for the identity Alice never sends
/// in an offline session (XEP-0188 §4.4).
pub(crate) fn verify_options_signature(
    key: &PublicKey,
    content: &[u8],
    signature: &[u8],
) -> Result<PeerVerified, Violation> {
    key.verify(key.sign_alg(), content, signature)
        .map_err(|e| Violation::OfflineOptions(format!("signature does not verify: {e}")))?;
    Ok(PeerVerified(()))
}

/// `<fingerprint>B64(HASH(pubKey))</fingerprint>` (profile P8, `hash` mode).
fn fingerprint_element(alg: HashAlg, pub_key: &str) -> Element {
    Element::new("fingerprint", XMLDSIG).with_text(b64::encode(&hash(alg, &[pub_key.as_bytes()])))
}

/// `<SignatureValue>B64(signature)</SignatureValue>` (profile P8).
fn signature_element(signature: &[u8]) -> Element {
    Element::new("SignatureValue", XMLDSIG).with_text(b64::encode(signature))
}

/// A stored KeyValue text (P4, without namespace) as a document in the xmldsig namespace.
pub(crate) fn wrap_xmldsig(key_value: &str) -> String {
    key_value.replacen("<KeyValue>", &format!("<KeyValue xmlns=\"{XMLDSIG}\">"), 1)
}
