//! Files of the store that hold secrets (the database, the device key) are its owner's
//! alone.
use crate::error::failed;
use esession::store::StoreError;
use std::path::Path;

/// Restricts `file` (at `path`, `what` for errors) to its owner (mode 0600) if others may
/// read or write it.
pub(crate) fn owner_only(file: &std::fs::File, path: &Path, what: &str) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file
            .metadata()
            .map_err(|e| failed(&format!("reading the permissions of {what}"), path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| failed(&format!("restricting {what} to mode 0600"), path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path, what);
    Ok(())
}
