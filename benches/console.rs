//! The console's own costs, measured on the release binary in a real pseudo-terminal
//! (tmux), on a host with a real fault: a compose project whose Odoo (the stand-in) is
//! stopped behind a real nginx, so the site answers 502.
//! - exec to the first frame at all (placeholders), for reference;
//! - exec to the first frame with real data (host facts and container rows on screen,
//!   no "Reading…"/"Asking Docker…"), and exec to a root cause on screen (the diagnosis
//!   runs at start), each against a named baseline timed the same way in the same run:
//!   typing `echo READY` and seeing READY (the shell, tmux and the polling's own cost);
//! - idle CPU over 30 s of the console and every child it starts (the host-facts
//!   refresh's shell and tools), and the processes one refresh starts (strace);
//! - resident memory at the end.
//!
//! Run: `cargo bench --bench console`; `CONSOLE_BENCH_RUNS` sets the samples (default 10),
//! `ODOO_OPS_BIN` another build to measure (the packaged one: `cargo build --profile dist`,
//! then `ODOO_OPS_BIN=target/dist/odoo-ops`). The first line says which build it measured.
//! Figures on a shared machine are noisy: compare ratios within one run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The binary measured: this profile's build, or another one named by `ODOO_OPS_BIN` (the
/// packaged build, `target/dist/odoo-ops`, is what operators run; see README's Build).
fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        // Absolute: the console is found by its whole command line.
        std::env::var("ODOO_OPS_BIN")
            .map(|b| std::fs::canonicalize(&b).expect("ODOO_OPS_BIN names a file"))
            .map_or_else(
                |_| env!("CARGO_BIN_EXE_odoo-ops").into(),
                |b| b.display().to_string(),
            )
    })
}

/// What kind of build `bin` is: its size, and whether it still has its symbol table (the
/// `dist` profile strips it).
fn describe_build(bin: &str) -> String {
    let size = std::fs::metadata(bin).map_or(0, |m| m.len());
    let out = Command::new("nm").arg(bin).output();
    let symbols = out.is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    format!(
        "{:.1} MB, {}",
        size as f64 / 1e6,
        if symbols { "with symbols" } else { "stripped" }
    )
}
fn runs() -> usize {
    std::env::var("CONSOLE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Tmux {
        // A socket per session: a server just killed may still be going away.
        static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let socket = format!("odoo-ops-bench-{}-{n}", std::process::id());
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
    let runs = runs();
    let script = format!(
        "for i in $(seq {runs}); do s=$(date +%s%N); {command} 2>/dev/null; e=$(date +%s%N); echo $((e-s)) >> {out}; done; echo done >> {out}.done; sleep 60",
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

/// utime + stime of a process, plus cutime + cstime: the children it has reaped (the
/// host-facts refresh's shell and tools end within the refresh).
fn cpu_ticks(pid: u32) -> u64 {
    let (own, reaped) = own_and_reaped_ticks(pid);
    own + reaped
}

/// utime + stime, and cutime + cstime, apart.
fn own_and_reaped_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return (0, 0);
    };
    let fields: Vec<u64> = stat[close + 2..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 of the whole line: 12-15 after the name.
    (fields[11] + fields[12], fields[13] + fields[14])
}

/// The process's children, from every thread's `children` list.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// CPU ticks of the whole tree: the console, what it reaped, and what still runs.
fn tree_ticks(pid: u32) -> u64 {
    cpu_ticks(pid) + children(pid).into_iter().map(tree_ticks).sum::<u64>()
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

/// `RssAnon`, `RssFile` and `Threads` from the process's status, as the kernel counts them.
fn memory_split(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    format!(
        "anonymous (heap, stacks) {:.1} MB, file-backed (code, data) {:.1} MB, {} threads",
        field("RssAnon:") as f64 / 1024.0,
        field("RssFile:") as f64 / 1024.0,
        field("Threads:")
    )
}

/// The console's pid: the process whose whole command line is the binary's path.
fn console_pid() -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("pgrep")
            .args(["-n", "-x", "-f", bin()])
            .output()
            .unwrap();
        if let Some(pid) = String::from_utf8_lossy(&out.stdout).lines().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "console did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One tmux session with a shell, a command typed into it and its screen polled: the
/// time from pressing Enter until `ready(screen)`.
fn typed_until(tmux: &support::tmux::Tmux, line: &str, ready: impl Fn(&str) -> bool) -> f64 {
    tmux.run(&["send-keys", "-t", "main", "-l", line]);
    let start = Instant::now();
    tmux.run(&["send-keys", "-t", "main", "Enter"]);
    let deadline = start + Duration::from_secs(30);
    loop {
        let screen = tmux.screen();
        if ready(&screen) {
            return start.elapsed().as_secs_f64() * 1000.0;
        }
        assert!(Instant::now() < deadline, "timed out; screen:\n{screen}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn has_real_data(screen: &str) -> bool {
    !screen.contains("Reading the host's facts")
        && !screen.contains("Asking Docker")
        && screen.contains("load ")
        // This bench's stopped Odoo, a row of the Containers pane.
        && screen.contains("exited")
}

fn has_root_cause(screen: &str) -> bool {
    screen.contains("ROOT CAUSE") || screen.contains("No problem found")
}

/// Quit the console and wait for the shell's prompt on a cleared screen.
fn quit(tmux: &support::tmux::Tmux) {
    tmux.keys(&["q"]);
    tmux.wait_until(|s| !s.contains("1 Host"), "the console quits");
    tmux.type_line("clear");
    tmux.wait_until(|s| s.trim() == "$", "the prompt");
}

/// The host's fault: the stand-in Odoo as a compose service, stopped, behind nginx.
struct Fault {
    _project: support::docker::Project,
    _nginx: support::nginx::Nginx,
    _certs: tempfile::TempDir,
}

fn fault() -> Fault {
    use support::{odoo_site, ports, standin, tls};
    let project = support::docker::Project::new("benchconsole");
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let image = standin::ensure_image(standin::RELEASES[0]);
    let odoo = project.run(
        "odoo",
        &[
            "-p",
            &format!("127.0.0.1:{http}:8069"),
            "-p",
            &format!("127.0.0.1:{gevent}:8072"),
        ],
        &image,
    );
    assert!(ports::wait_listening(http, Duration::from_secs(20)));
    let certs = tempfile::tempdir().unwrap();
    let cert = tls::make_cert(certs.path(), odoo_site::DOMAIN);
    let tls_port = ports::free_port();
    let nginx =
        support::nginx::Nginx::start(&odoo_site::site(http, gevent, tls_port, &cert), &[tls_port]);
    // Odoo stops: nginx answers 502.
    let out = project.docker(&["stop", &odoo]);
    assert!(out.status.success());
    Fault {
        _project: project,
        _nginx: nginx,
        _certs: certs,
    }
}

fn median_of(v: Vec<f64>) -> f64 {
    median(v)
}

fn main() {
    let runs = runs();
    let dir = tempfile::tempdir().unwrap();
    let config_home = dir.path().join("config");
    std::fs::create_dir_all(&config_home).unwrap();
    let env = format!("XDG_CONFIG_HOME={}", config_home.display());

    println!(
        "odoo-ops console benchmark ({}: {}), {runs} samples each; a shared machine: noisy",
        bin(),
        describe_build(bin())
    );
    let baseline = median(timings("true", &dir.path().join("baseline.txt")));
    let first = median(timings(
        &format!("env {env} ODOO_OPS_BENCH_FIRST_FRAME=1 {}", bin()),
        &dir.path().join("first-frame.txt"),
    ));
    println!(
        "exec to the first frame (placeholders): {:.1} ms median (shell+date overhead {:.1} ms subtracted)",
        first - baseline,
        baseline
    );

    let _fault = fault();
    let tmux = support::tmux::Tmux::start(140, 42);
    let console = support::tmux::Tmux::without_machine_logs(bin());
    let (mut echo, mut data, mut cause) = (Vec::new(), Vec::new(), Vec::new());
    let mut cause_text = String::new();
    for _ in 0..runs {
        echo.push(typed_until(&tmux, "echo READY", |s| {
            s.lines().any(|l| l.trim() == "READY")
        }));
        tmux.type_line("clear");
        tmux.wait_until(|s| s.trim() == "$", "the prompt");
        data.push(typed_until(&tmux, &console, has_real_data));
        quit(&tmux);
        cause.push(typed_until(&tmux, &console, has_root_cause));
        cause_text = tmux
            .screen()
            .lines()
            .find(|l| l.contains("ROOT CAUSE") || l.contains("No problem found"))
            .unwrap_or_default()
            .to_string();
        quit(&tmux);
    }
    let echo = median_of(echo);
    let (data, cause) = (median_of(data), median_of(cause));
    println!("baseline `echo READY` typed to READY on screen: {echo:.1} ms median");
    println!(
        "exec to the first frame with real data: {data:.1} ms median = {:.1}x the baseline ({:.1} ms beyond it)",
        data / echo,
        data - echo
    );
    println!(
        "exec to a root cause on screen: {cause:.1} ms median = {:.1}x the baseline ({:.1} ms beyond it)",
        cause / echo,
        cause - echo
    );
    println!("  it read: {}", cause_text.trim());

    tmux.type_line(&format!("env {env} {console}"));
    tmux.wait_until(has_root_cause, "the console settles");
    let pid = console_pid();
    std::thread::sleep(Duration::from_secs(5));
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let (own0, tree0) = (own_and_reaped_ticks(pid), tree_ticks(pid));
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let (own1, tree1) = (own_and_reaped_ticks(pid), tree_ticks(pid));
    let secs = start.elapsed().as_secs_f64();
    let percent = |ticks: u64| ticks as f64 / ticks_per_sec / secs * 100.0;
    let tree = percent(tree1 - tree0);
    let (own, reaped) = (percent(own1.0 - own0.0), percent(own1.1 - own0.1));
    println!(
        "idle CPU over 30 s, console and its children: {tree:.2} % of one core (target < 0.5 %) {}",
        if tree < 0.5 { "PASS" } else { "FAIL" }
    );
    println!("  of which the console itself {own:.2} %, the children it reaped {reaped:.2} %");
    // The machine is shared: the same work costs more CPU time when other builds run.
    println!(
        "  load average then: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    // The processes started in 21 s (two host-facts refreshes at least), by strace on
    // every thread of the console: each child's execve, and the refreshes among them.
    let trace = dir.path().join("strace.txt");
    let mut strace = Command::new("strace");
    strace.args(["-f", "-qq", "-s", "200", "-e", "trace=execve", "-o"]);
    strace.arg(&trace);
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        strace.arg("-p").arg(task.file_name());
    }
    let mut strace = strace
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace is installed");
    std::thread::sleep(Duration::from_secs(21));
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    // A process started is an execve that succeeded: the shell's search of PATH makes
    // one failed call per directory before the one that runs.
    let execs: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("execve(") && !l.contains("= -1 "))
        .collect();
    // The host-facts script is the one that prints `@@cpus_allowed` (strace cuts long
    // arguments, not this early one).
    let refreshes = execs
        .iter()
        .filter(|l| l.contains("@@cpus_allowed"))
        .count();
    let mut programs: Vec<String> = execs
        .iter()
        .filter_map(|l| l.split('"').nth(1))
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .collect();
    programs.sort();
    println!(
        "processes started in 21 s: {} ({} host-facts refreshes: {:.1} per refresh): {}",
        execs.len(),
        refreshes,
        execs.len() as f64 / refreshes.max(1) as f64,
        programs.join(" ")
    );

    let rss = rss_kib(pid);
    println!(
        "resident memory at the end: {:.1} MB (target < 20 MB) {}",
        rss as f64 / 1024.0,
        if rss < 20 * 1024 { "PASS" } else { "FAIL" }
    );
    // Where it is: the program's own pages (heap, stacks) against the mapped files (the
    // executable's code and data, libc), and how many threads hold a stack and an arena.
    println!("  {}", memory_split(pid));
    tmux.keys(&["q"]);
}
