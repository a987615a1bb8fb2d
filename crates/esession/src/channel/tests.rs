//! Channel-level re-key tests (XEP-0200 §9, §10; profile P13): two channels wired back to
//! back, Alice's and Bob's, in MODP group 5.
use super::*;
use crate::crypto::{apply_ctr, mpi, rekey_keys, session_keys, stanza_mac, DhSecret, SecretBytes};
use crate::error::{Malformed, RekeyFault, StanzaFault, Usage};
use crate::random::SeededRandom;
use crate::xml::ns;

const H: HashAlg = HashAlg::Sha256;
const C: CipherAlg = CipherAlg::Aes128Ctr;

struct Ends {
    a: Channel,
    b: Channel,
    group: &'static ModpGroup,
    rng: SeededRandom,
}

/// Alice's and Bob's channels after a negotiation that left the counters at C_A and C_B,
/// with `rekey_freq` negotiated and the negotiated DH values as the re-key bases.
fn ends(label: &str, rekey_freq: u32) -> Ends {
    let group = ModpGroup::get(5).unwrap();
    let mut rng = SeededRandom::from_label(label);
    let x = group.generate_secret(&mut rng);
    let y = group.generate_secret(&mut rng);
    let (e, d) = (group.public_value(&x), group.public_value(&y));
    let keys = session_keys(H, C, &[7u8; 32]);
    let c_a = 0x1234_5678_u128 << 64;
    let c_b = c_a ^ (1 << 127);
    let a = Channel::build(
        H,
        C,
        Direction::new(keys.initiator.clone(), c_a),
        Direction::new(keys.responder.clone(), c_b),
        rekey_freq,
    )
    .with_rekey(RekeyBase {
        group,
        own: x,
        peer_public: d,
    });
    let b = Channel::build(
        H,
        C,
        Direction::new(keys.responder, c_b),
        Direction::new(keys.initiator, c_a),
        rekey_freq,
    )
    .with_rekey(RekeyBase {
        group,
        own: y,
        peer_public: e,
    });
    Ends { a, b, group, rng }
}

impl Ends {
    fn fresh(&mut self) -> Fresh {
        let secret = self.group.generate_secret(&mut self.rng);
        let public = self.group.public_value(&secret);
        Fresh { secret, public }
    }
}

fn send(ch: &mut Channel, text: &str) -> Element {
    ch.seal(text.as_bytes(), 0).unwrap()
}

#[track_caller]
fn recv(ch: &mut Channel, c: &Element, text: &str) -> bool {
    let opened = ch.open(c).unwrap();
    assert_eq!(opened.plain, text.as_bytes());
    opened.peer_rekeyed
}

fn names(c: &Element) -> Vec<String> {
    c.children().map(|e| e.name().to_owned()).collect()
}

fn olds(c: &Element) -> Vec<Vec<u8>> {
    c.children()
        .filter(|e| e.name() == "old")
        .map(|e| crate::b64::decode("old", &e.text()).unwrap())
        .collect()
}

fn send_km(ch: &Channel) -> SecretBytes {
    ch.send.as_ref().unwrap().keys.km().clone()
}

fn send_keys(ch: &Channel) -> DirectionKeys {
    ch.send.as_ref().unwrap().keys.keys.clone()
}

fn sets(ch: &Channel) -> usize {
    ch.recv.as_ref().unwrap().sets.len()
}

/// Every MAC key either channel still uses (its send key and every receive set's).
fn in_use(chs: [&Channel; 2]) -> Vec<SecretBytes> {
    let mut keys = Vec::new();
    for ch in chs {
        keys.push(send_km(ch));
        keys.extend(
            ch.recv
                .as_ref()
                .unwrap()
                .sets
                .iter()
                .map(|s| s.peer.km().clone()),
        );
    }
    keys
}

/// A `<c/>` sealed with `ch`'s current send keys and counter whose children after
/// `<data/>` are `extra`: a peer that holds the keys and breaks the rules.
fn forge(ch: &mut Channel, m: &str, extra: Vec<Element>) -> Element {
    let dir = ch.send.as_mut().unwrap();
    let before = dir.counter;
    let mut c = Element::new("c", ns::STANZA_ENCRYPTION);
    let mut data = m.as_bytes().to_vec();
    apply_ctr(C, dir.keys.kc().expose(), &mut dir.counter, &mut data).unwrap();
    c.push(Element::new("data", ns::STANZA_ENCRYPTION).with_text(b64::encode(&data)));
    for e in extra {
        c.push(e);
    }
    let mac = stanza_mac(H, dir.keys.km().expose(), m_content(&c).as_bytes(), before);
    c.push(Element::new("mac", ns::STANZA_ENCRYPTION).with_text(b64::encode(&mac)));
    c
}

fn el(name: &'static str, text: &str) -> Element {
    Element::new(name, ns::STANZA_ENCRYPTION).with_text(text)
}

#[test]
fn rekey_by_either_side_derives_the_xep_keys_and_keeps_counters() {
    let mut t = ends("rekey/either", 1);
    let c0 = send(&mut t.a, "m0");
    assert!(!recv(&mut t.b, &c0, "m0"));

    // Alice re-keys: the stanza is protected with her old keys and carries <key/>.
    let fresh = t.fresh();
    let x1 = DhSecret::from_be(5, &fresh.secret.expose_mpi()).unwrap();
    let e1 = fresh.public.clone();
    let old_a = send_keys(&t.a);
    let counter = t.a.send.as_ref().unwrap().counter;
    let c1 = t.a.seal_with_key(b"m1", 0, fresh).unwrap();
    assert_eq!(names(&c1), ["data", "key", "mac"]);
    assert_eq!(c1.children().nth(1).unwrap().text(), b64::encode(&e1));
    // XEP-0200 §9: K = d^x' mod p unhashed; Alice sends with the "Rekey Initiator" keys.
    let d = t.a.rekey.as_ref().unwrap().base.clone();
    let k = t.group.shared_secret(&x1, &d).unwrap();
    let (initiator, acceptor) = rekey_keys(H, C, k.expose());
    assert_eq!(send_keys(&t.a), initiator);
    assert_ne!(send_keys(&t.a), old_a);
    assert_eq!(sets(&t.a), 2);
    // Profile P3: the counter is not reset.
    assert_eq!(t.a.send.as_ref().unwrap().counter, counter + 1);

    assert!(recv(&mut t.b, &c1, "m1"));
    // Bob holds one set: his send keys become the "Rekey Acceptor" keys.
    assert_eq!(send_keys(&t.b), acceptor);
    assert_eq!(t.b.recv.as_ref().unwrap().sets[0].peer.keys, initiator);
    assert_eq!(t.b.rekey.as_ref().unwrap().base, mpi(&e1));

    // Bob's next stanza acknowledges with <new>1</new>; Alice drops her older set.
    let c2 = send(&mut t.b, "m2");
    assert_eq!(names(&c2), ["data", "new", "old", "mac"]);
    assert!(!recv(&mut t.a, &c2, "m2"));
    assert_eq!(sets(&t.a), 1);
    let c3 = send(&mut t.b, "m3");
    assert_eq!(names(&c3), ["data", "mac"]);
    assert!(!recv(&mut t.a, &c3, "m3"));

    // Now Bob re-keys, based on Alice's latest public value e1.
    let fresh = t.fresh();
    let y1 = DhSecret::from_be(5, &fresh.secret.expose_mpi()).unwrap();
    let c4 = t.b.seal_with_key(b"m4", 0, fresh).unwrap();
    let k = t.group.shared_secret(&y1, &e1).unwrap();
    let (initiator, acceptor) = rekey_keys(H, C, k.expose());
    assert_eq!(send_keys(&t.b), initiator);
    assert!(recv(&mut t.a, &c4, "m4"));
    assert_eq!(send_keys(&t.a), acceptor);
    for i in 0..3 {
        let c = send(&mut t.a, &format!("a{i}"));
        assert!(!recv(&mut t.b, &c, &format!("a{i}")));
        let c = send(&mut t.b, &format!("b{i}"));
        assert!(!recv(&mut t.a, &c, &format!("b{i}")));
    }
    assert_eq!((sets(&t.a), sets(&t.b)), (1, 1));
    let (sa, rb) = (t.a.send.as_ref().unwrap(), t.b.recv.as_ref().unwrap());
    assert_eq!(sa.counter, rb.counter);
}

#[test]
fn crossing_rekeys_settle_on_one_set_each() {
    let mut t = ends("rekey/crossing", 1);
    let (fa, fb) = (t.fresh(), t.fresh());
    // Both send a <key/> before seeing the other's.
    let ca = t.a.seal_with_key(b"from a", 0, fa).unwrap();
    let cb = t.b.seal_with_key(b"from b", 0, fb).unwrap();
    let (send_a, send_b) = (send_keys(&t.a), send_keys(&t.b));
    assert!(recv(&mut t.a, &cb, "from b"));
    assert!(recv(&mut t.b, &ca, "from a"));
    // Two sets held: the acceptors' send keys stay (XEP-0200 §9).
    assert_eq!((send_keys(&t.a), send_keys(&t.b)), (send_a, send_b));
    // Each next stanza carries <new>1</new> and selects the set of the crossing <key/>.
    let ca = send(&mut t.a, "a2");
    let cb = send(&mut t.b, "b2");
    assert_eq!(names(&ca)[..2], ["data", "new"]);
    assert!(!recv(&mut t.b, &ca, "a2"));
    assert!(!recv(&mut t.a, &cb, "b2"));
    assert_eq!((sets(&t.a), sets(&t.b)), (1, 1));
    // And a third crossing, this time with a re-key right after accepting.
    let (fa, fb) = (t.fresh(), t.fresh());
    let ca = t.a.seal_with_key(b"a3", 0, fa).unwrap();
    let cb = t.b.seal_with_key(b"b3", 0, fb).unwrap();
    assert!(recv(&mut t.b, &ca, "a3"));
    let fb = t.fresh();
    let cb2 = t.b.seal_with_key(b"b4", 0, fb).unwrap();
    assert!(recv(&mut t.a, &cb, "b3"));
    assert!(recv(&mut t.a, &cb2, "b4"));
    for i in 0..3 {
        let c = send(&mut t.a, &format!("a{i}"));
        assert!(!recv(&mut t.b, &c, &format!("a{i}")));
        let c = send(&mut t.b, &format!("b{i}"));
        assert!(!recv(&mut t.a, &c, &format!("b{i}")));
    }
    assert_eq!((sets(&t.a), sets(&t.b)), (1, 1));
}

#[test]
fn rekey_at_every_stanza_both_ways_interleaved() {
    let mut t = ends("rekey/every", 1);
    let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
    for i in 0..50usize {
        let f = t.fresh();
        let text = format!("a{i}");
        to_b.push((t.a.seal_with_key(text.as_bytes(), 0, f).unwrap(), text));
        let f = t.fresh();
        let text = format!("b{i}");
        to_a.push((t.b.seal_with_key(text.as_bytes(), 0, f).unwrap(), text));
        // Deliver at varying moments, so that many <key/>s cross and several queue up.
        if i % 3 != 1 {
            for (c, text) in to_b.drain(..) {
                assert!(recv(&mut t.b, &c, &text));
            }
        }
        if i % 4 == 0 {
            for (c, text) in to_a.drain(..) {
                assert!(recv(&mut t.a, &c, &text));
            }
        }
        assert!(sets(&t.a) <= 6 && sets(&t.b) <= 6);
    }
    for (c, text) in to_b.drain(..) {
        assert!(recv(&mut t.b, &c, &text));
    }
    for (c, text) in to_a.drain(..) {
        assert!(recv(&mut t.a, &c, &text));
    }
    let c = send(&mut t.a, "last a");
    assert!(!recv(&mut t.b, &c, "last a"));
    let c = send(&mut t.b, "last b");
    assert!(!recv(&mut t.a, &c, "last b"));
    assert_eq!((sets(&t.a), sets(&t.b)), (1, 1));
}

#[test]
fn new_beyond_the_sets_held_fails() {
    let mut t = ends("rekey/new-beyond", 1);
    let before = t.b.recv.as_ref().unwrap().counter;
    let c = forge(&mut t.a, "x", vec![el("new", "1")]);
    assert_eq!(
        t.b.open(&c).err(),
        Some(StanzaFault::Rekey(RekeyFault::UnknownKeySet {
            index: 1,
            held: 1
        }))
    );
    for bad in ["0", "-1", "+1", "x", "99999999999"] {
        let c = forge(&mut t.a, "x", vec![el("new", bad)]);
        match t.b.open(&c) {
            Err(StanzaFault::Rekey(RekeyFault::BadNew(m))) => assert_eq!(m, bad),
            other => panic!("{bad}: {:?}", other.err()),
        }
    }
    // Profile P9: nothing changed on failure.
    assert_eq!(t.b.recv.as_ref().unwrap().counter, before);
    let c = forge(&mut t.a, "x", vec![el("new", "1"), el("new", "1")]);
    assert!(matches!(t.b.open(&c), Err(StanzaFault::Malformed(_))));
}

#[test]
fn key_out_of_range_fails_and_changes_nothing() {
    let mut t = ends("rekey/range", 1);
    let p = t.group.prime_be();
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let before = t.b.recv.as_ref().unwrap().counter;
    let b_keys = send_keys(&t.b);
    for value in [vec![0u8], vec![1], p_minus_1, p, vec![0xff; 200]] {
        let mut a = ends("rekey/range", 1).a;
        let c = forge(&mut a, "x", vec![el("key", &b64::encode(&value))]);
        assert_eq!(t.b.open(&c).err(), Some(StanzaFault::KeyOutOfRange));
    }
    let c = forge(&mut t.a, "x", vec![el("key", "not base64!")]);
    assert!(matches!(t.b.open(&c), Err(StanzaFault::Malformed(_))));
    assert_eq!(t.b.recv.as_ref().unwrap().counter, before);
    assert_eq!(send_keys(&t.b), b_keys);
    assert_eq!(t.b.rekey.as_ref().unwrap().accepted, 0);
}

#[test]
fn rekey_freq_is_enforced_on_both_sides() {
    let mut t = ends("rekey/freq", 3);
    // Sending: the first and second stanzas may not carry a <key/>, the third may.
    for i in 0..2 {
        assert!(!t.a.may_rekey());
        let f = t.fresh();
        assert_eq!(
            t.a.seal_with_key(b"early", 0, f).err(),
            Some(Usage::RekeyTooSoon)
        );
        let c = send(&mut t.a, &format!("m{i}"));
        recv(&mut t.b, &c, &format!("m{i}"));
    }
    assert!(t.a.may_rekey());
    let f = t.fresh();
    let c = t.a.seal_with_key(b"third", 0, f).unwrap();
    assert!(recv(&mut t.b, &c, "third"));
    assert!(!t.a.may_rekey());
    // Receiving: a peer that re-keys on its second stanza since the previous <key/>.
    let c = send(&mut t.a, "after");
    recv(&mut t.b, &c, "after");
    let e = t.fresh().public;
    let c = forge(&mut t.a, "too soon", vec![el("key", &b64::encode(&e))]);
    assert_eq!(
        t.b.open(&c).err(),
        Some(StanzaFault::Rekey(RekeyFault::TooSoon {
            stanza: 2,
            rekey_freq: 3
        }))
    );
}

#[test]
fn key_or_new_with_rekeying_off_fails() {
    let mut t = ends("rekey/off", u32::MAX);
    assert!(t.a.rekey.is_none() && t.a.recv.as_ref().unwrap().sets[0].own.is_none());
    assert!(t.a.rekey_group().is_none() && !t.a.may_rekey());
    let f = t.fresh();
    assert_eq!(t.a.seal_with_key(b"x", 0, f).err(), Some(Usage::RekeyOff));
    let e = t.fresh().public;
    for extra in [el("key", &b64::encode(&e)), el("new", "1")] {
        let mut a = ends("rekey/off", u32::MAX).a;
        let c = forge(&mut a, "x", vec![extra]);
        assert_eq!(
            t.b.open(&c).err(),
            Some(StanzaFault::Malformed(Malformed::RekeyWhileOff))
        );
    }
    let c = send(&mut t.a, "fine");
    recv(&mut t.b, &c, "fine");
}

#[test]
fn old_mac_keys_are_published_once_and_never_while_in_use() {
    let mut t = ends("rekey/old", 1);
    let (ka0, kb0) = (send_km(&t.a), send_km(&t.b));
    let f = t.fresh();
    let c1 = t.a.seal_with_key(b"m1", 0, f).unwrap();
    assert!(olds(&c1).is_empty());
    let ka1 = send_km(&t.a);
    recv(&mut t.b, &c1, "m1");
    let kb1 = send_km(&t.b);
    // Bob publishes Alice's old KM at once (her <key/> replaced it); his own old send KM
    // waits for a <new/> acknowledging his next own <key/>.
    let c2 = send(&mut t.b, "m2");
    assert_eq!(olds(&c2), [ka0.expose().to_vec()]);
    recv(&mut t.a, &c2, "m2");
    // Alice: her old send KM (the <new/> acknowledged her <key/>) and Bob's old KM (the
    // <new/> destroyed its set).
    let c3 = send(&mut t.a, "m3");
    let published = olds(&c3);
    assert_eq!(published.len(), 2);
    assert!(published.contains(&ka0.expose().to_vec()));
    assert!(published.contains(&kb0.expose().to_vec()));
    // The receiver ignores them (the stanza is delivered as usual).
    recv(&mut t.b, &c3, "m3");
    // Each once: later stanzas publish nothing more.
    let c = send(&mut t.a, "m4");
    assert!(olds(&c).is_empty());
    recv(&mut t.b, &c, "m4");
    let c = send(&mut t.b, "m5");
    assert!(olds(&c).is_empty());
    recv(&mut t.a, &c, "m5");

    // Bob re-keys; once Alice's <new/> acknowledges it, he publishes both his old send
    // keys (kb0, replaced when he accepted Alice's key, and kb1, replaced by his own).
    let f = t.fresh();
    let c = t.b.seal_with_key(b"m6", 0, f).unwrap();
    assert!(olds(&c).is_empty());
    recv(&mut t.a, &c, "m6");
    let c = send(&mut t.a, "m7");
    assert_eq!(olds(&c), [kb1.expose().to_vec()]);
    recv(&mut t.b, &c, "m7");
    let c = send(&mut t.b, "m8");
    let published = olds(&c);
    assert_eq!(published.len(), 3, "kb1, kb0 and Alice's replaced ka1");
    for key in [&kb1, &kb0, &ka1] {
        assert!(published.contains(&key.expose().to_vec()));
    }
    // Never a key still in use, on either side.
    let live = in_use([&t.a, &t.b]);
    for p in &published {
        assert!(live.iter().all(|k| !k.ct_eq(p)));
    }
    recv(&mut t.a, &c, "m8");
}

#[test]
fn published_keys_are_never_in_use_under_crossing_rekeys() {
    let mut t = ends("rekey/old-crossing", 1);
    let mut seen = 0;
    for i in 0..12 {
        let (fa, fb) = (t.fresh(), t.fresh());
        let ca =
            t.a.seal_with_key(format!("a{i}").as_bytes(), 0, fa)
                .unwrap();
        let cb = if i % 2 == 0 {
            t.b.seal_with_key(format!("b{i}").as_bytes(), 0, fb)
                .unwrap()
        } else {
            send(&mut t.b, &format!("b{i}"))
        };
        for (c, text, to_b) in [(&ca, format!("a{i}"), true), (&cb, format!("b{i}"), false)] {
            let live = in_use([&t.a, &t.b]);
            for p in olds(c) {
                seen += 1;
                assert!(live.iter().all(|k| !k.ct_eq(&p)), "stanza {i}");
            }
            let ch = if to_b { &mut t.b } else { &mut t.a };
            recv(ch, c, &text);
        }
    }
    assert!(seen > 10, "only {seen} keys published");
}

#[test]
fn replayed_pre_rekey_stanza_fails_after_the_rekey() {
    let mut t = ends("rekey/replay", 1);
    let c0 = send(&mut t.a, "m0");
    recv(&mut t.b, &c0, "m0");
    let f = t.fresh();
    let c1 = t.a.seal_with_key(b"m1", 0, f).unwrap();
    recv(&mut t.b, &c1, "m1");
    let c2 = send(&mut t.a, "m2");
    recv(&mut t.b, &c2, "m2");
    for old in [&c0, &c1] {
        assert_eq!(t.b.open(old).err(), Some(StanzaFault::MacMismatch));
    }
}

#[test]
fn key_without_content_and_budget_restart() {
    let mut t = ends("rekey/empty", 1);
    t.a.set_sent_blocks(BLOCK_LIMIT - 3);
    assert!(!t.a.fits(100, 0));
    assert!(t.a.fits_fresh(100, 64));
    assert_eq!(t.a.seal(&[0u8; 100], 0).err(), Some(Usage::KeyExhausted));
    // A <c/> without <data/> carries the key (one counter step, XEP-0200 §6).
    let f = t.fresh();
    let c = t.a.seal_with_key(&[], 0, f).unwrap();
    assert_eq!(names(&c), ["key", "mac"]);
    assert!(recv(&mut t.b, &c, ""));
    // Profile P13: the budget restarts at every send-key change, on both sides.
    assert_eq!(t.a.send.as_ref().unwrap().blocks, 0);
    assert!(t.a.fits(100, 64));
    let c = t.a.seal(&[b'x'; 100], 0).unwrap();
    recv(&mut t.b, &c, &"x".repeat(100));
    t.b.set_sent_blocks(BLOCK_LIMIT - 1);
    let f = t.fresh();
    let c = t.a.seal_with_key(b"k", 0, f).unwrap();
    assert!(recv(&mut t.b, &c, "k"));
    assert!(t.b.fits(100, 64));
    assert!(!t.b.wants_rekey());
    t.b.set_sent_blocks(SOFT_BLOCK_LIMIT);
    assert!(t.b.wants_rekey());
}

#[test]
fn unacknowledged_rekeys_and_queues_are_bounded() {
    let mut t = ends("rekey/bounded", 1);
    // Bob never answers: Alice stops re-keying at MAX_SETS sets; Bob still follows.
    for i in 0..MAX_SETS + 3 {
        let text = format!("a{i}");
        let c = if t.a.may_rekey() {
            let f = t.fresh();
            t.a.seal_with_key(text.as_bytes(), 0, f).unwrap()
        } else {
            let f = t.fresh();
            assert_eq!(
                t.a.seal_with_key(b"x", 0, f).err(),
                Some(Usage::RekeysUnacknowledged)
            );
            send(&mut t.a, &text)
        };
        recv(&mut t.b, &c, &text);
    }
    assert_eq!(sets(&t.a), MAX_SETS);
    // Bob's queues of keys to publish stay bounded however many <key/>s he accepted.
    let r = t.b.rekey.as_ref().unwrap();
    assert!(r.publish.len() <= 64 && r.until_next_key.len() <= 64);
    assert_eq!(r.until_next_key.len(), MAX_SETS - 1);
    // One answer with <new/> brings Alice back to one set.
    let c = send(&mut t.b, "answer");
    assert_eq!(
        c.children().find(|e| e.name() == "new").unwrap().text(),
        (MAX_SETS - 1).to_string()
    );
    recv(&mut t.a, &c, "answer");
    assert_eq!(sets(&t.a), 1);
    assert!(t.a.may_rekey());
}

#[test]
fn a_prepared_mac_key_follows_its_key_through_a_replacement() {
    let keys = session_keys(H, C, &[7u8; 32]);
    let mut prepared = Keys::new(keys.initiator.clone());
    let parts: [&[u8]; 2] = [b"<data>AAAA</data>", b"\x01\x02"];
    let mac = |km: &SecretBytes| crate::crypto::hmac(H, km.expose(), &parts);
    assert_eq!(prepared.mac(H, &parts), mac(&keys.initiator.km));
    // Made ready by the first MAC, it must not outlive the key it was made from.
    assert!(prepared.mac.is_some());
    let old = prepared.replace(keys.responder.clone());
    assert_eq!(old, keys.initiator);
    assert!(prepared.mac.is_none());
    assert_eq!(prepared.mac(H, &parts), mac(&keys.responder.km));
}
