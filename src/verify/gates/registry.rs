//! Gate `odoo.registry`: Odoo's log since this container (or process) started shows the
//! registry loaded (`Registry loaded in`, `Modules loaded.`) and no `CRITICAL` line. A
//! container's log is read from its `StartedAt` on through Docker's API and scanned as it
//! streams, so a long-running server's chatter cannot push the start-up lines out of a
//! fixed tail.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;

use crate::checks::gather::odoo::container_log_since;
use crate::checks::obs::{ContainerObs, OdooRuntime};
use crate::verify::model::Finding;
use crate::verify::subject::Subject;

const LOADED: [&str; 2] = ["Registry loaded in", "Modules loaded."];
/// Odoo's own words for a registry that did not load, whatever the level.
const BROKEN: [&str; 3] = [
    " CRITICAL ",
    "Failed to load registry",
    "Failed to initialize database",
];
const SHOWN_PROBLEMS: usize = 6;

/// What the scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub loaded: Option<String>,
    pub problems: Vec<String>,
    pub lines: usize,
}

impl Scan {
    pub fn feed(&mut self, line: &str) {
        self.lines += 1;
        if BROKEN.iter().any(|b| line.contains(b)) {
            if self.problems.len() < SHOWN_PROBLEMS {
                self.problems.push(line.to_string());
            }
        } else if LOADED.iter().any(|l| line.contains(l)) {
            // The last one: the registry as this start (or a reload) left it.
            self.loaded = Some(line.to_string());
        }
    }
}

pub async fn judge(subject: &Subject, timeout: Duration) -> Finding {
    let (scan, source) = match (&subject.odoo.runtime, &subject.docker) {
        (OdooRuntime::Container(c), Ok(docker)) => return container(docker, c, timeout).await,
        (OdooRuntime::NotFound { .. }, _) => {
            return Finding::fail("no Odoo found whose log could be read");
        }
        _ => {
            if let Some(e) = &subject.odoo.log_error {
                return Finding::could_not_check(format!("Odoo's log could not be read: {e}"));
            }
            let mut scan = Scan::default();
            for l in &subject.odoo.log_lines {
                scan.feed(l);
            }
            let shown = subject
                .odoo
                .log_command
                .clone()
                .unwrap_or_else(|| "Odoo's log".into());
            (scan, shown)
        }
    };
    verdict(scan, source, subject.odoo.log_since.as_deref()).in_container(subject.container_name())
}

/// The gate on Odoo's container: it needs the container alone (not odoo.conf), so it
/// can start as soon as the container is seen.
pub async fn container(docker: &Docker, c: &ContainerObs, timeout: Duration) -> Finding {
    let name = Some(c.name.clone());
    let since = crate::logs::time::docker(c.started_at.as_bytes())
        .map(|(ms, _)| ms.div_euclid(1000))
        .filter(|s| *s > 0);
    let shown = format!(
        "docker logs --since {} {}",
        if c.started_at.is_empty() {
            "?"
        } else {
            &c.started_at
        },
        c.name
    );
    let scan = match tokio::time::timeout(timeout, scan_container(docker, &c.id, since)).await {
        Ok(Ok(scan)) => scan,
        Ok(Err(e)) => {
            return Finding::could_not_check(format!("Odoo's log could not be read: {e}"))
                .line(shown)
                .in_container(name);
        }
        Err(_) => {
            return Finding::could_not_check(format!(
                "Odoo's log was not read within {} s",
                timeout.as_secs_f32()
            ))
            .line(shown)
            .in_container(name);
        }
    };
    verdict(scan, shown, container_log_since(c).as_deref()).in_container(name)
}

/// The verdict on what the scan of the log shown as `source` found; `since`: from when.
fn verdict(scan: Scan, source: String, since: Option<&str>) -> Finding {
    let since = since.map(|s| format!(" since {s}")).unwrap_or_default();
    let evidence = std::iter::once(format!("{source} ({} lines)", scan.lines))
        .chain(scan.loaded.clone())
        .chain(scan.problems.iter().cloned());
    let finding = if !scan.problems.is_empty() {
        Finding::fail(format!(
            "Odoo logged that its registry did not load{since}: {}",
            scan.problems[0].trim()
        ))
    } else if scan.loaded.is_some() {
        Finding::pass(format!("registry loaded{since}"))
    } else {
        Finding::fail(format!(
            "no `Registry loaded`/`Modules loaded.` line{since} (still starting, or no database chosen yet)"
        ))
    };
    finding.lines(evidence)
}

/// Every line since `since` (unix seconds), scanned as it streams.
async fn scan_container(docker: &Docker, id: &str, since: Option<i64>) -> Result<Scan, String> {
    let mut builder = LogsOptionsBuilder::default().stdout(true).stderr(true);
    if let Some(s) = since {
        builder = builder.since(s as i32);
    }
    let mut stream = docker.logs(id, Some(builder.build()));
    let mut scan = Scan::default();
    let mut partial = String::new();
    while let Some(item) = stream.next().await {
        let chunk = item.map_err(|e| e.to_string())?;
        partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            scan.feed(line.trim_end());
        }
    }
    if !partial.is_empty() {
        scan.feed(partial.trim_end());
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_and_broken_lines() {
        let mut scan = Scan::default();
        scan.feed("2026-11-30 10:00:00,000 1 INFO odoo odoo.modules.loading: Modules loaded. ");
        assert!(scan.loaded.is_some());
        assert!(scan.problems.is_empty());
        scan.feed("2026-11-30 10:00:01,000 1 CRITICAL odoo odoo.service.server: Failed to initialize database `odoo`.");
        assert_eq!(scan.problems.len(), 1);
        assert_eq!(scan.lines, 2);
    }
}
