//! The host's sockets and resources in one script: the same `@@section` layout as the Host
//! pane's report (so its parser is reused), plus memory pressure and OOM kills.

use super::run_split;
use crate::checks::obs::HostObs;
use crate::host::parse_report;
use crate::target::{Command, Target};

const SCRIPT: &str = r#"
echo @@meminfo; cat /proc/meminfo
echo @@df; df -Pk / /var/lib/docker 2>/dev/null
echo @@tcp; cat /proc/net/tcp 2>/dev/null
echo @@tcp6; cat /proc/net/tcp6 2>/dev/null
echo @@pressure; cat /proc/pressure/memory 2>/dev/null
echo @@vmstat; grep '^oom_kill ' /proc/vmstat 2>/dev/null
echo @@uptime; cat /proc/uptime
echo @@dmesg; dmesg 2>/dev/null | grep -Ei 'out of memory|oom-kill|killed process' | tail -n 50
echo @@end
"#;

pub async fn gather(target: &Target) -> HostObs {
    let (ran, stdout, stderr) = run_split(target, &Command::script(SCRIPT)).await;
    let mut obs = HostObs {
        command:
            "cat /proc/meminfo /proc/net/tcp{,6} /proc/pressure/memory; df -Pk; dmesg | grep oom"
                .into(),
        ..Default::default()
    };
    if !stdout.contains("@@end") {
        let status = ran
            .status
            .map_or_else(|| "unknown".into(), |s| s.to_string());
        obs.error = Some(format!("exit {status}: {}", stderr.trim()));
        return obs;
    }
    let facts = parse_report(&stdout);
    obs.listeners = facts.listeners;
    obs.mem_total_kib = facts.memory.total_kib;
    obs.mem_available_kib = facts.memory.available_kib;
    obs.disks = facts.disks;
    let section = |name: &str| -> Vec<&str> {
        stdout
            .split(&format!("@@{name}\n"))
            .nth(1)
            .map(|s| s.split("\n@@").next().unwrap_or("").lines().collect())
            .unwrap_or_default()
    };
    obs.mem_pressure_avg60 = section("pressure")
        .iter()
        .find(|l| l.starts_with("some "))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("avg60=")))
        .and_then(|v| v.parse().ok());
    obs.oom_kills_since_boot = section("vmstat")
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    let uptime: f64 = section("uptime")
        .first()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    obs.recent_oom_lines = recent_kernel_lines(&section("dmesg"), uptime, 3600.0);
    obs
}

/// dmesg lines (`[  123.456] ...`) from the last `window` seconds of `uptime`.
pub fn recent_kernel_lines(lines: &[&str], uptime: f64, window: f64) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            l.trim_start()
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .and_then(|t| t.trim().parse::<f64>().ok())
                .is_some_and(|t| t >= uptime - window)
        })
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_hour_counts() {
        let lines = [
            "[  100.0] Out of memory: Killed process 12 (python3)",
            "[ 7000.5] Memory cgroup out of memory: Killed process 99 (odoo)",
        ];
        let recent = recent_kernel_lines(&lines, 7200.0, 3600.0);
        assert_eq!(recent.len(), 1);
        assert!(recent[0].contains("odoo"));
    }
}
