//! One long-lived shell per SSH session that runs short commands as background jobs.
//!
//! Why: sshd starts every exec request through the user's login shell, and that shell
//! reads `~/.bashrc` first. On a droplet where it runs `pyenv init`, `nvm` or `conda`,
//! that is 100 ms of CPU or more per command, and a diagnosis that sends a dozen probes
//! at once spends most of its time starting shells on a 1-2 vCPU host. Here the login
//! shell starts once, execs `sh`, and each command afterwards costs a fork: commands run
//! concurrently as jobs, and each result comes back as one frame on the channel.
//!
//! Only commands without standard input come through here (the rest, file writes, keep
//! their own exec channel), and so do long-lived streams. When the host lacks `mktemp`
//! or `flock`, the shell says so at start and every command takes an exec channel.
//!
//! The protocol, client to shell: one line per command, `j ID 'SHELL LINE'`, where the
//! line is one quoted word (a syntax error in it stays inside the job). Shell to client:
//! `odoo-ops jobs ready\n` once, then per finished job a header
//! `ID STATUS STDOUT_LEN STDERR_LEN\n` followed by exactly those bytes. Jobs write their
//! output into a private directory (`mktemp -d`, mode 0700) and hold a `flock` while
//! they send their frame, so frames never interleave.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::sync::oneshot;

use super::connection::SshConnection;
use super::session::Session;
use crate::target::{Command, Output, quote};

/// The dispatcher, read by `sh` from its standard input. A job counts its output with
/// one `wc` inside the private directory (file names without spaces, whatever `TMPDIR`
/// holds): every process a job starts is CPU the droplet spends. Each job is started from a
/// foreground subshell that exits at once, so the job is re-parented to init, which
/// reaps it: a non-interactive `sh` never reaps background jobs itself, and a console
/// left open for a day would otherwise collect thousands of zombies. A dispatcher killed
/// outright cannot remove its directory; the next one removes the directories whose
/// dispatcher is gone.
const DISPATCHER: &str = r#"d=$(mktemp -d "${TMPDIR:-/tmp}/odoo-ops-jobs.XXXXXX") || exit 97
command -v flock >/dev/null 2>&1 || { rm -rf "$d"; exit 98; }
trap 'rm -rf "$d"' EXIT
echo $$ >"$d/pid"
for o in "${TMPDIR:-/tmp}"/odoo-ops-jobs.*; do
  [ "$o" != "$d" ] && [ -O "$o" ] && [ -f "$o/pid" ] || continue
  kill -0 "$(cat "$o/pid")" 2>/dev/null || rm -rf "$o"
done
trap 'exit 129' HUP
trap 'exit 143' TERM
j() {
  ( (
    ( eval "$2" ) </dev/null >"$d/$1.o" 2>"$d/$1.e"
    s=$?
    cd "$d" || exit
    set -- "$1" "$s" $(wc -c "$1.o" "$1.e")
    {
      flock 9
      printf '%s %s %s %s\n' "$1" "$2" "$3" "$5"
      cat "$1.o" "$1.e"
    } 9>>lock
    rm -f "$1.o" "$1.e"
  ) & )
}
echo 'odoo-ops jobs ready'
"#;

const READY: &[u8] = b"odoo-ops jobs ready\n";
/// Exit statuses the dispatcher uses to say the host cannot run it.
const NO_MKTEMP: u32 = 97;
const NO_FLOCK: u32 = 98;
/// The login shell's start-up (the very cost this avoids) is most of a start; commands
/// wait behind it, and take exec channels after this long.
const START_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Output>>>>;

/// A running dispatcher on one session.
pub struct JobShell {
    /// The session the dispatcher's channel belongs to: when it dies, so did the shell,
    /// even before the channel's close has been read.
    session: Arc<Session>,
    input: tokio::sync::Mutex<russh::ChannelWriteHalf<Msg>>,
    pending: Pending,
    next_id: AtomicU64,
    closed: Arc<AtomicBool>,
}

/// Whether a dispatcher could be started on this host.
enum Start {
    Running(Arc<JobShell>),
    /// The host cannot run it; why, for the debug log.
    Unsupported(String),
}

/// The dispatcher of a connection: started on first use (or ahead of it), restarted
/// after a reconnect, given up on for good when the host cannot run it.
#[derive(Default)]
pub struct JobShellSlot {
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
enum SlotState {
    #[default]
    NotStarted,
    Running(Arc<JobShell>),
    Unsupported,
}

impl JobShellSlot {
    /// The live dispatcher, starting one when there is none; `None` when this host
    /// cannot run one (commands then take exec channels). Callers arriving during a
    /// start wait for that start instead of starting their own.
    pub async fn get(&self, conn: &SshConnection) -> Option<Arc<JobShell>> {
        let mut state = self.state.lock().await;
        match &*state {
            SlotState::Running(shell) if !shell.is_closed() => return Some(shell.clone()),
            SlotState::Unsupported => return None,
            _ => {}
        }
        match JobShell::start_watched(conn).await {
            Ok(Start::Running(shell)) => {
                *state = SlotState::Running(shell.clone());
                Some(shell)
            }
            Ok(Start::Unsupported(why)) => {
                tracing::debug!(
                    "{}: commands use one exec channel each ({why})",
                    conn.spec().describe()
                );
                *state = SlotState::Unsupported;
                None
            }
            // A failed start (the link dropped meanwhile) is retried by the next caller.
            Err(e) => {
                tracing::debug!("{}: job shell not started: {e:#}", conn.spec().describe());
                *state = SlotState::NotStarted;
                None
            }
        }
    }
}

impl JobShell {
    /// Start on the live session, giving up when that session dies meanwhile (a frozen
    /// server answers nothing until keepalive declares it dead) or the start takes too
    /// long: callers wait behind a start, so it must end.
    async fn start_watched(conn: &SshConnection) -> Result<Start> {
        let session = conn.session().await?;
        tokio::select! {
            started = tokio::time::timeout(START_TIMEOUT, Self::start(session.clone())) => {
                started.map_err(|_| eyre!("the shell was not ready within {START_TIMEOUT:?}"))?
            }
            () = closed(&session) => bail!("the connection dropped while the shell started"),
        }
    }

    async fn start(session: Arc<Session>) -> Result<Start> {
        let channel = session.handle.channel_open_session().await?;
        // The login shell runs this line; from then on `sh` reads the dispatcher and the
        // commands from standard input.
        channel.exec(true, &b"exec sh"[..]).await?;
        let (mut read, write) = channel.split();
        write
            .data(DISPATCHER.as_bytes())
            .await
            .map_err(|e| eyre!("could not send the dispatcher: {e}"))?;

        let mut buffer = Vec::new();
        let ready = async {
            loop {
                match read.wait().await {
                    Some(ChannelMsg::Data { data }) => {
                        buffer.extend_from_slice(&data);
                        if buffer.len() >= READY.len() {
                            return if buffer.starts_with(READY) {
                                buffer.drain(..READY.len());
                                Ok(true)
                            } else {
                                Err(eyre!(
                                    "unexpected output before ready: {:?}",
                                    String::from_utf8_lossy(&buffer)
                                ))
                            };
                        }
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        return Ok(match exit_status {
                            NO_MKTEMP | NO_FLOCK => false,
                            other => bail!("the shell exited with status {other}"),
                        });
                    }
                    Some(ChannelMsg::ExtendedData { data, .. }) => {
                        tracing::debug!(
                            "job shell start: {}",
                            String::from_utf8_lossy(&data).trim_end()
                        );
                    }
                    Some(_) => {}
                    None => bail!("the channel closed before the shell was ready"),
                }
            }
        }
        .await?;
        if !ready {
            return Ok(Start::Unsupported(
                "the host has no `mktemp -d` or no `flock`".into(),
            ));
        }

        let shell = Arc::new(JobShell {
            session,
            input: tokio::sync::Mutex::new(write),
            pending: Pending::default(),
            next_id: AtomicU64::new(1),
            closed: Arc::new(AtomicBool::new(false)),
        });
        let (pending, closed) = (shell.pending.clone(), shell.closed.clone());
        tokio::spawn(async move {
            let mut frames = FrameReader { buffer };
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        frames.buffer.extend_from_slice(&data);
                        while let Some((id, output)) = frames.next_frame() {
                            let waiter = pending.lock().expect("pending jobs").remove(&id);
                            if let Some(waiter) = waiter {
                                let _ = waiter.send(output);
                            }
                        }
                    }
                    ChannelMsg::ExtendedData { data, .. } => {
                        tracing::debug!("job shell: {}", String::from_utf8_lossy(&data).trim_end())
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            // Every waiter still here learns the shell is gone (its sender is dropped).
            closed.store(true, Ordering::SeqCst);
            pending.lock().expect("pending jobs").clear();
        });
        Ok(Start::Running(shell))
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.session.is_closed()
    }

    /// Run one command as a job and wait for its frame. A command still running when
    /// the caller gives up runs to its end on the host; its frame is then ignored.
    pub async fn run(&self, command: &Command) -> Result<Output> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = format!("j {id} {}\n", quote(&command.to_shell_line()?)?);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending jobs").insert(id, tx);
        let sent = self.input.lock().await.data(request.as_bytes()).await;
        if sent.is_err() {
            self.pending.lock().expect("pending jobs").remove(&id);
            return Err(NotStarted.into());
        }
        // The frame, unless the session dies first (its channels may never report it).
        tokio::select! {
            frame = rx => frame.map_err(|_| {
                eyre!("the job shell's channel closed before the command finished")
            }),
            () = closed(&self.session) => {
                self.pending.lock().expect("pending jobs").remove(&id);
                bail!("the session closed before the command finished")
            }
        }
    }
}

/// Resolves once `session` is closed. Polled: a frozen server sends nothing, and only
/// keepalive (which marks the session closed) notices it; channels may never report it.
async fn closed(session: &Session) {
    while !session.is_closed() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The request never reached the shell, so the command surely did not run: safe to
/// run it another way.
#[derive(Debug)]
pub struct NotStarted;

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job shell's channel is closed")
    }
}

impl std::error::Error for NotStarted {}

/// Splits the dispatcher's output into frames.
struct FrameReader {
    buffer: Vec<u8>,
}

impl FrameReader {
    /// The next whole frame, or `None` until more bytes arrive. A line that is not a
    /// header (which only a broken host shell could send) is logged and skipped.
    fn next_frame(&mut self) -> Option<(u64, Output)> {
        loop {
            let end = memchr::memchr(b'\n', &self.buffer)?;
            match parse_header(&self.buffer[..end]) {
                Some(header) => return self.take_body(end + 1, header),
                None => {
                    tracing::debug!(
                        "job shell: not a frame header: {:?}",
                        String::from_utf8_lossy(&self.buffer[..end])
                    );
                    self.buffer.drain(..=end);
                }
            }
        }
    }

    fn take_body(
        &mut self,
        body: usize,
        (id, status, out_len, err_len): (u64, i32, usize, usize),
    ) -> Option<(u64, Output)> {
        if self.buffer.len() < body + out_len + err_len {
            return None;
        }
        let stdout = self.buffer[body..body + out_len].to_vec();
        let stderr = self.buffer[body + out_len..body + out_len + err_len].to_vec();
        self.buffer.drain(..body + out_len + err_len);
        Some((
            id,
            Output {
                status: Some(status),
                stdout,
                stderr,
            },
        ))
    }
}

/// `ID STATUS STDOUT_LEN STDERR_LEN`.
fn parse_header(line: &[u8]) -> Option<(u64, i32, usize, usize)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let header = (
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
    );
    fields.next().is_none().then_some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_at_their_lengths_whatever_the_chunking() {
        let stream = b"7 0 6 0\nhello\n12 3 0 4\noops".to_vec();
        let mut frames = FrameReader { buffer: Vec::new() };
        let mut got = Vec::new();
        // One byte at a time: a frame is only delivered once all of it has arrived.
        for byte in stream {
            frames.buffer.push(byte);
            while let Some(f) = frames.next_frame() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 7);
        assert_eq!(got[0].1.stdout, b"hello\n");
        assert_eq!(got[1].0, 12);
        assert_eq!(got[1].1.status, Some(3));
        assert_eq!(got[1].1.stderr, b"oops");
        assert!(frames.buffer.is_empty());
    }

    #[test]
    fn binary_output_with_newlines_stays_whole() {
        let body: Vec<u8> = (0..=255u8).collect();
        let mut stream = format!("1 0 {} 0\n", body.len()).into_bytes();
        stream.extend_from_slice(&body);
        let mut frames = FrameReader { buffer: stream };
        let (_, out) = frames.next_frame().unwrap();
        assert_eq!(out.stdout, body);
    }
}
