//! The offline vector `offline.json`: an XEP-0187 offline session (profile P11). Alice
//! publishes a signed open option set (group 14 among 15, 14, 16, 5), Bob sends two chat
//! stanzas from it while she is away, the first carrying his `<init/>`, then his
//! terminate; Alice logs in and decrypts all three. Every value is recomputed from the
//! inputs (exponents, nonces, counter, the two PKCS#8 keys) and the wire XML; both
//! signatures are RSASSA-PKCS1-v1_5, deterministic, so they are recomputed too.
use super::three_msg::{fingerprint, pem, signed, AliceInputs, BobInputs, ALICE_KEY, BOB_KEY};
use super::{
    form_x, hx, json, one, parse, recorded, stanza, values_of, Keys6, Message, Ordered, Run, Spec,
    Stanza, Vector, C, H, NOT_MACED,
};
use crate::crypto::{
    blocks_for, negotiation_k, session_keys, u128_from_be, CipherAlg, DhSecret, HashAlg,
    IdentityKey, ModpGroup, SignAlg,
};
use crate::engine::tests::{bare, full};
use crate::engine::tests::{established, ALICE, BOB, NOW};
use crate::engine::Engine;
use crate::event::{EndedBy, Event};
use crate::forms::Form;
use crate::offline::OfflineSetKind;
use crate::random::SeededRandom;
use crate::store::{KeyStore, MemoryStore};
use crate::time::Timestamp;
use crate::trust::Provenance;
use crate::xml::{normalize_form_content, ns, Element};
use crate::{transcript, Config};
use serde::Serialize;

const ALICE_BARE: &str = "alice@example.org";
const BOB_BARE: &str = "bob@example.com";
const FIRST: &str = "Hello Alice (offline)";
const SECOND: &str = "Second while you were away";
/// The options field that carries Alice's signature (profile P11).
const SIGNS: &str = "signs";
/// Profile sections the offline vector exercises.
const PROFILE: [&str; 9] = ["P1", "P2", "P3", "P4", "P6", "P8", "P9", "P10", "P11"];

/// The values of an offline session (docs/vectors.md): the 3-message values of Bob's side,
/// Alice's `signs` in place of her identity, no formA/formA2/macA (profile P11).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Values {
    e: String,
    d: String,
    shared: String,
    K: String,
    provisory: Keys6,
    formOptions: String,
    pubKeyA: String,
    fingerprintA: String,
    signs: String,
    formB: String,
    pubKeyB: String,
    fingerprintB: String,
    macB: String,
    signB: String,
    IDB_plaintext: String,
    IDB: String,
    MB: String,
}

fn engine(own: &str, label: &str, store: MemoryStore, key: &[u8]) -> Engine<MemoryStore> {
    // aes128-ctr and sha256 only: the values below are computed with them.
    let config = Config {
        crypt: vec![CipherAlg::Aes128Ctr],
        hashes: vec![HashAlg::Sha256],
        groups: if own == BOB {
            vec![14]
        } else {
            Config::default().groups
        },
        ..Config::default()
    };
    let mut e = Engine::new(
        full(own),
        config,
        store,
        Box::new(SeededRandom::from_label(label)),
    );
    e.set_identity_key(Some(IdentityKey::from_pkcs8_der(key).unwrap()));
    e
}

/// Alice publishes, Bob (trusting her key) sends two messages and terminates, Alice logs
/// in and reads them; returns the run and the published options.
fn run() -> (Run, String) {
    let _ = transcript::take();
    let expires = Timestamp(NOW.0 + 86_400);
    let mut alice = engine(ALICE, "vectors/offline/a", MemoryStore::new(), ALICE_KEY);
    let options = alice
        .publish_offline(OfflineSetKind::Open, expires, None, NOW)
        .unwrap();
    let mut bob_store = MemoryStore::new();
    let public = IdentityKey::from_pkcs8_der(ALICE_KEY).unwrap().public();
    let fp = *public.fingerprint().as_bytes();
    bob_store
        .record_sighting(
            BOB_BARE,
            &fp,
            &public.normalized(),
            ALICE_BARE,
            NOW,
            Provenance::Session,
        )
        .unwrap();
    bob_store.set_trusted(BOB_BARE, &fp, true).unwrap();
    let mut bob = engine(BOB, "vectors/offline/b", bob_store, BOB_KEY);
    let body = |t: &str| vec![Element::new("body", ns::JABBER_CLIENT).with_text(t)];
    let thread = bob
        .start_offline(&bare(ALICE_BARE), &options, body(FIRST), NOW)
        .unwrap();
    bob.send_message(&thread, SECOND).unwrap();
    bob.terminate(&thread, NOW).unwrap();
    let info_b = established(&mut bob);
    assert!(info_b.offline && info_b.flow == Some(3));
    let wire: Vec<(bool, String)> = std::iter::from_fn(|| bob.poll_outgoing())
        .map(|mut s| {
            s.set_attr("from", BOB);
            (false, s.to_string())
        })
        .collect();
    let transcript = transcript::take();

    // Alice at login: the open set is loaded, the three stanzas delivered and read.
    let mut alice = engine(
        ALICE,
        "vectors/offline/a2",
        alice.store().clone(),
        ALICE_KEY,
    );
    assert_eq!(alice.load_offline_sets(NOW).unwrap(), 1);
    for (_, xml) in &wire {
        alice.handle_stanza(parse(xml), NOW.plus(60));
    }
    let events: Vec<Event> = std::iter::from_fn(|| alice.poll_event()).collect();
    let Some(Event::Established(info)) = events.first() else {
        panic!("{events:?}")
    };
    assert!(info.offline);
    let bodies: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message { body: Some(b), .. } => Some(b.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, [FIRST, SECOND]);
    assert!(matches!(
        events.last(),
        Some(Event::Terminated {
            by: EndedBy::Peer,
            ..
        })
    ));
    assert!(alice.poll_outgoing().is_none(), "Alice never sends (P11)");
    let run = Run {
        label: "vectors/offline/a, vectors/offline/b".to_owned(),
        wire,
        transcript,
        thread: thread.thread().to_owned(),
        alice_rs: Vec::new(),
        bob_rs: Vec::new(),
        infos: vec![info.clone(), info_b],
    };
    (run, options.to_string())
}

/// `offline.json`: the open option set and Bob's session from it.
pub(super) fn open_set() -> (Spec, String) {
    let spec = Spec {
        file: "offline.json",
        name: "offline session (XEP-0187): Alice's signed open option set offering 15, 14, 16, \
               5, Bob picks 14; RSA-2048 keys on both sides; two chat stanzas from Bob, the \
               first with his init, then his terminate",
        alice: Config::default(),
        bob: Config::default(),
        oss: None,
        identities: Some((ALICE_KEY, BOB_KEY)),
    };
    let (r, options_xml) = run();
    assert_eq!(r.wire.len(), 3, "init + 1 stanza + terminate");
    let options = parse(&options_xml);
    let init = parse(&r.wire[0].1);
    let xb = &form_x(&init);
    let form_o = Form::parse(&options).unwrap();
    let form_b = Form::parse(xb).unwrap();
    // Profile P11: Bob's form is a submit form with his choices, rekey_freq 4294967295.
    assert_eq!(form_b.value("rekey_freq"), Some("4294967295"));
    assert_eq!(form_b.value("sign_algs"), Some(SignAlg::RsaSha256.uri()));
    let group_id: u32 = form_b.value("modp").unwrap().parse().unwrap();
    assert_eq!(group_id, 14);
    let group = ModpGroup::get(group_id).unwrap();
    let offered: Vec<String> = form_o
        .field("modp")
        .unwrap()
        .offered()
        .into_iter()
        .map(str::to_owned)
        .collect();

    let x_mpi = recorded(&r, &format!("alice.x.{group_id}"));
    let y_mpi = recorded(&r, "bob.y");
    let n_a = recorded(&r, "alice.nonce");
    let n_b = recorded(&r, "bob.nonce");
    let counter = recorded(&r, "bob.counter");
    let c_a = u128_from_be(counter).unwrap();
    let c_b = c_a ^ (1u128 << 127);
    let x = DhSecret::from_be(group_id, x_mpi).unwrap();
    let y = DhSecret::from_be(group_id, y_mpi).unwrap();
    let e = group.public_value(&x);
    let d = group.public_value(&y);
    let index = offered
        .iter()
        .position(|g| *g == group_id.to_string())
        .unwrap();
    // Profile P11: the options carry e_i for every offered group, Bob's init d.
    assert_eq!(values_of(&options, "dhkeys")[index], e, "e");
    assert_eq!(one(&options, "my_nonce"), n_a, "my_nonce (options)");
    assert_eq!(one(xb, "dhkeys"), d, "d");
    assert_eq!(one(xb, "nonce"), n_a, "nonce");
    assert_eq!(one(xb, "my_nonce"), n_b, "my_nonce");
    assert_eq!(one(xb, "counter"), counter, "counter");
    let shared = group.shared_secret(&x, &d).unwrap();
    assert_eq!(group.shared_secret(&y, &e).unwrap(), shared, "shared");
    // Profile P11 "Keys": K = HASH(mpi(e^y mod p)), the six keys of P1 from K.
    let k = negotiation_k(H, shared.expose());
    let keys = session_keys(H, C, k.expose());

    // Profile P11 "signs": over the P4 normalization of the options without `signs`.
    let form_options = normalize_form_content(&options, &[SIGNS]);
    let alice_key = IdentityKey::from_pkcs8_der(ALICE_KEY).unwrap();
    let signs = alice_key.sign(form_options.as_bytes()).unwrap();
    assert_eq!(one(&options, SIGNS), signs, "signs");
    alice_key
        .public()
        .verify(SignAlg::RsaSha256, form_options.as_bytes(), &signs)
        .unwrap();
    let pub_key_a = alice_key.public().normalized();

    // Profile P11 "Keys": mac_B = HMAC(KS_B, N_A | N_B | mpi(d) | pubKey_B | form_B).
    let form_b_text = normalize_form_content(xb, &NOT_MACED);
    let bob_key = IdentityKey::from_pkcs8_der(BOB_KEY).unwrap();
    let b = signed(
        &bob_key,
        keys.ks_b.expose(),
        [n_a, n_b, &d],
        &[form_b_text.as_bytes()],
        keys.responder.kc.expose(),
        keys.responder.km.expose(),
        c_b,
    );
    assert_eq!(one(xb, "identity"), b.id, "IDB");
    assert_eq!(one(xb, "mac"), b.m, "MB");
    assert_eq!(b.after, c_b.wrapping_add(blocks_for(b.id.len())));

    // Profile P11 "Counters": Bob's stanzas start after ID_B's blocks, under KC_B/KM_B.
    let mut send_b = b.after;
    let stanzas: Vec<Stanza> = r
        .wire
        .iter()
        .map(|(_, xml)| {
            let (kc, km) = (keys.responder.kc.expose(), keys.responder.km.expose());
            stanza(false, xml, kc, km, &mut send_b)
        })
        .collect();
    assert_eq!(stanzas[0].plaintext, format!("<body>{FIRST}</body>"));
    assert_eq!(stanzas[1].plaintext, format!("<body>{SECOND}</body>"));
    assert!(stanzas[2].plaintext.contains("terminate"));

    let xs_in_order = offered
        .iter()
        .map(|g| (g.clone(), hx(recorded(&r, &format!("alice.x.{g}")))))
        .collect();
    let vector = Vector {
        format: "esession-vectors/1",
        name: spec.name.to_owned(),
        harness_labels: vec![
            "vectors/offline/a".to_owned(),
            "vectors/offline/b".to_owned(),
        ],
        profile: PROFILE.to_vec(),
        // The number of messages: Alice's options and Bob's init (docs/vectors.md).
        flow: 2,
        group: group_id,
        crypt: "aes128-ctr",
        hash: "sha256",
        compress: "none",
        dialect: None,
        alice: AliceInputs {
            jid: ALICE_BARE,
            x: Ordered(xs_in_order),
            nonce: hx(n_a),
            identity_key_pem: pem(ALICE_KEY),
        },
        bob: BobInputs {
            jid: BOB,
            y: hx(y_mpi),
            nonce: hx(n_b),
            counter: hx(counter),
            identity_key_pem: pem(BOB_KEY),
        },
        thread: r.thread.clone(),
        messages: vec![
            Message {
                n: 1,
                from: "alice",
                xml: options_xml.clone(),
            },
            Message {
                n: 2,
                from: "bob",
                xml: r.wire[0].1.clone(),
            },
        ],
        values: Values {
            e: hx(&e),
            d: hx(&d),
            shared: hx(shared.expose()),
            K: hx(k.expose()),
            provisory: Keys6::of(&keys),
            formOptions: form_options,
            fingerprintA: fingerprint(&pub_key_a),
            pubKeyA: pub_key_a,
            signs: hx(&signs),
            formB: form_b_text,
            fingerprintB: fingerprint(&b.pub_key),
            pubKeyB: b.pub_key,
            macB: hx(&b.mac),
            signB: hx(&b.sign),
            IDB_plaintext: b.plain,
            IDB: hx(&b.id),
            MB: hx(&b.m),
        },
        stanzas,
        terminate: None,
    };
    json((spec, vector))
}
