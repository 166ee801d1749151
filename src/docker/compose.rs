//! Docker Compose: the labels it puts on containers, and which Compose the host has.
//! Real droplets have Compose v2 (`docker compose`), Debian 12 ships v1
//! (`docker-compose` 1.29); both label containers the same way.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::target::{Command, Target};

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const VERSION_LABEL: &str = "com.docker.compose.version";
pub const NUMBER_LABEL: &str = "com.docker.compose.container-number";

/// Which Compose is installed on the target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ComposeFlavor {
    /// Not looked for yet.
    #[default]
    Unknown,
    /// `docker compose` (the plugin), with its version.
    V2(String),
    /// `docker-compose` (the Python one), with its version.
    V1(String),
    Missing,
}

impl ComposeFlavor {
    /// `compose v2 2.29.1`, `docker-compose v1 1.29.2`, as the pane's title shows it.
    pub fn describe(&self) -> String {
        match self {
            ComposeFlavor::Unknown => "compose ?".into(),
            ComposeFlavor::V2(v) => format!("docker compose {v}"),
            ComposeFlavor::V1(v) => format!("docker-compose {v}"),
            ComposeFlavor::Missing => "no compose".into(),
        }
    }

    /// The argv prefix that runs Compose: `docker compose` or `docker-compose`.
    pub fn command(&self) -> Option<Command> {
        match self {
            ComposeFlavor::V2(_) => Some(Command::new("docker").arg("compose")),
            ComposeFlavor::V1(_) => Some(Command::new("docker-compose")),
            _ => None,
        }
    }
}

/// Ask the target: v2 first (what real droplets have), then v1.
pub async fn detect(target: &Target) -> ComposeFlavor {
    let v2 = Command::new("docker").args(["compose", "version", "--short"]);
    if let Ok(out) = target.run(&v2).await
        && out.success()
    {
        return ComposeFlavor::V2(first_version(&out.stdout_text()));
    }
    let v1 = Command::new("docker-compose").args(["version", "--short"]);
    if let Ok(out) = target.run(&v1).await
        && out.success()
    {
        return ComposeFlavor::V1(first_version(&out.stdout_text()));
    }
    ComposeFlavor::Missing
}

fn first_version(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("?")
        .trim_start_matches('v')
        .to_string()
}

/// A container of `service` in compose project `project` (by the labels Compose v1 and v2
/// both write), running ones first: its name and Docker's state (`running`, `exited`...).
pub async fn service_container(
    docker: &Docker,
    project: &str,
    service: &str,
) -> Option<(String, String)> {
    let filters = HashMap::from([(
        "label",
        vec![
            format!("{PROJECT_LABEL}={project}"),
            format!("{SERVICE_LABEL}={service}"),
        ],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut list = docker.list_containers(Some(options)).await.ok()?;
    let state = |c: &bollard::models::ContainerSummary| {
        c.state.as_ref().map(|s| s.to_string()).unwrap_or_default()
    };
    list.sort_by_key(|c| state(c) != "running");
    list.into_iter().find_map(|c| {
        let state = state(&c);
        let name = c.names?.into_iter().next()?;
        Some((name.trim_start_matches('/').to_string(), state))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_commands() {
        assert_eq!(first_version("v2.29.1\n"), "2.29.1");
        assert_eq!(first_version("\n1.29.2\n"), "1.29.2");
        assert_eq!(
            ComposeFlavor::V1("1.29.2".into()).command().unwrap().argv(),
            ["docker-compose"]
        );
        assert_eq!(
            ComposeFlavor::V2("2.29.1".into()).command().unwrap().argv(),
            ["docker", "compose"]
        );
    }
}
