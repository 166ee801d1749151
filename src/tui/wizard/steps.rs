//! The wizard's step view: the eight steps with where each stands, the engine's events as
//! they arrive, and a failure with what was already done and how to go on or undo.

use std::collections::BTreeSet;

use crate::bootstrap::answers::Field;
use crate::bootstrap::run::{Event, Failure, Finished};
use crate::bootstrap::steps::{Done, Progress, Step};

/// Events kept for the view (a run has a few dozen; the oldest go first).
const EVENTS_KEPT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    /// Done now or by an earlier run: the fact it recorded.
    Done(String),
    /// Left out this run: why.
    NotDone(String),
    Failed,
}

/// Work on the bootstrap under way (one at a time: the job runner's `Bootstrap` kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Running,
    Undoing,
    GoingBack(Step),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepView {
    pub states: [StepState; 8],
    /// The engine's events as lines (the CLI's wording).
    pub events: Vec<String>,
    pub failure: Option<Failure>,
    pub busy: Option<Busy>,
    pub selected: usize,
    /// The droplet this bootstrap created, as the state file last said.
    pub droplet_id: Option<u64>,
    /// Steps the operator chose to leave out of the next runs.
    pub skip: BTreeSet<Step>,
    /// Asking whether to delete this droplet.
    pub confirm_undo: Option<u64>,
    /// How the last run, undo or going back ended, in a sentence.
    pub outcome: Option<String>,
}

impl Default for StepView {
    fn default() -> StepView {
        StepView {
            states: Step::ALL.map(|_| StepState::Pending),
            events: Vec::new(),
            failure: None,
            busy: None,
            selected: 0,
            droplet_id: None,
            skip: BTreeSet::new(),
            confirm_undo: None,
            outcome: None,
        }
    }
}

fn at(step: Step) -> usize {
    Step::ALL.iter().position(|s| *s == step).expect("listed")
}

impl StepView {
    /// The states a state file records (a run stopped earlier, or just gone back).
    pub fn show_progress(&mut self, progress: &Progress) {
        for step in Step::ALL {
            self.states[at(step)] = match progress.fact(step) {
                Some(fact) => StepState::Done(fact.to_string()),
                None => StepState::Pending,
            };
        }
        self.droplet_id = progress.droplet_id;
        self.selected = progress.next().map_or(Step::ALL.len() - 1, at);
    }

    /// A run starts: what it will do is pending until the engine says otherwise.
    pub fn started(&mut self) {
        self.busy = Some(Busy::Running);
        self.failure = None;
        self.outcome = None;
        self.events.clear();
    }

    pub fn on_event(&mut self, event: Event) {
        self.events.push(crate::cli::bootstrap::describe(&event));
        if self.events.len() > EVENTS_KEPT {
            self.events.remove(0);
        }
        match event {
            Event::Started { step } => {
                self.states[at(step)] = StepState::Running;
                self.selected = at(step);
            }
            Event::AlreadyDone { step, fact } | Event::Done { step, fact } => {
                self.states[at(step)] = StepState::Done(fact)
            }
            Event::NotDone { step, why } => self.states[at(step)] = StepState::NotDone(why),
            Event::Notice { .. } | Event::Warning { .. } => {}
        }
    }

    pub fn ended(&mut self, result: Result<Finished, Failure>) {
        self.busy = None;
        match result {
            Ok(finished) => {
                self.droplet_id = finished.progress.droplet_id;
                self.outcome = Some(if finished.not_done.is_empty() {
                    "bootstrap complete: every step is done".to_string()
                } else {
                    let keys: Vec<&str> = finished.not_done.iter().map(|s| s.key()).collect();
                    format!("bootstrap stopped; not done: {}", keys.join(", "))
                });
            }
            Err(failure) => {
                self.states[at(failure.step)] = StepState::Failed;
                self.selected = at(failure.step);
                self.droplet_id = failure.droplet_id.or(self.droplet_id);
                self.failure = Some(failure);
            }
        }
    }

    /// The undo ended: every step is forgotten when it worked.
    pub fn undone(&mut self, result: Result<String, String>) {
        self.busy = None;
        match result {
            Ok(said) => {
                self.show_progress(&Progress::default());
                self.failure = None;
                self.outcome = Some(format!("undone: {said}; the state file was reset"));
            }
            Err(why) => self.outcome = Some(format!("undo failed: {why}")),
        }
    }

    pub fn went_back(&mut self, step: Step, result: Result<Progress, String>) {
        self.busy = None;
        match result {
            Ok(progress) => {
                self.show_progress(&progress);
                self.failure = None;
                self.outcome = Some(format!(
                    "back to {:?}: it and the steps after it run again on continue",
                    step.key()
                ));
            }
            Err(why) => self.outcome = Some(format!("could not go back: {why}")),
        }
    }

    /// The record the view shows, as a state file would hold it (what the form asks the
    /// engine's rules about; the job reads the file itself).
    pub fn progress(&self) -> Progress {
        let done = Step::ALL
            .into_iter()
            .zip(&self.states)
            .filter_map(|(step, state)| match state {
                StepState::Done(fact) => Some(Done {
                    step,
                    at: String::new(),
                    fact: fact.clone(),
                }),
                _ => None,
            })
            .collect();
        Progress {
            done,
            droplet_id: self.droplet_id,
            droplet_ipv4: None,
            answers: None,
        }
    }

    /// The answers were saved with `changed`; the steps reading them are forgotten.
    pub fn amended(&mut self, changed: &[Field], progress: &Progress) {
        self.show_progress(progress);
        let said = match crate::bootstrap::amend::rewind_to(changed) {
            Some(step) => {
                let keys: Vec<&str> = changed.iter().map(|f| f.key()).collect();
                format!(
                    "answers saved ({} changed): {:?} and the steps after it run again",
                    keys.join(", "),
                    step.key()
                )
            }
            None => "answers saved unchanged".to_string(),
        };
        self.events.push(said);
    }

    pub fn selected_step(&self) -> Step {
        Step::ALL[self.selected]
    }
}
