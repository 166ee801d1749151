//! The checklist in the order a senior operator works through a 502, and the pure
//! evaluation of observations into results (prerequisites applied).

use super::model::{CheckDef, CheckResult, Group, Kind, Outcome, Verdict};
use super::obs::Observations;
use super::{verdict_edge, verdict_nginx, verdict_odoo};

const fn def(
    id: &'static str,
    group: Group,
    title: &'static str,
    runs: &'static str,
    kind: Kind,
    requires: &'static [&'static str],
) -> CheckDef {
    CheckDef {
        id,
        group,
        title,
        runs,
        kind,
        requires,
    }
}

use Group::*;
use Kind::*;

pub const CHECKS: &[CheckDef] = &[
    def(
        "nginx.running",
        Nginx,
        "nginx is running",
        "ps: look for the nginx master process and its -c/-p",
        Cause,
        &[],
    ),
    def(
        "nginx.config_test",
        Nginx,
        "nginx -t passes",
        "nginx -t with the master's -c/-p",
        Cause,
        &[],
    ),
    def(
        "nginx.reloaded",
        Nginx,
        "Loaded configuration equals the one on disk",
        "compare config files' mtimes with the workers' start (last reload)",
        Cause,
        &["nginx.running"],
    ),
    def(
        "nginx.site",
        NginxSite,
        "Odoo server block found",
        "nginx -T, parsed: server blocks that proxy to Odoo",
        Cause,
        &[],
    ),
    def(
        "nginx.route_root",
        NginxSite,
        "/ goes to Odoo's HTTP port",
        "location / proxy_pass, resolved through upstream blocks",
        Cause,
        &["nginx.site"],
    ),
    def(
        "nginx.route_websocket",
        NginxSite,
        "/websocket goes to Odoo's gevent port",
        "location /websocket proxy_pass, resolved through upstream blocks",
        Cause,
        &["nginx.site"],
    ),
    def(
        "nginx.websocket_headers",
        NginxSite,
        "Websocket route upgrades the connection",
        "proxy_http_version 1.1, proxy_set_header Upgrade/Connection in location /websocket",
        Cause,
        &["nginx.route_websocket"],
    ),
    def(
        "nginx.route_longpolling",
        NginxSite,
        "/longpolling (if present) goes to the gevent port",
        "location /longpolling proxy_pass",
        Cause,
        &["nginx.site"],
    ),
    def(
        "nginx.timeouts",
        NginxSite,
        "Proxy timeouts fit Odoo",
        "proxy_read_timeout >= 720s, proxy_connect_timeout >= 60s, proxy_send_timeout >= 600s on / and /websocket",
        Cause,
        &["nginx.site"],
    ),
    def(
        "nginx.forward_headers",
        NginxSite,
        "Forwarded headers are set",
        "proxy_set_header X-Forwarded-Proto, X-Forwarded-For, Host on /",
        Cause,
        &["nginx.site"],
    ),
    def(
        "nginx.body_size",
        NginxSite,
        "Uploads fit client_max_body_size",
        "client_max_body_size on /",
        Cause,
        &["nginx.site"],
    ),
    def(
        "odoo.conf",
        OdooConf,
        "odoo.conf is readable",
        "read odoo.conf from the container or the process's -c",
        Cause,
        &[],
    ),
    def(
        "odoo.proxy_mode",
        OdooConf,
        "proxy_mode = True",
        "odoo.conf proxy_mode",
        Cause,
        &["odoo.conf"],
    ),
    def(
        "odoo.workers",
        OdooConf,
        "workers > 0 (gevent port exists)",
        "odoo.conf workers",
        Cause,
        &["odoo.conf"],
    ),
    def(
        "odoo.gevent_port",
        OdooConf,
        "gevent_port matches nginx's websocket upstream",
        "odoo.conf gevent_port against nginx's /websocket upstream",
        Cause,
        &["odoo.conf", "nginx.site"],
    ),
    def(
        "odoo.limit_time_real",
        OdooConf,
        "limit_time_real fits nginx's read timeout",
        "odoo.conf limit_time_real against proxy_read_timeout",
        Cause,
        &["odoo.conf", "nginx.site"],
    ),
    def(
        "odoo.memory_limits",
        OdooConf,
        "Memory limits fit the droplet's RAM",
        "odoo.conf memory limits x processes against MemTotal",
        Cause,
        &["odoo.conf"],
    ),
    def(
        "odoo.dbfilter",
        OdooConf,
        "Odoo can choose its database",
        "odoo.conf dbfilter/db_name; /web/login (303 to the database selector) and the websocket handshake (404)",
        Cause,
        &["odoo.conf"],
    ),
    def(
        "odoo.running",
        OdooRuntime,
        "Odoo is running",
        "Docker: container state, restarts, exit code, OOMKilled; or the odoo process",
        Cause,
        &[],
    ),
    def(
        "odoo.log",
        OdooRuntime,
        "Odoo's log has no fatal errors",
        "last 200 log lines scanned for known fatal patterns",
        Cause,
        &[],
    ),
    def(
        "ports.listening",
        Sockets,
        "Odoo's ports are listening",
        "/proc/net/tcp{,6}: the HTTP and gevent ports",
        Cause,
        &[],
    ),
    def(
        "ports.loopback_only",
        Sockets,
        "Odoo's ports listen on 127.0.0.1 only",
        "/proc/net/tcp{,6} and Docker's published ports",
        Cause,
        &[],
    ),
    def(
        "health.http",
        InternalHealth,
        "HTTP port answers /web/health",
        "GET /web/health?db_server_status=1 on the HTTP port",
        Symptom,
        &[],
    ),
    def(
        "health.gevent",
        InternalHealth,
        "Gevent port answers /web/health",
        "GET /web/health?db_server_status=1 on the gevent port",
        Symptom,
        &[],
    ),
    def(
        "health.websocket",
        InternalHealth,
        "Gevent port accepts a websocket",
        "websocket handshake on /websocket of the gevent port (expects 101)",
        Symptom,
        &[],
    ),
    def(
        "edge.health",
        Edge,
        "Edge answers /web/health",
        "GET EDGE/web/health through nginx",
        Symptom,
        &["nginx.running", "nginx.site"],
    ),
    def(
        "edge.login",
        Edge,
        "Edge serves the login page",
        "GET EDGE/web/login: 200 with a login form",
        Symptom,
        &["nginx.running", "nginx.site"],
    ),
    def(
        "edge.websocket",
        Edge,
        "Edge accepts a websocket",
        "websocket handshake on EDGE/websocket (expects 101)",
        Symptom,
        &["nginx.running", "nginx.site"],
    ),
    def(
        "edge.tls",
        Edge,
        "TLS certificate is valid",
        "TLS handshake verified against the system trust store; names; days to expiry",
        Cause,
        &["nginx.running", "nginx.site"],
    ),
    def(
        "db.pg_isready",
        Database,
        "PostgreSQL accepts connections",
        "pg_isready -h DB_HOST -p DB_PORT",
        Cause,
        &[],
    ),
    def(
        "db.odoo_health",
        Database,
        "Odoo reaches its database",
        "db_server_status in /web/health?db_server_status=1",
        Cause,
        &[],
    ),
    def(
        "nginx.error_log",
        ErrorLog,
        "No upstream failures in nginx's error log",
        "error.log, last minutes: refused, timed out, prematurely closed, no live upstreams",
        Symptom,
        &[],
    ),
    def(
        "resources.memory",
        Resources,
        "Memory is not exhausted",
        "/proc/meminfo MemAvailable, /proc/pressure/memory",
        Cause,
        &[],
    ),
    def(
        "resources.disk",
        Resources,
        "Disks are not full",
        "df / and Docker's data dir",
        Cause,
        &[],
    ),
    def(
        "resources.oom",
        Resources,
        "No recent OOM kills",
        "kernel log (last hour), /proc/vmstat oom_kill",
        Cause,
        &[],
    ),
];

pub fn find(id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|d| d.id == id)
}

/// One check's verdict from the observations, prerequisites not considered.
pub fn outcome(id: &str, obs: &Observations) -> Outcome {
    verdict_nginx::evaluate(id, obs)
        .or_else(|| verdict_odoo::evaluate(id, obs))
        .or_else(|| verdict_edge::evaluate(id, obs))
        .unwrap_or_else(|| Outcome::skip(format!("unknown check {id}")))
}

pub fn result(def: &CheckDef, outcome: Outcome) -> CheckResult {
    CheckResult {
        id: def.id,
        group: def.group,
        title: def.title,
        runs: def.runs,
        kind: def.kind,
        outcome,
    }
}

/// Every check in order; one whose prerequisite failed (or was skipped for one) is skipped.
pub fn evaluate(obs: &Observations) -> Vec<CheckResult> {
    let mut results: Vec<CheckResult> = Vec::with_capacity(CHECKS.len());
    for def in CHECKS {
        let blocked = def.requires.iter().find(|r| {
            let earlier = results.iter().find(|c| c.id == **r);
            let verdict = match earlier {
                Some(c) => c.outcome.verdict,
                None => outcome(r, obs).verdict,
            };
            verdict == Verdict::Fail
                || (verdict == Verdict::Skipped
                    && earlier.is_some_and(|c| {
                        c.outcome.could_not_check || c.outcome.summary.starts_with("prerequisite")
                    }))
        });
        let outcome = match blocked {
            Some(r) => Outcome::skip(format!("prerequisite {r} did not pass")),
            None => outcome(def.id, obs),
        };
        results.push(result(def, outcome));
    }
    results
}
