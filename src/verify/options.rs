//! What to verify and how long to wait. The defaults verify the stack as a droplet runs it
//! (Odoo found by [`crate::odoo::locate`]'s rule, the edge from nginx's own configuration);
//! a deploy names the new container and its loopback ports instead, and leaves the edge
//! out until nginx is switched to it.

use std::time::Duration;

use crate::checks::DiagnoseOptions;
use crate::checks::gather::edge::EdgePlan;

use super::extra::ExtraGate;

/// Where the edge gates (HTTPS health, login page, websocket through nginx) connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EdgeSelector {
    /// The site nginx serves, read from its configuration as the diagnosis reads it
    /// (`discovery.domain` picks the server block).
    #[default]
    FromNginx,
    /// This URL and connection (a deploy that already knows them).
    Plan(EdgePlan),
    /// No edge gates: a new container verified on its own ports before nginx points at it.
    Skip,
}

/// Host ports to probe instead of the ones the container publishes (or odoo.conf names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortOverride {
    pub http: Option<u16>,
    pub gevent: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// How Odoo and nginx are found (Odoo's location, compose project, nginx's files, the
    /// edge's address and trusted roots): the diagnosis' own options, so both agree on
    /// what "the stack" is.
    pub discovery: DiagnoseOptions,
    pub ports: PortOverride,
    pub edge: EdgeSelector,
    /// The compose service of the database; default: odoo.conf's `db_host` when it is a
    /// service name, else `db`.
    pub db_service: Option<String>,
    /// The Odoo database whose modules must be settled; default: odoo.conf's `db_name`,
    /// else the server's `-d`, else every database that holds Odoo's tables.
    pub database: Option<String>,
    /// Gates from the config file (`[[verify.gates]]`).
    pub extra: Vec<ExtraGate>,
    /// Each gate's own bound, per attempt.
    pub gate_timeout: Duration,
    /// Wait for readiness: poll the gates that did not pass until every hard gate passes
    /// or this much time has gone. `None`: one round.
    pub wait: Option<Duration>,
    /// The pause between rounds while waiting.
    pub poll_interval: Duration,
    /// Lines of a failing gate's container log shown with it.
    pub log_tail: usize,
    /// Run the diagnosis when a hard gate fails, for its root cause.
    pub diagnose_on_failure: bool,
    /// The restart count the container gate compares with; `None`: what the first round
    /// sees. A deploy's new container gets `Some(0)`: it was just created, so any restart
    /// is a crash, even one before the verify began.
    pub restart_baseline: Option<i64>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            discovery: DiagnoseOptions {
                // The diagnosis run for a root cause must not hold a failed deploy long.
                deadline: Duration::from_secs(20),
                ..Default::default()
            },
            ports: PortOverride::default(),
            edge: EdgeSelector::FromNginx,
            db_service: None,
            database: None,
            extra: Vec::new(),
            gate_timeout: Duration::from_secs(5),
            wait: None,
            poll_interval: Duration::from_millis(500),
            log_tail: 20,
            restart_baseline: None,
            diagnose_on_failure: true,
        }
    }
}
