//! One phase of a module plan: `odoo -d DB -i/-u MODULES --stop-after-init --no-http` in a
//! one-off container of the running Odoo's image, with its command line, environment,
//! mounts and networks (so the same odoo.conf, addons and database are used), created
//! through Docker's API (locally and over SSH alike). A one-off has its own network
//! namespace, and `--no-http` keeps it off the ports anyway: the running server is not
//! disturbed (`install-while-server-runs-EADDRINUSE.log`). Then the whole plan: phases in
//! order, each judged by [`super::outcome`], stopping at the first failure.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use color_eyre::eyre::{Result, WrapErr, eyre};
use futures::StreamExt;
use serde::Serialize;

use super::access::DbAccess;
use super::inventory::PENDING_STATES;
use super::outcome::{self, Outcome};
use super::plan::{Phase, Plan};

/// What one phase left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseRun {
    pub phase: Phase,
    /// The one-off's command line, secrets redacted.
    pub command: String,
    pub outcome: Outcome,
    #[serde(skip)]
    pub log: String,
}

/// The plan's result: the phases run, the last one the failed one when `ok` is false.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanRun {
    pub ok: bool,
    pub phases: Vec<PhaseRun>,
    /// Phases not run because an earlier one failed.
    pub skipped: Vec<Phase>,
}

impl PlanRun {
    /// What the operator reads at the end: all succeeded, or the failed phase, the module
    /// Odoo named, the cause (the traceback's last line), each failure, what did not run.
    pub fn summary(&self, log: &Path) -> String {
        let run = self;
        let mut out = String::new();
        if run.ok {
            out += &format!(
                "all {} phase(s) succeeded; output saved in {}",
                run.phases.len(),
                log.display()
            );
            return out;
        }
        if let Some(failed) = run.phases.last() {
            let o = &failed.outcome;
            out += &format!(
                "FAILED in phase {} ({}): module {}\n",
                run.phases.len(),
                failed.phase.describe(),
                o.failed_module.as_deref().unwrap_or("(not named by Odoo)")
            );
            if let Some(cause) = &o.cause {
                out += &format!("cause: {cause}\n");
            }
            for f in &o.failures {
                out += &format!("  - {f}\n");
            }
        }
        if !run.skipped.is_empty() {
            out += &format!(
                "not run: {}\n",
                run.skipped
                    .iter()
                    .map(|p| p.describe())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        out += &format!("output saved in {}", log.display());
        out
    }
}

/// Run `plan` phase by phase; every log line goes to `on_line` as it comes and to
/// `log_file` (`module_install.log`), redacted.
pub async fn run_plan(
    access: &DbAccess,
    plan: &Plan,
    log_file: &Path,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<PlanRun> {
    let mut file = std::fs::File::create(log_file)
        .wrap_err_with(|| format!("create {}", log_file.display()))?;
    run_plan_with(access, plan, None, &mut file, on_line).await
}

/// [`run_plan`] writing the log to `file`, the one-offs made of `image` (`repo:tag`)
/// instead of the running container's: a deploy upgrades with the new release's code
/// while the old container, stopped, still lends its settings.
pub async fn run_plan_with(
    access: &DbAccess,
    plan: &Plan,
    image: Option<&str>,
    file: &mut (dyn Write + Send),
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<PlanRun> {
    let mut result = PlanRun {
        ok: true,
        ..Default::default()
    };
    for (i, phase) in plan.phases.iter().enumerate() {
        if !result.ok {
            result.skipped.push(phase.clone());
            continue;
        }
        let header = format!(
            "== phase {}/{}: {}",
            i + 1,
            plan.phases.len(),
            phase.describe()
        );
        on_line(&header);
        writeln!(file, "{header}")?;
        let mut tee = |line: &str| {
            let line = crate::redact::line(line);
            let _ = writeln!(file, "{line}");
            on_line(&line);
        };
        let run = run_phase_in(access, phase, image, &mut tee).await?;
        let verdict = if run.outcome.ok {
            "== phase succeeded".to_string()
        } else {
            format!("== phase FAILED: {}", run.outcome.failures.join("; "))
        };
        on_line(&verdict);
        writeln!(file, "{verdict}")?;
        result.ok = run.outcome.ok;
        result.phases.push(run);
    }
    Ok(result)
}

/// Run one phase in a one-off container and judge it.
pub async fn run_phase(
    access: &DbAccess,
    phase: &Phase,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<PhaseRun> {
    run_phase_in(access, phase, None, on_line).await
}

/// [`run_phase`], the one-off made of `image` when given.
pub async fn run_phase_in(
    access: &DbAccess,
    phase: &Phase,
    image: Option<&str>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<PhaseRun> {
    let odoo = access.container()?;
    let docker = &odoo.docker;
    let running = docker
        .inspect_container(&odoo.odoo.id, None::<InspectContainerOptions>)
        .await
        .wrap_err_with(|| format!("docker inspect {}", odoo.odoo.name))?;
    let config = running.config.clone().unwrap_or_default();
    let host = running.host_config.clone().unwrap_or_default();
    // The running server's own options (its -c, a --db_password given on its command
    // line), then the run's: optparse lets the last -d win.
    let mut cmd: Vec<String> = config.cmd.clone().unwrap_or_default();
    cmd.extend(["-d".to_string(), access.database.clone()]);
    cmd.extend(phase.odoo_args());
    cmd.extend(["--stop-after-init".to_string(), "--no-http".to_string()]);
    let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    argv.extend(cmd.iter().cloned());
    let command = crate::redact::args(&argv).join(" ");

    let labels = config.labels.clone().unwrap_or_default();
    let project = labels
        .get(crate::docker::compose::PROJECT_LABEL)
        .cloned()
        .unwrap_or_else(|| "odoo-ops".into());
    let service = labels
        .get(crate::docker::compose::SERVICE_LABEL)
        .cloned()
        .unwrap_or_else(|| "odoo".into());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let name = format!("{project}-{service}-modules-{stamp}");
    // Labelled as `docker compose run` labels its one-offs: the project's tools see it.
    let one_off_labels = HashMap::from([
        (
            crate::docker::compose::PROJECT_LABEL.to_string(),
            project.clone(),
        ),
        (
            crate::docker::compose::SERVICE_LABEL.to_string(),
            service.clone(),
        ),
        ("com.docker.compose.oneoff".to_string(), "True".to_string()),
    ]);
    let networks: Vec<String> = running
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    let network_mode = host.network_mode.clone();
    let first_network = network_mode
        .as_ref()
        .filter(|m| networks.contains(m))
        .cloned()
        .or_else(|| networks.first().cloned());
    // Another image: the running one's own environment (what its image baked in) is left
    // out, so the new image's comes through (Docker lays the given `Env` over the image's).
    let env = match image {
        None => config.env.clone(),
        Some(_) => {
            let old_image = match &running.image {
                Some(id) => docker.inspect_image(id).await.ok(),
                None => None,
            };
            let baked = old_image
                .and_then(|i| i.config)
                .and_then(|c| c.env)
                .unwrap_or_default();
            config
                .env
                .clone()
                .map(|env| env.into_iter().filter(|e| !baked.contains(e)).collect())
        }
    };
    let mut host_config = HostConfig {
        binds: host.binds.clone(),
        mounts: host.mounts.clone(),
        network_mode: network_mode.clone(),
        extra_hosts: host.extra_hosts.clone(),
        dns: host.dns.clone(),
        ..Default::default()
    };
    // The filestore on an anonymous volume is the server's too: a module's attachments
    // land where the server reads them.
    crate::deploy::switch_clone::keep_anonymous_volumes(&running, &mut host_config);
    let body = ContainerCreateBody {
        image: image
            .map(str::to_string)
            .or(running.image.clone())
            .or(config.image.clone()),
        entrypoint: config.entrypoint.clone(),
        cmd: Some(cmd),
        env,
        user: config.user.clone(),
        working_dir: config.working_dir.clone(),
        labels: Some(one_off_labels),
        host_config: Some(host_config),
        networking_config: first_network.as_ref().map(|n| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n.clone(), EndpointSettings::default())])),
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .wrap_err_with(|| format!("create the one-off container {name}"))?;
    let result = run_created(
        access,
        &created.id,
        &name,
        &networks,
        &first_network,
        on_line,
    )
    .await;
    // Removed whatever happened: its log is in module_install.log.
    let _ = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await;
    let (exit_code, log) = result?;
    let pending_after = pending(access).await?;
    Ok(PhaseRun {
        phase: phase.clone(),
        command,
        outcome: outcome::judge(exit_code, &log, &pending_after),
        log,
    })
}

async fn run_created(
    access: &DbAccess,
    id: &str,
    name: &str,
    networks: &[String],
    first_network: &Option<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(Option<i64>, String)> {
    let docker = &access.container()?.docker;
    for n in networks
        .iter()
        .filter(|n| Some(*n) != first_network.as_ref())
    {
        docker
            .connect_network(
                n,
                NetworkConnectRequest {
                    container: id.to_string(),
                    ..Default::default()
                },
            )
            .await
            .wrap_err_with(|| format!("connect {name} to network {n}"))?;
    }
    docker
        .start_container(id, None)
        .await
        .wrap_err_with(|| format!("start {name}"))?;
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut stream = docker.logs(id, Some(options));
    let mut log = String::new();
    let mut partial = String::new();
    while let Some(chunk) = stream.next().await {
        let bytes = match chunk {
            Ok(
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message },
            ) => message,
            Ok(_) => continue,
            Err(e) => return Err(eyre!("docker logs {name}: {e}")),
        };
        partial.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            on_line(line);
            log.push_str(line);
            log.push('\n');
        }
    }
    if !partial.is_empty() {
        on_line(&partial);
        log.push_str(&partial);
        log.push('\n');
    }
    // The log ends when the process does; wait for Docker to record the exit code (a
    // non-zero exit is an Err from this stream: the code comes from the inspect).
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    while wait.next().await.is_some() {}
    let exit_code = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|i| i.state)
        .and_then(|s| s.exit_code);
    Ok((exit_code, log))
}

/// What a successful plan installed or upgraded, so its files are the ones now in the
/// database: the named installs with the dependencies they pulled in (not the ones already
/// installed: those were only loaded, not upgraded), and the upgrades with every installed
/// module depending on them (`-u all`: every installed module).
pub fn loaded_modules(plan: &Plan, inventory: &super::inventory::Inventory) -> Vec<String> {
    use std::collections::BTreeSet;
    let mut installed: BTreeSet<String> = inventory
        .modules
        .iter()
        .filter(|m| m.state == "installed")
        .map(|m| m.name.clone())
        .collect();
    let mut loaded = BTreeSet::new();
    for phase in &plan.phases {
        let upgraded: Vec<String> = if phase.upgrade.iter().any(|u| u == "all") {
            installed.iter().cloned().collect()
        } else {
            inventory
                .reverse_closure(&phase.upgrade)
                .into_iter()
                .filter(|m| installed.contains(m))
                .collect()
        };
        let new: Vec<String> = inventory
            .closure(&phase.install)
            .into_iter()
            .filter(|m| !installed.contains(m))
            .collect();
        loaded.extend(upgraded);
        loaded.extend(new.iter().cloned());
        installed.extend(new);
    }
    loaded.into_iter().collect()
}

/// The modules of the database still pending (none after a successful run).
pub async fn pending(access: &DbAccess) -> Result<Vec<String>> {
    let states = PENDING_STATES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT name FROM ir_module_module WHERE state IN ({states}) ORDER BY name");
    Ok(access
        .rows(&access.database, &sql)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect())
}
