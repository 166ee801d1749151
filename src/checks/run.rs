//! One diagnosis: gather through the target, judge, summarise.

use std::time::Instant;

use super::gather::{DiagnoseOptions, observe};
use super::list::{self, evaluate};
use super::model::{CheckResult, Report, Timings};
use super::obs::Observations;
use crate::target::Target;

/// Run the whole checklist against `target`.
pub async fn diagnose(target: &Target, options: &DiagnoseOptions) -> (Report, Observations) {
    let start = Instant::now();
    let (obs, probes) = observe(target, options).await;
    let checks = evaluate(&obs);
    let timings = Timings {
        total_ms: start.elapsed().as_secs_f64() * 1000.0,
        probes,
    };
    (Report::new(target.describe(), checks, timings), obs)
}

/// Re-run one check: gather afresh and judge only it (prerequisites still apply).
pub async fn rerun(target: &Target, options: &DiagnoseOptions, id: &str) -> Option<CheckResult> {
    list::find(id)?;
    let (obs, _) = observe(target, options).await;
    evaluate(&obs).into_iter().find(|c| c.id == id)
}
