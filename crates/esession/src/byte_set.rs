//! A set of octets kept as a 256-entry table, for the hot scans of text (escaping, white
//! space) that look for a few ASCII characters: one branch-free lookup per octet.

/// A set of octets: a lookup table with 1 at each member.
pub(crate) struct ByteSet([u8; 256]);

impl ByteSet {
    /// The set holding exactly `members` (built at compile time where used in a `const`).
    pub(crate) const fn of(members: &[u8]) -> ByteSet {
        let mut table = [0u8; 256];
        let mut slots: &mut [u8] = &mut table;
        let mut octet: u8 = 0;
        while let [slot, rest @ ..] = slots {
            *slot = contains(members, octet) as u8;
            slots = rest;
            octet = octet.wrapping_add(1);
        }
        ByteSet(table)
    }

    /// Whether `b` is in the set: one lookup.
    pub(crate) fn has(&self, b: u8) -> bool {
        // Every u8 is an index of the 256-entry table (see `any_in`).
        self.0.get(usize::from(b)).copied().unwrap_or(0) != 0
    }

    /// Whether any octet of `s` is in the set: a branch-free table lookup per octet, with an
    /// exit test only once per 64-octet chunk.
    pub(crate) fn any_in(&self, s: &[u8]) -> bool {
        // Every u8 is an index of the 256-entry table, so `get` never misses (and the
        // compiler drops its check).
        let lookup = |acc: u8, b: &u8| acc | self.0.get(usize::from(*b)).copied().unwrap_or(0);
        let mut chunks = s.chunks_exact(64);
        for chunk in &mut chunks {
            if chunk.iter().fold(0, lookup) != 0 {
                return true;
            }
        }
        chunks.remainder().iter().fold(0, lookup) != 0
    }
}

/// Whether `members` holds `octet` (a `const` linear search, for [`ByteSet::of`]).
const fn contains(members: &[u8], octet: u8) -> bool {
    let mut rest = members;
    while let [first, tail @ ..] = rest {
        if *first == octet {
            return true;
        }
        rest = tail;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_its_members_at_every_position() {
        const SET: ByteSet = ByteSet::of(b"\x00&\xff");
        for b in 0..=255u8 {
            let member = matches!(b, 0 | b'&' | 0xff);
            assert_eq!(SET.any_in(&[b]), member, "octet {b}");
            assert_eq!(SET.has(b), member, "octet {b}");
            // Past a full 64-octet chunk, in the remainder, and inside a chunk.
            let mut long = vec![b'a'; 150];
            for at in [0, 63, 64, 127, 128, 149] {
                long[at] = b;
                assert_eq!(SET.any_in(&long), member, "octet {b} at {at}");
                long[at] = b'a';
            }
        }
        assert!(!SET.any_in(b""));
    }
}
