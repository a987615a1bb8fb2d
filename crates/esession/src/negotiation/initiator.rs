//! The initiator's side (Alice) of the 4-message negotiation: XEP-0116 §4.3, §4.6, §4.8
//! as profiled by XEP-0217 and profile P1–P7.
use super::context::Ctx;
use super::established::{retain_new_secret, srs_status, Established};
use super::failure::Failure;
use super::fields::{self, LoggingVocab, NOT_MACED};
use super::identity::{open_identity, seal_identity, IdentityKeys};
use super::retained;
use super::terms::Terms;
use crate::b64;
use crate::channel::{Channel, Direction, RekeyBase};
use crate::config::{Config, Logging, Security, StanzaKind};
use crate::crypto::pool::take_or_compute;
use crate::crypto::DhPool;
use crate::crypto::{
    commitment, ct_eq, draw_nonce, final_k, mpi, negotiation_k, responder_counter, sas28x5,
    session_keys, u128_from_be, CipherAlg, DhSecret, HashAlg, ModpGroup, SecretBytes,
};
use crate::error::Violation;
use crate::forms::{Field, FieldType, Form, FormType};
use crate::jid;
use crate::random::Random;
use crate::store::RetainedSecret;
use crate::transcript;
use crate::xml::{normalize_form_content, ns, Element};

/// Message 1 sent; waiting for Bob's response.
pub(crate) struct Offer {
    groups: Vec<(u32, DhSecret, Vec<u8>)>,
    n_a: [u8; 32],
    form_a: String,
    logging: Vec<Logging>,
    security: Vec<Security>,
    stanzas: Vec<StanzaKind>,
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
}

/// Message 3 sent; waiting for message 4.
pub(crate) struct AwaitingInit {
    terms: Terms,
    group: u32,
    hash: HashAlg,
    cipher: CipherAlg,
    k: SecretBytes,
    /// Our secret x of the chosen group, kept for re-keying (XEP-0200 §4).
    x: DhSecret,
    d: Vec<u8>,
    n_a: [u8; 32],
    n_b: Vec<u8>,
    c_a: u128,
    c_b: u128,
    form_b: String,
    candidates: Vec<RetainedSecret>,
    pub(crate) sas: String,
}

impl Offer {
    /// Builds message 1's form (XEP-0116 §4.3 with the XEP-0217 §4.1 fixed fields).
    pub(crate) fn new(
        config: &Config,
        rng: &mut dyn Random,
        pool: Option<&DhPool>,
    ) -> Result<(Offer, Element), Violation> {
        let mut form = Form::with_form_type(FormType::Form, ns::SSN);
        form.push(Field::new("accept", Some(FieldType::Boolean), &["1"]).required());
        let vocab = LoggingVocab::LoggingMay;
        let logging: Vec<&str> = config.logging.iter().map(|l| vocab.word(*l)).collect();
        form.push(Field::offer("logging", FieldType::ListSingle, &logging).required());
        form.push(
            Field::offer("disclosure", FieldType::ListSingle, &[fields::DISCLOSURE]).required(),
        );
        let security: Vec<&str> = config.security.iter().map(|s| s.name()).collect();
        form.push(Field::offer("security", FieldType::ListSingle, &security).required());
        let n_a = draw_nonce(rng);
        transcript::record("alice.nonce", &n_a);
        let mut groups = Vec::new();
        if config.security.contains(&Security::E2e) {
            let ids: Vec<u32> = config
                .groups
                .iter()
                .copied()
                .filter(|g| config.group_allowed(*g))
                .collect();
            if ids.is_empty() {
                return Err(Violation::NoAcceptableOption(vec!["modp".into()]));
            }
            let mut hashes = Vec::new();
            for id in &ids {
                let group = ModpGroup::get(*id)?;
                // XEP-0116 §4.3: x_i per group, e_i = g^x_i mod p, He_i = SHA256(e_i).
                // Precomputed when the engine has a pool.
                let (x, e) = take_or_compute(pool, group, rng);
                transcript::record(&format!("alice.x.{id}"), &x.expose_mpi());
                hashes.push(b64::encode(&commitment(mpi(&e))));
                groups.push((*id, x, e));
            }
            let id_names: Vec<String> = ids.iter().map(u32::to_string).collect();
            let id_refs: Vec<&str> = id_names.iter().map(String::as_str).collect();
            form.push(Field::offer("modp", FieldType::ListSingle, &id_refs));
            form.push(Field::new(
                "crypt_algs",
                Some(FieldType::Hidden),
                &[fields::CRYPT],
            ));
            form.push(Field::new(
                "hash_algs",
                Some(FieldType::Hidden),
                &[fields::HASH],
            ));
            form.push(Field::new(
                "compress",
                Some(FieldType::Hidden),
                &[fields::COMPRESS],
            ));
            let stanzas: Vec<&str> = config.stanzas.iter().map(|s| s.name()).collect();
            form.push(Field::offer("stanzas", FieldType::ListMulti, &stanzas));
            form.push(Field::new(
                "init_pubkey",
                Some(FieldType::Hidden),
                &[fields::PUBKEY],
            ));
            form.push(Field::new(
                "resp_pubkey",
                Some(FieldType::Hidden),
                &[fields::PUBKEY],
            ));
            form.push(Field::offer(
                "ver",
                FieldType::ListSingle,
                &[fields::VER_OFFER],
            ));
            let rekey = config.rekey_freq.max(1).to_string();
            form.push(Field::new("rekey_freq", Some(FieldType::Hidden), &[&rekey]));
            form.push(Field::new(
                "my_nonce",
                Some(FieldType::Hidden),
                &[&b64::encode(&n_a)],
            ));
            form.push(Field::new(
                "sas_algs",
                Some(FieldType::Hidden),
                &[fields::SAS],
            ));
            let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
            form.push(Field::new("dhhashes", Some(FieldType::Hidden), &refs));
        }
        let x = form.to_element();
        let offer = Offer {
            groups,
            n_a,
            form_a: normalize_form_content(&x, &NOT_MACED),
            logging: config.logging.clone(),
            security: config.security.clone(),
            stanzas: config.stanzas.clone(),
            rekey_freq: config.rekey_freq.max(1),
        };
        Ok((offer, x))
    }

    /// Handles message 2 (XEP-0116 §4.6): checks every choice against the offer, then
    /// builds message 3 with Alice's identity.
    pub(crate) fn handle_response(
        self,
        x: &Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<Response, Failure> {
        let form = fields::ssn_form(x, FormType::Submit)?;
        let accept = fields::single(&form, "accept")?;
        match fields::boolean(accept) {
            Some(true) => {}
            Some(false) => return Ok(Response::Declined(form.value("reason").map(str::to_owned))),
            None => {
                return Err(Violation::BadValue {
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

    fn check_terms(&self, form: &Form) -> Result<Terms, Failure> {
        let security = fields::single(form, "security")?;
        let offered: Vec<&str> = self.security.iter().map(|s| s.name()).collect();
        fields::offered_check("security", security, &offered)?;
        let security = Security::from_name(security).unwrap_or(Security::E2e);
        let vocab = LoggingVocab::LoggingMay;
        let logging_word = fields::single(form, vocab.field())?;
        let logging = vocab
            .parse(logging_word)
            .filter(|l| self.logging.contains(l))
            .ok_or_else(|| Violation::UnofferedOption {
                field: "logging".into(),
                value: logging_word.into(),
            })?;
        fields::offered_check(
            "disclosure",
            fields::single(form, "disclosure")?,
            &[fields::DISCLOSURE],
        )?;
        let mut terms = Terms::new(security, logging, vocab);
        if security != Security::E2e {
            return Ok(terms);
        }
        let modp = fields::single(form, "modp")?;
        let group = self
            .groups
            .iter()
            .map(|(id, _, _)| *id)
            .find(|id| id.to_string() == modp)
            .ok_or_else(|| Violation::UnofferedOption {
                field: "modp".into(),
                value: modp.into(),
            })?;
        terms.group = Some(group);
        for (var, value) in [
            ("crypt_algs", fields::CRYPT),
            ("hash_algs", fields::HASH),
            ("compress", fields::COMPRESS),
            ("init_pubkey", fields::PUBKEY),
            ("resp_pubkey", fields::PUBKEY),
            ("sas_algs", fields::SAS),
            ("ver", fields::VER_OFFER),
        ] {
            fields::offered_check(var, fields::single(form, var)?, &[value])?;
        }
        let field = form
            .field("stanzas")
            .ok_or_else(|| Violation::MissingField("stanzas".into()))?;
        if field.values.is_empty() {
            return Err(Violation::MissingField("stanzas".into()).into());
        }
        for v in &field.values {
            let kind = StanzaKind::from_name(v).filter(|k| self.stanzas.contains(k));
            let kind = kind.ok_or_else(|| Violation::UnofferedOption {
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
            .filter(|r| *r >= self.rekey_freq)
            .ok_or_else(|| Violation::BadValue {
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
    ) -> Result<Response, Failure> {
        let (hash, cipher) = (HashAlg::Sha256, CipherAlg::Aes128Ctr);
        let group_id = terms.group.unwrap_or_default();
        let group = ModpGroup::get(group_id).map_err(|e| Failure::bad_form(e.into()))?;
        let n_b = fields::nonce(form, "my_nonce")?;
        if !ct_eq(&fields::single_b64(form, "nonce")?, &self.n_a) {
            return Err(Violation::NonceMismatch.into());
        }
        let counter = fields::single_b64(form, "counter")?;
        let c_a = u128_from_be(&counter).map_err(|_| Violation::BadValue {
            field: "counter".into(),
            value: format!("{} octets", counter.len()),
        })?;
        let d = fields::single_b64(form, "dhkeys")?;
        // Profile P6 / XEP-0116 §4.6.1: 1 < d < p-1, else not-acceptable.
        group
            .check_public(&d)
            .map_err(|_| Violation::PublicValueOutOfRange("dhkeys".into()))?;
        let d = mpi(&d).to_vec();
        let mut groups = self.groups;
        let chosen = groups
            .iter()
            .position(|(id, _, _)| *id == group_id)
            .ok_or_else(|| Violation::UnofferedOption {
                field: "modp".into(),
                value: group_id.to_string(),
            })?;
        let (_, x_secret, e) = groups.swap_remove(chosen);
        let shared = group
            .shared_secret(&x_secret, &d)
            .map_err(|e| Failure::bad_form(e.into()))?;
        let k = negotiation_k(hash, shared.expose());
        let provisory = session_keys(hash, cipher, k.expose());
        let form_b = normalize_form_content(x, &NOT_MACED);

        // XEP-0116 §4.6.4 / P7: hashes of the secrets shared with Bob's bare JID.
        let stored = ctx
            .store
            .secrets_with(ctx.own_bare, jid::bare(ctx.peer))
            .map_err(|e| Failure::silent(e.into()))?;
        let candidates = retained::live(stored, ctx.now, ctx.config.retained_secret_lifetime);
        let rshashes = retained::rshashes(hash, &self.n_a, &candidates, ctx.rng);

        let mut msg3 = Form::with_form_type(FormType::Result, ns::SSN);
        msg3.fields[0].kind = None;
        msg3.push(Field::new("accept", None, &["1"]));
        msg3.push(Field::new("nonce", None, &[&b64::encode(&n_b)]));
        msg3.push(Field::new(
            "dhkeys",
            Some(FieldType::Hidden),
            &[&b64::encode(&e)],
        ));
        let refs: Vec<&str> = rshashes.iter().map(String::as_str).collect();
        msg3.push(Field::new("rshashes", Some(FieldType::Hidden), &refs));
        let form_a2 = normalize_form_content(&msg3.to_element(), &NOT_MACED);
        let mut c_a_run = c_a;
        let keys = IdentityKeys::initiator(hash, cipher, &provisory);
        // XEP-0116 §4.6.3: mac_A = HMAC(KS_A, N_B | N_A | e | form_A | form_A2).
        let sealed = seal_identity(
            &keys,
            &mut c_a_run,
            &[
                &n_b,
                &self.n_a,
                mpi(&e),
                self.form_a.as_bytes(),
                form_a2.as_bytes(),
            ],
        )?;
        msg3.push(Field::new("identity", None, &[&b64::encode(&sealed.id)]));
        msg3.push(Field::new("mac", None, &[&b64::encode(&sealed.m)]));
        let sas = sas28x5(hash, &sealed.m, form_b.as_bytes());
        let next = AwaitingInit {
            terms,
            group: group_id,
            hash,
            cipher,
            k,
            x: x_secret,
            d,
            n_a: self.n_a,
            n_b,
            c_a: c_a_run,
            c_b: responder_counter(c_a),
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
    /// The negotiated MODP group.
    pub(crate) fn group(&self) -> u32 {
        self.group
    }

    /// Handles message 4 (XEP-0116 §4.8): finds the SRS, derives the final keys,
    /// verifies Bob's identity, then (only then, P7) stores the new retained secret.
    pub(crate) fn handle_init(
        self,
        x: &Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<Established, Failure> {
        let form = fields::ssn_form(x, FormType::Result)?;
        if !ct_eq(&fields::single_b64(&form, "nonce")?, &self.n_a) {
            return Err(Violation::NonceMismatch.into());
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
        let form_b2 = normalize_form_content(x, &NOT_MACED);
        let mut c_b = self.c_b;
        let keys = IdentityKeys::responder(self.hash, self.cipher, &fin);
        // XEP-0116 §4.7.1: mac_B = HMAC(KS_B, N_A | N_B | d | form_B | form_B2).
        let proof = open_identity(
            &keys,
            &mut c_b,
            &id,
            &m,
            &[
                &self.n_a,
                &self.n_b,
                &self.d,
                self.form_b.as_bytes(),
                form_b2.as_bytes(),
            ],
        )
        .map_err(Failure::identity)?;
        // Profile P7: the initiator stores the new secret only after message 4 verified.
        let (secret_id, verified) =
            retain_new_secret(ctx, self.hash, k_final.expose(), srs.as_ref())?;
        let channel = Channel::new(
            proof,
            self.hash,
            self.cipher,
            Direction::new(fin.initiator, self.c_a),
            Direction::new(fin.responder, c_b),
            self.terms.rekey_freq,
        )
        .with_rekey(RekeyBase {
            group: ModpGroup::get(self.group).map_err(|e| Failure::bad_form(e.into()))?,
            own: self.x,
            peer_public: self.d,
        });
        Ok(Established {
            channel,
            terms: self.terms,
            sas: self.sas,
            srs: srs_status(srs.is_some(), !self.candidates.is_empty()),
            verified,
            secret_id,
        })
    }
}
