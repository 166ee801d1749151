//! The console's own log: `log` and `tracing` records collected for the tui-logger pane.
//!
//! tui-logger's `init_logger` runs a thread that wakes every 10 ms to move records into
//! the widget's buffer: most of an idle console's CPU. Instead its tracing layer records
//! into the hot buffer and the event loop moves records itself, once a tick and before a
//! frame that shows the pane.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// Route `log` and `tracing` records (info and above) to the console log pane.
pub fn install() {
    tui_logger::set_default_level(log::LevelFilter::Info);
    // `try_init` also bridges the `log` crate (tracing-log), which most of the engine uses.
    let _ = tracing_subscriber::registry()
        .with(tui_logger::TuiTracingSubscriberLayer)
        .with(LevelFilter::INFO)
        .try_init();
}

/// Move records that arrived since the last call into the pane's buffer.
pub fn collect() {
    tui_logger::move_events();
}
