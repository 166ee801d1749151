//! Results of background work, delivered to the event loop.

use crate::host::HostFacts;

#[derive(Debug, Clone)]
pub enum Message {
    /// A Host refresh finished.
    HostFacts(Result<HostFacts, String>),
    /// A diagnosis finished, with how its nginx is invoked (for fixes).
    ChecksReport(Result<(Box<crate::checks::Report>, crate::nginx::NginxInvocation), String>),
    /// One re-run check finished.
    CheckRerun(Result<crate::checks::CheckResult, String>),
    /// An applied fix finished (a fresh diagnosis follows).
    FixApplied(Result<crate::checks::apply::Applied, String>),
}
