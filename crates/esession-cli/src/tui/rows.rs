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
    wrap(spans, width)
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

/// Cuts `spans` into rows of `width` columns; rows after the first start at [`INDENT`].
fn wrap(spans: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
    let indent = if width > INDENT * 2 { INDENT } else { 0 };
    let mut lines = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let mut row_start = 0;
    for span in spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > row_start {
                if !piece.is_empty() {
                    row.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                lines.push(Line::from(std::mem::take(&mut row)));
                row.push(Span::raw(" ".repeat(indent)));
                used = indent;
                row_start = indent;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            row.push(Span::styled(piece, span.style));
        }
    }
    lines.push(Line::from(row));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn long_entries_wrap_with_a_hanging_indent() {
        let e = Entry::Message {
            at: Timestamp(3600 * 13 + 60 * 7),
            who: Who::Me,
            body: "abcdefghijklmnopqrstuvwxyz".into(),
            encrypted: true,
            id: None,
            sent: None,
        };
        assert_eq!(
            text(&rows(&e, 20)),
            ["13:07 me> abcdefghij", "      klmnopqrstuvwx", "      yz"]
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
        let all: String = rows
            .iter()
            .map(|r| r.trim_start_matches("      "))
            .collect();
        assert!(!all.contains('\n') && !all.contains('\r') && !all.contains('\u{1b}'));
        assert!(
            all.contains("\\u{202e}") && all.contains("[NOT ENCRYPTED]"),
            "{all}"
        );
    }
}
