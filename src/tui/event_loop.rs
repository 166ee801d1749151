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

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::app::{App, Connection};
use super::connect::{self, ConnectEvent};
use super::effect::Effect;
use super::host_session::HostSession;
use super::jobs::{ConsoleJob, JobKind};
use super::{console_log, draw, terminal};
use crate::config::Settings;
use crate::jobs::JobRunner;
use crate::target::Target;

/// At most ~60 frames a second; a burst of events in between is coalesced.
const FRAME: Duration = Duration::from_millis(16);
/// Ticks drive periodic refreshes; nothing is redrawn on a tick unless something changed.
const TICK: Duration = Duration::from_secs(1);
const HOST_REFRESH_TICKS: u64 = 10;

/// Starts background work for effects: the host session's (its workers and jobs), the
/// console's own (DigitalOcean jobs), and connecting to another host, which replaces the
/// session once the connection is made.
struct Worker {
    session: HostSession,
    /// The host the console was on before the last switch (its connection kept, so going
    /// back needs no new handshake or question).
    previous: Option<(Target, String)>,
    /// Jobs about the DigitalOcean account, not about a host: they outlive a switch.
    cloud_jobs: JobRunner<ConsoleJob>,
    /// The DigitalOcean client (or why there is none), for the Droplets pane.
    cloud: super::droplets_job::Cloud,
    /// Hosts named in config.toml (how to log in to a droplet that has an alias).
    hosts: std::collections::BTreeMap<String, crate::config::HostEntry>,
    buffer_lines: usize,
    readonly: bool,
    /// The connection under way and its events (a host-key question, the outcome).
    connecting: Option<JoinHandle<()>>,
    connect_tx: mpsc::UnboundedSender<ConnectEvent>,
    /// Where the operator's answer to the host-key question on screen goes.
    host_key_answer: Option<oneshot::Sender<bool>>,
}

impl Worker {
    fn start(&mut self, effect: Effect, app: &mut App) {
        let Some(effect) = self.session.start_effect(effect) else {
            return;
        };
        match effect {
            Effect::Quit => {}
            Effect::Connect(request) => {
                if let Some(old) = self.connecting.take() {
                    old.abort();
                }
                self.connecting = Some(connect::spawn(
                    request,
                    self.hosts.clone(),
                    crate::ssh::Environment::from_process(),
                    self.connect_tx.clone(),
                ));
            }
            Effect::AnswerHostKey(yes) => {
                if let Some(answer) = self.host_key_answer.take() {
                    let _ = answer.send(yes);
                }
            }
            Effect::PreviousHost => {
                if let Some((target, label)) = self.previous.take() {
                    for effect in self.switch_to(target, label, app) {
                        self.start(effect, app);
                    }
                } else {
                    app.connecting = None;
                }
            }
            effect => {
                if let Some(job) = ConsoleJob::new(&self.session.target, effect) {
                    self.cloud_jobs.submit(job.with_cloud(self.cloud.clone()));
                }
            }
        }
    }

    /// Replace the host session with one on `target`: the old one's streams and jobs
    /// stop as it is dropped (its connection is kept as the way back). Returns the work
    /// the panes, reset for the new host, ask for.
    fn switch_to(&mut self, target: Target, label: String, app: &mut App) -> Vec<Effect> {
        let connection = if target.is_local() {
            Connection::Local
        } else {
            Connection::Connected
        };
        let session = HostSession::start(target, label.clone(), self.buffer_lines, self.readonly);
        let old = std::mem::replace(&mut self.session, session);
        self.previous = Some((old.target.clone(), old.label.clone()));
        drop(old);
        app.host_switched(label, connection)
    }

    /// What a connection under way reports.
    fn on_connect(&mut self, event: ConnectEvent, app: &mut App) {
        match event {
            ConnectEvent::Ask(ask) => {
                // A newer question replaces an older one (its connection was given up).
                self.host_key_answer = Some(ask.answer);
                app.ask_host_key(ask.question);
            }
            ConnectEvent::Done { request, result } => {
                self.connecting = None;
                self.host_key_answer = None;
                match result {
                    Ok((target, label)) => {
                        for effect in self.switch_to(target, label, app) {
                            self.start(effect, app);
                        }
                    }
                    Err(why) => app.connect_failed(request.name, why),
                }
            }
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

/// The SSH link's next change (never, for a host without one).
async fn state_changed(
    state: &mut Option<tokio::sync::watch::Receiver<crate::ssh::ConnectionState>>,
) -> Result<(), tokio::sync::watch::error::RecvError> {
    match state {
        Some(state) => state.changed().await,
        None => std::future::pending().await,
    }
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
    // The token is looked for once (environment, doctl's config, config.toml).
    let cloud = crate::digitalocean::Client::from_environment(&settings.config);
    let label = target.describe();
    let buffer_lines = settings.config.logs.buffer_lines;
    let hosts = settings.config.hosts.clone();
    let mut app = App::new(settings, readonly, label.clone(), connection);
    let (cloud_jobs, mut cloud_events) = JobRunner::new();
    let (connect_tx, mut connect_events) = mpsc::unbounded_channel();
    // The host session starts on the runtime, before the screen: a change an earlier
    // console left unfinished on the host is settled first (see HostSession::start).
    let mut worker = Worker {
        session: HostSession::start(target, label, buffer_lines, readonly),
        previous: None,
        cloud_jobs,
        cloud,
        hosts,
        buffer_lines,
        readonly,
        connecting: None,
        connect_tx,
        host_key_answer: None,
    };

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
        worker.start(effect, &mut app);
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
                worker.session.logs_viewport(rows.max(1) as usize);
            }
            terminal::draw(&mut tui, |frame| draw::draw(frame, &app))?;
            dirty = false;
            last_frame = Instant::now();
            frames += 1;
            if frames == 1 {
                if exit_after_first_frame {
                    break;
                }
                // Startup (arguments, settings, the terminal) ran deeper than the loop
                // ever does.
                crate::memory::return_unused_stack();
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
                        worker.start(effect, &mut app);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            // The session's channels: replaced with the session, so nothing the old host
            // still had in flight reaches the panes of the new one.
            Some(message) = worker.session.messages.recv() => {
                worker.session.look_for_log_sources(&message);
                dirty |= app.apply(message);
                // Take everything already waiting so a burst costs one frame.
                while let Ok(message) = worker.session.messages.try_recv() {
                    worker.session.look_for_log_sources(&message);
                    dirty |= app.apply(message);
                }
            }
            Some(event) = worker.session.job_events.recv() => {
                if let Some(message) = super::jobs::message(event) {
                    // A job's result (fresh host facts) may bring log sources too.
                    worker.session.look_for_log_sources(&message);
                    dirty |= app.apply(message);
                }
            }
            Some(event) = cloud_events.recv() => {
                if let Some(message) = super::jobs::message(event) {
                    dirty |= app.apply(message);
                }
            }
            Some(event) = connect_events.recv() => {
                worker.on_connect(event, &mut app);
                dirty = true;
            }
            _ = ticks.tick() => {
                tick_count += 1;
                console_log::collect();
                // A refresh still running brings fresh facts; the tick need not queue another.
                if tick_count.is_multiple_of(HOST_REFRESH_TICKS)
                    && !worker.session.jobs.is_busy(JobKind::Host)
                {
                    worker.start(Effect::RefreshHost, &mut app);
                }
                // The console log pane shows records as they arrive.
                dirty |= app.show_console_log;
            }
            Ok(()) = state_changed(&mut worker.session.ssh_state), if worker.session.ssh_state.is_some() => {
                let state = worker.session.ssh_state.as_mut().expect("guarded").borrow_and_update().clone();
                for effect in app.connection_changed(Connection::from(state), &time_of_day()) {
                    worker.start(effect, &mut app);
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
    terminal::restore();
    Ok(exit_status(ended_by))
}
