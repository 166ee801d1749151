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
use super::{draw, terminal};
use crate::config::Settings;
use crate::host;
use crate::target::Target;

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
    checks_job: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    fn start(&mut self, effect: Effect) {
        match effect {
            Effect::Quit => {}
            Effect::RunChecks | Effect::RerunCheck(_) | Effect::ApplyFix(..) => {
                // One diagnosis at a time: the running one brings fresh results anyway.
                if self.checks_job.as_ref().is_some_and(|j| !j.is_finished()) {
                    return;
                }
                let (target, tx) = (self.target.clone(), self.tx.clone());
                self.checks_job = Some(tokio::spawn(checks_job(target, tx, effect)));
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
    let _ = tui_logger::init_logger(log::LevelFilter::Debug);
    tui_logger::set_default_level(log::LevelFilter::Info);
    for warning in &settings.warnings {
        log::warn!("{warning}");
    }
    let connection = if target.is_local() {
        Connection::Local
    } else {
        Connection::Connected
    };
    // Over SSH the status bar follows the connection: reconnecting, lost, back.
    let mut ssh_state = match &target {
        Target::Ssh(ssh) => Some(ssh.state()),
        Target::Local(_) => None,
    };
    let mut app = App::new(settings, readonly, target.describe(), connection);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut worker = Worker {
        target,
        tx,
        host_job: None,
        checks_job: None,
    };

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
                dirty |= app.apply(message);
                // Take everything already waiting so a burst costs one frame.
                while let Ok(message) = rx.try_recv() {
                    dirty |= app.apply(message);
                }
            }
            _ = ticks.tick() => {
                tick_count += 1;
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
