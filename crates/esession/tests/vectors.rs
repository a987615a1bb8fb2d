//! A consumer of the published test vectors (`tests/vectors/*.json`, `docs/vectors.md`),
//! written as another implementation would: public API only, every value recomputed from
//! the file's inputs (x, y, nonces, counter, retained secrets, OSS) and its message XML,
//! then compared with the value the file states.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// Helpers outside #[test] functions index too (clippy.toml covers only the tests).
#![allow(clippy::indexing_slicing)]

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use esession::crypto::pubkey::XMLDSIG_NS;
use esession::crypto::{
    apply_ctr, blocks_for, commitment, final_k, hmac, identity_mac, mpi, mpi_u128, negotiation_k,
    new_retained_secret, rekey_keys, rshash, sas28x5, sas28x5_commit, session_keys, sha256,
    srshash, stanza_mac, u128_from_be, CipherAlg, DhSecret, DirectionKeys, HashAlg, IdentityKey,
    ModpGroup, PublicKey, SessionKeys, SignAlg,
};
use esession::forms::Form;
use esession::xml::{
    normalize_form_content, ns, parse_element, parse_fragment, Element, Limits, Node,
};
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
    /// The file's dialect (`None`: the profile).
    dialect: Option<Dialect>,
    errors: Vec<String>,
}

/// A deviation of the Gajim dialect from the profile (`docs/vectors.md`, "The Gajim
/// vectors"; D1–D7 of the design note on Gajim).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deviation {
    /// KC is the whole 32-octet HMAC output, an AES-256 key.
    D1,
    /// Keystream block i of a stanza or identity with MAC counter C is AES(KC, C+1+i).
    D2,
    /// The unused keystream octets of a stanza's last block start the sender's next stanza.
    D2Tail,
    /// The form normalization writes an element without content as `<name attrs />`.
    D3,
    /// esession's stanza MACs carry C as 16 octets (Gajim's carry mpi(C)).
    D4,
    /// esession pads its plaintext with spaces to a multiple of 16 octets.
    D5,
    /// The SAS is shown without its leading zero digits (`a`).
    D6,
    /// The terminate goes in clear, outside the encrypted channel.
    D7,
}

impl Deviation {
    const ALL: [Deviation; 8] = [
        Deviation::D1,
        Deviation::D2,
        Deviation::D2Tail,
        Deviation::D3,
        Deviation::D4,
        Deviation::D5,
        Deviation::D6,
        Deviation::D7,
    ];
}

/// How a file's messages are read when its `dialect` is `gajim`.
#[derive(Clone, Debug)]
struct Dialect {
    /// The deviations applied (all of them; the tests switch one off at a time).
    on: Vec<Deviation>,
    /// Gajim plays Alice (else Bob); the other side is esession in Gajim mode.
    gajim_is_alice: bool,
    /// Gajim 1.0 pads its plaintext to 16 characters, 0.16 to 16 octets.
    gajim_pads_chars: bool,
}

impl Dialect {
    /// The dialect of `json`: `None` for the profile (no `dialect`).
    fn of(file: &str, json: &Value) -> Option<Dialect> {
        let d = json.get("dialect")?;
        assert_eq!(d["name"], "gajim", "{file}: unknown dialect");
        Some(Dialect {
            on: Deviation::ALL.to_vec(),
            gajim_is_alice: d["gajim"] == "alice",
            gajim_pads_chars: d["gajim_version"] == "1.0",
        })
    }
}

impl<'a> Check<'a> {
    /// Whether the file's dialect applies deviation `d`.
    fn has(&self, d: Deviation) -> bool {
        self.dialect.as_ref().is_some_and(|x| x.on.contains(&d))
    }

    /// The cipher the keys are derived for: AES-128 (P1), AES-256 with D1.
    fn cipher(&self) -> CipherAlg {
        if self.has(Deviation::D1) {
            CipherAlg::Aes256Ctr
        } else {
            C
        }
    }

    /// The normalization of a negotiation form without `identity` and `mac`: P4, or
    /// written out again for a dialect (D3), then cross-checked with P4 where D3 is off.
    fn form(&mut self, x: &Element) -> String {
        let p4 = normalize_form_content(x, &NOT_MACED);
        if self.dialect.is_none() {
            return p4;
        }
        self.eq("P4 (own normalization)", c14n(x, false), &p4);
        c14n(x, self.has(Deviation::D3))
    }

    /// An identity: ID = CIPHER(KC, C, mac), M = HMAC(KM, mpi(C) | ID) (P3); in a dialect
    /// with this file's D1 and D2, from a fresh keystream.
    fn seal(&self, kc: &[u8], km: &[u8], counter: u128, mac: &[u8]) -> (Vec<u8>, Vec<u8>) {
        if self.dialect.is_none() {
            return seal(kc, km, counter, mac);
        }
        let mut id = mac.to_vec();
        let mut c = counter;
        keystream(
            kc,
            &mut c,
            &mut Vec::new(),
            &mut id,
            self.has(Deviation::D2),
        );
        let m = identity_mac(H, km, counter, &id);
        (id, m)
    }

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

/// CTR written out again for the dialect files, with the `aes` crate: block i is
/// AES(KC, C+i) (P3), AES(KC, C+1+i) with `d2`; AES-128 for a 16-octet KC, AES-256 for a
/// 32-octet one (D1). `tail` holds the unused octets of the last block, which are used
/// first (D2-tail; an empty `tail` for a fresh keystream). `counter` advances by the number
/// of new blocks. Returns how many octets came from `tail`.
fn keystream(
    kc: &[u8],
    counter: &mut u128,
    tail: &mut Vec<u8>,
    data: &mut [u8],
    d2: bool,
) -> usize {
    let block = |n: u128| -> Vec<u8> {
        let mut b = GenericArray::clone_from_slice(&n.to_be_bytes());
        match kc.len() {
            16 => aes::Aes128::new_from_slice(kc)
                .unwrap()
                .encrypt_block(&mut b),
            _ => aes::Aes256::new_from_slice(kc)
                .unwrap()
                .encrypt_block(&mut b),
        }
        b.to_vec()
    };
    let carried = tail.len().min(data.len());
    let mut ks: Vec<u8> = tail.drain(..carried).collect();
    let first = if d2 {
        counter.wrapping_add(1)
    } else {
        *counter
    };
    let mut blocks = 0u128;
    while ks.len() < data.len() {
        ks.extend(block(first.wrapping_add(blocks)));
        blocks += 1;
    }
    if blocks > 0 {
        *tail = ks.split_off(data.len());
    }
    for (d, k) in data.iter_mut().zip(&ks) {
        *d ^= k;
    }
    *counter = counter.wrapping_add(blocks);
    carried
}

/// The normalization of a form's content (without the `identity` and `mac` fields) written
/// out again for the dialect files: P4 (sorted attributes, `xml:` dropped from names, the
/// attribute and text escapes, whitespace-only text between elements dropped), and with
/// `d3` an element without content as `<name attrs />` (D3).
fn c14n(x: &Element, d3: bool) -> String {
    fn element(out: &mut String, e: &Element, d3: bool) {
        out.push('<');
        out.push_str(e.name());
        let mut attrs: Vec<(&str, &str)> = e
            .attrs()
            .iter()
            .map(|(k, v)| (k.strip_prefix("xml:").unwrap_or(k), v.as_str()))
            .collect();
        attrs.sort();
        for (k, v) in attrs {
            let v = v
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;")
                .replace('\t', "&#x9;")
                .replace('\n', "&#xA;")
                .replace('\r', "&#xD;");
            out.push_str(&format!(" {k}=\"{v}\""));
        }
        let empty = e
            .nodes()
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.is_empty()));
        if d3 && empty {
            out.push_str(" />");
            return;
        }
        out.push('>');
        let elements = e.children().next().is_some();
        for n in e.nodes() {
            match n {
                Node::Element(c) => element(out, c, d3),
                Node::Text(t) if elements && t.trim_matches([' ', '\t', '\r', '\n']).is_empty() => {
                }
                Node::Text(t) => out.push_str(
                    &t.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('\r', "&#xD;"),
                ),
            }
        }
        out.push_str(&format!("</{}>", e.name()));
    }
    let mut out = String::new();
    for child in x.children() {
        if !(child.name() == "field" && child.attr("var").is_some_and(|v| NOT_MACED.contains(&v))) {
            element(&mut out, child, d3);
        }
    }
    out
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

/// A sender's state while the stanzas are walked (P3, P13): its send keys and counter, its
/// latest DH secret (`mpi()`) and public value, and the peer `<key/>`s it accepted since its
/// own last stanza (its next `<new/>`).
struct Sender {
    kc: Vec<u8>,
    km: Vec<u8>,
    counter: u128,
    secret: Vec<u8>,
    public: Vec<u8>,
    accepted: usize,
    /// The dialect files: unused keystream octets of the last block (D2-tail).
    tail: Vec<u8>,
}

impl Sender {
    fn new(keys: &DirectionKeys, counter: u128, secret: Vec<u8>, public: &[u8]) -> Self {
        Sender {
            kc: keys.kc.expose().to_vec(),
            km: keys.km.expose().to_vec(),
            counter,
            secret,
            public: public.to_vec(),
            accepted: 0,
            tail: Vec::new(),
        }
    }
}

/// The DH inputs and values both flows share (P1, P2), checked against the file.
struct Dh {
    group: &'static ModpGroup,
    offered: Vec<String>,
    n_a: Vec<u8>,
    n_b: Vec<u8>,
    c_a: u128,
    c_b: u128,
    x: Vec<u8>,
    y: Vec<u8>,
    e: Vec<u8>,
    d: Vec<u8>,
    shared: Vec<u8>,
    k: Vec<u8>,
    provisory: SessionKeys,
}

/// The group Bob chose (his form `chosen`; the messages win over the informative top-level
/// field) and the groups Alice offered (her form `offer`), in `modp` order.
fn groups(
    ck: &mut Check<'_>,
    offer: &Element,
    chosen: &Element,
) -> (&'static ModpGroup, Vec<String>) {
    let form = Form::parse(chosen).unwrap();
    let group_id: u32 = form.value("modp").unwrap().parse().unwrap();
    let group = ModpGroup::get(group_id).unwrap();
    if ck.json.get("group").and_then(Value::as_u64) != Some(u64::from(group_id)) {
        ck.errors
            .push(format!("{}: group differs from modp", ck.file));
    }
    let offered = Form::parse(offer)
        .unwrap()
        .field("modp")
        .unwrap()
        .offered()
        .into_iter()
        .map(str::to_owned)
        .collect();
    (group, offered)
}

/// The parts every vector has: format, messages, group, nonces, counter, e, d, shared, K
/// and the six keys derived from K.
fn common(ck: &mut Check<'_>, msgs: &[Element]) -> Dh {
    ck.value_text("format", "esession-vectors/1");
    let froms = ["alice", "bob", "alice", "bob"];
    for (i, msg) in msgs.iter().enumerate() {
        ck.value_text(&format!("messages.{i}.from"), froms[i]);
        let thread = msg.child("thread", ns::JABBER_CLIENT).unwrap().text();
        ck.value_text("thread", &thread);
    }
    let (x1, x2, x3) = (form_x(&msgs[0]), form_x(&msgs[1]), form_x(&msgs[2]));

    // Group: the messages win over the informative top-level field.
    let (group, offered) = groups(ck, x1, x2);

    // Inputs, and the fields of messages 1–3 that carry them.
    let n_a = ck.hex("alice.nonce");
    let n_b = ck.hex("bob.nonce");
    let counter = ck.hex("bob.counter");
    ck.eq("messages.0 my_nonce", b64_one(x1, "my_nonce"), &n_a);
    ck.eq("messages.1 my_nonce", b64_one(x2, "my_nonce"), &n_b);
    ck.eq("messages.1 nonce", b64_one(x2, "nonce"), &n_a);
    ck.eq("messages.1 counter", b64_one(x2, "counter"), &counter);
    ck.eq("messages.2 nonce", b64_one(x3, "nonce"), &n_b);
    let dh = derive(ck, group, offered, n_a, n_b, &counter);
    ck.eq("messages.1 dhkeys", b64_one(x2, "dhkeys"), &dh.d);
    dh
}

/// From the inputs (the chosen group, nonces, counter, x, y): C_A, C_B, e, d, shared, K
/// and the six keys derived from K (P1, P2), each checked against the file.
fn derive(
    ck: &mut Check<'_>,
    group: &'static ModpGroup,
    offered: Vec<String>,
    n_a: Vec<u8>,
    n_b: Vec<u8>,
    counter: &[u8],
) -> Dh {
    let group_id = group.id();
    let c_a = u128_from_be(counter).unwrap();
    let c_b = c_a ^ (1u128 << 127);

    let x_mpi = ck.hex(&format!("alice.x.{group_id}"));
    let y_mpi = ck.hex("bob.y");
    let x = DhSecret::from_be(group_id, &x_mpi).unwrap();
    let y = DhSecret::from_be(group_id, &y_mpi).unwrap();
    let e = group.public_value(&x);
    let d = group.public_value(&y);
    ck.value("values.e", &e);
    ck.value("values.d", &d);

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
    ck.eq(
        "e (num-bigint)",
        two.modpow(&big(&x_mpi), &p).to_bytes_be(),
        &e,
    );
    ck.eq(
        "d (num-bigint)",
        two.modpow(&big(&y_mpi), &p).to_bytes_be(),
        &d,
    );
    let z = big(&d).modpow(&big(&x_mpi), &p).to_bytes_be();
    ck.eq("shared (num-bigint)", &z, shared.expose());
    let k = negotiation_k(H, shared.expose());
    ck.eq("K = SHA-256(mpi(shared))", sha256(&[&z]), k.expose());
    ck.value("values.K", k.expose());
    let provisory = session_keys(H, ck.cipher(), k.expose());
    // P1 spelled out: KC = the last 16 octets of the HMAC (D1: all 32), KM and KS the whole
    // output.
    let label = |l: &str| hmac(H, k.expose(), &[l.as_bytes()]);
    let kc_from = if ck.has(Deviation::D1) { 0 } else { 16 };
    ck.eq(
        "P1 KCA",
        &label("Initiator Cipher Key")[kc_from..],
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
    Dh {
        group,
        offered,
        n_a,
        n_b,
        c_a,
        c_b,
        x: x_mpi,
        y: y_mpi,
        e,
        d,
        shared: shared.expose().to_vec(),
        k: k.expose().to_vec(),
        provisory,
    }
}

/// The 4-message flow: commitments, forms, both identities, SAS, SRS, K', final keys.
fn four(ck: &mut Check<'_>, msgs: &[Element], dh: &Dh) -> (Sender, Sender) {
    let (x1, x2, x3, x4) = (
        form_x(&msgs[0]),
        form_x(&msgs[1]),
        form_x(&msgs[2]),
        form_x(&msgs[3]),
    );
    let (n_a, n_b, e, d) = (&dh.n_a, &dh.n_b, &dh.e, &dh.d);
    ck.eq("messages.3 nonce", b64_one(x4, "nonce"), n_a);
    // Every offered exponent must give the commitment sent for its group (message 1).
    let dhhashes = b64_values(x1, "dhhashes");
    ck.eq(
        "dhhashes count",
        [dhhashes.len() as u8],
        [dh.offered.len() as u8],
    );
    for (i, g) in dh.offered.iter().enumerate() {
        let x = DhSecret::from_be(g.parse().unwrap(), &ck.hex(&format!("alice.x.{g}"))).unwrap();
        let e = ModpGroup::get(g.parse().unwrap()).unwrap().public_value(&x);
        ck.eq(
            &format!("messages.0 dhhashes[{i}] (group {g})"),
            &dhhashes[i],
            commitment(&e),
        );
    }
    ck.value("values.He", commitment(e));
    if let Some(d) = ck.dialect.clone() {
        choices(ck, &d, (x1, x2), dh.c_a);
    }
    ck.eq("messages.2 dhkeys", b64_one(x3, "dhkeys"), e);
    let provisory = &dh.provisory;

    // P4 forms (D3 in a dialect), as parsed.
    let form_a = ck.form(x1);
    let form_a2 = ck.form(x3);
    let form_b = ck.form(x2);
    let form_b2 = ck.form(x4);
    ck.value_text("values.formA", &form_a);
    ck.value_text("values.formA2", &form_a2);
    ck.value_text("values.formB", &form_b);
    ck.value_text("values.formB2", &form_b2);

    // Alice's identity (message 3), provisory keys, counter C_A.
    let mac_a = hmac(
        H,
        provisory.ks_a.expose(),
        &[n_b, n_a, e, form_a.as_bytes(), form_a2.as_bytes()],
    );
    ck.value("values.macA", &mac_a);
    let (id_a, m_a) = ck.seal(
        provisory.initiator.kc.expose(),
        provisory.initiator.km.expose(),
        dh.c_a,
        &mac_a,
    );
    ck.value("values.IDA", &id_a);
    ck.value("values.MA", &m_a);
    ck.eq("messages.2 identity", b64_one(x3, "identity"), &id_a);
    ck.eq("messages.2 mac", b64_one(x3, "mac"), &m_a);
    let sas = sas(ck, (x1, x2), (e, d), &m_a, &form_b);
    ck.value_text("values.sas", &sas);

    // P7: the SRS as Bob finds it (rshashes) and as Alice finds it (srshash).
    let rshashes = b64_values(x3, "rshashes");
    let srs_hash = b64_one(x4, "srshash");
    let bob_srs = ck
        .hex_list("bob.retained_secrets")
        .into_iter()
        .find(|rs| rshashes.contains(&rshash(H, n_a, rs)));
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
    let oss: Option<String> = ck.json["alice"]["oss"].as_str().map(|s| s.nfc().collect());
    if let Some(bob) = ck.json["bob"].get("oss").and_then(Value::as_str) {
        let bob: String = bob.nfc().collect();
        ck.eq("bob.oss (NFC)", bob, oss.clone().unwrap_or_default());
    }
    let k_final = final_k(
        H,
        &dh.k,
        bob_srs.as_deref(),
        oss.as_deref().map(str::as_bytes),
    );
    ck.value("values.K_final", k_final.expose());
    let fin = session_keys(H, ck.cipher(), k_final.expose());
    ck.keys("values.final", &fin, false);

    // Bob's identity (message 4), final keys, counter C_B.
    let mac_b = hmac(
        H,
        fin.ks_b.expose(),
        &[n_a, n_b, d, form_b.as_bytes(), form_b2.as_bytes()],
    );
    ck.value("values.macB", &mac_b);
    let (id_b, m_b) = ck.seal(
        fin.responder.kc.expose(),
        fin.responder.km.expose(),
        dh.c_b,
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

    // The case the group-5 file exists for: a shared value shorter than p.
    if ck.file.contains("leading-zero") {
        let p_len = dh.group.prime_be().len();
        ck.eq(
            "mpi(shared) shorter than p",
            [u8::from(dh.shared.len() < p_len)],
            [1],
        );
    }
    // P3: the stanzas continue after the identities, under the final keys.
    (
        Sender::new(
            &fin.initiator,
            dh.c_a.wrapping_add(blocks_for(id_a.len())),
            dh.x.clone(),
            e,
        ),
        Sender::new(
            &fin.responder,
            dh.c_b.wrapping_add(blocks_for(id_b.len())),
            dh.y.clone(),
            d,
        ),
    )
}

/// D9, the choices esession makes toward Gajim: as Alice it offers a group Gajim knows first
/// (Gajim, as Bob, takes the first offer unchecked); as Bob it answers `logging` with
/// Alice's first offer and draws a C_A whose first octet is neither 0x00 nor 0x80 (P2,
/// which avoids Gajim's crash B1). Both sides speak the classic SAS.
fn choices(ck: &mut Check<'_>, d: &Dialect, (x1, x2): (&Element, &Element), c_a: u128) {
    let (f1, f2) = (Form::parse(x1).unwrap(), Form::parse(x2).unwrap());
    let first = |var: &str| {
        f1.field(var)
            .and_then(|f| f.offered().first().map(|v| v.to_string()))
            .unwrap_or_default()
    };
    let answer = |var: &str| f2.value(var).unwrap_or_default().to_owned();
    ck.eq("D9 sas_algs", answer("sas_algs"), "sas28x5");
    if d.gajim_is_alice {
        ck.eq(
            "D9 logging (Alice's first offer)",
            answer("logging"),
            first("logging"),
        );
        let octet = c_a.to_be_bytes()[0];
        ck.eq("D9 C_A first octet", [u8::from(octet & 0x7f != 0)], [1]);
    } else {
        let known = ["1", "2", "5", "14", "15", "16", "17", "18"];
        ck.eq("D9 modp (the first offer)", answer("modp"), first("modp"));
        ck.eq(
            "D9 first group known to Gajim",
            [u8::from(known.contains(&first("modp").as_str()))],
            [1],
        );
    }
}

/// P5 rendering written out again: `v` as 5 base-28 digits, most significant first.
fn base28(v: u32) -> String {
    const DIGITS: &[u8; 28] = b"acdefghikmopqruvwxy123456789";
    let mut out = [0u8; 5];
    let mut n = v;
    for digit in out.iter_mut().rev() {
        *digit = DIGITS[(n % 28) as usize];
        n /= 28;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

/// D6: `v` in base 28 without left padding (0 is `a`), as Gajim renders it.
fn base28_unpadded(v: u32) -> String {
    const DIGITS: &[u8; 28] = b"acdefghikmopqruvwxy123456789";
    let mut out = vec![DIGITS[(v % 28) as usize]];
    let mut n = v / 28;
    while n > 0 {
        out.insert(0, DIGITS[(n % 28) as usize]);
        n /= 28;
    }
    String::from_utf8(out).unwrap()
}

/// The last 3 octets of a hash as a big-endian integer (XEP-0116 §9).
fn low_24_bits(h: &[u8]) -> u32 {
    h[h.len() - 3..]
        .iter()
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// The SAS that message 2's `sas_algs` names (P15: without the field, `sas28x5`), from the
/// hash written out and cross-checked with the crate's function: P5 over M_A and form_B,
/// P15 over mpi(e), mpi(d) and the `my_nonce` octets of messages 1 and 2.
fn sas(
    ck: &mut Check<'_>,
    (x1, x2): (&Element, &Element),
    (e, d): (&[u8], &[u8]),
    m_a: &[u8],
    form_b: &str,
) -> String {
    let form2 = Form::parse(x2).unwrap();
    match form2.value("sas_algs").unwrap_or("sas28x5") {
        "sas28x5" => {
            let label: &[u8] = b"Short Authentication String";
            let v = low_24_bits(&sha256(&[m_a, form_b.as_bytes(), label]));
            let s = base28(v);
            ck.eq("sas28x5 (crate)", sas28x5(H, m_a, form_b.as_bytes()), &s);
            // D6: shown as Gajim shows it, without leading zero digits.
            if ck.has(Deviation::D6) {
                return base28_unpadded(v);
            }
            s
        }
        "sas28x5-commit" => {
            // Not the echoed `nonce` of message 2: the two `my_nonce` fields.
            let (n_a, n_b) = (b64_one(x1, "my_nonce"), b64_one(x2, "my_nonce"));
            let label: &[u8] = b"Committed Short Authentication String";
            let s = base28(low_24_bits(&sha256(&[mpi(e), mpi(d), &n_a, &n_b, label])));
            ck.eq(
                "sas28x5-commit (crate)",
                sas28x5_commit(H, e, d, &n_a, &n_b),
                &s,
            );
            s
        }
        other => {
            ck.errors
                .push(format!("{}: unknown sas_algs {other:?}", ck.file));
            String::new()
        }
    }
}

/// PKCS#8 DER from the PEM text of `path` (RFC 7468 `PRIVATE KEY`).
fn pem_der(ck: &Check<'_>, path: &str) -> Vec<u8> {
    let body: String = ck
        .text(path)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    esession::b64::decode(path, &body).unwrap()
}

/// One signed identity of the 3-message flow (XEP-0116 §4.5.4, §4.6.3; profile P8),
/// recomputed from the sender's private key; `side` is "A" or "B". Returns ID.
#[allow(clippy::too_many_arguments)]
fn signed_identity(
    ck: &mut Check<'_>,
    side: &str,
    key_path: &str,
    alg: SignAlg,
    ks: &[u8],
    prefix: [&[u8]; 3],
    forms: &[&[u8]],
    dir: &DirectionKeys,
    counter: u128,
    sent: (Vec<u8>, Vec<u8>),
) -> Vec<u8> {
    let key = IdentityKey::from_pkcs8_der(&pem_der(ck, key_path)).unwrap();
    let pub_key = key.public().normalized();
    ck.value_text(&format!("values.pubKey{side}"), &pub_key);
    ck.value(
        &format!("values.fingerprint{side}"),
        sha256(&[pub_key.as_bytes()]),
    );
    let mut parts: Vec<&[u8]> = prefix.to_vec();
    parts.push(pub_key.as_bytes());
    parts.extend_from_slice(forms);
    let mac = hmac(H, ks, &parts);
    ck.value(&format!("values.mac{side}"), &mac);
    // RSA signatures are deterministic and recomputed; DSA ones are read and verified.
    let signature = match alg {
        SignAlg::RsaSha256 => {
            let s = key.sign(&mac).unwrap();
            ck.value(&format!("values.sign{side}"), &s);
            s
        }
        SignAlg::DsaSha256 => ck.hex(&format!("values.sign{side}")),
    };
    let plain = format!(
        "{pub_key}<SignatureValue>{}</SignatureValue>",
        esession::b64::encode(&signature)
    );
    ck.value_text(&format!("values.ID{side}_plaintext"), &plain);
    let (id, m) = seal(dir.kc.expose(), dir.km.expose(), counter, plain.as_bytes());
    ck.value(&format!("values.ID{side}"), &id);
    ck.value(&format!("values.M{side}"), &m);
    ck.eq(&format!("ID{side} on the wire"), &sent.0, &id);
    ck.eq(&format!("M{side} on the wire"), &sent.1, &m);
    // The receiver's side: decrypt what was sent, parse the two elements, verify the
    // signature with the key as received (P8 check order after M and decryption).
    let mut c = counter;
    let mut opened = sent.0.clone();
    apply_ctr(C, dir.kc.expose(), &mut c, &mut opened).unwrap();
    let text = String::from_utf8(opened).unwrap();
    let nodes = parse_fragment(&text, XMLDSIG_NS, &Limits::default()).unwrap();
    let elements: Vec<&Element> = nodes.iter().filter_map(Node::as_element).collect();
    ck.eq(
        &format!("ID{side}: two elements"),
        [elements.len() as u8],
        [2],
    );
    let received = PublicKey::from_key_value(elements[0]).unwrap();
    ck.eq(
        &format!("ID{side}: the KeyValue as received"),
        elements[0].normalized(),
        &pub_key,
    );
    let sig = esession::b64::decode("SignatureValue", &elements[1].text()).unwrap();
    if received.verify(alg, &mac, &sig).is_err() {
        ck.errors
            .push(format!("{}: sign{side} does not verify", ck.file));
    }
    id
}

/// `dhkeys` of Alice's form `x` (message 1 of P12, the options of P11): e_i = 2^x_i mod p_i
/// for every offered group, in `modp` order.
fn check_dhkeys(ck: &mut Check<'_>, x: &Element, offered: &[String]) {
    let dhkeys = b64_values(x, "dhkeys");
    ck.eq("dhkeys count", [dhkeys.len() as u8], [offered.len() as u8]);
    for (i, g) in offered.iter().enumerate() {
        let x = DhSecret::from_be(g.parse().unwrap(), &ck.hex(&format!("alice.x.{g}"))).unwrap();
        let e_g = ModpGroup::get(g.parse().unwrap()).unwrap().public_value(&x);
        ck.eq(
            &format!("messages.0 dhkeys[{i}] (group {g})"),
            dhkeys.get(i).map_or(&[][..], Vec::as_slice),
            e_g,
        );
    }
}

/// The 3-message flow (profile P12): e in message 1, Bob's signed identity in message 2,
/// Alice's in message 3, all six keys from K.
fn three(ck: &mut Check<'_>, msgs: &[Element], dh: &Dh) -> (Sender, Sender) {
    let (x1, x2, x3) = (form_x(&msgs[0]), form_x(&msgs[1]), form_x(&msgs[2]));
    let (n_a, n_b, e, d) = (&dh.n_a, &dh.n_b, &dh.e, &dh.d);
    // P12: message 1 carries e for every offered group (and no dhhashes).
    check_dhkeys(ck, x1, &dh.offered);
    ck.eq(
        "messages.0 has no dhhashes",
        [u8::from(
            Form::parse(x1).unwrap().field("dhhashes").is_none(),
        )],
        [1],
    );
    // Identity methods and the signature algorithm are read from message 2 (P8).
    let form2 = Form::parse(x2).unwrap();
    ck.eq(
        "init_pubkey",
        form2.value("init_pubkey").unwrap_or(""),
        "key",
    );
    ck.eq(
        "resp_pubkey",
        form2.value("resp_pubkey").unwrap_or(""),
        "key",
    );
    let alg = SignAlg::from_uri(form2.value("sign_algs").unwrap_or("")).unwrap();

    let form_a = normalize_form_content(x1, &NOT_MACED);
    let form_b = normalize_form_content(x2, &NOT_MACED);
    let form_a2 = normalize_form_content(x3, &NOT_MACED);
    ck.value_text("values.formA", &form_a);
    ck.value_text("values.formB", &form_b);
    ck.value_text("values.formA2", &form_a2);
    let keys = &dh.provisory;
    // mac_B = HMAC(KS_B, N_A | N_B | d | pubKey_B | form_B), sealed at C_B.
    let id_b = signed_identity(
        ck,
        "B",
        "bob.identity_key_pem",
        alg,
        keys.ks_b.expose(),
        [n_a, n_b, d],
        &[form_b.as_bytes()],
        &keys.responder,
        dh.c_b,
        (b64_one(x2, "identity"), b64_one(x2, "mac")),
    );
    // mac_A = HMAC(KS_A, N_B | N_A | e | pubKey_A | form_A | form_A2), sealed at C_A.
    let id_a = signed_identity(
        ck,
        "A",
        "alice.identity_key_pem",
        alg,
        keys.ks_a.expose(),
        [n_b, n_a, e],
        &[form_a.as_bytes(), form_a2.as_bytes()],
        &keys.initiator,
        dh.c_a,
        (b64_one(x3, "identity"), b64_one(x3, "mac")),
    );
    // P12, P3: the stanzas continue after the identities, under the keys of K.
    (
        Sender::new(
            &keys.initiator,
            dh.c_a.wrapping_add(blocks_for(id_a.len())),
            dh.x.clone(),
            e,
        ),
        Sender::new(
            &keys.responder,
            dh.c_b.wrapping_add(blocks_for(id_b.len())),
            dh.y.clone(),
            d,
        ),
    )
}

/// The offline flow (XEP-0187, profile P11): message 1 is Alice's published options `<x/>`,
/// message 2 Bob's first stanza with his `<init/>` (also `stanzas.0`). Alice is
/// authenticated by `signs` over the options, Bob by his signed identity; all six keys
/// come from K, and only Bob sends.
fn offline(ck: &mut Check<'_>, msgs: &[Element]) -> (Dh, (Sender, Sender)) {
    ck.value_text("format", "esession-vectors/1");
    ck.value_text("messages.0.from", "alice");
    ck.value_text("messages.1.from", "bob");
    let (options, init) = (&msgs[0], &msgs[1]);
    let xb = form_x(init);
    let thread = init.child("thread", ns::JABBER_CLIENT).unwrap().text();
    ck.value_text("thread", &thread);
    ck.eq(
        "messages.1 is stanzas.0",
        ck.text("messages.1.xml"),
        ck.text("stanzas.0.xml"),
    );
    let (group, offered) = groups(ck, options, xb);
    check_dhkeys(ck, options, &offered);

    // Profile P11 "signs": Alice's signature over the P4 normalization of the options
    // without `signs`; RSA signatures are recomputed, DSA ones only verified.
    let form_options = normalize_form_content(options, &["signs"]);
    ck.value_text("values.formOptions", &form_options);
    let alice = IdentityKey::from_pkcs8_der(&pem_der(ck, "alice.identity_key_pem")).unwrap();
    let pub_key_a = alice.public().normalized();
    ck.value_text("values.pubKeyA", &pub_key_a);
    ck.value("values.fingerprintA", sha256(&[pub_key_a.as_bytes()]));
    let signs = b64_one(options, "signs");
    let stated = match alice.sign_alg() {
        SignAlg::RsaSha256 => {
            let s = alice.sign(form_options.as_bytes()).unwrap();
            ck.value("values.signs", &s);
            s
        }
        SignAlg::DsaSha256 => ck.hex("values.signs"),
    };
    ck.eq("messages.0 signs", &signs, &stated);
    if alice
        .public()
        .verify(alice.sign_alg(), form_options.as_bytes(), &signs)
        .is_err()
    {
        ck.errors.push(format!(
            "{}: signs does not verify with Alice's key",
            ck.file
        ));
    }

    // Inputs, and the fields of the options and of Bob's init that carry them.
    let n_a = ck.hex("alice.nonce");
    let n_b = ck.hex("bob.nonce");
    let counter = ck.hex("bob.counter");
    ck.eq("messages.0 my_nonce", b64_one(options, "my_nonce"), &n_a);
    ck.eq("messages.1 nonce", b64_one(xb, "nonce"), &n_a);
    ck.eq("messages.1 my_nonce", b64_one(xb, "my_nonce"), &n_b);
    ck.eq("messages.1 counter", b64_one(xb, "counter"), &counter);
    let dh = derive(ck, group, offered, n_a, n_b, &counter);
    ck.eq("messages.1 dhkeys", b64_one(xb, "dhkeys"), &dh.d);
    let index = dh
        .offered
        .iter()
        .position(|g| *g == group.id().to_string())
        .unwrap();
    ck.eq(
        "e among the options' dhkeys",
        &b64_values(options, "dhkeys")[index],
        &dh.e,
    );

    // Profile P11 "Keys": Bob's identity as in the 3-message flow, at C_B, with form_B his
    // submit form without identity and mac; the signature algorithm is his choice.
    let form_b = normalize_form_content(xb, &NOT_MACED);
    ck.value_text("values.formB", &form_b);
    let alg = SignAlg::from_uri(Form::parse(xb).unwrap().value("sign_algs").unwrap_or("")).unwrap();
    let keys = &dh.provisory;
    let id_b = signed_identity(
        ck,
        "B",
        "bob.identity_key_pem",
        alg,
        keys.ks_b.expose(),
        [&dh.n_a, &dh.n_b, &dh.d],
        &[form_b.as_bytes()],
        &keys.responder,
        dh.c_b,
        (b64_one(xb, "identity"), b64_one(xb, "mac")),
    );
    // Profile P11 "Counters": Bob's first stanza starts after ID_B's blocks; C_A is never
    // used (Alice sends nothing).
    let senders = (
        Sender::new(&keys.initiator, dh.c_a, dh.x.clone(), &dh.e),
        Sender::new(
            &keys.responder,
            dh.c_b.wrapping_add(blocks_for(id_b.len())),
            dh.y.clone(),
            &dh.d,
        ),
    );
    (dh, senders)
}

/// A `<key/>` (XEP-0200 §9, profile P1, P13): the sender's fresh secret gives the public
/// value and, with the receiver's latest public value, K (unhashed); the receiver gets the
/// same K from its latest secret. Returns (initiator keys, acceptor keys, secret, public).
fn rekey(
    ck: &mut Check<'_>,
    n: usize,
    group: &ModpGroup,
    from_alice: bool,
    key_text: &str,
    other: &Sender,
) -> (DirectionKeys, DirectionKeys, Vec<u8>, Vec<u8>) {
    let at = |k: &str| format!("values.rekeys.{n}.{k}");
    let by = if from_alice { "alice" } else { "bob" };
    ck.value_text(&at("by"), by);
    let secret = ck.hex(&at(if from_alice { "x_new" } else { "y_new" }));
    let x_new = DhSecret::from_be(group.id(), &secret).unwrap();
    let public = group.public_value(&x_new);
    ck.value(&at("public"), &public);
    ck.eq(
        &format!("<key/> {n}"),
        esession::b64::decode("key", key_text).unwrap(),
        &public,
    );
    let k = group.shared_secret(&x_new, &other.public).unwrap();
    let own = DhSecret::from_be(group.id(), &other.secret).unwrap();
    ck.eq(
        &format!("rekey {n} K (acceptor's side)"),
        k.expose(),
        group.shared_secret(&own, &public).unwrap().expose(),
    );
    ck.value(&at("K"), k.expose());
    let (init, acc) = rekey_keys(H, C, k.expose());
    // P1 spelled out: K itself (not its hash) keys the HMAC; KC = the last 16 octets.
    ck.eq(
        &format!("rekey {n} P1 KC_initiator"),
        &hmac(H, k.expose(), &[b"Rekey Initiator Crypt"])[16..],
        init.kc.expose(),
    );
    ck.eq(
        &format!("rekey {n} P1 KM_acceptor"),
        hmac(H, k.expose(), &[b"Rekey Acceptor MAC"]),
        acc.km.expose(),
    );
    ck.value(&at("KC_initiator"), init.kc.expose());
    ck.value(&at("KM_initiator"), init.km.expose());
    ck.value(&at("KC_acceptor"), acc.kc.expose());
    ck.value(&at("KM_acceptor"), acc.km.expose());
    (init, acc, secret, public)
}

/// P3, P9, P13: the stanzas in global send order, each under its sender's current keys,
/// counters running on; `<key/>` switches both sides' keys (no crossing re-keys in these
/// files), `<new/>` counts the keys accepted, `<old/>` only names retired MAC keys.
fn stanzas(ck: &mut Check<'_>, group: &ModpGroup, mut alice: Sender, mut bob: Sender) {
    let count = ck.json["stanzas"].as_array().map_or(0, Vec::len);
    ck.eq("stanza count", [u8::from(count >= 2)], [1]);
    let mut retired: Vec<Vec<u8>> = Vec::new();
    let mut rekeys = 0;
    for i in 0..count {
        let at = |k: &str| format!("stanzas.{i}.{k}");
        let from_alice = ck.text(&at("from")) == "alice";
        let (me, other) = if from_alice {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let msg = parse(ck.text(&at("xml")));
        let c = msg.child("c", ns::STANZA_ENCRYPTION).unwrap();
        let before = me.counter;
        ck.value(&at("counter_before"), mpi_u128(before));
        let content = m_content(c);
        ck.value_text(&at("m_content"), &content);
        // D4: esession's MACs carry C as 16 octets, Gajim's mpi(C) (P3).
        let by_esession = ck
            .dialect
            .as_ref()
            .is_some_and(|d| from_alice != d.gajim_is_alice);
        let a_mac = if by_esession && ck.has(Deviation::D4) {
            hmac(H, &me.km, &[content.as_bytes(), &before.to_be_bytes()])
        } else {
            stanza_mac(H, &me.km, content.as_bytes(), before)
        };
        ck.value(&at("a_mac"), &a_mac);
        let sent = c.child("mac", ns::STANZA_ENCRYPTION).unwrap().text();
        ck.eq(
            &at("xml <mac/>"),
            esession::b64::decode("mac", &sent).unwrap(),
            &a_mac,
        );
        let data = c.child("data", ns::STANZA_ENCRYPTION).unwrap().text();
        let mut plain = esession::b64::decode("data", &data).unwrap();
        if ck.dialect.is_some() {
            if !ck.has(Deviation::D2Tail) {
                me.tail.clear();
            }
            let d2 = ck.has(Deviation::D2);
            let carried = keystream(&me.kc, &mut me.counter, &mut me.tail, &mut plain, d2);
            let stated = ck.get(&at("carried_keystream")).as_u64();
            ck.eq(
                &at("carried_keystream"),
                stated.unwrap_or(u64::MAX).to_be_bytes(),
                (carried as u64).to_be_bytes(),
            );
            dialect_plaintext(ck, i, by_esession, &plain);
        } else {
            apply_ctr(C, &me.kc, &mut me.counter, &mut plain).unwrap();
        }
        ck.value_text(&at("plaintext"), &String::from_utf8_lossy(&plain));
        // XEP-0200 §6: <new/> = the peer <key/>s accepted since the sender's last stanza.
        let new = c.child("new", ns::STANZA_ENCRYPTION).map_or(0, |n| {
            n.text().trim().parse::<usize>().unwrap_or(usize::MAX)
        });
        ck.eq(&at("<new/>"), [new as u8], [me.accepted as u8]);
        me.accepted = 0;
        // XEP-0200 §10, P13: an <old/> publishes a MAC key no longer in use.
        for old in c
            .children()
            .filter(|e| e.name() == "old")
            .map(|e| esession::b64::decode("old", &e.text()).unwrap())
        {
            let ok = retired.contains(&old) && old != me.km && old != other.km;
            ck.eq(&at("<old/> is a retired MAC key"), [u8::from(ok)], [1]);
        }
        if let Some(key) = c.child("key", ns::STANZA_ENCRYPTION) {
            let (init, acc, secret, public) =
                rekey(ck, rekeys, group, from_alice, &key.text(), other);
            rekeys += 1;
            retired.push(std::mem::replace(&mut me.km, init.km.expose().to_vec()));
            retired.push(std::mem::replace(&mut other.km, acc.km.expose().to_vec()));
            me.kc = init.kc.expose().to_vec();
            other.kc = acc.kc.expose().to_vec();
            (me.secret, me.public) = (secret, public);
            other.accepted += 1;
        }
    }
    let stated = ck
        .json
        .pointer("/values/rekeys")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    ck.eq("values.rekeys count", [stated as u8], [rekeys as u8]);
}

/// The plaintext of stanza `i` of a dialect file: esession's is its P9 content padded with
/// spaces to a multiple of 16 octets (D5); Gajim's carries the stated body and is padded to
/// 16 characters (1.0) or octets (0.16).
fn dialect_plaintext(ck: &mut Check<'_>, i: usize, by_esession: bool, plain: &[u8]) {
    let body = ck.text(&format!("stanzas.{i}.body"));
    let text = String::from_utf8_lossy(plain).into_owned();
    if by_esession {
        let mut expected = format!("<body>{body}</body>").into_bytes();
        if ck.has(Deviation::D5) {
            expected.resize(expected.len().next_multiple_of(16), b' ');
        }
        ck.eq(
            &format!("stanzas.{i} plaintext (P9 content, D5 padding)"),
            plain,
            expected,
        );
        return;
    }
    let nodes = parse_fragment(&text, ns::JABBER_CLIENT, &Limits::default()).unwrap_or_default();
    let got = nodes
        .iter()
        .filter_map(Node::as_element)
        .find(|e| e.name() == "body")
        .map(Element::text)
        .unwrap_or_default();
    ck.eq(&format!("stanzas.{i} Gajim's <body/>"), body, got);
    let pads_chars = ck.dialect.as_ref().is_some_and(|d| d.gajim_pads_chars);
    let units = if pads_chars {
        text.chars().count()
    } else {
        plain.len()
    };
    ck.eq(
        &format!("stanzas.{i} Gajim's padding"),
        [0],
        [(units % 16) as u8],
    );
}

/// D7: a dialect file's terminate is the SSN terminate form in clear, on the thread, after
/// the stanzas; the profile (P10) would send it encrypted, as a stanza.
fn terminate(ck: &mut Check<'_>) {
    let msg = parse(ck.text("terminate.xml"));
    let from = ck.text("terminate.from");
    ck.eq(
        "terminate.from",
        [u8::from(from == "alice" || from == "bob")],
        [1],
    );
    let thread = msg.child("thread", ns::JABBER_CLIENT).map(Element::text);
    ck.eq(
        "terminate thread",
        thread.unwrap_or_default(),
        ck.text("thread"),
    );
    let encrypted = msg.child("c", ns::STANZA_ENCRYPTION).is_some();
    let form = msg
        .child("feature", ns::FEATURE_NEG)
        .and_then(|f| f.child("x", ns::DATA))
        .and_then(|x| Form::parse(x).ok());
    let clear = form.is_some_and(|f| {
        f.value("FORM_TYPE") == Some("urn:xmpp:ssn")
            && matches!(f.value("terminate"), Some("1" | "true"))
    });
    let d7 = ck.has(Deviation::D7);
    ck.eq(
        "terminate in clear (D7), not encrypted (P10)",
        [u8::from(clear && !encrypted)],
        [u8::from(d7)],
    );
}

/// Recomputes one vector; returns every mismatch (empty when the file is true).
fn verify(file: &str, json: &Value) -> Vec<String> {
    verify_as(file, json, Dialect::of(file, json))
}

/// [`verify`], reading the file in `dialect` (`None`: the profile).
fn verify_as(file: &str, json: &Value, dialect: Option<Dialect>) -> Vec<String> {
    let mut ck = Check {
        file,
        json,
        dialect,
        errors: Vec::new(),
    };
    // The flow is the number of messages (the messages win over the `flow` field).
    let n = json["messages"].as_array().map_or(0, Vec::len);
    let msgs: Vec<Element> = (0..n)
        .map(|i| parse(ck.text(&format!("messages.{i}.xml"))))
        .collect();
    if json.get("flow").and_then(Value::as_u64) != Some(n as u64) {
        ck.errors
            .push(format!("{file}: flow differs from the messages"));
    }
    let (dh, (alice, bob)) = match n {
        2 => offline(&mut ck, &msgs),
        _ => {
            let dh = common(&mut ck, &msgs);
            let senders = match n {
                3 => three(&mut ck, &msgs, &dh),
                _ => four(&mut ck, &msgs, &dh),
            };
            (dh, senders)
        }
    };
    stanzas(&mut ck, dh.group, alice, bob);
    if ck.dialect.is_some() {
        terminate(&mut ck);
    }
    ck.errors
}

#[test]
fn vectors_recompute_from_inputs_and_xml() {
    let all = files();
    assert!(all.len() >= 12, "expected at least 12 vector files");
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

/// The file named `name`, parsed.
fn file(name: &str) -> (String, Value) {
    files().into_iter().find(|(f, _)| f == name).unwrap()
}

/// Flips the low bit of the last octet of the hex value at `pointer`.
fn flip(json: &mut Value, pointer: &str) {
    let v = json.pointer_mut(pointer).unwrap();
    let mut b = hex::decode(v.as_str().unwrap()).unwrap();
    *b.last_mut().unwrap() ^= 1;
    *v = Value::String(hex::encode(&b));
}

#[test]
fn vectors_check_can_fail_on_rekey_values() {
    let (name, json) = file("rekey.json");
    // A wrong derived key is named, and nothing else moves.
    let mut bad = json.clone();
    flip(&mut bad, "/values/rekeys/1/KM_acceptor");
    let errors = verify(&name, &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("rekey.json: values.rekeys.1.KM_acceptor differs"));
    // Another x' gives another e', K and keys: the <key/> and every later stanza disagree.
    let mut bad = json.clone();
    flip(&mut bad, "/values/rekeys/0/x_new");
    let errors = verify(&name, &bad);
    for what in ["values.rekeys.0.public", "<key/> 0", "stanzas.3.a_mac"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("{what} differs"))),
            "{what}: {errors:?}"
        );
    }
    // A missing <new/> count is noticed: Bob's acknowledgement claims two keys.
    let mut bad = json;
    let xml = bad["stanzas"][4]["xml"].as_str().unwrap().to_owned();
    assert!(xml.contains("<new>1</new>"));
    bad["stanzas"][4]["xml"] = Value::String(xml.replace("<new>1</new>", "<new>2</new>"));
    let errors = verify(&name, &bad);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("stanzas.4.<new/> differs")),
        "{errors:?}"
    );
}

#[test]
fn vectors_check_can_fail_on_identities() {
    let (name, json) = file("3msg-rsa.json");
    let mut bad = json.clone();
    flip(&mut bad, "/values/signA");
    let errors = verify(&name, &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("3msg-rsa.json: values.signA differs"));
    // Bob's identity recomputed with Alice's key: other pubKey, mac and signature; the
    // signature on the wire no longer verifies over the recomputed mac.
    let mut bad = json.clone();
    bad["bob"]["identity_key_pem"] = json["alice"]["identity_key_pem"].clone();
    let errors = verify(&name, &bad);
    for what in [
        "values.pubKeyB differs",
        "values.macB differs",
        "IDB on the wire differs",
        "signB does not verify",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(what)),
            "{what}: {errors:?}"
        );
    }
}

#[test]
fn vectors_check_can_fail_on_offline_values() {
    let (name, json) = file("offline.json");
    // A flipped octet of Alice's options signature is named, and nothing else moves.
    let mut bad = json.clone();
    flip(&mut bad, "/values/signs");
    let errors = verify(&name, &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("offline.json: values.signs differs"));
    // A flipped octet of the published options text: the signature no longer verifies.
    let mut bad = json.clone();
    let xml = bad["messages"][0]["xml"].as_str().unwrap().to_owned();
    assert!(xml.contains("<value>mustnot</value>"));
    bad["messages"][0]["xml"] =
        Value::String(xml.replacen("<value>mustnot</value>", "<value>mustnoT</value>", 1));
    let errors = verify(&name, &bad);
    for what in ["values.formOptions differs", "signs does not verify"] {
        assert!(
            errors.iter().any(|e| e.contains(what)),
            "{what}: {errors:?}"
        );
    }
    // A flipped octet of M_B is named.
    let mut bad = json;
    flip(&mut bad, "/values/MB");
    let errors = verify(&name, &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("offline.json: values.MB differs"));
}

/// Replaces the first `rshashes` value of message 3 by another 32-octet filler: what a man
/// in the middle varies to grind the classic SAS (issue: P15 "Why").
fn other_filler(json: &mut Value) {
    let xml = json["messages"][2]["xml"].as_str().unwrap().to_owned();
    let field = xml.find("var=\"rshashes\"><value>").unwrap();
    let start = field + "var=\"rshashes\"><value>".len();
    let end = start + xml[start..].find("</value>").unwrap();
    let filler = esession::b64::encode(&[0x5a; 32]);
    assert_ne!(xml[start..end], filler);
    json["messages"][2]["xml"] = Value::String(format!("{}{filler}{}", &xml[..start], &xml[end..]));
}

#[test]
fn vectors_check_can_fail_on_the_committed_sas() {
    let (name, json) = file("4msg-sas-commit.json");
    // The classic (P5) value in place of the committed one is named, and nothing else moves.
    let m_a = hex::decode(json["values"]["MA"].as_str().unwrap()).unwrap();
    let form_b = json["values"]["formB"].as_str().unwrap();
    let classic = sas28x5(H, &m_a, form_b.as_bytes());
    assert_ne!(json["values"]["sas"].as_str().unwrap(), classic);
    let mut bad = json.clone();
    bad["values"]["sas"] = Value::String(classic);
    let errors = verify(&name, &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("4msg-sas-commit.json: values.sas differs"));
    // Another rshashes filler in message 3: formA2, macA, IDA and MA all move, the committed
    // SAS does not (it was fixed when message 2 was sent).
    let mut bad = json;
    other_filler(&mut bad);
    let errors = verify(&name, &bad);
    for what in ["values.formA2 differs", "values.MA differs"] {
        assert!(
            errors.iter().any(|e| e.contains(what)),
            "{what}: {errors:?}"
        );
    }
    assert!(
        !errors
            .iter()
            .any(|e| e.contains("values.sas") || e.contains("sas28x5")),
        "{errors:?}"
    );
}

#[test]
fn vectors_check_sees_a_filler_move_the_classic_sas() {
    // The same change moves the classic SAS of a P5 vector: that is the grind.
    let (name, mut json) = file("4msg-group14.json");
    other_filler(&mut json);
    let errors = verify(&name, &json);
    assert!(
        errors.iter().any(|e| e.contains("values.sas differs")),
        "{errors:?}"
    );
}

/// The Gajim vectors, parsed.
fn gajim_files() -> Vec<(String, Value)> {
    files()
        .into_iter()
        .filter(|(_, j)| j.get("dialect").is_some())
        .collect()
}

#[test]
fn gajim_vectors_need_every_deviation() {
    // With any one deviation switched off, the check of the Gajim vectors fails, naming
    // what no longer matches.
    let all = gajim_files();
    assert_eq!(all.len(), 4);
    let cases = [
        (Deviation::D1, "values.provisory.KCA differs"),
        (Deviation::D2, "values.IDA differs"),
        (Deviation::D2Tail, "plaintext differs"),
        (Deviation::D3, "values.formA differs"),
        (Deviation::D4, "a_mac differs"),
        (Deviation::D5, "(P9 content, D5 padding) differs"),
        (Deviation::D6, "values.sas differs"),
        (
            Deviation::D7,
            "terminate in clear (D7), not encrypted (P10) differs",
        ),
    ];
    for (off, named) in cases {
        let errors: Vec<String> = all
            .iter()
            .flat_map(|(f, j)| {
                let mut d = Dialect::of(f, j).unwrap();
                d.on.retain(|x| *x != off);
                verify_as(f, j, Some(d))
            })
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(named)),
            "{off:?} off: {errors:?}"
        );
    }
}

#[test]
fn gajim_vectors_are_not_profile_vectors() {
    // Read as the profile (no dialect), every Gajim vector fails from its provisory keys on.
    for (f, j) in gajim_files() {
        let errors = verify_as(&f, &j, None);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("values.provisory.KCA differs")),
            "{f}: {errors:?}"
        );
    }
}
