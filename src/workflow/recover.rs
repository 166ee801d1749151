//! On start (the console, and every command that acts on a host): a change left in the
//! journal was interrupted (the console was killed, the connection dropped for good).
//! One that had not passed validation is reverted; one that had is finished (the reload
//! was all that was left). Either way the operator is told what was found and done.

use color_eyre::eyre::Result;

use super::journal::{self, Entry, FileRecord, Phase};
use super::safe_change::{reload, restore};
use super::sha256_hex;
use super::state_dir::StateDirs;
use crate::target::{Command, Target};

/// Finish or revert what the journal on `target` holds; one sentence per entry for the
/// operator (empty when there was nothing).
pub async fn recover(target: &Target) -> Result<Vec<String>> {
    let dirs = StateDirs::locate(target).await?;
    recover_in(target, &dirs).await
}

pub async fn recover_in(target: &Target, dirs: &StateDirs) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for entry in journal::list(target, dirs).await? {
        match entry {
            Err(e) => notes.push(format!(
                "an unreadable change journal entry was left alone: {e}"
            )),
            Ok(entry) if entry.holder.is_alive() => notes.push(format!(
                "a change ({}) is in progress by another odoo-ops (pid {}); left alone",
                entry.purpose, entry.holder.pid
            )),
            Ok(entry) => notes.push(settle(target, dirs, &entry).await?),
        }
    }
    Ok(notes)
}

/// What a file holds now, relative to the change.
#[derive(Debug, PartialEq, Eq)]
enum Now {
    /// The change's new content.
    New,
    /// As it was before the change (the change never reached it).
    Old,
    /// Something else: changed by someone since.
    Other,
}

async fn now(target: &Target, record: &FileRecord) -> Result<Now> {
    let exists = target
        .run(
            &Command::new("test")
                .arg("-e")
                .arg(record.real_path.to_string_lossy()),
        )
        .await?
        .success();
    if !exists {
        return Ok(if record.before.is_none() {
            Now::Old
        } else {
            Now::Other
        });
    }
    let sum = sha256_hex(&target.read_file(&record.real_path).await?);
    Ok(if sum == record.after_sha256 {
        Now::New
    } else if record.before.as_ref().is_some_and(|b| b.sha256 == sum) {
        Now::Old
    } else {
        Now::Other
    })
}

async fn settle(target: &Target, dirs: &StateDirs, entry: &Entry) -> Result<String> {
    let head = format!(
        "an interrupted change was found ({}, {})",
        entry.purpose, entry.id
    );
    let backups = dirs.backups.join(&entry.id);
    let mut states = Vec::new();
    for record in &entry.files {
        states.push(now(target, record).await?);
    }
    let others: Vec<String> = entry
        .files
        .iter()
        .zip(&states)
        .filter(|(_, s)| **s == Now::Other)
        .map(|(r, _)| r.real_path.display().to_string())
        .collect();
    if !others.is_empty() {
        journal::remove(target, dirs, &entry.id).await?;
        return Ok(format!(
            "{head}, but {} changed since; nothing was touched, the old files are kept in {}",
            others.join(", "),
            backups.display()
        ));
    }
    match entry.phase {
        Phase::Validated => {
            let mut steps = Vec::new();
            let all_new = states.iter().all(|s| *s == Now::New);
            let done = match (&entry.nginx, all_new) {
                (Some(nginx), true) => {
                    let ok = reload(target, &nginx.invocation(), &mut steps).await;
                    if ok {
                        "it had passed nginx -t, so it was finished: nginx reloaded".to_string()
                    } else {
                        format!(
                            "it had passed nginx -t, but the reload failed: {}",
                            steps.join("; ")
                        )
                    }
                }
                (None, true) => "it had been written in full; nothing was left to do".into(),
                (_, false) => {
                    "it had passed nginx -t but its files were not all in place; nginx was not reloaded".into()
                }
            };
            journal::remove(target, dirs, &entry.id).await?;
            Ok(format!("{head}: {done}"))
        }
        Phase::Prepared => {
            let mut restored = Vec::new();
            for (record, state) in entry.files.iter().zip(&states) {
                if *state == Now::New {
                    restored.push(restore(target, record).await?);
                }
            }
            journal::remove(target, dirs, &entry.id).await?;
            let _ = target
                .run(
                    &Command::new("rm")
                        .args(["-rf", "--"])
                        .arg(backups.to_string_lossy()),
                )
                .await;
            if restored.is_empty() {
                Ok(format!(
                    "{head}: it had not changed any file yet; nothing to undo"
                ))
            } else {
                Ok(format!(
                    "{head}: it had not passed validation, so it was reverted: {}",
                    restored.join("; ")
                ))
            }
        }
    }
}
