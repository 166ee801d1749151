//! The Deploy pane's releases view: the releases known on the host (tag, digest, when,
//! by whom, result) to pick one to roll back to; a deploy the journal shows unfinished,
//! offered for resume or rollback; and a run's steps live as the job reports them.
//!
//! State only, and lines drawn from it; the work is [`crate::tui::deploy_job`]'s.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use crate::config::Theme;
use crate::config::file_error::FileError;
use crate::config::keymap::Action;
use crate::deploy::clock;
use crate::deploy::journal::{Outcome, UnfinishedDeploy};
use crate::deploy::orchestrate::Verdict;
use crate::deploy::preview::DeployPreview;
use crate::deploy::releases::Release;
use crate::deploy::request::StackParts;
use crate::deploy::resume::{self, Choice};
use crate::jobs::DropReason;
use crate::odoo::modules::plan::Plan;
use crate::tui::deploy_job::{DeployDone, DeployRun, DeploysLoaded, PlanFile, RunAction};
use crate::tui::effect::Effect;
use crate::tui::message::JobUpdate;
use crate::tui::text_input::{Edit, TextInput};

/// Where the view stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStage {
    /// Not read yet.
    NotLoaded,
    Loading,
    /// The history is on screen.
    Listed,
    /// Typing a new deploy's tag and modules.
    Entering(NewDeploy),
    /// Asked what the deploy would do; waiting for the answer.
    Previewing(Box<DeployRun>),
    /// Waiting for yes/no before running this.
    Confirming(Box<DeployRun>),
    /// Asked; waiting behind another deploy job, or running: its steps so far.
    Running {
        what: String,
        queued: bool,
        steps: Vec<String>,
    },
    /// The last run ended: its steps, and how.
    Done {
        what: String,
        steps: Vec<String>,
        done: Box<DeployDone>,
    },
    Failed(String),
}

/// A field of the new deploy's form, in the order it shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewField {
    #[default]
    Tag,
    Modules,
    Plan,
}

impl NewField {
    const ALL: [NewField; 3] = [NewField::Tag, NewField::Modules, NewField::Plan];

    fn step(self, forward: bool) -> NewField {
        let i = NewField::ALL.iter().position(|f| *f == self).unwrap_or(0);
        let n = NewField::ALL.len();
        NewField::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Where the plan file typed stands: read and checked by a job as it is typed (reading
/// a file is I/O, never done in a key handler).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlanCheck {
    /// No plan file named.
    #[default]
    None,
    /// Asked for this path; its answer is on the way.
    Reading(PathBuf),
    Good(PlanFile),
    /// The parser's error (file, line, key, what is wrong), for this path.
    Bad(PathBuf, String),
}

/// The new deploy's fields as they are typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewDeploy {
    pub tag: TextInput,
    /// `a,b`: modules to install or upgrade (a maintenance window); empty: zero downtime.
    pub modules: TextInput,
    /// A module plan file (TOML `[[phase]]`s), instead of the modules: as `--plan FILE`.
    /// A path on the machine the console runs on, not on the host: the command line
    /// reads `--plan` where it runs, and so does the console, so one plan file in the
    /// operator's checkout serves both faces and every host the console reaches.
    pub plan: TextInput,
    pub plan_check: PlanCheck,
    /// The field being typed into.
    pub field: NewField,
    /// Why the last Enter was not taken.
    pub problem: Option<String>,
}

impl NewDeploy {
    fn input(&mut self) -> &mut TextInput {
        match self.field {
            NewField::Tag => &mut self.tag,
            NewField::Modules => &mut self.modules,
            NewField::Plan => &mut self.plan,
        }
    }

    /// The plan field changed: check the path it names now (a job reads it).
    fn plan_changed(&mut self) -> Vec<Effect> {
        let text = self.plan.text().trim();
        if text.is_empty() {
            self.plan_check = PlanCheck::None;
            return Vec::new();
        }
        let path = PathBuf::from(text);
        self.plan_check = PlanCheck::Reading(path.clone());
        vec![Effect::ReadDeployPlan(path)]
    }

    /// The module plan to deploy with, from the plan field: `Ok(None)` when none is named,
    /// `Err` (why) while it is not a good plan.
    fn plan_file(&self) -> Result<Option<PlanFile>, String> {
        let text = self.plan.text().trim();
        match &self.plan_check {
            _ if text.is_empty() => Ok(None),
            PlanCheck::Good(file) if file.path == Path::new(text) => Ok(Some(file.clone())),
            PlanCheck::Bad(path, _) if path == Path::new(text) => {
                Err("not started: the plan file has an error (under its path)".into())
            }
            _ => Err("the plan file is still being read: press Enter again".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeployRuns {
    pub stage: RunStage,
    pub releases: Vec<Release>,
    pub unfinished: Option<UnfinishedDeploy>,
    /// The live holder of the stack's lock, when a deploy runs now.
    pub running: Option<String>,
    pub selected: usize,
    /// The stack's parts beyond its directory (the form's): found or defaulted unless set.
    pub parts: StackParts,
    /// A request that ended without running (replaced or cancelled).
    pub dropped: Option<String>,
    /// What the deploy being confirmed would do.
    pub preview: Option<DeployPreview>,
}

impl Default for DeployRuns {
    fn default() -> Self {
        DeployRuns {
            stage: RunStage::NotLoaded,
            releases: Vec::new(),
            unfinished: None,
            running: None,
            selected: 0,
            parts: StackParts::new(crate::deploy::DEFAULT_STACK_DIR),
            dropped: None,
            preview: None,
        }
    }
}

impl DeployRuns {
    pub fn is_confirming(&self) -> bool {
        matches!(self.stage, RunStage::Confirming(_))
    }

    pub fn is_busy(&self) -> bool {
        matches!(
            self.stage,
            RunStage::Running { .. } | RunStage::Loading | RunStage::Previewing(_)
        )
    }

    pub fn is_typing(&self) -> bool {
        matches!(self.stage, RunStage::Entering(_))
    }

    /// Keys while typing the new deploy: tab/down and shift+tab/up move between the
    /// fields; Enter on the tag goes to the modules, Enter on the modules or the plan file
    /// asks for the preview; Esc leaves. The plan file is checked as it is typed.
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let RunStage::Entering(form) = &mut self.stage else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Tab | KeyCode::Down => {
                form.field = form.field.step(true);
                return Vec::new();
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.field = form.field.step(false);
                return Vec::new();
            }
            _ => {}
        }
        let before = form.plan.text().to_string();
        match form.input().on_key(key) {
            Edit::Editing if form.field == NewField::Plan && form.plan.text() != before => {
                form.plan_changed()
            }
            Edit::Editing => Vec::new(),
            Edit::Cancel => {
                self.stage = RunStage::Listed;
                Vec::new()
            }
            Edit::Submit if form.field == NewField::Tag => {
                form.problem = None;
                form.field = NewField::Modules;
                Vec::new()
            }
            Edit::Submit => self.submit(),
        }
    }

    /// Enter: the form's deploy, previewed, when its values hold.
    fn submit(&mut self) -> Vec<Effect> {
        let RunStage::Entering(form) = &mut self.stage else {
            return Vec::new();
        };
        let tag = form.tag.text().trim().to_string();
        if tag.is_empty() || tag.contains(char::is_whitespace) {
            form.problem = Some("type the tag to deploy (one word: 18.0-2)".into());
            form.field = NewField::Tag;
            return Vec::new();
        }
        let modules = form.modules.text().trim().to_string();
        let plan = match form.plan_file() {
            Ok(plan) => plan,
            Err(e) => {
                form.problem = Some(e);
                form.field = NewField::Plan;
                return Vec::new();
            }
        };
        if plan.is_some() && !modules.is_empty() {
            form.problem =
                Some("modules or a plan file, not both (as --modules and --plan)".into());
            return Vec::new();
        }
        let run = DeployRun {
            parts: self.parts.clone(),
            action: RunAction::Deploy { tag, modules, plan },
        };
        if let Err(e) = run.module_window() {
            form.problem = Some(e);
            return Vec::new();
        }
        self.preview = None;
        self.stage = RunStage::Previewing(Box::new(run.clone()));
        vec![Effect::PreviewDeploy(run)]
    }

    /// A plan file typed in the form was read: kept when it answers what the field names
    /// now (an answer for a path typed over since is dropped).
    pub fn apply_plan_read(&mut self, path: PathBuf, result: Result<Plan, FileError>) {
        let RunStage::Entering(form) = &mut self.stage else {
            return;
        };
        if form.plan_check != PlanCheck::Reading(path.clone()) {
            return;
        }
        form.plan_check = match result {
            Ok(plan) => PlanCheck::Good(PlanFile { path, plan }),
            Err(e) => PlanCheck::Bad(path, e.to_string()),
        };
        if form.plan_file().is_ok() {
            form.problem = None;
        }
    }

    /// What the deploy would do arrived: ask.
    pub fn apply_preview(&mut self, result: Result<DeployPreview, String>) {
        let RunStage::Previewing(run) = self.stage.clone() else {
            return;
        };
        match result {
            Ok(p) => {
                self.preview = Some(p);
                self.stage = RunStage::Confirming(run);
            }
            Err(e) => self.stage = RunStage::Failed(e),
        }
    }

    /// Read the history of the stack in `dir` (the form's directory).
    pub fn load(&mut self, dir: &str) -> Vec<Effect> {
        if matches!(self.stage, RunStage::Running { .. }) {
            return Vec::new();
        }
        self.parts.stack_dir = dir.into();
        if !matches!(self.stage, RunStage::Done { .. } | RunStage::Confirming(_)) {
            self.stage = RunStage::Loading;
        }
        vec![Effect::LoadDeploys(self.parts.clone())]
    }

    pub fn on_action(&mut self, action: Action, readonly: bool) -> Vec<Effect> {
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(self.releases.len().saturating_sub(1));
            }
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = self.releases.len().saturating_sub(1),
            Action::DeployRollback | Action::DeployResume | Action::DeployNew
                if readonly || self.is_busy() => {}
            Action::DeployNew => {
                // The last deploy's values again: a retry or the next tag is a small edit.
                let mut form = NewDeploy::default();
                if let Some(p) = &self.preview {
                    form.tag = TextInput::with_text(&p.to);
                }
                self.stage = RunStage::Entering(form);
            }
            Action::DeployRollback => {
                let action = match &self.unfinished {
                    Some(d) => RunAction::Resume {
                        deploy_id: d.deploy_id.clone(),
                        choice: Choice::RollBack,
                    },
                    None => match self.releases.get(self.selected) {
                        Some(r) if r.outcome == Outcome::Passed => {
                            RunAction::RollbackTo { tag: r.tag.clone() }
                        }
                        _ => return Vec::new(),
                    },
                };
                self.stage = RunStage::Confirming(Box::new(DeployRun {
                    parts: self.parts.clone(),
                    action,
                }));
            }
            Action::DeployResume => {
                if let Some(d) = &self.unfinished {
                    self.stage = RunStage::Confirming(Box::new(DeployRun {
                        parts: self.parts.clone(),
                        action: RunAction::Resume {
                            deploy_id: d.deploy_id.clone(),
                            choice: Choice::Continue,
                        },
                    }));
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The answer to "run this?".
    pub fn on_confirm(&mut self, answer: Action, readonly: bool) -> Vec<Effect> {
        let RunStage::Confirming(run) = self.stage.clone() else {
            return Vec::new();
        };
        if answer != Action::Confirm || readonly {
            self.stage = RunStage::Listed;
            self.preview = None;
            return Vec::new();
        }
        self.dropped = None;
        self.stage = RunStage::Running {
            what: describe(&run.action),
            queued: false,
            steps: Vec::new(),
        };
        vec![Effect::RunDeploy(*run)]
    }

    pub fn apply_loaded(&mut self, result: Result<DeploysLoaded, String>) {
        match result {
            Ok(loaded) => {
                self.take(loaded);
                if matches!(
                    self.stage,
                    RunStage::Loading | RunStage::NotLoaded | RunStage::Failed(_)
                ) {
                    self.stage = RunStage::Listed;
                }
            }
            Err(e) if matches!(self.stage, RunStage::Loading | RunStage::NotLoaded) => {
                self.stage = RunStage::Failed(e);
            }
            Err(_) => {}
        }
    }

    fn take(&mut self, loaded: DeploysLoaded) {
        self.releases = loaded.releases;
        self.unfinished = loaded.unfinished;
        self.running = loaded.running;
        self.selected = self.selected.min(self.releases.len().saturating_sub(1));
    }

    pub fn apply_step(&mut self, step: String) {
        if let RunStage::Running { steps, queued, .. } = &mut self.stage {
            *queued = false;
            steps.push(step);
        }
    }

    pub fn apply_done(&mut self, done: DeployDone) {
        let (what, steps) = match &mut self.stage {
            RunStage::Running { what, steps, .. } => (what.clone(), std::mem::take(steps)),
            _ => (String::from("deploy"), Vec::new()),
        };
        if let Ok(loaded) = &done.loaded {
            self.take(loaded.clone());
        }
        self.stage = RunStage::Done {
            what,
            steps,
            done: Box::new(done),
        };
    }

    /// Where the pane's run request stands in the job runner.
    pub fn on_job(&mut self, effect: &Effect, update: JobUpdate) {
        match (effect, update) {
            (Effect::RunDeploy(_), JobUpdate::Queued) => {
                if let RunStage::Running { queued, .. } = &mut self.stage {
                    *queued = true;
                }
            }
            (Effect::RunDeploy(run), JobUpdate::Dropped(reason)) => {
                let why = match reason {
                    DropReason::Replaced { .. } => "replaced by a newer request",
                    DropReason::Cancelled => "cancelled",
                };
                self.dropped = Some(format!("{} did not run: {why}", describe(&run.action)));
                if matches!(self.stage, RunStage::Running { .. }) {
                    self.stage = RunStage::Listed;
                }
            }
            (Effect::LoadDeploys(_), JobUpdate::Dropped(_)) if self.stage == RunStage::Loading => {
                self.stage = RunStage::Listed;
            }
            // A read replaced by the next key press's: that one answers.
            (Effect::ReadDeployPlan(_), _) => {}
            (Effect::PreviewDeploy(_), JobUpdate::Dropped(_))
                if matches!(self.stage, RunStage::Previewing(_)) =>
            {
                self.stage = RunStage::Listed;
            }
            _ => {}
        }
    }

    pub fn title(&self) -> &'static str {
        " releases "
    }

    /// The keys that do something now.
    pub fn hint_actions(&self, readonly: bool) -> Vec<(Action, &'static str)> {
        let mut keys = vec![(Action::DeployHistory, "stack files")];
        if readonly || self.is_busy() || self.is_confirming() {
            return keys;
        }
        keys.push((Action::Refresh, "reload"));
        keys.push((Action::DeployNew, "deploy a tag"));
        if self.unfinished.is_some() {
            keys.push((Action::DeployResume, "resume"));
            keys.push((Action::DeployRollback, "roll back"));
        } else if !self.releases.is_empty() {
            keys.push((Action::DeployRollback, "roll back to selected"));
        }
        keys
    }

    pub fn lines(&self, theme: &Theme, readonly: bool, answer_keys: &str) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        if let Some(holder) = &self.running {
            lines.push(Line::from(Span::styled(
                format!("a deploy runs now: locked by {holder}"),
                theme.warn(),
            )));
        }
        if let Some(d) = &self.unfinished {
            lines.push(Line::from(vec![
                Span::styled("unfinished: ", theme.error()),
                Span::styled(d.describe(), theme.text()),
            ]));
            for (i, (c, what)) in resume::choices(d).iter().enumerate() {
                let verb = match c {
                    Choice::RollBack => "roll back",
                    Choice::Continue => "resume",
                };
                let suggested = if i == 0 { " (suggested)" } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {verb:<10}"), theme.info()),
                    Span::styled(format!("{what}{suggested}"), theme.muted()),
                ]));
            }
            lines.push(Line::default());
        }
        if let Some(d) = &self.dropped {
            lines.push(Line::from(Span::styled(d.clone(), theme.warn())));
        }
        match &self.stage {
            RunStage::NotLoaded | RunStage::Loading => lines.push(Line::from(Span::styled(
                "Reading the releases and the deploy journal…",
                theme.muted(),
            ))),
            RunStage::Failed(e) => lines.push(Line::from(vec![
                Span::styled("could not read the history: ", theme.error()),
                Span::styled(e.clone(), theme.text()),
            ])),
            RunStage::Entering(form) => lines.extend(entering_lines(form, theme)),
            RunStage::Previewing(run) => lines.push(Line::from(Span::styled(
                format!(
                    "{}: reading what runs now…",
                    capital(&describe(&run.action))
                ),
                theme.muted(),
            ))),
            RunStage::Confirming(run) => {
                if let Some(p) = &self.preview {
                    lines.extend(preview_lines(p, run, theme));
                }
                let warn = if readonly {
                    " (read-only: refused)"
                } else {
                    ""
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{}?{warn} ", capital(&describe(&run.action))),
                        theme.warn(),
                    ),
                    Span::styled(answer_keys.to_string(), theme.text()),
                ]));
            }
            RunStage::Running {
                what,
                queued,
                steps,
            } => {
                let state = if *queued {
                    "waiting for the running deploy job…"
                } else {
                    "running…"
                };
                lines.push(Line::from(Span::styled(
                    format!("{what}: {state}"),
                    theme.info(),
                )));
                lines.extend(step_lines(steps, theme));
            }
            RunStage::Done { what, steps, done } => {
                let style = match done.verdict {
                    Verdict::Passed => theme.ok(),
                    _ => theme.error(),
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{what}: {} ", outcome_word(done.outcome)), style),
                    Span::styled(done.message.clone(), theme.text()),
                ]));
                if let Some(p) = &done.proof_dir {
                    lines.push(Line::from(Span::styled(
                        format!("  proof {}", p.display()),
                        theme.muted(),
                    )));
                }
                lines.extend(step_lines(steps, theme));
            }
            RunStage::Listed => {}
        }
        lines.push(Line::default());
        lines.extend(self.release_lines(theme));
        lines
    }

    fn release_lines(&self, theme: &Theme) -> Vec<Line<'static>> {
        if self.releases.is_empty() {
            if matches!(self.stage, RunStage::NotLoaded | RunStage::Loading) {
                return Vec::new();
            }
            return vec![Line::from(Span::styled(
                format!(
                    "no release recorded for {} yet",
                    self.parts.stack_dir.display()
                ),
                theme.muted(),
            ))];
        }
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "  {:<16} {:<14} {:<20} {:<24} {}",
                "TAG", "DIGEST", "DEPLOYED", "BY", "RESULT"
            ),
            theme.muted(),
        ))];
        for (i, r) in self.releases.iter().enumerate() {
            let marker = if i == self.selected { "▶ " } else { "  " };
            let by: String = r.by.chars().take(24).collect();
            let row = format!(
                "{marker}{:<16} {:<14} {:<20} {:<24} ",
                r.tag,
                r.digest.as_deref().map(short_digest).unwrap_or("-"),
                when(r.deployed_ms),
                by
            );
            let style = if i == self.selected {
                theme.selection()
            } else {
                theme.text()
            };
            let result_style = match r.outcome {
                Outcome::Passed => theme.ok(),
                Outcome::RolledBack | Outcome::Abandoned => theme.warn(),
                Outcome::Failed | Outcome::Refused => theme.error(),
            };
            lines.push(Line::from(vec![
                Span::styled(row, style),
                Span::styled(outcome_word(r.outcome), result_style),
            ]));
        }
        lines
    }
}

fn step_lines(steps: &[String], theme: &Theme) -> Vec<Line<'static>> {
    // The newest steps matter most; a long switch reports dozens.
    let skip = steps.len().saturating_sub(12);
    steps[skip..]
        .iter()
        .map(|s| Line::from(Span::styled(format!("  · {s}"), theme.text())))
        .collect()
}

/// The new deploy's form: the field being typed shows its cursor.
fn entering_lines(form: &NewDeploy, theme: &Theme) -> Vec<Line<'static>> {
    let field = |label: &str, input: &TextInput, typing: bool, empty: &str| {
        let mut spans = vec![Span::styled(format!("{label:<9}"), theme.muted())];
        if typing {
            let (before, after) = input.split_at_cursor();
            spans.push(Span::styled(before.to_string(), theme.selection()));
            spans.push(Span::styled("▏", theme.selection()));
            spans.push(Span::styled(after.to_string(), theme.selection()));
        } else if input.text().is_empty() {
            spans.push(Span::styled(empty.to_string(), theme.muted()));
        } else {
            spans.push(Span::styled(input.text().to_string(), theme.text()));
        }
        Line::from(spans)
    };
    // What the plan file holds or what is wrong with it, under its value as it is typed
    // (an error names the file, line and key: too long to sit after the path).
    let check = match &form.plan_check {
        PlanCheck::None => None,
        PlanCheck::Reading(_) => Some(Span::styled("reading…", theme.muted())),
        PlanCheck::Good(file) => Some(Span::styled(
            format!("✓ {}", phases_summary(&file.plan)),
            theme.ok(),
        )),
        PlanCheck::Bad(_, e) => Some(Span::styled(format!("✗ {e}"), theme.error())),
    };
    let plan = field(
        "plan",
        &form.plan,
        form.field == NewField::Plan,
        "(or a plan file here, [[phase]] install/upgrade: run in the window)",
    );
    let mut lines = vec![
        Line::from(Span::styled("Deploy a new tag", theme.info())),
        field(
            "tag",
            &form.tag,
            form.field == NewField::Tag,
            "(the image tag: 18.0-2)",
        ),
        field(
            "modules",
            &form.modules,
            form.field == NewField::Modules,
            "(none: zero downtime; a,b: upgraded in a maintenance window)",
        ),
        plan,
    ];
    if let Some(check) = check {
        lines.push(Line::from(vec![Span::raw(" ".repeat(9)), check]));
    }
    if let Some(p) = &form.problem {
        lines.push(Line::from(Span::styled(p.clone(), theme.error())));
    }
    lines
}

/// `2 phases: install queue_job; then install project, upgrade base`.
fn phases_summary(plan: &Plan) -> String {
    let phases: Vec<String> = plan.phases.iter().map(|p| p.describe()).collect();
    let count = match phases.len() {
        1 => "1 phase".to_string(),
        n => format!("{n} phases"),
    };
    format!("{count}: {}", phases.join("; then "))
}

/// The plan of a deploy, before the question.
fn preview_lines(p: &DeployPreview, run: &DeployRun, theme: &Theme) -> Vec<Line<'static>> {
    let from = match &p.from {
        Ok(f) => f.clone(),
        Err(e) => format!("? ({e})"),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("deploy on {}: ", p.host), theme.muted()),
        Span::styled(format!("{from} → {}", p.to), theme.text()),
    ])];
    match &p.image {
        Some((image, true)) => lines.push(Line::from(Span::styled(
            format!("  image    {image} is on the host"),
            theme.muted(),
        ))),
        Some((image, false)) => lines.push(Line::from(Span::styled(
            format!("  image    {image} is NOT on the host: the preflight will refuse it"),
            theme.warn(),
        ))),
        None => {}
    }
    if let RunAction::Deploy {
        plan: Some(file), ..
    } = &run.action
    {
        lines.push(Line::from(Span::styled(
            format!(
                "  plan     {} ({})",
                file.path.display(),
                phases_summary(&file.plan)
            ),
            theme.muted(),
        )));
    }
    match (&p.modules, &p.backup_dir) {
        (Some(m), backup) => {
            lines.push(Line::from(vec![
                Span::styled("  mode     ", theme.muted()),
                Span::styled(
                    format!("maintenance window (503 page while {m} runs)"),
                    theme.warn(),
                ),
            ]));
            if let Some(b) = backup {
                lines.push(Line::from(Span::styled(
                    format!("  backup   database and filestore to {} first", b.display()),
                    theme.muted(),
                )));
            }
        }
        (None, _) => lines.push(Line::from(vec![
            Span::styled("  mode     ", theme.muted()),
            Span::styled(
                "zero downtime (no module change, no backup needed)",
                theme.ok(),
            ),
        ])),
    }
    lines.push(Line::from(Span::styled(
        format!("  steps    {}", p.steps),
        theme.muted(),
    )));
    lines
}

fn describe(action: &RunAction) -> String {
    match action {
        RunAction::Deploy {
            tag,
            plan: Some(file),
            ..
        } => format!("deploy {tag} with the plan {}", file.path.display()),
        RunAction::Deploy { tag, modules, .. } if modules.is_empty() => format!("deploy {tag}"),
        RunAction::Deploy { tag, modules, .. } => format!("deploy {tag} with modules {modules}"),
        RunAction::RollbackTo { tag } => format!("roll back to {tag}"),
        RunAction::Resume {
            deploy_id,
            choice: Choice::RollBack,
        } => format!("roll back the unfinished deploy {deploy_id}"),
        RunAction::Resume {
            deploy_id,
            choice: Choice::Continue,
        } => format!("resume the unfinished deploy {deploy_id}"),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::RolledBack => "rolled back",
        Outcome::Failed => "failed",
        Outcome::Abandoned => "abandoned",
        Outcome::Refused => "refused",
    }
}

/// `2026-11-30 12:40 UTC`: releases span days, the date matters.
fn when(ms: i64) -> String {
    let t = clock::rfc3339(ms);
    format!("{} UTC", t.get(..16).unwrap_or(&t).replace('T', " "))
}

fn short_digest(d: &str) -> &str {
    let d = d.trim_start_matches("sha256:");
    &d[..d.len().min(12)]
}
