//! Odoo's log format, to stdout or the configured `logfile`:
//! `2026-11-22 02:02:12,655 19956 INFO odootest odoo.modules.registry: Registry loaded in 0.660s`.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::clock::Utc;

static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

/// Send log lines to `logfile` (appending, as Odoo's WatchedFileHandler does) or stdout.
pub fn init(logfile: &str) -> std::io::Result<()> {
    let sink: Box<dyn Write + Send> = if logfile.is_empty() {
        Box::new(std::io::stdout())
    } else {
        Box::new(OpenOptions::new().create(true).append(true).open(logfile)?)
    };
    let _ = SINK.set(Mutex::new(sink));
    Ok(())
}

/// One record; `text` may span lines (a traceback follows its message, as in Odoo).
pub fn line(level: &str, db: &str, logger: &str, text: &str) {
    let stamp = Utc::now().log_stamp();
    let pid = std::process::id();
    write_raw(&format!("{stamp} {pid} {level} {db} {logger}: {text}\n"));
}

pub fn info(db: &str, logger: &str, text: &str) {
    line("INFO", db, logger, text);
}

pub fn write_raw(text: &str) {
    match SINK.get() {
        Some(sink) => {
            let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
        }
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
}
