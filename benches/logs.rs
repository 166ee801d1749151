//! Logs engine figures: parse + ingest rate on one core, memory with 100,000 lines
//! buffered, refiltering 100,000 lines with a regex, and drawing the Logs pane with a
//! regex filter active. Run: `cargo bench --bench logs`.

use std::time::{Duration, Instant};

use odoo_ops::logs::assemble::Assembler;
use odoo_ops::logs::filter::{self, Filter};
use odoo_ops::logs::store::Store;
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

fn main() {
    println!("logs benchmarks (one thread)");

    // 1. Parse + ingest.
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

    // 2. Memory with 100,000 lines buffered.
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
}
