//! The pause between two reconnection attempts: exponential, capped, with jitter, so that
//! clients dropped together (a server restart) do not all come back at the same instant.
use std::time::Duration;

use esession::Random;

/// The first pause.
pub(crate) const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest pause.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// Reconnection attempts after a lost connection, counted from 1 (see `link::STABLE` for
/// when a loss goes on counting from the attempts before it).
pub(crate) struct Backoff {
    rng: Box<dyn Random>,
    attempt: u32,
}

impl Backoff {
    /// A series that goes on from `attempt` attempts made already (0: a fresh series),
    /// the next pause being the one after theirs; the jitter is drawn from `rng`.
    pub(crate) fn after(rng: Box<dyn Random>, attempt: u32) -> Self {
        Backoff { rng, attempt }
    }

    /// The number of the attempt [`Backoff::next_delay`] last announced.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The pause before the next attempt: 1 s doubling up to 60 s, each drawn uniformly
    /// in its upper half (`d/2 ..= d`, "equal jitter"), never under half a second.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let shift = self.attempt.min(6);
        self.attempt = self.attempt.saturating_add(1);
        let full = FIRST_DELAY.saturating_mul(1 << shift).min(MAX_DELAY);
        let mut octets = [0u8; 2];
        self.rng.fill(&mut octets);
        let fraction = f64::from(u16::from_be_bytes(octets)) / f64::from(u16::MAX);
        full / 2 + (full / 2).mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esession::SeededRandom;

    #[test]
    fn pauses_double_up_to_the_cap_with_jitter_in_their_upper_half() {
        let mut b = Backoff::after(Box::new(SeededRandom::from_label("backoff")), 0);
        let mut seen = Vec::new();
        for n in 0..10u32 {
            let d = b.next_delay();
            assert_eq!(b.attempt(), n + 1);
            let full = FIRST_DELAY.saturating_mul(1 << n.min(6)).min(MAX_DELAY);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {n}: {d:?} outside {full:?}"
            );
            seen.push(d);
        }
        assert!(seen[9] <= MAX_DELAY && seen[9] >= MAX_DELAY / 2);
        // Jitter: two series from different seeds differ.
        let mut other = Backoff::after(Box::new(SeededRandom::from_label("other")), 0);
        let theirs: Vec<Duration> = (0..10).map(|_| other.next_delay()).collect();
        assert_ne!(seen, theirs);
    }

    #[test]
    fn a_series_goes_on_from_the_attempts_made_before() {
        let mut b = Backoff::after(Box::new(SeededRandom::from_label("after")), 3);
        let d = b.next_delay();
        assert_eq!(b.attempt(), 4);
        assert!(d >= FIRST_DELAY * 4 && d <= FIRST_DELAY * 8, "{d:?}");
    }
}
