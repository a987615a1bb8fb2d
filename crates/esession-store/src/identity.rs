//! Our identity private keys, sealed at rest with a passphrase.
//!
//! Format 1 of a row of `identity_key`: a key-encryption key (KEK) is derived from the
//! passphrase with Argon2id (v0x13) over the row's random 16-octet salt, with the row's own
//! memory, time and parallelism costs; the PKCS#8 DER is sealed with XChaCha20-Poly1305 under
//! the KEK and a random 24-octet nonce, with the own bare JID as associated data (so a row
//! copied to another account does not open). A wrong passphrase and an altered row both fail
//! the Poly1305 tag: the key is then reported unreadable, never replaced.
use crate::aead::KdfParams;
use crate::error::failed;
use crate::seal::{Sealed, Subject};
use crate::sqlite::SqliteStore;
use esession::store::StoreError;
use esession::trust;
use rusqlite::{params, ErrorCode, OptionalExtension};
use zeroize::Zeroizing;

/// The only row format this build writes and reads.
const FORMAT: i64 = 1;

impl SqliteStore {
    /// Gives the passphrase that seals and opens identity keys (Argon2id derives the
    /// key-encryption key from it, XChaCha20-Poly1305 seals the key). It is used as given (no
    /// Unicode normalization). Without it, reading a stored identity key or storing one is an
    /// error.
    #[must_use]
    pub fn with_key_passphrase(mut self, passphrase: Zeroizing<String>) -> Self {
        self.sealer.set_passphrase(Some(passphrase));
        self
    }

    /// Seals identity keys written from now on with the Argon2id costs `kdf` instead of
    /// [`IDENTITY_KDF`]. Rows keep their own costs, so either value opens either row. Costs
    /// below [`IDENTITY_KDF`] weaken the protection of the file: they are for tests.
    #[must_use]
    pub fn with_kdf_params(mut self, kdf: KdfParams) -> Self {
        self.sealer.set_kdf(kdf);
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
        let old = self.sealer.set_passphrase(Some(new));
        match self.write_identity(op, own, &der, true) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.sealer.set_passphrase(old);
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
            .open(&self.path, op, &Subject::identity(own), &sealed)
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
        let s = self
            .sealer
            .seal(&self.path, op, &Subject::identity(own), der)?;
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
