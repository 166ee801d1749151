//! The Host pane: who the host is, how loaded, and whether the stack's parts are there and
//! listening only where they should.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::host::HostFacts;
use crate::tui::effect::Effect;
use crate::tui::format;

#[derive(Debug, Clone, Default)]
pub struct HostPane {
    pub facts: Option<HostFacts>,
    /// The last refresh failed; older facts stay on screen with this note.
    pub error: Option<String>,
    pub loading: bool,
    pub scroll: u16,
    /// The link to the host dropped at this time (`HH:MM:SS`): the facts shown are from
    /// before, until a refresh brings fresh ones.
    pub stale_since: Option<String>,
}

impl HostPane {
    pub fn apply(&mut self, result: Result<HostFacts, String>) {
        self.loading = false;
        match result {
            Ok(facts) => {
                self.facts = Some(facts);
                self.error = None;
                self.stale_since = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The link dropped: what is on screen is from before `time` (the first drop counts).
    pub fn mark_stale(&mut self, time: &str) {
        self.loading = false;
        self.stale_since.get_or_insert_with(|| time.to_string());
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1).min(40),
            Action::Top => self.scroll = 0,
            Action::Refresh => {
                self.loading = true;
                return vec![Effect::RefreshHost];
            }
            _ => {}
        }
        Vec::new()
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let note = if let Some(since) = &self.stale_since {
            Some(Span::styled(format!(" stale since {since} "), theme.warn()))
        } else if self.loading {
            Some(Span::styled(" refreshing… ", theme.muted()))
        } else {
            None
        };
        let mut lines = Vec::new();
        if let Some(error) = &self.error {
            lines.push(Line::from(vec![
                Span::styled("refresh failed: ", theme.error()),
                Span::styled(error.clone(), theme.text()),
            ]));
        }
        match &self.facts {
            Some(facts) => {
                let width = area.width.saturating_sub(2);
                lines.extend(fact_lines(facts, theme, width));
            }
            None if self.error.is_none() => lines.push(Line::from(Span::styled(
                "Reading the host's facts…",
                theme.muted(),
            ))),
            None => {}
        }
        let paragraph = Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0))
            .block(ctx.block(PaneId::Host, area.width, note));
        frame.render_widget(paragraph, area);
    }
}

/// Cells of the left-hand labels (`engine   `).
const LABEL_WIDTH: usize = 9;

fn label(text: &'static str, theme: &Theme) -> Span<'static> {
    Span::styled(format!("{text:<LABEL_WIDTH$}"), theme.muted())
}

/// A ten-cell bar coloured by how full it is.
fn usage_bar(fraction: f64, theme: &Theme) -> Span<'static> {
    let cells = (fraction.clamp(0.0, 1.0) * 10.0).round() as usize;
    let style = if fraction >= 0.9 {
        theme.error()
    } else if fraction >= 0.8 {
        theme.warn()
    } else {
        theme.ok()
    };
    Span::styled(
        format!("{}{}", "█".repeat(cells), "░".repeat(10 - cells)),
        style,
    )
}

fn yes_no(ok: bool, yes: &'static str, no: &'static str, theme: &Theme) -> Span<'static> {
    if ok {
        Span::styled(yes, theme.ok())
    } else {
        Span::styled(no, theme.warn())
    }
}

fn fact_lines(f: &HostFacts, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                f.hostname.clone(),
                theme.title(true).patch(Style::default()),
            ),
            Span::styled(format!(" · {}", f.os), theme.text()),
        ]),
        Line::from(vec![
            label("kernel", theme),
            Span::styled(
                format!("{} · up {}", f.kernel, format::duration(f.uptime_secs)),
                theme.text(),
            ),
        ]),
        Line::from(vec![
            label("load", theme),
            Span::styled(
                format!("{:.2} {:.2} {:.2}", f.load[0], f.load[1], f.load[2]),
                if f.cpus > 0 && f.load[0] > f.cpus as f64 {
                    theme.warn()
                } else {
                    theme.text()
                },
            ),
            Span::styled(
                format!(" / {} CPU{}", f.cpus, if f.cpus == 1 { "" } else { "s" }),
                theme.text(),
            ),
        ]),
        Line::from(vec![
            label("memory", theme),
            usage_bar(f.memory.used_fraction(), theme),
            Span::styled(
                format!(
                    " {:>3.0}% of {}",
                    f.memory.used_fraction() * 100.0,
                    format::kib(f.memory.total_kib)
                ),
                theme.text(),
            ),
        ]),
    ];
    for disk in &f.disks {
        let (name, place) = if disk.label == "/" {
            ("disk /", String::new())
        } else {
            // Only worth saying when Docker's data has a filesystem of its own.
            let place = if disk.mount == "/" {
                " (same disk)".into()
            } else {
                format!(" on {}", disk.mount)
            };
            ("docker", place)
        };
        lines.push(Line::from(vec![
            label(name, theme),
            usage_bar(disk.used_fraction(), theme),
            Span::styled(
                format!(
                    " {:>3.0}% · {} free{place}",
                    disk.used_fraction() * 100.0,
                    format::kib(disk.available_kib)
                ),
                theme.text(),
            ),
        ]));
    }
    lines.extend(engine_lines(f, theme, width));
    lines.push(Line::from(vec![
        label("services", theme),
        Span::styled("nginx ", theme.text()),
        yes_no(f.nginx_running, "running", "not running", theme),
        Span::styled(" · postgres ", theme.text()),
        yes_no(f.postgres_running, "running", "not on host", theme),
    ]));
    if !f.user.is_root && !f.user.name.is_empty() {
        lines.push(Line::from(vec![
            label("login", theme),
            Span::styled(format!("{} · ", f.user.name), theme.text()),
            yes_no(
                f.user.in_docker_group,
                "docker group",
                "NOT in docker group",
                theme,
            ),
            Span::styled(" · ", theme.text()),
            yes_no(
                f.user.passwordless_sudo,
                "sudo without password",
                "sudo asks a password",
                theme,
            ),
        ]));
    }
    for port in f.port_statuses() {
        let mut spans = vec![
            Span::styled(format!(":{:<8}", port.port), theme.muted()),
            Span::styled(format!("{:<12}", port.role), theme.text()),
        ];
        if port.addresses.is_empty() {
            spans.push(Span::styled("not listening", theme.muted()));
        } else {
            spans.push(Span::styled(port.addresses.join(", "), theme.text()));
        }
        if port.exposed {
            spans.push(Span::styled(" ⚠ beyond loopback", theme.error()));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Whether Docker answers, in the operator's words (see [`crate::docker::errors`]); a long
/// explanation continues under itself rather than under the label.
fn engine_lines(f: &HostFacts, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let (text, style) = match (&f.docker.version, &f.docker.error) {
        (Some(v), _) => (format!("docker {v} answers"), theme.ok()),
        (None, Some(e)) if !f.docker.socket_present => (
            format!("no Docker: {}", crate::docker::errors::explain(e)),
            theme.warn(),
        ),
        (None, Some(e)) => (crate::docker::errors::explain(e), theme.error()),
        (None, None) => ("docker not checked".to_string(), theme.muted()),
    };
    let indent = LABEL_WIDTH;
    let room = (width as usize).saturating_sub(indent).max(16);
    format::wrap_words(&text, room)
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let left = if i == 0 {
                label("engine", theme)
            } else {
                Span::raw(" ".repeat(indent))
            };
            Line::from(vec![left, Span::styled(part, style)])
        })
        .collect()
}
