//! A Gajim-behaviour test double (issue 13 §5): what Gajim 0.16 and 1.0 put on the wire and
//! how they check what they receive, written from the design note on Gajim, never from
//! Gajim's code. It shares none of the engine's Gajim-mode code: its cipher is a
//! PyCrypto-like CTR stream over the `aes` crate ([`Ctr`]), its normalization its own
//! c14n ([`c14n`]), its SAS its own base-28; only the primitives the note says agree with the
//! profile (DH, HMAC, SHA-256, mpi) come from the crate.
use crate::b64;
use crate::crypto::{hmac, mpi, sha256, DhSecret, HashAlg, ModpGroup};
use crate::forms::Form;
use crate::random::{Random, SeededRandom};
use crate::transcript;
use crate::xml::{ns, parse_fragment, Element, Limits, Node};
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use std::collections::HashMap;

const H: HashAlg = HashAlg::Sha256;
const RSA_SHA256: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha256";
const CLEAR_BODY: &str =
    "[This is part of an encrypted session. If you see this message, something went wrong.]";
/// Gajim's `esession_modp` default.
const MODP: [u32; 3] = [15, 16, 14];
/// The groups Gajim knows (3 and 4 absent).
const KNOWN: [u32; 8] = [1, 2, 5, 14, 15, 16, 17, 18];

/// Which Gajim: 1.0 on Python 3 (bug B1 crashes, pads by characters) or 0.16 on Python 2
/// with a UTF-8 default encoding (bug B2 instead of B1, pads by octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1_0,
    V0_16,
}

/// What happened on the double's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    Established {
        sas: String,
        srs_found: bool,
    },
    Message(String),
    /// A stanza whose MAC or plaintext failed ("bad signature", "not UTF-8", …).
    Rejected(String),
    Terminated,
    /// Bug B1: a TypeError in the padding of a counter; Gajim sends nothing.
    Crashed(&'static str),
    /// A choice that pops a dialog on Gajim's side (D9).
    Dialog(&'static str),
    /// A request Gajim refused, naming why.
    Refused(String),
    /// An error stanza from the peer.
    PeerError,
}

/// PyCrypto's CTR as Gajim drives it: a counter function that increments before each block,
/// and a stream whose unused keystream octets carry over to the next call.
struct Ctr {
    aes: aes::Aes256,
    km: Vec<u8>,
    counter: u128,
    spare: Vec<u8>,
    version: Version,
}

impl Ctr {
    fn new(kc: &[u8], km: &[u8], counter: u128, version: Version) -> Self {
        Ctr {
            aes: aes::Aes256::new_from_slice(kc).unwrap(),
            km: km.to_vec(),
            counter,
            spare: Vec::new(),
            version,
        }
    }

    /// Gajim's `encode_mpi_with_padding`: 16 octets; under Python 3 any padding is a
    /// TypeError (bug B1).
    fn padded(version: Version, c: u128) -> Result<[u8; 16], &'static str> {
        if version == Version::V1_0 && c < 1 << 120 {
            return Err("TypeError in encode_mpi_with_padding");
        }
        Ok(c.to_be_bytes())
    }

    fn crypt(&mut self, data: &mut [u8]) -> Result<(), &'static str> {
        for byte in data.iter_mut() {
            if self.spare.is_empty() {
                self.counter = self.counter.wrapping_add(1);
                let block = Self::padded(self.version, self.counter)?;
                let mut b = GenericArray::clone_from_slice(&block);
                self.aes.encrypt_block(&mut b);
                self.spare = b.to_vec();
            }
            *byte ^= self.spare.remove(0);
        }
        Ok(())
    }
}

/// The six keys from K, with AES-256 cipher keys (the whole HMAC output).
struct Keys {
    kc_a: Vec<u8>,
    km_a: Vec<u8>,
    ks_a: Vec<u8>,
    kc_b: Vec<u8>,
    km_b: Vec<u8>,
    ks_b: Vec<u8>,
}

fn keys(k: &[u8]) -> Keys {
    let h = |label: &str| hmac(H, k, &[label.as_bytes()]);
    Keys {
        kc_a: h("Initiator Cipher Key"),
        km_a: h("Initiator MAC Key"),
        ks_a: h("Initiator SIGMA Key"),
        kc_b: h("Responder Cipher Key"),
        km_b: h("Responder MAC Key"),
        ks_b: h("Responder SIGMA Key"),
    }
}

impl Keys {
    /// The initiator's cipher, MAC and SIGMA keys.
    fn initiator(&self) -> (&[u8], &[u8], &[u8]) {
        (&self.kc_a, &self.km_a, &self.ks_a)
    }

    /// The responder's cipher, MAC and SIGMA keys.
    fn responder(&self) -> (&[u8], &[u8], &[u8]) {
        (&self.kc_b, &self.km_b, &self.ks_b)
    }
}

/// K' = SHA256(K | SRS), without SRS when none matched.
fn final_k(k: &[u8], srs: Option<&Vec<u8>>) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![k];
    parts.extend(srs.map(Vec::as_slice));
    sha256(&parts).to_vec()
}

/// An identity: mac = HMAC(KS, mac_input), ID = its encryption by a fresh stream from C,
/// M = HMAC(KM, mpi(C) | ID). Returns ID, M and the counter after it.
fn seal_identity(
    (kc, km, ks): &(&[u8], &[u8], &[u8]),
    counter: u128,
    version: Version,
    mac_input: &[&[u8]],
) -> Result<(Vec<u8>, Vec<u8>, u128), &'static str> {
    let mut id = hmac(H, ks, mac_input);
    let mut ctr = Ctr::new(kc, km, counter, version);
    ctr.crypt(&mut id)?;
    let m = hmac(H, km, &[mpi(&counter.to_be_bytes()), &id]);
    Ok((id, m, ctr.counter))
}

/// Checks an identity the way Gajim does: M with mpi(C) (not in constant time), then the
/// decrypted mac. `Ok(Ok(counter after))`, `Ok(Err(why))` when refused, `Err` on a crash.
fn open_identity(
    (kc, km, ks): &(&[u8], &[u8], &[u8]),
    counter: u128,
    version: Version,
    id: &[u8],
    m: &[u8],
    mac_input: &[&[u8]],
) -> Result<Result<u128, &'static str>, &'static str> {
    if hmac(H, km, &[mpi(&counter.to_be_bytes()), id]) != m {
        return Ok(Err("identity MAC does not verify"));
    }
    let mut ctr = Ctr::new(kc, km, counter, version);
    let mut plain = id.to_vec();
    ctr.crypt(&mut plain)?;
    if plain != hmac(H, ks, mac_input) {
        return Ok(Err("calculated mac differs from received mac"));
    }
    Ok(Ok(ctr.counter))
}

/// A `<message/>` to `to` on `thread` carrying `x` in the wrapper `name` of `xmlns`.
fn wrapped(to: &str, thread: &str, name: &'static str, xmlns: &'static str, x: Element) -> Element {
    message(to, thread).with_child(Element::new(name, xmlns).with_child(x))
}

/// A `<message/>` to `to` on `thread`.
fn message(to: &str, thread: &str) -> Element {
    Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", to)
        .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(thread))
}

/// Gajim's c14n of an element: sorted attributes, no namespaces, and `<name attrs />` for
/// an element with no content.
pub(crate) fn c14n(e: &Element) -> String {
    let mut out = format!("<{}", e.name());
    let mut attrs: Vec<_> = e.attrs().to_vec();
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
    if e.nodes().is_empty() {
        out.push_str(" />");
        return out;
    }
    out.push('>');
    for n in e.nodes() {
        match n {
            Node::Element(c) => out.push_str(&c14n(c)),
            Node::Text(t) if e.has_element_children() && t.trim().is_empty() => {}
            Node::Text(t) => out.push_str(
                &t.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('\r', "&#xD;"),
            ),
        }
    }
    out.push_str(&format!("</{}>", e.name()));
    out
}

/// The MAC'd form: every child of `<x/>` but the identity and mac fields.
fn form_text(x: &Element) -> String {
    x.children()
        .filter(|c| !matches!(c.attr("var"), Some("identity" | "mac")))
        .map(c14n)
        .collect()
}

/// Gajim's base-28 SAS: no left padding.
fn base28(n: u32) -> String {
    const ALPHABET: &[u8; 28] = b"acdefghikmopqruvwxy123456789";
    let digit = char::from(ALPHABET[(n % 28) as usize]);
    if n >= 28 {
        format!("{}{digit}", base28(n / 28))
    } else {
        digit.to_string()
    }
}

fn sas(m_a: &[u8], form_b: &str) -> String {
    let h = sha256(&[m_a, form_b.as_bytes(), b"Short Authentication String"]);
    base28(u32::from_be_bytes([0, h[29], h[30], h[31]]))
}

fn field(var: &str, kind: Option<&str>, values: &[&str]) -> Element {
    let mut f = Element::new("field", ns::DATA).with_attr("var", var);
    if let Some(kind) = kind {
        f.set_attr("type", kind);
    }
    for v in values {
        f.push(Element::new("value", ns::DATA).with_text(*v));
    }
    f
}

/// A list-single with `<required />` before its options, as Gajim writes it.
fn list(var: &str, kind: &str, options: &[&str], required: bool, label: bool) -> Element {
    let mut f = Element::new("field", ns::DATA)
        .with_attr("type", kind)
        .with_attr("var", var);
    if required {
        f.push(Element::new("required", ns::DATA));
    }
    for o in options {
        let mut opt = Element::new("option", ns::DATA);
        if label {
            opt.set_attr("label", "None");
        }
        f.push(opt.with_child(Element::new("value", ns::DATA).with_text(*o)));
    }
    f
}

fn text_single(var: &str, value: &str) -> Element {
    field(var, Some("text-single"), &[value])
}

fn form(kind: &str, fields: Vec<Element>) -> Element {
    let mut x = Element::new("x", ns::DATA).with_attr("type", kind);
    for f in fields {
        x.push(f);
    }
    x
}

fn value(form: &Form, var: &str) -> Vec<u8> {
    b64::decode(var, form.value(var).unwrap_or_default()).unwrap_or_default()
}

/// A session on Gajim's side.
struct Session {
    peer: String,
    thread: String,
    initiator: bool,
    n_a: Vec<u8>,
    n_b: Vec<u8>,
    /// Alice: x and e per offered group. Bob: y of the chosen group.
    secrets: Vec<(u32, DhSecret, Vec<u8>)>,
    he: Vec<u8>,
    d: Vec<u8>,
    e: Vec<u8>,
    form_a: String,
    form_b: String,
    c_a: u128,
    c_b: u128,
    k: Vec<u8>,
    send: Option<Ctr>,
    recv: Option<Ctr>,
    sas: String,
}

impl Session {
    /// mac_A's input: N_B | N_A | e | form_A | form_A2.
    fn mac_a_input<'a>(&'a self, form_a2: &'a str) -> [&'a [u8]; 5] {
        let s = self;
        [
            &s.n_b,
            &s.n_a,
            &s.e,
            s.form_a.as_bytes(),
            form_a2.as_bytes(),
        ]
    }

    /// mac_B's input: N_A | N_B | d | form_B | form_B2.
    fn mac_b_input<'a>(&'a self, form_b2: &'a str) -> [&'a [u8]; 5] {
        let s = self;
        [
            &s.n_a,
            &s.n_b,
            &s.d,
            s.form_b.as_bytes(),
            form_b2.as_bytes(),
        ]
    }
}

/// Appends the `identity` and `mac` fields.
fn push_identity(x: &mut Element, id: &[u8], m: &[u8]) {
    x.push(text_single("identity", &b64::encode(id)));
    x.push(text_single("mac", &b64::encode(m)));
}

/// Gajim, as a sans-IO peer.
pub(crate) struct Gajim {
    pub(crate) version: Version,
    rng: SeededRandom,
    /// Retained secrets by peer bare JID.
    pub(crate) retained: HashMap<String, Vec<Vec<u8>>>,
    session: Option<Session>,
    out: Vec<Element>,
    pub(crate) seen: Vec<Seen>,
    /// Gajim's `logging` preferences (default `log_encrypted_sessions` = true).
    pub(crate) logging: [&'static str; 2],
    /// The C_A Gajim as responder draws, when a test fixes it.
    pub(crate) force_counter: Option<u128>,
}

fn bare(jid: &str) -> String {
    jid.split('/').next().unwrap_or_default().to_owned()
}

impl Gajim {
    pub(crate) fn new(version: Version, label: &str) -> Self {
        Gajim {
            version,
            rng: SeededRandom::from_label(label),
            retained: HashMap::new(),
            session: None,
            out: Vec::new(),
            seen: Vec::new(),
            logging: ["may", "mustnot"],
            force_counter: None,
        }
    }

    fn random(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill(&mut v);
        v
    }

    pub(crate) fn poll(&mut self) -> Option<Element> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    /// Gajim's message 1 to `to`; returns the thread.
    pub(crate) fn start(&mut self, to: &str) -> String {
        let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let thread: String = self
            .random(32)
            .iter()
            .map(|b| char::from(letters[usize::from(*b) % letters.len()]))
            .collect();
        let n_a = self.random(8);
        // The inputs of a published vector (`crate::vectors`), as the engine records its own.
        transcript::record!("alice.nonce", &n_a);
        let mut secrets = Vec::new();
        let mut hashes = Vec::new();
        for id in MODP {
            let group = ModpGroup::get(id).unwrap();
            let x = group.generate_secret(&mut self.rng);
            transcript::record!(&format!("alice.x.{id}"), &x.expose_mpi());
            let e = group.public_value(&x);
            hashes.push(b64::encode(&sha256(&[mpi(&e)])));
            secrets.push((id, x, e));
        }
        let modp: Vec<String> = MODP.iter().map(u32::to_string).collect();
        let modp: Vec<&str> = modp.iter().map(String::as_str).collect();
        let hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let mut accept = field("accept", Some("boolean"), &[]);
        accept.push(Element::new("required", ns::DATA));
        accept.push(Element::new("value", ns::DATA).with_text("1"));
        let x = form(
            "form",
            vec![
                field("FORM_TYPE", Some("hidden"), &[ns::SSN]),
                accept,
                list("logging", "list-single", &self.logging, true, false),
                list("disclosure", "list-single", &["never"], true, false),
                list("security", "list-single", &["e2e"], true, false),
                field("crypt_algs", Some("hidden"), &["aes128-ctr"]),
                field("hash_algs", Some("hidden"), &["sha256"]),
                field("compress", Some("hidden"), &["none"]),
                list("stanzas", "list-multi", &["message"], false, false),
                list(
                    "init_pubkey",
                    "list-single",
                    &["none", "key", "hash"],
                    false,
                    false,
                ),
                list("resp_pubkey", "list-single", &["none", "key"], false, false),
                field("ver", Some("hidden"), &["1.0"]),
                field("rekey_freq", Some("hidden"), &["4294967295"]),
                field("sas_algs", Some("hidden"), &["sas28x5"]),
                field("sign_algs", Some("hidden"), &[RSA_SHA256]),
                field("my_nonce", Some("hidden"), &[&b64::encode(&n_a)]),
                list("modp", "list-single", &modp, false, true),
                field("dhhashes", Some("hidden"), &hashes),
            ],
        );
        let form_a = form_text(&x);
        // Message 1: no type, the thread after <feature/>, no AMP.
        let msg = Element::new("message", ns::JABBER_CLIENT)
            .with_attr("to", to)
            .with_child(Element::new("feature", ns::FEATURE_NEG).with_child(x))
            .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(&thread));
        self.out.push(msg);
        self.session = Some(Session {
            peer: to.to_owned(),
            thread: thread.clone(),
            initiator: true,
            n_a,
            n_b: Vec::new(),
            secrets,
            he: Vec::new(),
            d: Vec::new(),
            e: Vec::new(),
            form_a,
            form_b: String::new(),
            c_a: 0,
            c_b: 0,
            k: Vec::new(),
            send: None,
            recv: None,
            sas: String::new(),
        });
        thread
    }

    /// Feeds one stanza from the engine.
    pub(crate) fn handle(&mut self, stanza: &Element) {
        let from = stanza.attr("from").unwrap_or_default().to_owned();
        let thread = stanza
            .child("thread", ns::JABBER_CLIENT)
            .map(Element::text)
            .unwrap_or_default();
        if stanza.attr("type") == Some("error") {
            self.seen.push(Seen::PeerError);
            self.session = None;
            return;
        }
        if let Some(x) = stanza
            .child("feature", ns::FEATURE_NEG)
            .and_then(|f| f.child("x", ns::DATA))
        {
            let f = Form::parse(x).unwrap();
            if f.value("terminate").is_some() {
                self.seen.push(Seen::Terminated);
                self.session = None;
                return;
            }
            let result = match x.attr("type") {
                Some("form") => self.respond(&from, &thread, x, &f),
                Some("submit") => self.on_response(x, &f),
                Some("result") => self.on_result(x, &f),
                _ => Ok(()),
            };
            if let Err(why) = result {
                self.seen.push(Seen::Crashed(why));
                self.session = None;
            }
            return;
        }
        if let Some(x) = stanza
            .child("init", ns::ESESSION_INIT)
            .and_then(|f| f.child("x", ns::DATA))
        {
            let f = Form::parse(x).unwrap();
            if let Err(why) = self.on_init(x, &f) {
                self.seen.push(Seen::Crashed(why));
                self.session = None;
            }
            return;
        }
        if let Some(c) = stanza.child("c", ns::STANZA_ENCRYPTION) {
            self.on_data(c);
        }
    }

    /// Bob: message 1 → message 2.
    fn respond(
        &mut self,
        from: &str,
        thread: &str,
        x: &Element,
        f: &Form,
    ) -> Result<(), &'static str> {
        if f.field("dhkeys").is_some() && f.field("dhhashes").is_none() {
            // Gajim refuses the 3-message flow (its error stanza never gets serialized).
            self.seen.push(Seen::Refused("3-message request".into()));
            return Ok(());
        }
        let offered = |var: &str| f.field(var).map(|fl| fl.offered()).unwrap_or_default();
        let logging = match self.logging.iter().find(|l| offered("logging").contains(l)) {
            Some(l) if *l == self.logging[0] => *l,
            _ => {
                self.seen.push(Seen::Dialog("logging"));
                offered("logging").first().copied().unwrap_or("mustnot")
            }
        };
        // Gajim takes the first group, unchecked.
        let group: u32 = offered("modp")
            .first()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        if !KNOWN.contains(&group) {
            return Err("KeyError: unknown MODP group");
        }
        let choices: [(&str, &str); 11] = [
            ("logging", logging),
            ("disclosure", "never"),
            ("security", "e2e"),
            ("crypt_algs", "aes128-ctr"),
            ("hash_algs", "sha256"),
            ("compress", "none"),
            ("stanzas", "message"),
            ("init_pubkey", "none"),
            ("resp_pubkey", "none"),
            ("ver", "1.0"),
            ("sas_algs", "sas28x5"),
        ];
        for (var, choice) in choices {
            if !offered(var).contains(&choice) {
                self.seen.push(Seen::Refused(var.into()));
                let err = message(from, thread).with_attr("type", "error").with_child(
                    Element::new("error", ns::JABBER_CLIENT)
                        .with_attr("type", "cancel")
                        .with_child(Element::new("not-acceptable", ns::STANZAS)),
                );
                self.out.push(err);
                return Ok(());
            }
        }
        let index = offered("modp").iter().position(|g| *g == group.to_string());
        let he = f
            .field("dhhashes")
            .and_then(|h| h.values.get(index?))
            .cloned();
        let he = b64::decode("dhhashes", &he.unwrap_or_default()).unwrap_or_default();
        let modp = ModpGroup::get(group).unwrap();
        let y = modp.generate_secret(&mut self.rng);
        let d = modp.public_value(&y);
        let n_b = self.random(8);
        let c_a = match self.force_counter {
            Some(c) => c,
            None => u128::from_be_bytes(self.random(16).try_into().unwrap()),
        };
        transcript::record!("bob.nonce", &n_b);
        transcript::record!("bob.counter", mpi(&c_a.to_be_bytes()));
        transcript::record!("bob.y", &y.expose_mpi());
        let mut fields = vec![
            text_single("FORM_TYPE", ns::SSN),
            text_single("accept", "true"),
        ];
        for fl in x.children() {
            let var = fl.attr("var").unwrap_or_default();
            if let Some((_, choice)) = choices.iter().find(|(v, _)| *v == var) {
                fields.push(text_single(var, choice));
            } else if var == "rekey_freq" || var == "sign_algs" {
                let first = offered(var).first().copied().unwrap_or_default();
                fields.push(text_single(var, first));
            }
        }
        let n_a = value(f, "my_nonce");
        fields.push(text_single("modp", &group.to_string()));
        fields.push(text_single("my_nonce", &b64::encode(&n_b)));
        fields.push(text_single("dhkeys", &b64::encode(&d)));
        fields.push(text_single(
            "counter",
            &b64::encode(mpi(&c_a.to_be_bytes())),
        ));
        fields.push(text_single("nonce", &b64::encode(&n_a)));
        let x2 = form("submit", fields);
        let form_b = form_text(&x2);
        let msg = message(from, thread)
            .with_child(Element::new("feature", ns::FEATURE_NEG).with_child(x2));
        self.out.push(msg);
        self.session = Some(Session {
            peer: from.to_owned(),
            thread: thread.to_owned(),
            initiator: false,
            n_a,
            n_b,
            secrets: vec![(group, y, Vec::new())],
            he,
            d,
            e: Vec::new(),
            form_a: form_text(x),
            form_b,
            c_a,
            c_b: c_a ^ (1 << 127),
            k: Vec::new(),
            send: None,
            recv: None,
            sas: String::new(),
        });
        Ok(())
    }

    /// Alice: message 2 → message 3.
    fn on_response(&mut self, x: &Element, f: &Form) -> Result<(), &'static str> {
        let version = self.version;
        let filler = self.random(32);
        if !matches!(f.value("accept"), Some("1" | "true")) {
            self.refuse("declined".into());
            return Ok(());
        }
        let Some(s) = self.session.as_mut().filter(|s| s.initiator) else {
            return Ok(());
        };
        let held = self
            .retained
            .get(&bare(&s.peer))
            .cloned()
            .unwrap_or_default();
        let group: u32 = f.value("modp").unwrap_or_default().parse().unwrap_or(0);
        s.d = value(f, "dhkeys");
        // Gajim does not check that the group was offered: a KeyError.
        let (_, x_secret, e) = s
            .secrets
            .iter()
            .find(|(id, _, _)| *id == group)
            .ok_or("KeyError: unoffered MODP group")?;
        let shared = ModpGroup::get(group)
            .unwrap()
            .shared_secret(x_secret, &s.d)
            .unwrap();
        s.e = e.clone();
        s.n_b = value(f, "my_nonce");
        let counter = value(f, "counter");
        let mut c = [0u8; 16];
        c[16 - counter.len()..].copy_from_slice(&counter);
        s.c_a = u128::from_be_bytes(c);
        s.c_b = s.c_a ^ (1 << 127);
        s.form_b = form_text(x);
        s.k = sha256(&[mpi(shared.expose())]).to_vec();
        let kk = keys(&s.k);
        // One rshash per retained secret, no fillers; one random value when there is none.
        let mut rshashes: Vec<String> = held
            .iter()
            .map(|rs| b64::encode(&hmac(H, &s.n_a, &[rs])))
            .collect();
        if held.is_empty() {
            rshashes.push(b64::encode(&filler));
        }
        let rshashes: Vec<&str> = rshashes.iter().map(String::as_str).collect();
        let mut x3 = form(
            "result",
            vec![
                text_single("FORM_TYPE", ns::SSN),
                text_single("accept", "1"),
                text_single("nonce", &b64::encode(&s.n_b)),
                field("rshashes", Some("text-multi"), &rshashes),
                text_single("dhkeys", &b64::encode(&s.e)),
            ],
        );
        let form_a2 = form_text(&x3);
        let mac_input = s.mac_a_input(&form_a2);
        let (id, m_a, after) = seal_identity(&kk.initiator(), s.c_a, version, &mac_input)?;
        s.c_a = after;
        push_identity(&mut x3, &id, &m_a);
        s.sas = sas(&m_a, &s.form_b);
        let msg = wrapped(&s.peer, &s.thread, "feature", ns::FEATURE_NEG, x3);
        self.out.push(msg);
        Ok(())
    }

    /// Bob: message 3 → message 4; established.
    fn on_result(&mut self, x: &Element, f: &Form) -> Result<(), &'static str> {
        let version = self.version;
        let srshash_random = self.random(32);
        let Some(s) = self.session.as_mut().filter(|s| !s.initiator) else {
            return Ok(());
        };
        let missing = ["nonce", "dhkeys", "rshashes", "identity", "mac"]
            .into_iter()
            .find(|var| f.field(var).is_none());
        if let Some(var) = missing {
            self.refuse(format!("message 3 without {var}"));
            return Ok(());
        }
        let e = value(f, "dhkeys");
        if sha256(&[mpi(&e)]).to_vec() != s.he {
            self.refuse("e does not match He".into());
            return Ok(());
        }
        let (group, y, _) = &s.secrets[0];
        let shared = ModpGroup::get(*group)
            .unwrap()
            .shared_secret(y, &e)
            .unwrap();
        s.k = sha256(&[mpi(shared.expose())]).to_vec();
        s.e = mpi(&e).to_vec();
        let kk = keys(&s.k);
        let (id, m_a) = (value(f, "identity"), value(f, "mac"));
        let form_a2 = form_text(x);
        let mac_input = s.mac_a_input(&form_a2);
        match open_identity(&kk.initiator(), s.c_a, version, &id, &m_a, &mac_input)? {
            Ok(after) => s.c_a = after,
            Err(why) => {
                self.refuse(format!("{why} of A"));
                return Ok(());
            }
        }
        let rshashes: Vec<Vec<u8>> = f
            .field("rshashes")
            .map(|fl| {
                fl.values
                    .iter()
                    .filter_map(|v| b64::decode("rshashes", v).ok())
                    .collect()
            })
            .unwrap_or_default();
        let held = self
            .retained
            .get(&bare(&s.peer))
            .cloned()
            .unwrap_or_default();
        let srs = held
            .into_iter()
            .find(|rs| rshashes.contains(&hmac(H, &s.n_a, &[rs])));
        let k_final = final_k(&s.k, srs.as_ref());
        let fin = keys(&k_final);
        let srshash = match &srs {
            Some(rs) => hmac(H, rs, &[b"Shared Retained Secret"]),
            None => {
                transcript::record!("bob.srshash_random", &srshash_random);
                srshash_random
            }
        };
        let mut x4 = form(
            "result",
            vec![
                text_single("FORM_TYPE", ns::SSN),
                text_single("nonce", &b64::encode(&s.n_a)),
                text_single("srshash", &b64::encode(&srshash)),
            ],
        );
        let form_b2 = form_text(&x4);
        let mac_input = s.mac_b_input(&form_b2);
        let (id_b, m_b, after) = seal_identity(&fin.responder(), s.c_b, version, &mac_input)?;
        s.c_b = after;
        push_identity(&mut x4, &id_b, &m_b);
        s.sas = sas(&m_a, &s.form_b);
        s.send = Some(Ctr::new(&fin.kc_b, &fin.km_b, s.c_b, version));
        s.recv = Some(Ctr::new(&fin.kc_a, &fin.km_a, s.c_a, version));
        let msg = wrapped(&s.peer, &s.thread, "init", ns::ESESSION_INIT, x4);
        self.out.push(msg);
        self.established(srs, &k_final);
        Ok(())
    }

    /// Alice: message 4; established.
    fn on_init(&mut self, x: &Element, f: &Form) -> Result<(), &'static str> {
        let version = self.version;
        let Some(s) = self.session.as_mut().filter(|s| s.initiator) else {
            return Ok(());
        };
        let held = self
            .retained
            .get(&bare(&s.peer))
            .cloned()
            .unwrap_or_default();
        let srshash = value(f, "srshash");
        let srs = held
            .into_iter()
            .find(|rs| hmac(H, rs, &[b"Shared Retained Secret"]) == srshash);
        let k_final = final_k(&s.k, srs.as_ref());
        let fin = keys(&k_final);
        let form_b2 = form_text(x);
        let mac_input = s.mac_b_input(&form_b2);
        let (id, m_b) = (value(f, "identity"), value(f, "mac"));
        match open_identity(&fin.responder(), s.c_b, version, &id, &m_b, &mac_input)? {
            Ok(after) => s.c_b = after,
            Err(why) => {
                self.refuse(format!("{why} of B"));
                return Ok(());
            }
        }
        s.recv = Some(Ctr::new(&fin.kc_b, &fin.km_b, s.c_b, version));
        s.send = Some(Ctr::new(&fin.kc_a, &fin.km_a, s.c_a, version));
        self.established(srs, &k_final);
        Ok(())
    }

    /// The negotiation failed on Gajim's side for `why`.
    fn refuse(&mut self, why: String) {
        self.seen.push(Seen::Refused(why));
        self.session = None;
    }

    /// The session is established: the new retained secret replaces `srs`.
    fn established(&mut self, srs: Option<Vec<u8>>, k_final: &[u8]) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let sas = s.sas.clone();
        let list = self.retained.entry(bare(&s.peer)).or_default();
        list.retain(|rs| Some(rs) != srs.as_ref());
        list.push(hmac(H, k_final, &[b"New Retained Secret"]));
        self.seen.push(Seen::Established {
            sas,
            srs_found: srs.is_some(),
        });
    }

    /// An encrypted stanza: checked with the 16-octet counter, decrypted by the stream.
    fn on_data(&mut self, c: &Element) {
        let version = self.version;
        let Some(recv) = self.session.as_mut().and_then(|s| s.recv.as_mut()) else {
            self.seen.push(Seen::Rejected("no session".into()));
            return;
        };
        let data = c.child("data", ns::STANZA_ENCRYPTION);
        let mac = c
            .child("mac", ns::STANZA_ENCRYPTION)
            .map(|m| b64::decode("mac", &m.text()).unwrap_or_default())
            .unwrap_or_default();
        let m_content: String = c
            .children()
            .filter(|e| e.name() != "mac")
            .map(c14n)
            .collect();
        let counter = match Ctr::padded(version, recv.counter) {
            Ok(c) => c,
            Err(why) => {
                self.seen.push(Seen::Crashed(why));
                return;
            }
        };
        if hmac(H, &recv.km, &[m_content.as_bytes(), &counter]) != mac {
            self.seen.push(Seen::Rejected("bad signature".into()));
            return;
        }
        let mut plain = data
            .map(|d| b64::decode("data", &d.text()).unwrap_or_default())
            .unwrap_or_default();
        if let Err(why) = recv.crypt(&mut plain) {
            self.seen.push(Seen::Crashed(why));
            return;
        }
        let Ok(text) = String::from_utf8(plain) else {
            self.seen
                .push(Seen::Rejected("plaintext is not UTF-8".into()));
            return;
        };
        let Ok(nodes) = parse_fragment(&text, ns::JABBER_CLIENT, &Limits::default()) else {
            self.seen.push(Seen::Rejected(
                "decrypted <data/> not parseable as XML".into(),
            ));
            return;
        };
        let elements: Vec<&Element> = nodes.iter().filter_map(Node::as_element).collect();
        // Gajim does not see an encrypted terminate.
        if let Some(body) = elements.iter().find(|e| e.name() == "body") {
            self.seen.push(Seen::Message(body.text()));
        }
    }

    /// Gajim sends `body` in its session: padded to 16 characters (1.0) or octets (0.16),
    /// MACed with mpi(C), with the clear body and hints of the 1.0 plugin.
    pub(crate) fn send(&mut self, body: &str) -> Result<(), &'static str> {
        let version = self.version;
        let id = b64::encode(&self.random(8));
        let s = self.session.as_mut().ok_or("no session")?;
        let send = s.send.as_mut().ok_or("not established")?;
        let escaped = body.replace('&', "&amp;").replace('<', "&lt;");
        let mut m = format!(
            "<body>{escaped}</body><origin-id xmlns=\"urn:xmpp:sid:0\" id=\"{id}\" />\
             <request xmlns=\"urn:xmpp:receipts\" />"
        );
        let units = match version {
            Version::V1_0 => m.chars().count(),
            Version::V0_16 => m.len(),
        };
        m.push_str(&" ".repeat((16 - units % 16) % 16));
        let before = send.counter;
        let mut data = m.into_bytes();
        send.crypt(&mut data)?;
        let data = Element::new("data", ns::STANZA_ENCRYPTION).with_text(b64::encode(&data));
        let mac = hmac(
            H,
            &send.km,
            &[c14n(&data).as_bytes(), mpi(&before.to_be_bytes())],
        );
        let c = Element::new("c", ns::STANZA_ENCRYPTION)
            .with_child(data)
            .with_child(Element::new("mac", ns::STANZA_ENCRYPTION).with_text(b64::encode(&mac)));
        let msg = Element::new("message", ns::JABBER_CLIENT)
            .with_attr("to", s.peer.as_str())
            .with_attr("type", "chat")
            .with_child(Element::new("thread", ns::JABBER_CLIENT).with_text(&s.thread))
            .with_child(Element::new("body", ns::JABBER_CLIENT).with_text(CLEAR_BODY))
            .with_child(c)
            .with_child(Element::new("private", ns::CARBONS))
            .with_child(Element::new("no-permanent-store", ns::HINTS))
            .with_child(Element::new("no-copy", ns::HINTS))
            .with_child(
                Element::new("encryption", ns::EME)
                    .with_attr("namespace", ns::STANZA_ENCRYPTION)
                    .with_attr("name", "ESessions"),
            );
        self.out.push(msg);
        Ok(())
    }

    /// Gajim ends its session: a terminate in clear, no acknowledgement awaited.
    pub(crate) fn terminate(&mut self) {
        let Some(s) = self.session.take() else {
            return;
        };
        let x = form(
            "submit",
            vec![
                field("FORM_TYPE", Some("hidden"), &[ns::SSN]),
                field("terminate", None, &["1"]),
            ],
        );
        let msg = message(&s.peer, &s.thread)
            .with_child(Element::new("feature", ns::FEATURE_NEG).with_child(x));
        self.out.push(msg);
    }
}
