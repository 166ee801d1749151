//! Results of background work, delivered to the event loop.

use crate::host::HostFacts;

#[derive(Debug, Clone)]
pub enum Message {
    /// A Host refresh finished.
    HostFacts(Result<HostFacts, String>),
}
