//! A consumer of the published test vectors (`tests/vectors/*.json`, `docs/vectors.md`),
//! written as another implementation would: public API only, every value recomputed from
//! the file's inputs (x, y, nonces, counter, retained secrets, OSS) and its message XML,
//! then compared with the value the file states.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use esession::crypto::{
    apply_ctr, blocks_for, commitment, final_k, hmac, identity_mac, mpi, mpi_u128, negotiation_k,
    new_retained_secret, rshash, sas28x5, session_keys, sha256, srshash, stanza_mac, u128_from_be,
    CipherAlg, DhSecret, HashAlg, ModpGroup, SessionKeys,
};
use esession::forms::Form;
use esession::xml::{normalize_form_content, ns, parse_element, Element, Limits};
use num_bigint::BigUint;
use serde_json::Value;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

const H: HashAlg = HashAlg::Sha256;
const C: CipherAlg = CipherAlg::Aes128Ctr;
const NOT_MACED: [&str; 2] = ["identity", "mac"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn files() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One vector file under check: reads inputs, collects every mismatch by name.
struct Check<'a> {
    file: &'a str,
    json: &'a Value,
    errors: Vec<String>,
}

impl<'a> Check<'a> {
    fn get(&self, path: &str) -> &'a Value {
        path.split('.')
            .try_fold(self.json, |v, key| match (v, key.parse::<usize>()) {
                (Value::Array(a), Ok(i)) => a.get(i),
                _ => v.get(key),
            })
            .unwrap_or_else(|| panic!("{}: missing {path}", self.file))
    }

    fn text(&self, path: &str) -> &'a str {
        self.get(path)
            .as_str()
            .unwrap_or_else(|| panic!("{}: {path} is not a string", self.file))
    }

    fn hex(&self, path: &str) -> Vec<u8> {
        hex::decode(self.text(path)).unwrap_or_else(|e| panic!("{}: {path}: {e}", self.file))
    }

    /// A value that may be absent or null.
    fn opt_hex(&self, path: &str) -> Option<Vec<u8>> {
        let v = path
            .split('.')
            .try_fold(self.json, |v, key| v.get(key))
            .filter(|v| !v.is_null())?;
        Some(hex::decode(v.as_str()?).unwrap_or_else(|e| panic!("{}: {path}: {e}", self.file)))
    }

    fn hex_list(&self, path: &str) -> Vec<Vec<u8>> {
        self.get(path)
            .as_array()
            .unwrap_or_else(|| panic!("{}: {path} is not a list", self.file))
            .iter()
            .map(|v| hex::decode(v.as_str().unwrap()).unwrap())
            .collect()
    }

    fn eq(&mut self, what: &str, stated: impl AsRef<[u8]>, computed: impl AsRef<[u8]>) {
        let (s, c) = (stated.as_ref(), computed.as_ref());
        if s != c {
            self.errors.push(format!(
                "{}: {what} differs: file {} / recomputed {}",
                self.file,
                shown(s),
                shown(c)
            ));
        }
    }

    /// Compares a hex value of the file with a recomputed one.
    fn value(&mut self, path: &str, computed: impl AsRef<[u8]>) {
        let stated = self.hex(path);
        self.eq(path, stated, computed);
    }

    fn value_text(&mut self, path: &str, computed: &str) {
        let stated = self.text(path);
        self.eq(path, stated, computed);
    }

    fn keys(&mut self, under: &str, k: &SessionKeys, with_ksa: bool) {
        self.value(&format!("{under}.KCA"), k.initiator.kc.expose());
        self.value(&format!("{under}.KMA"), k.initiator.km.expose());
        self.value(&format!("{under}.KCB"), k.responder.kc.expose());
        self.value(&format!("{under}.KMB"), k.responder.km.expose());
        self.value(&format!("{under}.KSB"), k.ks_b.expose());
        if with_ksa {
            self.value(&format!("{under}.KSA"), k.ks_a.expose());
        }
    }
}

fn shown(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => hex::encode(b),
    }
}

fn parse(xml: &str) -> Element {
    parse_element(xml, &Limits::default()).unwrap()
}

/// The `<x/>` of a negotiation message: in `<feature/>` (1–3) or `<init/>` (4).
fn form_x(msg: &Element) -> &Element {
    msg.child("feature", ns::FEATURE_NEG)
        .or_else(|| msg.child("init", ns::ESESSION_INIT))
        .and_then(|w| w.child("x", ns::DATA))
        .unwrap()
}

/// The base64 values of field `var`, decoded.
fn b64_values(x: &Element, var: &str) -> Vec<Vec<u8>> {
    let form = Form::parse(x).unwrap();
    let field = form.field(var).unwrap_or_else(|| panic!("no field {var}"));
    field
        .values
        .iter()
        .map(|v| esession::b64::decode(var, v).unwrap())
        .collect()
}

fn b64_one(x: &Element, var: &str) -> Vec<u8> {
    let mut v = b64_values(x, var);
    assert_eq!(v.len(), 1, "field {var} has {} values", v.len());
    v.remove(0)
}

/// P3: ID = CIPHER(KC, C, mac); M = HMAC(KM, mpi(C before) | ID). Returns (ID, M).
fn seal(kc: &[u8], km: &[u8], counter: u128, mac: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut c = counter;
    let mut id = mac.to_vec();
    apply_ctr(C, kc, &mut c, &mut id).unwrap();
    let m = identity_mac(H, km, counter, &id);
    (id, m)
}

/// P9: m_content = the `<c/>` children but `<mac/>`, in P4 form, whitespace removed.
fn m_content(c: &Element) -> String {
    c.children()
        .filter(|e| e.name() != "mac")
        .map(Element::normalized)
        .collect::<String>()
        .chars()
        .filter(|ch| !matches!(ch, ' ' | '\t' | '\r' | '\n'))
        .collect()
}

/// Recomputes one vector; returns every mismatch (empty when the file is true).
fn verify(file: &str, json: &Value) -> Vec<String> {
    let mut ck = Check {
        file,
        json,
        errors: Vec::new(),
    };
    ck.value_text("format", "esession-vectors/1");
    let msgs: Vec<Element> = (0..4)
        .map(|i| parse(ck.text(&format!("messages.{i}.xml"))))
        .collect();
    let (x1, x2, x3, x4) = (
        form_x(&msgs[0]),
        form_x(&msgs[1]),
        form_x(&msgs[2]),
        form_x(&msgs[3]),
    );
    for (i, from) in ["alice", "bob", "alice", "bob"].iter().enumerate() {
        ck.value_text(&format!("messages.{i}.from"), from);
        let thread = msgs[i].child("thread", ns::JABBER_CLIENT).unwrap().text();
        ck.value_text("thread", &thread);
    }

    // Group: the messages win over the informative top-level field.
    let form2 = Form::parse(x2).unwrap();
    let group_id: u32 = form2.value("modp").unwrap().parse().unwrap();
    let group = ModpGroup::get(group_id).unwrap();
    if json.get("group").and_then(Value::as_u64) != Some(u64::from(group_id)) {
        ck.errors.push(format!("{file}: group differs from modp"));
    }
    let form1 = Form::parse(x1).unwrap();
    let offered: Vec<String> = form1
        .field("modp")
        .unwrap()
        .offered()
        .into_iter()
        .map(str::to_owned)
        .collect();

    // Inputs, and the fields of messages 1 and 2 that carry them.
    let n_a = ck.hex("alice.nonce");
    let n_b = ck.hex("bob.nonce");
    let counter = ck.hex("bob.counter");
    ck.eq("messages.0 my_nonce", b64_one(x1, "my_nonce"), &n_a);
    ck.eq("messages.1 my_nonce", b64_one(x2, "my_nonce"), &n_b);
    ck.eq("messages.1 nonce", b64_one(x2, "nonce"), &n_a);
    ck.eq("messages.1 counter", b64_one(x2, "counter"), &counter);
    ck.eq("messages.2 nonce", b64_one(x3, "nonce"), &n_b);
    ck.eq("messages.3 nonce", b64_one(x4, "nonce"), &n_a);
    let c_a = u128_from_be(&counter).unwrap();
    let c_b = c_a ^ (1u128 << 127);

    // Every offered exponent must give the commitment sent for its group (message 1).
    let dhhashes = b64_values(x1, "dhhashes");
    ck.eq(
        "dhhashes count",
        [dhhashes.len() as u8],
        [offered.len() as u8],
    );
    for (i, g) in offered.iter().enumerate() {
        let x = DhSecret::from_be(g.parse().unwrap(), &ck.hex(&format!("alice.x.{g}"))).unwrap();
        let e = ModpGroup::get(g.parse().unwrap()).unwrap().public_value(&x);
        ck.eq(
            &format!("messages.0 dhhashes[{i}] (group {g})"),
            &dhhashes[i],
            commitment(&e),
        );
    }
    let x = DhSecret::from_be(group_id, &ck.hex(&format!("alice.x.{group_id}"))).unwrap();
    let y = DhSecret::from_be(group_id, &ck.hex("bob.y")).unwrap();
    let e = group.public_value(&x);
    let d = group.public_value(&y);
    ck.value("values.e", &e);
    ck.value("values.He", commitment(&e));
    ck.value("values.d", &d);
    ck.eq("messages.1 dhkeys", b64_one(x2, "dhkeys"), &d);
    ck.eq("messages.2 dhkeys", b64_one(x3, "dhkeys"), &e);

    // P1, P2: shared = mpi(d^x mod p) = mpi(e^y mod p); K = HASH(mpi(shared)).
    let shared = group.shared_secret(&x, &d).unwrap();
    ck.eq(
        "shared (Bob's side)",
        shared.expose(),
        group.shared_secret(&y, &e).unwrap().expose(),
    );
    ck.value("values.shared", shared.expose());
    // The same three values with an independent big-integer library (g = 2).
    let p = BigUint::from_bytes_be(&group.prime_be());
    let big = |v: &[u8]| BigUint::from_bytes_be(v);
    let two = BigUint::from(2u8);
    let x_big = big(&ck.hex(&format!("alice.x.{group_id}")));
    let y_big = big(&ck.hex("bob.y"));
    ck.eq("e (num-bigint)", two.modpow(&x_big, &p).to_bytes_be(), &e);
    ck.eq("d (num-bigint)", two.modpow(&y_big, &p).to_bytes_be(), &d);
    let z = big(&d).modpow(&x_big, &p).to_bytes_be();
    ck.eq("shared (num-bigint)", &z, shared.expose());
    let k = negotiation_k(H, shared.expose());
    ck.eq("K = SHA-256(mpi(shared))", sha256(&[&z]), k.expose());
    ck.value("values.K", k.expose());
    let provisory = session_keys(H, C, k.expose());
    // P1 spelled out: KC = the last 16 octets of the HMAC, KM and KS the whole output.
    let label = |l: &str| hmac(H, k.expose(), &[l.as_bytes()]);
    ck.eq(
        "P1 KCA",
        &label("Initiator Cipher Key")[16..],
        provisory.initiator.kc.expose(),
    );
    ck.eq(
        "P1 KMA",
        label("Initiator MAC Key"),
        provisory.initiator.km.expose(),
    );
    ck.eq(
        "P1 KSA",
        label("Initiator SIGMA Key"),
        provisory.ks_a.expose(),
    );
    ck.keys("values.provisory", &provisory, true);

    // P4 forms, as parsed.
    let form_a = normalize_form_content(x1, &NOT_MACED);
    let form_a2 = normalize_form_content(x3, &NOT_MACED);
    let form_b = normalize_form_content(x2, &NOT_MACED);
    let form_b2 = normalize_form_content(x4, &NOT_MACED);
    ck.value_text("values.formA", &form_a);
    ck.value_text("values.formA2", &form_a2);
    ck.value_text("values.formB", &form_b);
    ck.value_text("values.formB2", &form_b2);

    // Alice's identity (message 3), provisory keys, counter C_A.
    let mac_a = hmac(
        H,
        provisory.ks_a.expose(),
        &[&n_b, &n_a, &e, form_a.as_bytes(), form_a2.as_bytes()],
    );
    ck.value("values.macA", &mac_a);
    let (id_a, m_a) = seal(
        provisory.initiator.kc.expose(),
        provisory.initiator.km.expose(),
        c_a,
        &mac_a,
    );
    ck.value("values.IDA", &id_a);
    ck.value("values.MA", &m_a);
    ck.eq("messages.2 identity", b64_one(x3, "identity"), &id_a);
    ck.eq("messages.2 mac", b64_one(x3, "mac"), &m_a);
    ck.value_text("values.sas", &sas28x5(H, &m_a, form_b.as_bytes()));

    // P7: the SRS as Bob finds it (rshashes) and as Alice finds it (srshash).
    let rshashes = b64_values(x3, "rshashes");
    let srs_hash = b64_one(x4, "srshash");
    let bob_srs = ck
        .hex_list("bob.retained_secrets")
        .into_iter()
        .find(|rs| rshashes.contains(&rshash(H, &n_a, rs)));
    let alice_srs = ck
        .hex_list("alice.retained_secrets")
        .into_iter()
        .find(|rs| srshash(H, rs) == srs_hash);
    let none = Vec::new();
    ck.eq(
        "SRS (Alice's search vs Bob's)",
        alice_srs.as_ref().unwrap_or(&none),
        bob_srs.as_ref().unwrap_or(&none),
    );
    ck.eq(
        "values.SRS",
        ck.opt_hex("values.SRS").unwrap_or_default(),
        bob_srs.clone().unwrap_or_default(),
    );
    match &bob_srs {
        Some(srs) => ck.eq("messages.3 srshash", &srs_hash, srshash(H, srs)),
        None => ck.eq(
            "bob.srshash_random",
            ck.opt_hex("bob.srshash_random").unwrap_or_default(),
            &srs_hash,
        ),
    }

    // P1, A8: OSS = UTF-8 of the NFC passphrase; Bob's (if stated) must agree after NFC.
    let oss: Option<String> = json["alice"]["oss"].as_str().map(|s| s.nfc().collect());
    if let Some(bob) = json["bob"].get("oss").and_then(Value::as_str) {
        let bob: String = bob.nfc().collect();
        ck.eq("bob.oss (NFC)", bob, oss.clone().unwrap_or_default());
    }
    let k_final = final_k(
        H,
        k.expose(),
        bob_srs.as_deref(),
        oss.as_deref().map(str::as_bytes),
    );
    ck.value("values.K_final", k_final.expose());
    let fin = session_keys(H, C, k_final.expose());
    ck.keys("values.final", &fin, false);

    // Bob's identity (message 4), final keys, counter C_B.
    let mac_b = hmac(
        H,
        fin.ks_b.expose(),
        &[&n_a, &n_b, &d, form_b.as_bytes(), form_b2.as_bytes()],
    );
    ck.value("values.macB", &mac_b);
    let (id_b, m_b) = seal(
        fin.responder.kc.expose(),
        fin.responder.km.expose(),
        c_b,
        &mac_b,
    );
    ck.value("values.IDB", &id_b);
    ck.value("values.MB", &m_b);
    ck.eq("messages.3 identity", b64_one(x4, "identity"), &id_b);
    ck.eq("messages.3 mac", b64_one(x4, "mac"), &m_b);
    ck.value(
        "values.new_retained_secret",
        new_retained_secret(H, k_final.expose()).expose(),
    );

    // P3, P9: the first stanzas; counters continue after the identities.
    let mut send_a = c_a.wrapping_add(blocks_for(id_a.len()));
    let mut send_b = c_b.wrapping_add(blocks_for(id_b.len()));
    let stanzas = json["stanzas"].as_array().map_or(0, Vec::len);
    ck.eq("stanza count", [u8::from(stanzas >= 2)], [1]);
    for i in 0..stanzas {
        let at = |k: &str| format!("stanzas.{i}.{k}");
        let from_alice = ck.text(&at("from")) == "alice";
        let (keys, counter) = if from_alice {
            (&fin.initiator, &mut send_a)
        } else {
            (&fin.responder, &mut send_b)
        };
        let msg = parse(ck.text(&at("xml")));
        let c = msg.child("c", ns::STANZA_ENCRYPTION).unwrap();
        let before = *counter;
        ck.value(&at("counter_before"), mpi_u128(before));
        let content = m_content(c);
        ck.value_text(&at("m_content"), &content);
        let a_mac = stanza_mac(H, keys.km.expose(), content.as_bytes(), before);
        ck.value(&at("a_mac"), &a_mac);
        let sent = c.child("mac", ns::STANZA_ENCRYPTION).unwrap().text();
        ck.eq(
            &at("xml <mac/>"),
            esession::b64::decode("mac", &sent).unwrap(),
            &a_mac,
        );
        let data = c.child("data", ns::STANZA_ENCRYPTION).unwrap().text();
        let mut plain = esession::b64::decode("data", &data).unwrap();
        apply_ctr(C, keys.kc.expose(), counter, &mut plain).unwrap();
        ck.value_text(&at("plaintext"), &String::from_utf8_lossy(&plain));
    }

    // The case this file exists for: a shared value shorter than p (leading zero octet).
    if file.contains("leading-zero") {
        let p_len = group.prime_be().len();
        ck.eq(
            "mpi(shared) shorter than p",
            [u8::from(shared.expose().len() < p_len)],
            [1],
        );
    }
    ck.errors
}

#[test]
fn vectors_recompute_from_inputs_and_xml() {
    let all = files();
    assert!(all.len() >= 4, "expected at least 4 vector files");
    let errors: Vec<String> = all.iter().flat_map(|(f, j)| verify(f, j)).collect();
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

#[test]
fn vectors_check_can_fail_on_a_flipped_k() {
    let (file, mut json) = files()
        .into_iter()
        .find(|(f, _)| f.contains("leading-zero"))
        .unwrap();
    let mut k = hex::decode(json["values"]["K"].as_str().unwrap()).unwrap();
    k[0] ^= 1;
    json["values"]["K"] = Value::String(hex::encode(&k));
    let errors = verify(&file, &json);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(&format!("{file}: values.K differs")));
}

#[test]
fn vectors_padding_the_shared_secret_changes_k() {
    // The padding bug the group-5 vector exists to catch: HASH(shared padded to |p|) ≠ K.
    let (file, json) = files()
        .into_iter()
        .find(|(f, _)| f.contains("leading-zero"))
        .unwrap();
    let shared = hex::decode(json["values"]["shared"].as_str().unwrap()).unwrap();
    let k = hex::decode(json["values"]["K"].as_str().unwrap()).unwrap();
    let p_len = ModpGroup::get(5).unwrap().prime_be().len();
    assert!(shared.len() < p_len, "{file}: shared has no leading zero");
    let mut padded = vec![0u8; p_len - shared.len()];
    padded.extend_from_slice(&shared);
    assert_eq!(
        sha256(&[mpi(&padded)]).to_vec(),
        k,
        "mpi() strips the padding"
    );
    assert_ne!(
        sha256(&[&padded]).to_vec(),
        k,
        "{file}: padded hash must differ"
    );
}
