//! In test builds only: a per-thread record of the random inputs the engine drew (secret
//! exponents, nonces, counters), so that published test vectors can list them. Release
//! builds compile [`record`] to nothing.

#[cfg(test)]
thread_local! {
    static TRANSCRIPT: std::cell::RefCell<Vec<(String, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records `value` under `label` (test builds only).
#[cfg(test)]
pub(crate) fn record(label: &str, value: &[u8]) {
    TRANSCRIPT.with(|t| t.borrow_mut().push((label.to_owned(), value.to_vec())));
}

/// Records nothing outside tests.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn record(_label: &str, _value: &[u8]) {}

/// Takes everything recorded on this thread so far.
#[cfg(test)]
pub(crate) fn take() -> Vec<(String, Vec<u8>)> {
    TRANSCRIPT.with(|t| std::mem::take(&mut *t.borrow_mut()))
}
