//! Driving the logs worker from a test: wait for a snapshot that satisfies a condition.

use std::sync::Arc;
use std::time::Duration;

use odoo_ops::logs::worker::{LogsHandle, LogsSnapshot};

/// The first snapshot for which `pred` holds; panics after `timeout` with the last one
/// seen (the timeout only bounds a failing test, nothing is timed).
pub async fn wait_for(
    handle: &LogsHandle,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&LogsSnapshot) -> bool,
) -> Arc<LogsSnapshot> {
    let mut rx = handle.snapshots.clone();
    let found = tokio::time::timeout(timeout, async {
        loop {
            let snap = rx.borrow_and_update().clone();
            if pred(&snap) {
                return snap;
            }
            if rx.changed().await.is_err() {
                panic!("the logs worker stopped while waiting for {what}");
            }
        }
    })
    .await;
    match found {
        Ok(s) => s,
        Err(_) => {
            let last = handle.snapshot();
            panic!(
                "timed out waiting for {what}; last snapshot: buffered {} matching {} received {} sources {:?} window {:?}",
                last.buffered,
                last.matching,
                last.received,
                last.sources,
                last.window
                    .iter()
                    .map(|w| w.line.first_line().chars().take(120).collect::<String>())
                    .collect::<Vec<_>>()
            )
        }
    }
}

/// The window's first lines, as the pane would show them.
pub fn window_text(s: &LogsSnapshot) -> Vec<String> {
    s.window
        .iter()
        .map(|w| w.line.first_line().to_string())
        .collect()
}
