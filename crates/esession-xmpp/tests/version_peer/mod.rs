//! A peer whose client answers `jabber:iq:version` (XEP-0092) as told, approves every
//! presence subscription (RFC 6121 §3.1) and runs its engine on everything else: a
//! stand-in for a Gajim that sent no caps (issue 13 §1). Shared by the adapter's
//! `software_version` test and the CLI's `gajim_detection` test.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use esession::xml::{parse_element, Limits};
use esession::{Config, Event, MemoryStore, OsRandom, SessionInfo, Timestamp};
use esession_xmpp::{Client, ConnectOptions, TlsMode, NS_VERSION};

/// Bound for the peer's connection and answers.
pub(crate) const T: Duration = Duration::from_secs(10);

/// A client of `jid` through `addr`, advertising `features` in disco#info, online with
/// the usual initial presence (and its caps), or with `caps` false a bare `<presence/>`.
pub(crate) async fn client(
    (jid, password, addr): (&str, &str, &str),
    config: Config,
    features: &[&str],
    caps: bool,
) -> Client<MemoryStore> {
    let mut o = ConnectOptions::new(jid, password);
    o.server = Some(addr.to_owned());
    o.tls = TlsMode::Plain;
    o.timeout = T;
    o.send_presence = caps;
    o.features = features.iter().map(|f| (*f).to_owned()).collect();
    let mut client = Client::connect(o, config, MemoryStore::new(), Box::new(OsRandom))
        .await
        .unwrap();
    if !caps {
        // RFC 6121 §4.2: available (and so sent subscription requests), without caps.
        let conn = client.connection_mut();
        conn.send_xml("<presence/>").await.unwrap();
    }
    client
}

pub(crate) struct Peer {
    pub(crate) client: Client<MemoryStore>,
    /// What `<query/>` holds in its version answers (raw XML).
    pub(crate) answer: String,
    /// Version questions answered.
    pub(crate) asked: usize,
    pub(crate) established: Option<SessionInfo>,
    /// The bodies of the messages its engine delivered.
    pub(crate) bodies: Vec<String>,
}

impl Peer {
    /// A peer of `client` answering version questions with `answer`.
    pub(crate) fn new(client: Client<MemoryStore>, answer: &str) -> Peer {
        Peer {
            client,
            answer: answer.to_owned(),
            asked: 0,
            established: None,
            bodies: Vec::new(),
        }
    }

    /// Reads one stanza (100 ms at most) and answers it or hands it to the engine.
    async fn step(&mut self) {
        let conn = self.client.connection_mut();
        let Some(xml) = conn.next_stanza(Duration::from_millis(100)).await.unwrap() else {
            return;
        };
        let stanza = parse_element(&xml, &Limits::default()).unwrap();
        let from = stanza.attr("from").unwrap_or_default().to_owned();
        if stanza.name() == "presence" {
            // RFC 6121 §3.1.3–§3.1.4: approved, and asked back.
            if stanza.attr("type") == Some("subscribe") {
                for kind in ["subscribed", "subscribe"] {
                    let reply = format!("<presence to='{from}' type='{kind}'/>");
                    conn.send_xml(&reply).await.unwrap();
                }
            }
            return;
        }
        let version_get =
            stanza.attr("type") == Some("get") && stanza.child("query", NS_VERSION).is_some();
        if version_get {
            self.asked += 1;
            let reply = format!(
                "<iq type='result' to='{from}' id='{}'><query xmlns='{NS_VERSION}'>{}</query></iq>",
                stanza.attr("id").unwrap(),
                self.answer
            );
            conn.send_xml(&reply).await.unwrap();
            return;
        }
        self.client
            .engine_mut()
            .handle_stanza(stanza, Timestamp::now());
        self.client.flush().await.unwrap();
        while let Some(ev) = self.client.engine_mut().poll_event() {
            match ev {
                Event::Established(info) => self.established = Some(info),
                Event::Message {
                    body: Some(body), ..
                } => self.bodies.push(body),
                _ => {}
            }
        }
    }
}

/// Serves the peer in a task of its own (never cancelled in the middle of a send) until
/// `stop`; gives it back.
pub(crate) fn serve(mut peer: Peer, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Peer> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            peer.step().await;
        }
        peer
    })
}
