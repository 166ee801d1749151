//! Odoo's log, limited to what the running server wrote: a check that reads an error
//! from before the last restart (a wrong password since corrected, a crash since fixed)
//! names a cause that no longer exists. Also the systemd unit a host install runs in,
//! read from the same process, so a fix can name the command that restarts it.

use super::run_split;
use crate::target::{Command, Target};

/// One round trip about a verified pid (never a path a process names): its start on the
/// target's wall clock (formatted as Odoo stamps its lines) and its systemd unit.
/// `/proc/PID/stat` is cut after the `comm` field, which may hold spaces; the start time
/// is field 20 from there.
const PROCESS_FACTS_SCRIPT: &str = r#"
pid=$1
st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)
if [ -n "$st" ]; then
  start=$(awk -v up="$(cut -d' ' -f1 /proc/uptime)" -v now="$(date +%s.%N)" -v clk="$(getconf CLK_TCK)" -v t="$st" 'BEGIN { printf "%d\n", now - up + t / clk }')
  echo "started $(date -d "@$start" '+%Y-%m-%d %H:%M:%S')"
fi
echo "unit $(grep -o '^0::/system\.slice/[^/]*\.service$' "/proc/$pid/cgroup" 2>/dev/null | head -n 1 | sed 's|.*/||')"
"#;

/// The lines of `lines` the server running since `started` wrote. The master logs
/// `PID INFO ? odoo: Odoo version 18.0` first thing on start: the last such line of the
/// running master is where its run begins. Without it (a log level above INFO, or a line
/// rotated away) Odoo's timestamps are compared with the start time (`YYYY-MM-DD
/// HH:MM:SS`, the target's local time, as Odoo writes them); lines without a timestamp
/// (traceback lines) go with the line they continue.
pub fn since_start(
    lines: Vec<String>,
    master_pid: Option<u32>,
    started: Option<&str>,
) -> Vec<String> {
    if let Some(pid) = master_pid {
        let marker = format!(" {pid} INFO ");
        let start = lines
            .iter()
            .rposition(|l| l.contains(&marker) && l.contains(" odoo: Odoo version"));
        if let Some(i) = start {
            return lines.into_iter().skip(i).collect();
        }
    }
    let Some(started) = started else {
        return lines;
    };
    let mut keep = false;
    lines
        .into_iter()
        .filter(|l| {
            if let Some(ts) = odoo_timestamp(l) {
                keep = ts >= started;
            }
            keep
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS` at the start of an Odoo log line.
fn odoo_timestamp(line: &str) -> Option<&str> {
    let ts = line.get(..19)?;
    let b = ts.as_bytes();
    let shape = b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    shape.then_some(ts)
}

/// Docker's log lines with `timestamps`: `2026-11-30T12:00:01.123456789Z text`, without
/// the stamp; with `started_at` (the container's `State.StartedAt`) only the lines at or
/// after it (compared to the second: Docker trims trailing zeros of the fraction, so a
/// longer text is not a later time).
pub fn container_since_start(stamped: Vec<String>, started_at: Option<&str>) -> Vec<String> {
    let start = started_at
        .and_then(|s| s.get(..19))
        .filter(|s| !s.starts_with("0001"));
    stamped
        .into_iter()
        .filter_map(|l| {
            let (ts, text) = match l.split_once(' ') {
                Some((ts, text)) if ts.len() >= 20 && ts.as_bytes()[10] == b'T' => (ts, text),
                _ => return Some(l),
            };
            match start {
                Some(s) if &ts[..19] < s => None,
                _ => Some(text.to_string()),
            }
        })
        .collect()
}

/// What [`PROCESS_FACTS_SCRIPT`] printed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    pub started: Option<String>,
    pub unit: Option<String>,
}

pub fn parse_process_facts(head: &str) -> ProcessFacts {
    let mut facts = ProcessFacts::default();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("started ") {
            facts.started = Some(s.trim().to_string());
        } else if let Some(u) = line.strip_prefix("unit ") {
            let u = u.trim();
            if !u.is_empty() {
                facts.unit = Some(u.to_string());
            }
        }
    }
    facts
}

/// When the running server `pid` started and the systemd unit it runs in.
pub async fn process_facts(target: &Target, pid: Option<u32>) -> ProcessFacts {
    let Some(pid) = pid else {
        return ProcessFacts::default();
    };
    let cmd = Command::script(PROCESS_FACTS_SCRIPT).arg(pid.to_string());
    let (_, stdout, _) = run_split(target, &cmd).await;
    parse_process_facts(&stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_running_masters_start_line_begins_its_run() {
        let log = lines(
            "2026-11-30 10:00:00,000 100 INFO ? odoo: Odoo version 18.0 \n\
             2026-11-30 10:00:01,000 100 INFO ? odoo.sql_db: Connection to the database failed \n\
             psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"odoo\"\n\
             2026-11-30 11:00:00,000 200 INFO ? odoo: Odoo version 18.0 \n\
             2026-11-30 11:00:00,500 201 INFO ? odoo: Odoo version 18.0 \n\
             2026-11-30 11:00:01,000 200 INFO odoo odoo.modules.loading: Modules loaded. ",
        );
        let run = since_start(log.clone(), Some(200), None);
        assert_eq!(run.len(), 3);
        assert!(run[0].contains(" 200 INFO ? odoo: Odoo version"));
        assert!(
            !run.iter()
                .any(|l| l.contains("password authentication failed"))
        );
        // Without the marker, the start time decides; a traceback goes with its line.
        let run = since_start(log.clone(), Some(999), Some("2026-11-30 10:30:00"));
        assert_eq!(run.len(), 3);
        let run = since_start(log.clone(), Some(999), Some("2026-11-30 10:00:01"));
        assert!(run[1].starts_with("psycopg2"));
        assert_eq!(since_start(log.clone(), None, None), log);
    }

    #[test]
    fn container_lines_since_started_at() {
        let log = lines(
            "2026-11-30T10:00:00.5Z old line\n\
             2026-11-30T11:00:00.25Z new line\n\
             2026-11-30T11:00:01.123456789Z newer line",
        );
        assert_eq!(
            container_since_start(log.clone(), Some("2026-11-30T11:00:00.123456789Z")),
            ["new line", "newer line"]
        );
        assert_eq!(
            container_since_start(log.clone(), Some("0001-01-01T00:00:00Z")).len(),
            3,
            "never started: every line"
        );
        assert_eq!(container_since_start(log, None)[0], "old line");
    }

    #[test]
    fn process_facts() {
        let f = parse_process_facts("started 2026-11-30 11:00:00\nunit odoo.service\n");
        assert_eq!(f.started.as_deref(), Some("2026-11-30 11:00:00"));
        assert_eq!(f.unit.as_deref(), Some("odoo.service"));
        assert_eq!(parse_process_facts("unit \n").unit, None);
    }
}
