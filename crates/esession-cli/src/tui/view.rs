//! Drawing the [`App`]: the contacts pane, the window shown, the status line, the input
//! line, and the help over them. Nothing here changes state.
use esession_client::{Kept, Shield, Show};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::app::{App, Contact};
use super::command::HELP;
use super::rows::{clean, rows, wrap};

/// Columns of the contacts pane.
const CONTACTS_WIDTH: u16 = 28;

/// Draws the whole screen.
pub(crate) fn draw(f: &mut Frame<'_>, app: &App) {
    let [main, status, input] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let [contacts, window] =
        Layout::horizontal([Constraint::Length(CONTACTS_WIDTH), Constraint::Min(10)]).areas(main);
    draw_contacts(f, contacts, app);
    draw_window(f, window, app);
    f.render_widget(
        Paragraph::new(status_line(app)).style(Style::default().bg(Color::Blue)),
        status,
    );
    draw_input(f, input, app);
    if app.help {
        draw_help(f, main, app.help_first);
    }
}

fn draw_contacts(f: &mut Frame<'_>, area: Rect, app: &App) {
    let lines: Vec<Line<'static>> = app
        .contacts
        .iter()
        .map(|c| contact_line(c, app.unread(&c.jid), app.peer() == Some(c.jid.as_str())))
        .collect();
    let block = Block::bordered().title(" contacts ");
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// One contact: the lock and the presence in fixed columns first, so that no name can
/// forge them; then the name (or JID) and the unread count.
fn contact_line(c: &Contact, unread: usize, current: bool) -> Line<'static> {
    let lock = if c.esessions { "🔒" } else { "  " };
    let (dot, color) = match c.show {
        None => ("○", Color::DarkGray),
        Some(Show::Available | Show::Chat) => ("●", Color::Green),
        Some(Show::Away | Show::ExtendedAway | Show::DoNotDisturb) => ("◐", Color::Yellow),
    };
    let name = clean(c.name.as_deref().unwrap_or(&c.jid));
    let mut style = Style::default();
    if current {
        style = style.add_modifier(Modifier::REVERSED);
    }
    let mut spans = vec![
        Span::raw(lock),
        Span::styled(dot, Style::default().fg(color)),
        Span::raw(" "),
        Span::styled(name, style),
    ];
    if unread > 0 {
        spans.push(Span::styled(
            format!(" ({unread})"),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn draw_window(f: &mut Frame<'_>, area: Rect, app: &App) {
    let w = app.shown();
    let n = app.current + 1;
    let title = match (&w.peer, w.kept) {
        (None, _) => format!(" [{n}] console "),
        (Some(p), Some(Kept::Store)) => format!(" [{n}] {} · logged (sealed) ", clean(p)),
        (Some(p), Some(Kept::Memory | Kept::Nowhere)) => {
            format!(" [{n}] {} · not logged ", clean(p))
        }
        (Some(p), None) => format!(" [{n}] {} ", clean(p)),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let all: Vec<Line<'static>> = w.entries.iter().flat_map(|e| rows(e, width)).collect();
    let height = usize::from(inner.height);
    let bottom = all
        .len()
        .saturating_sub(w.scroll)
        .max(height.min(all.len()));
    let top = bottom.saturating_sub(height);
    let shown: Vec<Line<'static>> = all.into_iter().skip(top).take(bottom - top).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
}

/// The account and its connection, the window shown with its shield and SAS (with its
/// caveat for a classic SAS), and the windows with unread messages.
pub(crate) fn status_line(app: &App) -> Line<'static> {
    let bar = Style::default().bg(Color::Blue).fg(Color::White);
    let mut spans = vec![Span::styled(
        format!(" {} ({}) ", clean(&app.account), clean(&app.connection)),
        bar,
    )];
    let active: Vec<String> = app
        .windows()
        .enumerate()
        .filter(|(_, w)| w.unread > 0)
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if !active.is_empty() {
        spans.push(Span::styled(
            format!("│ act: {} ", active.join(",")),
            bar.add_modifier(Modifier::BOLD),
        ));
    }
    let w = app.shown();
    if let Some(peer) = &w.peer {
        spans.push(Span::styled(format!("│ {} ", clean(peer)), bar));
        let session = w.session.as_ref();
        let shield = session.map_or(Shield::NotEncrypted, |s| s.shield);
        let (text, color) = match shield {
            Shield::NotEncrypted => ("not encrypted", Color::Red),
            Shield::Unverified => ("encrypted, unverified", Color::Yellow),
            Shield::SasVerified => ("encrypted, SAS-verified", Color::Green),
            Shield::KeyTrusted => ("encrypted, key trusted", Color::Green),
        };
        spans.push(Span::styled(
            format!(" {text} "),
            Style::default()
                .bg(color)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
        ));
        if let Some(s) = session {
            if let Some(sas) = &s.sas {
                // Profile P15: a classic SAS is never shown without its caveat.
                let about = match s.sas_alg {
                    Some(a) => format!(" ({})", a.caveat().unwrap_or(a.name())),
                    None => String::new(),
                };
                spans.push(Span::styled(format!(" SAS {}{about} ", clean(sas)), bar));
            }
            if let Some(c) = s.compat {
                // Issue 13 §4: the shield of a session in Gajim's dialect says so.
                spans.push(Span::styled(
                    format!(" compat: {} ", c.name()),
                    Style::default().bg(Color::Red).fg(Color::White),
                ));
            }
        }
    }
    Line::from(spans)
}

/// The line being typed, scrolled so that the cursor stays visible.
fn draw_input(f: &mut Frame<'_>, area: Rect, app: &App) {
    const PROMPT: &str = "> ";
    let room = usize::from(area.width).saturating_sub(PROMPT.len() + 1);
    let before = app.input.before_cursor();
    let text = app.input.text();
    // Characters cut from the left until the cursor fits.
    let mut skip = 0;
    while before.chars().skip(skip).collect::<String>().width() > room {
        skip += 1;
    }
    let shown: String = clean(&text.chars().skip(skip).collect::<String>());
    let cursor = clean(&before.chars().skip(skip).collect::<String>()).width();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(PROMPT, Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(shown),
        ])),
        area,
    );
    let x = area
        .x
        .saturating_add(u16::try_from(PROMPT.len() + cursor).unwrap_or(u16::MAX));
    f.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

/// Columns before a command's description in the help.
const HELP_COLUMN: usize = 14;

/// The help over `over`: each command with its description wrapped under it, from the
/// entry `first` on when they do not all fit (PageUp / PageDown scroll; the title says
/// which are shown).
fn draw_help(f: &mut Frame<'_>, over: Rect, first: usize) {
    let width = over.width.min(78);
    let inner = usize::from(width.saturating_sub(2));
    let entries: Vec<Vec<Line<'static>>> = HELP
        .iter()
        .map(|(cmd, what)| {
            let spans = vec![
                Span::styled(
                    format!(" {cmd:<w$}", w = HELP_COLUMN - 1),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ];
            wrap(spans, inner, HELP_COLUMN)
        })
        .collect();
    let rows = usize::from(over.height.saturating_sub(2));
    let total: usize = entries.iter().map(Vec::len).sum();
    // Everything shown when it fits; else from `first`, as many whole entries as fit.
    let first = if total <= rows {
        0
    } else {
        first.min(entries.len().saturating_sub(1))
    };
    let mut lines = Vec::new();
    let mut last = first;
    for (i, entry) in entries.iter().enumerate().skip(first) {
        if lines.len() + entry.len() > rows && !lines.is_empty() {
            break;
        }
        lines.extend(entry.iter().cloned());
        last = i;
    }
    let title = if first == 0 && last + 1 == entries.len() {
        " help (Esc closes) ".to_owned()
    } else {
        format!(
            " help {}–{} of {} (PageUp/PageDown; Esc closes) ",
            first + 1,
            last + 1,
            entries.len()
        )
    };
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(over.height);
    let area = Rect {
        x: over.x + (over.width - width) / 2,
        y: over.y + (over.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}
