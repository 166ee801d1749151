//! Verdicts on Odoo itself (odoo.conf, the process or container, its log), the host's
//! listening sockets, and the host's resources.

use super::model::{ApplyAction, Evidence, Fix, Outcome};
use super::obs::{ContainerObs, Observations, OdooRuntime};

pub fn evaluate(id: &str, obs: &Observations) -> Option<Outcome> {
    Some(match id {
        "odoo.conf" => conf(obs),
        "odoo.proxy_mode" => with_conf(obs, proxy_mode),
        "odoo.workers" => with_conf(obs, workers),
        "odoo.gevent_port" => with_conf(obs, gevent_port),
        "odoo.limit_time_real" => with_conf(obs, limit_time_real),
        "odoo.memory_limits" => with_conf(obs, memory_limits),
        "odoo.dbfilter" => with_conf(obs, dbfilter),
        "odoo.running" => running(obs),
        "odoo.log" => log(obs),
        "ports.listening" => listening(obs),
        "ports.loopback_only" => loopback_only(obs),
        "resources.memory" => memory(obs),
        "resources.disk" => disk(obs),
        "resources.oom" => oom(obs),
        _ => return None,
    })
}

fn conf_ev(obs: &Observations) -> Evidence {
    Evidence::default().ran(format!(
        "read {}",
        obs.odoo.conf_source.as_deref().unwrap_or("odoo.conf")
    ))
}

fn conf(obs: &Observations) -> Outcome {
    let o = &obs.odoo;
    if let Some(c) = &o.conf {
        return Outcome::pass(format!("{} option(s) read", c.options.len()), conf_ev(obs));
    }
    if let OdooRuntime::NotFound { looked } = &o.runtime {
        return Outcome::skip(format!(
            "Odoo was not found ({looked}), so its odoo.conf is unknown"
        ));
    }
    if o.conf_error
        .as_deref()
        .is_some_and(|e| e.contains("Permission denied") || e.contains("permission denied"))
    {
        return Outcome::could_not_check(
            format!(
                "could not check: odoo.conf is not readable by this user ({})",
                o.conf_error.as_deref().unwrap_or_default()
            ),
            conf_ev(obs),
        );
    }
    Outcome::fail(
        "odoo.conf could not be read",
        conf_ev(obs).line(o.conf_error.clone().unwrap_or_default()),
        format!(
            "Odoo's configuration could not be read: {}",
            o.conf_error.as_deref().unwrap_or("unknown error")
        ),
    )
}

fn with_conf(
    obs: &Observations,
    f: fn(&Observations, &crate::odoo::conf::OdooConf) -> Outcome,
) -> Outcome {
    match &obs.odoo.conf {
        Some(c) => f(obs, c),
        None => Outcome::skip("odoo.conf was not read"),
    }
}

fn source(obs: &Observations) -> String {
    obs.odoo
        .conf_source
        .clone()
        .unwrap_or_else(|| "odoo.conf".into())
}

fn set_option_fix(obs: &Observations, line: &str) -> Fix {
    restart_fix(
        obs,
        format!(
            "In {} under [options] set `{line}`, then restart Odoo",
            source(obs)
        ),
    )
}

/// A change that takes effect once Odoo restarts: the restart command as it is installed.
pub(super) fn restart_fix(obs: &Observations, summary: String) -> Fix {
    match restart_command(obs) {
        Some(cmd) => Fix::command(summary, cmd),
        None => Fix::text(format!("{summary} ({})", restart_hint(obs))),
    }
}

/// The command that restarts Odoo as it is installed here: the container, or the
/// systemd unit a host install runs in. `None` when neither is known.
pub fn restart_command(obs: &Observations) -> Option<String> {
    match &obs.odoo.runtime {
        OdooRuntime::Container(c) => Some(format!("docker restart {}", c.name)),
        OdooRuntime::Process { .. } => obs
            .odoo
            .service_unit
            .as_ref()
            .map(|u| format!("systemctl restart {u}")),
        OdooRuntime::NotFound { .. } => None,
    }
}

/// How to restart Odoo when no exact command is known.
fn restart_hint(obs: &Observations) -> String {
    match &obs.odoo.runtime {
        OdooRuntime::Process {
            process: Some(p), ..
        } => format!(
            "it runs outside systemd as pid {}: stop it and start `{}` again the way it was started",
            p.pid, p.args
        ),
        OdooRuntime::Process { config, .. } => format!(
            "with its service manager (`systemctl list-units --all 'odoo*'` finds its unit), or `odoo-bin -c {}`",
            config
                .as_ref()
                .map_or("ODOO_CONF".into(), |c| c.display().to_string())
        ),
        _ => "the way it is installed".into(),
    }
}

fn proxy_mode(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    let ev = conf_ev(obs).line(format!(
        "proxy_mode = {}",
        c.get("proxy_mode").unwrap_or("(unset: False)")
    ));
    if c.get_bool("proxy_mode") == Some(true) {
        return Outcome::pass("proxy_mode = True", ev);
    }
    Outcome::fail(
        "proxy_mode is not True",
        ev,
        "Odoo runs behind nginx without proxy_mode: it ignores X-Forwarded-* and builds wrong URLs (redirect loops)",
    )
    .with_fix(set_option_fix(obs, "proxy_mode = True"))
}

fn workers(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    let n = c.get_u64("workers").unwrap_or(0);
    let ev = conf_ev(obs).line(format!(
        "workers = {}",
        c.get("workers").unwrap_or("(unset: 0)")
    ));
    if n > 0 {
        return Outcome::pass(format!("workers = {n}"), ev);
    }
    Outcome::fail(
        "workers = 0 (threaded mode)",
        ev,
        "odoo.conf has workers = 0: Odoo runs without the gevent port, so every websocket through nginx fails",
    )
    .with_fix(set_option_fix(obs, "workers = 2"))
}

fn gevent_port(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    let conf_port = obs.odoo.conf_gevent_port();
    let mut ev = conf_ev(obs).line(format!(
        "gevent_port = {}",
        c.get("gevent_port").unwrap_or("(unset: 8072)")
    ));
    let nginx_ports: Vec<u16> = obs
        .nginx
        .site
        .as_ref()
        .and_then(|s| s.route("/websocket"))
        .and_then(|l| l.proxy_pass.as_ref())
        .map(|p| p.endpoints.iter().map(|e| e.port).collect())
        .unwrap_or_default();
    let host_port = obs.odoo.gevent_port.unwrap_or(conf_port);
    let nginx_shown = if nginx_ports.is_empty() {
        "none".to_string()
    } else {
        nginx_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    ev = ev.line(format!(
        "as seen from the host: {host_port}; nginx's /websocket upstream: {nginx_shown}"
    ));
    if c.get("longpolling_port").is_some() && c.get("gevent_port").is_none() {
        return Outcome::warn(
            "longpolling_port is set; Odoo 18 reads gevent_port",
            ev,
            "Odoo 18 ignores longpolling_port and uses gevent_port (default 8072)",
        )
        .with_fix(set_option_fix(
            obs,
            &format!(
                "gevent_port = {}",
                c.get("longpolling_port").unwrap_or("8072")
            ),
        ));
    }
    if nginx_ports.contains(&host_port) {
        Outcome::pass(
            format!("gevent port {host_port} is nginx's websocket upstream"),
            ev,
        )
    } else {
        Outcome::fail(
            format!("gevent port {host_port} is not nginx's websocket upstream ({nginx_shown})"),
            ev,
            format!(
                "Odoo's gevent port is {host_port} but nginx sends websockets to port {nginx_shown}"
            ),
        )
    }
}

fn limit_time_real(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    let limit = c.get_u64("limit_time_real").unwrap_or(120);
    let read = obs
        .nginx
        .site
        .as_ref()
        .and_then(|s| s.route("/"))
        .map(|l| l.read_timeout.value.as_secs());
    let ev = conf_ev(obs).line(format!(
        "limit_time_real = {limit}; nginx proxy_read_timeout on / = {}",
        read.map_or("?".into(), |r| format!("{r}s"))
    ));
    match read {
        Some(r) if r < limit => Outcome::warn(
            format!("nginx gives up after {r}s, Odoo allows a request {limit}s"),
            ev,
            "requests Odoo would finish are cut by nginx with 504",
        ),
        _ => Outcome::pass(
            format!("limit_time_real {limit}s within nginx's read timeout"),
            ev,
        ),
    }
}

fn memory_limits(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    // The rule lives with the renderer's sizing, so a rendered stack passes this check.
    use crate::stack::sizing::{OdooMemory, memory_fit};
    let limits = OdooMemory::from_conf(c);
    let ram = obs.host.mem_total_kib * 1024;
    let fit = memory_fit(&limits, ram);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let ev = conf_ev(obs).line(fit.explain(&limits));
    if ram == 0 {
        return Outcome::skip("the host's RAM is unknown");
    }
    if !fit.fits() {
        Outcome::warn(
            format!(
                "workers may use {:.1} GiB; {:.1} GiB of {:.1} GiB RAM is left for Odoo",
                gib(fit.need),
                gib(fit.budget()),
                gib(ram)
            ),
            ev,
            "Odoo's memory limits allow more than the droplet's RAM: the kernel OOM-kills workers (502, upstream prematurely closed)",
        )
        .with_fix(Fix::text(format!(
            "Lower workers or limit_memory_soft/limit_memory_hard in {} so they fit in RAM (`odoo-ops render --size` computes them for a droplet size)",
            source(obs)
        )))
    } else {
        Outcome::pass(
            format!(
                "{:.1} GiB worst case fits {:.1} GiB RAM",
                gib(fit.need),
                gib(ram)
            ),
            ev,
        )
    }
}

/// Odoo serves one database per request: `db_name` or `dbfilter` choose it, else it
/// must be the only one. With several and neither, a real Odoo 18 answers `/web/login`
/// with a 303 to `/web/database/selector` and the websocket handshake with 404
/// (shared/odoo18/multi-db-without-dbfilter.txt), while /web/health still passes.
fn dbfilter(obs: &Observations, c: &crate::odoo::conf::OdooConf) -> Outcome {
    let set = |k: &str| c.get(k).filter(|v| !v.is_empty() && *v != "False");
    let mut ev = conf_ev(obs);
    for key in ["db_name", "dbfilter"] {
        if let Some(v) = set(key) {
            return Outcome::pass(format!("{key} = {v}"), ev.line(format!("{key} = {v}")));
        }
    }
    ev = ev.line("db_name and dbfilter: not set");
    // With the database down Odoo sends /web/login to the selector too: that is
    // db.odoo_health's cause, not this one.
    let db_up = obs
        .internal
        .http_health
        .as_ref()
        .and_then(|p| p.db_status())
        .unwrap_or(true);
    let mut seen = Vec::new();
    if let Some(p) = obs
        .edge
        .login
        .as_ref()
        .filter(|p| p.redirects_to_selector())
    {
        seen.push(format!("{} -> 303 /web/database/selector", p.request));
    }
    for p in [
        obs.internal.gevent_websocket.as_ref(),
        obs.edge.websocket.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.status == Some(404))
    {
        seen.push(format!("{} -> 404", p.request));
    }
    if seen.is_empty() || !db_up {
        return Outcome::pass(
            "neither db_name nor dbfilter, and Odoo serves a single database",
            ev,
        );
    }
    Outcome::fail(
        "several databases and neither dbfilter nor db_name",
        ev.lines(seen),
        "odoo.conf sets neither dbfilter nor db_name and the server holds several databases: Odoo cannot choose one, so /web/login sends users to the database selector and the websocket handshake answers 404 (the bus never connects)",
    )
    .with_fix(restart_fix(
        obs,
        format!(
            "In {} under [options] set `dbfilter = ^DBNAME$` (or `db_name = DBNAME`), DBNAME being the database this site serves, then restart Odoo",
            source(obs)
        ),
    ))
}

fn container_ev(c: &ContainerObs) -> Evidence {
    Evidence::default()
        .ran(format!("docker inspect {}", c.name))
        .line(format!(
            "state {} restarting={} exit_code={} oom_killed={} restarts={} started {} finished {}",
            c.status,
            c.restarting,
            c.exit_code.map_or("-".into(), |e| e.to_string()),
            c.oom_killed,
            c.restart_count,
            c.started_at,
            c.finished_at
        ))
}

/// A restart count this high means the container keeps dying, even if it is up right now.
pub const CRASH_LOOP_RESTARTS: i64 = 3;

fn running(obs: &Observations) -> Outcome {
    let mut outcome = running_outcome(obs);
    // How Odoo was found (chosen, not chosen, refused files) goes with this check.
    outcome
        .evidence
        .lines
        .extend(obs.odoo.located.iter().cloned());
    outcome
}

fn running_outcome(obs: &Observations) -> Outcome {
    if let (OdooRuntime::NotFound { .. }, Some(e)) = (&obs.odoo.runtime, &obs.odoo.docker_error) {
        return Outcome::skip(format!(
            "Docker could not be asked ({e}) and no Odoo process was found on the host, so whether Odoo runs is unknown"
        ));
    }
    match &obs.odoo.runtime {
        OdooRuntime::Container(c) => container_running(obs, c),
        OdooRuntime::Process { config, process } => {
            let ev = Evidence::default().ran(crate::host::processes::SHOWN_COMMAND);
            match process {
                // The sentence shows the first words; the evidence the whole command line
                // (redacted with the rest of the report), so nothing it says is cut off.
                Some(p) => Outcome::pass(
                    format!("pid {}: {}", p.pid, crate::host::processes::shorten(&p.args)),
                    ev.line(format!("command line: {}", p.args)),
                ),
                None => Outcome::fail(
                    "no Odoo process is running",
                    ev.line(format!(
                        "no process runs with config {}",
                        config.as_ref().map_or("?".into(), |c| c.display().to_string())
                    )),
                    "Odoo is not running: nothing listens behind nginx, every request is a 502",
                )
                .with_fix(Fix::text(format!(
                    "Start Odoo {}",
                    restart_hint(obs)
                ))),
            }
        }
        OdooRuntime::NotFound { looked } => Outcome::fail(
            "Odoo was not found running",
            Evidence::default().ran(looked.clone()),
            "Odoo is not running (no container, no odoo process): nginx has nothing to proxy to, every request is a 502",
        )
        // Nothing says how Odoo is installed here, so no single command is offered.
        .with_fix(Fix::text(
            "Start Odoo the way it is installed: `docker compose up -d` in its compose project's directory, or `systemctl start` its unit for a host install",
        )),
    }
}

fn fatal_hint(obs: &Observations) -> Option<String> {
    scan_log(&obs.odoo.log_lines)
        .into_iter()
        .find(|m| m.severity == Severity::Fatal)
        .map(|m| format!(" (log: {})", m.meaning))
}

fn container_running(obs: &Observations, c: &ContainerObs) -> Outcome {
    let ev = container_ev(c);
    let hint = fatal_hint(obs).unwrap_or_default();
    if c.oom_killed {
        return Outcome::fail(
            format!("{} was OOM-killed", c.name),
            ev,
            format!(
                "the Odoo container {} was killed by the kernel for memory (OOMKilled){}: workers need more memory than allowed",
                c.name,
                if c.memory_limit > 0 { format!(", limit {} MiB", c.memory_limit >> 20) } else { String::new() }
            ),
        )
        .with_fix(Fix::text(
            "Lower workers/limit_memory_hard in odoo.conf or raise the container's memory limit (deploy.resources.limits.memory), then restart",
        ));
    }
    if c.restarting || c.restart_count >= CRASH_LOOP_RESTARTS {
        return Outcome::fail(
            format!("{} is crash-looping ({} restarts)", c.name, c.restart_count),
            ev,
            format!(
                "the Odoo container {} keeps crashing and restarting ({} restarts, last exit code {}){hint}",
                c.name,
                c.restart_count,
                c.exit_code.unwrap_or_default()
            ),
        )
        .with_fix(Fix::command(
            "Read why it dies, fix that, then start it again",
            format!("docker logs --tail 200 {}", c.name),
        ));
    }
    if !c.running {
        let code = c.exit_code.unwrap_or_default();
        let killed = if code == 137 {
            " (137: killed with SIGKILL)"
        } else {
            ""
        };
        return Outcome::fail(
            format!("{} is {} (exit code {code}{killed})", c.name, c.status),
            ev,
            format!("the Odoo container {} is not running (exited with code {code}{killed}){hint}: every request is a 502", c.name),
        )
        .with_fix(Fix {
            apply: Some(ApplyAction::RestartContainer {
                container: c.name.clone(),
            }),
            ..Fix::command("Start the container again", format!("docker start {}", c.name))
        });
    }
    if c.restart_count > 0 {
        return Outcome::warn(
            format!("running, but restarted {} time(s)", c.restart_count),
            ev,
            format!(
                "the Odoo container {} has restarted {} time(s)",
                c.name, c.restart_count
            ),
        );
    }
    Outcome::pass(format!("{} running since {}", c.name, c.started_at), ev)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Warning,
}

/// A known bad line in Odoo's log and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMatch {
    pub line: String,
    pub meaning: &'static str,
    pub severity: Severity,
}

/// Patterns an operator knows by heart. Database and websocket errors are warnings here
/// because the Database and nginx checks own those causes.
const PATTERNS: &[(&str, &str, Severity)] = &[
    (
        "ModuleNotFoundError",
        "a Python dependency is missing",
        Severity::Fatal,
    ),
    (
        "ImportError",
        "a Python dependency is missing",
        Severity::Fatal,
    ),
    (
        "Address already in use",
        "the port is already in use by another process",
        Severity::Fatal,
    ),
    (
        "Failed to load registry",
        "the registry failed to load (a failed module upgrade)",
        Severity::Fatal,
    ),
    (
        "Some modules are not loaded",
        "a module upgrade failed",
        Severity::Fatal,
    ),
    // Not `odoo.modules.loading: Modules loaded.`: every worker logs that on a good
    // start. A module that fails logs these (shared/odoo18/modules/install-fail-*.log).
    (
        "Couldn't load module",
        "a module failed to load",
        Severity::Fatal,
    ),
    (
        "Failed to initialize database",
        "Odoo could not load its database (a failed module install or upgrade)",
        Severity::Fatal,
    ),
    (
        "Transient module states were reset",
        "a module install or upgrade failed and was rolled back",
        Severity::Warning,
    ),
    ("MemoryError", "Odoo ran out of memory", Severity::Fatal),
    (
        "virtual memory limit",
        "a worker was killed for memory (limit_memory_hard)",
        Severity::Warning,
    ),
    (
        "virtual real time limit",
        "a worker was killed for time (limit_time_real)",
        Severity::Warning,
    ),
    (
        "CPU time limit",
        "a worker was killed for CPU time (limit_time_cpu)",
        Severity::Warning,
    ),
    (
        "Couldn't bind the websocket",
        "a websocket reached the HTTP port (misrouted)",
        Severity::Warning,
    ),
    (
        "could not connect to server",
        "the database refused connections",
        Severity::Warning,
    ),
    (
        "Connection refused",
        "a connection was refused (database?)",
        Severity::Warning,
    ),
    // db.odoo_health owns this cause (with its fix); here it is evidence.
    (
        "password authentication failed",
        "the database rejected Odoo's credentials",
        Severity::Warning,
    ),
];

/// The known bad lines among `lines`, most recent first.
pub fn scan_log(lines: &[String]) -> Vec<LogMatch> {
    let mut out = Vec::new();
    for line in lines.iter().rev() {
        if let Some((_, meaning, severity)) = PATTERNS.iter().find(|(p, _, _)| line.contains(p)) {
            out.push(LogMatch {
                line: line.clone(),
                meaning,
                severity: *severity,
            });
        }
    }
    out
}

fn log(obs: &Observations) -> Outcome {
    let o = &obs.odoo;
    let Some(command) = &o.log_command else {
        return Outcome::skip(match &o.runtime {
            OdooRuntime::Process { .. } => {
                "Odoo has no logfile in odoo.conf (it logs to the journal); nothing to scan"
            }
            _ => "Odoo's log is not available",
        });
    };
    let mut ev = Evidence::default().ran(command);
    if let Some(e) = &o.log_error {
        return Outcome::skip(format!("could not read Odoo's log: {e}"));
    }
    if let Some(since) = &o.log_since {
        ev = ev.line(format!(
            "only lines since the running Odoo started ({since}) are read"
        ));
    }
    let matches = scan_log(&o.log_lines);
    if matches.is_empty() {
        return Outcome::pass(
            format!("{} line(s), no known fatal pattern", o.log_lines.len()),
            ev,
        );
    }
    for m in matches.iter().take(5) {
        ev = ev.line(format!("{}: {}", m.meaning, m.line));
    }
    match matches.iter().find(|m| m.severity == Severity::Fatal) {
        Some(m) => Outcome::fail(
            m.meaning.to_string(),
            ev,
            format!("Odoo's log says {}: {}", m.meaning, m.line.trim()),
        ),
        None => Outcome::warn(
            matches[0].meaning.to_string(),
            ev,
            format!("Odoo's log says {}", matches[0].meaning),
        ),
    }
}

fn host_ev(obs: &Observations) -> Evidence {
    Evidence::default().ran(obs.host.command.clone())
}

fn listening(obs: &Observations) -> Outcome {
    if obs.host.error.is_some() {
        return Outcome::skip("the host's sockets could not be read");
    }
    let mut ev = host_ev(obs);
    let mut missing = Vec::new();
    let ports = [
        ("HTTP", obs.odoo.http_port),
        ("gevent", obs.odoo.gevent_port),
    ];
    if ports.iter().all(|(_, p)| p.is_none()) {
        return Outcome::skip(
            "Odoo's ports are unknown (Odoo not found, or its ports are not published)",
        );
    }
    for (role, port) in ports {
        let Some(port) = port else {
            ev = ev.line(format!("{role}: not published to the host"));
            continue;
        };
        let addrs: Vec<&str> = obs
            .host
            .listeners
            .iter()
            .filter(|l| l.port == port)
            .map(|l| l.address.as_str())
            .collect();
        if addrs.is_empty() {
            ev = ev.line(format!("{role} port {port}: not listening"));
            missing.push(format!("{role} port {port}"));
        } else {
            ev = ev.line(format!("{role} port {port}: {}", addrs.join(", ")));
        }
    }
    if missing.is_empty() {
        return Outcome::pass("HTTP and gevent ports listen", ev);
    }
    Outcome::fail(
        format!("not listening: {}", missing.join(", ")),
        ev,
        format!(
            "nothing listens on Odoo's {}: nginx's connections there are refused (502)",
            missing.join(" and ")
        ),
    )
}

fn loopback_only(obs: &Observations) -> Outcome {
    let mut ev = host_ev(obs);
    let mut exposed = Vec::new();
    if let OdooRuntime::Container(c) = &obs.odoo.runtime {
        ev = ev.ran(format!("docker inspect {} (published ports)", c.name));
        for p in &c.published {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            ev = ev.line(format!("{ip}:{} -> {}", p.host_port, p.container_port));
            let loopback = ip.starts_with("127.") || ip == "::1";
            if !loopback {
                exposed.push(format!("{ip}:{}", p.host_port));
            }
        }
    }
    for port in [obs.odoo.http_port, obs.odoo.gevent_port]
        .into_iter()
        .flatten()
    {
        for l in obs
            .host
            .listeners
            .iter()
            .filter(|l| l.port == port && !l.is_loopback())
        {
            let a = format!("{}:{}", l.address, l.port);
            if !exposed.iter().any(|e| e.ends_with(&format!(":{port}"))) {
                exposed.push(a);
            }
        }
    }
    if exposed.is_empty() {
        if obs.odoo.http_port.is_none() && obs.odoo.gevent_port.is_none() {
            return Outcome::skip("Odoo's ports are unknown");
        }
        return Outcome::pass("Odoo's ports are bound to loopback only", ev);
    }
    let fix = match &obs.odoo.runtime {
        OdooRuntime::Container(c) => Fix::text(format!(
            "Publish only on loopback in the compose file: ports: [\"127.0.0.1:{p}:{p}\"] for {}, then docker compose up -d",
            c.name,
            p = obs.odoo.conf_http_port()
        )),
        _ => Fix::text("Set `http_interface = 127.0.0.1` in odoo.conf and restart Odoo"),
    };
    Outcome::fail(
        format!("reachable beyond loopback: {}", exposed.join(", ")),
        ev,
        format!(
            "Odoo's port is published on {}: anyone can reach Odoo around nginx (no TLS, no proxy headers)",
            exposed.join(", ")
        ),
    )
    .with_fix(fix)
}

fn memory(obs: &Observations) -> Outcome {
    let h = &obs.host;
    if h.mem_total_kib == 0 {
        return Outcome::skip("/proc/meminfo was not read");
    }
    let free = h.mem_available_kib as f64 / h.mem_total_kib as f64;
    let ev = host_ev(obs).line(format!(
        "MemAvailable {} MiB of {} MiB ({:.0}%); memory pressure avg60 {}",
        h.mem_available_kib / 1024,
        h.mem_total_kib / 1024,
        free * 100.0,
        h.mem_pressure_avg60
            .map_or("n/a".into(), |p| format!("{p:.2}"))
    ));
    if free < 0.05 {
        Outcome::fail(
            format!("only {:.0}% of memory available", free * 100.0),
            ev,
            "the host is out of memory: workers get OOM-killed (502, upstream prematurely closed)",
        )
        .with_fix(Fix::text("Lower Odoo's workers or resize the droplet"))
    } else if free < 0.10 || h.mem_pressure_avg60.is_some_and(|p| p > 10.0) {
        Outcome::warn(
            format!("{:.0}% of memory available", free * 100.0),
            ev,
            "the host is short of memory",
        )
    } else {
        Outcome::pass(format!("{:.0}% of memory available", free * 100.0), ev)
    }
}

fn disk(obs: &Observations) -> Outcome {
    let h = &obs.host;
    if h.disks.is_empty() {
        return Outcome::skip("df was not read");
    }
    let mut ev = host_ev(obs);
    let mut worst: Option<(f64, String)> = None;
    for d in &h.disks {
        let used = d.used_fraction();
        ev = ev.line(format!(
            "{} ({}) {:.0}% used",
            d.label,
            d.mount,
            used * 100.0
        ));
        if worst.as_ref().is_none_or(|(w, _)| used > *w) {
            worst = Some((used, d.mount.clone()));
        }
    }
    let (used, mount) = worst.unwrap_or_default();
    if used >= 0.95 {
        Outcome::fail(
            format!("{mount} is {:.0}% full", used * 100.0),
            ev,
            format!("the disk at {mount} is full: PostgreSQL and Odoo's filestore cannot write"),
        )
        .with_fix(Fix::command("Reclaim Docker space", "docker system prune"))
    } else if used >= 0.90 {
        Outcome::warn(
            format!("{mount} is {:.0}% full", used * 100.0),
            ev,
            "a disk is nearly full",
        )
    } else {
        Outcome::pass(format!("fullest disk {mount} at {:.0}%", used * 100.0), ev)
    }
}

fn oom(obs: &Observations) -> Outcome {
    let h = &obs.host;
    let mut ev = host_ev(obs).line(format!(
        "OOM kills since boot: {}",
        h.oom_kills_since_boot
            .map_or("n/a".into(), |n| n.to_string())
    ));
    if h.recent_oom_lines.is_empty() {
        return Outcome::pass("no OOM kill in the last hour", ev);
    }
    ev = ev.lines(h.recent_oom_lines.iter().rev().take(5).cloned());
    Outcome::warn(
        format!(
            "{} OOM kill line(s) in the last hour",
            h.recent_oom_lines.len()
        ),
        ev,
        "the kernel killed processes for memory in the last hour",
    )
}
