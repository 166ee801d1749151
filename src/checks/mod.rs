//! The 502 diagnosis: checks as data (id, title, what it runs, verdict, evidence, cause,
//! fix), gathered through the [`crate::target::Target`] concurrently and judged by pure
//! functions over [`obs::Observations`].
//!
//! - [`model`]: verdicts, evidence, fixes, the report and its root cause.
//! - [`list`]: the checklist in order and the evaluation with prerequisites.
//! - `verdict_*`: the pure logic of each check.
//! - [`fixes`]: mechanical nginx edits; [`apply`]: applying a confirmed fix safely.
//! - [`gather`]: reading everything through the target; [`run`]: one diagnosis.

pub mod apply;
pub mod fixes;
pub mod gather;
pub mod list;
pub mod model;
pub mod obs;
pub mod run;
mod verdict_edge;
mod verdict_nginx;
mod verdict_odoo;

pub use gather::{DiagnoseOptions, OdooLocation};
pub use model::{CheckResult, Report, Verdict};
pub use run::diagnose;
pub use verdict_odoo::scan_log;

#[cfg(test)]
mod tests;
