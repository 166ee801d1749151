//! Issue 13's performance figures, on the real stack the deploy tests use
//! (tests/support/deploy_stack.rs: a real nginx in front of the Odoo stand-in's releases,
//! the real PostgreSQL image as `db`, Docker):
//!
//! (a) verify's wall time against its slowest gate, and against the seed's six verify
//!     commands (section 4.3) run one after another on the same host;
//! (b) failed requests through nginx during `odoo-ops deploy --tag` with no module change,
//!     against `docker compose up -d` of a new tag on the same stack;
//! (c) time from a failed gate to healthy again, after the automatic rollback of a bad tag;
//! (d) `odoo-ops backup` and `odoo-ops restore` against plain `pg_dump -Fc`/`pg_restore`
//!     of the same database in the db container (the 646-row module fixture plus
//!     generated rows, tens of MB).
//!
//! `cargo bench --bench deploy`; `BENCH_RUNS=N` sets the samples of (a) (default 7);
//! `BENCH_PARTS=a` (or `a,c`...) runs only those parts (default all four). The machine may
//! be shared: the figures are medians of few samples, and noisy.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use odoo_ops::checks::DiagnoseOptions;
use odoo_ops::target::Target;
use odoo_ops::verify::{VerifyOptions, VerifyReport};
use support::deploy_stack::{DOMAIN, PROBE, Stack};
use support::docker::{Project, compose_v2_config};
use support::standin::{self, Bad, IMAGE_REPO, RELEASES};
use support::{pg_image, rawhttp};

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Whether part `p` (`a`..`d`) was asked for in `BENCH_PARTS` (all when unset).
fn part(p: &str) -> bool {
    match std::env::var("BENCH_PARTS") {
        Ok(parts) => parts.split(',').any(|x| x.trim() == p),
        Err(_) => true,
    }
}

fn main() {
    println!("building the stand-in's images and the stack (cached by tag)...");
    if part("a") || part("b") || part("c") {
        let stack = Stack::new("benchdeploy");
        if part("a") {
            verify_figures(&stack);
        }
        if part("b") {
            deploy_figures(&stack);
        }
        if part("c") {
            bad_tags(&stack);
        }
    }
    if part("d") {
        backup_figures();
    }
}

// ---------------------------------------------------------------------------------------
// (a) verify

fn verify_options(stack: &Stack) -> VerifyOptions {
    VerifyOptions {
        discovery: DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            compose_project: Some(stack.project.name.clone()),
            nginx_conf: Some(stack.nginx.path().join("nginx.conf")),
            nginx_prefix: Some(PathBuf::from(format!("{}/", stack.nginx.path().display()))),
            ..VerifyOptions::default().discovery
        },
        diagnose_on_failure: false,
        ..Default::default()
    }
}

fn slowest_gate(report: &VerifyReport) -> (String, u64) {
    report
        .gates
        .iter()
        .map(|g| (g.id.clone(), g.elapsed_ms))
        .max_by_key(|(_, ms)| *ms)
        .unwrap_or_default()
}

fn verify_figures(stack: &Stack) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let target = Target::local();
    let options = verify_options(stack);
    // Warm up (the first Docker call, the first exec in the db container).
    let report = runtime.block_on(odoo_ops::verify::run(&target, &options));
    assert_eq!(
        report.status,
        odoo_ops::verify::Overall::Passed,
        "the stack does not pass verify: {report:#?}"
    );
    let n = runs();
    let (mut walls, mut slowest, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    // When the gates on Odoo's container started (the end of Odoo's discovery).
    let mut odoo_starts = Vec::new();
    let mut last = report;
    for _ in 0..n {
        let t = Instant::now();
        let report = runtime.block_on(odoo_ops::verify::run(&target, &options));
        let wall = ms(t.elapsed());
        let (_, gate) = slowest_gate(&report);
        walls.push(wall);
        slowest.push(gate as f64);
        ratios.push(wall / (gate as f64).max(1.0));
        if let Some(at) = report
            .gates
            .iter()
            .filter(|g| g.id == "container" || g.id.starts_with("db."))
            .map(|g| g.started_ms)
            .min()
        {
            odoo_starts.push(at as f64);
        }
        last = report;
    }
    println!();
    println!("(a) verify ({n} runs, {} gates)", last.gates.len());
    println!(
        "  wall time: median {:.0} ms (min {:.0}, max {:.0}); slowest gate median {:.0} ms",
        median(&walls),
        walls.iter().cloned().fold(f64::MAX, f64::min),
        walls.iter().cloned().fold(0.0, f64::max),
        median(&slowest)
    );
    if !odoo_starts.is_empty() {
        println!(
            "  Odoo's gates (container, db.*) started: median {:.0} ms after the start",
            median(&odoo_starts)
        );
    }
    let ratio = median(&ratios);
    println!(
        "  wall / slowest gate (median of per-run ratios): {ratio:.2}  (target <= 1.5: {})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    println!(
        "  wall median / slowest gate median: {:.2}",
        median(&walls) / median(&slowest).max(1.0)
    );
    println!("  the last run's discovery and gates (ms after the start):");
    for s in &last.discovery {
        println!("    {:>5} .. {:>5}  {}", s.started_ms, s.ended_ms, s.name);
    }
    for g in &last.gates {
        println!(
            "    {:>5} .. {:>5}  gate {} ({})",
            g.started_ms,
            g.started_ms + g.elapsed_ms,
            g.id,
            g.status.label().trim()
        );
    }

    // The seed's section 4.3, as an operator types it on this host: the project's
    // containers, curl on the published port, curl through nginx (plain HTTP here: the stack's site has no
    // TLS) for health, login and the longpolling route, pg_isready in the db container.
    let project = &stack.project.name;
    let edge = |path: &str| {
        vec![
            "curl".to_string(),
            "-sS".into(),
            "-o".into(),
            "/dev/null".into(),
            "-w".into(),
            "%{http_code}\\n".into(),
            "-H".into(),
            format!("Host: {DOMAIN}"),
            format!("http://127.0.0.1:{}{path}", stack.nginx_port),
        ]
    };
    // Compose v2 does not take the harness's `docker run` containers (labelled as Compose
    // v1 does) for services: `ps` and `exec` are Docker's own, on the same containers.
    let seq: Vec<Vec<String>> = vec![
        vec![
            "docker".into(),
            "ps".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
        ],
        vec![
            "curl".into(),
            "-sS".into(),
            format!("http://127.0.0.1:{}/web/health", stack.slots.blue.http),
        ],
        edge("/web/health"),
        edge("/web/login"),
        edge("/longpolling/poll"),
        vec![
            "docker".into(),
            "exec".into(),
            format!("{project}-db-1"),
            "pg_isready".into(),
        ],
    ];
    let compose = compose_v2_config();
    for argv in &seq {
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env("DOCKER_CONFIG", &compose)
            .output()
            .expect("run a seed verify command");
        if !out.status.success() {
            println!("  note: `{}` failed: {}", argv.join(" "), text(&out).trim());
        }
    }
    let mut seq_walls = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        for argv in &seq {
            let _ = Command::new(&argv[0])
                .args(&argv[1..])
                .env("DOCKER_CONFIG", &compose)
                .output();
        }
        seq_walls.push(ms(t.elapsed()));
    }
    let seq_med = median(&seq_walls);
    println!(
        "  the seed's six verify commands one after another: median {seq_med:.0} ms; \
         odoo-ops verify / seed = {:.2} ({} gates with evidence and verdicts vs 6 raw outputs)",
        median(&walls) / seq_med,
        last.gates.len()
    );
}

// ---------------------------------------------------------------------------------------
// (b) and (c): deploys under load

/// Requests through nginx one after another until stopped, each stamped.
struct TimedLoad {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, bool, String)>>,
}

impl TimedLoad {
    fn start(port: u16) -> TimedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut sent = Vec::new();
            while !flag.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
                let n = sent.len();
                let r = rawhttp::try_request(
                    port,
                    "GET",
                    &format!("{PROBE}&probe={n}"),
                    &[("Host", DOMAIN)],
                    b"",
                    Duration::from_secs(30),
                );
                let at = Instant::now();
                match r {
                    Ok(r) if r.status == 200 => sent.push((at, true, String::new())),
                    Ok(r) => sent.push((at, false, format!("{}", r.status))),
                    Err(e) => sent.push((at, false, e.to_string())),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        });
        TimedLoad { stop, thread }
    }

    fn finish(self) -> Vec<(Instant, bool, String)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Requests sent, failed, and the outage seen by a client: from the first failed request
/// to the first success after the last failed one.
fn outage(sent: &[(Instant, bool, String)]) -> (usize, usize, Option<Duration>, Vec<String>) {
    let failed: Vec<usize> = (0..sent.len()).filter(|i| !sent[*i].1).collect();
    let window = match (failed.first(), failed.last()) {
        (Some(&first), Some(&last)) => sent[last + 1..]
            .iter()
            .find(|s| s.1)
            .map(|ok| ok.0.duration_since(sent[first].0)),
        _ => None,
    };
    let mut kinds: Vec<String> = failed.iter().map(|i| sent[*i].2.clone()).collect();
    kinds.sort();
    kinds.dedup();
    (sent.len(), failed.len(), window, kinds)
}

fn shown(failed: usize, window: Option<Duration>) -> String {
    match (failed, window) {
        (0, _) => "none".into(),
        (_, Some(w)) => format!("{:.1} s", w.as_secs_f64()),
        (_, None) => "not over when the load stopped".into(),
    }
}

fn deploy(stack: &Stack, tag: &str, ready_timeout: u32) -> Output {
    let mut args = vec!["deploy".to_string(), "--tag".into(), tag.into()];
    args.extend(support::deploy_run::stack_args_waiting(
        stack,
        ready_timeout,
    ));
    support::deploy_run::run(stack, None, &args)
}

/// Milliseconds of the day of a proof's `2026-11-30T12:01:07.250Z`.
fn day_ms(stamp: &str) -> Option<i64> {
    let time = stamp.split('T').nth(1)?.trim_end_matches('Z');
    let (hms, milli) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + milli.parse::<i64>().ok()?)
}

fn running_tag(stack: &Stack) -> String {
    let ids = stack.service_containers();
    ids.iter()
        .filter_map(|id| {
            support::deploy_stack::inspect(id, "{{.State.Running}} {{.Config.Image}}")
                .filter(|s| s.starts_with("true "))
        })
        .map(|s| s.rsplit(':').next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn deploy_figures(stack: &Stack) {
    // (b) odoo-ops deploy, a new tag, no module change.
    let load = TimedLoad::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let out = deploy(stack, RELEASES[1], 60);
    let deploy_wall = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let (sent, failed, _, kinds) = outage(&load.finish());
    println!();
    println!("(b) a new tag with no module change, requests through nginx meanwhile");
    println!(
        "  odoo-ops deploy --tag {}: exit {:?} in {:.1} s; {sent} requests, {failed} failed {kinds:?}",
        RELEASES[1],
        out.status.code(),
        deploy_wall.as_secs_f64()
    );
    if !out.status.success() {
        println!("{}", text(&out));
    }

    // The other side of (b): `docker compose up -d` of a new tag on the same stack (the
    // same db, nginx, ports and .env), with a compose file holding the odoo service as
    // the stack runs it. Compose v2 does not adopt the harness's containers (labelled as
    // Compose v1 does): the odoo service is first brought up by compose with the tag .env
    // names (not measured), then the tag in .env is changed and `up -d` measured.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        format!(
            "services:
  odoo:
    image: ${{ODOO_IMAGE}}:${{ODOO_TAG}}
    restart: unless-stopped
    command: [\"-c\", \"/etc/odoo/odoo.conf\", \"-d\", \"odoo\"]
    environment:
      HOST: db
    ports:
      - \"127.0.0.1:${{ODOO_HTTP_PORT}}:8069\"
      - \"127.0.0.1:${{ODOO_GEVENT_PORT}}:8072\"
    networks:
      default:
        aliases: [odoo]
    stop_grace_period: 10s
networks:
  default:
    name: {}_default
    external: true
",
            stack.project.name
        ),
    )
    .unwrap();
    let env_path = stack.env_path();
    let compose = |args: &[&str]| {
        Command::new("docker")
            .env("DOCKER_CONFIG", compose_v2_config())
            .args(["compose", "-p", &stack.project.name, "--project-directory"])
            .arg(dir.path())
            .arg("--env-file")
            .arg(&env_path)
            .args(args)
            .output()
            .expect("docker compose")
    };
    let site_answers = |within: Duration| {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let ok = rawhttp::try_request(
                stack.nginx_port,
                "GET",
                PROBE,
                &[("Host", DOMAIN)],
                b"",
                Duration::from_secs(5),
            )
            .is_ok_and(|r| r.status == 200);
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    for id in stack.service_containers() {
        let _ = support::deploy_stack::docker(&["rm", "-f", &id]);
    }
    let out = compose(&["up", "-d", "--no-deps", "odoo"]);
    let env = std::fs::read_to_string(&env_path).unwrap();
    let current = env
        .lines()
        .find_map(|l| l.strip_prefix("ODOO_TAG="))
        .unwrap_or_default()
        .to_string();
    if !out.status.success() || !site_answers(Duration::from_secs(60)) {
        println!(
            "  docker compose up -d: the stack did not come up with {current}: {}",
            text(&out)
        );
        return;
    }
    let next = if current == RELEASES[0] {
        RELEASES[1]
    } else {
        RELEASES[0]
    };
    let env: String = env
        .lines()
        .map(|l| match l.starts_with("ODOO_TAG=") {
            true => format!("ODOO_TAG={next}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&env_path, env).unwrap();
    let load = TimedLoad::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let out = compose(&["up", "-d", "--no-deps", "odoo"]);
    let up_wall = t.elapsed();
    // `up -d` returns once the container is started: wait for the site to answer again.
    site_answers(Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500));
    let (sent, failed, window, kinds) = outage(&load.finish());
    println!(
        "  docker compose up -d ({IMAGE_REPO} {current} -> {next}): exit {:?} in {:.1} s; {sent} requests, {failed} failed {kinds:?}; outage {}",
        out.status.code(),
        up_wall.as_secs_f64(),
        shown(failed, window)
    );
    if !out.status.success() {
        println!("{}", text(&out));
    }
}

fn bad_tags(stack: &Stack) {
    // (c) a bad tag: the gate fails, the previous release is back and healthy.
    println!();
    println!("(c) a bad tag: from the failed gate to healthy again");
    for bad in [Bad::NeverHealthy, Bad::Killed137] {
        standin::ensure_bad_image(bad);
        let before = running_tag(stack);
        let load = TimedLoad::start(stack.nginx_port);
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        let out = deploy(stack, bad.tag(), 15);
        let wall = t.elapsed();
        std::thread::sleep(Duration::from_millis(500));
        let (sent, failed, window, kinds) = outage(&load.finish());
        let (_, proof) = support::deploy_run::last_proof(stack);
        let steps = proof["steps"].as_array().cloned().unwrap_or_default();
        let failed_step = steps.iter().find(|s| s["result"] == "failed");
        let failed_at = failed_step.and_then(|s| day_ms(s["ended_at"].as_str()?));
        let rollback_verify = proof["rollback"]["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "verify").cloned());
        let healthy_at = rollback_verify
            .as_ref()
            .filter(|v| v["result"] == "passed")
            .and_then(|v| day_ms(v["ended_at"].as_str()?));
        println!(
            "  {}: exit {:?} after {:.1} s, outcome {}, failed step `{}`; {} -> {}",
            bad.tag(),
            out.status.code(),
            wall.as_secs_f64(),
            proof["outcome"],
            failed_step
                .and_then(|s| s["name"].as_str())
                .unwrap_or("none"),
            before,
            running_tag(stack)
        );
        match (&proof["rollback"], failed_at, healthy_at) {
            (_, Some(f), Some(h)) => println!(
                "    failed gate (step ended) -> the rollback's verify passed: {:.1} s",
                (h - f) as f64 / 1000.0
            ),
            (serde_json::Value::Null, Some(_), _) => println!(
                "    refused before nginx was switched: {before} kept serving, the candidate removed"
            ),
            (rollback, _, _) => println!(
                "    the rollback did not bring a healthy release back: result {}, steps {}",
                rollback["result"], rollback["steps"]
            ),
        }
        println!(
            "    through nginx: {sent} requests, {failed} failed {kinds:?}; outage {}",
            shown(failed, window)
        );
    }
}

// ---------------------------------------------------------------------------------------
// (d) backup and restore

const DB: &str = "odoo";

fn backup_figures() {
    let project = Project::new("benchbackup");
    let db = project.run_db();
    let network = project.network();
    let image = standin::ensure_image(RELEASES[0]);
    let odoo = project.run(
        "odoo",
        &["--network", &network, "-v", "/var/lib/odoo"],
        &image,
    );
    project.create_odoo_db(&db, DB);
    // Rows enough for tens of MB: partners with a JSON note and a small binary logo.
    project.psql(
        &db,
        DB,
        "CREATE TABLE res_partner (id serial PRIMARY KEY, name text, email text, note jsonb, \
           logo bytea, created timestamptz DEFAULT now());
         INSERT INTO res_partner (name, email, note, logo)
           SELECT 'Partner ' || i, 'p' || i || '@example.com',
                  jsonb_build_object('i', i, 'street', md5(i::text), 'tag', 'é€'),
                  decode(repeat(md5(i::text), 4), 'hex')
           FROM generate_series(1, 150000) i;
         CREATE INDEX res_partner_email ON res_partner (email);
         ANALYZE;",
    );
    // A filestore of a few MB, owned by Odoo's uid.
    let out = project.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--volumes-from",
        &odoo,
        "--entrypoint",
        "sh",
        pg_image::ensure_image(),
        "-c",
        "set -e; d=/var/lib/odoo/filestore/odoo; for x in 0a 1b 2c 3d; do mkdir -p $d/$x; \
         head -c 1000000 /dev/urandom > $d/$x/${x}01; done; chown -R 101:101 /var/lib/odoo",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let size: f64 = project
        .psql(&db, DB, &format!("SELECT pg_database_size('{DB}')"))
        .trim()
        .parse()
        .unwrap();
    let mb = size / 1e6;
    println!();
    println!("(d) backup and restore of a {mb:.1} MB database (+4 MB filestore)");

    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--compose-project", &project.name, "--db", DB])
            .env("XDG_CONFIG_HOME", "/nonexistent-odoo-ops-bench")
            .output()
            .expect("run odoo-ops")
    };
    let backups = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = cli(&[
        "backup",
        "--dir",
        backups.path().to_str().unwrap(),
        "--keep",
        "3",
        "--json",
    ]);
    let backup_wall = t.elapsed();
    assert!(out.status.success(), "backup: {}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let zip = PathBuf::from(report["path"].as_str().unwrap());
    let zip_mb = std::fs::metadata(&zip).unwrap().len() as f64 / 1e6;
    let t = Instant::now();
    let out = cli(&["restore", zip.to_str().unwrap(), "--yes", "--json"]);
    let restore_wall = t.elapsed();
    assert!(out.status.success(), "restore: {}", text(&out));

    // Plain PostgreSQL: the custom format out of the db container to a file on the host,
    // and back into a new database.
    let dump = backups.path().join("plain.dump");
    let t = Instant::now();
    let file = std::fs::File::create(&dump).unwrap();
    let status = Command::new("docker")
        .args(["exec", &db, "pg_dump", "-U", "odoo", "-Fc", DB])
        .stdout(file)
        .status()
        .unwrap();
    let dump_wall = t.elapsed();
    assert!(status.success());
    let dump_mb = std::fs::metadata(&dump).unwrap().len() as f64 / 1e6;
    let t = Instant::now();
    project.psql(&db, "postgres", "CREATE DATABASE plain_restore OWNER odoo");
    let status = Command::new("docker")
        .args([
            "exec",
            "-i",
            &db,
            "pg_restore",
            "-U",
            "odoo",
            "--no-owner",
            "-d",
            "plain_restore",
        ])
        .stdin(std::fs::File::open(&dump).unwrap())
        .status()
        .unwrap();
    let pg_restore_wall = t.elapsed();
    assert!(status.success());

    let rate = |d: Duration| mb / d.as_secs_f64();
    println!(
        "  odoo-ops backup:  {:.2} s, {:.1} MB/s (zip of dump.sql + filestore + manifest, {zip_mb:.1} MB, checksums, verified readable)",
        backup_wall.as_secs_f64(),
        rate(backup_wall)
    );
    println!(
        "  pg_dump -Fc:      {:.2} s, {:.1} MB/s ({dump_mb:.1} MB, the database only)",
        dump_wall.as_secs_f64(),
        rate(dump_wall)
    );
    println!(
        "  odoo-ops restore: {:.2} s, {:.1} MB/s (a copy loaded, checked, swapped in; the replaced database kept)",
        restore_wall.as_secs_f64(),
        rate(restore_wall)
    );
    println!(
        "  createdb + pg_restore: {:.2} s, {:.1} MB/s",
        pg_restore_wall.as_secs_f64(),
        rate(pg_restore_wall)
    );
    println!(
        "  ratios (odoo-ops / plain, time): backup {:.2}, restore {:.2}",
        backup_wall.as_secs_f64() / dump_wall.as_secs_f64(),
        restore_wall.as_secs_f64() / pg_restore_wall.as_secs_f64()
    );
}
