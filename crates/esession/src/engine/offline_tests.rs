//! Offline sessions in memory (XEP-0187, profile P11): Alice publishes, Bob sends while she
//! is away, Alice logs in and decrypts; every check of "Alice's checks, in order", replay,
//! expiry, the signature and the trust of Alice's key.
use super::tests::{ALICE, BOB, NOW};
use super::*;
use crate::config::{AcceptPolicy, Config};
use crate::crypto::pubkey::IdentityKey;
use crate::engine::tests::{bare, full};
use crate::error::{
    ErrorKind, IdentityFault, OfflineOptionsFault, PeerMisbehaved, Rejected, Replay, Usage,
};
use crate::event::EndedBy;
use crate::offline::OfflineSetKind;
use crate::random::SeededRandom;
use crate::store::{KeyStore, MemoryStore, OfflineStore};
use crate::trust::Provenance;
use crate::xml::Node;

const RSA_A: &[u8] = include_bytes!("../../tests/keys/rsa2048.pk8.der");
const DSA_B: &[u8] = include_bytes!("../../tests/keys/dsa2048.pk8.der");
const ALICE_BARE: &str = "alice@example.org";
const BOB_BARE: &str = "bob@example.com";
/// One day after NOW.
const EXPIRES: Timestamp = Timestamp(NOW.0 + 86_400);

fn config() -> Config {
    Config {
        groups: vec![14, 15],
        ..Config::default()
    }
}

fn engine(own: &str, label: &str, store: MemoryStore, key: &[u8]) -> Engine<MemoryStore> {
    let mut e = Engine::new(
        full(own),
        config(),
        store,
        Box::new(SeededRandom::from_label(label)),
    );
    e.set_identity_key(Some(IdentityKey::from_pkcs8_der(key).unwrap()));
    e
}

/// Records `key` as presented by `jid` in `store` of `own`, trusted or not.
fn know(store: &mut MemoryStore, own: &str, jid: &str, key: &[u8], trusted: bool) {
    let public = IdentityKey::from_pkcs8_der(key).unwrap().public();
    let fp = *public.fingerprint().as_bytes();
    store
        .record_sighting(
            own,
            &fp,
            &public.normalized(),
            jid,
            NOW,
            Provenance::Session,
        )
        .unwrap();
    store.set_trusted(own, &fp, trusted).unwrap();
}

/// Alice after publishing `kind` (her store), and the published options.
fn published(kind: OfflineSetKind, match_resource: Option<&str>) -> (MemoryStore, Element) {
    let mut alice = engine(ALICE, "offline/a", MemoryStore::new(), RSA_A);
    let x = alice
        .publish_offline(kind, EXPIRES, match_resource, NOW)
        .unwrap();
    (alice.core.store, x)
}

/// Bob with Alice's key known (trusted or not).
fn bob(trusted: Option<bool>) -> Engine<MemoryStore> {
    let mut store = MemoryStore::new();
    if let Some(t) = trusted {
        know(&mut store, BOB_BARE, ALICE_BARE, RSA_A, t);
    }
    engine(BOB, "offline/b", store, DSA_B)
}

/// Alice logging in over `store`: sets loaded, subscriber set withdrawn.
fn login(store: MemoryStore) -> Engine<MemoryStore> {
    let mut alice = engine(ALICE, "offline/a2", store, RSA_A);
    alice.load_offline_sets(NOW).unwrap();
    alice.withdraw_offline(OfflineSetKind::Subscriber).unwrap();
    alice
}

fn body(text: &str) -> Vec<Element> {
    vec![Element::new("body", ns::JABBER_CLIENT).with_text(text)]
}

/// Bob's stanzas as the server stores and delivers them (`from` stamped).
fn drain(bob: &mut Engine<MemoryStore>) -> Vec<Element> {
    std::iter::from_fn(|| bob.poll_outgoing())
        .map(|mut s| {
            s.set_attr("from", BOB);
            s
        })
        .collect()
}

/// Bob sends two messages and terminates; returns the thread and the stanzas.
fn bob_sends(options: &Element) -> (String, Vec<Element>) {
    let mut bob = bob(Some(true));
    let thread = bob
        .start_offline(&bare(ALICE_BARE), options, body("first"), NOW)
        .unwrap();
    bob.send_message(&thread, "second").unwrap();
    bob.terminate(&thread, NOW).unwrap();
    let info = established(&mut bob);
    assert!(info.offline && info.flow == Some(3));
    // The default offer picks `mustnot`; its stanzas must still carry no <no-store/>
    // (XEP-0334 §4: it would keep them out of offline storage).
    assert_eq!(info.logging, crate::Logging::MustNot);
    assert!(matches!(
        bob.poll_event(),
        Some(Event::Terminated {
            by: EndedBy::Us,
            ..
        })
    ));
    assert!(
        bob.session_ids().is_empty(),
        "no acknowledgement is awaited"
    );
    (thread.thread().to_owned(), drain(&mut bob))
}

fn established(e: &mut Engine<MemoryStore>) -> SessionInfo {
    super::tests::established(e)
}

/// Every event until the queue is empty.
fn events(e: &mut Engine<MemoryStore>) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

/// The rule an offline refusal names (profile P11: a refusal, never answered).
fn offline_rule(e: &Error) -> &PeerMisbehaved {
    match e {
        Error::Rejected(Rejected::Offline(rule)) => rule,
        other => panic!("not an offline refusal: {other:?}"),
    }
}

fn refusal(events: &[Event]) -> PeerMisbehaved {
    let mut failed = events.iter().filter_map(|e| match e {
        Event::Failed { error, .. } => Some(offline_rule(error).clone()),
        _ => None,
    });
    let v = failed.next().expect("a refusal");
    assert!(
        !events.iter().any(|e| matches!(e, Event::Message { .. })),
        "a refused init delivered a message: {events:?}"
    );
    v
}

fn deliver(alice: &mut Engine<MemoryStore>, stanzas: &[Element], at: Timestamp) {
    for s in stanzas {
        alice.handle_stanza(s.clone(), at);
    }
}

#[test]
fn alice_reads_what_bob_sent_while_she_was_offline() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (thread, stanzas) = bob_sends(&options);
    assert_eq!(stanzas.len(), 3);
    let init = &stanzas[0];
    assert_eq!(init.attr("to"), Some(ALICE_BARE));
    assert_eq!(init.attr("type"), Some("chat"));
    let names: Vec<&str> = init.children().map(Element::name).collect();
    assert_eq!(
        names,
        [
            "thread",
            "init",
            "c",
            "body",
            "encryption",
            "no-permanent-store",
            "private"
        ]
    );
    let x = init
        .child("init", ns::ESESSION_INIT)
        .and_then(|i| i.child("x", ns::DATA))
        .unwrap();
    let form = crate::forms::Form::parse(x).unwrap();
    for absent in ["accept", "init_pubkey", "resp_pubkey"] {
        assert!(form.field(absent).is_none(), "{absent} in Bob's form");
    }
    assert_eq!(form.value("rekey_freq"), Some("4294967295"));
    assert!(form.fields.iter().skip(1).all(|f| f.kind.is_none()));

    let mut alice = login(store);
    deliver(&mut alice, &stanzas, NOW.plus(60));
    let evs = events(&mut alice);
    let Event::Established(info) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert!(info.offline && info.role == Role::Initiator);
    assert_eq!(info.peer_key.as_ref().map(|k| k.trusted), Some(false));
    let bodies: Vec<(String, bool, bool)> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                body: Some(b),
                encrypted,
                offline,
                session: Some(s),
                ..
            } if s.thread() == thread => Some((b.clone(), *encrypted, *offline)),
            _ => None,
        })
        .collect();
    assert_eq!(
        bodies,
        [("first".into(), true, true), ("second".into(), true, true)]
    );
    assert!(matches!(
        evs.last(),
        Some(Event::Terminated {
            by: EndedBy::Peer,
            ..
        })
    ));
    assert!(alice.poll_outgoing().is_none(), "Alice never sends");
    // The replay record is stored with the (still stored) open set.
    let sets = alice.store().offline_sets(ALICE_BARE).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].accepted.len(), 1);
}

#[test]
fn replays_are_refused_in_memory_and_across_logins() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let mut alice = login(store);
    // While the session is open: the thread already has a session.
    deliver(&mut alice, &stanzas[..1], NOW);
    events(&mut alice);
    deliver(&mut alice, &stanzas[..1], NOW);
    assert_eq!(
        refusal(&events(&mut alice)),
        PeerMisbehaved::OfflineReplay(Replay::ThreadTaken)
    );
    // After the session ended: d and N_B were accepted before.
    deliver(&mut alice, &stanzas[1..], NOW);
    events(&mut alice);
    deliver(&mut alice, &stanzas[..1], NOW);
    assert!(matches!(
        refusal(&events(&mut alice)),
        PeerMisbehaved::OfflineReplay(_)
    ));
    // Next login: the record was stored.
    let mut again = login(alice.core.store);
    deliver(&mut again, &stanzas[..1], NOW);
    assert!(matches!(
        refusal(&events(&mut again)),
        PeerMisbehaved::OfflineReplay(_)
    ));
    assert!(again.session_ids().is_empty());
}

#[test]
fn withdrawn_subscriber_set_still_opens_and_remembers_in_memory() {
    let (store, options) = published(OfflineSetKind::Subscriber, None);
    let (_, stanzas) = bob_sends(&options);
    let mut alice = login(store);
    assert!(alice.store().offline_sets(ALICE_BARE).unwrap().is_empty());
    assert_eq!(
        alice.offline_sets(),
        [(OfflineSetKind::Subscriber, EXPIRES, false)]
    );
    deliver(&mut alice, &stanzas, NOW);
    let evs = events(&mut alice);
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, Event::Message { offline: true, .. }))
            .count(),
        2
    );
    deliver(&mut alice, &stanzas[..1], NOW);
    assert!(matches!(
        refusal(&events(&mut alice)),
        PeerMisbehaved::OfflineReplay(_)
    ));
}

#[test]
fn expired_options_are_refused_by_bob_and_inits_discarded_by_alice() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let mut late = bob(Some(true));
    let e = late
        .start_offline(&bare(ALICE_BARE), &options, body("late"), EXPIRES)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(
        matches!(offline_rule(&e), PeerMisbehaved::OfflineExpired(_)),
        "{e}"
    );
    assert!(late.poll_outgoing().is_none() && late.session_ids().is_empty());

    let (_, stanzas) = bob_sends(&options);
    let mut alice = login(store);
    deliver(&mut alice, &stanzas, EXPIRES);
    let evs = events(&mut alice);
    assert_eq!(
        refusal(&evs),
        PeerMisbehaved::OfflineExpired(EXPIRES.to_datetime())
    );
    assert!(alice.session_ids().is_empty());
}

#[test]
fn expired_sets_are_destroyed_at_login_not_loaded() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let mut alice = engine(ALICE, "offline/a2", store, RSA_A);
    assert_eq!(alice.load_offline_sets(EXPIRES).unwrap(), 0);
    assert!(alice.offline_sets().is_empty());
    assert!(alice.store().offline_sets(ALICE_BARE).unwrap().is_empty());
    deliver(&mut alice, &stanzas, EXPIRES);
    assert_eq!(refusal(&events(&mut alice)), PeerMisbehaved::NoOfflineSet);
    assert!(alice.session_ids().is_empty());
}

#[test]
fn bob_refuses_bad_signatures_and_untrusted_keys() {
    let (_, options) = published(OfflineSetKind::Open, Some("pda"));
    let refused = |bob: &mut Engine<MemoryStore>, x: &Element| {
        let e = bob
            .start_offline(&bare(ALICE_BARE), x, body("x"), NOW)
            .unwrap_err();
        assert!(bob.poll_outgoing().is_none() && bob.session_ids().is_empty());
        e
    };
    // No key of Alice known, or known but untrusted.
    for trusted in [None, Some(false)] {
        let e = refused(&mut bob(trusted), &options);
        assert!(
            matches!(
                offline_rule(&e),
                PeerMisbehaved::OfflineOptions(OfflineOptionsFault::NoTrustedKey(_))
            ),
            "{e}"
        );
    }
    // Alice's trusted key, but Mallory changed the expiry (signed content).
    let mut changed = options.clone();
    set_value(&mut changed, "expires", "2099-01-01T00:00:00Z");
    let e = refused(&mut bob(Some(true)), &changed);
    assert!(
        matches!(
            offline_rule(&e),
            PeerMisbehaved::OfflineOptions(OfflineOptionsFault::NoValidSignature(_))
        ),
        "{e}"
    );
    // A trusted key of another JID does not vouch for Alice.
    let mut other = MemoryStore::new();
    know(&mut other, BOB_BARE, "carol@example.net", RSA_A, true);
    let e = refused(&mut engine(BOB, "offline/b", other, DSA_B), &options);
    assert!(
        matches!(offline_rule(&e), PeerMisbehaved::OfflineOptions(_)),
        "{e}"
    );
    // Unsigned options.
    let mut unsigned = options.clone();
    unsigned.take_children(|c| c.attr("var") == Some("signs"));
    let e = refused(&mut bob(Some(true)), &unsigned);
    assert!(matches!(
        offline_rule(&e),
        PeerMisbehaved::OfflineOptions(OfflineOptionsFault::Unsigned)
    ));
}

#[test]
fn match_resource_addresses_the_resource_with_the_amp_rule_last() {
    let (store, options) = published(OfflineSetKind::Open, Some("pda"));
    let (_, stanzas) = bob_sends(&options);
    for s in &stanzas {
        assert_eq!(s.attr("to"), Some(ALICE));
        let last = s.children().last().unwrap();
        assert!(last.is("amp", ns::AMP), "{s}");
        let rule = last.child("rule", ns::AMP).unwrap();
        assert_eq!(rule.attr("action"), Some("error"));
        assert_eq!(rule.attr("condition"), Some("match-resource"));
        assert_eq!(rule.attr("value"), Some("exact"));
    }
    let mut alice = login(store);
    deliver(&mut alice, &stanzas, NOW);
    assert!(events(&mut alice)
        .iter()
        .any(|e| matches!(e, Event::Message { offline: true, .. })));
}

/// Applies `edit` to every field `var` in `e` (at any depth).
fn edit_field(e: &mut Element, var: &str, edit: &mut dyn FnMut(&mut Element)) {
    for n in e.nodes_mut() {
        if let Node::Element(c) = n {
            if c.name() == "field" && c.attr("var") == Some(var) {
                edit(c);
            } else {
                edit_field(c, var, edit);
            }
        }
    }
}

/// Sets the value of field `var` (at any depth in `e`).
fn set_value(e: &mut Element, var: &str, value: &str) {
    edit_field(e, var, &mut |f| {
        f.take_children(|v| v.name() == "value");
        f.push(Element::new("value", ns::DATA).with_text(value));
    });
}

/// The init stanza with `tamper` applied to it, delivered to a freshly logged-in Alice.
fn tampered_init(tamper: impl FnOnce(&mut Element)) -> PeerMisbehaved {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let mut init = stanzas[0].clone();
    tamper(&mut init);
    let mut alice = login(store);
    deliver(&mut alice, &[init], NOW);
    let v = refusal(&events(&mut alice));
    assert!(alice.poll_outgoing().is_none(), "refusals are silent");
    assert!(alice.session_ids().is_empty());
    v
}

#[test]
fn alice_checks_every_init_in_the_profile_order() {
    // 1. Not an SSN submit form.
    let v = tampered_init(|s| set_value(s, "FORM_TYPE", "urn:example"));
    assert_eq!(v, PeerMisbehaved::NotSsnForm);
    // 2. Multiple values.
    let v = tampered_init(|s| {
        edit_field(s, "modp", &mut |f| {
            f.push(Element::new("value", ns::DATA).with_text("15"));
        })
    });
    assert_eq!(v, PeerMisbehaved::MultipleValues("modp".into()));
    // 3. A nonce of no set.
    let v = tampered_init(|s| set_value(s, "nonce", &crate::b64::encode(&[7u8; 32])));
    assert_eq!(v, PeerMisbehaved::NoOfflineSet);
    // 6. A group the set did not offer.
    let v = tampered_init(|s| set_value(s, "modp", "16"));
    assert!(
        matches!(v, PeerMisbehaved::UnofferedOption { ref field, .. } if field == "modp"),
        "{v}"
    );
    // 7. d out of range.
    let v = tampered_init(|s| set_value(s, "dhkeys", &crate::b64::encode(&[1])));
    assert_eq!(v, PeerMisbehaved::PublicValueOutOfRange("dhkeys".into()));
    // 8. A choice outside the offer.
    let v = tampered_init(|s| set_value(s, "compress", "lzw"));
    assert!(
        matches!(v, PeerMisbehaved::UnofferedOption { ref field, .. } if field == "compress"),
        "{v}"
    );
    let v = tampered_init(|s| set_value(s, "stanzas", "iq"));
    assert!(
        matches!(v, PeerMisbehaved::UnofferedOption { ref field, .. } if field == "stanzas"),
        "{v}"
    );
    // 9. M_B: any change to Bob's form (here the logging choice, still offered).
    let v = tampered_init(|s| set_value(s, "logging", "may"));
    let v2 = tampered_init(|s| set_value(s, "mac", &crate::b64::encode(&[0u8; 32])));
    assert_eq!(v2, PeerMisbehaved::IdentityMacMismatch);
    assert!(
        matches!(
            v,
            PeerMisbehaved::IdentityMacMismatch | PeerMisbehaved::PeerIdentity(_)
        ),
        "{v}"
    );
}

#[test]
fn alice_refuses_an_untrusted_bob_when_trust_is_required() {
    let (mut store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let strict = Config {
        require_trusted_key: true,
        ..config()
    };
    let login_with = |store: MemoryStore| {
        let mut a = Engine::new(
            full(ALICE),
            strict.clone(),
            store,
            Box::new(SeededRandom::from_label("offline/a3")),
        );
        a.set_identity_key(Some(IdentityKey::from_pkcs8_der(RSA_A).unwrap()));
        a.load_offline_sets(NOW).unwrap();
        a
    };
    let mut alice = login_with(store.clone());
    deliver(&mut alice, &stanzas, NOW);
    assert!(matches!(
        refusal(&events(&mut alice)),
        PeerMisbehaved::PeerIdentity(IdentityFault::Untrusted { .. })
    ));
    know(&mut store, ALICE_BARE, BOB_BARE, DSA_B, true);
    let mut alice = login_with(store);
    deliver(&mut alice, &stanzas, NOW);
    let evs = events(&mut alice);
    assert!(evs.iter().any(
        |e| matches!(e, Event::Established(i) if i.peer_key.as_ref().is_some_and(|k| k.trusted))
    ));
}

#[test]
fn the_accept_policy_refuses_offline_inits_from_others() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let login_with = |accept: AcceptPolicy| {
        let mut a = Engine::new(
            full(ALICE),
            Config { accept, ..config() },
            store.clone(),
            Box::new(SeededRandom::from_label("offline/a4")),
        );
        a.set_identity_key(Some(IdentityKey::from_pkcs8_der(RSA_A).unwrap()));
        a.load_offline_sets(NOW).unwrap();
        deliver(&mut a, &stanzas, NOW);
        a
    };
    for accept in [
        AcceptPolicy::Only(vec!["carol@example.net".into()]),
        AcceptPolicy::Nobody,
    ] {
        let mut alice = login_with(accept);
        let evs = events(&mut alice);
        assert!(
            matches!(
                &evs[..],
                [
                    Event::Failed {
                        error: Error::Rejected(Rejected::NotAllowed),
                        ..
                    },
                    ..
                ]
            ),
            "{evs:?}"
        );
        assert!(
            !evs.iter().any(|e| matches!(e, Event::Message { .. })),
            "{evs:?}"
        );
        assert!(alice.session_ids().is_empty() && alice.poll_outgoing().is_none());
        // Refused before any check: no replay record kept.
        assert!(alice.store().offline_sets(ALICE_BARE).unwrap()[0]
            .accepted
            .is_empty());
    }
    let mut alice = login_with(AcceptPolicy::Only(vec![BOB_BARE.into()]));
    assert!(events(&mut alice)
        .iter()
        .any(|e| matches!(e, Event::Message { offline: true, .. })));
}

#[test]
fn republishing_discards_the_old_set_and_its_records() {
    let (store, options) = published(OfflineSetKind::Open, None);
    let (_, stanzas) = bob_sends(&options);
    let mut alice = login(store);
    let fresh = alice
        .publish_offline(OfflineSetKind::Open, EXPIRES, None, NOW)
        .unwrap();
    assert_ne!(fresh, options);
    deliver(&mut alice, &stanzas[..1], NOW);
    assert_eq!(refusal(&events(&mut alice)), PeerMisbehaved::NoOfflineSet);
    let sets = alice.store().offline_sets(ALICE_BARE).unwrap();
    assert_eq!(sets.len(), 1);
    assert!(sets[0].accepted.is_empty());
    // Publishing needs a key and a future expiry.
    let e = alice
        .publish_offline(OfflineSetKind::Open, NOW, None, NOW)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    alice.set_identity_key(None);
    let e = alice
        .publish_offline(OfflineSetKind::Open, EXPIRES, None, NOW)
        .unwrap_err();
    assert_eq!(e, Usage::NoIdentityKey("signs"));
}

#[test]
fn options_follow_the_profile_and_sign_everything_but_signs() {
    let (store, options) = published(OfflineSetKind::Subscriber, Some("pda"));
    let form = crate::forms::Form::parse(&options).unwrap();
    let vars: Vec<&str> = form
        .fields
        .iter()
        .filter_map(|f| f.var.as_deref())
        .collect();
    assert_eq!(
        vars,
        [
            "FORM_TYPE",
            "logging",
            "disclosure",
            "security",
            "modp",
            "crypt_algs",
            "hash_algs",
            "sign_algs",
            "compress",
            "stanzas",
            "ver",
            "rekey_freq",
            "my_nonce",
            "dhkeys",
            "expires",
            "match_resource",
            "signs"
        ]
    );
    assert_eq!(form.field("stanzas").unwrap().offered(), ["message"]);
    assert_eq!(
        form.field("sign_algs").unwrap().offered()[0],
        crate::crypto::pubkey::SignAlg::RsaSha256.uri()
    );
    assert_eq!(form.value("expires"), Some("2027-01-16T08:00:00Z"));
    assert_eq!(form.field("dhkeys").unwrap().values.len(), 2);
    let set = &store.offline_sets(ALICE_BARE).unwrap()[0];
    assert_eq!(
        set.exponents.iter().map(|(g, _)| *g).collect::<Vec<_>>(),
        [14, 15]
    );
    assert_eq!(set.expires, EXPIRES);
    let content = crate::xml::normalize_form_content(&options, &["signs"]);
    let sig = crate::b64::decode("signs", form.value("signs").unwrap()).unwrap();
    let public = IdentityKey::from_pkcs8_der(RSA_A).unwrap().public();
    public
        .verify(public.sign_alg(), content.as_bytes(), &sig)
        .unwrap();
}
