//! Alice's published offline options (XEP-0187 §3.1, profile P11 "Options form" and
//! "`signs`"): the form, fresh N_A and x_i/e_i per group, and what she stores of it.
use super::set::{OfflineSet, OfflineSetKind};
use crate::b64;
use crate::config::{Config, Security, StanzaKind};
use crate::crypto::pool::take_or_compute;
use crate::crypto::pubkey::{IdentityKey, SignAlg};
use crate::crypto::{draw_nonce, mpi, DhPool, ModpGroup};
use crate::error::{PeerMisbehaved, Usage};
use crate::forms::{Field, FieldType, Form, FormType};
use crate::negotiation::fields::{self, LoggingVocab};
use crate::negotiation::identity::sign_options;
use crate::negotiation::initiator::offer_field;
use crate::random::Random;
use crate::time::Timestamp;
use crate::transcript;
use crate::xml::{normalize_form_content, ns, Element};
use zeroize::Zeroizing;

/// The field left out of the signed normalization (profile P4 item 4, P11).
pub(crate) const SIGNS: &str = "signs";

/// Largest `match_resource` accepted (RFC 7622 §3.4: a resourcepart is at most 1023
/// octets).
const MAX_RESOURCE: usize = 1023;

/// Checks a `match_resource` value (ours or a received one): a non-empty resourcepart
/// without `/` or control characters, at most 1023 octets.
pub(crate) fn check_resource(resource: &str) -> Result<(), PeerMisbehaved> {
    let bad = resource.is_empty()
        || resource.len() > MAX_RESOURCE
        || resource.contains('/')
        || resource.chars().any(char::is_control);
    if bad {
        return Err(PeerMisbehaved::BadValue {
            field: "match_resource".into(),
            value: resource.chars().take(64).collect(),
        });
    }
    Ok(())
}

/// Builds one option set (profile P11 "Options form", field order as listed there) signed
/// by `key`, and the record to store before publishing it.
pub(crate) fn build_options(
    config: &Config,
    rng: &mut dyn Random,
    pool: Option<&DhPool>,
    key: &IdentityKey,
    kind: OfflineSetKind,
    expires: Timestamp,
    match_resource: Option<&str>,
) -> Result<(Element, OfflineSet), Usage> {
    if let Some(r) = match_resource {
        check_resource(r).map_err(|_| Usage::BadResource(r.chars().take(64).collect()))?;
    }
    let crypt: Vec<&str> = config
        .crypt
        .iter()
        .filter(|c| config.cipher_allowed(**c))
        .map(|c| c.name())
        .collect();
    let hashes: Vec<&str> = config.hashes.iter().map(|h| h.name()).collect();
    let compress: Vec<&str> = config.compress.iter().map(|c| c.name()).collect();
    let groups: Vec<u32> = config.allowed_groups();
    for (var, empty) in [
        ("crypt_algs", crypt.is_empty()),
        ("hash_algs", hashes.is_empty()),
        ("compress", compress.is_empty()),
        ("modp", groups.is_empty()),
        ("logging", config.logging.is_empty()),
    ] {
        if empty {
            return Err(Usage::NothingOffered(vec![var.into()]));
        }
    }
    // Profile P11: stanzas is `message` only, never `iq`.
    if !config.stanzas.contains(&StanzaKind::Message) {
        return Err(Usage::NothingOffered(vec!["stanzas".into()]));
    }
    let n_a = draw_nonce(rng);
    transcript::record!("alice.nonce", &n_a);
    let mut exponents = Vec::new();
    let mut dhkeys = Vec::new();
    for id in &groups {
        let group = ModpGroup::get(*id)?;
        // XEP-0116 §4.3 as in the 3-message flow: x_i, e_i = g^x_i mod p, e_i published.
        let (x, e) = take_or_compute(pool, group, rng);
        let x_mpi = Zeroizing::new(x.expose_mpi());
        transcript::record!(&format!("alice.x.{id}"), &x_mpi);
        dhkeys.push(b64::encode(mpi(&e)));
        exponents.push((*id, x_mpi));
    }

    let mut form = Form::with_form_type(FormType::Form, ns::SSN);
    let vocab = LoggingVocab::LoggingMay;
    let logging: Vec<&str> = config.logging.iter().map(|l| vocab.word(*l)).collect();
    form.push(Field::offer("logging", FieldType::ListSingle, &logging));
    form.push(Field::offer(
        "disclosure",
        FieldType::ListSingle,
        &[fields::DISCLOSURE],
    ));
    form.push(Field::offer(
        "security",
        FieldType::ListSingle,
        &[Security::E2e.name()],
    ));
    let ids: Vec<String> = groups.iter().map(u32::to_string).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    form.push(Field::offer("modp", FieldType::ListSingle, &ids));
    form.push(offer_field("crypt_algs", &crypt));
    form.push(offer_field("hash_algs", &hashes));
    // Profile P11: sign_algs with Alice's key type first.
    let own = key.sign_alg();
    let signs_algs: Vec<&str> = std::iter::once(own)
        .chain(
            [SignAlg::RsaSha256, SignAlg::DsaSha256]
                .into_iter()
                .filter(|a| *a != own),
        )
        .map(SignAlg::uri)
        .collect();
    form.push(offer_field("sign_algs", &signs_algs));
    form.push(offer_field("compress", &compress));
    form.push(Field::offer(
        "stanzas",
        FieldType::ListMulti,
        &[StanzaKind::Message.name()],
    ));
    form.push(Field::offer(
        "ver",
        FieldType::ListSingle,
        &[fields::VER_OFFER],
    ));
    let rekey = fields::REKEY_OFF.to_string();
    form.push(Field::new("rekey_freq", Some(FieldType::Hidden), &[&rekey]));
    form.push(Field::new(
        "my_nonce",
        Some(FieldType::Hidden),
        &[&b64::encode(&n_a)],
    ));
    let refs: Vec<&str> = dhkeys.iter().map(String::as_str).collect();
    form.push(Field::new("dhkeys", Some(FieldType::Hidden), &refs));
    form.push(Field::new(
        "expires",
        Some(FieldType::Hidden),
        &[&expires.to_datetime()],
    ));
    if let Some(r) = match_resource {
        form.push(Field::new("match_resource", Some(FieldType::Hidden), &[r]));
    }
    // Profile P11: signs covers the P4 normalization of everything else, FORM_TYPE,
    // expires and match_resource included.
    let content = normalize_form_content(&form.to_element(), &[SIGNS]);
    let signature = sign_options(key, content.as_bytes())?;
    form.push(Field::new(
        SIGNS,
        Some(FieldType::Hidden),
        &[&b64::encode(&signature)],
    ));
    let x = form.to_element();
    let set = OfflineSet {
        kind,
        nonce: Zeroizing::new(n_a.to_vec()),
        exponents,
        expires,
        options: x.serialize_in(""),
        accepted: Vec::new(),
    };
    Ok((x, set))
}
