//! Sealing rows at rest (identity keys in `identity.rs`, offline option sets in
//! `offline.rs`): format 1 derives a key-encryption key from the passphrase with Argon2id
//! (v0x13) over the row's random 16-octet salt and the row's own costs, then seals with
//! XChaCha20-Poly1305 under a random 24-octet nonce and the subject's associated data. A
//! wrong passphrase and an altered row both fail the Poly1305 tag.
use crate::aead::{self, costs_acceptable, KdfParams, IDENTITY_KDF, MAX_KDF, NONCE_LEN};
use crate::error::failed;
use esession::random::{OsRandom, Random};
use esession::store::StoreError;
use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

const SALT_LEN: usize = 16;

/// The error text for a row that does not open (also the test's needle).
const WRONG_PASSPHRASE: &str = "identity key passphrase is wrong, or the stored key was \
                                altered; the stored key was left untouched";

/// What a sealed row belongs to: its account, what it holds (for messages) and the
/// associated data its seal is bound to.
pub(crate) struct Subject<'a> {
    pub own: &'a str,
    /// `identity key`, `offline option set`.
    pub what: &'a str,
    pub aad: &'a [u8],
}

impl<'a> Subject<'a> {
    /// An identity key row: bound to the own bare JID alone (format 1).
    pub(crate) fn identity(own: &'a str) -> Self {
        Subject {
            own,
            what: "identity key",
            aad: own.as_bytes(),
        }
    }
}

/// A sealed row (of `identity_key`, or of `offline_set`).
pub(crate) struct Sealed {
    pub salt: [u8; SALT_LEN],
    pub kdf: KdfParams,
    pub nonce: [u8; NONCE_LEN],
    pub sealed: Vec<u8>,
}

impl Sealed {
    /// Reads the six columns salt, m_kib, t_cost, p_cost, nonce, sealed, starting at
    /// column `first`, of a row of either table.
    pub(crate) fn from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Sealed {
            salt: blob(r, first)?,
            kdf: KdfParams {
                m_kib: cost(r, first + 1)?,
                t_cost: cost(r, first + 2)?,
                p_cost: cost(r, first + 3)?,
            },
            nonce: blob(r, first + 4)?,
            sealed: r.get(first + 5)?,
        })
    }
}

/// The last KEK derived, so a process deriving it once per salt pays Argon2 once.
struct CachedKek {
    salt: [u8; SALT_LEN],
    kdf: KdfParams,
    kek: Zeroizing<[u8; 32]>,
}

/// What [`SqliteStore`] needs to seal and open identity keys: the passphrase, the costs for
/// new rows and the KEK cache.
pub(crate) struct Sealer {
    passphrase: Option<Zeroizing<String>>,
    kdf: KdfParams,
    cache: RefCell<Option<CachedKek>>,
}

impl Default for Sealer {
    fn default() -> Self {
        Sealer {
            passphrase: None,
            kdf: IDENTITY_KDF,
            cache: RefCell::new(None),
        }
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("kdf", &self.kdf)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Uses `passphrase` from now on (the KEK cache is dropped); returns the previous one.
    pub(crate) fn set_passphrase(
        &mut self,
        passphrase: Option<Zeroizing<String>>,
    ) -> Option<Zeroizing<String>> {
        *self.cache.get_mut() = None;
        std::mem::replace(&mut self.passphrase, passphrase)
    }

    /// Seals new rows with the Argon2id costs `kdf`.
    pub(crate) fn set_kdf(&mut self, kdf: KdfParams) {
        self.kdf = kdf;
    }

    /// The KEK for `salt` and `kdf`, derived from the passphrase (or taken from the cache).
    fn kek(
        &self,
        path: &Path,
        op: &str,
        subject: &Subject<'_>,
        salt: &[u8; SALT_LEN],
        kdf: KdfParams,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let passphrase = match self.passphrase.as_deref() {
            Some(p) if !p.is_empty() => p,
            Some(_) => return Err(failed(op, path, "the identity key passphrase is empty")),
            None => {
                return Err(failed(
                    op,
                    path,
                    format_args!(
                        "the {} of {} is kept encrypted and no passphrase was given \
                         (SqliteStore::with_key_passphrase)",
                        subject.what, subject.own
                    ),
                ))
            }
        };
        if let Some(c) = self.cache.borrow().as_ref() {
            if c.salt == *salt && c.kdf == kdf {
                return Ok(c.kek.clone());
            }
        }
        let kek =
            aead::derive_key(passphrase.as_bytes(), salt, kdf).map_err(|e| failed(op, path, e))?;
        *self.cache.borrow_mut() = Some(CachedKek {
            salt: *salt,
            kdf,
            kek: kek.clone(),
        });
        Ok(kek)
    }

    /// Seals `der` for `subject` under a fresh salt and nonce.
    pub(crate) fn seal(
        &self,
        path: &Path,
        op: &str,
        subject: &Subject<'_>,
        der: &[u8],
    ) -> Result<Sealed, StoreError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRandom.fill(&mut salt);
        OsRandom.fill(&mut nonce);
        let kek = self.kek(path, op, subject, &salt, self.kdf)?;
        let sealed = aead::seal(&kek, &nonce, der, subject.aad).map_err(|e| failed(op, path, e))?;
        Ok(Sealed {
            salt,
            kdf: self.kdf,
            nonce,
            sealed,
        })
    }

    /// Opens the row of `subject`; any failure of the tag is [`WRONG_PASSPHRASE`] (for
    /// another subject than the identity key: the same text naming it).
    pub(crate) fn open(
        &self,
        path: &Path,
        op: &str,
        subject: &Subject<'_>,
        row: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let own = subject.own;
        let k = row.kdf;
        if !costs_acceptable(k) {
            return Err(failed(
                op,
                path,
                format_args!(
                    "the {} of {own} asks for Argon2id costs {k:?}, above the \
                     accepted {MAX_KDF:?} (a damaged or altered row)",
                    subject.what
                ),
            ));
        }
        let kek = self.kek(path, op, subject, &row.salt, k)?;
        aead::open(&kek, &row.nonce, &row.sealed, subject.aad).ok_or_else(|| {
            if subject.what == "identity key" {
                failed(op, path, WRONG_PASSPHRASE)
            } else {
                failed(
                    op,
                    path,
                    format_args!(
                        "identity key passphrase is wrong, or the stored {} was altered; \
                         it was left untouched",
                        subject.what
                    ),
                )
            }
        })
    }
}

/// A fixed-size BLOB column, or a conversion error naming the column.
pub(crate) fn blob<const N: usize>(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<[u8; N]> {
    let b = row.get_ref(idx)?.as_blob()?;
    <[u8; N]>::try_from(b).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} octets, found {}", b.len()).into(),
        )
    })
}

pub(crate) fn cost(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    let v: i64 = row.get(idx)?;
    u32::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}
