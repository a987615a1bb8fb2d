//! XEP-0200 stanza encryption of an established session: `<c/>` sealing and opening
//! with continuous counters (profile P3, P9), re-keying and old MAC key publishing
//! (XEP-0200 §9, §10; profile P13).
mod content;
mod rekey;
#[cfg(test)]
mod tests;

/// m_content as a receiver computes it, for the tests that forge `<c/>`s.
#[cfg(test)]
pub(crate) use content::m_content;
pub(crate) use content::{Sealed, Sealing};
pub(crate) use rekey::{Fresh, RekeyBase};

use crate::b64;
use crate::compat::gajim::{Dialect, Stream};
use crate::compress::{CompressAlg, Deflater, Inflater};
use crate::crypto::mac::stanza_mac_with;
use crate::crypto::mac_key::MacKey;
use crate::crypto::{blocks_for, ct_eq, CipherAlg, DirectionKeys, HashAlg, ModpGroup, SecretBytes};
use crate::error::{Malformed, RekeyFault, StanzaFault, Usage};
use crate::negotiation::identity::PeerVerified;
use crate::negotiation::terms::Terms;
use crate::xml::{Element, Limits};
use rekey::{derive, freq_allows, parse_new, RecvSet, Rekeying, MAX_SETS};
use std::borrow::Cow;

/// XEP-0200 §11.4: at most 2^32 blocks under one key.
const BLOCK_LIMIT: u128 = 1 << 32;

/// From this many blocks under one send key on, [`Channel::wants_rekey`] asks for a
/// re-key, well before the limit (profile P9: re-key before 2^32 blocks).
const SOFT_BLOCK_LIMIT: u128 = 1 << 31;

/// The most octets a plaintext of `len` octets can become after zlib with a sync flush
/// (stored blocks add 5 octets per 16 KiB, plus header and flush marker), so that the block
/// budget is checked before the stream advances.
fn compressed_bound(len: usize, zlib: bool) -> usize {
    if zlib && len > 0 {
        len.saturating_add(len / 16_000 * 5).saturating_add(64)
    } else {
        len
    }
}

/// Decompresses a received plaintext with the peer's zlib stream (profile P9: a zlib error
/// or a finished stream is a failure; the output is bounded by the stanza size limit).
fn inflate(
    zlib: &mut Option<Box<(Deflater, Inflater)>>,
    plain: Vec<u8>,
) -> Result<Vec<u8>, StanzaFault> {
    match zlib.as_deref_mut() {
        Some((_, inflater)) if !plain.is_empty() => inflater
            .decompress(&plain, Limits::default().max_bytes)
            .map_err(|e| StanzaFault::Malformed(Malformed::Inflate(e))),
        _ => Ok(plain),
    }
}

/// One direction's keys, with its MAC key made ready ([`MacKey`]) when first used: every
/// stanza of the direction is MACed with the same KM until a re-key replaces it. Boxed,
/// so that a held session that has not used a key yet keeps one word for it (issue 14
/// item 3).
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Keys {
    keys: DirectionKeys,
    mac: Option<Box<MacKey>>,
}

impl Keys {
    fn new(keys: DirectionKeys) -> Self {
        Keys { keys, mac: None }
    }

    /// The cipher key KC.
    fn kc(&self) -> &SecretBytes {
        &self.keys.kc
    }

    /// The MAC key KM.
    fn km(&self) -> &SecretBytes {
        &self.keys.km
    }

    /// HMAC(`hash`, KM, `parts[0] | parts[1] | …`).
    fn mac(&mut self, hash: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
        let km = self.keys.km.expose();
        let mac = self
            .mac
            .get_or_insert_with(|| Box::new(MacKey::new(hash, km)));
        mac.mac(hash, km, parts)
    }

    /// Puts `keys` in place of these (XEP-0200 §9), and gives the old ones back.
    fn replace(&mut self, keys: DirectionKeys) -> DirectionKeys {
        self.mac = None;
        std::mem::replace(&mut self.keys, keys)
    }
}

/// One direction's keys and counter.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Direction {
    keys: Keys,
    counter: u128,
    /// Blocks sent under the current keys (profile P13: restarts at every key change).
    blocks: u128,
    /// The keystream tail (the Gajim mode only, D2-tail).
    stream: Stream,
}

impl Direction {
    /// Keys for one direction, with the counter where negotiation left it (P3).
    pub(crate) fn new(keys: DirectionKeys, counter: u128) -> Self {
        Direction {
            keys: Keys::new(keys),
            counter,
            blocks: 0,
            stream: Stream::default(),
        }
    }
}

/// The receive side: the key sets, oldest first (never empty), and the one continuous
/// counter (profile P3, P13).
#[cfg_attr(feature = "test-util", derive(Clone))]
struct Receiving {
    sets: Vec<RecvSet>,
    counter: u128,
    /// The keystream tail (the Gajim mode only, D2-tail).
    stream: Stream,
}

/// What opening a `<c/>` produced.
pub(crate) struct Opened {
    /// The decrypted plaintext m (empty for a `<c/>` without `<data/>`).
    pub plain: Vec<u8>,
    /// The stanza carried a `<key/>` that we accepted (XEP-0200 §9 acceptance).
    pub peer_rekeyed: bool,
}

/// The encrypted channel of an established ESession.
#[cfg_attr(feature = "test-util", derive(Clone))]
pub(crate) struct Channel {
    hash: HashAlg,
    cipher: CipherAlg,
    send: Option<Direction>,
    recv: Option<Receiving>,
    rekey_freq: u32,
    /// Present when re-keying was negotiated (rekey_freq < 2^32-1) and a base was given.
    rekey: Option<Rekeying>,
    /// Stanzas we sent since our last `<key/>` (or establishment) (profile P13).
    sent_since_key: u64,
    /// Stanzas the peer sent since its last `<key/>` (or establishment) (profile P13).
    received_since_key: u64,
    /// Whether a `<c/>` of the peer opened: it holds the session's keys, so it accepted
    /// the negotiation.
    heard: bool,
    /// The zlib streams (ours, the peer's) when `compress` = `zlib` (profile P9), boxed:
    /// most sessions have none, and a held session should not carry their room.
    zlib: Option<Box<(Deflater, Inflater)>>,
    /// The profile, or Gajim's dialect (issue 13: D1, D2, D4, D5).
    dialect: Dialect,
}

impl Channel {
    /// A channel can only be built from a verified peer identity (the proof token), under
    /// the negotiated `terms`, with the DH values re-keying starts from (XEP-0200 §4).
    pub(crate) fn new(
        _proof: PeerVerified,
        terms: &Terms,
        send: Direction,
        recv: Direction,
        base: RekeyBase,
    ) -> Self {
        let cipher = terms.dialect.key_cipher(terms.crypt);
        let mut channel =
            Self::build(terms.hash, cipher, send, recv, terms.rekey_freq).with_rekey(base);
        channel.dialect = terms.dialect;
        if terms.compress == CompressAlg::Zlib {
            // Profile P9: one zlib stream per direction, created at establishment.
            channel.zlib = Some(Box::new((Deflater::new(), Inflater::new())));
        }
        channel
    }

    fn build(
        hash: HashAlg,
        cipher: CipherAlg,
        send: Direction,
        recv: Direction,
        rekey_freq: u32,
    ) -> Self {
        let first = RecvSet {
            peer: recv.keys,
            own: None,
            on_ack: Vec::new(),
        };
        Channel {
            hash,
            cipher,
            send: Some(send),
            recv: Some(Receiving {
                sets: vec![first],
                counter: recv.counter,
                stream: Stream::default(),
            }),
            rekey_freq,
            rekey: None,
            sent_since_key: 0,
            received_since_key: 0,
            heard: false,
            zlib: None,
            dialect: Dialect::Profile,
        }
    }

    /// Enables re-keying from the negotiated values (XEP-0200 §4: the DH private values
    /// are kept after the handshake). Ignored when `rekey_freq` is 2^32-1 (profile P9:
    /// re-keying off), so that the secret is dropped at once.
    fn with_rekey(mut self, base: RekeyBase) -> Self {
        if self.rekey_freq == u32::MAX {
            return self;
        }
        let (state, own) = Rekeying::new(base);
        if let Some(first) = self.recv.as_mut().and_then(|r| r.sets.first_mut()) {
            first.own = Some(own);
        }
        self.rekey = Some(state);
        self
    }

    /// Whether a `<c/>` of the peer opened (the peer accepted the negotiation).
    pub(crate) fn heard(&self) -> bool {
        self.heard
    }

    /// The wire this channel speaks (issue 13).
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The MODP group of our re-keys, when re-keying is on.
    pub(crate) fn rekey_group(&self) -> Option<&'static ModpGroup> {
        self.rekey.as_ref().map(|r| r.group)
    }

    /// The negotiated `rekey_freq`.
    pub(crate) fn rekey_freq(&self) -> u32 {
        self.rekey_freq
    }

    /// Stanzas we sent since our last `<key/>` (or establishment).
    pub(crate) fn sent_since_key(&self) -> u64 {
        self.sent_since_key
    }

    /// Whether our next stanza may carry a `<key/>`: re-keying is on, it would be at
    /// least the rekey_freq-th since our previous `<key/>` (profile P13), and fewer than
    /// [`MAX_SETS`] receive sets are held.
    pub(crate) fn may_rekey(&self) -> bool {
        self.rekey.is_some()
            && self.send.is_some()
            && freq_allows(self.sent_since_key, self.rekey_freq)
            && self.recv.as_ref().is_some_and(|r| r.sets.len() < MAX_SETS)
    }

    /// Whether a plaintext of `len` octets fits under the current send key with `reserve`
    /// blocks kept back (XEP-0200 §11.4).
    pub(crate) fn fits(&self, len: usize, reserve: u128) -> bool {
        self.send.as_ref().is_some_and(|d| {
            d.blocks
                .saturating_add(blocks_for(len).max(1))
                .saturating_add(reserve)
                <= BLOCK_LIMIT
        })
    }

    /// Whether a plaintext of `len` octets would fit under fresh send keys with `reserve`
    /// blocks kept back (XEP-0200 §11.4).
    pub(crate) fn fits_fresh(&self, len: usize, reserve: u128) -> bool {
        blocks_for(len).max(1).saturating_add(reserve) <= BLOCK_LIMIT
    }

    /// Whether the current send key has carried enough blocks that a re-key is due
    /// (profile P9: re-key before 2^32 blocks; here from 2^31 on).
    pub(crate) fn wants_rekey(&self) -> bool {
        self.send
            .as_ref()
            .is_some_and(|d| d.blocks >= SOFT_BLOCK_LIMIT)
    }

    /// Encrypts plaintext `m` into a `<c/>` element (XEP-0200 §6): data = B64(CIPHER(KC,
    /// C, m)), a_mac = HMAC(KM, m_content | mpi(C before)). `reserve` blocks under the
    /// current key are kept back (for the terminate). A pending `<new/>` and old MAC keys
    /// ride along.
    pub(crate) fn seal(&mut self, m: &[u8], reserve: u128) -> Result<Element, Usage> {
        self.seal_parts(m, reserve, None).map(Sealed::into_element)
    }

    /// Like [`Channel::seal`], and the stanza carries `<key>B64(e')</key>` for `fresh`:
    /// it is protected with the old send keys, after which the send keys become the
    /// "Rekey Initiator" keys and a receive set with the "Rekey Acceptor" keys and x' is
    /// appended (XEP-0200 §9, profile P13).
    pub(crate) fn seal_with_key(
        &mut self,
        m: &[u8],
        reserve: u128,
        fresh: Fresh,
    ) -> Result<Element, Usage> {
        self.seal_parts(m, reserve, Some(fresh))
            .map(Sealed::into_element)
    }

    /// [`Channel::seal`] (`fresh` = `None`) or [`Channel::seal_with_key`], the `<c/>`
    /// kept as [`Sealed`]: to become an element or to be written into the stanza's text.
    pub(crate) fn seal_parts(
        &mut self,
        m: &[u8],
        reserve: u128,
        fresh: Option<Fresh>,
    ) -> Result<Sealed, Usage> {
        if fresh.is_some() && self.rekey.is_none() {
            // Profile P9: rekey_freq 2^32-1 means no <key/> is ever sent.
            return Err(Usage::RekeyOff);
        }
        if fresh.is_some() && !freq_allows(self.sent_since_key, self.rekey_freq) {
            // XEP-0200 §9: MUST NOT re-key more often than the agreed limit (P13).
            return Err(Usage::RekeyTooSoon);
        }
        if fresh.is_some() && !self.may_rekey() {
            return Err(Usage::RekeysUnacknowledged);
        }
        if !self.fits(compressed_bound(m.len(), self.zlib.is_some()), reserve) {
            // Profile P9: before 2^32 blocks under one key, re-key or (re-keying off) end.
            return Err(Usage::KeyExhausted);
        }
        // Profile P9: m is compressed (sync-flushed) before encryption; a stanza without
        // content touches no stream.
        let compressed;
        let m = match self.zlib.as_deref_mut() {
            Some((deflater, _)) if !m.is_empty() => {
                compressed = deflater.compress(m).map_err(Usage::Compression)?;
                compressed.as_slice()
            }
            _ => m,
        };
        // Issue 13 D5: toward Gajim, padded with spaces to whole blocks.
        let m = self.dialect.pad(m);
        let m = m.as_ref();
        let (hash, cipher, dialect) = (self.hash, self.cipher, self.dialect);
        // The new keys are derived before anything changes (a failure leaves no trace).
        let next = match (&fresh, &self.rekey) {
            (Some(f), Some(r)) => Some(derive(hash, cipher, r.group, &f.secret, &r.base)?),
            _ => None,
        };
        let dir = self.send.as_mut().ok_or(Usage::ClosedForSending)?;
        let before = dir.counter;
        let mut counter = dir.counter;
        let mut c = Sealing::new(m.len());
        if m.is_empty() {
            // XEP-0200 §6 step 3: no content advances the counter by 1.
            counter = counter.wrapping_add(1);
        } else {
            let mut data = m.to_vec();
            let kc = dir.keys.kc().expose();
            dialect.ctr(&mut dir.stream, cipher, kc, &mut counter, &mut data)?;
            c.data(&data);
        }
        // Profile P9: children in the order data, key, new, old…, mac.
        if let Some(f) = &fresh {
            c.key(&f.public);
        }
        if let Some(r) = self.rekey.as_mut() {
            if r.accepted > 0 {
                c.new_sets(r.accepted);
            }
            let held = self.recv.as_ref().map(|r| r.sets.as_slice()).unwrap_or(&[]);
            for km in r.publish.drain(..) {
                // Profile P13: a key still in use is never published.
                let in_use = *dir.keys.km() == km || held.iter().any(|s| *s.peer.km() == km);
                if !in_use {
                    c.old(km.expose());
                }
            }
            r.accepted = 0;
        }
        let mac = |parts: &[&[u8]]| dir.keys.mac(hash, parts);
        let mac = dialect.sent_stanza_mac(mac, c.m_content().as_bytes(), before);
        let c = c.finish(&mac);
        dir.counter = counter;
        dir.blocks += blocks_for(m.len()).max(1);
        match (fresh, next) {
            (Some(fresh), Some((initiator, acceptor))) => {
                // XEP-0200 §9: the old send keys go; the new ones protect later stanzas.
                let old = dir.keys.replace(initiator);
                dir.blocks = 0;
                let mut on_ack = vec![old.km];
                if let Some(r) = self.rekey.as_mut() {
                    on_ack.append(&mut r.until_next_key);
                }
                if let Some(recv) = self.recv.as_mut() {
                    recv.sets.push(RecvSet {
                        peer: Keys::new(acceptor),
                        own: Some(fresh.secret),
                        on_ack,
                    });
                }
                self.sent_since_key = 0;
            }
            _ => self.sent_since_key = self.sent_since_key.saturating_add(1),
        }
        Ok(c)
    }

    /// Verifies, then decrypts, a received `<c/>` (XEP-0200 §8), then applies its `<new/>`
    /// and `<key/>` (XEP-0200 §9, profile P13). A stanza refused before its plaintext is
    /// known (malformed, unknown key set, MAC, `<key/>` out of range or too soon) changes
    /// nothing (P9: the receive counter is not advanced). One whose MAC verified but whose
    /// plaintext does not inflate (`compress` = `zlib`) has advanced the counter and the
    /// zlib stream, which cannot be rewound: the session is then over, as the engine ends
    /// it on any failure (P9).
    pub(crate) fn open(&mut self, c: &Element) -> Result<Opened, StanzaFault> {
        let (hash, cipher) = (self.hash, self.cipher);
        let recv = self.recv.as_mut().ok_or(StanzaFault::ClosedForReceiving)?;
        let parts = content::parse(c)?;
        let rekey_elements = parts.key.is_some() || parts.new.is_some();
        // Profile P13: <new>N</new> selects set N (0 without <new/>).
        let index = match (&parts.new, &self.rekey) {
            (Some(text), Some(_)) => parse_new(text)?,
            _ => 0,
        };
        let held = recv.sets.len();
        let set =
            recv.sets
                .get_mut(index)
                .ok_or(StanzaFault::Rekey(RekeyFault::UnknownKeySet {
                    index,
                    held,
                }))?;
        let mac = |parts: &[&[u8]]| set.peer.mac(hash, parts);
        let expected = stanza_mac_with(mac, parts.m_content.as_bytes(), recv.counter);
        // XEP-0200 §8 step 3: verify (constant time) before decrypting.
        if !ct_eq(&expected, &parts.mac) {
            return Err(StanzaFault::MacMismatch);
        }
        let Some(rekey) = self.rekey.as_mut().filter(|_| rekey_elements) else {
            if rekey_elements {
                // Profile P9: with rekey_freq 2^32-1 re-keying is off; <key/> or <new/> fails.
                return Err(StanzaFault::Malformed(Malformed::RekeyWhileOff));
            }
            let plain = Self::decrypt(self.dialect, cipher, recv, index, parts.data)?;
            let plain = inflate(&mut self.zlib, plain)?;
            self.received_since_key = self.received_since_key.saturating_add(1);
            self.heard = true;
            return Ok(Opened {
                plain,
                peer_rekeyed: false,
            });
        };
        // A received <key/>: checked and combined (with the private value of the set that
        // verified it) before anything changes.
        let next = match &parts.key {
            Some(text) => {
                if !freq_allows(self.received_since_key, self.rekey_freq) {
                    // Profile P13: the receiver enforces rekey_freq.
                    return Err(StanzaFault::Rekey(RekeyFault::TooSoon {
                        stanza: self.received_since_key.saturating_add(1),
                        rekey_freq: self.rekey_freq,
                    }));
                }
                let e = b64::decode("key", text)
                    .map_err(|_| StanzaFault::Malformed(Malformed::KeyNotBase64))?;
                // XEP-0200 §9 (e' > 1) and profile P13: 1 < e' < p-1.
                rekey
                    .group
                    .check_public(&e)
                    .map_err(|_| StanzaFault::KeyOutOfRange)?;
                let own = set.own.as_ref().ok_or(StanzaFault::NoPrivateValue)?;
                let keys = derive(hash, cipher, rekey.group, own, &e)?;
                Some((keys, crate::crypto::mpi(&e).to_vec()))
            }
            None => None,
        };
        let plain = Self::decrypt(self.dialect, cipher, recv, index, parts.data)?;
        let plain = inflate(&mut self.zlib, plain)?;
        // Profile P13: the N older sets are destroyed; the keys our <key/>s waited for
        // become publishable, and so do the peer's MAC keys of the destroyed sets.
        let acknowledged: Vec<RecvSet> = recv.sets.drain(..index).collect();
        if index > 0 {
            if let Some(first) = recv.sets.first_mut() {
                for km in first.on_ack.drain(..) {
                    rekey.queue(km);
                }
            }
        }
        for old in acknowledged {
            for km in old.on_ack {
                rekey.queue(km);
            }
            rekey.queue(old.peer.keys.km);
        }
        let peer_rekeyed = next.is_some();
        match next {
            Some(((initiator, acceptor), e)) => {
                // XEP-0200 §9 acceptance: the peer keys of every set become the "Rekey
                // Initiator" keys; only with exactly one set do our send keys change.
                for set in recv.sets.iter_mut() {
                    let old = set.peer.replace(initiator.clone());
                    rekey.queue(old.km);
                }
                if recv.sets.len() == 1 {
                    if let Some(send) = self.send.as_mut() {
                        let old = send.keys.replace(acceptor);
                        send.blocks = 0;
                        rekey.retire_send_km(old.km);
                    }
                }
                rekey.base = e;
                rekey.accepted = rekey.accepted.saturating_add(1);
                self.received_since_key = 0;
            }
            None => self.received_since_key = self.received_since_key.saturating_add(1),
        }
        self.heard = true;
        Ok(Opened {
            plain,
            peer_rekeyed,
        })
    }

    /// Decrypts `data` with set `index` and advances the receive counter (XEP-0200 §8
    /// step 4; profile P9: a `<c/>` without `<data/>` advances it by 1).
    fn decrypt(
        dialect: Dialect,
        cipher: CipherAlg,
        recv: &mut Receiving,
        index: usize,
        data: Option<Cow<'_, str>>,
    ) -> Result<Vec<u8>, StanzaFault> {
        let set = recv.sets.get(index).ok_or(StanzaFault::KeySetVanished)?;
        let mut counter = recv.counter;
        let plain = match data {
            Some(data) => {
                let mut data = b64::decode("data", &data)
                    .map_err(|_| StanzaFault::Malformed(Malformed::DataNotBase64))?;
                let kc = set.peer.kc().expose();
                dialect.ctr(&mut recv.stream, cipher, kc, &mut counter, &mut data)?;
                data
            }
            None => {
                counter = counter.wrapping_add(1);
                recv.stream.skip();
                Vec::new()
            }
        };
        recv.counter = counter;
        Ok(plain)
    }

    /// Destroys the send keys (P10: after sending a terminate or its acknowledgement).
    pub(crate) fn close_send(&mut self) {
        self.send = None;
    }

    /// Sets the number of blocks already sent under the current key (tests of the limit).
    #[cfg(test)]
    pub(crate) fn set_sent_blocks(&mut self, blocks: u128) {
        if let Some(d) = self.send.as_mut() {
            d.blocks = blocks;
        }
    }
}
