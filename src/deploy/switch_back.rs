//! The way back of a zero-downtime deploy, one function for the automatic rollback of a
//! deploy whose release failed its gates through nginx ([`super::orchestrate`]) and for
//! the operator's rollback of an interrupted one ([`super::resume`]): the switch to the
//! release before (judged by the gates on its own ports, as any switch), then the gates
//! through nginx, each step in the journal (so a console killed during it is found on the
//! next start) and in the proof's rollback.

use super::journal::{DeployJournal, Outcome, StepResult};
use super::orchestrate::{
    VerifyGate, failed_gates, gate_records, gate_records_all, report_text, verify_edge_of,
};
use super::proof::{ProofLogs, RollbackProof, StepProof, StepVerdict};
use super::switch::{SwitchRequest, switch};
use super::{Image, clock};
use crate::target::Target;
use crate::verify::{Overall, VerifyOptions};
use crate::workflow::StateDirs;

/// Where a switch back runs and what it writes to.
pub(super) struct Ctx<'a, 'b> {
    pub target: &'a Target,
    pub dirs: &'a StateDirs,
    pub verify: &'a VerifyOptions,
    pub journal: Option<&'a DeployJournal>,
    pub logs: &'a mut ProofLogs,
    pub on_step: &'a mut (dyn FnMut(&str) + Send + 'b),
}

/// How the switch back went.
pub(super) struct SwitchedBack {
    pub rollback: RollbackProof,
    /// `RolledBack` when the release before serves and passed its gates through nginx,
    /// else `Failed`.
    pub outcome: Outcome,
    /// The switch's own result: what serves again, or why it could not.
    pub detail: String,
}

/// Switch to `back` (the release before, `to`), then verify it through nginx.
pub(super) async fn switch_back(
    ctx: Ctx<'_, '_>,
    back: &SwitchRequest,
    to: Image,
    why: &str,
) -> SwitchedBack {
    let gate = VerifyGate::new(ctx.verify);
    let t = clock::now_ms();
    let mut rb = RollbackProof {
        to,
        reason: why.to_string(),
        result: StepVerdict::Failed,
        steps: Vec::new(),
        gates: Vec::new(),
    };
    if let Some(j) = ctx.journal {
        let _ = j.step_started("switch back", true).await;
    }
    let rolled = {
        let on_step = &mut *ctx.on_step;
        let mut report = |s: &str| {
            on_step(&format!("switch back: {s}"));
            super::test_pause::during_switch_back(s);
        };
        // Away from a release that failed, whatever state its container is in now.
        let back = SwitchRequest {
            leaving_failed: true,
            ..back.clone()
        };
        switch(ctx.target, ctx.dirs, &back, Some(&gate), &mut report).await
    };
    for r in gate.reports() {
        ctx.logs.healthcheck += "== gates of the previous release on its own ports ==\n";
        ctx.logs.healthcheck += &report_text(&r);
    }
    rb.gates = gate_records_all(&gate.reports());
    let detail = match &rolled {
        Ok(r) => format!("{} serves again", r.to.image),
        Err(e) => format!("{e:#}"),
    };
    let result = if rolled.is_ok() {
        StepResult::Passed
    } else {
        StepResult::Failed
    };
    if let Some(j) = ctx.journal {
        let _ = j.step_ended("switch back", result, &detail).await;
    }
    rb.steps.push(StepProof::new(
        "switch back",
        t,
        clock::now_ms(),
        result,
        &detail,
    ));
    (ctx.on_step)(&format!("switch back: {detail}"));
    let mut outcome = Outcome::Failed;
    if let Ok(r) = &rolled {
        let t = clock::now_ms();
        let report = verify_edge_of(ctx.target, ctx.verify, &r.to.name).await;
        ctx.logs.healthcheck += "== gates after the rollback, through the edge ==\n";
        ctx.logs.healthcheck += &report_text(&report);
        rb.gates.extend(gate_records(&report));
        let ok = report.status == Overall::Passed;
        let verified = if ok {
            "every hard gate passed".to_string()
        } else {
            failed_gates(&report)
        };
        rb.steps.push(StepProof::new(
            "verify",
            t,
            clock::now_ms(),
            if ok {
                StepResult::Passed
            } else {
                StepResult::Failed
            },
            &verified,
        ));
        (ctx.on_step)(&format!("verify after the rollback: {verified}"));
        if ok {
            rb.result = StepVerdict::Passed;
            outcome = Outcome::RolledBack;
        }
    }
    SwitchedBack {
        rollback: rb,
        outcome,
        detail,
    }
}
