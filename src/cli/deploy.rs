//! `odoo-ops deploy --tag TAG` and `odoo-ops rollback [--to TAG]`: the whole deploy,
//! headless (docs/deploy.md). Exit 0 the release serves and passed its gates, 1 it did not
//! (nothing changed, or the previous release was brought back), 2 could not try (the
//! stack is locked, the host unreachable, not confirmed without a terminal).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use color_eyre::Result;
use color_eyre::eyre::{bail, eyre};

use super::lock_args::LockArgs;
use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::deploy::lock::Operation;
use crate::deploy::module_window::ModuleWindow;
use crate::deploy::orchestrate::{self, DeployRequest, DeployResult, Verdict};
use crate::deploy::releases;
use crate::deploy::request::StackParts;
use crate::deploy::resume::Choice;
use crate::deploy::switch_clone::{PortPair, Slots};
use crate::deploy::{StackState, clock};
use crate::odoo::modules::plan::Plan;
use crate::target::Target;

/// What deploy and rollback share: where the stack is and how to reach its parts.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Do it without asking (CI).
    #[arg(long)]
    pub yes: bool,
    /// Print the result as JSON (the proof's deploy_status).
    #[arg(long)]
    pub json: bool,
    /// The stack's directory on the host (compose file and `.env`).
    #[arg(long, value_name = "DIR", default_value = crate::deploy::DEFAULT_STACK_DIR)]
    pub dir: PathBuf,
    /// The compose project (default: the stack directory's name, as compose names it).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// The site's server name, when nginx serves several.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// nginx's main configuration file, when its master was not started with the default.
    #[arg(long, value_name = "FILE")]
    pub nginx_conf: Option<PathBuf>,
    /// nginx's prefix (`-p`).
    #[arg(long, value_name = "DIR")]
    pub nginx_prefix: Option<PathBuf>,
    /// The two port slots the release alternates between, `HTTP:GEVENT,HTTP:GEVENT`
    /// (default 8069:8072,18069:18072).
    #[arg(long, value_name = "SLOTS", value_parser = parse_slots)]
    pub slots: Option<Slots>,
    /// How long the new container may take to become healthy, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    pub ready_timeout: u64,
    /// Where the proof directory is written.
    #[arg(long, value_name = "DIR", default_value = "proofs")]
    pub proofs: PathBuf,
    /// How long the gates may wait for readiness, in seconds (default 90).
    #[arg(long, value_name = "SECS")]
    pub verify_wait: Option<u64>,
    /// After the gates passed through nginx, how long the new release must keep serving
    /// (no restart) before the deploy passes, in seconds; 0 skips it.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub settle: u64,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The image tag to deploy (same repository as the running one).
    #[arg(long, value_name = "TAG", required_unless_present = "resume")]
    pub tag: Option<String>,
    /// Pick up the deploy a killed console or a dropped connection left unfinished:
    /// `rollback` (back to the release before it) or `continue` (on to its tag). Without a
    /// choice, the interrupted deploy and both choices are shown (and asked on a terminal).
    #[arg(long, value_name = "CHOICE", num_args = 0..=1, conflicts_with = "tag")]
    pub resume: Option<Option<ResumeArg>>,
    /// Modules to install (or upgrade, when installed) with the new release, `a,b`: the
    /// deploy takes a maintenance window (backup, maintenance page, upgrade, start).
    #[arg(long, value_name = "A,B", conflicts_with_all = ["plan", "resume"])]
    pub modules: Option<String>,
    /// A module plan (TOML `[[phase]] install = [...] upgrade = [...]`), run the same way.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub plan: Option<PathBuf>,
    /// The Odoo database the modules are in (default: odoo.conf's db_name, else the only one).
    #[arg(long, value_name = "NAME")]
    pub db: Option<String>,
    /// Where a module deploy's backup is written (default: config `[backup] dir`, else
    /// backups/ in the state dir).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The tag to go back to (default: the newest successful release before the running one).
    #[arg(long, value_name = "TAG")]
    pub to: Option<String>,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResumeArg {
    Rollback,
    Continue,
}

impl From<ResumeArg> for Choice {
    fn from(a: ResumeArg) -> Choice {
        match a {
            ResumeArg::Rollback => Choice::RollBack,
            ResumeArg::Continue => Choice::Continue,
        }
    }
}

fn parse_slots(text: &str) -> Result<Slots, String> {
    let pair = |p: &str| -> Result<PortPair, String> {
        let (h, g) = p
            .split_once(':')
            .ok_or_else(|| format!("{p:?}: expected HTTP:GEVENT"))?;
        Ok(PortPair {
            http: h.parse().map_err(|_| format!("{h:?} is no port"))?,
            gevent: g.parse().map_err(|_| format!("{g:?} is no port"))?,
        })
    };
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| "expected HTTP:GEVENT,HTTP:GEVENT".to_string())?;
    Ok(Slots {
        blue: pair(a)?,
        green: pair(b)?,
    })
}

pub fn run_deploy(args: DeployArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let rt = super::runtime()?;
    let modules = module_window(&args, settings)?;
    let target = rt.block_on(connect_target(remote, settings))?;
    if let Some(choice) = args.resume {
        return super::deploy_resume::run(
            &rt,
            &target,
            choice.map(Choice::from),
            &args.stack,
            settings,
        );
    }
    let Some(tag) = args.tag else {
        bail!("name the tag to deploy with --tag TAG, or --resume");
    };
    run(
        &rt,
        &target,
        Operation::Deploy,
        tag,
        &args.stack,
        settings,
        modules,
    )
}

/// `--modules` or `--plan`, read and checked before anything is connected to.
fn module_window(args: &DeployArgs, settings: &Settings) -> Result<Option<ModuleWindow>> {
    let (plan, upgrade_installed) = match (&args.modules, &args.plan) {
        (None, None) => return Ok(None),
        (Some(list), _) => (Plan::from_list(list, false).map_err(|e| eyre!(e))?, true),
        // Read where the command runs, as every file named on the command line is.
        (None, Some(path)) => (Plan::load(path).map_err(|e| eyre!(e))?, false),
    };
    let backup_dir = match &args.backup_dir {
        Some(d) => d.clone(),
        None => settings
            .config
            .backup
            .dir
            .clone()
            .or_else(|| crate::config::state_dir().map(|d| d.join("backups")))
            .ok_or_else(|| eyre!("no backup directory: give --backup-dir"))?,
    };
    Ok(Some(ModuleWindow {
        plan,
        upgrade_installed,
        database: args.db.clone(),
        backup_dir,
        keep: settings.config.backup.keep.or(Some(7)),
    }))
}

pub fn run_rollback(args: RollbackArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let rt = super::runtime()?;
    let target = rt.block_on(connect_target(remote, settings))?;
    let project = project_of(&args.stack)?;
    let tag = match args.to {
        Some(t) => t,
        None => rt.block_on(async {
            let current = orchestrate::current(&target, &project, "odoo").await?;
            let state = StackState::locate(&target, &args.stack.dir).await?;
            let list = releases::list(&target, &state).await?;
            orchestrate::previous_release(&list, &current.tag)
                .map(|r| r.tag.clone())
                .ok_or_else(|| {
                    eyre!(
                        "no earlier successful release than {} is recorded; name one with --to TAG",
                        current.tag
                    )
                })
        })?,
    };
    run(
        &rt,
        &target,
        Operation::Rollback,
        tag,
        &args.stack,
        settings,
        None,
    )
}

pub(super) fn project_of(stack: &StackArgs) -> Result<String> {
    if let Some(p) = &stack.project {
        return Ok(p.clone());
    }
    // compose's default project name: the directory's name, lower-cased.
    match stack.dir.file_name() {
        Some(n) => Ok(n.to_string_lossy().to_lowercase()),
        None => bail!("name the compose project with --project"),
    }
}

/// The stack's parts as the arguments name them.
pub(super) fn parts_of(stack: &StackArgs, settings: &Settings) -> Result<StackParts> {
    let mut parts = StackParts::new(&stack.dir);
    parts.project = Some(project_of(stack)?);
    parts.domain = stack.domain.clone();
    parts.nginx_conf = stack.nginx_conf.clone();
    parts.nginx_prefix = stack.nginx_prefix.clone();
    parts.slots = stack.slots;
    parts.ready_timeout = std::time::Duration::from_secs(stack.ready_timeout.max(1));
    parts.proofs = stack.proofs.clone();
    parts.lock = stack.lock.options();
    parts.extra_gates = settings.config.verify.gates.clone();
    parts.verify_wait = stack.verify_wait.map(std::time::Duration::from_secs);
    parts.settle = std::time::Duration::from_secs(stack.settle);
    Ok(parts)
}

/// The request for a run on `tag`, every part of the stack as the arguments name it.
pub(super) fn request_for(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    operation: Operation,
    tag: &str,
    stack: &StackArgs,
    settings: &Settings,
) -> Result<DeployRequest> {
    let parts = parts_of(stack, settings)?;
    rt.block_on(parts.request(target, operation, tag))
        .map_err(|e| eyre!(e))
}

fn run(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    operation: Operation,
    tag: String,
    stack: &StackArgs,
    settings: &Settings,
    modules: Option<ModuleWindow>,
) -> Result<u8> {
    let project = project_of(stack)?;
    let mut request = request_for(rt, target, operation, &tag, stack, settings)?;
    if !stack.json {
        let from = rt
            .block_on(orchestrate::current(target, &project, "odoo"))
            .map(|c| {
                format!(
                    "{} ({})",
                    c.tag,
                    crate::deploy::preview::short_id(&c.image_id)
                )
            })
            .unwrap_or_else(|e| format!("? ({e:#})"));
        let steps = crate::deploy::preview::steps(&tag, modules.as_ref());
        println!(
            "{operation} on {}: {from} -> {tag}\n  steps: {steps}",
            target.describe()
        );
    }
    if !stack.yes {
        if stack.json || !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            eprintln!("odoo-ops: no terminal to ask on; re-run with --yes to {operation}");
            return Ok(super::exit::ERROR);
        }
        eprint!("Go ahead? [y/N] ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            println!("not started: not confirmed");
            return Ok(super::exit::PROBLEM);
        }
    }
    request.modules = modules;
    let json = stack.json;
    let mut on_step = |s: &str| {
        if !json {
            println!("  {} {s}", clock::short(clock::now_ms()));
        }
    };
    let result = rt.block_on(orchestrate::run(target, &request, &mut on_step));
    report(&result, json)?;
    Ok(match result.verdict {
        Verdict::Passed => super::exit::OK,
        Verdict::Failed => super::exit::PROBLEM,
        Verdict::CouldNotCheck => super::exit::ERROR,
    })
}

pub(super) fn report(result: &DeployResult, json: bool) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(&result.status)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "proof_dir".into(),
                serde_json::json!(result.proof_dir.as_ref().map(|d| d.display().to_string())),
            );
            obj.insert("message".into(), serde_json::json!(result.message));
        }
        return super::print_json(&value);
    }
    let verdict = match result.verdict {
        Verdict::Passed => "PASSED",
        Verdict::Failed => "FAILED",
        Verdict::CouldNotCheck => "COULD NOT CHECK",
    };
    println!("{} {verdict}: {}", result.status.operation, result.message);
    if let Some(d) = &result.proof_dir {
        println!("proof: {}", d.display());
    }
    Ok(())
}
