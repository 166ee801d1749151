//! Everything the checks look at, gathered once per run. The verdict logic reads only
//! this, so it is tested by building observations by hand, without any server.

use std::path::PathBuf;

use serde::Serialize;

use crate::host::{Disk, Listener};
use crate::nginx::{ErrorLogSummary, NginxConfig, NginxInvocation, OdooSite};
use crate::odoo::conf::OdooConf;

/// A command that ran on the target and what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ran {
    /// Quoted like a shell line.
    pub command: String,
    pub status: Option<i32>,
    /// stdout then stderr.
    pub output: String,
    /// Could not be started at all (missing binary).
    pub error: Option<String>,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status == Some(0)
    }

    /// Non-empty output lines, for evidence.
    pub fn lines(&self) -> Vec<String> {
        self.output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// An HTTP exchange (a request on a loopback port or through the edge).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpProbe {
    /// `GET http://127.0.0.1:8069/web/health` and, for handshakes, `(websocket handshake)`.
    pub request: String,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The first 4 KiB of the body.
    pub body: String,
    /// Connection refused, timed out, TLS failure...
    pub error: Option<String>,
}

impl HttpProbe {
    pub fn status_line(&self) -> String {
        match (&self.error, self.status) {
            (Some(e), _) => format!("{} -> error: {e}", self.request),
            (None, Some(s)) => format!("{} -> {s}", self.request),
            (None, None) => format!("{} -> no answer", self.request),
        }
    }

    /// A 303 to Odoo's database selector: Odoo could not choose a database.
    pub fn redirects_to_selector(&self) -> bool {
        self.status == Some(303)
            && self.headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("location") && v.contains("/web/database/selector")
            })
    }

    /// `"db_server_status": false` in a health answer.
    pub fn db_status(&self) -> Option<bool> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        v.get("db_server_status")?.as_bool()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NginxObs {
    /// The master found, or the configured/packaged default invocation when none runs.
    pub invocation: NginxInvocation,
    pub running: bool,
    pub ps_command: String,
    /// `nginx -t`.
    pub test: Option<Ran>,
    /// `nginx -T`.
    pub dump: Option<Ran>,
    pub config: Option<NginxConfig>,
    pub parse_error: Option<String>,
    pub sites: Vec<OdooSite>,
    /// The site the checks look at (`--domain`, or the most Odoo-looking one).
    pub site: Option<OdooSite>,
    pub domain: Option<String>,
    pub reload: Option<ReloadObs>,
    pub error_log: Option<ErrorLogObs>,
    /// Processes that claimed to be nginx's master and were refused, one sentence each.
    pub refused: Vec<String>,
    /// Set when this login could not see other users' processes (not root, no `sudo -n`):
    /// no verified master then means "could not check", not "not running".
    pub limited_view: Option<String>,
}

/// When the workers started (the last start or reload) against when the files changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReloadObs {
    pub command: String,
    /// Seconds since the epoch of the oldest current worker's start.
    pub workers_started: Option<f64>,
    /// Each config file's modification time, seconds since the epoch.
    pub files: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorLogObs {
    /// Every file read, comma-separated.
    pub path: String,
    /// The main error log, then the Odoo site's own (`error_log` in its server block).
    pub files: Vec<String>,
    pub command: String,
    /// `YYYY/MM/DD HH:MM:SS`: lines before this are not counted (the later of the last
    /// `minutes` and the running configuration's load).
    pub since: Option<String>,
    /// When the current workers started: the last start or reload of nginx.
    pub loaded_at: Option<String>,
    pub minutes: u32,
    pub summary: ErrorLogSummary,
    /// No file could be read.
    pub error: Option<String>,
    /// Files that could not be read, as `PATH: why`.
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerObs {
    pub name: String,
    pub id: String,
    pub image: String,
    /// `running`, `restarting`, `exited`, ...
    pub status: String,
    pub running: bool,
    pub restarting: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub restart_count: i64,
    pub started_at: String,
    pub finished_at: String,
    pub published: Vec<PublishedPort>,
    /// Bytes; 0 = no limit.
    pub memory_limit: i64,
    pub compose_project: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessObs {
    pub pid: u32,
    pub args: String,
}

/// How Odoo runs here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OdooRuntime {
    Container(ContainerObs),
    /// A process on the host; `None` when the configured one is not running.
    Process {
        config: Option<PathBuf>,
        process: Option<ProcessObs>,
    },
    NotFound {
        looked: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OdooObs {
    pub runtime: OdooRuntime,
    /// Where the configuration was read from (`container:/etc/odoo/odoo.conf` or a path).
    pub conf_source: Option<String>,
    #[serde(skip)]
    pub conf: Option<OdooConf>,
    pub conf_error: Option<String>,
    /// The ports as the host sees them (published ports for a container).
    pub http_port: Option<u16>,
    pub gevent_port: Option<u16>,
    pub log_command: Option<String>,
    pub log_lines: Vec<String>,
    pub log_error: Option<String>,
    // -- the log's window and how the install is managed (verdicts) --
    /// When the running server started (`YYYY-MM-DD HH:MM:SS`, the host's time): log
    /// lines before it are not read.
    pub log_since: Option<String>,
    /// The systemd unit a host install runs in (`odoo.service`), from /proc/PID/cgroup.
    pub service_unit: Option<String>,
    /// How Odoo was found: the chosen candidate, each one not chosen and why, any file
    /// refused (`crate::odoo::locate`, `crate::odoo::named_file`).
    pub located: Vec<String>,
    /// Docker could not be asked, so "no container" cannot be claimed.
    pub docker_error: Option<String>,
}

impl Default for OdooObs {
    fn default() -> Self {
        OdooObs {
            runtime: OdooRuntime::NotFound {
                looked: String::new(),
            },
            conf_source: None,
            conf: None,
            conf_error: None,
            http_port: None,
            gevent_port: None,
            log_command: None,
            log_lines: Vec::new(),
            log_error: None,
            log_since: None,
            service_unit: None,
            located: Vec::new(),
            docker_error: None,
        }
    }
}

impl OdooObs {
    pub fn workers(&self) -> Option<u64> {
        self.conf
            .as_ref()
            .map(|c| c.get_u64("workers").unwrap_or(0))
    }

    /// odoo.conf's ports, with Odoo's defaults (inside the container, for a container).
    pub fn conf_http_port(&self) -> u16 {
        self.conf
            .as_ref()
            .and_then(|c| c.get_u64("http_port"))
            .map_or(8069, |p| p as u16)
    }

    pub fn conf_gevent_port(&self) -> u16 {
        self.conf
            .as_ref()
            .and_then(|c| c.get_u64("gevent_port"))
            .map_or(8072, |p| p as u16)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostObs {
    pub command: String,
    pub listeners: Vec<Listener>,
    pub mem_total_kib: u64,
    pub mem_available_kib: u64,
    /// `/proc/pressure/memory` `some avg60`.
    pub mem_pressure_avg60: Option<f64>,
    pub disks: Vec<Disk>,
    /// Kernel OOM-kill lines from the last hour.
    pub recent_oom_lines: Vec<String>,
    pub oom_kills_since_boot: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InternalObs {
    pub http_health: Option<HttpProbe>,
    pub gevent_health: Option<HttpProbe>,
    pub gevent_websocket: Option<HttpProbe>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertObs {
    pub subject_names: Vec<String>,
    pub not_after: String,
    pub days_left: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EdgeObs {
    /// `https://erp.example.com` (with a port when not the default).
    pub url: Option<String>,
    /// The address connected to, when the name is not looked up in DNS.
    pub connect_to: Option<String>,
    pub tls: bool,
    pub health: Option<HttpProbe>,
    pub login: Option<HttpProbe>,
    pub websocket: Option<HttpProbe>,
    pub cert: Option<CertObs>,
    pub cert_error: Option<String>,
    /// Days before expiry that make a warning.
    pub cert_warn_days: i64,
}

impl EdgeObs {
    pub fn with_warn_days(mut self, days: i64) -> Self {
        self.cert_warn_days = days;
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DbObs {
    pub host: String,
    pub port: u16,
    /// `None` when pg_isready is not installed or the host is not reachable from here.
    pub pg_isready: Option<Ran>,
    pub skipped: Option<String>,
}

/// One run's observations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observations {
    pub nginx: NginxObs,
    pub odoo: OdooObs,
    pub host: HostObs,
    pub internal: InternalObs,
    pub edge: EdgeObs,
    pub db: DbObs,
}
