//! The Docker worker: a task driven by [`DockerCommand`]s that keeps the [`Model`] of the
//! compose containers on a target, with one task per stream: Docker's event stream
//! (containers appear, die, restart, turn unhealthy, get OOM-killed) and one stats
//! stream per running container. Polling is only a safety net for missed events.
//!
//! The model is published through a `watch` channel; results of actions and inspections
//! arrive as [`DockerEvent`]s. Nothing here prints.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::EventMessageTypeEnum;
use bollard::query_parameters::{
    EventsOptions, ListContainersOptions, RestartContainerOptions, StatsOptions,
    StopContainerOptions,
};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::compose;
use super::model::{Container, Model, State};
use super::stats;
use crate::target::Target;

/// The full listing is redone this often in case an event was missed.
pub const POLL_EVERY: Duration = Duration::from_secs(30);
/// CPU and memory samples (one a second per container) are published together, at most
/// this often, so a stack of ten containers costs one redraw a second, not ten.
pub const STATS_EVERY: Duration = Duration::from_secs(1);

/// Which containers to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// One compose project, or every container with compose labels.
    pub project: Option<String>,
}

impl Scope {
    fn label_filter(&self) -> String {
        match &self.project {
            Some(p) => format!("{}={p}", compose::PROJECT_LABEL),
            None => compose::PROJECT_LABEL.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerCommand {
    /// List and inspect everything again now.
    Refresh,
    Restart(String),
    Stop(String),
    Start(String),
    /// Full `docker inspect` JSON (secrets in the environment redacted).
    Inspect(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Restart,
    Stop,
    Start,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Restart => "restart",
            Action::Stop => "stop",
            Action::Start => "start",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEvent {
    ActionDone {
        action: Action,
        container: String,
        result: Result<(), String>,
    },
    Inspected {
        container: String,
        result: Result<String, String>,
    },
}

pub struct DockerHandle {
    commands: mpsc::UnboundedSender<DockerCommand>,
    pub model: watch::Receiver<Arc<Model>>,
    pub events: mpsc::UnboundedReceiver<DockerEvent>,
    task: JoinHandle<()>,
}

impl DockerHandle {
    pub fn send(&self, command: DockerCommand) -> bool {
        self.commands.send(command).is_ok()
    }

    /// A sender for faces that only hold a clone.
    pub fn sender(&self) -> mpsc::UnboundedSender<DockerCommand> {
        self.commands.clone()
    }

    pub fn snapshot(&self) -> Arc<Model> {
        self.model.borrow().clone()
    }
}

impl Drop for DockerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start watching. With `readonly`, actions are refused here too, not only hidden.
pub fn spawn(target: Target, scope: Scope, readonly: bool) -> DockerHandle {
    spawn_with_poll(target, scope, readonly, Some(POLL_EVERY))
}

/// As [`spawn`], with the safety poll at another interval, or none at all (tests use
/// none, to show that the event stream alone keeps the model current).
pub fn spawn_with_poll(
    target: Target,
    scope: Scope,
    readonly: bool,
    poll: Option<Duration>,
) -> DockerHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (model_tx, model_rx) = watch::channel(Arc::new(Model::default()));
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(
        target, scope, readonly, poll, cmd_rx, model_tx, event_tx,
    ));
    DockerHandle {
        commands: cmd_tx,
        model: model_rx,
        events: event_rx,
        task,
    }
}

/// Messages from the stream tasks to the worker loop.
enum Internal {
    /// A container event: re-inspect it (`destroy` removes it).
    Changed {
        id: String,
        action: String,
    },
    Stats {
        id: String,
        cpu: Option<f64>,
        mem: Option<(u64, u64)>,
    },
    StatsEnded(String),
    EventsUp,
    EventsDown(String),
}

struct Worker {
    docker: Docker,
    scope: Scope,
    model: Model,
    publish: watch::Sender<Arc<Model>>,
    internal: mpsc::UnboundedSender<Internal>,
    stats_tasks: HashMap<String, JoinHandle<()>>,
    events_task: Option<JoinHandle<()>>,
    /// When samples received since the last publish are due to be published.
    stats_due: Option<tokio::time::Instant>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        for t in self.stats_tasks.values() {
            t.abort();
        }
        if let Some(t) = &self.events_task {
            t.abort();
        }
    }
}

async fn run(
    target: Target,
    scope: Scope,
    readonly: bool,
    poll_every: Option<Duration>,
    mut commands: mpsc::UnboundedReceiver<DockerCommand>,
    publish: watch::Sender<Arc<Model>>,
    events: mpsc::UnboundedSender<DockerEvent>,
) {
    let docker = match target.docker().await {
        Ok(d) => d,
        Err(e) => {
            publish.send_replace(Arc::new(Model {
                error: Some(format!("{e:#}")),
                ..Model::default()
            }));
            return;
        }
    };
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel();
    let mut w = Worker {
        docker,
        scope,
        model: Model::default(),
        publish,
        internal: internal_tx,
        stats_tasks: HashMap::new(),
        events_task: None,
        stats_due: None,
    };
    w.start_events();
    w.refresh().await;
    w.model.compose = compose::detect(&target).await;
    w.publish();
    let mut poll = tokio::time::interval(poll_every.unwrap_or(POLL_EVERY));
    poll.tick().await;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(DockerCommand::Refresh) => w.refresh().await,
                Some(DockerCommand::Inspect(id)) => {
                    let docker = w.docker.clone();
                    let events = events.clone();
                    tokio::spawn(async move {
                        let result = docker
                            .inspect_container(&id, None)
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|info| redacted_json(&info));
                        let _ = events.send(DockerEvent::Inspected { container: id, result });
                    });
                }
                Some(action) => w.act(action, readonly, &events),
            },
            Some(message) = internal_rx.recv() => w.internal(message).await,
            _ = poll.tick(), if poll_every.is_some() => w.refresh().await,
            _ = tokio::time::sleep_until(w.stats_due.unwrap_or_else(tokio::time::Instant::now)), if w.stats_due.is_some() => {
                w.stats_due = None;
                w.publish();
            }
        }
    }
}

impl Worker {
    fn publish(&mut self) {
        // Pending samples go out with this publish.
        self.stats_due = None;
        self.model.generation += 1;
        self.publish.send_replace(Arc::new(self.model.clone()));
    }

    fn start_events(&mut self) {
        let docker = self.docker.clone();
        let tx = self.internal.clone();
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![self.scope.label_filter()]),
        ]);
        self.events_task = Some(tokio::spawn(async move {
            loop {
                let options = EventsOptions {
                    filters: Some(filters.clone()),
                    ..EventsOptions::default()
                };
                let mut stream = docker.events(Some(options));
                let _ = tx.send(Internal::EventsUp);
                let why = loop {
                    match stream.next().await {
                        Some(Ok(event)) => {
                            if event.typ != Some(EventMessageTypeEnum::CONTAINER) {
                                continue;
                            }
                            let id = event.actor.and_then(|a| a.id).unwrap_or_default();
                            let action = event.action.unwrap_or_default();
                            // exec_* events say nothing about the container's state.
                            if id.is_empty() || action.starts_with("exec_") {
                                continue;
                            }
                            if tx.send(Internal::Changed { id, action }).is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => break e.to_string(),
                        None => break "the event stream ended".to_string(),
                    }
                };
                if tx.send(Internal::EventsDown(why)).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }

    /// List the scope's containers and inspect each.
    async fn refresh(&mut self) {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![self.scope.label_filter()],
            )])),
            ..ListContainersOptions::default()
        };
        let list = match self.docker.list_containers(Some(options)).await {
            Ok(l) => l,
            Err(e) => {
                self.model.error = Some(format!(
                    "could not list containers: {}",
                    super::errors::explain(&e.to_string())
                ));
                self.publish();
                return;
            }
        };
        let ids: HashSet<String> = list.into_iter().filter_map(|c| c.id).collect();
        let gone: Vec<String> = self
            .model
            .containers
            .iter()
            .filter(|c| !ids.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        for id in gone {
            self.forget(&id);
        }
        for id in ids {
            self.inspect(&id).await;
        }
        self.model.loaded = true;
        self.model.error = None;
        self.publish();
    }

    /// Bring one container up to date; true when it still exists.
    async fn inspect(&mut self, id: &str) -> bool {
        match self.docker.inspect_container(id, None).await {
            Ok(info) => {
                let Some(mut c) = Container::from_inspect(&info) else {
                    return false;
                };
                if self.model.get(id).and_then(|o| o.digest.clone()).is_none() {
                    c.digest = self.digest(&c.image_id).await;
                }
                let running = c.state == State::Running;
                let id = c.id.clone();
                self.model.upsert(c);
                if running {
                    self.watch_stats(&id);
                }
                true
            }
            Err(_) => {
                self.forget(id);
                false
            }
        }
    }

    async fn digest(&self, image_id: &str) -> Option<String> {
        if image_id.is_empty() {
            return None;
        }
        let image = self.docker.inspect_image(image_id).await.ok()?;
        image
            .repo_digests
            .and_then(|d| d.into_iter().next())
            .and_then(|d| d.split_once('@').map(|(_, h)| h.to_string()))
            .or(image.id)
    }

    fn forget(&mut self, id: &str) {
        self.model.remove(id);
        if let Some(t) = self.stats_tasks.remove(id) {
            t.abort();
        }
    }

    fn watch_stats(&mut self, id: &str) {
        if self.stats_tasks.get(id).is_some_and(|t| !t.is_finished()) {
            return;
        }
        let docker = self.docker.clone();
        let tx = self.internal.clone();
        let id = id.to_string();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let options = StatsOptions {
                stream: true,
                one_shot: false,
            };
            let mut stream = docker.stats(&id, Some(options));
            while let Some(Ok(sample)) = stream.next().await {
                let message = Internal::Stats {
                    id: id.clone(),
                    cpu: stats::cpu_percent(&sample),
                    mem: stats::memory(&sample),
                };
                if tx.send(message).is_err() {
                    return;
                }
            }
            let _ = tx.send(Internal::StatsEnded(id));
        });
        self.stats_tasks.insert(task_id, task);
    }

    async fn internal(&mut self, message: Internal) {
        match message {
            Internal::Changed { id, action } => {
                if action == "destroy" {
                    self.forget(&id);
                } else {
                    self.inspect(&id).await;
                }
                self.publish();
            }
            Internal::Stats { id, cpu, mem } => {
                if let Some(c) = self.model.containers.iter_mut().find(|c| c.id == id) {
                    c.usage.push(cpu, mem);
                    self.stats_due
                        .get_or_insert_with(|| tokio::time::Instant::now() + STATS_EVERY);
                }
            }
            Internal::StatsEnded(id) => {
                self.stats_tasks.remove(&id);
            }
            Internal::EventsUp => {
                // Back after a gap (the connection or the engine went away): what
                // happened meanwhile came as no event, so the listing is redone. A
                // removed container leaves the model.
                let after_gap = self.model.error.is_some() && !self.model.live;
                self.model.live = true;
                if after_gap {
                    self.refresh().await;
                } else {
                    self.publish();
                }
            }
            Internal::EventsDown(why) => {
                self.model.live = false;
                self.model.error = Some(format!("Docker events: {why}; reconnecting"));
                self.publish();
            }
        }
    }

    fn act(
        &mut self,
        command: DockerCommand,
        readonly: bool,
        events: &mpsc::UnboundedSender<DockerEvent>,
    ) {
        let (action, id) = match command {
            DockerCommand::Restart(id) => (Action::Restart, id),
            DockerCommand::Stop(id) => (Action::Stop, id),
            DockerCommand::Start(id) => (Action::Start, id),
            _ => return,
        };
        if readonly {
            let _ = events.send(DockerEvent::ActionDone {
                action,
                container: id,
                result: Err("read-only session: actions are disabled".into()),
            });
            return;
        }
        let docker = self.docker.clone();
        let events = events.clone();
        // Stop waits up to 10 s for the container: never in the worker's loop.
        tokio::spawn(async move {
            let result = match action {
                Action::Restart => {
                    docker
                        .restart_container(&id, Some(RestartContainerOptions::default()))
                        .await
                }
                Action::Stop => {
                    docker
                        .stop_container(&id, Some(StopContainerOptions::default()))
                        .await
                }
                Action::Start => docker.start_container(&id, None).await,
            }
            .map_err(|e| e.to_string());
            let _ = events.send(DockerEvent::ActionDone {
                action,
                container: id,
                result,
            });
        });
    }
}

/// `docker inspect` as pretty JSON, secrets hidden by the one redaction policy
/// ([`crate::redact`]): `Env`, `Cmd`/`Args`/`Entrypoint`, `Labels` and every other string.
pub fn redacted_json(info: &bollard::models::ContainerInspectResponse) -> Result<String, String> {
    let mut value = serde_json::to_value(info).map_err(|e| e.to_string())?;
    crate::redact::json(&mut value);
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_environment_are_redacted() {
        let info: bollard::models::ContainerInspectResponse =
            serde_json::from_value(serde_json::json!({
                "Id": "abc",
                "Config": {"Env": ["PGPASSWORD=hunter2", "HOST=db", "ODOO_ADMIN_PASSWD=x", "AWS_SECRET_ACCESS_KEY=k"]}
            }))
            .unwrap();
        let json = redacted_json(&info).unwrap();
        assert!(!json.contains("hunter2") && !json.contains("=x\"") && !json.contains("=k\""));
        assert!(json.contains("HOST=db") && json.contains("PGPASSWORD=<redacted>"));
    }

    #[test]
    fn scope_filters_by_project_label() {
        assert_eq!(
            Scope::default().label_filter(),
            "com.docker.compose.project"
        );
        let s = Scope {
            project: Some("shop".into()),
        };
        assert_eq!(s.label_filter(), "com.docker.compose.project=shop");
    }
}
