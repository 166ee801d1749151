//! One handle to a host: run a command, stream its output, read and write a file, open a
//! TCP connection from the host (to one of its loopback ports, or any address it reaches),
//! reach its Docker engine.
//!
//! Every other engine module is written against [`Target`], so a check or a workflow runs
//! the same on the machine the console runs on as on a droplet reached over SSH.

pub mod command;
pub mod local;
pub mod ssh;

use std::path::Path;

use color_eyre::eyre::Result;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

pub use command::{Command, quote};
pub use local::LocalTarget;
pub use ssh::SshTarget;

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status as a shell's `$?` reports it: a command killed by signal N reads
    /// 128 + N (a remote shell cannot tell the two apart, so neither does this). `None`
    /// only when no status came back at all.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One piece of a streaming command's life, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The command ended; no chunk follows.
    Exit(Option<i32>),
}

/// A running command whose output arrives as it is produced. Dropping it stops the
/// command.
pub struct Streaming {
    pub chunks: mpsc::Receiver<StreamChunk>,
    /// Dropped together with the stream; the producer kills the command when it notices.
    pub(crate) _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A byte stream to a port on the target's loopback interface.
pub trait Tunnel: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Tunnel for T {}

/// `host:port`, with an IPv6 address in brackets.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Where commands run. Local and remote variants behave the same; see the behavioural
/// suite in `tests/target_behaviour.rs`.
#[derive(Clone)]
pub enum Target {
    Local(LocalTarget),
    Ssh(SshTarget),
}

impl Target {
    pub fn local() -> Self {
        Target::Local(LocalTarget::default())
    }

    /// How the status bar and evidence name this host: `local (hostname)` or `user@host:port`.
    pub fn describe(&self) -> String {
        match self {
            Target::Local(t) => t.describe(),
            Target::Ssh(t) => t.describe(),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Target::Local(_))
    }

    /// Connected / reconnecting / failed, for the status bar; `None` for the local
    /// machine, which cannot drop.
    pub fn connection_state(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<crate::ssh::ConnectionState>> {
        match self {
            Target::Local(_) => None,
            Target::Ssh(t) => Some(t.state()),
        }
    }

    /// Bumped each time the connection is re-established; constant for the local machine.
    /// A stream that ended while this changed was cut by a drop, not finished.
    pub fn generation(&self) -> u64 {
        match self {
            Target::Local(_) => 0,
            Target::Ssh(t) => t.connection().generation(),
        }
    }

    /// Wait until the connection is usable again (at once when it is, or is local).
    pub async fn wait_until_connected(&self) -> Result<()> {
        match self {
            Target::Local(_) => Ok(()),
            Target::Ssh(t) => t.connection().session().await.map(|_| ()),
        }
    }

    /// Run to completion and collect stdout, stderr and the exit status. A command that
    /// exits non-zero is not an error here: the caller decides what the status means.
    pub async fn run(&self, command: &Command) -> Result<Output> {
        match self {
            Target::Local(t) => t.run(command).await,
            Target::Ssh(t) => t.run(command).await,
        }
    }

    /// Start a command and receive its output as it comes (for `tail -F`, `docker logs -f`).
    pub async fn stream(&self, command: &Command) -> Result<Streaming> {
        match self {
            Target::Local(t) => t.stream(command).await,
            Target::Ssh(t) => t.stream(command).await,
        }
    }

    pub async fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        match self {
            Target::Local(t) => t.read_file(path).await,
            Target::Ssh(t) => t.read_file(path).await,
        }
    }

    /// Write atomically (a temporary file beside it, then rename) with the given mode, so a
    /// reader never sees half a file and a secret is never readable by others, not even briefly.
    pub async fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        match self {
            Target::Local(t) => t.write_file(path, contents, mode).await,
            Target::Ssh(t) => t.write_file(path, contents, mode).await,
        }
    }

    /// A TCP connection to `127.0.0.1:port` as seen from the target.
    pub async fn connect_loopback(&self, port: u16) -> Result<Box<dyn Tunnel>> {
        self.connect_tcp("127.0.0.1", port).await
    }

    /// A TCP connection to `host:port` as seen from the target: over SSH the host resolves
    /// the name and makes the connection (a direct-tcpip channel), so an address that only
    /// the host can reach (its loopback, a private interface) works from a laptop too.
    pub async fn connect_tcp(&self, host: &str, port: u16) -> Result<Box<dyn Tunnel>> {
        match self {
            Target::Local(t) => t.connect_tcp(host, port).await,
            Target::Ssh(t) => t.connect_tcp(host, port).await,
        }
    }

    /// A connection to the Unix socket at `path` on the target (over SSH a
    /// direct-streamlocal channel, opened by sshd as the login user).
    pub async fn connect_unix(&self, path: &str) -> Result<Box<dyn Tunnel>> {
        match self {
            Target::Local(t) => t.connect_unix(path).await,
            Target::Ssh(t) => t.connect_unix(path).await,
        }
    }

    /// The target's Docker engine, through its socket.
    pub async fn docker(&self) -> Result<bollard::Docker> {
        match self {
            Target::Local(t) => t.docker().await,
            Target::Ssh(t) => t.docker().await,
        }
    }
}
