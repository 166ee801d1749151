//! The Deploy pane's releases view: the releases known on the host (tag, digest, when,
//! by whom, result) to pick one to roll back to; a deploy the journal shows unfinished,
//! offered for resume or rollback; and a run's steps live as the job reports them.
//!
//! State only, and lines drawn from it; the work is [`crate::tui::deploy_job`]'s.

use crossterm::event::KeyEvent;
use ratatui::text::{Line, Span};

use crate::config::Theme;
use crate::config::keymap::Action;
use crate::deploy::clock;
use crate::deploy::journal::{Outcome, UnfinishedDeploy};
use crate::deploy::orchestrate::Verdict;
use crate::deploy::preview::DeployPreview;
use crate::deploy::releases::Release;
use crate::deploy::request::StackParts;
use crate::deploy::resume::{self, Choice};
use crate::jobs::DropReason;
use crate::tui::deploy_job::{DeployDone, DeployRun, DeploysLoaded, RunAction};
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

/// The new deploy's two fields as they are typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewDeploy {
    pub tag: TextInput,
    /// `a,b`: modules to install or upgrade (a maintenance window); empty: zero downtime.
    pub modules: TextInput,
    /// Typing into the modules field (else the tag's).
    pub on_modules: bool,
    /// Why the last Enter was not taken.
    pub problem: Option<String>,
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

    /// Keys while typing the new deploy: Enter on the tag goes to the modules, Enter on
    /// the modules asks for the preview; Esc leaves.
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let RunStage::Entering(form) = &mut self.stage else {
            return Vec::new();
        };
        let input = if form.on_modules {
            &mut form.modules
        } else {
            &mut form.tag
        };
        match input.on_key(key) {
            Edit::Editing => Vec::new(),
            Edit::Cancel => {
                self.stage = RunStage::Listed;
                Vec::new()
            }
            Edit::Submit if !form.on_modules => {
                form.problem = None;
                form.on_modules = true;
                Vec::new()
            }
            Edit::Submit => {
                let tag = form.tag.text().trim().to_string();
                if tag.is_empty() || tag.contains(char::is_whitespace) {
                    form.problem = Some("type the tag to deploy (one word: 18.0-2)".into());
                    form.on_modules = false;
                    return Vec::new();
                }
                if let Err(e) = self.parts.module_window(form.modules.text()) {
                    form.problem = Some(e);
                    return Vec::new();
                }
                let run = DeployRun {
                    parts: self.parts.clone(),
                    action: RunAction::Deploy {
                        tag,
                        modules: form.modules.text().trim().to_string(),
                    },
                };
                self.preview = None;
                self.stage = RunStage::Previewing(Box::new(run.clone()));
                vec![Effect::PreviewDeploy(run)]
            }
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
                    lines.extend(preview_lines(p, theme));
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
    let mut lines = vec![
        Line::from(Span::styled("Deploy a new tag", theme.info())),
        field(
            "tag",
            &form.tag,
            !form.on_modules,
            "(the image tag: 18.0-2)",
        ),
        field(
            "modules",
            &form.modules,
            form.on_modules,
            "(none: zero downtime; a,b: upgraded in a maintenance window)",
        ),
    ];
    if let Some(p) = &form.problem {
        lines.push(Line::from(Span::styled(p.clone(), theme.error())));
    }
    lines
}

/// The plan of a deploy, before the question.
fn preview_lines(p: &DeployPreview, theme: &Theme) -> Vec<Line<'static>> {
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
        RunAction::Deploy { tag, modules } if modules.is_empty() => format!("deploy {tag}"),
        RunAction::Deploy { tag, modules } => format!("deploy {tag} with modules {modules}"),
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
