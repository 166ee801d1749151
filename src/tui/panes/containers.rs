//! The Containers pane: the compose project(s) on the host as the Docker worker sees
//! them, live. Restart, stop and start ask first and are not offered in `--readonly`;
//! inspect shows Docker's JSON (secrets redacted) in a scrollable view; enter opens the
//! selected container's logs in the Logs pane.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::columns::{self, Fit};
use super::scroll::{self, Viewport};
use super::{PaneContext, PaneId};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::docker::worker::{Action as DockerAction, DockerCommand, DockerEvent};
use crate::docker::{Container, Health, Model, State};
use crate::logs::time;
use crate::tui::effect::Effect;
use crate::tui::format;

/// A change waiting for the operator's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub action: DockerAction,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspect {
    pub name: String,
    /// `None` while Docker has not answered.
    pub text: Option<Result<String, String>>,
    pub scroll: u16,
}

#[derive(Debug, Clone, Default)]
pub struct ContainersPane {
    pub model: Arc<Model>,
    pub selected: usize,
    pub readonly: bool,
    pub pending: Option<Pending>,
    pub inspect: Option<Inspect>,
    /// The rows the inspect view has on screen.
    pub viewport: Viewport,
    /// The outcome of the last action, shown on the bottom line.
    pub outcome: Option<Result<String, String>>,
    /// Seconds since the epoch, for uptimes; set by the app on each model and tick.
    pub now: i64,
    /// Set when the link to the host dropped: the rows are from before then, until Docker
    /// answers again (`HH:MM:SS` of the drop, and the model generation shown then).
    pub stale_since: Option<(String, u64)>,
}

impl ContainersPane {
    pub fn new(readonly: bool) -> ContainersPane {
        ContainersPane {
            readonly,
            ..ContainersPane::default()
        }
    }

    /// The link dropped at `time`: what is on screen is from before then (the first drop
    /// counts).
    pub fn mark_stale(&mut self, time: &str) {
        // Nothing listed yet ("Asking Docker…") is not old news.
        if !self.model.loaded {
            return;
        }
        let generation = self.model.generation;
        self.stale_since
            .get_or_insert_with(|| (time.to_string(), generation));
    }

    pub fn apply(&mut self, model: Arc<Model>, now: i64) {
        // Only a new answer from Docker makes the rows current again.
        if self
            .stale_since
            .as_ref()
            .is_some_and(|(_, generation)| model.generation != *generation && model.error.is_none())
        {
            self.stale_since = None;
        }
        // Keep the same container selected when rows come and go.
        let selected_id = self.selected().map(|c| c.id.clone());
        self.model = model;
        self.now = now;
        if let Some(id) = selected_id
            && let Some(at) = self.model.containers.iter().position(|c| c.id == id)
        {
            self.selected = at;
        }
        self.selected = self
            .selected
            .min(self.model.containers.len().saturating_sub(1));
    }

    pub fn apply_event(&mut self, event: DockerEvent) {
        match event {
            DockerEvent::ActionDone {
                action,
                container,
                result,
            } => {
                let name = self
                    .model
                    .get(&container)
                    .map_or(container.clone(), |c| c.name.clone());
                self.outcome = Some(match result {
                    Ok(()) => Ok(format!("{} {name}: done", action.name())),
                    Err(e) => Err(format!("{} {name} failed: {e}", action.name())),
                });
            }
            DockerEvent::Inspected { container, result } => {
                if let Some(view) = &mut self.inspect
                    && self
                        .model
                        .get(&container)
                        .is_none_or(|c| c.name == view.name)
                {
                    view.text = Some(result);
                }
            }
        }
    }

    pub fn selected(&self) -> Option<&Container> {
        self.model.containers.get(self.selected)
    }

    /// True while a yes/no question is open: keys are looked up in `[confirm]`.
    pub fn is_confirming(&self) -> bool {
        self.pending.is_some()
    }

    /// The first container row on screen when `visible` rows fit under the header: the
    /// selection stays in sight, as ratatui would scroll it. Drawing and clicks use this
    /// one rule, so a click lands on the row drawn under it.
    fn first_row(&self, visible: u16) -> usize {
        self.selected
            .saturating_sub(usize::from(visible.max(1)) - 1)
    }

    /// A click `row` rows below the table's top (its header is row 0): select that container.
    pub fn click(&mut self, row: u16) {
        if self.inspect.is_some() || row == 0 {
            return;
        }
        let visible = self.viewport.rows.saturating_sub(1);
        let index = self.first_row(visible) + usize::from(row - 1);
        if index < self.model.containers.len() {
            self.selected = index;
        }
    }

    /// Esc: close the inspect view if one is open.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        self.inspect.take().map(|_| Vec::new())
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let n = self.model.containers.len();
        if let Some(view) = &mut self.inspect {
            let total = match &view.text {
                Some(Ok(json)) => json.lines().count(),
                _ => 0,
            };
            // Esc (`back`) closes it, through [`ContainersPane::back`].
            scroll::apply(action, &mut view.scroll, total, self.viewport.rows);
            return Vec::new();
        }
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::PageDown => self.selected = (self.selected + 10).min(n.saturating_sub(1)),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = n.saturating_sub(1),
            Action::Refresh => return vec![Effect::Docker(DockerCommand::Refresh)],
            Action::ContainerInspect => {
                if let Some(c) = self.selected() {
                    let (id, name) = (c.id.clone(), c.name.clone());
                    self.inspect = Some(Inspect {
                        name,
                        text: None,
                        scroll: 0,
                    });
                    return vec![Effect::Docker(DockerCommand::Inspect(id))];
                }
            }
            Action::ContainerLogs => {
                if let Some(c) = self.selected() {
                    return vec![Effect::OpenContainerLogs {
                        container: c.id.clone(),
                        name: c.name.clone(),
                    }];
                }
            }
            Action::ContainerRestart => self.ask(DockerAction::Restart),
            Action::ContainerStop => self.ask(DockerAction::Stop),
            Action::ContainerStart => self.ask(DockerAction::Start),
            _ => {}
        }
        Vec::new()
    }

    fn ask(&mut self, action: DockerAction) {
        if self.readonly {
            self.outcome = Some(Err(format!(
                "{}: not available in a read-only session",
                action.name()
            )));
            return;
        }
        if let Some(c) = self.selected() {
            self.pending = Some(Pending {
                action,
                id: c.id.clone(),
                name: c.name.clone(),
            });
        }
    }

    /// The answer to the open question (`Action::Confirm` or `Action::Cancel`).
    pub fn on_confirm(&mut self, answer: Action) -> Vec<Effect> {
        let Some(p) = self.pending.take() else {
            return Vec::new();
        };
        if answer != Action::Confirm {
            self.outcome = Some(Ok(format!("{} {}: cancelled", p.action.name(), p.name)));
            return Vec::new();
        }
        self.outcome = Some(Ok(format!("{} {}…", p.action.name(), p.name)));
        let command = match p.action {
            DockerAction::Restart => DockerCommand::Restart(p.id),
            DockerAction::Stop => DockerCommand::Stop(p.id),
            DockerAction::Start => DockerCommand::Start(p.id),
        };
        vec![Effect::Docker(command)]
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let m = &self.model;
        let mut note = match m.compose {
            crate::docker::ComposeFlavor::Unknown => String::new(),
            ref known => known.describe(),
        };
        if !m.projects().is_empty() {
            note = format!("{} · {note}", m.projects().join(", "));
        }
        if m.loaded {
            note += if m.live { " · live" } else { " · polling" };
        }
        let note = note.trim_matches([' ', '·']).to_string();
        let note = match &self.stale_since {
            Some((since, _)) => Some(Span::styled(
                match note.is_empty() {
                    true => format!(" stale since {since} "),
                    false => format!(" stale since {since} · {note} "),
                },
                theme.warn(),
            )),
            None => (!note.is_empty()).then(|| Span::styled(format!(" {note} "), theme.muted())),
        };
        let block = ctx.block(PaneId::Containers, area.width, note);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.height < 2 {
            return;
        }
        let [body, details, bottom] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(inner);

        if let Some(view) = &self.inspect {
            self.draw_inspect(frame, body, view, theme);
        } else if !m.loaded {
            let text = match &m.error {
                Some(e) => Span::styled(e.clone(), theme.error()),
                None => Span::styled("Asking Docker for the compose containers…", theme.muted()),
            };
            frame.render_widget(Paragraph::new(Line::from(text)), body);
        } else if m.containers.is_empty() {
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(
                    "No container with compose labels (com.docker.compose.project) on this host.",
                    theme.muted(),
                ))),
                body,
            );
        } else {
            self.draw_table(frame, body, ctx);
        }
        // What the table had no room for is said on the details line.
        let image_hidden = m.loaded && !m.containers.is_empty() && {
            let columns = self.columns(theme);
            let at = columns.iter().position(|c| c.header == "IMAGE:TAG");
            at.is_some_and(|at| !self.shown_columns(&columns, body.width)[at])
        };
        frame.render_widget(
            Paragraph::new(self.details_line(theme, image_hidden)),
            details,
        );
        frame.render_widget(Paragraph::new(self.bottom_line(ctx)), bottom);
    }

    fn draw_table(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let columns = self.columns(theme);
        let shown = self.shown_columns(&columns, area.width);
        let kept = |all: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
            all.into_iter()
                .zip(&shown)
                .filter_map(|(cell, show)| show.then_some(cell))
                .collect()
        };
        let header = Row::new(kept(
            columns
                .iter()
                .map(|c| Cell::from(Span::styled(c.header, theme.muted())))
                .collect(),
        ));
        let rows = (0..self.model.containers.len()).map(|row| {
            Row::new(kept(
                columns
                    .iter()
                    .map(|c| Cell::from(c.cells[row].clone()))
                    .collect(),
            ))
        });
        let widths: Vec<Constraint> = columns
            .iter()
            .zip(&shown)
            .filter(|(_, show)| **show)
            .map(|(c, _)| Constraint::Length(c.fit.width))
            .collect();
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(COLUMN_SPACING)
            .flex(ratatui::layout::Flex::Start)
            .row_highlight_style(if ctx.focused {
                theme.selection()
            } else {
                Style::default().add_modifier(Modifier::BOLD)
            });
        let first = self.first_row(area.height.saturating_sub(1));
        let mut state = TableState::default()
            .with_offset(first)
            .with_selected(Some(self.selected));
        frame.render_stateful_widget(table, area, &mut state);
    }

    /// Which of [`Self::columns`] a table `width` cells wide shows.
    fn shown_columns(&self, columns: &[Column], width: u16) -> Vec<bool> {
        let fits: Vec<Fit> = columns.iter().map(|c| c.fit).collect();
        columns::fit(&fits, width, COLUMN_SPACING)
    }

    /// Every column the table can show, in display order, each with its cells and the
    /// width that shows its header and its widest cell whole. Priorities: what the
    /// operator needs at 3 a.m. first (which service, is it up, healthy, looping), then
    /// what it runs, then usage; the CPU history last.
    fn columns(&self, theme: &Theme) -> Vec<Column> {
        let containers = &self.model.containers;
        let mut columns = Vec::new();
        // Only worth a column when the names differ.
        if self.model.projects().len() > 1 {
            columns.push(Column::new(
                "PROJECT",
                1,
                containers.iter().map(|c| Line::from(c.project.clone())),
            ));
        }
        columns.push(Column::new(
            "SERVICE",
            0,
            containers.iter().map(|c| Line::from(c.service.clone())),
        ));
        columns.push(Column::new(
            "CONTAINER",
            8,
            containers.iter().map(|c| Line::from(c.name.clone())),
        ));
        columns.push(Column::new(
            "IMAGE:TAG",
            4,
            containers.iter().map(|c| Line::from(c.image_ref())),
        ));
        columns.push(Column::new(
            "STATE",
            1,
            containers.iter().map(|c| {
                let (text, style) = state_cell(c, theme);
                Line::from(Span::styled(text, style))
            }),
        ));
        columns.push(Column::new(
            "HEALTH",
            2,
            containers.iter().map(|c| {
                let style = match c.health {
                    Health::Healthy => theme.ok(),
                    Health::Unhealthy => theme.error(),
                    Health::Starting => theme.warn(),
                    Health::None => theme.muted(),
                };
                Line::from(Span::styled(c.health.name(), style))
            }),
        ));
        columns.push(Column::new(
            "RESTARTS",
            3,
            containers.iter().map(|c| {
                let style = if c.restart_count > 0 {
                    theme.warn()
                } else {
                    theme.text()
                };
                Line::from(Span::styled(c.restart_count.to_string(), style))
            }),
        ));
        columns.push(Column::new(
            "UPTIME",
            5,
            containers
                .iter()
                .map(|c| Line::from(c.uptime(self.now).map_or("-".to_string(), format::duration))),
        ));
        // A stopped container uses nothing: its last sample would be a stale figure.
        let usage = |c: &Container| c.state == State::Running;
        columns.push(Column::new(
            "",
            9,
            containers.iter().map(|c| match usage(c) {
                true if c.usage.cpu_now().is_some() => {
                    Line::from(Span::styled(spark(&c.usage.cpu, 8), theme.accent()))
                }
                _ => Line::default(),
            }),
        ));
        columns.push(Column::new(
            "CPU",
            6,
            containers.iter().map(|c| match c.usage.cpu_now() {
                Some(now) if usage(c) => Line::from(format!("{now:>5.1}%")),
                _ => Line::from(Span::styled("-", theme.muted())),
            }),
        ));
        columns.push(Column::new(
            "MEM",
            6,
            containers.iter().map(|c| match c.usage.mem_now() {
                Some(bytes) if usage(c) => Line::from(format::kib(bytes / 1024)),
                _ => Line::from(Span::styled("-", theme.muted())),
            }),
        ));
        columns.push(Column::new(
            "PORTS",
            7,
            containers.iter().map(|c| ports_line(c, theme)),
        ));
        columns
    }

    fn draw_inspect(&self, frame: &mut Frame, area: Rect, view: &Inspect, theme: &Theme) {
        let lines: Vec<Line> = match &view.text {
            None => vec![Line::from(Span::styled(
                format!("inspecting {}…", view.name),
                theme.muted(),
            ))],
            Some(Err(e)) => vec![Line::from(Span::styled(
                format!("inspect {} failed: {e}", view.name),
                theme.error(),
            ))],
            Some(Ok(json)) => json
                .lines()
                .skip(view.scroll as usize)
                .take(area.height as usize)
                .map(|l| Line::from(l.to_string()))
                .collect(),
        };
        frame.render_widget(Paragraph::new(lines).style(theme.text()), area);
    }

    /// What the table has no room for, about the selected container.
    fn details_line(&self, theme: &Theme, with_image: bool) -> Line<'static> {
        let Some(c) = self.selected().filter(|_| self.inspect.is_none()) else {
            return Line::default();
        };
        let mut parts = Vec::new();
        if with_image {
            parts.push(c.image_ref());
        }
        if let Some(d) = &c.digest {
            let short: String = d.chars().take(19).collect();
            parts.push(format!("digest {short}"));
        }
        if let Some(t) = c.started_at {
            parts.push(format!("started {}", &time::format_ms(t * 1000)[..19]));
        }
        if matches!(c.state, State::Exited | State::Dead) {
            if let Some(code) = c.exit_code {
                parts.push(format!("exit {code}"));
            }
            if let Some(t) = c.finished_at {
                parts.push(format!("stopped {}", &time::format_ms(t * 1000)[..19]));
            }
        }
        let mut spans = vec![Span::styled(parts.join(" · "), theme.muted())];
        if c.oom_killed {
            spans.push(Span::styled(
                " · OOM-killed: raise the memory limit or lower Odoo's limit_memory_*",
                theme.error(),
            ));
        } else if c.was_killed() {
            spans.push(Span::styled(" · killed (SIGKILL, 137)", theme.error()));
        }
        let exposed = c.exposed_ports();
        if !exposed.is_empty() {
            spans.push(Span::styled(
                format!(
                    " · {} published beyond 127.0.0.1: reachable from outside, bypassing nginx",
                    c.service
                ),
                theme.error(),
            ));
        }
        Line::from(spans)
    }

    fn bottom_line(&self, ctx: &PaneContext) -> Line<'static> {
        let theme = ctx.theme;
        if let Some(p) = &self.pending {
            return Line::from(vec![
                Span::styled(
                    format!("{} {}? ", capitalised(p.action.name()), p.name),
                    theme.warn(),
                ),
                // Every key that answers: `esc` cancels too.
                Span::styled(ctx.answer_keys(), theme.accent()),
            ]);
        }
        match &self.outcome {
            Some(Ok(text)) => Line::from(Span::styled(text.clone(), theme.info())),
            Some(Err(text)) => Line::from(Span::styled(text.clone(), theme.error())),
            None => match &self.model.error {
                Some(e) => Line::from(Span::styled(e.clone(), theme.warn())),
                None => Line::from(Span::styled(self.hints(ctx), theme.muted())),
            },
        }
    }
}

impl ContainersPane {
    /// The keys that do something here now, as the active keymap binds them.
    fn hints(&self, ctx: &PaneContext) -> String {
        if self.inspect.is_some() {
            return ctx.hints(&[(Action::Back, "close")]);
        }
        if self.model.containers.is_empty() {
            return String::new();
        }
        let open = ctx.hints(&[
            (Action::ContainerLogs, "logs"),
            (Action::ContainerInspect, "inspect"),
        ]);
        if self.readonly {
            return format!("{open} · read-only: restart, stop and start are off");
        }
        let change = ctx.hints(&[
            (Action::ContainerRestart, "restart"),
            (Action::ContainerStop, "stop"),
            (Action::ContainerStart, "start"),
        ]);
        [open, change]
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

const COLUMN_SPACING: u16 = 1;

/// A table column with its cells, one per container.
struct Column {
    header: &'static str,
    cells: Vec<Line<'static>>,
    fit: Fit,
}

impl Column {
    fn new(
        header: &'static str,
        priority: u8,
        cells: impl Iterator<Item = Line<'static>>,
    ) -> Column {
        let cells: Vec<Line<'static>> = cells.collect();
        let widest = cells.iter().map(Line::width).max().unwrap_or(0);
        let width = widest.max(header.chars().count()) as u16;
        Column {
            header,
            cells,
            fit: Fit { width, priority },
        }
    }
}

/// Published ports, each flagged when it is reachable from beyond the host.
fn ports_line(c: &Container, theme: &Theme) -> Line<'static> {
    if c.ports.is_empty() {
        return Line::from(Span::styled("-", theme.muted()));
    }
    let exposed = c.exposed_ports();
    let spans: Vec<Span> = c
        .ports
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let flagged = exposed.contains(&p);
            let sep = Span::raw(if i > 0 { " " } else { "" });
            let text = if flagged {
                format!("⚠ {}", p.describe())
            } else {
                p.describe()
            };
            let style = if flagged { theme.error() } else { theme.text() };
            [sep, Span::styled(text, style)]
        })
        .collect();
    Line::from(spans)
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn state_cell(c: &Container, theme: &Theme) -> (String, Style) {
    match c.state {
        State::Running => ("running".into(), theme.ok()),
        State::Restarting => ("restarting".into(), theme.warn()),
        State::Exited | State::Dead => {
            let code = c.exit_code.unwrap_or(0);
            let text = if c.oom_killed {
                format!("{} {code} OOM", c.state.name())
            } else {
                format!("{} {code}", c.state.name())
            };
            let style = if code == 0 && !c.oom_killed {
                theme.muted()
            } else {
                theme.error()
            };
            (text, style)
        }
        other => (other.name().into(), theme.warn()),
    }
}

/// The last `width` samples as block characters, scaled to their own maximum.
pub fn spark(values: &std::collections::VecDeque<f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let start = values.len().saturating_sub(width);
    let shown: Vec<f64> = values.iter().skip(start).copied().collect();
    let max = shown.iter().copied().fold(0.0_f64, f64::max);
    let mut out: String = " ".repeat(width - shown.len());
    for v in shown {
        let i = if max <= 0.0 {
            0
        } else {
            ((v / max) * 7.0).round().clamp(0.0, 7.0) as usize
        };
        out.push(BARS[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_its_maximum_and_pads_left() {
        let v: std::collections::VecDeque<f64> = [0.0, 5.0, 10.0].into_iter().collect();
        assert_eq!(spark(&v, 5), "  ▁▅█");
    }
}
