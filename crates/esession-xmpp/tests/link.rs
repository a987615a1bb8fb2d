//! A lost connection, a silent (dead) link and a refused password on reconnection, against
//! a real server (Prosody, or a node of the ejabberd cluster) through a TCP relay the test
//! controls: each loss, attempt and return is
//! reported as a `LinkEvent`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// The relay slices its buffers outside #[test] functions.
#![allow(clippy::indexing_slicing)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esession_testkit::{target, Login};
use esession_xmpp::{ConnectOptions, Connection, Keepalive, LinkEvent, TlsMode, XmppError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A relay between the client and the server. Its connections can be cut (closed), made
/// silent (nothing forwarded, sockets left open), and new ones refused.
#[derive(Clone)]
struct Relay {
    addr: String,
    /// The server's client port it relays to.
    upstream: String,
    /// Connections older than this generation are cut or silenced.
    generation: Arc<AtomicU64>,
    /// Cut (true) or silence (false) the old connections.
    cut: Arc<AtomicBool>,
    /// New connections are closed at once.
    refuse: Arc<AtomicBool>,
    /// New connections are cut this many milliseconds after they open (0: never).
    lifetime_ms: Arc<AtomicU64>,
}

impl Relay {
    /// A relay to `upstream` (`127.0.0.1:PORT`).
    async fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap().to_string(),
            upstream: upstream.to_owned(),
            generation: Arc::default(),
            cut: Arc::default(),
            refuse: Arc::default(),
            lifetime_ms: Arc::default(),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if r.refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                tokio::spawn(r.clone().serve(client));
            }
        });
        relay
    }

    async fn serve(self, client: TcpStream) {
        let born = self.generation.load(Ordering::SeqCst);
        let lifetime = match self.lifetime_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Instant::now() + Duration::from_millis(ms)),
        };
        let upstream = TcpStream::connect(&self.upstream).await.unwrap();
        let (mut cr, mut cw) = client.into_split();
        let (mut ur, mut uw) = upstream.into_split();
        let alive = || self.generation.load(Ordering::SeqCst) == born;
        let mut a = [0u8; 4096];
        let mut b = [0u8; 4096];
        use tokio::io::AsyncReadExt;
        loop {
            tokio::select! {
                n = cr.read(&mut a) => match n {
                    Ok(n) if n > 0 && alive() => { if uw.write_all(&a[..n]).await.is_err() { break } }
                    Ok(n) if n > 0 => {}
                    _ => break,
                },
                n = ur.read(&mut b) => match n {
                    Ok(n) if n > 0 && alive() => { if cw.write_all(&b[..n]).await.is_err() { break } }
                    Ok(n) if n > 0 => {}
                    _ => break,
                },
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            if !alive() && self.cut.load(Ordering::SeqCst) {
                break;
            }
            if lifetime.is_some_and(|end| Instant::now() >= end) {
                break;
            }
        }
        // Dropping both halves closes the connections.
    }

    /// Ends (cut) or silences every connection open now.
    fn break_links(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

fn options(relay: &Relay, jid: &str, password: &str) -> ConnectOptions {
    let mut o = ConnectOptions::new(jid, password);
    o.server = Some(relay.addr.clone());
    o.tls = TlsMode::Plain;
    o.timeout = Duration::from_secs(10);
    o.keepalive = Keepalive {
        idle: Duration::from_secs(1),
        answer: Duration::from_secs(1),
    };
    o
}

/// A new account (named from `prefix`) connected through a new relay.
async fn connected(prefix: &str) -> (Login, Relay, Connection) {
    let account = target().register_unique(prefix);
    let relay = Relay::start(&account.addr).await;
    let conn = Connection::connect(options(&relay, &account.jid, &account.password))
        .await
        .unwrap();
    (account, relay, conn)
}

/// Reads the stream until a link event satisfies `pick` (other events are collected).
async fn link_event(
    conn: &mut Connection,
    seen: &mut Vec<LinkEvent>,
    limit: Duration,
    pick: impl Fn(&LinkEvent) -> bool,
) -> Result<LinkEvent, XmppError> {
    let deadline = Instant::now() + limit;
    loop {
        while let Some(ev) = conn.next_link_event() {
            seen.push(ev.clone());
            if pick(&ev) {
                return Ok(ev);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no such link event within {limit:?}; seen {seen:#?}"
        );
        conn.next_stanza(Duration::from_millis(200)).await?;
    }
}

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_cut_connection_is_reported_and_reconnected_with_the_same_resource() {
    let (_, relay, mut conn) = connected("cut").await;
    let bound = conn.bound_jid().to_owned();
    let mut seen = Vec::new();
    // New connections are refused for a while: attempts are announced with their pause.
    relay.refuse.store(true, Ordering::SeqCst);
    relay.break_links(true);
    let lost = link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Lost { .. })
    })
    .await
    .unwrap();
    assert_eq!(
        lost,
        LinkEvent::Lost {
            reason: "the server closed the connection".into()
        }
    );
    assert!(!conn.is_up());
    let second = link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Reconnecting { attempt: 2, .. })
    })
    .await
    .unwrap();
    let LinkEvent::Reconnecting { after, error, .. } = second else {
        unreachable!()
    };
    assert!(after >= Duration::from_secs(1) && after <= Duration::from_secs(2));
    assert!(error.is_some(), "the first attempt's failure is named");
    relay.refuse.store(false, Ordering::SeqCst);
    let back = link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Online { .. })
    })
    .await
    .unwrap();
    let LinkEvent::Online { jid: again, .. } = back else {
        unreachable!()
    };
    assert_eq!(again, bound, "the same resource is asked for again");
    assert!(conn.is_up());
    assert!(matches!(
        seen[1],
        LinkEvent::Reconnecting { attempt: 1, .. }
    ));
}

#[tokio::test]
async fn streams_lost_soon_after_login_go_on_with_the_pauses_before_them() {
    let (_, relay, mut conn) = connected("flap").await;
    let mut seen = Vec::new();
    // From now on every connection is cut 2 s after it opens: each reconnection logs in
    // (on loopback in well under that) and is lost again, as with a server that ends
    // every new stream with a stream error.
    relay.lifetime_ms.store(2_000, Ordering::SeqCst);
    relay.break_links(true);
    for attempt in 1..=3u32 {
        let next = link_event(&mut conn, &mut seen, LIMIT, |e| {
            matches!(e, LinkEvent::Reconnecting { .. })
        })
        .await
        .unwrap();
        let LinkEvent::Reconnecting {
            attempt: got,
            after,
            ..
        } = next
        else {
            unreachable!()
        };
        // The series goes on across the short-lived logins: 1 s, 2 s, 4 s (with jitter
        // in the upper half), not 1 s each time.
        assert_eq!(got, attempt, "{seen:#?}");
        let full = Duration::from_secs(1 << (attempt - 1));
        assert!(
            after >= full / 2 && after <= full,
            "attempt {attempt}: {after:?}"
        );
        if attempt < 3 {
            link_event(&mut conn, &mut seen, LIMIT, |e| {
                matches!(e, LinkEvent::Online { .. })
            })
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn a_silent_link_is_detected_by_the_keepalive() {
    let (_, relay, mut conn) = connected("silent").await;
    let mut seen = Vec::new();
    let start = Instant::now();
    relay.break_links(false);
    let lost = link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Lost { .. })
    })
    .await
    .unwrap();
    let LinkEvent::Lost { reason } = lost else {
        unreachable!()
    };
    assert!(reason.contains("keepalive unanswered"), "{reason}");
    // idle 1 s + answer 1 s, plus the silence before the break.
    assert!(start.elapsed() < Duration::from_secs(10));
    link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Online { .. })
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_refused_password_on_reconnection_stops_the_attempts_with_a_clear_error() {
    let (account, relay, mut conn) = connected("gone").await;
    // The account disappears while the connection is down.
    relay.refuse.store(true, Ordering::SeqCst);
    relay.break_links(true);
    let mut seen = Vec::new();
    link_event(&mut conn, &mut seen, LIMIT, |e| {
        matches!(e, LinkEvent::Lost { .. })
    })
    .await
    .unwrap();
    target().unregister(&account.jid);
    relay.refuse.store(false, Ordering::SeqCst);
    let err = link_event(&mut conn, &mut seen, LIMIT, |_| false)
        .await
        .unwrap_err();
    assert!(matches!(err, XmppError::Auth(_)), "{err:?}");
    // No further attempt is announced after the refusal.
    let attempts = seen
        .iter()
        .filter(|e| matches!(e, LinkEvent::Reconnecting { .. }))
        .count();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(conn.next_link_event().is_none());
    assert!(attempts >= 1);
}
