//! The Gajim compatibility mode (issue 13): every place where a session with Gajim 0.12–1.0
//! leaves the profile, so that strict mode stays exactly the profile.
//!
//! Gajim is the one client that shipped XMPP Encrypted Sessions, and its code deviates from
//! the XEPs in a few exact ways; a profile-exact peer fails against it at the first identity
//! MAC. A session is in this mode only toward a peer chosen by [`super::Compat`]: one that
//! showed Gajim's signs ([`request_is_gajim`], [`client_is_gajim`]) or that the user named.
//! What changes, by the labels of the design note on Gajim, and why:
//!
//! - **D1 cipher key**: KC is the whole 32-octet HMAC output, used as an AES-256 key
//!   (provisory and final keys, both directions), while the forms say `aes128-ctr`: Gajim
//!   keys PyCrypto's AES with the whole output. KM and KS are unchanged.
//! - **D2 keystream position**: for a stanza or identity whose MAC counter is C, keystream
//!   block i is AES(KC, C+1+i); afterwards the counter is C + (new blocks): Gajim's counter
//!   function increments before each block. **D2-tail**: the keystream is one stream per
//!   key and direction, and the unused octets of a stanza's last block are consumed first
//!   by the next stanza ([`Stream`]): Gajim 1.0 pads to 16 characters, so a non-ASCII
//!   message leaves such a tail. A new key starts a fresh stream.
//! - **D3 form normalization**: an element with no child and no character data is written
//!   `<name attrs />` (Gajim's c14n); this touches `<required/>` and empty `<value/>`s.
//! - **D4 stanza MAC counter**: our stanza MACs use C as 16 octets, zero-padded on the left,
//!   because that is how Gajim checks them; Gajim's stanzas are checked with mpi(C) (the
//!   profile), because that is how it sends them. Identity MACs keep mpi(C) both ways.
//! - **D5 padding**: our plaintext is padded with spaces to a multiple of 16 octets, so that
//!   Gajim never has to keep a keystream tail for us.
//! - **D6 SAS display**: base-28 without the leading zero digits (`a`), as Gajim shows it,
//!   so that both users read the same letters.
//! - **D7 termination**: our terminate goes in clear and no acknowledgement is awaited
//!   (Gajim ignores an encrypted one and never acknowledges); Gajim's clear terminate ends
//!   the session although profile P10 ignores clear forms. It is unauthenticated: anyone
//!   can end such a session, and the user is told ([`COSTS`]).
//! - **D8 tolerance**: 8-octet nonces, short counter fields, `type` on every field,
//!   `accept` = `true`, one rshashes value without fillers, a hidden `sign_algs` and `ver`,
//!   list-single pubkey offers, option labels, letter threads and requests without AMP are
//!   all read by the profile's own readers already; nothing here loosens them.
//! - **D9 choices**: we offer only what Gajim knows ([`offer_config`]): `aes128-ctr`,
//!   `sha256`, no compression, no public keys, re-keying off, the classic `sas28x5`, `e2e`,
//!   `message` stanzas, and our allowed groups, which are all Gajim-known (1, 2, 5, 14–18),
//!   with the first one the one Gajim takes unchecked. The `logging` answer is the first
//!   value offered that our policy accepts (XEP-0116 §4.5.1), i.e. Gajim's own first
//!   preference unless the user's policy forbids it; `otr` is never used (we always speak
//!   `logging`). Our C_A keeps profile P2's rule (first octet ∉ {0x00, 0x80}), which avoids
//!   Gajim's crash B1 (and B2) in every session we answer.
//!
//! Refused in this mode, with a [`CompatRefusal`] naming what: the 3-message flow,
//! public-key identification, re-keying, renegotiation, zlib, the committed SAS, ciphers other than
//! `aes128-ctr`, hashes other than `sha256` — Gajim has none of them (or broken ones).
use super::{Compat, PeerClient};
use crate::b64;
use crate::compress::CompressAlg;
use crate::config::{Config, Flow, PubkeyMode, Security, StanzaKind};
use crate::crypto::mac::stanza_mac_with;
use crate::crypto::{apply_ctr, CipherAlg, CryptoError, HashAlg, SasAlg};
use crate::error::{CompatRefusal, RequestRefused, Usage};
use crate::forms::{FieldType, Form, FormType};
use crate::negotiation::fields::{NOT_MACED, REKEY_OFF};
use crate::stanza::{message, read_termination, termination};
use crate::xml::{normalize_form_content_as, ns, Element, EmptyElements};
use std::borrow::Cow;
use zeroize::Zeroizing;

/// What a session in the Gajim mode costs, shown with its shield (issue 13 §4).
pub(crate) const COSTS: [&str; 3] = [
    "Gajim compatibility: the peer's terminate is unauthenticated, so anyone can end this session",
    "Gajim compatibility: the peer compares MACs in non-constant time",
    "Gajim compatibility: keyed with AES-256 although the forms say aes128-ctr (no weakness)",
];

/// The caps node of every Gajim (XEP-0115).
const GAJIM_CAPS_NODE: &str = "http://gajim.org";

/// The octets of Gajim's `my_nonce` (profile P2 draws 32).
const GAJIM_NONCE_LEN: usize = 8;

/// The letters of Gajim's thread ids.
const GAJIM_THREAD_LEN: usize = 32;

/// Which wire a session speaks: the profile, or Gajim's dialect of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The profile, exactly.
    #[default]
    Profile,
    /// Gajim 0.12–1.0 (D1–D9 above).
    Gajim,
}

impl Dialect {
    /// The mode to report in [`crate::SessionInfo::compat`].
    pub(crate) fn compat(self) -> Option<Compat> {
        match self {
            Dialect::Profile => None,
            Dialect::Gajim => Some(Compat::Gajim),
        }
    }

    /// The policy a negotiation in this dialect uses: `config` itself for the profile,
    /// [`offer_config`] toward Gajim (`initiating`: we start the negotiation).
    pub(crate) fn config(
        self,
        config: &Config,
        initiating: bool,
    ) -> Result<Cow<'_, Config>, CompatRefusal> {
        match self {
            Dialect::Profile => Ok(Cow::Borrowed(config)),
            Dialect::Gajim => offer_config(config, initiating).map(Cow::Owned),
        }
    }

    /// The cipher the keys are derived for and used with (D1: AES-256 toward Gajim).
    pub(crate) fn key_cipher(self, negotiated: CipherAlg) -> CipherAlg {
        match self {
            Dialect::Profile => negotiated,
            Dialect::Gajim => CipherAlg::Aes256Ctr,
        }
    }

    /// The normalization of a negotiation form for the MACs (profile P4; D3 toward Gajim),
    /// without the `identity` and `mac` fields.
    pub(crate) fn form(self, x: &Element) -> String {
        let empty = match self {
            Dialect::Profile => EmptyElements::StartEnd,
            Dialect::Gajim => EmptyElements::SelfClosing,
        };
        normalize_form_content_as(x, &NOT_MACED, empty)
    }

    /// CTR over `data` at `counter` (profile P3; D2 toward Gajim, continuing `stream`),
    /// advancing the counter.
    pub(crate) fn ctr(
        self,
        stream: &mut Stream,
        cipher: CipherAlg,
        key: &[u8],
        counter: &mut u128,
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        match self {
            Dialect::Profile => apply_ctr(cipher, key, counter, data),
            Dialect::Gajim => stream.apply(cipher, key, counter, data),
        }
    }

    /// CTR over an identity: a fresh stream, since each identity starts one (D2).
    pub(crate) fn identity_ctr(
        self,
        cipher: CipherAlg,
        key: &[u8],
        counter: &mut u128,
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.ctr(&mut Stream::default(), cipher, key, counter, data)
    }

    /// The MAC of a stanza we send (XEP-0200 §6 step 5; D4 toward Gajim), by `mac`, the
    /// HMAC with the session's send KM.
    pub(crate) fn sent_stanza_mac(
        self,
        mac: impl FnOnce(&[&[u8]]) -> Vec<u8>,
        m_content: &[u8],
        before: u128,
    ) -> Vec<u8> {
        match self {
            Dialect::Profile => stanza_mac_with(mac, m_content, before),
            Dialect::Gajim => mac(&[m_content, &before.to_be_bytes()]),
        }
    }

    /// The plaintext as encrypted (D5: padded with spaces to a multiple of 16 octets).
    pub(crate) fn pad(self, m: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Dialect::Gajim if !m.len().is_multiple_of(16) => {
                let mut padded = m.to_vec();
                padded.resize(m.len().next_multiple_of(16), b' ');
                Cow::Owned(padded)
            }
            _ => Cow::Borrowed(m),
        }
    }

    /// The SAS as shown (D6: without leading zero digits, at least one digit kept, as
    /// Gajim's base-28 rendering writes 0 as `a`).
    pub(crate) fn show_sas(self, sas: String) -> String {
        match self {
            Dialect::Profile => sas,
            Dialect::Gajim => {
                let digits = sas.trim_start_matches('a');
                if digits.is_empty() {
                    "a".to_owned()
                } else {
                    digits.to_owned()
                }
            }
        }
    }

    /// How a refused request is reported: toward Gajim, a 3-message request is refused by
    /// this mode ([`CompatRefusal::ThreeMessage`]), naming the same fields.
    pub(crate) fn refusal(self, refusal: RequestRefused) -> RequestRefused {
        match (self, refusal) {
            (Dialect::Gajim, RequestRefused::Unimplemented(fields)) => {
                RequestRefused::Compat(CompatRefusal::ThreeMessage, fields)
            }
            (_, refusal) => refusal,
        }
    }

    /// Whether a terminate received in clear inside an ESession ends it (D7; profile P10
    /// ignores it).
    pub(crate) fn honours_clear_terminate(self) -> bool {
        self == Dialect::Gajim
    }
}

/// Our terminate toward Gajim (D7): the SSN terminate form in clear; no acknowledgement
/// follows.
pub(crate) fn clear_terminate(to: &str, thread: &str) -> Element {
    message(to, thread).with_child(termination(FormType::Submit))
}

/// Whether `x`, received in clear, is a terminate (D7).
pub(crate) fn is_terminate(x: &Element) -> bool {
    let feature = Element::new("feature", ns::FEATURE_NEG).with_child(x.clone());
    read_termination(&feature) == Some(FormType::Submit)
}

/// One direction's keystream under one key (D2-tail): the unused octets of the last block
/// generated, consumed before the next block.
#[derive(Default)]
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Stream {
    /// Boxed rather than a `Vec`: one word less in every session (issue 14 item 3).
    tail: Zeroizing<Box<[u8]>>,
}

impl Stream {
    /// XORs the stream into `data`: first the tail, then blocks AES(KC, C+1), AES(KC, C+2)…;
    /// the counter advances by the number of new blocks (D2).
    fn apply(
        &mut self,
        cipher: CipherAlg,
        key: &[u8],
        counter: &mut u128,
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        let from_tail = self.tail.len().min(data.len());
        let (head, rest) = data.split_at_mut(from_tail);
        let mut new_blocks = Zeroizing::new(Vec::new());
        if !rest.is_empty() {
            let blocks = rest.len().div_ceil(16);
            let mut keystream = Zeroizing::new(vec![0u8; blocks * 16]);
            let mut first = counter.wrapping_add(1);
            apply_ctr(cipher, key, &mut first, &mut keystream)?;
            new_blocks = keystream;
            *counter = counter.wrapping_add(blocks as u128);
        }
        for (d, k) in head.iter_mut().zip(self.tail.iter()) {
            *d ^= k;
        }
        for (d, k) in rest.iter_mut().zip(new_blocks.iter()) {
            *d ^= k;
        }
        let left: Box<[u8]> = match (rest.is_empty(), self.tail.get(from_tail..)) {
            (true, Some(unused)) => unused.into(),
            _ => new_blocks.get(rest.len()..).unwrap_or_default().into(),
        };
        self.tail = Zeroizing::new(left);
        Ok(())
    }

    /// A `<c/>` without `<data/>` advances the counter by 1 (XEP-0200 §6) without
    /// generating that block: the tail no longer continues the stream (Gajim never sends
    /// one; decision "Gajim compatibility mode").
    pub(crate) fn skip(&mut self) {
        self.tail = Zeroizing::default();
    }
}

/// Whether request `form` on `thread` has Gajim's shape (issue 13 §1): an 8-octet
/// `my_nonce`, `ver` as a hidden field with the value `1.0`, a hidden `sign_algs`, and a
/// thread of 32 ASCII letters. The profile sends none of these (P2: 32-octet nonces; `ver`
/// is offered as a list; `sign_algs` only with public keys, as a list or with one value).
pub(crate) fn request_is_gajim(form: &Form, thread: &str) -> bool {
    let hidden = |var: &str| {
        form.field(var)
            .filter(|f| f.kind == Some(FieldType::Hidden))
    };
    let nonce = form
        .value("my_nonce")
        .and_then(|v| b64::decode("my_nonce", v).ok());
    let ver = hidden("ver").is_some_and(|f| f.values == ["1.0"]);
    let sign_algs = hidden("sign_algs").is_some_and(|f| f.values.len() == 1);
    let letters =
        thread.len() == GAJIM_THREAD_LEN && thread.bytes().all(|b| b.is_ascii_alphabetic());
    nonce.is_some_and(|n| n.len() == GAJIM_NONCE_LEN) && ver && sign_algs && letters
}

/// Whether `client` shows a Gajim that may speak ESessions (issue 13 §1).
pub(crate) fn client_is_gajim(client: &PeerClient<'_>) -> bool {
    match client {
        PeerClient::CapsNode(node) => *node == GAJIM_CAPS_NODE,
        PeerClient::Software { name, version } => {
            name.trim().eq_ignore_ascii_case("gajim") && below_1_1(version)
        }
    }
}

/// Whether a version string such as `1.0.3`, `0.16.9` or `1.0.3-1 (Debian)` is below 1.1
/// (Gajim removed ESessions in 1.1). An unreadable version is not.
fn below_1_1(version: &str) -> bool {
    let mut numbers = version.trim().split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < (1, 1),
        _ => false,
    }
}

/// Whether Gajim's bug B1 trips on the counter C_A it drew when answering us: Gajim 1.0
/// pads every counter below 2^120 with a TypeError, so a C_A whose first octet is 0x00
/// crashes it checking our message 3, and one whose first octet is 0x80 (C_B = C_A XOR
/// 2^127 then starts with 0x00) crashes it building message 4. Either way it sends nothing
/// (about 1 session in 128 that Gajim answers); a new negotiation draws a new C_A.
pub(crate) fn counter_trips_b1(c_a: u128) -> bool {
    matches!(c_a.to_be_bytes().first(), Some(0x00 | 0x80))
}

/// The policy a Gajim-mode negotiation uses, in both roles (D9): `config` narrowed to what
/// Gajim knows. What the user's policy lacks of it is refused, naming it.
pub(crate) fn offer_config(config: &Config, initiating: bool) -> Result<Config, CompatRefusal> {
    let needs: [(bool, CompatRefusal); 8] = [
        (
            !initiating || config.flow == Flow::Four,
            CompatRefusal::ThreeMessage,
        ),
        (
            config.cipher_allowed(CipherAlg::Aes128Ctr),
            CompatRefusal::NoAes128Ctr,
        ),
        (
            config.hashes.contains(&HashAlg::Sha256),
            CompatRefusal::NoSha256,
        ),
        (
            config.compress.contains(&CompressAlg::None),
            CompatRefusal::ZlibOnly,
        ),
        (
            config.sas.contains(&SasAlg::Classic),
            CompatRefusal::NoClassicSas,
        ),
        (
            config.present_pubkey.contains(&PubkeyMode::None)
                && config.accept_pubkey.contains(&PubkeyMode::None),
            CompatRefusal::PublicKeysOnly,
        ),
        (
            config.security.contains(&Security::E2e),
            CompatRefusal::NoE2e,
        ),
        (
            config.stanzas.contains(&StanzaKind::Message),
            CompatRefusal::NoMessages,
        ),
    ];
    if let Some((_, what)) = needs.iter().find(|(ok, _)| !ok) {
        return Err(*what);
    }
    Ok(Config {
        crypt: vec![CipherAlg::Aes128Ctr],
        hashes: vec![HashAlg::Sha256],
        compress: vec![CompressAlg::None],
        sas: vec![SasAlg::Classic],
        present_pubkey: vec![PubkeyMode::None],
        accept_pubkey: vec![PubkeyMode::None],
        security: vec![Security::E2e],
        stanzas: vec![StanzaKind::Message],
        // Re-keying is not in Gajim.
        rekey_freq: REKEY_OFF,
        rekey_every: None,
        rekey_after_idle: None,
        flow: Flow::Four,
        accept_three_message: false,
        ..config.clone()
    })
}

/// The refusal of a re-key in a Gajim-mode session.
pub(crate) fn rekey_refused() -> Usage {
    Usage::Compat(CompatRefusal::Rekey)
}

/// The refusal of a renegotiation (XEP-0155 §4.5) in a Gajim-mode session: Gajim's
/// receiver appends decrypted children to a message; nothing in the design note shows it
/// answering such a form.
pub(crate) fn renegotiation_refused() -> Usage {
    Usage::Compat(CompatRefusal::Renegotiation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gajim_versions_and_caps() {
        for (name, version, gajim) in [
            ("Gajim", "1.0.3", true),
            ("Gajim", "0.16.9", true),
            ("gajim", "1.0.3-1 (Debian)", true),
            ("Gajim", "0.12", true),
            ("Gajim", "1.1.0", false),
            ("Gajim", "1.8.4", false),
            ("Gajim", "", false),
            ("Gajim", "nightly", false),
            ("Psi", "1.0", false),
        ] {
            let c = PeerClient::Software { name, version };
            assert_eq!(c.is_gajim(), gajim, "{name} {version}");
        }
        assert!(PeerClient::CapsNode("http://gajim.org").is_gajim());
        assert!(!PeerClient::CapsNode("https://conversations.im").is_gajim());
        assert!(!PeerClient::CapsNode("http://gajim.org.evil").is_gajim());
    }

    #[test]
    fn b1_counters() {
        assert!(counter_trips_b1(0x00ab_cdef_u128 << 64));
        assert!(counter_trips_b1(1));
        assert!(counter_trips_b1(0x80u128 << 120));
        assert!(!counter_trips_b1(u128::MAX >> 1));
        assert!(!counter_trips_b1(0x01u128 << 120));
        assert!(!counter_trips_b1(0x7fu128 << 120 | 0xffff));
        assert!(!counter_trips_b1(0x81u128 << 120));
        assert!(!counter_trips_b1(u128::MAX));
    }

    #[test]
    fn stream_carries_the_tail_over() {
        let key = [7u8; 32];
        let c0 = 1000u128;
        // The whole stream at once: AES(KC, C+1), AES(KC, C+2), …
        let mut whole = vec![0u8; 64];
        let mut c = c0 + 1;
        apply_ctr(CipherAlg::Aes256Ctr, &key, &mut c, &mut whole).unwrap();
        // The same 64 octets in pieces of 5, 20, 11, 28 octets.
        let mut stream = Stream::default();
        let mut counter = c0;
        let mut got = Vec::new();
        let mut counters = Vec::new();
        for len in [5usize, 20, 11, 28] {
            counters.push(counter);
            let mut piece = vec![0u8; len];
            stream
                .apply(CipherAlg::Aes256Ctr, &key, &mut counter, &mut piece)
                .unwrap();
            got.extend(piece);
        }
        assert_eq!(got, whole);
        // MAC counters: C, then C + the new blocks of each piece.
        assert_eq!(counters, [c0, c0 + 1, c0 + 2, c0 + 3]);
        assert_eq!(counter, c0 + 4);
    }

    #[test]
    fn padding_and_sas_display() {
        assert_eq!(Dialect::Gajim.pad(b"abc").len(), 16);
        assert_eq!(Dialect::Gajim.pad(&[b'x'; 16]).len(), 16);
        assert_eq!(
            Dialect::Gajim.pad("é".as_bytes()).as_ref(),
            "é              ".as_bytes()
        );
        assert_eq!(Dialect::Profile.pad(b"abc").as_ref(), b"abc");
        assert_eq!(Dialect::Gajim.show_sas("aacde".into()), "cde");
        assert_eq!(Dialect::Gajim.show_sas("aaaaa".into()), "a");
        assert_eq!(Dialect::Gajim.show_sas("cacde".into()), "cacde");
        assert_eq!(Dialect::Profile.show_sas("aacde".into()), "aacde");
    }
}
