//! One connection per host, kept alive: keepalive probes notice a dead link, a watchdog
//! reconnects with backoff, and every change of state is published for the status bar.

use std::sync::{Arc, Weak};
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio::sync::watch;

use super::destination::ConnectSpec;
use super::job_shell::{JobShell, JobShellSlot};
use super::prompt::Prompter;
use super::session::{self, Session};

/// What the status bar shows about the link to a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connected,
    /// The link dropped; `attempt` counts reconnection tries from 1.
    Reconnecting {
        attempt: u32,
        last_error: String,
    },
    /// Gave up (or a reconnect was refused: changed host key, keys no longer accepted).
    Failed(String),
}

/// How reconnecting paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(15),
            attempts: 12,
        }
    }
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        (self.first * factor).min(self.max)
    }
}

/// How often the watchdog looks at the session; cheap (a flag), so it can be frequent.
const WATCH_EVERY: Duration = Duration::from_millis(200);
/// How long an operation waits for a reconnect in progress before giving up.
const WAIT_FOR_RECONNECT: Duration = Duration::from_secs(60);

pub struct SshConnection {
    spec: ConnectSpec,
    prompter: Arc<dyn Prompter>,
    session: watch::Sender<Option<Arc<Session>>>,
    state: watch::Sender<ConnectionState>,
    /// Bumped on every successful (re)connect, so streams know a reconnect happened.
    generation: watch::Sender<u64>,
    backoff: Backoff,
    /// The shell that runs short commands without a login shell each (see `job_shell`).
    jobs: JobShellSlot,
}

impl SshConnection {
    /// Connect and log in. Host key refusals and login failures are returned as is;
    /// only a connection that once worked is reconnected.
    pub async fn connect(spec: ConnectSpec, prompter: Arc<dyn Prompter>) -> Result<Arc<Self>> {
        Self::connect_with(spec, prompter, Backoff::default()).await
    }

    pub async fn connect_with(
        spec: ConnectSpec,
        prompter: Arc<dyn Prompter>,
        backoff: Backoff,
    ) -> Result<Arc<Self>> {
        let first = session::open(spec.clone(), prompter.clone()).await?;
        let connection = Arc::new(Self {
            spec,
            prompter,
            session: watch::Sender::new(Some(Arc::new(first))),
            state: watch::Sender::new(ConnectionState::Connected),
            generation: watch::Sender::new(1),
            backoff,
            jobs: JobShellSlot::default(),
        });
        tokio::spawn(watchdog(Arc::downgrade(&connection), backoff));
        connection.start_job_shell();
        Ok(connection)
    }

    /// The job shell, started now (in the background) so the first command does not
    /// pay the login shell's start-up.
    fn start_job_shell(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            if let Some(conn) = weak.upgrade() {
                conn.jobs.get(&conn).await;
            }
        });
    }

    /// The live job shell; `None` when this host cannot run one.
    pub async fn job_shell(&self) -> Option<Arc<JobShell>> {
        self.jobs.get(self).await
    }

    pub fn spec(&self) -> &ConnectSpec {
        &self.spec
    }

    /// Connection state changes, for the status bar.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.subscribe()
    }

    /// How many times the connection has been established (1 = never dropped).
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// After `Failed`, try again from the first attempt (the operator asked to); does
    /// nothing in any other state.
    pub fn retry(self: &Arc<Self>) {
        let restarted = self.state.send_if_modified(|state| {
            if let ConnectionState::Failed(why) = state {
                *state = ConnectionState::Reconnecting {
                    attempt: 1,
                    last_error: why.clone(),
                };
                true
            } else {
                false
            }
        });
        if restarted {
            let weak = Arc::downgrade(self);
            let backoff = self.backoff;
            tokio::spawn(async move {
                if reconnect(&weak, backoff).await {
                    watchdog(weak, backoff).await;
                }
            });
        }
    }

    /// The live session, waiting for a reconnect in progress.
    pub async fn session(&self) -> Result<Arc<Session>> {
        let mut rx = self.session.subscribe();
        let mut state = self.state.subscribe();
        let wait = async {
            loop {
                if let Some(s) = rx.borrow_and_update().clone().filter(|s| !s.is_closed()) {
                    return Ok(s);
                }
                if let ConnectionState::Failed(why) = &*state.borrow_and_update() {
                    return Err(eyre!(
                        "the connection to {} failed: {why}",
                        self.spec.describe()
                    ));
                }
                tokio::select! {
                    r = rx.changed() => r.map_err(|_| eyre!("connection closed"))?,
                    r = state.changed() => r.map_err(|_| eyre!("connection closed"))?,
                    _ = tokio::time::sleep(WATCH_EVERY) => {}
                }
            }
        };
        tokio::time::timeout(WAIT_FOR_RECONNECT, wait)
            .await
            .map_err(|_| {
                eyre!(
                    "{} is unreachable (still reconnecting)",
                    self.spec.describe()
                )
            })?
    }

    /// A new channel of whatever kind `open` makes; one retry after a drop, since the
    /// session may have died between the check and the request.
    pub async fn with_session<T, F, Fut>(&self, open: F) -> Result<T>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: std::future::Future<Output = Result<T, russh::Error>>,
    {
        let session = self.session().await?;
        match open(session.clone()).await {
            Ok(v) => Ok(v),
            Err(e) if session.is_closed() => {
                let session = self
                    .session()
                    .await
                    .map_err(|again| eyre!("{e}; {again}"))?;
                Ok(open(session).await?)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Watches the session; when it dies, reconnects with backoff and publishes each step.
/// Holds only a weak reference so dropping the last handle ends it.
async fn watchdog(weak: Weak<SshConnection>, backoff: Backoff) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(conn) = weak.upgrade() else {
            return;
        };
        let dead = conn.session.borrow().as_ref().is_none_or(|s| s.is_closed());
        if !dead {
            continue;
        }
        conn.session.send_replace(None);
        drop(conn);
        if !reconnect(&weak, backoff).await {
            return;
        }
    }
}

/// `true` once connected again; `false` after giving up (state `Failed`) or when the
/// connection is no longer wanted.
async fn reconnect(weak: &Weak<SshConnection>, backoff: Backoff) -> bool {
    let mut last_error = "the connection dropped".to_string();
    for attempt in 1..=backoff.attempts {
        let Some(conn) = weak.upgrade() else {
            return false;
        };
        conn.state.send_replace(ConnectionState::Reconnecting {
            attempt,
            last_error: last_error.clone(),
        });
        match session::open(conn.spec.clone(), conn.prompter.clone()).await {
            Ok(s) => {
                conn.session.send_replace(Some(Arc::new(s)));
                conn.generation.send_modify(|g| *g += 1);
                conn.state.send_replace(ConnectionState::Connected);
                conn.start_job_shell();
                return true;
            }
            Err(e) => {
                last_error = format!("{e:#}");
                // A refused host key or login will not fix itself by retrying.
                if e.downcast_ref::<session::Refusal>().is_some() {
                    conn.state.send_replace(ConnectionState::Failed(last_error));
                    return false;
                }
            }
        }
        drop(conn);
        tokio::time::sleep(backoff.delay(attempt)).await;
    }
    if let Some(conn) = weak.upgrade() {
        conn.state.send_replace(ConnectionState::Failed(last_error));
    }
    false
}
