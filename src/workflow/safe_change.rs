//! The one way a file on a host is changed: every writer (the checks' fixes, the stack
//! writer, deploy and rollback) hands a [`ChangeSet`] to [`apply`].
//!
//! 1. Look: each path is resolved (a symlink is edited at its target and stays a link),
//!    its bytes, mode and owner read, and compared with what the change was made against.
//!    A file changed since is refused before anything is touched.
//! 2. Journal: the change is recorded on the host before anything is touched.
//! 3. Back up: the old bytes go to the backups directory, outside every nginx include.
//! 4. Write: each file atomically, with its old mode and owner.
//! 5. Validate: `nginx -T` with the running master's binary, `-c` and `-p`, all files at
//!    once; it must pass and must not load any file of ours.
//! 6. Commit (the journal moves on, nginx reloads) or revert (the old bytes, mode and
//!    owner put back and read back to be sure). The journal entry goes once either is done.
//!
//! A console killed between 2 and 6 leaves the entry; [`super::recover`] finishes or
//! reverts it on the next start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use serde::Serialize;

use super::journal::{self, Before, Entry, FileRecord, Holder, NginxRecord, Phase};
use super::sha256_hex;
use super::state_dir::{self, StateDirs};
use crate::checks::obs::Ran;
use crate::nginx::NginxInvocation;
use crate::target::{Command, Target};

/// A test hook: milliseconds to wait after the new files are written and before they
/// are validated, so a test can kill the console at the moment that matters.
pub const HOLD_BEFORE_VALIDATE_ENV: &str = "ODOO_OPS_TEST_HOLD_BEFORE_VALIDATE_MS";

/// What the file must hold for the change to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there (the writer has just compared it itself).
    Anything,
    /// No file yet.
    Absent,
    /// Content with one of these SHA-256 digests (hex).
    Sha256(Vec<String>),
}

/// One file's new content.
#[derive(Debug, Clone)]
pub struct FileEdit {
    pub path: PathBuf,
    pub expect: Expect,
    pub contents: Vec<u8>,
    /// `None` keeps the old file's mode (0644 for a new file).
    pub mode: Option<u32>,
}

/// Files changed together: written, validated and committed or reverted as one.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// Names the change in the journal and in what the operator is told.
    pub purpose: String,
    pub files: Vec<FileEdit>,
    /// Validate with this nginx (`-T`) and reload it once the files pass.
    pub nginx: Option<NginxInvocation>,
    /// Names the change and its backup directory: `STAMP-PID-N`.
    pub stamp: String,
}

impl ChangeSet {
    pub fn new(purpose: impl Into<String>) -> ChangeSet {
        ChangeSet {
            purpose: purpose.into(),
            files: Vec::new(),
            nginx: None,
            stamp: crate::stack::update::backup_stamp(),
        }
    }

    pub fn file(mut self, edit: FileEdit) -> ChangeSet {
        self.files.push(edit);
        self
    }

    pub fn validated_by(mut self, nginx: NginxInvocation) -> ChangeSet {
        self.nginx = Some(nginx);
        self
    }
}

/// The change could not be tried and nothing was touched (the file changed since it was
/// read, no place for the journal, ...). Returned inside the error; callers that map
/// outcomes to exit codes look for it with `downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(message: impl Into<String>) -> color_eyre::Report {
    color_eyre::Report::new(Refused(message.into()))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeOutcome {
    pub id: String,
    /// What happened, step by step, in an operator's words.
    pub steps: Vec<String>,
    /// The files written (symlinks' targets).
    pub written: Vec<PathBuf>,
    /// Where the old bytes are kept.
    pub backups: Vec<PathBuf>,
    /// The validation nginx ran (`nginx -T`; its dump left out).
    pub test: Option<Ran>,
    /// The new files are in place (and passed validation when there was one).
    pub committed: bool,
    /// Validation failed (or a write did) and every file is as it was.
    pub reverted: bool,
    /// `Some(false)`: the files are in place and valid, but the reload failed.
    pub reloaded: Option<bool>,
}

impl ChangeOutcome {
    /// Committed and, when asked for, reloaded.
    pub fn success(&self) -> bool {
        self.committed && self.reloaded != Some(false)
    }
}

/// A file as found before the change.
struct Found {
    edit: FileEdit,
    real: PathBuf,
    old: Option<OldFile>,
}

struct OldFile {
    bytes: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Make the change. `Err` with [`Refused`] inside: nothing was touched. Other errors: a
/// revert itself failed; the journal entry stays for the next start, and the message says
/// what is where.
pub async fn apply(target: &Target, dirs: &StateDirs, set: &ChangeSet) -> Result<ChangeOutcome> {
    let id = format!(
        "{}-{}-{}",
        set.stamp,
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    );
    let mut outcome = ChangeOutcome {
        id: id.clone(),
        ..Default::default()
    };
    if let Some(note) = &dirs.note {
        outcome.steps.push(note.clone());
    }

    // 1. Look.
    let mut found = Vec::new();
    for edit in &set.files {
        let f = look(target, edit).await?;
        if dirs.holds(&f.real) {
            return Err(refused(format!(
                "{} is inside odoo-ops' own state directory",
                f.real.display()
            )));
        }
        let unchanged = f
            .old
            .as_ref()
            .is_some_and(|o| o.bytes == edit.contents && edit.mode.is_none_or(|m| m == o.mode));
        if !unchanged {
            found.push(f);
        }
    }
    if found.is_empty() {
        outcome.steps.push("nothing to change".into());
        outcome.committed = true;
        return Ok(outcome);
    }

    // 2. Journal, before anything is touched.
    let backup_dir = dirs.backups.join(&id);
    let records: Vec<FileRecord> = found
        .iter()
        .enumerate()
        .map(|(n, f)| FileRecord {
            path: f.edit.path.clone(),
            real_path: f.real.clone(),
            before: f.old.as_ref().map(|o| Before {
                sha256: sha256_hex(&o.bytes),
                mode: o.mode,
                uid: o.uid,
                gid: o.gid,
                backup: backup_dir.join(backup_name(n, &f.real)),
            }),
            after_sha256: sha256_hex(&f.edit.contents),
        })
        .collect();
    let mut entry = Entry {
        id: id.clone(),
        purpose: set.purpose.clone(),
        phase: Phase::Prepared,
        files: records,
        nginx: set.nginx.as_ref().map(NginxRecord::of),
        holder: Holder::this_process(),
    };
    journal::write(target, dirs, &entry)
        .await
        .map_err(|e| refused(format!("{e:#}; nothing was changed")))?;

    // 3. Back up.
    if let Err(e) = back_up(target, &backup_dir, &found, &entry, &mut outcome).await {
        let _ = journal::remove(target, dirs, &id).await;
        return Err(refused(format!("{e:#}; nothing was changed")));
    }

    // 4. Write.
    let mut failure = None;
    for f in &found {
        if let Err(e) = write(target, f, &mut outcome).await {
            failure = Some(format!("{e:#}"));
            break;
        }
    }
    if let Some(why) = failure {
        return revert_and_close(target, dirs, &entry, why, outcome).await;
    }
    if let Some(ms) = std::env::var(HOLD_BEFORE_VALIDATE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    // 5. Validate.
    let Some(nginx) = &set.nginx else {
        journal::remove(target, dirs, &id).await?;
        outcome.committed = true;
        return Ok(outcome);
    };
    if let Err(why) = validate(target, dirs, nginx, &mut outcome).await {
        return revert_and_close(target, dirs, &entry, why, outcome).await;
    }

    // 6. Commit.
    entry.phase = Phase::Validated;
    journal::write(target, dirs, &entry).await?;
    outcome.committed = true;
    outcome.reloaded = Some(reload(target, nginx, &mut outcome.steps).await);
    journal::remove(target, dirs, &id).await?;
    Ok(outcome)
}

fn backup_name(n: usize, real: &Path) -> String {
    let base = real
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    format!("{n}-{base}")
}

/// Resolve, stat and read one file; refuse when it is not what the change expects.
async fn look(target: &Target, edit: &FileEdit) -> Result<Found> {
    // `readlink -f`: the symlink's final target, so the link itself is never replaced.
    const LOOK: &str = r#"p=$(readlink -f -- "$1") || exit 3
printf '%s\n' "$p"
if [ -e "$p" ] || [ -L "$p" ]; then stat -c '%a %u %g %F' -- "$p"; fi"#;
    let out = target
        .run(&Command::script(LOOK).arg(edit.path.to_string_lossy()))
        .await?;
    let shown = edit.path.display();
    if !out.success() {
        return Err(refused(format!(
            "cannot resolve {shown} (does its directory exist?) {}",
            out.stderr_text().trim()
        )));
    }
    let text = out.stdout_text();
    let mut lines = text.lines();
    let real = PathBuf::from(lines.next().unwrap_or_default());
    if !real.is_absolute() {
        return Err(refused(format!("cannot resolve {shown}")));
    }
    let old = match lines.next() {
        None => None,
        Some(stat) => {
            let mut words = stat.splitn(4, ' ');
            let mut num = |radix| {
                words
                    .next()
                    .and_then(|w| u32::from_str_radix(w, radix).ok())
                    .ok_or_else(|| eyre!("cannot read the mode of {}", real.display()))
            };
            let (mode, uid, gid) = (num(8)?, num(10)?, num(10)?);
            let kind = words.next().unwrap_or("");
            if kind != "regular file" && kind != "regular empty file" {
                return Err(refused(format!(
                    "{} is a {kind}, not a regular file",
                    real.display()
                )));
            }
            let bytes = target
                .read_file(&real)
                .await
                .map_err(|e| refused(format!("{e:#}")))?;
            Some(OldFile {
                bytes,
                mode,
                uid,
                gid,
            })
        }
    };
    let matches = match (&edit.expect, &old) {
        (Expect::Anything, _) => true,
        (Expect::Absent, old) => old.is_none(),
        (Expect::Sha256(sums), Some(o)) => sums.contains(&sha256_hex(&o.bytes)),
        (Expect::Sha256(_), None) => false,
    };
    if !matches {
        return Err(refused(format!(
            "{shown} changed since it was read; look at it again before changing it"
        )));
    }
    Ok(Found {
        edit: edit.clone(),
        real,
        old,
    })
}

async fn back_up(
    target: &Target,
    backup_dir: &Path,
    found: &[Found],
    entry: &Entry,
    outcome: &mut ChangeOutcome,
) -> Result<()> {
    if found.iter().all(|f| f.old.is_none()) {
        return Ok(());
    }
    state_dir::ensure_private(target, backup_dir).await?;
    for (f, record) in found.iter().zip(&entry.files) {
        let (Some(old), Some(before)) = (&f.old, &record.before) else {
            continue;
        };
        // Private whatever the original's mode: a copy of .env is as secret as .env.
        target.write_file(&before.backup, &old.bytes, 0o600).await?;
        outcome.steps.push(format!(
            "backed up {} to {}",
            f.real.display(),
            before.backup.display()
        ));
        outcome.backups.push(before.backup.clone());
    }
    Ok(())
}

/// The new bytes go to a dot-named temporary beside the file and are renamed over it
/// ([`Target::write_file`]): a rename is atomic only within one filesystem, and nginx's
/// globs (`*`, `*.conf`) never match a dot-name, nor is nginx asked to load anything before
/// the rename is done.
async fn write(target: &Target, f: &Found, outcome: &mut ChangeOutcome) -> Result<()> {
    let mode = f
        .edit
        .mode
        .or(f.old.as_ref().map(|o| o.mode))
        .unwrap_or(0o644);
    target.write_file(&f.real, &f.edit.contents, mode).await?;
    outcome.written.push(f.real.clone());
    let via = if f.real != f.edit.path {
        format!(" (through the link {})", f.edit.path.display())
    } else {
        String::new()
    };
    outcome
        .steps
        .push(format!("wrote {}{via}", f.real.display()));
    if let Some(old) = &f.old {
        chown(target, &f.real, old.uid, old.gid).await?;
    }
    Ok(())
}

/// Give a rewritten file its old owner back (the write made the login its owner).
async fn chown(target: &Target, path: &Path, uid: u32, gid: u32) -> Result<()> {
    let out = target
        .run(
            &Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg("--")
                .arg(path.to_string_lossy()),
        )
        .await?;
    if !out.success() {
        bail!(
            "could not give {} back to {uid}:{gid}: {}",
            path.display(),
            out.stderr_text().trim()
        );
    }
    Ok(())
}

/// `nginx -T`: the same test as `-t`, plus the list of files nginx would load, none of
/// which may be ours.
async fn validate(
    target: &Target,
    dirs: &StateDirs,
    nginx: &NginxInvocation,
    outcome: &mut ChangeOutcome,
) -> Result<(), String> {
    let command = nginx.command(&["-T"]);
    let (ran, dump) = match target.run(&command).await {
        Ok(out) => (
            Ran {
                command: command.display(),
                status: out.status,
                output: out.stderr_text(),
                error: None,
            },
            out.stdout_text(),
        ),
        Err(e) => (
            Ran {
                command: command.display(),
                status: None,
                output: String::new(),
                error: Some(format!("{e:#}")),
            },
            String::new(),
        ),
    };
    let passed = ran.ok();
    outcome.steps.push(format!(
        "{}: {}",
        ran.command,
        if passed { "ok" } else { "FAILED" }
    ));
    let detail = ran.error.clone().unwrap_or_else(|| ran.lines().join("; "));
    outcome.test = Some(ran);
    if !passed {
        return Err(format!("nginx -t failed: {detail}"));
    }
    let ours: Vec<PathBuf> = crate::nginx::config::split_dump(&dump)
        .into_iter()
        .map(|f| f.path)
        .filter(|p| dirs.holds(p))
        .collect();
    if let Some(p) = ours.first() {
        return Err(format!(
            "nginx would load {}, a file of odoo-ops' own; an include reaches its state directory",
            p.display()
        ));
    }
    Ok(())
}

/// `nginx -s reload`, recorded in `steps`; true when it worked.
pub(crate) async fn reload(
    target: &Target,
    nginx: &NginxInvocation,
    steps: &mut Vec<String>,
) -> bool {
    let command = nginx.command(&["-s", "reload"]);
    match target.run(&command).await {
        Ok(out) if out.success() => {
            steps.push(format!("{}: reloaded", command.display()));
            true
        }
        Ok(out) => {
            steps.push(format!(
                "{}: FAILED {}",
                command.display(),
                out.stderr_text().trim()
            ));
            false
        }
        Err(e) => {
            steps.push(format!("{}: FAILED {e:#}", command.display()));
            false
        }
    }
}

/// Put back the files written so far (a write that failed left its file as it was: it is
/// a rename), then close the journal entry.
async fn revert_and_close(
    target: &Target,
    dirs: &StateDirs,
    entry: &Entry,
    why: String,
    mut outcome: ChangeOutcome,
) -> Result<ChangeOutcome> {
    outcome.steps.push(why);
    let mut failed = Vec::new();
    let written = std::mem::take(&mut outcome.written);
    for record in entry
        .files
        .iter()
        .filter(|r| written.contains(&r.real_path))
        .rev()
    {
        match restore(target, record).await {
            Ok(step) => outcome.steps.push(step),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        bail!(
            "the change could not be undone: {}; the backups are in {} and the journal entry {} stays, so the next start tries again",
            failed.join("; "),
            dirs.backups.join(&entry.id).display(),
            entry.id
        );
    }
    journal::remove(target, dirs, &entry.id).await?;
    // The backups hold what is on disk again: keeping them would only leave clutter.
    let _ = target
        .run(
            &Command::new("rm")
                .args(["-rf", "--"])
                .arg(dirs.backups.join(&entry.id).to_string_lossy()),
        )
        .await;
    outcome.backups.clear();
    outcome.reverted = true;
    if entry.nginx.is_some() {
        outcome.steps.push("nginx was not reloaded".into());
    }
    Ok(outcome)
}

/// Put one file back as it was: the old bytes from the backup (checked against the
/// journal), its mode and owner; or remove a file the change created. Read back to be sure.
pub(crate) async fn restore(target: &Target, record: &FileRecord) -> Result<String> {
    let real = &record.real_path;
    let Some(before) = &record.before else {
        let out = target
            .run(
                &Command::new("rm")
                    .args(["-f", "--"])
                    .arg(real.to_string_lossy()),
            )
            .await?;
        if !out.success() {
            bail!(
                "could not remove {}: {}",
                real.display(),
                out.stderr_text().trim()
            );
        }
        return Ok(format!(
            "removed {}, which the change had created",
            real.display()
        ));
    };
    let old = target.read_file(&before.backup).await?;
    if sha256_hex(&old) != before.sha256 {
        bail!(
            "the backup {} does not hold the old {}",
            before.backup.display(),
            real.display()
        );
    }
    target.write_file(real, &old, before.mode).await?;
    chown(target, real, before.uid, before.gid).await?;
    let back = target.read_file(real).await?;
    if sha256_hex(&back) != before.sha256 {
        bail!("{} does not read back as it was", real.display());
    }
    Ok(format!("restored {} as it was", real.display()))
}
