//! A failure of the secret store, with the underlying error kept as its
//! [`source`](std::error::Error::source).
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A storage failure. The engine treats it as fatal for the negotiation that needed it.
///
/// `what` says which operation failed and where; the underlying error (SQLite, I/O, a
/// parse of stored data), when there is one, is [`source`](StdError::source) and is
/// also written after `what` in the message.
#[derive(Clone, Debug)]
pub struct StoreError {
    what: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl StoreError {
    /// A failure with no underlying error (a refused input, a missing record).
    pub fn new(what: impl Into<String>) -> Self {
        StoreError {
            what: what.into(),
            source: None,
        }
    }

    /// A failure of operation `what` caused by `source`.
    pub fn with_source(
        what: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        StoreError {
            what: what.into(),
            source: Some(Arc::from(source.into())),
        }
    }

    /// Which operation failed, and where (without the underlying error).
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret store failure: {}", self.what)?;
        match &self.source {
            Some(source) => write!(f, ": {source}"),
            None => Ok(()),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// Two store errors are equal when they are the same failure: clones of one error (the
/// same underlying error, by identity), or source-less errors of the same text. Distinct
/// failures with the same text but an underlying error each are not equal, since
/// underlying errors cannot be compared.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.what == other.what
            && match (&self.source, &other.source) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for StoreError {}
