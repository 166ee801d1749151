//! TEST ONLY: a deploy that stops at a chosen step, so a test can kill the process there
//! (SIGKILL, as a crashed console or a dropped CI runner) and check what the next start
//! does with the journal.
//!
//! Inert unless both variables are set: `ODOO_OPS_TEST_PAUSE_AFTER_STEP` names the point
//! (`preflight`, `switch`, `verify` after the step ended and was journaled; `switch:started`
//! once the new container runs beside the old one, before nginx is switched; the module
//! window's steps by name, `maintenance on`, `stop`, `upgrade`...; `upgrade:running` at
//! the module upgrade's first log line, its one-off container running), and
//! `ODOO_OPS_TEST_PAUSE_FILE` a file this process creates when it gets there. It then
//! waits until the file is removed (or ten minutes), and goes on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

const POINT_VAR: &str = "ODOO_OPS_TEST_PAUSE_AFTER_STEP";
const FILE_VAR: &str = "ODOO_OPS_TEST_PAUSE_FILE";
const LONGEST: Duration = Duration::from_secs(600);

/// The marker file when `point` is the one asked for.
fn armed(point: &str) -> Option<PathBuf> {
    let wanted = std::env::var_os(POINT_VAR)?;
    let file = std::env::var_os(FILE_VAR)?;
    (wanted == point).then(|| PathBuf::from(file))
}

fn mark(file: &PathBuf, point: &str) -> bool {
    std::fs::write(file, format!("{} {point}\n", std::process::id())).is_ok()
}

/// After a step ended and the journal says so.
pub async fn after_step(step: &str) {
    let Some(file) = armed(step) else { return };
    if !mark(&file, step) {
        return;
    }
    let start = Instant::now();
    while file.exists() && start.elapsed() < LONGEST {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Inside the switch, as it reports `message`: `switch:started` once the new container
/// was started. Blocks its thread (the switch's step callback is not async); the lock's
/// heartbeat runs on the runtime's other worker.
pub fn during_switch(message: &str) {
    during("switch:started", message);
}

/// Inside a rollback's switch back: `switch back:started` once the previous release's
/// container was started beside the failed one.
pub fn during_switch_back(message: &str) {
    during("switch back:started", message);
}

fn during(point: &str, message: &str) {
    if !message.starts_with("started ") {
        return;
    }
    let Some(file) = armed(point) else { return };
    if !mark(&file, point) {
        return;
    }
    let start = Instant::now();
    while file.exists() && start.elapsed() < LONGEST {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Inside the module window's upgrade, at the one-off container's first log line
/// (`upgrade:running`; odoo-ops' own `== phase` lines come before it starts): the one-off
/// runs on while this process waits (and is killed). Blocks its thread as
/// [`during_switch`] does.
pub fn during_upgrade(line: &str) {
    if line.starts_with("==") {
        return;
    }
    static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let point = "upgrade:running";
    let Some(file) = armed(point) else { return };
    if FIRED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    if !mark(&file, point) {
        return;
    }
    let start = Instant::now();
    while file.exists() && start.elapsed() < LONGEST {
        std::thread::sleep(Duration::from_millis(50));
    }
}
