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

#[cfg(test)]
mod tests {
    #[test]
    fn records_per_thread_in_order() {
        let _ = super::take();
        super::record("a", &[1]);
        super::record("b", &[2, 3]);
        assert_eq!(
            super::take(),
            vec![("a".to_owned(), vec![1]), ("b".to_owned(), vec![2, 3])]
        );
        assert!(super::take().is_empty());
    }
}
