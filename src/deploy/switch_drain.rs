//! Draining the old container: after nginx reloads, its old workers keep proxying the
//! requests they had accepted (to the old container) and exit once those are answered;
//! new connections go to the new workers, which point at the new container. So once
//! every worker that existed before the reload is gone, no request can still be on its
//! way to or inside the old container through nginx, and stopping it loses none.
//!
//! Workers are found the way the rest of odoo-ops finds nginx ([`find_master`]: the
//! kernel's sockets and the verified program, never a process title alone). When they
//! cannot be seen (a login that may not look at root's processes), the whole drain
//! period is waited instead.

use std::time::Duration;

use tokio::time::Instant;

use crate::host::processes;
use crate::nginx::NginxInvocation;
use crate::nginx::process::find_master;
use crate::target::{Command, Target};

/// Every worker of the running master, including ones still finishing a previous reload
/// (`... is shutting down`): those may hold requests to the old container too. `None`
/// when the master cannot be found.
pub async fn nginx_workers(target: &Target, nginx: &NginxInvocation) -> Option<Vec<u32>> {
    let procs = processes::snapshot(target).await;
    let master = find_master(&procs, nginx.conf.as_deref()).master?;
    let pid = master.master_pid?;
    if nginx.master_pid.is_some_and(|wanted| wanted != pid) {
        return None;
    }
    let workers: Vec<u32> = procs
        .children_of(pid)
        .filter(|c| c.title.starts_with("nginx: worker process"))
        .map(|c| c.pid)
        .collect();
    (!workers.is_empty()).then_some(workers)
}

/// How the drain ended, in an operator's words.
pub async fn wait_drained(
    target: &Target,
    workers_before: Option<&[u32]>,
    timeout: Duration,
) -> String {
    let started = Instant::now();
    let Some(workers) = workers_before else {
        tokio::time::sleep(timeout).await;
        return format!(
            "nginx's workers could not be seen; waited the whole drain period ({} s)",
            timeout.as_secs()
        );
    };
    let deadline = started + timeout;
    loop {
        let alive = alive(target, workers).await;
        if alive.is_empty() {
            return format!(
                "nginx's workers from before the reload ({}) finished their requests and exited after {:.1} s",
                list(workers),
                started.elapsed().as_secs_f32()
            );
        }
        if Instant::now() >= deadline {
            return format!(
                "nginx's old workers {} were still running after {} s (long requests or websockets); the old container is stopped anyway",
                list(&alive),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The pids among `pids` that still run. A failed look counts as "all alive": the drain
/// then waits for its deadline rather than stopping the old container too early.
async fn alive(target: &Target, pids: &[u32]) -> Vec<u32> {
    let mut cmd =
        Command::script(r#"for p in "$@"; do [ -d "/proc/$p" ] && echo "$p"; done; true"#);
    for p in pids {
        cmd = cmd.arg(p.to_string());
    }
    match target.run(&cmd).await {
        Ok(out) if out.success() => out
            .stdout_text()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
        _ => pids.to_vec(),
    }
}
