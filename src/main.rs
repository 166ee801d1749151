use clap::Parser;
use odoo_ops::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    // First of all: every error and panic report from here on restores the terminal
    // before it prints.
    if let Err(e) = odoo_ops::tui::terminal::install_hooks() {
        eprintln!("odoo-ops: {e}");
    }
    cli::run(Cli::parse())
}
