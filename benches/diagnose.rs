//! How fast a full local diagnosis is, how well its probes overlap, and how it compares
//! with the seed's section 8.1 checklist typed as sequential shell commands on the same host.
//!
//! The stack: a real nginx (TLS, private CA) in front of the Odoo stand-in running as a
//! FROM-scratch container published on loopback, plus a real PostgreSQL (for pg_isready
//! timing on a host process run). Run with `cargo bench --bench diagnose`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::target::Target;
use support::nginx::Nginx;
use support::odoo_site::{DOMAIN, site};
use support::{ports, standin, tls};

const RUNS: usize = 10;

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A diagnosis timed RUNS times on `target`, and each of its probes alone: the median
/// total, and the ratio the issue sets (total / slowest single probe alone).
fn measure(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    options: &DiagnoseOptions,
    label: &str,
) -> (f64, f64) {
    let mut totals = Vec::new();
    let mut ratios = Vec::new();
    let mut slowest_names = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let (report, _) = rt.block_on(diagnose(target, options));
        let total = start.elapsed().as_secs_f64() * 1000.0;
        // Probes that are awaited one after the other by design (ps before discovery,
        // discovery before health) are counted as the slowest chain's members.
        let slowest = report.timings.probes.first().cloned().unwrap_or_default();
        totals.push(total);
        ratios.push(total / slowest.1.max(0.001));
        slowest_names.push(slowest.0);
    }
    let (min, max) = (
        totals.iter().cloned().fold(f64::MAX, f64::min),
        totals.iter().cloned().fold(0.0, f64::max),
    );
    let med = median(&mut totals.clone());
    println!();
    println!(
        "full {label} diagnosis ({RUNS} runs): median {med:.0} ms, min {min:.0} ms, max {max:.0} ms  (target < 1000 ms: {})",
        if med < 1000.0 { "met" } else { "NOT met" }
    );
    println!(
        "inside a concurrent run: total / slowest probe = {:.2} (median; slowest: {}; probes slow each other on 2 shared cores)",
        median(&mut ratios),
        slowest_names.last().cloned().unwrap_or_default()
    );
    // Each probe alone, one after the other: the slowest single one is the floor a
    // concurrent run can reach; their sum is what running them in sequence would cost.
    let alone = rt.block_on(async {
        use odoo_ops::checks::gather as g;
        let mut times: Vec<(String, f64)> = Vec::new();
        let t = Instant::now();
        let (_, out, _) = g::run_split(
            target,
            &odoo_ops::target::Command::new("ps").args(["-eo", "pid=,ppid=,args="]),
        )
        .await;
        times.push(("ps".into(), t.elapsed().as_secs_f64() * 1000.0));
        let rows = odoo_ops::nginx::process::parse_ps(&out);
        let t = Instant::now();
        let odoo = g::odoo::gather(
            target,
            std::future::ready(std::sync::Arc::new(rows.clone())),
            options,
        )
        .await;
        times.push(("odoo".into(), t.elapsed().as_secs_f64() * 1000.0));
        let t = Instant::now();
        let _ = g::internal(target, &odoo, options.timeout).await;
        times.push(("internal health".into(), t.elapsed().as_secs_f64() * 1000.0));
        let t = Instant::now();
        let _ = g::database(target, &odoo).await;
        times.push(("database".into(), t.elapsed().as_secs_f64() * 1000.0));
        let t = Instant::now();
        let nginx = g::nginx::gather(target, &rows, options, None).await;
        times.push(("nginx".into(), t.elapsed().as_secs_f64() * 1000.0));
        let plan = g::edge::plan(nginx.site.as_ref().unwrap(), None).unwrap();
        let t = Instant::now();
        let _ = g::edge::gather(target, &plan, &options.extra_root_certs, options.timeout).await;
        times.push(("edge".into(), t.elapsed().as_secs_f64() * 1000.0));
        let t = Instant::now();
        let _ = g::host::gather(target).await;
        times.push(("host".into(), t.elapsed().as_secs_f64() * 1000.0));
        times
    });
    let slowest_alone = alone.iter().map(|(_, ms)| *ms).fold(0.0, f64::max);
    let sum_alone: f64 = alone.iter().map(|(_, ms)| ms).sum();
    println!("each probe alone, in sequence:");
    for (name, ms) in &alone {
        println!("    {ms:8.1} ms  {name}");
    }
    println!(
        "concurrency (issue's measure): median concurrent total {med:.0} ms / slowest single probe alone {slowest_alone:.0} ms = {:.2} (target <= 1.5); all probes in sequence {sum_alone:.0} ms",
        med / slowest_alone.max(0.001)
    );
    let ratio = med / slowest_alone.max(0.001);
    (med, ratio)
}

fn main() {
    let image = standin::ensure_image(standin::RELEASES[0]);
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let name = format!("odoo-ops-bench-diagnose-{}", std::process::id());
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "odoo-ops-test=bench",
        ])
        .args(["-p", &format!("127.0.0.1:{http}:8069")])
        .args(["-p", &format!("127.0.0.1:{gevent}:8072")])
        .arg(&image)
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let container = Container(name);
    assert!(ports::wait_listening(http, Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(500));

    let certs = tempfile::tempdir().unwrap();
    let cert = tls::make_cert(certs.path(), DOMAIN);
    let tls_port = ports::free_port();
    let nginx = Nginx::start(&site(http, gevent, tls_port, &cert), &[tls_port]);
    let options = DiagnoseOptions {
        domain: Some(DOMAIN.into()),
        nginx_conf: Some(nginx.conf_path()),
        nginx_prefix: Some(nginx.path().to_path_buf()),
        odoo: OdooLocation::Container(container.0.clone()),
        extra_root_certs: vec![std::fs::read(&cert.ca_cert).unwrap()],
        ..Default::default()
    };
    let target = Target::local();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Warm up (first TLS handshake, first Docker call).
    let (report, _) = rt.block_on(diagnose(&target, &options));
    println!(
        "stack: nginx {} -> stand-in container {} (status {:?}, {} checks: {} pass, {} warn, {} fail, {} skipped)",
        tls_port,
        container.0,
        report.status,
        report.checks.len(),
        report.counts.pass,
        report.counts.warn,
        report.counts.fail,
        report.counts.skipped
    );

    let (med, local_ratio) = measure(&rt, &target, &options, "local");
    let (report, _) = rt.block_on(diagnose(&target, &options));
    println!("  per-probe times of the last run (concurrent):");
    for (name, ms) in &report.timings.probes {
        println!("    {ms:8.1} ms  {name}");
    }
    let sum: f64 = report.timings.probes.iter().map(|(_, ms)| ms).sum();
    println!(
        "  sum of probe times {sum:.0} ms vs wall time {:.0} ms: overlap saves {:.0}%",
        report.timings.total_ms,
        100.0 * (1.0 - report.timings.total_ms / sum.max(0.001))
    );

    // The seed's section 8.1, as an operator types it (adapted to this stack: docker
    // instead of `docker compose -f ...` for the one container, curl on the published port
    // because the image has no curl inside).
    let error_log = nginx.path().join("error.log");
    let conf = nginx.conf_path();
    let seq: Vec<Vec<String>> = vec![
        vec![
            "docker".into(),
            "ps".into(),
            "-a".into(),
            "--filter".into(),
            format!("name={}", container.0),
        ],
        vec![
            "docker".into(),
            "logs".into(),
            "--tail=200".into(),
            container.0.clone(),
        ],
        vec![
            "curl".into(),
            "-sS".into(),
            format!("http://127.0.0.1:{http}/web/health"),
        ],
        vec![
            "nginx".into(),
            "-t".into(),
            "-p".into(),
            nginx.path().display().to_string(),
            "-c".into(),
            conf.display().to_string(),
        ],
        vec!["cat".into(), conf.display().to_string()],
        vec![
            "curl".into(),
            "-sS".into(),
            format!("http://127.0.0.1:{http}/web/login"),
        ],
        vec![
            "curl".into(),
            "-sS".into(),
            format!("http://127.0.0.1:{gevent}/longpolling/poll"),
        ],
        vec![
            "tail".into(),
            "-100".into(),
            error_log.display().to_string(),
        ],
    ];
    let mut seq_totals = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        for argv in &seq {
            let _ = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .expect("run a section 8.1 command");
        }
        seq_totals.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let seq_med = median(&mut seq_totals);
    println!();
    println!(
        "seed section 8.1 as {} sequential shell commands: median {seq_med:.0} ms",
        seq.len()
    );
    println!(
        "odoo-ops diagnose / seed checklist = {:.2} ({} checks with evidence and verdicts vs {} raw commands read by eye)",
        med / seq_med,
        report.checks.len(),
        seq.len()
    );

    // The same stack diagnosed through one SSH connection to this machine: every probe is
    // a command, a file read, a direct-tcpip or a Docker call over the same session.
    let sshd = support::sshd::Sshd::start();
    let ssh_target = rt.block_on(sshd.target());
    let _ = rt.block_on(diagnose(&ssh_target, &options));
    println!();
    let (ssh_med, ssh_ratio) = measure(&rt, &ssh_target, &options, "over-SSH");
    println!();
    println!(
        "summary: local {med:.0} ms (ratio {local_ratio:.2}); over SSH {ssh_med:.0} ms, total / slowest single check = {ssh_ratio:.2} (target <= 1.5: {})",
        if ssh_ratio <= 1.5 { "met" } else { "NOT met" }
    );
}
