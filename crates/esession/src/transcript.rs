//! In test builds only: a per-thread record of the random inputs the engine drew (secret
//! exponents, nonces, counters), so that published test vectors can list them. Outside test
//! builds [`record!`] expands to nothing: its arguments (often copies of secret exponents,
//! which would not be wiped) are never evaluated.

#[cfg(test)]
thread_local! {
    static TRANSCRIPT: std::cell::RefCell<Vec<(String, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `record!(label, value)`: records the octets `value` (a `&[u8]`) under `label` (a `&str`)
/// in test builds; expands to nothing otherwise, so neither argument is evaluated.
macro_rules! record {
    ($label:expr, $value:expr $(,)?) => {
        #[cfg(test)]
        $crate::transcript::push($label, $value);
    };
}
pub(crate) use record;

/// Records `value` under `label` (the body of [`record!`] in test builds).
#[cfg(test)]
pub(crate) fn push(label: &str, value: &[u8]) {
    TRANSCRIPT.with(|t| t.borrow_mut().push((label.to_owned(), value.to_vec())));
}

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
        super::record!("a", &[1]);
        super::record!("b", &[2, 3]);
        assert_eq!(
            super::take(),
            vec![("a".to_owned(), vec![1]), ("b".to_owned(), vec![2, 3])]
        );
        assert!(super::take().is_empty());
    }
}
