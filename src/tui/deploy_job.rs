//! The Deploy pane's deploy work: read the releases a stack had and any deploy left
//! unfinished, read a new deploy's module plan file, preview a new deploy, and run a deploy, a rollback or a resume the operator
//! confirmed, its steps reported
//! live as the job's progress. Runs on the job runner (one deploy at a time).

use std::path::PathBuf;

use super::effect::Effect;
use super::jobs::ConsoleJob;
use super::message::Message;
use crate::config::file_error::FileError;
use crate::deploy::StackState;
use crate::deploy::journal::{Outcome, UnfinishedDeploy, unfinished_in};
use crate::deploy::lock::{self, LockOptions, Operation};
use crate::deploy::module_window::ModuleWindow;
use crate::deploy::orchestrate::{self, Verdict};
use crate::deploy::preview::DeployPreview;
use crate::deploy::releases::{self, Release};
use crate::deploy::request::StackParts;
use crate::deploy::resume::{self, Choice};
use crate::jobs::Progress;
use crate::odoo::modules::plan::Plan;
use crate::target::Target;

/// What the operator asked the pane to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAction {
    /// A new tag, its modules (`a,b`; empty: none, zero downtime) upgraded in a window,
    /// or a plan file's phases run there instead (as `--modules` or `--plan`).
    Deploy {
        tag: String,
        modules: String,
        plan: Option<PlanFile>,
    },
    /// Back to a recorded release.
    RollbackTo { tag: String },
    /// An interrupted deploy, rolled back or continued.
    Resume { deploy_id: String, choice: Choice },
}

/// A module plan file as the form read and checked it. The plan itself travels with the
/// request: what the preview showed is what runs, even if the file changes meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFile {
    pub path: PathBuf,
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRun {
    pub parts: StackParts,
    pub action: RunAction,
}

impl DeployRun {
    /// A deploy's module window: the plan file's, else the modules typed, else none.
    pub fn module_window(&self) -> Result<Option<ModuleWindow>, String> {
        match &self.action {
            RunAction::Deploy {
                plan: Some(file), ..
            } => self.parts.plan_window(file.plan.clone()).map(Some),
            RunAction::Deploy { modules, .. } => self.parts.module_window(modules),
            _ => Ok(None),
        }
    }
}

/// A stack's deploy history as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploysLoaded {
    /// Newest first.
    pub releases: Vec<Release>,
    pub unfinished: Option<UnfinishedDeploy>,
    /// Who runs a deploy on the stack now (its lock's live holder).
    pub running: Option<String>,
}

/// How a run the pane started ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployDone {
    pub verdict: Verdict,
    pub outcome: Outcome,
    pub message: String,
    pub proof_dir: Option<PathBuf>,
    /// The history read again after the run (`Err`: why it could not be).
    pub loaded: Result<DeploysLoaded, String>,
}

/// Do the work of a deploy effect; other effects are not ours (`None`).
pub async fn run(
    target: &Target,
    effect: Effect,
    progress: &Progress<ConsoleJob>,
) -> Option<Message> {
    match effect {
        Effect::LoadDeploys(parts) => Some(Message::Deploys(load(target, &parts).await)),
        Effect::PreviewDeploy(run) => Some(Message::DeployPreviewed(preview(target, &run).await)),
        Effect::ReadDeployPlan(path) => {
            let read = path.clone();
            let result = tokio::task::spawn_blocking(move || Plan::load(&read))
                .await
                .unwrap_or_else(|e| {
                    Err(FileError {
                        path: path.clone(),
                        line: 0,
                        column: 0,
                        key: None,
                        message: format!("reading the plan stopped: {e}"),
                    })
                });
            Some(Message::DeployPlanRead(path, result))
        }
        Effect::RunDeploy(run) => {
            let mut on_step = |s: &str| progress.report(Message::DeployStep(s.to_string()));
            let done = match execute(target, &run, &mut on_step).await {
                Ok(r) => DeployDone {
                    verdict: r.verdict,
                    outcome: r.status.outcome,
                    message: r.message,
                    proof_dir: r.proof_dir,
                    loaded: load(target, &run.parts).await,
                },
                Err(e) => DeployDone {
                    verdict: Verdict::CouldNotCheck,
                    outcome: Outcome::Failed,
                    message: e,
                    proof_dir: None,
                    loaded: load(target, &run.parts).await,
                },
            };
            Some(Message::DeployDone(done))
        }
        _ => None,
    }
}

/// The releases, the unfinished deploy if any, and who holds the lock now.
pub async fn load(target: &Target, parts: &StackParts) -> Result<DeploysLoaded, String> {
    let state = StackState::locate(target, &parts.stack_dir)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let releases = releases::list(target, &state)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let unfinished = unfinished_in(target, &state)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let running = lock::peek(target, &state, &LockOptions::default())
        .await
        .ok()
        .flatten()
        .filter(|o| o.stale.is_none())
        .map(|o| o.holder.to_string());
    Ok(DeploysLoaded {
        releases,
        unfinished,
        running,
    })
}

/// What a new deploy would do, for the operator to confirm.
async fn preview(target: &Target, run: &DeployRun) -> Result<DeployPreview, String> {
    let RunAction::Deploy { tag, .. } = &run.action else {
        return Err("only a deploy is previewed".into());
    };
    let window = run.module_window()?;
    Ok(crate::deploy::preview::preview(target, &run.parts, tag, window.as_ref()).await)
}

async fn execute(
    target: &Target,
    run: &DeployRun,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> Result<orchestrate::DeployResult, String> {
    match &run.action {
        RunAction::Deploy { tag, .. } => {
            let mut request = run.parts.request(target, Operation::Deploy, tag).await?;
            request.modules = run.module_window()?;
            Ok(orchestrate::run(target, &request, on_step).await)
        }
        RunAction::RollbackTo { tag } => {
            let request = run.parts.request(target, Operation::Rollback, tag).await?;
            Ok(orchestrate::run(target, &request, on_step).await)
        }
        RunAction::Resume { deploy_id, choice } => {
            let state = StackState::locate(target, &run.parts.stack_dir)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let deploy = unfinished_in(target, &state)
                .await
                .map_err(|e| format!("{e:#}"))?
                .filter(|d| d.deploy_id == *deploy_id)
                .ok_or_else(|| format!("{deploy_id} is no longer unfinished"))?;
            let mut request = run
                .parts
                .request(target, deploy.operation, &deploy.to.tag)
                .await?;
            // The operator confirmed in the pane, the lock's holder being named there.
            request.lock.take_over = true;
            Ok(resume::run(target, &request, &deploy, *choice, on_step).await)
        }
    }
}
