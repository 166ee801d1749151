//! Work a key or a message asks for. The event loop starts it; key handlers never do I/O.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Gather the host's facts again.
    RefreshHost,
    /// Run the whole 502 checklist.
    RunChecks,
    /// Re-run one check (by id).
    RerunCheck(&'static str),
    /// Apply a fix the operator confirmed.
    ApplyFix(
        crate::checks::model::ApplyAction,
        crate::nginx::NginxInvocation,
    ),
    /// The SSH connection gave up; the operator asked to try again.
    Reconnect,
    /// Leave the console.
    Quit,
}
