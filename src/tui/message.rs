//! Results of background work, delivered to the event loop.

use std::sync::Arc;

use crate::docker::{DockerEvent, Model};
use crate::host::HostFacts;
use crate::jobs::DropReason;
use crate::logs::worker::LogsSnapshot;

// Messages are few (a handful a second); boxing the host facts would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Message {
    /// A Host refresh finished.
    HostFacts(Result<HostFacts, String>),
    /// The logs worker published a new view.
    Logs(Arc<LogsSnapshot>),
    /// The Docker worker's model changed.
    Containers(Arc<Model>),
    /// An action or inspect finished.
    Docker(DockerEvent),
    /// A diagnosis finished, with how its nginx is invoked (for fixes).
    ChecksReport(Result<(Box<crate::checks::Report>, crate::nginx::NginxInvocation), String>),
    /// One re-run check finished.
    CheckRerun(Result<crate::checks::CheckResult, String>),
    /// An applied fix finished (a fresh diagnosis follows).
    FixApplied(Result<crate::checks::apply::Applied, String>),
    /// A stack preview finished, for the request it answers.
    StackPlanned(
        crate::tui::effect::StackRequest,
        Result<crate::stack::update::Plan, String>,
    ),
    /// Something the operator must know about the host (an interrupted change found and
    /// finished or reverted on start).
    HostNotice(String),
    /// Writing the stack's files finished.
    StackWritten(Result<crate::stack::update::Applied, String>),
    /// Odoo's module states were read (or could not be).
    Modules(Result<crate::tui::panes::modules::ModulesLoaded, String>),
    /// The installed modules' files compared with their recorded checksums (after the
    /// states, so those are on screen first).
    ModulesDisk(Result<crate::odoo::modules::ondisk::DiskReport, String>),
    /// A plan file read for the Modules pane (to confirm before it runs).
    ModulePlanRead(Result<crate::odoo::modules::plan::Plan, String>),
    /// One line of a running module plan's output.
    ModuleRunLine(String),
    /// A module plan finished (its summary), or could not run.
    ModuleRunDone(Result<crate::tui::panes::modules::ModuleRunResult, String>),
    /// Pending states moved back (name, from, to), or not.
    ModulesReset(Result<Vec<crate::odoo::modules::reset::Reset>, String>),
    /// The droplets were listed, or an action on one was asked for.
    Droplets(crate::tui::panes::droplets::DropletsEvent),
    /// A stack's releases and unfinished deploy were read (the Deploy pane).
    Deploys(Result<crate::tui::deploy_job::DeploysLoaded, String>),
    /// A step of the running rollback or resume, as it happens.
    DeployStep(String),
    /// A plan file typed in the Deploy pane's form, read and checked (for that path).
    DeployPlanRead(
        std::path::PathBuf,
        Result<crate::odoo::modules::plan::Plan, crate::config::file_error::FileError>,
    ),
    /// What a deploy of a new tag would do (`Err`: the request itself is wrong).
    DeployPreviewed(Result<crate::deploy::preview::DeployPreview, String>),
    /// The rollback or resume ended.
    DeployDone(crate::tui::deploy_job::DeployDone),
    /// The bootstrap wizard's account choices, its engine's events, its end.
    Bootstrap(crate::tui::wizard::BootstrapEvent),
    /// Where the job an effect asked for stands (its result arrives as its own message).
    Job(crate::tui::effect::Effect, JobUpdate),
}

/// A request's place in the job runner, for the pane that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobUpdate {
    /// It waits for the running job of its kind.
    Queued,
    Started,
    /// It will not run or finish: replaced while waiting, or cancelled.
    Dropped(DropReason),
}
