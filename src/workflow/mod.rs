//! Workflows that change a host, as explicit steps with a journal: today the one way a file
//! on a host is changed ([`safe_change`]); deploy and rollback build on it.
//!
//! - [`state_dir`]: where the journal and the backups live on the host (outside every
//!   nginx `include`), and how a non-root login falls back.
//! - [`journal`]: what a change records before it touches anything.
//! - [`safe_change`]: stage, back up, write, validate with the running nginx, commit or revert.
//! - [`recover`]: on start, an unfinished change is finished or reverted, and said so.
//!
//! Engine code: nothing here prints; the faces show the steps and notes it returns.

pub mod journal;
pub mod recover;
pub mod safe_change;
pub mod state_dir;

pub use recover::recover;
pub use safe_change::{ChangeOutcome, ChangeSet, Expect, FileEdit, Refused, apply};
pub use state_dir::StateDirs;

/// SHA-256 of `bytes` in lower-case hex: how the journal names a file's content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
