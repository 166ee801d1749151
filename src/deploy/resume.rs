//! A deploy interrupted by a killed console or a dropped connection, picked up again
//! (`odoo-ops deploy --resume`, and the Deploy pane's offer on start): its journal says how
//! far it got, the host says what runs, and the operator chooses.
//!
//! - Nothing switched yet (stopped before or during the switch, the old release still
//!   behind nginx): roll back means nothing is left to undo (a new container the switch
//!   had started beside the old one is removed) and the deploy is closed as abandoned;
//!   continue means the same deploy again, as a new run with its own lock and journal.
//! - Switched (the new release behind nginx, not yet verified or recorded): roll back is
//!   the switch back to the release before, gated and verified; continue verifies what
//!   runs through nginx and records the release, or rolls back when a gate fails.
//!
//! Either way the interrupted journal is finished, the lock its dead holder left is taken
//! over only when the caller says so (the operator confirmed), and a proof is written.
//!
//! Engine code: nothing printed; steps go through `on_step`.

use std::path::Path;

use serde::Serialize;

use super::journal::{DeployJournal, Outcome, StepResult, UnfinishedDeploy};
use super::lock::{self, LockError, LockRequest};
use super::module_window::ModuleWindow;
use super::orchestrate::{
    self, DeployRequest, DeployResult, Verdict, failed_gates, gate_records, report_text,
    verify_edge_of,
};
use super::proof::{self, DeployStatus, ProofLogs, StepProof, StepVerdict};
use super::releases::{self, Release};
use super::resume_window::{in_window, window_done};
use super::switch_clone::image_tag;
use super::switch_edits::TAG_VAR;
use super::{Image, StackState, clock};
use crate::target::{Command, Target};
use crate::verify::Overall;
use crate::workflow::StateDirs;

/// What the operator chose for an interrupted deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Back to the release that ran before (nothing to do when nothing was switched).
    RollBack,
    /// Carry on to the release it was deploying.
    Continue,
}

impl Choice {
    pub fn word(self) -> &'static str {
        match self {
            Choice::RollBack => "rollback",
            Choice::Continue => "continue",
        }
    }
}

/// Each choice for `deploy`, with what it would do, the suggested one first.
pub fn choices(deploy: &UnfinishedDeploy) -> Vec<(Choice, String)> {
    if in_window(deploy) {
        return super::resume_window::choices(deploy);
    }
    if window_done(deploy) {
        return vec![
            (
                Choice::Continue,
                format!(
                    "verify {} through nginx and record it (its module window had passed)",
                    deploy.to.tag
                ),
            ),
            (
                Choice::RollBack,
                "refused: the database is the upgraded one; restore this deploy's backup first"
                    .to_string(),
            ),
        ];
    }
    let from = deploy.from.as_ref().map_or("?", |f| f.tag.as_str());
    let to = deploy.to.tag.as_str();
    let roll_back = (
        Choice::RollBack,
        if touched(deploy) {
            format!("bring {from} back (switched back if {to} serves), verify, close the deploy")
        } else {
            format!("nothing was switched: close the deploy as abandoned, {from} keeps serving")
        },
    );
    let go_on = (
        Choice::Continue,
        if touched(deploy) {
            format!(
                "verify {to} through nginx and record it (deployed again if it never served; rolled back if a gate fails)"
            )
        } else {
            format!("deploy {to} again from the start")
        },
    );
    if touched(deploy) {
        vec![roll_back, go_on]
    } else {
        vec![go_on, roll_back]
    }
}

/// A step that may have changed the host started.
fn touched(deploy: &UnfinishedDeploy) -> bool {
    deploy.steps.iter().any(|s| s.changes_host)
}

/// The result of a run that did not start because the lock was held, with its proof.
pub(crate) fn refused(
    mut status: DeployStatus,
    started_ms: i64,
    proofs_root: &Path,
    message: String,
) -> DeployResult {
    let now = clock::now_ms();
    status.outcome = Outcome::Refused;
    status.steps.push(StepProof::new(
        "lock",
        now,
        now,
        StepResult::Failed,
        &message,
    ));
    status.ended_at = clock::rfc3339(now);
    let logs = ProofLogs {
        healthcheck: format!("not started: {message}\n"),
        module_install: String::new(),
    };
    let (proof_dir, message) = match proof::write(proofs_root, started_ms, &status, &logs) {
        Ok(d) => (Some(d), message),
        Err(e) => (
            None,
            format!("{message}; the proof could not be written: {e:#}"),
        ),
    };
    DeployResult {
        verdict: Verdict::CouldNotCheck,
        status,
        proof_dir,
        message,
    }
}

/// Resume `deploy` (found by [`super::journal::unfinished`]) as `choice` says. The
/// request's switch gives the stack's parts; its tag is the journal's.
pub async fn run(
    target: &Target,
    request: &DeployRequest,
    deploy: &UnfinishedDeploy,
    choice: Choice,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> DeployResult {
    let started_ms = clock::now_ms();
    let mut status = DeployStatus::new(
        &deploy.deploy_id,
        deploy.operation,
        &target.describe(),
        &request.stack_dir,
        deploy.from.clone(),
        deploy.to.clone(),
        deploy.started_ms,
    );
    status.steps = deploy.steps.iter().map(StepProof::from_record).collect();
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
        operation: deploy.operation,
        deploy_id: deploy.deploy_id.clone(),
    };
    let held = match lock::acquire(target, &state, &lock_request, &request.lock).await {
        Ok(l) => l,
        Err(e @ LockError::Held { .. }) => {
            let message = format!("refused: the stack is {e}");
            return refused(status, started_ms, &request.proofs_root, message);
        }
        Err(e) => return could_not(status, e.to_string()),
    };
    on_step(&format!("lock taken ({})", state.lock_file().display()));
    let work = async {
        let mut run = Resume {
            target,
            request,
            dirs: &dirs,
            state: &state,
            deploy,
            journal: DeployJournal::reopen(target, &state, &deploy.deploy_id),
            logs: ProofLogs::default(),
            on_step: &mut *on_step,
        };
        let (verdict, message, redeploy) = run.steps(choice, &mut status).await;
        if let Err(e) = run.journal.clone().finish(status.outcome).await {
            run.logs.healthcheck += &format!("the journal could not be finished: {e:#}\n");
        }
        status.ended_at = clock::rfc3339(clock::now_ms());
        status.git_sha = proof::git_sha(target, &request.stack_dir).await;
        let (proof_dir, message) =
            match proof::write(&request.proofs_root, started_ms, &status, &run.logs) {
                Ok(d) => (Some(d), message),
                Err(e) => (
                    None,
                    format!("{message}; the proof could not be written: {e:#}"),
                ),
            };
        let result = DeployResult {
            verdict,
            status: status.clone(),
            proof_dir,
            message,
        };
        (result, redeploy)
    };
    let (closed, redeploy) = match lock::run_locked(held, work).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return could_not(
                status,
                "interrupted; the lock was released, the journal shows how far it went".into(),
            );
        }
        Err(e) => return could_not(status, format!("the lock could not be released: {e:#}")),
    };
    if !redeploy {
        return closed;
    }
    // Continue before anything was switched: the same deploy, from the start, as a run of
    // its own (its lock, journal and proof); the interrupted one was closed above.
    let mut again = DeployRequest {
        operation: deploy.operation,
        stack_dir: request.stack_dir.clone(),
        switch: request.switch.clone(),
        verify: request.verify.clone(),
        lock: request.lock.clone(),
        proofs_root: request.proofs_root.clone(),
        // A module window runs its recorded plan again, on the data its rollback restored.
        modules: deploy.window.as_ref().map(|w| ModuleWindow {
            plan: w.plan.clone(),
            upgrade_installed: false,
            database: Some(w.database.clone()),
            backup_dir: w.backup.parent().map(Path::to_path_buf).unwrap_or_default(),
            keep: None,
        }),
        settle: request.settle,
    };
    again.switch.tag = deploy.to.tag.clone();
    let mut result = orchestrate::run(target, &again, on_step).await;
    let closed_as = if in_window(deploy) {
        "rolled back from its module window"
    } else {
        "closed as abandoned"
    };
    result.message = format!(
        "{} {closed_as} and deployed again: {}",
        deploy.deploy_id, result.message
    );
    result
}

pub(super) struct Resume<'a> {
    pub(super) target: &'a Target,
    pub(super) request: &'a DeployRequest,
    pub(super) dirs: &'a StateDirs,
    pub(super) state: &'a StackState,
    pub(super) deploy: &'a UnfinishedDeploy,
    pub(super) journal: DeployJournal,
    pub(super) logs: ProofLogs,
    pub(super) on_step: &'a mut (dyn FnMut(&str) + Send),
}

impl Resume<'_> {
    /// One step of the resume, in the journal (after the interrupted ones) and the proof.
    pub(super) async fn step(
        &mut self,
        status: &mut DeployStatus,
        name: &str,
        started_ms: i64,
        result: StepResult,
        detail: &str,
    ) {
        (self.on_step)(&format!("{name}: {detail}"));
        let _ = self.journal.step_ended(name, result, detail).await;
        status.steps.push(StepProof::new(
            name,
            started_ms,
            clock::now_ms(),
            result,
            detail,
        ));
    }

    /// Returns the verdict, the sentence for the operator, and whether the deploy is to
    /// be run again from the start (continue, nothing switched).
    async fn steps(
        &mut self,
        choice: Choice,
        status: &mut DeployStatus,
    ) -> (Verdict, String, bool) {
        let (target, request, deploy) = (self.target, self.request, self.deploy);
        let sw = &request.switch;
        let t = clock::now_ms();
        let _ = self.journal.step_started("resume", true).await;
        let Some(from) = deploy.from.clone() else {
            let msg = "the journal does not say what ran before; nothing was done".to_string();
            self.step(status, "resume", t, StepResult::Failed, &msg)
                .await;
            return (Verdict::CouldNotCheck, msg, false);
        };
        let to = &deploy.to;
        if let Some(window) = deploy.window.as_ref().filter(|_| in_window(deploy)) {
            return self.resume_window(choice, status, &from, window).await;
        }
        if window_done(deploy) && choice == Choice::RollBack {
            let backup = deploy
                .window
                .as_ref()
                .map(|w| w.backup.display().to_string())
                .unwrap_or_default();
            let msg = format!(
                "{to} had passed its gates through nginx and the module window was cleaning up: the database is the upgraded one, which {} cannot be put back on by a switch. Nothing was done; `--resume continue` records {to}, or restore {backup} with `odoo-ops restore` and then `odoo-ops rollback`",
                from.tag,
                to = to.tag
            );
            self.step(status, "resume", t, StepResult::Failed, &msg)
                .await;
            return (Verdict::Failed, msg, false);
        }
        // A switch cut short leaves two containers; put the host back to one first.
        match settle(target, &sw.project, &sw.service, &sw.env_file).await {
            Ok(done) => {
                for d in done {
                    (self.on_step)(&format!("resume: {d}"));
                    self.logs.healthcheck += &format!("resume: {d}\n");
                }
            }
            Err(e) => {
                self.step(status, "resume", t, StepResult::Failed, &e).await;
                return (Verdict::CouldNotCheck, e, false);
            }
        }
        let current = match orchestrate::current(target, &sw.project, &sw.service).await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("{e:#}");
                self.step(status, "resume", t, StepResult::Failed, &msg)
                    .await;
                return (Verdict::CouldNotCheck, msg, false);
            }
        };
        let switched = current.tag == to.tag && to.tag != from.tag;
        let serving = format!("{} ({}) serves", current.container, current.tag);
        match (choice, switched) {
            // A module deploy stopped before its window was recorded (during its backup):
            // deployed again without its modules it would run new code on an old schema.
            (Choice::Continue, false)
                if deploy.window.is_none() && deploy.steps.iter().any(|s| s.step == "backup") =>
            {
                let msg = format!(
                    "{serving}; the deploy stopped before its module plan was journaled (during its backup): nothing was done; deploy {} again with its --modules",
                    to.tag
                );
                self.step(status, "resume", t, StepResult::Failed, &msg)
                    .await;
                (Verdict::Failed, msg, false)
            }
            (Choice::Continue, false) => {
                let msg = format!(
                    "{serving}; nothing was switched: {} is deployed again as a new run",
                    to.tag
                );
                self.step(status, "resume", t, StepResult::Passed, &msg)
                    .await;
                status.outcome = Outcome::Abandoned;
                (Verdict::Failed, msg, true)
            }
            (Choice::Continue, true) => {
                self.step(
                    status,
                    "resume",
                    t,
                    StepResult::Passed,
                    &format!("{serving}; verifying it"),
                )
                .await;
                let t = clock::now_ms();
                let report = verify_edge_of(target, &request.verify, &current.container).await;
                self.logs.healthcheck += "== gates through the edge, resuming ==\n";
                self.logs.healthcheck += &report_text(&report);
                status.gates.extend(gate_records(&report));
                if report.status == Overall::Passed {
                    self.step(
                        status,
                        "verify",
                        t,
                        StepResult::Passed,
                        "every hard gate passed",
                    )
                    .await;
                    status.to = Image::tag(&to.tag).with_digest(&current.image_id);
                    status.outcome = Outcome::Passed;
                    self.record_baseline(&from).await;
                    self.record_release(status, Outcome::Passed).await;
                    return (
                        Verdict::Passed,
                        format!("{} serves and passed every gate (resumed)", to.tag),
                        false,
                    );
                }
                let why = failed_gates(&report);
                self.step(status, "verify", t, StepResult::Failed, &why)
                    .await;
                self.switch_back(status, &from, &why).await;
                (
                    Verdict::Failed,
                    self.rolled_back_message(status, &from, &why),
                    false,
                )
            }
            (Choice::RollBack, true) => {
                let why = "the operator chose to roll back the interrupted deploy".to_string();
                self.step(
                    status,
                    "resume",
                    t,
                    StepResult::Passed,
                    &format!("{serving}; switching back to {}", from.tag),
                )
                .await;
                self.switch_back(status, &from, &why).await;
                let verdict = if status.outcome == Outcome::RolledBack {
                    Verdict::Passed
                } else {
                    Verdict::Failed
                };
                (
                    verdict,
                    self.rolled_back_message(status, &from, &why),
                    false,
                )
            }
            (Choice::RollBack, false) => {
                self.step(
                    status,
                    "resume",
                    t,
                    StepResult::Passed,
                    &format!("{serving}; nothing to switch back"),
                )
                .await;
                let t = clock::now_ms();
                let report = verify_edge_of(target, &request.verify, &current.container).await;
                self.logs.healthcheck += "== gates through the edge, what serves ==\n";
                self.logs.healthcheck += &report_text(&report);
                status.gates.extend(gate_records(&report));
                let ok = report.status == Overall::Passed;
                let detail = if ok {
                    "every hard gate passed".to_string()
                } else {
                    failed_gates(&report)
                };
                let result = if ok {
                    StepResult::Passed
                } else {
                    StepResult::Failed
                };
                self.step(status, "verify", t, result, &detail).await;
                // A switch that started (and was undone above) counts as rolled back.
                status.outcome = match (ok, touched(deploy)) {
                    (true, true) => Outcome::RolledBack,
                    (true, false) => Outcome::Abandoned,
                    (false, _) => Outcome::Failed,
                };
                if touched(deploy) {
                    self.record_release(status, status.outcome).await;
                }
                if ok {
                    (
                        Verdict::Passed,
                        format!(
                            "{} closed; {} serves and passed every gate",
                            deploy.deploy_id, current.tag
                        ),
                        false,
                    )
                } else {
                    (
                        Verdict::Failed,
                        format!(
                            "{} closed, but {} fails its gates: {detail}",
                            deploy.deploy_id, current.tag
                        ),
                        false,
                    )
                }
            }
        }
    }

    fn rolled_back_message(&self, status: &DeployStatus, from: &Image, why: &str) -> String {
        let detail = status
            .rollback
            .as_ref()
            .and_then(|r| {
                r.steps
                    .iter()
                    .rev()
                    .find(|s| s.result != StepVerdict::Passed)
            })
            .map(|s| s.detail.clone())
            .unwrap_or_default();
        if status.outcome == Outcome::RolledBack {
            format!(
                "{} ({why}); rolled back to {}",
                self.deploy.to.tag, from.tag
            )
        } else {
            format!(
                "{} ({why}): the rollback to {} failed too: {detail}; everything is left in place",
                self.deploy.to.tag, from.tag
            )
        }
    }

    /// The switch back to `from`, verified; the rollback in the proof, the release recorded.
    async fn switch_back(&mut self, status: &mut DeployStatus, from: &Image, why: &str) {
        let mut back = self.request.switch.clone();
        back.tag = from.tag.clone();
        back.expect_image_id = from.digest.clone();
        let ctx = super::switch_back::Ctx {
            target: self.target,
            dirs: self.dirs,
            verify: &self.request.verify,
            journal: Some(&self.journal),
            logs: &mut self.logs,
            on_step: &mut *self.on_step,
        };
        let back = super::switch_back::switch_back(ctx, &back, from.clone(), why).await;
        status.outcome = back.outcome;
        status.rollback = Some(back.rollback);
        self.record_release(status, status.outcome).await;
    }

    /// What ran before the first deploy odoo-ops made is a release too (rollback's way back).
    async fn record_baseline(&mut self, from: &Image) {
        if !matches!(releases::list(self.target, self.state).await, Ok(l) if l.is_empty()) {
            return;
        }
        let release = Release {
            tag: from.tag.clone(),
            digest: from.digest.clone(),
            deployed_ms: clock::now_ms(),
            by: "found running before the first deploy".into(),
            outcome: Outcome::Passed,
            deploy_id: self.deploy.deploy_id.clone(),
        };
        if let Err(e) = releases::record(self.target, self.state, &release).await {
            (self.on_step)(&format!(
                "the previous release could not be recorded: {e:#}"
            ));
        }
    }

    pub(super) async fn record_release(&mut self, status: &DeployStatus, outcome: Outcome) {
        let release = Release {
            tag: status.to.tag.clone(),
            digest: status.to.digest.clone(),
            deployed_ms: clock::now_ms(),
            by: self.deploy.by.clone(),
            outcome,
            deploy_id: self.deploy.deploy_id.clone(),
        };
        if let Err(e) = releases::record(self.target, self.state, &release).await {
            (self.on_step)(&format!("the release could not be recorded: {e:#}"));
        }
    }
}

/// One container of the service, as `docker ps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    id: String,
    name: String,
    tag: String,
}

/// A switch killed half way (a deploy's, or a rollback's switch back) leaves two
/// containers of the service side by side, one named `NAME-next`. Which one nginx reaches is
/// the one whose tag `.env` names (the switch changes nginx's upstream and `.env`'s tag in
/// one safe change): the other one goes. Returns what was done; an empty list when the
/// service has one container.
async fn settle(
    target: &Target,
    project: &str,
    service: &str,
    env_file: &Path,
) -> Result<Vec<String>, String> {
    let list = service_containers(target, project, service).await?;
    if list.len() < 2 {
        return Ok(Vec::new());
    }
    let env = target
        .read_file(env_file)
        .await
        .map_err(|e| format!("could not read {}: {e:#}", env_file.display()))?;
    let env_tag = env_value(&String::from_utf8_lossy(&env), TAG_VAR);
    // By tag, not by name: the `-next` container is the new release in a deploy's switch
    // and the release before in a rollback's switch back.
    let (keep, gone): (Vec<&Listed>, Vec<&Listed>) = list
        .iter()
        .partition(|c| env_tag.as_deref() == Some(c.tag.as_str()));
    let [keep] = keep.as_slice() else {
        return Err(format!(
            "service {service} has {} containers ({}) and .env names {}: not one interrupted switch; resolve it by hand",
            list.len(),
            list.iter()
                .map(|c| format!("{} {}", c.name, c.tag))
                .collect::<Vec<_>>()
                .join(", "),
            env_tag.as_deref().unwrap_or("no tag")
        ));
    };
    let mut done = Vec::new();
    for c in &gone {
        // The stop grace lets the requests it still answers end (nginx no longer sends any).
        let out = target
            .run(&Command::new("docker").args(["stop", "-t", "30", c.id.as_str()]))
            .await
            .map_err(|e| format!("docker stop {}: {e:#}", c.name))?;
        let out2 = target
            .run(&Command::new("docker").args(["rm", "-f", c.id.as_str()]))
            .await
            .map_err(|e| format!("docker rm {}: {e:#}", c.name))?;
        if !out2.success() {
            return Err(format!(
                "could not remove {}: {} {}",
                c.name,
                out.stderr_text().trim(),
                out2.stderr_text().trim()
            ));
        }
        done.push(format!(
            "removed {} ({}), left by the interrupted switch; nginx reaches {} ({})",
            c.name, c.tag, keep.name, keep.tag
        ));
    }
    if let Some(base) = keep.name.strip_suffix("-next") {
        let out = target
            .run(&Command::new("docker").args(["rename", keep.id.as_str(), base]))
            .await
            .map_err(|e| format!("docker rename {}: {e:#}", keep.name))?;
        if out.success() {
            done.push(format!("renamed {} to {base}", keep.name));
        } else {
            done.push(format!(
                "could not rename {} to {base}: {}",
                keep.name,
                out.stderr_text().trim()
            ));
        }
    }
    Ok(done)
}

async fn service_containers(
    target: &Target,
    project: &str,
    service: &str,
) -> Result<Vec<Listed>, String> {
    let out = target
        .run(&Command::new("docker").args([
            "ps".to_string(),
            "-a".into(),
            "--no-trunc".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
            "--filter".into(),
            format!("label=com.docker.compose.service={service}"),
            "--format".into(),
            "{{.ID}} {{.Names}} {{.Image}} {{.Label \"com.docker.compose.oneoff\"}}".into(),
        ]))
        .await
        .map_err(|e| format!("docker ps: {e:#}"))?;
    if !out.success() {
        return Err(format!("docker ps: {}", out.stderr_text().trim()));
    }
    Ok(parse_listed(&out.stdout_text()))
}

/// `docker ps` lines, compose's one-off containers (`docker compose run`) left out.
fn parse_listed(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (id, name, image) = (w.next()?, w.next()?, w.next()?);
            if w.next().is_some_and(|o| o.eq_ignore_ascii_case("true")) {
                return None;
            }
            Some(Listed {
                id: id.to_string(),
                name: name.to_string(),
                tag: image_tag(image).to_string(),
            })
        })
        .collect()
}

/// `KEY=value` in an env file (the last one wins, as compose reads it).
fn env_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .next_back()
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::journal::replay;

    #[test]
    fn the_settle_reads_the_tag_and_the_containers_as_docker_and_compose_write_them() {
        let env = "ODOO_IMAGE=x\nODOO_TAG=18.0-1\n# ODOO_TAG=no\nODOO_TAG=\"18.0-2\"\n";
        assert_eq!(env_value(env, "ODOO_TAG").as_deref(), Some("18.0-2"));
        assert_eq!(env_value("A=1\n", "ODOO_TAG"), None);
        let ps = "abc shop-odoo-1 odoo-standin:18.0-1 False\n\
                  def shop-odoo-1-next odoo-standin:18.0-2 \n\
                  ghi shop-odoo-run-1 odoo-standin:18.0-2 True\n";
        let list = parse_listed(ps);
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[1].name, "shop-odoo-1-next");
        assert_eq!(list[1].tag, "18.0-2");
    }

    #[test]
    fn the_suggested_choice_follows_whether_the_host_was_touched() {
        let begin = r#"{"deploy_id":"d","at_ms":1,"event":"begin","operation":"deploy","from":{"tag":"a"},"to":{"tag":"b"},"by":"me"}"#;
        let pre = r#"{"deploy_id":"d","at_ms":2,"event":"step_started","step":"preflight","changes_host":false}"#;
        let sw = r#"{"deploy_id":"d","at_ms":3,"event":"step_started","step":"switch","changes_host":true}"#;
        let d = replay(&format!("{begin}\n{pre}\n")).unwrap();
        let c = choices(&d);
        assert_eq!(c[0].0, Choice::Continue);
        assert!(c[1].1.contains("abandoned"), "{c:?}");
        let d = replay(&format!("{begin}\n{pre}\n{sw}\n")).unwrap();
        let c = choices(&d);
        assert_eq!(c[0].0, Choice::RollBack);
        assert!(c[0].1.contains("bring a back"), "{c:?}");
    }
}
