//! `odoo-ops deploy --modules`: the maintenance window, the real binary against a real
//! stack (support::deploy_stack with data: a filestore on a volume, business rows), the
//! PostgreSQL container, nginx and the stand-in's releases. What an operator relies on:
//! requests through nginx get the maintenance page (503 with Retry-After), never a 502;
//! a failed upgrade brings back every table's rows and every filestore file as they were,
//! and the previous release serving; a good one changes the module rows and leaves the
//! upgrade's log in the proof. And `deploy` to each bad release without modules: the
//! automatic rollback leaves the previous release serving, verified.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::deploy_run::{
    assert_valid_proof, last_proof, proof_step, run, stack_args_waiting, step_names, text,
};
use support::deploy_stack::{DOMAIN, PROBE, Stack, inspect};
use support::rawhttp;
use support::standin::{self, Bad, RELEASES};

fn backups(stack: &Stack) -> PathBuf {
    stack.state.path().join("backups")
}

/// A CI job's options for this host, with short deadlines: a bad release is judged in
/// seconds, not the default 90.
fn deploy(stack: &Stack, tag: &str, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["deploy".into(), "--tag".into(), tag.into()];
    args.extend(stack_args_waiting(stack, 8));
    args.extend(["--verify-wait".into(), "8".into()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    run(stack, None, &args)
}

fn module_args(stack: &Stack, modules: &str) -> Vec<String> {
    vec![
        "--modules".into(),
        modules.into(),
        "--db".into(),
        "odoo".into(),
        "--backup-dir".into(),
        backups(stack).display().to_string(),
    ]
}

/// The tag of the service's one running container, found by compose's labels (a switch
/// back may leave it under another name than the stack's first container).
fn running_tag(stack: &Stack) -> String {
    let running: Vec<String> = stack
        .service_containers()
        .into_iter()
        .filter(|id| inspect(id, "{{.State.Running}}").as_deref() == Some("true"))
        .collect();
    let [id] = running.as_slice() else {
        panic!("expected one running odoo container, found {running:?}");
    };
    let image = inspect(id, "{{.Config.Image}}").expect("the odoo container runs");
    image.rsplit(':').next().unwrap().to_string()
}

/// Epoch ms of the proof's `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn ms(rfc3339: &serde_json::Value) -> i64 {
    let t = rfc3339.as_str().unwrap();
    let n = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + n(20, 23)
}

/// From the step that failed (the last failed one of the deploy) to the end of the
/// rollback's last step: how long until the previous release was verified healthy again.
fn failure_to_healthy_ms(status: &serde_json::Value) -> i64 {
    let failed = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["result"] == "failed")
        .expect("a failed step");
    let last = status["rollback"]["steps"]
        .as_array()
        .unwrap()
        .last()
        .expect("a rollback step")
        .clone();
    ms(&last["ended_at"]) - ms(&failed["ended_at"])
}

/// What one request through nginx got.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    status: Option<u16>,
    retry_after: Option<String>,
    /// Shown when the test fails (the struct's Debug).
    #[allow(dead_code)]
    error: Option<String>,
}

/// Requests through nginx one after another until stopped (bounded).
struct Watch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Seen>>,
}

impl Watch {
    fn start(port: u16) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut seen = Vec::new();
            while !flag.load(Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(240)
                && seen.len() < 40_000
            {
                let r = rawhttp::try_request(
                    port,
                    "GET",
                    PROBE,
                    &[("Host", DOMAIN)],
                    b"",
                    Duration::from_secs(30),
                );
                seen.push(match r {
                    Ok(r) => Seen {
                        at: Instant::now(),
                        status: Some(r.status),
                        retry_after: r.header("Retry-After").map(str::to_string),
                        error: None,
                    },
                    Err(e) => Seen {
                        at: Instant::now(),
                        status: None,
                        retry_after: None,
                        error: Some(e.to_string()),
                    },
                });
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        });
        Watch { stop, thread }
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Every answer was a 200 from Odoo or the maintenance page: 503 with Retry-After; never a
/// 502 nor a failed connection. Returns how many 503s there were.
#[track_caller]
fn assert_page_never_502(seen: &[Seen]) -> usize {
    let bad: Vec<&Seen> = seen
        .iter()
        .filter(|s| match s.status {
            Some(200) => false,
            Some(503) => s.retry_after.is_none(),
            _ => true,
        })
        .collect();
    let page = seen.iter().filter(|s| s.status == Some(503)).count();
    println!(
        "requests through nginx: {}, maintenance page (503 + Retry-After): {page}, other: {}",
        seen.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "answers other than 200 or the page: {bad:?}"
    );
    assert!(!seen.is_empty());
    page
}

fn databases(stack: &Stack) -> Vec<String> {
    stack
        .project
        .psql(
            &stack.db(),
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_failed_module_upgrade_restores_every_table_and_file_and_brings_the_previous_release_back() {
    let bad = standin::ensure_bad_image(Bad::UpgradeFails);
    println!("bad image: {bad}");
    let stack = Stack::with_data("dmfail");
    let tables_before = stack.fingerprint("odoo");
    let files_before = stack.filestore("odoo");
    assert!(
        tables_before
            .iter()
            .any(|t| t.starts_with("res_partner 3000 "))
    );
    assert!(files_before.contains("./ab/ab01"), "{files_before}");

    let watch = Watch::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(300));
    let out = deploy(
        &stack,
        Bad::UpgradeFails.tag(),
        &to_refs(&module_args(&stack, "project")),
    );
    std::thread::sleep(Duration::from_millis(300));
    let seen = watch.finish();
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("restored from this deploy's backup"),
        "{shown}"
    );
    let page = assert_page_never_502(&seen);
    assert!(page > 0, "the window showed the maintenance page");
    // Odoo answered before and after the window.
    assert_eq!(seen.first().unwrap().status, Some(200));
    assert_eq!(seen.last().unwrap().status, Some(200));

    // The previous release serves, the one container of the service, .env as it was.
    assert_eq!(running_tag(&stack), RELEASES[0]);
    assert_eq!(stack.service_containers().len(), 1);
    let env = std::fs::read_to_string(stack.env_path()).unwrap();
    assert!(
        env.contains(&format!("ODOO_TAG={}\n", RELEASES[0])),
        "{env}"
    );
    stack.assert_site_is_a_link_and_valid();
    let site = std::fs::read(stack.nginx.site_available(support::deploy_stack::SITE)).unwrap();
    assert_eq!(site, stack.site_before, "the site is as it was");

    // The data: every table and every filestore file as before the deploy.
    assert_eq!(stack.fingerprint("odoo"), tables_before);
    assert_eq!(stack.filestore("odoo"), files_before);
    // The replaced database was kept, not dropped.
    let dbs = databases(&stack);
    assert!(
        dbs.iter().any(|d| d.starts_with("odoo_before_restore_")),
        "{dbs:?}"
    );

    let (dir, status) = last_proof(&stack);
    assert_valid_proof(&status);
    assert_eq!(status["outcome"], "rolled_back", "{status:#}");
    assert_eq!(status["rollback"]["result"], "passed");
    assert_eq!(proof_step(&status["steps"], "backup")["result"], "passed");
    assert_eq!(
        proof_step(&status["steps"], "maintenance on")["result"],
        "passed"
    );
    assert_eq!(proof_step(&status["steps"], "upgrade")["result"], "failed");
    let rb = &status["rollback"]["steps"];
    assert_eq!(
        step_names(rb),
        [
            "rollback: maintenance on passed",
            "rollback: restore passed",
            "rollback: start passed",
            "rollback: gates passed",
            "rollback: maintenance off passed",
            "rollback: verify passed",
        ],
        "{status:#}"
    );
    let files = status["backup"]["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["name"] == "dump.sql"), "{status:#}");
    let zip = Path::new(status["backup"]["location"].as_str().unwrap());
    assert!(zip.exists(), "the backup is kept");
    let log = std::fs::read_to_string(dir.join("module_install.log")).unwrap();
    assert!(log.contains("Couldn't load module"), "{log}");
    assert!(log.contains("== phase FAILED"), "{log}");
    assert!(!log.contains(support::pg_image::DB_PASSWORD), "{log}");
    println!(
        "UpgradeFails: failed upgrade to healthy again after the restore: {} ms",
        failure_to_healthy_ms(&status)
    );
}

#[test]
fn a_good_module_deploy_installs_in_the_window_and_leaves_its_log_in_the_proof() {
    let stack = Stack::with_data("dmgood");
    let db = stack.db();
    let before = stack.project.module_states(&db, "odoo");
    assert_eq!(before["project"], "uninstalled");
    let files_before = stack.filestore("odoo");

    let watch = Watch::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let out = deploy(
        &stack,
        RELEASES[1],
        &to_refs(&module_args(&stack, "project")),
    );
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let seen = watch.finish();
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("PASSED"), "{shown}");
    assert!(
        shown.contains("upgrade | "),
        "the upgrade's log, live: {shown}"
    );
    let page = assert_page_never_502(&seen);
    assert!(page > 0, "the window showed the maintenance page");
    // How long the page was up, as the client saw it.
    let first = seen.iter().position(|s| s.status == Some(503)).unwrap();
    let last = seen.iter().rposition(|s| s.status == Some(503)).unwrap();
    println!(
        "deploy took {:.1} s; maintenance page seen for {:.1} s",
        took.as_secs_f64(),
        (seen[last].at - seen[first].at).as_secs_f64()
    );
    assert_eq!(seen.last().unwrap().status, Some(200));

    // The new release serves under the service's container name; .env says so.
    assert_eq!(running_tag(&stack), RELEASES[1]);
    assert_eq!(stack.service_containers().len(), 1);
    let env = std::fs::read_to_string(stack.env_path()).unwrap();
    assert!(
        env.contains(&format!("ODOO_TAG={}\n", RELEASES[1])),
        "{env}"
    );
    stack.assert_site_is_a_link_and_valid();
    let site = std::fs::read(stack.nginx.site_available(support::deploy_stack::SITE)).unwrap();
    assert_eq!(site, stack.site_before, "the maintenance page is gone");

    // The module rows moved as Odoo moves them; nothing pending.
    let after = stack.project.module_states(&db, "odoo");
    for m in support::odoo_db::PROJECT_INSTALLS {
        assert_eq!(after[m], "installed", "{m}");
    }
    assert!(
        !after.values().any(|s| s.starts_with("to ")),
        "nothing pending"
    );
    let versions = stack.project.module_versions(&db, "odoo");
    assert_eq!(versions["project"], "18.0.1.4", "the new release's code");
    assert_eq!(stack.filestore("odoo"), files_before);

    let (dir, status) = last_proof(&stack);
    assert_valid_proof(&status);
    assert_eq!(status["outcome"], "passed", "{status:#}");
    assert_eq!(status["rollback"], serde_json::Value::Null);
    assert_eq!(
        step_names(&status["steps"]),
        [
            "preflight passed",
            "backup passed",
            "maintenance on passed",
            "stop passed",
            "upgrade passed",
            "start passed",
            "gates passed",
            "maintenance off passed",
            "verify passed",
            "cleanup passed",
        ]
    );
    let backup = &status["backup"];
    assert!(
        backup["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["sha256"].as_str().unwrap().len() == 64),
        "{backup:#}"
    );
    let log = std::fs::read_to_string(dir.join("module_install.log")).unwrap();
    assert!(log.contains("== phase 1/1: install project"), "{log}");
    assert!(
        log.contains("odoo.modules.loading: Modules loaded."),
        "{log}"
    );
    assert!(log.contains("== phase succeeded"), "{log}");
    assert!(!log.contains(support::pg_image::DB_PASSWORD), "{log}");
    // The one-off container is gone.
    let oneoffs = stack.project.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True",
        "--filter",
        &format!("label=com.docker.compose.project={}", stack.project.name),
    ]);
    assert!(String::from_utf8_lossy(&oneoffs.stdout).trim().is_empty());
}

#[test]
fn each_bad_release_without_modules_is_rolled_back_and_the_previous_one_verified() {
    let cases = [Bad::CrashLoop, Bad::NeverHealthy, Bad::Hang, Bad::Killed137];
    for bad in cases {
        standin::ensure_bad_image(bad);
    }
    let stack = Stack::new("dmbad");
    let mut figures = Vec::new();
    for bad in cases {
        let started = Instant::now();
        let out = deploy(&stack, bad.tag(), &[]);
        let took = started.elapsed();
        let shown = text(&out);
        println!("== {bad:?}\n{shown}");
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {shown}");
        let (_, status) = last_proof(&stack);
        assert_valid_proof(&status);
        assert_eq!(status["to"]["tag"], bad.tag());
        assert_eq!(status["outcome"], "rolled_back", "{bad:?}: {status:#}");
        assert_eq!(
            status["rollback"]["result"], "passed",
            "{bad:?}: {status:#}"
        );
        let verify = status["rollback"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|s| s["name"] == "verify")
            .unwrap_or_else(|| panic!("{bad:?}: no verify after the rollback: {status:#}"));
        assert_eq!(verify["result"], "passed", "{bad:?}");
        // What serves is the previous release, and it answers through nginx.
        assert_eq!(running_tag(&stack), RELEASES[0], "{bad:?}");
        assert_eq!(stack.service_containers().len(), 1, "{bad:?}");
        let r = rawhttp::request(stack.nginx_port, "GET", PROBE, &[("Host", DOMAIN)], b"");
        assert_eq!(r.status, 200, "{bad:?}");
        let failed_step = status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|s| s["result"] == "failed")
            .unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string();
        figures.push(format!(
            "{bad:?}: failed at {failed_step}; failed gate to healthy again {} ms; whole deploy {:.1} s",
            failure_to_healthy_ms(&status),
            took.as_secs_f64()
        ));
    }
    for f in &figures {
        println!("{f}");
    }
}

fn to_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
