//! The one event loop: terminal input, ticks, background results and signals arrive
//! through one `tokio::select!`; the screen is redrawn only when state changed, at most
//! once per frame interval, so a burst of messages costs one frame.

use std::time::Duration;

use color_eyre::Result;
use crossterm::event::EventStream;
use futures::StreamExt;
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::app::{App, Connection};
use super::effect::Effect;
use super::message::Message;
use super::{console_log, draw, terminal};
use crate::config::Settings;
use crate::docker::{self, DockerHandle, Model};
use crate::host;
use crate::logs::Format;
use crate::logs::discover as logs_discover;
use crate::logs::worker::{self as logs_worker, LogsCommand, LogsHandle, SourceSpec};
use crate::target::{Command, Target};

/// nginx's logs where Debian and the official image put them; followed when present.
const NGINX_LOGS: [(&str, &str, Format); 2] = [
    (
        "nginx access",
        "/var/log/nginx/access.log",
        Format::NginxAccess,
    ),
    (
        "nginx error",
        "/var/log/nginx/error.log",
        Format::NginxError,
    ),
];

/// At most ~60 frames a second; a burst of events in between is coalesced.
const FRAME: Duration = Duration::from_millis(16);
/// Ticks drive periodic refreshes; nothing is redrawn on a tick unless something changed.
const TICK: Duration = Duration::from_secs(1);
const HOST_REFRESH_TICKS: u64 = 10;

/// Starts background work for effects, one job per kind at a time: a refresh asked for
/// while one runs is dropped, since the running one will bring fresh facts anyway.
struct Worker {
    target: Target,
    tx: mpsc::UnboundedSender<Message>,
    host_job: Option<tokio::task::JoinHandle<()>>,
    logs: LogsHandle,
    docker: DockerHandle,
    /// Containers whose logs are already a source.
    followed: std::collections::HashSet<String>,
    /// Odoo containers whose odoo.conf was looked at for a log file.
    logfile_probed: std::collections::HashSet<String>,
    checks_job: Option<tokio::task::JoinHandle<()>>,
    stack_job: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    fn start(&mut self, effect: Effect) {
        match effect {
            Effect::Quit => {}
            Effect::Logs(command) => {
                self.logs.send(command);
            }
            Effect::Docker(command) => {
                self.docker.send(command);
            }
            Effect::OpenContainerLogs { container, name } => self.follow_container(container, name),
            Effect::RunChecks | Effect::RerunCheck(_) | Effect::ApplyFix(..) => {
                // One diagnosis at a time: the running one brings fresh results anyway.
                if self.checks_job.as_ref().is_some_and(|j| !j.is_finished()) {
                    return;
                }
                let (target, tx) = (self.target.clone(), self.tx.clone());
                self.checks_job = Some(tokio::spawn(checks_job(target, tx, effect)));
            }
            Effect::PlanStack(_) | Effect::WriteStack(_) => {
                // One stack job at a time; the pane waits for its answer before asking again.
                if self.stack_job.as_ref().is_some_and(|j| !j.is_finished()) {
                    return;
                }
                let (target, tx) = (self.target.clone(), self.tx.clone());
                self.stack_job = Some(tokio::spawn(async move {
                    if let Some(message) = super::stack_job::run(&target, effect).await {
                        let _ = tx.send(message);
                    }
                }));
            }
            Effect::Reconnect => {
                if let Target::Ssh(ssh) = &self.target {
                    ssh.connection().retry();
                }
            }
            Effect::RefreshHost => {
                if self.host_job.as_ref().is_some_and(|j| !j.is_finished()) {
                    return;
                }
                let (target, tx) = (self.target.clone(), self.tx.clone());
                self.host_job = Some(tokio::spawn(async move {
                    let result = host::gather(&target).await.map_err(|e| format!("{e:#}"));
                    let _ = tx.send(Message::HostFacts(result));
                }));
            }
        }
    }
}

impl Worker {
    fn follow_container(&mut self, container: String, name: String) {
        if self.followed.insert(container.clone()) {
            self.logs.add_source(SourceSpec::Container {
                target: self.target.clone(),
                container,
                name,
                since_ms: None,
            });
        }
    }

    /// Odoo's containers are followed as soon as Docker lists them, and so is the log
    /// file their odoo.conf names (looked for in the background, once per container).
    fn follow_odoo(&mut self, model: &Model) {
        for c in &model.containers {
            if crate::odoo::locate::is_odoo_container(&c.service, &c.name, &c.image) {
                self.follow_container(c.id.clone(), c.service.clone());
                if self.logfile_probed.insert(c.id.clone()) {
                    let (target, logs, id) = (self.target.clone(), self.logs.clone(), c.id.clone());
                    tokio::spawn(async move {
                        let Ok(docker) = target.docker().await else {
                            return;
                        };
                        if let Some(spec) =
                            logs_discover::container_logfile(&target, &docker, &id).await
                        {
                            logs.add_source(spec);
                        }
                    });
                }
            }
        }
    }

    /// Start the logs and Docker workers and forward what they publish as messages.
    fn start_engines(&mut self, mut docker_events: mpsc::UnboundedReceiver<docker::DockerEvent>) {
        let mut snapshots = self.logs.snapshots.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while snapshots.changed().await.is_ok() {
                let snapshot = snapshots.borrow_and_update().clone();
                if tx.send(Message::Logs(snapshot)).is_err() {
                    return;
                }
            }
        });
        let mut models = self.docker.model.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while models.changed().await.is_ok() {
                let model = models.borrow_and_update().clone();
                if tx.send(Message::Containers(model)).is_err() {
                    return;
                }
            }
        });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(event) = docker_events.recv().await {
                if tx.send(Message::Docker(event)).is_err() {
                    return;
                }
            }
        });
        // Odoo run as a host process (systemd, a source install) with a log file.
        let (target, logs) = (self.target.clone(), self.logs.clone());
        tokio::spawn(async move {
            for spec in logs_discover::host_logfiles(&target).await {
                logs.add_source(spec);
            }
        });
        let (target, logs) = (self.target.clone(), self.logs.clone());
        tokio::spawn(async move {
            for (name, path, format) in NGINX_LOGS {
                let readable = Command::new("test").arg("-r").arg(path);
                if target.run(&readable).await.is_ok_and(|o| o.success()) {
                    logs.add_source(SourceSpec::File {
                        target: target.clone(),
                        path: path.into(),
                        name: name.into(),
                        format,
                    });
                }
            }
        });
    }
}

/// Rows of log text the Logs pane shows: its height less borders, the sources line and
/// the bottom line.
fn logs_rows(app: &App) -> u16 {
    app.layout()
        .panes
        .iter()
        .find(|(p, _)| *p == super::panes::PaneId::Logs)
        .map_or(0, |(_, r)| r.height.saturating_sub(4))
}

/// The Checks pane's background work: a diagnosis, one check, or a confirmed fix followed
/// by a fresh diagnosis.
async fn checks_job(target: Target, tx: mpsc::UnboundedSender<Message>, effect: Effect) {
    use crate::checks::{DiagnoseOptions, apply, diagnose, run::rerun};
    let options = DiagnoseOptions::default();
    match effect {
        Effect::RerunCheck(id) => {
            let result = rerun(&target, &options, id)
                .await
                .ok_or_else(|| format!("unknown check {id}"));
            let _ = tx.send(Message::CheckRerun(result));
            return;
        }
        Effect::ApplyFix(action, nginx) => {
            let fix = apply::ConfirmedFix { action };
            let result = apply::apply(&target, &nginx, &fix)
                .await
                .map_err(|e| format!("{e:#}"));
            let _ = tx.send(Message::FixApplied(result));
        }
        _ => {}
    }
    let (report, obs) = diagnose(&target, &options).await;
    let _ = tx.send(Message::ChecksReport(Ok((
        Box::new(report),
        obs.nginx.invocation,
    ))));
}

pub async fn run(settings: Settings, readonly: bool, target: Target) -> Result<u8> {
    console_log::install();
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let connection = if target.is_local() {
        Connection::Local
    } else {
        Connection::Connected
    };
    let buffer_lines = settings.config.logs.buffer_lines;
    // Over SSH the status bar follows the connection: reconnecting, lost, back.
    let mut ssh_state = match &target {
        Target::Ssh(ssh) => Some(ssh.state()),
        Target::Local(_) => None,
    };
    let mut app = App::new(settings, readonly, target.describe(), connection);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (logs, _logs_task) = logs_worker::spawn(buffer_lines);
    let mut docker = docker::worker::spawn(target.clone(), docker::Scope::default(), readonly);
    let (_, no_events) = mpsc::unbounded_channel();
    let docker_events = std::mem::replace(&mut docker.events, no_events);
    let mut worker = Worker {
        target,
        tx,
        host_job: None,
        logs,
        docker,
        followed: Default::default(),
        logfile_probed: Default::default(),
        checks_job: None,
        stack_job: None,
    };
    worker.start_engines(docker_events);

    let mut tui = terminal::enter()?;
    let size = tui.size()?;
    app.size = Rect::new(0, 0, size.width, size.height);

    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tick_count: u64 = 0;

    for effect in app.startup_effects() {
        worker.start(effect);
    }
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut frames: u64 = 0;
    let exit_after_first_frame = std::env::var_os("ODOO_OPS_BENCH_FIRST_FRAME").is_some();

    loop {
        if dirty && Instant::now() >= last_frame + FRAME {
            if app.show_console_log {
                console_log::collect();
            }
            let rows = logs_rows(&app);
            if rows != app.logs.rows {
                app.logs.rows = rows;
                worker
                    .logs
                    .send(LogsCommand::Viewport(rows.max(1) as usize));
            }
            tui.draw(|frame| draw::draw(frame, &app))?;
            dirty = false;
            last_frame = Instant::now();
            frames += 1;
            if frames == 1 {
                if exit_after_first_frame {
                    break;
                }
                if std::env::var_os("ODOO_OPS_DEBUG_PANIC").is_some() {
                    panic!(
                        "ODOO_OPS_DEBUG_PANIC is set: panicking on purpose to test terminal restore"
                    );
                }
            }
        }
        if app.should_quit {
            break;
        }
        tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => {
                    let (changed, effects) = app.on_terminal(&event);
                    dirty |= changed;
                    for effect in effects {
                        worker.start(effect);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(message) = rx.recv() => {
                if let Message::Containers(model) = &message {
                    worker.follow_odoo(model);
                }
                dirty |= app.apply(message);
                // Take everything already waiting so a burst costs one frame.
                while let Ok(message) = rx.try_recv() {
                    if let Message::Containers(model) = &message {
                        worker.follow_odoo(model);
                    }
                    dirty |= app.apply(message);
                }
            }
            _ = ticks.tick() => {
                tick_count += 1;
                console_log::collect();
                if tick_count.is_multiple_of(HOST_REFRESH_TICKS) {
                    worker.start(Effect::RefreshHost);
                }
                // The console log pane shows records as they arrive.
                dirty |= app.show_console_log;
            }
            Ok(()) = async { ssh_state.as_mut().expect("guarded").changed().await }, if ssh_state.is_some() => {
                let state = ssh_state.as_mut().expect("guarded").borrow_and_update().clone();
                app.connection = Connection::from(state);
                dirty = true;
            }
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = tokio::time::sleep_until(last_frame + FRAME), if dirty => {}
        }
    }
    terminal::restore();
    Ok(crate::cli::exit::OK)
}
