//! The bootstrap wizard in the console: a form for the first step's answers, then the
//! steps as the engine ([`crate::bootstrap::run`]) runs them on the job runner. The same
//! answers and state files as `odoo-ops bootstrap --answers FILE` (kept in the state dir's
//! `bootstrap/`), so either face continues what the other started. State and keys only:
//! the work is returned as effects ([`job`] does it), the drawing is in
//! `panes::bootstrap`.

pub mod form;
pub mod job;
pub mod steps;

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::bootstrap::answers::Field;
use crate::bootstrap::run::{Event, Failure, Finished};
use crate::bootstrap::steps::{Progress, Step};
use crate::config::Keymap;
use crate::config::keymap::{Action, Context};
use crate::tui::effect::Effect;
use crate::tui::message::JobUpdate;
use crate::tui::text_input::Edit;
use form::{AccountChoices, Form};
use steps::{Busy, StepView};

/// What the wizard asks a job to run on: where the answers and the state are kept, the
/// answers file's text, and the steps left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub answers_path: PathBuf,
    /// Written to `answers_path` before the run: the form's values, no secret.
    pub answers_text: String,
    pub state_file: PathBuf,
    pub skip: Vec<Step>,
}

/// What the wizard's jobs bring back.
#[derive(Debug, Clone)]
pub enum BootstrapEvent {
    /// The account's choices (or why there are none), and an unfinished earlier run.
    Loaded {
        account: Result<AccountChoices, String>,
        earlier: Option<Box<Earlier>>,
    },
    Step(Event),
    Ended(Result<Finished, Failure>),
    /// The run could not start (no token, the answers file could not be written).
    NotStarted(String),
    Undone(Result<String, String>),
    WentBack(Step, Result<Progress, String>),
    /// The answers were saved with these fields changed, and the steps reading them
    /// forgotten (the state file as it now reads); the run follows.
    Amended {
        changed: Vec<Field>,
        progress: Progress,
    },
}

/// Back at step 1 of a bootstrap under way: the answers as saved, and the state file as
/// the step view last showed it (the job checks against the file itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amending {
    pub saved: [String; 9],
    pub progress: Progress,
}

/// A bootstrap the wizard (or the CLI) started and did not finish.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub answers_path: PathBuf,
    pub answers: crate::bootstrap::answers::Answers,
    pub progress: Progress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Loading,
    Loaded(AccountChoices),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Form,
    /// Creating a droplet costs money: asked before the run starts.
    Confirming,
    Steps,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapWizard {
    pub open: bool,
    pub stage: Stage,
    pub form: Form,
    pub account: Account,
    pub steps: StepView,
    /// Where answers and state files are kept (`None`: the system has no state dir).
    pub dir: Option<PathBuf>,
    /// The answers file of the bootstrap on screen, once started or found.
    pub answers_path: Option<PathBuf>,
    pub readonly: bool,
    pub notice: Option<String>,
    /// Back at step 1 of this bootstrap (its answers file exists): what was saved.
    pub amending: Option<Amending>,
}

impl BootstrapWizard {
    pub fn new(dir: Option<PathBuf>, readonly: bool) -> BootstrapWizard {
        BootstrapWizard {
            open: false,
            stage: Stage::Form,
            form: Form::default(),
            account: Account::Loading,
            steps: StepView::default(),
            dir,
            answers_path: None,
            readonly,
            notice: None,
            amending: None,
        }
    }

    /// Open the wizard: the account's choices and an unfinished bootstrap are read by a
    /// job (never here). A wizard already open or running is shown as it is.
    pub fn open(&mut self) -> Vec<Effect> {
        self.open = true;
        if self.steps.busy.is_some() || self.stage != Stage::Form {
            return Vec::new();
        }
        self.account = Account::Loading;
        vec![Effect::LoadBootstrap(self.dir.clone())]
    }

    /// The context its keys are looked up in now.
    pub fn context(&self) -> Context {
        match self.stage {
            Stage::Form => Context::Wizard,
            Stage::Confirming => Context::Confirm,
            Stage::Steps if self.steps.confirm_undo.is_some() => Context::Confirm,
            Stage::Steps => Context::WizardSteps,
        }
    }

    /// The request for the answers on the form (where its files go by the droplet's name).
    pub fn request(&self) -> Result<RunRequest, String> {
        let path = match (&self.answers_path, &self.dir) {
            // A bootstrap found or started keeps its files, whatever the name says now.
            (Some(path), _) => path.clone(),
            (None, Some(dir)) => dir.join(format!(
                "{}.toml",
                self.form.value(crate::bootstrap::answers::Field::Name,)
            )),
            (None, None) => {
                return Err("no state directory to keep the answers in (is $HOME set?)".into());
            }
        };
        Ok(RunRequest {
            state_file: crate::cli::bootstrap::default_state_file(&path),
            answers_path: path,
            answers_text: self.form.file_text(),
            skip: self.steps.skip.iter().copied().collect(),
        })
    }

    pub fn on_key(&mut self, key: &KeyEvent, keymap: &Keymap) -> Vec<Effect> {
        self.notice = None;
        let action = keymap.action(self.context(), key);
        match self.stage {
            Stage::Form => self.on_form_key(action, key),
            Stage::Confirming => {
                match action {
                    Some(Action::Confirm) => {
                        // Saved with the run, by the job, under the engine's rule for
                        // what may change ([`crate::bootstrap::amend`]).
                        self.leave_amending(false);
                        return self.run();
                    }
                    Some(Action::Cancel) => self.stage = Stage::Form,
                    _ => {}
                }
                Vec::new()
            }
            Stage::Steps if self.steps.confirm_undo.is_some() => {
                match action {
                    Some(Action::Confirm) => return self.undo(),
                    Some(Action::Cancel) => self.steps.confirm_undo = None,
                    _ => {}
                }
                Vec::new()
            }
            // Moving and leaving are the keys they are everywhere else.
            Stage::Steps => match action.or_else(|| {
                keymap
                    .action(Context::Pane, key)
                    .filter(|a| matches!(a, Action::Up | Action::Down | Action::Back))
            }) {
                Some(action) => self.on_steps_action(action),
                None => Vec::new(),
            },
        }
    }

    fn on_form_key(&mut self, action: Option<Action>, key: &KeyEvent) -> Vec<Effect> {
        let choices = match &self.account {
            Account::Loaded(choices) => choices.for_field(self.form.field()).to_vec(),
            _ => Vec::new(),
        };
        match action {
            Some(Action::WizardNextField) => self.form.next(),
            Some(Action::WizardPrevField) => self.form.previous(),
            Some(Action::WizardNextChoice) => self.form.cycle(&choices, true),
            Some(Action::WizardStart) => self.ask_to_start(),
            Some(Action::WizardClose) => self.close_or_undo_edit(),
            _ => match self.form.on_key(key) {
                Edit::Editing => {
                    if let Some(why) = self.form.locked_why() {
                        self.notice = Some(format!("read-only: {why}"));
                    }
                }
                Edit::Submit => self.ask_to_start(),
                Edit::Cancel => self.close_or_undo_edit(),
            },
        }
        Vec::new()
    }

    fn close_or_undo_edit(&mut self) {
        if self.form.edited() {
            self.form.undo_edit();
        } else if self.amending.is_some() {
            // Back to the steps with the answers as saved: a later continue must not
            // write edits that were never confirmed.
            self.leave_amending(true);
            self.stage = Stage::Steps;
        } else {
            self.open = false;
        }
    }

    /// Back to step 1 of this bootstrap: the form with its current answers, those a done
    /// step holds read-only with the engine's reason.
    fn back_to_choose(&mut self) {
        let progress = self.steps.progress();
        for (i, field) in Field::ALL.into_iter().enumerate() {
            self.form.locked[i] = crate::bootstrap::amend::fixed(field, &progress);
        }
        let first_open = self.form.locked.iter().position(Option::is_none);
        self.form.move_to(first_open.unwrap_or(0));
        self.amending = Some(Amending {
            saved: self.form.values.clone(),
            progress,
        });
        self.stage = Stage::Form;
    }

    /// Leave step 1 of a bootstrap under way; `drop_edits` puts the saved answers back.
    fn leave_amending(&mut self, drop_edits: bool) {
        if let Some(amending) = self.amending.take() {
            let selected = self.form.selected;
            if drop_edits {
                self.form.values = amending.saved;
            }
            self.form.locked = Default::default();
            self.form.move_to(selected);
        }
    }

    /// The fields changed from the saved answers, while back at step 1.
    pub fn changed_fields(&self) -> Vec<Field> {
        let Some(amending) = &self.amending else {
            return Vec::new();
        };
        Field::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, f)| self.form.value(*f) != amending.saved[*i].trim())
            .map(|(_, f)| f)
            .collect()
    }

    /// Whether confirming creates a droplet (billed), rather than continuing with one.
    pub fn creates_droplet(&self) -> bool {
        self.steps.droplet_id.is_none()
    }

    fn ask_to_start(&mut self) {
        if let Some(i) = self.form.first_invalid() {
            let field = crate::bootstrap::answers::Field::ALL[i];
            self.notice = Some(format!(
                "{}: {}",
                field.key(),
                self.form.error(field).unwrap_or_default()
            ));
            self.form.move_to(i);
        } else if self.readonly {
            self.notice = Some("read-only session: the wizard cannot create a droplet".into());
        } else {
            self.stage = Stage::Confirming;
        }
    }

    fn on_steps_action(&mut self, action: Action) -> Vec<Effect> {
        let idle = self.steps.busy.is_none();
        match action {
            Action::Up => self.steps.selected = self.steps.selected.saturating_sub(1),
            Action::Down => {
                self.steps.selected = (self.steps.selected + 1).min(Step::ALL.len() - 1)
            }
            Action::Back => self.open = false,
            _ if !idle => self.notice = Some("the bootstrap is busy; wait for it to stop".into()),
            Action::WizardContinue => return self.run(),
            Action::WizardSkip => match &self.steps.failure {
                Some(f) => {
                    self.steps.skip.insert(f.step);
                    return self.run();
                }
                None => self.notice = Some("no failed step to leave out".into()),
            },
            Action::WizardUndo => match self.steps.droplet_id {
                Some(id) => self.steps.confirm_undo = Some(id),
                None => self.notice = Some("nothing to undo: no droplet was created".into()),
            },
            // Step 1 is the form again, with the answers as they are.
            Action::WizardGoBack | Action::WizardEditAnswers
                if self.steps.selected_step() == Step::Choose
                    || action == Action::WizardEditAnswers =>
            {
                self.back_to_choose()
            }
            Action::WizardGoBack => {
                let step = self.steps.selected_step();
                match self.request() {
                    Ok(request) => {
                        self.steps.busy = Some(Busy::GoingBack(step));
                        return vec![Effect::BootstrapGoBack(request, step)];
                    }
                    Err(why) => self.notice = Some(why),
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn run(&mut self) -> Vec<Effect> {
        match self.request() {
            Ok(request) => {
                self.answers_path = Some(request.answers_path.clone());
                self.stage = Stage::Steps;
                self.steps.started();
                vec![Effect::RunBootstrap(request)]
            }
            Err(why) => {
                self.stage = Stage::Form;
                self.notice = Some(why);
                Vec::new()
            }
        }
    }

    fn undo(&mut self) -> Vec<Effect> {
        self.steps.confirm_undo = None;
        match self.request() {
            Ok(request) => {
                self.steps.busy = Some(Busy::Undoing);
                vec![Effect::UndoBootstrap(request)]
            }
            Err(why) => {
                self.notice = Some(why);
                Vec::new()
            }
        }
    }

    pub fn apply(&mut self, event: BootstrapEvent) {
        match event {
            BootstrapEvent::Loaded { account, earlier } => {
                self.account = match account {
                    Ok(choices) => Account::Loaded(choices),
                    Err(why) => Account::Failed(why),
                };
                // An unfinished bootstrap is continued, not started over beside it.
                if let Some(earlier) = earlier
                    && self.stage == Stage::Form
                    && self.answers_path.is_none()
                {
                    self.form = Form::from_answers(&earlier.answers);
                    self.steps.show_progress(&earlier.progress);
                    self.notice = Some(format!(
                        "an unfinished bootstrap of {} ({}): continue it here",
                        earlier.answers.name,
                        earlier.answers_path.display()
                    ));
                    self.answers_path = Some(earlier.answers_path);
                    self.stage = Stage::Steps;
                }
            }
            BootstrapEvent::Step(event) => self.steps.on_event(event),
            BootstrapEvent::Ended(result) => self.steps.ended(result),
            BootstrapEvent::NotStarted(why) => {
                self.steps.busy = None;
                self.steps.outcome = Some(format!("the bootstrap did not start: {why}"));
            }
            BootstrapEvent::Undone(result) => self.steps.undone(result),
            BootstrapEvent::WentBack(step, result) => self.steps.went_back(step, result),
            BootstrapEvent::Amended { changed, progress } => {
                self.steps.amended(&changed, &progress)
            }
        }
    }

    /// A request the runner dropped never ends by itself: say so and stop waiting.
    pub fn on_job(&mut self, update: JobUpdate) {
        if let JobUpdate::Dropped(_) = update
            && self.steps.busy.take().is_some()
        {
            self.steps.outcome = Some("the request was dropped before it ran".into());
        }
    }
}
