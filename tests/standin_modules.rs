//! The stand-in's module runs against a real PostgreSQL (scram-sha-256 for host
//! connections, as the official image has it) holding Odoo's module tables with a fresh
//! Odoo 18 database's states, in one-off containers of the release images on the
//! project's network, as a deploy's module phase runs them; and the bad release images
//! behaving as named, as Docker reports them.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::docker::Project;
use support::odoo_db::{
    FRESH_INSTALLED, PROJECT_INSTALLS, PROJECT_LOAD_ORDER, TOTAL, UNINSTALLABLE, UNINSTALLED,
};
use support::standin::{
    Bad, NEWER_ADDON_VERSIONS, RELEASES, ensure_bad_image, ensure_image, run_module_job,
    with_healthcheck,
};

const DB: &str = "odoo";

fn module_run(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["-c", "/etc/odoo/odoo.conf", "-d", DB]
        .map(String::from)
        .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--stop-after-init", "--no-http"].map(String::from));
    args
}

fn run(project: &Project, image: &str, extra: &[&str]) -> support::standin::OneOff {
    let args = module_run(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_module_job(project, image, &args)
}

fn counts(installed: usize, uninstalled: usize, uninstallable: usize) -> BTreeMap<String, usize> {
    [
        ("installed", installed),
        ("uninstallable", uninstallable),
        ("uninstalled", uninstalled),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(s, n)| (s.to_string(), n))
    .collect()
}

/// The shared README's success rule for a module run.
fn succeeded(exit_code: i32, log: &str) -> bool {
    exit_code == 0
        && log.contains("odoo.modules.loading: Modules loaded.")
        && !log.contains(" CRITICAL ")
        && !log.contains("invalid module names, ignored")
        && !log.contains("Transient module states were reset")
}

/// The last line of the last traceback in the log: the cause of a failed run.
fn traceback_cause(log: &str) -> Option<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let starts_record = |l: &str| l.len() > 4 && l[..4].chars().all(|c| c.is_ascii_digit());
    let tb = lines
        .iter()
        .rposition(|l| *l == "Traceback (most recent call last):")?;
    lines[tb + 1..]
        .iter()
        .take_while(|l| !starts_record(l))
        .last()
        .copied()
}

fn fresh_db(test: &str) -> (Project, String) {
    let project = Project::new(test);
    let db = project.run_db();
    project.create_odoo_db(&db, DB);
    assert_eq!(
        project.module_state_counts(&db, DB),
        counts(12, UNINSTALLED, UNINSTALLABLE)
    );
    assert_eq!(project.module_states(&db, DB).len(), TOTAL);
    (project, db)
}

#[test]
fn installing_project_installs_its_dependencies_as_odoo_does() {
    let (project, db) = fresh_db("mod-install");
    let before = project.module_states(&db, DB);
    let image = ensure_image(RELEASES[0]);

    let out = run(&project, &image, &["-i", "project"]);

    assert!(
        succeeded(out.exit_code, &out.log),
        "{}\n{}",
        out.exit_code,
        out.log
    );
    assert!(
        out.log
            .contains("odoo.modules.registry: Registry loaded in"),
        "{}",
        out.log
    );
    assert!(out.log.contains("loading 12 modules..."), "{}", out.log);
    assert!(out.log.contains("loading 37 modules..."), "{}", out.log);
    assert!(
        out.log.contains(
            "ALLOW access to module.button_install on ['Project'] to user __system__ #1 via n/a"
        ),
        "{}",
        out.log
    );
    // Odoo's graph order, as the recorded install-project.log numbers it.
    let loading: Vec<String> = out
        .log
        .lines()
        .filter_map(|l| l.split("odoo.modules.loading: Loading module ").nth(1))
        .map(|s| s.trim().to_string())
        .collect();
    let recorded: Vec<String> = PROJECT_LOAD_ORDER
        .iter()
        .map(|(m, i)| format!("{m} ({i}/37)"))
        .collect();
    assert_eq!(loading, recorded);

    let after = project.module_states(&db, DB);
    assert_eq!(
        project.module_state_counts(&db, DB),
        counts(37, UNINSTALLED - 25, UNINSTALLABLE)
    );
    let changed: Vec<&str> = after
        .iter()
        .filter(|(n, s)| before.get(*n) != Some(*s))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(changed, PROJECT_INSTALLS.to_vec());
    for (name, _) in FRESH_INSTALLED {
        assert_eq!(after[name], "installed");
    }
    let versions = project.module_versions(&db, DB);
    assert_eq!(versions["project"], "18.0.1.3");
    assert_eq!(versions["mail"], "18.0.1.18");
    assert_eq!(versions["uom"], "18.0.1.0");

    // -u on the newer release: still installed, at the newer code's versions.
    let newer = ensure_image(RELEASES[1]);
    let up = run(&project, &newer, &["-u", "project"]);
    assert!(succeeded(up.exit_code, &up.log), "{}", up.log);
    assert!(
        up.log.contains("Loading module project (35/37)"),
        "{}",
        up.log
    );
    assert!(
        up.log
            .contains("ALLOW access to module.button_upgrade on ['Project']"),
        "{}",
        up.log
    );
    let versions = project.module_versions(&db, DB);
    assert!(NEWER_ADDON_VERSIONS.contains("project=18.0.1.4"));
    assert_eq!(versions["project"], "18.0.1.4");
    assert_eq!(versions["project_todo"], "18.0.1.1");
    assert_eq!(project.module_states(&db, DB), after);
}

#[test]
fn a_failing_module_exits_255_and_leaves_nothing_pending() {
    let (project, db) = fresh_db("mod-fail");
    // A crashed earlier run left rows pending; Odoo's reset puts them back too.
    project.set_module_states(&db, DB, &[("crm", "to install"), ("bus", "to upgrade")]);
    let image = ensure_image(RELEASES[0]);

    let out = run(&project, &image, &["-i", "bad_init"]);

    assert_eq!(out.exit_code, 255, "{}", out.log);
    assert!(!succeeded(out.exit_code, &out.log));
    for line in [
        "CRITICAL odoo odoo.modules.module: Couldn't load module bad_init",
        "WARNING odoo odoo.modules.loading: Transient module states were reset",
        "ERROR odoo odoo.modules.registry: Failed to load registry",
        "CRITICAL odoo odoo.service.server: Failed to initialize database `odoo`.",
        "INFO odoo odoo.service.server: Stopping gracefully",
    ] {
        assert!(out.log.contains(line), "{line} missing:\n{}", out.log);
    }
    assert_eq!(
        traceback_cause(&out.log),
        Some("RuntimeError: bad_init: deliberate failure while importing the addon (test)")
    );
    let states = project.module_states(&db, DB);
    assert!(!states.contains_key("bad_init"), "rolled back: no row");
    assert_eq!(states["crm"], "uninstalled");
    assert_eq!(states["bus"], "installed");
    assert_eq!(
        project.module_state_counts(&db, DB),
        counts(12, UNINSTALLED, UNINSTALLABLE)
    );
}

#[test]
fn an_unknown_module_name_is_only_a_warning() {
    let (project, db) = fresh_db("mod-unknown");
    let before = project.module_states(&db, DB);
    let image = ensure_image(RELEASES[0]);

    let out = run(&project, &image, &["-i", "no_such_module"]);

    assert_eq!(out.exit_code, 0, "{}", out.log);
    assert!(
        out.log.contains(
            "WARNING odoo odoo.modules.loading: invalid module names, ignored: no_such_module"
        ),
        "{}",
        out.log
    );
    assert!(out.log.contains("Modules loaded."), "{}", out.log);
    assert!(
        !succeeded(out.exit_code, &out.log),
        "exit 0 and still a failure"
    );
    assert_eq!(project.module_states(&db, DB), before);
}

fn inspect(project: &Project, container: &str, format: &str) -> String {
    let out = project.docker(&["inspect", "-f", format, container]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn bad_releases_behave_as_named() {
    let project = Project::new("mod-bad");
    let network = project.network();
    let common = vec!["--network", network.as_str()];

    // Crash loop: start-up lines, a CRITICAL traceback, exit 1, restarted over and over.
    let mut args = common.clone();
    args.extend_from_slice(&["--restart", "always"]);
    let crash = project.run_numbered(
        "odoo",
        1,
        &args,
        &with_healthcheck(&ensure_bad_image(Bad::CrashLoop)),
    );
    wait_until("restarted twice", Duration::from_secs(30), || {
        inspect(&project, &crash, "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 2
    });
    // Between two starts Docker shows it restarting, with the exit code of the crash.
    wait_until("restarting after exit 1", Duration::from_secs(30), || {
        inspect(&project, &crash, "{{.State.Status}} {{.State.ExitCode}}") == "restarting 1"
    });
    let logs = project.docker(&["logs", &crash]);
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(logs.contains("odoo: Odoo version 18.0"), "{logs}");
    assert!(logs.contains(" CRITICAL "), "{logs}");

    // Never healthy: running, serving, and unhealthy.
    let unhealthy = project.run_numbered(
        "odoo",
        2,
        &common,
        &with_healthcheck(&ensure_bad_image(Bad::NeverHealthy)),
    );
    wait_until("unhealthy", Duration::from_secs(30), || {
        inspect(&project, &unhealthy, "{{.State.Health.Status}}") == "unhealthy"
    });
    assert_eq!(
        inspect(&project, &unhealthy, "{{.State.Status}}"),
        "running"
    );

    // Hang: running, accepts connections, never answers (so never healthy).
    let hang = project.run_numbered(
        "odoo",
        3,
        &common,
        &with_healthcheck(&ensure_bad_image(Bad::Hang)),
    );
    wait_until("unhealthy", Duration::from_secs(30), || {
        inspect(&project, &hang, "{{.State.Health.Status}}") == "unhealthy"
    });
    assert_eq!(inspect(&project, &hang, "{{.State.Status}}"), "running");
    let ip = inspect(
        &project,
        &hang,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let mut stream = std::net::TcpStream::connect_timeout(
        &format!("{ip}:8069").parse().unwrap(),
        Duration::from_secs(5),
    )
    .expect("the hanging release accepts connections");
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /web/health HTTP/1.0\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(stream.read(&mut buf).is_err(), "no answer, ever");

    // Killed: exits 137 after starting.
    let killed = project.run_numbered(
        "odoo",
        4,
        &common,
        &with_healthcheck(&ensure_bad_image(Bad::Killed137)),
    );
    wait_until("exited", Duration::from_secs(30), || {
        inspect(&project, &killed, "{{.State.Status}}") == "exited"
    });
    assert_eq!(inspect(&project, &killed, "{{.State.ExitCode}}"), "137");
    let logs = project.docker(&["logs", &killed]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("HTTP service (werkzeug) running on"));

    // Upgrade fails: the server itself is healthy; its module run fails like Odoo's.
    let upgrade_image = ensure_bad_image(Bad::UpgradeFails);
    let server = project.run_numbered("odoo", 5, &common, &with_healthcheck(&upgrade_image));
    wait_until("healthy", Duration::from_secs(30), || {
        inspect(&project, &server, "{{.State.Health.Status}}") == "healthy"
    });
    let db = project.run_db();
    project.create_odoo_db(&db, DB);
    let before = project.module_states(&db, DB);
    let out = run(&project, &upgrade_image, &["-u", "base"]);
    assert_eq!(out.exit_code, 255, "{}", out.log);
    assert!(out.log.contains("Couldn't load module base"), "{}", out.log);
    assert!(
        out.log.contains("Transient module states were reset"),
        "{}",
        out.log
    );
    assert_eq!(
        traceback_cause(&out.log),
        Some(
            "RuntimeError: base: deliberate failure while loading the module (STANDIN_FAIL_MODULES)"
        )
    );
    assert_eq!(project.module_states(&db, DB), before);
}

/// The stand-in's DB checks log in for real over scram-sha-256 (the official image's
/// method for host connections): a wrong `db_password` is refused by PostgreSQL.
#[test]
fn db_checks_log_in_with_scram() {
    use support::rawhttp::get;
    use support::standin::{Standin, StandinOptions};
    let project = Project::new("mod-scram");
    let db = project.run_db();
    let ip = inspect(
        &project,
        &db,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let start = |password: &str| {
        Standin::start(StandinOptions {
            workers: 0,
            db_host: ip.clone(),
            db_port: Some(5432),
            db_password: Some(password.into()),
            ..Default::default()
        })
    };
    let right = start(support::pg_image::DB_PASSWORD);
    let answer = get(right.http_port, "/web/health?db_server_status=1");
    assert_eq!(answer.status, 200, "{}", right.log());
    let wrong = start("not-the-password");
    let answer = get(wrong.http_port, "/web/health?db_server_status=1");
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.text(),
        r#"{"status": "fail", "db_server_status": false}"#
    );
}
