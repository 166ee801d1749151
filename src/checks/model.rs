//! Checks as data: what each one is, what it ran, what it saw, what it concluded, and how
//! to fix it. Serialised as-is into `odoo-ops diagnose --json` (see docs/diagnose-json.md).

use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    /// Not run: a prerequisite failed, or it does not apply to how Odoo runs here.
    Skipped,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "SKIP",
        }
    }
}

/// The ten groups of the checklist, in the order an operator works through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Nginx,
    NginxSite,
    OdooConf,
    OdooRuntime,
    Sockets,
    InternalHealth,
    Edge,
    Database,
    ErrorLog,
    Resources,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Nginx => "nginx",
            Group::NginxSite => "nginx site configuration",
            Group::OdooConf => "odoo.conf",
            Group::OdooRuntime => "Odoo process",
            Group::Sockets => "listening sockets",
            Group::InternalHealth => "internal health",
            Group::Edge => "edge (through nginx)",
            Group::Database => "database",
            Group::ErrorLog => "nginx error log",
            Group::Resources => "resources",
        }
    }
}

/// Whether a failing check is a cause (a wrong setting, a dead process) or a symptom of
/// one (a failing request). The root cause is the first failing cause; only when none
/// fails is a symptom named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Cause,
    Symptom,
}

/// A check's identity and what it runs; the verdict comes from [`CheckResult`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub group: Group,
    pub title: &'static str,
    /// What it looks at, in an operator's words (the exact commands are in the evidence).
    pub runs: &'static str,
    pub kind: Kind,
    /// Checks whose failure makes this one meaningless.
    pub requires: &'static [&'static str],
}

/// What a check ran and the lines that matter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Commands (quoted like a shell line) and requests (`GET http://...`) it used.
    pub ran: Vec<String>,
    pub lines: Vec<String>,
}

impl Evidence {
    pub fn ran(mut self, what: impl Into<String>) -> Self {
        self.ran.push(what.into());
        self
    }

    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    pub fn lines<I: IntoIterator<Item = S>, S: Into<String>>(mut self, lines: I) -> Self {
        self.lines.extend(lines.into_iter().map(Into::into));
        self
    }
}

/// A change the engine can make itself once the operator confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ApplyAction {
    /// Replace an nginx file (`before` must still be on disk), test, reload; revert on failure.
    EditNginxFile {
        path: PathBuf,
        #[serde(skip)]
        before: String,
        #[serde(skip)]
        after: String,
    },
    /// `nginx -t`, then `nginx -s reload`.
    ReloadNginx,
    /// Restart the Odoo container.
    RestartContainer { container: String },
}

/// How to fix what a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// One line: what to do.
    pub summary: String,
    /// An exact command to run, when the fix is one.
    pub command: Option<String>,
    /// A unified diff, when the fix is a configuration change.
    pub diff: Option<String>,
    /// Present when the fix is safe and mechanical enough for the engine to apply.
    pub apply: Option<ApplyAction>,
}

impl Fix {
    pub fn text(summary: impl Into<String>) -> Self {
        Fix {
            summary: summary.into(),
            command: None,
            diff: None,
            apply: None,
        }
    }

    pub fn command(summary: impl Into<String>, command: impl Into<String>) -> Self {
        Fix {
            command: Some(command.into()),
            ..Fix::text(summary)
        }
    }
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// One line: what was found.
    pub summary: String,
    pub evidence: Evidence,
    /// Why it matters for a 502 (or other symptom), for fail and warn.
    pub cause: Option<String>,
    pub fix: Option<Fix>,
    /// Skipped because something that should have been readable was not (permission
    /// denied on nginx's configuration, a certificate, odoo.conf): the diagnosis is then
    /// "could not check" unless something else failed. Only present when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub could_not_check: bool,
}

impl Outcome {
    pub fn pass(summary: impl Into<String>, evidence: Evidence) -> Self {
        Outcome {
            verdict: Verdict::Pass,
            summary: summary.into(),
            evidence,
            cause: None,
            fix: None,
            could_not_check: false,
        }
    }

    pub fn skip(reason: impl Into<String>) -> Self {
        Outcome {
            verdict: Verdict::Skipped,
            summary: reason.into(),
            evidence: Evidence::default(),
            cause: None,
            fix: None,
            could_not_check: false,
        }
    }

    /// Not judged because what it reads could not be read (see `could_not_check`).
    pub fn could_not_check(reason: impl Into<String>, evidence: Evidence) -> Self {
        Outcome {
            evidence,
            could_not_check: true,
            ..Outcome::skip(reason)
        }
    }

    pub fn fail(summary: impl Into<String>, evidence: Evidence, cause: impl Into<String>) -> Self {
        Outcome {
            verdict: Verdict::Fail,
            summary: summary.into(),
            evidence,
            cause: Some(cause.into()),
            fix: None,
            could_not_check: false,
        }
    }

    pub fn warn(summary: impl Into<String>, evidence: Evidence, cause: impl Into<String>) -> Self {
        Outcome {
            verdict: Verdict::Warn,
            cause: Some(cause.into()),
            ..Outcome::fail(summary, evidence, "")
        }
    }

    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn with_fix_opt(mut self, fix: Option<Fix>) -> Self {
        self.fix = fix;
        self
    }
}

/// A check and its outcome, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub group: Group,
    pub title: &'static str,
    pub runs: &'static str,
    pub kind: Kind,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The root cause on top of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootCause {
    pub check: &'static str,
    /// One sentence.
    pub sentence: String,
}

/// The version of the JSON shape; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub target: String,
    /// `healthy`, `problem` or `could_not_check`.
    pub status: Status,
    pub root_cause: Option<RootCause>,
    pub counts: Counts,
    pub checks: Vec<CheckResult>,
    /// Wall time of the whole diagnosis and of each observation, in milliseconds.
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Problem,
    CouldNotCheck,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skipped: usize,
    /// Of the skipped, those that could not read what they need.
    pub could_not_check: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub total_ms: f64,
    /// Each observation gathered (they run concurrently), slowest first.
    pub probes: Vec<(String, f64)>,
}

impl Report {
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Assemble: count, pick the root cause, decide the status.
    pub fn new(target: String, checks: Vec<CheckResult>, timings: Timings) -> Report {
        let mut counts = Counts::default();
        for c in &checks {
            match c.outcome.verdict {
                Verdict::Pass => counts.pass += 1,
                Verdict::Warn => counts.warn += 1,
                Verdict::Fail => counts.fail += 1,
                Verdict::Skipped => counts.skipped += 1,
            }
            if c.outcome.could_not_check {
                counts.could_not_check += 1;
            }
        }
        let root_cause = root_cause(&checks);
        let status = if counts.fail > 0 {
            Status::Problem
        } else if counts.pass == 0 || counts.could_not_check > 0 {
            Status::CouldNotCheck
        } else {
            Status::Healthy
        };
        Report {
            schema_version: SCHEMA_VERSION,
            target,
            status,
            root_cause,
            counts,
            checks,
            timings,
        }
    }
}

/// The first failing cause, else the first failing symptom.
pub fn root_cause(checks: &[CheckResult]) -> Option<RootCause> {
    let failing = |kind: Kind| {
        checks
            .iter()
            .find(|c| c.outcome.verdict == Verdict::Fail && c.kind == kind)
    };
    let c = failing(Kind::Cause).or_else(|| failing(Kind::Symptom))?;
    let because = c.outcome.cause.clone().unwrap_or_default();
    let sentence = if because.is_empty() {
        format!("{}: {}.", c.title, c.outcome.summary.trim_end_matches('.'))
    } else {
        format!("{}.", because.trim_end_matches('.'))
    };
    Some(RootCause {
        check: c.id,
        sentence,
    })
}
