//! Alice processes an offline init (XEP-0187 §3.4, profile P11 "Alice's checks, in
//! order" and "Keys"): every check in the profile's order, then Bob's identity under the
//! 3-message keys, and a receive-only channel for the stanzas of that thread.
use super::set::{AcceptedInit, OfflineSet};
use crate::channel::{Channel, Direction, RekeyBase};
use crate::compress::CompressAlg;
use crate::config::{Flow, Logging, PubkeyMode, Security, StanzaKind};
use crate::crypto::pubkey::SignAlg;
use crate::crypto::{
    ct_eq, mpi, negotiation_k, responder_counter, session_keys, u128_from_be, CipherAlg, DhSecret,
    HashAlg, ModpGroup,
};
use crate::error::{Error, PeerMisbehaved, Replay, StoreError};
use crate::event::SrsStatus;
use crate::forms::{Form, FormType};
use crate::negotiation::context::Ctx;
use crate::negotiation::established::{peer_key_status, Established};
use crate::negotiation::fields::{self, LoggingVocab, NOT_MACED};
use crate::negotiation::identity::{open_identity, IdentityKeys, MacInput, PeerIdentity};
use crate::negotiation::terms::Terms;
use crate::xml::{normalize_form_content, parse_element, Element, Limits};

/// Fields of Bob's form that answer no offered field: the values he draws and his sealed
/// identity (profile P11 "Bob's message").
const OWN_VALUES: [&str; 7] = [
    "FORM_TYPE",
    "my_nonce",
    "dhkeys",
    "nonce",
    "counter",
    "identity",
    "mac",
];

/// Fields Bob must answer (profile P11: his choices as an online responder makes them).
const CHOICES: [&str; 11] = [
    "logging",
    "disclosure",
    "security",
    "modp",
    "crypt_algs",
    "hash_algs",
    "sign_algs",
    "compress",
    "stanzas",
    "ver",
    "rekey_freq",
];

/// An offline init that passed every check.
pub(crate) struct Opened {
    pub established: Established,
    /// Index of the set it used in the slice given to [`open_init`].
    pub set: usize,
    /// Its replay record, to be stored atomically by the caller.
    pub record: AcceptedInit,
}

/// Runs profile P11 "Alice's checks, in order" on the `<x type='submit'/>` of an offline
/// init against our loaded `sets`; `thread_taken` says whether its thread already has a
/// session. Every refusal is silent on the wire (the caller only reports it).
pub(crate) fn open_init(
    x: &Element,
    sets: &[OfflineSet],
    thread_taken: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Opened, Error> {
    // 1. A submit form with FORM_TYPE urn:xmpp:ssn.
    let form = fields::ssn_form(x, FormType::Submit)?;
    // 2. Single values: every field but stanzas carries exactly one.
    for field in &form.fields {
        let var = field.var.as_deref().unwrap_or_default();
        match field.values.len() {
            0 => return Err(PeerMisbehaved::MissingField(var.to_owned()).into()),
            1 => {}
            _ if var == "stanzas" => {}
            _ => return Err(PeerMisbehaved::MultipleValues(var.to_owned()).into()),
        }
    }
    // 3. The set whose N_A equals `nonce` (constant time).
    let nonce = fields::single_b64(&form, "nonce")?;
    let index = sets
        .iter()
        .position(|s| ct_eq(&s.nonce, &nonce))
        .ok_or(PeerMisbehaved::NoOfflineSet)?;
    let set = sets.get(index).ok_or(PeerMisbehaved::NoOfflineSet)?;
    // 4. Expiry: an init for an expired set is discarded undecrypted.
    if set.expired(ctx.now) {
        return Err(PeerMisbehaved::OfflineExpired(set.expires.to_datetime()).into());
    }
    // 5. Replay: d or N_B accepted before for this set, or a thread with a session.
    let d_raw = fields::single_b64(&form, "dhkeys")?;
    let n_b = fields::nonce(&form, "my_nonce")?;
    let record = AcceptedInit::of(&d_raw, &n_b);
    if thread_taken {
        return Err(PeerMisbehaved::OfflineReplay(Replay::ThreadTaken).into());
    }
    if set.accepted.iter().any(|a| a.replayed_by(&record)) {
        return Err(PeerMisbehaved::OfflineReplay(Replay::Accepted).into());
    }
    // 6. The group among the set's.
    let modp = fields::single(&form, "modp")?;
    let (group_id, x_mpi) = set
        .exponents
        .iter()
        .find(|(id, _)| id.to_string() == modp)
        .ok_or_else(|| PeerMisbehaved::UnofferedOption {
            field: "modp".into(),
            value: modp.into(),
        })?;
    let group = ModpGroup::get(*group_id).map_err(PeerMisbehaved::Crypto)?;
    // 7. 1 < d < p-1.
    group
        .check_public(&d_raw)
        .map_err(|_| PeerMisbehaved::PublicValueOutOfRange("dhkeys".into()))?;
    let d = mpi(&d_raw).to_vec();
    // 8. Choices within the offer.
    let offer = parse_element(&set.options, &Limits::default())
        .map_err(|e| StoreError::with_source("stored offline options are not XML", e))?;
    let offer = Form::parse(&offer).map_err(PeerMisbehaved::Form)?;
    let terms = offered_terms(&offer, &form, *group_id)?;
    // 9. M_B, decryption, KeyValue + SignatureValue, key type, signature (profile P11
    //    "Keys": the 3-message formulas with Bob as responder, Bob always `key`).
    let counter = fields::single_b64(&form, "counter")?;
    let c_a = u128_from_be(&counter).map_err(|_| PeerMisbehaved::BadValue {
        field: "counter".into(),
        value: format!("{} octets", counter.len()),
    })?;
    let x_secret = DhSecret::from_be(*group_id, x_mpi).map_err(PeerMisbehaved::Crypto)?;
    let shared = group
        .shared_secret(&x_secret, &d)
        .map_err(PeerMisbehaved::Crypto)?;
    let k = negotiation_k(terms.hash, shared.expose());
    let keys = session_keys(terms.hash, terms.crypt, k.expose());
    let id = fields::single_b64(&form, "identity")?;
    let m = fields::single_b64(&form, "mac")?;
    let form_b = normalize_form_content(x, &NOT_MACED);
    let mut c_b = responder_counter(c_a);
    let (proof, key) = open_identity(
        &IdentityKeys::responder(terms.hash, terms.crypt, &keys),
        &mut c_b,
        &id,
        &m,
        &PeerIdentity {
            mode: PubkeyMode::Key,
            sign: terms.sign_alg(),
            known: &[],
        },
        &MacInput {
            prefix: [&set.nonce, &n_b, &d],
            forms: &[form_b.as_bytes()],
        },
    )?;
    // ... and trust (profile P8 through the configured policy).
    let key = peer_key_status(ctx, key)?;
    let mut channel = Channel::new(
        proof,
        &terms,
        Direction::new(keys.initiator, c_a),
        Direction::new(keys.responder, c_b),
        RekeyBase {
            group,
            own: x_secret,
            peer_public: d,
        },
    );
    // Profile P11: Alice never sends anything in an offline session.
    channel.close_send();
    Ok(Opened {
        established: Established {
            channel,
            terms,
            sas: None,
            srs: SrsStatus::None,
            verified: false,
            secret_id: None,
            peer_key: key.info,
            key_missing: key.missing,
        },
        set: index,
        record,
    })
}

/// Profile P11 check 8: every field Bob answered was offered, with a value among the
/// offered ones, and every choice is present; the negotiated terms.
fn offered_terms(offer: &Form, chosen: &Form, group: u32) -> Result<Terms, PeerMisbehaved> {
    for field in &chosen.fields {
        let var = field.var.as_deref().unwrap_or_default();
        if OWN_VALUES.contains(&var) {
            continue;
        }
        let offered = offer.field(var).map(|f| f.offered()).ok_or_else(|| {
            PeerMisbehaved::UnofferedOption {
                field: var.to_owned(),
                value: field.values.join(" "),
            }
        })?;
        for v in &field.values {
            fields::offered_check(var, v, &offered)?;
        }
    }
    for var in CHOICES {
        if chosen.field(var).is_none() {
            return Err(PeerMisbehaved::MissingField(var.to_owned()));
        }
    }
    let value = |var: &str| fields::single(chosen, var);
    let bad = |var: &str, v: &str| PeerMisbehaved::BadValue {
        field: var.to_owned(),
        value: v.to_owned(),
    };
    let vocab = LoggingVocab::LoggingMay;
    let logging: Logging = vocab
        .parse(value("logging")?)
        .ok_or_else(|| bad("logging", "?"))?;
    if Security::from_name(value("security")?) != Some(Security::E2e) {
        return Err(bad("security", value("security")?));
    }
    let mut terms = Terms::new(Security::E2e, logging, vocab);
    terms.flow = Flow::Three;
    terms.group = Some(group);
    let parse = |var: &str| value(var).map(str::to_owned);
    let crypt = parse("crypt_algs")?;
    terms.crypt = CipherAlg::from_name(&crypt).ok_or_else(|| bad("crypt_algs", &crypt))?;
    let hash = parse("hash_algs")?;
    terms.hash = HashAlg::from_name(&hash).ok_or_else(|| bad("hash_algs", &hash))?;
    let compress = parse("compress")?;
    terms.compress = CompressAlg::from_name(&compress).ok_or_else(|| bad("compress", &compress))?;
    let sign = parse("sign_algs")?;
    let alg = SignAlg::from_uri(&sign).ok_or_else(|| bad("sign_algs", &sign))?;
    terms.sign = Some((sign, Some(alg)));
    terms.resp_pubkey = PubkeyMode::Key;
    terms.ver = parse("ver")?;
    let rekey = parse("rekey_freq")?;
    terms.rekey_freq = rekey.parse().map_err(|_| bad("rekey_freq", &rekey))?;
    for v in chosen
        .field("stanzas")
        .map(|f| f.values.as_slice())
        .unwrap_or_default()
    {
        let kind = StanzaKind::from_name(v).ok_or_else(|| bad("stanzas", v))?;
        terms.stanzas.push(kind);
    }
    Ok(terms)
}
