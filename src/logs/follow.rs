//! Followers: tasks that read one source through the [`Target`] and send parsed entries
//! to the logs worker. They never print; what happens to a source (connected, rotated,
//! ended, failed) is sent as a status. A stopped source starts again by itself when the
//! connection comes back, or when the operator asks ([`Revive`]).
//!
//! - a container's logs through Docker's API, timestamps on, resumed after a stop or a
//!   restart from the last line seen (`since`, then lines already seen are skipped);
//! - a file followed like `tail -F` (across rotation), by running `tail` on the target,
//!   resumed after a dropped connection from the byte after the last one passed on;
//! - the Odoo log file named in odoo.conf (`logfile = ...`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{EventsOptions, LogsOptions};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::assemble::Assembler;
use super::line::{LogLine, SourceId};
use super::parse::Format;
use super::time;
use crate::odoo::conf::OdooConf;
use crate::ssh::resume::{self, Follow, FollowEvent};
use crate::target::{Command, Target};

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

impl SourceStatus {
    /// Not following any more: ended or failed (until revived).
    pub fn is_stopped(&self) -> bool {
        matches!(self, SourceStatus::Ended(_) | SourceStatus::Failed(_))
    }
}

/// A follower's message to the worker.
#[derive(Debug)]
pub enum Feed {
    Lines(SourceId, Vec<LogLine>),
    Status(SourceId, SourceStatus),
    /// What the source followed is gone (its container was removed): drop the source.
    Removed(SourceId),
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

/// Bytes before the end a file's history is looked for in: enough for
/// [`HISTORY_BYTES`]-worth of ordinary lines, without reading a huge log whole.
pub const HISTORY_BYTES: u64 = 512 * 1024;

/// Prints `SIZE FROM` on a line, then the last `$2` lines of the file's first SIZE
/// bytes, read from byte FROM on (the last [`HISTORY_BYTES`] of them): the history, and
/// where following it must start so that no byte comes twice or goes missing.
const HISTORY_SCRIPT: &str = r#"size=$(stat -L -c %s -- "$1" 2>/dev/null) || size=0
from=0
if [ "$size" -gt "$3" ]; then from=$((size - $3)); fi
printf '%s %s\n' "$size" "$from"
if [ "$size" -gt 0 ]; then tail -c +$((from + 1)) -- "$1" | head -c $((size - from)) | tail -n "$2"; fi
exit 0"#;

/// The command that reads a file's history (see [`HISTORY_SCRIPT`]).
pub fn history_command(path: &Path, last_lines: usize) -> Command {
    Command::script(HISTORY_SCRIPT)
        .arg(path.to_string_lossy())
        .arg(last_lines.to_string())
        .arg(HISTORY_BYTES.to_string())
}

/// A file's history as [`history_command`] printed it: the bytes of its last lines and
/// the offset following starts at.
pub fn parse_history(out: &[u8], last_lines: usize) -> Option<(u64, Vec<u8>)> {
    let nl = memchr::memchr(b'\n', out)?;
    let header = std::str::from_utf8(&out[..nl]).ok()?;
    let (size, from) = header.trim().split_once(' ')?;
    let (size, from) = (size.parse::<u64>().ok()?, from.parse::<u64>().ok()?);
    let mut history = &out[nl + 1..];
    // Read from the middle of the file with fewer lines than asked for: the first
    // line is probably the end of one cut in two.
    let lines = memchr::memchr_iter(b'\n', history).count();
    if from > 0
        && lines < last_lines
        && let Some(first) = memchr::memchr(b'\n', history)
    {
        history = &history[first + 1..];
    }
    Some((size, history.to_vec()))
}

/// Wakes a stopped follower: bumped when the operator asks stopped sources to start
/// again (`r` in the Logs pane).
pub type Revive = watch::Receiver<u64>;

/// Wait until a stopped source should try again: the operator asked, or the connection
/// came back since `generation` (a reconnect the follow itself did not see through).
/// False when the worker is gone.
async fn wait_to_revive(target: &Target, generation: u64, revive: &mut Revive) -> bool {
    loop {
        if target.generation() != generation {
            return true;
        }
        tokio::select! {
            changed = revive.changed() => return changed.is_ok(),
            _ = tokio::time::sleep(REVIVE_POLL) => {}
        }
    }
}

/// How often a stopped source looks whether the connection came back (a counter read,
/// no I/O).
const REVIVE_POLL: Duration = Duration::from_millis(500);

/// Why one round of following stopped.
enum Stop {
    /// The worker is gone: stop for good.
    WorkerGone,
    /// The source stopped; it can be started again from where it got to.
    Ended(SourceStatus),
    /// What the source followed no longer exists (a removed container).
    Removed,
}

/// Follow a file on the target like `tail -F`: its last `last_lines` lines first, then
/// what is appended. Across a dropped connection it resumes after the last byte it
/// passed on; stopped for good (the connection given up on, `tail` failing), it waits
/// for the connection to come back or for `revive`, and resumes the same way.
pub async fn file(
    target: Target,
    path: PathBuf,
    format: Format,
    last_lines: usize,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
    mut revive: Revive,
) {
    let mut sink = Sink {
        source,
        tx,
        out: Vec::new(),
    };
    let mut asm = Assembler::new(source, format);
    // The byte following starts at; `None` until the history has been read.
    let mut offset: Option<u64> = None;
    loop {
        let generation = target.generation();
        let stop = file_round(&target, &path, last_lines, &mut offset, &mut asm, &mut sink).await;
        match stop {
            Stop::WorkerGone | Stop::Removed => return,
            Stop::Ended(status) => {
                if !sink.status(status).await {
                    return;
                }
            }
        }
        if !wait_to_revive(&target, generation, &mut revive).await {
            return;
        }
    }
}

async fn file_round(
    target: &Target,
    path: &Path,
    last_lines: usize,
    offset: &mut Option<u64>,
    asm: &mut Assembler,
    sink: &mut Sink,
) -> Stop {
    let from = match *offset {
        Some(at) => at,
        None => {
            let history = match target.run(&history_command(path, last_lines)).await {
                Ok(out) if out.success() => parse_history(&out.stdout, last_lines),
                Ok(out) => {
                    return Stop::Ended(SourceStatus::Failed(format!(
                        "could not read {}: {}",
                        path.display(),
                        out.stderr_text().trim()
                    )));
                }
                Err(e) => return Stop::Ended(SourceStatus::Failed(format!("{e:#}"))),
            };
            let Some((size, bytes)) = history else {
                return Stop::Ended(SourceStatus::Failed(format!(
                    "could not read {}: the host's stat, tail or head answered unexpectedly",
                    path.display()
                )));
            };
            asm.push(&bytes, None, &mut sink.out);
            *offset = Some(size);
            if !sink.send_lines().await {
                return Stop::WorkerGone;
            }
            size
        }
    };
    if !sink.status(SourceStatus::Following).await {
        return Stop::WorkerGone;
    }
    let mut events = resume::follow(target.clone(), Follow::FileFrom(path.to_path_buf(), from));
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(FollowEvent::Data(bytes)) => {
                    if let Some(at) = offset.as_mut() {
                        *at += bytes.len() as u64;
                    }
                    asm.push(&bytes, None, &mut sink.out);
                }
                Some(FollowEvent::Stderr(bytes)) => {
                    // `tail -F` reports rotation and missing files on stderr.
                    let text = String::from_utf8_lossy(&bytes).trim().to_string();
                    if !text.is_empty() && !sink.status(SourceStatus::Notice(text)).await {
                        return Stop::WorkerGone;
                    }
                }
                Some(FollowEvent::Resumed) => {
                    if !sink.status(SourceStatus::Following).await {
                        return Stop::WorkerGone;
                    }
                }
                end @ (Some(FollowEvent::Ended(_)) | None) => {
                    asm.flush(&mut sink.out);
                    if !sink.send_lines().await {
                        return Stop::WorkerGone;
                    }
                    let why = match end {
                        Some(FollowEvent::Ended(Ok(Some(c)))) => format!("tail exited with status {c}"),
                        Some(FollowEvent::Ended(Err(e))) => format!("connection lost: {e}"),
                        _ => "tail ended".to_string(),
                    };
                    return Stop::Ended(SourceStatus::Ended(why));
                }
            },
            _ = tokio::time::sleep(IDLE_FLUSH), if asm.holds_back() => asm.flush(&mut sink.out),
        }
        if !sink.send_lines().await {
            return Stop::WorkerGone;
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
    mut revive: Revive,
) {
    loop {
        let generation = target.generation();
        let failed = match target.read_file(&conf_path).await {
            Ok(bytes) => match OdooConf::parse(&String::from_utf8_lossy(&bytes)).logfile() {
                Some(path) => {
                    return file(target, path, Format::Odoo, last_lines, source, tx, revive).await;
                }
                None => format!(
                    "{} sets no logfile: Odoo logs to stderr, follow its container instead",
                    conf_path.display()
                ),
            },
            Err(e) => format!("{e:#}"),
        };
        if tx
            .send(Feed::Status(source, SourceStatus::Failed(failed)))
            .await
            .is_err()
            || !wait_to_revive(&target, generation, &mut revive).await
        {
            return;
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
/// (the container stopped or restarted, the connection dropped) it resumes from the
/// last line seen; when the container is removed, the source goes with it
/// ([`Feed::Removed`]). `since_ms` starts from a point in time (a previous session's last
/// line); otherwise the last `last_lines` lines come first.
pub async fn container(
    target: Target,
    container: String,
    since_ms: Option<i64>,
    last_lines: usize,
    source: SourceId,
    tx: mpsc::Sender<Feed>,
    mut revive: Revive,
) {
    let mut sink = Sink {
        source,
        tx,
        out: Vec::new(),
    };
    let mut at = ContainerPosition {
        last_ns: since_ms.map(|ms| ms * 1_000_000),
        first: true,
        out_asm: Assembler::new(source, Format::Auto),
        err_asm: Assembler::new(source, Format::Auto),
    };
    loop {
        let generation = target.generation();
        let stop = match target.docker().await {
            Ok(docker) => {
                container_round(&docker, &container, last_lines, &mut at, &mut sink).await
            }
            Err(e) => Stop::Ended(SourceStatus::Failed(format!("{e:#}"))),
        };
        match stop {
            Stop::WorkerGone => return,
            Stop::Removed => {
                let _ = sink.tx.send(Feed::Removed(source)).await;
                return;
            }
            Stop::Ended(status) => {
                if !sink.status(status).await {
                    return;
                }
            }
        }
        if !wait_to_revive(&target, generation, &mut revive).await {
            return;
        }
    }
}

/// Where a container follower has got to.
struct ContainerPosition {
    last_ns: Option<i64>,
    first: bool,
    out_asm: Assembler,
    err_asm: Assembler,
}

/// Docker answered that the container does not exist.
fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

async fn container_round(
    docker: &bollard::Docker,
    container: &str,
    last_lines: usize,
    at: &mut ContainerPosition,
    sink: &mut Sink,
) -> Stop {
    loop {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            timestamps: true,
            // Whole seconds only: lines of that second already seen are skipped below.
            since: at
                .last_ns
                .map_or(0, |ns| (ns.div_euclid(1_000_000_000)) as i32),
            until: 0,
            tail: if at.first && at.last_ns.is_none() {
                last_lines.to_string()
            } else {
                "all".into()
            },
        };
        let mut stream = docker.logs(container, Some(options));
        if !sink.status(SourceStatus::Following).await {
            return Stop::WorkerGone;
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
                        if let (Some(ns), Some(seen)) = (stamp, at.last_ns)
                            && ns <= seen
                        {
                            continue;
                        }
                        if stamp.is_some() {
                            at.last_ns = stamp;
                        }
                        let asm = if is_err { &mut at.err_asm } else { &mut at.out_asm };
                        asm.push(body, stamp.map(|ns| ns.div_euclid(1_000_000)), &mut sink.out);
                        if sink.out.len() < BATCH {
                            continue;
                        }
                    }
                    Some(Err(e)) => {
                        if is_not_found(&e) {
                            return Stop::Removed;
                        }
                        ended = Some(format!("{e}"));
                        break;
                    }
                    None => break,
                },
                _ = tokio::time::sleep(IDLE_FLUSH), if at.out_asm.holds_back() || at.err_asm.holds_back() || !sink.out.is_empty() => {
                    at.out_asm.flush(&mut sink.out);
                    at.err_asm.flush(&mut sink.out);
                }
            }
            if !sink.send_lines().await {
                return Stop::WorkerGone;
            }
        }
        at.out_asm.flush(&mut sink.out);
        at.err_asm.flush(&mut sink.out);
        if !sink.send_lines().await {
            return Stop::WorkerGone;
        }
        at.first = false;
        // Gone for good, only stopped, or cut off with the connection?
        match docker.inspect_container(container, None).await {
            Err(e) if is_not_found(&e) => return Stop::Removed,
            Err(e) => {
                let why = ended.unwrap_or_else(|| format!("{e}"));
                return Stop::Ended(SourceStatus::Failed(why));
            }
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                let running = state.running.unwrap_or(false);
                if !running {
                    // Docker replays its events from when the container stopped, by its
                    // own clock and to the nanosecond (the start before that stop is
                    // not replayed), so a start between the inspect and the wait is not
                    // missed. Never started (Docker's year 1): every event it has.
                    let since = state
                        .finished_at
                        .and_then(|t| time::docker_ns(t.as_bytes()))
                        .map_or(0, |(ns, _)| ns);
                    if !sink
                        .status(SourceStatus::Ended(
                            "container stopped; waiting for it to start".into(),
                        ))
                        .await
                    {
                        return Stop::WorkerGone;
                    }
                    // A reader gone (a host switch) ends the wait at once, not after the
                    // recheck: the old host's connection is not held for 30 s.
                    tokio::select! {
                        _ = wait_for_start(docker, container, since) => {}
                        _ = sink.tx.closed() => return Stop::WorkerGone,
                    }
                } else {
                    // Running, and its stream ended (a restart, a dropped connection).
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        if sink.tx.is_closed() {
            return Stop::WorkerGone;
        }
    }
}

/// A stopped container is looked at again after this long even if Docker said nothing
/// (an event missed), as the Docker worker's own safety poll.
const STOPPED_RECHECK: Duration = Duration::from_secs(30);

/// Wait until Docker says the container started (or went away), from its event stream:
/// asking for its logs and its state every half second instead kept the console busy
/// (and redrawing) for as long as a container stayed stopped.
async fn wait_for_start(docker: &bollard::Docker, container: &str, since_ns: i64) {
    let filters = std::collections::HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("container".to_string(), vec![container.to_string()]),
        (
            "event".to_string(),
            vec!["start".to_string(), "destroy".to_string()],
        ),
    ]);
    let options = EventsOptions {
        since: Some(format!(
            "{}.{:09}",
            since_ns.div_euclid(1_000_000_000),
            since_ns.rem_euclid(1_000_000_000)
        )),
        filters: Some(filters),
        ..EventsOptions::default()
    };
    let mut events = docker.events(Some(options));
    match tokio::time::timeout(STOPPED_RECHECK, events.next()).await {
        // Docker does not answer: not faster than before.
        Ok(Some(Err(_))) | Ok(None) => tokio::time::sleep(Duration::from_millis(500)).await,
        Ok(Some(Ok(_))) | Err(_) => {}
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
    fn history_gives_the_offset_following_starts_at() {
        let (at, bytes) = parse_history(b"120 0\nb\nc\n", 2).unwrap();
        assert_eq!((at, bytes.as_slice()), (120, &b"b\nc\n"[..]));
        // Read from the middle with fewer lines than asked: the cut first line goes.
        let (at, bytes) = parse_history(b"900000 375712\nof a line\nwhole\n", 1000).unwrap();
        assert_eq!((at, bytes.as_slice()), (900000, &b"whole\n"[..]));
        // A file that is not there yet: nothing to show, follow from its start.
        assert_eq!(parse_history(b"0 0\n", 5), Some((0, Vec::new())));
        assert_eq!(parse_history(b"garbage", 5), None);
    }

    #[test]
    fn tail_follows_by_name_and_quotes_the_path() {
        let c = tail_command(Path::new("/var/log/nginx/my access.log"), 200);
        assert_eq!(
            c.to_shell_line().unwrap(),
            "tail -n 200 -F -- '/var/log/nginx/my access.log'"
        );
    }
}
