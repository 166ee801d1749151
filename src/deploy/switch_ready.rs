//! Is the new container ready to take traffic: Odoo's own health with the database check,
//! on both of its published ports, polled until a deadline (never a fixed sleep), and its
//! last log lines when it is not.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;
use tokio::time::Instant;

use super::switch_clone::PortPair;
use crate::checks::gather::http;
use crate::target::Target;

/// Odoo 18's health with the database check: 200 once the workers serve and PostgreSQL
/// answers, 500 while it does not (`shared/odoo18/README.md`). Plain `/web/health` would
/// pass with the database down.
pub const HEALTH_PATH: &str = "/web/health?db_server_status=1";

/// How long one probe may take: a worker that takes longer is not ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Between two rounds: short, since Odoo is usually ready a few seconds after its start.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How many log lines an error shows.
pub const LOG_TAIL: usize = 30;
/// How far back the log is read to find them.
const LOG_SCAN: usize = 2000;
/// What the probes' own access lines hold (werkzeug's and gevent's alike).
const HEALTH_ACCESS: &str = "\"GET /web/health";

/// Poll until both ports answer 200 or `timeout` passes. A container that stops running
/// fails at once: waiting out the deadline would only hide why.
pub async fn wait_healthy(
    target: &Target,
    docker: &Docker,
    container: &str,
    ports: PortPair,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(why) = not_running(docker, container).await {
            return Err(why);
        }
        let (http_port, gevent_port) = tokio::join!(
            http::get(target, ports.http, HEALTH_PATH, false, PROBE_TIMEOUT),
            http::get(target, ports.gevent, HEALTH_PATH, false, PROBE_TIMEOUT),
        );
        let failing: Vec<String> = [http_port, gevent_port]
            .into_iter()
            .filter(|p| p.status != Some(200))
            .map(|p| match p.error {
                Some(_) => p.status_line(),
                None => format!("{} {}", p.status_line(), p.body.trim()),
            })
            .collect();
        if failing.is_empty() {
            return Ok(());
        }
        if Instant::now() + POLL_INTERVAL >= deadline {
            return Err(format!(
                "not healthy within {} s: {}",
                timeout.as_secs(),
                failing.join("; ")
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Why the container is not running (exited, restarting, gone), or `None` while it runs.
async fn not_running(docker: &Docker, container: &str) -> Option<String> {
    let state = match docker.inspect_container(container, None).await {
        Ok(i) => i.state.unwrap_or_default(),
        Err(e) => return Some(format!("the new container could not be inspected: {e}")),
    };
    if state.restarting == Some(true) {
        return Some(format!(
            "the new container is restarting (it exited with code {})",
            state.exit_code.unwrap_or_default()
        ));
    }
    if state.running != Some(true) {
        let oom = if state.oom_killed == Some(true) {
            ", killed for lack of memory"
        } else {
            ""
        };
        return Some(format!(
            "the new container stopped with exit code {}{oom}",
            state.exit_code.unwrap_or_default()
        ));
    }
    None
}

/// The container's last [`LOG_TAIL`] lines (stdout and stderr), secrets redacted: what an
/// operator needs to see next to "it did not become healthy". The access lines of the
/// health probes themselves are left out: polled four times a second, they would fill
/// the tail and push out the start-up lines that say why (a database it cannot reach, a
/// module that fails to load). Only when nothing else was logged are they shown.
pub async fn last_log_lines(docker: &Docker, container: &str) -> Vec<String> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&LOG_SCAN.to_string())
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(out) => text.push_str(&String::from_utf8_lossy(&out.into_bytes())),
            Err(e) => {
                text.push_str(&format!("(the log could not be read: {e})\n"));
                break;
            }
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let telling: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.contains(HEALTH_ACCESS))
        .collect();
    let chosen = if telling.is_empty() { lines } else { telling };
    chosen[chosen.len().saturating_sub(LOG_TAIL)..]
        .iter()
        .map(|l| crate::redact::line(l))
        .collect()
}
