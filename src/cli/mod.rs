//! The command line: one face of the engine, for scripts and CI. Every subcommand prints
//! plain text by default and a stable JSON shape with `--json`.

mod backup;
pub mod bootstrap;
mod deploy;
mod deploy_resume;
pub mod diagnose;
mod droplets;
mod fix;
mod host;
pub mod lock_args;
mod modules;
mod releases;
pub mod remote;
mod render;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{LoadOptions, Settings};

/// Exit codes that mean something to a script.
pub mod exit {
    /// Everything checked is fine.
    pub const OK: u8 = 0;
    /// A problem was found (a failed check, a failed deploy).
    pub const PROBLEM: u8 = 1;
    /// Could not check: bad input, unreachable host, broken config.
    pub const ERROR: u8 = 2;
}

/// Print a `--json` output, every string through the redaction policy: what reaches a
/// script's log holds no secret, whatever field it came in.
pub fn print_json<T: serde::Serialize>(value: &T) -> color_eyre::Result<()> {
    let mut value = serde_json::to_value(value)?;
    crate::redact::json(&mut value);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

#[derive(Debug, Parser)]
#[command(
    name = "odoo-ops",
    version,
    about = "A console for Odoo 18 on DigitalOcean droplets",
    // `help` as a subcommand is clap's own; without this `help --help` is an error.
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Open the console on this host over SSH: `[user@]host[:port]` or an alias from
    /// config.toml `[hosts.NAME]` or ~/.ssh/config.
    #[arg(value_name = "[USER@]HOST[:PORT]|ALIAS")]
    pub destination: Option<String>,
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
    // These four are given once, before any subcommand (`odoo-ops --config F host`), so
    // `--help` lists them once rather than under every subcommand.
    /// Config file (default: config.toml in the XDG config dir).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Theme: a built-in name (dark, light, high-contrast), a user theme's name, or a file.
    #[arg(long, value_name = "NAME|FILE", value_parser = Offered(theme_names),
          hide_possible_values = true)]
    pub theme: Option<String>,
    /// Keymap: a built-in name (default, vim), a user keymap's name, or a file.
    #[arg(long, value_name = "NAME|FILE", value_parser = Offered(keymap_names),
          hide_possible_values = true)]
    pub keymap: Option<String>,
    /// Offer no action that changes anything.
    #[arg(long)]
    pub readonly: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the host's facts (what the Host pane shows).
    Host(host::HostArgs),
    /// Diagnose a 502: the operator's checklist, headless (exit 0 healthy, 1 problem, 2 could not check).
    Diagnose(Box<diagnose::DiagnoseArgs>),
    /// Apply one check's fix, as the Checks pane does: diff, confirmation (or --yes), nginx -t,
    /// reload or revert (exit 0 applied, 1 not applied and reverted, 2 could not try).
    Fix(Box<fix::FixArgs>),
    /// Verify the stack: the gates a deploy must pass (exit 0 all hard gates pass, 1 one
    /// failed, 2 could not check).
    Verify(Box<verify::VerifyArgs>),
    /// Odoo's module states (exit 0, 1 modules pending: crons refuse to run then, 2 could not
    /// check); `modules install PLAN|a,b` runs install/upgrade phases.
    Modules(Box<modules::ModulesArgs>),
    /// Render the stack's files (compose, nginx site, odoo.conf, .env) for a domain and size.
    Render(Box<render::RenderArgs>),
    /// List the releases a stack has had on its host, newest first (tag, digest, when, by whom, result).
    Releases(releases::ReleasesArgs),
    /// Deploy an image tag: the new release beside the running one, its gates, nginx
    /// switched, verified through nginx; switched back on failure (exit 0 deployed, 1 not,
    /// 2 could not try).
    Deploy(Box<deploy::DeployArgs>),
    /// Go back to the previous successful release (or --to TAG) the same way.
    Rollback(Box<deploy::RollbackArgs>),
    /// Back up the database and its filestore into an Odoo-format zip, read back before
    /// success (exit 0 written and verified, 2 could not).
    Backup(Box<backup::BackupArgs>),
    /// Restore a backup beside the current database, check it, then swap; the current
    /// database is kept (exit 0 restored, 1 not restored, 2 could not try).
    Restore(Box<backup::RestoreArgs>),
    /// List the DigitalOcean droplets the token can see: name, status, region, size,
    /// public IPv4, tags, age (exit 0 listed, 2 could not list).
    Droplets(droplets::DropletsArgs),
    /// The first-time bootstrap, headless: create a droplet, wait for it, point the
    /// domain, start the stack, install the modules, verify (exit 0 done, 1 a step failed,
    /// 2 could not start); `--undo` deletes the droplet it created.
    Bootstrap(Box<bootstrap::BootstrapArgs>),
    /// Print this help, or a subcommand's.
    Help {
        /// The subcommand to explain.
        #[arg(value_name = "SUBCOMMAND")]
        command: Option<String>,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Cli {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            config: self.config.clone(),
            theme: self.theme.clone(),
            keymap: self.keymap.clone(),
        }
    }
}

/// Parse-time work is done; run what was asked and turn the outcome into an exit code.
pub fn run(mut cli: Cli) -> ExitCode {
    if let Some(Command::Help { command }) = &cli.command {
        return print_help(command.as_deref());
    }
    if let Some(Command::Completions { shell }) = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "odoo-ops",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    // A read-only session observes; the commands that change a host are refused before
    // anything connects (`modules install` says so itself; `modules` alone only reads).
    let changes_host = match &cli.command {
        Some(Command::Fix(_)) => Some("fix"),
        Some(Command::Deploy(_)) => Some("deploy"),
        Some(Command::Rollback(_)) => Some("rollback"),
        Some(Command::Restore(_)) => Some("restore"),
        _ => None,
    };
    if let (true, Some(name)) = (cli.readonly, changes_host) {
        eprintln!("odoo-ops: {name} changes the host: not run in a --readonly session");
        return ExitCode::from(exit::ERROR);
    }
    let options = cli.load_options();
    let result = match cli.command.take() {
        None => {
            // The console shows a broken file as a warning and carries on with defaults;
            // only a file named on the command line is fatal.
            match Settings::load(&options) {
                Ok(settings) => console(settings, &cli),
                Err(e) => Err(e),
            }
        }
        Some(command) => headless(command, &cli, &options),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // The chain of causes, without eyre's location and backtrace boilerplate:
            // the operator needs what failed and why.
            eprintln!("odoo-ops: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// A headless command. Kept out of line, as `console` is: with link-time optimisation
/// every command's futures inlined into `run` made a 188 KiB frame that the console's
/// whole session then ran beneath, resident for good.
#[inline(never)]
fn headless(command: Command, cli: &Cli, options: &LoadOptions) -> color_eyre::Result<u8> {
    match command {
        Command::Host(args) => {
            with_settings(options, |settings| host::run(args, &cli.remote, &settings))
        }
        Command::Render(args) => with_settings(options, |settings| {
            render::run(*args, &cli.remote, &settings)
        }),
        Command::Diagnose(args) => with_settings(options, |settings| {
            diagnose::run(*args, &cli.remote, &settings)
        }),
        Command::Verify(args) => with_settings(options, |settings| {
            verify::run(*args, &cli.remote, &settings)
        }),
        Command::Modules(args) => with_settings(options, |settings| {
            modules::run(*args, &cli.remote, &settings, cli.readonly)
        }),
        Command::Fix(args) => {
            with_settings(options, |settings| fix::run(*args, &cli.remote, &settings))
        }
        Command::Releases(args) => with_settings(options, |settings| {
            releases::run(args, &cli.remote, &settings)
        }),
        Command::Deploy(args) => with_settings(options, |settings| {
            deploy::run_deploy(*args, &cli.remote, &settings)
        }),
        Command::Rollback(args) => with_settings(options, |settings| {
            deploy::run_rollback(*args, &cli.remote, &settings)
        }),
        Command::Backup(args) => with_settings(options, |settings| {
            backup::run_backup(*args, &cli.remote, &settings)
        }),
        Command::Restore(args) => with_settings(options, |settings| {
            backup::run_restore(*args, &cli.remote, &settings)
        }),
        Command::Droplets(args) => {
            with_settings(options, |settings| droplets::run(args, &settings))
        }
        Command::Bootstrap(args) => with_settings(options, |settings| {
            bootstrap::run(*args, &cli.remote, &settings)
        }),
        Command::Completions { .. } | Command::Help { .. } => unreachable!("handled above"),
    }
}

/// `odoo-ops help [SUBCOMMAND]`: the same text as `--help`.
fn print_help(command: Option<&str>) -> ExitCode {
    let mut cli = Cli::command();
    let shown = match command {
        None => cli.print_long_help(),
        Some(name) => match cli.find_subcommand_mut(name) {
            Some(sub) => sub
                .clone()
                .bin_name(format!("odoo-ops {name}"))
                .print_long_help(),
            None => {
                eprintln!("odoo-ops: no subcommand {name:?}; see odoo-ops --help");
                return ExitCode::from(exit::ERROR);
            }
        },
    };
    match shown {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(exit::ERROR),
    }
}

/// Any value, with names offered to shell completion: a theme or keymap may also be a
/// user's own or a file, so the presets are suggestions, not the only values accepted.
#[derive(Clone)]
pub struct Offered(pub fn() -> Vec<&'static str>);

impl clap::builder::TypedValueParser for Offered {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.0)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

fn theme_names() -> Vec<&'static str> {
    crate::config::theme::PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect()
}

fn keymap_names() -> Vec<&'static str> {
    crate::config::keymap::PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect()
}

/// The droplet size slugs `render --size` knows.
pub fn size_slugs() -> Vec<&'static str> {
    crate::stack::SIZES.iter().map(|s| s.slug).collect()
}

/// The console, on a remote host when one is named: the connection (and any host key
/// question) happens on the plain terminal before the screen takes over.
#[inline(never)]
fn console(settings: Settings, cli: &Cli) -> color_eyre::Result<u8> {
    let mut remote = cli.remote.clone();
    if cli.destination.is_some() {
        remote.host = cli.destination.clone();
    }
    let runtime = console_runtime()?;
    // Questions (host key, passphrase) are asked on the plain terminal before the screen
    // takes over; a reconnect later must not ask over the screen.
    let terminal_taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let target = if remote.host.is_some() {
        let prompter = std::sync::Arc::new(crate::ssh::YieldingPrompter::new(
            crate::ssh::TtyPrompter::or_headless(),
            terminal_taken.clone(),
        ));
        runtime.block_on(remote::connect_target_with(&remote, &settings, prompter))?
    } else {
        crate::target::Target::local()
    };
    terminal_taken.store(true, std::sync::atomic::Ordering::SeqCst);
    crate::tui::run(runtime, settings, cli.readonly, target)
}

fn with_settings(
    options: &LoadOptions,
    run: impl FnOnce(Settings) -> color_eyre::Result<u8>,
) -> color_eyre::Result<u8> {
    let settings = Settings::load(options)?;
    for warning in &settings.warnings {
        eprintln!("odoo-ops: warning: {warning}");
    }
    run(settings)
}

/// The runtime of one headless command: two workers, so the checks and requests a
/// command sends at once are also handled at once.
pub fn runtime() -> color_eyre::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The console's runtime. Its event loop (input, drawing) runs on the main thread in
/// `block_on`; everything in the background (followers, Docker, SSH, checks) shares one
/// worker, which is plenty for I/O-bound work and can never delay a frame. Each worker
/// more would cost a stack and a malloc arena, ~0.3 MB resident, for nothing.
fn console_runtime() -> color_eyre::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}
