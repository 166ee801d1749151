//! Work a key or a message asks for. The event loop starts it; key handlers never do I/O.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Gather the host's facts again.
    RefreshHost,
    /// Leave the console.
    Quit,
}
