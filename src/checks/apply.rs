//! Applying a fix the operator confirmed: only safe, mechanical ones (an nginx file edit,
//! a reload, a container restart). An edit goes through the one safe-change primitive
//! ([`crate::workflow::safe_change`]): journal, backup outside nginx's includes, `nginx -t`
//! with the running master's invocation, reload, or the old file put back exactly.

use bollard::query_parameters::RestartContainerOptions;
use color_eyre::eyre::Result;
use serde::Serialize;

use super::gather::run;
use super::model::ApplyAction;
use super::obs::Ran;
use crate::nginx::NginxInvocation;
use crate::target::Target;
use crate::workflow::{self, ChangeSet, Expect, FileEdit, StateDirs};

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

/// Apply a confirmed fix through the target, journalled and backed up in the host's
/// state directories ([`StateDirs::locate`]). An edit of a file that changed since the
/// diagnosis is an error holding [`workflow::Refused`], and nothing is touched.
pub async fn apply(
    target: &Target,
    nginx: &NginxInvocation,
    fix: &ConfirmedFix,
) -> Result<Applied> {
    // Without a place for the journal nothing is tried: that is a refusal, not a failure.
    let dirs = StateDirs::locate(target).await.map_err(|e| {
        color_eyre::Report::new(workflow::Refused(format!("{e:#}; nothing was changed")))
    })?;
    apply_in(target, &dirs, nginx, fix).await
}

/// [`apply`] with the state directories given.
pub async fn apply_in(
    target: &Target,
    dirs: &StateDirs,
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
            let set = ChangeSet::new(format!("fix: edit {}", path.display()))
                .file(FileEdit {
                    path: path.clone(),
                    expect: Expect::Sha256(dump_text_digests(before)),
                    contents: after.as_bytes().to_vec(),
                    mode: None,
                })
                .validated_by(nginx.clone());
            let outcome = workflow::apply(target, dirs, &set).await?;
            done.success = outcome.success();
            done.backup = outcome.backups.first().map(|b| b.display().to_string());
            done.reverted = outcome.reverted;
            done.test = outcome.test;
            done.steps = outcome.steps;
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

/// The digests a file may have when `nginx -T` showed it as `text`. nginx ends every file
/// it dumps with a newline of its own, so a file without a trailing newline reads the same
/// as one with it: both are the file as the diagnosis read it.
fn dump_text_digests(text: &str) -> Vec<String> {
    let mut sums = vec![workflow::sha256_hex(text.as_bytes())];
    if let Some(bare) = text.strip_suffix('\n') {
        sums.push(workflow::sha256_hex(bare.as_bytes()));
    }
    sums
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
