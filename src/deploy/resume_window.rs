//! An interrupted deploy that was inside its module window (the maintenance page up, the
//! old release stopped, the module upgrade run or running in a one-off container of the
//! new image), picked up again.
//!
//! Old and new code must not share the database, and the upgrade may have half-changed
//! it, so both choices start the same way: the window's own rollback
//! ([`super::module_window`]), from what the journal recorded before the page went up
//! ([`WindowRecord`]): a one-off the killed console left running is removed, the page put
//! up (kept if up), the new container removed, the database and filestore restored from
//! THIS deploy's backup (when the upgrade had started), the previous release started,
//! gated, the page taken down, gates through nginx. Roll back ends there; continue then
//! runs the deploy again with the recorded plan, from the data as the backup has it, as a
//! new run.
//!
//! Once the window's cleanup started (the new release verified through nginx, the old
//! container being removed) the data is the upgraded one and the old container may be
//! gone: continue verifies and records the release as for a switched deploy; roll back is
//! refused with the commands that do it.
//!
//! Engine code: nothing printed; steps go through `on_step`.

use super::journal::{Outcome, StepResult, UnfinishedDeploy, WindowRecord};
use super::module_window::{Left, Undo};
use super::orchestrate::{Current, Run, Verdict};
use super::proof::DeployStatus;
use super::resume::{Choice, Resume};
use super::switch_edits::{TAG_VAR, set_env_vars};
use super::{Image, clock};
use crate::target::{Command, Target};

/// The deploy entered a module window that did not finish: its data may be half-upgraded.
pub fn in_window(deploy: &UnfinishedDeploy) -> bool {
    deploy.window.is_some() && deploy.steps.iter().any(|s| s.changes_host) && !window_done(deploy)
}

/// The window's cleanup started: the new release passed its gates through nginx and the
/// old container is (being) removed.
pub fn window_done(deploy: &UnfinishedDeploy) -> bool {
    deploy.window.is_some() && deploy.steps.iter().any(|s| s.step == "cleanup")
}

/// What each choice does for a deploy [`in_window`].
pub fn choices(deploy: &UnfinishedDeploy) -> Vec<(Choice, String)> {
    let from = deploy.from.as_ref().map_or("?", |f| f.tag.as_str());
    let to = deploy.to.tag.as_str();
    let backup = deploy
        .window
        .as_ref()
        .map(|w| w.backup.display().to_string())
        .unwrap_or_default();
    vec![
        (
            Choice::RollBack,
            format!(
                "restore the database and filestore from this deploy's backup ({backup}), bring {from} back, take the maintenance page down, verify"
            ),
        ),
        (
            Choice::Continue,
            format!(
                "the same rollback first, then deploy {to} with its module upgrade again from the backup's data"
            ),
        ),
    ]
}

impl Resume<'_> {
    /// Both choices for a deploy [`in_window`]; the bool asks for the deploy to be run
    /// again (continue, once rolled back).
    pub(super) async fn resume_window(
        &mut self,
        choice: Choice,
        status: &mut DeployStatus,
        from: &Image,
        window: &WindowRecord,
    ) -> (Verdict, String, bool) {
        let t = clock::now_ms();
        let (target, request, deploy) = (self.target, self.request, self.deploy);
        let sw = &request.switch;
        let at = match (deploy.stopped_at(), deploy.steps.last()) {
            (Some(s), _) if s.result.is_none() => format!("during {}", s.step),
            (Some(s), _) => format!("after {} failed", s.step),
            (None, Some(last)) => format!("after {}", last.step),
            (None, None) => "before its first step".into(),
        };
        // The backup is written where the console runs: another machine does not have it.
        if !window.backup.is_file() {
            let msg = format!(
                "the module window was cut short {at}, and this deploy's backup {} is not here (it is kept where the console that ran the deploy runs): nothing was done; run the resume there, or restore that backup with `odoo-ops restore`",
                window.backup.display()
            );
            self.step(status, "resume", t, StepResult::Failed, &msg)
                .await;
            return (Verdict::CouldNotCheck, msg, false);
        }
        let prepared = prepare(target, &sw.project, &sw.service, &sw.env_file, from, window).await;
        let (current, mut undo, left, removed) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.step(status, "resume", t, StepResult::Failed, &e).await;
                return (Verdict::CouldNotCheck, e, false);
            }
        };
        // Before the upgrade nothing wrote to the data.
        undo.restore = deploy.steps.iter().any(|s| s.step == "upgrade");
        for r in &removed {
            self.logs.healthcheck += &format!("resume: {r}\n");
        }
        let mut detail = format!(
            "the module window was cut short {at}; restoring {} from {} and bringing {} back",
            if undo.restore {
                "the database and filestore"
            } else {
                "nothing (the upgrade never started)"
            },
            window.backup.display(),
            from.tag
        );
        if !removed.is_empty() {
            detail += &format!(" ({})", removed.join("; "));
        }
        self.step(status, "resume", t, StepResult::Passed, &detail)
            .await;

        let why = match choice {
            Choice::RollBack => "the operator chose to roll back the interrupted deploy",
            Choice::Continue => "the interrupted module window is rolled back before it runs again",
        };
        let rolled = {
            let mut run = Run {
                target,
                request,
                dirs: self.dirs,
                journal: Some(self.journal.clone()),
                logs: std::mem::take(&mut self.logs),
                on_step: &mut *self.on_step,
                begun: None,
            };
            let rolled = run
                .window_rollback(&current, &undo, left, why, status)
                .await;
            self.logs = run.logs;
            rolled
        };
        self.record_release(status, status.outcome).await;
        match rolled {
            Ok(()) => {
                let back = format!(
                    "{} closed: the database and filestore are as this deploy's backup has them and {} serves again, verified",
                    deploy.deploy_id, from.tag
                );
                match choice {
                    Choice::RollBack => (Verdict::Passed, back, false),
                    Choice::Continue => (Verdict::Failed, back, true),
                }
            }
            Err(e) => {
                status.outcome = Outcome::Failed;
                (
                    Verdict::Failed,
                    format!(
                        "{} was rolled back from its module window and the ROLLBACK FAILED: {e:#}. Everything was left in place for you (the maintenance page stays up; backup: {})",
                        deploy.deploy_id,
                        window.backup.display()
                    ),
                    false,
                )
            }
        }
    }
}

/// The host as the window left it: one-offs a killed console left running removed (they
/// would write to the database under the restore), the old container found, the new one
/// (if created) and `.env`'s move (if made) noted for the rollback. Returns what was
/// removed too.
async fn prepare(
    target: &Target,
    project: &str,
    service: &str,
    env_file: &std::path::Path,
    from: &Image,
    window: &WindowRecord,
) -> Result<(Current, Undo, Left, Vec<String>), String> {
    let removed = remove_oneoffs(target, project, service).await?;
    let docker = target
        .docker()
        .await
        .map_err(|e| format!("Docker could not be reached: {e:#}"))?;
    let old = docker
        .inspect_container(&window.old_container, None)
        .await
        .map_err(|e| {
            format!(
                "the previous release's container {} is gone ({e}): restore {} with `odoo-ops restore` and deploy {} by hand",
                window.old_container,
                window.backup.display(),
                from.tag
            )
        })?;
    let image = old.config.and_then(|c| c.image).unwrap_or_default();
    let current = Current {
        container: window.old_container.clone(),
        tag: from.tag.clone(),
        image_id: from
            .digest
            .clone()
            .or(old.image.clone())
            .unwrap_or_default(),
        image,
    };
    let next = format!("{}-next", window.old_container);
    let new_container = docker
        .inspect_container(&next, None)
        .await
        .ok()
        .map(|_| next);
    let env_now = target
        .read_file(env_file)
        .await
        .map_err(|e| format!("could not read {}: {e:#}", env_file.display()))?;
    let env_now =
        String::from_utf8(env_now).map_err(|_| format!("{} is not text", env_file.display()))?;
    let env_before = set_env_vars(&env_now, &[(TAG_VAR, from.tag.clone())]);
    let undo = Undo {
        docker: docker.clone(),
        stack: crate::backup::Stack {
            docker,
            db_container: window.db_container.clone(),
            odoo_container: window.old_container.clone(),
            db_user: window.db_user.clone(),
            data_dir: window.data_dir.clone(),
        },
        database: window.database.clone(),
        ports: window.ports,
        env_before: env_before.clone(),
        restore: true,
    };
    let left = Left {
        backup: window.backup.clone(),
        maintenance: None,
        new_container,
        env_moved: env_before != env_now,
    };
    Ok((current, undo, left, removed))
}

/// Compose one-offs of the service (the window's module runs) that are still there: a
/// console killed during the upgrade leaves its one-off running.
async fn remove_oneoffs(
    target: &Target,
    project: &str,
    service: &str,
) -> Result<Vec<String>, String> {
    let out = target
        .run(&Command::new("docker").args([
            "ps".to_string(),
            "-a".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
            "--filter".into(),
            format!("label=com.docker.compose.service={service}"),
            "--filter".into(),
            "label=com.docker.compose.oneoff=True".into(),
            "--format".into(),
            "{{.ID}} {{.Names}} {{.State}}".into(),
        ]))
        .await
        .map_err(|e| format!("docker ps: {e:#}"))?;
    if !out.success() {
        return Err(format!("docker ps: {}", out.stderr_text().trim()));
    }
    let mut done = Vec::new();
    for line in out.stdout_text().lines() {
        let mut w = line.split_whitespace();
        let (Some(id), Some(name)) = (w.next(), w.next()) else {
            continue;
        };
        if !name.contains("-modules-") {
            continue;
        }
        let state = w.next().unwrap_or("?");
        let rm = target
            .run(&Command::new("docker").args(["rm", "-f", id]))
            .await
            .map_err(|e| format!("docker rm {name}: {e:#}"))?;
        if !rm.success() {
            return Err(format!(
                "could not remove the module run {name} left by the interrupted deploy: {}",
                rm.stderr_text().trim()
            ));
        }
        done.push(format!("removed the module run {name} ({state})"));
    }
    Ok(done)
}
