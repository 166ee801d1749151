//! Gates as data: what each one checked, what it saw and what it concluded; the report a
//! deploy keeps as proof and `odoo-ops verify --json` prints (docs/verify.md).

use serde::Serialize;

/// One gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Pass,
    /// Not good, but not a reason to fail: a soft gate that failed, or a fact worth
    /// reading (no Odoo database yet).
    Warn,
    Fail,
    /// The gate could not look (Docker not reachable, a token not set): neither pass nor
    /// fail, and a deploy must not take it for either.
    CouldNotCheck,
}

impl GateStatus {
    pub fn label(self) -> &'static str {
        match self {
            GateStatus::Pass => "PASS",
            GateStatus::Warn => "WARN",
            GateStatus::Fail => "FAIL",
            GateStatus::CouldNotCheck => "N/A ",
        }
    }
}

/// What a gate found, before it is timed and placed in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub status: GateStatus,
    pub summary: String,
    /// Commands and requests it ran, then the lines that matter.
    pub evidence: Vec<String>,
    /// The container whose log and health explain a failure of this gate.
    pub container: Option<String>,
}

impl Finding {
    pub fn new(status: GateStatus, summary: impl Into<String>) -> Self {
        Finding {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            container: None,
        }
    }

    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(GateStatus::Pass, summary)
    }

    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(GateStatus::Fail, summary)
    }

    pub fn warn(summary: impl Into<String>) -> Self {
        Self::new(GateStatus::Warn, summary)
    }

    pub fn could_not_check(summary: impl Into<String>) -> Self {
        Self::new(GateStatus::CouldNotCheck, summary)
    }

    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    pub fn lines<I: IntoIterator<Item = S>, S: Into<String>>(mut self, lines: I) -> Self {
        self.evidence.extend(lines.into_iter().map(Into::into));
        self
    }

    pub fn in_container(mut self, container: Option<String>) -> Self {
        self.container = container;
        self
    }
}

/// The container's own account of a failure: its last log lines and Docker's health log,
/// shown inline with the gate (a bare "failed to become healthy" tells nobody anything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailureContext {
    pub container: String,
    /// `docker logs --tail N NAME`, as an operator would type it.
    pub log_command: String,
    pub log_tail: Vec<String>,
    /// Docker's health log: one line per probe (`exit 1 at TIME: output`).
    pub health_log: Vec<String>,
    pub error: Option<String>,
}

/// One gate in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateResult {
    /// `container`, `health.http`, `edge.login`, `db.modules`, `extra.ocr`...
    pub id: String,
    pub title: String,
    /// A hard gate failing fails the verify (and the deploy); a soft one warns.
    pub hard: bool,
    pub status: GateStatus,
    pub summary: String,
    pub evidence: Vec<String>,
    /// How many times it ran (more than once when waiting for readiness).
    pub attempts: u32,
    /// Its last run's wall time.
    pub elapsed_ms: u64,
    /// When its last run started, in ms after the verify began: a gate starts as soon as
    /// the discovery it needs is done (see [`VerifyReport::discovery`]).
    pub started_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<FailureContext>,
    #[serde(skip)]
    pub container: Option<String>,
}

/// One piece of the first round's discovery and when it ran, in ms after the verify
/// began: with the gates' `started_ms`, it shows which gate waited for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveryStep {
    /// `process snapshot`, `nginx -t, nginx -T`, `odoo found`...
    pub name: String,
    pub started_ms: u64,
    pub ended_ms: u64,
}

/// The verify's outcome, as exit codes say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Every hard gate passed.
    Passed,
    /// A hard gate failed.
    Failed,
    /// No hard gate failed, but one could not be checked.
    CouldNotCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The host (`local`, `root@droplet`).
    pub target: String,
    pub status: Overall,
    /// What was verified: the Odoo container (or process) and its ports.
    pub subject: Vec<String>,
    pub gates: Vec<GateResult>,
    /// The diagnosis' root cause when a gate failed and the diagnosis found one.
    pub root_cause: Option<String>,
    /// Rounds run (one without `wait`).
    pub rounds: u32,
    /// `wait`'s bound in seconds, when given.
    pub waited_up_to_secs: Option<u64>,
    /// The first round's discovery, in the order each piece ended.
    pub discovery: Vec<DiscoveryStep>,
    pub elapsed_ms: u64,
}

impl VerifyReport {
    pub fn gate(&self, id: &str) -> Option<&GateResult> {
        self.gates.iter().find(|g| g.id == id)
    }

    pub fn overall(gates: &[GateResult]) -> Overall {
        let hard = || gates.iter().filter(|g| g.hard);
        if hard().any(|g| g.status == GateStatus::Fail) {
            Overall::Failed
        } else if hard().any(|g| g.status == GateStatus::CouldNotCheck) {
            Overall::CouldNotCheck
        } else {
            Overall::Passed
        }
    }

    /// Soft gates that did not pass: what a passing verify still has to say.
    pub fn warnings(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| g.status == GateStatus::Warn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(id: &str, hard: bool, status: GateStatus) -> GateResult {
        GateResult {
            id: id.into(),
            title: id.into(),
            hard,
            status,
            summary: String::new(),
            evidence: Vec::new(),
            attempts: 1,
            elapsed_ms: 0,
            started_ms: 0,
            context: None,
            container: None,
        }
    }

    #[test]
    fn hard_gates_decide() {
        use GateStatus::*;
        assert_eq!(
            VerifyReport::overall(&[gate("a", true, Pass), gate("b", false, Warn)]),
            Overall::Passed
        );
        assert_eq!(
            VerifyReport::overall(&[gate("a", true, CouldNotCheck), gate("b", true, Fail)]),
            Overall::Failed
        );
        assert_eq!(
            VerifyReport::overall(&[gate("a", true, CouldNotCheck), gate("b", false, Fail)]),
            Overall::CouldNotCheck
        );
    }
}
