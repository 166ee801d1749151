//! The bookkeeping of a deploy, rollback or restore on a host, for the orchestrator that
//! runs their steps: who may change a stack now ([`lock`]), what a run did so far, so an
//! interrupted one is found on the next start ([`journal`]), which releases the host has
//! had ([`releases`]), and what CI keeps of every run ([`proof`]); and the zero-downtime
//! replacement of the running Odoo container by a new release ([`switch`]).
//!
//! Lock, journal and releases live on the host (through [`crate::target::Target`], the
//! same locally and over SSH), under the one place odoo-ops keeps state there
//! ([`crate::workflow::StateDirs::deploys`]); [`StackState`] names a stack's share of it.
//! Proofs are written where the console runs (a CI job's workspace).
//!
//! Engine code: nothing here prints.

pub mod clock;
pub mod journal;
pub mod lock;
pub mod maintenance;
pub mod module_window;
pub mod orchestrate;
pub mod preview;
pub mod proof;
pub mod releases;
pub mod request;
pub mod resume;
pub mod resume_window;
pub mod stack_state;
pub mod switch;
pub mod switch_back;
pub mod switch_clone;
pub mod switch_drain;
pub mod switch_edits;
pub mod switch_ready;
pub mod test_pause;

pub use journal::{DeployJournal, StepResult, UnfinishedDeploy, unfinished};
pub use lock::{DeployLock, LockError, LockOptions, LockRequest, Operation};
pub use releases::Release;
pub use stack_state::StackState;

/// Where a droplet's stack (compose file, `.env`, odoo.conf) lives unless the operator
/// says otherwise.
pub const DEFAULT_STACK_DIR: &str = "/opt/odoo";

/// An image as a deploy moves from or to it: the tag asked for and, once known, the
/// digest it resolved to (a tag can be re-pushed; the digest is what ran).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Image {
    pub fn tag(tag: impl Into<String>) -> Image {
        Image {
            tag: tag.into(),
            digest: None,
        }
    }

    pub fn with_digest(mut self, digest: impl Into<String>) -> Image {
        self.digest = Some(digest.into());
        self
    }
}

/// A new deploy's id: its UTC start and a random suffix, `20261130T120107Z-3fa9c2`, so ids
/// sort by time and two consoles starting in the same second still differ.
pub fn new_deploy_id() -> String {
    format!("{}-{}", clock::compact(clock::now_ms()), random_hex(3))
}

/// `bytes` random bytes in lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator failing is not a reason to refuse a deploy: the id is then
    // time-only plus the pid, still unique per console.
    if getrandom::fill(&mut buf).is_err() {
        return format!("{:0width$x}", std::process::id(), width = bytes * 2);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who runs this console: the user's login name on this machine.
pub fn console_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return v.to_string_lossy().into_owned();
        }
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("uid {}", unsafe { libc::getuid() })
}
