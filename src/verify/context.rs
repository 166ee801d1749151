//! A failing gate's context: the last lines its container logged and Docker's health log,
//! read through Docker's API. Read once per container, whichever gates it explains.

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, LogsOptionsBuilder};
use futures::StreamExt;

use super::model::FailureContext;
use crate::redact;

/// Health probes shown (Docker keeps the last five).
const HEALTH_ENTRIES: usize = 5;

pub async fn gather(docker: &Docker, container: &str, tail: usize) -> FailureContext {
    let mut context = FailureContext {
        container: container.to_string(),
        log_command: format!("docker logs --tail {tail} {container}"),
        ..Default::default()
    };
    let (logs, inspect) = tokio::join!(
        log_tail(docker, container, tail),
        docker.inspect_container(container, None::<InspectContainerOptions>)
    );
    match logs {
        Ok(lines) => context.log_tail = lines,
        Err(e) => context.error = Some(format!("docker logs {container}: {e}")),
    }
    if let Ok(inspect) = inspect {
        let entries = inspect
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.log)
            .unwrap_or_default();
        let skip = entries.len().saturating_sub(HEALTH_ENTRIES);
        context.health_log = entries
            .into_iter()
            .skip(skip)
            .map(|r| {
                let output = r.output.unwrap_or_default();
                let output = output.trim();
                redact::line(&format!(
                    "exit {} at {}: {}",
                    r.exit_code.map_or("?".to_string(), |c| c.to_string()),
                    r.start.map(|s| s.to_string()).unwrap_or_default(),
                    output.lines().last().unwrap_or_default()
                ))
            })
            .collect();
    }
    context
}

async fn log_tail(docker: &Docker, container: &str, tail: usize) -> Result<Vec<String>, String> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&tail.to_string())
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(
            &item.map_err(|e| e.to_string())?.into_bytes(),
        ));
    }
    Ok(text.lines().map(|l| redact::line(l.trim_end())).collect())
}
