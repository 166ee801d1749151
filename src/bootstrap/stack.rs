//! Step 5: the stack on the droplet. The files are rendered and written by the stack's
//! own code (`stack::render`, `stack::update`: journalled, all or none, secrets 0600), then
//! Compose starts them and the step waits until Docker reports Odoo's container healthy
//! (the compose file's own healthcheck).
//!
//! The stack directory's `nginx-site.conf` is the HTTPS site, which `nginx -t` refuses
//! until its certificate exists; the site nginx includes is therefore installed HTTP only
//! here ([`super::edge::install_http_site`]: the ACME challenge path and Odoo), and the TLS
//! step switches it to the HTTPS one.

use std::time::Duration;

use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use crate::docker::compose;
use crate::stack::{self, StackOptions, update};
use crate::target::Command;

/// The compose project: the stack directory's name, as Compose names it by default.
pub fn project(setup: &Setup) -> String {
    setup
        .stack_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "odoo".into())
}

pub fn options(setup: &Setup) -> StackOptions {
    let a = &setup.answers;
    let mut o = StackOptions::new(a.domain.clone(), *a.size);
    o.odoo_image = Some(a.image.clone());
    o.odoo_tag = Some(a.tag.clone());
    setup.edge.apply(&mut o);
    o
}

pub async fn up(
    setup: &Setup,
    host: &Host,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let target = &host.target;
    let dir = &setup.stack_dir;
    let existing = update::read_existing(target, dir)
        .await
        .map_err(|e| format!("cannot read {}: {e:#}", dir.display()))?;
    let rendered = stack::render(&options(setup), &existing)
        .map_err(|e| format!("cannot render the stack: {e}"))?;
    let plan = update::plan(target, dir, &rendered)
        .await
        .map_err(|e| format!("cannot compare the stack files: {e:#}"))?;
    if plan.needs_write() {
        let applied = update::apply(target, &plan, &update::backup_stamp())
            .await
            .map_err(|e| format!("cannot write the stack files: {e:#}"))?;
        report(Event::Notice {
            step: Step::Stack,
            text: format!(
                "wrote {} file(s) in {}",
                applied.written.len(),
                dir.display()
            ),
        });
    }
    let flavor = compose::detect(target).await;
    let Some(base) = flavor.command() else {
        return Err(
            "neither `docker compose` nor `docker-compose` is installed on the droplet \
                    (cloud-init installs docker-compose-v2)"
                .into(),
        );
    };
    // Run in the stack's directory without `-f`, as an operator does: Compose then also
    // reads a `docker-compose.override.yml` the operator keeps there.
    let up = base.args(["up", "-d", "--remove-orphans"]);
    let line = format!(
        "cd {} && exec {}",
        crate::target::quote(&dir.display().to_string()).map_err(|e| e.to_string())?,
        up.to_shell_line().map_err(|e| e.to_string())?
    );
    let up = Command::new("sh").args(["-c", line.as_str()]);
    let out = target
        .run(&up)
        .await
        .map_err(|e| format!("`compose up` could not run: {e:#}"))?;
    if !out.success() {
        return Err(format!(
            "`compose up -d` failed in {}: {}",
            dir.display(),
            tail(&out.stderr_text())
        ));
    }
    let project = project(setup);
    let container = wait_healthy(host, &project, setup.waits.stack).await?;
    let deployed = stack::as_deployed(&options(setup), &existing)
        .map_err(|e| format!("cannot render the nginx site: {e}"))?;
    let site = super::edge::install_http_site(setup, host, &deployed, report).await?;
    Ok(format!(
        "{}:{} up in {} ({container} healthy); {site}",
        rendered.image,
        rendered.tag,
        dir.display()
    ))
}

/// Poll Docker until the project's `odoo` container is healthy; its name.
async fn wait_healthy(host: &Host, project: &str, deadline: Duration) -> Result<String, String> {
    let docker = host
        .target
        .docker()
        .await
        .map_err(|e| format!("cannot reach Docker on the droplet: {e:#}"))?;
    let until = tokio::time::Instant::now() + deadline;
    let mut last = String::from("no container yet");
    loop {
        if let Some((name, state)) = compose::service_container(&docker, project, "odoo").await {
            let health = host
                .target
                .run(&Command::new("docker").args([
                    "inspect",
                    "-f",
                    "{{if .State.Health}}{{.State.Health.Status}}{{else}}no-healthcheck{{end}}",
                    name.as_str(),
                ]))
                .await
                .map(|o| o.stdout_text().trim().to_string())
                .unwrap_or_default();
            if state == "running" && (health == "healthy" || health == "no-healthcheck") {
                return Ok(name);
            }
            last = format!("{name} is {state}, health {health:?}");
        }
        if tokio::time::Instant::now() >= until {
            return Err(format!(
                "Odoo did not become healthy within {} s: {last}",
                deadline.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
