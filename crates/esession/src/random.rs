//! Injected randomness. Production code uses [`OsRandom`]; tests and published vectors use
//! `SeededRandom` (feature `test-util`), a deterministic generator, so every run can be
//! reproduced.
#[cfg(any(test, feature = "test-util"))]
mod seeded;
#[cfg(any(test, feature = "test-util"))]
pub use seeded::SeededRandom;

/// A source of cryptographically strong random octets (XEP-0116 §7: a strong PRNG for
/// every random value).
pub trait Random: Send {
    /// Fills `buf` with random octets.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_err() {
            // No entropy source is a platform failure we cannot recover from; refuse to
            // continue with predictable values rather than return zeros.
            std::process::abort();
        }
    }
}

impl<R: Random + ?Sized> Random for Box<R> {
    fn fill(&mut self, buf: &mut [u8]) {
        (**self).fill(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_is_not_constant() {
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut x);
        OsRandom.fill(&mut y);
        assert_ne!(x, y);
    }
}
