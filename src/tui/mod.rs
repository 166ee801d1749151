//! The console: one event loop, state, and drawing as a function of state.

pub mod app;
pub mod connect;
mod console_log;
pub mod deploy_job;
pub mod draw;
pub mod droplets_job;
pub mod effect;
mod event_loop;
pub mod format;
pub mod host_session;
pub mod jobs;
pub mod layout;
pub mod message;
pub mod modules_job;
pub mod palette;
pub mod panes;
pub mod stack_job;
pub mod terminal;
pub mod text_input;
pub mod wizard;

use crate::config::Settings;

/// Open the console on `target` (connected on `runtime`, which keeps its SSH session
/// alive). Returns the process exit code.
pub fn run(
    runtime: tokio::runtime::Runtime,
    settings: Settings,
    readonly: bool,
    target: crate::target::Target,
) -> color_eyre::Result<u8> {
    let result = runtime.block_on(event_loop::run(settings, readonly, target));
    terminal::restore();
    // Background tasks (a slow SSH command, a docker stream) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}
