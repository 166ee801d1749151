//! Work a key or a message asks for. The event loop starts it; key handlers never do I/O.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Gather the host's facts again.
    RefreshHost,
    /// The SSH connection gave up; the operator asked to try again.
    Reconnect,
    /// Leave the console.
    Quit,
}
