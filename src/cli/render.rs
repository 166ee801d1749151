//! `odoo-ops render`: the stack's files for a domain and a droplet size, into a directory.
//! A fresh directory is written at once; changes to existing files are shown as diffs and
//! written only after a yes (or `--yes`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use color_eyre::Result;
use serde::Serialize;

use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::stack::update::{self, Change, Plan};
use crate::stack::{self, Domain, DropletSize, StackOptions, sizing};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The public host name Odoo answers on, e.g. erp.example.com.
    #[arg(long)]
    pub domain: String,
    /// The droplet size slug; decides workers and memory limits.
    #[arg(long, default_value = sizing::DEFAULT_SIZE,
          value_parser = super::Offered(super::size_slugs), hide_possible_values = true)]
    pub size: String,
    /// Add a Redis service.
    #[arg(long)]
    pub redis: bool,
    /// The stack directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write changes to existing files without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print JSON instead of text (no diffs: they may hold configuration you did not ask to print).
    #[arg(long)]
    pub json: bool,
    /// Odoo image (default: keep .env's, else `odoo`).
    #[arg(long)]
    pub image: Option<String>,
    /// Odoo image tag (default: keep .env's, else `18.0`).
    #[arg(long)]
    pub tag: Option<String>,
    /// The one database the stack serves (odoo.conf's db_name and dbfilter).
    #[arg(long, value_name = "NAME", default_value = "odoo")]
    pub db_name: String,
    /// Host loopback port for Odoo's HTTP workers.
    #[arg(long, default_value_t = 8069)]
    pub http_port: u16,
    /// Host loopback port for Odoo's gevent (websocket) server.
    #[arg(long, default_value_t = 8072)]
    pub gevent_port: u16,
    /// nginx `listen` for plain HTTP (repeatable; default 80 and [::]:80).
    #[arg(long, value_name = "ADDR")]
    pub listen_http: Vec<String>,
    /// nginx `listen` for HTTPS (repeatable; default 443 and [::]:443).
    #[arg(long, value_name = "ADDR")]
    pub listen_https: Vec<String>,
    /// TLS certificate (default: Let's Encrypt's fullchain.pem for the domain).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<String>,
    /// TLS key (default: Let's Encrypt's privkey.pem for the domain).
    #[arg(long, value_name = "FILE")]
    pub cert_key: Option<String>,
    /// nginx cache directory for static files.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<String>,
    /// nginx log directory for the site.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<String>,
    /// ACME webroot for certbot challenges.
    #[arg(long, value_name = "DIR")]
    pub acme_root: Option<String>,
}

impl RenderArgs {
    /// Everything the user typed, checked before anything is read or written: each value
    /// by its kind ([`StackOptions::validate`]), the error naming the flag.
    pub fn options(&self) -> Result<StackOptions, String> {
        let domain = Domain::parse(&self.domain).map_err(|e| format!("--domain: {e}"))?;
        let size = DropletSize::by_slug(&self.size).ok_or_else(|| {
            let known: Vec<&str> = stack::SIZES.iter().map(|s| s.slug).collect();
            format!(
                "--size: unknown size {:?}; known sizes: {}",
                self.size,
                known.join(", ")
            )
        })?;
        let mut o = StackOptions::new(domain, *size);
        o.redis = self.redis;
        o.odoo_image = self.image.clone();
        o.odoo_tag = self.tag.clone();
        o.db_name = self.db_name.clone();
        o.http_port = self.http_port;
        o.gevent_port = self.gevent_port;
        if !self.listen_http.is_empty() {
            o.edge.listen_http = self.listen_http.clone();
        }
        if !self.listen_https.is_empty() {
            o.edge.listen_https = self.listen_https.clone();
        }
        let set = |slot: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *slot = v.clone();
            }
        };
        set(&mut o.edge.certificate, &self.cert);
        set(&mut o.edge.certificate_key, &self.cert_key);
        set(&mut o.edge.cache_dir, &self.cache_dir);
        set(&mut o.edge.log_dir, &self.log_dir);
        set(&mut o.edge.acme_root, &self.acme_root);
        o.validate().map_err(|e| e.to_string())?;
        Ok(o)
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    dir: &'a std::path::Path,
    domain: &'a str,
    size: &'a DropletSize,
    sizing: &'a stack::Sizing,
    image: &'a str,
    tag: &'a str,
    files: &'a [update::FileChange],
    written: bool,
    backups: Vec<PathBuf>,
    /// Why nothing was written, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<&'a str>,
}

pub fn run(args: RenderArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("odoo-ops render: {e}; nothing was written");
            return Ok(super::exit::ERROR);
        }
    };
    let rt = super::runtime()?;
    // `--host` renders into a directory on that host, over the same SSH connection.
    let target = match rt.block_on(connect_target(remote, settings)) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("odoo-ops render: {e:#}; nothing was written");
            return Ok(super::exit::ERROR);
        }
    };
    let (rendered, plan) = match rt.block_on(async {
        let existing = update::read_existing(&target, &args.out).await?;
        let rendered = stack::render(&options, &existing)?;
        let plan = update::plan(&target, &args.out, &rendered).await?;
        color_eyre::Result::<_>::Ok((rendered, plan))
    }) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("odoo-ops render: {e:#}; nothing was written");
            return Ok(super::exit::ERROR);
        }
    };

    let mut pending = None;
    let proceed = if !plan.needs_write() {
        false
    } else if !plan.replaces_existing() || args.yes {
        true
    } else {
        if !args.json {
            print_diffs(&plan);
        }
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !args.json {
            let yes = confirm(&plan)?;
            if !yes {
                pending = Some("not confirmed");
            }
            yes
        } else {
            pending = Some("existing files differ; re-run with --yes to write them");
            false
        }
    };
    let applied = if proceed {
        let stamp = update::backup_stamp();
        match rt.block_on(update::apply(&target, &plan, &stamp)) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("odoo-ops render: {e:#}");
                return Ok(super::exit::ERROR);
            }
        }
    } else {
        None
    };

    if args.json {
        let report = Report {
            dir: &args.out,
            domain: options.domain.as_str(),
            size: &options.size,
            sizing: &rendered.sizing,
            image: &rendered.image,
            tag: &rendered.tag,
            files: &plan.changes,
            written: applied.is_some(),
            backups: applied
                .as_ref()
                .map(|a| a.backups.clone())
                .unwrap_or_default(),
            pending,
        };
        super::print_json(&report)?;
    } else {
        print_summary(&plan, &rendered, applied.as_ref(), pending);
    }
    Ok(if pending.is_some() {
        super::exit::PROBLEM
    } else {
        super::exit::OK
    })
}

fn print_diffs(plan: &Plan) {
    for c in plan
        .changes
        .iter()
        .filter(|c| c.change == Change::Update || c.mode_differs)
    {
        print!("{}", c.diff());
    }
}

fn confirm(plan: &Plan) -> Result<bool> {
    let n = plan
        .changes
        .iter()
        .filter(|c| c.change != Change::Unchanged || c.mode_differs)
        .count();
    eprint!(
        "Write {n} file(s) in {} (backups are kept)? [y/N] ",
        plan.dir.display()
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn print_summary(
    plan: &Plan,
    rendered: &stack::RenderedStack,
    applied: Option<&update::Applied>,
    pending: Option<&str>,
) {
    let z = &rendered.sizing;
    println!(
        "stack     {} (image {}:{}, {} workers, {} cron)",
        plan.dir.display(),
        rendered.image,
        rendered.tag,
        z.workers,
        z.max_cron_threads
    );
    for c in &plan.changes {
        let state = match (c.change, applied.is_some()) {
            (Change::Unchanged, _) if !c.mode_differs => "unchanged",
            (Change::Create, true) => "created",
            (_, true) => "updated",
            (Change::Create, false) => "would create",
            (_, false) => "would update",
        };
        println!("{:<9} {} ({:o})", state, c.path.display(), c.mode);
    }
    if let Some(a) = applied {
        for b in &a.backups {
            println!("backup    {}", b.display());
        }
    }
    if let Some(p) = pending {
        println!("not written: {p}");
    }
}
