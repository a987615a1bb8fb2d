//! Running the `esession` binary against the test server ([`target`]: Prosody, or the
//! ejabberd cluster with a test's accounts alternating between its nodes): accounts with
//! their own state directory, child processes whose JSON events are read with a bound, and
//! which are killed if a test fails (the guard's `Drop`).
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub(crate) use esession_testkit::target;

#[allow(dead_code)]
pub(crate) mod tmux;

/// A configuration directory that does not exist: the programs under test never read the
/// configuration file of the user running the tests (`XDG_CONFIG_HOME`).
pub(crate) fn no_config_dir() -> String {
    std::env::temp_dir()
        .join("esession-tests-no-config")
        .display()
        .to_string()
}

/// A registered account, the address it logs in through and its private `--state`
/// directory.
pub(crate) struct Account {
    pub jid: String,
    pub password: String,
    /// The client port of its server (of its node of the cluster).
    pub addr: String,
    pub state: TempDir,
}

impl Account {
    /// Registers a fresh account (`prefix` + a unique tail) on [`target`]: on the cluster,
    /// a test's first account logs in through node 1, its second through node 2, ….
    pub(crate) fn new(prefix: &str) -> Account {
        let login = target().register_unique(prefix);
        Account {
            jid: login.jid,
            password: login.password,
            addr: login.addr,
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// Registers a fresh account on Prosody's virtual host `domain`.
    #[allow(dead_code)]
    pub(crate) fn at(domain: &str, prefix: &str) -> Account {
        let s = target().prosody("virtual hosts");
        let (jid, password) = s.register_unique_at(domain, prefix);
        Account {
            jid,
            password,
            addr: s.addr.clone(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// Registers a fresh account on `server`, a Prosody of the test's own
    /// ([`esession_testkit::private_server`]).
    #[allow(dead_code)]
    pub(crate) fn on(server: &esession_testkit::Server, prefix: &str) -> Account {
        let (jid, password) = server.register_unique(prefix);
        Account {
            jid,
            password,
            addr: server.addr.clone(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// The same account as the full JID `self.jid/resource`, with a state directory of its
    /// own (another device signing in with the same resource).
    #[allow(dead_code)]
    pub(crate) fn as_resource(&self, resource: &str) -> Account {
        Account {
            jid: format!("{}/{resource}", self.jid),
            password: self.password.clone(),
            addr: self.addr.clone(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// The user name (local part).
    pub(crate) fn user(&self) -> &str {
        self.jid.split('@').next().unwrap()
    }

    /// Removes everything in the state directory (retained secrets, history).
    pub(crate) fn wipe_state(&self) {
        for entry in std::fs::read_dir(self.state.path()).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }

    /// `--server ADDR --tls plain --json --state DIR`: its node and its state directory,
    /// without the account (a test then gives `--jid` and the password as it wants).
    pub(crate) fn connection_args(&self) -> Vec<String> {
        connection_args(&self.addr, &self.state)
    }

    /// `--server ADDR --tls plain --json --state DIR --jid JID --password PW` followed by
    /// `args`.
    pub(crate) fn args(&self, args: &[&str]) -> Vec<String> {
        let mut v = self.connection_args();
        v.extend(
            [
                "--jid",
                self.jid.as_str(),
                "--password",
                self.password.as_str(),
            ]
            .map(str::to_owned),
        );
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// [`Account::args`] without `--json`: the text output a person reads.
    #[allow(dead_code)]
    pub(crate) fn text_args(&self, args: &[&str]) -> Vec<String> {
        let mut v = self.args(args);
        v.retain(|a| a != "--json");
        v
    }
}

/// `--server ADDR --tls plain --json --state DIR`.
fn connection_args(addr: &str, state: &TempDir) -> Vec<String> {
    vec![
        "--server".into(),
        addr.to_owned(),
        "--tls".into(),
        "plain".into(),
        "--json".into(),
        "--state".into(),
        state.path().to_string_lossy().into_owned(),
    ]
}

/// A running `esession`. Its stdout lines are read by a thread into a channel, its stderr
/// kept for failure messages. Dropping it kills the process.
pub(crate) struct Proc {
    name: String,
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `esession ARGS` (`name` is for messages).
    pub(crate) fn spawn(name: &str, args: &[String]) -> Proc {
        Self::spawn_with(name, args, Stdio::null(), &[])
    }

    /// Starts `esession ARGS` with extra environment variables.
    #[allow(dead_code)]
    pub(crate) fn spawn_env(name: &str, args: &[String], env: &[(&str, &str)]) -> Proc {
        Self::spawn_with(name, args, Stdio::null(), env)
    }

    /// Starts `esession ARGS` with its standard input piped; returns the pipe too.
    #[allow(dead_code)]
    pub(crate) fn spawn_interactive(
        name: &str,
        args: &[String],
    ) -> (Proc, std::process::ChildStdin) {
        Self::spawn_interactive_env(name, args, &[])
    }

    /// [`Proc::spawn_interactive`] with extra environment variables.
    #[allow(dead_code)]
    pub(crate) fn spawn_interactive_env(
        name: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> (Proc, std::process::ChildStdin) {
        let mut p = Self::spawn_with(name, args, Stdio::piped(), env);
        let stdin = p.child.stdin.take().unwrap();
        (p, stdin)
    }

    fn spawn_with(name: &str, args: &[String], stdin: Stdio, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_esession"));
        cmd.args(args)
            .env_remove("ESESSION_PASSWORD")
            .env_remove("ESESSION_PEER_PASSWORD")
            .env_remove("ESESSION_LOG")
            .env("XDG_CONFIG_HOME", no_config_dir())
            .env("SSL_CERT_FILE", target().cert());
        // After the removals: a test may set ESESSION_LOG.
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start esession ({name}): {e}"));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
            status: None,
        }
    }

    /// What the process printed so far (for failure messages).
    pub(crate) fn transcript(&self) -> String {
        format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}",
            self.name,
            self.seen.join("\n"),
            self.name,
            self.stderr.lock().unwrap()
        )
    }

    /// The stdout lines parsed as JSON (lines that are not JSON are skipped).
    pub(crate) fn events(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events named `name` (`"established"`, `"message"`, …).
    pub(crate) fn events_named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// The one event named `name`; panics if there is not exactly one.
    pub(crate) fn only(&self, name: &str) -> Value {
        let evs = self.events_named(name);
        assert_eq!(
            evs.len(),
            1,
            "expected one {name:?} event\n{}",
            self.transcript()
        );
        evs.into_iter().next().unwrap()
    }

    /// Reads stdout until an event satisfies `pick` (within `limit`); panics otherwise.
    pub(crate) fn wait_event(
        &mut self,
        what: &str,
        limit: Duration,
        pick: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        // Events already read count too.
        if let Some(ev) = self.events().into_iter().find(|e| pick(e)) {
            return ev;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line);
                    let last = self.seen.last().unwrap();
                    if let Ok(ev) = serde_json::from_str::<Value>(last) {
                        if pick(&ev) {
                            return ev;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no {what} within {limit:?}\n{}",
                        self.name,
                        self.transcript()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "{}: output ended without {what} (exit {:?})\n{}",
                        self.name,
                        self.child.try_wait().ok().flatten(),
                        self.transcript()
                    )
                }
            }
        }
    }

    /// Reads whatever the process prints within `dur` (never fails).
    pub(crate) fn drain(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
    }

    /// Waits for the event named `name`.
    pub(crate) fn wait_named(&mut self, name: &str, limit: Duration) -> Value {
        self.wait_event(&format!("{name:?} event"), limit, |e| e["event"] == name)
    }

    /// Waits (up to `limit`) for the process to exit and for all its output; its exit
    /// code (-1 if killed by a signal). Panics (and the guard kills it) on time-out.
    pub(crate) fn finish(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: still running after {limit:?}\n{}",
                    self.name,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.status = Some(status);
        // The pipe closes once the process (and any child holding it) is gone.
        loop {
            let left =
                (deadline + Duration::from_secs(2)).saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: stdout still open after exit\n{}",
                        self.name,
                        self.transcript()
                    )
                }
            }
        }
        // Let the stderr reader catch up (for messages only).
        std::thread::sleep(Duration::from_millis(20));
        status.code().unwrap_or(-1)
    }

    /// What the process printed on stderr so far.
    #[allow(dead_code)]
    pub(crate) fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Its process id.
    #[allow(dead_code)]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (never waits).
    #[allow(dead_code)]
    pub(crate) fn exited(&mut self) -> bool {
        self.status.is_some() || self.child.try_wait().unwrap().is_some()
    }

    /// Crashes the process (SIGKILL on unix) and waits for it and its output; its exit code
    /// as [`Proc::finish`] gives it: -1 if the kill ended it, its own code if it had already
    /// exited by itself.
    #[allow(dead_code)]
    pub(crate) fn kill(&mut self, limit: Duration) -> i32 {
        // An error only means that the process is gone already.
        let _ = self.child.kill();
        self.finish(limit)
    }

    /// Asks the process to stop cleanly (SIGTERM, as `kill` does) and waits for it.
    pub(crate) fn stop(&mut self, limit: Duration) -> i32 {
        self.signal_term();
        self.finish(limit)
    }

    /// Sends SIGTERM (as `kill` does), without waiting.
    pub(crate) fn signal_term(&mut self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (`TERM`, `HUP`, `INT`), without waiting.
    pub(crate) fn signal(&mut self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {} failed", self.child.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `esession ARGS` to completion (bounded by `limit`); the finished process.
pub(crate) fn run(name: &str, args: &[String], limit: Duration) -> (i32, Proc) {
    let mut p = Proc::spawn(name, args);
    let code = p.finish(limit);
    (code, p)
}

/// A message body no other test (or run) uses.
pub(crate) fn unique_body(what: &str) -> String {
    format!("{what} {}", esession_testkit::unique("secret-"))
}

/// Panics if the server's record of the traffic, its logs or its stored data (offline
/// messages, archives) contain `body` ([`esession_testkit::Target::assert_never_saw`]).
/// `proof` must be in that record (e.g. the session's thread id): it shows the record holds
/// this test's stanzas, so the absence of the body means something.
pub(crate) fn assert_server_never_saw(body: &str, proof: Option<&str>) {
    target().assert_never_saw(body, proof);
}

/// A TCP relay between a client and its server whose connections the test can cut: the
/// server sees the connection close as if the network had dropped it (the client's
/// stream can then be resumed, XEP-0198), and the client sees it end.
#[allow(dead_code)]
pub(crate) struct CutRelay {
    /// The address to give the client as its server.
    pub addr: String,
    open: Arc<Mutex<Vec<std::net::TcpStream>>>,
    /// New connections are closed at once.
    refuse: Arc<std::sync::atomic::AtomicBool>,
}

#[allow(dead_code)]
impl CutRelay {
    /// A relay to `upstream` (`127.0.0.1:PORT`), accepting connections until the test ends.
    pub(crate) fn start(upstream: &str) -> CutRelay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let refuse: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (upstream, kept, refused) = (upstream.to_owned(), open.clone(), refuse.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if refused.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let pipe = |from: &std::net::TcpStream, to: &std::net::TcpStream| {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    std::thread::spawn(move || {
                        drop(std::io::copy(&mut from, &mut to));
                        drop(to.shutdown(std::net::Shutdown::Both));
                    });
                };
                pipe(&client, &server);
                pipe(&server, &client);
                kept.lock().unwrap().extend([client, server]);
            }
        });
        CutRelay { addr, open, refuse }
    }

    /// Closes new connections at once (`true`), or relays them again.
    pub(crate) fn refuse(&self, refuse: bool) {
        self.refuse
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }

    /// Closes every connection open now, both ways.
    pub(crate) fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            drop(s.shutdown(std::net::Shutdown::Both));
        }
    }
}
