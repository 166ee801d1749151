//! Facts about a host for the Host pane: who it is, how loaded it is, and whether the
//! pieces an Odoo stack needs are there and listening where they should.
//!
//! Gathering is one shell script run through the [`Target`] plus one Docker API call, so
//! a refresh over SSH costs two round trips; parsing is pure and tested on recorded text.

mod gather;
mod parse;
pub mod processes;

pub use gather::gather;
pub use parse::{parse_listeners, parse_report};

use serde::Serialize;

/// Ports the stack uses, and whether each may be reachable from outside the host.
pub const WATCHED_PORTS: [(u16, &str, bool); 5] = [
    (80, "nginx http", true),
    (443, "nginx https", true),
    (8069, "odoo http", false),
    (8072, "odoo gevent", false),
    (5432, "postgresql", false),
];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostFacts {
    pub hostname: String,
    /// `PRETTY_NAME` from os-release.
    pub os: String,
    pub kernel: String,
    pub cpus: u32,
    pub uptime_secs: u64,
    pub load: [f64; 3],
    pub memory: Memory,
    pub disks: Vec<Disk>,
    pub docker: DockerState,
    pub nginx_running: bool,
    pub postgres_running: bool,
    pub listeners: Vec<Listener>,
    pub user: UserAccess,
    /// Processes whose name says Odoo or Python and whose parent's does not (servers, not
    /// their workers), by pid: when this changes an Odoo server may have started, and the
    /// logs look for its log file again (a look costs a full process snapshot, too much
    /// for every refresh).
    #[serde(skip)]
    pub odoo_server_pids: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Memory {
    pub total_kib: u64,
    pub available_kib: u64,
    pub swap_total_kib: u64,
    pub swap_free_kib: u64,
}

impl Memory {
    pub fn used_fraction(&self) -> f64 {
        if self.total_kib == 0 {
            return 0.0;
        }
        1.0 - self.available_kib as f64 / self.total_kib as f64
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Disk {
    /// What the operator asked about: `/` or Docker's data dir.
    pub label: String,
    pub mount: String,
    pub size_kib: u64,
    pub used_kib: u64,
    pub available_kib: u64,
}

impl Disk {
    pub fn used_fraction(&self) -> f64 {
        let total = self.used_kib + self.available_kib;
        if total == 0 {
            return 0.0;
        }
        self.used_kib as f64 / total as f64
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DockerState {
    pub socket_present: bool,
    /// The engine answered an API call; its version when it did.
    pub answers: bool,
    pub version: Option<String>,
    pub root_dir: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub port: u16,
    pub address: String,
}

impl Listener {
    pub fn is_loopback(&self) -> bool {
        // `::ffff:127.0.0.1` is an IPv4 loopback listener seen through the v6 table.
        let v4 = self
            .address
            .strip_prefix("::ffff:")
            .unwrap_or(&self.address);
        v4.starts_with("127.") || self.address == "::1"
    }
}

/// What the login user may do; only interesting for a non-root login over SSH.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UserAccess {
    pub name: String,
    pub is_root: bool,
    pub in_docker_group: bool,
    pub passwordless_sudo: bool,
}

/// One watched port's verdict for the pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    pub port: u16,
    pub role: &'static str,
    pub addresses: Vec<String>,
    /// Bound beyond loopback although only nginx should be reachable from outside.
    pub exposed: bool,
}

impl HostFacts {
    pub fn port_statuses(&self) -> Vec<PortStatus> {
        WATCHED_PORTS
            .iter()
            .map(|&(port, role, public_ok)| {
                let on_port: Vec<&Listener> =
                    self.listeners.iter().filter(|l| l.port == port).collect();
                let mut addresses: Vec<String> =
                    on_port.iter().map(|l| l.address.clone()).collect();
                addresses.sort();
                addresses.dedup();
                PortStatus {
                    port,
                    role,
                    exposed: !public_ok && on_port.iter().any(|l| !l.is_loopback()),
                    addresses,
                }
            })
            .collect()
    }
}
