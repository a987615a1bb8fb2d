//! The Gajim compatibility mode (issue 13) against the Gajim-behaviour double: every
//! deviation in both roles, non-ASCII traffic, retained secrets over three sessions, the
//! B1 counters avoided, detection, refusals, and the strict mode left alone.
use super::tests::full;
use super::*;
use crate::compat::gajim::request_is_gajim;
use crate::compat::gajim_double::{c14n, Gajim, Seen, Version};
use crate::config::{Flow, Logging};
use crate::error::{CompatRefusal, ErrorKind, Rejected, RequestRefused, Usage};
use crate::event::{EndedBy, SrsStatus};
use crate::forms::Form;
use crate::random::SeededRandom;
use crate::store::MemoryStore;
use crate::warning::Warning;
use crate::xml::{parse_element, Limits};

pub(crate) const US: &str = "romeo@example.net/orchard";
pub(crate) const GAJIM: &str = "juliet@example.com/balcony";
const GAJIM_BARE: &str = "juliet@example.com";
const NOW: Timestamp = Timestamp(1_800_000_000);

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

/// What crosses the server: serialized, parsed back, stamped with `from`.
fn wire(stanza: &Element, from: &str) -> Element {
    let mut s = parse_element(&stanza.to_string(), &Limits::default()).unwrap();
    s.set_attr("from", from);
    s
}

pub(crate) struct Link {
    pub(crate) us: Engine<MemoryStore>,
    pub(crate) gajim: Gajim,
    /// Every stanza that crossed, as text (from us = true).
    pub(crate) wire: Vec<(bool, String)>,
}

impl Link {
    pub(crate) fn new(label: &str, version: Version, config: Config) -> Self {
        Link {
            us: Engine::new(
                FullJid::new(US).unwrap(),
                config,
                MemoryStore::new(),
                Box::new(SeededRandom::from_label(&format!("{label}/us"))),
            ),
            gajim: Gajim::new(version, &format!("{label}/gajim")),
            wire: Vec::new(),
        }
    }

    pub(crate) fn run(&mut self) {
        loop {
            let mut moved = false;
            while let Some(s) = self.us.poll_outgoing() {
                self.wire.push((true, s.to_string()));
                self.gajim.handle(&wire(&s, US));
                moved = true;
            }
            while let Some(s) = self.gajim.poll() {
                self.wire.push((false, s.to_string()));
                self.us.handle_stanza(wire(&s, GAJIM), NOW);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.us.poll_event()).collect()
    }

    pub(crate) fn established(&mut self) -> SessionInfo {
        let events = self.events();
        events
            .into_iter()
            .find_map(|e| match e {
                Event::Established(info) => Some(info),
                _ => None,
            })
            .unwrap_or_else(|| panic!("not established; Gajim saw {:?}", self.gajim.seen))
    }

    /// We start with Gajim, recognised by its caps node.
    pub(crate) fn we_start(&mut self) -> (SessionId, SessionInfo) {
        self.us
            .note_peer_client(&full(GAJIM), PeerClient::CapsNode("http://gajim.org"));
        self.us.start(&jid(GAJIM_BARE), NOW).unwrap();
        self.run();
        let info = self.established();
        (info.id.clone(), info)
    }

    /// Gajim starts with us.
    pub(crate) fn gajim_starts(&mut self) -> (SessionId, SessionInfo) {
        self.gajim.start(US);
        self.run();
        let info = self.established();
        (info.id.clone(), info)
    }

    pub(crate) fn gajim_established(&self) -> (String, bool) {
        self.gajim
            .seen
            .iter()
            .rev()
            .find_map(|s| match s {
                Seen::Established { sas, srs_found } => Some((sas.clone(), *srs_found)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("Gajim not established: {:?}", self.gajim.seen))
    }

    /// `n` messages each way, every other one non-ASCII; each arrives intact.
    fn talk(&mut self, thread: &SessionId, n: usize) {
        for i in 0..n {
            let ours = if i % 2 == 0 {
                format!("message {i} from us")
            } else {
                format!("Grüße {i} — ☃ ünïcödé from us")
            };
            let theirs = if i % 2 == 0 {
                format!("ça va {i}? ☕ naïve")
            } else {
                format!("plain {i} from gajim")
            };
            self.us.send_message(thread, &ours).unwrap();
            self.gajim.send(&theirs).unwrap();
            self.run();
            assert_eq!(self.gajim.seen.last(), Some(&Seen::Message(ours.clone())));
            assert_eq!(self.received(), [theirs], "Gajim saw {:?}", self.gajim.seen);
        }
    }

    /// The bodies of the encrypted messages we received since the last events were read.
    pub(crate) fn received(&mut self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Message {
                    body: Some(b),
                    encrypted: true,
                    ..
                } => Some(b),
                _ => None,
            })
            .collect()
    }
}

fn assert_gajim_mode(info: &SessionInfo) {
    assert_eq!(info.compat, Some(Compat::Gajim));
    assert_eq!(info.crypt, Some("aes128-ctr"));
    assert_eq!(info.sas_alg, Some(crate::crypto::SasAlg::Classic));
    assert_eq!(info.rekey_freq, Some(u32::MAX));
    assert_eq!(info.flow, Some(4));
    assert_eq!(Compat::Gajim.costs().len(), 3);
}

#[test]
fn we_initiate_toward_gajim_1_0_and_talk_both_ways() {
    let mut link = Link::new("gajim/init", Version::V1_0, Config::default());
    let (thread, info) = link.we_start();
    assert_gajim_mode(&info);
    // D6: both users read the same letters (Gajim's unpadded form).
    let (gajim_sas, srs) = link.gajim_established();
    assert_eq!(info.sas.as_deref(), Some(gajim_sas.as_str()));
    assert!(!srs);
    // D9: our first group is one Gajim knows; logging is Gajim's first preference, no dialog.
    assert_eq!(info.group, Some(15));
    assert_eq!(info.logging, Logging::May);
    assert!(!link.gajim.seen.iter().any(|s| matches!(s, Seen::Dialog(_))));
    // The letters Gajim's user reads out verify on our side.
    assert_eq!(link.us.verify_sas(&thread, &gajim_sas), Ok(true));
    link.talk(&thread, 8);
    // D7: our terminate goes in clear, and the session ends at once.
    link.us.terminate(&thread, NOW).unwrap();
    link.run();
    assert_eq!(link.gajim.seen.last(), Some(&Seen::Terminated));
    assert!(link.events().iter().any(|e| matches!(
        e,
        Event::Terminated {
            by: EndedBy::Us,
            ..
        }
    )));
    assert!(link.us.session_ids().is_empty());
    let last = &link.wire.last().unwrap().1;
    assert!(
        last.contains("terminate") && !last.contains("<c "),
        "{last}"
    );
}

#[test]
fn gajim_1_0_initiates_we_recognise_it_and_talk_both_ways() {
    let mut link = Link::new("gajim/resp", Version::V1_0, Config::default());
    let (thread, info) = link.gajim_starts();
    assert_gajim_mode(&info);
    assert_eq!(info.role, Role::Responder);
    let (gajim_sas, _) = link.gajim_established();
    assert_eq!(info.sas.as_deref(), Some(gajim_sas.as_str()));
    // D9: the logging answer is Gajim's first offer; no dialog on its side.
    assert_eq!(info.logging, Logging::May);
    assert!(!link.gajim.seen.iter().any(|s| matches!(s, Seen::Dialog(_))));
    link.talk(&thread, 8);
    // D7: Gajim's clear terminate ends the session, with a warning that it is unauthenticated.
    link.gajim.terminate();
    link.run();
    let events = link.events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Terminated {
            by: EndedBy::Peer,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Warning {
            detail: Warning::GajimClearTerminate,
            ..
        }
    )));
    assert!(link.us.session_ids().is_empty());
}

/// D2-tail: Gajim 1.0 pads to 16 characters, so a non-ASCII message leaves a keystream
/// tail that its next message consumes first.
#[test]
fn gajim_keystream_tails_are_consumed_by_the_next_stanza() {
    let mut link = Link::new("gajim/tail", Version::V1_0, Config::default());
    let (_, _) = link.gajim_starts();
    for body in ["é", "ünïcödé ☃☃☃", "ascii after a tail", "ß", "x"] {
        link.gajim.send(body).unwrap();
        link.run();
        let got = link.events().into_iter().find_map(|e| match e {
            Event::Message { body: Some(b), .. } => Some(b),
            _ => None,
        });
        assert_eq!(got.as_deref(), Some(body));
    }
}

/// D5: what we encrypt is padded to whole blocks, so Gajim never keeps a tail for us.
#[test]
fn our_plaintext_is_padded_to_whole_blocks() {
    let mut link = Link::new("gajim/pad", Version::V1_0, Config::default());
    let (thread, _) = link.we_start();
    link.us.send_message(&thread, "é").unwrap();
    let stanza = link.us.poll_outgoing().unwrap();
    let data = stanza
        .child("c", ns::STANZA_ENCRYPTION)
        .and_then(|c| c.child("data", ns::STANZA_ENCRYPTION))
        .unwrap()
        .text();
    assert_eq!(crate::b64::decode("data", &data).unwrap().len() % 16, 0);
}

/// Retained secrets carried over sessions 2 and 3, in both roles.
#[test]
fn retained_secrets_match_over_three_sessions_in_both_roles() {
    let mut link = Link::new("gajim/srs", Version::V1_0, Config::default());
    for round in 0..3 {
        let (thread, info) = if round % 2 == 0 {
            link.we_start()
        } else {
            link.gajim_starts()
        };
        let (gajim_sas, srs_found) = link.gajim_established();
        assert_eq!(
            info.sas.as_deref(),
            Some(gajim_sas.as_str()),
            "round {round}"
        );
        let expected = if round == 0 {
            SrsStatus::None
        } else {
            SrsStatus::Matched
        };
        assert_eq!(info.srs, expected, "round {round}");
        assert_eq!(srs_found, round > 0, "round {round}");
        link.talk(&thread, 1);
        link.us.terminate(&thread, NOW).unwrap();
        link.run();
        link.events();
    }
}

/// B1: Gajim 1.0 crashes on a counter below 2^120. Every C_A we draw as responder avoids
/// it (profile P2), so every session Gajim starts with us establishes.
///
/// D6 on the way: both sides show the same SAS, some of them shorter than 5 letters.
#[test]
fn sessions_we_answer_never_hit_gajim_b1() {
    let mut short = 0;
    for i in 0..32 {
        let mut link = Link::new(&format!("gajim/b1/{i}"), Version::V1_0, Config::default());
        let (thread, info) = link.gajim_starts();
        let (gajim_sas, _) = link.gajim_established();
        assert_eq!(info.sas.as_deref(), Some(gajim_sas.as_str()));
        short += usize::from(gajim_sas.len() < 5);
        link.talk(&thread, 1);
        assert!(!link
            .gajim
            .seen
            .iter()
            .any(|s| matches!(s, Seen::Crashed(_))));
    }
    assert!(
        short > 0,
        "no SAS with a leading zero digit among these seeds"
    );
}

/// The double models B1: when Gajim answers with a C_A whose first octet is 0x00, it
/// crashes verifying message 3 and sends nothing; we only see a timeout.
#[test]
fn gajim_b1_when_it_answers_is_a_timeout_for_us() {
    let mut link = Link::new("gajim/b1-crash", Version::V1_0, Config::default());
    link.gajim.force_counter = Some(0x00ab_cdef_0123_4567_89ab_cdef_0123_4567);
    link.us.note_peer_client(
        &full(GAJIM),
        PeerClient::Software {
            name: "Gajim",
            version: "1.0.3",
        },
    );
    let id = link.us.start(&jid(GAJIM_BARE), NOW).unwrap();
    link.run();
    assert!(matches!(link.gajim.seen.last(), Some(Seen::Crashed(_))));
    // We can tell why message 4 does not come.
    assert!(link.us.stalled_by_gajim_bug(&id));
    let later = Timestamp(NOW.0 + 3600);
    link.us.handle_timeout(later);
    let events = link.events();
    // The timeout itself says why (one text for every interface).
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Failed { error: error @ Error::Timeout { gajim_stall: true, .. }, .. }
            if error.kind() == ErrorKind::Timeout
                && error.to_string().ends_with(crate::GAJIM_STALL)
    )));
}

/// B1's other half: a C_A starting with 0x80 crashes Gajim building message 4; a C_A
/// that avoids both octets is not blamed on Gajim when message 4 is late.
#[test]
fn a_late_message_4_is_blamed_on_b1_only_for_its_counters() {
    for (counter, crashes) in [
        (0x80ab_cdef_0123_4567_89ab_cdef_0123_4567u128, true),
        (0x01ab_cdef_0123_4567_89ab_cdef_0123_4567u128, false),
    ] {
        let mut link = Link::new("gajim/b1-blame", Version::V1_0, Config::default());
        link.gajim.force_counter = Some(counter);
        link.us
            .note_peer_client(&full(GAJIM), PeerClient::CapsNode("http://gajim.org"));
        let id = link.us.start(&jid(GAJIM_BARE), NOW).unwrap();
        // Messages 1 to 3 cross; Gajim's answer to message 3 is held back.
        while let Some(s) = link.us.poll_outgoing() {
            link.gajim.handle(&wire(&s, US));
        }
        while let Some(s) = link.gajim.poll() {
            link.us.handle_stanza(wire(&s, GAJIM), NOW);
        }
        while let Some(s) = link.us.poll_outgoing() {
            link.gajim.handle(&wire(&s, US));
        }
        let crashed = matches!(link.gajim.seen.last(), Some(Seen::Crashed(_)));
        assert_eq!(crashed, crashes, "{:?}", link.gajim.seen);
        assert_eq!(link.us.stalled_by_gajim_bug(&id), crashes);
    }
}

/// D4 against Gajim 0.16 (bug B2): with a C_A whose first octet is 0x00, Gajim checks our
/// stanzas with the 16-octet counter; ours carry exactly that, and its minimal-counter MACs
/// verify on our side.
#[test]
fn d4_sixteen_octet_counter_toward_gajim_0_16() {
    let mut link = Link::new("gajim/b2", Version::V0_16, Config::default());
    link.gajim.force_counter = Some(0x0012_3456_789a_bcde_f012_3456_789a_bcde);
    let (thread, _) = link.we_start();
    link.talk(&thread, 4);
}

/// Gajim 0.16 pads by octets; everything else is the same.
#[test]
fn gajim_0_16_in_both_roles() {
    let mut link = Link::new("gajim/016", Version::V0_16, Config::default());
    let (thread, _) = link.gajim_starts();
    link.talk(&thread, 2);
    link.us.terminate(&thread, NOW).unwrap();
    link.run();
    let (thread, _) = link.we_start();
    link.talk(&thread, 2);
}

/// Detection as responder: all four signs, and only together.
#[test]
fn gajim_request_shape_is_recognised_only_with_all_its_signs() {
    let mut g = Gajim::new(Version::V1_0, "gajim/shape");
    let thread = g.start(US);
    let msg1 = g.poll().unwrap();
    let x = msg1
        .child("feature", ns::FEATURE_NEG)
        .and_then(|f| f.child("x", ns::DATA))
        .unwrap()
        .clone();
    let form = Form::parse(&x).unwrap();
    assert!(request_is_gajim(&form, &thread));
    assert!(!request_is_gajim(&form, &thread[..31]));
    assert!(!request_is_gajim(&form, &format!("{}1", &thread[..31])));
    let without = |var: &str| {
        let mut f = form.clone();
        f.fields.retain(|fl| fl.var.as_deref() != Some(var));
        f
    };
    assert!(!request_is_gajim(&without("sign_algs"), &thread));
    assert!(!request_is_gajim(&without("ver"), &thread));
    let mut long_nonce = form.clone();
    for f in &mut long_nonce.fields {
        if f.var.as_deref() == Some("my_nonce") {
            f.values = vec![crate::b64::encode(&[7u8; 32])];
        }
    }
    assert!(!request_is_gajim(&long_nonce, &thread));
    // Our own strict request never looks like Gajim's.
    let mut ours = Engine::new(
        FullJid::new(US).unwrap(),
        Config::default(),
        MemoryStore::new(),
        Box::new(SeededRandom::from_label("gajim/shape/us")),
    );
    let our_thread = ours.start(&jid(GAJIM), NOW).unwrap();
    let msg1 = ours.poll_outgoing().unwrap();
    let x = msg1
        .child("feature", ns::FEATURE_NEG)
        .and_then(|f| f.child("x", ns::DATA))
        .unwrap();
    assert!(!request_is_gajim(
        &Form::parse(x).unwrap(),
        our_thread.thread()
    ));
}

/// D3: Gajim's normalization writes empty elements self-closing; ours (profile P4) does
/// not, and in the Gajim mode ours matches the double's.
#[test]
fn d3_normalization_matches_gajims_c14n() {
    let mut g = Gajim::new(Version::V1_0, "gajim/c14n");
    g.start(US);
    let msg1 = wire(&g.poll().unwrap(), GAJIM);
    let x = msg1
        .child("feature", ns::FEATURE_NEG)
        .and_then(|f| f.child("x", ns::DATA))
        .unwrap();
    let gajims: String = x.children().map(c14n).collect();
    let dialect = crate::compat::gajim::Dialect::Gajim;
    assert_eq!(dialect.form(x), gajims);
    assert!(gajims.contains("<required />"));
    let profile = crate::compat::gajim::Dialect::Profile.form(x);
    assert!(profile.contains("<required></required>"));
    assert_ne!(profile, gajims);
}

/// Under `Auto`, a peer without Gajim's signs gets the profile; `Strict` keeps it even for
/// a Gajim-shaped request, which then fails as a profile-exact peer fails against Gajim.
#[test]
fn strict_and_auto_without_signs_speak_the_profile() {
    // Auto, no caps known: our message 1 is the profile's, and Gajim fails at message 3.
    let mut link = Link::new("gajim/auto", Version::V1_0, Config::default());
    link.us.start(&jid(GAJIM_BARE), NOW).unwrap();
    link.run();
    assert!(
        link.gajim
            .seen
            .iter()
            .any(|s| matches!(s, Seen::Refused(why) if why.contains("calculated mac differs"))),
        "{:?}",
        link.gajim.seen
    );
    assert!(!link
        .events()
        .iter()
        .any(|e| matches!(e, Event::Established(_))));
    // Strict for this contact: Gajim's request is answered by the profile and fails.
    let mut link = Link::new("gajim/strict", Version::V1_0, Config::default());
    link.us
        .set_compat(&BareJid::new(GAJIM_BARE).unwrap(), Some(Compat::Strict));
    link.gajim.start(US);
    link.run();
    let events = link.events();
    assert!(!events.iter().any(|e| matches!(e, Event::Established(_))));
    assert!(events.iter().any(|e| matches!(e, Event::Failed { .. })));
    // Between two profile peers nothing changes: no compat marker.
    let mut pair = super::tests::Pair::new("gajim/none");
    let (_, a, b) = pair.negotiate();
    assert_eq!((a.compat, b.compat), (None, None));
    // A caps node that is not Gajim's leaves Auto on the profile.
    let mut link = Link::new("gajim/other", Version::V1_0, Config::default());
    assert!(!link.us.note_peer_client(
        &full(GAJIM),
        PeerClient::CapsNode("https://conversations.im")
    ));
    assert_eq!(
        link.us.core.initiator_dialect(&jid(GAJIM)),
        crate::compat::gajim::Dialect::Profile
    );
    // The contact's setting `gajim` forces the mode without signs.
    link.us
        .set_compat(&BareJid::new(GAJIM_BARE).unwrap(), Some(Compat::Gajim));
    link.us.start(&jid(GAJIM_BARE), NOW).unwrap();
    link.run();
    assert_gajim_mode(&link.established());
}

/// Issue 13 §1: the signs are kept per resource: Gajim on one resource and another client
/// on the next each get their own dialect, a bare JID Gajim's only when every resource with
/// a sign showed Gajim's, and a forgotten resource no longer counts.
#[test]
fn each_resource_gets_the_dialect_of_its_own_client() {
    use crate::compat::gajim::Dialect;
    let mut link = Link::new("gajim/resources", Version::V1_0, Config::default());
    let phone = "juliet@example.com/phone";
    let dialect = |link: &Link, to: &str| link.us.core.initiator_dialect(&jid(to));
    link.us
        .note_peer_client(&full(GAJIM), PeerClient::CapsNode("http://gajim.org"));
    link.us.note_peer_client(
        &full(phone),
        PeerClient::CapsNode("https://conversations.im"),
    );
    assert_eq!(dialect(&link, GAJIM), Dialect::Gajim);
    assert_eq!(dialect(&link, phone), Dialect::Profile);
    assert_eq!(dialect(&link, GAJIM_BARE), Dialect::Profile);
    // The phone went away: every resource left with a sign is Gajim.
    link.us.forget_peer_client(&full(phone));
    assert_eq!(dialect(&link, GAJIM_BARE), Dialect::Gajim);
    link.us.forget_peer_client(&full(GAJIM));
    assert_eq!(dialect(&link, GAJIM), Dialect::Profile);
    assert_eq!(dialect(&link, GAJIM_BARE), Dialect::Profile);
}

/// What Gajim lacks is refused in this mode, naming it.
#[test]
fn refusals_name_what_gajim_lacks() {
    let cases: [(Config, &str); 4] = [
        (
            Config {
                flow: Flow::Three,
                ..Config::default()
            },
            "3-message",
        ),
        (
            Config {
                compress: vec![crate::compress::CompressAlg::Zlib],
                ..Config::default()
            },
            "zlib",
        ),
        (
            Config {
                sas: vec![crate::crypto::SasAlg::Committed],
                ..Config::default()
            },
            "sas28x5",
        ),
        (
            Config {
                present_pubkey: vec![crate::config::PubkeyMode::Key],
                ..Config::default()
            },
            "public-key",
        ),
    ];
    for (config, word) in cases {
        let initiator_only = config.flow == Flow::Three;
        let mut link = Link::new("gajim/refuse", Version::V1_0, config);
        link.us
            .set_compat(&BareJid::new(GAJIM_BARE).unwrap(), Some(Compat::Gajim));
        let err = link.us.start(&jid(GAJIM_BARE), NOW).unwrap_err();
        assert!(
            matches!(&err, Error::Usage(Usage::Compat(c)) if c.to_string().contains(word)),
            "{err}"
        );
        assert!(err.to_string().contains("Gajim compatibility mode refuses"));
        // As responder, Gajim's request is refused the same way (the flow is the
        // initiator's choice: a 3-message policy answers Gajim's 4-message request).
        link.gajim.start(US);
        link.run();
        let events = link.events();
        if initiator_only {
            assert!(events.iter().any(|e| matches!(e, Event::Established(_))));
            continue;
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Failed { error, .. }
                if matches!(error, Error::Rejected(Rejected::Request(RequestRefused::Compat(c, _)))
                    if c.to_string().contains(word)))),
            "{events:?}"
        );
    }
    // Re-keying is refused in an established Gajim-mode session.
    let mut link = Link::new("gajim/rekey", Version::V1_0, Config::default());
    let (thread, _) = link.we_start();
    let err = link.us.rekey(&thread).unwrap_err();
    assert!(matches!(
        err,
        Error::Usage(Usage::Compat(CompatRefusal::Rekey))
    ));
    // So is a renegotiation, which Gajim would never answer.
    let err = link
        .us
        .renegotiate_logging(&thread, &[Logging::MustNot])
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Usage(Usage::Compat(CompatRefusal::Renegotiation))
    ));
    assert!(link.us.poll_outgoing().is_none());
}
