//! The negotiated terms, and the responder's choice among a request's options
//! (XEP-0116 §4.4–4.5, XEP-0217 §4.2, profile P6, P8, P12).
use super::fields::{self, LoggingVocab};
use crate::b64;
use crate::compat::gajim::Dialect;
use crate::compress::CompressAlg;
use crate::config::{Config, Flow, Logging, PubkeyMode, Security, StanzaKind};
use crate::crypto::pubkey::SignAlg;
use crate::crypto::{CipherAlg, HashAlg, ModpGroup, SasAlg};
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
    pub flow: Flow,
    pub crypt: CipherAlg,
    pub hash: HashAlg,
    pub compress: CompressAlg,
    /// How the initiator identifies itself (`init_pubkey`).
    pub init_pubkey: PubkeyMode,
    /// How the responder identifies itself (`resp_pubkey`).
    pub resp_pubkey: PubkeyMode,
    /// The `sign_algs` value as it travels (echoed when the initiator sent that field)
    /// and what it means (profile P8: one value per session, used by both identities).
    pub sign: Option<(String, Option<SignAlg>)>,
    /// The `sas_algs` value (4-message flow only, profile P15).
    pub sas: Option<SasAlg>,
    /// The profile, or Gajim's dialect of it (issue 13).
    pub dialect: Dialect,
}

impl Terms {
    /// Terms with the XEP-0217 §4.1 fixed values and no stanza kinds or group chosen yet.
    pub(crate) fn new(security: Security, logging: Logging, vocab: LoggingVocab) -> Self {
        Terms {
            security,
            logging,
            vocab,
            stanzas: Vec::new(),
            group: None,
            ver: fields::VER_OFFER.to_owned(),
            rekey_freq: fields::REKEY_OFF,
            flow: Flow::Four,
            crypt: CipherAlg::Aes128Ctr,
            hash: HashAlg::Sha256,
            compress: CompressAlg::None,
            init_pubkey: PubkeyMode::None,
            resp_pubkey: PubkeyMode::None,
            sign: None,
            sas: None,
            dialect: Dialect::Profile,
        }
    }

    /// The signature algorithm both identities use, when either presents a key.
    pub(crate) fn sign_alg(&self) -> Option<SignAlg> {
        self.sign.as_ref().and_then(|(_, alg)| *alg)
    }
}

/// Why a request cannot be answered with an acceptance (profile P10b conditions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not an `urn:xmpp:ssn` form: `service-unavailable`.
    Unsupported,
    /// A flow or feature we lack, or a bad public value: `feature-not-implemented`.
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
    /// 4-message flow: Alice's commitment He for the chosen group (XEP-0116 §4.3).
    pub he: Vec<u8>,
    /// 3-message flow: Alice's e for the chosen group, as mpi octets (XEP-0116 §4.5.1).
    pub e: Vec<u8>,
    pub n_a: Vec<u8>,
}

/// The first value offered in `var` that `accept` takes (XEP-0116 §4.5.1: Bob selects one
/// option per field, in Alice's order of preference).
fn first_offered<T>(form: &Form, var: &str, accept: impl Fn(&str) -> Option<T>) -> Option<T> {
    form.field(var)?.offered().into_iter().find_map(accept)
}

/// What is being answered: an online request (message 1), or published offline options
/// (XEP-0187 §3.3, profile P11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    Online,
    Offline,
}

/// The responder's choice (XEP-0116 §4.5.1: one option from each field, the first
/// offered that we accept, P6). `own_key` is the algorithm of our identity key, if we
/// have one (it decides which `resp_pubkey` methods we can provide, P8).
pub(crate) fn choose(
    form: &Form,
    config: &Config,
    peer: &str,
    own_key: Option<SignAlg>,
) -> Result<Accepted, Refusal> {
    choose_for(form, config, peer, own_key, Request::Online)
}

/// [`choose`] for an online request or for offline options. Offline (profile P11): the
/// options carry no `accept` and no pubkey fields; the flow is the 3-message one; only
/// `e2e` and `message` stanzas are chosen; Bob identifies with `key` (XEP-0187 §3.3);
/// no re-keying.
pub(crate) fn choose_for(
    form: &Form,
    config: &Config,
    peer: &str,
    own_key: Option<SignAlg>,
    request: Request,
) -> Result<Accepted, Refusal> {
    let offline = request == Request::Offline;
    // XEP-0155 §4.3: a form that is not an SSN form is service-unavailable.
    if form.form_type() != Some(ns::SSN) || form.kind != FormType::Form {
        return Err(Refusal::Unsupported);
    }
    // XEP-0116 §4.2: a request whose dhkeys carries e values (no dhhashes) is 3-message.
    let flow = if form.field("dhkeys").is_some() && form.field("dhhashes").is_none() {
        Flow::Three
    } else {
        Flow::Four
    };
    // XEP-0116 §4.4: a 3-message request when we only do 4. Profile P11: offline options
    // are always answered with the 3-message formulas.
    if offline && flow != Flow::Three {
        return Err(Refusal::Unacceptable(vec!["dhkeys".into()]));
    }
    if !offline && flow == Flow::Three && !config.accept_three_message {
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
    // Profile P11: offline options have no accept field.
    if !accept_ok && !offline {
        flag("accept");
    }
    let (vocab, logging) = match LoggingVocab::detect(form) {
        Some((vocab, words)) => {
            // XEP-0136 §3.1: the answer follows the contact's OTR Mode when archiving
            // preferences are known; a combination the table fails is refused.
            let offered: Vec<Logging> = words.iter().filter_map(|w| vocab.parse(w)).collect();
            let pick = config.logging_answer(peer, &offered);
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
    // Profile P11: an offline session is always encrypted.
    let security = first_offered(form, "security", |v| {
        Security::from_name(v)
            .filter(|s| config.security.contains(s) && (!offline || *s == Security::E2e))
    });
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
        // Profile P11: offline sessions carry message stanzas only.
        .filter(|k| !offline || *k == StanzaKind::Message)
        .collect();

    let mut accepted = Accepted {
        terms: Terms::new(security, logging, vocab),
        he: Vec::new(),
        e: Vec::new(),
        n_a: Vec::new(),
    };
    if security == Security::E2e {
        let terms = &mut accepted.terms;
        terms.flow = flow;
        if stanzas.is_empty() {
            flag("stanzas");
        }
        terms.stanzas = stanzas;
        match first_offered(form, "crypt_algs", |v| {
            CipherAlg::from_name(v).filter(|c| config.cipher_allowed(*c))
        }) {
            Some(c) => terms.crypt = c,
            None => flag("crypt_algs"),
        }
        match first_offered(form, "hash_algs", |v| {
            HashAlg::from_name(v).filter(|h| config.hashes.contains(h))
        }) {
            Some(h) => terms.hash = h,
            None => flag("hash_algs"),
        }
        match first_offered(form, "compress", |v| {
            CompressAlg::from_name(v).filter(|c| config.compress.contains(c))
        }) {
            Some(c) => terms.compress = c,
            None => flag("compress"),
        }
        // Profile P8, P12: init_pubkey is what we require of Alice (never `none` in the
        // 3-message flow); resp_pubkey the first offered method we can provide.
        let allowed = |m: PubkeyMode| flow == Flow::Four || m != PubkeyMode::None;
        if offline {
            // XEP-0187 §3.3: no pubkey field was received, so Bob assumes `key`; Alice's
            // authentication is `signs` (profile P11).
            match own_key {
                Some(_) => terms.resp_pubkey = PubkeyMode::Key,
                None => flag("resp_pubkey"),
            }
        } else {
            match first_offered(form, "init_pubkey", |v| {
                PubkeyMode::from_name(v).filter(|m| config.accept_pubkey.contains(m) && allowed(*m))
            }) {
                Some(m) => terms.init_pubkey = m,
                None => flag("init_pubkey"),
            }
            match first_offered(form, "resp_pubkey", |v| {
                PubkeyMode::from_name(v).filter(|m| {
                    config.present_pubkey.contains(m)
                        && allowed(*m)
                        && (*m == PubkeyMode::None || own_key.is_some())
                })
            }) {
                Some(m) => terms.resp_pubkey = m,
                None => flag("resp_pubkey"),
            }
        }
        let keys_used =
            terms.init_pubkey != PubkeyMode::None || terms.resp_pubkey != PubkeyMode::None;
        // Profile P8: one sign_algs value per session; when we present a key, it must be
        // our key's algorithm.
        let sign = first_offered(form, "sign_algs", |v| {
            let alg = SignAlg::from_uri(v);
            let fits = match (terms.resp_pubkey, alg) {
                (PubkeyMode::None, Some(_)) => true,
                (_, Some(alg)) => own_key == Some(alg),
                (_, None) => !keys_used,
            };
            fits.then(|| (v.to_owned(), alg))
        });
        match sign {
            Some(s) => terms.sign = Some(s),
            None if keys_used => flag("sign_algs"),
            None => {}
        }
        // Profile P15: the first offered SAS we accept; none is not-acceptable (P10b).
        if flow == Flow::Four {
            match first_offered(form, "sas_algs", |v| {
                SasAlg::from_name(v).filter(|a| config.sas.contains(a))
            }) {
                Some(a) => terms.sas = Some(a),
                None => flag("sas_algs"),
            }
        }
        match first_offered(form, "ver", |v| {
            fields::VER_ACCEPTED.contains(&v).then(|| v.to_owned())
        }) {
            Some(v) => terms.ver = v,
            None => flag("ver"),
        }
        // XEP-0116 §4.5.2: our rekey_freq must be >= Alice's and < 2^32.
        // A request without the field leaves re-keying off.
        // Profile P11: no re-keying offline (rekey_freq 4294967295).
        if offline {
            terms.rekey_freq = fields::REKEY_OFF;
        } else if let Some(f) = form.field("rekey_freq") {
            match f.offered().first().and_then(|v| v.parse::<u32>().ok()) {
                Some(theirs) => terms.rekey_freq = theirs.max(config.rekey_freq),
                None => flag("rekey_freq"),
            }
        }
        let picked = match flow {
            Flow::Four => pick_group(form, config, "dhhashes"),
            Flow::Three => pick_group(form, config, "dhkeys"),
        };
        match picked {
            Ok((group, value)) => {
                accepted.terms.group = Some(group);
                match flow {
                    Flow::Four if value.len() == 32 => accepted.he = value,
                    Flow::Four => flag("dhhashes"),
                    Flow::Three => {
                        // XEP-0116 §4.5.1: feature-not-implemented unless 1 < e < p-1.
                        let in_range =
                            ModpGroup::get(group).is_ok_and(|g| g.check_public(&value).is_ok());
                        if !in_range {
                            return Err(Refusal::Unimplemented(vec!["dhkeys".into()]));
                        }
                        accepted.e = crate::crypto::mpi(&value).to_vec();
                    }
                }
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

/// The first offered group we accept and its value in `values_var` (XEP-0116 §4.3:
/// `dhhashes` lists one He, and in the 3-message flow `dhkeys` one e, per `modp` option, in
/// the same order). Errors name the field at fault.
fn pick_group(
    form: &Form,
    config: &Config,
    values_var: &'static str,
) -> Result<(u32, Vec<u8>), &'static str> {
    let offered: Vec<&str> = form.field("modp").map(|f| f.offered()).unwrap_or_default();
    let values = form
        .field(values_var)
        .map(|f| f.values.clone())
        .unwrap_or_default();
    if values.len() != offered.len() {
        return Err(values_var);
    }
    for (i, g) in offered.iter().enumerate() {
        let Ok(id) = g.parse::<u32>() else { continue };
        if !config.group_allowed(id) || ModpGroup::get(id).is_err() {
            continue;
        }
        let value = values.get(i).ok_or(values_var)?;
        let value = b64::decode(values_var, value).map_err(|_| values_var)?;
        return Ok((id, value));
    }
    Err("modp")
}
