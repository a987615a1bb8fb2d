//! Alice ↔ Bob in memory: complete negotiations, retained secrets, termination, and the
//! rejections the specs name.
//!
//! Over 600 lines: it also holds the fixtures (`Pair`, `established`, the JIDs and clock)
//! that the other engine tests, the hostile tests and the vector generators import.
use super::*;
use crate::config::{AcceptPolicy, Config, Logging, Security};
use crate::error::{ErrorKind, PeerMisbehaved, Rejected, RequestRefused, StanzaFault, Usage};
use crate::event::{EndedBy, SrsStatus};
use crate::forms::FormType;
use crate::random::SeededRandom;
use crate::store::MemoryStore;
use crate::xml::{parse_element, Limits, Node};

pub(crate) const ALICE: &str = "alice@example.org/pda";
pub(crate) const BOB: &str = "bob@example.com/laptop";
pub(crate) const NOW: Timestamp = Timestamp(1_800_000_000);

/// `s` as a JID (the tests' JIDs are valid).
pub(crate) fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

/// `s` as a bare JID.
pub(crate) fn bare(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

/// `s` as a full JID.
pub(crate) fn full(s: &str) -> FullJid {
    FullJid::new(s).unwrap()
}

/// The id of the session with `peer` (bare or full) on `thread`, as the engine keys it.
pub(crate) fn sid(peer: &str, thread: &str) -> SessionId {
    key(&jid(peer), thread)
}

impl<S: SecretStore> Engine<S> {
    /// Test shorthand: [`Engine::start`] with `peer` as text, returning the thread.
    pub(crate) fn start_str(&mut self, peer: &str, now: Timestamp) -> Result<String, Error> {
        self.start(&jid(peer), now).map(|id| id.thread().to_owned())
    }
}

pub(crate) struct Pair {
    pub alice: Engine<MemoryStore>,
    pub bob: Engine<MemoryStore>,
    /// Every stanza that crossed, as sent (with `from`).
    pub wire: Vec<(bool, String)>,
}

impl Pair {
    pub(crate) fn new(label: &str) -> Self {
        Self::with(
            label,
            Config::default(),
            Config::default(),
            MemoryStore::new(),
            MemoryStore::new(),
        )
    }

    pub(crate) fn with(
        label: &str,
        a: Config,
        b: Config,
        sa: MemoryStore,
        sb: MemoryStore,
    ) -> Self {
        Pair {
            alice: Engine::new(
                full(ALICE),
                a,
                sa,
                Box::new(SeededRandom::from_label(&format!("{label}/a"))),
            ),
            bob: Engine::new(
                full(BOB),
                b,
                sb,
                Box::new(SeededRandom::from_label(&format!("{label}/b"))),
            ),
            wire: Vec::new(),
        }
    }

    /// Moves stanzas until both are quiet; `tamper` may rewrite each (from Alice = true).
    pub(crate) fn run_with(&mut self, mut tamper: impl FnMut(bool, &mut Element)) {
        loop {
            let mut moved = false;
            while let Some(mut s) = self.alice.poll_outgoing() {
                s.set_attr("from", ALICE);
                tamper(true, &mut s);
                self.wire.push((true, s.to_string()));
                self.bob.handle_stanza(s, NOW);
                moved = true;
            }
            while let Some(mut s) = self.bob.poll_outgoing() {
                s.set_attr("from", BOB);
                tamper(false, &mut s);
                self.wire.push((false, s.to_string()));
                self.alice.handle_stanza(s, NOW);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    pub(crate) fn run(&mut self) {
        self.run_with(|_, _| {});
    }

    pub(crate) fn negotiate(&mut self) -> (String, SessionInfo, SessionInfo) {
        let thread = self.alice.start_str("bob@example.com", NOW).unwrap();
        self.run();
        let a = established(&mut self.alice);
        let b = established(&mut self.bob);
        (thread, a, b)
    }

    pub(crate) fn into_stores(self) -> (MemoryStore, MemoryStore) {
        (self.alice.core.store, self.bob.core.store)
    }
}

pub(crate) fn established(e: &mut Engine<MemoryStore>) -> SessionInfo {
    match e.poll_event() {
        Some(Event::Established(info)) => info,
        other => panic!("expected Established, got {other:?}"),
    }
}

pub(crate) fn failed(e: &mut Engine<MemoryStore>) -> Error {
    loop {
        match e.poll_event() {
            Some(Event::Failed { error, .. }) => return error,
            Some(_) => continue,
            None => panic!("expected Failed"),
        }
    }
}

fn body(e: &mut Engine<MemoryStore>) -> (String, bool) {
    match e.poll_event() {
        Some(Event::Message {
            body: Some(b),
            encrypted,
            ..
        }) => (b, encrypted),
        other => panic!("expected Message, got {other:?}"),
    }
}

/// XEP-0116 §7.3: a SAS that does not match (a possible man in the middle) leaves the
/// session no longer reported verified, though an earlier comparison had matched; the
/// stored chain keeps the comparison that matched.
#[test]
fn a_sas_mismatch_withdraws_the_sessions_verified_flag() {
    let mut p = Pair::new("sas-mismatch");
    let (thread, a, _) = p.negotiate();
    let id = sid(BOB, &thread);
    let verified = |p: &Pair| p.alice.session(&id).unwrap().verified;
    assert!(p.alice.verify_sas(&id, a.sas.as_deref().unwrap()).unwrap());
    assert!(verified(&p));
    assert!(!p.alice.verify_sas(&id, "aaaaa").unwrap());
    assert!(!verified(&p));
    let chain = p
        .alice
        .store()
        .secrets_with("alice@example.org", "bob@example.com")
        .unwrap();
    assert!(!chain.is_empty() && chain.iter().all(|s| s.verified));
}

#[test]
fn first_second_and_lost_secret_sessions() {
    let mut p = Pair::new("rs");
    let (thread, a, b) = p.negotiate();
    assert_eq!(a.sas, b.sas);
    assert_eq!(a.sas.as_ref().map(String::len), Some(5));
    assert_eq!((a.srs, b.srs), (SrsStatus::None, SrsStatus::None));
    assert_eq!((a.role, b.role), (Role::Initiator, Role::Responder));
    assert_eq!(a.peer.as_str(), BOB);
    assert_eq!(b.peer.as_str(), ALICE);
    assert_eq!(a.group, Some(15));
    assert_eq!(a.logging, Logging::MustNot);
    assert!(a.encrypted && !a.verified);

    // Messages both ways, several each, so continuous counters are exercised.
    for i in 0..3 {
        p.alice
            .send_message(&sid(BOB, &thread), &format!("hello {i} <&>"))
            .unwrap();
        p.bob
            .send_message(&sid(ALICE, &thread), &format!("hi {i}"))
            .unwrap();
    }
    p.run();
    for i in 0..3 {
        assert_eq!(body(&mut p.bob), (format!("hello {i} <&>"), true));
        assert_eq!(body(&mut p.alice), (format!("hi {i}"), true));
    }
    // Nothing on the wire carries a plaintext body.
    assert!(p.wire.iter().all(|(_, s)| !s.contains("hello 0")));

    // The person confirms the SAS on both sides.
    let sas = a.sas.clone().unwrap();
    assert!(!p.alice.verify_sas(&sid(BOB, &thread), "aaaaa").unwrap());
    assert!(p.alice.verify_sas(&sid(BOB, &thread), &sas).unwrap());
    assert!(p
        .bob
        .verify_sas(&sid(ALICE, &thread), &sas.to_uppercase())
        .unwrap());

    p.alice.terminate(&sid(BOB, &thread), NOW).unwrap();
    p.run();
    assert!(matches!(
        p.bob.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Peer,
            ..
        })
    ));
    assert!(matches!(
        p.alice.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Us,
            ..
        })
    ));
    assert!(p.alice.send_message(&sid(BOB, &thread), "late").is_err());

    // Second session: the retained secret is found on both sides, and verified carries.
    let (sa, sb) = p.into_stores();
    let mut p = Pair::with("rs2", Config::default(), Config::default(), sa, sb.clone());
    let (_, a, b) = p.negotiate();
    assert_eq!((a.srs, b.srs), (SrsStatus::Matched, SrsStatus::Matched));
    assert!(a.verified && b.verified);
    assert_eq!(
        p.alice
            .store()
            .secrets_with("alice@example.org", "bob@example.com")
            .unwrap()
            .len(),
        1
    );

    // Bob lost his secrets: Alice is warned of a mismatch; the session still works.
    let (sa, _) = p.into_stores();
    let mut p = Pair::with(
        "rs3",
        Config::default(),
        Config::default(),
        sa,
        MemoryStore::new(),
    );
    let (thread, a, b) = p.negotiate();
    assert_eq!((a.srs, b.srs), (SrsStatus::Mismatch, SrsStatus::None));
    assert!(!a.verified);
    p.bob
        .send_message(&sid(ALICE, &thread), "still works")
        .unwrap();
    p.run();
    assert_eq!(body(&mut p.alice).0, "still works");
}

#[test]
fn extended_search_finds_secret_under_another_jid_and_oss_must_match() {
    let mut p = Pair::new("ext");
    p.negotiate();
    let (sa, sb) = p.into_stores();
    // Bob's record is under alice@example.org; Alice now uses the same secret but the
    // record sits under another peer bare JID on Bob's side, where a person confirmed it.
    let mut moved = MemoryStore::new();
    for mut r in sb.all_secrets("bob@example.com").unwrap() {
        r.id.peer_bare = "alias@example.net".into();
        r.verified = true;
        moved.rotate(None, r).unwrap();
    }
    let mut p = Pair::with(
        "ext2",
        Config::default(),
        Config::default(),
        sa.clone(),
        moved,
    );
    let (_, a, b) = p.negotiate();
    // Issue 11: Bob says the secret came from another JID, and alias's confirmation does
    // not make this session, or the secret retained with alice, verified.
    assert_eq!(
        (a.srs, b.srs),
        (SrsStatus::Matched, SrsStatus::MatchedOtherJid)
    );
    assert!(!b.verified);
    let kept = p
        .bob
        .store()
        .secrets_with("bob@example.com", "alice@example.org");
    assert!(kept.unwrap().iter().all(|r| !r.verified));

    // Other shared secret: equal (after NFC) works, different fails at message 4.
    let mut p = Pair::new("oss");
    p.alice
        .set_other_shared_secret(&bare("bob@example.com"), Some("caf\u{e9}"));
    p.bob
        .set_other_shared_secret(&bare("alice@example.org"), Some("cafe\u{301}"));
    p.negotiate();
    let mut p = Pair::new("oss2");
    p.alice
        .set_other_shared_secret(&bare("bob@example.com"), Some("one"));
    p.bob
        .set_other_shared_secret(&bare("alice@example.org"), Some("two"));
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.alice);
    assert_eq!(err, PeerMisbehaved::IdentityMacMismatch);
    assert_eq!(err.kind(), ErrorKind::Negotiation);
}

fn set_field(stanza: &mut Element, var: &str, value: &str) {
    let text = stanza.to_string();
    let el = parse_element(&text, &Limits::default()).unwrap();
    let mut out = el.clone();
    fn walk(e: &mut Element, var: &str, value: &str) {
        for n in e.nodes_mut() {
            if let crate::xml::Node::Element(c) = n {
                if c.name() == "field" && c.attr("var") == Some(var) {
                    *c = crate::forms::Field::new(var, None, &[value]).to_element();
                } else {
                    walk(c, var, value);
                }
            }
        }
    }
    walk(&mut out, var, value);
    *stanza = out;
}

fn count(stanza: &Element, var: &str) -> bool {
    stanza.to_string().contains(&format!("var=\"{var}\""))
}

/// Runs a negotiation where `tamper` rewrites stanzas; returns both sides' failures. A
/// side that failed must not have a session left, nor have delivered any message.
fn tampered(label: &str, tamper: impl FnMut(bool, &mut Element)) -> (Option<Error>, Option<Error>) {
    let mut p = Pair::new(label);
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run_with(tamper);
    let grab = |e: &mut Engine<MemoryStore>| {
        let mut out = None;
        while let Some(ev) = e.poll_event() {
            assert!(
                !matches!(ev, Event::Message { .. }),
                "a message was delivered"
            );
            if let Event::Failed { error, .. } = ev {
                out = Some(error);
            }
        }
        if out.is_some() {
            assert!(
                e.session_ids().is_empty(),
                "a side failed but kept a session"
            );
        }
        out
    };
    (grab(&mut p.alice), grab(&mut p.bob))
}

#[test]
fn rejections_name_what_was_wrong() {
    // Message 1: a group we do not accept is refused as not-acceptable on modp.
    let (_, b) = tampered("modp", |from_a, s| {
        if from_a && count(s, "modp") && s.to_string().contains("type=\"form\"") {
            let text = s
                .to_string()
                .replace("<value>15</value>", "<value>3</value>")
                .replace("<value>14</value>", "<value>4</value>")
                .replace("<value>16</value>", "<value>99</value>")
                .replace("<value>5</value>", "<value>2</value>");
            *s = parse_element(&text, &Limits::default()).unwrap();
        }
    });
    assert_eq!(
        b.unwrap(),
        Rejected::Request(RequestRefused::Unacceptable(vec!["modp".into()]))
    );

    // Message 2: d out of range is refused by Alice (not-acceptable on dhkeys).
    let (a, _) = tampered("d", |from_a, s| {
        if !from_a && count(s, "counter") {
            set_field(s, "dhkeys", "AQ==");
        }
    });
    assert_eq!(
        a.unwrap(),
        PeerMisbehaved::PublicValueOutOfRange("dhkeys".into())
    );

    // Message 2: a changed nonce.
    let (a, _) = tampered("nonce", |from_a, s| {
        if !from_a && count(s, "counter") {
            set_field(s, "nonce", "AAAA");
        }
    });
    assert_eq!(a.unwrap(), PeerMisbehaved::NonceMismatch);

    // Message 2: a value Alice did not offer.
    let (a, _) = tampered("unoffered", |from_a, s| {
        if !from_a && count(s, "counter") {
            set_field(s, "crypt_algs", "aes128-cbc");
        }
    });
    assert_eq!(
        a.unwrap(),
        PeerMisbehaved::UnofferedOption {
            field: "crypt_algs".into(),
            value: "aes128-cbc".into()
        }
    );

    // Message 3: e that does not match He.
    let (_, b) = tampered("he", |from_a, s| {
        if from_a && count(s, "rshashes") {
            set_field(s, "dhkeys", "Ag==");
        }
    });
    assert_eq!(b.unwrap(), PeerMisbehaved::CommitmentMismatch);

    // Message 3: a forged identity MAC.
    let (_, b) = tampered("ma", |from_a, s| {
        if from_a && count(s, "rshashes") {
            set_field(s, "mac", &crate::b64::encode(&[7u8; 32]));
        }
    });
    assert_eq!(b.unwrap(), PeerMisbehaved::IdentityMacMismatch);

    // Message 3: a field added by a man in the middle changes form_A2.
    let (_, b) = tampered("forma2", |from_a, s| {
        if from_a && count(s, "rshashes") {
            set_field(s, "rshashes", &crate::b64::encode(&[1u8; 32]));
        }
    });
    assert_eq!(b.unwrap(), PeerMisbehaved::IdentityMismatch);

    // Message 2 altered (form_B): Bob's identity check fails at Alice after message 4.
    let (a, _) = tampered("formb", |from_a, s| {
        if !from_a && count(s, "counter") {
            set_field(s, "ver", "1.0");
            let text = s.to_string().replace(
                "<field var=\"disclosure\">",
                "<field var=\"disclosure\" label=\"x\">",
            );
            *s = parse_element(&text, &Limits::default()).unwrap();
        }
    });
    // Bob sees Alice's identity over a form_B he did not send: Alice's mac_A still
    // verifies (form_B is not in mac_A), but the SAS and Bob's mac_B differ.
    assert_eq!(a.unwrap(), PeerMisbehaved::IdentityMismatch);

    // Message 4: a tampered srshash changes K' and breaks M_B.
    let (a, _) = tampered("srshash", |from_a, s| {
        if !from_a && count(s, "srshash") {
            set_field(s, "srshash", &crate::b64::encode(&[9u8; 32]));
        }
    });
    assert_eq!(a.unwrap(), PeerMisbehaved::IdentityMismatch);
}

#[test]
fn error_replies_follow_p10b() {
    // A 3-message request to a responder that only does 4 is answered with
    // feature-not-implemented on dhkeys (XEP-0116 §4.4).
    let four_only = Config {
        accept_three_message: false,
        ..Config::default()
    };
    let mut p = Pair::with(
        "3msg",
        Config::default(),
        four_only,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    let mut req = p.alice.poll_outgoing().unwrap();
    req.set_attr("from", ALICE);
    let text = req
        .to_string()
        .replace("var=\"dhhashes\"", "var=\"dhkeys\"");
    p.bob
        .handle_stanza(parse_element(&text, &Limits::default()).unwrap(), NOW);
    let reply = p.bob.poll_outgoing().unwrap().to_string();
    assert!(reply.contains("type=\"error\""));
    assert!(
        reply.contains("<feature-not-implemented xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/>")
    );
    assert!(reply.contains("<field var=\"dhkeys\"/>"));
    // The reply echoes the request's <feature/> and reaches Alice as a named failure.
    assert!(reply.contains("var=\"dhhashes\"") || reply.contains("var=\"dhkeys\""));
    let mut reply = parse_element(&reply, &Limits::default()).unwrap();
    reply.set_attr("from", BOB);
    p.alice.handle_stanza(reply, NOW);
    assert_eq!(
        failed(&mut p.alice),
        Rejected::PeerError {
            condition: "feature-not-implemented".into(),
            fields: vec!["dhkeys".into()]
        }
    );

    // A form that is not an SSN form: service-unavailable.
    let mut p = Pair::new("notssn");
    p.alice.start_str("bob@example.com", NOW).unwrap();
    let mut req = p.alice.poll_outgoing().unwrap();
    req.set_attr("from", ALICE);
    let text = req.to_string().replace("urn:xmpp:ssn", "urn:other");
    p.bob
        .handle_stanza(parse_element(&text, &Limits::default()).unwrap(), NOW);
    assert!(p
        .bob
        .poll_outgoing()
        .unwrap()
        .to_string()
        .contains("<service-unavailable"));

    // A request from offline storage (with <delay/>) is not answered.
    let mut p = Pair::new("delay");
    p.alice.start_str("bob@example.com", NOW).unwrap();
    let mut req = p.alice.poll_outgoing().unwrap();
    req.set_attr("from", ALICE);
    req.push(Element::new("delay", ns::DELAY).with_attr("stamp", "2026-01-01T00:00:00Z"));
    p.bob.handle_stanza(req, NOW);
    assert!(p.bob.poll_outgoing().is_none());
    assert!(matches!(p.bob.poll_event(), Some(Event::Warning { .. })));

    // Silence when error answers are off (XEP-0155 §10.1).
    let b = Config {
        answer_errors: false,
        groups: vec![5],
        ..Config::default()
    };
    let a = Config {
        groups: vec![14],
        ..Config::default()
    };
    let mut p = Pair::with("silent", a, b, MemoryStore::new(), MemoryStore::new());
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(p.bob.poll_outgoing().is_none());
    assert!(p.alice.poll_event().is_none());
    p.alice.handle_timeout(NOW.plus(61));
    assert_eq!(failed(&mut p.alice).kind(), ErrorKind::Timeout);
}

#[test]
fn declined_plain_and_policy() {
    // Bob accepts nobody: XEP-0155 reject reaches Alice as Rejected.
    let b = Config {
        accept: AcceptPolicy::Nobody,
        ..Config::default()
    };
    let mut p = Pair::with(
        "nobody",
        Config::default(),
        b,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.alice);
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(matches!(err, Error::Rejected(Rejected::PeerDeclined(_))));

    // Bob only does c2s, Alice allows it: a plain stanza session, both sides.
    let a = Config {
        security: vec![Security::E2e, Security::C2s],
        ..Config::default()
    };
    let b = Config {
        security: vec![Security::C2s],
        ..Config::default()
    };
    let mut p = Pair::with("plain", a, b, MemoryStore::new(), MemoryStore::new());
    let (thread, a, b) = p.negotiate();
    assert!(!a.encrypted && !b.encrypted && a.sas.is_none());
    p.alice.send_message(&sid(BOB, &thread), "clear").unwrap();
    p.run();
    assert_eq!(body(&mut p.bob), ("clear".into(), false));
    p.bob.terminate(&sid(ALICE, &thread), NOW).unwrap();
    p.run();
    assert!(matches!(
        p.alice.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Peer,
            ..
        })
    ));

    // Alice requires e2e and Bob only offers c2s: no acceptable security.
    let b = Config {
        security: vec![Security::C2s],
        ..Config::default()
    };
    let mut p = Pair::with(
        "e2eonly",
        Config::default(),
        b,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert_eq!(
        failed(&mut p.alice),
        Rejected::PeerError {
            condition: "not-acceptable".into(),
            fields: vec!["security".into()]
        }
    );

    // Logging: Bob only accepts `may`; Alice offered mustnot first, may second.
    let b = Config {
        logging: vec![Logging::May],
        ..Config::default()
    };
    let mut p = Pair::with(
        "log",
        Config::default(),
        b,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (_, a, _) = p.negotiate();
    assert_eq!(a.logging, Logging::May);
}

#[test]
fn tampered_replayed_and_reordered_stanzas_end_the_session() {
    let mut p = Pair::new("tamper");
    let (thread, _, _) = p.negotiate();
    p.alice.send_message(&sid(BOB, &thread), "one").unwrap();
    p.alice.send_message(&sid(BOB, &thread), "two").unwrap();
    let first = p.alice.poll_outgoing().unwrap();
    let second = p.alice.poll_outgoing().unwrap();
    // Reordered: the second first fails the MAC; nothing is delivered; Bob terminates.
    let mut s = second.clone();
    s.set_attr("from", ALICE);
    p.bob.handle_stanza(s, NOW);
    let err = failed(&mut p.bob);
    assert_eq!(err.kind(), ErrorKind::Decryption);
    assert_eq!(err, StanzaFault::MacMismatch);
    assert!(p.bob.poll_event().is_none());
    assert!(
        p.bob.poll_outgoing().is_some(),
        "best-effort encrypted terminate"
    );
    let mut s = first;
    s.set_attr("from", ALICE);
    p.bob.handle_stanza(s, NOW);
    assert!(
        matches!(p.bob.poll_event(), Some(Event::Warning { .. })),
        "keys are gone"
    );

    // Replay of an accepted stanza fails; a flipped ciphertext bit fails.
    let mut p = Pair::new("replay");
    let (thread, _, _) = p.negotiate();
    p.alice.send_message(&sid(BOB, &thread), "once").unwrap();
    let mut s = p.alice.poll_outgoing().unwrap();
    s.set_attr("from", ALICE);
    p.bob.handle_stanza(s.clone(), NOW);
    assert_eq!(body(&mut p.bob).0, "once");
    p.bob.handle_stanza(s, NOW);
    assert_eq!(failed(&mut p.bob), StanzaFault::MacMismatch);

    // Clear content inside an ESession is not delivered.
    let mut p = Pair::new("clear");
    let (thread, _, _) = p.negotiate();
    let mut s = crate::stanza::message(BOB, &thread)
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("forged"));
    s.set_attr("from", ALICE);
    p.bob.handle_stanza(s, NOW);
    assert!(matches!(p.bob.poll_event(), Some(Event::Warning { .. })));
    // A clear terminate inside the ESession is ignored too (P10).
    let mut s = crate::stanza::message(BOB, &thread)
        .with_child(crate::stanza::termination(FormType::Submit));
    s.set_attr("from", ALICE);
    p.bob.handle_stanza(s, NOW);
    assert!(matches!(p.bob.poll_event(), Some(Event::Warning { .. })));
    p.alice
        .send_message(&sid(BOB, &thread), "still fine")
        .unwrap();
    p.run();
    assert_eq!(body(&mut p.bob).0, "still fine");

    // Another resource of Alice cannot inject into the bound session.
    let mut p = Pair::new("resource");
    let (thread, _, _) = p.negotiate();
    p.alice.send_message(&sid(BOB, &thread), "x").unwrap();
    let mut s = p.alice.poll_outgoing().unwrap();
    s.set_attr("from", "alice@example.org/other");
    p.bob.handle_stanza(s, NOW);
    assert!(matches!(p.bob.poll_event(), Some(Event::Warning { .. })));
}

/// A session with re-keying off (profile P9) whose sender Alice reached the 2^32-block
/// limit ([`exhaust`]).
fn exhausted(label: &str) -> Pair {
    let off = Config {
        rekey_freq: u32::MAX,
        ..Config::default()
    };
    let mut p = Pair::with(
        label,
        off.clone(),
        off,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, _, _) = p.negotiate();
    exhaust(&mut p, &thread);
    p
}

/// Brings Alice's send counter in session `thread` to the 2^32-block limit (XEP-0200 §9)
/// and checks that her next data stanza is refused with `KeyExhausted`.
pub(crate) fn exhaust(p: &mut Pair, thread: &str) {
    p.alice
        .channel_mut(&sid(BOB, thread))
        .unwrap()
        .set_sent_blocks((1u128 << 32) - 65);
    let err = p
        .alice
        .send_message(&sid(BOB, thread), "too much")
        .unwrap_err();
    assert_eq!(err, Usage::KeyExhausted);
}

#[test]
fn crossing_terminates_and_key_exhaustion() {
    let mut p = Pair::new("cross");
    let (thread, _, _) = p.negotiate();
    p.alice.terminate(&sid(BOB, &thread), NOW).unwrap();
    p.bob.terminate(&sid(ALICE, &thread), NOW).unwrap();
    p.run();
    assert!(matches!(
        p.alice.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Us,
            ..
        })
    ));
    assert!(matches!(
        p.bob.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Us,
            ..
        })
    ));
    assert!(p.alice.session_ids().is_empty() && p.bob.session_ids().is_empty());

    // Re-keying off (profile P9): near the 2^32-block limit a data stanza is refused and
    // the session terminated.
    let mut p = exhausted("limit");
    // Found in review: this terminate had no deadline, so a lost acknowledgement kept the
    // session (and its keys) for the engine's life.
    assert!(p.alice.next_timeout().is_some(), "the terminate is awaited");
    p.run();
    assert!(matches!(
        p.bob.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Peer,
            ..
        })
    ));
    // The same, with the terminate lost: it ends at the deadline.
    let mut p = exhausted("limit-lost");
    while p.alice.poll_outgoing().is_some() {}
    p.alice.handle_timeout(NOW.plus(120));
    assert!(p.alice.session_ids().is_empty(), "ended at the deadline");

    // Unacknowledged terminate ends at the deadline.
    let mut p = Pair::new("noack");
    let (thread, _, _) = p.negotiate();
    p.alice.terminate(&sid(BOB, &thread), NOW).unwrap();
    p.alice.handle_timeout(NOW.plus(120));
    assert!(matches!(p.alice.poll_event(), Some(Event::Warning { .. })));
    assert!(matches!(
        p.alice.poll_event(),
        Some(Event::Terminated { .. })
    ));
}

#[test]
fn debug_output_holds_no_secrets() {
    let mut p = Pair::new("debug");
    let (_, _, _) = p.negotiate();
    let dump = format!(
        "{:?}",
        p.alice.store().all_secrets("alice@example.org").unwrap()
    );
    assert!(dump.contains("<redacted>"));
}

/// A renegotiation request that crosses our terminate changes nothing and gets no answer.
#[test]
fn a_renegotiation_crossing_our_terminate_is_ignored() {
    let mut p = Pair::new("reneg-crossing");
    let (thread, _, _) = p.negotiate();
    p.bob
        .renegotiate_logging(&sid(ALICE, &thread), &[Logging::May])
        .unwrap();
    let request: Vec<Element> = std::iter::from_fn(|| p.bob.poll_outgoing()).collect();
    p.alice.terminate(&sid(BOB, &thread), NOW).unwrap();
    while p.alice.poll_outgoing().is_some() {}
    for mut s in request {
        s.set_attr("from", BOB);
        p.alice.handle_stanza(s, NOW);
    }
    assert!(p.alice.poll_outgoing().is_none(), "no answer");
    while let Some(ev) = p.alice.poll_event() {
        assert!(!matches!(ev, Event::Renegotiated(_)), "{ev:?}");
    }
    assert_eq!(
        p.alice.session(&sid(BOB, &thread)).unwrap().logging,
        Logging::MustNot
    );
}

#[test]
fn renegotiation_of_logging_both_roles() {
    // In an ESession the forms travel encrypted; Bob accepts `may`.
    let mut p = Pair::new("reneg");
    let (thread, a, _) = p.negotiate();
    assert_eq!(a.logging, Logging::MustNot);
    p.alice
        .renegotiate_logging(&sid(BOB, &thread), &[Logging::May])
        .unwrap();
    p.run();
    assert!(
        p.wire
            .iter()
            .rev()
            .take(2)
            .all(|(_, s)| !s.contains("renegotiate")),
        "renegotiation is encrypted"
    );
    let Some(Event::Renegotiated(b)) = p.bob.poll_event() else {
        panic!("bob did not renegotiate")
    };
    let Some(Event::Renegotiated(a)) = p.alice.poll_event() else {
        panic!("alice did not renegotiate")
    };
    assert_eq!((a.logging, b.logging), (Logging::May, Logging::May));
    assert_eq!(
        p.alice.session(&sid(BOB, &thread)).unwrap().logging,
        Logging::May
    );
    // The session goes on under the same keys.
    p.bob.send_message(&sid(ALICE, &thread), "after").unwrap();
    p.run();
    assert_eq!(body(&mut p.alice).0, "after");

    // Bob refuses `may`: [8] the session keeps its terms, both sides are told.
    let b = Config {
        logging: vec![Logging::MustNot],
        ..Config::default()
    };
    let mut p = Pair::with(
        "reneg-no",
        Config::default(),
        b,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, _, _) = p.negotiate();
    p.alice
        .renegotiate_logging(&sid(BOB, &thread), &[Logging::May])
        .unwrap();
    p.run();
    assert!(matches!(p.bob.poll_event(), Some(Event::Warning { .. })));
    assert!(matches!(p.alice.poll_event(), Some(Event::Warning { .. })));
    assert_eq!(
        p.alice.session(&sid(BOB, &thread)).unwrap().logging,
        Logging::MustNot
    );

    // In a plain session the forms travel in clear, and Bob can start one too.
    let a = Config {
        security: vec![Security::C2s],
        ..Config::default()
    };
    let b = Config {
        security: vec![Security::C2s],
        ..Config::default()
    };
    let mut p = Pair::with("reneg-plain", a, b, MemoryStore::new(), MemoryStore::new());
    let (thread, _, _) = p.negotiate();
    p.bob
        .renegotiate_logging(&sid(ALICE, &thread), &[Logging::May])
        .unwrap();
    p.run();
    assert!(p.wire.iter().any(|(_, s)| s.contains("renegotiate")));
    assert!(matches!(p.alice.poll_event(), Some(Event::Renegotiated(_))));
    assert!(matches!(p.bob.poll_event(), Some(Event::Renegotiated(_))));
}

#[test]
fn decline_carries_a_reason() {
    let b = Config {
        accept: AcceptPolicy::Only(vec!["carol@example.net".into()]),
        ..Config::default()
    };
    let mut p = Pair::with(
        "reason",
        Config::default(),
        b,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let err = failed(&mut p.alice);
    assert!(
        matches!(&err, Error::Rejected(Rejected::PeerDeclined(Some(r))) if r.contains("not accepting"))
    );
}

#[test]
fn negotiation_takes_dh_values_from_a_pool_and_falls_back() {
    use crate::crypto::{DhPool, ModpGroup};
    let config = Config {
        groups: vec![5, 14],
        ..Config::default()
    };
    let mut p = Pair::with(
        "pool",
        config.clone(),
        config,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    // Two values for group 5, none for group 14: Alice takes one for 5 and computes 14,
    // Bob (who picks group 5) takes the other.
    let pool = DhPool::new();
    pool.fill(5, 2, &mut SeededRandom::from_label("pool/engine"))
        .unwrap();
    let mut expected = SeededRandom::from_label("pool/engine");
    let g5 = ModpGroup::get(5).unwrap();
    let pooled = [
        g5.generate_secret(&mut expected).expose_mpi(),
        g5.generate_secret(&mut expected).expose_mpi(),
    ];
    p.alice.set_dh_pool(Some(pool.clone()));
    p.bob.set_dh_pool(Some(pool.clone()));
    assert!(p.alice.dh_pool().is_some());
    let _ = crate::transcript::take();
    let (thread, a, b) = p.negotiate();
    assert_eq!(a.sas, b.sas);
    assert_eq!(a.group, Some(5));
    assert!(pool.is_empty(), "both pooled values were used: {pool:?}");
    // The transcript records the secrets actually used: the pooled ones.
    let t = crate::transcript::take();
    let get = |label: &str| {
        t.iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let (x5, y) = (get("alice.x.5"), get("bob.y"));
    assert_ne!(x5, y);
    assert!(pooled.contains(&x5) && pooled.contains(&y));
    assert!(!pooled.contains(&get("alice.x.14")));
    p.alice.send_message(&sid(BOB, &thread), "pooled").unwrap();
    p.run();
    assert!(matches!(
        p.bob.poll_event(),
        Some(Event::Message { body: Some(b), encrypted: true, .. }) if b == "pooled"
    ));
    // With the pool empty, a second negotiation computes its values.
    let (_, a, b) = p.negotiate();
    assert_eq!(a.sas, b.sas);
    p.alice.set_dh_pool(None);
    assert!(p.alice.dh_pool().is_none());
}

#[test]
fn a_terminate_that_cannot_be_sealed_leaves_the_session_as_it_was() {
    // Profile P10: an ESession ends with an encrypted terminate. When it cannot be sealed,
    // the session stays as it was: neither dropped nor answered with a clear cancel.
    let mut p = Pair::new("unsealable");
    let (thread, _, _) = p.negotiate();
    p.alice
        .channel_mut(&sid(BOB, &thread))
        .unwrap()
        .close_send();
    for _ in 0..2 {
        let err = p.alice.terminate(&sid(BOB, &thread), NOW).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(p.alice.poll_outgoing().is_none());
        assert!(p.alice.poll_event().is_none());
        assert!(p.alice.session(&sid(BOB, &thread)).is_some());
    }
}

#[test]
fn a_sender_that_is_not_a_jid_is_ignored() {
    let mut p = Pair::new("bad-from");
    p.alice.start_str("bob@example.com", NOW).unwrap();
    let mut request = p.alice.poll_outgoing().unwrap();
    // RFC 7622 §3: no domain, an empty local part or resource, two '@'.
    for bad in [
        "alice@",
        "@example.org/pda",
        "a@b@example.org/x",
        "alice@example.org/",
    ] {
        let mut s = request.clone();
        s.set_attr("from", bad);
        p.bob.handle_stanza(s, NOW);
        assert!(p.bob.poll_outgoing().is_none(), "{bad}");
        assert!(p.bob.poll_event().is_none(), "{bad}");
    }
    request.set_attr("from", ALICE);
    p.bob.handle_stanza(request, NOW);
    assert!(
        p.bob.poll_outgoing().is_some(),
        "the same request from a JID is answered"
    );
}

#[test]
fn senders_are_normalized_once_where_they_come_in() {
    let mut p = Pair::new("normalized-from");
    let thread = p.alice.start_str("bob@example.com", NOW).unwrap();
    // RFC 7622 §3.2–3.3: node and domain are case-folded; the resource is kept.
    p.run_with(|from_alice, s| {
        if from_alice {
            s.set_attr("from", "Alice@Example.ORG/pda");
        }
    });
    let (a, b) = (established(&mut p.alice), established(&mut p.bob));
    assert_eq!(b.peer.as_str(), ALICE);
    assert_eq!(b.id, sid("alice@example.org", &thread));
    assert_eq!(a.sas, b.sas);
    p.bob.send_message(&b.id, "to the normalized JID").unwrap();
    let to = p.bob.poll_outgoing().unwrap();
    assert_eq!(to.attr("to"), Some(ALICE));
}

#[test]
fn the_delivered_stanza_keeps_only_the_thread_of_its_clear_children() {
    // Profile P9: of the clear children only `<thread/>` is kept, as the session's
    // thread: the received element reused, its attributes dropped, its text one node.
    let mut p = Pair::new("delivered-thread");
    let (thread, _, _) = p.negotiate();
    let (head, tail) = thread.split_at(5);
    let received = |stanza: &mut Element| {
        for node in stanza.nodes_mut() {
            if let Node::Element(e) = node {
                if e.is("thread", ns::JABBER_CLIENT) {
                    e.set_attr("parent", "elsewhere");
                    *e.nodes_mut() = vec![Node::Text(head.into()), Node::Text(tail.into())];
                }
            }
        }
    };
    for split in [false, true] {
        p.alice.send_message(&sid(BOB, &thread), "hello").unwrap();
        let mut s = p.alice.poll_outgoing().unwrap();
        s.set_attr("from", ALICE);
        s.set_attr("id", "m1");
        if split {
            received(&mut s);
        }
        p.bob.handle_stanza(s, NOW);
        let Some(Event::Message { stanza, body, .. }) = p.bob.poll_event() else {
            panic!("a message");
        };
        assert_eq!(body.as_deref(), Some("hello"));
        assert_eq!(
            (stanza.attr("id"), stanza.attr("from")),
            (Some("m1"), Some(ALICE))
        );
        let names: Vec<&str> = stanza.children().map(Element::name).collect();
        assert_eq!(names, ["thread", "body"], "split: {split}");
        let t = stanza.child("thread", ns::JABBER_CLIENT).unwrap();
        assert!(t.attrs().is_empty());
        assert_eq!(t.nodes(), [Node::Text(thread.clone())]);
    }
}
