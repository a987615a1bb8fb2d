//! `esession keys publish|fetch|revoke|attest|request`: published keys (XEP-0189 as bound by
//! profile P14). The payloads are built and checked by [`esession::pubkeys`], exchanged by
//! the adapter ([`esession_xmpp::Connection`]); this module only ties them to the account's
//! store and prints what happened.
use crate::account::{connect_offstage, Offstage};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use crate::sanitize::safe;
use esession::pubkeys::{absorb, parse_item, Attestation, FetchedKey, PubkeyError, Revocation};
use esession::store::KeyStore;
use esession::{jid, Fingerprint, IdentityKey, PublicKey, Timestamp};
use esession_xmpp::Published;
use serde_json::json;
use std::time::Duration;

/// Bound of each PEP or iq round trip.
const STEP: Duration = Duration::from_secs(10);

fn pubkey_fail(e: PubkeyError) -> Fail {
    Fail::protocol("pubkey", e.to_string())
}

/// The identity key [`connect_offstage`] loaded with [`KeyUse::Create`].
fn created(acc: &Offstage) -> Result<&IdentityKey, Fail> {
    acc.identity
        .as_ref()
        .ok_or_else(|| Fail::protocol("identity_key", "no identity key was created"))
}

/// `keys publish`: our key as item `current` of our pubkey node (XEP-0189 §7, profile P14).
pub(crate) async fn publish(global: &crate::args::Global, out: Out) -> Result<(), Fail> {
    let mut acc = connect_offstage(global, KeyUse::Create).await?;
    let key = created(&acc)?.public();
    let how = acc.conn.publish_key(&key, STEP).await?;
    let fp = key.fingerprint().to_b64();
    // Profile P14: a node with another configuration is reconfigured, then published to.
    let configured = how == Published::AfterConfigure;
    out.emit(
        json!({"event": "published", "jid": acc.own, "fingerprint": fp,
               "reconfigured": configured}),
        &format!(
            "published the key {fp} of {}{}",
            acc.own,
            if configured {
                " (the node was reconfigured first)"
            } else {
                ""
            }
        ),
    );
    acc.conn.close().await?;
    Ok(())
}

/// `keys fetch JID`: the contact's keys, revocations and attestations (XEP-0189 §7), fed
/// into our trust store ([`absorb`]).
pub(crate) async fn fetch(
    global: &crate::args::Global,
    contact: &str,
    out: Out,
) -> Result<(), Fail> {
    let peer = jid::bare(contact).to_owned();
    // Our own key (if any) is needed only to check attestations of it.
    let mut acc = connect_offstage(global, KeyUse::IfStored).await?;
    let published = acc.conn.fetch_published_keys(&peer, STEP).await?;
    let now = Timestamp::now();
    let fetched = absorb(
        &mut acc.store,
        &acc.own,
        &peer,
        &published.keys,
        &published.revocations,
        now,
    )?;
    for k in &fetched {
        key_line(out, &peer, k);
    }
    // A revoked key is usually no longer in the pubkey node (`publish_revocation` retracts
    // it): the revocation alone names it.
    for r in &published.revocations {
        let fp = r.fingerprint();
        if published.keys.iter().any(|k| k.fingerprint().ct_eq(&fp)) {
            continue;
        }
        let petname = acc
            .store
            .known_key(&acc.own, fp.as_bytes())?
            .and_then(|k| k.petname);
        let revoked_at = acc.store.revoked_at(&acc.own, fp.as_bytes())?;
        key_line(
            out,
            &peer,
            &FetchedKey {
                fingerprint: fp.to_b64(),
                trusted: false,
                revoked_at: revoked_at.or(Some(r.revoked_at())),
                petname,
                alerts: Vec::new(),
            },
        );
    }
    for a in &published.attestations {
        let verdict = check_attestation(&acc, &peer, &published.keys, a);
        attestation_line(out, &peer, a, &acc.own, &acc.identity, verdict);
    }
    for why in &published.refused {
        // Everything fetched is hostile: what failed a check is named, never used.
        out.emit(
            json!({"event": "warning", "peer": peer, "thread": null, "detail": why}),
            &format!("warning ({}): ignored {}", safe(&peer), safe(why)),
        );
    }
    if published.keys.is_empty() && published.revocations.is_empty() && !out.json {
        out.emit(
            serde_json::Value::Null,
            &format!("{} publishes no keys", safe(&peer)),
        );
    }
    acc.conn.close().await?;
    Ok(())
}

/// Whether attestation `a`, fetched from `peer`'s node, is `peer`'s and verifies: the
/// signer's key must be one `peer` publishes, the attested key ours or one we know
/// (XEP-0189 §5; decision "Attestations are checked in two steps").
fn check_attestation(
    acc: &Offstage,
    peer: &str,
    peer_keys: &[PublicKey],
    a: &Attestation,
) -> Result<(), String> {
    if a.signer_jid() != peer {
        return Err(format!(
            "signed for {} but published by {peer}",
            a.signer_jid()
        ));
    }
    let signer_print = a.signer_print();
    let signer = peer_keys
        .iter()
        .find(|k| k.fingerprint().ct_eq(&signer_print))
        .ok_or_else(|| "the signing key is not among the keys published".to_owned())?;
    let keyprint = a.keyprint();
    let attested = match &acc.identity {
        Some(ours) if ours.public().fingerprint().ct_eq(&keyprint) => ours.public(),
        _ => known_public(&acc.store, &acc.own, &keyprint)?
            .ok_or_else(|| "the attested key is unknown here".to_owned())?,
    };
    a.verify(&attested, signer).map_err(|e| e.to_string())
}

/// The key with fingerprint `fp` that `own` has seen, as a [`PublicKey`].
fn known_public(
    store: &impl KeyStore,
    own: &str,
    fp: &Fingerprint,
) -> Result<Option<PublicKey>, String> {
    let Some(known) = store
        .known_key(own, fp.as_bytes())
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    public_of(&known.key_value)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A stored P4-normalized `<KeyValue/>` as a [`PublicKey`] (profile P8).
fn public_of(key_value: &str) -> Result<PublicKey, PubkeyError> {
    let el = parse_item(key_value)?;
    Ok(PublicKey::from_key_value(&el)?)
}

/// `keys revoke`: a revocation signed by our key, published (XEP-0189 §4), then recorded in
/// our own store so the key is never presented again (decision "Own revoked key").
pub(crate) async fn revoke(global: &crate::args::Global, out: Out) -> Result<(), Fail> {
    let mut acc = connect_offstage(global, KeyUse::IfStored).await?;
    let Some(key) = acc.identity.take() else {
        acc.conn.close().await?;
        return Err(Fail::protocol(
            "identity_key",
            format!("{} has no usable identity key: nothing to revoke", acc.own),
        ));
    };
    let revocation = Revocation::create(&key, Timestamp::now()).map_err(pubkey_fail)?;
    acc.conn.publish_revocation(&revocation, STEP).await?;
    let fp = revocation.fingerprint();
    // Only once published: a failed publication leaves the key in use, to be revoked again.
    acc.store
        .record_revocation(&acc.own, fp.as_bytes(), revocation.revoked_at())?;
    let at = revocation.revoked_at().to_datetime();
    out.emit(
        json!({"event": "revoked", "jid": acc.own, "fingerprint": fp.to_b64(), "revoked_at": at}),
        &format!(
            "revoked the key {} of {} at {at}; a new key is created on next need (publish \
             it with `esession keys publish`)",
            fp.to_b64(),
            acc.own
        ),
    );
    acc.conn.close().await?;
    Ok(())
}

/// `keys attest JID`: attests each key of the contact that we trust (XEP-0116 §7.3) and
/// publishes the attestations (XEP-0189 §5).
pub(crate) async fn attest(
    global: &crate::args::Global,
    contact: &str,
    out: Out,
) -> Result<(), Fail> {
    let peer = jid::bare(contact).to_owned();
    let mut acc = connect_offstage(global, KeyUse::Create).await?;
    let mut attested = Vec::new();
    for known in acc.store.keys_of(&acc.own, &peer)? {
        // Only keys the user verified, and never a revoked one (XEP-0189 §4).
        if known.trusted
            && acc
                .store
                .revoked_at(&acc.own, &known.fingerprint)?
                .is_none()
        {
            attested.push(public_of(&known.key_value).map_err(pubkey_fail)?);
        }
    }
    if attested.is_empty() {
        acc.conn.close().await?;
        return Err(Fail::protocol(
            "untrusted_key",
            format!(
                "no key of {peer} is trusted here: compare its fingerprint and run \
                 `esession trust verify` first; nothing was attested"
            ),
        ));
    }
    let signer = created(&acc)?;
    let signer_fp = signer.public().fingerprint().to_b64();
    let mut statements = Vec::with_capacity(attested.len());
    for key in &attested {
        statements.push(
            Attestation::create(signer, &acc.own, key, Timestamp::now()).map_err(pubkey_fail)?,
        );
    }
    for a in &statements {
        acc.conn.publish_attestation(a, STEP).await?;
        let fp = a.keyprint().to_b64();
        out.emit(
            json!({"event": "attested", "jid": peer, "fingerprint": fp,
                   "signer_fingerprint": signer_fp}),
            &format!(
                "attested the key {fp} of {} with our key {signer_fp}",
                safe(&peer)
            ),
        );
    }
    acc.conn.close().await?;
    Ok(())
}

/// `keys request JID`: asks an online contact directly (XEP-0189 §6) and records the key.
pub(crate) async fn request(
    global: &crate::args::Global,
    contact: &str,
    out: Out,
) -> Result<(), Fail> {
    // RFC 6120 §10.5.4: an iq to a bare JID is answered by the server, not by a client; the
    // direct request (XEP-0189 §6) goes to one resource (decision "`keys request` needs a full JID").
    if !jid::is_full(contact) {
        return Err(Fail::usage(format!(
            "keys request needs a full JID (user@host/resource), not {contact:?}; \
             `esession keys fetch` reads a bare JID's published keys"
        )));
    }
    let peer = jid::bare(contact).to_owned();
    let mut acc = connect_offstage(global, KeyUse::Never).await?;
    let key = acc.conn.request_key(contact, STEP).await?;
    let fetched = absorb(
        &mut acc.store,
        &acc.own,
        &peer,
        &[key],
        &[],
        Timestamp::now(),
    )?;
    for k in &fetched {
        key_line(out, &peer, k);
    }
    acc.conn.close().await?;
    Ok(())
}

/// `{"event":"key","jid":…,"fingerprint":…,"trusted":…,"revoked":…,…}`: one key of a
/// contact as the trust store now sees it.
fn key_line(out: Out, peer: &str, k: &FetchedKey) {
    let revoked_at = k.revoked_at.map(|t| t.to_datetime());
    let status = match (&revoked_at, k.trusted) {
        (Some(at), _) => format!("REVOKED at {at}"),
        (None, true) => "trusted".to_owned(),
        (None, false) => "NOT verified — compare the fingerprint with your contact, then \
                          `esession trust verify`"
            .to_owned(),
    };
    // XEP-0116 §7.4: the petname first, more prominently than the JID.
    let who = match &k.petname {
        Some(name) => format!("{} ({})", safe(name), safe(peer)),
        None => safe(peer).to_string(),
    };
    let mut text = format!("key of {who}: {}  {status}", k.fingerprint);
    for alert in &k.alerts {
        text.push_str(&format!("\nWARNING: {}", safe(alert)));
    }
    out.emit(
        json!({"event": "key", "jid": peer, "fingerprint": k.fingerprint,
               "trusted": k.trusted, "revoked": revoked_at.is_some(),
               "revoked_at": revoked_at, "petname": k.petname, "alerts": k.alerts}),
        &text,
    );
}

/// `{"event":"attestation",…}`: an attestation `peer` publishes, and whether it verified.
fn attestation_line(
    out: Out,
    peer: &str,
    a: &Attestation,
    own: &str,
    ours: &Option<IdentityKey>,
    verdict: Result<(), String>,
) {
    let keyprint = a.keyprint();
    let of_ours = ours
        .as_ref()
        .is_some_and(|k| k.public().fingerprint().ct_eq(&keyprint));
    let fp = keyprint.to_b64();
    let at = a.signed_at().to_datetime();
    let subject = if of_ours {
        format!("our key {fp} ({own})")
    } else {
        format!("the key {fp}")
    };
    let text = match &verdict {
        Ok(()) => format!("{} attests {subject} (signed {at})", safe(peer)),
        Err(why) => format!(
            "{} publishes an attestation of {subject} that does not verify: {}",
            safe(peer),
            safe(why)
        ),
    };
    out.emit(
        json!({"event": "attestation", "jid": peer, "fingerprint": fp, "ours": of_ours,
               "signer_fingerprint": a.signer_print().to_b64(), "signed_at": at,
               "verified": verdict.is_ok(), "detail": verdict.err()}),
        &text,
    );
}
