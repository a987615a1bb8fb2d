//! Our identity private keys, sealed at rest under the device key.
//!
//! Format 2 of a row of `identity_key`: the PKCS#8 DER sealed with XChaCha20-Poly1305 under
//! the device key and a random 24-octet nonce, bound to the own bare JID (`rows.rs`), so a
//! row copied to another account does not open. Format 1 rows (sealed with a passphrase by
//! versions before schema 6) are not read here: [`SqliteStore::reseal_legacy`] turns them
//! into format 2 first. A row that does not open is reported, never replaced.
use crate::error::{blob, failed, refused};
use crate::rows::{identity_ad, legacy_pending};
use crate::sqlite::SqliteStore;
use esession::store::StoreError;
use esession::trust;
use rusqlite::{params, ErrorCode, OptionalExtension};
use zeroize::Zeroizing;

impl SqliteStore {
    /// The identity key of `own`, opened (for [`esession::store::KeyStore::identity_key`]).
    pub(crate) fn read_identity(
        &self,
        op: &str,
        own: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let row = self
            .conn
            .prepare_cached("SELECT format, nonce, sealed FROM identity_key WHERE own = ?1")
            .and_then(|mut s| {
                s.query_row([own], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        blob::<24>(r, 1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| failed(op, &self.path, e))?;
        let Some((format, nonce, sealed)) = row else {
            return Ok(None);
        };
        if format == 1 {
            return Err(refused(op, &self.path, legacy_pending("identity key", own)));
        }
        self.device
            .open(&nonce, &sealed, &identity_ad(own))
            .map(Some)
            .ok_or_else(|| {
                refused(
                    op,
                    &self.path,
                    format_args!(
                        "the identity key of {own} was altered (its seal does not open under \
                         the device key); it was left untouched"
                    ),
                )
            })
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
            refused(
                op,
                &self.path,
                format_args!(
                    "{own} already has an identity key; refusing to overwrite it \
                     (replace_identity_key replaces it explicitly)"
                ),
            )
        };
        if !replace {
            // Checked first; the plain INSERT below settles races.
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
        let s = self.device.seal(&self.path, op, &identity_ad(own), der)?;
        let sql = if replace {
            "INSERT OR REPLACE INTO identity_key (own, format, nonce, sealed)
             VALUES (?1, 2, ?2, ?3)"
        } else {
            "INSERT INTO identity_key (own, format, nonce, sealed) VALUES (?1, 2, ?2, ?3)"
        };
        let r = self.conn.execute(sql, params![own, &s.nonce[..], s.sealed]);
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
