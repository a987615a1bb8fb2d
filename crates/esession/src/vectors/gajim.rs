//! The Gajim vectors `gajim-*.json` (issue 13 §5, `docs/vectors.md` "The Gajim vectors"):
//! the engine in its Gajim compatibility mode against the Gajim-behaviour double
//! ([`crate::compat::gajim_double`], which records its random draws as the engine does), in
//! both roles, with and without a retained secret; then stanzas both ways, non-ASCII ones
//! included, and a terminate in clear (D7). The negotiation is recomputed as for the
//! profile's 4-message vectors, in the Gajim dialect (D1, D2, D3, D6); the stanzas here, with
//! the keystream carried over between stanzas (D2-tail), the 16-octet counter in the MACs of
//! the stanzas the engine sends (D4) and its space padding (D5).
use super::{
    four_message, hx, json, m_content, parse, secrets, Clear, Negotiated, Run, Spec, Stanza, C, H,
};
use crate::compat::gajim::{Dialect, Stream};
use crate::compat::gajim_double::{Seen, Version};
use crate::crypto::{hmac, mpi_u128, stanza_mac};
use crate::engine::gajim_tests::{Link, GAJIM, US};
use crate::engine::tests::NOW;
use crate::event::{EndedBy, Event, SessionInfo};
use crate::xml::{ns, parse_fragment, Element, Limits, Node};
use crate::SessionId;
use crate::{b64, transcript, Config};
use serde::Serialize;

/// The dialect marker of a Gajim vector (the top-level `dialect`).
#[derive(Serialize)]
pub(super) struct Marker {
    /// `gajim`.
    name: &'static str,
    /// The side Gajim plays (`alice` or `bob`); the other is esession in Gajim mode.
    gajim: &'static str,
    /// `1.0` (pads its plaintext to 16 characters) or `0.16` (to 16 octets).
    gajim_version: &'static str,
}

/// After the negotiation, in this order: who sends (true: esession) and the body. Gajim's
/// first non-ASCII body leaves a keystream tail that every later Gajim stanza starts with
/// (D2-tail); the engine's stanzas are padded to whole blocks (D5) and leave none.
const SCRIPT: [(bool, &str); 7] = [
    (true, "Hello Gajim"),
    (false, "ça va ? ☕ naïve"),
    (false, "plain after a tail"),
    (true, "Grüße — ☃ ünïcödé"),
    (false, "ß"),
    (false, "x"),
    (true, "bye"),
];

/// One Gajim vector to produce.
struct Case {
    file: &'static str,
    name: &'static str,
    label: &'static str,
    version: Version,
    /// The engine starts the negotiation (else Gajim does).
    we_initiate: bool,
    /// A first session (same roles) before the recorded one: its retained secret is found.
    retained: bool,
    /// The C_A Gajim draws when it answers, fixed (D4 shows with a first octet 0x00).
    counter: Option<u128>,
    /// Take the first label `<label>/<i>` whose SAS is shorter than 5 letters (D6).
    short_sas: bool,
}

/// What a Gajim run leaves besides the [`Run`]: the terminate and what Gajim established.
struct Recorded {
    run: Run,
    terminate: (bool, String),
    gajim_sas: String,
    gajim_srs: bool,
}

/// The initiator of `case` starts a session; returns our view of it once established.
fn open(link: &mut Link, case: &Case) -> (SessionId, SessionInfo) {
    if case.we_initiate {
        link.we_start()
    } else {
        link.gajim_starts()
    }
}

/// D7: the initiator's side ends the session with a terminate in clear.
fn close(link: &mut Link, case: &Case, thread: &SessionId) {
    if case.we_initiate {
        link.us.terminate(thread, NOW).unwrap();
        link.run();
        assert_eq!(link.gajim.seen.last(), Some(&Seen::Terminated));
    } else {
        link.gajim.terminate();
        link.run();
        assert!(link.events().iter().any(|e| matches!(
            e,
            Event::Terminated {
                by: EndedBy::Peer,
                ..
            }
        )));
    }
    assert!(link.us.session_ids().is_empty());
}

/// Runs `case` with the seeds of `label`: the optional first session, then the recorded one.
fn record(case: &Case, label: &str) -> Recorded {
    let mut link = Link::new(label, case.version, Config::default());
    link.gajim.force_counter = case.counter;
    if case.retained {
        let (thread, _) = open(&mut link, case);
        close(&mut link, case, &thread);
    }
    let us_bare = US.split('/').next().unwrap_or_default();
    let gajim_bare = GAJIM.split('/').next().unwrap_or_default();
    // P7: the initiator's secrets with the peer; every live secret the responder searches.
    let peer = case.we_initiate.then_some(gajim_bare);
    let ours = secrets(link.us.store(), us_bare, peer);
    let gajims = link
        .gajim
        .retained
        .get(us_bare)
        .cloned()
        .unwrap_or_default();
    let _ = transcript::take();
    let start = link.wire.len();
    let (thread, info) = open(&mut link, case);
    let (gajim_sas, gajim_srs) = link.gajim_established();
    for (from_us, body) in SCRIPT {
        if from_us {
            link.us.send_message(&thread, body).unwrap();
            link.run();
            assert_eq!(link.gajim.seen.last(), Some(&Seen::Message(body.into())));
        } else {
            link.gajim.send(body).unwrap();
            link.run();
            assert_eq!(link.received(), [body], "Gajim saw {:?}", link.gajim.seen);
        }
    }
    close(&mut link, case, &thread);
    let mut wire: Vec<(bool, String)> = link
        .wire
        .split_off(start)
        .into_iter()
        .map(|(from_us, xml)| (from_us == case.we_initiate, xml))
        .collect();
    assert_eq!(wire.len(), 4 + SCRIPT.len() + 1, "{}", case.file);
    let terminate = wire.pop().unwrap();
    let (alice_rs, bob_rs) = match case.we_initiate {
        true => (ours, gajims),
        false => (gajims, ours),
    };
    Recorded {
        run: Run {
            label: label.to_owned(),
            wire,
            transcript: transcript::take(),
            thread: thread.thread().to_owned(),
            alice_rs,
            bob_rs,
            infos: vec![info],
        },
        terminate,
        gajim_sas,
        gajim_srs,
    }
}

/// One direction's send state after the identities: keys, counter and keystream (D2).
struct Direction<'a> {
    kc: &'a [u8],
    km: &'a [u8],
    counter: u128,
    stream: Stream,
    /// Unused keystream octets at the end of the last block (D2-tail).
    tail: usize,
}

/// Opens one data stanza of the Gajim dialect; checks its MAC and its plaintext.
fn stanza(
    case: &Case,
    (from_alice, xml): &(bool, String),
    body: &str,
    d: &mut Direction,
) -> Stanza {
    let by_us = *from_alice == case.we_initiate;
    let msg = parse(xml);
    let c = msg.child("c", ns::STANZA_ENCRYPTION).unwrap();
    let content = m_content(c);
    let before = d.counter;
    // D4: the engine's MACs carry C as 16 octets; Gajim's carry mpi(C), as the profile's.
    let a_mac = if by_us {
        Dialect::Gajim.sent_stanza_mac(|p| hmac(H, d.km, p), content.as_bytes(), before)
    } else {
        stanza_mac(H, d.km, content.as_bytes(), before)
    };
    let sent = c.child("mac", ns::STANZA_ENCRYPTION).unwrap().text();
    assert_eq!(b64::encode(&a_mac), sent, "a_mac");
    let data = c.child("data", ns::STANZA_ENCRYPTION).unwrap().text();
    let mut plain = b64::decode("data", &data).unwrap();
    // D2-tail: the octets left in the last block come first; then whole new blocks.
    let carried = d.tail.min(plain.len());
    let fresh = plain.len() - carried;
    d.tail = match fresh {
        0 => d.tail - carried,
        n => n.next_multiple_of(16) - n,
    };
    let cipher = Dialect::Gajim.key_cipher(C);
    Dialect::Gajim
        .ctr(&mut d.stream, cipher, d.kc, &mut d.counter, &mut plain)
        .unwrap();
    let plaintext = String::from_utf8(plain).unwrap();
    if by_us {
        // D5: our P9 content, padded with spaces to whole blocks.
        let m = format!("<body>{body}</body>");
        assert_eq!(
            plaintext.as_bytes(),
            Dialect::Gajim.pad(m.as_bytes()).as_ref()
        );
    } else {
        let nodes = parse_fragment(&plaintext, ns::JABBER_CLIENT, &Limits::default()).unwrap();
        let sent_body = nodes
            .iter()
            .filter_map(Node::as_element)
            .find(|e| e.name() == "body")
            .map(Element::text);
        assert_eq!(sent_body.as_deref(), Some(body));
    }
    Stanza {
        from: if *from_alice { "alice" } else { "bob" },
        counter_before: hx(&mpi_u128(before)),
        plaintext,
        m_content: content,
        a_mac: hx(&a_mac),
        xml: xml.clone(),
        body: Some(body.to_owned()),
        carried_keystream: Some(carried),
    }
}

/// The vector of `case`.
fn vector(case: Case) -> (Spec, String) {
    let labels = |i: Option<usize>| match i {
        Some(i) => format!("{}/{i}", case.label),
        None => case.label.to_owned(),
    };
    let rec = match case.short_sas {
        false => record(&case, &labels(None)),
        true => (0..1024)
            .map(|i| record(&case, &labels(Some(i))))
            .find(|r| r.gajim_sas.len() < 5)
            .unwrap(),
    };
    let spec = Spec {
        file: case.file,
        name: case.name,
        alice: Config::default(),
        bob: Config::default(),
        oss: None,
        identities: None,
    };
    let run = &rec.run;
    let Negotiated {
        mut vector,
        fin,
        c_a,
        c_b,
    } = four_message(&spec, run, vec![run.label.clone()], Dialect::Gajim);
    // Gajim reads the same letters (D6) and found the same retained secret.
    assert_eq!(rec.gajim_sas, vector.values.sas, "{}", case.file);
    assert_eq!(rec.gajim_srs, vector.values.SRS.is_some(), "{}", case.file);
    assert_eq!(rec.gajim_srs, case.retained, "{}", case.file);
    let mut alice = Direction {
        kc: fin.initiator.kc.expose(),
        km: fin.initiator.km.expose(),
        counter: c_a,
        stream: Stream::default(),
        tail: 0,
    };
    let mut bob = Direction {
        kc: fin.responder.kc.expose(),
        km: fin.responder.km.expose(),
        counter: c_b,
        stream: Stream::default(),
        tail: 0,
    };
    vector.stanzas = run
        .wire
        .iter()
        .skip(4)
        .zip(SCRIPT)
        .map(|(sent, (_, body))| {
            let d = if sent.0 { &mut alice } else { &mut bob };
            stanza(&case, sent, body, d)
        })
        .collect();
    // Gajim 1.0 pads by characters: its non-ASCII stanzas leave tails (0.16 pads by octets).
    let carried = vector.stanzas.iter().any(|s| s.carried_keystream > Some(0));
    assert_eq!(carried, case.version == Version::V1_0, "{}", case.file);
    // D7: the terminate is the SSN form in clear, not inside a <c/>.
    let (from_alice, xml) = &rec.terminate;
    let msg = parse(xml);
    assert!(msg.child("c", ns::STANZA_ENCRYPTION).is_none(), "{xml}");
    assert!(xml.contains("terminate"), "{xml}");
    vector.terminate = Some(Clear {
        from: if *from_alice { "alice" } else { "bob" },
        xml: xml.clone(),
    });
    vector.dialect = Some(Marker {
        name: "gajim",
        gajim: if case.we_initiate { "bob" } else { "alice" },
        gajim_version: match case.version {
            Version::V1_0 => "1.0",
            Version::V0_16 => "0.16",
        },
    });
    (vector.alice.jid, vector.bob.jid) = match case.we_initiate {
        true => (US, GAJIM),
        false => (GAJIM, US),
    };
    json((spec, vector))
}

/// `gajim-we-initiate.json`: the engine starts with Gajim 1.0 (recognised by its caps node).
pub(super) fn we_initiate() -> (Spec, String) {
    vector(Case {
        file: "gajim-we-initiate.json",
        name: "Gajim dialect: esession (Alice, Gajim mode) starts with Gajim 1.0 (Bob); \
               no retained secret; 7 stanzas, non-ASCII both ways; esession's clear terminate",
        label: "vectors/gajim/we-initiate",
        version: Version::V1_0,
        we_initiate: true,
        retained: false,
        counter: None,
        short_sas: false,
    })
}

/// `gajim-0.16-zero-counter.json`: the engine starts with Gajim 0.16 a second time; Gajim's
/// C_A begins with 0x00, so the 16-octet counter of D4 differs from mpi(C).
pub(super) fn zero_counter() -> (Spec, String) {
    vector(Case {
        file: "gajim-0.16-zero-counter.json",
        name: "Gajim dialect: esession (Alice, Gajim mode) starts with Gajim 0.16 (Bob) a \
               second time (retained secret found); Gajim's C_A begins with 0x00 (D4); \
               7 stanzas, non-ASCII both ways; esession's clear terminate",
        label: "vectors/gajim/zero-counter",
        version: Version::V0_16,
        we_initiate: true,
        retained: true,
        counter: Some(0x0042_9a3c_71d5_0e8b_f264_1d97_ac30_58e6),
        short_sas: false,
    })
}

/// `gajim-initiates.json`: Gajim 1.0 starts (recognised by the shape of its request); the
/// first seed whose SAS is shorter than 5 letters (D6).
pub(super) fn gajim_initiates() -> (Spec, String) {
    vector(Case {
        file: "gajim-initiates.json",
        name: "Gajim dialect: Gajim 1.0 (Alice) starts with esession (Bob, Gajim mode); no \
               retained secret; a 4-letter SAS (D6); 7 stanzas, non-ASCII both ways; \
               Gajim's clear terminate",
        label: "vectors/gajim/initiates",
        version: Version::V1_0,
        we_initiate: false,
        retained: false,
        counter: None,
        short_sas: true,
    })
}

/// `gajim-initiates-retained-secret.json`: Gajim 1.0 starts a second time.
pub(super) fn gajim_initiates_retained() -> (Spec, String) {
    vector(Case {
        file: "gajim-initiates-retained-secret.json",
        name: "Gajim dialect: Gajim 1.0 (Alice) starts with esession (Bob, Gajim mode) a \
               second time (retained secret found); 7 stanzas, non-ASCII both ways; Gajim's \
               clear terminate",
        label: "vectors/gajim/initiates-retained",
        version: Version::V1_0,
        we_initiate: false,
        retained: true,
        counter: None,
        short_sas: false,
    })
}
