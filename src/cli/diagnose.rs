//! `odoo-ops diagnose`: the 502 checklist headless. Exit 0 healthy, 1 problem found,
//! 2 could not check. `--json` prints the shape documented in docs/diagnose-json.md.

use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use color_eyre::Result;

use crate::checks::model::{Report, Status, Verdict};
use crate::checks::{DiagnoseOptions, OdooLocation, diagnose};

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The site's server_name (default: the most Odoo-looking server block).
    #[arg(long, value_name = "D")]
    pub domain: Option<String>,
    /// The compose project Odoo runs in.
    #[arg(long, value_name = "P")]
    pub compose_project: Option<String>,
    /// nginx's main config (default: the running master's -c, else the packaged default).
    #[arg(long, value_name = "FILE")]
    pub nginx_conf: Option<PathBuf>,
    /// nginx's prefix (-p).
    #[arg(long, value_name = "DIR")]
    pub nginx_prefix: Option<PathBuf>,
    /// The nginx binary.
    #[arg(long, value_name = "PATH")]
    pub nginx_binary: Option<String>,
    /// Odoo's container (name or id) instead of looking for it.
    #[arg(long, value_name = "NAME", conflicts_with = "odoo_conf")]
    pub odoo_container: Option<String>,
    /// Odoo runs on the host with this config file.
    #[arg(long, value_name = "FILE")]
    pub odoo_conf: Option<PathBuf>,
    /// Minutes of nginx's error log to classify.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub error_log_minutes: u32,
    /// Connect the edge checks from this machine to this address, instead of from the
    /// host to nginx's listen address.
    #[arg(long, value_name = "IP")]
    pub edge_connect: Option<IpAddr>,
    /// Also trust this CA (PEM) for the edge, on top of the system store.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Warn when the edge certificate expires within this many days.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub cert_warn_days: i64,
}

impl DiagnoseArgs {
    pub fn options(&self) -> Result<DiagnoseOptions> {
        let mut extra = Vec::new();
        if let Some(f) = &self.ca_file {
            extra.push(
                std::fs::read(f).map_err(|e| color_eyre::eyre::eyre!("{}: {e}", f.display()))?,
            );
        }
        Ok(DiagnoseOptions {
            domain: self.domain.clone(),
            compose_project: self.compose_project.clone(),
            nginx_conf: self.nginx_conf.clone(),
            nginx_prefix: self.nginx_prefix.clone(),
            nginx_binary: self.nginx_binary.clone(),
            odoo: match (&self.odoo_container, &self.odoo_conf) {
                (Some(c), _) => OdooLocation::Container(c.clone()),
                (None, Some(f)) => OdooLocation::ConfigFile(f.clone()),
                _ => OdooLocation::Auto,
            },
            error_log_minutes: self.error_log_minutes,
            edge_connect: self.edge_connect,
            extra_root_certs: extra,
            cert_warn_days: self.cert_warn_days,
            ..Default::default()
        })
    }
}

pub fn run(args: DiagnoseArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let options = args.options()?;
    let (report, _) = super::runtime()?.block_on(async {
        // Not reaching the host is "could not check" (exit 2), not a diagnosis.
        let target = connect_target(remote, settings).await?;
        Ok::<_, color_eyre::Report>(diagnose(&target, &options).await)
    })?;
    if args.json {
        super::print_json(&report)?;
    } else {
        print!("{}", render_text(&report));
    }
    Ok(exit_code(&report))
}

pub fn exit_code(report: &Report) -> u8 {
    match report.status {
        Status::Healthy => super::exit::OK,
        Status::Problem => super::exit::PROBLEM,
        Status::CouldNotCheck => super::exit::ERROR,
    }
}

/// What an operator reads: the root cause first, then each check with its evidence when
/// it did not pass, then the fix.
pub fn render_text(r: &Report) -> String {
    let mut out = format!("odoo-ops diagnose: {}\n", r.target);
    match &r.root_cause {
        Some(c) => out += &format!("ROOT CAUSE ({}): {}\n", c.check, c.sentence),
        None if r.status == Status::Healthy => out += "No problem found.\n",
        None => {
            out += "Could not check.\n";
            for c in r.checks.iter().filter(|c| c.outcome.could_not_check) {
                out += &format!("  {}: {}\n", c.id, c.outcome.summary);
            }
        }
    }
    out += &format!(
        "{} pass, {} warn, {} fail, {} skipped in {:.0} ms\n",
        r.counts.pass, r.counts.warn, r.counts.fail, r.counts.skipped, r.timings.total_ms
    );
    let mut group = None;
    for c in &r.checks {
        if group != Some(c.group) {
            group = Some(c.group);
            out += &format!("\n== {}\n", c.group.title());
        }
        let o = &c.outcome;
        out += &format!(
            "[{}] {:<24} {}: {}\n",
            o.verdict.label(),
            c.id,
            c.title,
            o.summary
        );
        if matches!(o.verdict, Verdict::Fail | Verdict::Warn) {
            for ran in &o.evidence.ran {
                out += &format!("       ran: {ran}\n");
            }
            for line in o.evidence.lines.iter().take(12) {
                out += &format!("       | {line}\n");
            }
            if let Some(cause) = &o.cause {
                out += &format!("       cause: {cause}\n");
            }
            if let Some(fix) = &o.fix {
                out += &format!("       fix: {}\n", fix.summary);
                if let Some(cmd) = &fix.command {
                    out += &format!("         $ {cmd}\n");
                }
                if let Some(diff) = &fix.diff {
                    for l in diff.lines() {
                        out += &format!("         {l}\n");
                    }
                }
            }
        }
    }
    out
}
