//! A pool of Diffie–Hellman values computed ahead of time.
//!
//! The modular exponentiation g^x mod p is most of a negotiation's CPU time (an
//! initiator does one per offered group). A [`DhPool`] holds, per MODP group, pairs
//! (secret x, public value mpi(g^x mod p)) computed in advance, for example by a
//! background thread ([`DhPool::spawn_filler`]). An [`crate::Engine`] given a pool
//! ([`crate::Engine::set_dh_pool`]) takes its values from it and computes them itself when
//! the pool has none for the group.
//!
//! Every pair is handed out at most once: taking a pair moves it out of the pool (it is
//! never copied), and the secret is wiped when the taker drops it. Pairs still in the
//! pool are wiped when the last handle of the pool (and every filler thread) is gone.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::group::{DhSecret, ModpGroup};
use super::CryptoError;
use crate::random::Random;

/// How long an idle filler sleeps before it looks again (it is also woken by every
/// [`DhPool::take`] and by the drop of a pool handle).
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// A shared pool of precomputed (secret, public value) pairs per MODP group.
///
/// Cloning a `DhPool` gives another handle to the same pool (for threads). The pool's
/// background fillers stop once every handle is dropped.
pub struct DhPool {
    inner: Arc<Inner>,
}

/// Per group id, the pairs not yet handed out.
type Pairs = HashMap<u32, Vec<(DhSecret, Vec<u8>)>>;

struct Inner {
    values: Mutex<Pairs>,
    /// Woken when a value is taken and when a handle is dropped.
    changed: Condvar,
    /// Live `DhPool` handles (filler threads hold the `Arc` but are not handles).
    handles: AtomicUsize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Pairs> {
        // The map stays consistent even if a holder panicked: every operation on it is a
        // single push or pop.
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DhPool {
    /// An empty pool.
    pub fn new() -> Self {
        DhPool {
            inner: Arc::new(Inner {
                values: Mutex::new(HashMap::new()),
                changed: Condvar::new(),
                handles: AtomicUsize::new(1),
            }),
        }
    }

    /// Computes `n` fresh pairs for MODP group `group` with secrets drawn from `rng`
    /// (exactly as a negotiation would draw them) and adds them to the pool. The
    /// exponentiations run without holding the pool's lock.
    ///
    /// # Errors
    /// [`CryptoError::UnknownGroup`] for a group id the crate does not know.
    pub fn fill(&self, group: u32, n: usize, rng: &mut dyn Random) -> Result<(), CryptoError> {
        let modp = ModpGroup::get(group)?;
        for _ in 0..n {
            let pair = compute(modp, rng);
            self.inner.lock().entry(group).or_default().push(pair);
        }
        Ok(())
    }

    /// Takes one pair for `group` out of the pool, if there is one. The pair is removed:
    /// no later call returns it again. Crate-private: the secret exponent is for the engine
    /// only.
    pub(crate) fn take(&self, group: u32) -> Option<(DhSecret, Vec<u8>)> {
        let pair = self.inner.lock().get_mut(&group).and_then(Vec::pop);
        if pair.is_some() {
            self.inner.changed.notify_all();
        }
        pair
    }

    /// A new pool holding copies of the pairs this one holds now, shared with no other
    /// handle and with no filler (feature `test-util`: for `Engine::snapshot`, whose copy
    /// must not drain the original's pool). Never for real sessions: the copies hand out
    /// the same Diffie–Hellman secrets as the original (XEP-0116 §4.3 wants fresh ones).
    #[cfg(feature = "test-util")]
    pub fn detached_copy(&self) -> DhPool {
        let copy = DhPool::new();
        *copy.inner.lock() = self.inner.lock().clone();
        copy
    }

    /// Pairs currently held for `group`.
    pub fn len(&self, group: u32) -> usize {
        self.inner.lock().get(&group).map_or(0, Vec::len)
    }

    /// Whether the pool holds no pair for any group.
    pub fn is_empty(&self) -> bool {
        self.inner.lock().values().all(Vec::is_empty)
    }

    /// Starts a background thread that keeps `target` pairs ready for each group in
    /// `groups` (unknown group ids are ignored), computing one pair at a time, drawing
    /// secrets from `rng`. It refills after every pair the engine takes and ends once every
    /// handle of this pool has been dropped (within about 0.2 s); the returned handle
    /// may be joined.
    pub fn spawn_filler(
        &self,
        groups: Vec<u32>,
        target: usize,
        mut rng: Box<dyn Random>,
    ) -> JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        let groups: Vec<&'static ModpGroup> = groups
            .into_iter()
            .filter_map(|g| ModpGroup::get(g).ok())
            .collect();
        std::thread::spawn(move || loop {
            if inner.handles.load(Ordering::Acquire) == 0 {
                return;
            }
            let short = {
                let values = inner.lock();
                groups
                    .iter()
                    .copied()
                    .find(|g| values.get(&g.id()).map_or(0, Vec::len) < target)
            };
            match short {
                Some(modp) => {
                    let pair = compute(modp, rng.as_mut());
                    inner.lock().entry(modp.id()).or_default().push(pair);
                }
                None => {
                    let values = inner.lock();
                    if inner.handles.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    // Spurious wake-ups and timeouts just mean another look.
                    drop(inner.changed.wait_timeout(values, IDLE_WAIT));
                }
            }
        })
    }
}

impl Default for DhPool {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for DhPool {
    fn clone(&self) -> Self {
        self.inner.handles.fetch_add(1, Ordering::AcqRel);
        DhPool {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for DhPool {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Last handle: wake the fillers so that they stop now. Taking the lock first
            // means no filler is between its check and its wait.
            let _guard = self.inner.lock();
            self.inner.changed.notify_all();
        }
    }
}

impl std::fmt::Debug for DhPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values = self.inner.lock();
        let mut counts: Vec<(u32, usize)> = values.iter().map(|(g, v)| (*g, v.len())).collect();
        counts.sort_unstable();
        f.debug_struct("DhPool").field("pairs", &counts).finish()
    }
}

/// One fresh pair in `modp`.
fn compute(modp: &ModpGroup, rng: &mut dyn Random) -> (DhSecret, Vec<u8>) {
    let x = modp.generate_secret(rng);
    let e = modp.public_value(&x);
    (x, e)
}

/// The pair a negotiation uses in `modp`: from `pool` when it has one, computed with `rng`
/// otherwise.
pub(crate) fn take_or_compute(
    pool: Option<&DhPool>,
    modp: &ModpGroup,
    rng: &mut dyn Random,
) -> (DhSecret, Vec<u8>) {
    pool.and_then(|p| p.take(modp.id()))
        .unwrap_or_else(|| compute(modp, rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;
    use std::collections::HashSet;
    use std::time::Instant;

    #[test]
    fn values_are_valid_and_handed_out_once() {
        let pool = DhPool::new();
        let mut rng = SeededRandom::from_label("pool/once");
        pool.fill(5, 6, &mut rng).unwrap();
        assert_eq!(pool.len(5), 6);
        assert_eq!(pool.len(14), 0);
        let other = pool.clone();
        let g = ModpGroup::get(5).unwrap();
        let mut seen = HashSet::new();
        for i in 0..6 {
            // Alternate between the two handles: they share one pool.
            let (x, e) = if i % 2 == 0 {
                pool.take(5)
            } else {
                other.take(5)
            }
            .unwrap();
            assert_eq!(x.group(), 5);
            assert_eq!(g.public_value(&x), e, "the public value matches its secret");
            assert!(seen.insert(x.expose_mpi()), "a secret was handed out twice");
        }
        assert!(pool.take(5).is_none());
        assert!(other.take(5).is_none());
        assert!(pool.is_empty());
    }

    #[test]
    fn concurrent_takers_never_share_a_value() {
        let pool = DhPool::new();
        let mut rng = SeededRandom::from_label("pool/threads");
        pool.fill(5, 12, &mut rng).unwrap();
        let takers: Vec<_> = (0..3)
            .map(|_| {
                let p = pool.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some((x, _)) = p.take(5) {
                        got.push(x.expose_mpi());
                    }
                    got
                })
            })
            .collect();
        let all: Vec<Vec<u8>> = takers.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(all.len(), 12);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 12);
    }

    #[test]
    fn fallback_computes_when_empty() {
        let pool = DhPool::new();
        let g = ModpGroup::get(5).unwrap();
        let mut rng = SeededRandom::from_label("pool/fallback");
        // Empty pool and no pool: both compute.
        let (x, e) = take_or_compute(Some(&pool), g, &mut rng);
        assert_eq!(g.public_value(&x), e);
        let (y, d) = take_or_compute(None, g, &mut rng);
        assert_eq!(g.public_value(&y), d);
        assert_ne!(x.expose_mpi(), y.expose_mpi());
        // A filled pool is used first, then the fallback again.
        pool.fill(5, 1, &mut SeededRandom::from_label("pool/fill"))
            .unwrap();
        let (z, _) = take_or_compute(Some(&pool), g, &mut rng);
        let expected = g.generate_secret(&mut SeededRandom::from_label("pool/fill"));
        assert_eq!(z.expose_mpi(), expected.expose_mpi());
        assert!(pool.is_empty());
        assert_eq!(
            DhPool::new().fill(3, 1, &mut rng),
            Err(CryptoError::UnknownGroup(3))
        );
    }

    #[test]
    fn filler_keeps_the_target_and_stops_with_the_pool() {
        let pool = DhPool::new();
        let filler = pool.spawn_filler(
            vec![5, 4],
            3,
            Box::new(SeededRandom::from_label("pool/filler")),
        );
        let wait_for = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while pool.len(5) < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            pool.len(5)
        };
        assert_eq!(wait_for(3), 3);
        let taken = pool.take(5).unwrap();
        assert_eq!(wait_for(3), 3, "refilled after a take");
        // Never above the target.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool.len(5), 3);
        let seen: HashSet<Vec<u8>> = std::iter::from_fn(|| pool.take(5))
            .map(|(x, _)| x.expose_mpi())
            .take(3)
            .collect();
        assert!(!seen.contains(&taken.0.expose_mpi()));
        drop(pool);
        // Joins (the filler notices the drop); a hang here would fail the test run.
        filler.join().unwrap();
    }

    #[test]
    fn debug_shows_counts_only() {
        let pool = DhPool::new();
        pool.fill(5, 2, &mut SeededRandom::from_label("pool/debug"))
            .unwrap();
        assert_eq!(format!("{pool:?}"), "DhPool { pairs: [(5, 2)] }");
    }
}
