//! XEP-0200 stanza encryption of an established session: `<c/>` sealing and opening
//! with continuous counters (profile P3, P9).
mod content;

pub(crate) use content::m_content;

use crate::b64;
use crate::crypto::{apply_ctr, blocks_for, ct_eq, stanza_mac, CipherAlg, DirectionKeys, HashAlg};
use crate::error::Violation;
use crate::negotiation::identity::PeerVerified;
use crate::xml::{ns, Element};

/// XEP-0200 §11.4: at most 2^32 blocks under one key.
const BLOCK_LIMIT: u128 = 1 << 32;

/// One direction's keys and counter.
pub(crate) struct Direction {
    keys: DirectionKeys,
    counter: u128,
    blocks: u128,
}

impl Direction {
    /// Keys for one direction, with the counter where negotiation left it (P3).
    pub(crate) fn new(keys: DirectionKeys, counter: u128) -> Self {
        Direction {
            keys,
            counter,
            blocks: 0,
        }
    }
}

/// The encrypted channel of an established ESession.
pub(crate) struct Channel {
    hash: HashAlg,
    cipher: CipherAlg,
    send: Option<Direction>,
    recv: Option<Direction>,
    rekey_freq: u32,
}

impl Channel {
    /// A channel can only be built from a verified peer identity (the proof token).
    pub(crate) fn new(
        _proof: PeerVerified,
        hash: HashAlg,
        cipher: CipherAlg,
        send: Direction,
        recv: Direction,
        rekey_freq: u32,
    ) -> Self {
        Channel {
            hash,
            cipher,
            send: Some(send),
            recv: Some(recv),
            rekey_freq,
        }
    }

    /// Encrypts plaintext `m` into a `<c/>` element (XEP-0200 §6): data = B64(CIPHER(KC,
    /// C, m)), a_mac = HMAC(KM, m_content | mpi(C before)). `reserve` blocks under the
    /// current key are kept back (for the terminate).
    pub(crate) fn seal(&mut self, m: &[u8], reserve: u128) -> Result<Element, Violation> {
        let dir = self
            .send
            .as_mut()
            .ok_or(Violation::WrongState("closed for sending"))?;
        let needed = blocks_for(m.len()).max(1);
        // Profile P9: before 2^32 blocks under one key, re-key or (re-keying off) end.
        if dir.blocks + needed + reserve > BLOCK_LIMIT {
            return Err(Violation::KeyExhausted);
        }
        let before = dir.counter;
        let mut c = Element::new("c", ns::STANZA_ENCRYPTION);
        if m.is_empty() {
            // XEP-0200 §6 step 3: no content advances the counter by 1.
            dir.counter = dir.counter.wrapping_add(1);
        } else {
            let mut data = m.to_vec();
            apply_ctr(
                self.cipher,
                dir.keys.kc.expose(),
                &mut dir.counter,
                &mut data,
            )?;
            c.push(Element::new("data", ns::STANZA_ENCRYPTION).with_text(b64::encode(&data)));
        }
        dir.blocks += needed;
        let mac = stanza_mac(
            self.hash,
            dir.keys.km.expose(),
            m_content(&c).as_bytes(),
            before,
        );
        c.push(Element::new("mac", ns::STANZA_ENCRYPTION).with_text(b64::encode(&mac)));
        Ok(c)
    }

    /// Verifies, then decrypts, a received `<c/>` (XEP-0200 §8). The receive counter
    /// advances only when everything succeeded (P9).
    pub(crate) fn open(&mut self, c: &Element) -> Result<Vec<u8>, Violation> {
        let dir = self
            .recv
            .as_mut()
            .ok_or(Violation::WrongState("closed for receiving"))?;
        let parts = content::parse(c)?;
        let expected = stanza_mac(
            self.hash,
            dir.keys.km.expose(),
            parts.m_content.as_bytes(),
            dir.counter,
        );
        // XEP-0200 §8 step 3: verify (constant time) before decrypting.
        if !ct_eq(&expected, &parts.mac) {
            return Err(Violation::StanzaMacMismatch);
        }
        // Profile P9: with rekey_freq 2^32-1 re-keying is off; <key/> or <new/> fails.
        if parts.rekey && self.rekey_freq == u32::MAX {
            return Err(Violation::MalformedEncryptedContent(
                "re-key element while re-keying is off".into(),
            ));
        }
        let mut counter = dir.counter;
        let plain = match parts.data {
            Some(data) => {
                let mut data = b64::decode("data", &data).map_err(|_| {
                    Violation::MalformedEncryptedContent("data is not base64".into())
                })?;
                apply_ctr(self.cipher, dir.keys.kc.expose(), &mut counter, &mut data)?;
                data
            }
            None => {
                // Profile P9: a <c/> without <data/> advances the counter by 1.
                counter = counter.wrapping_add(1);
                Vec::new()
            }
        };
        dir.counter = counter;
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
