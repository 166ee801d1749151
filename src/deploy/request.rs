//! Where a stack's parts are, as the operator names them (the command line's options, the
//! Deploy pane's form), turned into a [`DeployRequest`] for a tag: one rule for both faces.

use std::path::PathBuf;
use std::time::Duration;

use super::lock::{LockOptions, Operation};
use super::module_window::ModuleWindow;
use super::orchestrate::DeployRequest;
use super::switch::{DEFAULT_READY_TIMEOUT, SwitchRequest};
use super::switch_clone::Slots;
use crate::nginx::NginxInvocation;
use crate::odoo::modules::plan::Plan;
use crate::target::Target;
use crate::verify::{ExtraGate, VerifyOptions};

/// A stack on a host and how to reach its parts; what is `None` is found or defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackParts {
    /// The compose file's and `.env`'s directory.
    pub stack_dir: PathBuf,
    /// The compose project (default: the directory's name, as compose names it).
    pub project: Option<String>,
    /// The site's server name, when nginx serves several.
    pub domain: Option<String>,
    /// nginx's main configuration file and prefix, when the running master's are not it.
    pub nginx_conf: Option<PathBuf>,
    pub nginx_prefix: Option<PathBuf>,
    /// The port slots the releases alternate between (default 8069:8072,18069:18072).
    pub slots: Option<Slots>,
    pub ready_timeout: Duration,
    /// Where proofs are written, where the console runs.
    pub proofs: PathBuf,
    pub lock: LockOptions,
    /// The operator's own gates (`[[verify.gates]]`).
    pub extra_gates: Vec<ExtraGate>,
    /// How long the gates may wait for readiness (default [`super::orchestrate::DEFAULT_VERIFY_WAIT`]).
    pub verify_wait: Option<Duration>,
    /// How long a release must keep serving after its gates passed through nginx.
    pub settle: Duration,
    /// Where a module deploy's backup is written (default `backups/` in the state dir).
    pub backup_dir: Option<PathBuf>,
    /// Backups of a database kept there (default 7).
    pub backup_keep: Option<usize>,
}

impl StackParts {
    pub fn new(stack_dir: impl Into<PathBuf>) -> StackParts {
        StackParts {
            stack_dir: stack_dir.into(),
            project: None,
            domain: None,
            nginx_conf: None,
            nginx_prefix: None,
            slots: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            proofs: PathBuf::from("proofs"),
            lock: LockOptions::default(),
            extra_gates: Vec::new(),
            verify_wait: None,
            settle: super::orchestrate::DEFAULT_SETTLE,
            backup_dir: None,
            backup_keep: None,
        }
    }

    /// The module window for `modules` (`a,b`, as `--modules` takes them: a name installed
    /// already is upgraded); `None` when no module is named.
    pub fn module_window(&self, modules: &str) -> Result<Option<ModuleWindow>, String> {
        if modules.split(',').all(|m| m.trim().is_empty()) {
            return Ok(None);
        }
        self.window(Plan::from_list(modules, false)?, true)
            .map(Some)
    }

    /// The module window for a plan file's phases, run as written (as `--plan`: an
    /// install is an install, an upgrade an upgrade).
    pub fn plan_window(&self, plan: Plan) -> Result<ModuleWindow, String> {
        self.window(plan, false)
    }

    fn window(&self, plan: Plan, upgrade_installed: bool) -> Result<ModuleWindow, String> {
        let backup_dir = self
            .backup_dir
            .clone()
            .or_else(|| crate::config::state_dir().map(|d| d.join("backups")))
            .ok_or_else(|| "no backup directory: set [backup] dir".to_string())?;
        Ok(ModuleWindow {
            plan,
            upgrade_installed,
            database: None,
            backup_dir,
            keep: self.backup_keep.or(Some(7)),
        })
    }

    /// The compose project: as named, else compose's default (the directory's name,
    /// lower-cased).
    pub fn project(&self) -> Option<String> {
        self.project.clone().or_else(|| {
            self.stack_dir
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
        })
    }

    /// The request for a run to `tag`, nginx as its running master was started (with the
    /// operator's overrides).
    pub async fn request(
        &self,
        target: &Target,
        operation: Operation,
        tag: &str,
    ) -> Result<DeployRequest, String> {
        let project = self
            .project()
            .ok_or_else(|| "name the compose project".to_string())?;
        let mut switch = SwitchRequest::new(
            &project,
            tag,
            self.stack_dir.join(".env"),
            self.stack_dir.join("docker-compose.yml"),
            self.nginx_invocation(target).await,
        );
        if let Some(s) = self.slots {
            switch.slots = s;
        }
        switch.domain = self.domain.clone();
        switch.ready_timeout = self.ready_timeout.max(Duration::from_secs(1));
        let mut verify = VerifyOptions::default();
        verify.discovery.compose_project = Some(project);
        verify.discovery.domain = self.domain.clone();
        verify.discovery.nginx_conf = self.nginx_conf.clone();
        verify.discovery.nginx_prefix = self.nginx_prefix.clone();
        verify.extra = self.extra_gates.clone();
        verify.wait = self.verify_wait;
        Ok(DeployRequest {
            operation,
            stack_dir: self.stack_dir.clone(),
            switch,
            verify,
            lock: self.lock.clone(),
            proofs_root: self.proofs.clone(),
            modules: None,
            settle: self.settle,
        })
    }

    /// The running nginx's own invocation, with the operator's overrides.
    pub async fn nginx_invocation(&self, target: &Target) -> NginxInvocation {
        let procs = crate::host::processes::snapshot(target).await;
        let mut inv = crate::nginx::process::find_master(&procs, self.nginx_conf.as_deref())
            .master
            .unwrap_or_default();
        if self.nginx_conf.is_some() {
            inv.conf = self.nginx_conf.clone();
        }
        if self.nginx_prefix.is_some() {
            inv.prefix = self.nginx_prefix.clone();
        }
        inv
    }
}
