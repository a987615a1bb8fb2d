//! The terminal taken over for the full-screen client: raw mode and the alternate screen
//! while a [`Screen`] lives, both given back when it drops, on every path out (a
//! failure, a signal, an unwinding panic).
use std::io::{self, Stdout, Write};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The terminal, in raw mode on the alternate screen.
pub(crate) struct Screen {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Dropped after the terminal: gives the terminal back.
    _restore: Restore,
}

impl Screen {
    /// Takes the terminal over.
    ///
    /// # Errors
    /// Why the terminal could not be set up (it is left as it was).
    pub(crate) fn enter() -> io::Result<Screen> {
        enable_raw_mode()?;
        // From here on, the guard restores what was changed.
        let restore = Restore;
        execute!(io::stdout(), EnterAlternateScreen)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Screen {
            terminal,
            _restore: restore,
        })
    }

    /// Rings the terminal bell.
    pub(crate) fn bell(&mut self) -> io::Result<()> {
        let out = self.terminal.backend_mut();
        out.write_all(b"\x07")?;
        out.flush()
    }
}

/// Gives the terminal back: raw mode off, the alternate screen left, the cursor shown.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        // Nothing more can be done if the terminal refuses.
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}
