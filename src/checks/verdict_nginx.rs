//! Verdicts on nginx: the process, its configuration, the Odoo site in it, its error log.

use std::time::Duration;

use super::fixes;
use super::model::{ApplyAction, Evidence, Fix, Outcome};
use super::obs::Observations;
use crate::nginx::UpstreamFailure;
use crate::nginx::site::{Endpoint, Location, OdooSite, Setting};
use crate::nginx::units::format_size;

pub const READ_TIMEOUT_MIN: Duration = Duration::from_secs(720);
/// Below this, long Odoo requests (reports, imports) reliably end in 504.
pub const READ_TIMEOUT_FAIL: Duration = Duration::from_secs(120);
pub const CONNECT_TIMEOUT_MIN: Duration = Duration::from_secs(60);
pub const SEND_TIMEOUT_MIN: Duration = Duration::from_secs(600);
pub const BODY_SIZE_MIN: u64 = 64 << 20;
/// Worker start times are known to ~20 ms and a start follows the write of its config by
/// a few ms; a file must be this much newer than the workers to count as changed.
pub const RELOAD_TOLERANCE_SECS: f64 = 1.0;

pub fn evaluate(id: &str, obs: &Observations) -> Option<Outcome> {
    Some(match id {
        "nginx.running" => running(obs),
        "nginx.config_test" => config_test(obs),
        "nginx.reloaded" => reloaded(obs),
        "nginx.site" => site(obs),
        "nginx.route_root" => with_site(obs, route_root),
        "nginx.route_websocket" => with_site(obs, route_websocket),
        "nginx.websocket_headers" => with_site(obs, websocket_headers),
        "nginx.route_longpolling" => with_site(obs, route_longpolling),
        "nginx.timeouts" => with_site(obs, timeouts),
        "nginx.forward_headers" => with_site(obs, forward_headers),
        "nginx.body_size" => with_site(obs, body_size),
        "nginx.error_log" => error_log(obs),
        _ => return None,
    })
}

fn secs(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn where_set<T>(s: &Setting<T>) -> String {
    s.at.clone().unwrap_or_else(|| "nginx default".into())
}

fn running(obs: &Observations) -> Outcome {
    let n = &obs.nginx;
    let ev = Evidence::default()
        .ran(&n.ps_command)
        .lines(n.refused.iter().cloned());
    if n.running {
        let inv = &n.invocation;
        return Outcome::pass(
            format!(
                "master pid {} ({} workers), config {}",
                inv.master_pid.unwrap_or_default(),
                inv.worker_pids.len(),
                inv.conf
                    .as_ref()
                    .map_or("(compiled-in default)".into(), |c| c.display().to_string())
            ),
            ev,
        );
    }
    if let Some(limited) = &n.limited_view {
        return Outcome::could_not_check(
            format!("nginx's master could not be verified as this login: {limited}"),
            ev,
        );
    }
    let start = n.invocation.command(&[]).display();
    Outcome::fail(
        "no nginx master process is running",
        ev.line("no root-run nginx program owns a listening socket"),
        "nginx is not running, so nothing answers on the edge",
    )
    .with_fix(Fix::command(
        "Start nginx (systemd hosts: systemctl start nginx)",
        start,
    ))
}

fn config_test(obs: &Observations) -> Outcome {
    let Some(test) = &obs.nginx.test else {
        return Outcome::skip("nginx -t was not run");
    };
    let ev = Evidence::default().ran(&test.command).lines(test.lines());
    if let Some(e) = &test.error {
        return Outcome::fail(
            "nginx could not be started for a test",
            ev.line(e.clone()),
            "the nginx binary is missing or not executable",
        );
    }
    if test.ok() {
        Outcome::pass("syntax is ok, test is successful", ev)
    } else if let Some(denied) = permission_denied(&test.lines()) {
        could_not_read(&denied, ev)
    } else {
        let first = test
            .lines()
            .into_iter()
            .find(|l| l.contains("[emerg]") || l.contains("[crit]"))
            .unwrap_or_else(|| "nginx -t failed".into());
        Outcome::fail(
            "nginx -t fails",
            ev,
            format!(
                "nginx's configuration on disk is broken ({first}); a reload or restart will fail"
            ),
        )
        .with_fix(Fix::text(
            "Correct the line nginx -t names, then run nginx -t again",
        ))
    }
}

/// nginx's first fatal line when it is a file this user may not read (a certificate key,
/// a config file, a log): the configuration may be fine, it was not checked.
fn permission_denied(lines: &[String]) -> Option<String> {
    // The fatal line first: an [alert] about the error log comes before it.
    ["[emerg]", "[crit]", "[alert]"].iter().find_map(|level| {
        lines
            .iter()
            .find(|l| l.contains(level) && l.contains("Permission denied"))
            .cloned()
    })
}

fn could_not_read(line: &str, ev: Evidence) -> Outcome {
    Outcome::could_not_check(
        format!(
            "could not check: nginx could not read a file as this user ({})",
            line.trim()
        ),
        ev,
    )
}

fn reloaded(obs: &Observations) -> Outcome {
    let Some(r) = &obs.nginx.reload else {
        return Outcome::skip("configuration files' times were not read");
    };
    let mut ev = Evidence::default().ran(&r.command);
    let Some(started) = r.workers_started else {
        return Outcome::skip("the workers' start time could not be read");
    };
    ev = ev.line(format!(
        "workers started (last start or reload) at {started:.3}"
    ));
    let newer: Vec<&(String, f64)> = r
        .files
        .iter()
        .filter(|(_, m)| *m > started + RELOAD_TOLERANCE_SECS)
        .collect();
    for (f, m) in &r.files {
        ev = ev.line(format!("{m:.3} {f}"));
    }
    if newer.is_empty() {
        return Outcome::pass("no configuration file changed since the last reload", ev);
    }
    let names: Vec<&str> = newer.iter().map(|(f, _)| f.as_str()).collect();
    let test_ok = obs.nginx.test.as_ref().is_some_and(|t| t.ok());
    let fix = Fix {
        apply: test_ok.then_some(ApplyAction::ReloadNginx),
        ..Fix::command(
            "Reload nginx so it uses the configuration on disk (after nginx -t)",
            obs.nginx.invocation.command(&["-s", "reload"]).display(),
        )
    };
    Outcome::fail(
        format!("changed after the last reload: {}", names.join(", ")),
        ev,
        format!(
            "nginx still runs the configuration it loaded before {} changed: the change was never reloaded",
            names.join(", ")
        ),
    )
    .with_fix(fix)
}

fn site(obs: &Observations) -> Outcome {
    let n = &obs.nginx;
    let Some(dump) = &n.dump else {
        return Outcome::skip("nginx -T was not run");
    };
    let ev = Evidence::default().ran(&dump.command);
    if let Some(e) = &n.parse_error {
        return Outcome::fail(
            "nginx -T output could not be read",
            ev.line(e.clone()),
            "nginx's effective configuration could not be read",
        );
    }
    if n.config.is_none() {
        if let Some(denied) = permission_denied(&dump.lines()) {
            return could_not_read(&denied, ev.lines(dump.lines().into_iter().take(5)));
        }
        return Outcome::fail(
            "nginx -T failed",
            ev.lines(dump.lines().into_iter().take(5)),
            "nginx could not print its configuration (nginx -T failed)",
        );
    }
    match &n.site {
        Some(s) => {
            let listens: Vec<String> = s
                .listens
                .iter()
                .map(|l| {
                    format!(
                        "{}{}{}",
                        l.address
                            .as_deref()
                            .map(|a| format!("{a}:"))
                            .unwrap_or_default(),
                        l.port,
                        if l.ssl { " ssl" } else { "" }
                    )
                })
                .collect();
            Outcome::pass(
                format!(
                    "server_name {} listen {} at {}",
                    s.server_names.join(" "),
                    listens.join(", "),
                    s.at()
                ),
                ev.line(format!("{} server block(s) proxy somewhere", n.sites.len())),
            )
        }
        None => {
            let what = match &n.domain {
                Some(d) => format!("no server block with server_name {d} proxies to Odoo"),
                None => "no server block proxies anywhere".into(),
            };
            Outcome::fail(
                what.clone(),
                ev.lines(
                    n.sites
                        .iter()
                        .map(|s| format!("server {} at {}", s.server_names.join(" "), s.at())),
                ),
                format!("nginx has no Odoo site: {what}"),
            )
            .with_fix(Fix::text(
                "Install the Odoo site (seed section 5.1) into sites-enabled and reload nginx",
            ))
        }
    }
}

fn with_site(obs: &Observations, f: fn(&Observations, &OdooSite) -> Outcome) -> Outcome {
    match &obs.nginx.site {
        Some(s) => f(obs, s),
        None => Outcome::skip("no Odoo site in nginx's configuration"),
    }
}

fn endpoints(loc: &Location) -> Vec<Endpoint> {
    loc.proxy_pass
        .as_ref()
        .map(|p| p.endpoints.clone())
        .unwrap_or_default()
}

fn describe_pass(loc: &Location) -> String {
    match &loc.proxy_pass {
        Some(p) => format!(
            "location {} at {}: proxy_pass {} -> {}",
            loc.path,
            loc.at(),
            p.raw,
            p.endpoints
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("location {} at {}: no proxy_pass", loc.path, loc.at()),
    }
}

/// The port Odoo's HTTP (or gevent) service has as seen from the host.
fn expected_http(obs: &Observations) -> u16 {
    obs.odoo.http_port.unwrap_or(8069)
}

fn expected_gevent(obs: &Observations) -> u16 {
    obs.odoo.gevent_port.unwrap_or(8072)
}

fn dump_ran(obs: &Observations) -> Evidence {
    Evidence::default().ran(
        obs.nginx
            .dump
            .as_ref()
            .map(|d| d.command.clone())
            .unwrap_or_default(),
    )
}

fn route_root(obs: &Observations, s: &OdooSite) -> Outcome {
    let want = expected_http(obs);
    let ev = dump_ran(obs).line(format!("Odoo's HTTP port: {want} ({})", port_source(obs)));
    let Some(root) = s.route("/") else {
        return Outcome::fail(
            "no location / in the Odoo site",
            ev,
            "nginx has no route for / to Odoo",
        );
    };
    let ev = ev.line(describe_pass(root));
    let eps = endpoints(root);
    if eps.is_empty() {
        return Outcome::fail(
            "location / does not proxy",
            ev,
            "location / is not proxied to Odoo",
        );
    }
    if eps.iter().all(|e| e.port == want) {
        return Outcome::pass(format!("/ -> {}", eps[0]), ev);
    }
    let wrong: Vec<String> = eps
        .iter()
        .filter(|e| e.port != want)
        .map(ToString::to_string)
        .collect();
    let config = obs.nginx.config.as_ref();
    Outcome::fail(
        format!("/ goes to {} but Odoo's HTTP port is {want}", wrong.join(", ")),
        ev,
        format!(
            "nginx sends / to {} where Odoo does not listen (Odoo's HTTP port is {want}): every page is a 502",
            wrong.join(", ")
        ),
    )
    .with_fix_opt(config.and_then(|c| fixes::retarget_port(c, root, want)))
}

fn port_source(obs: &Observations) -> String {
    match &obs.odoo.conf_source {
        Some(src) => format!("from {src}"),
        None => "Odoo's default".into(),
    }
}

fn route_websocket(obs: &Observations, s: &OdooSite) -> Outcome {
    let gevent = expected_gevent(obs);
    let http = expected_http(obs);
    let ev = dump_ran(obs).line(format!(
        "Odoo's gevent port: {gevent} ({})",
        port_source(obs)
    ));
    let host = s
        .route("/")
        .and_then(|r| endpoints(r).first().map(|e| e.host.clone()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let target = Endpoint { host, port: gevent };
    let config = obs.nginx.config.as_ref();
    let fix = || config.and_then(|c| fixes::websocket_route(c, s, &target));
    let Some(loc) = s
        .route("/websocket")
        .filter(|l| l.path.starts_with("/websocket"))
    else {
        let falls = s.route("/websocket").map(describe_pass).unwrap_or_default();
        return Outcome::fail(
            "no location /websocket",
            ev.line(format!("/websocket falls through to {falls}")),
            "nginx has no /websocket route, so websockets fall through to / and Odoo's HTTP port, where the handshake never gets its 101: the bus never connects",
        )
        .with_fix_opt(fix());
    };
    let ev = ev.line(describe_pass(loc));
    let eps = endpoints(loc);
    if !eps.is_empty() && eps.iter().all(|e| e.port == gevent) {
        return Outcome::pass(format!("/websocket -> {}", eps[0]), ev);
    }
    let to = eps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let cause = if eps.iter().any(|e| e.port == http) {
        format!(
            "nginx routes /websocket to Odoo's HTTP port ({to}) instead of the gevent port {gevent}: the handshake answers 500 (\"Couldn't bind the websocket\")"
        )
    } else {
        format!("nginx routes /websocket to {to}, but Odoo's gevent port is {gevent}")
    };
    Outcome::fail(
        format!("/websocket goes to {to}, not port {gevent}"),
        ev,
        cause,
    )
    .with_fix_opt(fix())
}

fn websocket_headers(obs: &Observations, s: &OdooSite) -> Outcome {
    let Some(loc) = s
        .route("/websocket")
        .filter(|l| l.path.starts_with("/websocket"))
    else {
        return Outcome::skip("no /websocket location");
    };
    let upgrade = loc.header("Upgrade");
    let connection = loc.header("Connection");
    let ev = dump_ran(obs)
        .line(format!(
            "proxy_http_version {} ({})",
            loc.http_version.value,
            where_set(&loc.http_version)
        ))
        .line(match upgrade {
            Some(h) => format!("proxy_set_header Upgrade {} ({})", h.value, h.at),
            None => "proxy_set_header Upgrade: not set".into(),
        })
        .line(match connection {
            Some(h) => format!("proxy_set_header Connection {} ({})", h.value, h.at),
            None => "proxy_set_header Connection: not set".into(),
        });
    let mut missing = Vec::new();
    if loc.http_version.value != "1.1" {
        missing.push("proxy_http_version 1.1");
    }
    if !upgrade.is_some_and(|h| h.value.contains("$http_upgrade")) {
        missing.push("Upgrade $http_upgrade");
    }
    if !connection.is_some_and(|h| {
        let v = h.value.to_ascii_lowercase();
        v.contains("upgrade")
    }) {
        missing.push("Connection upgrade");
    }
    if missing.is_empty() {
        return Outcome::pass("HTTP/1.1 with Upgrade and Connection headers", ev);
    }
    let config = obs.nginx.config.as_ref();
    Outcome::fail(
        format!("missing: {}", missing.join(", ")),
        ev,
        format!(
            "the /websocket route lacks {}: nginx does not pass the websocket upgrade on, so the handshake never gets its 101",
            missing.join(", ")
        ),
    )
    .with_fix_opt(config.and_then(|c| fixes::websocket_headers(c, s, loc)))
}

fn route_longpolling(obs: &Observations, s: &OdooSite) -> Outcome {
    let gevent = expected_gevent(obs);
    let Some(loc) = s.location("/longpolling") else {
        return Outcome::pass(
            "no /longpolling location (Odoo 18 has no longpolling; /longpolling/poll is 404)",
            dump_ran(obs),
        );
    };
    let ev = dump_ran(obs).line(describe_pass(loc));
    let eps = endpoints(loc);
    if eps.iter().all(|e| e.port == gevent) && !eps.is_empty() {
        Outcome::pass(format!("/longpolling -> {}", eps[0]), ev)
    } else {
        Outcome::warn(
            format!("/longpolling does not go to the gevent port {gevent}"),
            ev,
            "a legacy /longpolling route points away from the gevent port (harmless in Odoo 18, where it is 404 anyway)",
        )
    }
}

fn timeouts(obs: &Observations, s: &OdooSite) -> Outcome {
    let mut ev = dump_ran(obs);
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut locs: Vec<&Location> = s.route("/").into_iter().collect();
    if let Some(ws) = s.location("/websocket") {
        locs.push(ws);
    }
    for loc in &locs {
        let items = [
            ("proxy_read_timeout", &loc.read_timeout, READ_TIMEOUT_MIN),
            (
                "proxy_connect_timeout",
                &loc.connect_timeout,
                CONNECT_TIMEOUT_MIN,
            ),
            ("proxy_send_timeout", &loc.send_timeout, SEND_TIMEOUT_MIN),
        ];
        for (name, setting, min) in items {
            ev = ev.line(format!(
                "location {}: {name} {} ({})",
                loc.path,
                secs(setting.value),
                where_set(setting)
            ));
            let item = format!("{name} {} on {}", secs(setting.value), loc.path);
            if name == "proxy_read_timeout" && setting.value < READ_TIMEOUT_FAIL {
                fails.push(item);
            } else if setting.value < min {
                warns.push(item);
            }
        }
    }
    if fails.is_empty() && warns.is_empty() {
        return Outcome::pass("read >= 720s, connect >= 60s, send >= 600s", ev);
    }
    fails.dedup();
    warns.dedup();
    let fix = obs.nginx.config.as_ref().and_then(|c| {
        let mut settings = Vec::new();
        if s.read_timeout.value < READ_TIMEOUT_MIN
            || locs.iter().any(|l| l.read_timeout.value < READ_TIMEOUT_MIN)
        {
            settings.push(("proxy_read_timeout", s.read_timeout.at.as_deref(), "720s"));
        }
        if s.connect_timeout.value < CONNECT_TIMEOUT_MIN {
            settings.push((
                "proxy_connect_timeout",
                s.connect_timeout.at.as_deref(),
                "60s",
            ));
        }
        if s.send_timeout.value < SEND_TIMEOUT_MIN
            || locs.iter().any(|l| l.send_timeout.value < SEND_TIMEOUT_MIN)
        {
            settings.push(("proxy_send_timeout", s.send_timeout.at.as_deref(), "600s"));
        }
        fixes::server_directive(
            c,
            s,
            &settings,
            "Set the proxy timeouts Odoo needs (720s/60s/600s)".into(),
        )
    });
    if !fails.is_empty() {
        Outcome::fail(
            fails.join(", "),
            ev,
            format!(
                "nginx gives up on Odoo after {}: slow requests (reports, imports) end in 504",
                fails.join(", ")
            ),
        )
        .with_fix_opt(fix)
    } else {
        Outcome::warn(
            warns.join(", "),
            ev,
            "proxy timeouts are below what Odoo's long requests need",
        )
        .with_fix_opt(fix)
    }
}

fn forward_headers(obs: &Observations, s: &OdooSite) -> Outcome {
    let Some(root) = s.route("/") else {
        return Outcome::skip("no location /");
    };
    let mut ev = dump_ran(obs);
    let mut missing = Vec::new();
    for name in ["X-Forwarded-Proto", "X-Forwarded-For", "Host"] {
        match root.header(name) {
            Some(h) => ev = ev.line(format!("{name}: {} ({})", h.value, h.at)),
            None => {
                ev = ev.line(format!("{name}: not set on location /"));
                missing.push(name);
            }
        }
    }
    if missing.is_empty() {
        return Outcome::pass("X-Forwarded-Proto, X-Forwarded-For and Host are set", ev);
    }
    // The site's own value where it already sends the header elsewhere (its style).
    let values: Vec<(&str, String)> = missing
        .iter()
        .map(|n| {
            let default = match *n {
                "X-Forwarded-Proto" => "$scheme",
                "X-Forwarded-For" => "$proxy_add_x_forwarded_for",
                _ => "$host",
            };
            (*n, fixes::site_header_value(s, n, default))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let fix = obs
        .nginx
        .config
        .as_ref()
        .and_then(|c| fixes::add_headers(c, s, &pairs));
    let proxy_mode = obs
        .odoo
        .conf
        .as_ref()
        .and_then(|c| c.get_bool("proxy_mode"))
        .unwrap_or(false);
    if missing.contains(&"X-Forwarded-Proto") && proxy_mode {
        return Outcome::fail(
            format!("missing: {}", missing.join(", ")),
            ev,
            "nginx does not send X-Forwarded-Proto while Odoo runs with proxy_mode: Odoo builds http:// URLs behind HTTPS (redirect loops, failed OAuth and mixed content)",
        )
        .with_fix_opt(fix);
    }
    Outcome::warn(
        format!("missing: {}", missing.join(", ")),
        ev,
        "Odoo does not learn the client's scheme, address or host from nginx",
    )
    .with_fix_opt(fix)
}

fn body_size(obs: &Observations, s: &OdooSite) -> Outcome {
    let Some(root) = s.route("/") else {
        return Outcome::skip("no location /");
    };
    let size = &root.body_size;
    let ev = dump_ran(obs).line(format!(
        "client_max_body_size {} ({})",
        format_size(size.value),
        where_set(size)
    ));
    if size.value == 0 || size.value >= BODY_SIZE_MIN {
        return Outcome::pass(
            format!("client_max_body_size {}", format_size(size.value)),
            ev,
        );
    }
    Outcome::warn(
        format!("client_max_body_size {} (< 64m)", format_size(size.value)),
        ev,
        "uploads larger than this get 413 from nginx (attachments, imports, module uploads)",
    )
    .with_fix_opt(obs.nginx.config.as_ref().and_then(|c| {
        fixes::server_directive(
            c,
            s,
            &[("client_max_body_size", s.body_size.at.as_deref(), "64m")],
            "Allow 64 MiB uploads".into(),
        )
    }))
}

fn error_log(obs: &Observations) -> Outcome {
    let Some(log) = &obs.nginx.error_log else {
        return Outcome::skip("nginx's error log was not read");
    };
    let mut ev = Evidence::default().ran(&log.command);
    if let Some(e) = &log.error {
        return Outcome::skip(format!("could not read {}: {e}", log.path));
    }
    let s = &log.summary;
    let since = log.since.as_deref().unwrap_or("the start");
    let window = match &log.loaded_at {
        Some(l) if l.as_str() == since => format!("since nginx last started or reloaded ({l})"),
        _ => format!("in the last {} minutes", log.minutes),
    };
    ev = ev.line(format!("{} line(s) {window} of {}", s.lines_seen, log.path));
    if let Some(l) = &log.loaded_at {
        ev = ev.line(format!(
            "nginx's running configuration was loaded at {l}: older lines are not counted"
        ));
    }
    for u in &log.unreadable {
        ev = ev.line(format!("could not read {u}"));
    }
    if s.failures.is_empty() {
        return Outcome::pass(format!("no upstream failures {window}"), ev);
    }
    for f in &s.failures {
        ev = ev.line(format!(
            "{} x {} ({} .. {}) upstream {}",
            f.count,
            f.kind.meaning(),
            f.first,
            f.last,
            f.upstreams.join(", ")
        ));
        ev = ev.line(f.sample.clone());
    }
    let main = &s.failures[0];
    let cause = match main.kind {
        UpstreamFailure::ConnectionRefused => format!(
            "nginx could not connect to {} ({} times since {}): Odoo is down there or nginx points at the wrong port",
            main.upstreams.join(", "),
            main.count,
            main.first
        ),
        UpstreamFailure::TimedOut => format!(
            "Odoo did not answer nginx in time ({} times): workers are blocked or the proxy timeouts are too short",
            main.count
        ),
        UpstreamFailure::PrematurelyClosed => format!(
            "Odoo closed connections mid-answer ({} times): workers are being killed (memory or time limits)",
            main.count
        ),
        UpstreamFailure::NoLiveUpstreams => format!(
            "nginx marked every Odoo upstream as failed ({} times)",
            main.count
        ),
    };
    Outcome::fail(
        s.failures
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f.count,
                    f.kind.meaning().split(':').next().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        ev,
        cause,
    )
}
