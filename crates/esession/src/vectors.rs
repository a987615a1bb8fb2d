//! The published test vectors (`tests/vectors/*.json`, format `esession-vectors/1`,
//! `docs/vectors.md`): generated here from real negotiations between two engines.
//!
//! Over 600 lines: test code only, the 4-message generator with the recomputation of
//! every value it records (the other vector kinds are in `vectors/`, the Gajim dialect's
//! in `vectors/gajim.rs`).
//!
//! Each vector runs a full 4-message negotiation with the in-memory [`Pair`] harness
//! (seeded randomness), sends one chat message each way, and records the wire XML and the
//! random inputs the engine drew ([`crate::transcript`]). Every intermediate value is then
//! recomputed with the public crypto and XML functions from those inputs and the XML alone,
//! never read from engine state, and cross-checked against what the engines reported.
//!
//! With `ESESSION_REGEN_VECTORS=1` the files are (re)written; otherwise the committed
//! files must be byte-identical to what the engine produces now.
use crate::compat::gajim::Dialect;
use crate::crypto::{
    apply_ctr, commitment, final_k, hmac, identity_mac, mpi_u128, negotiation_k,
    new_retained_secret, rshash, sas28x5, sas28x5_commit, session_keys, srshash, stanza_mac,
    u128_from_be, CipherAlg, DhSecret, HashAlg, IdentityKey, ModpGroup, SasAlg, SessionKeys,
};
use crate::engine::tests::{bare, sid};
use crate::engine::tests::{Pair, ALICE, BOB};
use crate::event::{SessionInfo, SrsStatus};
use crate::forms::Form;
use crate::store::{MemoryStore, SecretStore};
use crate::xml::{ns, parse_element, Element, Limits};
use crate::{b64, transcript, Config};
use serde::{Serialize, Serializer};
use std::path::PathBuf;

mod gajim;
mod offline;
mod rekey;
mod three_msg;

const H: HashAlg = HashAlg::Sha256;
const C: CipherAlg = CipherAlg::Aes128Ctr;
const NOT_MACED: [&str; 2] = ["identity", "mac"];
const HELLO_BOB: &str = "Hello Bob";
const HELLO_ALICE: &str = "Hello Alice";
/// Profile sections a vector without public keys exercises.
const PROFILE: [&str; 8] = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P9"];

/// Hex helper: binary values are lowercase hex (vectors-format.md).
fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

/// A JSON object whose keys keep the given order (alice's `x`, in offer order).
struct Ordered(Vec<(String, String)>);

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// One vector file; the 3-message and re-key vectors have their own inputs and values.
#[derive(Serialize)]
struct Vector<A = AliceInputs, B = BobInputs, V = Values> {
    format: &'static str,
    name: String,
    /// Informative: the `Pair` seed label(s) that produced the run.
    harness_labels: Vec<String>,
    profile: Vec<&'static str>,
    flow: u32,
    group: u32,
    crypt: &'static str,
    hash: &'static str,
    compress: &'static str,
    /// A dialect other than the profile (absent for the profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    dialect: Option<gajim::Marker>,
    alice: A,
    bob: B,
    thread: String,
    messages: Vec<Message>,
    values: V,
    stanzas: Vec<Stanza>,
    /// A terminate sent in clear, outside `stanzas` (the Gajim dialect, D7).
    #[serde(skip_serializing_if = "Option::is_none")]
    terminate: Option<Clear>,
}

impl<A, B, V> Vector<A, B, V> {
    /// The same vector with `values` replaced by `f(values)`.
    fn map_values<W>(self, f: impl FnOnce(V) -> W) -> Vector<A, B, W> {
        Vector {
            format: self.format,
            name: self.name,
            harness_labels: self.harness_labels,
            profile: self.profile,
            flow: self.flow,
            group: self.group,
            crypt: self.crypt,
            hash: self.hash,
            compress: self.compress,
            dialect: self.dialect,
            alice: self.alice,
            bob: self.bob,
            thread: self.thread,
            messages: self.messages,
            values: f(self.values),
            stanzas: self.stanzas,
            terminate: self.terminate,
        }
    }
}

#[derive(Serialize)]
struct AliceInputs {
    jid: &'static str,
    x: Ordered,
    nonce: String,
    retained_secrets: Vec<String>,
    oss: Option<String>,
    identity_key_pem: Option<String>,
}

#[derive(Serialize)]
struct BobInputs {
    jid: &'static str,
    y: String,
    nonce: String,
    counter: String,
    retained_secrets: Vec<String>,
    srshash_random: Option<String>,
    identity_key_pem: Option<String>,
    /// Extra field: Bob's passphrase as he typed it (it may differ from Alice's before NFC).
    #[serde(skip_serializing_if = "Option::is_none")]
    oss: Option<String>,
}

#[derive(Serialize)]
struct Message {
    n: usize,
    from: &'static str,
    xml: String,
}

/// A stanza sent in clear (the Gajim dialect's terminate, D7).
#[derive(Serialize)]
struct Clear {
    from: &'static str,
    xml: String,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Values {
    e: String,
    He: String,
    d: String,
    shared: String,
    K: String,
    provisory: Keys6,
    formA: String,
    formA2: String,
    formB: String,
    formB2: String,
    macA: String,
    IDA: String,
    MA: String,
    sas: String,
    SRS: Option<String>,
    K_final: String,
    #[serde(rename = "final")]
    fin: Keys5,
    macB: String,
    IDB: String,
    MB: String,
    new_retained_secret: String,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Keys6 {
    KCA: String,
    KMA: String,
    KSA: String,
    KCB: String,
    KMB: String,
    KSB: String,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Keys5 {
    KCA: String,
    KMA: String,
    KCB: String,
    KMB: String,
    KSB: String,
}

impl Keys6 {
    fn of(k: &SessionKeys) -> Self {
        Keys6 {
            KCA: hx(k.initiator.kc.expose()),
            KMA: hx(k.initiator.km.expose()),
            KSA: hx(k.ks_a.expose()),
            KCB: hx(k.responder.kc.expose()),
            KMB: hx(k.responder.km.expose()),
            KSB: hx(k.ks_b.expose()),
        }
    }
}

impl Keys5 {
    fn of(k: &SessionKeys) -> Self {
        Keys5 {
            KCA: hx(k.initiator.kc.expose()),
            KMA: hx(k.initiator.km.expose()),
            KCB: hx(k.responder.kc.expose()),
            KMB: hx(k.responder.km.expose()),
            KSB: hx(k.ks_b.expose()),
        }
    }
}

#[derive(Serialize)]
struct Stanza {
    from: &'static str,
    counter_before: String,
    plaintext: String,
    m_content: String,
    a_mac: String,
    xml: String,
    /// The Gajim dialect: the text the user sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    /// The Gajim dialect (D2-tail): keystream octets taken from the end of the sender's
    /// previous stanza's last block before any new block.
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_keystream: Option<usize>,
}

/// One vector to produce: how the two engines are set up.
struct Spec {
    file: &'static str,
    name: &'static str,
    alice: Config,
    bob: Config,
    /// (Alice's, Bob's) other shared secret as typed.
    oss: Option<(&'static str, &'static str)>,
    /// (Alice's, Bob's) identity key, PKCS#8 DER (`None`: no public keys).
    identities: Option<(&'static [u8], &'static [u8])>,
}

/// What one negotiation left behind: everything the vector is computed from.
struct Run {
    label: String,
    wire: Vec<(bool, String)>,
    transcript: Vec<(String, Vec<u8>)>,
    thread: String,
    alice_rs: Vec<Vec<u8>>,
    bob_rs: Vec<Vec<u8>>,
    /// What each engine of the run reported (both of a pair; ours alone against the Gajim
    /// double).
    infos: Vec<SessionInfo>,
}

fn secrets(store: &MemoryStore, own: &str, peer: Option<&str>) -> Vec<Vec<u8>> {
    let list = match peer {
        Some(p) => store.secrets_with(own, p),
        None => store.all_secrets(own),
    };
    list.unwrap()
        .into_iter()
        .map(|s| s.secret.to_vec())
        .collect()
}

/// Runs one negotiation plus one chat message each way.
fn run(label: &str, spec: &Spec, stores: (MemoryStore, MemoryStore)) -> (Run, Pair) {
    let alice_rs = secrets(&stores.0, "alice@example.org", Some("bob@example.com"));
    let bob_rs = secrets(&stores.1, "bob@example.com", None);
    let _ = transcript::take();
    let mut p = Pair::with(
        label,
        spec.alice.clone(),
        spec.bob.clone(),
        stores.0,
        stores.1,
    );
    if let Some((a, b)) = spec.oss {
        p.alice
            .set_other_shared_secret(&bare("bob@example.com"), Some(a));
        p.bob
            .set_other_shared_secret(&bare("alice@example.org"), Some(b));
    }
    if let Some((a, b)) = spec.identities {
        p.alice
            .set_identity_key(Some(IdentityKey::from_pkcs8_der(a).unwrap()));
        p.bob
            .set_identity_key(Some(IdentityKey::from_pkcs8_der(b).unwrap()));
    }
    let (thread, a, b) = p.negotiate();
    p.alice.send_message(&sid(BOB, &thread), HELLO_BOB).unwrap();
    p.run();
    p.bob
        .send_message(&sid(ALICE, &thread), HELLO_ALICE)
        .unwrap();
    p.run();
    let run = Run {
        label: label.to_owned(),
        wire: std::mem::take(&mut p.wire),
        transcript: transcript::take(),
        thread,
        alice_rs,
        bob_rs,
        infos: vec![a, b],
    };
    (run, p)
}

fn recorded<'a>(run: &'a Run, label: &str) -> &'a [u8] {
    run.transcript
        .iter()
        .find(|(l, _)| l == label)
        .map(|(_, v)| v.as_slice())
        .unwrap_or_else(|| panic!("{}: transcript has no {label}", run.label))
}

fn parse(xml: &str) -> Element {
    parse_element(xml, &Limits::default()).unwrap()
}

/// The data form `<x/>` of a negotiation message (inside `<feature/>` or `<init/>`).
fn form_x(msg: &Element) -> Element {
    msg.child("feature", ns::FEATURE_NEG)
        .or_else(|| msg.child("init", ns::ESESSION_INIT))
        .and_then(|w| w.child("x", ns::DATA))
        .cloned()
        .unwrap()
}

fn values_of(x: &Element, var: &str) -> Vec<Vec<u8>> {
    let form = Form::parse(x).unwrap();
    let field = form.field(var).unwrap();
    field
        .values
        .iter()
        .map(|v| b64::decode(var, v).unwrap())
        .collect()
}

fn one(x: &Element, var: &str) -> Vec<u8> {
    let mut v = values_of(x, var);
    assert_eq!(v.len(), 1, "{var}");
    v.remove(0)
}

/// `ID = CIPHER(KC, C, mac)`, `M = HMAC(KM, mpi(C) | ID)`; returns (ID, M, C after).
/// In the Gajim dialect the cipher is AES-256 from C+1 (D1, D2).
fn seal(
    dialect: Dialect,
    kc: &[u8],
    km: &[u8],
    counter: u128,
    mac: &[u8],
) -> (Vec<u8>, Vec<u8>, u128) {
    let mut c = counter;
    let mut id = mac.to_vec();
    dialect
        .identity_ctr(dialect.key_cipher(C), kc, &mut c, &mut id)
        .unwrap();
    let m = identity_mac(H, km, counter, &id);
    (id, m, c)
}

/// m_content of XEP-0200 §8 / P9: the `<c/>` children but `<mac/>`, P4 form, no whitespace.
fn m_content(c: &Element) -> String {
    c.children()
        .filter(|e| e.name() != "mac")
        .map(Element::normalized)
        .collect::<String>()
        .chars()
        .filter(|ch| !matches!(ch, ' ' | '\t' | '\r' | '\n'))
        .collect()
}

/// Opens the `<c/>` of a captured data stanza; checks the MAC it carries.
fn stanza(from_alice: bool, xml: &str, kc: &[u8], km: &[u8], counter: &mut u128) -> Stanza {
    let msg = parse(xml);
    let c = msg.child("c", ns::STANZA_ENCRYPTION).unwrap();
    let content = m_content(c);
    let before = *counter;
    let a_mac = stanza_mac(H, km, content.as_bytes(), before);
    let sent = c.child("mac", ns::STANZA_ENCRYPTION).unwrap().text();
    assert_eq!(b64::encode(&a_mac), sent, "a_mac");
    let data = c.child("data", ns::STANZA_ENCRYPTION).unwrap().text();
    let mut plain = b64::decode("data", &data).unwrap();
    apply_ctr(C, kc, counter, &mut plain).unwrap();
    Stanza {
        from: if from_alice { "alice" } else { "bob" },
        counter_before: hx(&mpi_u128(before)),
        plaintext: String::from_utf8(plain).unwrap(),
        m_content: content,
        a_mac: hx(&a_mac),
        xml: xml.to_owned(),
        body: None,
        carried_keystream: None,
    }
}

/// Recomputes every value of one run (4 messages, one stanza each way) from its inputs
/// and its XML.
fn vector(spec: &Spec, run: &Run, labels: Vec<String>) -> Vector {
    assert_eq!(
        run.wire.len(),
        6,
        "{}: 4 negotiation messages + 2 stanzas",
        spec.file
    );
    let Negotiated {
        mut vector,
        fin,
        mut c_a,
        mut c_b,
    } = four_message(spec, run, labels, Dialect::Profile);
    for (from_alice, xml) in run.wire.iter().skip(4) {
        let (keys, counter) = if *from_alice {
            (&fin.initiator, &mut c_a)
        } else {
            (&fin.responder, &mut c_b)
        };
        vector.stanzas.push(stanza(
            *from_alice,
            xml,
            keys.kc.expose(),
            keys.km.expose(),
            counter,
        ));
    }
    assert_eq!(
        vector.stanzas[0].plaintext,
        format!("<body>{HELLO_BOB}</body>")
    );
    assert_eq!(
        vector.stanzas[1].plaintext,
        format!("<body>{HELLO_ALICE}</body>")
    );
    vector
}

/// A recomputed 4-message negotiation: the vector without stanzas, the final keys and the
/// send counters after the identities (P3).
struct Negotiated {
    vector: Vector,
    fin: SessionKeys,
    c_a: u128,
    c_b: u128,
}

/// Recomputes the 4 negotiation messages of `run` (its first four wire stanzas), spoken in
/// `dialect` (the profile, or Gajim's: D1, D2, D3, D6).
fn four_message(spec: &Spec, run: &Run, labels: Vec<String>, dialect: Dialect) -> Negotiated {
    let msgs: Vec<Element> = run.wire.iter().take(4).map(|(_, s)| parse(s)).collect();
    let xs: Vec<Element> = msgs.iter().map(form_x).collect();
    let (x1, x2, x3, x4) = (&xs[0], &xs[1], &xs[2], &xs[3]);
    let form2 = Form::parse(x2).unwrap();
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

    let x_mpi = recorded(run, &format!("alice.x.{group_id}"));
    let y_mpi = recorded(run, "bob.y");
    let n_a = recorded(run, "alice.nonce");
    let n_b = recorded(run, "bob.nonce");
    let counter = recorded(run, "bob.counter");
    let c_a = u128_from_be(counter).unwrap();
    let c_b = c_a ^ (1u128 << 127);

    let x = DhSecret::from_be(group_id, x_mpi).unwrap();
    let y = DhSecret::from_be(group_id, y_mpi).unwrap();
    let e = group.public_value(&x);
    let d = group.public_value(&y);
    let he = commitment(&e);
    let index = offered
        .iter()
        .position(|g| *g == group_id.to_string())
        .unwrap();
    assert_eq!(values_of(x1, "dhhashes")[index], he, "He");
    assert_eq!(one(x2, "dhkeys"), d, "d");
    assert_eq!(one(x3, "dhkeys"), e, "e");
    assert_eq!(one(x2, "nonce"), n_a, "nonce");
    assert_eq!(one(x2, "my_nonce"), n_b, "my_nonce");
    assert_eq!(one(x2, "counter"), counter, "counter");
    let shared = group.shared_secret(&x, &d).unwrap();
    assert_eq!(group.shared_secret(&y, &e).unwrap(), shared, "shared");
    let k = negotiation_k(H, shared.expose());
    let cipher = dialect.key_cipher(C);
    let provisory = session_keys(H, cipher, k.expose());

    let form_a = dialect.form(x1);
    let form_a2 = dialect.form(x3);
    let form_b = dialect.form(x2);
    let form_b2 = dialect.form(x4);

    let mac_a = hmac(
        H,
        provisory.ks_a.expose(),
        &[n_b, n_a, &e, form_a.as_bytes(), form_a2.as_bytes()],
    );
    let (id_a, m_a, c_a_run) = seal(
        dialect,
        provisory.initiator.kc.expose(),
        provisory.initiator.km.expose(),
        c_a,
        &mac_a,
    );
    assert_eq!(one(x3, "identity"), id_a, "IDA");
    assert_eq!(one(x3, "mac"), m_a, "MA");
    // Profile P15: message 2 names the SAS; without the field it is sas28x5.
    let sas_alg = form2
        .value("sas_algs")
        .map_or(Some(SasAlg::Classic), SasAlg::from_name)
        .unwrap();
    let sas = dialect.show_sas(match sas_alg {
        SasAlg::Committed => sas28x5_commit(H, &e, &d, n_a, n_b),
        SasAlg::Classic => sas28x5(H, &m_a, form_b.as_bytes()),
    });
    for info in &run.infos {
        assert_eq!(info.sas_alg, Some(sas_alg), "{:?}", info.role);
        assert_eq!(info.sas.as_deref(), Some(sas.as_str()), "{:?}", info.role);
    }

    // The SRS as Bob finds it (rshashes) and as Alice finds it (srshash) must agree.
    let rshashes = values_of(x3, "rshashes");
    let srs_bob = run
        .bob_rs
        .iter()
        .find(|rs| rshashes.contains(&rshash(H, n_a, rs)));
    let srs_hash = one(x4, "srshash");
    let srs_alice = run.alice_rs.iter().find(|rs| srshash(H, rs) == srs_hash);
    assert_eq!(srs_bob, srs_alice, "{}: SRS", spec.file);
    let srs = srs_bob.cloned();
    let srs_random = run
        .transcript
        .iter()
        .find(|(l, _)| l == "bob.srshash_random")
        .map(|(_, v)| v.clone());
    assert_eq!(srs.is_none(), srs_random.is_some());
    if let Some(r) = &srs_random {
        assert_eq!(*r, srs_hash, "srshash_random");
    }
    let expect = if srs.is_some() {
        SrsStatus::Matched
    } else {
        SrsStatus::None
    };
    for info in &run.infos {
        assert_eq!(info.srs, expect, "{:?}", info.role);
    }

    // P1, A8: OSS is the UTF-8 of the NFC passphrase.
    let oss: Option<String> = spec.oss.map(|(a, _)| {
        use unicode_normalization::UnicodeNormalization;
        a.nfc().collect()
    });
    let k_final = final_k(
        H,
        k.expose(),
        srs.as_deref(),
        oss.as_deref().map(str::as_bytes),
    );
    let fin = session_keys(H, cipher, k_final.expose());
    let mac_b = hmac(
        H,
        fin.ks_b.expose(),
        &[n_a, n_b, &d, form_b.as_bytes(), form_b2.as_bytes()],
    );
    let (id_b, m_b, c_b_run) = seal(
        dialect,
        fin.responder.kc.expose(),
        fin.responder.km.expose(),
        c_b,
        &mac_b,
    );
    assert_eq!(one(x4, "identity"), id_b, "IDB");
    assert_eq!(one(x4, "mac"), m_b, "MB");
    let new_rs = new_retained_secret(H, k_final.expose());

    let xs_in_order: Vec<(String, String)> = offered
        .iter()
        .map(|g| (g.clone(), hx(recorded(run, &format!("alice.x.{g}")))))
        .collect();
    let vector = Vector {
        format: "esession-vectors/1",
        name: spec.name.to_owned(),
        harness_labels: labels,
        profile: PROFILE.to_vec(),
        flow: 4,
        group: group_id,
        crypt: "aes128-ctr",
        hash: "sha256",
        compress: "none",
        dialect: None,
        alice: AliceInputs {
            jid: ALICE,
            x: Ordered(xs_in_order),
            nonce: hx(n_a),
            retained_secrets: run.alice_rs.iter().map(|s| hx(s)).collect(),
            oss: oss.clone(),
            identity_key_pem: None,
        },
        bob: BobInputs {
            jid: BOB,
            y: hx(y_mpi),
            nonce: hx(n_b),
            counter: hx(counter),
            retained_secrets: run.bob_rs.iter().map(|s| hx(s)).collect(),
            srshash_random: srs_random.as_deref().map(hx),
            identity_key_pem: None,
            oss: spec.oss.map(|(_, b)| b.to_owned()),
        },
        thread: run.thread.clone(),
        messages: run
            .wire
            .iter()
            .take(4)
            .enumerate()
            .map(|(i, (a, xml))| Message {
                n: i + 1,
                from: if *a { "alice" } else { "bob" },
                xml: xml.clone(),
            })
            .collect(),
        values: Values {
            e: hx(&e),
            He: hx(&he),
            d: hx(&d),
            shared: hx(shared.expose()),
            K: hx(k.expose()),
            provisory: Keys6::of(&provisory),
            formA: form_a,
            formA2: form_a2,
            formB: form_b,
            formB2: form_b2,
            macA: hx(&mac_a),
            IDA: hx(&id_a),
            MA: hx(&m_a),
            sas,
            SRS: srs.as_deref().map(hx),
            K_final: hx(k_final.expose()),
            fin: Keys5::of(&fin),
            macB: hx(&mac_b),
            IDB: hx(&id_b),
            MB: hx(&m_b),
            new_retained_secret: hx(new_rs.expose()),
        },
        stanzas: Vec::new(),
        terminate: None,
    };
    Negotiated {
        vector,
        fin,
        c_a: c_a_run,
        c_b: c_b_run,
    }
}

/// The 4-message vectors follow the XEP-0217 simplified profile (aes128-ctr, sha256, no
/// public keys, re-keying off: XEP-0217 §4.1) with its fixed `sas_algs` = `sas28x5` (one
/// hidden value, as they were published before profile P15 made the committed SAS the
/// first offer).
fn base() -> Config {
    Config {
        sas: vec![SasAlg::Classic],
        ..Config::simplified()
    }
}

fn groups(ids: &[u32]) -> Config {
    Config {
        groups: ids.to_vec(),
        ..base()
    }
}

fn fresh() -> (MemoryStore, MemoryStore) {
    (MemoryStore::new(), MemoryStore::new())
}

/// (a) Group 14 chosen by Bob from Alice's default offer (15, 14, 16, 5).
fn group14() -> (Spec, Vector) {
    let spec = Spec {
        file: "4msg-group14.json",
        name: "4-message, group 14 (Bob's choice from the default offer 15, 14, 16, 5), \
               no retained secret, no OSS",
        alice: base(),
        bob: groups(&[14]),
        oss: None,
        identities: None,
    };
    let (r, _) = run("vectors/group14", &spec, fresh());
    let v = vector(&spec, &r, vec![r.label.clone()]);
    (spec, v)
}

/// (b) Group 5, the first label `vectors/group5/<i>` whose shared value g^xy mod p has a
/// leading zero octet (mpi(shared) shorter than p), the case that catches padding bugs.
fn group5_leading_zero() -> (Spec, Vector) {
    let spec = Spec {
        file: "4msg-group5-leading-zero.json",
        name: "4-message, group 5, shared secret g^xy mod p with a leading zero octet \
               (mpi(shared) is shorter than p), no retained secret, no OSS",
        alice: groups(&[5]),
        bob: groups(&[5]),
        oss: None,
        identities: None,
    };
    let p_len = ModpGroup::get(5).unwrap().prime_be().len();
    for i in 0..4096 {
        let (r, _) = run(&format!("vectors/group5/{i}"), &spec, fresh());
        let v = vector(&spec, &r, vec![r.label.clone()]);
        if v.values.shared.len() / 2 < p_len {
            return (spec, v);
        }
    }
    panic!("no leading-zero shared secret in 4096 runs");
}

/// (c) Group 15, the second session between the same stores: a retained secret matches.
fn group15_retained() -> (Spec, Vector) {
    let spec = Spec {
        file: "4msg-group15-retained-secret.json",
        name: "4-message, group 15, second session: the retained secret of the first \
               session is matched on both sides (SRS), no OSS",
        alice: base(),
        bob: base(),
        oss: None,
        identities: None,
    };
    let (_, first) = run("vectors/retained/1", &spec, fresh());
    let (r, _) = run("vectors/retained/2", &spec, first.into_stores());
    assert_eq!((r.alice_rs.len(), r.bob_rs.len()), (1, 1));
    let labels = vec!["vectors/retained/1".to_owned(), r.label.clone()];
    let v = vector(&spec, &r, labels);
    assert!(v.values.SRS.is_some());
    (spec, v)
}

/// (d) Group 16 with an other shared secret typed differently on each side (same NFC).
fn group16_oss() -> (Spec, Vector) {
    let spec = Spec {
        file: "4msg-group16-oss.json",
        name: "4-message, group 16, other shared secret \"café\" (Alice typed U+00E9, Bob \
               e + U+0301: equal after NFC), no retained secret",
        alice: base(),
        bob: groups(&[16]),
        oss: Some(("caf\u{e9}", "cafe\u{301}")),
        identities: None,
    };
    let (r, _) = run("vectors/oss", &spec, fresh());
    let v = vector(&spec, &r, vec![r.label.clone()]);
    (spec, v)
}

/// (e) Group 14, the committed SAS of profile P15: Alice offers `sas28x5-commit` then
/// `sas28x5` (the default), Bob picks the first.
fn sas_commit() -> (Spec, Vector) {
    let spec = Spec {
        file: "4msg-sas-commit.json",
        name: "4-message, group 14 (Bob's choice from 15, 14, 16, 5), committed SAS \
               sas28x5-commit (profile P15, Bob's choice from sas28x5-commit, sas28x5), \
               no retained secret, no OSS",
        alice: Config::simplified(),
        bob: Config {
            groups: vec![14],
            ..Config::simplified()
        },
        oss: None,
        identities: None,
    };
    let (r, _) = run("vectors/sas-commit", &spec, fresh());
    let mut v = vector(&spec, &r, vec![r.label.clone()]);
    v.profile.push("P15");
    (spec, v)
}

/// A vector as its file text: pretty-printed JSON and a final newline.
fn json<V: Serialize>((spec, v): (Spec, V)) -> (Spec, String) {
    (spec, serde_json::to_string_pretty(&v).unwrap() + "\n")
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Where two texts first differ, for a readable failure.
fn first_difference(a: &str, b: &str) -> String {
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()));
    format!(
        "line {}: committed {:?}, generated {:?}",
        line + 1,
        a.lines().nth(line),
        b.lines().nth(line)
    )
}

#[test]
fn vectors_are_reproducible() {
    let regen = std::env::var("ESESSION_REGEN_VECTORS").as_deref() == Ok("1");
    let makers: [fn() -> (Spec, String); 12] = [
        || json(group14()),
        || json(group5_leading_zero()),
        || json(group15_retained()),
        || json(group16_oss()),
        || json(sas_commit()),
        three_msg::rsa,
        rekey::alice_then_bob,
        offline::open_set,
        gajim::we_initiate,
        gajim::zero_counter,
        gajim::gajim_initiates,
        gajim::gajim_initiates_retained,
    ];
    for make in makers {
        let (spec, text) = make();
        let path = dir().join(spec.file);
        if regen {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, text).unwrap();
        } else {
            let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run ESESSION_REGEN_VECTORS=1 cargo test -p esession vectors)",
                    path.display()
                )
            });
            assert!(
                committed == text,
                "{} no longer matches what the engine produces: {}",
                spec.file,
                first_difference(&committed, &text)
            );
        }
    }
}
