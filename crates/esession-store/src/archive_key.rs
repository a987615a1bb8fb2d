//! The account's archive key: XEP-0136 collections are uploaded with every message body
//! sealed, so that the server cannot read them but any client of the account that knows
//! the passphrase can (docs/decisions.md, "Message archiving").
//!
//! Key: Argon2id(passphrase, salt) with the costs of the record kept in XEP-0049 private
//! storage ([`ArchiveKeyInfo`]); the passphrase is the identity key's. Body format 2:
//! `<body>` = Base64(0x02 | nonce (24 octets) | XChaCha20-Poly1305 ciphertext and tag) of
//! the UTF-8 body, with associated data `with|start|index|dir|secs|utc` (UTF-8; `index`
//! the message's 0-based decimal position in the collection; `dir`, `secs` and `utc` the
//! entry's, XEP-0136 §4.6, empty when absent). Format 1 (octet 0x01, associated data
//! `with|start|index`, uploaded before format 2) still opens, but leaves the direction and
//! time of its message unauthenticated. The record's check value is format 1 of
//! [`CHECK_PLAINTEXT`] with associated data [`CHECK_AD`]: opening it tells a wrong
//! passphrase from a damaged collection.
use crate::aead::{self, NONCE_LEN};
use crate::aead::{KdfParams, IDENTITY_KDF};
use esession::archive::{ArchiveKeyInfo, Collection, Entry};
use esession::b64;
use esession::random::{OsRandom, Random};
use std::fmt;
use zeroize::Zeroizing;

/// Version octet of the check value, and of the bodies sealed before format 2: their
/// associated data is `with|start|index` only.
const FORMAT_1: u8 = 1;
/// Version octet of the bodies sealed now: their associated data binds the message's
/// direction and time too (found in review: with format 1 the server could swap `<to/>`
/// and `<from/>` or change `secs`, showing the user's words as the contact's).
const FORMAT_2: u8 = 2;
/// What the check value seals.
pub const CHECK_PLAINTEXT: &[u8] = b"esession archive key";
/// The check value's associated data.
pub const CHECK_AD: &[u8] = b"esession archive key check";
/// Longest sealed body accepted (Base64 characters): bounds the work on hostile input.
const MAX_SEALED: usize = 1 << 20;
/// The highest Argon2id costs accepted from a record: the server holds it, so it chooses
/// what each unlock costs in memory and time (issue 11 §14).
const RECORD_MAX_KDF: KdfParams = KdfParams {
    m_kib: 1 << 20,
    t_cost: 10,
    p_cost: 8,
};

/// Why the archive key or a sealed body could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveKeyError {
    /// The passphrase does not open the record's check value.
    WrongPassphrase,
    /// No passphrase (or an empty one) was given.
    NoPassphrase,
    /// The record asks for Argon2id costs above the accepted maximum.
    Costs(String),
    /// Key derivation or sealing failed.
    Crypto(String),
    /// A body is not in format 1 or 2 (not Base64, too short, unknown version).
    Malformed(String),
    /// The record's check value is not in format 1 (empty, too short, unknown version).
    BadRecord(String),
    /// A body's tag does not verify: altered, moved to another collection or position,
    /// its direction or time changed (format 2), or sealed under another key.
    Tampered {
        /// The collection's JID.
        with: String,
        /// The collection's start.
        start: String,
        /// The message's position.
        index: usize,
    },
}

impl fmt::Display for ArchiveKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongPassphrase => f.write_str(
                "the archive key passphrase is wrong (it does not open the account's archive key record)",
            ),
            Self::NoPassphrase => f.write_str("the archive key needs a passphrase"),
            Self::Costs(c) => write!(f, "the archive key record asks for Argon2id costs above the accepted maximum: {c}"),
            Self::Crypto(e) => write!(f, "archive key: {e}"),
            Self::Malformed(e) => write!(f, "archived body is not a sealed body: {e}"),
            Self::BadRecord(e) => write!(f, "the archive key record is damaged: its check value is {e}"),
            Self::Tampered { with, start, index } => write!(
                f,
                "archived message {index} of the collection with {with} at {start} does not verify (altered, moved, or its direction or time changed)"
            ),
        }
    }
}

impl std::error::Error for ArchiveKeyError {}

/// The archive key (32 octets, zeroized on drop, redacted in Debug).
pub struct ArchiveKey {
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArchiveKey(<redacted>)")
    }
}

/// Format 1 associated data: `with|start|index`.
fn ad_1(with: &str, start: &str, index: usize) -> Vec<u8> {
    format!("{with}|{start}|{index}").into_bytes()
}

/// Format 2 associated data: `with|start|index|dir|secs|utc`, `dir` the element name
/// (`to` or `from`), `secs` and `utc` as uploaded or empty (XEP-0136 §4.6). Only `with`
/// (a resource) may hold a `|`: the fields read back from the right, one way only.
fn ad_2(with: &str, start: &str, index: usize, e: &Entry) -> Vec<u8> {
    let secs = e.secs.map(|s| s.to_string()).unwrap_or_default();
    let utc = e.utc.as_deref().unwrap_or_default();
    format!("{with}|{start}|{index}|{}|{secs}|{utc}", e.dir.name()).into_bytes()
}

fn check_passphrase(passphrase: &str) -> Result<(), ArchiveKeyError> {
    if passphrase.is_empty() {
        Err(ArchiveKeyError::NoPassphrase)
    } else {
        Ok(())
    }
}

impl ArchiveKey {
    /// A new record (fresh random salt, [`IDENTITY_KDF`] costs) and its key, for the first
    /// client of an account: the caller stores the record in private storage.
    pub fn create(passphrase: &str) -> Result<(ArchiveKey, ArchiveKeyInfo), ArchiveKeyError> {
        Self::create_with(passphrase, IDENTITY_KDF)
    }

    /// As [`create`](Self::create) with other costs (tests use small ones).
    pub fn create_with(
        passphrase: &str,
        kdf: KdfParams,
    ) -> Result<(ArchiveKey, ArchiveKeyInfo), ArchiveKeyError> {
        check_passphrase(passphrase)?;
        let mut salt = [0u8; 16];
        OsRandom.fill(&mut salt);
        let key =
            aead::derive_key(passphrase.as_bytes(), &salt, kdf).map_err(ArchiveKeyError::Crypto)?;
        let key = ArchiveKey { key };
        let check = key.seal_raw(FORMAT_1, CHECK_PLAINTEXT, CHECK_AD)?;
        let info = ArchiveKeyInfo {
            salt,
            m_kib: kdf.m_kib,
            t_cost: kdf.t_cost,
            p_cost: kdf.p_cost,
            check,
        };
        Ok((key, info))
    }

    /// The key of an existing record; [`ArchiveKeyError::WrongPassphrase`] when its check
    /// value does not open.
    pub fn open(passphrase: &str, info: &ArchiveKeyInfo) -> Result<ArchiveKey, ArchiveKeyError> {
        check_passphrase(passphrase)?;
        let kdf = KdfParams {
            m_kib: info.m_kib,
            t_cost: info.t_cost,
            p_cost: info.p_cost,
        };
        check_record_costs(kdf)?;
        let key = aead::derive_key(passphrase.as_bytes(), &info.salt, kdf)
            .map_err(ArchiveKeyError::Crypto)?;
        let key = ArchiveKey { key };
        match key.open_raw(&info.check, |v| (v == FORMAT_1).then(|| CHECK_AD.to_vec())) {
            Ok(Some(p)) if p.as_slice() == CHECK_PLAINTEXT => Ok(key),
            Ok(_) => Err(ArchiveKeyError::WrongPassphrase),
            // Found in review: reported as an archived body before.
            Err(ArchiveKeyError::Malformed(e)) => Err(ArchiveKeyError::BadRecord(e)),
            Err(e) => Err(e),
        }
    }

    fn seal_raw(&self, format: u8, msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, ArchiveKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRandom.fill(&mut nonce);
        let ct = aead::seal(&self.key, &nonce, msg, aad).map_err(ArchiveKeyError::Crypto)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(format);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// `Ok(None)` when the tag fails; an error when the octets are not in a format `aad`
    /// knows (it gives a format's associated data, `None` for an unknown one).
    fn open_raw(
        &self,
        sealed: &[u8],
        aad: impl Fn(u8) -> Option<Vec<u8>>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ArchiveKeyError> {
        let (version, rest) = sealed
            .split_first()
            .ok_or_else(|| ArchiveKeyError::Malformed("empty".into()))?;
        let aad = aad(*version)
            .ok_or_else(|| ArchiveKeyError::Malformed(format!("unknown format {version}")))?;
        if rest.len() < NONCE_LEN + 16 {
            return Err(ArchiveKeyError::Malformed(format!(
                "{} octets, too short",
                sealed.len()
            )));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| ArchiveKeyError::Malformed("nonce".into()))?;
        Ok(aead::open(&self.key, &nonce, ct, &aad))
    }

    /// Seals `entry`, message `index` of the collection with `with` started at `start`
    /// (format 2): the text of its `<body>`.
    pub fn seal_entry(
        &self,
        with: &str,
        start: &str,
        index: usize,
        entry: &Entry,
    ) -> Result<String, ArchiveKeyError> {
        let aad = ad_2(with, start, index, entry);
        Ok(b64::encode(&self.seal_raw(
            FORMAT_2,
            entry.body.as_bytes(),
            &aad,
        )?))
    }

    /// Opens the body of `entry` (as retrieved: its body sealed), message `index` of the
    /// collection with `with` started at `start`: what [`seal_entry`](Self::seal_entry)
    /// made for the same values, or a format 1 body for the same `with`, `start` and
    /// `index`.
    pub fn open_entry(
        &self,
        with: &str,
        start: &str,
        index: usize,
        entry: &Entry,
    ) -> Result<Zeroizing<String>, ArchiveKeyError> {
        let sealed = entry.body.as_str();
        if sealed.len() > MAX_SEALED {
            return Err(ArchiveKeyError::Malformed(format!(
                "{} characters, more than {MAX_SEALED}",
                sealed.len()
            )));
        }
        let raw =
            b64::decode("body", sealed).map_err(|e| ArchiveKeyError::Malformed(e.to_string()))?;
        let tampered = || ArchiveKeyError::Tampered {
            with: with.to_owned(),
            start: start.to_owned(),
            index,
        };
        let aad = |format| match format {
            FORMAT_1 => Some(ad_1(with, start, index)),
            FORMAT_2 => Some(ad_2(with, start, index, entry)),
            _ => None,
        };
        let plain = self.open_raw(&raw, aad)?.ok_or_else(tampered)?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| tampered())
    }

    /// `c` with every body sealed; entry `i` is message `first_index + i` of the
    /// collection (non-zero when appending to an uploaded collection).
    pub fn seal_collection(
        &self,
        c: &Collection,
        first_index: usize,
    ) -> Result<Collection, ArchiveKeyError> {
        let mut out = c.clone();
        for (i, e) in out.entries.iter_mut().enumerate() {
            e.body = self.seal_entry(&c.with, &c.start, first_index + i, e)?;
        }
        Ok(out)
    }

    /// `c` (a retrieved page whose first entry is message `first_index`) with every body
    /// opened; the first body that does not open is the error.
    pub fn open_collection(
        &self,
        c: &Collection,
        first_index: usize,
    ) -> Result<Collection, ArchiveKeyError> {
        let mut out = c.clone();
        for (i, e) in out.entries.iter_mut().enumerate() {
            let plain = self.open_entry(&c.with, &c.start, first_index + i, e)?;
            e.body = plain.as_str().to_owned();
        }
        Ok(out)
    }
}

/// Refuses costs above [`RECORD_MAX_KDF`], naming the field.
fn check_record_costs(kdf: KdfParams) -> Result<(), ArchiveKeyError> {
    let fields = [
        ("m_kib", kdf.m_kib, RECORD_MAX_KDF.m_kib),
        ("t_cost", kdf.t_cost, RECORD_MAX_KDF.t_cost),
        ("p_cost", kdf.p_cost, RECORD_MAX_KDF.p_cost),
    ];
    match fields.into_iter().find(|(_, value, max)| value > max) {
        Some((field, value, max)) => Err(ArchiveKeyError::Costs(format!(
            "{field} {value} (at most {max})"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use esession::archive::{Direction, Entry};
    use esession::time::Timestamp;

    const FAST: KdfParams = KdfParams {
        m_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn another_client_with_the_passphrase_opens_what_one_sealed() {
        let (key, info) = ArchiveKey::create_with("pw", FAST).unwrap();
        let mut c = Collection::new("bob@x/r", Timestamp(1_700_000_000), Some("t"));
        for (i, body) in ["hello", "wörld"].iter().enumerate() {
            c.entries.push(Entry {
                dir: if i == 0 {
                    Direction::To
                } else {
                    Direction::From
                },
                secs: Some(i as u64),
                utc: None,
                body: (*body).into(),
            });
        }
        let sealed = key.seal_collection(&c, 0).unwrap();
        assert!(sealed.entries.iter().all(|e| !e.body.contains("hello")));
        // A second client: only the record (from the server) and the passphrase.
        let other = ArchiveKey::open("pw", &info).unwrap();
        assert_eq!(other.open_collection(&sealed, 0).unwrap(), c);
        // A page starting at message 1 opens with first_index 1.
        let mut page = sealed.clone();
        page.entries.remove(0);
        assert_eq!(
            other.open_collection(&page, 1).unwrap().entries[0].body,
            "wörld"
        );
        assert!(format!("{other:?}").contains("redacted"));
    }

    #[test]
    fn wrong_passphrase_moved_or_altered_bodies_are_refused() {
        let (key, info) = ArchiveKey::create_with("pw", FAST).unwrap();
        assert_eq!(
            ArchiveKey::open("other", &info).unwrap_err(),
            ArchiveKeyError::WrongPassphrase
        );
        assert_eq!(
            ArchiveKey::open("", &info).unwrap_err(),
            ArchiveKeyError::NoPassphrase
        );
        // Issue 11 §14: the server's record cannot make an unlock cost more than 1 GiB,
        // 10 passes and 8 lanes; the error names the field.
        for (field, value) in [("m_kib", (1u32 << 20) + 1), ("t_cost", 11), ("p_cost", 9)] {
            let mut costly = info.clone();
            match field {
                "m_kib" => costly.m_kib = value,
                "t_cost" => costly.t_cost = value,
                _ => costly.p_cost = value,
            }
            let err = ArchiveKey::open("pw", &costly).unwrap_err();
            assert!(matches!(err, ArchiveKeyError::Costs(_)), "{err}");
            assert!(
                err.to_string().contains(&format!("{field} {value}")),
                "{err}"
            );
        }
        // A damaged check value is named as the record's (found in review: it was reported
        // as an archived body).
        for check in [vec![], vec![9, 1, 2]] {
            let damaged = ArchiveKeyInfo {
                check,
                ..info.clone()
            };
            let err = ArchiveKey::open("pw", &damaged).unwrap_err();
            assert!(matches!(err, ArchiveKeyError::BadRecord(_)), "{err}");
            assert!(err.to_string().contains("archive key record"), "{err}");
        }
        const START: &str = "2020-01-01T00:00:00Z";
        let s = key.seal_entry("a@x", START, 3, &entry("secret")).unwrap();
        // Moved to another position, collection or JID: the AD differs.
        for (with, start, index) in [
            ("a@x", START, 4),
            ("a@x", "2020-01-01T00:00:01Z", 3),
            ("b@x", START, 3),
        ] {
            assert_eq!(
                key.open_entry(with, start, index, &entry(&s)).unwrap_err(),
                ArchiveKeyError::Tampered {
                    with: with.into(),
                    start: start.into(),
                    index
                }
            );
        }
        let mut raw = b64::decode("t", &s).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(matches!(
            key.open_entry("a@x", START, 3, &entry(&b64::encode(&raw))),
            Err(ArchiveKeyError::Tampered { .. })
        ));
        raw[0] = 3;
        for hostile in [
            b64::encode(&raw),
            "plain text".into(),
            b64::encode(&[1, 2, 3]),
        ] {
            assert!(matches!(
                key.open_entry("a@x", START, 3, &entry(&hostile)),
                Err(ArchiveKeyError::Malformed(_))
            ));
        }
        assert_eq!(
            &*key.open_entry("a@x", START, 3, &entry(&s)).unwrap(),
            "secret"
        );
    }

    /// Message 3 of a collection, sent by us 3 s after the previous one, with `body`.
    fn entry(body: &str) -> Entry {
        Entry {
            dir: Direction::To,
            secs: Some(3),
            utc: None,
            body: body.into(),
        }
    }

    /// Found in review: format 1 bound neither the direction nor the time, so the server
    /// could show the user's words as the contact's, or move them in time. Format 2
    /// binds both (and `utc`); a format 2 body relabelled as format 1 does not open.
    #[test]
    fn a_changed_direction_or_time_is_refused() {
        let (key, _) = ArchiveKey::create_with("pw", FAST).unwrap();
        const START: &str = "2020-01-01T00:00:00Z";
        let s = key.seal_entry("a@x", START, 3, &entry("mine")).unwrap();
        let changed = [
            Entry {
                dir: Direction::From,
                ..entry(&s)
            },
            Entry {
                secs: Some(4),
                ..entry(&s)
            },
            Entry {
                secs: None,
                ..entry(&s)
            },
            Entry {
                utc: Some("2020-01-01T00:00:03Z".into()),
                ..entry(&s)
            },
        ];
        for e in changed {
            assert!(
                matches!(
                    key.open_entry("a@x", START, 3, &e),
                    Err(ArchiveKeyError::Tampered { index: 3, .. })
                ),
                "{e:?}"
            );
        }
        let mut raw = b64::decode("t", &s).unwrap();
        raw[0] = FORMAT_1;
        let downgraded = Entry {
            dir: Direction::From,
            ..entry(&b64::encode(&raw))
        };
        assert!(key.open_entry("a@x", START, 3, &downgraded).is_err());
        assert_eq!(
            &*key.open_entry("a@x", START, 3, &entry(&s)).unwrap(),
            "mine"
        );
    }

    /// A record and a body sealed in format 1 by the code before format 2 (passphrase
    /// `pw`, costs [`FAST`]): uploaded bodies stay readable, whatever their entry says.
    #[test]
    fn bodies_sealed_in_format_1_still_open() {
        let info = ArchiveKeyInfo {
            salt: [
                12, 173, 219, 163, 46, 91, 18, 182, 136, 234, 124, 19, 87, 57, 117, 45,
            ],
            m_kib: FAST.m_kib,
            t_cost: FAST.t_cost,
            p_cost: FAST.p_cost,
            check: b64::decode(
                "check",
                "AXOtuJPdHWYLDS475X0W36ayGvpOTlNdzbI+Mq6RbD1+b6/G/FY+zRnixJthxR8RuX4CIvIfBIBfzuly6g==",
            )
            .unwrap(),
        };
        let key = ArchiveKey::open("pw", &info).unwrap();
        let body = "ATaioWuCe1eIs8AsDD7NGW/gusALUCtk7t86BsWRtGBXOy8ODbVzEpn+/WxRmAGeBHws";
        for dir in [Direction::To, Direction::From] {
            let e = Entry { dir, ..entry(body) };
            let opened = key
                .open_entry("bob@x/r", "2026-12-07T22:00:00Z", 1, &e)
                .unwrap();
            assert_eq!(&*opened, "format one");
        }
        assert!(key
            .open_entry("bob@x/r", "2026-12-07T22:00:00Z", 2, &entry(body))
            .is_err());
    }
}
