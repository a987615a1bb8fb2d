//! Turning SQLite and I/O failures into [`StoreError`]s that say what failed, and where.
use esession::store::StoreError;
use esession::time::Timestamp;
use std::error::Error;
use std::fmt::Display;
use std::path::Path;

/// `"<op> on <path>: <cause>"`: every store error names the operation and the database;
/// the SQLite or I/O error `cause` stays reachable as its `source()`.
pub(crate) fn failed(
    op: &str,
    path: &Path,
    cause: impl Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::with_source(format!("{op} on {}", path.display()), cause)
}

/// `"<op> on <path>: <why>"` for a refusal of the store itself (a damaged row, a bad
/// input, a missing record): there is no underlying error.
pub(crate) fn refused(op: &str, path: &Path, why: impl Display) -> StoreError {
    StoreError::new(format!("{op} on {}: {why}", path.display()))
}

/// A [`Timestamp`] as an SQLite INTEGER (which is signed 64-bit).
pub(crate) fn ts_to_sql(
    t: Timestamp,
    what: &str,
    op: &str,
    path: &Path,
) -> Result<i64, StoreError> {
    i64::try_from(t.0).map_err(|_| {
        refused(
            op,
            path,
            format_args!("{what} {} is too large to store (max {})", t.0, i64::MAX),
        )
    })
}

/// An SQLite INTEGER read back as a [`Timestamp`]; a negative value means a damaged row.
pub(crate) fn ts_from_sql(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map(Timestamp).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}

/// A fixed-size BLOB column, or a conversion error naming the column.
pub(crate) fn blob<const N: usize>(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<[u8; N]> {
    let b = row.get_ref(idx)?.as_blob()?;
    <[u8; N]>::try_from(b).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} octets, found {}", b.len()).into(),
        )
    })
}

/// A cost column (a positive `u32`).
pub(crate) fn cost(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    let v: i64 = row.get(idx)?;
    u32::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, Box::new(e))
    })
}
