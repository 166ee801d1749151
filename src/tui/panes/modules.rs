//! The Modules pane: Odoo's module states ([`crate::odoo::modules`]), read by a job when
//! the pane is first focused and on refresh. Counts per state in the title; pending
//! modules first and highlighted, with the sentence that says why they matter; filter by
//! state (cycles) and by name (typed, as the Logs pane's filter); the selected module's
//! dependencies and reverse dependencies on Enter. Filter and detail do no I/O.
//!
//! Which installed modules changed on disk since their last upgrade arrives after the
//! states (a column and a detail line). Marked or selected modules are installed or
//! upgraded, or a plan file run, after a confirmation (not offered in `--readonly`), as a
//! job whose output shows live at the bottom and is saved as `module_install.log`; the
//! states refresh after. Pending states a crash left are moved back after a confirmation.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneContext, PaneId};
use crate::config::keymap::Action;
use crate::odoo::modules::access::ModulesOptions;
use crate::odoo::modules::inventory::{Inventory, Module, PENDING_SENTENCE};
use crate::odoo::modules::ondisk::{DiskReport, DiskState};
use crate::odoo::modules::plan::{self, Phase, Plan};
use crate::odoo::modules::reset::{Reset, state_after_cancel};
use crate::tui::effect::Effect;
use crate::tui::text_input::{Edit, TextInput};

/// What a load brought back: the modules and how they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulesLoaded {
    pub inventory: Inventory,
    /// `docker exec DB psql ...`: which access was used.
    pub access: String,
    pub database: String,
}

/// How a module plan run from the pane ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRunResult {
    pub ok: bool,
    /// The engine's summary (all succeeded, or the failed phase, module and cause).
    pub summary: String,
    pub failed_module: Option<String>,
    /// The traceback's last line.
    pub cause: Option<String>,
    /// Checksums recorded, or why not.
    pub notes: Vec<String>,
    pub log: PathBuf,
}

/// A change waiting for yes or no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModulesConfirm {
    Run {
        plan: Plan,
        /// What each phase pulls in or reloads, from the loaded tables.
        preview: Vec<plan::PhasePreview>,
        /// The answer to "back up first?", once given (asked before the run itself).
        backup: Option<bool>,
    },
    /// (name, pending state, state after).
    Reset(Vec<(String, String, &'static str)>),
}

/// What is typed at the filter line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    #[default]
    Name,
    PlanPath,
}

/// Lines of a run's output kept on screen (the whole output is in the log file).
const RUN_LINES: usize = 500;

/// A module change in progress or just finished, shown at the bottom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunView {
    pub title: String,
    pub lines: VecDeque<String>,
    pub running: bool,
    /// The summary once it finished (Err: it could not run).
    pub done: Option<Result<ModuleRunResult, String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ModulesPane {
    pub readonly: bool,
    /// Which Odoo and database (default: found by the one rule).
    pub options: ModulesOptions,
    /// Where a run's output is saved (`module_install.log` in the state directory).
    pub install_log: PathBuf,
    /// Where the backup offered before a change goes.
    pub backup_dir: Option<PathBuf>,
    pub loaded: Option<ModulesLoaded>,
    /// Installed modules' files against their recorded checksums; `None` while checking.
    pub disk: Option<Result<DiskReport, String>>,
    /// Modules marked for install or upgrade.
    pub marked: BTreeSet<String>,
    pub confirm: Option<ModulesConfirm>,
    pub run: Option<RunView>,
    /// A sentence for the operator (a refused action, a reset done).
    pub notice: Option<String>,
    pub input_kind: InputKind,
    pub loading: bool,
    pub error: Option<String>,
    /// Only this state; `None` = all.
    pub state_filter: Option<String>,
    /// Names containing this (case-insensitive).
    pub name_filter: String,
    /// The name being typed, while typing.
    pub input: Option<TextInput>,
    pub selected: usize,
    pub detail: bool,
    pub rows: u16,
}

impl ModulesPane {
    pub fn new(readonly: bool) -> ModulesPane {
        ModulesPane {
            readonly,
            install_log: crate::tui::modules_job::install_log_path(),
            ..ModulesPane::default()
        }
    }

    /// The load to start when the pane is focused and has nothing yet.
    pub fn on_focus(&mut self) -> Vec<Effect> {
        if self.loaded.is_none() && !self.loading && self.error.is_none() {
            self.loading = true;
            return vec![Effect::LoadModules(self.options.clone())];
        }
        Vec::new()
    }

    pub fn apply(&mut self, result: Result<ModulesLoaded, String>) {
        self.loading = false;
        match result {
            Ok(loaded) => {
                self.error = None;
                self.loaded = Some(loaded);
                self.disk = None;
                if let Some(l) = &self.loaded {
                    self.marked.retain(|n| l.inventory.get(n).is_some());
                }
                self.clamp();
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn is_typing(&self) -> bool {
        self.input.is_some()
    }

    pub fn apply_disk(&mut self, result: Result<DiskReport, String>) {
        self.disk = Some(result);
    }

    /// True while a yes/no question is open: keys are looked up in `[confirm]`.
    pub fn is_confirming(&self) -> bool {
        self.confirm.is_some()
    }

    pub fn apply_plan_read(&mut self, result: Result<Plan, String>) {
        match result {
            Ok(plan) => self.ask_run(plan),
            Err(e) => self.notice = Some(format!("the plan could not be read: {e}")),
        }
    }

    pub fn apply_run_line(&mut self, line: String) {
        if let Some(run) = &mut self.run {
            if run.lines.len() == RUN_LINES {
                run.lines.pop_front();
            }
            run.lines.push_back(line);
        }
    }

    pub fn apply_run_done(&mut self, result: Result<ModuleRunResult, String>) {
        if let Some(run) = &mut self.run {
            run.running = false;
            if result.as_ref().is_ok_and(|r| r.ok) {
                self.marked.clear();
            }
            run.done = Some(result);
        }
    }

    pub fn apply_reset(&mut self, result: Result<Vec<Reset>, String>) {
        self.notice = Some(match result {
            Ok(moved) if moved.is_empty() => "no module was pending any more".to_string(),
            Ok(moved) => format!(
                "moved back: {}",
                moved
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.name, r.from, r.to))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("the pending states could not be reset: {e}"),
        });
    }

    /// A change refused in a read-only session, or while one runs.
    fn refuse(&mut self, what: &str) -> bool {
        if self.readonly {
            self.notice = Some(format!("{what}: not available in a read-only session"));
            return true;
        }
        if self.run.as_ref().is_some_and(|r| r.running) {
            self.notice = Some(format!("{what}: a module run is still going"));
            return true;
        }
        false
    }

    /// The marked modules, else the selected one.
    fn chosen(&self) -> Vec<String> {
        if !self.marked.is_empty() {
            return self.marked.iter().cloned().collect();
        }
        self.visible()
            .get(self.selected)
            .map(|m| vec![m.name.clone()])
            .unwrap_or_default()
    }

    fn ask_run(&mut self, plan: Plan) {
        let preview = self
            .loaded
            .as_ref()
            .map(|l| plan::preview(&plan, &l.inventory))
            .unwrap_or_default();
        self.confirm = Some(ModulesConfirm::Run {
            plan,
            preview,
            backup: None,
        });
    }

    /// Yes or no to the open question.
    pub fn on_confirm(&mut self, answer: Action) -> Vec<Effect> {
        let Some(confirm) = self.confirm.take() else {
            return Vec::new();
        };
        // First the backup question: either answer leads to the run's own question.
        if let ModulesConfirm::Run {
            plan,
            preview,
            backup: None,
        } = confirm
        {
            self.confirm = Some(ModulesConfirm::Run {
                plan,
                preview,
                backup: Some(answer == Action::Confirm),
            });
            return Vec::new();
        }
        if answer != Action::Confirm {
            self.notice = Some("not run: not confirmed".into());
            return Vec::new();
        }
        self.notice = None;
        match confirm {
            ModulesConfirm::Run { plan, backup, .. } => {
                self.run = Some(RunView {
                    title: plan
                        .phases
                        .iter()
                        .map(Phase::describe)
                        .collect::<Vec<_>>()
                        .join(" → "),
                    running: true,
                    ..Default::default()
                });
                vec![Effect::RunModulePlan {
                    plan,
                    log: self.install_log.clone(),
                    options: self.options.clone(),
                    take_backup: backup == Some(true),
                    backup_dir: self.backup_dir.clone(),
                }]
            }
            ModulesConfirm::Reset(_) => vec![Effect::ResetPendingModules(self.options.clone())],
        }
    }

    /// The modules the filters let through, in the inventory's order (pending first).
    pub fn visible(&self) -> Vec<&Module> {
        let Some(loaded) = &self.loaded else {
            return Vec::new();
        };
        let needle = self.name_filter.to_lowercase();
        loaded
            .inventory
            .modules
            .iter()
            .filter(|m| self.state_filter.as_deref().is_none_or(|s| m.state == s))
            .filter(|m| needle.is_empty() || m.name.to_lowercase().contains(&needle))
            .collect()
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// The states present, in the order the state filter cycles through them.
    fn states(&self) -> Vec<String> {
        let Some(loaded) = &self.loaded else {
            return Vec::new();
        };
        let mut states: Vec<String> = loaded.inventory.counts().into_keys().collect();
        states.sort_by_key(|s| (!crate::odoo::modules::inventory::is_pending(s), s.clone()));
        states
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let page = usize::from(self.rows.max(2) - 1);
        let last = self.visible().len().saturating_sub(1);
        match action {
            Action::Refresh => {
                self.loading = true;
                return vec![Effect::LoadModules(self.options.clone())];
            }
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => self.selected = (self.selected + page).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::ModulesDetail => self.detail = !self.detail,
            Action::ModulesFilter => {
                self.input_kind = InputKind::Name;
                self.input = Some(TextInput::with_text(&self.name_filter));
            }
            Action::ModulesMark => {
                let name = self.visible().get(self.selected).map(|m| m.name.clone());
                if let Some(name) = name
                    && !self.marked.remove(&name)
                {
                    self.marked.insert(name);
                }
                self.selected = (self.selected + 1).min(last);
            }
            Action::ModulesInstall | Action::ModulesUpgrade => {
                let upgrade = action == Action::ModulesUpgrade;
                if self.refuse(if upgrade { "upgrade" } else { "install" }) {
                    return Vec::new();
                }
                let names = self.chosen();
                if names.is_empty() {
                    return Vec::new();
                }
                let phase = if upgrade {
                    Phase {
                        upgrade: names,
                        ..Default::default()
                    }
                } else {
                    Phase {
                        install: names,
                        ..Default::default()
                    }
                };
                self.ask_run(Plan {
                    phases: vec![phase],
                });
            }
            Action::ModulesPlanFile if !self.refuse("run a plan") => {
                self.input_kind = InputKind::PlanPath;
                self.input = Some(TextInput::with_text(""));
            }
            Action::ModulesResetPending => {
                if self.refuse("reset pending states") {
                    return Vec::new();
                }
                let pending: Vec<(String, String, &'static str)> = self
                    .loaded
                    .iter()
                    .flat_map(|l| l.inventory.pending())
                    .filter_map(|m| {
                        state_after_cancel(&m.state).map(|to| (m.name.clone(), m.state.clone(), to))
                    })
                    .collect();
                if pending.is_empty() {
                    self.notice = Some("no module is pending".into());
                } else {
                    self.confirm = Some(ModulesConfirm::Reset(pending));
                }
            }
            Action::ModulesState => {
                let states = self.states();
                self.state_filter = match &self.state_filter {
                    None => states.first().cloned(),
                    Some(current) => states
                        .iter()
                        .position(|s| s == current)
                        .and_then(|i| states.get(i + 1))
                        .cloned(),
                };
                self.selected = 0;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Esc: close the detail, else a finished run's output, else drop the name filter,
    /// else the state filter.
    pub fn back(&mut self) -> Option<Vec<Effect>> {
        if std::mem::take(&mut self.detail) {
            return Some(Vec::new());
        }
        if self.run.as_ref().is_some_and(|r| !r.running) {
            self.run = None;
            return Some(Vec::new());
        }
        if self.notice.take().is_some() {
            return Some(Vec::new());
        }
        if !self.name_filter.is_empty() {
            self.name_filter.clear();
        } else if self.state_filter.take().is_none() {
            return None;
        }
        self.selected = 0;
        Some(Vec::new())
    }

    /// Keys while the name filter is typed (Enter applies, Esc keeps the old one).
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(input) = &mut self.input else {
            return Vec::new();
        };
        match input.on_key(key) {
            Edit::Editing => {}
            Edit::Cancel => self.input = None,
            Edit::Submit => {
                let text = input.text().trim().to_string();
                self.input = None;
                match self.input_kind {
                    InputKind::Name => {
                        self.name_filter = text;
                        self.selected = 0;
                    }
                    InputKind::PlanPath if text.is_empty() => {}
                    InputKind::PlanPath => return vec![Effect::ReadModulePlan(text.into())],
                }
            }
        }
        Vec::new()
    }

    /// The lines above the list: errors, the database, pending modules, the disk
    /// comparison, a notice, a confirmation and the filter (the pane's prose before the
    /// states are read).
    fn head_lines(&self, ctx: &PaneContext) -> Vec<Line<'static>> {
        let theme = ctx.theme;
        let mut head: Vec<Line> = Vec::new();
        if let Some(e) = &self.error {
            head.push(Line::from(vec![
                Span::styled("could not read the module states: ", theme.error()),
                Span::styled(e.clone(), theme.text()),
            ]));
        }
        let Some(loaded) = &self.loaded else {
            if self.error.is_none() {
                let text = if self.loading {
                    "Reading ir_module_module…"
                } else {
                    "Odoo's module states (ir_module_module), read when this pane is first focused."
                };
                head.push(Line::from(Span::styled(text, theme.muted())));
            }
            return head;
        };
        head.push(Line::from(vec![
            Span::styled(format!("{}  ", loaded.database), theme.accent()),
            Span::styled(format!("read by {}", loaded.access), theme.muted()),
        ]));
        let pending: Vec<&str> = loaded
            .inventory
            .pending()
            .map(|m| m.name.as_str())
            .collect();
        if !pending.is_empty() {
            head.push(Line::from(vec![
                Span::styled(format!("PENDING {}: ", pending.join(", ")), theme.warn()),
                Span::styled(PENDING_SENTENCE, theme.warn()),
                Span::styled(
                    format!("  {}", ctx.hints(&[(Action::ModulesResetPending, "reset")])),
                    theme.muted(),
                ),
            ]));
        }
        head.push(disk_line(self, ctx));
        if let Some(notice) = &self.notice {
            head.push(Line::from(Span::styled(notice.clone(), theme.warn())));
        }
        if let Some(confirm) = &self.confirm {
            head.extend(confirm_lines(confirm, loaded, ctx));
        }
        head.push(filter_line(self, ctx));
        head
    }

    /// The head, the list, the selected module's detail and the run's log, inside the
    /// pane's borders: one rule for drawing and for a click.
    fn areas(&self, inner: Rect, head: &[Line]) -> [Rect; 4] {
        let detail_height = if self.detail { 7 } else { 0 };
        let run_height = if self.run.is_some() {
            (inner.height / 3).max(6)
        } else {
            0
        };
        let head_height = head
            .iter()
            .map(|l| (l.width() as u16).div_ceil(inner.width.max(1)).max(1))
            .sum::<u16>();
        Layout::vertical([
            Constraint::Length(head_height),
            Constraint::Min(1),
            Constraint::Length(detail_height),
            Constraint::Length(run_height),
        ])
        .areas(inner)
    }

    /// The first module on screen and how many fit under the column titles: the
    /// selection stays in view.
    fn first_row(&self, list_area: Rect) -> (usize, usize) {
        let rows = usize::from(list_area.height.saturating_sub(1));
        (self.selected.saturating_sub(rows.saturating_sub(1)), rows)
    }

    /// The module a click at `at` lands on, in a pane drawn in `area`.
    pub fn row_at(&self, area: Rect, ctx: &PaneContext, at: Position) -> Option<usize> {
        self.loaded.as_ref()?;
        let inner = ctx.block(PaneId::Modules, area.width, None).inner(area);
        let [_, list_area, _, _] = self.areas(inner, &self.head_lines(ctx));
        if !list_area.contains(at) {
            return None;
        }
        // Row 0 holds the column titles.
        let row = usize::from(at.y - list_area.y).checked_sub(1)?;
        let (first, rows) = self.first_row(list_area);
        let index = first + row;
        (row < rows && index < self.visible().len()).then_some(index)
    }

    /// Select the module a click landed on.
    pub fn click(&mut self, index: usize) {
        if index < self.visible().len() {
            self.selected = index;
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, ctx: &PaneContext) {
        let theme = ctx.theme;
        let note = match (&self.loaded, self.loading) {
            (_, true) => Some(Span::styled(" loading… ", theme.muted())),
            (Some(l), false) => Some(Span::styled(
                format!(" {} ", l.inventory.counts_line()),
                theme.muted(),
            )),
            _ => None,
        };
        let block = ctx.block(PaneId::Modules, area.width, note);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let Some(loaded) = &self.loaded else {
            let head = self.head_lines(ctx);
            frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), inner);
            return;
        };
        let head = self.head_lines(ctx);
        let [head_area, list_area, detail_area, run_area] = self.areas(inner, &head);
        frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), head_area);

        let visible = self.visible();
        let disk = self.disk.as_ref().and_then(|d| d.as_ref().ok());
        let (start, rows) = self.first_row(list_area);
        let width = visible
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(4)
            .clamp(4, 28);
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "  {:<width$}  {:<13} {:<12} {:<11} TITLE",
                "NAME", "STATE", "VERSION", "ON DISK"
            ),
            theme.muted(),
        ))];
        for (i, m) in visible.iter().enumerate().skip(start).take(rows) {
            let on_disk = disk.and_then(|d| d.get(&m.name)).map(|c| c.state);
            let mut style = if m.pending() || on_disk == Some(DiskState::Changed) {
                theme.warn()
            } else if m.state == "installed" {
                theme.text()
            } else {
                theme.muted()
            };
            if i == self.selected && ctx.focused {
                style = theme.selection();
            }
            lines.push(Line::from(Span::styled(
                format!(
                    "{} {:<width$}  {:<13} {:<12} {:<11} {}",
                    if self.marked.contains(&m.name) {
                        "+"
                    } else {
                        " "
                    },
                    m.name,
                    m.state,
                    m.latest_version,
                    on_disk.map(DiskState::label).unwrap_or_default(),
                    m.shortdesc.lines().next().unwrap_or_default()
                ),
                style,
            )));
        }
        if visible.is_empty() {
            lines.push(Line::from(Span::styled(
                "no module matches the filter",
                theme.muted(),
            )));
        }
        frame.render_widget(Paragraph::new(lines), list_area);

        if self.detail
            && let Some(m) = visible.get(self.selected)
        {
            frame.render_widget(
                Paragraph::new(detail_lines(self, loaded, m, ctx)).wrap(Wrap { trim: false }),
                detail_area,
            );
        }
        if let Some(run) = &self.run {
            frame.render_widget(Paragraph::new(run_lines(run, run_area, ctx)), run_area);
        }
    }
}

/// The selected module: title, dependencies both ways, and its files against the record.
fn detail_lines(
    pane: &ModulesPane,
    loaded: &ModulesLoaded,
    m: &Module,
    ctx: &PaneContext,
) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let deps = loaded.inventory.dependencies(&m.name);
    let rdeps = loaded.inventory.dependents(&m.name);
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let on_disk = match &pane.disk {
        None => "checking…".to_string(),
        Some(Err(e)) => format!("not checked: {e}"),
        Some(Ok(d)) => match d.get(&m.name) {
            None => "only installed modules are compared".to_string(),
            Some(c) => {
                let short = |s: &Option<String>| {
                    s.as_deref()
                        .map(|x| x.chars().take(12).collect::<String>())
                        .unwrap_or_else(|| "none".into())
                };
                let mut text = match c.state {
                    DiskState::Changed => {
                        "CHANGED since its last upgrade: an upgrade would load the new files"
                            .to_string()
                    }
                    DiskState::Unchanged => "unchanged since its last upgrade".to_string(),
                    DiskState::NoRecord => {
                        "no record of its checksum at its last upgrade".to_string()
                    }
                    DiskState::NotOnDisk => "not found on disk".to_string(),
                    DiskState::Unknown => "could not be hashed".to_string(),
                };
                if let Some(path) = &c.path {
                    text += &format!(" · {path}");
                }
                if c.checksum.is_some() || c.recorded.is_some() {
                    text += &format!(
                        " · sha1 {} (recorded {})",
                        short(&c.checksum),
                        short(&c.recorded)
                    );
                }
                if let Some(note) = &c.note {
                    text += &format!(" · {note}");
                }
                text
            }
        },
    };
    vec![
        Line::from(Span::styled(
            format!(
                "{} — {} ({}){}{}",
                m.name,
                m.shortdesc,
                if m.author.is_empty() { "?" } else { &m.author },
                if m.application { ", application" } else { "" },
                if m.auto_install { ", auto-install" } else { "" }
            ),
            theme.accent(),
        )),
        Line::from(vec![
            Span::styled("depends on   ", theme.muted()),
            Span::styled(list(deps), theme.text()),
        ]),
        Line::from(vec![
            Span::styled("needed by    ", theme.muted()),
            Span::styled(list(&rdeps), theme.text()),
        ]),
        Line::from(vec![
            Span::styled("on disk      ", theme.muted()),
            Span::styled(on_disk, theme.text()),
        ]),
    ]
}

/// `on disk: changed since their last upgrade: a, b (compared with ...)`.
fn disk_line(pane: &ModulesPane, ctx: &PaneContext) -> Line<'static> {
    let theme = ctx.theme;
    let (text, style) = match &pane.disk {
        None => (
            "checking the installed addons' files…".to_string(),
            theme.muted(),
        ),
        Some(Err(e)) => (format!("not checked: {e}"), theme.error()),
        Some(Ok(d)) if !d.changed().is_empty() => (d.summary(), theme.warn()),
        Some(Ok(d)) => (d.summary(), theme.muted()),
    };
    Line::from(vec![
        Span::styled("on disk: ", theme.muted()),
        Span::styled(text, style),
    ])
}

/// The question for a change, with what it does.
fn confirm_lines(
    confirm: &ModulesConfirm,
    loaded: &ModulesLoaded,
    ctx: &PaneContext,
) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let mut lines = Vec::new();
    let question = match confirm {
        ModulesConfirm::Run {
            preview, backup, ..
        } => {
            for (i, p) in preview.iter().enumerate() {
                let mut text = format!("phase {}: {}", i + 1, p.phase.describe());
                if !p.pulls_in.is_empty() {
                    text += &format!(" · pulls in {}", p.pulls_in.join(", "));
                }
                if !p.reloads.is_empty() {
                    text += &format!(" · also reloads {}", p.reloads.join(", "));
                }
                if !p.unknown.is_empty() {
                    text += &format!(" · UNKNOWN here: {}", p.unknown.join(", "));
                }
                if !p.uninstallable.is_empty() {
                    text += &format!(" · UNINSTALLABLE: {}", p.uninstallable.join(", "));
                }
                lines.push(Line::from(Span::styled(text, theme.text())));
            }
            match backup {
                None => format!(
                    "Back up database {} first (a module run cannot be undone; n: run without, and see what is at risk)? ",
                    loaded.database
                ),
                Some(true) => format!(
                    "Back up, then run these phases on database {} (one-off containers of the running image)? ",
                    loaded.database
                ),
                Some(false) => format!(
                    "Run these phases on database {} WITHOUT a backup (one-off containers of the running image)? ",
                    loaded.database
                ),
            }
        }
        ModulesConfirm::Reset(moves) => {
            lines.push(Line::from(Span::styled(
                moves
                    .iter()
                    .map(|(n, from, to)| format!("{n} {from} -> {to}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                theme.text(),
            )));
            format!(
                "Move these modules back in database {}, as Odoo's cancel buttons do? ",
                loaded.database
            )
        }
    };
    lines.push(Line::from(vec![
        Span::styled(question, theme.warn()),
        Span::styled(
            ctx.hints(&[(Action::Confirm, "yes"), (Action::Cancel, "no")]),
            theme.muted(),
        ),
    ]));
    lines
}

/// The run's last lines, then its verdict once finished.
fn run_lines(run: &RunView, area: Rect, ctx: &PaneContext) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            if run.running { "running: " } else { "ran: " },
            theme.accent(),
        ),
        Span::styled(run.title.clone(), theme.text()),
    ])];
    let mut verdict: Vec<Line<'static>> = Vec::new();
    match &run.done {
        None => {}
        Some(Ok(r)) => {
            let style = if r.ok { theme.text() } else { theme.error() };
            verdict.extend(
                r.summary
                    .lines()
                    .chain(r.notes.iter().map(String::as_str))
                    .map(|l| Line::from(Span::styled(l.to_string(), style))),
            );
        }
        Some(Err(e)) => verdict.push(Line::from(Span::styled(
            format!("the module plan could not run: {e}"),
            theme.error(),
        ))),
    }
    let room = usize::from(area.height)
        .saturating_sub(1 + verdict.len())
        .min(run.lines.len());
    lines.extend(
        run.lines
            .iter()
            .skip(run.lines.len() - room)
            .map(|l| Line::from(Span::styled(l.clone(), theme.muted()))),
    );
    lines.extend(verdict);
    lines
}

/// `filter: state installed · name proj` with the keys that change it.
fn filter_line(pane: &ModulesPane, ctx: &PaneContext) -> Line<'static> {
    let theme = ctx.theme;
    if let Some(typed) = &pane.input {
        let (before, after) = typed.split_at_cursor();
        let prompt = match pane.input_kind {
            InputKind::Name => "name filter: ",
            InputKind::PlanPath => "plan file (TOML): ",
        };
        return Line::from(vec![
            Span::styled(prompt, theme.accent()),
            Span::styled(before.to_string(), theme.text()),
            Span::styled("▏", theme.accent()),
            Span::styled(after.to_string(), theme.text()),
            Span::styled("  (enter apply · esc cancel)", theme.muted()),
        ]);
    }
    let state = pane.state_filter.as_deref().unwrap_or("all");
    let name = if pane.name_filter.is_empty() {
        "any".to_string()
    } else {
        pane.name_filter.clone()
    };
    Line::from(vec![
        Span::styled(format!("state {state} · name {name}  "), theme.text()),
        Span::styled(
            ctx.hints(&[
                (Action::ModulesState, "state"),
                (Action::ModulesFilter, "name"),
                (Action::ModulesDetail, "detail"),
                (Action::Refresh, "refresh"),
            ]) + &if pane.readonly {
                " · read-only: install, upgrade and reset are off".to_string()
            } else {
                format!(
                    " · {}",
                    ctx.hints(&[
                        (Action::ModulesMark, "mark"),
                        (Action::ModulesInstall, "install"),
                        (Action::ModulesUpgrade, "upgrade"),
                        (Action::ModulesPlanFile, "plan"),
                    ])
                )
            },
            theme.muted(),
        ),
    ])
}
