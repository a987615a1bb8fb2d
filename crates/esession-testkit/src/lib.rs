//! Test support (never published): the private Prosody server of the real-server tests.
//!
//! [`server`] finds the server through `ESESSION_TEST_ENV` (the `env` file written by
//! `scripts/prosody.sh start DIR`, as `scripts/test.sh` does). Without it, the first call
//! installs Prosody if needed and starts a private server on free ports in a temporary
//! directory through `scripts/prosody.sh`; a watchdog process stops it and removes the
//! directory when the test process exits.
//!
//! [`cluster`] is the second server: a two-node ejabberd cluster (`scripts/ejabberd.sh`).
//! [`target`] is the one a suite runs against (`ESESSION_TEST_SERVER`), so that one suite
//! runs against both.
//!
//! Accounts come from [`Server::register_unique`], so that tests running in parallel (and
//! repeated runs against one server) never share an account.
// Test support: a failure to set up the server is a test failure, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod cluster;
mod target;
pub use cluster::{cluster, Cluster};
pub use target::{target, Kind, Login, Target};

/// The running test server.
#[derive(Debug)]
pub struct Server {
    /// The directory given to `scripts/prosody.sh start` (config, data, certificate, log).
    pub dir: PathBuf,
    /// `127.0.0.1:PORT` of the client port (plain TCP / STARTTLS).
    pub addr: String,
    /// The direct-TLS client port (XEP-0368) on 127.0.0.1.
    pub tls_port: u16,
    /// Prosody's log, with every stanza (`stanza_debug`).
    pub log: PathBuf,
    /// Prosody's configuration file.
    pub config: PathBuf,
    /// The server's self-signed certificate (what `SSL_CERT_FILE` must name).
    pub cert: PathBuf,
    /// A second virtual host whose only SASL mechanism is PLAIN.
    pub plain_only_domain: String,
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `scripts/prosody.sh`.
pub fn prosody_script() -> PathBuf {
    repo_root().join("scripts/prosody.sh")
}

/// A TCP port on 127.0.0.1 that nobody listened on a moment ago (bound, noted, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test server, found or started once per process. Also sets `SSL_CERT_FILE` in this
/// process to the server's certificate (for TLS connections made in-process).
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = Server::of(&EnvFile::find("ESESSION_TEST_ENV", start_own_server));
        trust_cert(&server.cert);
        server
    })
}

/// Makes `cert` the certificate TLS connections of this process trust:
/// rustls-native-certs reads `SSL_CERT_FILE` at each connection. `scripts/test.sh`
/// exports it for the server it runs the tests against, before the test process starts;
/// only a test run some other way sets it here, inside the `OnceLock` of its server and
/// before any connection of this process (another test thread may still read the
/// environment meanwhile: run through the script to have no such race).
pub(crate) fn trust_cert(cert: &Path) {
    if std::env::var_os("SSL_CERT_FILE").as_deref() != Some(cert.as_os_str()) {
        std::env::set_var("SSL_CERT_FILE", cert);
    }
}

/// A server of the calling test alone, started as [`server`] starts one (and stopped when
/// the test process exits), for a test that pauses or stops it. Its certificate is not
/// the one of `SSL_CERT_FILE`: connect to it without TLS (`--tls plain`).
pub fn private_server() -> Server {
    Server::of(&EnvFile::read(start_own_server()))
}

/// The `env` file a server script wrote (`KEY=value` lines).
struct EnvFile {
    path: PathBuf,
    vars: HashMap<String, String>,
}

impl EnvFile {
    /// The file named by the environment variable `var`, or the one of a server `start`s.
    fn find(var: &str, start: fn() -> PathBuf) -> EnvFile {
        EnvFile::read(std::env::var_os(var).map_or_else(start, PathBuf::from))
    }

    /// The file at `path`.
    fn read(path: PathBuf) -> EnvFile {
        let vars = read_env_file(&path);
        EnvFile { path, vars }
    }

    /// The value of `key` (a test failure if it is missing).
    fn get(&self, key: &str) -> String {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing in {}", self.path.display()))
            .clone()
    }
}

/// Runs `script ARGS` (a server script's `register`); a failure names `what`.
fn run_script(script: &Path, args: &[&std::ffi::OsStr], what: &str) {
    let out = Command::new(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `done` every 100 ms for up to `limit`; whether it became true.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    /// The server of the `env` file `env`.
    fn of(env: &EnvFile) -> Server {
        let config = PathBuf::from(env.get("ESESSION_PROSODY_CONFIG"));
        Server {
            dir: config.parent().unwrap().to_path_buf(),
            addr: env.get("ESESSION_SERVER"),
            tls_port: env.get("ESESSION_TLS_PORT").parse().unwrap(),
            log: PathBuf::from(env.get("ESESSION_PROSODY_LOG")),
            config,
            cert: PathBuf::from(env.get("SSL_CERT_FILE")),
            plain_only_domain: env.get("ESESSION_PLAIN_ONLY_DOMAIN"),
        }
    }

    /// Freezes the server process (SIGSTOP) until the guard is dropped (SIGCONT): its TCP
    /// connections stay open and nothing answers on them, as on a dead link.
    pub fn pause(&self) -> Paused {
        let pid = std::fs::read_to_string(self.dir.join("prosody.pid")).unwrap();
        let pid = pid.trim().to_owned();
        signal("STOP", &pid);
        Paused { pid }
    }

    /// Stops the server (SIGTERM, as a shutdown: it closes every stream).
    pub fn stop(&self) {
        run_script(
            &prosody_script(),
            &["stop".as_ref(), self.dir.as_os_str()],
            "prosody.sh stop",
        );
    }

    /// Starts the server again after [`Server::stop`], on the same ports and with the same
    /// data (accounts, rosters), as a restarted server comes back. Its log starts anew.
    pub fn start_again(&self) {
        let port = |addr: &str| addr.rsplit(':').next().unwrap_or_default().to_owned();
        // The ports may linger for a moment after the stop: retry.
        for _ in 0..20 {
            let status = Command::new(prosody_script())
                .arg("start")
                .arg(&self.dir)
                .env("ESESSION_C2S_PORT", port(&self.addr))
                .env("ESESSION_TLS_PORT", self.tls_port.to_string())
                .stdout(Stdio::null())
                .status()
                .expect("run prosody.sh start");
            if status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("prosody.sh start failed again in {}", self.dir.display());
    }

    /// Creates `user@localhost` with `password` (through `prosody.sh register`).
    pub fn register(&self, user: &str, password: &str) {
        self.register_at("localhost", user, password);
    }

    /// Creates `user@domain` with `password`; `domain` is `localhost` or
    /// [`Server::plain_only_domain`].
    pub fn register_at(&self, domain: &str, user: &str, password: &str) {
        run_script(
            &prosody_script(),
            &[
                "register".as_ref(),
                self.dir.as_os_str(),
                user.as_ref(),
                password.as_ref(),
                domain.as_ref(),
            ],
            &format!("register {user}"),
        );
    }

    /// Deletes the account `jid` (`prosodyctl deluser`).
    pub fn unregister(&self, jid: &str) {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.config)
            .arg("deluser")
            .arg(jid)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "prosodyctl deluser {jid}: {out:?}");
    }

    /// Registers a fresh account whose user name starts with `prefix` (lowercase letters
    /// and digits advised); returns (bare JID, password).
    pub fn register_unique(&self, prefix: &str) -> (String, String) {
        self.register_unique_at("localhost", prefix)
    }

    /// [`Server::register_unique`] on `domain` (as [`Server::register_at`]).
    pub fn register_unique_at(&self, domain: &str, prefix: &str) -> (String, String) {
        let user = unique(prefix);
        let password = format!("pw-{user}");
        self.register_at(domain, &user, &password);
        (format!("{user}@{domain}"), password)
    }

    /// The server's log so far (empty if it cannot be read).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `limit`) until the log contains `needle`; whether it did. Prosody
    /// writes its log as it goes, so a stanza shows up there shortly after it was routed.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.log_text().contains(needle))
    }

    /// Prosody's data directory (accounts, offline messages, archives).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The files under [`Server::data_dir`] whose content contains `needle`.
    pub fn data_files_containing(&self, needle: &str) -> Vec<PathBuf> {
        files_containing(self.data_files(), needle)
    }

    /// Every file under [`Server::data_dir`].
    pub fn data_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut todo = vec![self.data_dir()];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.flatten().map(|e| e.path()) {
                if path.is_dir() {
                    todo.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    }
}

/// Those of `files` whose content contains `needle` (unreadable ones do not).
fn files_containing(files: Vec<PathBuf>, needle: &str) -> Vec<PathBuf> {
    files
        .into_iter()
        .filter(|path| {
            std::fs::read(path)
                .map(|bytes| contains_bytes(&bytes, needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// A name no other call (in any process, on any run) returns: `prefix`, process id, a
/// counter and the clock's microseconds.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_micros()
    )
}

/// Whether nothing listens on 127.0.0.1:`port` (a connection attempt is refused).
fn port_free(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// A server process frozen by [`Server::pause`]; dropping it lets the process run again.
#[derive(Debug)]
pub struct Paused {
    pid: String,
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("CONT", &self.pid);
    }
}

/// Sends signal `name` to process `pid` (with kill(1)).
fn signal(name: &str, pid: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid)
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Whether `needle` occurs in `haystack` (the servers' logs, tens of MB; a debug
/// binary, hundreds).
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn read_env_file(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Starts a private server through `prosody.sh` in a fresh temporary directory, with a
/// watchdog that stops it when this process is gone; returns its `env` file.
fn start_own_server() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("esession-test-server-"));
    let script = prosody_script();
    let status = Command::new(&script)
        .arg("install")
        .stdout(Stdio::null())
        .status()
        .expect("run prosody.sh install");
    assert!(status.success(), "prosody.sh install failed");
    // Free ports may be taken by someone else between the check and the start: retry.
    let mut started = false;
    for _ in 0..5 {
        let (c2s, tls) = (free_port(), free_port());
        if c2s == tls {
            continue;
        }
        let status = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .env("ESESSION_C2S_PORT", c2s.to_string())
            .env("ESESSION_TLS_PORT", tls.to_string())
            .stdout(Stdio::null())
            .status()
            .expect("run prosody.sh start");
        if status.success() {
            started = true;
            break;
        }
    }
    assert!(started, "prosody.sh start failed (see {})", dir.display());
    watchdog(&script, &dir);
    dir.join("env")
}

/// Spawns a shell that waits for this process to end, then runs `SCRIPT stop DIR` and
/// removes DIR.
fn watchdog(script: &Path, dir: &Path) {
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; '{script}' stop '{dir}' >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        script = script.display(),
        dir = dir.display(),
    );
    // The watchdog must outlive this process, so it is never waited for.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn watchdog");
}
