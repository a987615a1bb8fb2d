//! A man in the middle rewrites the four negotiation messages (XEP-0116 §4, profile P6,
//! P10b): downgrades, removed options, and every field of every message.
//!
//! Over 600 lines: test code only, one table of rewrites per negotiation message.
use super::mallory::*;
use crate::config::{Config, Security};
use crate::engine::tests::sid;
use crate::engine::tests::NOW;
use crate::error::{Error, ErrorKind, PeerMisbehaved, Rejected, RequestRefused};
use crate::store::MemoryStore;
use crate::xml::Element;

fn peer_error(condition: &str, fields: &[&str]) -> Rejected {
    Rejected::PeerError {
        condition: condition.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// Runs a negotiation in which negotiation message `n` is rewritten by `f`.
fn tamper(label: &str, n: u8, f: impl Fn(&mut Element)) -> (Mallory, Outcome, Outcome) {
    tamper_with(label, Config::simplified(), Config::simplified(), n, f)
}

fn tamper_with(
    label: &str,
    a: Config,
    b: Config,
    n: u8,
    f: impl Fn(&mut Element),
) -> (Mallory, Outcome, Outcome) {
    let mut m = Mallory::with(label, a, b, MemoryStore::new(), MemoryStore::new());
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(n) {
            f(s);
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    (m, a, b)
}

#[test]
fn mitm_strips_e2e_from_security_offer() {
    // Alice offers only e2e; Mallory offers c2s in her name to a Bob who would accept it.
    let b = Config {
        security: vec![Security::E2e, Security::C2s],
        ..Config::default()
    };
    let (mut m, a, bo) = tamper_with("strip-e2e", Config::default(), b, 1, |s| {
        set_values(s, "security", &["c2s"]);
    });
    // Alice refuses the plain answer she never offered and tells Bob (P10b).
    a.assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::UnofferedOption {
            field: "security".into(),
            value: "c2s".into(),
        },
    );
    bo.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["security"]),
    );
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
    // No clear session exists to send through.
    assert!(m
        .alice
        .send_message(&sid(BOB_JID, "any"), "secret")
        .is_err());
    assert!(m.wire.iter().all(|(_, s)| !s.contains("secret")));
}

const BOB_JID: &str = crate::engine::tests::BOB;

#[test]
fn mitm_strips_e2e_from_security_choice() {
    // Bob chose e2e; Mallory tells Alice he chose c2s (a plain session).
    let (m, a, b) = tamper("strip-e2e-2", 2, |s| set_values(s, "security", &["c2s"]));
    a.assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::UnofferedOption {
            field: "security".into(),
            value: "c2s".into(),
        },
    );
    b.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["security"]),
    );
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn mitm_lowers_group_in_offer() {
    // Mallory moves group 5 to the front of the offer (keeping dhhashes aligned): Bob
    // picks 5, but form_A changed, so Alice's identity fails at Bob.
    let (m, a, b) = tamper("lower-offer", 1, |s| {
        let hashes = values(s, "dhhashes");
        set_values(s, "modp", &["5", "15", "14", "16"]);
        set_values(
            s,
            "dhhashes",
            &[&hashes[3], &hashes[0], &hashes[1], &hashes[2]],
        );
    });
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMismatch);
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("feature-not-implemented", &["identity"]),
    );
    assert!(secrets(&m.alice).is_empty() && secrets(&m.bob).is_empty());
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn mitm_lowers_group_in_choice() {
    // Bob chose 15; Mallory says 5 and supplies an in-range group-5 d. Alice's e for
    // group 5 then fails Bob's commitment for group 15.
    let (_, a, b) = tamper("lower-choice", 2, |s| {
        set_values(s, "modp", &["5"]);
        set_values(s, "dhkeys", &["Aw=="]);
    });
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::CommitmentMismatch);
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("feature-not-implemented", &["dhkeys"]),
    );
}

#[test]
fn mitm_offers_only_insecure_group() {
    // Only the 1024-bit group 2 left in the offer: refused by Bob (P6).
    let (_, a, b) = tamper("group2", 1, |s| {
        let h = values(s, "dhhashes");
        set_values(s, "modp", &["2"]);
        set_values(s, "dhhashes", &[&h[0]]);
    });
    b.assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(vec!["modp".into()])),
    );
    a.assert_failed(ErrorKind::Rejected, peer_error("not-acceptable", &["modp"]));
}

#[test]
fn mitm_removes_options() {
    // Removing the `mustnot` option makes Bob choose `may`; Alice would accept `may`, but
    // the offer Bob saw is not the one Alice MACed.
    let (_, a, b) = tamper("rm-option", 1, |s| set_values(s, "logging", &["may"]));
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMismatch);
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("feature-not-implemented", &["identity"]),
    );
    // Removing a whole field: Bob finds no acceptable stanza kind.
    let (_, a, b) = tamper("rm-field", 1, |s| remove_field(s, "stanzas"));
    b.assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(vec!["stanzas".into()])),
    );
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["stanzas"]),
    );
}

#[test]
fn mitm_downgrades_the_sas_in_a_relayed_negotiation() {
    // Profile P15: Mallory removes sas28x5-commit from Alice's offer; Bob picks sas28x5,
    // but the offer he saw is not the one Alice MACed (form_A).
    let (_, a, b) = tamper_with("sas-down-1", Config::default(), Config::default(), 1, |s| {
        set_values(s, "sas_algs", &["sas28x5"])
    });
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMismatch);
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("feature-not-implemented", &["identity"]),
    );
    // A message 1 without sas_algs is refused naming it (P15 defaults only message 2).
    let (_, a, b) = tamper_with("sas-down-0", Config::default(), Config::default(), 1, |s| {
        remove_field(s, "sas_algs")
    });
    b.assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(vec!["sas_algs".into()])),
    );
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["sas_algs"]),
    );
    // Mallory tells Alice that Bob chose sas28x5: she offered it and goes on, but Bob's
    // message 4 MACs the form_B he sent (XEP-0116 §4.7.4), so she fails there and her
    // error reply ends Bob's session.
    let (m, a, b) = tamper_with("sas-down-2", Config::default(), Config::default(), 2, |s| {
        set_values(s, "sas_algs", &["sas28x5"])
    });
    assert_eq!(
        a.failure(),
        Some((
            ErrorKind::Negotiation,
            PeerMisbehaved::IdentityMismatch.into()
        ))
    );
    assert!(!a.established && b.established);
    assert!(secrets(&m.alice).is_empty());
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
    // An Alice that offered only sas28x5-commit refuses the value she did not offer.
    let strict = Config {
        sas: vec![crate::crypto::SasAlg::Committed],
        ..Config::default()
    };
    let (_, a, b) = tamper_with("sas-down-3", strict, Config::default(), 2, |s| {
        set_values(s, "sas_algs", &["sas28x5"])
    });
    a.assert_failed(
        ErrorKind::Negotiation,
        PeerMisbehaved::UnofferedOption {
            field: "sas_algs".into(),
            value: "sas28x5".into(),
        },
    );
    b.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["sas_algs"]),
    );
}

/// One row: rewrite `var` of message `n` to `values`; `notice` is what the side that
/// must notice reports, `other` what the other side reports (None: nothing, it waits).
struct Row {
    var: &'static str,
    values: &'static [&'static str],
    notice: (ErrorKind, Error),
    other: Option<(ErrorKind, Error)>,
}

fn row(
    var: &'static str,
    values: &'static [&'static str],
    notice: (ErrorKind, Error),
    other: Option<(ErrorKind, Error)>,
) -> Row {
    Row {
        var,
        values,
        notice,
        other,
    }
}

fn refused(fields: &[&str]) -> (ErrorKind, Error) {
    let fields = fields.iter().map(|f| (*f).to_owned()).collect();
    (
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(fields)).into(),
    )
}

fn told(condition: &str, fields: &[&str]) -> Option<(ErrorKind, Error)> {
    Some((ErrorKind::Rejected, peer_error(condition, fields).into()))
}

fn neg(v: PeerMisbehaved) -> (ErrorKind, Error) {
    (ErrorKind::Negotiation, v.into())
}

fn unoffered(field: &str, value: &str) -> (ErrorKind, Error) {
    neg(PeerMisbehaved::UnofferedOption {
        field: field.into(),
        value: value.into(),
    })
}

const N32: &str = "ERERERERERERERERERERERERERERERERERERERERERE=";
/// 32 octets of 7.
const F7: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const H4: &[&str] = &[N32, N32, N32, N32];

/// Runs a table: message `n` rewritten per row; `alice_notices` says who must notice.
fn run_table(n: u8, rows: Vec<Row>, alice_notices: bool) {
    for r in rows {
        let label = format!("m{n}-{}-{:?}", r.var, r.values);
        let (m, a, b) = tamper(&label, n, |s| set_values(s, r.var, r.values));
        let (noticer, other) = if alice_notices { (&a, &b) } else { (&b, &a) };
        assert_eq!(
            noticer.failure(),
            Some(r.notice.clone()),
            "{label}: {noticer:?}"
        );
        assert!(!noticer.established, "{label}");
        assert_eq!(other.failure(), r.other, "{label}: {other:?}");
        // Nothing was delivered; no session exists on the side that noticed; nothing was
        // stored by a side that did not establish.
        assert!(a.bodies.is_empty() && b.bodies.is_empty(), "{label}");
        if !a.established {
            assert!(secrets(&m.alice).is_empty(), "{label}: alice stored");
        }
        if !b.established {
            assert!(secrets(&m.bob).is_empty(), "{label}: bob stored");
        }
        let noticer_engine = if alice_notices { &m.alice } else { &m.bob };
        assert!(noticer_engine.session_ids().is_empty(), "{label}");
    }
}

#[test]
fn mitm_rewrites_each_field_of_message_1() {
    let fni = "feature-not-implemented";
    let na = "not-acceptable";
    run_table(
        1,
        vec![
            row(
                "FORM_TYPE",
                &["urn:xmpp:other"],
                (
                    ErrorKind::Rejected,
                    Rejected::Request(RequestRefused::Unsupported).into(),
                ),
                told("service-unavailable", &[]),
            ),
            row(
                "accept",
                &["0"],
                refused(&["accept"]),
                told(na, &["accept"]),
            ),
            row(
                "logging",
                &["sometimes"],
                refused(&["logging"]),
                told(na, &["logging"]),
            ),
            row(
                "disclosure",
                &["always"],
                refused(&["disclosure"]),
                told(na, &["disclosure"]),
            ),
            row(
                "security",
                &["none"],
                refused(&["security"]),
                told(na, &["security"]),
            ),
            row(
                "modp",
                &["97", "98", "99", "3"],
                refused(&["modp"]),
                told(na, &["modp"]),
            ),
            row(
                "crypt_algs",
                &["rot13"],
                refused(&["crypt_algs"]),
                told(na, &["crypt_algs"]),
            ),
            row(
                "hash_algs",
                &["md5"],
                refused(&["hash_algs"]),
                told(na, &["hash_algs"]),
            ),
            row(
                "compress",
                &["zlib"],
                refused(&["compress"]),
                told(na, &["compress"]),
            ),
            row(
                "stanzas",
                &["iq"],
                refused(&["stanzas"]),
                told(na, &["stanzas"]),
            ),
            row(
                "init_pubkey",
                &["key"],
                refused(&["init_pubkey"]),
                told(na, &["init_pubkey"]),
            ),
            row(
                "resp_pubkey",
                &["key"],
                refused(&["resp_pubkey"]),
                told(na, &["resp_pubkey"]),
            ),
            row("ver", &["9.9"], refused(&["ver"]), told(na, &["ver"])),
            row(
                "rekey_freq",
                &["often"],
                refused(&["rekey_freq"]),
                told(na, &["rekey_freq"]),
            ),
            row(
                "my_nonce",
                &["!!"],
                refused(&["my_nonce"]),
                told(na, &["my_nonce"]),
            ),
            row(
                "sas_algs",
                &["sas28x6"],
                refused(&["sas_algs"]),
                told(na, &["sas_algs"]),
            ),
            row(
                "dhhashes",
                &[N32],
                refused(&["dhhashes"]),
                told(na, &["dhhashes"]),
            ),
            // Acceptable but different values: Bob answers, then the MAC over form_A
            // (or the commitment, or the nonce echo) catches the change.
            row(
                "rekey_freq",
                &["100"],
                neg(PeerMisbehaved::IdentityMismatch),
                told(fni, &["identity"]),
            ),
            row(
                "logging",
                &["may", "mustnot"],
                neg(PeerMisbehaved::IdentityMismatch),
                told(fni, &["identity"]),
            ),
            row(
                "dhhashes",
                H4,
                neg(PeerMisbehaved::CommitmentMismatch),
                told(fni, &["dhkeys"]),
            ),
        ],
        false,
    );
    // my_nonce replaced by another valid nonce: Bob echoes it, Alice notices.
    let (_, a, b) = tamper("m1-nonce", 1, |s| set_values(s, "my_nonce", &[N32]));
    a.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::NonceMismatch);
    b.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["nonce"]),
    );
}

#[test]
fn mitm_rewrites_each_field_of_message_2() {
    let na = "not-acceptable";
    let fni = "feature-not-implemented";
    run_table(
        2,
        vec![
            row(
                "accept",
                &["maybe"],
                neg(PeerMisbehaved::BadValue {
                    field: "accept".into(),
                    value: "maybe".into(),
                }),
                told(na, &["accept"]),
            ),
            row(
                "accept",
                &["0"],
                (ErrorKind::Rejected, Rejected::PeerDeclined(None).into()),
                None,
            ),
            row(
                "logging",
                &["sometimes"],
                unoffered("logging", "sometimes"),
                told(na, &["logging"]),
            ),
            row(
                "disclosure",
                &["always"],
                unoffered("disclosure", "always"),
                told(na, &["disclosure"]),
            ),
            row(
                "modp",
                &["99"],
                unoffered("modp", "99"),
                told(na, &["modp"]),
            ),
            row(
                "modp",
                &["5"],
                neg(PeerMisbehaved::PublicValueOutOfRange("dhkeys".into())),
                told(na, &["dhkeys"]),
            ),
            row(
                "crypt_algs",
                &["rot13"],
                unoffered("crypt_algs", "rot13"),
                told(na, &["crypt_algs"]),
            ),
            row(
                "hash_algs",
                &["md5"],
                unoffered("hash_algs", "md5"),
                told(na, &["hash_algs"]),
            ),
            row(
                "compress",
                &["zlib"],
                unoffered("compress", "zlib"),
                told(na, &["compress"]),
            ),
            row(
                "stanzas",
                &["iq"],
                unoffered("stanzas", "iq"),
                told(na, &["stanzas"]),
            ),
            row(
                "init_pubkey",
                &["key"],
                unoffered("init_pubkey", "key"),
                told(na, &["init_pubkey"]),
            ),
            row(
                "resp_pubkey",
                &["key"],
                unoffered("resp_pubkey", "key"),
                told(na, &["resp_pubkey"]),
            ),
            row("ver", &["9.9"], unoffered("ver", "9.9"), told(na, &["ver"])),
            row(
                "sas_algs",
                &["sas28x6"],
                unoffered("sas_algs", "sas28x6"),
                told(na, &["sas_algs"]),
            ),
            row(
                "rekey_freq",
                &["0"],
                neg(PeerMisbehaved::BadValue {
                    field: "rekey_freq".into(),
                    value: "0".into(),
                }),
                told(na, &["rekey_freq"]),
            ),
            row(
                "nonce",
                &[N32],
                neg(PeerMisbehaved::NonceMismatch),
                told(na, &["nonce"]),
            ),
            row(
                "my_nonce",
                &["!!"],
                neg(PeerMisbehaved::BadBase64("my_nonce".into())),
                told(na, &["my_nonce"]),
            ),
            row(
                "counter",
                &["!!"],
                neg(PeerMisbehaved::BadBase64("counter".into())),
                told(na, &["counter"]),
            ),
        ],
        true,
    );
    // Values Alice accepts but that Bob did not send: Bob notices in message 3.
    run_table(
        2,
        vec![
            // Alice echoes the forged N_B in message 3's `nonce`.
            row(
                "my_nonce",
                &[N32],
                neg(PeerMisbehaved::NonceMismatch),
                told("not-acceptable", &["nonce"]),
            ),
            row(
                "dhkeys",
                &["Aw=="],
                neg(PeerMisbehaved::IdentityMacMismatch),
                told(fni, &["mac"]),
            ),
            row(
                "counter",
                &["EREREREREREREREREREREQ=="],
                neg(PeerMisbehaved::IdentityMacMismatch),
                told(fni, &["mac"]),
            ),
        ],
        false,
    );
}

#[test]
fn mitm_rewrites_each_field_of_message_3() {
    let fni = "feature-not-implemented";
    let table: Vec<Row> = vec![
        row(
            "nonce",
            &[N32],
            neg(PeerMisbehaved::NonceMismatch),
            told("not-acceptable", &["nonce"]),
        ),
        row(
            "dhkeys",
            &["Aw=="],
            neg(PeerMisbehaved::CommitmentMismatch),
            told(fni, &["dhkeys"]),
        ),
        row(
            "rshashes",
            &[N32],
            neg(PeerMisbehaved::IdentityMismatch),
            told(fni, &["identity"]),
        ),
        row(
            "identity",
            &[N32],
            neg(PeerMisbehaved::IdentityMacMismatch),
            told(fni, &["mac"]),
        ),
        row(
            "mac",
            &[N32],
            neg(PeerMisbehaved::IdentityMacMismatch),
            told(fni, &["mac"]),
        ),
        row(
            "mac",
            &[F7],
            neg(PeerMisbehaved::IdentityMacMismatch),
            told(fni, &["mac"]),
        ),
        // A cancel (XEP-0155 §4.4 [5]) in Alice's name: silent; Alice waits.
        row(
            "accept",
            &["0"],
            (ErrorKind::Rejected, Rejected::Cancelled.into()),
            None,
        ),
        // A foreign form: silent (it may not come from Alice at all).
        row(
            "FORM_TYPE",
            &["urn:other"],
            neg(PeerMisbehaved::NotSsnForm),
            None,
        ),
    ];
    run_table(3, table, false);
}

#[test]
fn mitm_rewrites_each_field_of_message_4() {
    // Bob is established once he sent message 4 (XEP-0116 §4.7); Alice's checks fail,
    // and she stores nothing (P7: only after message 4 verified). Her error reply (echoing
    // the <init/>) then ends Bob's session too (XEP-0116 §4.4); a silent refusal (a foreign
    // form) cannot, and Bob's session stays until he ends it.
    let table: Vec<Row> = vec![
        row("nonce", &[N32], neg(PeerMisbehaved::NonceMismatch), None),
        row(
            "srshash",
            &[N32],
            neg(PeerMisbehaved::IdentityMismatch),
            None,
        ),
        row(
            "identity",
            &[N32],
            neg(PeerMisbehaved::IdentityMacMismatch),
            None,
        ),
        row(
            "mac",
            &[N32],
            neg(PeerMisbehaved::IdentityMacMismatch),
            None,
        ),
        row(
            "FORM_TYPE",
            &["urn:other"],
            neg(PeerMisbehaved::NotSsnForm),
            None,
        ),
    ];
    for r in &table {
        let label = format!("m4-{}", r.var);
        let (m, a, b) = tamper(&label, 4, |s| set_values(s, r.var, r.values));
        assert_eq!(a.failure(), Some(r.notice.clone()), "{label}");
        assert!(!a.established && b.established, "{label}");
        assert!(secrets(&m.alice).is_empty(), "{label}");
        assert_eq!(secrets(&m.bob).len(), 1, "{label}");
        assert!(m.alice.session_ids().is_empty(), "{label}");
        let answered = r.var != "FORM_TYPE";
        assert_eq!(m.bob.session_ids().is_empty(), answered, "{label}");
    }
    run_table_m4_with_prior_secret();
}

/// With a retained secret from an earlier session, a forged message 4 leaves Alice's
/// secret exactly as it was.
fn run_table_m4_with_prior_secret() {
    let mut m = Mallory::new("m4-prior");
    m.negotiate();
    let before = secrets(&m.alice);
    assert_eq!(before.len(), 1);
    let (sa, sb) = (m.alice.store().clone(), m.bob.store().clone());
    let mut m = Mallory::with("m4-prior-2", Config::default(), Config::default(), sa, sb);
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(4) {
            set_values(s, "mac", &[N32]);
        }
        Fate::Pass
    });
    outcome(&mut m.alice)
        .assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMacMismatch);
    assert_eq!(secrets(&m.alice), before, "alice's retained secret changed");
}

#[test]
fn truncated_identity_and_mac() {
    // Cut to 16 octets: M no longer verifies (constant-time comparison of any length).
    let half = "AAAAAAAAAAAAAAAAAAAAAA==";
    for (n, var) in [(3, "identity"), (3, "mac"), (4, "identity"), (4, "mac")] {
        let label = format!("trunc-{n}-{var}");
        let (_, a, b) = tamper(&label, n, |s| set_values(s, var, &[half]));
        let noticer = if n == 3 { &b } else { &a };
        noticer.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMacMismatch);
    }
    // Empty identity: still M fails first.
    let (_, _, b) = tamper("empty-id", 3, |s| set_values(s, "identity", &[""]));
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMacMismatch);
}

#[test]
fn message_4_before_message_3() {
    // Mallory injects an <init/> result in Bob's name before Alice has even seen message
    // 2: out of order, Alice's negotiation ends (silently: it may not be Bob's).
    let mut m = Mallory::new("m4-early");
    let thread = m.start();
    let init = crate::negotiation::stanza::negotiation_message(
        crate::engine::tests::ALICE,
        &thread,
        crate::negotiation::stanza::Wrapper::Init,
        {
            let mut f = crate::forms::Form::with_form_type(
                crate::forms::FormType::Result,
                crate::xml::ns::SSN,
            );
            f.push(crate::forms::Field::new("nonce", None, &[N32]));
            f.to_element()
        },
        false,
    )
    .with_attr("from", BOB_JID);
    m.run(|dir, _, s| {
        if dir == Dir::ToAlice && step(s) == Some(2) {
            return Fate::Before(init.clone());
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    a.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::OutOfOrder);
    // The real message 2 then finds no negotiation and is only a warning.
    assert_eq!(a.warnings.len(), 1, "{a:?}");
    b.assert_quiet();
    assert!(m.alice.session_ids().is_empty());
    // Bob waits for a message 3 that never comes, then times out.
    assert_eq!(m.bob.session_ids().len(), 1);
    m.bob.handle_timeout(NOW.plus(61));
    outcome(&mut m.bob).assert_failed(
        ErrorKind::Timeout,
        Error::Timeout {
            seconds: 60,
            gajim_stall: false,
        },
    );
    assert!(m.bob.session_ids().is_empty() && secrets(&m.bob).is_empty());
}

#[test]
fn unknown_algorithms_and_versions_only() {
    let (_, a, b) = tamper("rot13", 1, |s| set_values(s, "crypt_algs", &["rot13"]));
    b.assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(vec!["crypt_algs".into()])),
    );
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["crypt_algs"]),
    );
    let (_, a, b) = tamper("ver99", 1, |s| set_values(s, "ver", &["9.9"]));
    b.assert_failed(
        ErrorKind::Rejected,
        Rejected::Request(RequestRefused::Unacceptable(vec!["ver".into()])),
    );
    a.assert_failed(ErrorKind::Rejected, peer_error("not-acceptable", &["ver"]));
    // Several unknowns at once: every field at fault is named, in form order.
    let (_, a, _) = tamper("many-unknown", 1, |s| {
        set_values(s, "crypt_algs", &["rot13"]);
        set_values(s, "hash_algs", &["crc32"]);
        set_values(s, "ver", &["9.9"]);
    });
    a.assert_failed(
        ErrorKind::Rejected,
        peer_error("not-acceptable", &["crypt_algs", "hash_algs", "ver"]),
    );
}

#[test]
fn refused_message_3_ends_the_initiators_three_message_session() {
    // Profile P12: Alice is established once she sent message 3. Mallory rewrites its MAC;
    // Bob refuses it with an error reply echoing the <feature/> (P10b), and XEP-0116 §4.4
    // makes Alice end her session too, reporting the refusal.
    let a = Config {
        flow: crate::config::Flow::Three,
        ..Config::default()
    };
    let mut m = Mallory::with(
        "m3-refused",
        a,
        Config::default(),
        MemoryStore::new(),
        MemoryStore::new(),
    );
    m.alice.set_identity_key(Some(rsa()));
    m.bob.set_identity_key(Some(rsa()));
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(3) {
            set_values(s, "mac", &[N32]);
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::IdentityMacMismatch);
    // Established at message 3, then ended by Bob's refusal.
    assert!(a.established, "{a:?}");
    assert_eq!(
        a.failure(),
        Some((
            ErrorKind::Rejected,
            peer_error("feature-not-implemented", &["mac"]).into()
        ))
    );
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
    // Nothing can be sent in the ended session.
    assert!(m
        .alice
        .send_message(&sid(BOB_JID, "any"), "secret")
        .is_err());
}
