//! A whole deploy or rollback, step by step: lock → journal → preflight → switch (the
//! candidate judged by the verify gates on its own ports) → verify through the edge →
//! release recorded and proof written; a failure after the switch switches back with
//! the switch's record (automatic rollback) and verifies that too.
//!
//! Engine code: nothing printed; steps are reported through `on_step` as they happen,
//! and the result says what happened for the caller to show.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use color_eyre::eyre::Result;
use futures::future::BoxFuture;

use super::journal::{DeployJournal, Header, Outcome, StepResult};
use super::lock::{self, LockError, LockOptions, LockRequest, Operation};
use super::proof::{
    self, DeployStatus, GateRecord, GateVerdict, ProofLogs, RollbackProof, StepProof,
};
use super::releases::{self, Release};
use super::switch::{Candidate, ReadyGate, SwitchFailed, SwitchRecord, SwitchRequest, switch};
use super::{Image, StackState, clock};
use crate::checks::gather::OdooLocation;
use crate::target::{Command, Target};
use crate::verify::{EdgeSelector, GateStatus, Overall, PortOverride, VerifyOptions, VerifyReport};
use crate::workflow::StateDirs;

/// Below this much free space on the stack's filesystem a deploy does not start: a new
/// container, its logs and the safe change's backups need room.
pub const MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;
/// How long the gates may wait for a new container (or the edge) to become ready.
pub const DEFAULT_VERIFY_WAIT: Duration = Duration::from_secs(90);
/// How long a new release must keep serving after it passed its gates through nginx
/// before the deploy passes: a release killed or crashing seconds after its start would
/// otherwise pass between its start and its death.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);

/// What to run.
pub struct DeployRequest {
    pub operation: Operation,
    pub stack_dir: PathBuf,
    /// The switch to make (tag, project, nginx, slots...).
    pub switch: SwitchRequest,
    /// The gates' options as configured; discovery, ports and edge are set per run.
    pub verify: VerifyOptions,
    pub lock: LockOptions,
    /// Where proofs are written (`proofs/`).
    pub proofs_root: PathBuf,
    /// Modules to install or upgrade: the deploy takes a maintenance window instead of
    /// the zero-downtime switch ([`super::module_window`]).
    pub modules: Option<super::module_window::ModuleWindow>,
    /// After the gates through nginx passed, wait this long and run them once more, the
    /// new container's restarts counted from its creation ([`DEFAULT_SETTLE`]).
    pub settle: Duration,
}

/// How it ended, as exit codes say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The new release serves and passed every gate.
    Passed,
    /// It did not: nothing changed, or the previous release was brought back.
    Failed,
    /// It could not be checked (or not started): the lock held, the host unreachable.
    CouldNotCheck,
}

pub struct DeployResult {
    pub verdict: Verdict,
    pub status: DeployStatus,
    pub proof_dir: Option<PathBuf>,
    /// One sentence for the operator.
    pub message: String,
}

/// What runs now, read before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub container: String,
    /// `repo:tag`.
    pub image: String,
    pub tag: String,
    pub image_id: String,
}

/// The service's running container and its image (the preview's "from").
pub async fn current(target: &Target, project: &str, service: &str) -> Result<Current> {
    let out = target
        .run(&Command::new("docker").args([
            "ps".to_string(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
            "--filter".into(),
            format!("label=com.docker.compose.service={service}"),
            "--format".into(),
            "{{.Names}}".into(),
        ]))
        .await?;
    let names: Vec<String> = out.stdout_text().lines().map(str::to_string).collect();
    let [container] = names.as_slice() else {
        color_eyre::eyre::bail!(
            "expected one running container of service {service} in compose project {project}, found {}: {}",
            names.len(),
            out.stderr_text().trim()
        );
    };
    let out = target
        .run(&Command::new("docker").args([
            "inspect",
            "-f",
            "{{.Config.Image}} {{.Image}}",
            container.as_str(),
        ]))
        .await?;
    let text = out.stdout_text();
    let mut words = text.split_whitespace();
    let (Some(image), Some(image_id)) = (words.next(), words.next()) else {
        color_eyre::eyre::bail!("docker inspect {container}: {}", out.stderr_text().trim());
    };
    Ok(Current {
        container: container.clone(),
        image: image.to_string(),
        tag: super::switch_clone::image_tag(image).to_string(),
        image_id: image_id.to_string(),
    })
}

/// Run the deploy (or rollback) under the stack's lock.
pub async fn run(
    target: &Target,
    request: &DeployRequest,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> DeployResult {
    let started_ms = clock::now_ms();
    let deploy_id = super::new_deploy_id();
    let to = Image::tag(&request.switch.tag);
    let mut status = DeployStatus::new(
        &deploy_id,
        request.operation,
        &target.describe(),
        &request.stack_dir,
        None,
        to.clone(),
        started_ms,
    );
    let could_not = |status: DeployStatus, message: String| DeployResult {
        verdict: Verdict::CouldNotCheck,
        status,
        proof_dir: None,
        message,
    };
    let (state, dirs) = match StateDirs::locate(target).await {
        Ok(dirs) => (StackState::in_dirs(&dirs, &request.stack_dir), dirs),
        Err(e) => return could_not(status, format!("could not find the state directory: {e:#}")),
    };
    let lock_request = LockRequest {
        operation: request.operation,
        deploy_id: deploy_id.clone(),
    };
    let held = match lock::acquire(target, &state, &lock_request, &request.lock).await {
        Ok(l) => l,
        Err(e @ LockError::Held { .. }) => {
            // A refusal is kept too: CI shows who held the stack.
            let message = format!("refused: the stack is {e}");
            return super::resume::refused(status, started_ms, &request.proofs_root, message);
        }
        Err(e) => return could_not(status, e.to_string()),
    };
    on_step(&format!("lock taken ({})", state.lock_file().display()));
    let work = async {
        let mut run = Run {
            target,
            request,
            dirs: &dirs,
            journal: None,
            logs: ProofLogs::default(),
            on_step,
            begun: None,
        };
        let (verdict, message) = run.steps(&state, &deploy_id, &mut status).await;
        if let Some(j) = run.journal.take() {
            let outcome = status.outcome;
            if let Err(e) = j.finish(outcome).await {
                run.logs.healthcheck += &format!("the journal could not be finished: {e:#}\n");
            }
        }
        status.ended_at = clock::rfc3339(clock::now_ms());
        status.git_sha = proof::git_sha(target, &request.stack_dir).await;
        let proof_dir = proof::write(&request.proofs_root, started_ms, &status, &run.logs);
        let (proof_dir, message) = match proof_dir {
            Ok(d) => (Some(d), message),
            Err(e) => (
                None,
                format!("{message}; the proof could not be written: {e:#}"),
            ),
        };
        DeployResult {
            verdict,
            status: status.clone(),
            proof_dir,
            message,
        }
    };
    match lock::run_locked(held, work).await {
        Ok(Some(r)) => r,
        Ok(None) => could_not(
            status,
            "interrupted; the lock was released, the journal shows how far it went".into(),
        ),
        Err(e) => could_not(status, format!("the lock could not be released: {e:#}")),
    }
}

pub(super) struct Run<'a> {
    pub(super) target: &'a Target,
    pub(super) request: &'a DeployRequest,
    pub(super) dirs: &'a StateDirs,
    pub(super) journal: Option<DeployJournal>,
    pub(super) logs: ProofLogs,
    pub(super) on_step: &'a mut (dyn FnMut(&str) + Send),
    /// The step whose start is in the journal and whose end is not yet.
    pub(super) begun: Option<String>,
}

impl Run<'_> {
    /// Record that a step starts, before it touches anything: a console killed during
    /// it leaves the journal saying so (and, `changes_host`, that there may be something
    /// to roll back).
    async fn begin(&mut self, name: &str, changes_host: bool) {
        if let Some(j) = &self.journal {
            let _ = j.step_started(name, changes_host).await;
        }
        self.begun = Some(name.to_string());
    }

    /// Record one step in the journal and the proof.
    async fn step(
        &mut self,
        status: &mut DeployStatus,
        name: &str,
        started_ms: i64,
        result: StepResult,
        detail: &str,
    ) {
        (self.on_step)(&format!("{name}: {detail}"));
        if let Some(j) = &self.journal {
            // The journal is for the next start to find an interrupted deploy; failing to
            // write it does not make the step fail.
            if self.begun.as_deref() != Some(name) {
                let _ = j.step_started(name, false).await;
            }
            let _ = j.step_ended(name, result, detail).await;
        }
        self.begun = None;
        super::test_pause::after_step(name).await;
        status.steps.push(StepProof::new(
            name,
            started_ms,
            clock::now_ms(),
            result,
            detail,
        ));
    }

    async fn steps(
        &mut self,
        state: &StackState,
        deploy_id: &str,
        status: &mut DeployStatus,
    ) -> (Verdict, String) {
        let (target, request) = (self.target, self.request);
        let sw = &request.switch;
        // Preflight: nothing is touched.
        let t = clock::now_ms();
        let current = match current(target, &sw.project, &sw.service).await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("{e:#}");
                self.step(status, "preflight", t, StepResult::Failed, &msg)
                    .await;
                return (Verdict::CouldNotCheck, msg);
            }
        };
        let from = Image::tag(&current.tag).with_digest(&current.image_id);
        status.from = Some(from.clone());
        match DeployJournal::begin(
            target,
            state,
            Header {
                deploy_id: deploy_id.to_string(),
                operation: request.operation,
                from: Some(from),
                to: status.to.clone(),
                by: super::console_user(),
            },
        )
        .await
        {
            Ok(j) => self.journal = Some(j),
            Err(e) => {
                let msg = format!("the journal could not be started: {e:#}");
                self.step(status, "preflight", t, StepResult::Failed, &msg)
                    .await;
                return (Verdict::CouldNotCheck, msg);
            }
        }
        if let Err(why) = preflight(target, request, &current).await {
            self.step(status, "preflight", t, StepResult::Failed, &why)
                .await;
            return (Verdict::Failed, format!("refused before any change: {why}"));
        }
        let new_image = format!(
            "{}:{}",
            super::switch_clone::image_repository(&current.image),
            sw.tag
        );
        if let Some(id) = image_id(target, &new_image).await {
            status.to = Image::tag(&sw.tag).with_digest(id);
        }
        self.step(
            status,
            "preflight",
            t,
            StepResult::Passed,
            &format!(
                "{} ({}) runs; {new_image} is present",
                current.container, current.tag
            ),
        )
        .await;
        if let Some(window) = &request.modules {
            return self
                .module_window(window, state, deploy_id, &current, status)
                .await;
        }

        // Switch, the candidate judged by the gates on its own ports.
        let gate = VerifyGate::new(&request.verify);
        let t = clock::now_ms();
        self.begin("switch", true).await;
        let record = match self.switch(sw, &gate).await {
            Ok(r) => r,
            Err(e) => {
                let msg = match e.downcast_ref::<SwitchFailed>() {
                    Some(f) => format!("{:?}: {f}", f.stage),
                    None => format!("{e:#}"),
                };
                self.gates_into(status, &gate.reports());
                self.step(status, "switch", t, StepResult::Failed, &msg)
                    .await;
                self.verify_still_served(&current, &msg, status).await;
                return (
                    Verdict::Failed,
                    format!("nothing was switched, {} still serves: {msg}", current.tag),
                );
            }
        };
        self.gates_into(status, &gate.reports());
        self.step(
            status,
            "switch",
            t,
            StepResult::Passed,
            &format!(
                "{} now serves on {}/{} ({})",
                record.to.image, record.to.ports.http, record.to.ports.gevent, record.drain
            ),
        )
        .await;

        // Verify through the edge.
        let t = clock::now_ms();
        self.begin("verify", false).await;
        let mut report = verify_served(target, &request.verify, &record).await;
        self.log_report("after the switch, through the edge", &report);
        status.gates.extend(gate_records(&report));
        if report.status == Overall::Passed
            && let Some(settled) =
                verify_settled(target, &request.verify, &record.to.name, request.settle).await
        {
            self.log_report("after settling, through the edge", &settled);
            status.gates.extend(gate_records(&settled));
            report = settled;
        }
        if report.status == Overall::Passed {
            self.step(
                status,
                "verify",
                t,
                StepResult::Passed,
                "every hard gate passed",
            )
            .await;
            status.outcome = Outcome::Passed;
            self.record_baseline(state, deploy_id, status).await;
            self.record_release(state, deploy_id, status, Outcome::Passed)
                .await;
            return (
                Verdict::Passed,
                format!("{} serves and passed every gate", sw.tag),
            );
        }
        let why = failed_gates(&report);
        self.step(status, "verify", t, StepResult::Failed, &why)
            .await;

        // Automatic rollback: the same switch back to what ran before.
        let back = record.rollback(sw);
        let to = Image::tag(&record.from.tag).with_digest(&record.from.image_id);
        let ctx = super::switch_back::Ctx {
            target,
            dirs: self.dirs,
            verify: &request.verify,
            journal: self.journal.as_ref(),
            logs: &mut self.logs,
            on_step: &mut *self.on_step,
        };
        let back = super::switch_back::switch_back(ctx, &back, to, &why).await;
        let detail = back.detail;
        (self.on_step)(&format!("rollback: {detail}"));
        status.outcome = back.outcome;
        status.rollback = Some(back.rollback);
        self.record_release(state, deploy_id, status, status.outcome)
            .await;
        let message = if status.outcome == Outcome::RolledBack {
            format!(
                "{} failed its gates ({why}); rolled back to {}",
                sw.tag, record.from.tag
            )
        } else {
            format!(
                "{} failed its gates ({why}) and the rollback failed too: {detail}",
                sw.tag
            )
        };
        (Verdict::Failed, message)
    }

    /// A candidate the switch refused was removed and the release before never stopped
    /// serving: its gates through the edge say it still does (the automatic rollback of a
    /// zero-downtime deploy is that nothing moved).
    async fn verify_still_served(
        &mut self,
        current: &Current,
        why: &str,
        status: &mut DeployStatus,
    ) {
        let t = clock::now_ms();
        let report = verify_edge_of(self.target, &self.request.verify, &current.container).await;
        self.log_report(
            "after the refused switch, the running release through the edge",
            &report,
        );
        let ok = report.status == Overall::Passed;
        let detail = if ok {
            format!("{} serves and passed every hard gate", current.tag)
        } else {
            failed_gates(&report)
        };
        (self.on_step)(&format!("rollback: {detail}"));
        let result = if ok {
            StepResult::Passed
        } else {
            StepResult::Failed
        };
        status.rollback = Some(RollbackProof {
            to: Image::tag(&current.tag).with_digest(&current.image_id),
            reason: why.to_string(),
            result: result.into(),
            steps: vec![StepProof::new(
                "verify",
                t,
                clock::now_ms(),
                result,
                &detail,
            )],
            gates: gate_records(&report),
        });
        if ok {
            status.outcome = Outcome::RolledBack;
        }
    }

    async fn switch(&mut self, request: &SwitchRequest, gate: &VerifyGate) -> Result<SwitchRecord> {
        let on_step = &mut *self.on_step;
        let mut report = |s: &str| {
            on_step(&format!("switch: {s}"));
            super::test_pause::during_switch(s);
        };
        switch(self.target, self.dirs, request, Some(gate), &mut report).await
    }

    fn gates_into(&mut self, status: &mut DeployStatus, reports: &[VerifyReport]) {
        for r in reports {
            self.log_report("the new container on its own ports, before the switch", r);
        }
        status.gates.extend(gate_records_all(reports));
    }

    fn log_report(&mut self, when: &str, report: &VerifyReport) {
        self.logs.healthcheck += &format!("== gates {when} ==\n");
        self.logs.healthcheck += &report_text(report);
    }

    /// The first deploy odoo-ops makes on a stack records what ran before it too, so
    /// `rollback` has a release to go back to.
    pub(super) async fn record_baseline(
        &mut self,
        state: &StackState,
        deploy_id: &str,
        status: &DeployStatus,
    ) {
        let Some(from) = &status.from else { return };
        match releases::list(self.target, state).await {
            Ok(list) if list.is_empty() => {}
            _ => return,
        }
        let release = Release {
            tag: from.tag.clone(),
            digest: from.digest.clone(),
            deployed_ms: clock::now_ms(),
            by: "found running before the first deploy".into(),
            outcome: Outcome::Passed,
            deploy_id: deploy_id.to_string(),
        };
        if let Err(e) = releases::record(self.target, state, &release).await {
            (self.on_step)(&format!(
                "the previous release could not be recorded: {e:#}"
            ));
        }
    }

    pub(super) async fn record_release(
        &mut self,
        state: &StackState,
        deploy_id: &str,
        status: &DeployStatus,
        outcome: Outcome,
    ) {
        let release = Release {
            tag: status.to.tag.clone(),
            digest: status.to.digest.clone(),
            deployed_ms: clock::now_ms(),
            by: super::console_user(),
            outcome,
            deploy_id: deploy_id.to_string(),
        };
        if let Err(e) = releases::record(self.target, state, &release).await {
            (self.on_step)(&format!("the release could not be recorded: {e:#}"));
        }
    }
}

/// What the switch does not look at itself: the stack's `.env` and compose file exist,
/// and there is room for a new container.
async fn preflight(
    target: &Target,
    request: &DeployRequest,
    current: &Current,
) -> Result<(), String> {
    if current.tag == request.switch.tag && request.operation == Operation::Deploy {
        return Err(format!("{} already runs", current.tag));
    }
    for f in [&request.switch.env_file, &request.switch.compose_file] {
        if target.read_file(f).await.is_err() {
            return Err(format!("{} could not be read", f.display()));
        }
    }
    let out = target
        .run(&Command::new("df").args([
            "-Pk".to_string(),
            request.stack_dir.to_string_lossy().into_owned(),
        ]))
        .await
        .map_err(|e| format!("df: {e:#}"))?;
    let free_kb = out
        .stdout_text()
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .and_then(|v| v.parse::<u64>().ok());
    match free_kb {
        Some(kb) if kb * 1024 < MIN_FREE_BYTES => Err(format!(
            "only {} MiB free on {}'s filesystem (at least {} MiB needed)",
            kb / 1024,
            request.stack_dir.display(),
            MIN_FREE_BYTES / 1024 / 1024
        )),
        Some(_) => Ok(()),
        None => Err(format!(
            "free space on {} could not be read",
            request.stack_dir.display()
        )),
    }
}

async fn image_id(target: &Target, image: &str) -> Option<String> {
    let out = target
        .run(&Command::new("docker").args(["image", "inspect", "-f", "{{.Id}}", image]))
        .await
        .ok()?;
    out.success().then(|| out.stdout_text().trim().to_string())
}

/// The verify gates against a candidate container on its own ports, before nginx points
/// at it; every report kept for the proof.
pub(crate) struct VerifyGate {
    options: VerifyOptions,
    reports: Mutex<Vec<VerifyReport>>,
}

impl VerifyGate {
    pub(crate) fn new(options: &VerifyOptions) -> VerifyGate {
        VerifyGate {
            options: options.clone(),
            reports: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn reports(&self) -> Vec<VerifyReport> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl ReadyGate for VerifyGate {
    fn check<'a>(
        &'a self,
        target: &'a Target,
        candidate: &'a Candidate,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut options = self.options.clone();
            options.discovery.odoo = OdooLocation::Container(candidate.name.clone());
            options.ports = PortOverride {
                http: Some(candidate.ports.http),
                gevent: Some(candidate.ports.gevent),
            };
            options.edge = EdgeSelector::Skip;
            options.wait = options.wait.or(Some(DEFAULT_VERIFY_WAIT));
            // Just created: a restart is a crash.
            options.restart_baseline = Some(0);
            let report = crate::verify::run(target, &options).await;
            let verdict = match report.status {
                Overall::Passed => Ok(()),
                _ => Err(failed_gates(&report)),
            };
            if let Ok(mut r) = self.reports.lock() {
                r.push(report);
            }
            verdict
        })
    }
}

/// The gates against the container that serves now, through nginx.
async fn verify_served(
    target: &Target,
    base: &VerifyOptions,
    record: &SwitchRecord,
) -> VerifyReport {
    verify_edge_of(target, base, &record.to.name).await
}

/// The gates through nginx once more after `settle` (`None` when it is zero), one round,
/// `container`'s restarts counted from its creation: a release killed or crashing seconds
/// after its start (and brought back by its restart policy) is caught here.
pub(super) async fn verify_settled(
    target: &Target,
    base: &VerifyOptions,
    container: &str,
    settle: Duration,
) -> Option<VerifyReport> {
    if settle.is_zero() {
        return None;
    }
    tokio::time::sleep(settle).await;
    let mut options = base.clone();
    options.discovery.odoo = OdooLocation::Container(container.to_string());
    options.ports = PortOverride::default();
    options.edge = EdgeSelector::FromNginx;
    options.wait = None;
    options.restart_baseline = Some(0);
    Some(crate::verify::run(target, &options).await)
}

/// The gates against `container` through nginx.
pub(crate) async fn verify_edge_of(
    target: &Target,
    base: &VerifyOptions,
    container: &str,
) -> VerifyReport {
    let mut options = base.clone();
    options.discovery.odoo = OdooLocation::Container(container.to_string());
    options.ports = PortOverride::default();
    options.edge = EdgeSelector::FromNginx;
    options.wait = options.wait.or(Some(DEFAULT_VERIFY_WAIT));
    crate::verify::run(target, &options).await
}

/// A report as the healthcheck log keeps it: every gate with its evidence.
pub(crate) fn report_text(report: &VerifyReport) -> String {
    let mut out = format!(
        "{:?} in {} ms, {} round(s)\n",
        report.status, report.elapsed_ms, report.rounds
    );
    for g in &report.gates {
        out += &format!(
            "[{}] {} ({}): {}\n",
            g.status.label(),
            g.id,
            g.title,
            g.summary
        );
        for line in &g.evidence {
            out += &format!("    | {line}\n");
        }
    }
    out + "\n"
}

/// The hard gates that did not pass, one phrase each.
pub(crate) fn failed_gates(report: &VerifyReport) -> String {
    let failed: Vec<String> = report
        .gates
        .iter()
        .filter(|g| g.hard && matches!(g.status, GateStatus::Fail | GateStatus::CouldNotCheck))
        .map(|g| format!("{}: {}", g.id, g.summary))
        .collect();
    if failed.is_empty() {
        format!("{:?}", report.status)
    } else {
        failed.join("; ")
    }
}

pub(crate) fn gate_records_all(reports: &[VerifyReport]) -> Vec<GateRecord> {
    reports.iter().flat_map(gate_records).collect()
}

pub(crate) fn gate_records(report: &VerifyReport) -> Vec<GateRecord> {
    report
        .gates
        .iter()
        .map(|g| GateRecord {
            name: g.id.clone(),
            hard: g.hard,
            verdict: match g.status {
                GateStatus::Pass => GateVerdict::Pass,
                GateStatus::Warn => GateVerdict::Warn,
                GateStatus::Fail => GateVerdict::Fail,
                GateStatus::CouldNotCheck => GateVerdict::Error,
            },
            summary: g.summary.clone(),
            evidence: g.evidence.clone(),
            duration_ms: g.elapsed_ms,
        })
        .collect()
}

/// The release a rollback goes back to: the newest passed one that is not `current`.
pub fn previous_release<'a>(list: &'a [Release], current: &str) -> Option<&'a Release> {
    list.iter()
        .find(|r| r.outcome == Outcome::Passed && r.tag != current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(tag: &str, outcome: Outcome) -> Release {
        Release {
            tag: tag.into(),
            digest: None,
            deployed_ms: 0,
            by: "ci".into(),
            outcome,
            deploy_id: format!("id-{tag}"),
        }
    }

    #[test]
    fn a_rollback_goes_to_the_newest_passed_release_that_does_not_run_now() {
        // Newest first, as the releases file is listed.
        let list = [
            release("c", Outcome::RolledBack),
            release("b", Outcome::Passed),
            release("a", Outcome::Passed),
        ];
        assert_eq!(previous_release(&list, "b").unwrap().tag, "a");
        assert_eq!(previous_release(&list, "c").unwrap().tag, "b");
        assert!(previous_release(&list[..2], "b").is_none());
    }
}
