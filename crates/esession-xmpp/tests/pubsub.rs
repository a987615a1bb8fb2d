//! PEP (XEP-0163, XEP-0060) through a real server (Prosody, or the ejabberd cluster with a
//! test's first account on node 1 and its second on node 2): publish with publish-options,
//! fetch from a second account, republish with another configuration (the configure
//! fallback of profile P14), retract without notification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use esession_testkit::target;
use esession_xmpp::{ConnectOptions, Connection, NodeItems, Published, TlsMode, XmppError};

const T: Duration = Duration::from_secs(10);
const NODE: &str = "urn:example:esession-test";

async fn login(prefix: &str) -> (Connection, String) {
    let login = target().register_unique(prefix);
    let (jid, pw) = (login.jid, login.password);
    let mut o = ConnectOptions::new(&jid, &pw);
    o.server = Some(login.addr);
    o.tls = TlsMode::StartTls;
    o.timeout = T;
    o.send_presence = false;
    let conn = Connection::connect(o)
        .await
        .unwrap_or_else(|e| panic!("{jid} could not log in: {e}"));
    (conn, jid)
}

fn options(access: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("pubsub#access_model", access),
        ("pubsub#persist_items", "1"),
        ("pubsub#max_items", "1"),
        ("pubsub#send_last_published_item", "never"),
        ("pubsub#deliver_notifications", "0"),
    ]
}

fn payload(n: u32) -> String {
    format!("<thing xmlns='urn:example:thing'><n>{n}</n></thing>")
}

async fn fetch(conn: &mut Connection, jid: &str) -> NodeItems {
    conn.pubsub_items(jid, NODE, T).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_fetch_reconfigure_retract() {
    let (mut alice, alice_jid) = login("pepa").await;
    let (mut bob, _) = login("pepb").await;

    // A node that was never created is its own outcome (for its owner: Prosody checks
    // access before existence, so a stranger asking gets `forbidden` instead).
    assert_eq!(fetch(&mut alice, &alice_jid).await, NodeItems::NoSuchNode);
    match bob.pubsub_items(&alice_jid, NODE, T).await {
        Ok(NodeItems::NoSuchNode) | Err(XmppError::Stanza(_)) => {}
        other => panic!("missing node of a stranger: {other:?}"),
    }

    // First publish creates the node with the publish-options. ejabberd refuses all but
    // access_model and persist_items as publish-options ("Unknown field"): there every
    // publish takes the fallback.
    let ejabberd = target().is_ejabberd();
    let with_options = if ejabberd {
        Published::AfterConfigure
    } else {
        Published::WithOptions
    };
    let how = alice
        .pep_publish(NODE, "current", &payload(1), &options("open"), T)
        .await
        .unwrap();
    assert_eq!(how, with_options);
    let NodeItems::Items(items) = fetch(&mut bob, &alice_jid).await else {
        panic!("node missing after publish")
    };
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].id.as_deref(), Some("current"));
    let got = items[0].payload.as_deref().unwrap();
    assert!(
        got.contains("<n>1</n>") && got.contains("urn:example:thing"),
        "{got}"
    );

    // Same configuration: accepted as is.
    let how = alice
        .pep_publish(NODE, "current", &payload(2), &options("open"), T)
        .await
        .unwrap();
    assert_eq!(how, with_options);

    // Another access model: publish-options refused, node configured, published again.
    let how = alice
        .pep_publish(NODE, "current", &payload(3), &options("presence"), T)
        .await
        .unwrap();
    assert_eq!(how, Published::AfterConfigure);
    // Bob has no presence subscription: the presence access model now keeps him out.
    match bob.pubsub_items(&alice_jid, NODE, T).await {
        Err(XmppError::Stanza(c)) => assert!(!c.is_empty()),
        other => panic!("presence-only node readable by a stranger: {other:?}"),
    }

    // And back to open, again through the fallback; max_items 1 keeps one item.
    let how = alice
        .pep_publish(NODE, "current", &payload(4), &options("open"), T)
        .await
        .unwrap();
    assert_eq!(how, Published::AfterConfigure);
    let NodeItems::Items(items) = fetch(&mut bob, &alice_jid).await else {
        panic!("node missing")
    };
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0].payload.as_deref().unwrap().contains("<n>4</n>"));

    // Retract without notification: the node stays, empty.
    alice.pep_retract(NODE, "current", T).await.unwrap();
    assert_eq!(fetch(&mut bob, &alice_jid).await, NodeItems::Items(vec![]));
    // Retracting it again names the condition.
    match alice.pep_retract(NODE, "current", T).await {
        Err(XmppError::Stanza(c)) => assert!(c.starts_with("item-not-found"), "{c}"),
        other => panic!("second retract: {other:?}"),
    }

    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

/// A publish whose options the server refuses is not sent again: the refusal goes to the
/// fallback at once. ejabberd refuses the options it does not know with an error of type
/// `wait` (`resource-constraint`, "Unknown field"), which a retry on `wait` would repeat
/// three times, pausing 0.7 s, before the same fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_publish_options_are_sent_once() {
    let (mut alice, _) = login("pepo").await;
    let marker = esession_testkit::unique("once");
    let payload = format!("<thing xmlns='urn:example:thing'><n>{marker}</n></thing>");
    alice
        .pep_publish(NODE, "current", &payload, &options("open"), T)
        .await
        .unwrap();
    // The publish with options (the item, then the options) is in the server's record
    // once as received and, where it was refused, once more in the error that echoes it
    // (RFC 6120 §8.3.1); sent again on `wait` it would be there eight times.
    let with_options = format!("<n>{marker}</n></thing></item></publish><publish-options>");
    assert!(
        target().wait_for_traffic(&with_options, Duration::from_secs(5)),
        "the publish with options is not in the server's record"
    );
    let seen = target().traffic_count(&with_options);
    assert!((1..=2).contains(&seen), "seen {seen} times");
    alice.close().await.unwrap();
}

/// Accounts creating their nodes at the same moment all get them: on the ejabberd cluster
/// two creations' transactions can lock each other, and the server then answers
/// `wait`/`internal-server-error`, which is to be retried (RFC 6120 §8.3.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_created_at_the_same_moment_are_all_published() {
    const ACCOUNTS: usize = 8;
    let mut logins = Vec::new();
    for _ in 0..ACCOUNTS {
        logins.push(login("pepc").await);
    }
    let publishes = logins.into_iter().map(|(mut conn, jid)| {
        tokio::spawn(async move {
            let published = conn
                .pep_publish(NODE, "current", &payload(7), &options("presence"), T)
                .await;
            (jid, published, conn)
        })
    });
    for task in publishes.collect::<Vec<_>>() {
        let (jid, published, mut conn) = task.await.unwrap();
        if let Err(e) = published {
            panic!("{jid} could not publish: {e}");
        }
        match fetch(&mut conn, &jid).await {
            NodeItems::Items(items) => assert_eq!(items.len(), 1, "{jid}"),
            other => panic!("{jid}: {other:?}"),
        }
    }
}
