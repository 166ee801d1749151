//! What the Containers pane shows about each container of a compose project, built from
//! `docker inspect`, plus a short CPU/memory history from the stats stream.

use std::collections::VecDeque;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};

use super::compose::{self, ComposeFlavor};
use crate::logs::time;

/// Samples kept per container for the sparkline (one a second from Docker).
pub const HISTORY: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    #[default]
    Unknown,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Exited => "exited",
            State::Dead => "dead",
            State::Unknown => "?",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// No healthcheck defined.
    #[default]
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::None => "-",
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A published port: `host_ip:host_port -> container_port/protocol`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

impl Port {
    /// Reachable only from the host itself. An empty address or `0.0.0.0`/`::` means
    /// every interface: the internet, on a droplet.
    pub fn is_loopback(&self) -> bool {
        match self.host_ip.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => self.host_ip == "localhost",
        }
    }

    pub fn describe(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!(
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

/// CPU and memory over the last [`HISTORY`] samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpu: VecDeque<f64>,
    pub mem: VecDeque<u64>,
    pub mem_limit: u64,
}

impl Usage {
    pub fn push(&mut self, cpu: Option<f64>, mem: Option<(u64, u64)>) {
        if let Some(c) = cpu {
            if self.cpu.len() == HISTORY {
                self.cpu.pop_front();
            }
            self.cpu.push_back(c);
        }
        if let Some((used, limit)) = mem {
            if self.mem.len() == HISTORY {
                self.mem.pop_front();
            }
            self.mem.push_back(used);
            self.mem_limit = limit;
        }
    }

    pub fn cpu_now(&self) -> Option<f64> {
        self.cpu.back().copied()
    }

    pub fn mem_now(&self) -> Option<u64> {
        self.mem.back().copied()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub project: String,
    pub service: String,
    /// `name:tag` split; `tag` is `latest` when the reference names none.
    pub image: String,
    pub tag: String,
    /// A repo digest when the image came from a registry, else the local image id.
    pub digest: Option<String>,
    pub image_id: String,
    pub state: State,
    pub health: Health,
    pub restart_count: u64,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// Seconds since the epoch.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub ports: Vec<Port>,
    /// The Compose version that created it (label), v1 is `1.x`.
    pub compose_version: Option<String>,
    pub usage: Usage,
}

impl Container {
    /// Read a container from `docker inspect`. `None` for one without an id.
    pub fn from_inspect(info: &ContainerInspectResponse) -> Option<Container> {
        let id = info.id.clone()?;
        let config = info.config.as_ref();
        let label = |key: &str| {
            config
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(key))
                .cloned()
        };
        let reference = config.and_then(|c| c.image.clone()).unwrap_or_default();
        let (image, tag) = split_reference(&reference);
        let state = info.state.as_ref();
        let health = state
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.status)
            .map_or(Health::None, |h| match h {
                HealthStatusEnum::STARTING => Health::Starting,
                HealthStatusEnum::HEALTHY => Health::Healthy,
                HealthStatusEnum::UNHEALTHY => Health::Unhealthy,
                _ => Health::None,
            });
        let status = state
            .and_then(|s| s.status)
            .map_or(State::Unknown, |s| match s {
                ContainerStateStatusEnum::CREATED => State::Created,
                ContainerStateStatusEnum::RUNNING => State::Running,
                ContainerStateStatusEnum::PAUSED => State::Paused,
                ContainerStateStatusEnum::RESTARTING => State::Restarting,
                ContainerStateStatusEnum::REMOVING => State::Removing,
                ContainerStateStatusEnum::EXITED => State::Exited,
                ContainerStateStatusEnum::DEAD => State::Dead,
                _ => State::Unknown,
            });
        let when = |t: Option<&String>| {
            t.and_then(|t| time::docker(t.as_bytes()))
                .map(|(ms, _)| ms.div_euclid(1000))
                // `0001-01-01T00:00:00Z` is Docker's "never".
                .filter(|s| *s > 0)
        };
        // Live bindings while running; the configured ones otherwise.
        let live = info.network_settings.as_ref().and_then(|n| n.ports.clone());
        let configured = info
            .host_config
            .as_ref()
            .and_then(|h| h.port_bindings.clone());
        let map = live
            .filter(|m| {
                m.values()
                    .any(|v| v.as_ref().is_some_and(|b| !b.is_empty()))
            })
            .or(configured)
            .unwrap_or_default();
        let mut ports = Vec::new();
        for (key, bindings) in map {
            let (port, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
            let Ok(container_port) = port.parse() else {
                continue;
            };
            for b in bindings.unwrap_or_default() {
                let host_port = b
                    .host_port
                    .as_deref()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                ports.push(Port {
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port,
                    container_port,
                    protocol: proto.to_string(),
                });
            }
        }
        ports.sort();
        ports.dedup();
        Some(Container {
            id,
            name: info
                .name
                .as_deref()
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string(),
            project: label(compose::PROJECT_LABEL).unwrap_or_default(),
            service: label(compose::SERVICE_LABEL).unwrap_or_default(),
            image,
            tag,
            digest: None,
            image_id: info.image.clone().unwrap_or_default(),
            state: status,
            health,
            restart_count: info.restart_count.unwrap_or(0).max(0) as u64,
            exit_code: state.and_then(|s| s.exit_code),
            oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
            started_at: when(state.and_then(|s| s.started_at.as_ref())),
            finished_at: when(state.and_then(|s| s.finished_at.as_ref())),
            ports,
            compose_version: label(compose::VERSION_LABEL),
            usage: Usage::default(),
        })
    }

    /// Seconds running, for a running container.
    pub fn uptime(&self, now_secs: i64) -> Option<u64> {
        (self.state == State::Running)
            .then_some(self.started_at?)
            .map(|s| (now_secs - s).max(0) as u64)
    }

    /// Odoo and its database must only be reachable through nginx / from the host.
    pub fn is_guarded_service(&self) -> bool {
        let s = self.service.to_ascii_lowercase();
        let i = self.image.to_ascii_lowercase();
        let base = i.rsplit('/').next().unwrap_or(&i);
        s.contains("odoo")
            || matches!(
                s.as_str(),
                "db" | "database" | "postgres" | "postgresql" | "pg"
            )
            || base.starts_with("odoo")
            || base.starts_with("postgres")
    }

    /// Ports of an Odoo or database container bound beyond 127.0.0.1.
    pub fn exposed_ports(&self) -> Vec<&Port> {
        if !self.is_guarded_service() {
            return Vec::new();
        }
        self.ports.iter().filter(|p| !p.is_loopback()).collect()
    }

    /// `137`: SIGKILL, usually the OOM killer or `docker kill`.
    pub fn was_killed(&self) -> bool {
        self.exit_code == Some(137)
    }

    /// `odoo:18.0`, the short form the table shows.
    pub fn image_ref(&self) -> String {
        format!("{}:{}", self.image, self.tag)
    }
}

/// `registry:5000/odoo:18.0@sha256:..` → (`registry:5000/odoo`, `18.0`).
pub fn split_reference(reference: &str) -> (String, String) {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].rfind(':') {
        Some(i) => (
            without_digest[..last_slash + i].to_string(),
            without_digest[last_slash + i + 1..].to_string(),
        ),
        None => (without_digest.to_string(), "latest".to_string()),
    }
}

/// Everything the Containers pane shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    /// Sorted by project, service, name.
    pub containers: Vec<Container>,
    pub compose: ComposeFlavor,
    /// True once the first listing arrived.
    pub loaded: bool,
    /// The event stream is connected (else the model is only refreshed by polling).
    pub live: bool,
    /// The last thing that went wrong talking to Docker.
    pub error: Option<String>,
    pub generation: u64,
}

impl Model {
    pub fn get(&self, id: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.id == id)
    }

    pub fn by_name(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    pub fn projects(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.containers.iter().map(|c| c.project.as_str()).collect();
        p.dedup();
        p
    }

    /// Insert or replace, keeping the collected usage history.
    pub fn upsert(&mut self, mut container: Container) {
        match self.containers.iter_mut().find(|c| c.id == container.id) {
            Some(old) => {
                container.usage = std::mem::take(&mut old.usage);
                if container.digest.is_none() {
                    container.digest = old.digest.take();
                }
                *old = container;
            }
            None => self.containers.push(container),
        }
        self.containers.sort_by(|a, b| {
            (&a.project, &a.service, &a.name).cmp(&(&b.project, &b.service, &b.name))
        });
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.containers.len();
        self.containers.retain(|c| c.id != id);
        before != self.containers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_image_and_tag() {
        let s = |r: &str| split_reference(r);
        assert_eq!(s("odoo:18.0"), ("odoo".into(), "18.0".into()));
        assert_eq!(s("postgres"), ("postgres".into(), "latest".into()));
        assert_eq!(
            s("reg:5000/acme/odoo:18.0-20261122@sha256:abc"),
            ("reg:5000/acme/odoo".into(), "18.0-20261122".into())
        );
        assert_eq!(
            s("reg:5000/odoo"),
            ("reg:5000/odoo".into(), "latest".into())
        );
    }

    fn port(ip: &str) -> Port {
        Port {
            host_ip: ip.into(),
            host_port: 8069,
            container_port: 8069,
            protocol: "tcp".into(),
        }
    }

    #[test]
    fn exposure_is_flagged_for_odoo_and_db_only() {
        let mut c = Container {
            service: "odoo".into(),
            image: "acme/odoo".into(),
            ports: vec![port("127.0.0.1"), port("0.0.0.0"), port(""), port("::1")],
            ..Container::default()
        };
        let exposed: Vec<String> = c.exposed_ports().iter().map(|p| p.describe()).collect();
        assert_eq!(
            exposed,
            ["0.0.0.0:8069->8069/tcp", "0.0.0.0:8069->8069/tcp"]
        );
        c.service = "nginx".into();
        c.image = "nginx".into();
        assert!(c.exposed_ports().is_empty());
        c.service = "db".into();
        assert_eq!(c.exposed_ports().len(), 2);
    }

    #[test]
    fn usage_history_is_bounded() {
        let mut u = Usage::default();
        for i in 0..(HISTORY + 5) {
            u.push(Some(i as f64), Some((i as u64, 100)));
        }
        assert_eq!(u.cpu.len(), HISTORY);
        assert_eq!(u.cpu_now(), Some((HISTORY + 4) as f64));
        assert_eq!(u.mem_limit, 100);
    }
}
