//! One deploy, rollback or restore at a time per stack: a lock file on the host.
//!
//! Taken atomically on the host: the holder's record is written to a temporary file and
//! hard-linked to the lock's name (`ln` fails when the name exists), so there is no
//! read-then-write race and nobody ever reads half a record. While held, a background
//! task touches the file: its modification time is the heartbeat, judged against the
//! host's own clock, so a console whose clock is off cannot make a live lock look stale.
//!
//! A lock is stale when its heartbeat is older than [`LockOptions::stale_after`], or when
//! its holder ran on this very machine and that process is gone. A stale lock is only
//! taken over when the caller says so (the operator confirmed): a deploy on a laptop that
//! lost its network for a few minutes is still running. The takeover is atomic too (the
//! stale file is renamed away, and put back if it turns out someone else took over first).
//!
//! Released explicitly ([`DeployLock::release`]), on drop (best effort, inside a
//! runtime), and on Ctrl-C or SIGTERM by [`run_locked`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use color_eyre::eyre::{self, Result, bail, eyre};
use serde::{Deserialize, Serialize};

use super::clock;
use super::stack_state::StackState;
use crate::target::{Command, Target};
use crate::workflow::journal::{machine_name, process_start};

/// What the lock is held for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Deploy,
    Rollback,
    Restore,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Deploy => "deploy",
            Operation::Rollback => "rollback",
            Operation::Restore => "restore",
        })
    }
}

/// What the caller wants the lock for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    pub operation: Operation,
    pub deploy_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// A heartbeat older than this makes the lock stale.
    pub stale_after: Duration,
    /// How often the holder refreshes its heartbeat; well under `stale_after`.
    pub heartbeat_every: Duration,
    /// `--lock-wait`: how long to wait for a held lock to be released (zero: refuse at once).
    pub wait: Duration,
    /// How often a waiting taker looks again.
    pub poll_every: Duration,
    /// The operator confirmed that a stale lock's holder is dead: take it over.
    pub take_over: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            stale_after: Duration::from_secs(90),
            heartbeat_every: Duration::from_secs(15),
            wait: Duration::ZERO,
            poll_every: Duration::from_millis(500),
            take_over: false,
        }
    }
}

/// Who holds a lock: the record in the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Who runs the console (the login name on the machine it runs on).
    pub owner: String,
    /// The user that acts on the host.
    pub login: String,
    /// The machine the console runs on (not the host it changes).
    pub host: String,
    pub pid: u32,
    /// The console process's start (`/proc/PID/stat` field 22): a reused pid is not the holder.
    pub process_started: u64,
    /// When the lock was taken (console's clock, epoch ms).
    pub started_ms: i64,
    /// The last heartbeat (host's clock, epoch ms): the lock file's modification time.
    pub heartbeat_ms: i64,
    pub operation: Operation,
    pub deploy_id: String,
    /// Names this taking of the lock, so a holder only ever refreshes or removes its own.
    pub token: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} pid {} since {} ({} {})",
            self.owner,
            self.host,
            self.pid,
            clock::short(self.started_ms),
            self.operation,
            self.deploy_id
        )
    }
}

/// A lock as another taker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub holder: Holder,
    /// Seconds since the last heartbeat, by the host's clock.
    pub heartbeat_age_secs: i64,
    /// Why the lock looks abandoned, when it does.
    pub stale: Option<String>,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Someone holds it (and still did when the wait, if any, ran out).
    Held {
        observed: Box<Observed>,
        waited: Duration,
    },
    /// The lock could not be looked at or written.
    Failed(eyre::Report),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { observed, waited } => {
                write!(f, "locked by {}", observed.holder)?;
                if !waited.is_zero() {
                    write!(
                        f,
                        ", still after waiting {}",
                        clock::age(waited.as_secs() as i64)
                    )?;
                }
                if let Some(why) = &observed.stale {
                    write!(
                        f,
                        "; the lock looks stale ({why}): take it over only if that {} is not running any more",
                        observed.holder.operation
                    )?;
                }
                Ok(())
            }
            LockError::Failed(e) => write!(f, "could not take the deploy lock: {e:#}"),
        }
    }
}

impl std::error::Error for LockError {}

impl From<eyre::Report> for LockError {
    fn from(e: eyre::Report) -> Self {
        LockError::Failed(e)
    }
}

/// A held lock; refreshed in the background until released or dropped.
pub struct DeployLock {
    target: Target,
    file: PathBuf,
    holder: Holder,
    lost: Arc<AtomicBool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

impl std::fmt::Debug for DeployLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployLock")
            .field("file", &self.file)
            .field("holder", &self.holder)
            .finish()
    }
}

impl DeployLock {
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Someone took the lock over (it was judged stale, or removed by hand): the
    /// orchestrator must stop changing the host.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Remove the lock (only if it is still ours).
    pub async fn release(mut self) -> Result<()> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        self.released = true;
        remove_own(&self.target, &self.file, &self.holder.token).await
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        if self.released {
            return;
        }
        // Best effort: an orchestrator that errors out with `?` still frees the stack.
        // Outside a runtime (or when it is shutting down) the lock stays and goes stale.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (target, file, token) = (
                self.target.clone(),
                self.file.clone(),
                self.holder.token.clone(),
            );
            rt.spawn(async move {
                let _ = remove_own(&target, &file, &token).await;
            });
        }
    }
}

/// Take the lock of `state`'s stack for `request`, waiting up to `options.wait` for a
/// holder to release it, and taking over a stale one when `options.take_over` says so.
pub async fn acquire(
    target: &Target,
    state: &StackState,
    request: &LockRequest,
    options: &LockOptions,
) -> Result<DeployLock, LockError> {
    state.ensure(target).await?;
    let login = login_name(target).await?;
    let me = std::process::id();
    let file = state.lock_file();
    let begun = tokio::time::Instant::now();
    let deadline = begun + options.wait;
    // A lock that vanishes between our try and our look is tried again at once; one that
    // keeps doing so is not a lock file as we write it (a directory in its place).
    let mut vanished = 0;
    loop {
        let now = clock::now_ms();
        let holder = Holder {
            owner: super::console_user(),
            login: login.clone(),
            host: machine_name(),
            pid: me,
            process_started: process_start(me).unwrap_or(0),
            started_ms: now,
            heartbeat_ms: now,
            operation: request.operation,
            deploy_id: request.deploy_id.clone(),
            token: format!("{}.{}", request.deploy_id, super::random_hex(8)),
        };
        if take(target, &file, &holder, None).await? == Take::Taken {
            return Ok(DeployLock::hold(target, file, holder, options));
        }
        let Some(observed) = peek_file(target, &file, options).await? else {
            vanished += 1;
            if vanished > 20 {
                return Err(LockError::Failed(eyre!(
                    "the lock {} on {} can neither be taken nor read; remove it by hand if no deploy runs",
                    file.display(),
                    target.describe()
                )));
            }
            continue; // released between our try and our look: try again at once
        };
        if observed.stale.is_some() && options.take_over {
            match take(target, &file, &holder, Some(&observed.holder.token)).await? {
                Take::Taken => return Ok(DeployLock::hold(target, file, holder, options)),
                Take::Gone => continue,
                Take::Busy => {}
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(LockError::Held {
                observed: Box::new(observed),
                waited: now - begun,
            });
        }
        tokio::time::sleep(options.poll_every.min(deadline - now)).await;
    }
}

/// Who holds the lock of `state`'s stack, if anyone.
pub async fn peek(
    target: &Target,
    state: &StackState,
    options: &LockOptions,
) -> Result<Option<Observed>> {
    peek_file(target, &state.lock_file(), options).await
}

/// Run `work` while holding `lock`, and release it when the work ends or the console is
/// interrupted (Ctrl-C, or SIGTERM as CI cancels a job). `None`: interrupted; the work
/// was dropped mid-step and its journal says where it stopped. The signal handlers stay
/// installed for the life of the process (tokio never removes them): the caller exits.
pub async fn run_locked<T>(
    lock: DeployLock,
    work: impl std::future::Future<Output = T>,
) -> Result<Option<T>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let out = tokio::select! {
        v = work => Some(v),
        _ = interrupt.recv() => None,
        _ = terminate.recv() => None,
    };
    lock.release().await?;
    Ok(out)
}

impl DeployLock {
    fn hold(target: &Target, file: PathBuf, holder: Holder, options: &LockOptions) -> DeployLock {
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(beat(
            target.clone(),
            file.clone(),
            holder.token.clone(),
            options.heartbeat_every,
            lost.clone(),
        ));
        DeployLock {
            target: target.clone(),
            file,
            holder,
            lost,
            heartbeat: Some(heartbeat),
            released: false,
        }
    }
}

/// Touch the lock while it is ours; stop when it is not any more. A failed touch (the
/// connection dropped) is tried again at the next beat: the lock only goes stale after
/// several missed ones.
async fn beat(
    target: Target,
    file: PathBuf,
    token: String,
    every: Duration,
    lost: Arc<AtomicBool>,
) {
    const TOUCH: &str = r#"grep -qF -- "$2" "$1" 2>/dev/null || exit 3
touch -c -- "$1""#;
    loop {
        tokio::time::sleep(every).await;
        let out = target
            .run(
                &Command::script(TOUCH)
                    .arg(file.to_string_lossy())
                    .arg(&token),
            )
            .await;
        if let Ok(out) = out
            && out.status == Some(3)
        {
            lost.store(true, Ordering::SeqCst);
            return;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Take {
    Taken,
    /// Someone else holds it.
    Busy,
    /// The stale lock to take over was released meanwhile.
    Gone,
}

/// Link a complete record to the lock's name; with `stale_token`, first move the stale
/// lock away (and put it back when it is not the one judged stale).
async fn take(
    target: &Target,
    file: &std::path::Path,
    holder: &Holder,
    stale_token: Option<&str>,
) -> Result<Take> {
    const TAKE: &str = r#"umask 077
lock="$1"; tmp="$lock.$2.tmp"
cat > "$tmp" || exit 2
if ln -- "$tmp" "$lock" 2>/dev/null; then rm -f -- "$tmp"; echo taken; else rm -f -- "$tmp"; echo busy; fi"#;
    const TAKE_OVER: &str = r#"umask 077
lock="$1"; tmp="$lock.$2.tmp"; grave="$lock.$2.stale"
cat > "$tmp" || exit 2
if ! mv -- "$lock" "$grave" 2>/dev/null; then rm -f -- "$tmp"; echo gone; exit 0; fi
if grep -qF -- "$3" "$grave"; then
  if ln -- "$tmp" "$lock" 2>/dev/null; then rm -f -- "$tmp" "$grave"; echo taken; exit 0; fi
else
  # Someone else took it over between our look and our move: theirs goes back.
  ln -- "$grave" "$lock" 2>/dev/null
fi
rm -f -- "$tmp" "$grave"; echo busy"#;
    let record = serde_json::to_vec(holder)?;
    let nonce = super::random_hex(6);
    let command = match stale_token {
        None => Command::script(TAKE).arg(file.to_string_lossy()).arg(nonce),
        Some(token) => Command::script(TAKE_OVER)
            .arg(file.to_string_lossy())
            .arg(nonce)
            .arg(token),
    };
    let out = target.run(&command.stdin(record)).await?;
    match out.stdout_text().trim() {
        "taken" if out.success() => Ok(Take::Taken),
        "busy" => Ok(Take::Busy),
        "gone" => Ok(Take::Gone),
        _ => bail!(
            "could not write the lock {} on {}: {}",
            file.display(),
            target.describe(),
            out.stderr_text().trim()
        ),
    }
}

async fn peek_file(
    target: &Target,
    file: &std::path::Path,
    options: &LockOptions,
) -> Result<Option<Observed>> {
    // The host's clock and the file's time in one go, then the record.
    const LOOK: &str = r#"date +%s
[ -e "$1" ] || exit 0
stat -c %Y -- "$1" 2>/dev/null || exit 0
cat -- "$1" 2>/dev/null"#;
    let out = target
        .run(&Command::script(LOOK).arg(file.to_string_lossy()))
        .await?;
    let text = out.stdout_text();
    let mut lines = text.splitn(3, '\n');
    let host_now: i64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| eyre!("could not read the clock of {}", target.describe()))?;
    let (Some(mtime), Some(record)) = (lines.next(), lines.next()) else {
        return Ok(None);
    };
    let Ok(mtime) = mtime.trim().parse::<i64>() else {
        return Ok(None);
    };
    if record.trim().is_empty() {
        return Ok(None); // removed between stat and cat
    }
    let mut holder: Holder = serde_json::from_str(record).map_err(|e| {
        eyre!(
            "the lock {} on {} is not a lock record ({e}); remove it by hand if no deploy runs",
            file.display(),
            target.describe()
        )
    })?;
    holder.heartbeat_ms = mtime * 1000;
    let heartbeat_age_secs = host_now - mtime;
    Ok(Some(Observed {
        stale: staleness(&holder, heartbeat_age_secs, options),
        heartbeat_age_secs,
        holder,
    }))
}

fn staleness(holder: &Holder, heartbeat_age_secs: i64, options: &LockOptions) -> Option<String> {
    if heartbeat_age_secs > options.stale_after.as_secs() as i64 {
        return Some(format!(
            "no heartbeat for {}",
            clock::age(heartbeat_age_secs)
        ));
    }
    // On this machine the holder's process can be asked directly.
    if holder.host == machine_name() && process_start(holder.pid) != Some(holder.process_started) {
        return Some(format!("process {} is gone on {}", holder.pid, holder.host));
    }
    None
}

async fn remove_own(target: &Target, file: &std::path::Path, token: &str) -> Result<()> {
    const REMOVE: &str = r#"grep -qF -- "$2" "$1" 2>/dev/null || exit 0
rm -f -- "$1""#;
    let out = target
        .run(
            &Command::script(REMOVE)
                .arg(file.to_string_lossy())
                .arg(token),
        )
        .await?;
    if !out.success() {
        bail!(
            "could not release the lock {} on {}: {}",
            file.display(),
            target.describe(),
            out.stderr_text().trim()
        );
    }
    Ok(())
}

async fn login_name(target: &Target) -> Result<String> {
    let out = target.run(&Command::new("id").arg("-un")).await?;
    let name = out.stdout_text().trim().to_string();
    if !out.success() || name.is_empty() {
        bail!("could not tell which user acts on {}", target.describe());
    }
    Ok(name)
}
