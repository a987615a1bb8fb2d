//! The responder's side (Bob) of the negotiation: XEP-0116 §4.5, §4.7 in the 4-message
//! flow (profile P1–P8) and the 3-message flow (profile P12).
use super::context::Ctx;
use super::established::{known_keys, peer_key_status, retain_new_secret, srs_status, Established};
use super::fields;
use super::identity::{
    open_identity, seal_identity, IdentityKeys, MacInput, OwnIdentity, PeerIdentity, PeerVerified,
};
use super::retained;
use super::terms::{Accepted, Request, Terms};
use crate::b64;
use crate::channel::{Channel, Direction, RekeyBase};
use crate::config::{Flow, Security};
use crate::crypto::pool::take_or_compute;
use crate::crypto::pubkey::PublicKey;
use crate::crypto::{
    commitment, ct_eq, draw_counter, draw_nonce, final_k, mpi, negotiation_k, responder_counter,
    sas28x5, sas28x5_commit, session_keys, srshash, CipherAlg, DhSecret, HashAlg, ModpGroup,
    SasAlg, SessionKeys,
};
use crate::error::{Error, PeerMisbehaved, Rejected};
use crate::event::SrsStatus;
use crate::forms::{Field, Form, FormType};
use crate::store::RetainedSecret;
use crate::transcript;
use crate::xml::{ns, Element};

/// Message 2 sent; waiting for message 3.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct AwaitingResult {
    terms: Terms,
    group: &'static ModpGroup,
    hash: HashAlg,
    cipher: CipherAlg,
    y: DhSecret,
    d: Vec<u8>,
    he: Vec<u8>,
    n_a: Vec<u8>,
    n_b: [u8; 32],
    c_a: u128,
    c_b: u128,
    form_a: String,
    form_b: String,
    /// 3-message flow: the keys from K, Alice's e, and C_B already advanced past ID_B.
    three: Option<(SessionKeys, Vec<u8>)>,
}

/// What Alice's message 3 led to.
pub(crate) enum Completed {
    /// 4-message flow: established; message 4 must be sent.
    WithInit(Box<Established>, Element),
    /// 3-message flow: established, nothing to send (profile P12).
    Done(Box<Established>),
}

/// A plain stanza session accepted (XEP-0116 §4.4 last paragraph): the submit form.
pub(crate) fn respond_plain(terms: &Terms) -> Element {
    let mut form = Form::with_untyped_form_type(FormType::Submit, ns::SSN);
    form.push(Field::new("accept", None, &["1"]));
    form.push(Field::new(
        terms.vocab.field(),
        None,
        &[terms.vocab.word(terms.logging)],
    ));
    form.push(Field::new("disclosure", None, &[fields::DISCLOSURE]));
    form.push(Field::new("security", None, &[terms.security.name()]));
    form.to_element()
}

/// The XEP-0155 §4.3 reject form (`accept` = 0, with an optional `reason`).
pub(crate) fn decline(reason: Option<&str>) -> Element {
    let mut form = Form::with_untyped_form_type(FormType::Submit, ns::SSN);
    form.push(Field::new("accept", None, &["0"]));
    if let Some(reason) = reason {
        form.push(Field::new("reason", None, &[reason]));
    }
    form.to_element()
}

impl AwaitingResult {
    /// Answers an accepted ESession request with message 2 (XEP-0116 §4.5.1–4.5.2).
    /// `form_a` is the P4 normalization of the request as received.
    pub(crate) fn respond(
        accepted: Accepted,
        form_a: String,
        ctx: &mut Ctx<'_>,
    ) -> Result<(Self, Element), Error> {
        Self::respond_to(accepted, form_a, ctx, Request::Online)
    }

    /// Bob's offline init form (XEP-0187 §3.3, profile P11 "Bob's message"): message 2 of
    /// the 3-message flow without `accept` and without pubkey fields, then the session's
    /// sending channel. `proof` is the verified `signs` of Alice's options.
    pub(crate) fn respond_offline(
        accepted: Accepted,
        proof: PeerVerified,
        ctx: &mut Ctx<'_>,
    ) -> Result<(Established, Element), Error> {
        let (state, x) = Self::respond_to(accepted, String::new(), ctx, Request::Offline)?;
        let (keys, e) = state.three.ok_or(PeerMisbehaved::UnsupportedFlow)?;
        // Profile P11 "Counters": Bob's first data stanza starts after ID_B's blocks; C_A is
        // never used (Alice never sends).
        let channel = Channel::new(
            proof,
            &state.terms,
            Direction::new(keys.responder, state.c_b),
            Direction::new(keys.initiator, state.c_a),
            RekeyBase {
                group: state.group,
                own: state.y,
                peer_public: e,
            },
        );
        let established = Established {
            channel,
            terms: state.terms,
            sas: None,
            srs: SrsStatus::None,
            verified: false,
            secret_id: None,
            peer_key: None,
            key_missing: false,
        };
        Ok((established, x))
    }

    fn respond_to(
        accepted: Accepted,
        form_a: String,
        ctx: &mut Ctx<'_>,
        request: Request,
    ) -> Result<(Self, Element), Error> {
        let online = request == Request::Online;
        let terms = accepted.terms;
        let group =
            ModpGroup::get(terms.group.unwrap_or_default()).map_err(PeerMisbehaved::Crypto)?;
        // Issue 13 D1: the keys of a Gajim-mode session are AES-256 keys.
        let (hash, cipher) = (terms.hash, terms.dialect.key_cipher(terms.crypt));
        let dialect = terms.dialect;
        let n_b = draw_nonce(ctx.rng);
        let c_a = draw_counter(ctx.rng);
        // XEP-0116 §4.5.1: y and d = g^y mod p, precomputed when the engine has a pool.
        let (y, d) = take_or_compute(ctx.pool, group, ctx.rng);
        transcript::record!("bob.nonce", &n_b);
        transcript::record!("bob.counter", &c_a.to_be_bytes());
        transcript::record!("bob.y", &y.expose_mpi());

        let mut form = Form::with_untyped_form_type(FormType::Submit, ns::SSN);
        let mut put = |var: &str, value: &str| form.push(Field::new(var, None, &[value]));
        // Profile P11: Bob's offline form has no accept and no pubkey fields.
        if online {
            put("accept", "1");
        }
        put(terms.vocab.field(), terms.vocab.word(terms.logging));
        put("disclosure", fields::DISCLOSURE);
        put("security", Security::E2e.name());
        put("modp", &group.id().to_string());
        put("crypt_algs", terms.crypt.name());
        put("hash_algs", terms.hash.name());
        if let Some((sign, _)) = &terms.sign {
            put("sign_algs", sign);
        }
        put("compress", terms.compress.name());
        let stanzas: Vec<&str> = terms.stanzas.iter().map(|s| s.name()).collect();
        form.push(Field::new("stanzas", None, &stanzas));
        let mut put = |var: &str, value: &str| form.push(Field::new(var, None, &[value]));
        if online {
            put("init_pubkey", terms.init_pubkey.name());
            put("resp_pubkey", terms.resp_pubkey.name());
        }
        put("ver", &terms.ver);
        put("rekey_freq", &terms.rekey_freq.to_string());
        put("my_nonce", &b64::encode(&n_b));
        // Profile P15: the SAS chosen from the offer (4-message flow only).
        if let Some(sas) = terms.sas {
            put("sas_algs", sas.name());
        }
        put("dhkeys", &b64::encode(&d));
        put("nonce", &b64::encode(&accepted.n_a));
        // Profile P2: the counter field carries the 16 octets of C_A.
        put("counter", &b64::encode(&c_a.to_be_bytes()));
        let form_b = dialect.form(&form.to_element());
        let mut c_b = responder_counter(c_a);
        let mut three = None;
        if terms.flow == Flow::Three {
            // XEP-0116 §4.5.3–4.5.4, profile P12: K = HASH(e^y mod p), all six keys, and
            // Bob's identity mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B).
            let shared = group
                .shared_secret(&y, &accepted.e)
                .map_err(PeerMisbehaved::Crypto)?;
            let k = negotiation_k(hash, shared.expose());
            let keys = session_keys(hash, cipher, k.expose());
            let own = OwnIdentity {
                mode: terms.resp_pubkey,
                key: ctx.identity,
                sign: terms.sign_alg(),
            };
            let sealed = seal_identity(
                &IdentityKeys::responder(hash, cipher, &keys).in_dialect(dialect),
                &mut c_b,
                &own,
                &MacInput {
                    prefix: [&accepted.n_a, &n_b, mpi(&d)],
                    forms: &[form_b.as_bytes()],
                },
            )?;
            form.push(Field::new("identity", None, &[&b64::encode(&sealed.id)]));
            form.push(Field::new("mac", None, &[&b64::encode(&sealed.m)]));
            three = Some((keys, accepted.e));
        }
        let x = form.to_element();
        let state = AwaitingResult {
            terms,
            group,
            hash,
            cipher,
            y,
            d,
            he: accepted.he,
            n_a: accepted.n_a,
            n_b,
            c_a,
            c_b,
            form_a,
            form_b,
            three,
        };
        Ok((state, x))
    }

    /// Handles message 3 (XEP-0116 §4.7): commitment, range, Alice's identity, the SRS
    /// search; builds message 4 and stores the new retained secret (P7: the responder
    /// replaces it when it sends message 4).
    pub(crate) fn handle_result(
        mut self,
        x: &Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<Completed, Error> {
        let form = fields::ssn_form(x, FormType::Result)?;
        // XEP-0155 §4.4 [5]: a result with accept = 0 cancels the session.
        let accept = fields::single(&form, "accept")?;
        if fields::boolean(accept) != Some(true) {
            return Err(Rejected::Cancelled.into());
        }
        if !ct_eq(&fields::single_b64(&form, "nonce")?, &self.n_b) {
            return Err(PeerMisbehaved::NonceMismatch.into());
        }
        if let Some((keys, e)) = self.three.take() {
            return self.complete_three(keys, e, &form, x, ctx);
        }
        let e_raw = fields::single_b64(&form, "dhkeys")?;
        let e = mpi(&e_raw).to_vec();
        // XEP-0116 §4.6.1: SHA256(e) must equal the committed He, and 1 < e < p-1.
        if !ct_eq(&commitment(&e), &self.he) {
            return Err(PeerMisbehaved::CommitmentMismatch.into());
        }
        if self.group.check_public(&e).is_err() {
            return Err(PeerMisbehaved::CommittedValueOutOfRange.into());
        }
        let rshashes = fields::multi_b64(&form, "rshashes")?;
        let shared = self
            .group
            .shared_secret(&self.y, &e)
            .map_err(PeerMisbehaved::Crypto)?;
        let k = negotiation_k(self.hash, shared.expose());
        let provisory = session_keys(self.hash, self.cipher, k.expose());
        let (proof, key, c_a, m_a) = self.open_alice(&provisory, &form, x, &e, ctx)?;
        let sas = match self.terms.sas {
            // Profile P15: from e, d and the two my_nonce values only.
            Some(SasAlg::Committed) => sas28x5_commit(self.hash, &e, &self.d, &self.n_a, &self.n_b),
            // Profile P5.
            Some(SasAlg::Classic) | None => sas28x5(self.hash, &m_a, self.form_b.as_bytes()),
        };

        // XEP-0116 §4.7.3 / P7: the initiator's bare JID first, then every other secret.
        let peer_bare = ctx.peer_bare.as_str();
        let life = ctx.config.retained_secret_lifetime;
        let stored = ctx.store.secrets_with(ctx.own_bare, peer_bare)?;
        let candidates = retained::live(stored, ctx.now, life);
        let mut srs = retained::find_by_rshash(self.hash, &self.n_a, &candidates, &rshashes);
        if srs.is_none() && ctx.config.extended_search {
            let all = ctx.store.all_secrets(ctx.own_bare)?;
            let others: Vec<RetainedSecret> = retained::live(all, ctx.now, life)
                .into_iter()
                .filter(|s| s.id.peer_bare != peer_bare)
                .collect();
            srs = retained::find_by_rshash(self.hash, &self.n_a, &others, &rshashes);
        }
        let k_final = final_k(
            self.hash,
            k.expose(),
            srs.as_ref().map(|s| s.secret.as_slice()),
            ctx.oss,
        );
        let fin = session_keys(self.hash, self.cipher, k_final.expose());
        // XEP-0116 §4.7.3: srshash, or a random value of the hash length.
        let srs_hash = match &srs {
            Some(s) => srshash(self.hash, &s.secret),
            None => {
                let mut r = vec![0u8; self.hash.output_len()];
                ctx.rng.fill(&mut r);
                transcript::record!("bob.srshash_random", &r);
                r
            }
        };
        let mut msg4 = Form::with_untyped_form_type(FormType::Result, ns::SSN);
        msg4.push(Field::new("nonce", None, &[&b64::encode(&self.n_a)]));
        msg4.push(Field::new("srshash", None, &[&b64::encode(&srs_hash)]));
        let dialect = self.terms.dialect;
        let form_b2 = dialect.form(&msg4.to_element());
        let mut c_b = self.c_b;
        let own = OwnIdentity {
            mode: self.terms.resp_pubkey,
            key: ctx.identity,
            sign: self.terms.sign_alg(),
        };
        // XEP-0116 §4.7.4: mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B | form_B2),
        // with the final keys.
        let sealed = seal_identity(
            &IdentityKeys::responder(self.hash, self.cipher, &fin).in_dialect(dialect),
            &mut c_b,
            &own,
            &MacInput {
                prefix: [&self.n_a, &self.n_b, mpi(&self.d)],
                forms: &[self.form_b.as_bytes(), form_b2.as_bytes()],
            },
        )?;
        msg4.push(Field::new("identity", None, &[&b64::encode(&sealed.id)]));
        msg4.push(Field::new("mac", None, &[&b64::encode(&sealed.m)]));

        // The peer's key is judged first: a key refused (revoked, or untrusted when trust is
        // required) fails the negotiation before anything is stored (found in review: the
        // retained secret was replaced first, so a refused impostor still overwrote it).
        let key = peer_key_status(ctx, key)?;
        // Profile P7: the responder replaces the secret when it sends message 4.
        let (secret_id, verified) =
            retain_new_secret(ctx, self.hash, k_final.expose(), srs.as_ref())?;
        let channel = Channel::new(
            proof,
            &self.terms,
            Direction::new(fin.responder, c_b),
            Direction::new(fin.initiator, c_a),
            RekeyBase {
                group: self.group,
                own: self.y,
                peer_public: e,
            },
        );
        let established = Established {
            channel,
            terms: self.terms,
            sas: Some(sas),
            srs: srs_status(srs.as_ref(), !candidates.is_empty(), ctx.peer_bare.as_str()),
            verified,
            secret_id: Some(secret_id),
            peer_key: key.info,
            key_missing: key.missing,
        };
        Ok(Completed::WithInit(
            Box::new(established),
            msg4.to_element(),
        ))
    }

    /// Verifies Alice's identity in message 3 (XEP-0116 §4.6.3, §4.7.1 step 1–4, profile
    /// P8): mac_A = HMAC(KS_A, N_B | N_A | e | pubKey_A | form_A | form_A2), under `keys`
    /// (provisory in the 4-message flow). Returns the proof, her key, C_A after ID_A and M_A.
    fn open_alice(
        &self,
        keys: &SessionKeys,
        form: &crate::forms::Form,
        x: &Element,
        e: &[u8],
        ctx: &Ctx<'_>,
    ) -> Result<(PeerVerified, Option<PublicKey>, u128, Vec<u8>), Error> {
        let id = fields::single_b64(form, "identity")?;
        let m_a = fields::single_b64(form, "mac")?;
        let dialect = self.terms.dialect;
        let form_a2 = dialect.form(x);
        let known = known_keys(ctx, self.terms.init_pubkey)?;
        let peer = PeerIdentity {
            mode: self.terms.init_pubkey,
            sign: self.terms.sign_alg(),
            known: &known,
        };
        let mut c_a = self.c_a;
        let (proof, key) = open_identity(
            &IdentityKeys::initiator(self.hash, self.cipher, keys).in_dialect(dialect),
            &mut c_a,
            &id,
            &m_a,
            &peer,
            &MacInput {
                prefix: [&self.n_b, &self.n_a, e],
                forms: &[self.form_a.as_bytes(), form_a2.as_bytes()],
            },
        )?;
        Ok((proof, key, c_a, m_a))
    }

    /// Message 3 of the 3-message flow (XEP-0116 §4.6.3, profile P12): Alice's identity
    /// under the keys of K; no retained secret, no SAS.
    fn complete_three(
        self,
        keys: SessionKeys,
        e: Vec<u8>,
        form: &crate::forms::Form,
        x: &Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<Completed, Error> {
        let (proof, key, c_a, _) = self.open_alice(&keys, form, x, &e, ctx)?;
        let key = peer_key_status(ctx, key)?;
        let channel = Channel::new(
            proof,
            &self.terms,
            Direction::new(keys.responder, self.c_b),
            Direction::new(keys.initiator, c_a),
            RekeyBase {
                group: self.group,
                own: self.y,
                peer_public: e,
            },
        );
        Ok(Completed::Done(Box::new(Established {
            channel,
            terms: self.terms,
            sas: None,
            srs: SrsStatus::None,
            verified: false,
            secret_id: None,
            peer_key: key.info,
            key_missing: key.missing,
        })))
    }
}
