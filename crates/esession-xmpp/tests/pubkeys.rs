//! XEP-0189 (profile P14) through a real server (Prosody, or the ejabberd cluster with a
//! test's first account on node 1 and its second on node 2): a published key fetched by
//! another account and fed to its trust store, an attestation published and verified, a
//! revocation that withdraws the key and is honoured, a key requested directly (§6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use esession::pubkeys::{absorb, Attestation, Revocation};
use esession::{Config, IdentityKey, KeyStore, MemoryStore, OsRandom, Timestamp};
use esession_testkit::target;
use esession_xmpp::{Client, ConnectOptions, Connection, TlsMode};

const T: Duration = Duration::from_secs(10);
const RSA_A: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048.pk8.der");
const RSA_B: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048-b.pk8.der");

fn options(prefix: &str, presence: bool) -> (ConnectOptions, String) {
    let login = target().register_unique(prefix);
    let (jid, pw) = (login.jid, login.password);
    let mut o = ConnectOptions::new(&jid, &pw);
    o.server = Some(login.addr);
    o.tls = TlsMode::StartTls;
    o.timeout = T;
    o.send_presence = presence;
    (o, jid)
}

async fn login(prefix: &str) -> (Connection, String) {
    let (o, jid) = options(prefix, false);
    (Connection::connect(o).await.unwrap(), jid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_fetch_trust_attest_revoke() {
    let alice_key = IdentityKey::from_pkcs8_der(RSA_A).unwrap();
    let bob_key = IdentityKey::from_pkcs8_der(RSA_B).unwrap();
    let (mut alice, alice_jid) = login("pka").await;
    let (mut bob, bob_jid) = login("pkb").await;

    alice.publish_key(&alice_key.public(), T).await.unwrap();
    bob.publish_key(&bob_key.public(), T).await.unwrap();

    // Bob fetches Alice's key: a first, untrusted key, remembered for her JID.
    let got = bob.fetch_published_keys(&alice_jid, T).await.unwrap();
    assert_eq!(got.keys, vec![alice_key.public()], "{:?}", got.refused);
    assert!(got.revocations.is_empty() && got.attestations.is_empty());
    let mut store = MemoryStore::new();
    let now = Timestamp::now();
    let seen = absorb(
        &mut store,
        &bob_jid,
        &alice_jid,
        &got.keys,
        &got.revocations,
        now,
    )
    .unwrap();
    assert!(!seen[0].trusted);
    let fp = alice_key.public().fingerprint();
    assert!(store.set_trusted(&bob_jid, fp.as_bytes(), true).unwrap());
    let seen = absorb(&mut store, &bob_jid, &alice_jid, &got.keys, &[], now).unwrap();
    assert!(seen[0].trusted);

    // Bob attests Alice's key; Alice fetches the attestation and verifies it with the key
    // Bob publishes.
    let att = Attestation::create(&bob_key, &bob_jid, &alice_key.public(), now).unwrap();
    bob.publish_attestation(&att, T).await.unwrap();
    let from_bob = alice.fetch_published_keys(&bob_jid, T).await.unwrap();
    assert_eq!(from_bob.attestations.len(), 1, "{:?}", from_bob.refused);
    let a = &from_bob.attestations[0];
    assert_eq!(a.signer_jid(), bob_jid);
    a.verify(&alice_key.public(), &from_bob.keys[0]).unwrap();

    // Alice revokes her key: the revocation is published, her key withdrawn.
    let r = Revocation::create(&alice_key, now).unwrap();
    alice.publish_revocation(&r, T).await.unwrap();
    let got = bob.fetch_published_keys(&alice_jid, T).await.unwrap();
    assert!(got.keys.is_empty(), "revoked key still published");
    assert_eq!(got.revocations.len(), 1, "{:?}", got.refused);
    absorb(
        &mut store,
        &bob_jid,
        &alice_jid,
        &got.keys,
        &got.revocations,
        now,
    )
    .unwrap();
    assert!(store.revoked_at(&bob_jid, fp.as_bytes()).unwrap().is_some());
    assert!(
        !store
            .known_key(&bob_jid, fp.as_bytes())
            .unwrap()
            .unwrap()
            .trusted
    );
    assert!(store.set_trusted(&bob_jid, fp.as_bytes(), true).is_err());

    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

/// Runs `fut` while Alice's client reads its stream (and answers what it must).
async fn pump<F: std::future::Future>(alice: &mut Client<MemoryStore>, fut: F) -> F::Output {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = alice.next_event(Duration::from_millis(100)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_key_request_answered_by_the_client() {
    let alice_public = IdentityKey::from_pkcs8_der(RSA_A).unwrap().public();
    let (o, _) = options("pkda", true);
    let mut alice = Client::connect(o, Config::default(), MemoryStore::new(), Box::new(OsRandom))
        .await
        .unwrap();
    alice
        .engine_mut()
        .set_identity_key(Some(IdentityKey::from_pkcs8_der(RSA_A).unwrap()));
    let alice_full = alice.jid().to_string();
    let (mut bob, _) = login("pkdb").await;

    let features = pump(&mut alice, bob.disco_features(&alice_full, T)).await;
    let features = features.unwrap();
    assert!(
        features.iter().any(|f| f == "urn:xmpp:pubkey:2"),
        "{features:?}"
    );

    let key = pump(&mut alice, bob.request_key(&alice_full, T)).await;
    assert_eq!(key.unwrap(), alice_public);

    // Without a key, the request is refused by name.
    alice.engine_mut().set_identity_key(None);
    match pump(&mut alice, bob.request_key(&alice_full, T)).await {
        Err(esession_xmpp::XmppError::Stanza(c)) => assert_eq!(c, "item-not-found"),
        other => panic!("{other:?}"),
    }
    bob.close().await.unwrap();
}
