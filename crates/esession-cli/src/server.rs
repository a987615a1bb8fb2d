//! The demo's own XMPP server: Prosody on loopback with a private configuration, through
//! the project's `scripts/prosody.sh` (embedded, so the binary works from anywhere).
use crate::fail::Fail;
use std::path::PathBuf;
use tokio::process::Command;

const SCRIPT: &str = include_str!("../../../scripts/prosody.sh");
/// The project's XEP-0136 module, loaded by the script's configuration.
const ARCHIVE_MODULE: &str = include_str!("../../../prosody/mod_archive_manual.lua");

/// A running local server.
pub(crate) struct LocalServer {
    dir: PathBuf,
    script: PathBuf,
    /// `127.0.0.1:PORT` of its client port.
    pub addr: String,
    /// Its full stanza log (Prosody's `stanza_debug`).
    pub log: PathBuf,
}

async fn sh(script: &PathBuf, args: &[&str], env: &[(&str, String)]) -> Result<String, Fail> {
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
        let dir = std::env::temp_dir().join(format!("esession-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Fail::protocol("server", format!("{}: {e}", dir.display())))?;
        let script = dir.join("prosody.sh");
        std::fs::write(&script, SCRIPT)
            .map_err(|e| Fail::protocol("server", format!("{}: {e}", script.display())))?;
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins)
            .and_then(|()| std::fs::write(plugins.join("mod_archive_manual.lua"), ARCHIVE_MODULE))
            .map_err(|e| Fail::protocol("server", format!("{}: {e}", plugins.display())))?;
        let plugins = plugins.to_string_lossy().into_owned();
        sh(&script, &["install"], &[]).await?;
        let server_dir = dir.join("server");
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

    /// Creates `user@localhost`.
    pub(crate) async fn register(&self, user: &str, password: &str) -> Result<(), Fail> {
        let server_dir = self.dir.join("server").to_string_lossy().into_owned();
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
        let server_dir = self.dir.join("server").to_string_lossy().into_owned();
        let _ = sh(&self.script, &["stop", &server_dir], &[]).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
