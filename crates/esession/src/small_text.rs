//! Short text kept inline: a thread id or a SAS held by each of many sessions (issue 14
//! item 3: every heap block of a held session costs the allocator's header and rounding).
use std::cmp::Ordering;

/// Text of at most `N` octets (`N` ≤ 255) held inline, longer text boxed. It compares
/// and orders as its `str`, whichever way it is held.
#[derive(Clone)]
pub(crate) enum SmallText<const N: usize> {
    /// The first `len` octets of `bytes`, always a whole UTF-8 string.
    Inline {
        len: u8,
        bytes: [u8; N],
    },
    Boxed(Box<str>),
}

impl<const N: usize> SmallText<N> {
    /// `text`, inline when it fits.
    pub(crate) fn new(text: &str) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= N => {
                let mut bytes = [0u8; N];
                for (slot, octet) in bytes.iter_mut().zip(text.bytes()) {
                    *slot = octet;
                }
                SmallText::Inline { len, bytes }
            }
            _ => SmallText::Boxed(text.into()),
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // `new` stores a whole string, so the prefix is always valid UTF-8.
            SmallText::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            SmallText::Boxed(text) => text,
        }
    }

    /// The text's octets, without the UTF-8 check of [`SmallText::as_str`]: what
    /// comparing and hashing need (a session map hashes and compares a thread on every
    /// stanza).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            SmallText::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            SmallText::Boxed(text) => text.as_bytes(),
        }
    }
}

impl<const N: usize> PartialEq for SmallText<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for SmallText<N> {}

impl<const N: usize> PartialOrd for SmallText<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for SmallText<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        // `str` orders by its octets.
        self.as_bytes().cmp(other.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_inline_long_text_boxed_and_both_act_as_their_str() {
        for text in ["", "aaaaa", "é€", "0123456789abcdef", "0123456789abcdefg"] {
            let t = SmallText::<16>::new(text);
            assert_eq!(t.as_str(), text);
            assert_eq!(matches!(t, SmallText::Boxed(_)), text.len() > 16);
            assert_eq!(t.as_bytes(), text.as_bytes());
        }
        let (short, long) = (SmallText::<4>::new("abc"), SmallText::<4>::new("abcde"));
        // One inline, one boxed: ordered as their strings.
        assert_eq!(short.cmp(&long), Ordering::Less);
        assert!(short != long);
        assert!(long == SmallText::<4>::new("abcde"));
    }
}
