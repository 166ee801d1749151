//! The Logs pane: the logs worker's latest snapshot, drawn. Follow or pause, colour by
//! level, filters, search highlight, next/previous, jump to error, wrap or scroll long
//! lines sideways, export; key hints from the active keymap.
//!
//! Everything heavy (parsing, filtering, searching) happens in the worker; this pane only
//! lays out the window of entries it was sent, and turns keys into worker commands.

use std::sync::Arc;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{PaneContext, PaneId};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::logs::follow::SourceStatus;
use crate::logs::worker::{LogsCommand, LogsSnapshot, WindowLine};
use crate::logs::{Level, LogLine};
use crate::tui::effect::Effect;
use crate::tui::text_input::{Edit, TextInput};

/// What the one-line prompt at the bottom is asking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Search,
    Export,
}

impl InputKind {
    fn prompt(self) -> &'static str {
        match self {
            InputKind::Filter => "filter /",
            InputKind::Search => "search /",
            InputKind::Export => "export to ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub line: TextInput,
}

/// Where an export goes unless the operator types another path.
pub const DEFAULT_EXPORT: &str = "odoo-ops-logs.txt";
/// Columns one press of scroll left/right moves long lines by (wrap off).
pub const HSCROLL_STEP: usize = 8;

#[derive(Debug, Clone)]
pub struct LogsPane {
    pub snapshot: Arc<LogsSnapshot>,
    pub wrap: bool,
    /// Characters cut from the left of every row while wrap is off (scroll left/right).
    pub hscroll: usize,
    pub input: Option<Input>,
    /// The source shown alone (`cycle_source`), `None` for all.
    pub solo: Option<usize>,
    /// Rows of log text the pane has on screen, kept up to date by the event loop; the
    /// worker is asked for that many entries.
    pub rows: u16,
}

impl Default for LogsPane {
    fn default() -> Self {
        LogsPane {
            // The worker starts following; say so before its first snapshot.
            snapshot: Arc::new(LogsSnapshot {
                follow: true,
                ..LogsSnapshot::default()
            }),
            wrap: false,
            hscroll: 0,
            input: None,
            solo: None,
            rows: 0,
        }
    }
}

impl LogsPane {
    pub fn apply(&mut self, snapshot: Arc<LogsSnapshot>) {
        self.snapshot = snapshot;
    }

    /// True while the bottom line takes typed text: keys go to [`LogsPane::on_key`].
    pub fn is_typing(&self) -> bool {
        self.input.is_some()
    }

    fn page(&self) -> i64 {
        i64::from(self.rows.max(2) - 1)
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let command = match action {
            Action::Up => LogsCommand::Scroll(-1),
            Action::Down => LogsCommand::Scroll(1),
            Action::PageUp => LogsCommand::Scroll(-self.page()),
            Action::PageDown => LogsCommand::Scroll(self.page()),
            Action::Top => LogsCommand::Top,
            Action::Bottom => LogsCommand::Bottom,
            Action::LogsFollow => LogsCommand::ToggleFollow,
            Action::LogsNextMatch => LogsCommand::SearchNext,
            Action::LogsPrevMatch => LogsCommand::SearchPrev,
            Action::LogsNextError => LogsCommand::NextError,
            Action::LogsPrevError => LogsCommand::PrevError,
            Action::LogsLevel => LogsCommand::SetMinLevel(next_level(self.snapshot.min_level)),
            Action::LogsWrap => {
                self.wrap = !self.wrap;
                // Wrapped rows show everything; unwrapping starts at the left again.
                self.hscroll = 0;
                return Vec::new();
            }
            Action::LogsScrollLeft => {
                self.hscroll = self.hscroll.saturating_sub(HSCROLL_STEP);
                return Vec::new();
            }
            Action::LogsScrollRight if !self.wrap => {
                // Stop while the longest row on screen still shows a step's worth of text.
                let max = self.longest_row().saturating_sub(HSCROLL_STEP);
                self.hscroll = (self.hscroll + HSCROLL_STEP).min(max.max(self.hscroll));
                return Vec::new();
            }
            Action::LogsFilter => return self.open(InputKind::Filter),
            Action::LogsSearch => return self.open(InputKind::Search),
            Action::LogsExport => return self.open(InputKind::Export),
            Action::LogsSource => return self.cycle_source(),
            Action::Refresh => LogsCommand::Revive,
            _ => return Vec::new(),
        };
        vec![Effect::Logs(command)]
    }

    /// Characters in the longest row of the entries on screen.
    fn longest_row(&self) -> usize {
        self.snapshot
            .window
            .iter()
            .flat_map(|w| w.line.text().split('\n'))
            .map(|row| row.chars().count())
            .max()
            .unwrap_or(0)
    }

    /// Characters cut from the left of each row as drawn: none while wrapping.
    fn shown_hscroll(&self) -> usize {
        if self.wrap { 0 } else { self.hscroll }
    }

    /// Esc: drop the search if there is one, else the filter.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        let command = if self.snapshot.search.is_some() {
            LogsCommand::SetSearch(None)
        } else if self.snapshot.pattern.is_some() {
            LogsCommand::SetPattern(None)
        } else {
            return None;
        };
        Some(vec![Effect::Logs(command)])
    }

    fn open(&mut self, kind: InputKind) -> Vec<Effect> {
        let text = match kind {
            InputKind::Filter => self.snapshot.pattern.clone().unwrap_or_default(),
            InputKind::Search => self.snapshot.search.clone().unwrap_or_default(),
            InputKind::Export => DEFAULT_EXPORT.to_string(),
        };
        self.input = Some(Input {
            kind,
            line: TextInput::with_text(&text),
        });
        Vec::new()
    }

    /// Show one source, the next, ..., then all again.
    fn cycle_source(&mut self) -> Vec<Effect> {
        let n = self.snapshot.sources.len();
        if n == 0 {
            return Vec::new();
        }
        self.solo = match self.solo {
            None => Some(0),
            Some(i) if i + 1 < n => Some(i + 1),
            Some(_) => None,
        };
        self.snapshot
            .sources
            .iter()
            .enumerate()
            .filter(|(i, s)| s.hidden != self.solo.is_some_and(|solo| solo != *i))
            .map(|(_, s)| Effect::Logs(LogsCommand::ToggleSource(s.id)))
            .collect()
    }

    /// A key while typing. Enter applies, Esc cancels (what was typed is dropped).
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(input) = &mut self.input else {
            return Vec::new();
        };
        match input.line.on_key(key) {
            Edit::Editing => {}
            Edit::Cancel => self.input = None,
            Edit::Submit => {
                let Input { kind, line } = self.input.take().expect("typing");
                let text = line.text().trim().to_string();
                let command = match kind {
                    InputKind::Filter => LogsCommand::SetPattern(Some(text)),
                    InputKind::Search => LogsCommand::SetSearch(Some(text)),
                    InputKind::Export if text.is_empty() => return Vec::new(),
                    InputKind::Export => LogsCommand::Export(text.into()),
                };
                return vec![Effect::Logs(command)];
            }
        }
        Vec::new()
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let s = &self.snapshot;
        let block = ctx.block(PaneId::Logs, area.width, Some(title_note(s, theme)));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.height == 0 || inner.width == 0 {
            return;
        }
        let width = inner.width as usize;
        let body_rows = inner.height.saturating_sub(2) as usize;
        let mut lines = Vec::new();
        if !s.sources.is_empty() {
            lines.push(sources_line(s, theme, width));
        }
        if s.sources.is_empty() {
            lines.push(Line::from(Span::styled(
                "No log source yet: Odoo's containers, the log file its odoo.conf names and nginx's logs are added as they are found.",
                theme.muted(),
            )));
        } else if s.window.is_empty() {
            let why = if s.buffered > 0 {
                "No line matches the filter."
            } else {
                "Waiting for lines…"
            };
            lines.push(Line::from(Span::styled(why, theme.muted())));
        } else {
            let tagged = s.sources.len() > 1;
            let mut rows: Vec<Line> = Vec::new();
            for w in &s.window {
                let is_cursor = s.cursor == Some(w.index);
                let layout = RowLayout {
                    tagged,
                    is_cursor,
                    wrap: self.wrap,
                    skip: self.shown_hscroll(),
                    width,
                };
                entry_rows(w, s, &layout, theme, &mut rows);
                // Paused: the window starts at the top; enough rows is enough.
                if !s.follow && rows.len() >= body_rows {
                    break;
                }
            }
            // Following: the newest lines sit at the bottom.
            if s.follow && rows.len() > body_rows {
                rows.drain(..rows.len() - body_rows);
            }
            rows.truncate(body_rows);
            lines.extend(rows);
        }
        while lines.len() < inner.height as usize - 1 {
            lines.push(Line::default());
        }
        lines.truncate(inner.height as usize - 1);
        lines.push(self.bottom_line(ctx, width));
        frame.render_widget(Paragraph::new(lines).style(theme.text()), inner);
    }

    fn bottom_line(&self, ctx: &PaneContext, width: usize) -> Line<'static> {
        let theme = ctx.theme;
        let s = &self.snapshot;
        if let Some(input) = &self.input {
            let (before, after) = input.line.split_at_cursor();
            return Line::from(vec![
                Span::styled(input.kind.prompt(), theme.accent()),
                Span::styled(before.to_string(), theme.text()),
                Span::styled("▏", theme.accent()),
                Span::styled(after.to_string(), theme.text()),
            ]);
        }
        if let Some(e) = &s.error {
            return Line::from(Span::styled(e.clone(), theme.error()));
        }
        if let Some(n) = &s.notice {
            return Line::from(Span::styled(n.clone(), theme.info()));
        }
        let mut parts = vec![format!(
            "level {}",
            if s.min_level == Level::Unknown {
                "all".to_string()
            } else {
                format!("≥{}", s.min_level)
            }
        )];
        if let Some(p) = &s.pattern {
            parts.push(format!("filter /{p}/"));
        }
        if let Some(p) = &s.search {
            parts.push(format!("search /{p}/"));
        }
        parts.push(format!("wrap {}", if self.wrap { "on" } else { "off" }));
        let skip = self.shown_hscroll();
        if skip > 0 {
            parts.push(format!("scrolled right {skip} cols"));
        }
        let status = parts.join(" · ");
        let mut spans = vec![Span::styled(status.clone(), theme.muted())];
        // Key hints fill what room the status leaves, most useful first.
        let mut used = status.chars().count();
        for hint in self.hints(ctx) {
            let piece = format!("  {hint}");
            let len = piece.chars().count();
            if used + len > width {
                break;
            }
            used += len;
            spans.push(Span::styled(piece, theme.muted()));
        }
        Line::from(spans)
    }

    /// `key what` for the pane's main keys, as the active keymap binds them.
    fn hints(&self, ctx: &PaneContext) -> Vec<String> {
        let mut hints: Vec<String> = Vec::new();
        if self.snapshot.stopped() > 0 {
            hints.push(ctx.hints(&[(Action::Refresh, "restart stopped")]));
        }
        hints.extend(
            [
                (
                    Action::LogsFollow,
                    if self.snapshot.follow {
                        "pause"
                    } else {
                        "follow"
                    },
                ),
                (Action::LogsSearch, "search"),
                (Action::LogsFilter, "filter"),
                (Action::LogsNextError, "next error"),
                (Action::LogsLevel, "level"),
                (Action::LogsSource, "source"),
                (Action::LogsWrap, "wrap"),
            ]
            .iter()
            .map(|hint| ctx.hints(std::slice::from_ref(hint))),
        );
        hints.retain(|h| !h.is_empty());
        if !self.wrap {
            let (left, right) = (
                ctx.keymap.first_key(Action::LogsScrollLeft),
                ctx.keymap.first_key(Action::LogsScrollRight),
            );
            if let (Some(l), Some(r)) = (left, right) {
                hints.push(format!("{l}/{r} scroll"));
            }
        }
        hints.extend(Some(ctx.hints(&[(Action::LogsExport, "export")])).filter(|h| !h.is_empty()));
        hints
    }
}

fn next_level(level: Level) -> Level {
    match level {
        Level::Unknown => Level::Info,
        Level::Debug | Level::Info => Level::Warning,
        Level::Warning => Level::Error,
        Level::Error | Level::Critical => Level::Unknown,
    }
}

fn title_note(s: &LogsSnapshot, theme: &Theme) -> Span<'static> {
    // Following is only claimed for what still follows.
    let stopped = s.stopped();
    let state = match (s.follow, stopped) {
        (true, 0) => "▶ follow".to_string(),
        (true, n) if n == s.sources.len() => "■ stopped".to_string(),
        (true, n) => format!("▶ follow · {n} stopped"),
        (false, 0) => "‖ paused".to_string(),
        (false, n) => format!("‖ paused · {n} stopped"),
    };
    let counts = if s.matching == s.buffered {
        let noun = if s.buffered == 1 { "line" } else { "lines" };
        format!("{} {noun}", thousands(s.buffered as u64))
    } else {
        format!(
            "{} of {} lines",
            thousands(s.matching as u64),
            thousands(s.buffered as u64)
        )
    };
    let style = if s.follow && stopped == 0 {
        theme.ok()
    } else {
        theme.warn()
    };
    Span::styled(format!(" {state} · {counts} "), style)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn sources_line(s: &LogsSnapshot, theme: &Theme, width: usize) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, src) in s.sources.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted()));
        }
        let (mark, style) = match &src.status {
            SourceStatus::Starting => ("…", theme.muted()),
            SourceStatus::Following => ("•", theme.ok()),
            SourceStatus::Notice(_) => ("•", theme.info()),
            SourceStatus::Ended(_) => ("■", theme.warn()),
            SourceStatus::Failed(_) => ("✗", theme.error()),
        };
        let name_style = if src.hidden {
            theme.muted()
        } else {
            theme.text()
        };
        spans.push(Span::styled(mark.to_string(), style));
        spans.push(Span::styled(format!(" {}", src.name), name_style));
        match &src.status {
            SourceStatus::Failed(why) | SourceStatus::Ended(why) | SourceStatus::Notice(why) => {
                spans.push(Span::styled(format!(" ({why})"), style))
            }
            _ => {}
        }
        if src.hidden {
            spans.push(Span::styled(" (hidden)", theme.muted()));
        }
    }
    let mut line = Line::from(spans);
    // Very long failure reasons must not push the view around.
    if line.width() > width {
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        line = Line::from(Span::styled(
            text.chars().take(width).collect::<String>(),
            theme.muted(),
        ));
    }
    line
}

/// The style an entry's text is drawn in: colour carries the level.
pub fn level_style(line: &LogLine, theme: &Theme) -> Style {
    match line.level {
        Level::Critical | Level::Error => theme.error(),
        Level::Warning => theme.warn(),
        Level::Debug => theme.muted(),
        Level::Info | Level::Unknown => theme.text(),
    }
}

/// How one entry's rows are laid out.
struct RowLayout {
    /// More than one source: each entry starts with its source's name.
    tagged: bool,
    is_cursor: bool,
    wrap: bool,
    /// Characters cut from the left of each row (horizontal scroll, wrap off).
    skip: usize,
    width: usize,
}

fn entry_rows(
    w: &WindowLine,
    s: &LogsSnapshot,
    layout: &RowLayout,
    theme: &Theme,
    out: &mut Vec<Line<'static>>,
) {
    let RowLayout {
        tagged,
        is_cursor,
        wrap,
        skip,
        width,
    } = *layout;
    let line = &w.line;
    let base = level_style(line, theme);
    let continuation_style = if line.is_error() {
        theme.error().remove_modifier(Modifier::BOLD)
    } else {
        theme.muted()
    };
    let highlight = theme.accent().add_modifier(Modifier::REVERSED);
    let tag = tagged.then(|| format!("{} ", s.source_name(line.source)));
    let text = line.text();
    let mut offset = 0;
    for (row, physical) in text.split('\n').enumerate() {
        let style = if row == 0 { base } else { continuation_style };
        let prefix = match (&tag, row) {
            (Some(t), 0) => t.clone(),
            (Some(t), _) => " ".repeat(t.chars().count()),
            (None, _) => String::new(),
        };
        let room = width.saturating_sub(prefix.chars().count()).max(1);
        // Cut before building spans: a 1 MB line costs only what is visible.
        let max_chars = if wrap { room * 50 } else { room };
        let mut chars = physical.char_indices().skip(skip);
        let visible_start = chars.next().map_or(physical.len(), |(i, _)| i);
        let visible_end = chars
            .nth(max_chars.saturating_sub(1))
            .map_or(physical.len(), |(i, _)| i);
        let spans = highlighted(
            &physical[visible_start..visible_end],
            offset + visible_start,
            &w.matches,
            style,
            highlight,
        );
        let chunks = if wrap {
            wrap_spans(spans, room)
        } else {
            vec![spans]
        };
        for (i, mut chunk) in chunks.into_iter().enumerate() {
            let p = if i == 0 {
                prefix.clone()
            } else {
                " ".repeat(prefix.chars().count())
            };
            if !p.is_empty() {
                chunk.insert(0, Span::styled(p, theme.muted()));
            }
            if is_cursor && row == 0 && i == 0 {
                for span in &mut chunk {
                    span.style = span.style.patch(theme.selection());
                }
            }
            out.push(Line::from(chunk));
        }
        offset += physical.len() + 1;
    }
}

/// Split `text` (which starts at byte `offset` of the entry) into spans, with search
/// matches (byte ranges of the entry) highlighted.
fn highlighted(
    text: &str,
    offset: usize,
    matches: &[(usize, usize)],
    style: Style,
    highlight: Style,
) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut at = 0;
    for &(a, b) in matches {
        let (a, b) = (a.saturating_sub(offset), b.saturating_sub(offset));
        if b == 0 || a >= text.len() {
            continue;
        }
        let b = b.min(text.len());
        if !text.is_char_boundary(a) || !text.is_char_boundary(b) || a < at {
            continue;
        }
        if a > at {
            spans.push(Span::styled(text[at..a].to_string(), style));
        }
        spans.push(Span::styled(text[a..b].to_string(), highlight));
        at = b;
    }
    if at < text.len() || spans.is_empty() {
        spans.push(Span::styled(text[at..].to_string(), style));
    }
    spans
}

/// Cut spans into rows of `width` characters.
fn wrap_spans(spans: Vec<Span<'static>>, width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        let mut rest: &str = &span.content;
        while !rest.is_empty() {
            if used == width {
                rows.push(Vec::new());
                used = 0;
            }
            let take = rest
                .char_indices()
                .nth(width - used)
                .map_or(rest.len(), |(i, _)| i);
            let piece = &rest[..take];
            used += piece.chars().count();
            rows.last_mut()
                .expect("one row")
                .push(Span::styled(piece.to_string(), span.style));
            rest = &rest[take..];
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_splits_at_matches_in_the_right_row() {
        let s = Style::default();
        let h = Style::default().add_modifier(Modifier::REVERSED);
        let spans = highlighted("abc refused def", 0, &[(4, 11)], s, h);
        let texts: Vec<&str> = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, ["abc ", "refused", " def"]);
        assert_eq!(spans[1].style, h);
        // A match in the second row (offset 10) of the entry.
        let spans = highlighted("xx hit", 10, &[(13, 16)], s, h);
        assert_eq!(spans[1].content, "hit");
    }

    #[test]
    fn wrapping_counts_characters() {
        let rows = wrap_spans(vec![Span::raw("abcdefg")], 3);
        let texts: Vec<String> = rows
            .iter()
            .map(|r| r.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(texts, ["abc", "def", "g"]);
        assert_eq!(thousands(100_000), "100,000");
    }
}
