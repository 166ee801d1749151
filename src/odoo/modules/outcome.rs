//! Whether a module run succeeded, as `shared/odoo18/modules/README.md` records it for a
//! real Odoo 18: the exit code alone lies (an unknown module name is only a warning and
//! exits 0), so the log and the rows left behind are judged too.

use serde::Serialize;

/// The verdict on one phase, with every reason it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub ok: bool,
    pub exit_code: Option<i64>,
    /// Why it failed, one sentence each; empty when it succeeded.
    pub failures: Vec<String>,
    /// The module Odoo names in `Couldn't load module X` (or the ignored names).
    pub failed_module: Option<String>,
    /// The last line of the last traceback: the cause.
    pub cause: Option<String>,
}

/// Judge a run from its exit code, its log, and the rows still pending after it.
pub fn judge(exit_code: Option<i64>, log: &str, pending_after: &[String]) -> Outcome {
    let mut failures = Vec::new();
    match exit_code {
        Some(0) => {}
        Some(c) => failures.push(format!("odoo exited with code {c}")),
        None => failures.push("odoo's exit code is unknown".into()),
    }
    if !log.contains("Modules loaded.") {
        failures.push("no `Modules loaded.` line: the registry never finished loading".into());
    }
    if let Some(line) = log.lines().find(|l| l.contains(" CRITICAL ")) {
        failures.push(format!("CRITICAL: {}", after_logger(line)));
    }
    let ignored = log
        .lines()
        .find_map(|l| l.split("invalid module names, ignored:").nth(1))
        .map(|s| s.trim().to_string());
    if let Some(names) = &ignored {
        failures.push(format!(
            "unknown module names, ignored by Odoo although it exited 0: {names}"
        ));
    }
    if log.contains("Transient module states were reset") {
        failures.push("Odoo reset the transient module states (the run was rolled back)".into());
    }
    if !pending_after.is_empty() {
        failures.push(format!(
            "modules left pending after the run: {}",
            pending_after.join(", ")
        ));
    }
    let failed_module = log
        .lines()
        .find_map(|l| l.split("Couldn't load module ").nth(1))
        .map(|s| s.trim().to_string())
        .or(ignored);
    Outcome {
        ok: failures.is_empty(),
        exit_code,
        failures,
        failed_module,
        cause: traceback_cause(log).map(str::to_string),
    }
}

/// The message of an Odoo log record (what follows `logger: `).
fn after_logger(line: &str) -> &str {
    line.split_once(": ").map_or(line, |(_, m)| m)
}

/// The last line of the last traceback in the log: Odoo's records start with a date, a
/// traceback's lines do not.
pub fn traceback_cause(log: &str) -> Option<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let starts_record = |l: &str| l.len() > 4 && l[..4].chars().all(|c| c.is_ascii_digit());
    let tb = lines
        .iter()
        .rposition(|l| l.trim_end() == "Traceback (most recent call last):")?;
    lines[tb + 1..]
        .iter()
        .take_while(|l| !starts_record(l))
        .filter(|l| !l.trim().is_empty())
        .last()
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of shared/odoo18/modules/install-fail-bad_init.log (recorded).
    const RECORDED: &str = "2026-11-30 11:15:55,683 6049 INFO odoo odoo.modules.loading: Loading module bad_init (2/38) \n\
2026-11-30 11:15:55,684 6049 CRITICAL odoo odoo.modules.module: Couldn't load module bad_init \n\
2026-11-30 11:15:55,687 6049 WARNING odoo odoo.modules.loading: Transient module states were reset \n\
2026-11-30 11:15:55,687 6049 ERROR odoo odoo.modules.registry: Failed to load registry \n\
2026-11-30 11:15:55,687 6049 CRITICAL odoo odoo.service.server: Failed to initialize database `odoo`. \n\
Traceback (most recent call last):\n\
  File \"/mnt/extra-addons/bad_init/__init__.py\", line 1, in <module>\n\
    raise RuntimeError(\"bad_init: deliberate failure while importing the addon (test)\")\n\
RuntimeError: bad_init: deliberate failure while importing the addon (test)\n\
2026-11-30 11:15:55,688 6049 INFO odoo odoo.service.server: Stopping gracefully \n";

    #[test]
    fn recorded_failure_names_the_module_and_cause() {
        let o = judge(Some(255), RECORDED, &[]);
        assert!(!o.ok);
        assert_eq!(o.failed_module.as_deref(), Some("bad_init"));
        assert_eq!(
            o.cause.as_deref(),
            Some("RuntimeError: bad_init: deliberate failure while importing the addon (test)")
        );
    }

    #[test]
    fn unknown_name_fails_despite_exit_0() {
        let log = "2026-11-22 02:02:12,655 1 INFO odoo odoo.modules.loading: Modules loaded.\n\
                   2026-11-22 02:02:12,655 1 WARNING odoo odoo.modules.loading: invalid module names, ignored: nosuch\n";
        let o = judge(Some(0), log, &[]);
        assert!(!o.ok);
        assert_eq!(o.failed_module.as_deref(), Some("nosuch"));
    }
}
