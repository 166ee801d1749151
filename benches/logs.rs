//! Logs figures. First what an operator gets: the release console in a real terminal
//! (tmux) following two Odoo log files while 100,000 lines are written to them, its CPU
//! and resident memory measured from outside, with both files in time order (the
//! baseline) and with one file an hour behind the other (every batch of it belongs
//! before lines already buffered). Then the engine alone: parse + ingest rate on one
//! core, the same late lines into a bare store, refiltering 100,000 lines with a regex,
//! and drawing the Logs pane with a regex filter active.
//!
//! Run: `cargo bench --bench logs`. `LOGS_BENCH_LINES` sets the lines written (default
//! 100,000); `ODOO_OPS_BENCH_BIN` measures another build of the console (e.g. the main
//! branch's, for a before/after).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::standin::{Standin, StandinOptions};
use support::tmux::Tmux;

use odoo_ops::logs::assemble::Assembler;
use odoo_ops::logs::filter::{self, Filter};
use odoo_ops::logs::store::Store;
use odoo_ops::logs::worker::{self, LogsCommand, SourceSpec};
use odoo_ops::logs::{Format, SourceId};

const SAMPLE: &str = include_str!("../tests/data/sample-odoo.log");

/// `n` lines cycling through the recorded Odoo log (start-up, werkzeug access lines,
/// the misroute traceback), with increasing times.
fn corpus(n_entries: usize) -> (Vec<u8>, usize) {
    let lines: Vec<&str> = SAMPLE.lines().collect();
    let mut out = Vec::with_capacity(n_entries * 130);
    let mut entries = 0;
    let mut physical = 0;
    let mut i = 0usize;
    while entries < n_entries {
        let line = lines[i % lines.len()];
        i += 1;
        physical += 1;
        if line.starts_with("2026-") {
            entries += 1;
            let ms = entries as u64;
            // Rewrite the time so the stream is ordered like a live log.
            let stamp = format!(
                "2026-11-22 {:02}:{:02}:{:02},{:03}",
                ms / 3_600_000 % 24,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000
            );
            out.extend_from_slice(stamp.as_bytes());
            out.extend_from_slice(&line.as_bytes()[23..]);
        } else {
            out.extend_from_slice(line.as_bytes());
        }
        out.push(b'\n');
    }
    (out, physical)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ingest(bytes: &[u8], capacity: usize) -> (Store, Duration) {
    let mut store = Store::new(capacity);
    let mut asm = Assembler::new(SourceId(0), Format::Odoo);
    let start = Instant::now();
    let mut out = Vec::with_capacity(4096);
    for chunk in bytes.chunks(64 * 1024) {
        asm.push(chunk, None, &mut out);
        if out.len() >= 2048 {
            store.ingest(std::mem::take(&mut out));
        }
    }
    asm.flush(&mut out);
    store.ingest(out);
    (store, start.elapsed())
}

fn bench_bin() -> String {
    std::env::var("ODOO_OPS_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_odoo-ops").into())
}

/// utime + stime of a process and of its reaped children, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0;
    };
    let fields: Vec<u64> = stat[close + 2..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    fields[11] + fields[12] + fields[13] + fields[14]
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The console's pid: the newest process running exactly the binary.
fn console_pid(bin: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-n", "-x", "-f", bin])
            .output()
            .unwrap();
        if let Some(pid) = String::from_utf8_lossy(&out.stdout).lines().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the console did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An Odoo log line at `ms` (milliseconds into 2026-11-30).
fn odoo_line(ms: u64, text: &str) -> String {
    format!(
        "2026-11-30 {:02}:{:02}:{:02},{:03} 7 INFO odoo odoo.addons.base: {text}\n",
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

struct Followed {
    cpu_s: f64,
    rss_mb: f64,
    took: Duration,
}

/// The console following two host Odoo servers' log files (found as an operator's
/// `odoo-bin -c FILE` through ps) while `lines` lines are appended to them, half each,
/// in batches of 500 a file; `lag_ms` puts the second file's clock that far behind.
fn console_following(lines: usize, lag_ms: u64) -> Followed {
    let bin = bench_bin();
    let dir = tempfile::tempdir().unwrap();
    let odoo_bin = dir.path().join("odoo-bin");
    std::os::unix::fs::symlink(support::standin::binary(), &odoo_bin).unwrap();
    let start = |_: usize| {
        Standin::start(StandinOptions {
            logfile: true,
            program: Some(odoo_bin.clone()),
            ..Default::default()
        })
    };
    let (a, b) = (start(0), start(1));
    let tmux = Tmux::start(240, 50);
    tmux.type_line(&format!("exec {}", Tmux::without_machine_logs(&bin)));
    tmux.wait_for("1 Host");
    tmux.keys(&["4", "z"]);
    // Both files are followed once the later server's start-up line shows.
    tmux.wait_for(&format!("running on 127.0.0.1:{}", b.http_port));
    let pid = console_pid(&bin);
    std::thread::sleep(Duration::from_secs(1));
    let (t0, clock) = (cpu_ticks(pid), Instant::now());
    let open = |s: &Standin| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(s.logfile_path())
            .unwrap()
    };
    let (mut fa, mut fb) = (open(&a), open(&b));
    let base = 12 * 3_600_000;
    let batch = 500;
    let mut written = 0;
    while written < lines {
        for (file, lag, name) in [(&mut fa, 0, "a"), (&mut fb, lag_ms, "b")] {
            let text: String = (written..written + batch)
                .map(|i| odoo_line(base + i as u64 - lag, &format!("{name} line {i}")))
                .collect();
            file.write_all(text.as_bytes()).unwrap();
        }
        written += 2 * batch;
        // About 50,000 lines a second: a busy server, not a flood the tail can skip.
        std::thread::sleep(Duration::from_millis(20));
    }
    fa.write_all(odoo_line(base + written as u64, "bench done").as_bytes())
        .unwrap();
    tmux.wait_until_within(
        Duration::from_secs(120),
        |s| s.contains("bench done"),
        "the last line shows",
    );
    // Then until the console is idle again (the lagging file may still be read).
    let mut ticks = cpu_ticks(pid);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = cpu_ticks(pid);
        if now == ticks {
            break;
        }
        ticks = now;
    }
    let took = clock.elapsed();
    let followed = Followed {
        cpu_s: (ticks - t0) as f64 / 100.0,
        rss_mb: rss_of(pid) as f64 / 1024.0,
        took,
    };
    tmux.keys(&["q"]);
    followed
}

fn main() {
    println!("logs benchmarks");
    let lines: usize = std::env::var("LOGS_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "the console ({}) following two Odoo log files, {lines} lines written:",
        bench_bin()
    );
    let in_order = console_following(lines, 0);
    let lagging = console_following(lines, 3_600_000);
    for (label, f) in [
        ("in time order (baseline)", &in_order),
        ("one file an hour behind", &lagging),
    ] {
        println!(
            "  {label:26} CPU {:.2} s, RSS {:.1} MB after, {:.1} s until idle",
            f.cpu_s,
            f.rss_mb,
            f.took.as_secs_f64()
        );
    }
    let ratio = lagging.cpu_s / in_order.cpu_s.max(0.01);
    println!(
        "  late lines / baseline: CPU {ratio:.2}x, RSS {:.2}x (target: CPU < 2x) {}",
        lagging.rss_mb / in_order.rss_mb.max(0.1),
        if ratio < 2.0 { "PASS" } else { "FAIL" }
    );
    late_lines_in_the_store();

    println!("engine alone (one thread)");

    // 1. Memory with 100,000 lines buffered, measured first, in a fresh process.
    let (bytes, _) = corpus(100_000);
    let before = rss_kib();
    let (store, _) = ingest(&bytes, 100_000);
    drop(bytes);
    let after = rss_kib();
    println!(
        "memory: {} entries buffered; process RSS {:.1} MB (buffer adds {:.1} MB) (target < 60 MB) {}",
        store.len(),
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0,
        if after < 60 * 1024 { "PASS" } else { "FAIL" }
    );

    // 2. Parse + ingest.
    let (bytes, physical) = corpus(1_000_000);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let (store, took) = ingest(&bytes, 100_000);
        assert_eq!(store.received(), 1_000_000);
        best = best.min(took);
    }
    let rate = 1_000_000.0 / best.as_secs_f64();
    println!(
        "parse+ingest: 1,000,000 Odoo entries ({physical} physical lines, {:.1} MB) in {:.3} s = {:.2} M entries/s, {:.2} M lines/s (target >= 1 M/s) {}",
        bytes.len() as f64 / 1e6,
        best.as_secs_f64(),
        rate / 1e6,
        physical as f64 / best.as_secs_f64() / 1e6,
        if rate >= 1e6 { "PASS" } else { "FAIL" }
    );
    drop(bytes);

    // 3. Refilter 100,000 entries with a regex (off the draw path, in the worker).
    let mut store = store;
    let pattern = filter::compile(r"werkzeug.*\b(4|5)\d\d\b").unwrap();
    let start = Instant::now();
    store.set_filter(Filter {
        pattern: Some(pattern),
        ..Filter::default()
    });
    println!(
        "refilter: 100,000 entries with /werkzeug.*\\b(4|5)\\d\\d\\b/ in {:.2} ms, {} match (worker task, not the draw path)",
        start.elapsed().as_secs_f64() * 1e3,
        store.view_len()
    );
    drop(store);

    // 4. Draw the Logs pane with 100,000 entries buffered and a regex filter active:
    //    the real worker holds them, the real app draws its latest snapshot.
    draw_pane();
}

/// The same two streams into a bare store: time per batch stays flat when one source
/// lags (the merge costs the batch, not the buffer).
fn late_lines_in_the_store() {
    use odoo_ops::logs::LogLine;
    use odoo_ops::logs::line::Header;
    let run = |lag: i64| {
        let mut store = Store::new(100_000);
        let start = Instant::now();
        for b in 0..100 {
            for (source, lag) in [(0u16, 0), (1, lag)] {
                let batch = (0..500)
                    .map(|i| {
                        let header = Header {
                            ts: Some(3_600_000 + (b * 500 + i) as i64 - lag),
                            ..Header::default()
                        };
                        LogLine::new(SourceId(source), header, format!("line {i}"))
                    })
                    .collect();
                store.ingest(batch);
            }
        }
        start.elapsed()
    };
    let base = run(0);
    let late = run(3_600_000);
    println!(
        "  bare store, 100,000 lines in 200 batches: in order {:.1} ms, one source an hour behind {:.1} ms = {:.2}x",
        base.as_secs_f64() * 1e3,
        late.as_secs_f64() * 1e3,
        late.as_secs_f64() / base.as_secs_f64()
    );
}

fn draw_pane() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (bytes, _) = corpus(100_000);
    let snapshot = runtime.block_on(async {
        let (logs, _task) = worker::spawn(100_000);
        logs.send(LogsCommand::Viewport(44));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        logs.add_source(SourceSpec::Bytes {
            name: "odoo".into(),
            format: Format::Odoo,
            chunks: rx,
        });
        for chunk in bytes.chunks(64 * 1024) {
            tx.send(chunk.to_vec()).await.unwrap();
        }
        drop(tx);
        let mut rx = logs.snapshots.clone();
        loop {
            let s = rx.borrow_and_update().clone();
            if s.received == 100_000 {
                break;
            }
            rx.changed().await.unwrap();
        }
        logs.send(LogsCommand::SetPattern(Some(
            r"werkzeug|registry|websocket".into(),
        )));
        logs.send(LogsCommand::SetSearch(Some("GET".into())));
        loop {
            let s = rx.borrow_and_update().clone();
            if s.pattern.is_some() && s.search.is_some() {
                return s;
            }
            rx.changed().await.unwrap();
        }
    });
    let mut app = odoo_ops::tui::app::App::new(
        odoo_ops::config::Settings::builtin(),
        false,
        "bench".into(),
        odoo_ops::tui::app::Connection::Local,
    );
    app.size = ratatui::layout::Rect::new(0, 0, 200, 50);
    app.on_action(odoo_ops::config::keymap::Action::FocusLogs);
    app.zoomed = true;
    app.logs.rows = 46;
    app.logs.apply(snapshot.clone());
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).unwrap();
    let draws = 2000;
    let start = Instant::now();
    for _ in 0..draws {
        terminal
            .draw(|frame| odoo_ops::tui::draw::draw(frame, &app))
            .unwrap();
    }
    let per = start.elapsed().as_secs_f64() / draws as f64 * 1e3;
    println!(
        "draw: Logs pane 200x50 with {} entries buffered, {} matching /werkzeug|registry|websocket/, search highlight on: {per:.3} ms per frame (target < 2 ms) {}",
        snapshot.buffered,
        snapshot.matching,
        if per < 2.0 { "PASS" } else { "FAIL" }
    );
}
