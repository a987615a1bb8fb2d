//! The demo's own XMPP server: Prosody on loopback with a private configuration, through
//! the project's `scripts/prosody.sh` (embedded, so the binary works from anywhere).
use crate::fail::Fail;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use tokio::process::Command;

const SCRIPT: &str = include_str!("../../../scripts/prosody.sh");
/// The project's XEP-0136 module, loaded by the script's configuration.
const ARCHIVE_MODULE: &str = include_str!("../../../prosody/mod_archive_manual.lua");

/// A running local server.
pub(crate) struct LocalServer {
    /// Private (created with a random name, mode 0700, never reused): the script run from
    /// it, the configuration and modules Prosody loads are code (issue 11 §5).
    dir: TempDir,
    script: PathBuf,
    /// `127.0.0.1:PORT` of its client port.
    pub addr: String,
    /// Its full stanza log (Prosody's `stanza_debug`).
    pub log: PathBuf,
}

async fn sh(script: &Path, args: &[&str], env: &[(&str, String)]) -> Result<String, Fail> {
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| Fail::protocol("server", format!("cannot run {}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(Fail::protocol(
            "server",
            format!(
                "prosody.sh {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl LocalServer {
    /// Installs Prosody if missing (Debian's package; needs root) and starts it on the
    /// first free port pair from 15322.
    pub(crate) async fn start() -> Result<Self, Fail> {
        // Never a predictable shared path: another local user could pre-create it and
        // replace what we run.
        let dir = crate::private_dir::create("esession-demo-").map_err(|e| {
            Fail::protocol("server", format!("cannot create a private directory: {e}"))
        })?;
        let script = dir.path().join("prosody.sh");
        std::fs::write(&script, SCRIPT)
            .map_err(|e| Fail::protocol("server", format!("{}: {e}", script.display())))?;
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins)
            .and_then(|()| std::fs::write(plugins.join("mod_archive_manual.lua"), ARCHIVE_MODULE))
            .map_err(|e| Fail::protocol("server", format!("{}: {e}", plugins.display())))?;
        let plugins = plugins.to_string_lossy().into_owned();
        sh(&script, &["install"], &[]).await?;
        let server_dir = dir.path().join("server");
        let server_arg = server_dir.to_string_lossy().into_owned();
        let mut last = None;
        for base in (15322u16..15400).step_by(10) {
            let env = [
                ("ESESSION_C2S_PORT", base.to_string()),
                ("ESESSION_TLS_PORT", (base + 1).to_string()),
                ("ESESSION_PROSODY_PLUGINS", plugins.clone()),
            ];
            match sh(&script, &["start", &server_arg], &env).await {
                Ok(_) => {
                    let env = std::fs::read_to_string(server_dir.join("env")).unwrap_or_default();
                    let get = |k: &str| {
                        env.lines()
                            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                            .map(str::to_owned)
                    };
                    let addr =
                        get("ESESSION_SERVER").unwrap_or_else(|| format!("127.0.0.1:{base}"));
                    let log = PathBuf::from(get("ESESSION_PROSODY_LOG").unwrap_or_default());
                    return Ok(LocalServer {
                        dir,
                        script,
                        addr,
                        log,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Fail::protocol("server", "no free port for the local server")))
    }

    /// The directory the script keeps the server's files in.
    fn server_dir(&self) -> String {
        self.dir
            .path()
            .join("server")
            .to_string_lossy()
            .into_owned()
    }

    /// Creates `user@localhost`.
    pub(crate) async fn register(&self, user: &str, password: &str) -> Result<(), Fail> {
        let server_dir = self.server_dir();
        sh(
            &self.script,
            &["register", &server_dir, user, password],
            &[],
        )
        .await
        .map(|_| ())
    }

    /// Stops the server and removes its files.
    pub(crate) async fn stop(self) {
        let server_dir = self.server_dir();
        let _ = sh(&self.script, &["stop", &server_dir], &[]).await;
        let _ = self.dir.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Issue 11 §5: a directory another user pre-created at the old predictable path
    /// (`$TMPDIR/esession-demo-<pid>`) is neither used nor written to; the server runs from
    /// a private directory.
    #[tokio::test]
    async fn a_precreated_predictable_directory_is_not_used() {
        let old = std::env::temp_dir().join(format!("esession-demo-{}", std::process::id()));
        std::fs::create_dir_all(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o777)).unwrap();
        let server = LocalServer::start().await.unwrap();
        let dir = server.dir.path().to_owned();
        let used_old = dir == old || server.script.starts_with(&old);
        let old_entries = std::fs::read_dir(&old).unwrap().count();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        server.stop().await;
        std::fs::remove_dir_all(&old).unwrap();
        assert!(!used_old, "{} used", old.display());
        assert_eq!(old_entries, 0, "something was written to {}", old.display());
        assert_eq!(mode, 0o700, "{} is not private", dir.display());
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
