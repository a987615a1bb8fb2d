//! Time as the engine sees it: injected by the caller, never read from a clock.

/// Seconds since the Unix epoch (UTC), as given by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time. Only for callers: the engine itself never calls this.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(secs)
    }

    /// This time plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }
}
