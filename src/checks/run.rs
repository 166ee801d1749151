//! One diagnosis: gather through the target, judge, summarise.

use std::time::Instant;

use super::gather::{DiagnoseOptions, Unfinished, observe};
use super::list::{self, evaluate};
use super::model::{CheckResult, Outcome, Report, Status, Timings};
use super::obs::Observations;
use crate::target::Target;

/// Run the whole checklist against `target`.
pub async fn diagnose(target: &Target, options: &DiagnoseOptions) -> (Report, Observations) {
    let start = Instant::now();
    let (obs, probes, unfinished) = observe(target, options).await;
    let checks = judge(&obs, unfinished.as_ref());
    let timings = Timings {
        total_ms: start.elapsed().as_secs_f64() * 1000.0,
        probes,
    };
    let mut report = Report::new(target.describe(), checks, timings);
    // Nothing failed among what finished, but not everything was looked at.
    if unfinished.is_some() && report.status == Status::Healthy {
        report.status = Status::CouldNotCheck;
    }
    (report, obs)
}

/// Evaluate, with a check that may have judged an abandoned probe's empty observation
/// skipped and saying which probes did not finish, and each result redacted.
fn judge(obs: &Observations, unfinished: Option<&Unfinished>) -> Vec<CheckResult> {
    evaluate(obs)
        .into_iter()
        .map(|mut c| {
            if let Some(u) = unfinished.filter(|u| u.touches(c.group)) {
                c.outcome = Outcome::skip(u.sentence());
            }
            redacted(c)
        })
        .collect()
}

/// Re-run one check: gather afresh and judge only it (prerequisites still apply).
pub async fn rerun(target: &Target, options: &DiagnoseOptions, id: &str) -> Option<CheckResult> {
    list::find(id)?;
    let (obs, _, unfinished) = observe(target, options).await;
    judge(&obs, unfinished.as_ref())
        .into_iter()
        .find(|c| c.id == id)
}

/// What a check shows, through the redaction policy: evidence quotes command lines
/// (`odoo-bin --db_password=...`), odoo.conf lines and log lines, and both faces show it.
fn redacted(mut c: CheckResult) -> CheckResult {
    use crate::redact::text;
    let o = &mut c.outcome;
    o.summary = text(&o.summary);
    for s in o.evidence.ran.iter_mut().chain(o.evidence.lines.iter_mut()) {
        *s = text(s);
    }
    o.cause = o.cause.as_deref().map(text);
    if let Some(fix) = &mut o.fix {
        fix.summary = text(&fix.summary);
        fix.command = fix.command.as_deref().map(text);
        fix.diff = fix.diff.as_deref().map(text);
    }
    c
}
