use clap::Parser;
use odoo_ops::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli::run(cli)
}
