//! The console's background work as jobs for [`crate::jobs::JobRunner`]: which effects are
//! jobs, their kinds (one running job per kind), how each runs on the target, and how
//! what the runner reports becomes messages for the panes.

use futures::future::BoxFuture;

use super::effect::Effect;
use super::message::{JobUpdate, Message};
use crate::jobs::{Job, JobEvent, Progress};
use crate::target::Target;

/// Jobs of one kind run one at a time; kinds run side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Gathering the host's facts.
    Host,
    /// A diagnosis, one check re-run, or a fix followed by a diagnosis.
    Checks,
    /// Previewing or writing the stack's files.
    Stack,
    /// Reading Odoo's module states.
    Modules,
    /// Changing them: a module plan's phases, a reset of pending states (apart from the
    /// reads, so a refresh never replaces a confirmed change waiting to run).
    ModuleChange,
    /// Listing the DigitalOcean droplets.
    DropletsList,
    /// An action on a droplet (never replaced by a list request).
    DropletsAction,
    /// Reading a stack's releases and deploy journal.
    Releases,
    /// A rollback or a resumed deploy: one at a time.
    Deploy,
    /// Reading the plan file typed in the Deploy pane's form: a newer one (the next key
    /// press) replaces one still waiting.
    DeployPlan,
    /// What the bootstrap wizard offers: the account's choices, an unfinished bootstrap.
    BootstrapLoad,
    /// The bootstrap itself, its undo, going back: one at a time.
    Bootstrap,
}

impl JobKind {
    /// The kind of job an effect asks for; `None` for effects that are not jobs (commands
    /// to the logs and Docker workers, quitting).
    pub fn of(effect: &Effect) -> Option<JobKind> {
        match effect {
            Effect::RefreshHost => Some(JobKind::Host),
            Effect::RunChecks | Effect::RerunCheck(_) | Effect::ApplyFix(..) => {
                Some(JobKind::Checks)
            }
            Effect::PlanStack(_) | Effect::WriteStack(_) => Some(JobKind::Stack),
            Effect::LoadModules(_) => Some(JobKind::Modules),
            Effect::ReadModulePlan(_)
            | Effect::RunModulePlan { .. }
            | Effect::ResetPendingModules(_) => Some(JobKind::ModuleChange),
            Effect::LoadDroplets => Some(JobKind::DropletsList),
            Effect::DropletAction { .. } => Some(JobKind::DropletsAction),
            Effect::LoadDeploys(_) | Effect::PreviewDeploy(_) => Some(JobKind::Releases),
            Effect::RunDeploy(_) => Some(JobKind::Deploy),
            Effect::ReadDeployPlan(_) => Some(JobKind::DeployPlan),
            Effect::LoadBootstrap(_) => Some(JobKind::BootstrapLoad),
            Effect::RunBootstrap(_) | Effect::UndoBootstrap(_) | Effect::BootstrapGoBack(..) => {
                Some(JobKind::Bootstrap)
            }
            _ => None,
        }
    }

    /// Whether the job works on the host the console is about (and so belongs to its
    /// session, stopped when the console moves to another host), rather than on the
    /// DigitalOcean account.
    pub fn is_host_bound(self) -> bool {
        !matches!(
            self,
            JobKind::DropletsList
                | JobKind::DropletsAction
                | JobKind::BootstrapLoad
                | JobKind::Bootstrap
                // A file on the machine the console runs on.
                | JobKind::DeployPlan
        )
    }
}

/// An effect to do on a target.
#[derive(Clone)]
pub struct ConsoleJob {
    pub target: Target,
    pub effect: Effect,
    /// The DigitalOcean client, for the Droplets pane's jobs.
    pub cloud: Option<super::droplets_job::Cloud>,
}

impl std::fmt::Debug for ConsoleJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.effect)
    }
}

impl ConsoleJob {
    /// The job for an effect, if the effect is one (see [`JobKind::of`]).
    pub fn new(target: &Target, effect: Effect) -> Option<ConsoleJob> {
        JobKind::of(&effect).map(|_| ConsoleJob {
            target: target.clone(),
            effect,
            cloud: None,
        })
    }

    /// The job with the console's DigitalOcean client (or why it has none).
    pub fn with_cloud(mut self, cloud: super::droplets_job::Cloud) -> ConsoleJob {
        self.cloud = Some(cloud);
        self
    }
}

impl Job for ConsoleJob {
    type Kind = JobKind;
    /// A result on the way: a fix applied, before the diagnosis that follows it.
    type Progress = Message;
    type Output = Option<Message>;

    fn kind(&self) -> JobKind {
        JobKind::of(&self.effect).expect("ConsoleJob::new admits jobs only")
    }

    /// Each kind's work is boxed on its own, inside a future that holds only its inputs:
    /// one future for every kind would be as large as the largest (a deploy's, ~170 KiB),
    /// and it is built on the stack of the thread that starts the job (the event loop's),
    /// whose pages then stay resident for good.
    fn run(self, progress: Progress<Self>) -> BoxFuture<'static, Option<Message>> {
        let ConsoleJob {
            target,
            effect,
            cloud,
        } = self;
        match JobKind::of(&effect) {
            Some(JobKind::Host) => Box::pin(async move {
                let result = Box::pin(crate::host::gather(&target))
                    .await
                    .map_err(|e| format!("{e:#}"));
                Some(Message::HostFacts(result))
            }),
            Some(JobKind::Checks) => {
                Box::pin(
                    async move { Some(Box::pin(checks_job(&target, effect, &progress)).await) },
                )
            }
            Some(JobKind::Stack) => {
                Box::pin(async move { Box::pin(super::stack_job::run(&target, effect)).await })
            }
            Some(JobKind::Modules) => Box::pin(async move {
                Some(Box::pin(super::modules_job::load(&target, effect, &progress)).await)
            }),
            Some(JobKind::ModuleChange) => Box::pin(async move {
                Some(Box::pin(super::modules_job::change(&target, effect, &progress)).await)
            }),
            Some(JobKind::DropletsList | JobKind::DropletsAction) => Box::pin(async move {
                Some(Box::pin(super::droplets_job::run(cloud, effect, &progress)).await)
            }),
            Some(JobKind::BootstrapLoad | JobKind::Bootstrap) => Box::pin(async move {
                Box::pin(super::wizard::job::run(cloud, effect, &progress)).await
            }),
            Some(JobKind::Releases | JobKind::Deploy | JobKind::DeployPlan) => {
                Box::pin(async move {
                    Box::pin(super::deploy_job::run(&target, effect, &progress)).await
                })
            }
            None => Box::pin(async { None }),
        }
    }
}

/// The Checks pane's work: a diagnosis, one check, or a confirmed fix followed by a fresh
/// diagnosis (the fix's result is reported as progress).
async fn checks_job(target: &Target, effect: Effect, progress: &Progress<ConsoleJob>) -> Message {
    use crate::checks::{DiagnoseOptions, apply, diagnose, run::rerun};
    let options = DiagnoseOptions::default();
    match effect {
        Effect::RerunCheck(id) => {
            let result = rerun(target, &options, id)
                .await
                .ok_or_else(|| format!("unknown check {id}"));
            return Message::CheckRerun(result);
        }
        Effect::ApplyFix(action, nginx) => {
            let fix = apply::ConfirmedFix { action };
            let result = apply::apply(target, &nginx, &fix)
                .await
                .map_err(|e| format!("{e:#}"));
            progress.report(Message::FixApplied(result));
        }
        _ => {}
    }
    let (report, obs) = diagnose(target, &options).await;
    Message::ChecksReport(Ok((Box::new(report), obs.nginx.invocation)))
}

/// What the panes hear of a job event: its result or progress as the message it is, and
/// where a request stands (queued, started, dropped) as [`Message::Job`].
pub fn message(event: JobEvent<ConsoleJob>) -> Option<Message> {
    match event {
        JobEvent::Queued { job, .. } => Some(Message::Job(job.effect, JobUpdate::Queued)),
        JobEvent::Started { job, .. } => Some(Message::Job(job.effect, JobUpdate::Started)),
        JobEvent::Progress { progress, .. } => Some(progress),
        JobEvent::Finished { output, .. } => output,
        JobEvent::Dropped { job, reason, .. } => {
            Some(Message::Job(job.effect, JobUpdate::Dropped(reason)))
        }
    }
}
