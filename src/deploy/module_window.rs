//! A deploy that installs or upgrades modules: old and new code must not share a database
//! mid-upgrade, so instead of the zero-downtime switch it takes a maintenance window.
//!
//! backup (Odoo's zip, read back, its checksums in the proof) → maintenance page on
//! ([`super::maintenance`]: 503 with `Retry-After`, never a 502) → the old container
//! stopped (kept) → the plan run in one-off containers of the NEW image
//! (`--stop-after-init`, live log, `module_install.log`), judged as real Odoo 18 requires
//! ([`crate::odoo::modules::outcome`]) → the new release started on the same ports → its
//! gates on those ports → page off with `.env` moved to the new tag in the same safe
//! change → gates through nginx → the old container removed, its name given to the new.
//!
//! Any failure after the page went up rolls back: page on again (and `.env` back), the new
//! container removed, the database and filestore restored from this deploy's backup
//! ([`crate::backup::restore`]: loaded beside, checked, then swapped; the replaced
//! database is kept, never dropped), the old container started, its gates, page off,
//! gates through nginx. A rollback that cannot finish leaves everything in place (the
//! page up rather than a 502) and says so.
//!
//! Every step is journaled before it starts, so an interrupted window is found and offered
//! for rollback on the next start. Engine code: nothing printed.

use std::path::PathBuf;

use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use color_eyre::eyre::{Result, eyre};

use super::journal::{Outcome, StepResult, WindowRecord};
use super::maintenance::{self, Maintenance};
use super::orchestrate::{Current, Run, Verdict, failed_gates, gate_records};
use super::proof::{BackupProof, Checksum, DeployStatus, RollbackProof, StepProof, StepVerdict};
use super::switch_clone::{CloneTarget, PortPair, clone_spec, image_repository, published_ports};
use super::switch_edits::{IMAGE_VAR, TAG_VAR, set_env_vars};
use super::switch_ready::{last_log_lines, wait_healthy};
use super::{Image, StackState, clock};
use crate::backup::{self, BackupOptions, RestoreOptions};
use crate::checks::gather::OdooLocation;
use crate::odoo::modules::access::{DbAccess, ModulesOptions};
use crate::odoo::modules::oneoff;
use crate::odoo::modules::plan::Plan;
use crate::target::Target;
use crate::verify::{EdgeSelector, Overall, PortOverride, VerifyOptions, VerifyReport};
use crate::workflow::{Expect, FileEdit, sha256_hex};

/// What a module deploy needs beyond a plain one.
#[derive(Debug, Clone)]
pub struct ModuleWindow {
    pub plan: Plan,
    /// A name the plan installs that is installed already is upgraded instead (`--modules
    /// a,b`: what the operator means; Odoo's `-i` would leave it as it is).
    pub upgrade_installed: bool,
    /// The Odoo database (default: odoo.conf's `db_name`, else the only one there is).
    pub database: Option<String>,
    /// Where this deploy's backup is written (where the console runs).
    pub backup_dir: PathBuf,
    /// Backups of the database kept there; `None` keeps all.
    pub keep: Option<usize>,
}

/// The stack as the window found it before touching anything.
struct Found {
    access: DbAccess,
    /// Odoo's Docker engine (a deploy's Odoo always runs in a container).
    docker: bollard::Docker,
    /// The database's compose container, which the backup dumps.
    db_container: String,
    /// The plan as it runs (installed names moved to upgrades when asked).
    plan: Plan,
    old: bollard::models::ContainerInspectResponse,
    old_image: Option<bollard::models::ImageConfig>,
    ports: PortPair,
    new_image: String,
    new_image_id: String,
    env_before: String,
}

/// Where a rollback starts from.
pub(super) struct Left {
    /// This deploy's backup, what a rollback restores.
    pub(super) backup: PathBuf,
    pub(super) maintenance: Option<Maintenance>,
    /// The new container, when one was created.
    pub(super) new_container: Option<String>,
    /// `.env` was moved to the new tag.
    pub(super) env_moved: bool,
}

/// What a rollback puts back, besides what [`Left`] says was changed.
pub(super) struct Undo {
    pub(super) docker: bollard::Docker,
    /// The backup's view of the stack (the db container, the old Odoo container's data_dir).
    pub(super) stack: backup::Stack,
    pub(super) database: String,
    /// The ports the old release publishes.
    pub(super) ports: PortPair,
    /// `.env` as it was before the window.
    pub(super) env_before: String,
    /// The upgrade started, so the database and filestore may have changed: restore them.
    pub(super) restore: bool,
}

impl Found {
    fn undo(&self, current: &Current) -> Undo {
        Undo {
            docker: self.docker.clone(),
            stack: backup_stack(self, current),
            database: self.access.database.clone(),
            ports: self.ports,
            env_before: self.env_before.clone(),
            restore: true,
        }
    }
}

impl Run<'_> {
    /// Journal `name` as started (before anything is touched for it).
    async fn window_step_started(&mut self, name: &str, changes_host: bool) -> i64 {
        (self.on_step)(&format!("{name}…"));
        if let Some(j) = &self.journal {
            let _ = j.step_started(name, changes_host).await;
        }
        clock::now_ms()
    }

    /// Journal how `name` ended and keep it for the proof (`into`: the deploy's steps or
    /// the rollback's).
    async fn window_step_ended(
        &mut self,
        into: &mut Vec<StepProof>,
        name: &str,
        started_ms: i64,
        result: StepResult,
        detail: &str,
    ) {
        (self.on_step)(&format!("{name}: {detail}"));
        if let Some(j) = &self.journal {
            let _ = j.step_ended(name, result, detail).await;
        }
        super::test_pause::after_step(name).await;
        into.push(StepProof::new(
            name,
            started_ms,
            clock::now_ms(),
            result,
            detail,
        ));
    }

    /// The deploy after its preflight, when modules are installed or upgraded.
    pub(super) async fn module_window(
        &mut self,
        window: &ModuleWindow,
        state: &StackState,
        deploy_id: &str,
        current: &Current,
        status: &mut DeployStatus,
    ) -> (Verdict, String) {
        let request = self.request;
        let sw = &request.switch;
        let mut steps = std::mem::take(&mut status.steps);
        let result = self.window_steps(window, current, status, &mut steps).await;
        status.steps = steps;
        match result {
            Ok(()) => {
                status.outcome = Outcome::Passed;
                self.record_baseline(state, deploy_id, status).await;
                self.record_release(state, deploy_id, status, Outcome::Passed)
                    .await;
                (
                    Verdict::Passed,
                    format!(
                        "{} serves with its modules {} and passed every gate",
                        sw.tag,
                        describe_plan(&window.plan)
                    ),
                )
            }
            Err(WindowFailed::Before(why)) => {
                (Verdict::Failed, format!("refused before any change: {why}"))
            }
            Err(WindowFailed::After { why, left }) => {
                let (left, found) = *left;
                let undo = found.undo(current);
                let rolled = self
                    .window_rollback(current, &undo, left, &why, status)
                    .await;
                self.record_release(state, deploy_id, status, status.outcome)
                    .await;
                match rolled {
                    Ok(()) => (
                        Verdict::Failed,
                        format!(
                            "{} failed ({why}); the database and filestore were restored from this deploy's backup and {} serves again",
                            sw.tag, current.tag
                        ),
                    ),
                    Err(e) => (
                        Verdict::Failed,
                        format!(
                            "{} failed ({why}) and the ROLLBACK FAILED TOO: {e:#}. Everything was left in place for you (the maintenance page stays up; backup: {})",
                            sw.tag,
                            status
                                .backup
                                .as_ref()
                                .map(|b| b.location.clone())
                                .unwrap_or_else(|| "none".into())
                        ),
                    ),
                }
            }
        }
    }

    async fn window_steps(
        &mut self,
        window: &ModuleWindow,
        current: &Current,
        status: &mut DeployStatus,
        steps: &mut Vec<StepProof>,
    ) -> Result<(), WindowFailed> {
        let (target, request) = (self.target, self.request);
        let sw = &request.switch;

        // Backup: nothing is touched before it is written and read back.
        let t = self.window_step_started("backup", false).await;
        let found = match self.find(window, current).await {
            Ok(f) => f,
            Err(e) => {
                let why = format!("{e:#}");
                self.window_step_ended(steps, "backup", t, StepResult::Failed, &why)
                    .await;
                return Err(WindowFailed::Before(why));
            }
        };
        let made = make_backup(window, &found, current).await;
        let (backup_path, proof) = match made {
            Ok(b) => b,
            Err(e) => {
                let why = format!("the backup failed: {e:#}");
                self.window_step_ended(steps, "backup", t, StepResult::Failed, &why)
                    .await;
                return Err(WindowFailed::Before(why));
            }
        };
        let detail = format!(
            "{} written and read back ({})",
            backup_path.display(),
            proof
                .files
                .iter()
                .map(|f| format!("{} sha256 {}", f.name, f.sha256))
                .collect::<Vec<_>>()
                .join(", ")
        );
        status.backup = Some(proof);
        // Before anything changes: what a resumed rollback of this window needs.
        if let Some(j) = &self.journal {
            let stack = backup_stack(&found, current);
            let record = WindowRecord {
                backup: backup_path.clone(),
                database: found.access.database.clone(),
                db_container: stack.db_container,
                db_user: stack.db_user,
                data_dir: stack.data_dir,
                old_container: current.container.clone(),
                ports: found.ports,
                plan: found.plan.clone(),
            };
            if let Err(e) = j.window(&record).await {
                let why = format!("the journal could not record the window: {e:#}");
                self.window_step_ended(steps, "backup", t, StepResult::Failed, &why)
                    .await;
                return Err(WindowFailed::Before(why));
            }
        }
        self.window_step_ended(steps, "backup", t, StepResult::Passed, &detail)
            .await;

        // The maintenance page instead of Odoo.
        let t = self.window_step_started("maintenance on", true).await;
        let m = maintenance::on(
            target,
            self.dirs,
            &sw.nginx,
            sw.domain.as_deref(),
            Vec::new(),
            sw.drain_timeout,
        )
        .await;
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                let why = format!("the maintenance page could not be put up: {e:#}");
                self.window_step_ended(steps, "maintenance on", t, StepResult::Failed, &why)
                    .await;
                return Err(WindowFailed::Before(why));
            }
        };
        let detail = format!(
            "nginx answers 503 with Retry-After: {} ({}); {}",
            m.retry_after,
            m.file.display(),
            m.drained
        );
        self.window_step_ended(steps, "maintenance on", t, StepResult::Passed, &detail)
            .await;
        let mut left = Left {
            backup: backup_path,
            maintenance: Some(m),
            new_container: None,
            env_moved: false,
        };
        let fail = |why: String, left: Left, found: Found| WindowFailed::After {
            why,
            left: Box::new((left, found)),
        };

        // The old container stops (kept for a rollback).
        let t = self.window_step_started("stop", true).await;
        let docker = found.docker.clone();
        let grace = sw
            .stop_grace
            .or_else(|| {
                found
                    .old
                    .config
                    .as_ref()
                    .and_then(|c| c.stop_timeout)
                    .and_then(|t| u64::try_from(t).ok())
                    .map(std::time::Duration::from_secs)
            })
            .unwrap_or(super::switch::ODOO_STOP_GRACE);
        let stop = StopContainerOptionsBuilder::default()
            .t(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
            .build();
        if let Err(e) = docker.stop_container(&current.container, Some(stop)).await {
            let why = format!("could not stop {}: {e}", current.container);
            self.window_step_ended(steps, "stop", t, StepResult::Failed, &why)
                .await;
            return Err(fail(why, left, found));
        }
        let detail = format!(
            "{} stopped (SIGTERM, up to {} s); kept for a rollback",
            current.container,
            grace.as_secs()
        );
        self.window_step_ended(steps, "stop", t, StepResult::Passed, &detail)
            .await;

        // The upgrade, in one-off containers of the new image.
        let t = self.window_step_started("upgrade", true).await;
        let mut log: Vec<u8> = Vec::new();
        let ran = {
            let on_step = &mut *self.on_step;
            let mut on_line = |l: &str| {
                on_step(&format!("upgrade | {l}"));
                super::test_pause::during_upgrade(l);
            };
            oneoff::run_plan_with(
                &found.access,
                &found.plan,
                Some(&found.new_image),
                &mut log,
                &mut on_line,
            )
            .await
        };
        self.logs.module_install = String::from_utf8_lossy(&log).into_owned();
        let run = match ran {
            Ok(run) => run,
            Err(e) => {
                let why = format!("the module run could not be made: {e:#}");
                self.logs.module_install += &format!("== {why}\n");
                self.window_step_ended(steps, "upgrade", t, StepResult::Failed, &why)
                    .await;
                return Err(fail(why, left, found));
            }
        };
        if !run.ok {
            let failed = run.phases.last();
            let mut why = format!(
                "the module run failed in {}",
                failed
                    .map(|p| p.phase.describe())
                    .unwrap_or_else(|| "its first phase".into())
            );
            if let Some(p) = failed {
                why += &format!(": {}", p.outcome.failures.join("; "));
                if let Some(cause) = &p.outcome.cause {
                    why += &format!(" (cause: {cause})");
                }
            }
            self.window_step_ended(steps, "upgrade", t, StepResult::Failed, &why)
                .await;
            return Err(fail(why, left, found));
        }
        let detail = format!(
            "{} in {} phase(s) with {}: every module settled",
            describe_plan(&found.plan),
            run.phases.len(),
            found.new_image
        );
        self.window_step_ended(steps, "upgrade", t, StepResult::Passed, &detail)
            .await;

        // The new release on the same ports.
        let t = self.window_step_started("start", true).await;
        let started = self.start_new(&found, current).await;
        match started {
            Ok(name) => {
                let detail = format!(
                    "{name} ({}) answers its health on 127.0.0.1:{}",
                    found.new_image, found.ports
                );
                left.new_container = Some(name);
                self.window_step_ended(steps, "start", t, StepResult::Passed, &detail)
                    .await;
            }
            Err((name, why)) => {
                left.new_container = name;
                self.window_step_ended(steps, "start", t, StepResult::Failed, &why)
                    .await;
                return Err(fail(why, left, found));
            }
        }
        let new_name = left.new_container.clone().unwrap_or_default();

        // Its gates on its own ports (the edge serves the page).
        let t = self.window_step_started("gates", false).await;
        let report =
            verify_own_ports(self.target, &self.request.verify, &new_name, found.ports).await;
        self.log_window_report("the new release on its own ports, in the window", &report);
        status.gates.extend(gate_records(&report));
        if report.status != Overall::Passed {
            let why = failed_gates(&report);
            self.window_step_ended(steps, "gates", t, StepResult::Failed, &why)
                .await;
            return Err(fail(why, left, found));
        }
        self.window_step_ended(
            steps,
            "gates",
            t,
            StepResult::Passed,
            "every hard gate passed",
        )
        .await;

        // The page off, `.env` on the new tag, in one safe change.
        let t = self.window_step_started("maintenance off", true).await;
        let env_after = set_env_vars(
            &found.env_before,
            &[
                (IMAGE_VAR, image_repository(&current.image).to_string()),
                (TAG_VAR, sw.tag.clone()),
            ],
        );
        let env_edit = FileEdit {
            path: sw.env_file.clone(),
            expect: Expect::Sha256(vec![sha256_hex(found.env_before.as_bytes())]),
            contents: env_after.into_bytes(),
            mode: None,
        };
        let m = left.maintenance.clone().expect("the page is up");
        if let Err(e) = maintenance::off(target, self.dirs, &m, vec![env_edit]).await {
            let why = format!("the maintenance page could not be taken down: {e:#}");
            self.window_step_ended(steps, "maintenance off", t, StepResult::Failed, &why)
                .await;
            return Err(fail(why, left, found));
        }
        left.env_moved = true;
        let detail = format!(
            "nginx serves Odoo again; {} names {}",
            sw.env_file.display(),
            sw.tag
        );
        self.window_step_ended(steps, "maintenance off", t, StepResult::Passed, &detail)
            .await;

        // Through the edge.
        let t = self.window_step_started("verify", false).await;
        let mut report =
            super::orchestrate::verify_edge_of(self.target, &self.request.verify, &new_name).await;
        self.log_window_report("after the window, through the edge", &report);
        status.gates.extend(gate_records(&report));
        if report.status == Overall::Passed
            && let Some(settled) = super::orchestrate::verify_settled(
                target,
                &request.verify,
                &new_name,
                request.settle,
            )
            .await
        {
            self.log_window_report("after settling, through the edge", &settled);
            status.gates.extend(gate_records(&settled));
            report = settled;
        }
        if report.status != Overall::Passed {
            let why = failed_gates(&report);
            self.window_step_ended(steps, "verify", t, StepResult::Failed, &why)
                .await;
            return Err(fail(why, left, found));
        }
        self.window_step_ended(
            steps,
            "verify",
            t,
            StepResult::Passed,
            "every hard gate passed",
        )
        .await;

        // The old container goes; the new one takes its name.
        let t = self.window_step_started("cleanup", false).await;
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        let mut notes = Vec::new();
        match docker
            .remove_container(&current.container, Some(remove))
            .await
        {
            Ok(()) => {
                let rename = RenameContainerOptionsBuilder::default()
                    .name(&current.container)
                    .build();
                match docker.rename_container(&new_name, rename).await {
                    Ok(()) => notes.push(format!(
                        "removed {0}; {new_name} renamed {0}",
                        current.container
                    )),
                    Err(e) => notes.push(format!("WARNING could not rename {new_name}: {e}")),
                }
            }
            Err(e) => notes.push(format!(
                "WARNING could not remove {}: {e}",
                current.container
            )),
        }
        self.window_step_ended(steps, "cleanup", t, StepResult::Passed, &notes.join("; "))
            .await;
        Ok(())
    }

    /// Everything read before anything changes.
    async fn find(&mut self, window: &ModuleWindow, current: &Current) -> Result<Found> {
        let (target, request) = (self.target, self.request);
        let sw = &request.switch;
        let access = DbAccess::find(
            target,
            &ModulesOptions {
                compose_project: Some(sw.project.clone()),
                odoo_container: Some(current.container.clone()),
                database: window.database.clone(),
                ..Default::default()
            },
        )
        .await?;
        let mut plan = window.plan.clone();
        if window.upgrade_installed {
            let inventory = access.inventory().await?;
            for phase in &mut plan.phases {
                let (installed, new): (Vec<String>, Vec<String>) = phase
                    .install
                    .drain(..)
                    .partition(|n| inventory.get(n).is_some_and(|m| m.state == "installed"));
                phase.install = new;
                phase.upgrade.extend(installed);
            }
        }
        let docker = access.container()?.docker.clone();
        let db_container = access.db_container()?.to_string();
        let old = docker.inspect_container(&current.container, None).await?;
        let old_image = docker
            .inspect_image(&current.image_id)
            .await
            .ok()
            .and_then(|i| i.config);
        let published = published_ports(old.host_config.as_ref());
        let (ports, _) = sw.slots.current_and_next(&published).ok_or_else(|| {
            eyre!(
                "{} publishes {published:?}, neither slot {} nor {} alone",
                current.container,
                sw.slots.blue,
                sw.slots.green
            )
        })?;
        let new_image = format!("{}:{}", image_repository(&current.image), sw.tag);
        let new_image_id = docker
            .inspect_image(&new_image)
            .await
            .map_err(|e| eyre!("the image {new_image} is not on the host (pull it first): {e}"))?
            .id
            .unwrap_or_default();
        let env_before = String::from_utf8(target.read_file(&sw.env_file).await?)
            .map_err(|_| eyre!("{} is not text", sw.env_file.display()))?;
        Ok(Found {
            access,
            docker,
            db_container,
            plan,
            old,
            old_image,
            ports,
            new_image,
            new_image_id,
            env_before,
        })
    }

    /// Create and start the new release as a clone of the old container (same ports: the
    /// old one is stopped), and wait for its health. `Err`: the container's name when it
    /// was created, and why.
    async fn start_new(
        &mut self,
        found: &Found,
        current: &Current,
    ) -> Result<String, (Option<String>, String)> {
        let docker = &found.docker;
        let request = self.request;
        let sw = &request.switch;
        let spec = clone_spec(
            &found.old,
            found.old_image.as_ref(),
            &CloneTarget {
                image: &found.new_image,
                image_id: &found.new_image_id,
                from: found.ports,
                to: found.ports,
            },
        )
        .map_err(|e| (None, e))?;
        let name = format!("{}-next", current.container);
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                spec,
            )
            .await
            .map_err(|e| (None, format!("could not create {name}: {e}")))?;
        if let Err(e) = docker.start_container(&created.id, None).await {
            return Err((Some(name.clone()), format!("could not start {name}: {e}")));
        }
        if let Err(why) = wait_healthy(
            self.target,
            docker,
            &created.id,
            found.ports,
            sw.ready_timeout,
        )
        .await
        {
            let tail = last_log_lines(docker, &created.id).await;
            return Err((
                Some(name.clone()),
                format!(
                    "{name} ({}) did not become healthy: {why}\nits last log lines:\n{}",
                    found.new_image,
                    tail.join("\n")
                ),
            ));
        }
        Ok(name)
    }

    fn log_window_report(&mut self, when: &str, report: &VerifyReport) {
        self.logs.healthcheck += &format!("== gates {when} ==\n");
        self.logs.healthcheck += &super::orchestrate::report_text(report);
    }

    /// Back to what ran before the window: the page up, the new container gone, the data
    /// restored from this deploy's backup, the old container started and verified.
    pub(super) async fn window_rollback(
        &mut self,
        current: &Current,
        undo: &Undo,
        left: Left,
        why: &str,
        status: &mut DeployStatus,
    ) -> Result<()> {
        let failed_at = clock::now_ms();
        let mut rb = RollbackProof {
            to: Image::tag(&current.tag).with_digest(&current.image_id),
            reason: why.to_string(),
            result: StepVerdict::Failed,
            steps: Vec::new(),
            gates: Vec::new(),
        };
        let result = self.rollback_steps(current, undo, left, &mut rb).await;
        if result.is_ok() {
            rb.result = StepVerdict::Passed;
            status.outcome = Outcome::RolledBack;
            (self.on_step)(&format!(
                "rollback: {} serves again, {} ms after the failure",
                current.tag,
                clock::now_ms() - failed_at
            ));
        } else {
            status.outcome = Outcome::Failed;
        }
        status.rollback = Some(rb);
        result
    }

    async fn rollback_steps(
        &mut self,
        current: &Current,
        undo: &Undo,
        left: Left,
        rb: &mut RollbackProof,
    ) -> Result<()> {
        let (target, request) = (self.target, self.request);
        let sw = &request.switch;
        let docker = undo.docker.clone();

        // The page up again (`.env` back with it when it had moved).
        let t = self
            .window_step_started("rollback: maintenance on", true)
            .await;
        let mut extra = Vec::new();
        if left.env_moved {
            let now = target.read_file(&sw.env_file).await?;
            extra.push(FileEdit {
                path: sw.env_file.clone(),
                expect: Expect::Sha256(vec![sha256_hex(&now)]),
                contents: undo.env_before.clone().into_bytes(),
                mode: None,
            });
        }
        let on = maintenance::on(
            target,
            self.dirs,
            &sw.nginx,
            sw.domain.as_deref(),
            extra,
            sw.drain_timeout,
        )
        .await;
        let m = match on {
            Ok(m) => m,
            Err(e) => {
                let why = format!("{e:#}");
                self.window_step_ended(
                    &mut rb.steps,
                    "rollback: maintenance on",
                    t,
                    StepResult::Failed,
                    &why,
                )
                .await;
                return Err(eyre!("the maintenance page could not be put up: {why}"));
            }
        };
        self.window_step_ended(
            &mut rb.steps,
            "rollback: maintenance on",
            t,
            StepResult::Passed,
            "nginx answers 503 with Retry-After",
        )
        .await;

        // The new container goes (its last lines kept for the proof).
        if let Some(name) = &left.new_container {
            let t = self.window_step_started("rollback: remove new", true).await;
            let tail = last_log_lines(&docker, name).await;
            self.logs.healthcheck += &format!(
                "== {name}'s last log lines before it was removed ==\n{}\n\n",
                tail.join("\n")
            );
            let remove = RemoveContainerOptionsBuilder::default().force(true).build();
            match docker.remove_container(name, Some(remove)).await {
                Ok(()) => {
                    self.window_step_ended(
                        &mut rb.steps,
                        "rollback: remove new",
                        t,
                        StepResult::Passed,
                        &format!("{name} removed"),
                    )
                    .await
                }
                Err(e) => {
                    let why = format!("could not remove {name}: {e}");
                    self.window_step_ended(
                        &mut rb.steps,
                        "rollback: remove new",
                        t,
                        StepResult::Failed,
                        &why,
                    )
                    .await;
                    return Err(eyre!(why));
                }
            }
        }

        // The old release is stopped before the data goes back under it (an interrupted
        // rollback may have started it already); the page is up, so no request is lost.
        if undo.restore && running(&docker, &current.container).await {
            let t = self.window_step_started("rollback: stop", true).await;
            let stop = StopContainerOptionsBuilder::default().t(30).build();
            if let Err(e) = docker.stop_container(&current.container, Some(stop)).await {
                let why = format!("could not stop {}: {e}", current.container);
                self.window_step_ended(
                    &mut rb.steps,
                    "rollback: stop",
                    t,
                    StepResult::Failed,
                    &why,
                )
                .await;
                return Err(eyre!(why));
            }
            let detail = format!("{} stopped for the restore", current.container);
            self.window_step_ended(
                &mut rb.steps,
                "rollback: stop",
                t,
                StepResult::Passed,
                &detail,
            )
            .await;
        }

        // The data as it was before the window (unless the upgrade never started: then
        // nothing wrote to it).
        if undo.restore {
            self.restore_backup(undo, &left.backup, rb).await?;
        }

        // The previous release again.
        let t = self.window_step_started("rollback: start", true).await;
        let started = async {
            // Still running when the window was cut short before it stopped the old release.
            if !running(&docker, &current.container).await {
                docker
                    .start_container(&current.container, None)
                    .await
                    .map_err(|e| format!("could not start {}: {e}", current.container))?;
            }
            wait_healthy(
                target,
                &docker,
                &current.container,
                undo.ports,
                sw.ready_timeout,
            )
            .await
        }
        .await;
        if let Err(why) = started {
            self.window_step_ended(
                &mut rb.steps,
                "rollback: start",
                t,
                StepResult::Failed,
                &why,
            )
            .await;
            return Err(eyre!(why));
        }
        self.window_step_ended(
            &mut rb.steps,
            "rollback: start",
            t,
            StepResult::Passed,
            &format!("{} ({}) answers its health", current.container, current.tag),
        )
        .await;

        let t = self.window_step_started("rollback: gates", false).await;
        let report = verify_own_ports(
            self.target,
            &self.request.verify,
            &current.container,
            undo.ports,
        )
        .await;
        self.log_window_report(
            "the previous release on its own ports, after the restore",
            &report,
        );
        rb.gates.extend(gate_records(&report));
        if report.status != Overall::Passed {
            let why = failed_gates(&report);
            self.window_step_ended(
                &mut rb.steps,
                "rollback: gates",
                t,
                StepResult::Failed,
                &why,
            )
            .await;
            return Err(eyre!("the previous release failed its gates: {why}"));
        }
        self.window_step_ended(
            &mut rb.steps,
            "rollback: gates",
            t,
            StepResult::Passed,
            "every hard gate passed",
        )
        .await;

        let t = self
            .window_step_started("rollback: maintenance off", true)
            .await;
        if let Err(e) = maintenance::off(target, self.dirs, &m, Vec::new()).await {
            let why = format!("{e:#}");
            self.window_step_ended(
                &mut rb.steps,
                "rollback: maintenance off",
                t,
                StepResult::Failed,
                &why,
            )
            .await;
            return Err(eyre!("the maintenance page could not be taken down: {why}"));
        }
        self.window_step_ended(
            &mut rb.steps,
            "rollback: maintenance off",
            t,
            StepResult::Passed,
            "nginx serves Odoo again",
        )
        .await;

        let t = self.window_step_started("rollback: verify", false).await;
        let report = super::orchestrate::verify_edge_of(
            self.target,
            &self.request.verify,
            &current.container,
        )
        .await;
        self.log_window_report("after the rollback, through the edge", &report);
        rb.gates.extend(gate_records(&report));
        if report.status != Overall::Passed {
            let why = failed_gates(&report);
            self.window_step_ended(
                &mut rb.steps,
                "rollback: verify",
                t,
                StepResult::Failed,
                &why,
            )
            .await;
            return Err(eyre!(
                "the previous release failed its gates through nginx: {why}"
            ));
        }
        self.window_step_ended(
            &mut rb.steps,
            "rollback: verify",
            t,
            StepResult::Passed,
            "every hard gate passed",
        )
        .await;
        Ok(())
    }

    /// The database and filestore from this deploy's backup.
    async fn restore_backup(
        &mut self,
        undo: &Undo,
        backup_path: &std::path::Path,
        rb: &mut RollbackProof,
    ) -> Result<()> {
        let t = self.window_step_started("rollback: restore", true).await;
        let backup_path = backup_path.to_path_buf();
        let restored = backup::restore(
            &undo.stack,
            &RestoreOptions {
                db: undo.database.clone(),
                backup: backup_path.clone(),
            },
            // The copy is checked by the restore itself (tables, modules as the manifest
            // says); Odoo's gates run once the previous release serves it.
            |_, _| async { Ok(()) },
        )
        .await;
        match restored {
            Ok(r) => {
                let detail = format!(
                    "{} restored from {} ({} modules, {} filestore files) in {:.1} s; the replaced database kept as {}",
                    r.db,
                    backup_path.display(),
                    r.modules,
                    r.filestore_files,
                    r.seconds,
                    r.kept_db.as_deref().unwrap_or("(none)")
                );
                self.window_step_ended(
                    &mut rb.steps,
                    "rollback: restore",
                    t,
                    StepResult::Passed,
                    &detail,
                )
                .await;
            }
            Err(e) => {
                let why = format!("{e:#}");
                self.window_step_ended(
                    &mut rb.steps,
                    "rollback: restore",
                    t,
                    StepResult::Failed,
                    &why,
                )
                .await;
                return Err(eyre!("the restore failed: {why}"));
            }
        }
        Ok(())
    }
}

/// Why the window did not pass.
enum WindowFailed {
    /// Nothing was changed.
    Before(String),
    /// Something was: roll back from `left`.
    After {
        why: String,
        left: Box<(Left, Found)>,
    },
}

/// Whether `container` runs now.
async fn running(docker: &bollard::Docker, container: &str) -> bool {
    docker
        .inspect_container(container, None)
        .await
        .ok()
        .and_then(|i| i.state)
        .and_then(|s| s.running)
        .unwrap_or(false)
}

/// The backup's view of the stack: the db container the modules' access found, and the
/// running Odoo container's data_dir.
fn backup_stack(found: &Found, current: &Current) -> backup::Stack {
    let access = &found.access;
    let data_dir = access
        .conf
        .get("data_dir")
        .filter(|d| !d.is_empty() && *d != "False")
        .unwrap_or("/var/lib/odoo")
        .trim_end_matches('/')
        .to_string();
    backup::Stack {
        docker: found.docker.clone(),
        db_container: found.db_container.clone(),
        odoo_container: current.container.clone(),
        db_user: access.db_user.clone(),
        data_dir,
    }
}

/// The backup, written, read back whole and checked against its checksums file.
async fn make_backup(
    window: &ModuleWindow,
    found: &Found,
    current: &Current,
) -> Result<(PathBuf, BackupProof)> {
    let stack = backup_stack(found, current);
    let report = backup::backup(
        &stack,
        &BackupOptions {
            db: found.access.database.clone(),
            dir: window.backup_dir.clone(),
            keep: window.keep,
        },
    )
    .await?;
    // Read back once more, as a restore would: the zip, its dump and its checksums file.
    let path = report.path.clone();
    tokio::task::spawn_blocking(move || backup::restore::check_backup(&path)).await??;
    let c = &report.checksums;
    let proof = BackupProof {
        location: report.path.display().to_string(),
        files: vec![
            Checksum {
                name: c.file.clone(),
                sha256: c.zip.sha256.clone(),
                bytes: c.zip.size,
            },
            Checksum {
                name: "dump.sql".into(),
                sha256: c.dump_sql.sha256.clone(),
                bytes: c.dump_sql.size,
            },
        ],
    };
    Ok((report.path, proof))
}

/// The gates against `container` on `ports`, the edge left out.
async fn verify_own_ports(
    target: &Target,
    base: &VerifyOptions,
    container: &str,
    ports: PortPair,
) -> VerifyReport {
    let mut options = base.clone();
    options.discovery.odoo = OdooLocation::Container(container.to_string());
    options.ports = PortOverride {
        http: Some(ports.http),
        gevent: Some(ports.gevent),
    };
    options.edge = EdgeSelector::Skip;
    options.wait = options
        .wait
        .or(Some(super::orchestrate::DEFAULT_VERIFY_WAIT));
    crate::verify::run(target, &options).await
}

/// `install project; upgrade base`, phases joined.
pub fn describe_plan(plan: &Plan) -> String {
    plan.phases
        .iter()
        .map(|p| p.describe())
        .collect::<Vec<_>>()
        .join(" then ")
}
