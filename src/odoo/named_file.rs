//! Reading a file that a process (or its configuration) names: odoo.conf from an Odoo
//! server's `-c`, the `logfile` that odoo.conf sets.
//!
//! The console often runs as root, and a process's command line and configuration are
//! written by whoever runs it: a user's process titled `odoo-bin -c F`, with `F` setting
//! `logfile = /etc/shadow`, must not make root read and show `/etc/shadow`. So a named
//! file is read only for a process that runs as root (root could read it anyway) or as
//! the file's owner (it names its own file). Anything else is refused with a sentence.
//!
//! The owner is taken from the file descriptor that is then read (`exec 3< FILE`, `stat
//! /dev/fd/3`, read fd 3), so a symlink swapped between the check and the read changes
//! nothing; the path never reaches `tail`/`head` as an argument (no `--` question).

use std::path::Path;

use crate::target::{Command, Target};

/// How much of the file: all of it (up to a bound) or its last lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Portion {
    Head { bytes: u64 },
    Tail { lines: u64 },
}

/// Why a named file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRead {
    /// The rule above refused it; the sentence says whose file it is and for whom.
    Refused(String),
    /// Missing, not a regular file, unreadable, or the command failed.
    Failed(String),
}

impl std::fmt::Display for NotRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRead::Refused(s) | NotRead::Failed(s) => f.write_str(s),
        }
    }
}

/// A file that was read, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub text: String,
    pub owner: u32,
}

/// `$1` the uid allowed (0 = any), `$2` the path, `$3` head|tail, `$4` the amount. A FIFO
/// or device is refused before it is opened (opening a FIFO would block).
const SCRIPT: &str = r#"
[ -f "$2" ] || { echo "$2: no such regular file" >&2; exit 3; }
exec 3< "$2" || exit 4
owner=$(stat -L -c %u /dev/fd/3) || exit 4
if [ "$1" != 0 ] && [ "$owner" != "$1" ]; then echo "@@refused $owner"; exit 0; fi
echo "@@read $owner"
if [ "$3" = tail ]; then tail -n "$4" <&3; else head -c "$4" <&3; fi
"#;

/// How the evidence shows the read.
pub fn shown(path: &Path, portion: Portion) -> String {
    match portion {
        Portion::Head { .. } => format!("cat -- {}", path.display()),
        Portion::Tail { lines } => format!("tail -n {lines} -- {}", path.display()),
    }
}

/// Read `path` for a process running as `process_uid` (see the module's rule). `who`
/// names the process in a refusal (`process 1234 (odoo-bin -c /etc/odoo.conf)`).
pub async fn read_for(
    target: &Target,
    path: &Path,
    process_uid: u32,
    who: &str,
    portion: Portion,
) -> Result<Read, NotRead> {
    let (mode, amount) = match portion {
        Portion::Head { bytes } => ("head", bytes),
        Portion::Tail { lines } => ("tail", lines),
    };
    let cmd = Command::script(SCRIPT)
        .arg(process_uid.to_string())
        .arg(path.to_string_lossy())
        .arg(mode)
        .arg(amount.to_string());
    let out = target
        .run(&cmd)
        .await
        .map_err(|e| NotRead::Failed(format!("{}: {e:#}", path.display())))?;
    let stdout = out.stdout_text();
    let (first, rest) = stdout.split_once('\n').unwrap_or((stdout.as_str(), ""));
    if let Some(owner) = first.strip_prefix("@@refused ") {
        return Err(NotRead::Refused(format!(
            "refused to read {}: {who} runs as uid {process_uid}, the file belongs to uid {}; only a file of its own (or any, for a process run by root) is read",
            path.display(),
            owner.trim()
        )));
    }
    match first.strip_prefix("@@read ") {
        Some(owner) if out.success() => Ok(Read {
            text: rest.to_string(),
            owner: owner.trim().parse().unwrap_or(u32::MAX),
        }),
        _ => Err(NotRead::Failed(
            match out.stderr_text().trim() {
                "" => format!("{}: could not be read", path.display()),
                e => e.to_string(),
            }
            .replace("odoo-ops: ", ""),
        )),
    }
}
