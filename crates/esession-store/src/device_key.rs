//! The device key: 32 random octets that seal what only this device needs (our identity
//! keys, our offline option sets, the retained secrets and the trust flags), so that
//! nothing the server can learn (the account password) opens them.
//!
//! It lives in its own file beside the database (`<database>.devicekey`, mode `0600`), not
//! in a table: a copy of the database alone (a backup, a synced or shared file, a leaked
//! WAL) then opens nothing and cannot be edited undetected. The database holds a check
//! value (`device_key_check`: an XChaCha20-Poly1305 tag under the key), so a file from
//! another store is named as such instead of every row failing one by one.
//!
//! Seals are XChaCha20-Poly1305 under the key itself, with a random 24-octet nonce and
//! associated data that starts with a purpose label, so a seal of one purpose never opens
//! as another.
use crate::aead::{self, NONCE_LEN};
use crate::error::{failed, refused};
use esession::random::{OsRandom, Random};
use esession::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Length of the device key.
const KEY_LEN: usize = 32;

/// The schema version that introduced the device key (and its check value).
pub(crate) const SEALED_SINCE: usize = 6;

/// Associated data of the check value.
const CHECK_AD: &[u8] = b"esession device key check 1";

/// A seal under the device key: its nonce and the ciphertext with its tag.
pub(crate) struct DeviceSeal {
    pub nonce: [u8; NONCE_LEN],
    pub sealed: Vec<u8>,
}

/// The device key of one store.
pub(crate) struct DeviceKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

/// Where the device key of the database at `db` lives.
pub(crate) fn key_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".devicekey");
    PathBuf::from(name)
}

impl DeviceKey {
    /// A fresh key from the OS RNG (for stores in memory).
    pub(crate) fn random() -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        OsRandom.fill(&mut k[..]);
        DeviceKey(k)
    }

    /// The key of the database at `db` (whose connection is `conn`, at schema `version`):
    /// read from its file, or made and written (atomically, `0600`) for a store that has
    /// none yet. A missing file for a store sealed under a key, a file that does not match
    /// the store's check value, or a file for a store of an older schema that already holds
    /// data (an interrupted first upgrade, or a database replaced by an older one) is an
    /// error: sealed secrets are never given up, and rows are never vouched for, silently.
    pub(crate) fn for_database(
        conn: &Connection,
        db: &Path,
        version: usize,
    ) -> Result<Self, StoreError> {
        let op = "loading the device key";
        let file = key_path(db);
        let check = if version >= SEALED_SINCE {
            // The step that seals the store writes its check value in the same transaction:
            // a sealed store without one was altered, whether its key file is there or not
            // (found in review: it was taken for an interrupted upgrade, whose advice to
            // remove the key file, followed, made a new key and lost every sealed secret).
            Some(read_check(conn, db)?.ok_or_else(|| {
                refused(
                    op,
                    &file,
                    format_args!(
                        "the store {} (schema {version}) has lost the check value of its \
                         device key: the database was altered; keep the key file and \
                         restore the database from a copy; the store was left untouched",
                        db.display()
                    ),
                )
            })?)
        } else {
            None
        };
        let key = match std::fs::File::open(&file) {
            Ok(f) => read_key(f, &file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if check.is_some() {
                    return Err(refused(
                        op,
                        &file,
                        "the device key file is missing, and the store's identity keys, \
                         offline option sets and retained secrets are sealed under it; \
                         restore the file from where it was (it is never recreated for an \
                         existing store), or remove the store to start afresh",
                    ));
                }
                return create_file(&file);
            }
            Err(e) => return Err(failed(op, &file, e)),
        };
        match check {
            Some(c) if aead::open(&key.0, &c.nonce, &c.sealed, CHECK_AD).is_some() => Ok(key),
            Some(_) => Err(refused(
                op,
                &file,
                format_args!(
                    "this device key does not belong to the store {}; the store was left \
                     untouched",
                    db.display()
                ),
            )),
            // A new database (another process may be creating it with this key right now).
            None if version == 0 => Ok(key),
            None => Err(refused(
                op,
                &file,
                format_args!(
                    "a device key exists, but the store {} (schema {version}) was never \
                     sealed under it: either its first upgrade was interrupted (then remove \
                     this key file and open the store again) or the database was replaced \
                     by an older or altered one; the store was left untouched",
                    db.display()
                ),
            )),
        }
    }

    /// Records the check value of this key (in the migration step that introduces it).
    pub(crate) fn write_check(&self, conn: &Connection, db: &Path) -> Result<(), StoreError> {
        let op = "recording the device key check value";
        let c = self.seal(db, op, CHECK_AD, b"")?;
        conn.execute(
            "INSERT INTO device_key_check (id, nonce, sealed) VALUES (1, ?1, ?2)",
            params![&c.nonce[..], c.sealed],
        )
        .map_err(|e| failed(op, db, e))?;
        Ok(())
    }

    /// Seals `msg` with associated data `ad` under a fresh nonce.
    pub(crate) fn seal(
        &self,
        db: &Path,
        op: &str,
        ad: &[u8],
        msg: &[u8],
    ) -> Result<DeviceSeal, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRandom.fill(&mut nonce);
        let sealed = aead::seal(&self.0, &nonce, msg, ad).map_err(|e| refused(op, db, e))?;
        Ok(DeviceSeal { nonce, sealed })
    }

    /// A 40-octet tag (nonce, then Poly1305 tag) vouching for `ad`.
    pub(crate) fn tag(&self, db: &Path, op: &str, ad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let s = self.seal(db, op, ad, b"")?;
        let mut t = s.nonce.to_vec();
        t.extend_from_slice(&s.sealed);
        Ok(t)
    }

    /// Whether `tag` is a [`DeviceKey::tag`] of `ad` under this key.
    pub(crate) fn verify_tag(&self, tag: &[u8], ad: &[u8]) -> bool {
        let Some((nonce, sealed)) = tag.split_first_chunk::<NONCE_LEN>() else {
            return false;
        };
        self.open(nonce, sealed, ad).is_some()
    }

    /// Opens what [`DeviceKey::seal`] made; `None` when the tag does not verify (another key,
    /// other associated data, or altered data).
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        sealed: &[u8],
        ad: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        aead::open(&self.0, nonce, sealed, ad)
    }
}

fn read_check(conn: &Connection, db: &Path) -> Result<Option<DeviceSeal>, StoreError> {
    conn.query_row(
        "SELECT nonce, sealed FROM device_key_check WHERE id = 1",
        [],
        |r| {
            Ok(DeviceSeal {
                nonce: crate::error::blob(r, 0)?,
                sealed: r.get(1)?,
            })
        },
    )
    .optional()
    .map_err(|e| failed("reading the device key check value", db, e))
}

/// Makes a key and writes it to `file` atomically: a private temporary file, synced, then
/// linked to its name (which fails if another process got there first: its key is used).
/// The key in `f` (the key file at `path`), restricted to its owner. That it is a file of
/// the key's length is checked before anything is read or changed (found in review: a huge file, or a link to
/// `/dev/zero`, was read whole), and a key file others could read is made private, as the
/// database file is.
fn read_key(mut f: std::fs::File, path: &Path) -> Result<DeviceKey, StoreError> {
    let op = "loading the device key";
    let meta = f.metadata().map_err(|e| failed(op, path, e))?;
    let len = meta.len();
    if !meta.is_file() || len != KEY_LEN as u64 {
        return Err(refused(
            op,
            path,
            format_args!(
                "the device key file is not a file of {KEY_LEN} octets ({len}): it is damaged"
            ),
        ));
    }
    crate::private_file::owner_only(&f, path, "the device key file")?;
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    f.read_exact(&mut k[..]).map_err(|e| failed(op, path, e))?;
    Ok(DeviceKey(k))
}

fn create_file(file: &Path) -> Result<DeviceKey, StoreError> {
    let op = "creating the device key";
    let key = DeviceKey::random();
    let mut tail = [0u8; 8];
    OsRandom.fill(&mut tail);
    let mut tmp_name = file.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", u64::from_le_bytes(tail)));
    let tmp = PathBuf::from(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(&key.0[..])?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, file));
    // The temporary name goes in every case (the key is under its final name or nowhere).
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_parent(file);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = Zeroizing::new(std::fs::read(file).map_err(|e| failed(op, file, e))?);
            <[u8; KEY_LEN]>::try_from(&bytes[..])
                .map(|k| DeviceKey(Zeroizing::new(k)))
                .map_err(|_| refused(op, file, "another process wrote a damaged device key"))
        }
        Err(e) => Err(failed(op, file, e)),
    }
}

/// Makes the new directory entry durable (best effort: not every platform can sync a
/// directory).
fn sync_parent(file: &Path) {
    if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// `label`, then each part, each followed by a NUL: associated data no two different
/// subjects share (JIDs contain no NUL).
pub(crate) fn ad(label: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(label.as_bytes());
    for p in parts {
        v.push(0);
        v.extend_from_slice(p);
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_their_associated_data() {
        let k = DeviceKey::random();
        let p = Path::new(":memory:");
        let s = k.seal(p, "t", b"ad-1", b"msg").unwrap();
        assert_eq!(
            k.open(&s.nonce, &s.sealed, b"ad-1").unwrap().as_slice(),
            b"msg"
        );
        assert!(k.open(&s.nonce, &s.sealed, b"ad-2").is_none());
        assert!(DeviceKey::random()
            .open(&s.nonce, &s.sealed, b"ad-1")
            .is_none());
        assert_eq!(format!("{k:?}"), "DeviceKey(<redacted>)");
        assert_ne!(ad("x", &[b"a", b"bc"]), ad("x", &[b"ab", b"c"]));
    }
}
