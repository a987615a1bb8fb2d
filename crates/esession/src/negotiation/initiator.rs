//! The initiator's side (Alice) of the negotiation: XEP-0116 §4.3, §4.6, §4.8 in the
//! 4-message flow (profiled by profile P1–P8) and the 3-message flow (profile P12).
//!
//! Over 600 lines: `Offer` handles every answer to message 1 (accept in either flow,
//! decline, error), and its checks of each chosen option against what was offered are
//! the initiator's half of XEP-0116 §4.4; `AwaitingInit` is the short rest.
use super::context::Ctx;
use super::established::{known_keys, peer_key_status, retain_new_secret, srs_status, Established};
use super::fields::{self, LoggingVocab};
use super::identity::{
    open_identity, seal_identity, IdentityKeys, MacInput, OwnIdentity, PeerIdentity,
};
use super::retained;
use super::terms::Terms;
use crate::b64;
use crate::channel::{Channel, Direction, RekeyBase};
use crate::compat::gajim::Dialect;
use crate::compress::CompressAlg;
use crate::config::{Config, Flow, Logging, PubkeyMode, Security, StanzaKind};
use crate::crypto::pool::take_or_compute;
use crate::crypto::pubkey::{IdentityKey, SignAlg};
use crate::crypto::DhPool;
use crate::crypto::{
    commitment, ct_eq, draw_nonce, final_k, mpi, negotiation_k, responder_counter, sas28x5,
    sas28x5_commit, session_keys, u128_from_be, CipherAlg, DhSecret, HashAlg, ModpGroup, SasAlg,
    SecretBytes,
};
use crate::error::{Error, PeerMisbehaved, Usage};
use crate::event::SrsStatus;
use crate::forms::{Field, FieldType, Form, FormType};
use crate::random::Random;
use crate::store::RetainedSecret;
use crate::transcript;
use crate::xml::{ns, Element};

/// Message 1 sent; waiting for Bob's response.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Offer {
    groups: Vec<(u32, DhSecret, Vec<u8>)>,
    n_a: [u8; 32],
    form_a: String,
    logging: Vec<Logging>,
    security: Vec<Security>,
    stanzas: Vec<StanzaKind>,
    offered: Offered,
    dialect: Dialect,
}

/// The options of message 1 that Bob must choose from (XEP-0116 §4.6: Alice checks each
/// choice against her offer).
#[cfg_attr(feature = "test-util", derive(Clone))]
struct Offered {
    flow: Flow,
    crypt: Vec<CipherAlg>,
    hash: Vec<HashAlg>,
    compress: Vec<CompressAlg>,
    init_pubkey: Vec<PubkeyMode>,
    resp_pubkey: Vec<PubkeyMode>,
    sign: Vec<String>,
    /// 4-message flow only (profile P15).
    sas: Vec<SasAlg>,
    rekey_freq: u32,
}

/// What Bob's response led to.
pub(crate) enum Response {
    /// Bob declined (XEP-0155 §4.3 reject).
    Declined(Option<String>),
    /// Bob chose a plain stanza session; send the completion form.
    Plain { terms: Terms, complete: Element },
    /// Message 3 is ready; wait for message 4.
    Identity {
        next: Box<AwaitingInit>,
        msg3: Element,
    },
    /// 3-message flow: Bob's identity verified, message 3 ready, and the session is
    /// established once it is sent (profile P12).
    Established {
        established: Box<Established>,
        msg3: Element,
    },
}

/// Message 3 sent; waiting for message 4.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct AwaitingInit {
    terms: Terms,
    group: &'static ModpGroup,
    /// Our DH secret: the base of our first re-key (XEP-0200 §9).
    x: DhSecret,
    hash: HashAlg,
    cipher: CipherAlg,
    k: SecretBytes,
    d: Vec<u8>,
    n_a: [u8; 32],
    n_b: Vec<u8>,
    c_a: u128,
    c_b: u128,
    form_b: String,
    candidates: Vec<RetainedSecret>,
    pub(crate) sas: String,
}

/// The field `var` offering `names` in preference order: a hidden field with its one
/// value when there is a single choice (the XEP-0217 §4.1 fixed parameters), otherwise a
/// list-single of options (XEP-0116 §4.3).
pub(crate) fn offer_field(var: &str, names: &[&str]) -> Field {
    match names {
        [one] => Field::new(var, Some(FieldType::Hidden), &[one]),
        _ => Field::offer(var, FieldType::ListSingle, names),
    }
}

/// The value Bob chose in `var`, which must be one of `offered` (XEP-0116 §4.6).
fn chosen<T: Copy + PartialEq>(
    form: &Form,
    var: &str,
    parse: impl Fn(&str) -> Option<T>,
    offered: &[T],
) -> Result<T, PeerMisbehaved> {
    let value = fields::single(form, var)?;
    parse(value)
        .filter(|v| offered.contains(v))
        .ok_or_else(|| PeerMisbehaved::UnofferedOption {
            field: var.into(),
            value: value.into(),
        })
}

impl Offer {
    /// Builds message 1's form (XEP-0116 §4.3; a single choice travels as a hidden fixed
    /// field as XEP-0217 §4.1 does). `own_key` is our identity key, if loaded; `dialect`
    /// the wire of the session (issue 13: its `config` is then the Gajim one).
    pub(crate) fn new(
        config: &Config,
        peer: &str,
        rng: &mut dyn Random,
        pool: Option<&DhPool>,
        own_key: Option<&IdentityKey>,
        dialect: Dialect,
    ) -> Result<(Offer, Element), Usage> {
        let flow = config.flow;
        let mut form = Form::with_form_type(FormType::Form, ns::SSN);
        form.push(Field::new("accept", Some(FieldType::Boolean), &["1"]).required());
        let vocab = LoggingVocab::LoggingMay;
        // XEP-0136 §3.1: the offer follows the contact's OTR Mode when preferences are set.
        let offered_logging = config.logging_offer(peer);
        let logging: Vec<&str> = offered_logging.iter().map(|l| vocab.word(*l)).collect();
        form.push(Field::offer("logging", FieldType::ListSingle, &logging).required());
        form.push(
            Field::offer("disclosure", FieldType::ListSingle, &[fields::DISCLOSURE]).required(),
        );
        let security: Vec<&str> = config.security.iter().map(|s| s.name()).collect();
        form.push(Field::offer("security", FieldType::ListSingle, &security).required());
        let n_a = draw_nonce(rng);
        transcript::record!("alice.nonce", &n_a);
        let mut offered = Offered {
            flow,
            crypt: config
                .crypt
                .iter()
                .copied()
                .filter(|c| config.cipher_allowed(*c))
                .collect(),
            hash: config.hashes.clone(),
            compress: config.compress.clone(),
            // Profile P8, P12: we present what we can (key and hash need a key), never
            // `none` in the 3-message flow.
            init_pubkey: config
                .present_pubkey
                .iter()
                .copied()
                .filter(|m| *m == PubkeyMode::None || own_key.is_some())
                .filter(|m| flow == Flow::Four || *m != PubkeyMode::None)
                .collect(),
            resp_pubkey: config
                .accept_pubkey
                .iter()
                .copied()
                .filter(|m| flow == Flow::Four || *m != PubkeyMode::None)
                .collect(),
            sign: Vec::new(),
            // XEP-0116 §4.3: no sas_algs in the 3-message flow.
            sas: match flow {
                Flow::Four => config.sas.clone(),
                Flow::Three => Vec::new(),
            },
            rekey_freq: config.rekey_freq,
        };
        let mut groups = Vec::new();
        if config.security.contains(&Security::E2e) {
            for (var, empty) in [
                ("crypt_algs", offered.crypt.is_empty()),
                ("hash_algs", offered.hash.is_empty()),
                ("compress", offered.compress.is_empty()),
                ("resp_pubkey", offered.resp_pubkey.is_empty()),
                ("sas_algs", flow == Flow::Four && offered.sas.is_empty()),
            ] {
                if empty {
                    return Err(Usage::NothingOffered(vec![var.into()]));
                }
            }
            if offered.init_pubkey.is_empty() {
                return Err(Usage::NoIdentityKey("key"));
            }
            let ids: Vec<u32> = config.allowed_groups();
            if ids.is_empty() {
                return Err(Usage::NothingOffered(vec!["modp".into()]));
            }
            let mut values = Vec::new();
            for id in &ids {
                let group = ModpGroup::get(*id)?;
                // XEP-0116 §4.3: x_i per group, e_i = g^x_i mod p; the 4-message flow
                // sends He_i = SHA256(e_i), the 3-message flow e_i itself. Precomputed
                // when the engine has a pool.
                let (x, e) = take_or_compute(pool, group, rng);
                transcript::record!(&format!("alice.x.{id}"), &x.expose_mpi());
                values.push(match flow {
                    Flow::Four => b64::encode(&commitment(mpi(&e))),
                    Flow::Three => b64::encode(mpi(&e)),
                });
                groups.push((*id, x, e));
            }
            let id_names: Vec<String> = ids.iter().map(u32::to_string).collect();
            let id_refs: Vec<&str> = id_names.iter().map(String::as_str).collect();
            form.push(Field::offer("modp", FieldType::ListSingle, &id_refs));
            let names = |v: Vec<&'static str>| v;
            form.push(offer_field(
                "crypt_algs",
                &names(offered.crypt.iter().map(|c| c.name()).collect()),
            ));
            form.push(offer_field(
                "hash_algs",
                &names(offered.hash.iter().map(|h| h.name()).collect()),
            ));
            // Profile P8: sign_algs only when a key may be used; our own key's algorithm
            // first.
            let keys_possible = offered
                .init_pubkey
                .iter()
                .chain(&offered.resp_pubkey)
                .any(|m| *m != PubkeyMode::None);
            if keys_possible {
                let own = own_key
                    .filter(|_| offered.init_pubkey.iter().any(|m| *m != PubkeyMode::None))
                    .map(IdentityKey::sign_alg);
                let mut algs: Vec<SignAlg> = own.into_iter().collect();
                algs.extend(
                    [SignAlg::RsaSha256, SignAlg::DsaSha256]
                        .into_iter()
                        .filter(|a| Some(*a) != own),
                );
                offered.sign = algs.iter().map(|a| a.uri().to_owned()).collect();
                let refs: Vec<&str> = offered.sign.iter().map(String::as_str).collect();
                form.push(offer_field("sign_algs", &refs));
            }
            form.push(offer_field(
                "compress",
                &names(offered.compress.iter().map(|c| c.name()).collect()),
            ));
            let stanzas: Vec<&str> = config.stanzas.iter().map(|s| s.name()).collect();
            form.push(Field::offer("stanzas", FieldType::ListMulti, &stanzas));
            form.push(offer_field(
                "init_pubkey",
                &names(offered.init_pubkey.iter().map(|m| m.name()).collect()),
            ));
            form.push(offer_field(
                "resp_pubkey",
                &names(offered.resp_pubkey.iter().map(|m| m.name()).collect()),
            ));
            form.push(Field::offer(
                "ver",
                FieldType::ListSingle,
                &[fields::VER_OFFER],
            ));
            let rekey = config.rekey_freq.to_string();
            form.push(Field::new("rekey_freq", Some(FieldType::Hidden), &[&rekey]));
            form.push(Field::new(
                "my_nonce",
                Some(FieldType::Hidden),
                &[&b64::encode(&n_a)],
            ));
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            match flow {
                Flow::Four => {
                    // Profile P15: sas28x5-commit first, sas28x5 second (one value: the
                    // XEP-0217 hidden fixed form).
                    form.push(offer_field(
                        "sas_algs",
                        &names(offered.sas.iter().map(|a| a.name()).collect()),
                    ));
                    form.push(Field::new("dhhashes", Some(FieldType::Hidden), &refs));
                }
                // XEP-0116 §4.3: no sas_algs and no dhhashes in the 3-message flow.
                Flow::Three => form.push(Field::new("dhkeys", Some(FieldType::Hidden), &refs)),
            }
        }
        let x = form.to_element();
        let offer = Offer {
            groups,
            n_a,
            form_a: dialect.form(&x),
            logging: offered_logging,
            security: config.security.clone(),
            stanzas: config.stanzas.clone(),
            offered,
            dialect,
        };
        Ok((offer, x))
    }

    /// Handles message 2 (XEP-0116 §4.6): checks every choice against the offer, then
    /// builds message 3 with Alice's identity (after verifying Bob's in the 3-message flow).
    pub(crate) fn handle_response(self, x: &Element, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
        let form = fields::ssn_form(x, FormType::Submit)?;
        let accept = fields::single(&form, "accept")?;
        match fields::boolean(accept) {
            Some(true) => {}
            Some(false) => return Ok(Response::Declined(form.value("reason").map(str::to_owned))),
            None => {
                return Err(PeerMisbehaved::BadValue {
                    field: "accept".into(),
                    value: accept.into(),
                }
                .into())
            }
        }
        let terms = self.check_terms(&form)?;
        if terms.security != Security::E2e {
            // XEP-0155 §4.4 [4] complete: a plain stanza session.
            let mut complete = Form::with_form_type(FormType::Result, ns::SSN);
            complete.push(Field::new("accept", None, &["1"]));
            return Ok(Response::Plain {
                terms,
                complete: complete.to_element(),
            });
        }
        self.identity(terms, &form, x, ctx)
    }

    pub(super) fn check_terms(&self, form: &Form) -> Result<Terms, PeerMisbehaved> {
        let security = fields::single(form, "security")?;
        let offered: Vec<&str> = self.security.iter().map(|s| s.name()).collect();
        fields::offered_check("security", security, &offered)?;
        let security = Security::from_name(security).unwrap_or(Security::E2e);
        let vocab = LoggingVocab::LoggingMay;
        let logging_word = fields::single(form, vocab.field())?;
        let logging = vocab
            .parse(logging_word)
            .filter(|l| self.logging.contains(l))
            .ok_or_else(|| PeerMisbehaved::UnofferedOption {
                field: "logging".into(),
                value: logging_word.into(),
            })?;
        fields::offered_check(
            "disclosure",
            fields::single(form, "disclosure")?,
            &[fields::DISCLOSURE],
        )?;
        let mut terms = Terms::new(security, logging, vocab);
        terms.dialect = self.dialect;
        if security != Security::E2e {
            return Ok(terms);
        }
        let o = &self.offered;
        terms.flow = o.flow;
        let modp = fields::single(form, "modp")?;
        let group = self
            .groups
            .iter()
            .map(|(id, _, _)| *id)
            .find(|id| id.to_string() == modp)
            .ok_or_else(|| PeerMisbehaved::UnofferedOption {
                field: "modp".into(),
                value: modp.into(),
            })?;
        terms.group = Some(group);
        terms.crypt = chosen(form, "crypt_algs", CipherAlg::from_name, &o.crypt)?;
        terms.hash = chosen(form, "hash_algs", HashAlg::from_name, &o.hash)?;
        terms.compress = chosen(form, "compress", CompressAlg::from_name, &o.compress)?;
        terms.init_pubkey = chosen(form, "init_pubkey", PubkeyMode::from_name, &o.init_pubkey)?;
        terms.resp_pubkey = chosen(form, "resp_pubkey", PubkeyMode::from_name, &o.resp_pubkey)?;
        // Profile P8: one sign_algs value, required as soon as either side uses a key.
        if form.field("sign_algs").is_some() || !o.sign.is_empty() {
            let keys_used =
                terms.init_pubkey != PubkeyMode::None || terms.resp_pubkey != PubkeyMode::None;
            match form.field("sign_algs") {
                Some(_) => {
                    let uri = fields::single(form, "sign_algs")?;
                    let offered: Vec<&str> = o.sign.iter().map(String::as_str).collect();
                    fields::offered_check("sign_algs", uri, &offered)?;
                    terms.sign = Some((uri.to_owned(), SignAlg::from_uri(uri)));
                }
                None if keys_used => return Err(PeerMisbehaved::MissingField("sign_algs".into())),
                None => {}
            }
        }
        if o.flow == Flow::Four {
            // Profile P15: a message 2 without sas_algs means sas28x5; a value we did not
            // offer (sas28x5 included, when we offered only the committed SAS) is refused.
            terms.sas = Some(match form.field("sas_algs") {
                Some(_) => chosen(form, "sas_algs", SasAlg::from_name, &o.sas)?,
                None if o.sas.contains(&SasAlg::Classic) => SasAlg::Classic,
                None => {
                    return Err(PeerMisbehaved::UnofferedOption {
                        field: "sas_algs".into(),
                        value: SasAlg::Classic.name().into(),
                    })
                }
            });
        }
        fields::offered_check("ver", fields::single(form, "ver")?, &[fields::VER_OFFER])?;
        let field = form
            .field("stanzas")
            .ok_or_else(|| PeerMisbehaved::MissingField("stanzas".into()))?;
        if field.values.is_empty() {
            return Err(PeerMisbehaved::MissingField("stanzas".into()));
        }
        for v in &field.values {
            let kind = StanzaKind::from_name(v).filter(|k| self.stanzas.contains(k));
            let kind = kind.ok_or_else(|| PeerMisbehaved::UnofferedOption {
                field: "stanzas".into(),
                value: v.clone(),
            })?;
            terms.stanzas.push(kind);
        }
        // XEP-0116 §4.5.2: Bob's rekey_freq >= ours and < 2^32.
        let rekey = fields::single(form, "rekey_freq")?;
        terms.rekey_freq = rekey
            .parse::<u32>()
            .ok()
            .filter(|r| *r >= o.rekey_freq)
            .ok_or_else(|| PeerMisbehaved::BadValue {
                field: "rekey_freq".into(),
                value: rekey.into(),
            })?;
        Ok(terms)
    }

    fn identity(
        self,
        terms: Terms,
        form: &Form,
        x: &Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<Response, Error> {
        let (hash, cipher, dialect) = (
            terms.hash,
            terms.dialect.key_cipher(terms.crypt),
            terms.dialect,
        );
        let group_id = terms.group.unwrap_or_default();
        let group = ModpGroup::get(group_id).map_err(PeerMisbehaved::Crypto)?;
        let n_b = fields::nonce(form, "my_nonce")?;
        if !ct_eq(&fields::single_b64(form, "nonce")?, &self.n_a) {
            return Err(PeerMisbehaved::NonceMismatch.into());
        }
        let counter = fields::single_b64(form, "counter")?;
        let c_a = u128_from_be(&counter).map_err(|_| PeerMisbehaved::BadValue {
            field: "counter".into(),
            value: format!("{} octets", counter.len()),
        })?;
        let d = fields::single_b64(form, "dhkeys")?;
        // Profile P6 / XEP-0116 §4.6.1: 1 < d < p-1, else not-acceptable.
        group
            .check_public(&d)
            .map_err(|_| PeerMisbehaved::PublicValueOutOfRange("dhkeys".into()))?;
        let d = mpi(&d).to_vec();
        let index = self
            .groups
            .iter()
            .position(|(id, _, _)| *id == group_id)
            .ok_or_else(|| PeerMisbehaved::UnofferedOption {
                field: "modp".into(),
                value: group_id.to_string(),
            })?;
        let mut groups = self.groups;
        let (_, x_secret, e) = groups.swap_remove(index);
        let shared = group
            .shared_secret(&x_secret, &d)
            .map_err(PeerMisbehaved::Crypto)?;
        let k = negotiation_k(hash, shared.expose());
        let keys = session_keys(hash, cipher, k.expose());
        let form_b = dialect.form(x);
        let own = OwnIdentity {
            mode: terms.init_pubkey,
            key: ctx.identity,
            sign: terms.sign_alg(),
        };
        let mut c_a_run = c_a;
        let mut c_b_run = responder_counter(c_a);

        // 3-message flow (XEP-0116 §4.6.2, profile P12): verify Bob's identity first.
        let bob = if terms.flow == Flow::Three {
            let known = known_keys(ctx, terms.resp_pubkey)?;
            let peer = PeerIdentity {
                mode: terms.resp_pubkey,
                sign: terms.sign_alg(),
                known: &known,
            };
            let id = fields::single_b64(form, "identity")?;
            let m = fields::single_b64(form, "mac")?;
            // mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B).
            let (proof, key) = open_identity(
                &IdentityKeys::responder(hash, cipher, &keys).in_dialect(dialect),
                &mut c_b_run,
                &id,
                &m,
                &peer,
                &MacInput {
                    prefix: [&self.n_a, &n_b, &d],
                    forms: &[form_b.as_bytes()],
                },
            )?;
            Some((proof, key))
        } else {
            None
        };

        let mut msg3 = Form::with_untyped_form_type(FormType::Result, ns::SSN);
        msg3.push(Field::new("accept", None, &["1"]));
        msg3.push(Field::new("nonce", None, &[&b64::encode(&n_b)]));
        let mut candidates = Vec::new();
        if terms.flow == Flow::Four {
            // XEP-0116 §4.6.4 / P7: hashes of the secrets shared with Bob's bare JID.
            let stored = ctx
                .store
                .secrets_with(ctx.own_bare, ctx.peer_bare.as_str())?;
            candidates = retained::live(stored, ctx.now, ctx.config.retained_secret_lifetime);
            let rshashes = retained::rshashes(hash, &self.n_a, &candidates, ctx.rng);
            msg3.push(Field::new(
                "dhkeys",
                Some(FieldType::Hidden),
                &[&b64::encode(&e)],
            ));
            let refs: Vec<&str> = rshashes.iter().map(String::as_str).collect();
            msg3.push(Field::new("rshashes", Some(FieldType::Hidden), &refs));
        }
        let form_a2 = dialect.form(&msg3.to_element());
        // XEP-0116 §4.6.3: mac_A = HMAC(KS_A, N_B | N_A | e | pubKey_A | form_A | form_A2).
        let sealed = seal_identity(
            &IdentityKeys::initiator(hash, cipher, &keys).in_dialect(dialect),
            &mut c_a_run,
            &own,
            &MacInput {
                prefix: [&n_b, &self.n_a, mpi(&e)],
                forms: &[self.form_a.as_bytes(), form_a2.as_bytes()],
            },
        )?;
        msg3.push(Field::new("identity", None, &[&b64::encode(&sealed.id)]));
        msg3.push(Field::new("mac", None, &[&b64::encode(&sealed.m)]));
        if let Some((proof, key)) = bob {
            // Profile P12: established once Bob verified and message 3 is sent.
            let key = peer_key_status(ctx, key)?;
            let channel = Channel::new(
                proof,
                &terms,
                Direction::new(keys.initiator, c_a_run),
                Direction::new(keys.responder, c_b_run),
                RekeyBase {
                    group,
                    own: x_secret,
                    peer_public: d,
                },
            );
            let established = Established {
                channel,
                terms,
                sas: None,
                srs: SrsStatus::None,
                verified: false,
                secret_id: None,
                peer_key: key.info,
                key_missing: key.missing,
            };
            return Ok(Response::Established {
                established: Box::new(established),
                msg3: msg3.to_element(),
            });
        }
        let sas = match terms.sas {
            // Profile P15: from e, d and the two my_nonce values only.
            Some(SasAlg::Committed) => sas28x5_commit(hash, &e, &d, &self.n_a, &n_b),
            // Profile P5.
            Some(SasAlg::Classic) | None => sas28x5(hash, &sealed.m, form_b.as_bytes()),
        };
        let next = AwaitingInit {
            terms,
            group,
            x: x_secret,
            hash,
            cipher,
            k,
            d,
            n_a: self.n_a,
            n_b,
            c_a: c_a_run,
            c_b: c_b_run,
            form_b,
            candidates,
            sas,
        };
        Ok(Response::Identity {
            next: Box::new(next),
            msg3: msg3.to_element(),
        })
    }
}

impl AwaitingInit {
    /// Whether this negotiation is with Gajim and its C_A trips Gajim's bug B1 (issue 13):
    /// message 4 will never come.
    pub(crate) fn gajim_b1(&self) -> bool {
        self.terms.dialect == Dialect::Gajim && crate::compat::gajim::counter_trips_b1(self.c_a)
    }

    /// Handles message 4 (XEP-0116 §4.8): finds the SRS, derives the final keys,
    /// verifies Bob's identity, then (only then, P7) stores the new retained secret.
    pub(crate) fn handle_init(self, x: &Element, ctx: &mut Ctx<'_>) -> Result<Established, Error> {
        let form = fields::ssn_form(x, FormType::Result)?;
        if !ct_eq(&fields::single_b64(&form, "nonce")?, &self.n_a) {
            return Err(PeerMisbehaved::NonceMismatch.into());
        }
        let srshash = fields::single_b64(&form, "srshash")?;
        let id = fields::single_b64(&form, "identity")?;
        let m = fields::single_b64(&form, "mac")?;
        let srs = retained::find_by_srshash(self.hash, &self.candidates, &srshash);
        // XEP-0116 §4.8.1: K' = HASH(K | SRS | OSS).
        let k_final = final_k(
            self.hash,
            self.k.expose(),
            srs.as_ref().map(|s| s.secret.as_slice()),
            ctx.oss,
        );
        let fin = session_keys(self.hash, self.cipher, k_final.expose());
        let dialect = self.terms.dialect;
        let form_b2 = dialect.form(x);
        let mut c_b = self.c_b;
        let known = known_keys(ctx, self.terms.resp_pubkey)?;
        let peer = PeerIdentity {
            mode: self.terms.resp_pubkey,
            sign: self.terms.sign_alg(),
            known: &known,
        };
        // XEP-0116 §4.7.1: mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B | form_B2).
        let (proof, key) = open_identity(
            &IdentityKeys::responder(self.hash, self.cipher, &fin).in_dialect(dialect),
            &mut c_b,
            &id,
            &m,
            &peer,
            &MacInput {
                prefix: [&self.n_a, &self.n_b, &self.d],
                forms: &[self.form_b.as_bytes(), form_b2.as_bytes()],
            },
        )?;
        let key = peer_key_status(ctx, key)?;
        // Profile P7: the initiator stores the new secret only after message 4 verified.
        let (secret_id, verified) =
            retain_new_secret(ctx, self.hash, k_final.expose(), srs.as_ref())?;
        let channel = Channel::new(
            proof,
            &self.terms,
            Direction::new(fin.initiator, self.c_a),
            Direction::new(fin.responder, c_b),
            RekeyBase {
                group: self.group,
                own: self.x,
                peer_public: self.d,
            },
        );
        Ok(Established {
            channel,
            terms: self.terms,
            sas: Some(self.sas),
            srs: srs_status(
                srs.as_ref(),
                !self.candidates.is_empty(),
                ctx.peer_bare.as_str(),
            ),
            verified,
            secret_id: Some(secret_id),
            peer_key: key.info,
            key_missing: key.missing,
        })
    }
}
