//! The input line: what is being typed, and the cursor. Incoming text never touches it.

/// The line being typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Input {
    chars: Vec<char>,
    /// The cursor, in characters from the start.
    cursor: usize,
}

impl Input {
    /// The text typed.
    pub(crate) fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The text before the cursor.
    pub(crate) fn before_cursor(&self) -> String {
        self.chars.iter().take(self.cursor).collect()
    }

    pub(crate) fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor.min(self.chars.len()), c);
        self.cursor += 1;
    }

    pub(crate) fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    pub(crate) fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    pub(crate) fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub(crate) fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    pub(crate) fn home(&mut self) {
        self.cursor = 0;
    }

    pub(crate) fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    pub(crate) fn clear(&mut self) {
        *self = Input::default();
    }

    /// The line submitted; the input is empty after.
    pub(crate) fn take(&mut self) -> String {
        let text = self.text();
        self.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Input;

    #[test]
    fn editing_moves_the_cursor_within_the_line() {
        let mut i = Input::default();
        for c in "helo".chars() {
            i.insert(c);
        }
        i.left();
        i.insert('l');
        assert_eq!(i.text(), "hello");
        assert_eq!(i.before_cursor(), "hell");
        i.end();
        i.backspace();
        i.home();
        i.delete();
        i.left();
        assert_eq!(i.text(), "ell");
        assert_eq!(i.take(), "ell");
        assert_eq!(i, Input::default());
        i.backspace();
        i.delete();
        assert_eq!(i.text(), "");
    }
}
