//! The 3-message vector `3msg-rsa.json`: SIGMA-I (XEP-0116 §4.2, §4.5.4, §4.6.2–4.6.3,
//! profile P12) with RSA `key` identities on both sides (profile P8), then one stanza each
//! way. Every value is recomputed from the inputs (exponents, nonces, counter, the two
//! PKCS#8 keys) and the wire XML; RSASSA-PKCS1-v1_5 is deterministic, so the signatures
//! are recomputed too.
use super::{
    form_x, hx, json, one, parse, recorded, run, seal, stanza, values_of, Dialect, Keys6, Message,
    Ordered, Spec, Stanza, Vector, C, H, HELLO_ALICE, HELLO_BOB, NOT_MACED,
};
use crate::config::{Flow, PubkeyMode};
use crate::crypto::{
    hmac, negotiation_k, session_keys, sha256, u128_from_be, DhSecret, IdentityKey, ModpGroup,
    SignAlg,
};
use crate::engine::tests::{ALICE, BOB};
use crate::forms::Form;
use crate::store::MemoryStore;
use crate::xml::normalize_form_content;
use crate::{b64, Config};
use serde::Serialize;

/// Alice's identity key (the shared RSA-2048 test fixture).
pub(super) const ALICE_KEY: &[u8] = include_bytes!("../../tests/keys/rsa2048.pk8.der");
/// Bob's identity key (a second RSA-2048 fixture, generated once with openssl).
pub(super) const BOB_KEY: &[u8] = include_bytes!("../../tests/keys/rsa2048-b.pk8.der");
/// Profile sections the 3-message vector exercises.
const PROFILE: [&str; 8] = ["P1", "P2", "P3", "P4", "P6", "P8", "P9", "P12"];

/// PKCS#8 DER as PEM (`PRIVATE KEY`, RFC 7468: base64 in lines of 64 characters).
pub(super) fn pem(der: &[u8]) -> String {
    let text = b64::encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// Alice's inputs in the 3-message flow (no retained secrets, no OSS, profile P12) and in an
/// offline session (her option set's exponents and nonce, profile P11).
#[derive(Serialize)]
pub(super) struct AliceInputs {
    pub jid: &'static str,
    pub x: Ordered,
    pub nonce: String,
    pub identity_key_pem: String,
}

/// Bob's inputs in the 3-message flow (no retained secrets, no `srshash_random`, P12) and
/// in an offline session, where he is the 3-message responder (P11 "Keys").
#[derive(Serialize)]
pub(super) struct BobInputs {
    pub jid: &'static str,
    pub y: String,
    pub nonce: String,
    pub counter: String,
    pub identity_key_pem: String,
}

/// The values of the 3-message flow (vectors-format.md): no He, SRS, K', SAS or formB2;
/// all six keys of K under `provisory`. `IDB_plaintext` / `IDA_plaintext` (extra fields,
/// docs/vectors.md) are the encrypted identities before encryption: the P4 text of the
/// KeyValue immediately followed by the SignatureValue (profile P8).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Values {
    e: String,
    d: String,
    shared: String,
    K: String,
    provisory: Keys6,
    formA: String,
    formB: String,
    formA2: String,
    pubKeyB: String,
    fingerprintB: String,
    macB: String,
    signB: String,
    IDB_plaintext: String,
    IDB: String,
    MB: String,
    pubKeyA: String,
    fingerprintA: String,
    macA: String,
    signA: String,
    IDA_plaintext: String,
    IDA: String,
    MA: String,
}

/// One signed identity (profile P8): mac, signature, plaintext, ID, M, counter after.
pub(super) struct Signed {
    pub(super) pub_key: String,
    pub(super) mac: Vec<u8>,
    pub(super) sign: Vec<u8>,
    pub(super) plain: String,
    pub(super) id: Vec<u8>,
    pub(super) m: Vec<u8>,
    pub(super) after: u128,
}

/// mac = HMAC(KS, parts…) with pubKey in place; signs it; ID = CIPHER(KC, C, pubKey |
/// SignatureValue); M = HMAC(KM, mpi(C) | ID) (XEP-0116 §4.5.4, profile P8).
pub(super) fn signed(
    key: &IdentityKey,
    ks: &[u8],
    prefix: [&[u8]; 3],
    forms: &[&[u8]],
    kc: &[u8],
    km: &[u8],
    counter: u128,
) -> Signed {
    let pub_key = key.public().normalized();
    let mut parts: Vec<&[u8]> = prefix.to_vec();
    parts.push(pub_key.as_bytes());
    parts.extend_from_slice(forms);
    let mac = hmac(H, ks, &parts);
    let sign = key.sign(&mac).unwrap();
    key.public()
        .verify(SignAlg::RsaSha256, &mac, &sign)
        .unwrap();
    let plain = format!(
        "{pub_key}<SignatureValue>{}</SignatureValue>",
        b64::encode(&sign)
    );
    let (id, m, after) = seal(Dialect::Profile, kc, km, counter, plain.as_bytes());
    Signed {
        pub_key,
        mac,
        sign,
        plain,
        id,
        m,
        after,
    }
}

/// The fingerprint of a P4 KeyValue text: hex of SHA-256 (profile P8).
pub(super) fn fingerprint(pub_key: &str) -> String {
    hx(&sha256(&[pub_key.as_bytes()]))
}

/// `3msg-rsa.json`: Alice offers the default groups 15, 14, 16, 5 with `dhkeys`, Bob
/// picks 14; both present and require `key` identities, RSA-SHA256.
pub(super) fn rsa() -> (Spec, String) {
    let keyed = |flow: Flow, groups: Vec<u32>| Config {
        flow,
        groups,
        accept_three_message: true,
        present_pubkey: vec![PubkeyMode::Key],
        accept_pubkey: vec![PubkeyMode::Key],
        ..Config::simplified()
    };
    let spec = Spec {
        file: "3msg-rsa.json",
        name: "3-message (SIGMA-I), group 14 (Bob's choice from 15, 14, 16, 5), RSA-2048 \
               `key` identities on both sides, rsa-sha256",
        alice: keyed(Flow::Three, Config::default().groups),
        bob: keyed(Flow::Four, vec![14]),
        oss: None,
        identities: Some((ALICE_KEY, BOB_KEY)),
    };
    let (r, _) = run(
        "vectors/3msg-rsa",
        &spec,
        (MemoryStore::new(), MemoryStore::new()),
    );
    assert_eq!(r.wire.len(), 5, "3 negotiation messages + 2 stanzas");
    let msgs: Vec<_> = r.wire.iter().take(3).map(|(_, s)| parse(s)).collect();
    let xs: Vec<_> = msgs.iter().map(form_x).collect();
    let (x1, x2, x3) = (&xs[0], &xs[1], &xs[2]);
    let form2 = Form::parse(x2).unwrap();
    // Profile P12, P8: the identity methods and the signature algorithm as negotiated.
    assert_eq!(form2.value("init_pubkey"), Some("key"));
    assert_eq!(form2.value("resp_pubkey"), Some("key"));
    assert_eq!(form2.value("sign_algs"), Some(SignAlg::RsaSha256.uri()));
    let group_id: u32 = form2.value("modp").unwrap().parse().unwrap();
    let group = ModpGroup::get(group_id).unwrap();
    let offered: Vec<String> = Form::parse(x1)
        .unwrap()
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
    // Profile P12: message 1 carries e for every offered group, no dhhashes.
    assert_eq!(values_of(x1, "dhkeys")[index], e, "e");
    assert_eq!(one(x2, "dhkeys"), d, "d");
    assert_eq!(one(x1, "my_nonce"), n_a, "my_nonce (1)");
    assert_eq!(one(x2, "nonce"), n_a, "nonce (2)");
    assert_eq!(one(x2, "my_nonce"), n_b, "my_nonce (2)");
    assert_eq!(one(x3, "nonce"), n_b, "nonce (3)");
    assert_eq!(one(x2, "counter"), counter, "counter");
    let shared = group.shared_secret(&x, &d).unwrap();
    assert_eq!(group.shared_secret(&y, &e).unwrap(), shared, "shared");
    // Profile P12: K = HASH(mpi(shared)), all six keys from K.
    let k = negotiation_k(H, shared.expose());
    let keys = session_keys(H, C, k.expose());

    let form_a = normalize_form_content(x1, &NOT_MACED);
    let form_b = normalize_form_content(x2, &NOT_MACED);
    let form_a2 = normalize_form_content(x3, &NOT_MACED);
    let alice_key = IdentityKey::from_pkcs8_der(ALICE_KEY).unwrap();
    let bob_key = IdentityKey::from_pkcs8_der(BOB_KEY).unwrap();
    // XEP-0116 §4.5.4: mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B), at C_B.
    let b = signed(
        &bob_key,
        keys.ks_b.expose(),
        [n_a, n_b, &d],
        &[form_b.as_bytes()],
        keys.responder.kc.expose(),
        keys.responder.km.expose(),
        c_b,
    );
    assert_eq!(one(x2, "identity"), b.id, "IDB");
    assert_eq!(one(x2, "mac"), b.m, "MB");
    // XEP-0116 §4.6.3: mac_A = HMAC(KS_A, N_B | N_A | e | pubKey_A | form_A | form_A2).
    let a = signed(
        &alice_key,
        keys.ks_a.expose(),
        [n_b, n_a, &e],
        &[form_a.as_bytes(), form_a2.as_bytes()],
        keys.initiator.kc.expose(),
        keys.initiator.km.expose(),
        c_a,
    );
    assert_eq!(one(x3, "identity"), a.id, "IDA");
    assert_eq!(one(x3, "mac"), a.m, "MA");
    // Each engine reports the other's key.
    let peer_fp =
        |info: &crate::event::SessionInfo| info.peer_key.as_ref().map(|k| k.fingerprint.clone());
    assert_eq!(
        peer_fp(&r.infos[0]),
        Some(bob_key.public().fingerprint().to_b64())
    );
    assert_eq!(
        peer_fp(&r.infos[1]),
        Some(alice_key.public().fingerprint().to_b64())
    );
    assert_eq!(
        bob_key.public().fingerprint().to_hex(),
        fingerprint(&b.pub_key)
    );

    // P3: the stanzas continue after the identities, under the keys of K.
    let (mut send_a, mut send_b) = (a.after, b.after);
    let stanzas: Vec<Stanza> = r
        .wire
        .iter()
        .skip(3)
        .map(|(from_alice, xml)| {
            let (dir, counter) = if *from_alice {
                (&keys.initiator, &mut send_a)
            } else {
                (&keys.responder, &mut send_b)
            };
            stanza(*from_alice, xml, dir.kc.expose(), dir.km.expose(), counter)
        })
        .collect();
    assert_eq!(stanzas[0].plaintext, format!("<body>{HELLO_BOB}</body>"));
    assert_eq!(stanzas[1].plaintext, format!("<body>{HELLO_ALICE}</body>"));

    let xs_in_order = offered
        .iter()
        .map(|g| (g.clone(), hx(recorded(&r, &format!("alice.x.{g}")))))
        .collect();
    let vector = Vector {
        format: "esession-vectors/1",
        name: spec.name.to_owned(),
        harness_labels: vec![r.label.clone()],
        profile: PROFILE.to_vec(),
        flow: 3,
        group: group_id,
        crypt: "aes128-ctr",
        hash: "sha256",
        compress: "none",
        dialect: None,
        alice: AliceInputs {
            jid: ALICE,
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
        messages: r
            .wire
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, (a, xml))| Message {
                n: i + 1,
                from: if *a { "alice" } else { "bob" },
                xml: xml.clone(),
            })
            .collect(),
        values: Values {
            e: hx(&e),
            d: hx(&d),
            shared: hx(shared.expose()),
            K: hx(k.expose()),
            provisory: Keys6::of(&keys),
            formA: form_a,
            formB: form_b,
            formA2: form_a2,
            fingerprintB: fingerprint(&b.pub_key),
            pubKeyB: b.pub_key,
            macB: hx(&b.mac),
            signB: hx(&b.sign),
            IDB_plaintext: b.plain,
            IDB: hx(&b.id),
            MB: hx(&b.m),
            fingerprintA: fingerprint(&a.pub_key),
            pubKeyA: a.pub_key,
            macA: hx(&a.mac),
            signA: hx(&a.sign),
            IDA_plaintext: a.plain,
            IDA: hx(&a.id),
            MA: hx(&a.m),
        },
        stanzas,
        terminate: None,
    };
    json((spec, vector))
}
