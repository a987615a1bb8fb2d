//! A man in the middle grinds the SAS (profile P15 "Why"): Mallory completes a negotiation
//! with Alice as "Bob" (so he knows her SAS), then opens one with the real Bob as "Alice"
//! and, before sending message 3, varies one `rshashes` filler until the SAS Bob will
//! compute equals Alice's. Against the classic `sas28x5` (P5, over M_A, which covers
//! message 3) every filler gives a new SAS; against `sas28x5-commit` (P15, over e, d, N_A,
//! N_B, all fixed once Bob sent message 2) no filler moves it.
//!
//! Reduced harness: Mallory matches the last two SAS digits (28^2 = 784 values, about 784
//! attempts, well under a second in a debug build) within a budget of 16 × 784 attempts.
//! Matching all five digits is the same loop run until the 24-bit value matches: about
//! 2^24 attempts (21,400 times more), each a few hash compressions (message 3's HMAC, two
//! AES blocks, M_A's HMAC, the SAS hash): seconds on one core in a release build, while
//! Alice waits up to 60 s for message 4.
use super::mallory::*;
use crate::b64;
use crate::config::Config;
use crate::config::PubkeyMode;
use crate::crypto::pool::take_or_compute;
use crate::crypto::{
    commitment, mpi, negotiation_k, sas28x5, sas28x5_commit, session_keys, sha256, u128_from_be,
    CipherAlg, HashAlg, ModpGroup, SasAlg, SessionKeys,
};
use crate::engine::tests::full;
use crate::engine::tests::{established, ALICE, BOB, NOW};
use crate::engine::Engine;
use crate::event::SessionInfo;
use crate::forms::{Field, FieldType, Form, FormType};
use crate::negotiation::fields::NOT_MACED;
use crate::negotiation::identity::{seal_identity, IdentityKeys, MacInput, OwnIdentity};
use crate::negotiation::stanza::{negotiation_form, negotiation_message, Wrapper};
use crate::random::SeededRandom;
use crate::store::MemoryStore;
use crate::xml::{normalize_form_content, ns, Element};

/// SAS digits Mallory must match in this harness (of 5), and his number of attempts.
const DIGITS: usize = 2;
const BUDGET: u32 = 16 * 784;

fn config(sas: &[SasAlg]) -> Config {
    Config {
        groups: vec![14],
        sas: sas.to_vec(),
        ..Config::default()
    }
}

/// The last `DIGITS` digits of a SAS: what the reduced harness compares.
fn tail(sas: &str) -> &str {
    &sas[sas.len() - DIGITS..]
}

/// Mallory's half of a negotiation with the real Bob, message 2 received: everything his
/// message 3 depends on.
struct Forge {
    hash: HashAlg,
    cipher: CipherAlg,
    keys: SessionKeys,
    c_a: u128,
    n_a: Vec<u8>,
    n_b: Vec<u8>,
    e: Vec<u8>,
    d: Vec<u8>,
    form_a: String,
    form_b: String,
    sas: SasAlg,
    thread: String,
}

impl Forge {
    /// Message 3 (XEP-0116 §4.6.3, identity `none`) with `filler` as the first `rshashes`
    /// value (two fixed fillers follow: Mallory shares no retained secret with Bob, P7),
    /// and the SAS Bob will compute when he accepts it (P5 or P15, as Bob chose).
    fn message_3(&self, filler: &[u8]) -> (Element, String) {
        let mut msg3 = Form::with_form_type(FormType::Result, ns::SSN);
        msg3.fields[0].kind = None;
        msg3.push(Field::new("accept", None, &["1"]));
        msg3.push(Field::new("nonce", None, &[&b64::encode(&self.n_b)]));
        msg3.push(Field::new(
            "dhkeys",
            Some(FieldType::Hidden),
            &[&b64::encode(&self.e)],
        ));
        let fillers = [
            b64::encode(filler),
            b64::encode(&[0xa1; 32]),
            b64::encode(&[0xb2; 32]),
        ];
        let refs: Vec<&str> = fillers.iter().map(String::as_str).collect();
        msg3.push(Field::new("rshashes", Some(FieldType::Hidden), &refs));
        let form_a2 = normalize_form_content(&msg3.to_element(), &NOT_MACED);
        let sealed = seal_identity(
            &IdentityKeys::initiator(self.hash, self.cipher, &self.keys),
            &mut self.c_a.clone(),
            &OwnIdentity {
                mode: PubkeyMode::None,
                key: None,
                sign: None,
            },
            &MacInput {
                prefix: [&self.n_b, &self.n_a, &self.e],
                forms: &[self.form_a.as_bytes(), form_a2.as_bytes()],
            },
        )
        .unwrap();
        msg3.push(Field::new("identity", None, &[&b64::encode(&sealed.id)]));
        msg3.push(Field::new("mac", None, &[&b64::encode(&sealed.m)]));
        let sas = match self.sas {
            SasAlg::Classic => sas28x5(self.hash, &sealed.m, self.form_b.as_bytes()),
            SasAlg::Committed => sas28x5_commit(self.hash, &self.e, &self.d, &self.n_a, &self.n_b),
        };
        let mut s = negotiation_message(
            BOB,
            &self.thread,
            Wrapper::Feature,
            msg3.to_element(),
            false,
        );
        s.set_attr("from", ALICE);
        (s, sas)
    }
}

/// The attack up to the grind: Alice ↔ Mallory (as Bob, under `mallory_with_alice`)
/// established; Alice's message 1, with Mallory's own commitment in `dhhashes` and
/// rewritten by `offer`, delivered to the real Bob; Bob's message 2 read.
struct Setup {
    alice: SessionInfo,
    mallory_with_alice: SessionInfo,
    bob: Engine<MemoryStore>,
    forge: Forge,
}

fn setup(
    label: &str,
    mallory_with_alice: &[SasAlg],
    bob: &[SasAlg],
    offer: impl Fn(&mut Element),
) -> Setup {
    // Mallory's engine plays Bob towards Alice: an honest-looking responder.
    let mut m = Mallory::with(
        label,
        config(&SasAlg::ALL),
        config(mallory_with_alice),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let thread = m.start();
    let mut msg1 = None;
    m.run(|_, _, s| {
        if step(s) == Some(1) {
            msg1 = Some(s.clone());
        }
        Fate::Pass
    });
    let alice = established(&mut m.alice);
    let mallory_info = established(&mut m.bob);
    assert_eq!(alice.sas, mallory_info.sas, "Mallory knows Alice's SAS");

    // Towards Bob, Mallory commits to his own e (XEP-0116 §4.3: He = SHA256(e)).
    let group = ModpGroup::get(14).unwrap();
    let (x, e) = take_or_compute(
        None,
        group,
        &mut SeededRandom::from_label(&format!("{label}/x")),
    );
    let e = mpi(&e).to_vec();
    let mut msg1 = msg1.unwrap();
    set_values(&mut msg1, "dhhashes", &[&b64::encode(&commitment(&e))]);
    offer(&mut msg1);
    let form_a = normalize_form_content(negotiation_form(&msg1).unwrap().1, &NOT_MACED);
    let n_a = b64::decode("my_nonce", &values(&msg1, "my_nonce")[0]).unwrap();
    let mut bob_engine = Engine::new(
        full(BOB),
        config(bob),
        MemoryStore::new(),
        Box::new(SeededRandom::from_label(&format!("{label}/bob"))),
    );
    bob_engine.handle_stanza(msg1, NOW);
    let msg2 = bob_engine.poll_outgoing().unwrap();
    let x2 = negotiation_form(&msg2).unwrap().1;
    let form2 = Form::parse(x2).unwrap();
    let read = |var: &str| b64::decode(var, form2.value(var).unwrap()).unwrap();
    let d = mpi(&read("dhkeys")).to_vec();
    let hash = HashAlg::from_name(form2.value("hash_algs").unwrap()).unwrap();
    let cipher = CipherAlg::from_name(form2.value("crypt_algs").unwrap()).unwrap();
    let shared = group.shared_secret(&x, &d).unwrap();
    let k = negotiation_k(hash, shared.expose());
    let forge = Forge {
        hash,
        cipher,
        keys: session_keys(hash, cipher, k.expose()),
        c_a: u128_from_be(&read("counter")).unwrap(),
        n_a,
        n_b: read("my_nonce"),
        e,
        d,
        form_a,
        form_b: normalize_form_content(x2, &NOT_MACED),
        sas: SasAlg::from_name(form2.value("sas_algs").unwrap()).unwrap(),
        thread,
    };
    Setup {
        alice,
        mallory_with_alice: mallory_info,
        bob: bob_engine,
        forge,
    }
}

/// What the grind found: the attempt that matched (if any) with its message 3 and the SAS
/// Bob will compute, and how many different SAS values the attempts produced.
struct Grind {
    hit: Option<(u32, Element, String)>,
    distinct: usize,
}

/// Mallory's loop: message 3 with filler i = SHA-256("filler" | i), for i < BUDGET, until
/// the last DIGITS digits of Bob's SAS equal those of Alice's.
fn grind(forge: &Forge, alice_sas: &str) -> Grind {
    let mut seen = std::collections::HashSet::new();
    for i in 0..BUDGET {
        let filler = sha256(&[b"filler", &i.to_be_bytes()]);
        let (msg3, sas) = forge.message_3(&filler);
        seen.insert(sas.clone());
        if tail(&sas) == tail(alice_sas) {
            return Grind {
                hit: Some((i, msg3, sas)),
                distinct: seen.len(),
            };
        }
    }
    Grind {
        hit: None,
        distinct: seen.len(),
    }
}

/// Bob accepts Mallory's message 3: established, and he answers with message 4.
fn bob_accepts(bob: &mut Engine<MemoryStore>, msg3: Element) -> SessionInfo {
    bob.handle_stanza(msg3, NOW);
    let info = established(bob);
    let msg4 = bob.poll_outgoing().unwrap();
    assert_eq!(step(&msg4), Some(4));
    info
}

#[test]
fn mitm_grinds_the_classic_sas_with_an_rshashes_filler() {
    // Bob knows only sas28x5 (a peer without P15), and so does Mallory towards Alice.
    let mut s = setup(
        "grind/classic",
        &[SasAlg::Classic],
        &[SasAlg::Classic],
        |_| {},
    );
    let alice_sas = s.alice.sas.clone().unwrap();
    assert_eq!(s.forge.sas, SasAlg::Classic);
    let g = grind(&s.forge, &alice_sas);
    let (attempts, msg3, predicted) = g.hit.expect("the classic SAS is ground within budget");
    // Every filler gave (almost always) another SAS: the filler moves it.
    assert!(
        g.distinct as u32 * 10 >= (attempts + 1) * 9,
        "{} distinct values in {} attempts",
        g.distinct,
        attempts + 1
    );
    let bob = bob_accepts(&mut s.bob, msg3);
    assert_eq!(bob.sas.as_deref(), Some(predicted.as_str()));
    assert_eq!(
        tail(&predicted),
        tail(&alice_sas),
        "the ground digits match"
    );
    // Both sides were told theirs is the classic SAS (their UIs add the P15 caveat).
    assert_eq!(s.alice.sas_alg, Some(SasAlg::Classic));
    assert_eq!(bob.sas_alg, Some(SasAlg::Classic));
}

#[test]
fn mitm_cannot_grind_the_committed_sas() {
    // Everyone knows P15: Bob picks sas28x5-commit from the offer Mallory forwards.
    let mut s = setup("grind/commit", &SasAlg::ALL, &SasAlg::ALL, |_| {});
    let alice_sas = s.alice.sas.clone().unwrap();
    assert_eq!(s.alice.sas_alg, Some(SasAlg::Committed));
    assert_eq!(s.forge.sas, SasAlg::Committed);
    let g = grind(&s.forge, &alice_sas);
    // The whole budget ran and every message 3 gave Bob the same SAS.
    assert!(g.hit.is_none(), "no filler reaches Alice's digits");
    assert_eq!(g.distinct, 1, "no filler moves the committed SAS");
    let (msg3, fixed) = s.forge.message_3(&[0x5a; 32]);
    let bob = bob_accepts(&mut s.bob, msg3);
    assert_eq!(bob.sas.as_deref(), Some(fixed.as_str()));
    assert_eq!(bob.sas_alg, Some(SasAlg::Committed));
    // The two SAS of a relayed negotiation match only by chance (2^-24); not here.
    assert_ne!(bob.sas, s.alice.sas);
    assert_eq!(s.mallory_with_alice.sas, s.alice.sas);
}

#[test]
fn mitm_offering_bob_only_sas28x5_leaves_the_caveat_on_bobs_side() {
    // Alice's session with Mallory uses the committed SAS; towards a P15-capable Bob,
    // Mallory offers only sas28x5, which Bob accepts as the fallback, and grinds it.
    let mut s = setup("grind/downgrade", &SasAlg::ALL, &SasAlg::ALL, |m| {
        set_values(m, "sas_algs", &["sas28x5"]);
    });
    let alice_sas = s.alice.sas.clone().unwrap();
    assert_eq!(s.alice.sas_alg, Some(SasAlg::Committed));
    assert_eq!(s.forge.sas, SasAlg::Classic);
    let (_, msg3, predicted) = grind(&s.forge, &alice_sas)
        .hit
        .expect("Bob's classic SAS is ground within budget");
    let bob = bob_accepts(&mut s.bob, msg3);
    assert_eq!(tail(bob.sas.as_deref().unwrap()), tail(&alice_sas));
    assert_eq!(bob.sas.as_deref(), Some(predicted.as_str()));
    // What is left to the people comparing: Bob's side says classic (P15 "Display").
    assert_eq!(bob.sas_alg, Some(SasAlg::Classic));
    assert_eq!(
        bob.sas_alg.and_then(SasAlg::caveat),
        Some("classic SAS: resists about 2^24 work")
    );
}

#[test]
fn bob_refusing_sas28x5_defeats_the_downgrade() {
    // A Bob configured with sas28x5-commit only refuses Mallory's classic-only offer
    // (not-acceptable naming sas_algs, P10b): there is nothing to grind.
    let mut m = Mallory::with(
        "grind/strict",
        config(&SasAlg::ALL),
        config(&[SasAlg::Committed]),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(1) {
            set_values(s, "sas_algs", &["sas28x5"]);
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    b.assert_failed(
        crate::error::ErrorKind::Rejected,
        crate::error::Rejected::Request(crate::error::RequestRefused::Unacceptable(vec![
            "sas_algs".into(),
        ])),
    );
    a.assert_failed(
        crate::error::ErrorKind::Rejected,
        crate::error::Rejected::PeerError {
            condition: "not-acceptable".into(),
            fields: vec!["sas_algs".into()],
        },
    );
}
