//! XEP-0201 thread IDs: the identifier of a session.
use crate::random::Random;

/// A new thread ID: 128 bits from the injected CSPRNG, as 32 lowercase hex digits
/// (XEP-0201 §4: unique and unpredictable).
pub fn new_thread_id(rng: &mut dyn Random) -> String {
    let mut raw = [0u8; 16];
    rng.fill(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn thread_ids_are_128_bit_hex_and_distinct() {
        let mut rng = SeededRandom::from_label("t");
        let a = new_thread_id(&mut rng);
        let b = new_thread_id(&mut rng);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
