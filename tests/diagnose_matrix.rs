//! The 502 matrix: each case is a real nginx (TLS with a private CA) in front of the Odoo
//! stand-in (a host process, or a FROM-scratch container on the real Docker engine) with a
//! real PostgreSQL behind it, broken in one way; the diagnosis must name that cause first.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use odoo_ops::checks::model::{Report, Status, Verdict};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::target::Target;
use support::nginx::Nginx;
use support::odoo_site::{DOMAIN, site};
use support::postgres::Postgres;
use support::standin::{Standin, StandinOptions};
use support::{ports, tls};

/// One stack under test; everything stops on Drop.
struct Stack {
    nginx: Nginx,
    /// The `http { }` content nginx runs, for a reload with a change.
    content: String,
    tls_port: u16,
    ca: Vec<u8>,
    odoo: OdooLocation,
    _certs: tempfile::TempDir,
}

impl Stack {
    fn options(&self) -> DiagnoseOptions {
        DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            nginx_conf: Some(self.nginx.conf_path()),
            nginx_prefix: Some(self.nginx.path().to_path_buf()),
            odoo: self.odoo.clone(),
            extra_root_certs: vec![self.ca.clone()],
            // The harness's certificates live two days; expiry is asserted in days left.
            cert_warn_days: 1,
            ..Default::default()
        }
    }

    fn diagnose(&self) -> Report {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (report, _) = rt.block_on(diagnose(&Target::local(), &self.options()));
        report
    }
}

fn nginx_for(http: u16, gevent: u16, edit: impl Fn(String) -> String, odoo: OdooLocation) -> Stack {
    let certs = tempfile::tempdir().unwrap();
    let cert = tls::make_cert(certs.path(), DOMAIN);
    let tls_port = ports::free_port();
    let content = edit(site(http, gevent, tls_port, &cert));
    let nginx = Nginx::start(&content, &[tls_port]);
    Stack {
        nginx,
        content,
        tls_port,
        ca: std::fs::read(&cert.ca_cert).unwrap(),
        odoo,
        _certs: certs,
    }
}

/// A stand-in with a real database behind it, and nginx in front.
fn host_stack(
    options: StandinOptions,
    edit: impl Fn(String) -> String,
) -> (Stack, Standin, Postgres) {
    let pg = Postgres::start();
    let standin = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        logfile: true,
        ..options
    });
    let conf = standin.dir.path().join("odoo.conf");
    let stack = nginx_for(
        standin.http_port,
        standin.gevent_port,
        edit,
        OdooLocation::ConfigFile(conf),
    );
    (stack, standin, pg)
}

fn summary(r: &Report) -> String {
    r.checks
        .iter()
        .filter(|c| c.outcome.verdict != Verdict::Pass)
        .map(|c| {
            format!(
                "{} {:?}: {} | {}",
                c.id,
                c.outcome.verdict,
                c.outcome.summary,
                c.outcome.evidence.lines.join(" / ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn assert_root(r: &Report, id: &str, words: &str) {
    let root = r
        .root_cause
        .as_ref()
        .unwrap_or_else(|| panic!("no root cause; expected {id}\n{}", summary(r)));
    assert_eq!(root.check, id, "{}\n{}", root.sentence, summary(r));
    assert!(
        root.sentence.contains(words),
        "root cause sentence {:?} lacks {words:?}",
        root.sentence
    );
    assert_eq!(r.status, Status::Problem);
}

#[test]
fn healthy_stack_gives_no_false_alarm() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    let r = stack.diagnose();
    let alarms: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.outcome.verdict == Verdict::Fail)
        .chain(r.checks.iter().filter(|c| {
            // A kernel OOM kill of another test's container may show in the shared kernel log.
            c.outcome.verdict == Verdict::Warn && c.id != "resources.oom"
        }))
        .map(|c| format!("{}: {}", c.id, c.outcome.summary))
        .collect();
    assert!(alarms.is_empty(), "{alarms:?}\n{}", summary(&r));
    assert_eq!(r.status, Status::Healthy);
    assert!(r.root_cause.is_none());
    // What a user would see through the edge, verified against the test CA.
    for id in [
        "edge.health",
        "edge.login",
        "edge.websocket",
        "edge.tls",
        "health.websocket",
        "db.pg_isready",
        "db.odoo_health",
        "nginx.reloaded",
    ] {
        assert_eq!(
            r.check(id).unwrap().outcome.verdict,
            Verdict::Pass,
            "{id}\n{}",
            summary(&r)
        );
    }
    assert!(
        r.check("edge.tls")
            .unwrap()
            .outcome
            .evidence
            .lines
            .iter()
            .any(|l| l.contains(DOMAIN))
    );
}

#[test]
fn upstream_down() {
    let (stack, mut odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    odoo.terminate(Duration::from_secs(5))
        .expect("stand-in stops");
    let r = stack.diagnose();
    assert_root(&r, "odoo.running", "Odoo is not running");
    assert_eq!(
        r.check("edge.health").unwrap().outcome.summary,
        "502 from nginx"
    );
    assert_eq!(
        r.check("ports.listening").unwrap().outcome.verdict,
        Verdict::Fail
    );
    // nginx logged the refusals the edge probes caused.
    let again = stack.diagnose();
    let log = again.check("nginx.error_log").unwrap();
    assert_eq!(log.outcome.verdict, Verdict::Fail, "{}", summary(&again));
    assert!(log.outcome.summary.contains("connection refused"));
}

#[test]
fn wrong_upstream_port() {
    let wrong = ports::free_port();
    let (stack, odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    drop(stack);
    let http = odoo.http_port;
    let stack = nginx_for(
        http,
        odoo.gevent_port,
        |s| {
            s.replace(
                &format!("server 127.0.0.1:{http};"),
                &format!("server 127.0.0.1:{wrong};"),
            )
        },
        OdooLocation::ConfigFile(odoo.dir.path().join("odoo.conf")),
    );
    let r = stack.diagnose();
    assert_root(&r, "nginx.route_root", &format!("127.0.0.1:{wrong}"));
    let fix = r
        .check("nginx.route_root")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(
        fix.diff
            .unwrap()
            .contains(&format!("+    server 127.0.0.1:{http};"))
    );
}

#[test]
fn websocket_routed_to_http_port() {
    let (stack, odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        s.replace(
            "location /websocket {\n        proxy_pass http://odoo-longpolling;",
            "location /websocket {\n        proxy_pass http://odoo;",
        )
    });
    let r = stack.diagnose();
    assert_root(&r, "nginx.route_websocket", "HTTP port");
    assert_eq!(
        r.check("edge.websocket").unwrap().outcome.summary,
        "500 instead of 101"
    );
    assert!(odoo.log().contains("Couldn't bind the websocket"));
}

#[test]
fn no_websocket_route() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        let start = s.find("    location /websocket {").unwrap();
        let end = start + s[start..].find("    }\n").unwrap() + 6;
        format!("{}{}", &s[..start], &s[end..])
    });
    let r = stack.diagnose();
    assert_root(&r, "nginx.route_websocket", "no /websocket route");
    assert_eq!(
        r.check("edge.websocket").unwrap().outcome.verdict,
        Verdict::Fail
    );
}

#[test]
fn missing_upgrade_headers() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        s.replace("        proxy_set_header Upgrade $http_upgrade;\n", "")
            .replace("        proxy_set_header Connection \"upgrade\";\n", "")
    });
    let r = stack.diagnose();
    assert_root(&r, "nginx.websocket_headers", "Upgrade");
    assert_ne!(
        r.check("edge.websocket").unwrap().outcome.verdict,
        Verdict::Pass
    );
}

#[test]
fn workers_zero() {
    let (stack, _odoo, _pg) = host_stack(
        StandinOptions {
            workers: 0,
            ..Default::default()
        },
        |s| s,
    );
    let r = stack.diagnose();
    assert_root(&r, "odoo.workers", "workers = 0");
    assert_eq!(
        r.check("edge.websocket").unwrap().outcome.summary,
        "502 instead of 101"
    );
}

#[test]
fn short_read_timeout_with_slow_endpoint() {
    // The matrix's "30s with a slow endpoint" at test speed: 2 s against a 3 s login page.
    let (stack, _odoo, _pg) = host_stack(
        StandinOptions {
            mode: Some("slow:3000:/web/login".into()),
            ..Default::default()
        },
        |s| s.replace("proxy_read_timeout 720s;", "proxy_read_timeout 2s;"),
    );
    let r = stack.diagnose();
    assert_root(&r, "nginx.timeouts", "504");
    // What an operator reads: the status, not Rust's notation for it.
    assert_eq!(r.check("edge.login").unwrap().outcome.summary, "504");
    assert_no_debug_text(&r);
    let again = stack.diagnose();
    assert!(
        again
            .check("nginx.error_log")
            .unwrap()
            .outcome
            .summary
            .contains("timed out")
    );
}

#[test]
fn missing_forwarded_proto_with_proxy_mode() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        s.replace("    proxy_set_header X-Forwarded-Proto https;\n", "")
    });
    let r = stack.diagnose();
    assert_root(&r, "nginx.forward_headers", "X-Forwarded-Proto");
}

#[test]
fn config_changed_but_not_reloaded() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    assert_eq!(
        stack
            .diagnose()
            .check("nginx.reloaded")
            .unwrap()
            .outcome
            .verdict,
        Verdict::Pass
    );
    // An operator edits the site and forgets the reload.
    std::thread::sleep(Duration::from_millis(1200));
    let conf = stack.nginx.conf_path();
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("client_max_body_size 64m;", "client_max_body_size 128m;"),
    )
    .unwrap();
    let r = stack.diagnose();
    assert_root(&r, "nginx.reloaded", "never reloaded");
    // The engine's fix reloads nginx; afterwards the check passes.
    let fix = r
        .check("nginx.reloaded")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    let action = fix.apply.expect("a reload is a safe fix");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inv = odoo_ops::nginx::NginxInvocation {
        binary: "nginx".into(),
        conf: Some(conf.clone()),
        prefix: Some(stack.nginx.path().to_path_buf()),
        ..Default::default()
    };
    let applied = rt
        .block_on(odoo_ops::checks::apply::apply(
            &Target::local(),
            &inv,
            &odoo_ops::checks::apply::ConfirmedFix { action },
        ))
        .unwrap();
    assert!(applied.success, "{:?}", applied.steps);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = stack.diagnose();
        if r.check("nginx.reloaded").unwrap().outcome.verdict == Verdict::Pass {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not reloaded:\n{}",
            summary(&r)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn database_down() {
    let (stack, _odoo, mut pg) = host_stack(StandinOptions::default(), |s| s);
    pg.stop();
    let r = stack.diagnose();
    assert_root(&r, "db.pg_isready", "database is down");
    assert_eq!(
        r.check("health.http").unwrap().outcome.summary,
        "500: db_server_status false"
    );
    assert_eq!(
        r.check("db.odoo_health").unwrap().outcome.verdict,
        Verdict::Fail
    );
}

#[test]
fn a_broken_edit_is_reverted_when_nginx_t_fails() {
    let (stack, _odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        s.replace("proxy_read_timeout 720s;", "proxy_read_timeout 30s;")
    });
    let r = stack.diagnose();
    let fix = r
        .check("nginx.timeouts")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    let Some(odoo_ops::checks::model::ApplyAction::EditNginxFile {
        path,
        before,
        after,
    }) = fix.apply
    else {
        panic!("expected an nginx edit");
    };
    let inv = odoo_ops::nginx::NginxInvocation {
        binary: "nginx".into(),
        conf: Some(stack.nginx.conf_path()),
        prefix: Some(stack.nginx.path().to_path_buf()),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A fix whose result does not pass nginx -t is rolled back.
    let broken = odoo_ops::checks::apply::ConfirmedFix {
        action: odoo_ops::checks::model::ApplyAction::EditNginxFile {
            path: path.clone(),
            before: before.clone(),
            after: after.replace("proxy_read_timeout 720s;", "proxy_read_timeout 720s"),
        },
    };
    let state = tempfile::tempdir().unwrap();
    let dirs = odoo_ops::workflow::StateDirs::under(state.path());
    let applied = rt
        .block_on(odoo_ops::checks::apply::apply_in(
            &Target::local(),
            &dirs,
            &inv,
            &broken,
        ))
        .unwrap();
    assert!(applied.reverted && !applied.success, "{:?}", applied.steps);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    // Reverted exactly: the backup held what is on disk again and is gone.
    assert!(applied.backup.is_none());
    // The real fix applies, tests, reloads, and the check passes.
    let good = odoo_ops::checks::apply::ConfirmedFix {
        action: odoo_ops::checks::model::ApplyAction::EditNginxFile {
            path: path.clone(),
            before,
            after,
        },
    };
    let applied = rt
        .block_on(odoo_ops::checks::apply::apply_in(
            &Target::local(),
            &dirs,
            &inv,
            &good,
        ))
        .unwrap();
    assert!(applied.success, "{:?}", applied.steps);
    assert_eq!(
        stack
            .diagnose()
            .check("nginx.timeouts")
            .unwrap()
            .outcome
            .verdict,
        Verdict::Pass
    );
}

/// A container of the stand-in image, removed on Drop.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn run_container(test: &str, args: &[&str], http: u16, gevent: u16, bind: &str) -> Container {
    let image = support::standin::ensure_image(support::standin::RELEASES[0]);
    let name = format!("odoo-ops-diag-{test}-{}", std::process::id());
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "odoo-ops-test=diagnose_matrix",
        ])
        .args([
            "-p",
            &format!("{bind}:{http}:8069"),
            "-p",
            &format!("127.0.0.1:{gevent}:8072"),
        ])
        .args(args)
        .arg(&image)
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Container(name)
}

fn inspect(name: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn container_crash_looping() {
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let c = run_container(
        "crash",
        &["--restart", "always", "-e", "STANDIN_MODE=crash-after:1"],
        http,
        gevent,
        "127.0.0.1",
    );
    wait_for("3 restarts", Duration::from_secs(60), || {
        inspect(&c.0, "{{.RestartCount}}")
            .parse::<i64>()
            .unwrap_or(0)
            >= 3
    });
    let stack = nginx_for(http, gevent, |s| s, OdooLocation::Container(c.0.clone()));
    let r = stack.diagnose();
    assert_root(&r, "odoo.running", "keeps crashing");
}

#[test]
fn container_oom_killed() {
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let c = run_container(
        "oom",
        &[
            "--memory",
            "64m",
            "--memory-swap",
            "64m",
            "-e",
            "STANDIN_MODE=oom",
        ],
        http,
        gevent,
        "127.0.0.1",
    );
    wait_for("the OOM kill", Duration::from_secs(60), || {
        inspect(&c.0, "{{.State.Status}}") == "exited"
    });
    assert_eq!(inspect(&c.0, "{{.State.OOMKilled}}"), "true");
    let stack = nginx_for(http, gevent, |s| s, OdooLocation::Container(c.0.clone()));
    let r = stack.diagnose();
    assert_root(&r, "odoo.running", "OOMKilled");
}

#[test]
fn port_published_on_all_interfaces() {
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let c = run_container("exposed", &[], http, gevent, "0.0.0.0");
    wait_for("the container to serve", Duration::from_secs(20), || {
        ports::wait_listening(http, Duration::from_millis(100))
    });
    let stack = nginx_for(http, gevent, |s| s, OdooLocation::Container(c.0.clone()));
    let r = stack.diagnose();
    assert_root(&r, "ports.loopback_only", &format!("0.0.0.0:{http}"));
    // Discovery by compose-less auto-detection would find the same container; the
    // container's own odoo.conf was read through Docker's archive API.
    assert_eq!(r.check("odoo.conf").unwrap().outcome.verdict, Verdict::Pass);
}

#[test]
fn cli_exit_codes_and_json_shape() {
    let (stack, mut odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    let ca = stack._certs.path().join("ca.pem");
    let odoo_conf = odoo.dir.path().join("odoo.conf");
    let cli = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
            .args(["diagnose", "--domain", DOMAIN, "--nginx-conf"])
            .arg(stack.nginx.conf_path())
            .arg("--nginx-prefix")
            .arg(stack.nginx.path())
            .arg("--odoo-conf")
            .arg(&odoo_conf)
            .arg("--ca-file")
            .arg(&ca)
            .args(["--cert-warn-days", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = cli(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["status"], "healthy");
    assert!(json["root_cause"].is_null());
    assert_eq!(json["checks"][0]["id"], "nginx.running");
    assert_eq!(json["checks"][0]["verdict"], "pass");
    odoo.terminate(Duration::from_secs(5)).unwrap();
    let out = cli(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ROOT CAUSE (odoo.running)"), "{text}");
    let _ = stack.tls_port;
}

#[test]
fn compose_container_is_found_by_project() {
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let project = format!("odoo-ops-diag-compose-{}", std::process::id());
    let c = run_container(
        "compose",
        &[
            "--label",
            &format!("com.docker.compose.project={project}"),
            "--label",
            "com.docker.compose.service=odoo",
        ],
        http,
        gevent,
        "127.0.0.1",
    );
    wait_for("the container to serve", Duration::from_secs(20), || {
        ports::wait_listening(http, Duration::from_millis(100))
    });
    let stack = nginx_for(http, gevent, |s| s, OdooLocation::Auto);
    let mut options = stack.options();
    options.compose_project = Some(project);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (r, obs) = rt.block_on(diagnose(&Target::local(), &options));
    match &obs.odoo.runtime {
        odoo_ops::checks::obs::OdooRuntime::Container(found) => assert_eq!(found.name, c.0),
        other => panic!("expected the compose container, found {other:?}"),
    }
    assert_eq!(
        r.check("odoo.running").unwrap().outcome.verdict,
        Verdict::Pass
    );
    assert_eq!(obs.odoo.http_port, Some(http));
    assert_eq!(obs.odoo.gevent_port, Some(gevent));
    // The image's odoo.conf names the compose service `db`: not reachable from the host,
    // so pg_isready is skipped with that reason instead of failing.
    let db = r.check("db.pg_isready").unwrap();
    assert_eq!(db.outcome.verdict, Verdict::Skipped);
    assert!(db.outcome.summary.contains("`db`"));
    assert_eq!(
        r.check("edge.websocket").unwrap().outcome.verdict,
        Verdict::Pass
    );
}

#[test]
fn a_bind_mounted_odoo_conf_is_read_from_its_host_file() {
    // The compose layout odoo-ops renders: odoo.conf bind-mounted over the image's.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("odoo.conf");
    std::fs::write(
        &conf,
        support::standin::IMAGE_ODOO_CONF.replace("workers = 2", "workers = 0"),
    )
    .unwrap();
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let mount = format!("{}:/etc/odoo/odoo.conf:ro", conf.display());
    let c = run_container("bind", &["-v", &mount], http, gevent, "127.0.0.1");
    wait_for("the container to serve", Duration::from_secs(20), || {
        ports::wait_listening(http, Duration::from_millis(100))
    });
    let stack = nginx_for(http, gevent, |s| s, OdooLocation::Container(c.0.clone()));
    let r = stack.diagnose();
    assert_root(&r, "odoo.workers", "workers = 0");
    let read = &r.check("odoo.conf").unwrap().outcome.evidence.ran;
    assert!(
        read.iter().any(|cmd| cmd.contains(&format!(
            "{}:/etc/odoo/odoo.conf (on the host: {})",
            c.0,
            conf.display()
        ))),
        "{read:?}"
    );
}

/// The text and the JSON an operator reads, checked for Rust's debug notation.
#[track_caller]
fn assert_no_debug_text(r: &Report) {
    let text = odoo_ops::cli::diagnose::render_text(r);
    let json = serde_json::to_string_pretty(r).unwrap();
    for out in [&text, &json] {
        for debug in ["Some(", "None"] {
            assert!(!out.contains(debug), "{debug} in:\n{out}");
        }
    }
}

/// A previous run's lines in odoo.log: the database refused the password then.
const PREVIOUS_RUN: &str = "\
2026-11-01 09:00:00,000 7 INFO ? odoo: Odoo version 18.0 
2026-11-01 09:00:01,000 7 INFO ? odoo.sql_db: Connection to the database failed 
2026-11-01 09:00:01,000 7 ERROR ? odoo.service.server: Worker WorkerCron (8) Exception occurred, exiting... 
psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"odoo\"
2026-11-01 09:00:05,000 7 INFO ? odoo.service.server: Initiating shutdown 
";

#[test]
fn a_healthy_host_with_history_is_healthy() {
    // Odoo was restarted after a wrong password was corrected, and logs `Modules loaded.`
    // (db_name set) on this good start.
    let (stack, odoo, _pg) = host_stack(
        StandinOptions {
            db_name: Some("odoo".into()),
            previous_log: Some(PREVIOUS_RUN.into()),
            ..Default::default()
        },
        |s| s,
    );
    assert!(odoo.log().contains("Modules loaded."));
    // nginx first ran a configuration pointing at a port where nothing listens: the
    // diagnosis's own requests through it are real 502s in its error log.
    let http = odoo.http_port;
    let wrong = ports::free_port();
    let good = stack.content.clone();
    stack.nginx.reload(&good.replace(
        &format!("server 127.0.0.1:{http};"),
        &format!("server 127.0.0.1:{wrong};"),
    ));
    let broken = stack.diagnose();
    assert_eq!(
        broken.check("edge.health").unwrap().outcome.summary,
        "502 from nginx"
    );
    assert!(stack.nginx.error_log().contains("Connection refused"));
    // nginx's times are whole seconds: the reload comes in a later second.
    std::thread::sleep(Duration::from_millis(1100));
    stack.nginx.reload(&good);
    let r = stack.diagnose();
    let alarms: Vec<_> = r
        .checks
        .iter()
        .filter(|c| {
            c.outcome.verdict == Verdict::Fail
                || (c.outcome.verdict == Verdict::Warn && c.id != "resources.oom")
        })
        .map(|c| format!("{}: {}", c.id, c.outcome.summary))
        .collect();
    assert!(alarms.is_empty(), "{alarms:?}\n{}", summary(&r));
    assert_eq!(r.status, Status::Healthy, "{}", summary(&r));
    assert_eq!(odoo_ops::cli::diagnose::exit_code(&r), 0);
    let log = r.check("nginx.error_log").unwrap();
    assert!(
        log.outcome
            .evidence
            .lines
            .iter()
            .any(|l| l.contains("running configuration was loaded at")),
        "{:?}",
        log.outcome
    );
    let odoo_log = r.check("odoo.log").unwrap();
    assert_eq!(
        odoo_log.outcome.verdict,
        Verdict::Pass,
        "{:?}",
        odoo_log.outcome
    );
    assert_no_debug_text(&r);
}

#[test]
fn a_502_logged_only_in_the_sites_own_error_log_is_seen() {
    let logs = tempfile::tempdir().unwrap();
    let own = logs.path().join("odoo.error.log");
    let (stack, mut odoo, _pg) = host_stack(StandinOptions::default(), |s| {
        s.replace(
            "    server_name",
            &format!("    error_log {};\n    server_name", own.display()),
        )
    });
    odoo.terminate(Duration::from_secs(5))
        .expect("stand-in stops");
    // The first diagnosis's requests through the edge are the 502s.
    stack.diagnose();
    assert!(
        std::fs::read_to_string(&own)
            .unwrap()
            .contains("Connection refused")
    );
    assert!(!stack.nginx.error_log().contains("Connection refused"));
    let r = stack.diagnose();
    let log = r.check("nginx.error_log").unwrap();
    assert_eq!(log.outcome.verdict, Verdict::Fail, "{}", summary(&r));
    assert!(log.outcome.summary.contains("connection refused"));
    assert!(
        log.outcome
            .evidence
            .lines
            .iter()
            .any(|l| l.contains("odoo.error.log")),
        "{:?}",
        log.outcome.evidence
    );
}

#[test]
fn several_databases_without_dbfilter() {
    let pg = Postgres::start();
    pg.create_database("odoo");
    pg.create_database("odoo_restored");
    let standin = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        // Any password: this PostgreSQL trusts; with one the stand-in logs in and lists.
        db_password: Some("any".into()),
        logfile: true,
        ..Default::default()
    });
    let conf = standin.dir.path().join("odoo.conf");
    let stack = nginx_for(
        standin.http_port,
        standin.gevent_port,
        |s| s,
        OdooLocation::ConfigFile(conf),
    );
    let r = stack.diagnose();
    assert_root(&r, "odoo.dbfilter", "neither dbfilter nor db_name");
    let fix = r
        .check("odoo.dbfilter")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(
        fix.summary.contains("dbfilter = ^DBNAME$"),
        "{}",
        fix.summary
    );
    assert!(!format!("{fix:?}").contains("docker"), "{fix:?}");
    assert_eq!(
        r.check("edge.login").unwrap().outcome.summary,
        "303 to the database selector"
    );
    assert_eq!(
        r.check("health.websocket").unwrap().outcome.summary,
        "404 instead of 101"
    );
    assert_no_debug_text(&r);
}

#[test]
fn a_wrong_database_password_is_named_with_its_fix() {
    let pg = Postgres::start_with_password("right");
    let standin = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        db_name: Some("odoo".into()),
        db_password: Some("wrong".into()),
        logfile: true,
        ..Default::default()
    });
    assert!(
        standin.wait_for_log("password authentication failed", Duration::from_secs(10)),
        "{}",
        standin.log()
    );
    let conf = standin.dir.path().join("odoo.conf");
    let stack = nginx_for(
        standin.http_port,
        standin.gevent_port,
        |s| s,
        OdooLocation::ConfigFile(conf),
    );
    let r = stack.diagnose();
    assert_root(&r, "db.odoo_health", "refuses Odoo's login");
    assert!(!r.root_cause.as_ref().unwrap().sentence.contains("down"));
    let fix = r
        .check("db.odoo_health")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(fix.summary.contains("db_password"), "{}", fix.summary);
    assert_eq!(
        r.check("db.pg_isready").unwrap().outcome.verdict,
        Verdict::Pass
    );
    assert_no_debug_text(&r);
}

#[test]
fn an_unreadable_certificate_key_is_could_not_check() {
    let (stack, odoo, _pg) = host_stack(StandinOptions::default(), |s| s);
    // What an unprivileged login can read: everything but the key (certbot's is 0600).
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(stack.nginx.path(), 0o755);
    open(&stack.nginx.conf_path(), 0o644);
    open(stack._certs.path(), 0o755);
    open(&stack._certs.path().join("fullchain.pem"), 0o644);
    open(&stack._certs.path().join("ca.pem"), 0o644);
    open(&stack._certs.path().join("privkey.pem"), 0o600);
    open(odoo.dir.path(), 0o755);
    open(&odoo.dir.path().join("odoo.conf"), 0o644);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(["diagnose", "--json", "--domain", DOMAIN, "--nginx-conf"])
        .arg(stack.nginx.conf_path())
        .arg("--nginx-prefix")
        .arg(stack.nginx.path())
        .arg("--odoo-conf")
        .arg(odoo.dir.path().join("odoo.conf"))
        .arg("--ca-file")
        .arg(stack._certs.path().join("ca.pem"))
        .env("HOME", "/tmp")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let check = |id: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let test = check("nginx.config_test");
    assert_eq!(test["verdict"], "skipped", "{test:#}");
    assert_eq!(test["could_not_check"], true, "{test:#}");
    assert!(
        test["summary"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{test:#}"
    );
    assert_eq!(json["status"], "could_not_check", "{json:#}");
    assert!(json["root_cause"].is_null(), "{json:#}");
    assert_eq!(out.status.code(), Some(2), "{json:#}");
}
