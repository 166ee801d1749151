//! `odoo-ops releases [--dir DIR] [--json]`: the releases a stack has had on its host,
//! newest first (what `rollback --to TAG` picks from).

use std::path::PathBuf;

use clap::Args;
use color_eyre::Result;

use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::deploy::releases::{self, Release};
use crate::deploy::{StackState, clock};

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// The stack's directory on the host.
    #[arg(long, value_name = "DIR", default_value = crate::deploy::DEFAULT_STACK_DIR)]
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ReleasesArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let list = super::runtime()?.block_on(async {
        let target = connect_target(remote, settings).await?;
        let state = StackState::locate(&target, &args.dir).await?;
        releases::list(&target, &state).await
    })?;
    if args.json {
        super::print_json(&list)?;
    } else {
        print!("{}", render_text(&list));
    }
    Ok(super::exit::OK)
}

fn render_text(list: &[Release]) -> String {
    if list.is_empty() {
        return "no release recorded for this stack yet\n".to_string();
    }
    let mut out = format!(
        "{:<20} {:<24} {:<17} {:<20} {}\n",
        "TAG", "DEPLOYED (UTC)", "DIGEST", "BY", "RESULT"
    );
    for r in list {
        let digest = r
            .digest
            .as_deref()
            .map(|d| {
                d.strip_prefix("sha256:")
                    .unwrap_or(d)
                    .chars()
                    .take(12)
                    .collect()
            })
            .unwrap_or_else(|| "-".to_string());
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out += &format!(
            "{:<20} {:<24} {:<17} {:<20} {}\n",
            r.tag,
            clock::rfc3339(r.deployed_ms),
            digest,
            r.by,
            outcome
        );
    }
    out
}
