//! Stanza compression (`compress`, XEP-0116 §8; profile P9): `none`, or one RFC 1950 zlib
//! stream per direction, created at establishment and continued across stanzas and re-keys.
//!
//! Each stanza's plaintext m is compressed before encryption and ends with a Z_SYNC_FLUSH
//! (the empty stored block `00 00 FF FF`), so the receiver can decompress every stanza as
//! it arrives while the dictionary carries over to the next one. A stanza without content
//! touches neither stream: callers skip [`Deflater::compress`] and [`Inflater::decompress`]
//! for it (both refuse empty input without changing the stream).
use std::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// A compression algorithm from the `compress` field (XEP-0116 §8).
///
/// `lzw` (ECMA-151), which XEP-0116 §8 also allows, is not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompressAlg {
    /// `none`: no compression (the default, XEP-0116 §8; profile P9).
    None,
    /// `zlib`: RFC 1950 (used only when both sides offer it, profile P9).
    Zlib,
}

impl CompressAlg {
    /// Every supported algorithm, the default `none` first.
    pub const ALL: [CompressAlg; 2] = [CompressAlg::None, CompressAlg::Zlib];

    /// The name used in the `compress` field.
    pub fn name(self) -> &'static str {
        match self {
            CompressAlg::None => "none",
            CompressAlg::Zlib => "zlib",
        }
    }

    /// The algorithm named `s` in a `compress` field, if supported (exact, case-sensitive
    /// match).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == s)
    }
}

/// A compression failure. Each message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressError {
    /// The stream failed earlier; a failed stream is never used again (profile P9).
    #[error("the zlib stream failed earlier and refuses all further data")]
    Failed,
    /// Empty input was given; a stanza without content must not touch the stream.
    #[error("empty input: a stanza without content must not touch the zlib stream")]
    EmptyInput,
    /// The decompressed stanza would exceed the caller's limit (a decompression bomb).
    #[error("decompressed stanza exceeds the limit of {limit} octets")]
    TooLarge {
        /// The limit, in octets, that was exceeded.
        limit: usize,
    },
    /// The compressed data is not a valid continuation of the zlib stream.
    #[error("corrupt zlib stream: {0}")]
    Corrupt(String),
    /// The peer's zlib stream ended (Z_STREAM_END); a session's stream never ends.
    #[error("the peer's zlib stream ended (Z_STREAM_END), but a session's stream never ends")]
    Finished,
    /// The compressed stanza does not end with the Z_SYNC_FLUSH marker `00 00 FF FF`.
    #[error("compressed stanza does not end with the Z_SYNC_FLUSH marker 00 00 FF FF (truncated)")]
    Truncated,
    /// The compressor failed (a bug in the backend, never caused by input).
    #[error("zlib compression failed: {0}")]
    Deflate(String),
}

/// The empty stored block that a Z_SYNC_FLUSH ends with (RFC 1951 §3.2.4).
const SYNC_FLUSH_MARKER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Profile P9: compression level 6.
const LEVEL: u32 = 6;

/// Octets produced per inflate step; bounds each allocation step when decompressing.
const INFLATE_CHUNK: usize = 4096;

/// Octets consumed and produced by one (de)compressor call, from the stream's totals.
fn progress(before: u64, after: u64) -> usize {
    usize::try_from(after.saturating_sub(before)).unwrap_or(usize::MAX)
}

/// The sending direction's zlib stream (profile P9).
pub struct Deflater {
    z: Compress,
    failed: bool,
}

impl Deflater {
    /// A new RFC 1950 stream (its 2-octet header comes first in the first output), with
    /// the profile P9 settings: level 6, window bits 15 (a 32 KiB window), default
    /// strategy. The pure-Rust backend (miniz_oxide) has no memory-level setting; its hash
    /// table has 2^15 entries, as zlib's memory level 8 gives (hash bits = level + 7).
    pub fn new() -> Self {
        Deflater {
            // RFC 1950 header on; miniz_oxide always uses window bits 15.
            z: Compress::new(Compression::new(LEVEL), true),
            failed: false,
        }
    }

    /// Compresses one stanza's plaintext `m`, continuing the stream, and ends the output
    /// with a Z_SYNC_FLUSH, so it ends with `00 00 FF FF` (profile P9).
    ///
    /// `m` must not be empty: a stanza without content touches neither stream (profile P9),
    /// so the caller skips compression for it.
    ///
    /// # Errors
    /// [`CompressError::EmptyInput`] for empty `m` (the stream is unchanged);
    /// [`CompressError::Deflate`] if the backend fails, after which every call returns
    /// [`CompressError::Failed`].
    pub fn compress(&mut self, m: &[u8]) -> Result<Vec<u8>, CompressError> {
        if self.failed {
            return Err(CompressError::Failed);
        }
        if m.is_empty() {
            return Err(CompressError::EmptyInput);
        }
        let result = self.deflate(m);
        self.failed = result.is_err();
        result
    }

    fn deflate(&mut self, m: &[u8]) -> Result<Vec<u8>, CompressError> {
        // Deflate's worst case is the input plus 5 octets per 16 KiB stored block, plus the
        // header and the flush marker; start there and grow if the backend wants more.
        let mut out = Vec::with_capacity(m.len().saturating_add(m.len() / 1024 + 64));
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            }
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .compress_vec(
                    m.get(pos..).unwrap_or_default(),
                    &mut out,
                    FlushCompress::Sync,
                )
                .map_err(|e| CompressError::Deflate(e.to_string()))?;
            let consumed = progress(in_before, self.z.total_in());
            let produced = progress(out_before, self.z.total_out());
            pos = pos.saturating_add(consumed);
            if status == Status::StreamEnd {
                return Err(CompressError::Deflate("stream ended unexpectedly".into()));
            }
            // The flush is complete once all input is in and output space is left over.
            if pos >= m.len() && out.len() < out.capacity() {
                break;
            }
            if consumed == 0 && produced == 0 && out.len() < out.capacity() {
                return Err(CompressError::Deflate("no progress".into()));
            }
        }
        // Profile P9: each stanza's m is flushed with Z_SYNC_FLUSH, ending 00 00 FF FF.
        if !out.ends_with(&SYNC_FLUSH_MARKER) {
            return Err(CompressError::Deflate(
                "output does not end with the sync-flush marker".into(),
            ));
        }
        Ok(out)
    }
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

/// A copy of a stream whose state cannot be copied (the backend's is not): the copy is
/// a failed stream, which refuses all further data with [`CompressError::Failed`]
/// rather than produce output the peer's stream would not follow (feature `test-util`,
/// for engine snapshots; see `Engine::snapshot`).
#[cfg(feature = "test-util")]
impl Clone for Deflater {
    fn clone(&self) -> Self {
        Deflater {
            failed: true,
            ..Deflater::new()
        }
    }
}

impl fmt::Debug for Deflater {
    // The stream's window holds recent plaintext: show only the counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .field("failed", &self.failed)
            .finish()
    }
}

/// The receiving direction's zlib stream (profile P9).
pub struct Inflater {
    z: Decompress,
    failed: bool,
}

impl Inflater {
    /// A new RFC 1950 stream, expecting the 2-octet zlib header first (profile P9).
    pub fn new() -> Self {
        Inflater {
            z: Decompress::new(true),
            failed: false,
        }
    }

    /// Decompresses one stanza's compressed data, continuing the stream. The output is at
    /// most `limit` octets. `data` must end with the Z_SYNC_FLUSH marker `00 00 FF FF`
    /// (profile P9); data without it is refused as truncated before the stream is touched.
    ///
    /// `data` must not be empty: a stanza without content touches neither stream (profile
    /// P9), so the caller skips decompression for it.
    ///
    /// # Errors
    /// [`CompressError::EmptyInput`] for empty `data` (the stream is unchanged). Otherwise,
    /// after any of the following, every later call returns [`CompressError::Failed`]:
    /// [`CompressError::Truncated`] (no sync-flush marker at the end),
    /// [`CompressError::TooLarge`] (more than `limit` octets would come out),
    /// [`CompressError::Corrupt`] (not valid zlib), [`CompressError::Finished`] (the
    /// stream ended).
    pub fn decompress(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>, CompressError> {
        if self.failed {
            return Err(CompressError::Failed);
        }
        if data.is_empty() {
            return Err(CompressError::EmptyInput);
        }
        let result = self.inflate(data, limit);
        self.failed = result.is_err();
        result
    }

    fn inflate(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>, CompressError> {
        // Profile P9: every stanza was flushed with Z_SYNC_FLUSH; without the marker the
        // stanza is cut short and the stream would continue mid-block.
        if !data.ends_with(&SYNC_FLUSH_MARKER) {
            return Err(CompressError::Truncated);
        }
        // The output grows chunk by chunk and never past `limit` (hostile input).
        let mut out = Vec::new();
        let mut chunk = [0u8; INFLATE_CHUNK];
        let mut pos = 0;
        loop {
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(
                    data.get(pos..).unwrap_or_default(),
                    &mut chunk,
                    FlushDecompress::Sync,
                )
                .map_err(|e| CompressError::Corrupt(e.to_string()))?;
            let consumed = progress(in_before, self.z.total_in());
            let produced = progress(out_before, self.z.total_out());
            pos = pos.saturating_add(consumed);
            if produced > limit.saturating_sub(out.len()) {
                return Err(CompressError::TooLarge { limit });
            }
            out.extend_from_slice(chunk.get(..produced).unwrap_or_default());
            // Profile P9: a finished stream is a failure (a session's stream never ends).
            if status == Status::StreamEnd {
                return Err(CompressError::Finished);
            }
            // Done once all input is in and the inflater had nothing more to give.
            if pos >= data.len() && produced < chunk.len() {
                break;
            }
            if consumed == 0 && produced == 0 {
                return Err(CompressError::Corrupt("no progress".into()));
            }
        }
        Ok(out)
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

/// As for [`Deflater`]: the copy is a failed stream (feature `test-util`).
#[cfg(feature = "test-util")]
impl Clone for Inflater {
    fn clone(&self) -> Self {
        Inflater {
            failed: true,
            ..Inflater::new()
        }
    }
}

impl fmt::Debug for Inflater {
    // The stream's window holds recent plaintext: show only the counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .field("failed", &self.failed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANZA: &[u8] = b"<body>Hello Bob, this is Alice. Are we encrypted yet?</body>\
                            <active xmlns=\"http://jabber.org/protocol/chatstates\"/>";

    #[test]
    fn names() {
        for alg in CompressAlg::ALL {
            assert_eq!(CompressAlg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(CompressAlg::None.name(), "none");
        assert_eq!(CompressAlg::Zlib.name(), "zlib");
        for bad in ["", "lzw", "ZLIB", "deflate", "gzip"] {
            assert_eq!(CompressAlg::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn many_stanzas_round_trip_with_a_shared_dictionary() {
        let mut d = Deflater::new();
        let mut i = Inflater::new();
        let mut sizes = Vec::new();
        for n in 0..50u32 {
            let m: Vec<u8> = if n % 7 == 3 {
                // A large, poorly compressible stanza in between.
                (0..70_000u32)
                    .map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect()
            } else {
                [STANZA, format!("<n>{n}</n>").as_bytes()].concat()
            };
            let z = d.compress(&m).unwrap();
            // Profile P9: every stanza ends with the Z_SYNC_FLUSH marker.
            assert!(z.ends_with(&[0, 0, 0xff, 0xff]), "stanza {n}");
            assert_eq!(i.decompress(&z, 100_000).unwrap(), m, "stanza {n}");
            sizes.push(z.len());
        }
        // The second similar stanza refers back to the first: the dictionary continues.
        assert!(sizes[1] < sizes[0], "{sizes:?}");
    }

    #[test]
    fn identical_stanza_compresses_smaller_the_second_time() {
        let mut d = Deflater::new();
        let first = d.compress(STANZA).unwrap();
        let second = d.compress(STANZA).unwrap();
        assert!(
            second.len() < first.len(),
            "{} vs {}",
            second.len(),
            first.len()
        );
        // The second output has no header and refers back to the first stanza: it decodes
        // only as the continuation of the same stream.
        let mut fresh = Inflater::new();
        assert!(fresh.decompress(&second, 1000).is_err());
        let mut i = Inflater::new();
        assert_eq!(i.decompress(&first, 1000).unwrap(), STANZA);
        assert_eq!(i.decompress(&second, 1000).unwrap(), STANZA);
    }

    #[test]
    fn first_output_starts_with_a_zlib_header_and_output_is_reproducible() {
        let z = Deflater::new().compress(STANZA).unwrap();
        // RFC 1950 §2.2: CM = 8 (deflate), CINFO = 7 (32 KiB window), FCHECK makes the
        // first two octets a multiple of 31, FDICT = 0.
        assert_eq!(z[0], 0x78);
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0);
        assert_eq!(z[1] & 0x20, 0);
        // Same settings, same input: same octets (profile P9 wants reproducible vectors).
        assert_eq!(Deflater::new().compress(STANZA).unwrap(), z);
        // The header comes only once: the next stanza continues the stream.
        let mut d = Deflater::new();
        d.compress(STANZA).unwrap();
        let next = d.compress(b"<x/>").unwrap();
        assert_ne!(next.get(..2), z.get(..2));
    }

    #[test]
    fn decompression_bomb_is_refused_at_the_limit() {
        let mut d = Deflater::new();
        let bomb = vec![b'a'; 1 << 20];
        let z = d.compress(&bomb).unwrap();
        assert!(z.len() < 2048);
        let mut i = Inflater::new();
        assert_eq!(
            i.decompress(&z, 10_000),
            Err(CompressError::TooLarge { limit: 10_000 })
        );
        assert!(CompressError::TooLarge { limit: 10_000 }
            .to_string()
            .contains("10000"));
        // The failed stream refuses everything after.
        assert_eq!(i.decompress(&z, usize::MAX), Err(CompressError::Failed));

        // Exactly `limit` octets are allowed; one more is not.
        let small = vec![b'b'; 5000];
        let z = Deflater::new().compress(&small).unwrap();
        assert_eq!(Inflater::new().decompress(&z, 5000).unwrap(), small);
        assert_eq!(
            Inflater::new().decompress(&z, 4999),
            Err(CompressError::TooLarge { limit: 4999 })
        );
    }

    #[test]
    fn corrupt_input_fails_and_poisons_the_stream() {
        let z = Deflater::new().compress(STANZA).unwrap();
        // A broken header.
        let mut bad = z.clone();
        bad[0] = 0x79;
        let mut i = Inflater::new();
        assert!(matches!(
            i.decompress(&bad, 1000),
            Err(CompressError::Corrupt(_))
        ));
        assert_eq!(i.decompress(&z, 1000), Err(CompressError::Failed));
        // Garbage that ends with the marker.
        let mut i = Inflater::new();
        let garbage = [0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff];
        assert!(matches!(
            i.decompress(&garbage, 1000),
            Err(CompressError::Corrupt(_))
        ));
        assert_eq!(i.decompress(&z, 1000), Err(CompressError::Failed));
    }

    #[test]
    fn truncated_input_is_an_error_before_the_stream_is_touched() {
        let z = Deflater::new().compress(STANZA).unwrap();
        for cut in [1, 4, z.len() / 2, z.len() - 1] {
            let mut i = Inflater::new();
            assert_eq!(
                i.decompress(&z[..cut], 1000),
                Err(CompressError::Truncated),
                "cut at {cut}"
            );
            assert_eq!(i.decompress(&z, 1000), Err(CompressError::Failed));
        }
    }

    #[test]
    fn a_finished_stream_is_a_failure() {
        // A peer that ends its stream (Z_FINISH) and then appends a sync-flush marker.
        let mut c = Compress::new(Compression::new(6), true);
        let mut z = Vec::with_capacity(256);
        let status = c
            .compress_vec(STANZA, &mut z, FlushCompress::Finish)
            .unwrap();
        assert_eq!(status, Status::StreamEnd);
        z.extend_from_slice(&SYNC_FLUSH_MARKER);
        let mut i = Inflater::new();
        assert_eq!(i.decompress(&z, 1000), Err(CompressError::Finished));
        assert_eq!(i.decompress(&z, 1000), Err(CompressError::Failed));
    }

    #[test]
    fn empty_input_leaves_both_streams_untouched() {
        let mut d = Deflater::new();
        assert_eq!(d.compress(b""), Err(CompressError::EmptyInput));
        // Not a failure of the stream: it goes on exactly as a fresh one.
        let z = d.compress(STANZA).unwrap();
        assert_eq!(z, Deflater::new().compress(STANZA).unwrap());
        let mut i = Inflater::new();
        assert_eq!(i.decompress(b"", 1000), Err(CompressError::EmptyInput));
        assert_eq!(i.decompress(&z, 1000).unwrap(), STANZA);
    }

    #[test]
    fn debug_does_not_show_plaintext() {
        let mut d = Deflater::new();
        let z = d.compress(b"secret words").unwrap();
        let mut i = Inflater::new();
        i.decompress(&z, 100).unwrap();
        for s in [format!("{d:?}"), format!("{i:?}")] {
            assert!(!s.contains("secret"), "{s}");
            assert!(s.contains("total_in"), "{s}");
        }
    }
}
