//! Work a key or a message asks for. The event loop starts it; key handlers never do I/O.

use std::path::PathBuf;
use std::sync::Arc;

use crate::odoo::modules::access::ModulesOptions;

/// What the Deploy pane asks to render: the form's values, validated by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRequest {
    pub domain: String,
    pub size: String,
    pub redis: bool,
    pub directory: PathBuf,
}

/// A previewed plan, shared between the pane and the job that writes it.
#[derive(Debug, Clone)]
pub struct StackPlan(pub Arc<crate::stack::update::Plan>);

impl PartialEq for StackPlan {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for StackPlan {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Gather the host's facts again.
    RefreshHost,
    /// Run the whole 502 checklist.
    RunChecks,
    /// Re-run one check (by id).
    RerunCheck(&'static str),
    /// Apply a fix the operator confirmed.
    ApplyFix(
        crate::checks::model::ApplyAction,
        crate::nginx::NginxInvocation,
    ),
    /// The SSH connection gave up; the operator asked to try again.
    Reconnect,
    /// Render the stack's files and compare them with the host's.
    PlanStack(StackRequest),
    /// Write a previewed plan the operator confirmed.
    WriteStack(StackPlan),
    /// Read Odoo's module states (the Modules pane), then compare the installed ones'
    /// files with their recorded checksums.
    LoadModules(ModulesOptions),
    /// Read a module plan file (TOML) for the Modules pane to confirm.
    ReadModulePlan(PathBuf),
    /// Run a module plan the operator confirmed (install/upgrade phases), its output
    /// saved in `log`.
    RunModulePlan {
        plan: crate::odoo::modules::plan::Plan,
        log: PathBuf,
        options: ModulesOptions,
        /// Back the database up into `backup_dir` first (else say what is at risk).
        take_backup: bool,
        backup_dir: Option<PathBuf>,
    },
    /// Move pending module states back, as the operator confirmed.
    ResetPendingModules(ModulesOptions),
    /// List the DigitalOcean droplets (the Droplets pane).
    LoadDroplets,
    /// An action on a droplet the operator confirmed (the list is read again after).
    DropletAction {
        id: u64,
        name: String,
        action: crate::digitalocean::DropletAction,
    },
    /// Read a stack's releases and any deploy left unfinished (the Deploy pane).
    LoadDeploys(crate::deploy::request::StackParts),
    /// Read and check a module plan file for the Deploy pane's new-deploy form (on the
    /// machine the console runs on, as `deploy --plan FILE` reads it).
    ReadDeployPlan(PathBuf),
    /// Say what a deploy of a new tag would do (read-only), before it is confirmed.
    PreviewDeploy(crate::tui::deploy_job::DeployRun),
    /// Deploy a tag, roll back to a release, or resume an unfinished deploy (confirmed).
    RunDeploy(crate::tui::deploy_job::DeployRun),
    /// Connect the console to a droplet; once connected, the host session is replaced.
    Connect(crate::tui::connect::ConnectRequest),
    /// The operator's answer to the host-key question the console shows.
    AnswerHostKey(bool),
    /// Connect the console back to the host it was on before the last switch.
    PreviousHost,
    /// Read what the bootstrap wizard offers (the account's regions, sizes and SSH keys)
    /// and an unfinished bootstrap in this folder to continue.
    LoadBootstrap(Option<PathBuf>),
    /// Run the bootstrap's steps not yet done (the operator confirmed).
    RunBootstrap(crate::tui::wizard::RunRequest),
    /// Delete the droplet the bootstrap created and forget its steps (confirmed).
    UndoBootstrap(crate::tui::wizard::RunRequest),
    /// Forget a step and those after it, so the next run does them again.
    BootstrapGoBack(
        crate::tui::wizard::RunRequest,
        crate::bootstrap::steps::Step,
    ),
    /// Leave the console.
    Quit,
    /// Ask the logs worker to change the view.
    Logs(crate::logs::worker::LogsCommand),
    /// Ask the Docker worker for an action, an inspect or a refresh.
    Docker(crate::docker::DockerCommand),
    /// Follow a container's logs in the Logs pane (once per container).
    OpenContainerLogs { container: String, name: String },
}
