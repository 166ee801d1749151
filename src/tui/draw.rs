//! Drawing: a function of [`App`] and nothing else.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, List, ListItem, ListState, Paragraph};

use super::app::{App, Connection, Overlay};
use super::format;
use super::palette::Palette;
use super::panes;
use crate::config::keymap::{Action, Context};

pub fn draw(frame: &mut Frame, app: &App) {
    let layout = super::layout::ScreenLayout::compute(frame.area(), app);
    frame.render_widget(Block::default().style(app.theme.text()), frame.area());
    for (pane, area) in &layout.panes {
        panes::draw(frame, *area, *pane, app);
    }
    if let Some(area) = layout.console_log {
        draw_console_log(frame, area, app);
    }
    draw_status_bar(frame, layout.status_bar, app);
    if app.bootstrap.open {
        let mut body = frame.area();
        body.height = layout.status_bar.y.saturating_sub(body.y);
        panes::bootstrap::draw(frame, body, app);
    }
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => draw_help(frame, app, *scroll),
        Overlay::Palette(palette) => draw_palette(frame, app, palette),
        Overlay::HostKey(question) => draw_host_key(frame, app, question),
        Overlay::ConnectFailed { host, why } => draw_connect_failed(frame, app, host, why),
    }
}

fn draw_console_log(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(false))
        .title(Span::styled(" odoo-ops log ", theme.title(false)));
    let widget = tui_logger::TuiLoggerWidget::default()
        .block(block)
        .style(theme.text())
        .style_error(theme.error())
        .style_warn(theme.warn())
        .style_info(theme.info())
        .style_debug(theme.muted())
        .style_trace(theme.muted())
        .output_target(false)
        .output_file(false)
        .output_line(false)
        .output_timestamp(Some("%H:%M:%S".into()));
    frame.render_widget(widget, area);
}

fn draw_status_bar(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let bar = theme.status_bar();
    let (dot, state) = match &app.connection {
        Connection::Local => (
            Span::styled("●", bar.patch(theme.ok())),
            "local".to_string(),
        ),
        Connection::Connected => (Span::styled("●", bar.patch(theme.ok())), "connected".into()),
        Connection::Reconnecting { attempt } => (
            Span::styled("●", bar.patch(theme.warn())),
            format!("reconnecting (attempt {attempt})"),
        ),
        Connection::Lost(why) => (
            Span::styled("●", bar.patch(theme.error())),
            format!(
                "lost: {why} ({} reconnects)",
                app.keymap.key_for_sentence(Action::Refresh)
            ),
        ),
    };
    let mut left = vec![
        Span::styled(format!(" {} ", app.host_label), bar),
        dot,
        Span::styled(format!(" {state} "), bar),
    ];
    if app.readonly {
        left.push(Span::styled(" READ-ONLY ", bar.patch(theme.warn())));
    }
    if let Some(host) = &app.connecting {
        left.push(Span::styled(
            format!(" connecting to {host}… "),
            bar.patch(theme.warn()),
        ));
    }
    // What is left of DigitalOcean's hourly request budget, once an answer told.
    if let Some(rate) = &app.droplets.rate_limit {
        left.push(Span::styled(format!(" {} ", rate.label()), bar));
    }
    if let Some(error) = &app.last_error {
        left.push(Span::styled(" │ ", bar));
        left.push(Span::styled(format!("error: {error}"), theme.error()));
    } else if let Some(notice) = &app.notice {
        left.push(Span::styled(" │ ", bar));
        left.push(Span::styled(notice.clone(), bar.patch(theme.warn())));
    }
    let keys = &app.keymap;
    let right = format!(
        " {} help · {} commands · {} quit ",
        keys.key_for_sentence(Action::Help),
        keys.key_for_sentence(Action::Palette),
        keys.key_for_sentence(Action::Quit)
    );
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(right.chars().count() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)).style(bar), left_area);
    frame.render_widget(
        Paragraph::new(Span::styled(right, bar)).style(bar),
        right_area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn overlay_block(app: &App, title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.border(true))
        .style(app.theme.text())
        .title(Span::styled(format!(" {title} "), app.theme.title(true)))
}

/// Help is generated from the active keymap, so it is right after any rebinding. Lines
/// are laid out for an overlay `width` cells wide inside its borders: a description that
/// does not fit continues on the next line under itself, never cut.
pub fn help_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let key_column = help_key_column(app);
    let text_width = (width as usize).saturating_sub(key_column).max(12);
    let mut lines = vec![Line::from(Span::styled(
        format!("keymap: {} · theme: {}", app.keymap.name, app.theme.name),
        theme.muted(),
    ))];
    for context in Context::ALL {
        let actions: Vec<&Action> = Action::ALL
            .iter()
            .filter(|a| a.context() == context)
            .collect();
        if actions.is_empty() {
            continue;
        }
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("[{}]", context.name()),
            theme.title(true),
        )));
        for action in actions {
            let keys = format!("  {}", app.keymap.keys_label(*action));
            for (i, part) in format::wrap_words(action.description(), text_width)
                .into_iter()
                .enumerate()
            {
                let left = if i == 0 { keys.as_str() } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("{left:<key_column$}"), theme.accent()),
                    Span::styled(part, theme.text()),
                ]));
            }
        }
    }
    lines
}

/// Cells before the descriptions: the widest key label, indented, plus a gap.
fn help_key_column(app: &App) -> usize {
    let widest = Action::ALL
        .iter()
        .map(|a| app.keymap.keys_label(*a).chars().count())
        .max()
        .unwrap_or(0);
    // Two of indent, two of gap; at least the 20 the help always had, so columns align
    // across keymaps.
    (2 + widest + 2).max(20)
}

/// Cells the help needs to show every line whole on one line.
fn help_width(app: &App) -> u16 {
    let key_column = help_key_column(app);
    let descriptions = Action::ALL
        .iter()
        .map(|a| key_column + a.description().chars().count())
        .max()
        .unwrap_or(0);
    let header = format!("keymap: {} · theme: {}", app.keymap.name, app.theme.name);
    descriptions.max(header.chars().count()) as u16
}

/// As wide as the longest line needs (plus borders), as the terminal allows.
fn draw_help(frame: &mut Frame, app: &App, scroll: u16) {
    let screen = frame.area();
    let width = (help_width(app) + 2).min(screen.width.saturating_sub(2).max(20));
    let lines = help_lines(app, width.saturating_sub(2));
    let height = (lines.len() as u16 + 2).min(screen.height.saturating_sub(2).max(5));
    let area = centered(screen, width, height);
    frame.render_widget(Clear, area);
    let paragraph = Paragraph::new(lines)
        .scroll((scroll, 0))
        .block(overlay_block(app, "Help"));
    frame.render_widget(paragraph, area);
}

fn draw_palette(frame: &mut Frame, app: &App, palette: &Palette) {
    let theme = &app.theme;
    let area = centered(frame.area(), 70, 16);
    frame.render_widget(Clear, area);
    let block = overlay_block(app, "Commands");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let (before, after) = palette.input.split_at_cursor();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(": ", theme.accent()),
            Span::styled(before.to_string(), theme.text()),
            Span::styled("▏", theme.accent()),
            Span::styled(after.to_string(), theme.text()),
        ])),
        input,
    );
    let items: Vec<ListItem> = palette
        .visible()
        .into_iter()
        .map(|e| {
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:<24}", e.label), theme.text()),
                Span::styled(e.detail.clone(), theme.muted()),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(palette.selected));
    frame.render_stateful_widget(
        List::new(items).highlight_style(theme.selection()),
        list,
        &mut state,
    );
}

/// The host-key question: which host, the key's type and SHA256 fingerprint (to compare
/// with `ssh-keygen -lf` on the host), where a yes records it, and the keys that answer.
fn draw_host_key(frame: &mut Frame, app: &App, question: &crate::ssh::HostKeyQuestion) {
    let theme = &app.theme;
    let keys = &app.keymap;
    let lines = vec![
        Line::from(Span::styled(
            format!(
                "The authenticity of {} can't be established.",
                question.host
            ),
            theme.warn(),
        )),
        Line::default(),
        Line::from(vec![
            Span::styled("host         ", theme.muted()),
            Span::styled(question.host.clone(), theme.text()),
        ]),
        Line::from(vec![
            Span::styled("key type     ", theme.muted()),
            Span::styled(question.key_type.clone(), theme.text()),
        ]),
        Line::from(vec![
            Span::styled("fingerprint  ", theme.muted()),
            Span::styled(question.fingerprint.clone(), theme.accent()),
        ]),
        Line::default(),
        Line::from(Span::styled(
            "Compare it with `ssh-keygen -lf` on the host (or the droplet's console).",
            theme.text(),
        )),
        Line::from(Span::styled(
            format!("Yes records it in {}.", question.known_hosts.display()),
            theme.text(),
        )),
        Line::default(),
        Line::from(vec![
            Span::styled("Trust this host and connect? ", theme.warn()),
            Span::styled(
                format!(
                    "{} yes · {} no",
                    keys.keys_label(Action::Confirm),
                    keys.keys_label(Action::Cancel)
                ),
                theme.accent(),
            ),
        ]),
    ];
    draw_modal(frame, app, "Unknown host key", lines);
}

/// A connection refused (a changed host key) or failed: loud, until dismissed.
fn draw_connect_failed(frame: &mut Frame, app: &App, host: &str, why: &str) {
    let theme = &app.theme;
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "Could not connect to {host}; the console stays on {}.",
                app.host_label
            ),
            theme.error(),
        )),
        Line::default(),
    ];
    for line in why.lines() {
        let style = if line.starts_with("REFUSED") {
            theme.error()
        } else {
            theme.text()
        };
        lines.push(Line::from(Span::styled(line.to_string(), style)));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("{} or enter closes", app.keymap.keys_label(Action::Back)),
        theme.muted(),
    )));
    draw_modal(frame, app, "Connection refused", lines);
}

/// A centred box as wide as its text needs (words wrap on a narrow screen).
fn draw_modal(frame: &mut Frame, app: &App, title: &str, lines: Vec<Line<'static>>) {
    let screen = frame.area();
    let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let width = (widest + 4).min(screen.width.saturating_sub(2).max(20));
    let inner = width.saturating_sub(4).max(1);
    let rows: u16 = lines
        .iter()
        .map(|l| (l.width() as u16).div_ceil(inner).max(1))
        .sum();
    let area = centered(screen, width, rows + 2);
    frame.render_widget(Clear, area);
    let block = overlay_block(app, title).padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(block),
        area,
    );
}
