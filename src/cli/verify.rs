//! `odoo-ops verify`: the gates a deploy must pass, headless. Exit 0 every hard gate
//! passed, 1 a hard gate failed, 2 could not check. `--json` prints the report
//! (docs/verify.md).

use std::time::Duration;

use clap::Args;
use color_eyre::Result;

use super::diagnose::DiagnoseArgs;
use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::verify::{EdgeSelector, GateStatus, Overall, PortOverride, VerifyOptions, VerifyReport};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// How to find the stack: the diagnosis' options (and `--json`).
    #[command(flatten)]
    pub target: DiagnoseArgs,
    /// Wait for readiness: run the gates again until every hard gate passes or this many
    /// seconds have gone.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
    /// Each gate's timeout, per attempt.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub gate_timeout: u64,
    /// Probe Odoo's HTTP port on this host port instead of the published one.
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// Probe Odoo's gevent port on this host port instead of the published one.
    #[arg(long, value_name = "PORT")]
    pub gevent_port: Option<u16>,
    /// Leave out the edge gates (HTTPS, login page, websocket through nginx).
    #[arg(long)]
    pub no_edge: bool,
    /// The Odoo database whose modules must be settled (default: odoo.conf's db_name, the
    /// server's -d, else every database holding Odoo's tables).
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// The compose service of PostgreSQL (default: odoo.conf's db_host, else `db`).
    #[arg(long, value_name = "SERVICE")]
    pub db_service: Option<String>,
    /// Do not run the diagnosis for a root cause when a gate fails.
    #[arg(long)]
    pub no_diagnose: bool,
}

impl VerifyArgs {
    pub fn options(&self, settings: &Settings) -> Result<VerifyOptions> {
        let defaults = VerifyOptions::default();
        let mut discovery = self.target.options()?;
        discovery.deadline = defaults.discovery.deadline;
        Ok(VerifyOptions {
            discovery,
            ports: PortOverride {
                http: self.http_port,
                gevent: self.gevent_port,
            },
            edge: if self.no_edge {
                EdgeSelector::Skip
            } else {
                EdgeSelector::FromNginx
            },
            db_service: self.db_service.clone(),
            database: self.database.clone(),
            extra: settings.config.verify.gates.clone(),
            gate_timeout: Duration::from_secs(self.gate_timeout.max(1)),
            wait: self.wait.map(Duration::from_secs),
            diagnose_on_failure: !self.no_diagnose,
            ..defaults
        })
    }
}

pub fn run(args: VerifyArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let options = args.options(settings)?;
    let report = super::runtime()?.block_on(async {
        let target = connect_target(remote, settings).await?;
        Ok::<_, color_eyre::Report>(crate::verify::run(&target, &options).await)
    })?;
    if args.target.json {
        super::print_json(&report)?;
    } else {
        print!("{}", render_text(&report));
    }
    Ok(exit_code(&report))
}

pub fn exit_code(report: &VerifyReport) -> u8 {
    match report.status {
        Overall::Passed => super::exit::OK,
        Overall::Failed => super::exit::PROBLEM,
        Overall::CouldNotCheck => super::exit::ERROR,
    }
}

/// Every gate on a line; a gate that did not pass with its evidence and, when it failed,
/// its container's last log lines and Docker's health log.
pub fn render_text(r: &VerifyReport) -> String {
    let verdict = match r.status {
        Overall::Passed => "PASSED",
        Overall::Failed => "FAILED",
        Overall::CouldNotCheck => "COULD NOT CHECK",
    };
    let mut out = format!("odoo-ops verify: {}: {verdict}\n", r.target);
    for s in &r.subject {
        out += &format!("  {s}\n");
    }
    let waited = r
        .waited_up_to_secs
        .map(|w| format!(", waited up to {w} s"))
        .unwrap_or_default();
    out += &format!(
        "{} gates in {} ms, {} round(s){waited}\n\n",
        r.gates.len(),
        r.elapsed_ms,
        r.rounds
    );
    // A container's log is shown once, with the first gate it explains.
    let mut shown: Vec<&str> = Vec::new();
    for g in &r.gates {
        let soft = if g.hard { "" } else { " (soft)" };
        out += &format!(
            "[{}] {:<16} {}{soft}: {}\n",
            g.status.label(),
            g.id,
            g.title,
            g.summary
        );
        if g.status == GateStatus::Pass {
            continue;
        }
        for line in g.evidence.iter().take(12) {
            out += &format!("       | {line}\n");
        }
        if let Some(c) = &g.context {
            if shown.contains(&c.container.as_str()) {
                out += &format!("       (the log of {} is shown above)\n", c.container);
                continue;
            }
            shown.push(&c.container);
            out += &format!("       last log lines ({}):\n", c.log_command);
            for line in &c.log_tail {
                out += &format!("       > {line}\n");
            }
            if let Some(e) = &c.error {
                out += &format!("       ({e})\n");
            }
            if !c.health_log.is_empty() {
                out += &format!("       Docker's health log of {}:\n", c.container);
                for line in &c.health_log {
                    out += &format!("       > {line}\n");
                }
            }
        }
    }
    if let Some(cause) = &r.root_cause {
        out += &format!("\nROOT CAUSE (from the diagnosis): {cause}\n");
    }
    let warnings = r.warnings().count();
    if warnings > 0 {
        out += &format!("\n{warnings} warning(s): see the WARN gates above\n");
    }
    out
}
