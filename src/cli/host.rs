use clap::Args;
use color_eyre::Result;

use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::host::{self, HostFacts};

#[derive(Debug, Args)]
pub struct HostArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: HostArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let facts = super::runtime()?.block_on(async {
        let target = connect_target(remote, settings).await?;
        host::gather(&target).await
    })?;
    if args.json {
        super::print_json(&facts)?;
    } else {
        print!("{}", render_text(&facts));
    }
    Ok(super::exit::OK)
}

fn render_text(f: &HostFacts) -> String {
    let mut out = String::new();
    out += &format!("host      {} ({}, kernel {})\n", f.hostname, f.os, f.kernel);
    out += &format!(
        "load      {:.2} {:.2} {:.2} on {} CPUs, up {}\n",
        f.load[0],
        f.load[1],
        f.load[2],
        f.cpus,
        crate::tui::format::duration(f.uptime_secs)
    );
    out += &format!(
        "memory    {:.0}% used of {}\n",
        f.memory.used_fraction() * 100.0,
        crate::tui::format::kib(f.memory.total_kib)
    );
    for d in &f.disks {
        out += &format!(
            "disk      {} ({}): {:.0}% used, {} free\n",
            d.label,
            d.mount,
            d.used_fraction() * 100.0,
            crate::tui::format::kib(d.available_kib)
        );
    }
    out += &format!(
        "user      {}{}\n",
        f.user.name,
        if f.user.is_root {
            " (root)".to_string()
        } else {
            format!(
                ": docker group {}, passwordless sudo {}",
                if f.user.in_docker_group { "yes" } else { "NO" },
                if f.user.passwordless_sudo {
                    "yes"
                } else {
                    "NO"
                }
            )
        }
    );
    out += &format!(
        "docker    {}\n",
        match (&f.docker.version, &f.docker.error) {
            (Some(v), _) => format!("answers (engine {v})"),
            (None, Some(e)) => format!("does not answer: {e}"),
            _ => "unknown".into(),
        }
    );
    out += &format!(
        "nginx     {}\n",
        if f.nginx_running {
            "running"
        } else {
            "not running"
        }
    );
    out += &format!(
        "postgres  {}\n",
        if f.postgres_running {
            "running"
        } else {
            "not running"
        }
    );
    for p in f.port_statuses() {
        let addrs = if p.addresses.is_empty() {
            "not listening".to_string()
        } else {
            p.addresses.join(", ")
        };
        let flag = if p.exposed {
            "  EXPOSED beyond loopback"
        } else {
            ""
        };
        out += &format!("port {:<5} {:<12} {addrs}{flag}\n", p.port, p.role);
    }
    out
}
