//! The negotiated terms, and the responder's choice among a request's options
//! (XEP-0116 §4.4–4.5, XEP-0217 §4.2, profile P6).
use super::fields::{self, LoggingVocab};
use crate::b64;
use crate::config::{Config, Logging, Security, StanzaKind};
use crate::crypto::ModpGroup;
use crate::error::Violation;
use crate::forms::{Form, FormType};
use crate::xml::ns;

/// Terms both sides agreed on (what message 2 says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Terms {
    pub security: Security,
    pub logging: Logging,
    pub vocab: LoggingVocab,
    pub stanzas: Vec<StanzaKind>,
    /// Present for an ESession (`security` = `e2e`).
    pub group: Option<u32>,
    pub ver: String,
    pub rekey_freq: u32,
    /// The `sign_algs` value echoed when the initiator sent that field.
    pub sign_alg: Option<String>,
}

impl Terms {
    /// Terms with the profile's fixed values (XEP-0217 §4.1) and no stanza kinds or group
    /// chosen yet.
    pub(crate) fn new(security: Security, logging: Logging, vocab: LoggingVocab) -> Self {
        Terms {
            security,
            logging,
            vocab,
            stanzas: Vec::new(),
            group: None,
            ver: fields::VER_OFFER.to_owned(),
            rekey_freq: fields::REKEY_OFF,
            sign_alg: None,
        }
    }
}

/// Why a request cannot be answered with an acceptance (profile P10b conditions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not an `urn:xmpp:ssn` form: `service-unavailable`.
    Unsupported,
    /// A flow or feature we lack: `feature-not-implemented` naming the fields.
    Unimplemented(Vec<String>),
    /// No acceptable option or a bad value: `not-acceptable` naming the fields.
    Unacceptable(Vec<String>),
}

impl Refusal {
    pub(crate) fn violation(&self) -> Violation {
        match self {
            Refusal::Unsupported => Violation::NotSsnForm,
            Refusal::Unimplemented(_) => Violation::UnsupportedFlow,
            Refusal::Unacceptable(f) => Violation::NoAcceptableOption(f.clone()),
        }
    }
}

/// A request the responder accepted, with everything message 2 needs.
#[derive(Clone, Debug)]
pub(crate) struct Accepted {
    pub terms: Terms,
    /// For an ESession: Alice's commitment for the chosen group and her nonce.
    pub he: Vec<u8>,
    pub n_a: Vec<u8>,
}

/// The responder's choice (XEP-0116 §4.5.1: one option from each field, the first
/// offered that we accept, P6).
pub(crate) fn choose(form: &Form, config: &Config) -> Result<Accepted, Refusal> {
    // XEP-0155 §4.3: a form that is not an SSN form is service-unavailable.
    if form.form_type() != Some(ns::SSN) || form.kind != FormType::Form {
        return Err(Refusal::Unsupported);
    }
    // XEP-0116 §4.4: a 3-message request (dhkeys, no dhhashes) when we only do 4.
    if form.field("dhkeys").is_some() && form.field("dhhashes").is_none() {
        return Err(Refusal::Unimplemented(vec!["dhkeys".into()]));
    }
    let mut bad: Vec<String> = Vec::new();
    let mut flag = |f: &str| bad.push(f.to_owned());

    let accept_ok = form
        .field("accept")
        .map(|f| {
            f.offered()
                .into_iter()
                .any(|v| fields::boolean(v) == Some(true))
        })
        .unwrap_or(false);
    if !accept_ok {
        flag("accept");
    }
    let (vocab, logging) = match LoggingVocab::detect(form) {
        Some((vocab, words)) => {
            let pick = words
                .iter()
                .filter_map(|w| vocab.parse(w))
                .find(|l| config.logging.contains(l));
            if pick.is_none() {
                flag(vocab.field());
            }
            (vocab, pick.unwrap_or(Logging::MustNot))
        }
        None => {
            flag("logging");
            (LoggingVocab::LoggingMay, Logging::MustNot)
        }
    };
    // Profile P6: only `never` is ever negotiated.
    if !offers(form, "disclosure", fields::DISCLOSURE) {
        flag("disclosure");
    }
    let security = form
        .field("security")
        .map(|f| f.offered())
        .unwrap_or_default()
        .into_iter()
        .filter_map(Security::from_name)
        .find(|s| config.security.contains(s));
    let security = match security {
        Some(s) => s,
        None => {
            flag("security");
            Security::E2e
        }
    };
    let stanzas: Vec<StanzaKind> = form
        .field("stanzas")
        .map(|f| f.offered())
        .unwrap_or_default()
        .into_iter()
        .filter_map(StanzaKind::from_name)
        .filter(|k| config.stanzas.contains(k))
        .collect();

    let mut accepted = Accepted {
        terms: Terms::new(security, logging, vocab),
        he: Vec::new(),
        n_a: Vec::new(),
    };
    if security == Security::E2e {
        if stanzas.is_empty() {
            flag("stanzas");
        }
        accepted.terms.stanzas = stanzas;
        // XEP-0217 §4.2: each fixed field must carry its value (as value or option).
        for (var, value) in [
            ("crypt_algs", fields::CRYPT),
            ("hash_algs", fields::HASH),
            ("compress", fields::COMPRESS),
            ("init_pubkey", fields::PUBKEY),
            ("resp_pubkey", fields::PUBKEY),
            ("sas_algs", fields::SAS),
        ] {
            if !offers(form, var, value) {
                flag(var);
            }
        }
        match form
            .field("ver")
            .map(|f| f.offered())
            .unwrap_or_default()
            .into_iter()
            .find(|v| fields::VER_ACCEPTED.contains(v))
        {
            Some(v) => accepted.terms.ver = v.to_owned(),
            None => flag("ver"),
        }
        // XEP-0116 §4.5.2: our rekey_freq must be >= Alice's and < 2^32: we answer
        // max(ours, hers). Without the field re-keying stays off (XEP-0217 §4.1).
        if let Some(f) = form.field("rekey_freq") {
            match f.offered().first().and_then(|v| v.parse::<u32>().ok()) {
                Some(offered) => {
                    accepted.terms.rekey_freq = offered.max(config.rekey_freq.max(1));
                }
                None => flag("rekey_freq"),
            }
        }
        accepted.terms.sign_alg = form
            .field("sign_algs")
            .and_then(|f| f.offered().first().map(|s| (*s).to_owned()));
        match pick_group(form, config) {
            Ok((group, he)) => {
                accepted.terms.group = Some(group);
                accepted.he = he;
            }
            Err(field) => flag(field),
        }
        match fields::nonce(form, "my_nonce") {
            Ok(n) => accepted.n_a = n,
            Err(_) => flag("my_nonce"),
        }
    }
    if bad.is_empty() {
        Ok(accepted)
    } else {
        bad.dedup();
        Err(Refusal::Unacceptable(bad))
    }
}

/// Whether field `var` offers `value` (as an option or a fixed value).
fn offers(form: &Form, var: &str, value: &str) -> bool {
    form.field(var)
        .is_some_and(|f| f.offered().contains(&value))
}

/// The first offered group we accept and its commitment He (XEP-0116 §4.3: `dhhashes`
/// lists one He per `modp` option, in the same order). Errors name the field at fault.
fn pick_group(form: &Form, config: &Config) -> Result<(u32, Vec<u8>), &'static str> {
    let offered: Vec<&str> = form.field("modp").map(|f| f.offered()).unwrap_or_default();
    let hashes = form
        .field("dhhashes")
        .map(|f| f.values.clone())
        .unwrap_or_default();
    if hashes.len() != offered.len() {
        return Err("dhhashes");
    }
    for (i, g) in offered.iter().enumerate() {
        let Ok(id) = g.parse::<u32>() else { continue };
        if !config.group_allowed(id) || ModpGroup::get(id).is_err() {
            continue;
        }
        let he = hashes.get(i).ok_or("dhhashes")?;
        let he = b64::decode("dhhashes", he).map_err(|_| "dhhashes")?;
        if he.len() != 32 {
            return Err("dhhashes");
        }
        return Ok((id, he));
    }
    Err("modp")
}
