//! The console's resident memory includes every stack page it ever touched: a thread's
//! stack does not shrink, and a function's frame is probed page by page on entry, so one
//! call of a function with a 300 KiB frame keeps 300 KiB resident for good. Frames grow
//! large when a large future (a deploy's is ~170 KiB) is built on the stack before it is
//! boxed or spawned. The event loop and the work the console does while it watches a host
//! must keep small frames: their large futures are boxed where they are made
//! (`ConsoleJob::run`, the diagnosis' probes in `checks::gather`).
//!
//! Frames are read off the release binary's machine code (x86_64): the stack probe loop
//! (`lea -SIZE(%rsp),%r11` or `sub $SIZE,%r11`, then `sub $0x1000,%rsp` until %rsp
//! reaches %r11) and the `sub $REST,%rsp` after it, or a plain `sub $SIZE,%rsp`.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// Larger than any frame these functions need once their futures are boxed (the largest
/// is ~46 KiB, a follower being spawned), far below the frames that boxing removed
/// (`JobRunner::start` 297 KiB, the diagnosis' branches 161 KiB).
const LIMIT: u64 = 64 * 1024;

/// The functions that run on the event loop's thread or, while the console watches a
/// host, on its worker: the event loop and panes, the job runner, the diagnosis, the log
/// followers, Docker and the host's facts; and the console's callers, whose frames the
/// whole session runs beneath (with LTO, `cli::run` once held every headless command's
/// futures: 188 KiB).
const WATCHED: &[&str] = &[
    "odoo_ops::cli::run",
    "odoo_ops::cli::console",
    "odoo_ops::tui::",
    "<odoo_ops::tui::",
    "odoo_ops::jobs::",
    "odoo_ops::checks::gather::",
    "odoo_ops::logs::",
    "odoo_ops::docker::",
    "odoo_ops::host::",
];

/// One kind of job each (a deploy, a bootstrap...), run on the worker only when the
/// operator starts that kind: their frames are paid then, not by the console at rest.
const ONE_KIND_OF_JOB: &str =
    "<odoo_ops::tui::jobs::ConsoleJob as odoo_ops::jobs::Job>::run::{{closure}}";

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// The immediate of `sub $IMM,<reg>` when the line is that instruction.
fn sub_imm(line: &str, reg: &str) -> Option<u64> {
    let rest = line.split_once("sub ")?.1.trim();
    let (imm, to) = rest.split_once(',')?;
    (to.trim() == reg).then(|| hex(imm.trim().strip_prefix('$')?))?
}

/// The displacement of `lea -DISP(%rsp),%r11` when the line is that instruction.
fn lea_probe(line: &str) -> Option<u64> {
    let rest = line.split_once("lea ")?.1.trim();
    let (disp, to) = rest.split_once("(%rsp),")?;
    (to.trim() == "%r11").then(|| hex(disp.trim().strip_prefix('-')?))?
}

/// (function, frame bytes) for each function of the binary the filter keeps.
fn frames(keep: impl Fn(&str) -> bool) -> Vec<(String, u64)> {
    let mut child = Command::new("objdump")
        .args(["-d", "-C", "--no-show-raw-insn", BIN])
        .stdout(Stdio::piped())
        .spawn()
        .expect("objdump (binutils) runs");
    let mut out = Vec::new();
    // The function being read, its frame so far, and how many instructions are left in
    // its prologue.
    let mut current: Option<(String, u64, u32)> = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(name) = line
            .split_once(" <")
            .filter(|(addr, _)| !addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|(_, rest)| rest.strip_suffix(">:"))
        {
            if let Some((f, size, _)) = current.take() {
                out.push((f, size));
            }
            if keep(name) {
                current = Some((name.to_string(), 0, 12));
            }
            continue;
        }
        let Some((_, size, left)) = current.as_mut() else {
            continue;
        };
        if *left == 0 {
            continue;
        }
        *left -= 1;
        if let Some(probe) = lea_probe(&line).or_else(|| sub_imm(&line, "%r11")) {
            *size += probe;
        } else if let Some(rest) = sub_imm(&line, "%rsp").filter(|&n| n != 0x1000) {
            *size += rest;
            *left = 0;
        }
    }
    if let Some((f, size, _)) = current {
        out.push((f, size));
    }
    assert!(child.wait().unwrap().success(), "objdump failed on {BIN}");
    out
}

#[test]
fn the_console_at_rest_keeps_small_stack_frames() {
    let watched = frames(|name| {
        WATCHED.iter().any(|p| name.starts_with(p)) && !name.starts_with(ONE_KIND_OF_JOB)
    });
    // The reading must see the functions it judges, or it proves nothing.
    for must in [
        "odoo_ops::jobs::JobRunner<",
        "odoo_ops::checks::gather::observe::{{closure}}",
        "odoo_ops::tui::run",
    ] {
        assert!(
            watched.iter().any(|(f, _)| f.starts_with(must)),
            "no function named {must}… in {BIN}: the reading is broken"
        );
    }
    assert!(
        watched.iter().any(|(_, size)| *size > 16 * 1024),
        "no frame over 16 KiB found at all: the prologue reading is broken"
    );
    let mut large: Vec<_> = watched.into_iter().filter(|(_, s)| *s > LIMIT).collect();
    large.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
    assert!(
        large.is_empty(),
        "functions the console runs at rest with frames over {} KiB (box the large futures \
         they build):\n{}",
        LIMIT / 1024,
        large
            .iter()
            .map(|(f, s)| format!("  {} KiB  {f}", s / 1024))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
