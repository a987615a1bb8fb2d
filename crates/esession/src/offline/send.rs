//! Bob starts an offline session (XEP-0187 §3.2–3.3, profile P11): verify the options'
//! `signs` with a key trusted for Alice's bare JID, refuse expired options by his clock,
//! choose as an online responder would, and build the init form and sending channel.
use super::options::{check_resource, SIGNS};
use crate::b64;
use crate::crypto::pubkey::PublicKey;
use crate::error::{Error, OfflineOptionsFault, PeerMisbehaved, Usage};
use crate::event::PeerKeyInfo;
use crate::forms::{Form, FormType};
use crate::negotiation::context::Ctx;
use crate::negotiation::established::Established;
use crate::negotiation::fields;
use crate::negotiation::identity::{verify_options_signature, wrap_xmldsig, PeerVerified};
use crate::negotiation::responder::AwaitingResult;
use crate::negotiation::terms::{choose_for, Request};
use crate::time::Timestamp;
use crate::trust;
use crate::xml::{normalize_form_content, ns, parse_element, Element, Limits};
use jid::{BareJid, Jid};

/// Most `signs` values tried (profile P11: one per published key; a handful at most).
const MAX_SIGNS: usize = 8;

/// Offline options whose signature verified with a trusted key and that have not expired.
pub(crate) struct Verified {
    form: Form,
    proof: PeerVerified,
    /// Where every stanza of the session goes: the bare JID, or `bare/match_resource`.
    pub to: Jid,
    /// Whether the options carried `match_resource` (AMP rule on every stanza).
    pub match_resource: bool,
    /// The key that signed them, as the trust store knows it.
    pub signer: PeerKeyInfo,
}

/// Verifies Alice's published options `x` for `alice` (her bare JID) at `ctx.now`.
pub(crate) fn verify_options(
    x: &Element,
    alice: &BareJid,
    ctx: &Ctx<'_>,
) -> Result<Verified, Error> {
    let refuse = PeerMisbehaved::OfflineOptions;
    let form = Form::parse(x).map_err(PeerMisbehaved::Form)?;
    if form.form_type() != Some(ns::SSN) || form.kind != FormType::Form {
        return Err(refuse(OfflineOptionsFault::NotOptionsForm).into());
    }
    let signs = form
        .field(SIGNS)
        .map(|f| f.values.as_slice())
        .unwrap_or_default();
    if signs.is_empty() {
        return Err(refuse(OfflineOptionsFault::Unsigned).into());
    }
    // XEP-0187 §3.2: at least one signature must verify with a key of Alice that we
    // trust (profile P11: trusted for her bare JID), else proceed no further.
    let known = ctx.store.keys_of(ctx.own_bare, alice.as_str())?;
    let trusted: Vec<(PublicKey, &trust::KnownKey)> = known
        .iter()
        .filter(|k| trust::assess(&known, Some(k), Some(k.fingerprint), alice.as_str()).trusted)
        .filter_map(|k| {
            let el = parse_element(&wrap_xmldsig(&k.key_value), &Limits::default()).ok()?;
            Some((PublicKey::from_key_value(&el).ok()?, k))
        })
        .collect();
    if trusted.is_empty() {
        return Err(refuse(OfflineOptionsFault::NoTrustedKey(alice.to_string())).into());
    }
    let content = normalize_form_content(x, &[SIGNS]);
    let mut verified = None;
    'outer: for sig in signs.iter().take(MAX_SIGNS) {
        let Ok(sig) = b64::decode(SIGNS, sig) else {
            continue;
        };
        for (key, known) in &trusted {
            if let Ok(proof) = verify_options_signature(key, content.as_bytes(), &sig) {
                verified = Some((proof, *known));
                break 'outer;
            }
        }
    }
    let (proof, signer) =
        verified.ok_or_else(|| refuse(OfflineOptionsFault::NoValidSignature(alice.to_string())))?;
    // XEP-0187 §3.2: no encrypted stanza once `expires` has passed (by Bob's clock).
    let expires_text = fields::single(&form, "expires")?;
    let expires =
        Timestamp::parse_datetime(expires_text).ok_or_else(|| PeerMisbehaved::BadValue {
            field: "expires".into(),
            value: expires_text.chars().take(64).collect(),
        })?;
    if ctx.now >= expires {
        return Err(PeerMisbehaved::OfflineExpired(expires.to_datetime()).into());
    }
    let (to, match_resource) = match form.field("match_resource") {
        Some(_) => {
            let r = fields::single(&form, "match_resource")?;
            check_resource(r)?;
            // RFC 7622 §3.4: the resource as a JID normalizes it (resourceprep).
            let full = alice
                .with_resource_str(r)
                .map_err(|_| PeerMisbehaved::BadValue {
                    field: "match_resource".into(),
                    value: r.chars().take(64).collect(),
                })?;
            (Jid::from(full), true)
        }
        None => (Jid::from(alice.clone()), false),
    };
    let signer = PeerKeyInfo {
        fingerprint: signer.fingerprint_b64(),
        petname: signer.petname.clone(),
        trusted: true,
        alerts: Vec::new(),
    };
    Ok(Verified {
        form,
        proof,
        to,
        match_resource,
        signer,
    })
}

/// Chooses among verified options as an online responder would (profile P6, P11) and
/// builds Bob's init form and the session's channel.
pub(crate) fn start(v: Verified, ctx: &mut Ctx<'_>) -> Result<(Established, Element), Error> {
    let own_key = ctx.identity.map(|k| k.sign_alg());
    if own_key.is_none() {
        return Err(Usage::NoIdentityKey("key").into());
    }
    let accepted = choose_for(&v.form, ctx.config, ctx.peer, own_key, Request::Offline)
        .map_err(|r| r.misbehaviour())?;
    let (mut established, x) = AwaitingResult::respond_offline(accepted, v.proof, ctx)?;
    established.peer_key = Some(v.signer);
    Ok((established, x))
}
