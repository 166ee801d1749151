//! The console's own costs, measured on the release binary in a real pseudo-terminal
//! (tmux): time from exec to the first full frame, idle CPU over 30 s, resident memory
//! after 60 s. Targets: < 50 ms, < 0.5 % of a core, < 20 MB.
//!
//! Run: `cargo bench --bench console`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");
const RUNS: usize = 20;

struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Tmux {
        let socket = format!("odoo-ops-bench-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "140",
                "-y",
                "42",
                command,
            ])
            .status()
            .expect("tmux is installed");
        assert!(status.success());
        Tmux(socket)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

/// Nanosecond timings of `RUNS` executions of `command`, taken by a shell in the pty.
fn timings(command: &str, out: &Path) -> Vec<f64> {
    let script = format!(
        "for i in $(seq {RUNS}); do s=$(date +%s%N); {command} >/dev/null 2>&1; e=$(date +%s%N); echo $((e-s)) >> {out}; done; echo done >> {out}.done; sleep 60",
        out = out.display()
    );
    let _tmux = Tmux::start(&format!("bash -c '{script}'"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = Path::new(&format!("{}.done", out.display())).to_path_buf();
    while !done.exists() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| l.parse::<f64>().unwrap() / 1e6)
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

/// The console's pid: the process whose whole command line is the binary's path.
fn console_pid() -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("pgrep")
            .args(["-n", "-x", "-f", BIN])
            .output()
            .unwrap();
        if let Some(pid) = String::from_utf8_lossy(&out.stdout).lines().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "console did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config_home = dir.path().join("config");
    std::fs::create_dir_all(&config_home).unwrap();
    let env = format!("XDG_CONFIG_HOME={}", config_home.display());

    println!("odoo-ops console benchmark ({BIN})");
    let baseline = median(timings("true", &dir.path().join("baseline.txt")));
    let first = median(timings(
        &format!("env {env} ODOO_OPS_BENCH_FIRST_FRAME=1 {BIN}"),
        &dir.path().join("first-frame.txt"),
    ));
    println!(
        "exec to first full frame: {:.1} ms median of {RUNS} (shell+date overhead {:.1} ms subtracted; target < 50 ms)",
        first - baseline,
        baseline
    );

    let _tmux = Tmux::start(&format!("env {env} {BIN}"));
    let pid = console_pid();
    std::thread::sleep(Duration::from_secs(5));
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let t0 = cpu_ticks(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let t1 = cpu_ticks(pid);
    let idle = (t1 - t0) as f64 / ticks_per_sec / start.elapsed().as_secs_f64() * 100.0;
    println!("idle CPU over 30 s: {idle:.2} % of one core (target < 0.5 %)");
    std::thread::sleep(Duration::from_secs(25));
    let rss = rss_kib(pid);
    println!(
        "resident memory after 60 s: {:.1} MB (target < 20 MB)",
        rss as f64 / 1024.0
    );
}
