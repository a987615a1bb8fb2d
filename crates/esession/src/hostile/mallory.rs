//! Mallory sits between Alice and Bob: every stanza passes through a script that may
//! rewrite, drop, hold (for reordering or later replay), duplicate or reflect it, or
//! inject another stanza after it.
use crate::config::Config;
use crate::engine::tests::full;
use crate::engine::tests::{ALICE, BOB, NOW};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::event::{EndedBy, Event};
use crate::forms::Field;
use crate::negotiation::stanza::{negotiation_form, Wrapper};
use crate::random::{Random, SeededRandom};
use crate::store::{MemoryStore, SecretStore};
use crate::warning::Warning;
use crate::xml::{ns, Element, Node};

/// Which way a stanza travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    ToBob,
    ToAlice,
}

/// What Mallory does with one stanza.
pub(crate) enum Fate {
    /// Deliver it (possibly after rewriting it in place).
    Pass,
    /// Lose it.
    Drop,
    /// Keep it in [`Mallory::held`] (deliver later with [`Mallory::release`]).
    Hold,
    /// Deliver it twice.
    Twice,
    /// Send it back to its sender, as if the recipient had sent it.
    Reflect,
    /// Deliver it, then deliver this one too (same direction).
    Also(Element),
    /// Deliver this one first, then the stanza.
    Before(Element),
}

pub(crate) struct Mallory {
    pub alice: Engine<MemoryStore>,
    pub bob: Engine<MemoryStore>,
    pub held: Vec<(Dir, Element)>,
    /// Every stanza delivered, serialized.
    pub wire: Vec<(Dir, String)>,
    sent: [usize; 2],
}

impl Mallory {
    pub(super) fn new(label: &str) -> Self {
        Self::with(
            label,
            Config::default(),
            Config::default(),
            MemoryStore::new(),
            MemoryStore::new(),
        )
    }

    pub(super) fn with(
        label: &str,
        a: Config,
        b: Config,
        sa: MemoryStore,
        sb: MemoryStore,
    ) -> Self {
        let rb = Box::new(SeededRandom::from_label(&format!("{label}/b")));
        Self::with_bob_rng(label, a, b, sa, sb, rb)
    }

    pub(super) fn with_bob_rng(
        label: &str,
        a: Config,
        b: Config,
        sa: MemoryStore,
        sb: MemoryStore,
        rb: Box<dyn Random>,
    ) -> Self {
        Mallory {
            alice: Engine::new(
                full(ALICE),
                a,
                sa,
                Box::new(SeededRandom::from_label(&format!("{label}/a"))),
            ),
            bob: Engine::new(full(BOB), b, sb, rb),
            held: Vec::new(),
            wire: Vec::new(),
            sent: [0, 0],
        }
    }

    /// Alice asks Bob's bare JID for a session.
    pub(super) fn start(&mut self) -> String {
        self.alice.start_str("bob@example.com", NOW).unwrap()
    }

    /// Hands `s` to the recipient for `dir`.
    pub(super) fn deliver(&mut self, dir: Dir, s: Element) {
        self.wire.push((dir, s.to_string()));
        match dir {
            Dir::ToBob => self.bob.handle_stanza(s, NOW),
            Dir::ToAlice => self.alice.handle_stanza(s, NOW),
        }
    }

    /// Everything Alice (or Bob) has queued, `from` stamped as a server would.
    pub(super) fn take(&mut self, dir: Dir) -> Vec<Element> {
        let mut out = Vec::new();
        loop {
            let next = match dir {
                Dir::ToBob => self.alice.poll_outgoing(),
                Dir::ToAlice => self.bob.poll_outgoing(),
            };
            let Some(mut s) = next else { break };
            s.set_attr("from", if dir == Dir::ToBob { ALICE } else { BOB });
            out.push(s);
        }
        out
    }

    /// Moves stanzas until both sides are quiet; `script(dir, n, stanza)` decides the
    /// fate of the n-th stanza (counted per direction from 0).
    pub(super) fn run(&mut self, mut script: impl FnMut(Dir, usize, &mut Element) -> Fate) {
        loop {
            let mut moved = false;
            for dir in [Dir::ToBob, Dir::ToAlice] {
                for s in self.take(dir) {
                    moved = true;
                    self.route(dir, s, &mut script);
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn route(
        &mut self,
        dir: Dir,
        mut s: Element,
        script: &mut impl FnMut(Dir, usize, &mut Element) -> Fate,
    ) {
        let i = dir as usize;
        let n = self.sent[i];
        self.sent[i] += 1;
        match script(dir, n, &mut s) {
            Fate::Pass => self.deliver(dir, s),
            Fate::Drop => {}
            Fate::Hold => self.held.push((dir, s)),
            Fate::Twice => {
                self.deliver(dir, s.clone());
                self.deliver(dir, s);
            }
            Fate::Reflect => {
                let (back, from) = match dir {
                    Dir::ToBob => (Dir::ToAlice, BOB),
                    Dir::ToAlice => (Dir::ToBob, ALICE),
                };
                s.set_attr("from", from);
                self.deliver(back, s);
            }
            Fate::Also(extra) => {
                self.deliver(dir, s);
                self.deliver(dir, extra);
            }
            Fate::Before(first) => {
                self.deliver(dir, first);
                self.deliver(dir, s);
            }
        }
    }

    /// Delivers every held stanza, oldest first.
    pub(super) fn release(&mut self) {
        for (dir, s) in std::mem::take(&mut self.held) {
            self.deliver(dir, s);
        }
    }

    /// An honest network.
    pub(super) fn clean(&mut self) {
        self.run(|_, _, _| Fate::Pass);
    }

    /// A clean negotiation; both sides must be established.
    pub(super) fn negotiate(&mut self) -> String {
        let thread = self.start();
        self.clean();
        let (a, b) = (outcome(&mut self.alice), outcome(&mut self.bob));
        assert!(a.established && a.failed.is_none(), "alice: {a:?}");
        assert!(b.established && b.failed.is_none(), "bob: {b:?}");
        thread
    }
}

/// What one engine reported.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub established: bool,
    pub failed: Option<Error>,
    /// Bodies delivered from an ESession.
    pub bodies: Vec<String>,
    /// Bodies delivered in clear.
    pub clear: Vec<String>,
    pub warnings: Vec<Warning>,
    pub terminated: Option<EndedBy>,
}

impl Outcome {
    pub(super) fn failure(&self) -> Option<(ErrorKind, Error)> {
        self.failed.as_ref().map(|e| (e.kind(), e.clone()))
    }

    /// Asserts a failure of exactly `kind` / `v` and no establishment.
    #[track_caller]
    pub(super) fn assert_failed(&self, kind: ErrorKind, e: impl Into<Error>) {
        assert_eq!(self.failure(), Some((kind, e.into())), "{self:?}");
        assert!(!self.established, "failed and established: {self:?}");
        assert!(self.bodies.is_empty(), "delivered after failing: {self:?}");
    }

    /// Asserts that nothing at all was reported.
    #[track_caller]
    pub(super) fn assert_quiet(&self) {
        assert!(
            !self.established
                && self.failed.is_none()
                && self.bodies.is_empty()
                && self.clear.is_empty()
                && self.terminated.is_none(),
            "{self:?}"
        );
    }
}

/// Drains the events of `e`.
pub(crate) fn outcome(e: &mut Engine<MemoryStore>) -> Outcome {
    let mut o = Outcome::default();
    while let Some(ev) = e.poll_event() {
        match ev {
            Event::Established(_) => o.established = true,
            Event::Failed { error, .. } => {
                assert!(
                    o.failed.is_none(),
                    "two failures: {:?} then {error:?}",
                    o.failed
                );
                o.failed = Some(error);
            }
            Event::Message {
                body, encrypted, ..
            } => {
                let b = body.unwrap_or_default();
                if encrypted {
                    o.bodies.push(b);
                } else {
                    o.clear.push(b);
                }
            }
            // A decrypted presence or iq is delivered content too.
            Event::Stanza { stanza, .. } => o.bodies.push(stanza.to_string()),
            Event::Warning { detail, .. } => o.warnings.push(detail),
            Event::Terminated { by, .. } => o.terminated = Some(by),
            Event::Renegotiated(_) | Event::Rekeyed { .. } => {}
        }
    }
    o
}

/// The retained secrets an engine holds: (peer full JID, secret, verified).
pub(crate) fn secrets(e: &Engine<MemoryStore>) -> Vec<(String, Vec<u8>, bool)> {
    let own = e.own_jid().to_bare().to_string();
    e.store()
        .all_secrets(&own)
        .unwrap()
        .into_iter()
        .map(|r| (r.id.peer_full.clone(), r.secret.to_vec(), r.verified))
        .collect()
}

/// The RSA identity key of the test keys (for the 3-message flow).
pub(crate) fn rsa() -> crate::crypto::pubkey::IdentityKey {
    crate::crypto::pubkey::IdentityKey::from_pkcs8_der(include_bytes!(
        "../../tests/keys/rsa2048.pk8.der"
    ))
    .unwrap()
}

/// Which negotiation message a stanza is (1–4), if any.
pub(crate) fn step(s: &Element) -> Option<u8> {
    if s.attr("type") == Some("error") {
        return None;
    }
    let (wrapper, x) = negotiation_form(s)?;
    match (wrapper, x.attr("type")) {
        (Wrapper::Feature, Some("form")) => Some(1),
        (Wrapper::Feature, Some("submit")) => Some(2),
        (Wrapper::Feature, Some("result")) => Some(3),
        (Wrapper::Init, _) => Some(4),
        _ => None,
    }
}

/// Whether `s` is an XEP-0200 encrypted stanza.
pub(crate) fn is_encrypted(s: &Element) -> bool {
    s.child("c", ns::STANZA_ENCRYPTION).is_some()
}

fn form_mut(s: &mut Element) -> Option<&mut Element> {
    let wrapper = s.nodes_mut().iter_mut().find_map(|n| match n {
        Node::Element(e) if e.is("feature", ns::FEATURE_NEG) || e.is("init", ns::ESESSION_INIT) => {
            Some(e)
        }
        _ => None,
    })?;
    wrapper.nodes_mut().iter_mut().find_map(|n| match n {
        Node::Element(e) if e.is("x", ns::DATA) => Some(e),
        _ => None,
    })
}

/// Applies `f` to the `<field var=var/>` of the stanza's negotiation form.
pub(crate) fn with_field(s: &mut Element, var: &str, f: impl FnOnce(&mut Element)) {
    let x = form_mut(s).expect("a negotiation form");
    let field = x
        .nodes_mut()
        .iter_mut()
        .find_map(|n| match n {
            Node::Element(e) if e.name() == "field" && e.attr("var") == Some(var) => Some(e),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no field {var}"));
    f(field);
}

/// Replaces the values of field `var` (its options too, for an offer), keeping its type.
pub(crate) fn set_values(s: &mut Element, var: &str, values: &[&str]) {
    with_field(s, var, |field| {
        let had_options = field.children().any(|c| c.name() == "option");
        field.take_children(|c| c.name() == "value" || c.name() == "option");
        let mut replacement = if had_options {
            Field::offer(var, crate::forms::FieldType::ListSingle, values)
        } else {
            Field::new(var, None, values)
        };
        replacement.var = None;
        for child in replacement.to_element().children() {
            field.push(child.clone());
        }
    });
}

/// The values (or offered options) of field `var`.
pub(crate) fn values(s: &Element, var: &str) -> Vec<String> {
    let (_, x) = negotiation_form(s).expect("a negotiation form");
    let form = crate::forms::Form::parse(x).unwrap();
    let f = form.field(var).unwrap_or_else(|| panic!("no field {var}"));
    f.offered().into_iter().map(str::to_owned).collect()
}

/// Removes field `var`.
pub(crate) fn remove_field(s: &mut Element, var: &str) {
    let x = form_mut(s).expect("a negotiation form");
    x.take_children(|c| c.name() == "field" && c.attr("var") == Some(var));
}

/// Appends `field` to the stanza's form.
pub(crate) fn add_field(s: &mut Element, field: Element) {
    form_mut(s).expect("a negotiation form").push(field);
}

/// Rewrites the `<c/>` of an encrypted stanza.
pub(crate) fn c_mut(s: &mut Element) -> &mut Element {
    s.nodes_mut()
        .iter_mut()
        .find_map(|n| match n {
            Node::Element(e) if e.is("c", ns::STANZA_ENCRYPTION) => Some(e),
            _ => None,
        })
        .expect("an encrypted stanza")
}

/// The text of `<c/>`'s child `name`, replaced by `f(old)`.
pub(crate) fn rewrite_c_child(s: &mut Element, name: &str, f: impl FnOnce(&str) -> String) {
    let c = c_mut(s);
    let child = c
        .nodes_mut()
        .iter_mut()
        .find_map(|n| match n {
            Node::Element(e) if e.name() == name => Some(e),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no <{name}/>"));
    let new = f(&child.text());
    *child = Element::new(name.to_owned(), ns::STANZA_ENCRYPTION).with_text(new);
}

/// Flips one bit of a base64 value.
pub(crate) fn flip_bit(b64: &str) -> String {
    let mut raw = crate::b64::decode("x", b64).unwrap();
    raw[0] ^= 0x01;
    crate::b64::encode(&raw)
}
