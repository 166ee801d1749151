//! The verdict logic over hand-built observations: each matrix scenario names the right
//! root cause, and a healthy host raises nothing.

use super::list::evaluate;
use super::model::{ApplyAction, Report, Status, Timings, Verdict};
use super::obs::*;
use crate::host::Listener;
use crate::nginx::error_log::summarize;
use crate::nginx::{NginxConfig, NginxInvocation, odoo_sites, select_site};
use crate::odoo::conf::OdooConf;

const SITE: &str = include_str!("../nginx/testdata/odoo-site.nginx-T.txt");

fn ok(command: &str) -> Ran {
    Ran {
        command: command.into(),
        status: Some(0),
        output: String::new(),
        error: None,
    }
}

fn probe(request: &str, status: u16, body: &str) -> Option<HttpProbe> {
    Some(HttpProbe {
        request: request.into(),
        status: Some(status),
        headers: vec![],
        body: body.into(),
        error: None,
    })
}

fn with_dump(obs: &mut Observations, dump: &str) {
    let config = NginxConfig::parse_dump(dump).unwrap();
    obs.nginx.sites = odoo_sites(&config);
    obs.nginx.site = select_site(&obs.nginx.sites, None);
    obs.nginx.config = Some(config);
}

fn healthy() -> Observations {
    let mut obs = Observations::default();
    obs.nginx.invocation = NginxInvocation {
        binary: "nginx".into(),
        master_pid: Some(10),
        worker_pids: vec![11],
        ..Default::default()
    };
    obs.nginx.running = true;
    obs.nginx.test = Some(ok("nginx -t"));
    obs.nginx.dump = Some(ok("nginx -T"));
    with_dump(&mut obs, SITE);
    obs.nginx.reload = Some(ReloadObs {
        command: "stat".into(),
        workers_started: Some(200.0),
        files: vec![("/tmp/ngfx/nginx.conf".into(), 100.0)],
    });
    obs.nginx.error_log = Some(ErrorLogObs {
        path: "error.log".into(),
        minutes: 15,
        ..Default::default()
    });
    obs.odoo.runtime = OdooRuntime::Process {
        config: Some("/etc/odoo/odoo.conf".into()),
        process: Some(ProcessObs {
            pid: 42,
            args: "odoo-bin -c /etc/odoo/odoo.conf".into(),
        }),
    };
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = True\nworkers = 2\nhttp_port = 8069\ngevent_port = 8072\nlimit_time_real = 600\nlimit_memory_hard = 1073741824\n",
    ));
    obs.odoo.conf_source = Some("/etc/odoo/odoo.conf".into());
    obs.odoo.http_port = Some(8069);
    obs.odoo.gevent_port = Some(8072);
    obs.host.mem_total_kib = 8 << 20;
    obs.host.mem_available_kib = 6 << 20;
    obs.host.disks = vec![crate::host::Disk {
        label: "/".into(),
        mount: "/".into(),
        size_kib: 100,
        used_kib: 30,
        available_kib: 70,
    }];
    obs.host.listeners = vec![
        Listener {
            port: 8069,
            address: "127.0.0.1".into(),
        },
        Listener {
            port: 8072,
            address: "127.0.0.1".into(),
        },
    ];
    let pass = "{\"status\": \"pass\", \"db_server_status\": true}";
    obs.internal.http_health = probe(
        "GET http://127.0.0.1:8069/web/health?db_server_status=1",
        200,
        pass,
    );
    obs.internal.gevent_health = probe(
        "GET http://127.0.0.1:8072/web/health?db_server_status=1",
        200,
        pass,
    );
    obs.internal.gevent_websocket = probe("GET ws", 101, "");
    obs.edge.url = Some("https://erp.example.test:18443".into());
    obs.edge.tls = true;
    obs.edge.health = probe("GET edge", 200, "{\"status\": \"pass\"}");
    obs.edge.login = probe("GET login", 200, "<input name=\"login\"/>");
    obs.edge.websocket = probe("GET ws edge", 101, "");
    obs.edge.cert = Some(CertObs {
        subject_names: vec!["erp.example.test".into()],
        not_after: "2027-01-01".into(),
        days_left: 40,
    });
    obs.edge.cert_warn_days = 14;
    obs.db = DbObs {
        host: "127.0.0.1".into(),
        port: 5432,
        pg_isready: Some(ok("pg_isready")),
        skipped: None,
    };
    obs
}

fn report(obs: &Observations) -> Report {
    Report::new("test".into(), evaluate(obs), Timings::default())
}

fn root(obs: &Observations) -> &'static str {
    let r = report(obs);
    r.root_cause.map(|c| c.check).unwrap_or("none")
}

#[test]
fn healthy_host_raises_nothing() {
    let r = report(&healthy());
    let bad: Vec<_> = r
        .checks
        .iter()
        .filter(|c| matches!(c.outcome.verdict, Verdict::Warn | Verdict::Fail))
        .map(|c| (c.id, c.outcome.summary.clone()))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(r.status, Status::Healthy);
    assert!(r.root_cause.is_none());
}

#[test]
fn odoo_down_is_named_before_its_symptoms() {
    let mut obs = healthy();
    obs.odoo.runtime = OdooRuntime::Process {
        config: Some("/etc/odoo/odoo.conf".into()),
        process: None,
    };
    obs.host.listeners.clear();
    obs.internal.http_health = Some(HttpProbe {
        error: Some("connection refused".into()),
        ..Default::default()
    });
    obs.edge.health = probe("GET edge", 502, "");
    obs.nginx.error_log.as_mut().unwrap().summary = summarize(
        include_str!("../nginx/testdata/sample-nginx-error-502.log"),
        None,
    );
    let r = report(&obs);
    assert_eq!(r.root_cause.as_ref().unwrap().check, "odoo.running");
    assert!(
        r.root_cause
            .as_ref()
            .unwrap()
            .sentence
            .contains("Odoo is not running")
    );
    assert_eq!(
        r.check("nginx.error_log").unwrap().outcome.verdict,
        Verdict::Fail
    );
    assert_eq!(r.status, Status::Problem);
}

#[test]
fn wrong_upstream_port_offers_a_diff() {
    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace("server 127.0.0.1:8069;", "server 127.0.0.1:8070;"),
    );
    let r = report(&obs);
    assert_eq!(root(&obs), "nginx.route_root");
    let fix = r
        .check("nginx.route_root")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(fix.diff.unwrap().contains("+    server 127.0.0.1:8069;"));
    assert!(matches!(fix.apply, Some(ApplyAction::EditNginxFile { .. })));
}

#[test]
fn websocket_to_http_port_and_missing_route() {
    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace(
            "location /websocket {\n        proxy_pass http://odoo-longpolling;",
            "location /websocket {\n        proxy_pass http://odoo;",
        ),
    );
    assert_eq!(root(&obs), "nginx.route_websocket");
    let r = report(&obs);
    assert!(r.root_cause.unwrap().sentence.contains("HTTP port"));

    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace("location /websocket {", "location /websocket-old {"),
    );
    assert_eq!(root(&obs), "nginx.route_websocket");
    // Headers cannot be judged without the route.
    assert_eq!(
        report(&obs)
            .check("nginx.websocket_headers")
            .unwrap()
            .outcome
            .verdict,
        Verdict::Skipped
    );
}

#[test]
fn missing_upgrade_headers() {
    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace("        proxy_set_header Upgrade $http_upgrade;\n", ""),
    );
    assert_eq!(root(&obs), "nginx.websocket_headers");
}

#[test]
fn workers_zero() {
    let mut obs = healthy();
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = True\nworkers = 0\n",
    ));
    obs.internal.gevent_health = Some(HttpProbe {
        error: Some("refused".into()),
        ..Default::default()
    });
    assert_eq!(root(&obs), "odoo.workers");
}

#[test]
fn short_read_timeout() {
    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace("proxy_read_timeout 720s;", "proxy_read_timeout 30s;"),
    );
    assert_eq!(root(&obs), "nginx.timeouts");
    let r = report(&obs);
    let fix = r
        .check("nginx.timeouts")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(fix.diff.unwrap().contains("+    proxy_read_timeout 720s;"));
}

#[test]
fn missing_forwarded_proto_with_proxy_mode() {
    let mut obs = healthy();
    with_dump(
        &mut obs,
        &SITE.replace("    proxy_set_header X-Forwarded-Proto https;\n", ""),
    );
    assert_eq!(root(&obs), "nginx.forward_headers");
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = False\nworkers = 2\n",
    ));
    // Without proxy_mode the header is only a warning; proxy_mode itself fails.
    assert_eq!(root(&obs), "odoo.proxy_mode");
}

#[test]
fn config_changed_not_reloaded() {
    let mut obs = healthy();
    obs.nginx
        .reload
        .as_mut()
        .unwrap()
        .files
        .push(("/tmp/ngfx/conf.d/odoo.conf".into(), 300.0));
    assert_eq!(root(&obs), "nginx.reloaded");
    let r = report(&obs);
    assert_eq!(
        r.check("nginx.reloaded")
            .unwrap()
            .outcome
            .fix
            .as_ref()
            .unwrap()
            .apply,
        Some(ApplyAction::ReloadNginx)
    );
}

#[test]
fn database_down() {
    let mut obs = healthy();
    let fail = "{\"status\": \"fail\", \"db_server_status\": false}";
    obs.internal.http_health = probe("GET h", 500, fail);
    obs.internal.gevent_health = probe("GET g", 500, fail);
    obs.edge.health = probe("GET edge", 200, "{\"status\": \"pass\"}");
    obs.db.pg_isready = Some(Ran {
        status: Some(2),
        ..ok("pg_isready")
    });
    assert_eq!(root(&obs), "db.pg_isready");
    // Without pg_isready, Odoo's own DB health names it.
    obs.db.pg_isready = None;
    obs.db.skipped = Some("pg_isready is not installed".into());
    assert_eq!(root(&obs), "db.odoo_health");
}

fn container(f: impl FnOnce(&mut ContainerObs)) -> Observations {
    let mut obs = healthy();
    let mut c = ContainerObs {
        name: "odoo-1".into(),
        status: "running".into(),
        running: true,
        published: vec![PublishedPort {
            container_port: 8069,
            host_ip: "127.0.0.1".into(),
            host_port: 8069,
        }],
        ..Default::default()
    };
    f(&mut c);
    obs.odoo.runtime = OdooRuntime::Container(c);
    obs
}

#[test]
fn container_states() {
    assert_eq!(root(&container(|_| {})), "none");
    let crash = container(|c| {
        c.restarting = true;
        c.running = false;
        c.status = "restarting".into();
        c.restart_count = 4;
        c.exit_code = Some(1);
    });
    assert_eq!(root(&crash), "odoo.running");
    assert!(
        report(&crash)
            .root_cause
            .unwrap()
            .sentence
            .contains("crashing")
    );
    let oom = container(|c| {
        c.running = false;
        c.status = "exited".into();
        c.oom_killed = true;
        c.exit_code = Some(137);
    });
    assert!(
        report(&oom)
            .root_cause
            .unwrap()
            .sentence
            .contains("OOMKilled")
    );
    let exited = container(|c| {
        c.running = false;
        c.status = "exited".into();
        c.exit_code = Some(137);
    });
    let r = report(&exited);
    assert!(r.root_cause.as_ref().unwrap().sentence.contains("137"));
    assert!(matches!(
        r.check("odoo.running")
            .unwrap()
            .outcome
            .fix
            .as_ref()
            .unwrap()
            .apply,
        Some(ApplyAction::RestartContainer { .. })
    ));
}

#[test]
fn port_published_on_all_interfaces() {
    let obs = container(|c| c.published[0].host_ip = "0.0.0.0".into());
    assert_eq!(root(&obs), "ports.loopback_only");
    let mut obs = healthy();
    obs.host.listeners[0].address = "0.0.0.0".into();
    assert_eq!(root(&obs), "ports.loopback_only");
}

#[test]
fn fatal_log_lines_are_recognised() {
    let lines: Vec<String> = include_str!("../nginx/testdata/sample-odoo.log")
        .lines()
        .map(str::to_string)
        .collect();
    let m = super::scan_log(&lines);
    assert!(m[0].meaning.contains("misrouted"));
    let mut obs = healthy();
    obs.odoo.log_command = Some("tail".into());
    obs.odoo.log_lines = vec!["ModuleNotFoundError: No module named 'phonenumbers'".into()];
    assert_eq!(root(&obs), "odoo.log");
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn modules_loaded_is_a_normal_start_not_a_failed_module() {
    let mut obs = healthy();
    obs.odoo.log_command = Some("tail".into());
    // Every worker logs this on a good start (shared/odoo18/modules/log-format-odoo-log.txt).
    obs.odoo.log_lines = lines(
        "2026-11-30 11:04:56,837 19953 INFO odoo odoo.modules.loading: 12 modules loaded in 0.58s, 0 queries (+0 extra) \n\
         2026-11-30 11:04:56,837 19953 INFO odoo odoo.modules.loading: Modules loaded. \n\
         2026-11-30 11:04:56,840 19953 INFO odoo odoo.modules.registry: Registry loaded in 13.668s ",
    );
    let r = report(&obs);
    let log = r.check("odoo.log").unwrap();
    assert_eq!(log.outcome.verdict, Verdict::Pass, "{:?}", log.outcome);
    assert_eq!(r.status, Status::Healthy);
    // A module that really fails to load (install-fail-bad_init.log) is still named.
    obs.odoo.log_lines = lines(
        "2026-11-30 11:15:36,195 5056 CRITICAL odoo odoo.modules.module: Couldn't load module bad_init \n\
         2026-11-30 11:15:36,198 5056 WARNING odoo odoo.modules.loading: Transient module states were reset \n\
         2026-11-30 11:15:36,198 5056 ERROR odoo odoo.modules.registry: Failed to load registry \n\
         2026-11-30 11:15:36,198 5056 CRITICAL odoo odoo.service.server: Failed to initialize database `odoo`. ",
    );
    assert_eq!(root(&obs), "odoo.log");
}

#[test]
fn several_databases_without_dbfilter_are_named_with_a_fix() {
    let mut obs = healthy();
    obs.odoo.service_unit = Some("odoo.service".into());
    // As recorded on a real Odoo 18 (shared/odoo18/multi-db-without-dbfilter.txt).
    obs.edge.login = Some(HttpProbe {
        request: "GET https://erp.example.test/web/login".into(),
        status: Some(303),
        headers: vec![(
            "location".into(),
            "https://erp.example.test/web/database/selector".into(),
        )],
        ..Default::default()
    });
    obs.internal.gevent_websocket = probe("GET ws", 404, "");
    obs.edge.websocket = probe("GET ws edge", 404, "");
    let r = report(&obs);
    assert_eq!(root(&obs), "odoo.dbfilter", "{:?}", r.root_cause);
    let check = r.check("odoo.dbfilter").unwrap();
    let fix = check.outcome.fix.as_ref().unwrap();
    assert!(
        fix.summary.contains("dbfilter = ^DBNAME$"),
        "{}",
        fix.summary
    );
    assert_eq!(
        fix.command.as_deref(),
        Some("systemctl restart odoo.service")
    );
    assert_eq!(
        r.check("edge.login").unwrap().outcome.summary,
        "303 to the database selector"
    );
    // With db_name set the same answers are not this cause.
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = True\nworkers = 2\ndb_name = odoo\n",
    ));
    assert_eq!(
        report(&obs).check("odoo.dbfilter").unwrap().outcome.verdict,
        Verdict::Pass
    );
}

#[test]
fn a_wrong_database_password_is_named_with_a_fix_not_as_a_database_down() {
    let mut obs = healthy();
    obs.odoo.service_unit = Some("odoo.service".into());
    let fail = "{\"status\": \"fail\", \"db_server_status\": false}";
    obs.internal.http_health = probe("GET h", 500, fail);
    obs.internal.gevent_health = probe("GET g", 500, fail);
    obs.odoo.log_command = Some("tail".into());
    obs.odoo.log_lines = lines(
        "2026-11-30 11:11:02,604 22562 INFO ? odoo.sql_db: Connection to the database failed \n\
         psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"odoo\"",
    );
    let r = report(&obs);
    assert_eq!(root(&obs), "db.odoo_health", "{:?}", r.root_cause);
    let sentence = r.root_cause.as_ref().unwrap().sentence.clone();
    assert!(sentence.contains("refuses Odoo's login"), "{sentence}");
    assert!(!sentence.contains("database is down"), "{sentence}");
    let fix = r
        .check("db.odoo_health")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(fix.summary.contains("db_password"), "{}", fix.summary);
    assert_eq!(
        fix.command.as_deref(),
        Some("systemctl restart odoo.service")
    );
    // PostgreSQL accepting connections while Odoo says it cannot reach it: the same cause.
    obs.odoo.log_lines.clear();
    let r = report(&obs);
    assert!(
        r.root_cause
            .unwrap()
            .sentence
            .contains("accepts connections but Odoo cannot use it")
    );
}

#[test]
fn fixes_fit_how_odoo_is_installed() {
    // A host install, not running: never a compose command.
    let mut obs = healthy();
    obs.odoo.runtime = OdooRuntime::Process {
        config: Some("/etc/odoo/odoo.conf".into()),
        process: None,
    };
    let r = report(&obs);
    let fix = r
        .check("odoo.running")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(!format!("{fix:?}").contains("docker"), "{fix:?}");
    assert!(
        fix.summary.contains("odoo-bin -c /etc/odoo/odoo.conf"),
        "{}",
        fix.summary
    );
    // A host install under systemd: its unit restarts it after an odoo.conf change.
    let mut obs = healthy();
    obs.odoo.service_unit = Some("odoo18.service".into());
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = False\nworkers = 2\n",
    ));
    let r = report(&obs);
    let fix = r
        .check("odoo.proxy_mode")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert_eq!(
        fix.command.as_deref(),
        Some("systemctl restart odoo18.service")
    );
    // Outside systemd: how to restart it, by its pid and command line.
    obs.odoo.service_unit = None;
    let fix = report(&obs)
        .check("odoo.proxy_mode")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert!(fix.command.is_none());
    assert!(fix.summary.contains("pid 42"), "{}", fix.summary);
    // A container: the container.
    let mut obs = container(|_| {});
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nproxy_mode = False\nworkers = 2\n",
    ));
    let fix = report(&obs)
        .check("odoo.proxy_mode")
        .unwrap()
        .outcome
        .fix
        .clone()
        .unwrap();
    assert_eq!(fix.command.as_deref(), Some("docker restart odoo-1"));
}

#[test]
fn permission_denied_is_could_not_check_not_a_broken_config() {
    let mut obs = healthy();
    let denied = "nginx: [emerg] cannot load certificate key \"/etc/ssl/private/erp.key\": BIO_new_file() failed (SSL: error:8000000D:system library::Permission denied:calling fopen(/etc/ssl/private/erp.key, r) error:10080002:BIO routines::system lib)\nnginx: configuration file /etc/nginx/nginx.conf test failed\n";
    obs.nginx.test = Some(Ran {
        status: Some(1),
        output: denied.into(),
        ..ok("nginx -t")
    });
    obs.nginx.dump = Some(Ran {
        status: Some(1),
        output: denied.into(),
        ..ok("nginx -T")
    });
    obs.nginx.config = None;
    obs.nginx.site = None;
    obs.nginx.sites.clear();
    obs.nginx.reload = None;
    let r = report(&obs);
    for id in ["nginx.config_test", "nginx.site"] {
        let c = r.check(id).unwrap();
        assert_eq!(c.outcome.verdict, Verdict::Skipped, "{id}: {:?}", c.outcome);
        assert!(c.outcome.could_not_check, "{id}");
        assert!(c.outcome.summary.contains("could not check"), "{id}");
    }
    assert!(r.root_cause.is_none(), "{:?}", r.root_cause);
    assert_eq!(r.status, Status::CouldNotCheck);
    assert_eq!(crate::cli::diagnose::exit_code(&r), 2);
    // odoo.conf unreadable for this user: the same.
    let mut obs = healthy();
    obs.odoo.conf = None;
    obs.odoo.conf_error = Some("/etc/odoo/odoo.conf: Permission denied (os error 13)".into());
    let r = report(&obs);
    assert!(r.check("odoo.conf").unwrap().outcome.could_not_check);
    assert_eq!(r.status, Status::CouldNotCheck);
    // Something else failing still makes it a problem.
    obs.edge.health = probe("GET edge", 502, "");
    assert_eq!(report(&obs).status, Status::Problem);
}

/// Every answer a probe can give, through every check, into both outputs.
#[test]
fn no_rust_debug_text_in_any_output() {
    let no_status = Some(HttpProbe {
        request: "GET x".into(),
        ..Default::default()
    });
    let mut variants = Vec::new();
    for status in [None, Some(404), Some(418), Some(303)] {
        let mut obs = healthy();
        let p = |req: &str| {
            Some(HttpProbe {
                request: req.into(),
                status,
                ..Default::default()
            })
        };
        obs.internal.http_health = p("GET h");
        obs.internal.gevent_health = p("GET g");
        obs.internal.gevent_websocket = p("GET ws");
        obs.edge.health = p("GET edge");
        obs.edge.login = p("GET login");
        obs.edge.websocket = p("GET ws edge");
        variants.push(obs);
    }
    let mut obs = healthy();
    obs.edge.login = no_status;
    with_dump(
        &mut obs,
        &SITE.replace(
            "proxy_pass http://odoo-longpolling;",
            "proxy_pass http://odoo;",
        ),
    );
    variants.push(obs);
    for obs in variants {
        let r = report(&obs);
        let json = serde_json::to_string(&r).unwrap();
        let text = crate::cli::diagnose::render_text(&r);
        for out in [&json, &text] {
            for debug in ["Some(", "None"] {
                assert!(!out.contains(debug), "{debug} in:\n{out}");
            }
        }
    }
}
