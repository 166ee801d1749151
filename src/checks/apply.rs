//! Applying a fix the operator confirmed: only safe, mechanical ones (an nginx file edit,
//! a reload, a container restart). An edit writes a backup first, runs `nginx -t`, reloads
//! only when it passes, and puts the old file back when it does not.

use std::time::{SystemTime, UNIX_EPOCH};

use bollard::query_parameters::RestartContainerOptions;
use color_eyre::eyre::{Result, bail};
use serde::Serialize;

use super::gather::run;
use super::model::ApplyAction;
use super::obs::Ran;
use crate::nginx::NginxInvocation;
use crate::target::Target;

/// A fix the operator saw (diff and all) and said yes to. Constructing one is the
/// confirmation; the UI does the asking.
#[derive(Debug, Clone)]
pub struct ConfirmedFix {
    pub action: ApplyAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// What happened, step by step.
    pub steps: Vec<String>,
    pub backup: Option<String>,
    /// `nginx -t` failed after the edit and the original file was put back.
    pub reverted: bool,
    pub success: bool,
    pub test: Option<Ran>,
}

/// Apply a confirmed fix through the target.
pub async fn apply(
    target: &Target,
    nginx: &NginxInvocation,
    fix: &ConfirmedFix,
) -> Result<Applied> {
    let mut done = Applied {
        steps: Vec::new(),
        backup: None,
        reverted: false,
        success: false,
        test: None,
    };
    match &fix.action {
        ApplyAction::EditNginxFile {
            path,
            before,
            after,
        } => {
            let current = target.read_file(path).await?;
            if current != before.as_bytes() {
                bail!(
                    "{} changed since the diagnosis; run it again before applying this fix",
                    path.display()
                );
            }
            let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let backup = path.with_file_name(format!(
                "{}.odoo-ops-{stamp}.bak",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            target.write_file(&backup, before.as_bytes(), 0o644).await?;
            done.steps
                .push(format!("backup written to {}", backup.display()));
            done.backup = Some(backup.display().to_string());
            target.write_file(path, after.as_bytes(), 0o644).await?;
            done.steps.push(format!("wrote {}", path.display()));
            let ok = test_config(target, nginx, &mut done).await;
            if !ok {
                target.write_file(path, before.as_bytes(), 0o644).await?;
                done.reverted = true;
                done.steps.push(format!(
                    "nginx -t failed: restored {} from the backup; nginx was not reloaded",
                    path.display()
                ));
                return Ok(done);
            }
            reload(target, nginx, &mut done).await;
        }
        ApplyAction::ReloadNginx => {
            let ok = test_config(target, nginx, &mut done).await;
            if ok {
                reload(target, nginx, &mut done).await;
            } else {
                done.steps
                    .push("not reloaded: the configuration on disk does not pass nginx -t".into());
            }
        }
        ApplyAction::RestartContainer { container } => {
            let docker = target.docker().await?;
            docker
                .restart_container(container, None::<RestartContainerOptions>)
                .await?;
            done.steps.push(format!("restarted container {container}"));
            done.success = true;
        }
    }
    Ok(done)
}

/// `nginx -t`, recorded in the steps and kept as evidence; true when it passed.
async fn test_config(target: &Target, nginx: &NginxInvocation, done: &mut Applied) -> bool {
    let test = run(target, &nginx.command(&["-t"])).await;
    let ok = test.ok();
    done.steps.push(format!(
        "{}: {}",
        test.command,
        if ok { "ok" } else { "FAILED" }
    ));
    done.test = Some(test);
    ok
}

async fn reload(target: &Target, nginx: &NginxInvocation, done: &mut Applied) {
    let r = run(target, &nginx.command(&["-s", "reload"])).await;
    done.success = r.ok();
    done.steps.push(format!(
        "{}: {}",
        r.command,
        if r.ok() {
            "reloaded".to_string()
        } else {
            format!("FAILED {}", r.output.trim())
        }
    ));
}
