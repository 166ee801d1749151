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
        .with(RedactingLayer)
        .with(LevelFilter::INFO)
        .try_init();
}

/// Move records that arrived since the last call into the pane's buffer.
pub fn collect() {
    tui_logger::move_events();
}

/// tui-logger's tracing layer, with every record's text through [`crate::redact`] before
/// it reaches the pane's buffer: an error that quotes a command line or a connection URL
/// shows no secret. (Span fields are not shown: the engine logs plain events.)
struct RedactingLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RedactingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = crate::redact::text(&fields.0);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => log::Level::Error,
            tracing::Level::WARN => log::Level::Warn,
            tracing::Level::INFO => log::Level::Info,
            tracing::Level::DEBUG => log::Level::Debug,
            tracing::Level::TRACE => log::Level::Trace,
        };
        tui_logger::Drain::new().log(
            &log::Record::builder()
                .args(format_args!("{text}"))
                .level(level)
                .target(meta.target())
                .file(meta.file())
                .line(meta.line())
                .module_path(meta.module_path())
                .build(),
        );
    }
}

/// An event's fields as tui-logger shows them: the message, then ` name: value`.
#[derive(Default)]
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = match field.name() {
            "message" => write!(self.0, " {value:?}"),
            // tracing-log's bridge puts the `log` record's origin in these; the record
            // built above carries them already.
            name if name.starts_with("log.") => Ok(()),
            name => write!(self.0, " {name}: {value:?}"),
        };
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        let _ = match field.name() {
            "message" => write!(self.0, " {value}"),
            name if name.starts_with("log.") => Ok(()),
            name => write!(self.0, " {name}: {value}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_log_shows_no_secret() {
        let subscriber = tracing_subscriber::registry().with(RedactingLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                "cannot connect to postgres://odoo:hunter2@db/odoo (odoo --db_password=hunter3)"
            );
        });
        tui_logger::move_events();
        let shown: Vec<String> = tui_logger_records();
        let line = shown
            .iter()
            .find(|l| l.contains("cannot connect"))
            .expect("the record reached tui-logger");
        assert!(!line.contains("hunter"), "{line}");
        assert!(
            line.contains("postgres://odoo:<redacted>@db/odoo"),
            "{line}"
        );
        assert!(line.contains("--db_password=<redacted>"), "{line}");
    }

    /// The messages in tui-logger's main buffer, drawn the way the pane draws them.
    fn tui_logger_records() -> Vec<String> {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        let mut terminal = Terminal::new(TestBackend::new(160, 20)).unwrap();
        terminal
            .draw(|f| {
                f.render_widget(tui_logger::TuiLoggerWidget::default(), f.area());
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect()
    }
}
