//! One host the console is about: its target, the Docker worker, the logs worker (and
//! the log sources it follows), the jobs that work on the host, and the channels their
//! results arrive on. The event loop holds one and replaces it when the operator picks
//! another host: dropping a session stops everything of its host, and because each
//! session has its own channels, nothing the old host still had in flight can reach the
//! panes of the new one.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::effect::Effect;
use super::jobs::{ConsoleJob, JobKind};
use super::message::Message;
use crate::docker::{self, DockerHandle};
use crate::jobs::{JobEvent, JobRunner};
use crate::logs::sources::LogSources;
use crate::logs::worker::{self as logs_worker, LogsCommand, LogsHandle};
use crate::ssh::ConnectionState;
use crate::target::Target;

pub struct HostSession {
    pub target: Target,
    /// How the status bar names this host.
    pub label: String,
    /// Results of this host's workers and background tasks.
    pub messages: mpsc::UnboundedReceiver<Message>,
    tx: mpsc::UnboundedSender<Message>,
    pub jobs: JobRunner<ConsoleJob>,
    pub job_events: mpsc::UnboundedReceiver<JobEvent<ConsoleJob>>,
    logs: LogsHandle,
    logs_task: JoinHandle<()>,
    docker: DockerHandle,
    log_sources: LogSources,
    /// Over SSH, the link's state (connected, reconnecting, lost) for the status bar.
    pub ssh_state: Option<watch::Receiver<ConnectionState>>,
    /// Tasks that forward the workers' output as messages, stopped with the session.
    forwarders: Vec<JoinHandle<()>>,
}

impl HostSession {
    /// Start the workers for `target` (on the current runtime) and settle a change an
    /// earlier console left unfinished on it (killed mid-fix); what that found arrives
    /// as a [`Message::HostNotice`].
    pub fn start(target: Target, label: String, buffer_lines: usize, readonly: bool) -> Self {
        let (tx, messages) = mpsc::unbounded_channel();
        let (jobs, job_events) = JobRunner::new();
        let (logs, logs_task) = logs_worker::spawn(buffer_lines);
        let mut docker = docker::worker::spawn(target.clone(), docker::Scope::default(), readonly);
        let (_, no_events) = mpsc::unbounded_channel();
        let docker_events = std::mem::replace(&mut docker.events, no_events);
        let mut session = HostSession {
            ssh_state: target.connection_state(),
            log_sources: LogSources::new(target.clone(), logs.clone()),
            target,
            label,
            messages,
            tx,
            jobs,
            job_events,
            logs,
            logs_task,
            docker,
            forwarders: Vec::new(),
        };
        session.forward(docker_events);
        session.log_sources.start();
        let (target, tx) = (session.target.clone(), session.tx.clone());
        session.forwarders.push(tokio::spawn(async move {
            let notes = match crate::workflow::recover(&target).await {
                Ok(notes) => notes,
                Err(e) => vec![format!("could not read the change journal: {e:#}")],
            };
            for note in notes {
                let _ = tx.send(Message::HostNotice(note));
            }
        }));
        session
    }

    /// Forward what the logs and Docker workers publish as messages.
    fn forward(&mut self, mut docker_events: mpsc::UnboundedReceiver<docker::DockerEvent>) {
        let mut snapshots = self.logs.snapshots.clone();
        let tx = self.tx.clone();
        self.forwarders.push(tokio::spawn(async move {
            while snapshots.changed().await.is_ok() {
                let snapshot = snapshots.borrow_and_update().clone();
                if tx.send(Message::Logs(snapshot)).is_err() {
                    return;
                }
            }
        }));
        let mut models = self.docker.model.clone();
        let tx = self.tx.clone();
        self.forwarders.push(tokio::spawn(async move {
            while models.changed().await.is_ok() {
                let model = models.borrow_and_update().clone();
                if tx.send(Message::Containers(model)).is_err() {
                    return;
                }
            }
        }));
        let tx = self.tx.clone();
        self.forwarders.push(tokio::spawn(async move {
            while let Some(event) = docker_events.recv().await {
                if tx.send(Message::Docker(event)).is_err() {
                    return;
                }
            }
        }));
    }

    /// Start the work an effect about this host asks for. Returns the effect back when
    /// it is not this host's (the console's own: quitting, DigitalOcean, switching).
    pub fn start_effect(&mut self, effect: Effect) -> Option<Effect> {
        match effect {
            Effect::Logs(command) => {
                self.logs.send(command);
            }
            Effect::Docker(command) => {
                self.docker.send(command);
            }
            Effect::OpenContainerLogs { container, name } => {
                self.log_sources.follow_container(container, &name)
            }
            Effect::Reconnect => {
                if let Target::Ssh(ssh) = &self.target {
                    ssh.connection().retry();
                }
            }
            effect => match JobKind::of(&effect) {
                Some(kind) if kind.is_host_bound() => {
                    if let Some(job) = ConsoleJob::new(&self.target, effect) {
                        self.jobs.submit(job);
                    }
                }
                _ => return Some(effect),
            },
        }
        None
    }

    /// The logs view's height changed.
    pub fn logs_viewport(&self, rows: usize) {
        self.logs.send(LogsCommand::Viewport(rows));
    }

    /// Log sources appear with containers (Docker's model changed) and with Odoo
    /// servers on the host (looked for again when a refresh of the host's facts lists
    /// Odoo-like processes other than the last one did).
    pub fn look_for_log_sources(&mut self, message: &Message) {
        match message {
            Message::Containers(model) => self.log_sources.on_containers(model),
            Message::HostFacts(Ok(facts)) => self.log_sources.on_host_facts(facts),
            _ => {}
        }
    }
}

impl Drop for HostSession {
    fn drop(&mut self) {
        // The Docker worker stops with its handle; the log followers with the logs
        // worker; running jobs are cancelled so no command of the old host keeps going.
        for task in &self.forwarders {
            task.abort();
        }
        self.logs_task.abort();
        self.log_sources.stop();
        self.jobs.cancel_all();
    }
}
