//! Connecting the console to another host while it runs: the SSH connection is made in a
//! background task, and the host-key question it may need is asked inside the console
//! (a modal) instead of on the terminal the console's screen covers.
//!
//! What is trusted and what is written to known_hosts is decided where the tty prompt's
//! answer is used too ([`crate::ssh::session`]): this module only carries the question
//! to the screen and the operator's yes or no back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::cli::remote::{RemoteArgs, resolve};
use crate::config::HostEntry;
use crate::ssh::{Environment, HostKeyQuestion, Passphrase, Prompter};
use crate::target::{SshTarget, Target};

/// Which droplet to connect to, as the Droplets pane knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The droplet's name (an alias in config.toml `[hosts.NAME]` may say how to log in).
    pub name: String,
    /// Its public IPv4.
    pub address: String,
}

impl ConnectRequest {
    /// Where to connect: the `[hosts.NAME]` alias when config.toml has one for the
    /// droplet (its user, port and key), else `root@IPv4` (DigitalOcean's images log in
    /// as root), to which `~/.ssh/config` still applies as it does for `odoo-ops HOST`.
    pub fn destination(&self, hosts: &BTreeMap<String, HostEntry>) -> String {
        if hosts.contains_key(&self.name) {
            self.name.clone()
        } else {
            format!("root@{}", self.address)
        }
    }
}

/// An unknown host key waiting for the operator, and where the answer goes.
pub struct HostKeyAsk {
    pub question: HostKeyQuestion,
    pub answer: oneshot::Sender<bool>,
}

/// What a connection under way tells the event loop.
pub enum ConnectEvent {
    /// Ask the operator about this host key (the connection waits for the answer).
    Ask(HostKeyAsk),
    /// The connection is made (the target and how to name it), or why not.
    Done {
        request: ConnectRequest,
        result: Result<(Target, String), String>,
    },
}

/// Asks inside the console: the question goes to the event loop, which shows it in a
/// modal; the answer comes back from the operator's key. No answer (the console closed,
/// the question dropped) is a no.
pub struct ConsolePrompter {
    asks: mpsc::UnboundedSender<ConnectEvent>,
}

impl Prompter for ConsolePrompter {
    fn confirm_host_key(&self, question: HostKeyQuestion) -> BoxFuture<'_, bool> {
        let (answer, answered) = oneshot::channel();
        let sent = self
            .asks
            .send(ConnectEvent::Ask(HostKeyAsk { question, answer }))
            .is_ok();
        Box::pin(async move { sent && answered.await.unwrap_or(false) })
    }

    /// Passphrases are not typed into the console (its keys are the console's): an
    /// encrypted key is used through ssh-agent.
    fn passphrase(&self, _: PathBuf, _: u32) -> BoxFuture<'_, Option<Passphrase>> {
        Box::pin(async { None })
    }

    fn interactive(&self) -> bool {
        true
    }
}

/// Connect in the background (as the user of `env`: its `~/.ssh/config`, keys, agent
/// and known_hosts); events (a question, the outcome) arrive on `events`. Aborting the
/// returned task gives the connection up.
pub fn spawn(
    request: ConnectRequest,
    hosts: BTreeMap<String, HostEntry>,
    env: Environment,
    events: mpsc::UnboundedSender<ConnectEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let prompter = Arc::new(ConsolePrompter {
            asks: events.clone(),
        });
        let result = connect(&request, &hosts, &env, prompter).await;
        let _ = events.send(ConnectEvent::Done { request, result });
    })
}

async fn connect(
    request: &ConnectRequest,
    hosts: &BTreeMap<String, HostEntry>,
    env: &Environment,
    prompter: Arc<ConsolePrompter>,
) -> Result<(Target, String), String> {
    let destination = request.destination(hosts);
    let spec =
        resolve(&destination, &RemoteArgs::default(), hosts, env).map_err(|e| format!("{e:#}"))?;
    let target = SshTarget::connect(spec, prompter)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let label = format!("{} ({})", request.name, target.describe());
    Ok((Target::Ssh(target), label))
}
