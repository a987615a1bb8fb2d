//! XEP-0136 against the real Prosody with the project's `mod_archive_manual`: preferences
//! round trip, upload, list with result set paging, retrieve, remove, error conditions and
//! the archive-key record in private storage. ejabberd has no XEP-0136: only the last
//! (XEP-0049 private storage) runs against its cluster too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use esession::archive::{
    ArchiveKeyInfo, Collection, Direction, Entry, ItemPref, ListQuery, OtrMode, RsmQuery, SaveMode,
};
use esession::Timestamp;
use esession_testkit::{target, Login};
use esession_xmpp::{ConnectOptions, Connection, TlsMode, XmppError};

const T: Duration = Duration::from_secs(10);

/// Logs `account` in, as `account.jid/resource` if a resource is given.
async fn login(account: &Login, resource: Option<&str>) -> Connection {
    let jid = match resource {
        Some(r) => format!("{}/{r}", account.jid),
        None => account.jid.clone(),
    };
    let mut o = ConnectOptions::new(&jid, &account.password);
    o.server = Some(account.addr.clone());
    o.tls = TlsMode::Plain;
    o.timeout = T;
    o.send_presence = false;
    Connection::connect(o).await.unwrap()
}

fn collection(with: &str, start: u64, bodies: &[&str]) -> Collection {
    let mut c = Collection::new(with, Timestamp(start), Some("thread-x"));
    for (i, b) in bodies.iter().enumerate() {
        c.entries.push(Entry {
            dir: if i % 2 == 0 {
                Direction::To
            } else {
                Direction::From
            },
            secs: Some(1),
            utc: None,
            body: (*b).into(),
        });
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_round_trip() {
    let account = target().register_unique("prefs");
    let mut c = login(&account, None).await;
    let p = c.archive_prefs(T).await.unwrap();
    assert!(p.unset, "a new account has unset defaults");
    assert_eq!(p.auto_save, Some(false));
    c.archive_set_default(OtrMode::Approve, SaveMode::Body, T)
        .await
        .unwrap();
    let item = ItemPref {
        jid: "romeo@montague.net".into(),
        otr: OtrMode::Require,
        save: SaveMode::False,
        expire: Some(60),
        exact: false,
    };
    c.archive_set_item(&item, T).await.unwrap();
    // A second client of the account reads the same preferences.
    let mut other = login(&account, Some("other")).await;
    let p = other.archive_prefs(T).await.unwrap();
    assert!(!p.unset);
    assert_eq!(
        (p.default_otr, p.default_save),
        (OtrMode::Approve, SaveMode::Body)
    );
    assert_eq!(p.items, vec![item]);
    assert_eq!(p.otr_for("romeo@montague.net/orchard"), OtrMode::Require);
    other
        .archive_remove_item("romeo@montague.net", T)
        .await
        .unwrap();
    assert!(c.archive_prefs(T).await.unwrap().items.is_empty());
    other.close().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_pages_retrieve_remove() {
    let account = target().register_unique("coll");
    let mut c = login(&account, None).await;
    // Five collections, more than one page of 2.
    for i in 0..5u64 {
        let v = c
            .archive_save(
                &collection("bob@localhost", 1_700_000_000 + i, &["a", "b", "c"]),
                T,
            )
            .await
            .unwrap();
        assert_eq!(v, Some(0));
    }
    // Appending to an existing collection bumps its version (§5.2).
    let v = c
        .archive_save(&collection("bob@localhost", 1_700_000_000, &["d"]), T)
        .await
        .unwrap();
    assert_eq!(v, Some(1));
    c.archive_save(&collection("carol@localhost/r", 1_600_000_000, &["x"]), T)
        .await
        .unwrap();

    let q = ListQuery {
        with: Some("bob@localhost".into()),
        rsm: RsmQuery {
            max: Some(2),
            ..RsmQuery::default()
        },
        ..ListQuery::default()
    };
    let first = c.archive_list(&q, T).await.unwrap();
    assert_eq!(first.collections.len(), 2);
    let rsm = first.rsm.clone().unwrap();
    assert_eq!((rsm.count, rsm.first_index), (Some(5), Some(0)));
    let all = c.archive_list_all(&q, 100, T).await.unwrap();
    let starts: Vec<_> = all.iter().map(|c| c.start.clone()).collect();
    let want: Vec<_> = (0..5)
        .map(|i| Timestamp(1_700_000_000 + i).to_datetime())
        .collect();
    assert_eq!(starts, want, "chronological, every page once");
    // The last page (<before/>), and a list of everything (bare JID matches resources).
    let last = c
        .archive_list(
            &ListQuery {
                rsm: RsmQuery {
                    max: Some(2),
                    before: Some(String::new()),
                    ..RsmQuery::default()
                },
                ..ListQuery::default()
            },
            T,
        )
        .await
        .unwrap();
    assert_eq!(last.collections.len(), 2);
    assert_eq!(last.collections[1].start, want[4]);
    let carol = c
        .archive_list_all(
            &ListQuery {
                with: Some("carol@localhost".into()),
                ..ListQuery::default()
            },
            100,
            T,
        )
        .await
        .unwrap();
    assert_eq!(carol.len(), 1);
    assert_eq!(carol[0].with, "carol@localhost/r");

    // Retrieve in pages of 3 gives all 4 messages of the appended collection.
    let whole = c
        .archive_retrieve_all("bob@localhost", &want[0], 3, 1000, T)
        .await
        .unwrap();
    let bodies: Vec<_> = whole.entries.iter().map(|e| e.body.as_str()).collect();
    assert_eq!(bodies, ["a", "b", "c", "d"]);
    assert_eq!(whole.version, Some(1));
    assert_eq!(whole.thread.as_deref(), Some("thread-x"));
    assert_eq!(
        c.archive_count("bob@localhost", &want[0], T).await.unwrap(),
        Some(4)
    );

    // Remove one; it is gone, and removing or retrieving it again is item-not-found.
    c.archive_remove("bob@localhost", &want[0], T)
        .await
        .unwrap();
    assert_eq!(c.archive_list_all(&q, 100, T).await.unwrap().len(), 4);
    for r in [
        c.archive_remove("bob@localhost", &want[0], T).await,
        c.archive_retrieve("bob@localhost", &want[0], &RsmQuery::default(), T)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(XmppError::Stanza(ref s)) if s == "item-not-found"),
            "{r:?}"
        );
    }
    // An empty message is bad-request (§4.6).
    let mut empty = collection("bob@localhost", 1_700_000_100, &["x"]);
    empty.entries[0].body = " ".into();
    empty.entries[0].body.clear();
    assert!(c.archive_save(&empty, T).await.is_err());
    let raw = esession::Element::new("save", esession::archive::NS).with_child(
        esession::Element::new("chat", esession::archive::NS)
            .with_attr("with", "bob@localhost")
            .with_attr("start", "not a time"),
    );
    assert!(matches!(
        c.iq("set", None, &raw, T).await,
        Err(XmppError::Stanza(ref s)) if s == "bad-request"
    ));
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_key_record_in_private_storage() {
    let account = target().register_unique("akey");
    let mut c = login(&account, None).await;
    assert_eq!(c.archive_key_info(T).await.unwrap(), None);
    let info = ArchiveKeyInfo {
        salt: [9; 16],
        m_kib: 64,
        t_cost: 1,
        p_cost: 1,
        check: vec![1, 2, 3, 4],
    };
    c.set_archive_key_info(&info, T).await.unwrap();
    let mut other = login(&account, Some("two")).await;
    assert_eq!(other.archive_key_info(T).await.unwrap(), Some(info));
    other.close().await.unwrap();
    c.close().await.unwrap();
}
