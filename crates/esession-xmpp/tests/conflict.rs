//! Two connections with the same full JID against a real server (Prosody, or a node of the
//! ejabberd cluster): the server signs the older one out with the stream error
//! `<conflict/>` (RFC 6120 §4.9.3.3). It is reported as such, and the signed-out
//! connection stays down, so the two do not sign each other out forever; until the user
//! explicitly reconnects it, which signs the other one out in turn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use esession_testkit::target;
use esession_xmpp::{ConnectOptions, Connection, LinkEvent, SignOut, TlsMode, XmppError};

/// Longer than the first reconnection pause (at most 1 s): a connection that comes back on
/// its own shows within it.
const QUIET: Duration = Duration::from_millis(2500);
const LIMIT: Duration = Duration::from_secs(20);

/// Logs in as `full` (an account of the target server) over `tls`.
async fn connect(addr: &str, full: &str, password: &str, tls: TlsMode) -> Connection {
    let mut o = ConnectOptions::new(full, password);
    o.server = Some(addr.to_owned());
    o.tls = tls;
    o.timeout = Duration::from_secs(10);
    let conn = Connection::connect(o).await.unwrap();
    assert_eq!(conn.bound_jid(), full);
    conn
}

/// Reads both connections for `span`, returning the link events each reported.
async fn read_both(
    a: &mut Connection,
    b: &mut Connection,
    span: Duration,
) -> (Vec<LinkEvent>, Vec<LinkEvent>) {
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    let end = Instant::now() + span;
    while Instant::now() < end {
        a.next_stanza(Duration::from_millis(50)).await.unwrap();
        b.next_stanza(Duration::from_millis(50)).await.unwrap();
        seen_a.extend(std::iter::from_fn(|| a.next_link_event()));
        seen_b.extend(std::iter::from_fn(|| b.next_link_event()));
    }
    (seen_a, seen_b)
}

/// Reads both until `out` reports its sign-out; returns what each reported meanwhile.
async fn until_signed_out(
    out: &mut Connection,
    other: &mut Connection,
) -> (Vec<LinkEvent>, Vec<LinkEvent>) {
    let (mut seen_out, mut seen_other) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while !seen_out
        .iter()
        .any(|e| matches!(e, LinkEvent::SignedOut { .. }))
    {
        assert!(
            start.elapsed() < LIMIT,
            "no sign-out within {LIMIT:?}; seen {seen_out:#?}"
        );
        let (o, t) = read_both(out, other, Duration::from_millis(200)).await;
        seen_out.extend(o);
        seen_other.extend(t);
    }
    (seen_out, seen_other)
}

/// The proof that `conn` is online: the server answers it.
async fn answers(conn: &mut Connection) {
    let own = conn.bound_jid().split('/').next().unwrap().to_owned();
    conn.disco_features(&own, Duration::from_secs(5))
        .await
        .expect("the server answers a connection that is online");
}

#[tokio::test]
async fn a_connection_signed_out_by_a_conflict_stays_down_until_asked() {
    let account = target().register_unique("twice");
    let full = format!("{}/same", account.jid);
    // The first over TLS, the second in plain TCP: the stream error is read above TLS as
    // in the clear.
    let (addr, password) = (&account.addr, &account.password);
    let mut first = connect(addr, &full, password, TlsMode::StartTls).await;
    let mut second = connect(addr, &full, password, TlsMode::Plain).await;

    let (seen_first, seen_second) = until_signed_out(&mut first, &mut second).await;
    assert_eq!(
        seen_first.len(),
        1,
        "reported as a sign-out only: {seen_first:#?}"
    );
    let LinkEvent::SignedOut { jid, why, .. } = &seen_first[0] else {
        unreachable!()
    };
    assert_eq!((jid.as_str(), *why), (full.as_str(), SignOut::Conflict));
    assert!(seen_second.is_empty(), "{seen_second:#?}");
    assert!(!first.is_up());
    assert_eq!(first.signed_out(), Some(SignOut::Conflict));
    // Nothing is sent into the void: said at once.
    let sent = first
        .send_xml("<message to='nobody@localhost'><body>x</body></message>")
        .await
        .unwrap_err();
    assert!(
        matches!(
            sent,
            XmppError::SignedOut {
                why: SignOut::Conflict,
                ..
            }
        ),
        "{sent:?}"
    );
    assert_eq!(
        sent.to_string(),
        format!("signed out: another client signed in as {full}")
    );

    // Longer than a reconnection pause: the first stays down and the second online.
    let (seen_first, seen_second) = read_both(&mut first, &mut second, QUIET).await;
    assert!(seen_first.is_empty(), "no reconnection: {seen_first:#?}");
    assert!(seen_second.is_empty(), "not signed out: {seen_second:#?}");
    assert!(!first.is_up() && second.is_up());
    answers(&mut second).await;

    // Asked explicitly, the first comes back with the same resource and the second is
    // signed out in turn, and stays down.
    assert!(first.reconnect());
    assert!(!first.reconnect(), "one reconnection at a time");
    let (seen_second, seen_first) = until_signed_out(&mut second, &mut first).await;
    assert_eq!(second.signed_out(), Some(SignOut::Conflict));
    let (more_first, more_second) = read_both(&mut first, &mut second, QUIET).await;
    let seen_first: Vec<LinkEvent> = seen_first.into_iter().chain(more_first).collect();
    assert!(
        seen_first.iter().any(|e| *e
            == LinkEvent::Online {
                jid: full.clone(),
                resumed: false
            }),
        "{seen_first:#?}"
    );
    assert!(first.is_up() && first.signed_out().is_none());
    assert!(more_second.is_empty(), "no reconnection: {more_second:#?}");
    assert!(!second.is_up());
    assert_eq!(seen_second.len(), 1, "{seen_second:#?}");
    answers(&mut first).await;
    // The stream signed out has nothing left to close: closing it returns at once (it
    // used to wait out its timeout and fail).
    second.close().await.unwrap();
    first.close().await.unwrap();
}
