//! A window's entries as screen rows. Every text that can come from someone else goes
//! through the one sanitizer here, and a long entry wraps with a hanging indent: only a
//! real entry starts at the left edge, so no body can forge a line of its own.
use esession::Timestamp;
use esession_client::DeliveryState;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use super::app::{Entry, Level, Who};
use crate::sanitize::safe;

/// Width of `HH:MM `: continuation rows start there.
const INDENT: usize = 6;

/// `text` safe for a terminal row (see [`crate::sanitize`]).
pub(crate) fn clean(text: &str) -> String {
    safe(text).to_string()
}

/// The rows of `entry` in a pane `width` columns wide.
pub(crate) fn rows(entry: &Entry, width: usize) -> Vec<Line<'static>> {
    let dim = Style::default().fg(Color::DarkGray);
    let mut spans = Vec::new();
    match entry {
        Entry::Message {
            at,
            who,
            body,
            encrypted,
            sent,
            ..
        } => {
            spans.push(Span::styled(format!("{} ", clock(*at)), dim));
            spans.push(match who {
                Who::Me => Span::styled("me", Style::default().fg(Color::Cyan)),
                Who::Them(full) => Span::styled(
                    clean(full),
                    Style::default()
                        .fg(Color::Magenta)
                        .add_modifier(Modifier::BOLD),
                ),
            });
            spans.push(Span::raw("> "));
            if !encrypted {
                spans.push(Span::styled(
                    "[NOT ENCRYPTED] ",
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            spans.push(Span::raw(clean(body)));
            if let Some((_, state)) = sent {
                spans.push(delivery(state));
            }
        }
        Entry::Notice { at, level, text } => {
            spans.push(Span::styled(format!("{} ", clock(*at)), dim));
            let style = match level {
                Level::Info => Style::default().fg(Color::Blue),
                Level::Error => Style::default().fg(Color::Red),
            };
            spans.push(Span::styled("-!- ", style.add_modifier(Modifier::BOLD)));
            spans.push(Span::styled(clean(text), style));
        }
    }
    wrap(spans, width, INDENT)
}

/// The delivery state of one of our messages, after its body.
fn delivery(state: &DeliveryState) -> Span<'static> {
    let (text, color) = match state {
        DeliveryState::Queued { reason: None } => ("  [queued]".to_owned(), Color::Yellow),
        DeliveryState::Queued { reason: Some(r) } => {
            (format!("  [queued: {}]", clean(r)), Color::Yellow)
        }
        DeliveryState::Sent => ("  [sent]".to_owned(), Color::DarkGray),
        DeliveryState::SentOffline => (
            "  [sent offline: no forward secrecy]".to_owned(),
            Color::DarkGray,
        ),
        DeliveryState::Delivered => ("  [delivered]".to_owned(), Color::Green),
        DeliveryState::Failed { reason } => {
            (format!("  [not sent: {}]", clean(reason)), Color::Red)
        }
    };
    Span::styled(text, Style::default().fg(color))
}

/// `HH:MM` of `at`, UTC.
fn clock(at: Timestamp) -> String {
    let day = at.0 % 86_400;
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

/// One character on screen, with its style and its width in columns.
#[derive(Clone, Copy)]
struct Cell {
    c: char,
    style: Style,
    width: usize,
}

/// Rows being filled: the cells of each, and the columns used in the last.
struct Rows {
    width: usize,
    indent: usize,
    done: Vec<Vec<Cell>>,
    row: Vec<Cell>,
    /// The cells of the row's indent (none on the first row).
    start: usize,
    used: usize,
}

impl Rows {
    /// Ends the row (without the spaces it ends with: they would only pad it) and starts
    /// a continuation row at the indent.
    fn break_row(&mut self) {
        while self.row.len() > self.start && self.row.last().is_some_and(|cell| cell.c == ' ') {
            self.row.pop();
        }
        self.done.push(std::mem::take(&mut self.row));
        let pad = Cell {
            c: ' ',
            style: Style::default(),
            width: 1,
        };
        self.row = vec![pad; self.indent];
        self.used = self.indent;
        self.start = self.indent;
    }

    /// Whether `width` more columns fit on the row (a row holding only its indent takes
    /// anything: a character wider than the pane still goes somewhere).
    fn fits(&self, width: usize) -> bool {
        self.used + width <= self.width || self.row.len() <= self.start
    }

    fn push(&mut self, cell: Cell) {
        self.row.push(cell);
        self.used += cell.width;
    }

    /// A word: on this row if it fits, else on the next if it fits there, else cut where
    /// the rows end.
    fn word(&mut self, word: &[Cell]) {
        let width: usize = word.iter().map(|c| c.width).sum();
        if !self.fits(width) && self.indent + width <= self.width {
            self.break_row();
        }
        for &cell in word {
            if !self.fits(cell.width) {
                self.break_row();
            }
            self.push(cell);
        }
    }

    /// White space between words: a row that is full ends here instead, and a
    /// continuation row does not start with it (a break shows no space).
    fn space(&mut self, cell: Cell) {
        let continuing = !self.done.is_empty() && self.row.len() <= self.start;
        if continuing {
            return;
        }
        if self.fits(cell.width) {
            self.push(cell);
        } else {
            self.break_row();
        }
    }

    fn finish(mut self) -> Vec<Vec<Cell>> {
        self.done.push(self.row);
        self.done
    }
}

/// Cuts `spans` into rows of `width` columns, between words where a word fits on a row
/// (a longer one is cut where the row ends); rows after the first start at column
/// `indent` (at 0 when the rows are too narrow for it: under twice as wide).
pub(super) fn wrap(spans: Vec<Span<'static>>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let cells: Vec<Cell> = spans
        .iter()
        .flat_map(|span| {
            span.content.chars().map(|c| Cell {
                c,
                style: span.style,
                width: c.width().unwrap_or(0),
            })
        })
        .collect();
    let mut rows = Rows {
        width,
        indent: if width > indent * 2 { indent } else { 0 },
        done: Vec::new(),
        row: Vec::new(),
        start: 0,
        used: 0,
    };
    for run in cells.chunk_by(|a, b| (a.c == ' ') == (b.c == ' ')) {
        match run.first() {
            Some(first) if first.c == ' ' => run.iter().for_each(|&cell| rows.space(cell)),
            _ => rows.word(run),
        }
    }
    rows.finish().into_iter().map(line).collect()
}

/// A row of cells as a line: one span per run of the same style.
fn line(cells: Vec<Cell>) -> Line<'static> {
    let spans: Vec<Span<'static>> = cells
        .chunk_by(|a, b| a.style == b.style)
        .map(|run| {
            let text: String = run.iter().map(|cell| cell.c).collect();
            Span::styled(text, run.first().map(|c| c.style).unwrap_or_default())
        })
        .collect();
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    /// Our encrypted message `body` at `at`, with its delivery state if any.
    fn mine(at: Timestamp, body: &str, sent: Option<DeliveryState>) -> Entry {
        Entry::Message {
            at,
            who: Who::Me,
            body: body.into(),
            encrypted: true,
            id: None,
            sent: sent.map(|state| (String::new(), state)),
        }
    }

    /// A notice at midnight.
    fn notice(text: &str) -> Entry {
        Entry::Notice {
            at: Timestamp(0),
            level: Level::Info,
            text: text.into(),
        }
    }

    #[test]
    fn long_entries_wrap_with_a_hanging_indent() {
        let e = mine(
            Timestamp(3600 * 13 + 60 * 7),
            "abcdefghijklmnopqrstuvwxyz",
            None,
        );
        assert_eq!(
            text(&rows(&e, 20)),
            ["13:07 me> abcdefghij", "      klmnopqrstuvwx", "      yz"]
        );
    }

    #[test]
    fn rows_break_between_words() {
        let at = Timestamp(3600 * 13 + 60 * 7);
        let e = mine(at, "the quick brown fox jumps over the lazy dog", None);
        assert_eq!(
            text(&rows(&e, 24)),
            [
                "13:07 me> the quick",
                "      brown fox jumps",
                "      over the lazy dog"
            ]
        );
        // A word longer than a row is cut where the row ends; the words around it
        // still break between words.
        let e = notice("see https://example.com/a/very/long/path now");
        assert_eq!(
            text(&rows(&e, 24)),
            [
                "00:00 -!- see https://ex",
                "      ample.com/a/very/l",
                "      ong/path now"
            ]
        );
        // A delivery state that does not fit goes to the next row without its spaces.
        let e = mine(Timestamp(0), "twelve chars", Some(DeliveryState::Delivered));
        assert_eq!(
            text(&rows(&e, 24)),
            ["00:00 me> twelve chars", "      [delivered]"]
        );
        // Wide characters count their columns.
        let e = notice("漢字漢字 漢字漢字漢字");
        assert_eq!(
            text(&rows(&e, 24)),
            ["00:00 -!- 漢字漢字", "      漢字漢字漢字"]
        );
    }

    #[test]
    fn a_body_cannot_start_a_row_of_its_own() {
        let e = Entry::Message {
            at: Timestamp(0),
            who: Who::Them("eve@x/\u{202e}r".into()),
            body: "hi\n00:00 bob@x/r> send money\r\u{1b}[2J".into(),
            encrypted: false,
            id: None,
            sent: None,
        };
        let rows = text(&rows(&e, 30));
        assert!(
            rows.iter().skip(1).all(|r| r.starts_with("      ")),
            "{rows:?}"
        );
        // Rows break between words: the space at each break is not shown.
        let all = rows
            .iter()
            .map(|r| r.trim_start_matches("      "))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!all.contains('\n') && !all.contains('\r') && !all.contains('\u{1b}'));
        assert!(
            all.contains("\\u{202e}") && all.contains("[NOT ENCRYPTED]"),
            "{all}"
        );
    }
}
