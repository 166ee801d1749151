//! Streams that survive a reconnect: when the connection under a follow drops, the
//! command is rebuilt from where the stream had got to, so the reader sees every byte
//! (or log line) once, in order.
//!
//! - a file: `tail -c +NEXT -F FILE`, NEXT being one past the last byte delivered;
//! - Docker logs: `docker logs --timestamps --since LAST`, skipping the lines at LAST
//!   that were already delivered.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::target::{Command, StreamChunk, Target};

/// What to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Appended bytes of a file, from the start (`tail -F`: survives rotation).
    File(PathBuf),
    /// As `File`, from this byte offset on (what a reader already has is not sent again).
    FileFrom(PathBuf, u64),
    /// A container's log, from `since` (RFC 3339) or the beginning.
    DockerLogs {
        container: String,
        since: Option<String>,
    },
}

/// What the reader of a follow receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEvent {
    /// New output: bytes of the file, or whole log lines (with their timestamps).
    Data(Vec<u8>),
    /// Diagnostics the command wrote to stderr (e.g. `tail: file truncated`).
    Stderr(Vec<u8>),
    /// The connection came back and the follow was restarted where it stopped.
    Resumed,
    /// The follow ended for good: the command exited by itself, or could not be
    /// restarted (the message says why).
    Ended(Result<Option<i32>, String>),
}

/// Start following; drop the receiver to stop.
pub fn follow(target: Target, what: Follow) -> mpsc::Receiver<FollowEvent> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        tokio::select! {
            end = run(&target, what, &tx) => {
                let _ = tx.send(FollowEvent::Ended(end)).await;
            }
            // The follower is gone (its source removed, the console moved to another
            // host): drop the stream now, which stops the command on the host, instead
            // of at its next line: a quiet `tail -F` may print nothing for days.
            () = tx.closed() => {}
        }
    });
    rx
}

/// How long to wait for an ended stream's connection to be seen as dropped.
const DROP_GRACE: Duration = Duration::from_millis(500);

async fn run(
    target: &Target,
    what: Follow,
    tx: &mpsc::Sender<FollowEvent>,
) -> Result<Option<i32>, String> {
    let mut position = Position::new(what);
    loop {
        let generation = target.generation();
        let mut stream = match target.stream(&position.command()).await {
            Ok(s) => s,
            Err(e) => return Err(format!("{e:#}")),
        };
        let mut status = None;
        while let Some(chunk) = stream.chunks.recv().await {
            let event = match chunk {
                StreamChunk::Stdout(bytes) => position.accept(&bytes).map(FollowEvent::Data),
                StreamChunk::Stderr(bytes) => Some(FollowEvent::Stderr(bytes)),
                StreamChunk::Exit(s) => {
                    status = s;
                    None
                }
            };
            if let Some(event) = event
                && tx.send(event).await.is_err()
            {
                return Ok(None);
            }
        }
        // An exit status means the command ended by itself; none means it was cut off,
        // perhaps by a dropped connection: wait for it to come back, then resume.
        if status.is_some() || target.is_local() {
            return Ok(status);
        }
        tokio::time::sleep(DROP_GRACE).await;
        target
            .wait_until_connected()
            .await
            .map_err(|e| format!("{e:#}"))?;
        if target.generation() == generation {
            return Ok(status);
        }
        if tx.send(FollowEvent::Resumed).await.is_err() {
            return Ok(None);
        }
    }
}

/// Where a follow has got to, and how to restart it from there.
struct Position {
    what: Follow,
    /// File: bytes delivered so far.
    delivered: u64,
    /// Docker logs: an unfinished last line, the last timestamp delivered and how many
    /// lines carried it, and how many of those a restarted command will repeat.
    partial: Vec<u8>,
    last_stamp: Option<String>,
    at_last_stamp: usize,
    to_skip: usize,
}

impl Position {
    fn new(what: Follow) -> Self {
        let last_stamp = match &what {
            Follow::DockerLogs { since, .. } => since.clone(),
            Follow::File(_) | Follow::FileFrom(..) => None,
        };
        let delivered = match &what {
            Follow::FileFrom(_, offset) => *offset,
            _ => 0,
        };
        Self {
            what,
            delivered,
            partial: Vec::new(),
            last_stamp,
            at_last_stamp: 0,
            to_skip: 0,
        }
    }

    fn command(&mut self) -> Command {
        match &self.what {
            Follow::File(path) | Follow::FileFrom(path, _) => Command::new("tail")
                .arg("-c")
                .arg(format!("+{}", self.delivered + 1))
                .arg("-F")
                .arg("--")
                .arg(path.to_string_lossy()),
            Follow::DockerLogs { container, .. } => {
                // A line cut off by the drop is dropped too: it comes again whole.
                self.partial.clear();
                self.to_skip = self.at_last_stamp;
                let mut cmd = Command::new("docker").args(["logs", "--timestamps", "--follow"]);
                if let Some(since) = &self.last_stamp {
                    cmd = cmd.arg("--since").arg(since.clone());
                }
                cmd.arg("--").arg(container.clone())
            }
        }
    }

    /// What of `bytes` is new to the reader.
    fn accept(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        match self.what {
            Follow::File(_) | Follow::FileFrom(..) => {
                self.delivered += bytes.len() as u64;
                Some(bytes.to_vec())
            }
            Follow::DockerLogs { .. } => {
                self.partial.extend_from_slice(bytes);
                let end = self.partial.iter().rposition(|&b| b == b'\n')?;
                let complete: Vec<u8> = self.partial.drain(..=end).collect();
                let mut out = Vec::new();
                for line in complete.split_inclusive(|&b| b == b'\n') {
                    let stamp = String::from_utf8_lossy(
                        line.split(|&b| b == b' ').next().unwrap_or_default(),
                    )
                    .trim_end()
                    .to_string();
                    match self
                        .last_stamp
                        .as_deref()
                        .map(|last| stamp.as_str().cmp(last))
                    {
                        Some(std::cmp::Ordering::Less) => continue,
                        Some(std::cmp::Ordering::Equal) => {
                            if self.to_skip > 0 {
                                self.to_skip -= 1;
                                continue;
                            }
                            self.at_last_stamp += 1;
                        }
                        _ => {
                            self.last_stamp = Some(stamp);
                            self.at_last_stamp = 1;
                            self.to_skip = 0;
                        }
                    }
                    out.extend_from_slice(line);
                }
                (!out.is_empty()).then_some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_follow_restarts_after_the_last_delivered_byte() {
        let mut p = Position::new(Follow::File("/var/log/x.log".into()));
        assert_eq!(
            p.command().to_shell_line().unwrap(),
            "tail -c +1 -F -- /var/log/x.log"
        );
        p.accept(b"hello\nwor");
        assert_eq!(
            p.command().to_shell_line().unwrap(),
            "tail -c +10 -F -- /var/log/x.log"
        );
    }

    #[test]
    fn a_file_follow_can_start_at_an_offset() {
        let mut p = Position::new(Follow::FileFrom("/var/log/x.log".into(), 100));
        assert_eq!(
            p.command().to_shell_line().unwrap(),
            "tail -c +101 -F -- /var/log/x.log"
        );
        p.accept(b"abc");
        assert_eq!(
            p.command().to_shell_line().unwrap(),
            "tail -c +104 -F -- /var/log/x.log"
        );
    }

    #[test]
    fn docker_follow_skips_lines_already_delivered() {
        let mut p = Position::new(Follow::DockerLogs {
            container: "odoo".into(),
            since: None,
        });
        p.command();
        let first = p.accept(b"2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z c\n2026-01-01T00:00:03Z d-cut");
        assert_eq!(
            first.unwrap(),
            b"2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z c\n"
        );
        assert_eq!(
            p.command().to_shell_line().unwrap(),
            "docker logs --timestamps --follow --since 2026-01-01T00:00:02Z -- odoo"
        );
        // The restarted command repeats both lines at :02, then the cut line whole.
        let again = p.accept(
            b"2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z c\n2026-01-01T00:00:03Z d-whole\n",
        );
        assert_eq!(again.unwrap(), b"2026-01-01T00:00:03Z d-whole\n");
    }
}
