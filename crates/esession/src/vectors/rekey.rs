//! The re-key vector `rekey.json`: a 4-message session (group 14, no retained secret),
//! one stanza each way, then a re-key started by Alice and one started by Bob (XEP-0200 §9,
//! profile P1, P13), with a stanza under every key set. The re-key secrets x', y' are the
//! engine's `rekey.secret` draws ([`crate::transcript`]), in send order.
use super::{
    four_message, hx, json, parse, recorded, run, stanza, Dialect, Negotiated, Spec, Stanza,
    Values, C, H, HELLO_ALICE, HELLO_BOB,
};
use crate::crypto::{rekey_keys, DhSecret, ModpGroup};
use crate::engine::tests::sid;
use crate::engine::tests::{ALICE, BOB};
use crate::store::MemoryStore;
use crate::xml::ns;
use crate::{b64, transcript, Config};
use serde::Serialize;

/// The bodies after the first exchange, in send order: (from Alice, text, re-key first).
const SCRIPT: [(bool, &str, bool); 6] = [
    (true, "Alice re-keys", true),
    (true, "Under Alice's re-key", false),
    (false, "Bob acknowledges", false),
    (false, "Bob re-keys", true),
    (false, "Under Bob's re-key", false),
    (true, "Alice acknowledges", false),
];

/// One `<key/>` (vectors-format.md `values.rekeys`): who sent it, the fresh secret, the
/// public value, K = mpi(peer_public^secret mod p) unhashed (P1) and the four keys.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Rekey {
    by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    x_new: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y_new: Option<String>,
    public: String,
    K: String,
    KC_initiator: String,
    KM_initiator: String,
    KC_acceptor: String,
    KM_acceptor: String,
}

/// The 4-message values plus the re-keys.
#[derive(Serialize)]
struct RekeyValues {
    #[serde(flatten)]
    negotiation: Values,
    rekeys: Vec<Rekey>,
}

/// One side's re-key state as profile P13 keeps it in a run without crossing re-keys: the
/// send keys, the send counter, the latest own secret and public value.
struct Side {
    kc: Vec<u8>,
    km: Vec<u8>,
    counter: u128,
    secret: DhSecret,
    public: Vec<u8>,
}

/// `rekey.json`.
pub(super) fn alice_then_bob() -> (Spec, String) {
    let config = |groups: Vec<u32>| Config {
        groups,
        rekey_freq: 1,
        rekey_after_idle: None,
        ..super::base()
    };
    let spec = Spec {
        file: "rekey.json",
        name: "4-message, group 14, one stanza each way, then a re-key by Alice and one by \
               Bob (XEP-0200 §9), a stanza under every key set",
        alice: config(Config::default().groups),
        bob: config(vec![14]),
        oss: None,
        identities: None,
    };
    let (mut r, mut p) = run(
        "vectors/rekey",
        &spec,
        (MemoryStore::new(), MemoryStore::new()),
    );
    for (from_alice, text, rekey) in SCRIPT {
        let (me, peer) = if from_alice {
            (&mut p.alice, BOB)
        } else {
            (&mut p.bob, ALICE)
        };
        if rekey {
            me.rekey(&sid(peer, &r.thread)).unwrap();
        }
        me.send_message(&sid(peer, &r.thread), text).unwrap();
        p.run();
    }
    r.wire.extend(std::mem::take(&mut p.wire));
    r.transcript.extend(transcript::take());
    assert_eq!(r.wire.len(), 4 + 2 + SCRIPT.len(), "one stanza per send");

    let Negotiated {
        vector,
        fin,
        c_a,
        c_b,
    } = four_message(&spec, &r, vec![r.label.clone()], Dialect::Profile);
    let group = ModpGroup::get(vector.group).unwrap();
    let x =
        DhSecret::from_be(group.id(), recorded(&r, &format!("alice.x.{}", group.id()))).unwrap();
    let y = DhSecret::from_be(group.id(), recorded(&r, "bob.y")).unwrap();
    let mut alice = Side {
        kc: fin.initiator.kc.expose().to_vec(),
        km: fin.initiator.km.expose().to_vec(),
        counter: c_a,
        public: group.public_value(&x),
        secret: x,
    };
    let mut bob = Side {
        kc: fin.responder.kc.expose().to_vec(),
        km: fin.responder.km.expose().to_vec(),
        counter: c_b,
        public: group.public_value(&y),
        secret: y,
    };
    let mut fresh = r
        .transcript
        .iter()
        .filter(|(l, _)| l == "rekey.secret")
        .map(|(_, v)| v.clone());
    let mut rekeys = Vec::new();
    let mut stanzas: Vec<Stanza> = Vec::new();
    for (from_alice, xml) in r.wire.iter().skip(4) {
        let (me, other) = if *from_alice {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        // Profile P13: a stanza carrying <key/> is still protected with the old send keys.
        stanzas.push(stanza(*from_alice, xml, &me.kc, &me.km, &mut me.counter));
        let msg = parse(xml);
        let c = msg.child("c", ns::STANZA_ENCRYPTION).unwrap();
        let Some(key) = c.child("key", ns::STANZA_ENCRYPTION) else {
            continue;
        };
        let secret_mpi = fresh.next().expect("a rekey.secret per <key/>");
        let secret = DhSecret::from_be(group.id(), &secret_mpi).unwrap();
        let public = group.public_value(&secret);
        assert_eq!(b64::decode("key", &key.text()).unwrap(), public, "<key/>");
        // XEP-0200 §9, P13: K = the peer's latest public value ^ x'; the acceptor gets the
        // same from the new public value and its own latest secret.
        let k = group.shared_secret(&secret, &other.public).unwrap();
        assert_eq!(group.shared_secret(&other.secret, &public).unwrap(), k);
        let (init, acc) = rekey_keys(H, C, k.expose());
        let (x_new, y_new) = if *from_alice {
            (Some(hx(&secret_mpi)), None)
        } else {
            (None, Some(hx(&secret_mpi)))
        };
        rekeys.push(Rekey {
            by: if *from_alice { "alice" } else { "bob" },
            x_new,
            y_new,
            public: hx(&public),
            K: hx(k.expose()),
            KC_initiator: hx(init.kc.expose()),
            KM_initiator: hx(init.km.expose()),
            KC_acceptor: hx(acc.kc.expose()),
            KM_acceptor: hx(acc.km.expose()),
        });
        // P13: the sender now sends with the initiator keys; the acceptor (one receive
        // set held, no crossing here) with the acceptor keys.
        (me.kc, me.km) = (init.kc.expose().to_vec(), init.km.expose().to_vec());
        (other.kc, other.km) = (acc.kc.expose().to_vec(), acc.km.expose().to_vec());
        (me.secret, me.public) = (secret, public);
    }
    assert!(fresh.next().is_none(), "every re-key secret was used");
    assert_eq!(rekeys.len(), 2);
    let bodies: Vec<String> = [HELLO_BOB, HELLO_ALICE]
        .into_iter()
        .chain(SCRIPT.iter().map(|(_, t, _)| *t))
        .map(|t| format!("<body>{t}</body>"))
        .collect();
    let got: Vec<&String> = stanzas.iter().map(|s| &s.plaintext).collect();
    assert_eq!(got, bodies.iter().collect::<Vec<_>>());

    let mut vector = vector.map_values(|negotiation| RekeyValues {
        negotiation,
        rekeys,
    });
    vector.profile.push("P13");
    vector.stanzas = stanzas;
    json((spec, vector))
}
