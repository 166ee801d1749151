//! A deploy's steps, on the host, as it goes: one append-only JSON-lines file per deploy
//! (`journal/<deploy id>.jsonl` in the stack's state), a line written before each step
//! starts and another when it ends. A console that is killed or loses its connection
//! leaves a file without its `finished` line; the next start finds it with
//! [`unfinished`] and offers to resume or to roll back.
//!
//! Like the change journal of [`crate::workflow::journal`], it is written before anything
//! is touched and lives in the same private state; unlike it, it is kept after the end
//! (it is the history a proof is made from), so "finished" is a line, not a removal.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, bail};
use serde::{Deserialize, Serialize};

use super::Image;
use super::clock;
use super::lock::{self, LockOptions, Operation};
use super::stack_state::StackState;
use crate::target::{Command, Target};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Passed,
    Failed,
    Skipped,
}

/// How a whole deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed; the new release runs.
    Passed,
    /// A step failed and the previous release was brought back.
    RolledBack,
    /// A step failed and nothing could be brought back; the operator must look.
    Failed,
    /// The operator chose to leave an interrupted deploy as it is.
    Abandoned,
    /// Not started: the stack's lock was held by another run.
    Refused,
}

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub deploy_id: String,
    /// Console's clock, epoch ms.
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Begin {
        operation: Operation,
        from: Option<Image>,
        to: Image,
        by: String,
    },
    StepStarted {
        step: String,
        /// The step changes the host (a switch, a restore): interrupted after it, there is
        /// something to roll back.
        changes_host: bool,
    },
    StepEnded {
        step: String,
        result: StepResult,
        detail: String,
    },
    /// A module window is entered: what its rollback needs, written after the backup and
    /// before the maintenance page goes up, so a resumed deploy can restore this deploy's
    /// backup without the (stopped) old container to read it from.
    Window {
        window: WindowRecord,
    },
    Finished {
        outcome: Outcome,
    },
}

/// What a module window's rollback (or a resumed one) needs. No secret: names and paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// This deploy's backup, where the console that ran the deploy runs.
    pub backup: PathBuf,
    pub database: String,
    pub db_container: String,
    pub db_user: String,
    /// Odoo's data_dir in its container (the filestore is `data_dir/filestore/DB`).
    pub data_dir: String,
    /// The container of the release before, stopped (kept) during the window.
    pub old_container: String,
    /// The loopback ports both releases publish during the window.
    pub ports: super::switch_clone::PortPair,
    /// The modules' plan as it runs (installed names already moved to upgrades).
    pub plan: crate::odoo::modules::plan::Plan,
}

/// What a deploy is, as its first line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub deploy_id: String,
    pub operation: Operation,
    pub from: Option<Image>,
    pub to: Image,
    /// Who runs it (`alice@laptop`).
    pub by: String,
}

/// A deploy's journal being written.
#[derive(Clone)]
pub struct DeployJournal {
    target: Target,
    file: PathBuf,
    deploy_id: String,
}

impl std::fmt::Debug for DeployJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployJournal")
            .field("file", &self.file)
            .finish()
    }
}

impl DeployJournal {
    /// Start the journal of a new deploy: its first line is on the host before this returns.
    pub async fn begin(target: &Target, state: &StackState, header: Header) -> Result<Self> {
        state.ensure(target).await?;
        let journal = DeployJournal {
            target: target.clone(),
            file: file_of(state, &header.deploy_id),
            deploy_id: header.deploy_id.clone(),
        };
        journal
            .append(Event::Begin {
                operation: header.operation,
                from: header.from,
                to: header.to,
                by: header.by,
            })
            .await?;
        Ok(journal)
    }

    /// Go on writing an interrupted deploy's journal (to resume it, roll it back or close it).
    pub fn reopen(target: &Target, state: &StackState, deploy_id: &str) -> Self {
        DeployJournal {
            target: target.clone(),
            file: file_of(state, deploy_id),
            deploy_id: deploy_id.to_string(),
        }
    }

    pub fn deploy_id(&self) -> &str {
        &self.deploy_id
    }

    /// Record that `step` starts; call before touching anything for it.
    pub async fn step_started(&self, step: &str, changes_host: bool) -> Result<()> {
        self.append(Event::StepStarted {
            step: step.to_string(),
            changes_host,
        })
        .await
    }

    /// Record how `step` ended; `detail` goes through the redaction policy.
    pub async fn step_ended(&self, step: &str, result: StepResult, detail: &str) -> Result<()> {
        self.append(Event::StepEnded {
            step: step.to_string(),
            result,
            detail: crate::redact::text(detail),
        })
        .await
    }

    /// What a rollback of the module window needs, before the window changes anything.
    pub async fn window(&self, window: &WindowRecord) -> Result<()> {
        self.append(Event::Window {
            window: window.clone(),
        })
        .await
    }

    /// The last line: the deploy is over and will not be offered again.
    pub async fn finish(self, outcome: Outcome) -> Result<()> {
        self.append(Event::Finished { outcome }).await
    }

    async fn append(&self, event: Event) -> Result<()> {
        // One short `>>` write per line: appends of separate lines never interleave.
        const APPEND: &str = r#"umask 077
mkdir -p -- "$(dirname -- "$1")" && cat >> "$1""#;
        let mut line = serde_json::to_vec(&Line {
            deploy_id: self.deploy_id.clone(),
            at_ms: clock::now_ms(),
            event,
        })?;
        line.push(b'\n');
        let out = self
            .target
            .run(
                &Command::script(APPEND)
                    .arg(self.file.to_string_lossy())
                    .stdin(line),
            )
            .await?;
        if !out.success() {
            bail!(
                "could not write the deploy journal {} on {}: {}",
                self.file.display(),
                self.target.describe(),
                out.stderr_text().trim()
            );
        }
        Ok(())
    }
}

fn file_of(state: &StackState, deploy_id: &str) -> PathBuf {
    // The id is ours (`new_deploy_id`), but a path is never built from a `/` or a `..`.
    let safe: String = deploy_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state.journal_dir().join(format!("{safe}.jsonl"))
}

/// One step as the journal tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    pub step: String,
    pub changes_host: bool,
    pub started_ms: i64,
    /// `None`: it started and never ended (the console died during it).
    pub ended_ms: Option<i64>,
    pub result: Option<StepResult>,
    pub detail: String,
}

/// What the next start may do with an interrupted deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    /// Go on from the first step that did not pass.
    Resume,
    /// Bring the previous release back (and the data, when the deploy changed it).
    RollBack,
}

/// A deploy whose journal has no end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnfinishedDeploy {
    pub deploy_id: String,
    pub operation: Operation,
    pub from: Option<Image>,
    pub to: Image,
    pub by: String,
    pub started_ms: i64,
    /// Every step that started, in order.
    pub steps: Vec<StepRecord>,
    /// The module window it entered, when it took one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRecord>,
    /// What to offer, the first being the suggestion.
    pub offers: Vec<Offer>,
}

impl UnfinishedDeploy {
    /// The steps that ended and passed.
    pub fn done(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| {
                s.result == Some(StepResult::Passed) || s.result == Some(StepResult::Skipped)
            })
            .map(|s| s.step.as_str())
            .collect()
    }

    /// The step that was running when the deploy stopped, or the one that failed.
    pub fn stopped_at(&self) -> Option<&StepRecord> {
        self.steps
            .iter()
            .find(|s| s.result.is_none() || s.result == Some(StepResult::Failed))
    }

    /// `deploy 2026... of 18.0-2 (from 18.0-1) by alice@laptop stopped during switch
    /// (done: preflight, backup)`: what the next start tells the operator.
    pub fn describe(&self) -> String {
        let from = self
            .from
            .as_ref()
            .map(|f| format!(" (from {})", f.tag))
            .unwrap_or_default();
        let at = match self.stopped_at() {
            Some(s) if s.result.is_none() => format!("stopped during {}", s.step),
            Some(s) => format!("stopped after {} failed", s.step),
            None => "stopped between steps".to_string(),
        };
        let done = self.done();
        let done = if done.is_empty() {
            "nothing done yet".to_string()
        } else {
            format!("done: {}", done.join(", "))
        };
        format!(
            "{} {} of {}{from} by {} {at} ({done})",
            self.operation, self.deploy_id, self.to.tag, self.by
        )
    }
}

/// The newest deploy of the stack in `stack_dir` that neither finished nor is still
/// running (its holder keeps the lock fresh), for the login `target` acts as.
pub async fn unfinished(target: &Target, stack_dir: &Path) -> Result<Option<UnfinishedDeploy>> {
    let state = StackState::locate(target, stack_dir).await?;
    unfinished_in(target, &state).await
}

/// [`unfinished`] in a given state directory.
pub async fn unfinished_in(
    target: &Target,
    state: &StackState,
) -> Result<Option<UnfinishedDeploy>> {
    if !state.exists(target).await? {
        return Ok(None);
    }
    // Every journal without its `finished` line, newest first (ids sort by time).
    const OPEN: &str = r#"[ -d "$1" ] || exit 0
for f in "$1"/*.jsonl; do
  [ -f "$f" ] || continue
  grep -q '"event":"finished"' "$f" || printf '%s\n' "$f"
done | sort -r"#;
    let out = target
        .run(&Command::script(OPEN).arg(state.journal_dir().to_string_lossy()))
        .await?;
    if !out.success() {
        bail!(
            "could not list the deploy journal: {}",
            out.stderr_text().trim()
        );
    }
    let running = lock::peek(target, state, &LockOptions::default()).await?;
    for path in out.stdout_text().lines().filter(|l| !l.is_empty()) {
        let bytes = target.read_file(Path::new(path)).await?;
        let Some(deploy) = replay(&String::from_utf8_lossy(&bytes)) else {
            continue;
        };
        let in_progress = running
            .as_ref()
            .is_some_and(|o| o.holder.deploy_id == deploy.deploy_id && o.stale.is_none());
        if !in_progress {
            return Ok(Some(deploy));
        }
    }
    Ok(None)
}

/// Read a journal's lines back into what the deploy did; `None` when it finished or has
/// no first line. A torn last line (the console died mid-write) is ignored.
pub fn replay(text: &str) -> Option<UnfinishedDeploy> {
    let mut deploy: Option<UnfinishedDeploy> = None;
    for line in text.lines() {
        let Ok(line) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        match line.event {
            Event::Begin {
                operation,
                from,
                to,
                by,
            } => {
                deploy = Some(UnfinishedDeploy {
                    deploy_id: line.deploy_id,
                    operation,
                    from,
                    to,
                    by,
                    started_ms: line.at_ms,
                    steps: Vec::new(),
                    window: None,
                    offers: Vec::new(),
                })
            }
            Event::StepStarted { step, changes_host } => {
                if let Some(d) = deploy.as_mut() {
                    d.steps.push(StepRecord {
                        step,
                        changes_host,
                        started_ms: line.at_ms,
                        ended_ms: None,
                        result: None,
                        detail: String::new(),
                    });
                }
            }
            Event::StepEnded {
                step,
                result,
                detail,
            } => {
                if let Some(s) = deploy
                    .as_mut()
                    .and_then(|d| d.steps.iter_mut().rev().find(|s| s.step == step))
                {
                    s.ended_ms = Some(line.at_ms);
                    s.result = Some(result);
                    s.detail = detail;
                }
            }
            Event::Window { window } => {
                if let Some(d) = deploy.as_mut() {
                    d.window = Some(window);
                }
            }
            Event::Finished { .. } => return None,
        }
    }
    let mut deploy = deploy?;
    // Nothing was changed yet: only going on makes sense. Once a step touched the host,
    // rolling back is the safe suggestion (the previous release is known to work);
    // resuming stays possible.
    deploy.offers = if deploy.steps.iter().any(|s| s.changes_host) {
        vec![Offer::RollBack, Offer::Resume]
    } else {
        vec![Offer::Resume]
    };
    Some(deploy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(event: Event) -> String {
        serde_json::to_string(&Line {
            deploy_id: "d1".into(),
            at_ms: 1,
            event,
        })
        .unwrap()
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_the_offers_follow_what_changed() {
        let begin = line(Event::Begin {
            operation: Operation::Deploy,
            from: Some(Image::tag("a")),
            to: Image::tag("b"),
            by: "me@here".into(),
        });
        let pre = line(Event::StepStarted {
            step: "preflight".into(),
            changes_host: false,
        });
        let pre_end = line(Event::StepEnded {
            step: "preflight".into(),
            result: StepResult::Passed,
            detail: String::new(),
        });
        let text = format!("{begin}\n{pre}\n{pre_end}\n{{\"deploy_id\":\"d1\",\"at");
        let d = replay(&text).unwrap();
        assert_eq!(d.done(), vec!["preflight"]);
        assert_eq!(d.offers, vec![Offer::Resume]);
        let switch = line(Event::StepStarted {
            step: "switch".into(),
            changes_host: true,
        });
        let d = replay(&format!("{begin}\n{pre}\n{pre_end}\n{switch}\n")).unwrap();
        assert_eq!(d.offers, vec![Offer::RollBack, Offer::Resume]);
        assert_eq!(d.stopped_at().unwrap().step, "switch");
        assert!(
            d.describe().contains("stopped during switch"),
            "{}",
            d.describe()
        );
        let fin = line(Event::Finished {
            outcome: Outcome::Passed,
        });
        assert!(replay(&format!("{begin}\n{fin}\n")).is_none());
    }

    #[test]
    fn a_module_windows_record_is_read_back_for_its_resumed_rollback() {
        let begin = line(Event::Begin {
            operation: Operation::Deploy,
            from: Some(Image::tag("a")),
            to: Image::tag("b"),
            by: "me@here".into(),
        });
        let record = WindowRecord {
            backup: "/backups/odoo_1.zip".into(),
            database: "odoo".into(),
            db_container: "shop-db-1".into(),
            db_user: "odoo".into(),
            data_dir: "/var/lib/odoo".into(),
            old_container: "shop-odoo-1".into(),
            ports: super::super::switch_clone::PortPair {
                http: 8069,
                gevent: 8072,
            },
            plan: crate::odoo::modules::plan::Plan::from_list("project", false).unwrap(),
        };
        let window = line(Event::Window {
            window: record.clone(),
        });
        assert!(window.contains(r#""event":"window""#), "{window}");
        let d = replay(&format!("{begin}\n{window}\n")).unwrap();
        assert_eq!(d.window, Some(record));
        assert!(replay(&begin).unwrap().window.is_none());
    }
}
