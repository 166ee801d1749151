//! The console: one event loop, state, and drawing as a function of state.

pub mod format;

use crate::config::Settings;

pub fn run(_settings: Settings, _readonly: bool) -> color_eyre::Result<u8> {
    Ok(0)
}
