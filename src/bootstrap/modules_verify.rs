//! Step 7: the modules plan installed with the Modules code's own one-off runs, then every
//! verify gate (the edge gates too once TLS is done), the proofs written in
//! `bootstrap-<time>/` under the proofs directory: the verify report and the module log,
//! both redacted, both 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use crate::odoo::modules::access::{DbAccess, ModulesOptions};
use crate::odoo::modules::plan::Plan;
use crate::odoo::modules::{ondisk, oneoff};
use crate::verify::{EdgeSelector, GateStatus, Overall, VerifyOptions};

pub async fn run(
    setup: &Setup,
    host: &Host,
    tls_done: bool,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let project = super::stack::project(setup);
    let proofs = proof_dir(&setup.proofs)?;
    let mut facts = Vec::new();
    if let Some(path) = &setup.answers.modules_plan {
        let plan = Plan::load(path).map_err(|e| format!("the modules plan {e}"))?;
        let options = ModulesOptions {
            compose_project: Some(project.clone()),
            ..Default::default()
        };
        let access = DbAccess::find(&host.target, &options)
            .await
            .map_err(|e| format!("cannot reach Odoo's database: {e:#}"))?;
        let log = proofs.join("module_install.log");
        let mut lines = Vec::new();
        let mut show = |line: &str| lines.push(line.to_string());
        let ran = oneoff::run_plan(&access, &plan, &log, &mut show)
            .await
            .map_err(|e| format!("the modules plan could not run: {e:#}"))?;
        private(&log)?;
        if !ran.ok {
            return Err(ran.summary(&log));
        }
        if let Ok(inventory) = access.inventory().await {
            let loaded = oneoff::loaded_modules(&plan, &inventory);
            if let Err(e) = ondisk::record_after_run(&access, &loaded).await {
                report(Event::Warning {
                    step: Step::ModulesVerify,
                    text: format!("the modules' checksums could not be recorded: {e:#}"),
                });
            }
        }
        facts.push(format!(
            "{} phase(s) of {}",
            ran.phases.len(),
            path.display()
        ));
    }
    let options = VerifyOptions {
        edge: if tls_done {
            EdgeSelector::FromNginx
        } else {
            EdgeSelector::Skip
        },
        wait: Some(setup.waits.stack),
        ..VerifyOptions::default()
    };
    let mut options = options;
    options.discovery.compose_project = Some(project);
    setup.edge.discovery(&mut options.discovery);
    options.discovery.domain = Some(setup.answers.domain.as_str().to_string());
    let verified = crate::verify::run(&host.target, &options).await;
    let mut value = serde_json::to_value(&verified).map_err(|e| e.to_string())?;
    crate::redact::json(&mut value);
    let json = serde_json::to_vec_pretty(&value).map_err(|e| e.to_string())?;
    write_private(&proofs.join("verify_report.json"), &json)?;
    // A hard gate that only warns (no Odoo database yet) is not a verified bootstrap.
    let failed: Vec<String> = verified
        .gates
        .iter()
        .filter(|g| g.hard && g.status != GateStatus::Pass)
        .map(|g| format!("{} ({})", g.id, g.summary))
        .collect();
    if verified.status != Overall::Passed || !failed.is_empty() {
        return Err(format!(
            "verify did not pass: {}; the report is in {}",
            failed.join("; "),
            proofs.display()
        ));
    }
    if !tls_done {
        report(Event::Warning {
            step: Step::ModulesVerify,
            text: "the edge gates (HTTPS through nginx) were not run: TLS is not done".into(),
        });
    }
    facts.push(format!(
        "{} gates passed, proofs in {}",
        verified.gates.len(),
        proofs.display()
    ));
    Ok(facts.join("; "))
}

fn proof_dir(root: &Path) -> Result<PathBuf, String> {
    let now = crate::deploy::clock::now_ms();
    let dir = root.join(format!("bootstrap-{}", crate::deploy::clock::compact(now)));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))
}
