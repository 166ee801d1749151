//! `odoo-ops droplets [--tag T] [--name SUBSTR] [--json]`: the DigitalOcean droplets the
//! token can see, as the Droplets pane lists them (exit 0 listed, 2 could not list).

use clap::Args;
use color_eyre::Result;

use crate::config::Settings;
use crate::digitalocean::listing::{self, ListFilter};
use crate::digitalocean::{Client, DropletFilter};

#[derive(Debug, Args)]
pub struct DropletsArgs {
    /// Only droplets with this tag (asked of the API).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only droplets whose name contains this (any case).
    #[arg(long, value_name = "SUBSTR")]
    pub name: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DropletsArgs, settings: &Settings) -> Result<u8> {
    let client = Client::from_environment(&settings.config)?;
    let droplets = super::runtime()?.block_on(client.droplets(&DropletFilter {
        tag: args.tag.clone(),
    }))?;
    let filter = ListFilter {
        tag: args.tag,
        name: args.name,
    };
    let rows = listing::rows(&droplets, &filter, crate::deploy::clock::now_ms());
    if args.json {
        super::print_json(&rows)?;
    } else if rows.is_empty() {
        println!("no droplet matches");
    } else {
        print!("{}", listing::table(&rows));
    }
    Ok(super::exit::OK)
}
