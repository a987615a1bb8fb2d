//! Retained secrets in negotiation (XEP-0116 §4.6.4, §4.7.3, §4.8.1; profile P7).
use crate::b64;
use crate::crypto::{ct_eq, rshash, srshash, HashAlg};
use crate::random::Random;
use crate::store::RetainedSecret;
use crate::time::Timestamp;

/// The secrets that have not expired (P7: 90 days by default).
pub(crate) fn live(
    secrets: Vec<RetainedSecret>,
    now: Timestamp,
    lifetime: u64,
) -> Vec<RetainedSecret> {
    secrets
        .into_iter()
        .filter(|s| s.created.plus(lifetime) > now)
        .collect()
}

/// A uniformly random index below `n` (rejection sampling, no modulo bias).
pub(crate) fn below(rng: &mut dyn Random, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        let v = u64::from_be_bytes(b);
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// `rshashes` (P7): B64(HMAC(HASH, N_A, RS)) per live secret plus 2–4 random 32-octet
/// fillers, in random order.
pub(crate) fn rshashes(
    hash: HashAlg,
    n_a: &[u8],
    secrets: &[RetainedSecret],
    rng: &mut dyn Random,
) -> Vec<String> {
    let mut values: Vec<Vec<u8>> = secrets
        .iter()
        .map(|s| rshash(hash, n_a, &s.secret))
        .collect();
    let fillers = 2 + below(rng, 3);
    for _ in 0..fillers {
        let mut f = vec![0u8; hash.output_len()];
        rng.fill(&mut f);
        values.push(f);
    }
    // Fisher–Yates: the order hides which values are real (P7).
    for i in (1..values.len()).rev() {
        let j = below(rng, i + 1);
        values.swap(i, j);
    }
    values.iter().map(|v| b64::encode(v)).collect()
}

/// The responder's search (XEP-0116 §4.7.3): the first candidate whose HMAC(N_A, RS) is
/// among the received `rshashes` (every comparison constant-time).
pub(crate) fn find_by_rshash(
    hash: HashAlg,
    n_a: &[u8],
    candidates: &[RetainedSecret],
    received: &[Vec<u8>],
) -> Option<RetainedSecret> {
    candidates
        .iter()
        .find(|s| {
            let h = rshash(hash, n_a, &s.secret);
            received.iter().fold(false, |hit, r| hit | ct_eq(&h, r))
        })
        .cloned()
}

/// The initiator's search (XEP-0116 §4.8.1): the candidate whose HMAC(RS, "Shared
/// Retained Secret") equals the received `srshash`.
pub(crate) fn find_by_srshash(
    hash: HashAlg,
    candidates: &[RetainedSecret],
    received: &[u8],
) -> Option<RetainedSecret> {
    candidates
        .iter()
        .find(|s| ct_eq(&srshash(hash, &s.secret), received))
        .cloned()
}
