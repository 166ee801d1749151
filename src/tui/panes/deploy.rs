//! The Deploy pane, two views. Stack files: rendered for a domain and a droplet size,
//! previewed as diffs against what the host has, and written only after a yes (never in
//! `--readonly`). Releases ([`super::deploy_runs`]): the releases known on the host to roll
//! back to, an unfinished deploy offered for resume or rollback (the view opens on its own
//! when the journal shows one at start), and a run's live steps.

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::deploy_runs::DeployRuns;
use super::scroll::{self, Viewport};
use super::{PaneContext, PaneId};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::stack::sizing::{DEFAULT_SIZE, SIZES};
use crate::stack::update::{Applied, Change, Plan};
use crate::tui::effect::{Effect, StackPlan, StackRequest};
use crate::tui::text_input::{Edit, TextInput};

/// Where a droplet's stack lives unless the operator says otherwise.
pub const DEFAULT_DIR: &str = "/opt/odoo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Domain,
    Size,
    Redis,
    Directory,
}

const FIELDS: [Field; 4] = [Field::Domain, Field::Size, Field::Redis, Field::Directory];

/// What the pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Files,
    Releases,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Filling the form.
    Form,
    Rendering,
    /// A plan is on screen.
    Planned,
    /// Waiting for yes/no before writing.
    Confirming,
    Writing,
    Written(Applied),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct DeployPane {
    pub domain: String,
    pub size: usize,
    pub redis: bool,
    pub directory: String,
    pub selected: usize,
    /// Typing into the selected text field: the value is replaced on Enter only.
    pub editing: Option<TextInput>,
    pub stage: Stage,
    pub plan: Option<Arc<Plan>>,
    /// The request the plan was made for: writing another one would be a surprise.
    planned_for: Option<StackRequest>,
    pub scroll: u16,
    /// The rows and columns the preview has on screen.
    pub viewport: Viewport,
    readonly: bool,
    pub view: View,
    /// The releases view's state.
    pub runs: DeployRuns,
}

impl DeployPane {
    pub fn new(readonly: bool) -> DeployPane {
        DeployPane {
            domain: String::new(),
            size: SIZES
                .iter()
                .position(|s| s.slug == DEFAULT_SIZE)
                .unwrap_or(0),
            redis: false,
            directory: DEFAULT_DIR.into(),
            selected: 0,
            editing: None,
            stage: Stage::Form,
            plan: None,
            planned_for: None,
            scroll: 0,
            viewport: Viewport::default(),
            readonly,
            view: View::Files,
            runs: DeployRuns::default(),
        }
    }

    /// On start: read the stack's releases and deploy journal (an unfinished deploy is
    /// offered as soon as it is found).
    pub fn on_start(&mut self) -> Vec<Effect> {
        self.runs.load(self.directory.trim())
    }

    /// The history was read; `true` when it shows an unfinished deploy, which brings the
    /// releases view forward.
    pub fn apply_deploys(
        &mut self,
        result: Result<crate::tui::deploy_job::DeploysLoaded, String>,
    ) -> bool {
        self.runs.apply_loaded(result);
        let offer = self.runs.unfinished.is_some();
        if offer {
            self.view = View::Releases;
        }
        offer
    }

    pub fn is_typing(&self) -> bool {
        match self.view {
            View::Files => self.editing.is_some(),
            View::Releases => self.runs.is_typing(),
        }
    }

    pub fn is_confirming(&self) -> bool {
        match self.view {
            View::Files => self.stage == Stage::Confirming,
            View::Releases => self.runs.is_confirming(),
        }
    }

    fn request(&self) -> StackRequest {
        StackRequest {
            domain: self.domain.trim().to_string(),
            size: SIZES[self.size].slug.to_string(),
            redis: self.redis,
            directory: PathBuf::from(self.directory.trim()),
        }
    }

    /// Keys while typing into a field: Enter keeps the text, Esc leaves the value as it was.
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        if self.view == View::Releases {
            return self.runs.on_key(key);
        }
        let Some(input) = &mut self.editing else {
            return Vec::new();
        };
        match input.on_key(key) {
            Edit::Editing => {}
            Edit::Cancel => self.editing = None,
            Edit::Submit => {
                let text = input.text().to_string();
                self.editing = None;
                match FIELDS[self.selected] {
                    Field::Domain => self.domain = text,
                    Field::Directory => self.directory = text,
                    Field::Size | Field::Redis => {}
                }
            }
        }
        Vec::new()
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        if action == Action::DeployHistory {
            self.view = match self.view {
                View::Files => View::Releases,
                View::Releases => View::Files,
            };
            if self.view == View::Releases && !self.runs.is_busy() && !self.runs.is_confirming() {
                return self.runs.load(self.directory.trim());
            }
            return Vec::new();
        }
        if self.view == View::Releases {
            if action == Action::Refresh {
                return self.runs.load(self.directory.trim());
            }
            return self.runs.on_action(action, self.readonly);
        }
        match action {
            Action::Up if self.plan.is_some() && self.scroll > 0 => self.scroll -= 1,
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
                if self.plan.is_some() =>
            {
                let total = self.body_rows(self.viewport.cols);
                scroll::apply(action, &mut self.scroll, total, self.viewport.rows);
            }
            Action::Down => self.selected = (self.selected + 1).min(FIELDS.len() - 1),
            Action::Top => self.scroll = 0,
            Action::DeployEdit => {
                // Editing the form drops a plan made for other values.
                self.plan = None;
                self.planned_for = None;
                self.scroll = 0;
                self.stage = Stage::Form;
                match FIELDS[self.selected] {
                    Field::Domain => self.editing = Some(TextInput::with_text(&self.domain)),
                    Field::Directory => {
                        self.editing = Some(TextInput::with_text(&self.directory));
                    }
                    Field::Size => self.size = (self.size + 1) % SIZES.len(),
                    Field::Redis => self.redis = !self.redis,
                }
            }
            Action::DeployPreview => {
                self.stage = Stage::Rendering;
                self.scroll = 0;
                return vec![Effect::PlanStack(self.request())];
            }
            Action::DeployWrite if !self.readonly => {
                if let (Some(plan), Stage::Planned) = (&self.plan, &self.stage)
                    && plan.needs_write()
                    && self.planned_for.as_ref() == Some(&self.request())
                {
                    self.stage = Stage::Confirming;
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The operator's answer to "write these files?".
    pub fn on_confirm(&mut self, answer: Action) -> Vec<Effect> {
        if self.view == View::Releases {
            return self.runs.on_confirm(answer, self.readonly);
        }
        match (answer, &self.plan) {
            (Action::Confirm, Some(plan)) if !self.readonly => {
                self.stage = Stage::Writing;
                vec![Effect::WriteStack(StackPlan(plan.clone()))]
            }
            _ => {
                self.stage = Stage::Planned;
                Vec::new()
            }
        }
    }

    pub fn apply_plan(&mut self, request: StackRequest, result: Result<Plan, String>) {
        match result {
            Ok(plan) => {
                self.plan = Some(Arc::new(plan));
                self.planned_for = Some(request);
                self.stage = Stage::Planned;
            }
            Err(e) => {
                self.plan = None;
                self.stage = Stage::Failed(e);
            }
        }
    }

    pub fn apply_written(&mut self, result: Result<Applied, String>) {
        self.stage = match result {
            Ok(applied) => Stage::Written(applied),
            Err(e) => Stage::Failed(e),
        };
        // What was written is what the host has now; preview again to compare.
        self.plan = None;
        self.planned_for = None;
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        if self.view == View::Releases {
            self.draw_releases(frame, area, ctx);
            return;
        }
        let theme = ctx.theme;
        let block = ctx.block(
            PaneId::Deploy,
            area.width,
            Some(Span::styled(" stack files ", theme.muted())),
        );
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [form, body, hints] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(self.form_lines(theme, ctx.focused)), form);
        let body_lines = self.body_lines(ctx.theme, ctx.readonly, &ctx.answer_keys());
        frame.render_widget(
            Paragraph::new(body_lines)
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            body,
        );
        frame.render_widget(
            Paragraph::new(Span::styled(self.hints(ctx), theme.muted())),
            hints,
        );
    }

    fn draw_releases(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let block = ctx.block(
            PaneId::Deploy,
            area.width,
            Some(Span::styled(self.runs.title(), theme.muted())),
        );
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [body, hints] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
        let lines = self.runs.lines(theme, ctx.readonly, &ctx.answer_keys());
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        let moves = format!("{}/{} release", ctx.key(Action::Up), ctx.key(Action::Down));
        let keys = ctx.hints(&self.runs.hint_actions(ctx.readonly));
        let hint = if self.runs.is_typing() {
            "type · tab/↓ next field · enter on the tag: modules, else preview · esc cancel · ctrl+u clear"
                .to_string()
        } else if self.runs.is_confirming() || self.runs.is_busy() {
            keys
        } else {
            [moves, keys]
                .into_iter()
                .filter(|h| !h.is_empty())
                .collect::<Vec<_>>()
                .join(" · ")
        };
        frame.render_widget(Paragraph::new(Span::styled(hint, theme.muted())), hints);
    }

    /// The keys that do something in this stage, as the active keymap binds them (the
    /// other panes' bottom line).
    fn hints(&self, ctx: &PaneContext) -> String {
        if self.is_typing() {
            return "type · enter keep · esc cancel · ctrl+u clear".into();
        }
        let move_what = if self.plan.is_some() {
            "scroll"
        } else {
            "field"
        };
        let moves = format!(
            "{}/{} {move_what}",
            ctx.key(Action::Up),
            ctx.key(Action::Down)
        );
        let keys = match &self.stage {
            Stage::Rendering | Stage::Writing | Stage::Confirming => return String::new(),
            Stage::Planned
                if !self.readonly && self.plan.as_ref().is_some_and(|p| p.needs_write()) =>
            {
                ctx.hints(&[
                    (Action::DeployWrite, "write"),
                    (Action::DeployPreview, "preview again"),
                    (Action::DeployEdit, "edit"),
                ])
            }
            _ => ctx.hints(&[
                (Action::DeployEdit, "edit"),
                (Action::DeployPreview, "preview"),
                (Action::DeployHistory, "releases"),
            ]),
        };
        [moves, keys]
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    }

    fn form_lines(&self, theme: &Theme, focused: bool) -> Vec<Line<'static>> {
        let size = &SIZES[self.size];
        let values = [
            if self.domain.is_empty() && !self.is_typing() {
                "(type a domain: erp.example.com)".to_string()
            } else {
                self.domain.clone()
            },
            format!(
                "{} · {} vCPU, {} GB",
                size.slug,
                size.vcpus,
                size.memory_mb / 1024
            ),
            if self.redis {
                "yes".into()
            } else {
                "no".into()
            },
            self.directory.clone(),
        ];
        let labels = ["domain", "size", "redis", "directory"];
        let mut lines: Vec<Line> = labels
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (label, value))| {
                let selected = focused && i == self.selected && self.plan.is_none();
                let value_style = if selected {
                    theme.selection()
                } else {
                    theme.text()
                };
                let mut spans = vec![Span::styled(format!("{label:<10}"), theme.muted())];
                match &self.editing {
                    // The field being typed shows the input, the cursor where typing goes.
                    Some(input) if selected => {
                        let (before, after) = input.split_at_cursor();
                        spans.push(Span::styled(before.to_string(), value_style));
                        spans.push(Span::styled("▏", value_style));
                        spans.push(Span::styled(after.to_string(), value_style));
                    }
                    _ => spans.push(Span::styled(value, value_style)),
                }
                Line::from(spans)
            })
            .collect();
        lines.push(Line::default());
        lines
    }

    /// How many rows the preview takes once wrapped at `cols` (what scrolling moves over).
    fn body_rows(&self, cols: u16) -> usize {
        // The keys named in the question are short; their exact label does not change rows.
        Paragraph::new(self.body_lines(&Theme::default(), self.readonly, "y/n"))
            .wrap(Wrap { trim: false })
            .line_count(cols.max(1))
    }

    fn body_lines(&self, theme: &Theme, readonly: bool, answer_keys: &str) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        match &self.stage {
            Stage::Form => {
                lines.push(Line::from(Span::styled(
                    "Render docker-compose.yml, the nginx site, odoo.conf and .env for this domain and size, then preview the changes against the host before anything is written.",
                    theme.muted(),
                )));
                lines.push(Line::default());
                lines.push(Line::from(Span::styled(
                    "The releases view lists the releases deployed on the host to roll back to, and resumes or rolls back a deploy left unfinished.",
                    theme.muted(),
                )));
            }
            Stage::Rendering => lines.push(Line::from(Span::styled(
                "Rendering and comparing with the host…",
                theme.muted(),
            ))),
            Stage::Failed(e) => lines.push(Line::from(vec![
                Span::styled("failed: ", theme.error()),
                Span::styled(e.clone(), theme.text()),
            ])),
            Stage::Written(applied) => {
                lines.push(Line::from(Span::styled(
                    format!("written: {} file(s)", applied.written.len()),
                    theme.ok(),
                )));
                for backup in &applied.backups {
                    lines.push(Line::from(Span::styled(
                        format!("  backup {}", backup.display()),
                        theme.muted(),
                    )));
                }
            }
            Stage::Confirming => lines.push(Line::from(vec![
                Span::styled("Write these files? ", theme.warn()),
                Span::styled(
                    format!("replaced files are backed up first · {answer_keys}"),
                    theme.text(),
                ),
            ])),
            Stage::Planned | Stage::Writing => {}
        }
        if let Some(plan) = &self.plan {
            if !plan.needs_write() {
                lines.push(Line::from(Span::styled(
                    format!("{} already holds exactly these files.", plan.dir.display()),
                    theme.ok(),
                )));
            } else if readonly && self.stage == Stage::Planned {
                lines.push(Line::from(Span::styled(
                    "read-only: nothing will be written",
                    theme.warn(),
                )));
            }
            for change in &plan.changes {
                let (verb, style) = match change.change {
                    Change::Create => ("create", theme.ok()),
                    Change::Update => ("update", theme.warn()),
                    Change::Unchanged if change.mode_differs => ("mode", theme.warn()),
                    Change::Unchanged => ("same", theme.muted()),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{verb:<7}"), style),
                    Span::styled(
                        format!("{} ({:o})", change.path.display(), change.mode),
                        theme.text(),
                    ),
                ]));
                if change.change == Change::Update || change.mode_differs {
                    lines.extend(change.diff().lines().map(|l| diff_line(l, theme)));
                }
            }
        }
        lines
    }
}

fn diff_line(line: &str, theme: &Theme) -> Line<'static> {
    let style = if line.starts_with("+++") || line.starts_with("---") {
        theme.muted()
    } else if line.starts_with('+') {
        theme.ok()
    } else if line.starts_with('-') {
        theme.error()
    } else if line.starts_with("@@") {
        theme.info()
    } else {
        theme.text()
    };
    Line::from(Span::styled(format!("  {line}"), style))
}
