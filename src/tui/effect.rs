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
    /// Ask the logs worker to change the view.
    Logs(crate::logs::worker::LogsCommand),
    /// Ask the Docker worker for an action, an inspect or a refresh.
    Docker(crate::docker::DockerCommand),
    /// Follow a container's logs in the Logs pane (once per container).
    OpenContainerLogs { container: String, name: String },
}
