//! XEP-0200 stanzas of an established session under attack (profile P9, P10).
use super::forge::Forger;
use super::mallory::*;
use crate::config::Config;
use crate::engine::tests::sid;
use crate::engine::tests::{ALICE, BOB};
use crate::error::{Error, ErrorKind, Malformed, StanzaFault};
use crate::event::EndedBy;
use crate::store::MemoryStore;
use crate::xml::{ns, Element};

/// A clean session and `n` messages from Alice ("m0", "m1", …) captured, not delivered.
fn session_with(label: &str, n: usize) -> (Mallory, String, Vec<Element>) {
    session_configured(label, n, Config::default())
}

/// [`session_with`] with re-keying off on both sides (profile P9: rekey_freq 2^32-1).
fn session_rekey_off(label: &str) -> (Mallory, String, Vec<Element>) {
    let off = Config {
        rekey_freq: u32::MAX,
        ..Config::default()
    };
    session_configured(label, 0, off)
}

fn session_configured(label: &str, n: usize, config: Config) -> (Mallory, String, Vec<Element>) {
    let _ = crate::transcript::take();
    let mut m = Mallory::with(
        label,
        config.clone(),
        config,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let thread = m.negotiate();
    for i in 0..n {
        m.alice
            .send_message(&sid(BOB, &thread), &format!("m{i}"))
            .unwrap();
    }
    let out = m.take(Dir::ToBob);
    assert_eq!(out.len(), n);
    (m, thread, out)
}

/// Bob failed with `v`; nothing forged delivered; Bob's session is gone and his
/// best-effort encrypted terminate ends Alice's side cleanly (P9).
#[track_caller]
fn bob_killed_session(m: &mut Mallory, v: StanzaFault, delivered: &[&str]) {
    let b = outcome(&mut m.bob);
    assert_eq!(
        b.failure(),
        Some((ErrorKind::Decryption, v.into())),
        "{b:?}"
    );
    assert_eq!(b.bodies, delivered, "{b:?}");
    assert!(m.bob.session_ids().is_empty());
    m.clean();
    let a = outcome(&mut m.alice);
    assert_eq!(a.terminated, Some(EndedBy::Peer), "{a:?}");
    assert!(
        a.failed.is_none() && m.alice.session_ids().is_empty(),
        "{a:?}"
    );
}

#[test]
fn replayed_stanza_fails() {
    let (mut m, _, out) = session_with("replay", 1);
    m.deliver(Dir::ToBob, out[0].clone());
    m.deliver(Dir::ToBob, out[0].clone());
    bob_killed_session(&mut m, StanzaFault::MacMismatch, &["m0"]);
}

#[test]
fn reordered_stanzas_fail() {
    let (mut m, _, out) = session_with("reorder", 2);
    m.deliver(Dir::ToBob, out[1].clone());
    let b = outcome(&mut m.bob);
    b.assert_failed(ErrorKind::Decryption, StanzaFault::MacMismatch);
    // The first, now late, finds no keys: a warning, not a delivery.
    m.deliver(Dir::ToBob, out[0].clone());
    let b = outcome(&mut m.bob);
    assert!(b.bodies.is_empty() && b.warnings.len() == 1, "{b:?}");
}

#[test]
fn dropped_stanza_makes_the_next_fail() {
    let (mut m, _, out) = session_with("drop", 3);
    m.deliver(Dir::ToBob, out[0].clone());
    m.deliver(Dir::ToBob, out[2].clone());
    bob_killed_session(&mut m, StanzaFault::MacMismatch, &["m0"]);
}

#[test]
fn duplicated_stanza_fails_the_copy() {
    let mut m = Mallory::new("dup");
    let thread = m.negotiate();
    m.alice.send_message(&sid(BOB, &thread), "once").unwrap();
    m.run(|dir, _, s| {
        if dir == Dir::ToBob && is_encrypted(s) && s.attr("type") == Some("chat") {
            Fate::Twice
        } else {
            Fate::Pass
        }
    });
    let b = outcome(&mut m.bob);
    assert_eq!(b.bodies, ["once"]);
    assert_eq!(
        b.failure(),
        Some((ErrorKind::Decryption, StanzaFault::MacMismatch.into()))
    );
    let a = outcome(&mut m.alice);
    assert_eq!(a.terminated, Some(EndedBy::Peer));
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn truncated_base64_data_fails() {
    let (mut m, _, mut out) = session_with("cut", 1);
    rewrite_c_child(&mut out[0], "data", |d| d[..d.len() - 3].to_owned());
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(&mut m, StanzaFault::MacMismatch, &[]);
}

#[test]
fn bit_flipped_in_data_fails() {
    let (mut m, _, mut out) = session_with("flip-data", 1);
    rewrite_c_child(&mut out[0], "data", flip_bit);
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(&mut m, StanzaFault::MacMismatch, &[]);
}

#[test]
fn bit_flipped_in_mac_fails() {
    let (mut m, _, mut out) = session_with("flip-mac", 1);
    rewrite_c_child(&mut out[0], "mac", flip_bit);
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(&mut m, StanzaFault::MacMismatch, &[]);
}

#[test]
fn two_data_elements_fail() {
    let (mut m, _, mut out) = session_with("two-data", 1);
    let c = c_mut(&mut out[0]);
    let data = c.child("data", ns::STANZA_ENCRYPTION).unwrap().clone();
    let mac = c.take_children(|e| e.name() == "mac");
    c.push(data);
    c.push(mac[0].clone());
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(
        &mut m,
        StanzaFault::Malformed(Malformed::Repeated("data".into())),
        &[],
    );
}

#[test]
fn missing_mac_fails() {
    let (mut m, _, mut out) = session_with("no-mac", 1);
    c_mut(&mut out[0]).take_children(|e| e.name() == "mac");
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(&mut m, StanzaFault::Malformed(Malformed::NoMac), &[]);
}

#[test]
fn mac_not_base64_fails() {
    let (mut m, _, mut out) = session_with("mac-b64", 1);
    rewrite_c_child(&mut out[0], "mac", |_| "@@@".into());
    m.deliver(Dir::ToBob, out.remove(0));
    bob_killed_session(&mut m, StanzaFault::Malformed(Malformed::MacNotBase64), &[]);
}

#[test]
fn stanza_reflected_to_its_sender_fails() {
    // Alice's own stanza comes back "from Bob": her receive keys are Bob's, so the MAC
    // fails (the two directions never share keys or counters).
    let mut m = Mallory::new("reflect");
    let thread = m.negotiate();
    m.alice.send_message(&sid(BOB, &thread), "mine").unwrap();
    m.run(|dir, _, s| {
        if dir == Dir::ToBob && is_encrypted(s) && s.attr("type") == Some("chat") {
            Fate::Reflect
        } else {
            Fate::Pass
        }
    });
    let a = outcome(&mut m.alice);
    a.assert_failed(ErrorKind::Decryption, StanzaFault::MacMismatch);
    // Alice's best-effort terminate comes after a stanza Bob never saw (it was
    // reflected), so its MAC fails at Bob too: both sides end, nothing delivered.
    let b = outcome(&mut m.bob);
    b.assert_failed(ErrorKind::Decryption, StanzaFault::MacMismatch);
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn clear_terminate_inside_esession_is_ignored() {
    let mut m = Mallory::new("clear-term");
    let thread = m.negotiate();
    let mut s = crate::stanza::message(BOB, &thread)
        .with_child(crate::stanza::termination(crate::forms::FormType::Submit));
    s.set_attr("from", ALICE);
    m.deliver(Dir::ToBob, s);
    let b = outcome(&mut m.bob);
    assert_eq!(b.warnings.len(), 1, "{b:?}");
    assert!(b.terminated.is_none() && b.failed.is_none());
    assert!(m.bob.poll_outgoing().is_none(), "no acknowledgement");
    // Clear content too is never delivered on the ESession's thread.
    let mut s = crate::stanza::message(BOB, &thread)
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("forged"));
    s.set_attr("from", ALICE);
    m.deliver(Dir::ToBob, s);
    let b = outcome(&mut m.bob);
    assert!(b.clear.is_empty() && b.bodies.is_empty() && b.warnings.len() == 1);
    // The session still works both ways.
    m.alice.send_message(&sid(BOB, &thread), "still").unwrap();
    m.bob.send_message(&sid(ALICE, &thread), "here").unwrap();
    m.clean();
    assert_eq!(outcome(&mut m.bob).bodies, ["still"]);
    assert_eq!(outcome(&mut m.alice).bodies, ["here"]);
    assert_eq!(m.alice.session_ids().len(), 1);
    assert_eq!(m.bob.session_ids().len(), 1);
}

#[test]
fn rekey_key_element_while_rekeying_off_fails() {
    let (mut m, thread, _) = session_rekey_off("key");
    let mut f = Forger::from_transcript();
    let key = Element::new("key", ns::STANZA_ENCRYPTION).with_text("Aw==");
    let s = f.stanza(&thread, b"<body>rekeyed</body>", vec![key]);
    m.deliver(Dir::ToBob, s);
    bob_killed_session(
        &mut m,
        StanzaFault::Malformed(Malformed::RekeyWhileOff),
        &[],
    );
}

#[test]
fn rekey_new_element_while_rekeying_off_fails() {
    let (mut m, thread, _) = session_rekey_off("new");
    let mut f = Forger::from_transcript();
    // First prove the forger's keys are right: an ordinary forged stanza is delivered.
    let ok = f.stanza(&thread, b"<body>genuine</body>", vec![]);
    m.deliver(Dir::ToBob, ok);
    let new = Element::new("new", ns::STANZA_ENCRYPTION).with_text("1");
    let s = f.stanza(&thread, b"<body>after new</body>", vec![new]);
    m.deliver(Dir::ToBob, s);
    bob_killed_session(
        &mut m,
        StanzaFault::Malformed(Malformed::RekeyWhileOff),
        &["genuine"],
    );
}

#[test]
fn old_element_and_content_free_c_are_accepted() {
    // P9: <old/> is MACed and ignored; a <c/> without <data/> advances the counter by 1.
    let (mut m, thread, _) = session_with("old", 0);
    let mut f = Forger::from_transcript();
    let old = Element::new("old", ns::STANZA_ENCRYPTION).with_text(crate::b64::encode(&[9; 32]));
    let s = f.stanza(&thread, b"<body>with old</body>", vec![old]);
    m.deliver(Dir::ToBob, s);
    let empty = f.stanza(&thread, b"", vec![]);
    m.deliver(Dir::ToBob, empty);
    let s = f.stanza(&thread, b"<body>after empty</body>", vec![]);
    m.deliver(Dir::ToBob, s);
    let b = outcome(&mut m.bob);
    assert_eq!(b.bodies, ["with old", "after empty"], "{b:?}");
    assert!(b.failed.is_none());
}

#[test]
fn authentic_but_malformed_plaintext_fails() {
    // A peer with the keys sends plaintext that is not a well-formed fragment, that is
    // not UTF-8, or that tries to close the receiver's wrapper element.
    let cases: [(&str, &[u8], &str); 3] = [
        ("unclosed", b"<body>open", "malformed XML"),
        ("utf8", b"<body>\xff\xfe</body>", "not UTF-8"),
        (
            "escape",
            b"</wrapper><wrapper xmlns='jabber:client'><body>x</body>",
            "",
        ),
    ];
    for (label, plain, detail) in cases {
        let (mut m, thread, _) = session_with(&format!("plain-{label}"), 0);
        let mut f = Forger::from_transcript();
        let s = f.stanza(&thread, plain, vec![]);
        m.deliver(Dir::ToBob, s);
        let b = outcome(&mut m.bob);
        match b.failure() {
            Some((
                ErrorKind::Decryption,
                Error::Stanza(
                    d @ (StanzaFault::PlaintextNotXml(_) | StanzaFault::PlaintextNotUtf8),
                ),
            )) => assert!(d.to_string().contains(detail), "{label}: {d}"),
            other => panic!("{label}: {other:?}"),
        }
        assert!(b.bodies.is_empty(), "{label}");
        assert!(m.bob.session_ids().is_empty(), "{label}");
    }
}

/// Alice sends m0, m1, m2; Mallory decides the fate of the k-th chat stanza.
fn scripted(label: &str, fate: impl Fn(usize) -> Fate) -> Mallory {
    let mut m = Mallory::new(label);
    let thread = m.negotiate();
    for i in 0..3 {
        m.alice
            .send_message(&sid(BOB, &thread), &format!("m{i}"))
            .unwrap();
    }
    let mut k = 0;
    m.run(|dir, _, s| {
        if dir == Dir::ToBob && s.attr("type") == Some("chat") {
            k += 1;
            return fate(k - 1);
        }
        Fate::Pass
    });
    m
}

#[test]
fn mallory_drops_a_stanza_in_flight() {
    let mut m = scripted(
        "drop-flight",
        |k| if k == 1 { Fate::Drop } else { Fate::Pass },
    );
    let b = outcome(&mut m.bob);
    assert_eq!(b.bodies, ["m0"]);
    assert_eq!(
        b.failure(),
        Some((ErrorKind::Decryption, StanzaFault::MacMismatch.into()))
    );
    assert_eq!(outcome(&mut m.alice).terminated, Some(EndedBy::Peer));
    assert!(m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty());
}

#[test]
fn mallory_holds_a_stanza_and_releases_it_late() {
    let mut m = scripted(
        "hold-flight",
        |k| if k == 0 { Fate::Hold } else { Fate::Pass },
    );
    let b = outcome(&mut m.bob);
    b.assert_failed(ErrorKind::Decryption, StanzaFault::MacMismatch);
    m.release();
    let b = outcome(&mut m.bob);
    assert!(
        b.bodies.is_empty() && b.failed.is_none() && b.warnings.len() == 1,
        "{b:?}"
    );
}
