//! Followers: tasks that read one source through the [`Target`] and send parsed entries
//! to the logs worker. They never print; what happens to a source (connected, rotated,
//! ended, failed) is sent as a status.
//!
//! - a container's logs through Docker's API, timestamps on, resumed after a stop or a
//!   restart from the last line seen (`since`, then lines already seen are skipped);
//! - a file followed like `tail -F` (across rotation), by running `tail` on the target;
//! - the Odoo log file named in odoo.conf (`logfile = ...`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::assemble::Assembler;
use super::line::{LogLine, SourceId};
use super::parse::Format;
use super::time;
use crate::odoo::conf::OdooConf;
use crate::target::{Command, StreamChunk, Target};

/// After this long without bytes, a held-back entry (one that might still get traceback
/// lines) is sent anyway.
pub const IDLE_FLUSH: Duration = Duration::from_millis(50);
/// Entries per message to the worker: big enough for floods, small enough to keep the
/// screen fresh.
pub const BATCH: usize = 4096;

/// What happens to a source, as the Logs pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    Starting,
    Following,
    /// Something worth telling (a rotation, a restart); the source goes on.
    Notice(String),
    /// The source ended (a container stopped, a command exited).
    Ended(String),
    Failed(String),
}

/// A follower's message to the worker.
#[derive(Debug)]
pub enum Feed {
    Lines(SourceId, Vec<LogLine>),
    Status(SourceId, SourceStatus),
}

/// Sends batches, giving back `false` when the worker is gone (the follower then stops).
struct Sink {
    source: SourceId,
    tx: mpsc::Sender<Feed>,
    out: Vec<LogLine>,
}

impl Sink {
    async fn send_lines(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.out);
        self.tx.send(Feed::Lines(self.source, batch)).await.is_ok()
    }

    async fn status(&self, status: SourceStatus) -> bool {
        self.tx
            .send(Feed::Status(self.source, status))
            .await
            .is_ok()
    }
}

/// The `tail` command that follows `path` across rotation, starting with its last
/// `last_lines` lines.
pub fn tail_command(path: &Path, last_lines: usize) -> Command {
    Command::new("tail")
        .arg("-n")
        .arg(last_lines.to_string())
        .arg("-F")
        .arg("--")
        .arg(path.to_string_lossy())
}

/// Follow a file on the target like `tail -F`.
pub async fn file(
    target: Target,
    path: PathBuf,
    format: Format,
    last_lines: usize,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
) {
    let mut sink = Sink {
        source,
        tx,
        out: Vec::new(),
    };
    let mut stream = match target.stream(&tail_command(&path, last_lines)).await {
        Ok(s) => s,
        Err(e) => {
            sink.status(SourceStatus::Failed(format!("{e:#}"))).await;
            return;
        }
    };
    if !sink.status(SourceStatus::Following).await {
        return;
    }
    let mut asm = Assembler::new(source, format);
    loop {
        tokio::select! {
            chunk = stream.chunks.recv() => match chunk {
                Some(StreamChunk::Stdout(bytes)) => asm.push(&bytes, None, &mut sink.out),
                Some(StreamChunk::Stderr(bytes)) => {
                    // `tail -F` reports rotation and missing files on stderr.
                    let text = String::from_utf8_lossy(&bytes).trim().to_string();
                    if !text.is_empty() && !sink.status(SourceStatus::Notice(text)).await {
                        return;
                    }
                }
                end @ (Some(StreamChunk::Exit(_)) | None) => {
                    asm.flush(&mut sink.out);
                    sink.send_lines().await;
                    let why = match end {
                        Some(StreamChunk::Exit(Some(c))) => format!("tail exited with status {c}"),
                        _ => "tail ended".to_string(),
                    };
                    sink.status(SourceStatus::Ended(why)).await;
                    return;
                }
            },
            _ = tokio::time::sleep(IDLE_FLUSH), if asm.holds_back() => asm.flush(&mut sink.out),
        }
        if !sink.send_lines().await {
            return;
        }
    }
}

/// Follow the Odoo log file named in the odoo.conf at `conf_path` on the target.
pub async fn odoo_logfile_of(
    target: Target,
    conf_path: PathBuf,
    last_lines: usize,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
) {
    let status = |s| {
        let tx = tx.clone();
        async move { tx.send(Feed::Status(source, s)).await.is_ok() }
    };
    let conf = match target.read_file(&conf_path).await {
        Ok(bytes) => OdooConf::parse(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            status(SourceStatus::Failed(format!("{e:#}"))).await;
            return;
        }
    };
    match conf.logfile() {
        Some(path) => file(target, path, Format::Odoo, last_lines, source, tx).await,
        None => {
            status(SourceStatus::Failed(format!(
                "{} sets no logfile: Odoo logs to stderr, follow its container instead",
                conf_path.display()
            )))
            .await;
        }
    }
}

/// Where a container follower resumes: the stamp of the last line it passed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Nanoseconds since the epoch of the last line seen.
    pub last_ns: Option<i64>,
}

/// Follow a container's logs (stdout and stderr, timestamps on). When the stream ends
/// (the container stopped or restarted) it waits and resumes from the last line seen.
/// `since_ms` starts from a point in time (a previous session's last line); otherwise the
/// last `last_lines` lines come first.
pub async fn container(
    docker: bollard::Docker,
    container: String,
    since_ms: Option<i64>,
    last_lines: usize,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
) {
    let mut sink = Sink {
        source,
        tx,
        out: Vec::new(),
    };
    let mut last_ns: Option<i64> = since_ms.map(|ms| ms * 1_000_000);
    let mut out_asm = Assembler::new(source, Format::Auto);
    let mut err_asm = Assembler::new(source, Format::Auto);
    let mut first = true;
    loop {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            timestamps: true,
            // Whole seconds only: lines of that second already seen are skipped below.
            since: last_ns.map_or(0, |ns| (ns.div_euclid(1_000_000_000)) as i32),
            until: 0,
            tail: if first && last_ns.is_none() {
                last_lines.to_string()
            } else {
                "all".into()
            },
        };
        let mut stream = docker.logs(&container, Some(options));
        if !sink.status(SourceStatus::Following).await {
            return;
        }
        let mut ended: Option<String> = None;
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(output)) => {
                        let is_err = matches!(output, LogOutput::StdErr { .. });
                        let bytes = output.into_bytes();
                        let (stamp, body) = match time::docker_ns(&bytes) {
                            Some((ns, len)) => (Some(ns), bytes.get(len + 1..).unwrap_or(&[])),
                            None => (None, &bytes[..]),
                        };
                        if let (Some(ns), Some(seen)) = (stamp, last_ns)
                            && ns <= seen
                        {
                            continue;
                        }
                        if stamp.is_some() {
                            last_ns = stamp;
                        }
                        let asm = if is_err { &mut err_asm } else { &mut out_asm };
                        asm.push(body, stamp.map(|ns| ns.div_euclid(1_000_000)), &mut sink.out);
                        if sink.out.len() < BATCH {
                            continue;
                        }
                    }
                    Some(Err(e)) => {
                        ended = Some(format!("{e}"));
                        break;
                    }
                    None => break,
                },
                _ = tokio::time::sleep(IDLE_FLUSH), if out_asm.holds_back() || err_asm.holds_back() || !sink.out.is_empty() => {
                    out_asm.flush(&mut sink.out);
                    err_asm.flush(&mut sink.out);
                }
            }
            if !sink.send_lines().await {
                return;
            }
        }
        out_asm.flush(&mut sink.out);
        err_asm.flush(&mut sink.out);
        if !sink.send_lines().await {
            return;
        }
        first = false;
        // Gone for good, or only stopped?
        match docker.inspect_container(&container, None).await {
            Err(e) => {
                let why = ended.unwrap_or_else(|| format!("{e}"));
                sink.status(SourceStatus::Failed(why)).await;
                return;
            }
            Ok(info) => {
                let running = info.state.and_then(|s| s.running).unwrap_or(false);
                if !running
                    && !sink
                        .status(SourceStatus::Ended(
                            "container stopped; waiting for it to start".into(),
                        ))
                        .await
                {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        if sink.tx.is_closed() {
            return;
        }
    }
}

/// Lines that a caller produces itself (a module install's output): bytes in, entries out.
pub async fn bytes(
    mut chunks: mpsc::Receiver<Vec<u8>>,
    format: Format,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
) {
    let mut sink = Sink {
        source,
        tx,
        out: Vec::new(),
    };
    let mut asm = Assembler::new(source, format);
    if !sink.status(SourceStatus::Following).await {
        return;
    }
    loop {
        tokio::select! {
            chunk = chunks.recv() => match chunk {
                Some(bytes) => asm.push(&bytes, None, &mut sink.out),
                None => {
                    asm.flush(&mut sink.out);
                    sink.send_lines().await;
                    sink.status(SourceStatus::Ended("input closed".into())).await;
                    return;
                }
            },
            _ = tokio::time::sleep(IDLE_FLUSH), if asm.holds_back() => asm.flush(&mut sink.out),
        }
        if !sink.send_lines().await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_follows_by_name_and_quotes_the_path() {
        let c = tail_command(Path::new("/var/log/nginx/my access.log"), 200);
        assert_eq!(
            c.to_shell_line().unwrap(),
            "tail -n 200 -F -- '/var/log/nginx/my access.log'"
        );
    }
}
