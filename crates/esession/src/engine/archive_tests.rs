//! XEP-0136 §3.1 in the engine: archiving preferences decide the `logging` offer and
//! answer per contact, refuse what the table fails, and `mustnot` sessions carry the
//! XEP-0334 `<no-store/>` hint.
use super::tests::{Pair, ALICE, BOB, NOW};
use super::*;
use crate::archive::{ItemPref, OtrMode, Prefs, SaveMode};
use crate::config::{Config, Logging};
use crate::engine::tests::sid;
use crate::error::{Rejected, RequestRefused};
use crate::store::MemoryStore;

fn prefs(default: OtrMode, items: &[(&str, OtrMode)]) -> Config {
    Config {
        archive_prefs: Some(Prefs {
            default_otr: default,
            default_save: SaveMode::Body,
            unset: false,
            items: items
                .iter()
                .map(|(jid, otr)| ItemPref {
                    jid: (*jid).into(),
                    otr: *otr,
                    save: SaveMode::False,
                    expire: None,
                    exact: false,
                })
                .collect(),
            ..Prefs::default()
        }),
        ..Config::default()
    }
}

fn pair(label: &str, a: Config, b: Config) -> Pair {
    Pair::with(label, a, b, MemoryStore::new(), MemoryStore::new())
}

#[test]
fn otr_modes_pick_the_logging_value_per_contact() {
    // concede offers may,mustnot; oppose answers may (§3.1 second table).
    let mut p = pair(
        "concede-oppose",
        prefs(OtrMode::Concede, &[]),
        prefs(OtrMode::Oppose, &[]),
    );
    let (_, a, b) = p.negotiate();
    assert_eq!((a.logging, b.logging), (Logging::May, Logging::May));

    // Bob's item for Alice's bare JID (prefer) overrides his default (forbid): mustnot.
    let mut p = pair(
        "item-wins",
        prefs(OtrMode::Concede, &[]),
        prefs(OtrMode::Forbid, &[("alice@example.org", OtrMode::Prefer)]),
    );
    let (thread, a, b) = p.negotiate();
    assert_eq!((a.logging, b.logging), (Logging::MustNot, Logging::MustNot));
    // A mustnot session's messages carry <no-store/> besides <no-permanent-store/>.
    p.alice
        .send_message(&sid(BOB, &thread), "off the record")
        .unwrap();
    let out = p.alice.poll_outgoing().unwrap();
    assert!(out.child("no-store", ns::HINTS).is_some());
    assert!(out.child("no-permanent-store", ns::HINTS).is_some());

    // A may session's messages do not carry <no-store/>.
    let mut p = pair(
        "may-hints",
        prefs(OtrMode::Forbid, &[]),
        prefs(OtrMode::Concede, &[]),
    );
    let (thread, a, _) = p.negotiate();
    assert_eq!(a.logging, Logging::May);
    p.alice
        .send_message(&sid(BOB, &thread), "on the record")
        .unwrap();
    let out = p.alice.poll_outgoing().unwrap();
    assert!(out.child("no-store", ns::HINTS).is_none());
    assert!(out.child("no-permanent-store", ns::HINTS).is_some());
}

#[test]
fn a_logging_choice_the_preferences_forbid_is_refused() {
    // Alice requires OTR (offers mustnot only); Bob forbids it: Bob refuses, naming
    // the logging field, and neither side is established.
    let mut p = pair(
        "require-forbid",
        prefs(OtrMode::Require, &[]),
        prefs(OtrMode::Forbid, &[]),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    let mut bob_failed = false;
    while let Some(ev) = p.bob.poll_event() {
        if let Event::Failed { error, .. } = ev {
            assert_eq!(
                error,
                Rejected::Request(RequestRefused::Unacceptable(vec!["logging".into()]))
            );
            bob_failed = true;
        }
    }
    assert!(bob_failed);
    assert!(
        p.alice.sessions().is_empty() || p.alice.sessions().iter().all(|s| s.peer.as_str() != BOB)
    );
    let alice_failed =
        std::iter::from_fn(|| p.alice.poll_event()).any(|ev| matches!(ev, Event::Failed { .. }));
    assert!(alice_failed);

    // The other way round: Alice forbids (offers may only), Bob requires: refused too.
    let mut p = pair(
        "forbid-require",
        prefs(OtrMode::Forbid, &[]),
        prefs(OtrMode::Require, &[]),
    );
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(std::iter::from_fn(|| p.bob.poll_event()).any(|ev| matches!(ev, Event::Failed { .. })));

    // An initiator refuses an answer outside its offer (a responder without prefs that
    // accepts only may, answering Alice's require offer, cannot even answer).
    let b = Config {
        logging: vec![Logging::May],
        ..Config::default()
    };
    let mut p = pair("require-vs-may-only", prefs(OtrMode::Require, &[]), b);
    p.alice.start_str("bob@example.com", NOW).unwrap();
    p.run();
    assert!(
        std::iter::from_fn(|| p.alice.poll_event()).any(|ev| matches!(ev, Event::Failed { .. }))
    );
}

#[test]
fn renegotiation_follows_the_preferences_too() {
    let mut p = pair(
        "reneg",
        prefs(OtrMode::Concede, &[]),
        prefs(OtrMode::Forbid, &[]),
    );
    let (thread, a, _) = p.negotiate();
    assert_eq!(a.logging, Logging::May);
    // Bob forbids OTR: a renegotiation to mustnot only is declined.
    p.alice
        .renegotiate_logging(&sid(BOB, &thread), &[Logging::MustNot])
        .unwrap();
    p.run();
    assert_eq!(
        p.alice.session(&sid(BOB, &thread)).map(|i| i.logging),
        Some(Logging::May)
    );
    // And Alice, conceding, accepts Bob's renegotiation to may only... which it already
    // is; Bob asking mustnot,may gets may back (forbid answers may to an offer with may).
    let _ = ALICE;
    assert_eq!(
        p.bob.session(&sid(ALICE, &thread)).map(|i| i.logging),
        Some(Logging::May)
    );
}
