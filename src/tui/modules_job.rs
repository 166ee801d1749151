//! The Modules pane's jobs: reading the states (then the on-disk comparison), reading a
//! plan file, running a confirmed plan with its output line by line, resetting pending
//! states. Each finds Odoo by the one rule ([`DbAccess::find`]) on the session's target.

use std::path::{Path, PathBuf};

use super::effect::Effect;
use super::jobs::ConsoleJob;
use super::message::Message;
use super::panes::modules::{ModuleRunResult, ModulesLoaded};
use crate::jobs::Progress;
use crate::odoo::modules::access::{DbAccess, ModulesOptions};
use crate::odoo::modules::plan::Plan;
use crate::odoo::modules::{ondisk, oneoff, reset, safety};
use crate::target::Target;

async fn find(target: &Target, options: &ModulesOptions) -> Result<DbAccess, String> {
    DbAccess::find(target, options)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// The states (reported as soon as they are read), then the installed modules' files
/// against their record.
pub async fn load(target: &Target, effect: Effect, progress: &Progress<ConsoleJob>) -> Message {
    let Effect::LoadModules(options) = effect else {
        return Message::Modules(Err("not a module load".into()));
    };
    let access = match find(target, &options).await {
        Ok(a) => a,
        Err(e) => return Message::Modules(Err(e)),
    };
    match states(&access).await {
        Ok(loaded) => {
            let inventory = loaded.inventory.clone();
            progress.report(Message::Modules(Ok(loaded)));
            Message::ModulesDisk(
                ondisk::check(&access, &inventory)
                    .await
                    .map_err(|e| format!("{e:#}")),
            )
        }
        Err(e) => Message::Modules(Err(e)),
    }
}

async fn states(access: &DbAccess) -> Result<ModulesLoaded, String> {
    let inventory = access.inventory().await.map_err(|e| format!("{e:#}"))?;
    Ok(ModulesLoaded {
        inventory,
        access: access.describe(),
        database: access.database.clone(),
    })
}

/// Where the pane saves a plan's output: the state directory (made by the job), else the
/// working one.
pub fn install_log_path() -> PathBuf {
    crate::config::state_dir()
        .map(|d| d.join("module_install.log"))
        .unwrap_or_else(|| PathBuf::from("module_install.log"))
}

pub async fn change(target: &Target, effect: Effect, progress: &Progress<ConsoleJob>) -> Message {
    match effect {
        Effect::ReadModulePlan(path) => Message::ModulePlanRead(
            tokio::task::spawn_blocking(move || Plan::load(&path).map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(format!("reading the plan stopped: {e}"))),
        ),
        Effect::RunModulePlan {
            plan,
            log,
            options,
            take_backup,
            backup_dir,
        } => {
            let backup = Backup {
                take: take_backup,
                dir: backup_dir,
            };
            Message::ModuleRunDone(run(target, &options, &plan, &log, &backup, progress).await)
        }
        Effect::ResetPendingModules(options) => {
            let result = async {
                let access = find(target, &options).await?;
                let moved = reset::reset_pending(&access)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                if let Ok(loaded) = states(&access).await {
                    progress.report(Message::Modules(Ok(loaded)));
                }
                Ok(moved)
            }
            .await;
            Message::ModulesReset(result)
        }
        _ => Message::ModulesReset(Err("not a module change".into())),
    }
}

/// A confirmed plan: each line as it comes, then the fresh states, then the summary.
/// The operator's answer to the backup offered first.
struct Backup {
    take: bool,
    dir: Option<PathBuf>,
}

async fn run(
    target: &Target,
    options: &ModulesOptions,
    plan: &Plan,
    log: &Path,
    backup: &Backup,
    progress: &Progress<ConsoleJob>,
) -> Result<ModuleRunResult, String> {
    let access = find(target, options).await?;
    let line = |l: String| progress.report(Message::ModuleRunLine(l));
    let mut notes = Vec::new();
    if backup.take {
        let dir = backup
            .dir
            .as_deref()
            .ok_or("no backup directory is known (config [backup] dir): nothing was changed")?;
        line(format!(
            "backing up database {} into {}…",
            access.database,
            dir.display()
        ));
        let report = safety::backup_first(&access, dir, None)
            .await
            .map_err(|e| format!("the backup failed, nothing was changed: {e:#}"))?;
        line(format!("backup written: {}", report.path.display()));
        notes.push(format!("backup taken first: {}", report.path.display()));
    } else {
        let latest = backup
            .dir
            .as_deref()
            .and_then(|d| safety::latest_backup(d, &access.database));
        let risk = safety::at_risk(&access.database, backup.dir.as_deref(), latest.as_deref());
        line(format!("warning: {risk}"));
        notes.push(risk);
    }
    let before = access.inventory().await.map_err(|e| format!("{e:#}"))?;
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let mut on_line = |line: &str| progress.report(Message::ModuleRunLine(line.to_string()));
    let run = oneoff::run_plan(&access, plan, log, &mut on_line)
        .await
        .map_err(|e| format!("{e:#}"))?;
    if run.ok {
        match ondisk::record_after_run(&access, &oneoff::loaded_modules(plan, &before)).await {
            Ok(names) if !names.is_empty() => {
                notes.push(format!("checksums recorded for {}", names.join(", ")))
            }
            Ok(_) => {}
            Err(e) => notes.push(format!("the checksums could not be recorded: {e:#}")),
        }
    }
    // The pane's states after the run, then the disk against the new record.
    if let Ok(loaded) = states(&access).await {
        let inventory = loaded.inventory.clone();
        progress.report(Message::Modules(Ok(loaded)));
        if let Ok(disk) = ondisk::check(&access, &inventory).await {
            progress.report(Message::ModulesDisk(Ok(disk)));
        }
    }
    let failed = run.phases.last().filter(|_| !run.ok);
    Ok(ModuleRunResult {
        ok: run.ok,
        summary: run.summary(log),
        failed_module: failed.and_then(|p| p.outcome.failed_module.clone()),
        cause: failed.and_then(|p| p.outcome.cause.clone()),
        notes,
        log: log.to_path_buf(),
    })
}
