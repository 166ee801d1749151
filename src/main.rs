use clap::Parser;
use odoo_ops::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    // With RUST_BACKTRACE set (common on a developer's machine), color-eyre would capture
    // and resolve a backtrace for every error report created, and the console creates
    // them as a matter of course (a host that does not answer, a failing check): each
    // costs milliseconds of CPU and the symbol tables it reads stay in memory for good
    // (~35 MB in the console bench). Errors are reported by their messages; panics keep
    // their backtraces (color-eyre reads RUST_BACKTRACE for those), and
    // RUST_LIB_BACKTRACE=1 still asks for them on errors.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first statement of main; no other thread exists yet to read the
        // environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    // First of all: every error and panic report from here on restores the terminal
    // before it prints.
    if let Err(e) = odoo_ops::tui::terminal::install_hooks() {
        eprintln!("odoo-ops: {e}");
    }
    cli::run(Cli::parse())
}
