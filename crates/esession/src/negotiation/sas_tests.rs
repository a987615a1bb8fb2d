//! Profile P15 in whole negotiations: which SAS each pairing of `sas_algs` settings
//! chooses (the committed one when both sides know it, the classic one with a peer that
//! knows only `sas28x5`, in either role), and that both sides compute the same value.
use super::fields::NOT_MACED;
use super::initiator::Offer;
use super::stanza::negotiation_form;
use crate::config::Config;
use crate::crypto::{sas28x5, sas28x5_commit, HashAlg, SasAlg};
use crate::engine::tests::{failed, Pair};
use crate::error::{ErrorKind, PeerMisbehaved, Rejected, RequestRefused, Usage};
use crate::forms::{FieldType, Form};
use crate::random::SeededRandom;
use crate::store::MemoryStore;
use crate::xml::{normalize_form_content, parse_element, Element, Limits};

fn config(sas: &[SasAlg]) -> Config {
    Config {
        groups: vec![14],
        sas: sas.to_vec(),
        ..Config::default()
    }
}

fn pair(label: &str, a: &[SasAlg], b: &[SasAlg]) -> Pair {
    Pair::with(
        label,
        config(a),
        config(b),
        MemoryStore::new(),
        MemoryStore::new(),
    )
}

/// The data form of the `i`-th stanza on the wire.
fn form_x(p: &Pair, i: usize) -> Element {
    let stanza = parse_element(&p.wire[i].1, &Limits::default()).unwrap();
    negotiation_form(&stanza).unwrap().1.clone()
}

/// The `sas_algs` field of the `i`-th stanza: its type and its offered values.
fn sas_field(p: &Pair, i: usize) -> (Option<FieldType>, Vec<String>) {
    let form = Form::parse(&form_x(p, i)).unwrap();
    let f = form.field("sas_algs").unwrap();
    (f.kind, f.offered().into_iter().map(str::to_owned).collect())
}

fn b64_value(x: &Element, var: &str) -> Vec<u8> {
    let form = Form::parse(x).unwrap();
    crate::b64::decode(var, form.value(var).unwrap()).unwrap()
}

/// Both SAS formulas recomputed from the four negotiation messages on the wire:
/// (P15 committed, P5 classic).
fn both_formulas(p: &Pair) -> (String, String) {
    let (x1, x2, x3) = (form_x(p, 0), form_x(p, 1), form_x(p, 2));
    let committed = sas28x5_commit(
        HashAlg::Sha256,
        &b64_value(&x3, "dhkeys"),
        &b64_value(&x2, "dhkeys"),
        &b64_value(&x1, "my_nonce"),
        &b64_value(&x2, "my_nonce"),
    );
    let classic = sas28x5(
        HashAlg::Sha256,
        &b64_value(&x3, "mac"),
        normalize_form_content(&x2, &NOT_MACED).as_bytes(),
    );
    (committed, classic)
}

/// Negotiates between `a` and `b`; both sides must report `expected` and the same SAS,
/// the one its formula gives from the wire (and not the other formula's).
fn negotiated(label: &str, a: &[SasAlg], b: &[SasAlg], expected: SasAlg) -> Pair {
    let mut p = pair(label, a, b);
    let (_, ia, ib) = p.negotiate();
    assert_eq!((ia.sas_alg, ib.sas_alg), (Some(expected), Some(expected)));
    let (committed, classic) = both_formulas(&p);
    let (used, other) = match expected {
        SasAlg::Committed => (committed, classic),
        SasAlg::Classic => (classic, committed),
    };
    assert_eq!(ia.sas.as_deref(), Some(used.as_str()));
    assert_eq!(ib.sas, ia.sas);
    assert_ne!(used, other, "the other formula is not the one used");
    p
}

#[test]
fn default_offer_puts_the_committed_sas_first_and_both_sides_use_it() {
    let p = negotiated("p15/default", &SasAlg::ALL, &SasAlg::ALL, SasAlg::Committed);
    // Profile P15: a list-single with both options, sas28x5-commit first.
    assert_eq!(
        sas_field(&p, 0),
        (
            Some(FieldType::ListSingle),
            vec!["sas28x5-commit".to_owned(), "sas28x5".to_owned()]
        )
    );
    assert_eq!(sas_field(&p, 1).1, vec!["sas28x5-commit".to_owned()]);
}

#[test]
fn a_responder_that_knows_only_sas28x5_gets_the_classic_sas() {
    let p = negotiated(
        "p15/classic-bob",
        &SasAlg::ALL,
        &[SasAlg::Classic],
        SasAlg::Classic,
    );
    assert_eq!(sas_field(&p, 1).1, vec!["sas28x5".to_owned()]);
}

#[test]
fn an_initiator_that_knows_only_sas28x5_gets_the_classic_sas() {
    let p = negotiated(
        "p15/classic-alice",
        &[SasAlg::Classic],
        &SasAlg::ALL,
        SasAlg::Classic,
    );
    // A single offered value keeps the XEP-0217 hidden fixed form, as before P15.
    assert_eq!(
        sas_field(&p, 0),
        (Some(FieldType::Hidden), vec!["sas28x5".to_owned()])
    );
}

#[test]
fn committed_only_on_both_sides_uses_the_committed_sas() {
    let strict = [SasAlg::Committed];
    let p = negotiated("p15/strict", &strict, &strict, SasAlg::Committed);
    assert_eq!(
        sas_field(&p, 0),
        (Some(FieldType::Hidden), vec!["sas28x5-commit".to_owned()])
    );
}

#[test]
fn a_responder_accepting_no_offered_sas_refuses_naming_sas_algs() {
    // Profile P15, P10b: not-acceptable naming sas_algs.
    let mut p = pair("p15/none", &[SasAlg::Classic], &[SasAlg::Committed]);
    p.alice
        .start_str("bob@example.com", crate::engine::tests::NOW)
        .unwrap();
    p.run();
    let bob = failed(&mut p.bob);
    assert_eq!(bob.kind(), ErrorKind::Rejected);
    assert_eq!(
        bob,
        Rejected::Request(RequestRefused::Unacceptable(vec!["sas_algs".into()]))
    );
    let alice = failed(&mut p.alice);
    assert_eq!(
        alice,
        Rejected::PeerError {
            condition: "not-acceptable".into(),
            fields: vec!["sas_algs".into()],
        }
    );
    assert!(p.alice.session_ids().is_empty() && p.bob.session_ids().is_empty());
}

/// Alice's check of a message 2 (the choices only) against a fresh offer made under
/// `offer`, with the `sas_algs` field of a real message 2 removed: what an older responder
/// that leaves the field out sends.
fn check_message_2_without_sas_algs(offer: &[SasAlg]) -> Result<Option<SasAlg>, PeerMisbehaved> {
    let mut p = pair("p15/missing", &SasAlg::ALL, &[SasAlg::Classic]);
    p.negotiate();
    let mut form = Form::parse(&form_x(&p, 1)).unwrap();
    form.fields.retain(|f| f.var.as_deref() != Some("sas_algs"));
    let mut rng = SeededRandom::from_label("p15/missing/offer");
    let (o, _) = Offer::new(
        &config(offer),
        "bob@example.com",
        &mut rng,
        None,
        None,
        Default::default(),
    )
    .unwrap();
    o.check_terms(&form).map(|t| t.sas)
}

#[test]
fn a_message_2_without_sas_algs_means_sas28x5() {
    // Profile P15: a message 2 without sas_algs means sas28x5 …
    assert_eq!(
        check_message_2_without_sas_algs(&SasAlg::ALL),
        Ok(Some(SasAlg::Classic))
    );
    // … which an initiator that did not offer it refuses (not-acceptable, P10b).
    assert_eq!(
        check_message_2_without_sas_algs(&[SasAlg::Committed]),
        Err(PeerMisbehaved::UnofferedOption {
            field: "sas_algs".into(),
            value: "sas28x5".into(),
        })
    );
}

#[test]
fn an_initiator_without_any_sas_cannot_offer_the_4_message_flow() {
    let mut rng = SeededRandom::from_label("p15/empty");
    let err = Offer::new(
        &config(&[]),
        "bob@example.com",
        &mut rng,
        None,
        None,
        Default::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err, Usage::NothingOffered(vec!["sas_algs".into()]));
}
