//! `odoo-ops fix CHECK_ID`: what the Checks pane's "apply fix" does, headless. Runs the
//! diagnosis (same options as `diagnose`), takes that check's fix, shows it, asks unless
//! `--yes`, and applies it through the safe-change primitive.
//!
//! Exit 0: applied. 1: not applied (nginx -t rejected it and it was reverted, the reload
//! failed, or the operator said no). 2: could not try (unknown check, no fix the engine can
//! apply, the file changed since the diagnosis, no terminal to ask on, unreachable host).

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use color_eyre::Result;
use serde::Serialize;

use super::diagnose::DiagnoseArgs;
use super::remote::{RemoteArgs, connect_target};
use crate::checks::apply::{self, Applied, ConfirmedFix};
use crate::checks::model::{ApplyAction, Fix, Verdict};
use crate::checks::{diagnose, list};
use crate::config::Settings;
use crate::workflow::Refused;

#[derive(Debug, Args)]
pub struct FixArgs {
    /// The check whose fix to apply, as `diagnose` names it (e.g. nginx.timeouts).
    #[arg(value_name = "CHECK_ID")]
    pub check: String,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub diagnose: DiagnoseArgs,
}

/// What happened, for `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum FixResult {
    Applied,
    NotApplied,
    CouldNotTry,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    schema_version: u32,
    target: String,
    check: &'a str,
    verdict: Option<Verdict>,
    fix: Option<&'a Fix>,
    result: FixResult,
    /// Why the fix was not applied or not tried.
    reason: Option<String>,
    applied: Option<&'a Applied>,
}

pub fn run(args: FixArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let options = args.diagnose.options()?;
    let json = args.diagnose.json;
    let rt = super::runtime()?;
    let target = rt.block_on(connect_target(remote, settings))?;
    let described = target.describe();
    let could_not_try = |verdict, fix, reason: String| -> Result<u8> {
        let report = Report {
            schema_version: 1,
            target: described.clone(),
            check: &args.check,
            verdict,
            fix,
            result: FixResult::CouldNotTry,
            reason: Some(reason.clone()),
            applied: None,
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            eprintln!("odoo-ops fix: {reason}");
        }
        Ok(super::exit::ERROR)
    };
    if list::find(&args.check).is_none() {
        return could_not_try(None, None, format!("unknown check {}", args.check));
    }
    let (report, obs) = rt.block_on(diagnose(&target, &options));
    let Some(check) = report.check(&args.check) else {
        return could_not_try(None, None, format!("unknown check {}", args.check));
    };
    let verdict = Some(check.outcome.verdict);
    let fix = check.outcome.fix.as_ref();
    let Some(action) = fix.and_then(|f| f.apply.clone()) else {
        let why = match check.outcome.verdict {
            Verdict::Pass => format!("{} passes: nothing to fix", check.id),
            Verdict::Skipped => format!("{} was not checked: {}", check.id, check.outcome.summary),
            _ if fix.is_some() => format!(
                "the fix for {} is not one odoo-ops applies itself: {}",
                check.id,
                fix.map(|f| f.summary.as_str()).unwrap_or_default()
            ),
            _ => format!("{} has no fix", check.id),
        };
        return could_not_try(verdict, fix, why);
    };
    if !json {
        print!("{}", describe(check.id, fix, &action));
    }
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) || json {
            return could_not_try(
                verdict,
                fix,
                "no terminal to ask on; re-run with --yes to apply".into(),
            );
        }
        if !confirm()? {
            println!("not applied: not confirmed");
            return Ok(super::exit::PROBLEM);
        }
    }
    let applied = rt.block_on(apply::apply(
        &target,
        &obs.nginx.invocation,
        &ConfirmedFix { action },
    ));
    let (result, reason, applied, code) = match &applied {
        Ok(a) if a.success => (FixResult::Applied, None, Some(a), super::exit::OK),
        Ok(a) => (
            FixResult::NotApplied,
            Some(if a.reverted {
                "the change did not pass validation and was reverted".to_string()
            } else {
                "the change was made but did not take effect".to_string()
            }),
            Some(a),
            super::exit::PROBLEM,
        ),
        // Nothing was touched: the file changed since the diagnosis, or no journal.
        Err(e) if e.downcast_ref::<Refused>().is_some() => (
            FixResult::CouldNotTry,
            Some(format!("{e:#}")),
            None,
            super::exit::ERROR,
        ),
        // A revert that failed: the journal stays for the next start.
        Err(e) => (
            FixResult::NotApplied,
            Some(format!("{e:#}")),
            None,
            super::exit::PROBLEM,
        ),
    };
    if json {
        let report = Report {
            schema_version: 1,
            target: described,
            check: &args.check,
            verdict,
            fix,
            result,
            reason,
            applied,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(a) = applied {
            for step in &a.steps {
                println!("  {step}");
            }
        }
        match (code, reason) {
            (super::exit::OK, _) => println!("applied"),
            (_, Some(r)) => println!("not applied: {r}"),
            (_, None) => println!("not applied"),
        }
    }
    Ok(code)
}

/// The fix as the operator reads it before saying yes: what it does and the diff.
fn describe(check: &str, fix: Option<&Fix>, action: &ApplyAction) -> String {
    let mut out = format!(
        "fix for {check}: {}\n",
        fix.map(|f| f.summary.as_str()).unwrap_or_default()
    );
    match action {
        ApplyAction::EditNginxFile { path, .. } => {
            out += &format!(
                "edits {}, runs nginx -t, reloads nginx if it passes (reverted if not)\n",
                path.display()
            );
        }
        ApplyAction::ReloadNginx => out += "runs nginx -t, then reloads nginx\n",
        ApplyAction::RestartContainer { container } => {
            out += &format!("restarts container {container}\n")
        }
    }
    if let Some(diff) = fix.and_then(|f| f.diff.as_deref()) {
        out += diff;
    }
    out
}

fn confirm() -> Result<bool> {
    eprint!("Apply this fix? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
