//! The second real server: a two-node ejabberd cluster on loopback (`scripts/ejabberd.sh`).
//!
//! [`cluster`] finds it through `ESESSION_EJABBERD_ENV` (the `env` file written by
//! `scripts/ejabberd.sh start DIR`, as `scripts/test.sh` does). Without it, the first call
//! installs ejabberd if needed and starts a private cluster on free ports, stopped by a
//! watchdog when the test process exits.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{free_port, port_free, repo_root, run_script, unique, wait_until, watchdog, EnvFile};

/// The running two-node cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The directory given to `scripts/ejabberd.sh start`.
    pub dir: PathBuf,
    /// `127.0.0.1:PORT` of each node's client port (plain TCP / STARTTLS): node 1, node 2.
    pub nodes: [String; 2],
    /// Node 1's direct-TLS client port (XEP-0368) on 127.0.0.1.
    pub tls_port: u16,
    /// The cluster's self-signed certificate.
    pub cert: PathBuf,
    /// Each node's log (stanzas at debug level).
    pub logs: Vec<PathBuf>,
}

/// `scripts/ejabberd.sh`.
fn script() -> PathBuf {
    repo_root().join("scripts/ejabberd.sh")
}

/// The cluster, found or started once per process. Also makes the cluster's certificate
/// the one `SSL_CERT_FILE` names in this process, as [`crate::server`] does for Prosody's (a process
/// runs its real-server tests against one of them, [`crate::target`]).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let env = EnvFile::find("ESESSION_EJABBERD_ENV", start_own_cluster);
        let cert = PathBuf::from(env.get("SSL_CERT_FILE"));
        crate::trust_cert(&cert);
        Cluster {
            dir: env.path.parent().unwrap().to_path_buf(),
            nodes: [env.get("ESESSION_SERVER"), env.get("ESESSION_SERVER_2")],
            tls_port: env.get("ESESSION_TLS_PORT").parse().unwrap(),
            cert,
            logs: env
                .get("ESESSION_EJABBERD_LOGS")
                .split(':')
                .map(PathBuf::from)
                .collect(),
        }
    })
}

impl Cluster {
    /// Registers a fresh `prefix…@localhost` account on the cluster, known to both nodes
    /// when this returns; returns (bare JID, password). In-band (XEP-0077), which takes
    /// milliseconds where `ejabberd.sh register` starts an Erlang node for seconds.
    ///
    /// A node may learn of an account registered through the other only a moment after
    /// the answer (a login there at once was refused with `not-authorized`), so the same
    /// registration is then sent to the other node: it answers `conflict` once it knows
    /// the account, and before that registers it again with the same password.
    pub fn register_unique(&self, prefix: &str) -> (String, String) {
        let user = unique(prefix);
        let password = format!("pw-{user}");
        let [first, second] = &self.nodes;
        register_in_band(first, &user, &password)
            .unwrap_or_else(|e| panic!("register {user} on {first}: {e}"));
        match register_in_band(second, &user, &password) {
            Ok(()) => {}
            Err(e) if e.contains("<conflict") => {}
            Err(e) => panic!("register {user} again on {second}: {e}"),
        }
        (format!("{user}@localhost"), password)
    }

    /// Deletes `user`@localhost from the cluster (`ejabberd.sh unregister`: an Erlang node
    /// of seconds; its sessions end).
    pub fn unregister(&self, user: &str) {
        run_script(
            &script(),
            &["unregister".as_ref(), self.dir.as_os_str(), user.as_ref()],
            &format!("unregister {user}"),
        );
    }

    /// Both nodes' logs so far, concatenated (empty parts if unreadable).
    pub fn log_text(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The XML each connection sent and received, reassembled from the debug log's
    /// `Received XML on stream = <<"…">>` / `Send XML on stream = <<"…">>` lines, which
    /// split a stanza wherever a socket read ended: one string per connection and
    /// direction, so a search cannot miss text that crossed a read boundary.
    pub fn streams(&self) -> Vec<String> {
        let mut streams: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for line in self.log_text().lines() {
            let Some((conn, chunk)) = stream_chunk(line) else {
                continue;
            };
            match index.get(&conn).and_then(|&i| streams.get_mut(i)) {
                Some(text) => text.push_str(&chunk),
                None => {
                    index.insert(conn, streams.len());
                    streams.push(chunk);
                }
            }
        }
        streams
    }

    /// Waits (up to `limit`) until some node's log contains `needle`; whether it did.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.log_text().contains(needle))
    }

    /// The files of both nodes' databases (offline messages, PEP items, rosters).
    pub fn spool_files(&self) -> Vec<PathBuf> {
        ["node1", "node2"]
            .iter()
            .filter_map(|node| std::fs::read_dir(self.dir.join(node).join("spool")).ok())
            .flat_map(|entries| entries.flatten().map(|e| e.path()))
            .collect()
    }
}

/// XEP-0077 §3.1 over a plain stream to `addr`: `user`@localhost with `password`
/// (names and passwords of [`unique`] need no escaping).
fn register_in_band(addr: &str, user: &str, password: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut said = String::new();
    let mut send_then_read = |out: &str, done: &dyn Fn(&str) -> bool| {
        s.write_all(out.as_bytes()).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4096];
        while !done(&said) {
            let n = s
                .read(&mut buf)
                .map_err(|e| format!("{e} after {said:?}"))?;
            if n == 0 {
                return Err(format!("stream closed after {said:?}"));
            }
            said.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
        }
        Ok::<_, String>(said.clone())
    };
    send_then_read(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>",
        &|t| t.contains("</stream:features>"),
    )?;
    let answer = send_then_read(
        &format!(
            "<iq type='set' id='reg'><query xmlns='jabber:iq:register'>\
             <username>{user}</username><password>{password}</password></query></iq>"
        ),
        &|t| {
            t.split_once("</stream:features>")
                .is_some_and(|(_, a)| a.contains("/>") || a.contains("</iq>"))
        },
    )?;
    let (_, reply) = answer.split_once("</stream:features>").unwrap_or_default();
    // Best effort: the server closes its side anyway.
    let _ = s.write_all(b"</stream:stream>");
    if reply.contains("type='result'") || reply.contains("type=\"result\"") {
        Ok(())
    } else {
        Err(format!("refused: {reply}"))
    }
}

/// (connection and direction, text) of one stream line of ejabberd's debug log:
/// `… (tcp|<0.836.0>) Received XML on stream = <<"…">>`. The text is the Erlang binary's
/// content with its escapes (`\"`, `\\`, `\n`) undone.
fn stream_chunk(line: &str) -> Option<(String, String)> {
    let (head, rest) = line.split_once(" XML on stream = <<\"")?;
    let direction = head.rsplit(' ').next()?;
    let conn = head.rsplit_once(") ")?.0.rsplit_once('(')?.1;
    let body = rest.strip_suffix("\">>")?;
    let mut text = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some(other) => text.push(other),
                None => {}
            }
        } else {
            text.push(c);
        }
    }
    Some((format!("{conn} {direction}"), text))
}

/// Four consecutive free ports on 127.0.0.1 (node 1, node 2, the private epmd, node 1's
/// direct TLS).
fn free_base() -> u16 {
    loop {
        let base = free_port();
        if base < 60000 && (1..4).all(|i| port_free(base + i)) {
            return base;
        }
    }
}

/// Starts a private cluster through `ejabberd.sh` in a fresh temporary directory, with a
/// watchdog that stops it when this process is gone; returns its `env` file.
fn start_own_cluster() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("esession-test-ejabberd-"));
    let script = script();
    let status = Command::new(&script)
        .arg("install")
        .stdout(Stdio::null())
        .status()
        .expect("run ejabberd.sh install");
    assert!(status.success(), "ejabberd.sh install failed");
    let mut started = false;
    for _ in 0..3 {
        let status = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .env("ESESSION_EJABBERD_PORT", free_base().to_string())
            .stdout(Stdio::null())
            .status()
            .expect("run ejabberd.sh start");
        if status.success() {
            started = true;
            break;
        }
        let _ = Command::new(&script).arg("stop").arg(&dir).status();
    }
    assert!(started, "ejabberd.sh start failed (see {})", dir.display());
    watchdog(&script, &dir);
    dir.join("env")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lines_are_reassembled_per_connection() {
        let line = |conn: &str, dir: &str, text: &str| {
            format!("2026-12-06 22:44:10.935288+00:00 [notice] <0.1.0> (tcp|{conn}) {dir} XML on stream = <<\"{text}\">>")
        };
        let (c, t) = stream_chunk(&line("<0.8.0>", "Received", r#"<body>sec"#)).unwrap();
        assert_eq!(
            (c.as_str(), t.as_str()),
            ("tcp|<0.8.0> Received", "<body>sec")
        );
        let (_, t) = stream_chunk(&line("<0.8.0>", "Send", r#"a=\"x\"\n\\"#)).unwrap();
        assert_eq!(t, "a=\"x\"\n\\");
        assert_eq!(stream_chunk("2026-12-06 [debug] something else"), None);
    }
}
