//! The server a real-server suite runs against, so that one suite runs against both:
//! Prosody ([`crate::server`], the default) or the two-node ejabberd cluster
//! ([`crate::cluster`]), chosen by `ESESSION_TEST_SERVER` (`prosody` or `ejabberd`).
//! `scripts/test.sh` runs the whole workspace against Prosody, then the real-server suites
//! of the adapter and the CLI again with `ESESSION_TEST_SERVER=ejabberd`.
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{cluster, server, Cluster, Server};

/// Which server [`target`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The private Prosody ([`crate::server`]).
    Prosody,
    /// The private two-node ejabberd cluster ([`crate::cluster`]).
    Ejabberd,
}

/// The server of this test process.
#[derive(Debug)]
pub enum Target {
    /// Prosody: one address.
    Prosody(&'static Server),
    /// ejabberd: accounts alternate between the nodes ([`Target::register_unique`]).
    Ejabberd(&'static Cluster),
}

/// An account a test registered, with the address it logs in through.
#[derive(Clone, Debug)]
pub struct Login {
    /// Its bare JID.
    pub jid: String,
    /// Its password.
    pub password: String,
    /// `127.0.0.1:PORT`: the client port of the node it was given (Prosody's only one).
    pub addr: String,
}

/// The server named by `ESESSION_TEST_SERVER` (Prosody when unset), found or started once
/// per process; it also sets `SSL_CERT_FILE` in this process to that server's certificate.
pub fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| match std::env::var("ESESSION_TEST_SERVER").as_deref() {
        Err(_) | Ok("" | "prosody") => Target::Prosody(server()),
        Ok("ejabberd") => Target::Ejabberd(cluster()),
        Ok(other) => panic!("ESESSION_TEST_SERVER={other}: expected prosody or ejabberd"),
    })
}

thread_local! {
    /// Whether the next account of this thread (of this test) is given node 2.
    static NEXT_ON_NODE_2: Cell<bool> = const { Cell::new(false) };
}

impl Target {
    /// Which server this is.
    pub fn kind(&self) -> Kind {
        match self {
            Target::Prosody(_) => Kind::Prosody,
            Target::Ejabberd(_) => Kind::Ejabberd,
        }
    }

    /// Whether this is the ejabberd cluster.
    pub fn is_ejabberd(&self) -> bool {
        self.kind() == Kind::Ejabberd
    }

    /// The server's self-signed certificate (what `SSL_CERT_FILE` must name).
    pub fn cert(&self) -> &Path {
        match self {
            Target::Prosody(s) => &s.cert,
            Target::Ejabberd(c) => &c.cert,
        }
    }

    /// `127.0.0.1:PORT` of the first node's client port (Prosody's only one).
    pub fn addr(&self) -> &str {
        match self {
            Target::Prosody(s) => &s.addr,
            Target::Ejabberd(c) => &c.nodes[0],
        }
    }

    /// `127.0.0.1:PORT` of the first node's direct-TLS client port (XEP-0368).
    pub fn direct_tls_addr(&self) -> String {
        let port = match self {
            Target::Prosody(s) => s.tls_port,
            Target::Ejabberd(c) => c.tls_port,
        };
        format!("127.0.0.1:{port}")
    }

    /// Registers a fresh `prefix…@localhost` account. On the cluster, the accounts a test
    /// (a thread) registers alternate between the nodes in order: its first account logs
    /// in through node 1, its second through node 2, and so on, so that a test's Alice and
    /// Bob talk across the cluster.
    pub fn register_unique(&self, prefix: &str) -> Login {
        let (jid, password, addr) = match self {
            Target::Prosody(s) => {
                let (jid, password) = s.register_unique(prefix);
                (jid, password, s.addr.clone())
            }
            Target::Ejabberd(c) => {
                let on_node_2 = NEXT_ON_NODE_2.with(|n| n.replace(!n.get()));
                let (jid, password) = c.register_unique(prefix);
                let [node_1, node_2] = &c.nodes;
                let addr = if on_node_2 { node_2 } else { node_1 };
                (jid, password, addr.clone())
            }
        };
        Login {
            jid,
            password,
            addr,
        }
    }

    /// Deletes the account `jid` (registered by [`Target::register_unique`]).
    pub fn unregister(&self, jid: &str) {
        match self {
            Target::Prosody(s) => s.unregister(jid),
            Target::Ejabberd(c) => c.unregister(jid.split('@').next().unwrap_or(jid)),
        }
    }

    /// Prosody, for a test that needs one of its fixtures (`what`: a virtual host, its
    /// configuration, its data layout); panics on the cluster, which `scripts/test.sh`
    /// therefore never runs such a test against.
    pub fn prosody(&self, what: &str) -> &'static Server {
        match self {
            Target::Prosody(s) => s,
            Target::Ejabberd(_) => {
                panic!("this test needs Prosody's {what}: run it with ESESSION_TEST_SERVER=prosody")
            }
        }
    }

    /// Waits (up to `limit`) until the server's record of the traffic holds `needle`:
    /// Prosody's stanza log, or the cluster's streams as its nodes logged them
    /// ([`Cluster::streams`]: reassembled, so a stanza split across socket reads is found).
    pub fn wait_for_traffic(&self, needle: &str, limit: Duration) -> bool {
        match self {
            Target::Prosody(s) => s.wait_for_log(needle, limit),
            Target::Ejabberd(c) => {
                crate::wait_until(limit, || c.streams().iter().any(|t| t.contains(needle)))
            }
        }
    }

    /// How many times `needle` occurs in the server's record of the traffic (see
    /// [`Target::wait_for_traffic`]).
    pub fn traffic_count(&self, needle: &str) -> usize {
        match self {
            Target::Prosody(s) => s.log_text().matches(needle).count(),
            Target::Ejabberd(c) => c.streams().iter().map(|t| t.matches(needle).count()).sum(),
        }
    }

    /// Every file of the server's stored data (offline messages, archives, PEP items).
    fn stored_files(&self) -> Vec<PathBuf> {
        match self {
            Target::Prosody(s) => s.data_files(),
            Target::Ejabberd(c) => c.spool_files(),
        }
    }

    /// Panics if the server's traffic record, logs or stored data contain `body`. `proof`
    /// (e.g. the session's thread id) must be in the traffic record: it shows the record
    /// holds this test's stanzas, so the absence of the body means something.
    pub fn assert_never_saw(&self, body: &str, proof: Option<&str>) {
        self.assert_never_saw_any(&[body], proof);
    }

    /// [`Target::assert_never_saw`] for each of `bodies`, reading the record, the logs and
    /// the stored data once.
    pub fn assert_never_saw_any(&self, bodies: &[&str], proof: Option<&str>) {
        if let Some(proof) = proof {
            assert!(
                self.wait_for_traffic(proof, Duration::from_secs(5)),
                "{proof:?} not in the {:?} server's record of the traffic: the check would prove nothing",
                self.kind()
            );
        }
        let (logs, streams) = match self {
            Target::Prosody(s) => (s.log_text(), Vec::new()),
            Target::Ejabberd(c) => (c.log_text(), c.streams()),
        };
        let stored: Vec<(PathBuf, String)> = self
            .stored_files()
            .into_iter()
            .filter_map(|path| {
                let bytes = std::fs::read(&path).ok()?;
                Some((path, String::from_utf8_lossy(&bytes).into_owned()))
            })
            .collect();
        for body in bodies {
            if let Some(stream) = streams.iter().find(|t| t.contains(body)) {
                panic!("a stream carried the plaintext {body:?}: {stream}");
            }
            if logs.contains(body) {
                let leaked: Vec<&str> = logs.lines().filter(|l| l.contains(body)).collect();
                panic!(
                    "the {:?} server's log contains the plaintext {body:?}:\n{}",
                    self.kind(),
                    leaked.join("\n")
                );
            }
            let files: Vec<&PathBuf> = stored
                .iter()
                .filter(|(_, text)| text.contains(body))
                .map(|(path, _)| path)
                .collect();
            assert!(
                files.is_empty(),
                "the server's stored data contains the plaintext {body:?}: {files:?}"
            );
        }
    }
}
