//! The account's identity key (XEP-0116 §4.5.4, profile P8): an RSA-2048 key created on
//! first need and kept in the store sealed under the store's device key (never under
//! anything derived from the account password, which the server can learn).
use crate::fail::Fail;
use esession::store::KeyStore;
use esession::IdentityKey;
use esession::OsRandom;
use esession_store::SqliteStore;

/// Size of the keys we create (profile P8: at least 2048 bits).
const RSA_BITS: usize = 2048;

/// When a command wants the identity key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyUse {
    /// Not at all (nothing is read: no passphrase is needed).
    Never,
    /// Load it if one is stored; never create one.
    IfStored,
    /// Load it, creating (and storing) one first if none is stored.
    Create,
}

/// The failure of an identity key that cannot be opened: a usage error (exit 2), since the
/// fix is restoring the store's device key file; the stored key is never replaced.
fn unreadable(own: &str, detail: impl std::fmt::Display) -> Fail {
    Fail {
        kind: "identity_key",
        ..Fail::usage(format!(
            "cannot open the identity key of {own}: {detail}. It is sealed under the \
             store's device key (the .devicekey file beside it); no new key was made"
        ))
    }
}

/// The identity key of the account `own` (bare JID) as `usage` asks: `None` only for
/// [`KeyUse::Never`] and for [`KeyUse::IfStored`] without a usable stored key. A stored key
/// that this account revoked is not usable: [`KeyUse::Create`] replaces it with a new one.
pub(crate) fn load(
    store: &mut SqliteStore,
    own: &str,
    usage: KeyUse,
) -> Result<Option<IdentityKey>, Fail> {
    if usage == KeyUse::Never {
        return Ok(None);
    }
    // KeyStore::identity_key: a stored key that does not open is an error, never `None`,
    // so a wrong passphrase cannot lead to a second key.
    let stored = match store.identity_key(own).map_err(|e| unreadable(own, e))? {
        Some(der) => Some(IdentityKey::from_pkcs8_der(&der).map_err(|e| unreadable(own, e))?),
        None => None,
    };
    let revoked = match &stored {
        // XEP-0189 §4, decision "Published keys (XEP-0189)": a key we revoked (`keys
        // revoke` records it in our own store) is never presented again.
        Some(key) => {
            let fp = key.public().fingerprint();
            if store.revoked_at(own, fp.as_bytes())?.is_none() {
                return Ok(stored);
            }
            true
        }
        None => false,
    };
    if usage == KeyUse::IfStored {
        return Ok(None);
    }
    let key = IdentityKey::generate_rsa(&mut OsRandom, RSA_BITS)
        .map_err(|e| Fail::protocol("identity_key", format!("cannot create a key: {e}")))?;
    if revoked {
        // The revoked key is replaced by the new one (it is never needed again: its
        // revocation is already signed and published).
        store.replace_identity_key(own, &key.to_pkcs8_der())?;
        return Ok(Some(key));
    }
    match store.set_identity_key(own, &key.to_pkcs8_der()) {
        Ok(()) => Ok(Some(key)),
        // Another process of this account stored its key first: use that one.
        Err(e) => match store.identity_key(own) {
            Ok(Some(der)) => IdentityKey::from_pkcs8_der(&der)
                .map(Some)
                .map_err(|e| unreadable(own, e)),
            _ => Err(unreadable(own, e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_reloaded_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let open = || SqliteStore::open(&path).unwrap();
        let own = "a@example.org";
        assert!(load(&mut open(), own, KeyUse::IfStored).unwrap().is_none());
        assert!(load(&mut open(), own, KeyUse::Never).unwrap().is_none());
        let made = load(&mut open(), own, KeyUse::Create).unwrap().unwrap();
        let fp = made.public().fingerprint().to_b64();
        for usage in [KeyUse::IfStored, KeyUse::Create] {
            let again = load(&mut open(), own, usage).unwrap().unwrap();
            assert_eq!(again.public().fingerprint().to_b64(), fp);
        }
        // The device key file gone: an error, never a second key.
        let key = dir.path().join("a.sqlite.devicekey");
        let saved = std::fs::read(&key).unwrap();
        std::fs::remove_file(&key).unwrap();
        assert!(SqliteStore::open(&path).is_err());
        std::fs::write(&key, saved).unwrap();
        let still = load(&mut open(), own, KeyUse::IfStored).unwrap().unwrap();
        assert_eq!(still.public().fingerprint().to_b64(), fp);
    }

    #[test]
    fn a_revoked_key_is_never_loaded_and_replaced_on_need() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sqlite");
        let open = || SqliteStore::open(&path).unwrap();
        let own = "a@example.org";
        let old = load(&mut open(), own, KeyUse::Create).unwrap().unwrap();
        let old_fp = old.public().fingerprint();
        open()
            .record_revocation(own, old_fp.as_bytes(), esession::Timestamp::now())
            .unwrap();
        assert!(load(&mut open(), own, KeyUse::IfStored).unwrap().is_none());
        let new = load(&mut open(), own, KeyUse::Create).unwrap().unwrap();
        assert!(!new.public().fingerprint().ct_eq(&old_fp));
        let again = load(&mut open(), own, KeyUse::IfStored).unwrap().unwrap();
        assert!(again
            .public()
            .fingerprint()
            .ct_eq(&new.public().fingerprint()));
    }
}
