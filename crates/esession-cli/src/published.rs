//! `esession keys publish|fetch|revoke|attest|request`: published keys (XEP-0189 as bound by
//! profile P14). The adapter ([`esession_xmpp::Connection`]) exchanges and checks them
//! against the account's store; this module only prints what happened.
use crate::account::connect_offstage;
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use crate::sanitize::safe;
use esession::pubkeys::{Attestation, FetchedKey};
use esession::{jid, IdentityKey};
use esession_xmpp::{AttestationRefused, Published, PublishedKeysError};
use serde_json::json;
use std::time::Duration;

/// Bound of each PEP or iq round trip.
const STEP: Duration = Duration::from_secs(10);

fn keys_fail(e: PublishedKeysError) -> Fail {
    match e {
        PublishedKeysError::Xmpp(e) => e.into(),
        PublishedKeysError::Store(e) => e.into(),
        PublishedKeysError::NoTrustedKey { peer } => Fail::protocol(
            "untrusted_key",
            format!(
                "no key of {peer} is trusted here: compare its fingerprint and run \
                 `esession trust verify` first; nothing was attested"
            ),
        ),
        e => Fail::protocol("pubkey", e.to_string()),
    }
}

/// The identity key [`connect_offstage`] loaded with [`KeyUse::Create`].
fn created(identity: &Option<IdentityKey>) -> Result<&IdentityKey, Fail> {
    identity
        .as_ref()
        .ok_or_else(|| Fail::protocol("identity_key", "no identity key was created"))
}

/// `keys publish`: our key as item `current` of our pubkey node (XEP-0189 §7, profile P14).
pub(crate) async fn publish(global: &crate::args::Global, out: Out) -> Result<(), Fail> {
    let mut acc = connect_offstage(global, KeyUse::Create).await?;
    let key = created(&acc.identity)?.public();
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
    let fetched = acc
        .conn
        .fetch_keys(&mut acc.store, &acc.own, acc.identity.as_ref(), &peer)
        .await
        .map_err(|e| refused_fetch(e, &peer))?;
    for k in &fetched.keys {
        key_line(out, &peer, k);
    }
    for (a, verdict) in &fetched.attestations {
        attestation_line(out, &peer, a, &acc.own, &acc.identity, verdict);
    }
    for why in &fetched.refused {
        // Everything fetched is hostile: what failed a check is named, never used.
        out.emit(
            json!({"event": "warning", "peer": peer, "thread": null, "detail": why}),
            &format!("warning ({}): ignored {}", safe(&peer), safe(why)),
        );
    }
    if fetched.nothing_published && !out.json {
        out.emit(
            serde_json::Value::Null,
            &format!("{} publishes no keys", safe(&peer)),
        );
    }
    acc.conn.close().await?;
    Ok(())
}

/// [`keys_fail`], with a refusal of the contact's server explained: XEP-0163 §4.1.1
/// (access model `presence`) and XEP-0060 §6.5.9: a stranger who does not share presence
/// with the contact may not read its nodes, published or not (Prosody says `forbidden`).
fn refused_fetch(e: PublishedKeysError, peer: &str) -> Fail {
    let mut fail = keys_fail(e);
    if fail.message.contains("forbidden") || fail.message.contains("not-authorized") {
        fail.message = format!(
            "{}; the server of {} shows its published keys only to contacts who share \
             presence with it: add it (`/add` in `esession tui`) and wait for its approval",
            fail.message,
            safe(peer)
        );
    }
    fail
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
    let revocation = acc
        .conn
        .revoke_key(&mut acc.store, &acc.own, &key)
        .await
        .map_err(keys_fail)?;
    let fp = revocation.fingerprint();
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
    // Never a new key here: one nobody has could attest nothing (XEP-0189 §5).
    let mut acc = connect_offstage(global, KeyUse::IfStored).await?;
    let Some(signer) = acc.identity.as_ref() else {
        acc.conn.close().await?;
        return Err(Fail::protocol(
            "identity_key",
            format!(
                "{} has no identity key to attest with: create and publish one with \
                 `esession keys publish`",
                acc.own
            ),
        ));
    };
    let signer_fp = signer.public().fingerprint().to_b64();
    let attested = acc
        .conn
        .attest_trusted(&acc.store, &acc.own, signer, &peer, |a| {
            let fp = a.keyprint().to_b64();
            out.emit(
                json!({"event": "attested", "jid": peer, "fingerprint": fp,
                       "signer_fingerprint": signer_fp}),
                &format!(
                    "attested the key {fp} of {} with our key {signer_fp}",
                    safe(&peer)
                ),
            );
        })
        .await;
    if let Err(e @ PublishedKeysError::NoTrustedKey { .. }) = attested {
        acc.conn.close().await?;
        return Err(keys_fail(e));
    }
    attested.map_err(keys_fail)?;
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
    let fetched = acc
        .conn
        .request_keys(&mut acc.store, &acc.own, contact, &peer)
        .await
        .map_err(keys_fail)?;
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
    verdict: &Result<(), AttestationRefused>,
) {
    let verdict = verdict.as_ref().map_err(|why| why.to_string());
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
