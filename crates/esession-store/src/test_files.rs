//! What the unit tests look for in the files of a store.
#![allow(clippy::unwrap_used)]
use std::path::Path;

/// Whether any file in `dir` (the database, its WAL, the device key) holds `needle`.
pub(crate) fn on_disk(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|f| {
        std::fs::read(f.unwrap().path())
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}
