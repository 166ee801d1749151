//! `odoo-ops verify` against a droplet-shaped stack built of real parts: the real
//! PostgreSQL image as compose service `db`, the Odoo stand-in image as `odoo` on the
//! project's network, a real nginx with TLS in front on loopback, and a second nginx
//! server standing for the operator's own service behind an extra gate (it wants a bearer
//! token). What is asserted is what a script sees: the exit code and the JSON report.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::docker::Project;
use support::nginx::Nginx;
use support::odoo_site::{DOMAIN, site};
use support::{ports, standin, tls};

/// The token the extra gate's service wants; it must never be printed.
const TOKEN: &str = "ocr-test-token-5f2a9c";

struct Stack {
    project: Project,
    db: String,
    http: u16,
    gevent: u16,
    ocr: u16,
    nginx: Nginx,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

impl Stack {
    /// db running (with database `odoo` holding Odoo's module table), nginx in front;
    /// the Odoo container is started by [`Stack::start_odoo`].
    fn new(test: &str) -> Stack {
        let project = Project::new(test);
        let db = project.run_db();
        project.psql(&db, "postgres", "create database odoo");
        project.psql(
            &db,
            "odoo",
            "create table ir_module_module (id serial primary key, name varchar not null unique, state varchar(16)); \
             insert into ir_module_module (name, state) values ('base', 'installed'), ('web', 'installed'), ('sale', 'uninstalled')",
        );
        let (http, gevent, tls_port, ocr) = (
            ports::free_port(),
            ports::free_port(),
            ports::free_port(),
            ports::free_port(),
        );
        let dir = tempfile::tempdir().unwrap();
        let cert = tls::make_cert(&dir.path().join("certs"), DOMAIN);
        // The operator's own service: 200 `ok` only with the right bearer token.
        let ocr_server = format!(
            "server {{
    listen 127.0.0.1:{ocr};
    location = /health {{
        if ($http_authorization != \"Bearer {TOKEN}\") {{ return 401 \"unauthorized\\n\"; }}
        return 200 \"ok\\n\";
    }}
}}
"
        );
        let nginx = Nginx::start(
            &format!("{}{ocr_server}", site(http, gevent, tls_port, &cert)),
            &[tls_port, ocr],
        );
        Stack {
            project,
            db,
            http,
            gevent,
            ocr,
            nginx,
            ca: cert.ca_cert,
            dir,
        }
    }

    fn odoo_name(&self) -> String {
        format!("{}-odoo-1", self.project.name)
    }

    /// The stand-in image as service `odoo`, serving database `odoo` (`-d`, as a compose
    /// file's command does), its ports published on loopback.
    fn start_odoo(&self) -> String {
        self.start_odoo_with(&[])
    }

    /// [`Stack::start_odoo`] with more `docker run` options (a mount over odoo.conf).
    fn start_odoo_with(&self, extra: &[&str]) -> String {
        let image = standin::ensure_image(standin::RELEASES[0]);
        let network = self.project.network();
        let published = [
            format!("127.0.0.1:{}:8069", self.http),
            format!("127.0.0.1:{}:8072", self.gevent),
        ];
        let mut options = vec![
            "--network",
            &network,
            "-p",
            &published[0],
            "-p",
            &published[1],
        ];
        options.extend_from_slice(extra);
        self.project.run_with_command(
            "odoo",
            &options,
            &image,
            &["-c", "/etc/odoo/odoo.conf", "-d", "odoo"],
        )
    }

    /// A config file with these `[[verify.gates]]`.
    fn config(&self, gates: &str) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, gates).unwrap();
        path
    }

    fn verify(&self, config: &Path, extra: &[&str]) -> (Output, Value) {
        self.verify_with_env(config, extra, &[])
    }

    fn verify_with_env(
        &self,
        config: &Path,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> (Output, Value) {
        let mut args = vec![
            "--config".to_string(),
            config.display().to_string(),
            "verify".into(),
            "--json".into(),
            "--domain".into(),
            DOMAIN.into(),
            "--compose-project".into(),
            self.project.name.clone(),
            "--nginx-conf".into(),
            self.nginx.conf_path().display().to_string(),
            "--nginx-prefix".into(),
            self.nginx.path().display().to_string(),
            "--ca-file".into(),
            self.ca.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
            .args(&args)
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("OCR_TOKEN", TOKEN)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains(TOKEN) && !String::from_utf8_lossy(&out.stderr).contains(TOKEN),
            "the bearer token was printed"
        );
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, json)
    }
}

fn gate<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id)
        .unwrap_or_else(|| panic!("no gate {id} in {report:#}"))
}

fn status(report: &Value, id: &str) -> String {
    gate(report, id)["status"].as_str().unwrap().to_string()
}

const BUILT_IN: [&str; 9] = [
    "container",
    "health.http",
    "health.gevent",
    "edge.health",
    "edge.login",
    "edge.websocket",
    "db.ready",
    "db.modules",
    "odoo.registry",
];

#[test]
fn the_gates_of_a_real_stack() {
    let stack = Stack::new("verify");
    let odoo = stack.start_odoo();
    assert!(ports::wait_listening(stack.http, Duration::from_secs(20)));
    let gates = |ocr_hard: &str| {
        format!(
            "[[verify.gates]]\nname = \"ocr\"\nurl = \"http://127.0.0.1:{}/health\"\nbody_contains = \"ok\"\nbearer_env = \"OCR_TOKEN\"\n{ocr_hard}\n\
             [[verify.gates]]\nname = \"reports\"\nurl = \"http://127.0.0.1:{}/health\"\nstatus = 200\nbearer_env = \"NO_SUCH_TOKEN_VAR\"\nhard = false\ntimeout_secs = 2\n",
            stack.ocr, stack.ocr
        )
    };

    // Healthy: every built-in gate passes with its evidence; the hard extra gate passes
    // with the token sent; the soft one that cannot get its token only warns.
    let config = stack.config(&gates("hard = true"));
    let (out, report) = stack.verify(&config, &["--wait", "20"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["status"], "passed");
    for id in BUILT_IN {
        assert_eq!(status(&report, id), "pass", "{id}: {:#}", gate(&report, id));
        assert!(
            !gate(&report, id)["evidence"].as_array().unwrap().is_empty(),
            "{id} has no evidence"
        );
    }
    assert!(
        gate(&report, "container")["summary"]
            .as_str()
            .unwrap()
            .contains(&odoo)
    );
    assert!(
        gate(&report, "odoo.registry")["evidence"]
            .to_string()
            .contains("Registry loaded")
    );
    // The gates ran at once: the whole round took about as long as its slowest gate
    // (printed, not asserted: a loaded machine makes wall times noisy).
    let slowest = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["elapsed_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    println!(
        "verify: {} ms in {} round(s), slowest gate {slowest} ms",
        report["elapsed_ms"], report["rounds"]
    );
    assert_eq!(status(&report, "extra.ocr"), "pass", "{report:#}");
    let evidence = gate(&report, "extra.ocr")["evidence"].to_string();
    assert!(evidence.contains("environment: OCR_TOKEN"), "{evidence}");
    assert_eq!(status(&report, "extra.reports"), "warn");
    assert_eq!(gate(&report, "extra.reports")["hard"], false);

    // A hard gate whose token variable is not set cannot be checked: exit 2.
    let config = stack.config(&gates("hard = true").replace("OCR_TOKEN", "UNSET_OCR_TOKEN"));
    let (out, report) = stack.verify(&config, &["--no-diagnose"]);
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    assert_eq!(status(&report, "extra.ocr"), "could_not_check");

    // The service asked without its token answers 401: a hard gate failing, exit 1.
    std::fs::write(&config, format!(
        "[[verify.gates]]\nname = \"ocr\"\nurl = \"http://127.0.0.1:{}/health\"\nbody_contains = \"ok\"\n",
        stack.ocr
    ))
    .unwrap();
    let (out, report) = stack.verify(&config, &["--no-diagnose"]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(status(&report, "extra.ocr"), "fail");
    assert!(
        gate(&report, "extra.ocr")["summary"]
            .as_str()
            .unwrap()
            .contains("answered 401, expected 200")
    );
    for id in BUILT_IN {
        assert_eq!(status(&report, id), "pass", "{id}");
    }

    // A module left `to upgrade` (an upgrade cut short): the modules gate names it.
    let config = stack.config("");
    stack.project.psql(
        &stack.db,
        "odoo",
        "update ir_module_module set state = 'to upgrade' where name = 'sale'",
    );
    let (out, report) = stack.verify(&config, &["--no-diagnose"]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let modules = gate(&report, "db.modules");
    assert_eq!(modules["status"], "fail");
    assert!(
        modules["summary"]
            .as_str()
            .unwrap()
            .contains("odoo: sale to upgrade"),
        "{modules:#}"
    );
    stack.project.psql(
        &stack.db,
        "odoo",
        "update ir_module_module set state = 'installed' where name = 'sale'",
    );

    // A database without Odoo's tables is said to be one, as a warning: exit 0.
    let (out, report) = stack.verify(&config, &["--no-diagnose", "--database", "postgres"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let modules = gate(&report, "db.modules");
    assert_eq!(modules["status"], "warn");
    assert!(
        modules["summary"]
            .as_str()
            .unwrap()
            .contains("no Odoo database yet: postgres has no ir_module_module table"),
        "{modules:#}"
    );

    // The db service stopped: the database gate fails, and shows the db container's own
    // last log lines; the diagnosis names the database as the root cause.
    assert!(
        stack
            .project
            .docker(&["stop", "-t", "5", &stack.db])
            .status
            .success()
    );
    let (out, report) = stack.verify(&config, &[]);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let ready = gate(&report, "db.ready");
    assert_eq!(ready["status"], "fail");
    assert!(
        ready["summary"].as_str().unwrap().contains("exited"),
        "{ready:#}"
    );
    let context = &ready["context"];
    assert_eq!(context["container"], stack.db.as_str());
    let tail = context["log_tail"].as_array().unwrap();
    assert!(
        tail.iter()
            .any(|l| l.as_str().unwrap().contains("shut down")),
        "{context:#}"
    );
    assert!(
        report["root_cause"]
            .as_str()
            .unwrap_or_default()
            .contains("db."),
        "{report:#}"
    );
    // And the text face shows the same lines inline.
    let out = Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "verify",
            "--no-diagnose",
            "--domain",
            DOMAIN,
            "--compose-project",
            &stack.project.name,
            "--nginx-conf",
            stack.nginx.conf_path().to_str().unwrap(),
            "--nginx-prefix",
            stack.nginx.path().to_str().unwrap(),
            "--ca-file",
            stack.ca.to_str().unwrap(),
        ])
        .env("XDG_CONFIG_HOME", stack.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[FAIL] db.ready"), "{text}");
    assert!(
        text.contains(&format!(
            "last log lines (docker logs --tail 20 {})",
            stack.db
        )),
        "{text}"
    );
}

#[test]
fn waiting_for_readiness_polls_until_odoo_is_up() {
    let stack = Stack::new("verifywait");
    let config = stack.config("");
    let container = ["--odoo-container".to_string(), stack.odoo_name()];
    let args: Vec<&str> = container.iter().map(String::as_str).collect();

    // Not started: one round, the container gate fails.
    let (out, report) = stack.verify(&config, &[&args[..], &["--no-diagnose"]].concat());
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(status(&report, "container"), "fail");
    assert_eq!(report["rounds"], 1);

    // Started three seconds after the verify began: it waits, and passes.
    let started = Instant::now();
    let starter = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            std::thread::sleep(Duration::from_secs(3));
            stack.start_odoo()
        });
        let verified = stack.verify(&config, &[&args[..], &["--wait", "25"]].concat());
        handle.join().unwrap();
        verified
    });
    let (out, report) = starter;
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert!(report["rounds"].as_u64().unwrap() > 1, "{report:#}");
    assert!(gate(&report, "container")["attempts"].as_u64().unwrap() > 1);
    for id in BUILT_IN {
        assert_eq!(status(&report, id), "pass", "{id}");
    }
    // Polled, not slept: done soon after Odoo came up, well before the bound.
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// A program in `dir` named `name` that sleeps `secs`, then runs the real one.
fn slowed(dir: &Path, name: &str, secs: &str) {
    let real = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(!real.is_empty(), "{name} is not installed");
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nsleep {secs}\nexec {real} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn step_end(report: &Value, name: &str) -> u64 {
    report["discovery"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no discovery step `{name}` in {:#}", report["discovery"]))
        ["ended_ms"]
        .as_u64()
        .unwrap()
}

fn has_step(report: &Value, name: &str) -> bool {
    report["discovery"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == name)
}

/// The gates started as soon as Odoo's container is seen (before odoo.conf is read).
const EARLY: [&str; 3] = ["db.ready", "db.modules", "odoo.registry"];

fn started(report: &Value, id: &str) -> u64 {
    gate(report, id)["started_ms"].as_u64().unwrap()
}

/// Each gate waits only for the discovery it needs. The process snapshot (`ps`) is made
/// to take 4 s and `nginx -T` 2 s, so the order is seen in the report's recorded times
/// whatever the machine's load: the operator's own gate starts at once, the edge gates
/// when nginx's configuration is read, Odoo's gates when Odoo is found (on Docker's
/// containers); none waits for the snapshot, which only confirms what was found (with
/// nginx's upstream). And the verdicts are those of a verify without the slow programs.
#[test]
fn each_gate_waits_only_for_the_discovery_it_needs() {
    use odoo_ops::verify::timeline::steps;
    let stack = Stack::new("verifyorder");
    stack.start_odoo();
    assert!(ports::wait_listening(stack.http, Duration::from_secs(20)));
    let config = stack.config(&format!(
        "[[verify.gates]]\nname = \"ocr\"\nurl = \"http://127.0.0.1:{}/health\"\nbearer_env = \"OCR_TOKEN\"\n",
        stack.ocr
    ));
    // Ready first (a plain verify that waits), so both runs below judge the same stack.
    let (out, plain) = stack.verify(&config, &["--wait", "20"]);
    assert_eq!(out.status.code(), Some(0), "{plain:#}");
    let (_, plain) = stack.verify(&config, &[]);

    let bin = tempfile::tempdir().unwrap();
    slowed(bin.path(), "ps", "4");
    slowed(bin.path(), "nginx", "2");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (out, report) = stack.verify_with_env(&config, &[], &[("PATH", path)]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");

    let snapshot = step_end(&report, steps::PROCESS_SNAPSHOT);
    let nginx = step_end(&report, steps::NGINX_DUMP);
    let odoo = step_end(&report, steps::ODOO_GUESSED);
    let seen = step_end(&report, steps::ODOO_SEEN);
    assert!(seen <= odoo, "{:#}", report["discovery"]);
    // The database gates, started on the project's `db` before odoo.conf said so: kept.
    step_end(&report, steps::DB_EARLY_KEPT);
    assert!(!has_step(&report, steps::DB_EARLY_DISCARDED));
    assert!(
        snapshot >= 3000 && nginx >= 1000,
        "{:#}",
        report["discovery"]
    );
    // Confirmed, not found again: no gate ran twice.
    step_end(&report, steps::ODOO_CONFIRMED);
    step_end(&report, steps::NGINX_CONFIRMED);

    assert!(started(&report, "extra.ocr") < nginx, "{report:#}");
    for id in ["edge.health", "edge.login", "edge.websocket"] {
        let at = started(&report, id);
        assert!(
            at >= nginx && at < snapshot,
            "{id} started at {at} ms: {report:#}"
        );
    }
    // The gates that need Odoo's container alone (or guess odoo.conf) start when it is
    // seen, the others once odoo.conf is read.
    for id in BUILT_IN.iter().filter(|id| !id.starts_with("edge.")) {
        let at = started(&report, id);
        let after = match EARLY.contains(id) {
            true => seen,
            false => odoo,
        };
        assert!(
            at >= after && at < nginx,
            "{id} started at {at} ms: {report:#}"
        );
    }
    for g in report["gates"].as_array().unwrap() {
        assert_eq!(g["attempts"], 1, "{g:#}");
        let id = g["id"].as_str().unwrap();
        assert_eq!(g["status"], gate(&plain, id)["status"], "{id}");
        assert_eq!(g["summary"], gate(&plain, id)["summary"], "{id}");
    }
    assert_eq!(report["subject"], plain["subject"]);
    println!(
        "discovery: {:#}\ngates started at: {:?}",
        report["discovery"],
        report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (
                g["id"].as_str().unwrap().to_string(),
                g["started_ms"].as_u64().unwrap()
            ))
            .collect::<Vec<_>>()
    );
}

/// The database gates start on the project's `db` as soon as Odoo's container is seen,
/// before its odoo.conf is read; here odoo.conf names another service (`pgmain`), so what
/// they found in `db` is thrown away and they run on `pgmain`. `db` holds a module left
/// `to upgrade`: a verdict kept from it would fail `db.modules`, and name `db`.
#[test]
fn early_database_gates_are_discarded_when_odoo_conf_names_another_database() {
    use odoo_ops::verify::timeline::steps;
    let stack = Stack::new("verifyotherdb");
    stack.project.psql(
        &stack.db,
        "odoo",
        "update ir_module_module set state = 'to upgrade' where name = 'sale'",
    );
    let main = stack.project.run_db_as("pgmain");
    stack
        .project
        .psql(&main, "postgres", "create database odoo");
    stack.project.psql(
        &main,
        "odoo",
        "create table ir_module_module (id serial primary key, name varchar not null unique, state varchar(16)); \
         insert into ir_module_module (name, state) values ('base', 'installed'), ('web', 'installed')",
    );
    let conf = stack.dir.path().join("odoo.conf");
    let text = standin::IMAGE_ODOO_CONF.replace("db_host = db\n", "db_host = pgmain\n");
    assert!(text.contains("db_host = pgmain"), "{text}");
    std::fs::write(&conf, text).unwrap();
    let mount = format!("{}:/etc/odoo/odoo.conf:ro", conf.display());
    stack.start_odoo_with(&["-v", &mount]);
    assert!(ports::wait_listening(stack.http, Duration::from_secs(20)));
    let config = stack.config("");
    // Ready first, then one round whose timeline is read.
    let (out, report) = stack.verify(&config, &["--wait", "20", "--no-diagnose"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let (out, report) = stack.verify(&config, &["--no-diagnose"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["rounds"], 1);

    let discarded = step_end(&report, steps::DB_EARLY_DISCARDED);
    assert!(!has_step(&report, steps::DB_EARLY_KEPT), "{report:#}");
    for id in ["db.ready", "db.modules"] {
        let g = gate(&report, id);
        assert_eq!(g["status"], "pass", "{id}: {g:#}");
        let evidence = g["evidence"].to_string();
        assert!(
            evidence.contains(&format!("docker exec {main} ")),
            "{id} did not ask {main}: {g:#}"
        );
        assert!(
            !evidence.contains(&stack.db),
            "{id} asked {}: {g:#}",
            stack.db
        );
        assert!(
            started(&report, id) >= discarded,
            "{id} was not run again: {report:#}"
        );
    }
    assert!(
        report["subject"]
            .to_string()
            .contains(&format!("database: container {main} (service `pgmain`)")),
        "{report:#}"
    );
}
