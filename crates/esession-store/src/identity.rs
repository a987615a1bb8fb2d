//! Our identity private keys, sealed at rest with a passphrase.
//!
//! Format 1 of a row of `identity_key`: a key-encryption key (KEK) is derived from the
//! passphrase with Argon2id (v0x13) over the row's random 16-octet salt, with the row's own
//! memory, time and parallelism costs; the PKCS#8 DER is sealed with XChaCha20-Poly1305 under
//! the KEK and a random 24-octet nonce, with the own bare JID as associated data (so a row
//! copied to another account does not open). A wrong passphrase and an altered row both fail
//! the Poly1305 tag: the key is then reported unreadable, never replaced.
use crate::aead::{self, costs_acceptable, KdfParams, IDENTITY_KDF, MAX_KDF, NONCE_LEN};
use crate::error::failed;
use crate::sqlite::SqliteStore;
use esession::random::{OsRandom, Random};
use esession::store::StoreError;
use esession::trust;
use rusqlite::{params, ErrorCode, OptionalExtension};
use std::cell::RefCell;
use std::fmt;
use zeroize::Zeroizing;

/// The only row format this build writes and reads.
const FORMAT: i64 = 1;
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
    fn identity(own: &'a str) -> Self {
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
    /// The KEK for `salt` and `kdf`, derived from the passphrase (or taken from the cache).
    fn kek(
        &self,
        store: &SqliteStore,
        op: &str,
        subject: &Subject<'_>,
        salt: &[u8; SALT_LEN],
        kdf: KdfParams,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let passphrase = match self.passphrase.as_deref() {
            Some(p) if !p.is_empty() => p,
            Some(_) => {
                return Err(failed(
                    op,
                    &store.path,
                    "the identity key passphrase is empty",
                ))
            }
            None => {
                return Err(failed(
                    op,
                    &store.path,
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
        let kek = aead::derive_key(passphrase.as_bytes(), salt, kdf)
            .map_err(|e| failed(op, &store.path, e))?;
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
        store: &SqliteStore,
        op: &str,
        subject: &Subject<'_>,
        der: &[u8],
    ) -> Result<Sealed, StoreError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRandom.fill(&mut salt);
        OsRandom.fill(&mut nonce);
        let kek = self.kek(store, op, subject, &salt, self.kdf)?;
        let sealed =
            aead::seal(&kek, &nonce, der, subject.aad).map_err(|e| failed(op, &store.path, e))?;
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
        store: &SqliteStore,
        op: &str,
        subject: &Subject<'_>,
        row: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let own = subject.own;
        let k = row.kdf;
        if !costs_acceptable(k) {
            return Err(failed(
                op,
                &store.path,
                format_args!(
                    "the {} of {own} asks for Argon2id costs {k:?}, above the \
                     accepted {MAX_KDF:?} (a damaged or altered row)",
                    subject.what
                ),
            ));
        }
        let kek = self.kek(store, op, subject, &row.salt, k)?;
        aead::open(&kek, &row.nonce, &row.sealed, subject.aad).ok_or_else(|| {
            if subject.what == "identity key" {
                failed(op, &store.path, WRONG_PASSPHRASE)
            } else {
                failed(
                    op,
                    &store.path,
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

impl SqliteStore {
    /// Gives the passphrase that seals and opens identity keys (Argon2id derives the
    /// key-encryption key from it, XChaCha20-Poly1305 seals the key). It is used as given (no
    /// Unicode normalization). Without it, reading a stored identity key or storing one is an
    /// error.
    #[must_use]
    pub fn with_key_passphrase(mut self, passphrase: Zeroizing<String>) -> Self {
        self.sealer.passphrase = Some(passphrase);
        *self.sealer.cache.borrow_mut() = None;
        self
    }

    /// Seals identity keys written from now on with the Argon2id costs `kdf` instead of
    /// [`IDENTITY_KDF`]. Rows keep their own costs, so either value opens either row. Costs
    /// below [`IDENTITY_KDF`] weaken the protection of the file: they are for tests.
    #[must_use]
    pub fn with_kdf_params(mut self, kdf: KdfParams) -> Self {
        self.sealer.kdf = kdf;
        self
    }

    /// Reseals the identity key of `own` under `new` and uses `new` from then on.
    ///
    /// # Errors
    /// A [`StoreError`] when no key is stored for `own`, the current passphrase does not open
    /// it, or the store fails; the stored key and the current passphrase are kept then.
    pub fn change_key_passphrase(
        &mut self,
        own: &str,
        new: Zeroizing<String>,
    ) -> Result<(), StoreError> {
        let op = "changing the identity key passphrase";
        let der = self.read_identity(op, own)?.ok_or_else(|| {
            failed(
                op,
                &self.path,
                format_args!("no identity key is stored for {own}"),
            )
        })?;
        let old = self.sealer.passphrase.replace(new);
        *self.sealer.cache.borrow_mut() = None;
        match self.write_identity(op, own, &der, true) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.sealer.passphrase = old;
                *self.sealer.cache.borrow_mut() = None;
                Err(e)
            }
        }
    }

    /// The identity key of `own`, opened (for [`esession::store::KeyStore::identity_key`]).
    pub(crate) fn read_identity(
        &self,
        op: &str,
        own: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT format, salt, m_kib, t_cost, p_cost, nonce, sealed
                 FROM identity_key WHERE own = ?1",
            )
            .and_then(|mut s| {
                s.query_row([own], |r| {
                    let format: i64 = r.get(0)?;
                    Ok((format, Sealed::from_row(r, 1)?))
                })
                .optional()
            })
            .map_err(|e| failed(op, &self.path, e))?;
        let Some((format, sealed)) = row else {
            return Ok(None);
        };
        if format != FORMAT {
            return Err(failed(
                op,
                &self.path,
                format_args!("the identity key of {own} has unknown format {format}"),
            ));
        }
        self.sealer
            .open(self, op, &Subject::identity(own), &sealed)
            .map(Some)
    }

    /// Seals and stores `der` for `own`; an existing row is an error unless `replace`.
    pub(crate) fn write_identity(
        &mut self,
        op: &str,
        own: &str,
        der: &[u8],
        replace: bool,
    ) -> Result<(), StoreError> {
        trust::check_identity_der(op, der)?;
        let refuse = || {
            failed(
                op,
                &self.path,
                format_args!(
                    "{own} already has an identity key; refusing to overwrite it \
                     (replace_identity_key replaces it explicitly)"
                ),
            )
        };
        if !replace {
            // Checked before the (slow) sealing; the plain INSERT below settles races.
            let exists: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM identity_key WHERE own = ?1)",
                    [own],
                    |r| r.get(0),
                )
                .map_err(|e| failed(op, &self.path, e))?;
            if exists {
                return Err(refuse());
            }
        }
        let s = self.sealer.seal(self, op, &Subject::identity(own), der)?;
        let sql = if replace {
            "INSERT OR REPLACE INTO identity_key
             (own, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        } else {
            "INSERT INTO identity_key
             (own, format, salt, m_kib, t_cost, p_cost, nonce, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        };
        let r = self.conn.execute(
            sql,
            params![
                own,
                FORMAT,
                &s.salt[..],
                s.kdf.m_kib,
                s.kdf.t_cost,
                s.kdf.p_cost,
                &s.nonce[..],
                s.sealed
            ],
        );
        match r {
            Ok(_) => {
                if replace {
                    self.scrub_destroyed();
                }
                Ok(())
            }
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(refuse())
            }
            Err(e) => Err(failed(op, &self.path, e)),
        }
    }
}
