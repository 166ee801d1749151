//! What CI keeps of every deploy, passed or failed: `proofs/deploy-<UTC time>/` with
//! `deploy_status.json` (its shape is `schemas/deploy_status.schema.json`),
//! `healthcheck.log` and `module_install.log`.
//!
//! Everything written goes through [`crate::redact`] first. The files are also private
//! (0600 in a 0700 directory): the redaction rules are patterns, and these files carry
//! raw log lines of Odoo, PostgreSQL and custom gates (a traceback can print a connection
//! string or customer data in a shape no rule knows). A CI job runs as the user that wrote
//! them, so it still uploads them as artifacts; nobody else on the machine reads them.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, bail};
use serde::{Deserialize, Serialize};

use super::Image;
use super::clock;
use super::journal::{Outcome, StepRecord, StepResult};
use super::lock::Operation;
use crate::target::{Command, Target};

/// The version of `deploy_status.json`'s shape; bumped with the schema.
pub const SCHEMA_VERSION: u32 = 1;

/// `deploy_status.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployStatus {
    pub schema_version: u32,
    pub deploy_id: String,
    pub operation: Operation,
    pub outcome: Outcome,
    /// The host, as the console names it (`root@droplet:22`, `local (name)`).
    pub host: String,
    pub stack_dir: String,
    pub from: Option<Image>,
    pub to: Image,
    /// `git rev-parse HEAD` in the stack directory, when it is a git checkout.
    pub git_sha: Option<String>,
    pub started_at: String,
    pub ended_at: String,
    pub steps: Vec<StepProof>,
    pub gates: Vec<GateRecord>,
    pub backup: Option<BackupProof>,
    pub rollback: Option<RollbackProof>,
}

/// One step: when it ran and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    pub name: String,
    pub started_at: String,
    /// `None`: it never ended (the deploy was interrupted during it).
    pub ended_at: Option<String>,
    pub result: StepVerdict,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Passed,
    Failed,
    Skipped,
    Interrupted,
}

impl StepProof {
    pub fn new(
        name: &str,
        started_ms: i64,
        ended_ms: i64,
        result: StepResult,
        detail: &str,
    ) -> Self {
        StepProof {
            name: name.to_string(),
            started_at: clock::rfc3339(started_ms),
            ended_at: Some(clock::rfc3339(ended_ms)),
            result: result.into(),
            detail: detail.to_string(),
        }
    }

    /// A step as the journal recorded it.
    pub fn from_record(r: &StepRecord) -> Self {
        StepProof {
            name: r.step.clone(),
            started_at: clock::rfc3339(r.started_ms),
            ended_at: r.ended_ms.map(clock::rfc3339),
            result: r.result.map_or(StepVerdict::Interrupted, Into::into),
            detail: r.detail.clone(),
        }
    }
}

impl From<StepResult> for StepVerdict {
    fn from(r: StepResult) -> Self {
        match r {
            StepResult::Passed => StepVerdict::Passed,
            StepResult::Failed => StepVerdict::Failed,
            StepResult::Skipped => StepVerdict::Skipped,
        }
    }
}

/// A gate's result, whatever the gate (built-in or from the config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRecord {
    pub name: String,
    /// A hard gate failing fails the deploy; a soft one warns.
    pub hard: bool,
    pub verdict: GateVerdict,
    pub summary: String,
    /// What was seen: status lines, log lines, the health log.
    pub evidence: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    Pass,
    Fail,
    Warn,
    /// Could not check (timeout, unreachable).
    Error,
}

/// The backup made before the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupProof {
    /// Where it is on the host.
    pub location: String,
    pub files: Vec<Checksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The rollback a failed deploy ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackProof {
    pub to: Image,
    /// Why: the step or gate that failed.
    pub reason: String,
    /// Whether the previous release is healthy again.
    pub result: StepVerdict,
    pub steps: Vec<StepProof>,
    pub gates: Vec<GateRecord>,
}

impl DeployStatus {
    /// A status to fill in as the deploy goes.
    pub fn new(
        deploy_id: &str,
        operation: Operation,
        host: &str,
        stack_dir: &Path,
        from: Option<Image>,
        to: Image,
        started_ms: i64,
    ) -> DeployStatus {
        DeployStatus {
            schema_version: SCHEMA_VERSION,
            deploy_id: deploy_id.to_string(),
            operation,
            outcome: Outcome::Failed,
            host: host.to_string(),
            stack_dir: stack_dir.to_string_lossy().into_owned(),
            from,
            to,
            git_sha: None,
            started_at: clock::rfc3339(started_ms),
            ended_at: clock::rfc3339(started_ms),
            steps: Vec::new(),
            gates: Vec::new(),
            backup: None,
            rollback: None,
        }
    }
}

/// The logs that go beside the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProofLogs {
    /// The gates' runs, with their evidence, as an operator reads them.
    pub healthcheck: String,
    /// The module install/upgrade run's output; empty when modules were not touched.
    pub module_install: String,
}

/// Write the proof of a deploy that started at `started_ms` under `root` (`proofs/`):
/// `root/deploy-<UTC time>/`, with `-2`, `-3`... when two deploys started in one second.
/// Returns the directory.
pub fn write(
    root: &Path,
    started_ms: i64,
    status: &DeployStatus,
    logs: &ProofLogs,
) -> Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .wrap_err_with(|| format!("could not create {}", root.display()))?;
    let dir = new_dir(root, &format!("deploy-{}", clock::compact(started_ms)))?;
    let mut value = serde_json::to_value(status)?;
    crate::redact::json(&mut value);
    let mut json = serde_json::to_vec_pretty(&value)?;
    json.push(b'\n');
    private_file(&dir.join("deploy_status.json"), &json)?;
    private_file(
        &dir.join("healthcheck.log"),
        crate::redact::text(&logs.healthcheck).as_bytes(),
    )?;
    let modules = if logs.module_install.is_empty() {
        "no module was installed or upgraded by this deploy\n".to_string()
    } else {
        crate::redact::text(&logs.module_install)
    };
    private_file(&dir.join("module_install.log"), modules.as_bytes())?;
    Ok(dir)
}

fn new_dir(root: &Path, name: &str) -> Result<PathBuf> {
    for n in 1..100 {
        let dir = if n == 1 {
            root.join(name)
        } else {
            root.join(format!("{name}-{n}"))
        };
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).wrap_err_with(|| format!("could not create {}", dir.display()));
            }
        }
    }
    bail!("too many proofs named {name} in {}", root.display())
}

fn private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .wrap_err_with(|| format!("could not create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .wrap_err_with(|| format!("could not write {}", path.display()))
}

/// The commit the stack directory is checked out at, when it is a git checkout with git
/// installed; `None` otherwise (most droplets: the stack is files odoo-ops wrote).
pub async fn git_sha(target: &Target, stack_dir: &Path) -> Option<String> {
    let out = target
        .run(
            &Command::new("git")
                .arg("-C")
                .arg(stack_dir.to_string_lossy())
                .args(["rev-parse", "--verify", "-q", "HEAD"]),
        )
        .await
        .ok()?;
    let sha = out.stdout_text().trim().to_string();
    let is_sha = (sha.len() == 40 || sha.len() == 64) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    (out.success() && is_sha).then_some(sha)
}
