//! A misbehaving *peer* rather than a man in the middle: it holds Alice's real session
//! keys (recomputed from the random values the engine drew, which test builds record in
//! the transcript) and so can send stanzas whose MAC verifies but whose content breaks
//! the rules (re-key elements, non-XML plaintext, …).
use crate::b64;
use crate::channel::m_content;
use crate::crypto::{
    apply_ctr, final_k, negotiation_k, session_keys, stanza_mac, CipherAlg, DhSecret, HashAlg,
    ModpGroup,
};
use crate::engine::tests::{ALICE, BOB};
use crate::stanza::message;
use crate::xml::{ns, Element};

/// Alice's send direction of a clean 4-message session in group 15 without retained
/// secrets (K' = HASH(K), profile P1).
pub(crate) struct Forger {
    kc: Vec<u8>,
    km: Vec<u8>,
    /// Alice's next send counter.
    pub counter: u128,
}

fn recorded(t: &[(String, Vec<u8>)], label: &str) -> Vec<u8> {
    t.iter()
        .find(|(l, _)| l == label)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{label} not recorded"))
}

impl Forger {
    /// Takes the transcript of the current test thread (one negotiation, no message sent
    /// yet) and derives Alice's send keys and counter.
    pub(super) fn from_transcript() -> Self {
        let t = crate::transcript::take();
        let group = ModpGroup::get(15).unwrap();
        let x = DhSecret::from_be(15, &recorded(&t, "alice.x.15")).unwrap();
        let y = DhSecret::from_be(15, &recorded(&t, "bob.y")).unwrap();
        let d = group.public_value(&y);
        let shared = group.shared_secret(&x, &d).unwrap();
        let k = negotiation_k(HashAlg::Sha256, shared.expose());
        let k_final = final_k(HashAlg::Sha256, k.expose(), None, None);
        let keys = session_keys(HashAlg::Sha256, CipherAlg::Aes128Ctr, k_final.expose());
        let c_a = u128::from_be_bytes(recorded(&t, "bob.counter").try_into().unwrap());
        Forger {
            kc: keys.initiator.kc.expose().to_vec(),
            km: keys.initiator.km.expose().to_vec(),
            // Profile P3: the 32-octet identity consumed two blocks.
            counter: c_a.wrapping_add(2),
        }
    }

    /// A `<c/>` carrying `m`, then `extra` children, then a MAC that verifies.
    pub(super) fn seal(&mut self, m: &[u8], extra: Vec<Element>) -> Element {
        let before = self.counter;
        let mut c = Element::new("c", ns::STANZA_ENCRYPTION);
        if m.is_empty() {
            self.counter = self.counter.wrapping_add(1);
        } else {
            let mut data = m.to_vec();
            apply_ctr(CipherAlg::Aes128Ctr, &self.kc, &mut self.counter, &mut data).unwrap();
            c.push(Element::new("data", ns::STANZA_ENCRYPTION).with_text(b64::encode(&data)));
        }
        for e in extra {
            c.push(e);
        }
        let mac = stanza_mac(HashAlg::Sha256, &self.km, m_content(&c).as_bytes(), before);
        c.push(Element::new("mac", ns::STANZA_ENCRYPTION).with_text(b64::encode(&mac)));
        c
    }

    /// A chat message from Alice to Bob on `thread` around [`Forger::seal`].
    pub(super) fn stanza(&mut self, thread: &str, m: &[u8], extra: Vec<Element>) -> Element {
        let mut s = message(BOB, thread)
            .with_attr("type", "chat")
            .with_child(self.seal(m, extra));
        s.set_attr("from", ALICE);
        s
    }
}
