//! Private scratch directories (issue 11 §5): a random name under the temporary directory,
//! created exclusively (never an existing one another user prepared) with mode 0700 (the
//! umask would otherwise leave it readable by all), removed when dropped.
use tempfile::TempDir;

/// A new private directory whose name starts with `prefix`.
pub(crate) fn create(prefix: &str) -> std::io::Result<TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}
