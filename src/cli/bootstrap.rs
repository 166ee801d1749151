//! `odoo-ops bootstrap --answers FILE.toml`: the first-time bootstrap, headless (the same
//! engine as the console's wizard: [`crate::bootstrap::run`]). Exit 0 every step done (or
//! skipped on request), 1 a step failed (what failed, what was done, how to continue or
//! undo), 2 could not start (bad answers file, no token).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use color_eyre::Result;
use serde::Serialize;

use super::remote::RemoteArgs;
use crate::bootstrap::answers::Answers;
use crate::bootstrap::remote::Reach;
use crate::bootstrap::resolve::Resolver;
use crate::bootstrap::run::{self, Event, Failure, Setup};
use crate::bootstrap::steps::Step;
use crate::bootstrap::tls::{self, AcmeDirectories};
use crate::config::Settings;
use crate::digitalocean::Client;

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The answers to the wizard's first step (name, region, size, ssh_key, domain, image,
    /// tag, modules_plan, admin_email).
    #[arg(long, value_name = "FILE.toml")]
    pub answers: PathBuf,
    /// Where the steps done are recorded (default: beside the answers, `NAME.state.json`).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Delete the droplet this bootstrap created and forget its steps (asks first).
    #[arg(long)]
    pub undo: bool,
    /// Do not ask (an undo deletes without confirmation).
    #[arg(long)]
    pub yes: bool,
    /// Print the events and the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Leave a step out this run (repeatable): `tls`, `modules_verify`, `install_console`...
    #[arg(long, value_name = "STEP", value_parser = parse_step)]
    pub skip: Vec<Step>,
    /// Stop after this step.
    #[arg(long, value_name = "STEP", value_parser = parse_step)]
    pub until: Option<Step>,
    /// The stack's directory on the droplet.
    #[arg(long, value_name = "DIR", default_value = crate::deploy::DEFAULT_STACK_DIR)]
    pub stack_dir: PathBuf,
    /// Where the verification's proofs are written.
    #[arg(long, value_name = "DIR", default_value = "proofs")]
    pub proofs: PathBuf,
    /// The ACME CA's directory the certificate comes from (default: Let's Encrypt's). Also
    /// the staging run's, unless --acme-staging-directory names another.
    #[arg(long, value_name = "URL", value_parser = parse_directory)]
    pub acme_directory: Option<String>,
    /// The directory of the dry run before the real one (default: Let's Encrypt's staging,
    /// or --acme-directory's when that is given).
    #[arg(long, value_name = "URL", value_parser = parse_directory)]
    pub acme_staging_directory: Option<String>,
    /// A CA bundle on the droplet that certbot trusts for the directories' HTTPS (a private
    /// ACME CA's root).
    #[arg(long, value_name = "FILE")]
    pub acme_ca_bundle: Option<PathBuf>,
    /// The DNS server that says where the domain points, for the wait for its record (step
    /// dns) and the TLS step's check: `IP` or `IP:PORT` (default: this machine's resolver).
    #[arg(long, value_name = "IP[:PORT]", value_parser = Resolver::parse)]
    pub resolver: Option<Resolver>,
}

fn parse_directory(text: &str) -> Result<String, String> {
    tls::directory_url(text)
}

fn parse_step(text: &str) -> Result<Step, String> {
    Step::from_key(text).ok_or_else(|| {
        let keys: Vec<&str> = Step::ALL.iter().map(|s| s.key()).collect();
        format!("{text:?} is not a step; the steps are {}", keys.join(", "))
    })
}

/// `answers.toml` → `answers.state.json` beside it.
pub fn default_state_file(answers: &Path) -> PathBuf {
    let stem = answers
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bootstrap".into());
    answers.with_file_name(format!("{stem}.state.json"))
}

#[derive(Serialize)]
struct JsonResult<'a> {
    events: &'a [Event],
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a Failure>,
    not_done: Vec<Step>,
}

pub fn run(args: BootstrapArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let answers = match Answers::load(&args.answers) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("odoo-ops bootstrap: {e}");
            return Ok(super::exit::ERROR);
        }
    };
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| default_state_file(&args.answers));
    let setup = match setup(&args, remote, answers, state) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("odoo-ops bootstrap: {e}");
            return Ok(super::exit::ERROR);
        }
    };
    let client = match Client::from_environment(&settings.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("odoo-ops bootstrap: {e}");
            return Ok(super::exit::ERROR);
        }
    };
    let rt = super::runtime()?;
    if args.undo {
        return undo(&rt, &setup, &client, &args);
    }
    let json = args.json;
    let mut events = Vec::new();
    let mut report = |e: Event| {
        if !json {
            println!("{}", describe(&e));
        }
        events.push(e);
    };
    let outcome = rt.block_on(run::run(&setup, &client, &mut report));
    let answers_shown = args.answers.display().to_string();
    let (ok, failure, not_done) = match &outcome {
        Ok(f) => (true, None, f.not_done.clone()),
        Err(f) => (false, Some(f), Vec::new()),
    };
    if json {
        super::print_json(&JsonResult {
            events: &events,
            ok,
            failure,
            not_done,
        })?;
    } else {
        match &outcome {
            Ok(f) if f.not_done.is_empty() => println!("bootstrap complete"),
            Ok(f) => {
                let keys: Vec<&str> = f.not_done.iter().map(|s| s.key()).collect();
                println!("bootstrap stopped; not done: {}", keys.join(", "));
            }
            Err(f) => eprintln!("{}", failure_text(f, &answers_shown)),
        }
    }
    Ok(if ok {
        super::exit::OK
    } else {
        super::exit::PROBLEM
    })
}

/// The engine's setup from the command line: the answers, where the state is kept, how
/// the droplet is reached (`-p`, `-i`), the steps chosen and the CA and resolver named.
pub fn setup(
    args: &BootstrapArgs,
    remote: &RemoteArgs,
    answers: Answers,
    state: PathBuf,
) -> Result<Setup, String> {
    let env = crate::ssh::Environment::from_process();
    let reach = Reach::droplet_root(&env, remote.port, remote.identity.clone());
    let mut setup = Setup::new(answers, state, reach);
    setup.stack_dir = args.stack_dir.clone();
    setup.proofs = args.proofs.clone();
    setup.skip = args.skip.iter().copied().collect();
    setup.until = args.until;
    setup.edge.directories = AcmeDirectories::chosen(
        args.acme_directory.as_deref(),
        args.acme_staging_directory.as_deref(),
    )?;
    setup.edge.ca_bundle = args.acme_ca_bundle.clone();
    if let Some(resolver) = &args.resolver {
        setup.resolver = resolver.clone();
    }
    Ok(setup)
}

/// One event as a line.
pub fn describe(e: &Event) -> String {
    match e {
        Event::Started { step } => format!("[{}] {}…", step.key(), step.title()),
        Event::AlreadyDone { step, fact } => format!("[{}] already done: {fact}", step.key()),
        Event::Notice { step, text } => format!("[{}] note: {text}", step.key()),
        Event::Warning { step, text } => format!("[{}] WARNING: {text}", step.key()),
        Event::Done { step, fact } => format!("[{}] done: {fact}", step.key()),
        Event::NotDone { step, why } => format!("[{}] NOT DONE: {why}", step.key()),
    }
}

/// What failed, what was done, how to continue, how to undo.
pub fn failure_text(f: &Failure, answers: &str) -> String {
    let mut out = format!("odoo-ops bootstrap: {f}\n");
    out += &format!(
        "to continue: fix the cause and re-run `odoo-ops bootstrap --answers {answers}`: it starts again at {:?}\n",
        f.step.key()
    );
    match f.droplet_id {
        Some(id) => {
            out += &format!(
                "to undo: `odoo-ops bootstrap --answers {answers} --undo` deletes droplet {id} (after confirmation, or with --yes)"
            )
        }
        None => out += "nothing to undo: no droplet was created",
    }
    out
}

fn undo(
    rt: &tokio::runtime::Runtime,
    setup: &Setup,
    client: &Client,
    args: &BootstrapArgs,
) -> Result<u8> {
    let id = match run::undo_target(setup) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("odoo-ops bootstrap --undo: {e}");
            return Ok(super::exit::ERROR);
        }
    };
    if let Some(id) = id
        && !args.yes
    {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            eprintln!(
                "odoo-ops bootstrap --undo: would delete droplet {id}; no terminal to ask on: re-run with --yes"
            );
            return Ok(super::exit::ERROR);
        }
        eprint!(
            "Delete droplet {id} ({}) and everything on it? [y/N] ",
            setup.answers.name
        );
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            println!("not deleted: not confirmed");
            return Ok(super::exit::PROBLEM);
        }
    }
    match rt.block_on(run::undo(setup, client)) {
        Ok(said) => {
            println!(
                "{said}; the state file {} was reset",
                setup.state_file.display()
            );
            Ok(super::exit::OK)
        }
        Err(e) => {
            eprintln!("odoo-ops bootstrap --undo: {e}");
            Ok(super::exit::PROBLEM)
        }
    }
}
