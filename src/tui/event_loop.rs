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
use super::jobs::{ConsoleJob, JobKind};
use super::message::Message;
use super::{console_log, draw, terminal};
use crate::config::Settings;
use crate::docker::{self, DockerHandle};
use crate::jobs::JobRunner;
use crate::logs::sources::LogSources;
use crate::logs::worker::{self as logs_worker, LogsCommand, LogsHandle};
use crate::target::Target;

/// At most ~60 frames a second; a burst of events in between is coalesced.
const FRAME: Duration = Duration::from_millis(16);
/// Ticks drive periodic refreshes; nothing is redrawn on a tick unless something changed.
const TICK: Duration = Duration::from_secs(1);
const HOST_REFRESH_TICKS: u64 = 10;

/// Starts background work for effects: commands to the logs and Docker workers, and jobs
/// on the job runner (one running per kind, the latest request waiting behind it).
struct Worker {
    target: Target,
    tx: mpsc::UnboundedSender<Message>,
    jobs: JobRunner<ConsoleJob>,
    logs: LogsHandle,
    docker: DockerHandle,
    /// Which logs are followed, and when to look for more.
    log_sources: LogSources,
    /// The DigitalOcean client (or why there is none), for the Droplets pane.
    cloud: super::droplets_job::Cloud,
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
            Effect::OpenContainerLogs { container, name } => {
                self.log_sources.follow_container(container, &name)
            }
            Effect::Reconnect => {
                if let Target::Ssh(ssh) = &self.target {
                    ssh.connection().retry();
                }
            }
            Effect::RefreshHost
            | Effect::RunChecks
            | Effect::RerunCheck(_)
            | Effect::ApplyFix(..)
            | Effect::PlanStack(_)
            | Effect::WriteStack(_)
            | Effect::LoadModules(_)
            | Effect::ReadModulePlan(_)
            | Effect::RunModulePlan { .. }
            | Effect::ResetPendingModules(_)
            | Effect::LoadDroplets
            | Effect::DropletAction { .. }
            | Effect::LoadDeploys(_)
            | Effect::PreviewDeploy(_)
            | Effect::RunDeploy(_) => {
                if let Some(job) = ConsoleJob::new(&self.target, effect) {
                    self.jobs.submit(job.with_cloud(self.cloud.clone()));
                }
            }
        }
    }
}

impl Worker {
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
        self.log_sources.start();
    }
}

impl Worker {
    /// Log sources appear with containers (Docker's model changed) and with Odoo
    /// servers on the host (looked for again when a refresh of the host's facts lists
    /// Odoo-like processes other than the last one did).
    fn look_for_log_sources(&mut self, message: &Message) {
        match message {
            Message::Containers(model) => self.log_sources.on_containers(model),
            Message::HostFacts(Ok(facts)) => self.log_sources.on_host_facts(facts),
            _ => {}
        }
    }
}

/// `HH:MM:SS` (UTC, as the console shows times) now.
fn time_of_day() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    crate::logs::time::format_ms(ms)[11..19].to_string()
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

/// How the console ended: its exit status.
fn exit_status(signal: Option<SignalKind>) -> u8 {
    // A shell reports a process ended by signal N as 128+N; a console that restored the
    // terminal first should look the same to whoever ran it.
    signal.map_or(crate::cli::exit::OK, |s| 128 + s.as_raw_value() as u8)
}

/// The hidden test trigger for a panic in a background task (see tests/e2e_terminal.rs):
/// `ODOO_OPS_TEST_PANIC_TASK=1` panics in a spawned task once the first frame is drawn.
const TEST_PANIC_TASK: &str = "ODOO_OPS_TEST_PANIC_TASK";

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
    // The token is looked for once (environment, doctl's config, config.toml).
    let cloud = crate::digitalocean::Client::from_environment(&settings.config);
    let mut app = App::new(settings, readonly, target.describe(), connection);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (jobs, mut job_events) = JobRunner::new();
    let (logs, _logs_task) = logs_worker::spawn(buffer_lines);
    let mut docker = docker::worker::spawn(target.clone(), docker::Scope::default(), readonly);
    let (_, no_events) = mpsc::unbounded_channel();
    let docker_events = std::mem::replace(&mut docker.events, no_events);
    let mut worker = Worker {
        log_sources: LogSources::new(target.clone(), logs.clone()),
        target,
        tx,
        jobs,
        logs,
        docker,
        cloud,
    };
    worker.start_engines(docker_events);
    // A change an earlier console left unfinished (killed mid-fix) is settled first.
    let (target, tx) = (worker.target.clone(), worker.tx.clone());
    tokio::spawn(async move {
        let notes = match crate::workflow::recover(&target).await {
            Ok(notes) => notes,
            Err(e) => vec![format!("could not read the change journal: {e:#}")],
        };
        for note in notes {
            let _ = tx.send(Message::HostNotice(note));
        }
    });

    let mut tui = terminal::enter()?;
    let size = tui.size()?;
    app.size = Rect::new(0, 0, size.width, size.height);

    let mut input = EventStream::new();
    // Each ends the console with the terminal restored and exit status 128+N.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    // In raw mode ctrl+z is a key; a stop sent from outside must still leave the shell a
    // usable terminal, and `fg` must bring the console back.
    let mut sigtstp = signal(SignalKind::from_raw(libc::SIGTSTP))?;
    let mut sigcont = signal(SignalKind::from_raw(libc::SIGCONT))?;
    let mut ended_by = None;
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
            terminal::draw(&mut tui, |frame| draw::draw(frame, &app))?;
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
                if std::env::var_os(TEST_PANIC_TASK).is_some() {
                    tokio::spawn(async {
                        panic!("{TEST_PANIC_TASK} is set: a background task panics on purpose");
                    });
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
                worker.look_for_log_sources(&message);
                dirty |= app.apply(message);
                // Take everything already waiting so a burst costs one frame.
                while let Ok(message) = rx.try_recv() {
                    worker.look_for_log_sources(&message);
                    dirty |= app.apply(message);
                }
            }
            Some(event) = job_events.recv() => {
                if let Some(message) = super::jobs::message(event) {
                    // A job's result (fresh host facts) may bring log sources too.
                    worker.look_for_log_sources(&message);
                    dirty |= app.apply(message);
                }
            }
            _ = ticks.tick() => {
                tick_count += 1;
                console_log::collect();
                // A refresh still running brings fresh facts; the tick need not queue another.
                if tick_count.is_multiple_of(HOST_REFRESH_TICKS)
                    && !worker.jobs.is_busy(JobKind::Host)
                {
                    worker.start(Effect::RefreshHost);
                }
                // The console log pane shows records as they arrive.
                dirty |= app.show_console_log;
            }
            Ok(()) = async { ssh_state.as_mut().expect("guarded").changed().await }, if ssh_state.is_some() => {
                let state = ssh_state.as_mut().expect("guarded").borrow_and_update().clone();
                for effect in app.connection_changed(Connection::from(state), &time_of_day()) {
                    worker.start(effect);
                }
                dirty = true;
            }
            _ = sigterm.recv() => { ended_by = Some(SignalKind::terminate()); break }
            _ = sighup.recv() => { ended_by = Some(SignalKind::hangup()); break }
            _ = sigint.recv() => { ended_by = Some(SignalKind::interrupt()); break }
            _ = sigtstp.recv() => {
                terminal::suspend(&mut tui)?;
                dirty = true;
            }
            // Continued after a stop we did not see (SIGSTOP): the screen may be stale.
            _ = sigcont.recv() => {
                terminal::resume(&mut tui)?;
                dirty = true;
            }
            _ = tokio::time::sleep_until(last_frame + FRAME), if dirty => {}
        }
    }
    terminal::leave();
    Ok(exit_status(ended_by))
}
