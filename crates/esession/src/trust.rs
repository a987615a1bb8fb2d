//! Key associations and trust decisions (XEP-0116 §7.3 "Verifying Keys", §7.4 "Key
//! Associations").
//!
//! A [`KnownKey`] is a peer public key we have received, by its P8 fingerprint, with the JIDs
//! that presented it ([`KeySighting`]), whether the user verified it, and its petname. The
//! stores (`crate::store::KeyStore`) keep them; this module holds the rules, shared by every
//! store: how a sighting updates a record ([`sighting`]), what is valid input, and how a
//! presented key is judged ([`assess`]) and named ([`display_name`]).
use crate::b64;
use crate::crypto::sha256;
use crate::error::StoreError;
use crate::time::Timestamp;
use std::fmt;

/// Longest accepted peer JID, in octets (RFC 7622 §3.1: 1023 + 1 + 1023 + 1 + 1023).
pub const MAX_JID_OCTETS: usize = 3071;

/// Longest accepted normalized KeyValue text, in octets. An 8192-bit RSA key takes under
/// 1.5 KiB (profile P8 keys are at least 2048 bits); anything near this bound is not a key.
pub const MAX_KEY_VALUE_OCTETS: usize = 16 * 1024;

/// Longest accepted petname, in characters (a name shown to people, §7.4).
pub const MAX_PETNAME_CHARS: usize = 64;

/// Most JIDs remembered per key. Beyond it the JID seen least recently is dropped, so a key
/// holder presenting one key from endless JIDs cannot grow a record without bound.
pub const MAX_JIDS_PER_KEY: usize = 64;

/// Longest accepted identity private key (PKCS#8 DER), in octets; an 8192-bit RSA key is
/// about 4.8 KiB.
pub const MAX_IDENTITY_KEY_OCTETS: usize = 16 * 1024;

/// Most keys kept per account that the user neither trusted nor named. Anyone can present a
/// fresh key in every negotiation; beyond this bound the ones seen least recently are
/// forgotten (issue 11 §14), so strangers cannot grow the store without end. Keys the user
/// trusted or named are never forgotten this way.
pub const MAX_UNTRUSTED_KEYS: usize = 10_000;

/// The fingerprints to forget among `keys` (every key of one account) so that at most
/// `limit` of those neither trusted nor named remain: the ones seen least recently first,
/// never `keep` (the key being recorded). Once over `limit`, they are forgotten down to
/// nine tenths of it: a store reads every such key to choose, so the keys that follow
/// then find room without that read (found in review: past the bound, every new key a
/// stranger presented re-read all 10,000). Every store applies this rule.
pub fn evictions(keys: &[KnownKey], keep: &[u8; 32], limit: usize) -> Vec<[u8; 32]> {
    let mut candidates: Vec<(Timestamp, [u8; 32])> = keys
        .iter()
        .filter(|k| !k.trusted && k.petname.is_none())
        .map(|k| {
            let seen = k.jids.iter().map(|s| s.last_seen).max();
            (seen.unwrap_or(Timestamp(0)), k.fingerprint)
        })
        .collect();
    let excess = if candidates.len() > limit {
        candidates.len() - (limit - limit / 10)
    } else {
        0
    };
    candidates.retain(|(_, fp)| fp != keep);
    candidates.sort();
    candidates
        .into_iter()
        .take(excess)
        .map(|(_, fp)| fp)
        .collect()
}

/// How a JID came to be associated with a key, given to [`sighting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// The JID presented the key in a negotiation and its signature verified: the peer
    /// holds the key (XEP-0116 §7.4: the key it "used" to "establish an ESession").
    Session,
    /// The key was published for the JID (XEP-0189: its PEP node, or an answer to a direct
    /// request). Whoever can write the node (the JID's server) can publish any public key,
    /// so this proves nothing about what the JID holds.
    Fetched,
}

/// One JID associated with a key, and when (XEP-0116 §7.4: keys are associated with JIDs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySighting {
    /// The bare JID that presented the key, or for which it was fetched.
    pub jid: String,
    /// When this JID was first associated with the key.
    pub first_seen: Timestamp,
    /// When this JID was last associated with the key.
    pub last_seen: Timestamp,
    /// Whether this JID presented the key in a session ([`Provenance::Session`]) at least
    /// once, rather than only having it fetched for it. Only such sightings are the keys
    /// "it used before" of §7.4 ([`assess`]).
    pub in_session: bool,
}

/// A peer public key we have received (XEP-0116 §7.4: "remember the fingerprints of all
/// public keys it receives, and remember whether or not they have been validated").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    /// SHA-256 of `key_value` (profile P8).
    pub fingerprint: [u8; 32],
    /// The P4-normalized text of the `<KeyValue/>` (profile P8), needed for `hash` mode.
    pub key_value: String,
    /// The name the user gave this key (§7.4 petname), if any.
    pub petname: Option<String>,
    /// Whether the user verified the key (fingerprint compared out of band, §7.3).
    pub trusted: bool,
    /// The JIDs associated with the key (in a session or fetched), ordered by JID.
    pub jids: Vec<KeySighting>,
}

impl KnownKey {
    /// Whether `jid` (bare) is associated with this key: it presented it before, or the key
    /// was fetched for it.
    pub fn seen_from(&self, jid: &str) -> bool {
        self.jids.iter().any(|s| s.jid == jid)
    }

    /// Whether `jid` (bare) presented this key in a session before ([`Provenance::Session`]).
    pub fn presented_in_session_by(&self, jid: &str) -> bool {
        self.jids.iter().any(|s| s.jid == jid && s.in_session)
    }

    /// The fingerprint as people see it: Base64 (profile P8).
    pub fn fingerprint_b64(&self) -> String {
        b64::encode(&self.fingerprint)
    }

    /// Whether the fingerprint is SHA-256 of the KeyValue (profile P8), as every record
    /// written through [`sighting`] is: false for a record whose KeyValue was replaced in
    /// its store (another key under a trusted fingerprint).
    pub fn is_intact(&self) -> bool {
        sha256(&[self.key_value.as_bytes()]) == self.fingerprint
    }
}

/// The error for a rejected input of a key-store operation `op`.
fn invalid(op: &str, what: fmt::Arguments<'_>) -> StoreError {
    StoreError::new(format!("{op}: {what}"))
}

/// Checks a peer JID handed to the key store: non-empty, bare, bounded.
pub fn check_peer_jid(op: &str, jid: &str) -> Result<(), StoreError> {
    // XEP-0116 §7.4 associates keys with JIDs; we keep bare JIDs (one person, many resources).
    if jid.is_empty() || jid.contains('/') {
        return Err(invalid(
            op,
            format_args!("{jid:?} is not a bare JID (keys are associated with bare JIDs)"),
        ));
    }
    if jid.len() > MAX_JID_OCTETS {
        return Err(invalid(
            op,
            format_args!(
                "the JID is {} octets long (at most {MAX_JID_OCTETS}, RFC 7622)",
                jid.len()
            ),
        ));
    }
    Ok(())
}

/// Checks a petname: at most [`MAX_PETNAME_CHARS`] characters, not blank, and no control
/// characters (a petname is shown to people more prominently than the JID, §7.4, so it must
/// not be able to break or fake a line of the display).
pub fn check_petname(op: &str, petname: Option<&str>) -> Result<(), StoreError> {
    let Some(name) = petname else {
        return Ok(());
    };
    if name.trim().is_empty() {
        return Err(invalid(
            op,
            format_args!("the petname is blank (pass None to remove it)"),
        ));
    }
    if name.chars().count() > MAX_PETNAME_CHARS {
        return Err(invalid(
            op,
            format_args!("the petname is longer than {MAX_PETNAME_CHARS} characters"),
        ));
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(invalid(
            op,
            format_args!("the petname contains control or text-direction characters"),
        ));
    }
    Ok(())
}

/// Unicode bidirectional formatting characters, which can reorder what people read.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks an identity private key before it is stored: PKCS#8 DER is a non-empty SEQUENCE
/// of bounded size (the crypto module parses it; the store only refuses obvious garbage).
pub fn check_identity_der(op: &str, der: &[u8]) -> Result<(), StoreError> {
    if der.first() != Some(&0x30) {
        return Err(invalid(
            op,
            format_args!("the identity key is not PKCS#8 DER (no outer SEQUENCE)"),
        ));
    }
    if der.len() > MAX_IDENTITY_KEY_OCTETS {
        return Err(invalid(
            op,
            format_args!(
                "the identity key is {} octets long (at most {MAX_IDENTITY_KEY_OCTETS})",
                der.len()
            ),
        ));
    }
    Ok(())
}

/// The record after `peer_bare` presented the key `fp` / `key_value` at `now` (or it was
/// fetched for `peer_bare`, per `provenance`): `existing` updated, or a new untrusted,
/// unnamed record. A session sighting marks the JID's sighting `in_session`; a fetched one
/// never clears it. Every store applies sightings through this function.
///
/// # Errors
/// A [`StoreError`] if `fp` is not SHA-256 of `key_value` (profile P8), the key value or JID
/// is out of bounds, or `existing` is the record of another key.
pub fn sighting(
    existing: Option<KnownKey>,
    fp: &[u8; 32],
    key_value: &str,
    peer_bare: &str,
    now: Timestamp,
    provenance: Provenance,
) -> Result<KnownKey, StoreError> {
    let op = "recording a key sighting";
    check_peer_jid(op, peer_bare)?;
    if key_value.len() > MAX_KEY_VALUE_OCTETS {
        return Err(invalid(
            op,
            format_args!(
                "the KeyValue is {} octets long (at most {MAX_KEY_VALUE_OCTETS})",
                key_value.len()
            ),
        ));
    }
    // Profile P8: a fingerprint is SHA-256 of the normalized KeyValue. Checking it here keeps
    // a store from ever holding a key under another key's fingerprint.
    if sha256(&[key_value.as_bytes()]) != *fp {
        return Err(invalid(
            op,
            format_args!(
                "fingerprint {} is not SHA-256 of the KeyValue given (profile P8)",
                b64::encode(fp)
            ),
        ));
    }
    let mut key = match existing {
        Some(k) if k.fingerprint != *fp || k.key_value != key_value => {
            return Err(invalid(
                op,
                format_args!(
                    "the stored record {} is not the key {}",
                    k.fingerprint_b64(),
                    b64::encode(fp)
                ),
            ))
        }
        Some(k) => k,
        None => KnownKey {
            fingerprint: *fp,
            key_value: key_value.to_owned(),
            petname: None,
            trusted: false,
            jids: Vec::new(),
        },
    };
    let in_session = provenance == Provenance::Session;
    match key.jids.iter_mut().find(|s| s.jid == peer_bare) {
        Some(s) => {
            // A clock that went back never moves last_seen back (nor before first_seen).
            s.last_seen = s.last_seen.max(now);
            s.in_session |= in_session;
        }
        None => {
            key.jids.push(KeySighting {
                jid: peer_bare.to_owned(),
                first_seen: now,
                last_seen: now,
                in_session,
            });
            key.jids.sort_by(|a, b| a.jid.cmp(&b.jid));
        }
    }
    while key.jids.len() > MAX_JIDS_PER_KEY {
        // Drop the JID seen least recently, never the one presenting the key now.
        let stalest = key
            .jids
            .iter()
            .enumerate()
            .filter(|(_, s)| s.jid != peer_bare)
            .min_by_key(|(_, s)| (s.last_seen, s.first_seen))
            .map(|(i, _)| i);
        match stalest {
            Some(i) => {
                key.jids.remove(i);
            }
            None => break,
        }
    }
    Ok(key)
}

/// Something the user must be told about a presented key (XEP-0116 §7.4: "the entity MUST
/// alert its user").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAlert {
    /// This JID presented a key and never presented one in a session before: nothing to
    /// compare it with, so it should be verified out of band (§7.3).
    FirstKey,
    /// This JID presented other keys in sessions before, never this one (§7.4: "a public key
    /// with a different fingerprint").
    KeyChanged {
        /// The fingerprints this JID presented in sessions before.
        previous: Vec<[u8; 32]>,
    },
    /// This JID presented no key, but presented keys in sessions before (§7.4: "or no key at
    /// all").
    KeyMissing {
        /// The fingerprints this JID presented in sessions before.
        expected: Vec<[u8; 32]>,
    },
    /// This key was presented by other JIDs too (§7.4: "alert their users immediately if
    /// another JID presents the same public key").
    SharedWith {
        /// The other bare JIDs that presented this key.
        other_jids: Vec<String>,
    },
}

fn fingerprints(fps: &[[u8; 32]]) -> String {
    fps.iter()
        .map(|f| b64::encode(f))
        .collect::<Vec<_>>()
        .join(", ")
}

impl KeyAlert {
    /// One line for people: what happened and what it may mean.
    pub fn describe(&self) -> String {
        match self {
            KeyAlert::FirstKey => "first key from this address (none was presented in a \
                                   session before): compare its fingerprint out of band \
                                   before trusting it"
                .to_owned(),
            KeyAlert::KeyChanged { previous } => format!(
                "this address used a different key before ({}): a new device, or someone \
                 in the middle; verify the new key",
                fingerprints(previous)
            ),
            KeyAlert::KeyMissing { expected } => format!(
                "this address presented no key, but used a key before ({}): possibly \
                 someone in the middle",
                fingerprints(expected)
            ),
            KeyAlert::SharedWith { other_jids } => format!(
                "this key was also presented by {}: whoever holds it may be posing as \
                 another address",
                other_jids.join(", ")
            ),
        }
    }
}

impl fmt::Display for KeyAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The verdict on the key a peer presented in a negotiation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// The peer is authenticated by its key: the key is verified and this JID presented it
    /// before (see [`assess`]).
    pub trusted: bool,
    /// The presented key's petname, to show more prominently than the JID (§7.4).
    pub petname: Option<String>,
    /// What the user must be told, in the order: first key, changed or missing, shared.
    pub alerts: Vec<KeyAlert>,
}

/// Judges the key `presented` by `peer_bare` (XEP-0116 §7.3, §7.4). Call it *before*
/// recording the sighting, with the store's view of the past:
/// `own_keys_of_peer` = `KeyStore::keys_of` `peer_bare`, `key` = `KeyStore::known_key`
/// of the presented fingerprint.
///
/// Rules:
/// - trusted iff a key was presented, it is marked trusted, and `peer_bare` is associated
///   with it ([`KnownKey::seen_from`], a fetched key too: the user verified the key out of
///   band for that JID): trust is given to a key, and extends to a JID only once that JID is
///   associated with it (a verified key arriving from a new JID raises
///   [`KeyAlert::SharedWith`] instead);
/// - "presented before" below means presented *in a session*
///   ([`KnownKey::presented_in_session_by`]): §7.4 compares with the keys a JID "used
///   before" to establish an ESession, and a key fetched from its PEP node (XEP-0189),
///   which its server can write, is no such key (found in review: a key the server put in
///   the node passed later as the key the contact "used before");
/// - [`KeyAlert::FirstKey`] when a key is presented, `peer_bare` never presented any, and
///   the key is not trusted (only a fetched key can be trusted without a session: the user
///   verified it, which is what the alert asks);
/// - [`KeyAlert::KeyChanged`] when `peer_bare` presented keys before, none of them this one;
/// - [`KeyAlert::KeyMissing`] when no key is presented and `peer_bare` presented keys before;
/// - [`KeyAlert::SharedWith`] whenever the presented key is associated with other JIDs, in a
///   session or fetched (every time, not only the first: the petname and the alert are what
///   tell people apart).
pub fn assess(
    own_keys_of_peer: &[KnownKey],
    key: Option<&KnownKey>,
    presented: Option<[u8; 32]>,
    peer_bare: &str,
) -> Assessment {
    let previous: Vec<[u8; 32]> = own_keys_of_peer
        .iter()
        .filter(|k| k.presented_in_session_by(peer_bare))
        .map(|k| k.fingerprint)
        .collect();
    // Only the record of the presented key counts (a caller passing another record gets no
    // trust from it).
    let key = key.filter(|k| presented == Some(k.fingerprint));
    // Decision (docs/decisions.md, "Trust and identity keys").
    let trusted = key.is_some_and(|k| k.trusted && k.seen_from(peer_bare));
    let mut alerts = Vec::new();
    match presented {
        // §7.3: nothing to compare a first key with, unless the user verified it for this
        // JID already (fetched, XEP-0189, and compared out of band).
        Some(_) if previous.is_empty() && !trusted => alerts.push(KeyAlert::FirstKey),
        Some(_) if previous.is_empty() => {}
        // §7.4: "a public key with a different fingerprint" → MUST alert.
        Some(fp) if !previous.contains(&fp) => alerts.push(KeyAlert::KeyChanged { previous }),
        Some(_) => {}
        // §7.4: "(or no key at all)" → MUST alert.
        None if !previous.is_empty() => alerts.push(KeyAlert::KeyMissing { expected: previous }),
        None => {}
    }
    if let Some(k) = key {
        // §7.4: "alert their users immediately if another JID presents the same public key".
        let other_jids: Vec<String> = k
            .jids
            .iter()
            .filter(|s| s.jid != peer_bare)
            .map(|s| s.jid.clone())
            .collect();
        if !other_jids.is_empty() {
            alerts.push(KeyAlert::SharedWith { other_jids });
        }
    }
    Assessment {
        trusted,
        petname: key.and_then(|k| k.petname.clone()),
        alerts,
    }
}

/// Refuses to trust a revoked key (decision "Published keys (XEP-0189)": a key its holder
/// revoked, XEP-0189 §4, is never trusted again). Every store applies it in `set_trusted`.
///
/// # Errors
/// A [`StoreError`] naming the key and when it was revoked.
pub fn check_not_revoked(fp: &[u8; 32], revoked_at: Option<Timestamp>) -> Result<(), StoreError> {
    match revoked_at {
        None => Ok(()),
        Some(at) => Err(invalid(
            "trusting a key",
            format_args!(
                "{} was revoked by its holder at {} (XEP-0189)",
                b64::encode(fp),
                at.to_datetime()
            ),
        )),
    }
}

/// How to name the holder of `key` talking from `jid`: the petname first, more prominently
/// than the JID (XEP-0116 §7.4), e.g. `"Alice (alice@example.org)"`; the JID alone without a
/// petname.
pub fn display_name(key: &KnownKey, jid: &str) -> String {
    match &key.petname {
        Some(name) => format!("{name} ({jid})"),
        None => jid.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(n: u8) -> String {
        format!("<KeyValue><RSAKeyValue><Modulus>{n}</Modulus></RSAKeyValue></KeyValue>")
    }

    fn fp(n: u8) -> [u8; 32] {
        sha256(&[kv(n).as_bytes()])
    }

    /// Key `n`, seen from `jids`, trusted or not.
    fn key(n: u8, jids: &[&str], trusted: bool) -> KnownKey {
        let mut k: Option<KnownKey> = None;
        for (i, j) in jids.iter().enumerate() {
            k = Some(
                sighting(
                    k,
                    &fp(n),
                    &kv(n),
                    j,
                    Timestamp(i as u64),
                    Provenance::Session,
                )
                .unwrap(),
            );
        }
        let mut k = k.unwrap();
        k.trusted = trusted;
        k
    }

    #[test]
    fn first_key_from_a_new_jid() {
        let a = assess(&[], None, Some(fp(1)), "b@y");
        assert_eq!(a.alerts, vec![KeyAlert::FirstKey]);
        assert!(!a.trusted);
        assert!(a.alerts[0].describe().contains("first key"));
    }

    #[test]
    fn no_key_and_nothing_known_is_silent_and_untrusted() {
        let a = assess(&[], None, None, "b@y");
        assert!(a.alerts.is_empty());
        assert!(!a.trusted);
    }

    #[test]
    fn same_trusted_key_from_same_jid_is_trusted_without_alerts() {
        let mut k = key(1, &["b@y"], true);
        k.petname = Some("Bob".into());
        let a = assess(std::slice::from_ref(&k), Some(&k), Some(fp(1)), "b@y");
        assert!(a.trusted);
        assert!(a.alerts.is_empty());
        assert_eq!(a.petname.as_deref(), Some("Bob"));
        // Untrusted key: same silence, no trust.
        k.trusted = false;
        let a = assess(std::slice::from_ref(&k), Some(&k), Some(fp(1)), "b@y");
        assert!(!a.trusted && a.alerts.is_empty());
    }

    #[test]
    fn key_changed_names_the_previous_keys() {
        let old = key(1, &["b@y"], true);
        let a = assess(std::slice::from_ref(&old), None, Some(fp(2)), "b@y");
        assert_eq!(
            a.alerts,
            vec![KeyAlert::KeyChanged {
                previous: vec![fp(1)]
            }]
        );
        assert!(!a.trusted);
        assert!(a.alerts[0].describe().contains(&b64::encode(&fp(1))));
        // A trusted key known from elsewhere is still a change for this JID, and shared.
        let other = key(2, &["c@z"], true);
        let a = assess(std::slice::from_ref(&old), Some(&other), Some(fp(2)), "b@y");
        assert!(!a.trusted);
        assert_eq!(a.alerts.len(), 2);
        assert!(matches!(a.alerts[0], KeyAlert::KeyChanged { .. }));
        assert_eq!(
            a.alerts[1],
            KeyAlert::SharedWith {
                other_jids: vec!["c@z".into()]
            }
        );
    }

    #[test]
    fn one_of_several_keys_of_a_jid_is_not_a_change() {
        let keys = [key(1, &["b@y"], false), key(2, &["b@y"], true)];
        let a = assess(&keys, Some(&keys[1]), Some(fp(2)), "b@y");
        assert!(a.alerts.is_empty());
        assert!(a.trusted);
    }

    #[test]
    fn key_missing_names_the_expected_keys() {
        let keys = [key(1, &["b@y"], true), key(2, &["b@y"], false)];
        let a = assess(&keys, None, None, "b@y");
        assert_eq!(
            a.alerts,
            vec![KeyAlert::KeyMissing {
                expected: vec![fp(1), fp(2)]
            }]
        );
        assert!(!a.trusted);
        assert!(a.alerts[0].to_string().contains("no key"));
    }

    #[test]
    fn trusted_key_from_another_jid_is_shared_and_not_trusted() {
        // Mallory's verified key presented from Alice's JID (the §7.4 attack).
        let mut mallory = key(3, &["mallory@evil"], true);
        mallory.petname = Some("Mallory".into());
        let a = assess(&[], Some(&mallory), Some(fp(3)), "alice@x");
        assert!(!a.trusted);
        assert_eq!(
            a.alerts,
            vec![
                KeyAlert::FirstKey,
                KeyAlert::SharedWith {
                    other_jids: vec!["mallory@evil".into()]
                }
            ]
        );
        assert!(a.alerts[1].describe().contains("mallory@evil"));
        assert_eq!(display_name(&mallory, "alice@x"), "Mallory (alice@x)");
        // Once associated, the key is trusted for that JID too, but the sharing is still told.
        let both = key(3, &["alice@x", "mallory@evil"], true);
        let a = assess(
            std::slice::from_ref(&both),
            Some(&both),
            Some(fp(3)),
            "alice@x",
        );
        assert!(a.trusted);
        assert_eq!(
            a.alerts,
            vec![KeyAlert::SharedWith {
                other_jids: vec!["mallory@evil".into()]
            }]
        );
    }

    /// Found in review: a key fetched for a JID (XEP-0189) counted as a key it presented
    /// before (§7.4), so a key its server put in its pubkey node passed, when presented in
    /// a negotiation, as the key it "used before": no `KeyChanged`.
    #[test]
    fn a_fetched_key_is_not_a_key_presented_before() {
        let fetched = |k, n: u8, t| {
            sighting(
                k,
                &fp(n),
                &kv(n),
                "alice@x",
                Timestamp(t),
                Provenance::Fetched,
            )
            .unwrap()
        };
        let a = key(1, &["alice@x"], false);
        let m = fetched(None, 2, 5);
        assert!(m.seen_from("alice@x") && !m.presented_in_session_by("alice@x"));
        // The server presents M in a negotiation: a change from A.
        let keys = [a, m.clone()];
        let got = assess(&keys, Some(&m), Some(fp(2)), "alice@x");
        assert_eq!(
            got.alerts,
            vec![KeyAlert::KeyChanged {
                previous: vec![fp(1)]
            }]
        );
        assert!(!got.trusted);
        // Only M, fetched: no key is missing, and Alice's real key is a first key.
        let only = std::slice::from_ref(&m);
        assert!(assess(only, None, None, "alice@x").alerts.is_empty());
        let got = assess(only, None, Some(fp(1)), "alice@x");
        assert_eq!(got.alerts, vec![KeyAlert::FirstKey]);
        // Presented in a session, M is Alice's; a later fetch does not take that back.
        let m = sighting(
            Some(m),
            &fp(2),
            &kv(2),
            "alice@x",
            Timestamp(6),
            Provenance::Session,
        )
        .unwrap();
        let m = fetched(Some(m), 2, 7);
        assert!(m.presented_in_session_by("alice@x"));
        assert_eq!(m.jids[0].last_seen, Timestamp(7));
        let only = std::slice::from_ref(&m);
        assert!(assess(only, Some(&m), Some(fp(2)), "alice@x")
            .alerts
            .is_empty());
    }

    /// A fetched key the user verified (fingerprint compared out of band, `trust verify`)
    /// is trusted for that JID, without the first-key alert (what it asks is done); for
    /// another JID it is shared and not trusted.
    #[test]
    fn a_verified_fetched_key_is_trusted_for_its_jid() {
        let mut m = sighting(
            None,
            &fp(1),
            &kv(1),
            "alice@x",
            Timestamp(5),
            Provenance::Fetched,
        )
        .unwrap();
        m.trusted = true;
        let got = assess(std::slice::from_ref(&m), Some(&m), Some(fp(1)), "alice@x");
        assert!(got.trusted);
        assert!(got.alerts.is_empty());
        let got = assess(&[], Some(&m), Some(fp(1)), "bob@x");
        assert!(!got.trusted);
        assert_eq!(
            got.alerts,
            vec![
                KeyAlert::FirstKey,
                KeyAlert::SharedWith {
                    other_jids: vec!["alice@x".into()]
                }
            ]
        );
    }

    #[test]
    fn a_record_of_another_key_gives_no_trust() {
        let k = key(1, &["b@y"], true);
        let a = assess(std::slice::from_ref(&k), Some(&k), Some(fp(2)), "b@y");
        assert!(!a.trusted);
        assert!(a.petname.is_none());
    }

    #[test]
    fn display_name_puts_the_petname_first() {
        let mut k = key(1, &["b@y"], false);
        assert_eq!(display_name(&k, "b@y"), "b@y");
        k.petname = Some("Bob".into());
        assert_eq!(display_name(&k, "b@y"), "Bob (b@y)");
    }

    #[test]
    fn sighting_creates_updates_and_bounds() {
        let k = sighting(
            None,
            &fp(1),
            &kv(1),
            "b@y",
            Timestamp(10),
            Provenance::Session,
        )
        .unwrap();
        assert!(!k.trusted && k.petname.is_none());
        assert_eq!(k.jids.len(), 1);
        let k = sighting(
            Some(k),
            &fp(1),
            &kv(1),
            "a@y",
            Timestamp(20),
            Provenance::Session,
        )
        .unwrap();
        assert_eq!(k.jids[0].jid, "a@y", "ordered by JID");
        // A clock going back does not move last_seen back.
        let k = sighting(
            Some(k),
            &fp(1),
            &kv(1),
            "b@y",
            Timestamp(5),
            Provenance::Session,
        )
        .unwrap();
        assert_eq!(k.jids[1].first_seen, Timestamp(10));
        assert_eq!(k.jids[1].last_seen, Timestamp(10));
        let k = sighting(
            Some(k),
            &fp(1),
            &kv(1),
            "b@y",
            Timestamp(30),
            Provenance::Session,
        )
        .unwrap();
        assert_eq!(k.jids[1].last_seen, Timestamp(30));
        // The JID seen least recently goes first once the bound is reached.
        let mut k = Some(k);
        for i in 0..MAX_JIDS_PER_KEY as u64 {
            k = Some(
                sighting(
                    k,
                    &fp(1),
                    &kv(1),
                    &format!("j{i:03}@z"),
                    Timestamp(100 + i),
                    Provenance::Session,
                )
                .unwrap(),
            );
        }
        let k = k.unwrap();
        assert_eq!(k.jids.len(), MAX_JIDS_PER_KEY);
        assert!(!k.seen_from("a@y") && !k.seen_from("b@y"));
        assert!(k.seen_from("j000@z"));
    }

    #[test]
    fn evictions_forget_the_stalest_untrusted_unnamed_keys() {
        let at = |n: u8, seen: u64| {
            let mut k = key(n, &["a@x"], false);
            k.jids[0].last_seen = Timestamp(seen);
            k
        };
        let mut named = at(1, 10);
        named.petname = Some("Ann".into());
        let mut trusted = at(2, 20);
        trusted.trusted = true;
        let keys = [named, trusted, at(3, 30), at(4, 40), at(5, 50), at(6, 5)];
        // Four candidates (3, 4, 5, 6), limit 2: the two seen least recently go.
        assert_eq!(evictions(&keys, &fp(5), 2), vec![fp(6), fp(3)]);
        // Never the key being recorded, even when it is the stalest.
        assert_eq!(evictions(&keys, &fp(6), 2), vec![fp(3), fp(4)]);
        assert!(evictions(&keys, &fp(6), 4).is_empty());
        // Over a limit of 10 by one: down to 9, so the next new key finds room without
        // another read of them all.
        let many: Vec<KnownKey> = (10..21).map(|n| at(n, u64::from(n))).collect();
        assert_eq!(evictions(&many, &fp(20), 10), vec![fp(10), fp(11)]);
        assert!(evictions(&many[..10], &fp(20), 10).is_empty());
    }

    #[test]
    fn sighting_refuses_bad_input() {
        let e = sighting(
            None,
            &fp(2),
            &kv(1),
            "b@y",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap_err();
        assert!(e.what().contains("not SHA-256 of the KeyValue"), "{e}");
        let e = sighting(
            None,
            &fp(1),
            &kv(1),
            "b@y/res",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap_err();
        assert!(e.what().contains("not a bare JID"), "{e}");
        assert!(sighting(None, &fp(1), &kv(1), "", Timestamp(1), Provenance::Session).is_err());
        let long = "x".repeat(MAX_JID_OCTETS + 1);
        assert!(sighting(
            None,
            &fp(1),
            &kv(1),
            &long,
            Timestamp(1),
            Provenance::Session
        )
        .is_err());
        let huge = "k".repeat(MAX_KEY_VALUE_OCTETS + 1);
        let e = sighting(
            None,
            &sha256(&[huge.as_bytes()]),
            &huge,
            "b@y",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap_err();
        assert!(e.what().contains("octets long"), "{e}");
        let other = key(2, &["b@y"], false);
        let e = sighting(
            Some(other),
            &fp(1),
            &kv(1),
            "b@y",
            Timestamp(1),
            Provenance::Session,
        )
        .unwrap_err();
        assert!(e.what().contains("is not the key"), "{e}");
    }

    #[test]
    fn petnames_and_identity_keys_are_checked() {
        assert!(check_petname("op", None).is_ok());
        assert!(check_petname("op", Some("Alice (work)")).is_ok());
        assert!(check_petname("op", Some("  ")).is_err());
        assert!(check_petname("op", Some("Al\nice")).is_err());
        assert!(check_petname("op", Some("Al\u{202E}ecila")).is_err());
        assert!(check_petname("op", Some(&"é".repeat(MAX_PETNAME_CHARS))).is_ok());
        assert!(check_petname("op", Some(&"é".repeat(MAX_PETNAME_CHARS + 1))).is_err());
        assert!(check_identity_der("op", &[0x30, 0x03, 2, 1, 0]).is_ok());
        assert!(check_identity_der("op", &[]).is_err());
        assert!(check_identity_der("op", b"-----BEGIN").is_err());
        let mut big = vec![0x30];
        big.resize(MAX_IDENTITY_KEY_OCTETS + 1, 0);
        assert!(check_identity_der("op", &big).is_err());
    }
}
