//! `Engine::snapshot` (feature `test-util`): a copy goes on exactly like the original,
//! independently of it; what cannot be copied (a zlib stream) fails closed in the copy.
use super::tests::{established, sid, Pair, NOW};
use super::*;
use crate::compress::{CompressAlg, CompressError};
use crate::random::SeededRandom;
use crate::store::MemoryStore;

fn rng(label: &str) -> Box<dyn Random> {
    Box::new(SeededRandom::from_label(label))
}

/// Alice's next stanza to Bob carrying `text`, `from` stamped.
fn sealed(p: &mut Pair, thread: &str, text: &str) -> Element {
    p.alice
        .send_message(&sid("bob@example.com", thread), text)
        .unwrap();
    let mut s = p.alice.poll_outgoing().unwrap();
    s.set_attr("from", tests::ALICE);
    s
}

fn delivered(e: &mut Engine<MemoryStore>) -> Vec<String> {
    std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| match ev {
            Event::Message {
                body,
                encrypted: true,
                ..
            } => body,
            _ => None,
        })
        .collect()
}

#[test]
fn a_snapshot_goes_on_like_the_original_and_apart_from_it() {
    let mut p = Pair::new("snapshot");
    let (thread, _, _) = p.negotiate();
    let mut copy = p.bob.snapshot(rng("snapshot/copy"));
    let first = sealed(&mut p, &thread, "one");
    // Same keys and counters: both open the same stanza (the replay hazard the feature
    // gate and the documentation warn of).
    p.bob.handle_stanza(first.clone(), NOW);
    copy.handle_stanza(first, NOW);
    assert_eq!(delivered(&mut p.bob), ["one"]);
    assert_eq!(delivered(&mut copy), ["one"]);
    // Ending the session in the copy leaves the original's session as it was.
    let bob_id = sid("alice@example.org", &thread);
    copy.terminate(&bob_id, NOW).unwrap();
    assert!(copy.poll_outgoing().is_some());
    let second = sealed(&mut p, &thread, "two");
    p.bob.handle_stanza(second, NOW);
    assert_eq!(delivered(&mut p.bob), ["two"]);
    assert!(p.bob.session(&bob_id).is_some());
}

#[test]
fn a_snapshot_mid_negotiation_completes_it() {
    let mut p = Pair::new("snapshot-mid");
    p.alice.start_str("bob@example.com", NOW).unwrap();
    let mut request = p.alice.poll_outgoing().unwrap();
    request.set_attr("from", tests::ALICE);
    p.bob.handle_stanza(request, NOW);
    // Bob's copy answers in place of Bob, with its own generator.
    p.bob = p.bob.snapshot(rng("snapshot-mid/copy"));
    p.run();
    let a = established(&mut p.alice);
    let b = established(&mut p.bob);
    assert_eq!(a.sas, b.sas);
}

#[test]
fn a_snapshot_of_a_zlib_session_refuses_data() {
    let z = Config {
        compress: vec![CompressAlg::Zlib],
        ..Config::default()
    };
    let mut p = Pair::with(
        "snapshot-zlib",
        z.clone(),
        z,
        MemoryStore::new(),
        MemoryStore::new(),
    );
    let (thread, _, _) = p.negotiate();
    let id = sid("bob@example.com", &thread);
    let mut copy = p.alice.snapshot(rng("snapshot-zlib/copy"));
    // The zlib stream state cannot be copied: the copy's stream is a failed one.
    let err = copy.send_message(&id, "hi").unwrap_err();
    assert!(
        matches!(err, Error::Usage(Usage::Compression(CompressError::Failed))),
        "{err:?}"
    );
    // The original's stream is untouched.
    let s = sealed(&mut p, &thread, "hi");
    p.bob.handle_stanza(s, NOW);
    assert_eq!(delivered(&mut p.bob), ["hi"]);
}

#[test]
fn a_snapshot_takes_a_detached_copy_of_the_dh_pool() {
    let pool = DhPool::new();
    pool.fill(1, 2, &mut SeededRandom::from_label("snapshot-pool"))
        .unwrap();
    let config = Config {
        groups: vec![1],
        allow_insecure_groups: true,
        ..Config::default()
    };
    let mut e = Engine::new(
        tests::full(tests::ALICE),
        config,
        MemoryStore::new(),
        rng("snapshot-pool/e"),
    );
    e.set_dh_pool(Some(pool.clone()));
    let mut copy = e.snapshot(rng("snapshot-pool/copy"));
    assert_eq!(copy.dh_pool().map(|p| p.len(1)), Some(2));
    copy.start_str("bob@example.com", NOW).unwrap();
    assert_eq!(copy.dh_pool().map(|p| p.len(1)), Some(1));
    assert_eq!(
        pool.len(1),
        2,
        "the original's pool is not drained by the copy"
    );
}
