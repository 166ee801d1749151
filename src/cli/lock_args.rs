//! The lock options every command that changes a stack takes (deploy, rollback, restore):
//! flatten [`LockArgs`] into its arguments.

use std::time::Duration;

use clap::Args;

use crate::deploy::LockOptions;

#[derive(Debug, Clone, Default, Args)]
pub struct LockArgs {
    /// Wait up to this many seconds for another deploy to release the stack's lock (for CI)
    /// instead of refusing at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_wait: u64,
    /// Take over a stale lock (its holder stopped sending heartbeats, or its process is
    /// gone): only when that deploy is known not to run any more.
    #[arg(long)]
    pub take_over: bool,
}

impl LockArgs {
    pub fn options(&self) -> LockOptions {
        LockOptions {
            wait: Duration::from_secs(self.lock_wait),
            take_over: self.take_over,
            ..LockOptions::default()
        }
    }
}
