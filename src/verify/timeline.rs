//! When each piece of a verify's discovery ran, in ms after the verify began: kept in the
//! report so anyone can see which gate waited for what (and a test can check it).

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use super::model::DiscoveryStep;

pub struct Timeline {
    origin: Instant,
    steps: Mutex<Vec<DiscoveryStep>>,
}

impl Timeline {
    pub fn new(origin: Instant) -> Timeline {
        Timeline {
            origin,
            steps: Mutex::new(Vec::new()),
        }
    }

    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Milliseconds from the verify's start to `at`.
    pub fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_millis() as u64
    }

    /// Run `work`, recorded as `name` from its first poll to its end.
    pub async fn step<F: Future>(&self, name: &str, work: F) -> F::Output {
        let started = Instant::now();
        let out = work.await;
        self.record(name, started);
        out
    }

    /// Record `name` as having run from `started` until now.
    pub fn record(&self, name: &str, started: Instant) {
        self.record_span(name, started, Instant::now());
    }

    /// Record `name` as having run from `started` to `ended` (a step judged later than it
    /// ended: its end is when it ended, not when it was looked at).
    pub fn record_span(&self, name: &str, started: Instant, ended: Instant) {
        let step = DiscoveryStep {
            name: name.to_string(),
            started_ms: self.ms(started),
            ended_ms: self.ms(ended),
        };
        self.steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(step);
    }

    pub fn steps(&self) -> Vec<DiscoveryStep> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The steps' names, as the report shows them.
pub mod steps {
    pub const PROCESS_SNAPSHOT: &str = "process snapshot";
    /// `nginx -t` and `-T` with the usual invocation, started with the snapshot.
    pub const NGINX_DUMP: &str = "nginx -t, nginx -T";
    /// The edge as the process snapshot confirms it (the running master's invocation).
    pub const NGINX_CONFIRMED: &str = "nginx's invocation confirmed by the process snapshot";
    /// Odoo found without waiting for the process snapshot or nginx's upstream (the
    /// locate rule on Docker's containers alone), its gates started on it.
    pub const ODOO_GUESSED: &str = "odoo found before the process snapshot";
    /// The locate rule, run again with the host's processes and nginx's upstream, chose
    /// the same Odoo.
    pub const ODOO_CONFIRMED: &str = "odoo's choice confirmed by the process snapshot";
    /// ... or another one: found again, and its gates run again.
    pub const ODOO_CHOSEN_AGAIN: &str = "odoo chosen otherwise with the process snapshot";
    /// Odoo's container inspected, and its database's container found as odoo.conf would
    /// name it if it named none: `odoo.registry` and the database gates start on them
    /// while odoo.conf is read ([`crate::verify::early`]).
    pub const ODOO_SEEN: &str = "odoo's container seen, before its odoo.conf is read";
    /// odoo.conf named the database the early database gates ran on: their results kept.
    pub const DB_EARLY_KEPT: &str =
        "database gates started before odoo.conf: kept (the same database)";
    /// odoo.conf named another database (host, role, port or name): the early results
    /// thrown away, the gates run on the one it names.
    pub const DB_EARLY_DISCARDED: &str = "database gates started before odoo.conf: discarded (odoo.conf names another database), run again";
    /// Odoo found when the operator named where it runs.
    pub const ODOO_FOUND: &str = "odoo found";
}
