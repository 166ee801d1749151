//! The change journal: one JSON file per change in progress, written (private, atomically)
//! before the first file is touched and removed once the change is committed or reverted.
//! What is left there was interrupted; [`super::recover`] finishes or reverts it.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};
use serde::{Deserialize, Serialize};

use super::state_dir::{self, StateDirs};
use crate::nginx::NginxInvocation;
use crate::target::{Command, Target};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Backups are being made or the new files written; nothing was validated yet. An
    /// interrupted change in this phase is reverted.
    Prepared,
    /// The new files passed validation; only the reload was left. An interrupted change
    /// in this phase is finished.
    Validated,
}

/// A file as it was before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    pub sha256: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The exact old bytes.
    pub backup: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The path as asked for (a symlink, perhaps).
    pub path: PathBuf,
    /// The file actually written: the symlink's target.
    pub real_path: PathBuf,
    /// `None`: the file did not exist; reverting removes it.
    pub before: Option<Before>,
    pub after_sha256: String,
}

/// The nginx that validates and reloads, as the running master was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NginxRecord {
    pub binary: String,
    pub conf: Option<PathBuf>,
    pub prefix: Option<PathBuf>,
}

impl NginxRecord {
    pub fn of(inv: &NginxInvocation) -> NginxRecord {
        NginxRecord {
            binary: inv.binary.clone(),
            conf: inv.conf.clone(),
            prefix: inv.prefix.clone(),
        }
    }

    pub fn invocation(&self) -> NginxInvocation {
        NginxInvocation {
            binary: self.binary.clone(),
            conf: self.conf.clone(),
            prefix: self.prefix.clone(),
            ..Default::default()
        }
    }
}

/// The console process that runs a change, so a second console does not revert a change
/// that is still in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The machine the console runs on (not the host it changes).
    pub machine: String,
    pub pid: u32,
    /// The process's start time in clock ticks (`/proc/PID/stat` field 22): a reused pid
    /// is not taken for the holder.
    pub started: u64,
}

impl Holder {
    pub fn this_process() -> Holder {
        let pid = std::process::id();
        Holder {
            machine: machine_name(),
            pid,
            started: process_start(pid).unwrap_or(0),
        }
    }

    /// Still running. A console on another machine cannot be asked; its change is taken
    /// as interrupted (two operators changing one host in the same second is the case
    /// this does not cover).
    pub fn is_alive(&self) -> bool {
        self.machine == machine_name()
            && self.pid != std::process::id()
            && process_start(self.pid).is_some_and(|s| s == self.started)
    }
}

/// The name of the machine this console runs on.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// When process `pid` started, in clock ticks; `None` when no such process runs here.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces; count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// What the change is for, in the operator's words (`fix nginx.timeouts`).
    pub purpose: String,
    pub phase: Phase,
    pub files: Vec<FileRecord>,
    /// Validate with `nginx -t` and reload, with this invocation.
    pub nginx: Option<NginxRecord>,
    pub holder: Holder,
}

fn entry_path(dirs: &StateDirs, id: &str) -> PathBuf {
    dirs.journal.join(format!("{id}.json"))
}

/// Record `entry` (a new one, or its next phase).
pub async fn write(target: &Target, dirs: &StateDirs, entry: &Entry) -> Result<()> {
    state_dir::ensure_private(target, &dirs.journal).await?;
    let json = serde_json::to_vec_pretty(entry)?;
    target
        .write_file(&entry_path(dirs, &entry.id), &json, 0o600)
        .await
        .wrap_err("could not write the change journal")
}

pub async fn remove(target: &Target, dirs: &StateDirs, id: &str) -> Result<()> {
    let path = entry_path(dirs, id);
    let out = target
        .run(
            &Command::new("rm")
                .args(["-f", "--"])
                .arg(path.to_string_lossy()),
        )
        .await?;
    if !out.success() {
        color_eyre::eyre::bail!(
            "could not remove {}: {}",
            path.display(),
            out.stderr_text().trim()
        );
    }
    Ok(())
}

/// Every entry left in the journal; an unreadable one is returned as its path and error.
pub async fn list(target: &Target, dirs: &StateDirs) -> Result<Vec<Result<Entry, String>>> {
    if !state_dir::exists_private(target, &dirs.journal).await? {
        return Ok(Vec::new());
    }
    const LIST: &str =
        r#"for f in "$1"/*.json; do [ -f "$f" ] && printf '%s\n' "$f"; done; exit 0"#;
    let out = target
        .run(&Command::script(LIST).arg(dirs.journal.to_string_lossy()))
        .await?;
    let mut entries = Vec::new();
    for line in out.stdout_text().lines().filter(|l| !l.is_empty()) {
        let path = Path::new(line);
        let read = target.read_file(path).await.map_err(|e| format!("{e:#}"));
        entries.push(read.and_then(|bytes| {
            serde_json::from_slice::<Entry>(&bytes)
                .map_err(|e| format!("{}: not a journal entry: {e}", path.display()))
        }));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_to_others_but_not_to_itself() {
        let me = Holder::this_process();
        assert!(me.started > 0);
        // The recovering process is never blocked by its own (dead) earlier change.
        assert!(!me.is_alive());
        let parent = std::os::unix::process::parent_id();
        let other = Holder {
            machine: me.machine.clone(),
            pid: parent,
            started: process_start(parent).unwrap(),
        };
        assert!(other.is_alive());
        assert!(
            !Holder {
                started: other.started + 1,
                ..other
            }
            .is_alive(),
            "a reused pid is not the holder"
        );
    }
}
