//! `odoo-ops modules`: Odoo's module states (exit 0, 1 when modules are pending, 2 could
//! not check), and `odoo-ops modules install PLAN|a,b`: phases run in one-off containers
//! of the running Odoo image (exit 0 all succeeded, 1 a phase failed, 2 could not try).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde::Serialize;

use super::remote::{RemoteArgs, connect_target};
use crate::config::Settings;
use crate::odoo::modules::access::{DbAccess, ModulesOptions};
use crate::odoo::modules::inventory::{Inventory, Module, PENDING_SENTENCE, is_pending};
use crate::odoo::modules::oneoff::{self, PlanRun};
use crate::odoo::modules::plan::{self, PhasePreview, Plan};

#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// Only modules in this state (installed, uninstalled, to install, ...).
    #[arg(long, value_name = "S")]
    pub state: Option<String>,
    /// The Odoo database (default: odoo.conf's db_name, else the only database).
    #[arg(long, global = true, value_name = "NAME")]
    pub db: Option<String>,
    /// The compose project Odoo runs in.
    #[arg(long, global = true, value_name = "P")]
    pub compose_project: Option<String>,
    /// Odoo's container (name or id) instead of looking for it.
    #[arg(long, global = true, value_name = "NAME")]
    pub odoo_container: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<ModulesAction>,
}

#[derive(Debug, Subcommand)]
pub enum ModulesAction {
    /// Install (or with --upgrade, upgrade) modules: a plan file (TOML, `[[phase]]
    /// install = [...] upgrade = [...]`) or `a,b` as one phase. Each phase is one
    /// `odoo -d DB -i/-u ... --stop-after-init --no-http` in a one-off container of the
    /// running image; the output is saved as module_install.log.
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A plan file (.toml) or module names separated by commas.
    #[arg(value_name = "PLAN.toml|a,b")]
    pub plan: String,
    /// Upgrade (-u) the named modules instead of installing them (for `a,b`).
    #[arg(long)]
    pub upgrade: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Print the plan with the dependencies each phase pulls in; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the phases' output is saved.
    #[arg(long, value_name = "FILE", default_value = "module_install.log")]
    pub log: PathBuf,
}

/// `--json` of `odoo-ops modules`.
#[derive(Debug, Serialize)]
struct ListJson<'a> {
    database: &'a str,
    access: String,
    counts: std::collections::BTreeMap<String, usize>,
    pending: Vec<&'a str>,
    pending_note: Option<&'static str>,
    modules: Vec<ModuleJson<'a>>,
}

#[derive(Debug, Serialize)]
struct ModuleJson<'a> {
    #[serde(flatten)]
    module: &'a Module,
    depends: &'a [String],
}

pub fn run(
    args: ModulesArgs,
    remote: &RemoteArgs,
    settings: &Settings,
    readonly: bool,
) -> Result<u8> {
    let options = ModulesOptions {
        compose_project: args.compose_project.clone(),
        odoo_container: args.odoo_container.clone(),
        database: args.db.clone(),
    };
    let rt = super::runtime()?;
    let found = rt.block_on(async {
        let target = connect_target(remote, settings).await?;
        let access = DbAccess::find(&target, &options).await?;
        let inventory = access.inventory().await?;
        Ok::<_, color_eyre::Report>((target, access, inventory))
    });
    let (_target, access, inventory) = match found {
        Ok(f) => f,
        Err(e) => {
            eprintln!("odoo-ops: could not read the module states: {e:#}");
            return Ok(super::exit::ERROR);
        }
    };
    match args.action {
        None => list(&args, &access, &inventory),
        Some(ModulesAction::Install(install_args)) => {
            install(&rt, install_args, args.json, readonly, &access, &inventory)
        }
    }
}

fn list(args: &ModulesArgs, access: &DbAccess, inventory: &Inventory) -> Result<u8> {
    let shown: Vec<&Module> = inventory
        .modules
        .iter()
        .filter(|m| args.state.as_deref().is_none_or(|s| m.state == s))
        .collect();
    let pending: Vec<&str> = inventory.pending().map(|m| m.name.as_str()).collect();
    if args.json {
        super::print_json(&ListJson {
            database: &access.database,
            access: access.describe(),
            counts: inventory.counts(),
            pending: pending.clone(),
            pending_note: (!pending.is_empty()).then_some(PENDING_SENTENCE),
            modules: shown
                .iter()
                .map(|m| ModuleJson {
                    module: m,
                    depends: inventory.dependencies(&m.name),
                })
                .collect(),
        })?;
    } else {
        print!("{}", render_list(access, inventory, &shown));
    }
    Ok(if pending.is_empty() {
        super::exit::OK
    } else {
        super::exit::PROBLEM
    })
}

fn render_list(access: &DbAccess, inventory: &Inventory, shown: &[&Module]) -> String {
    let mut out = format!(
        "database  {} ({} modules: {})\nread by   {}\n",
        access.database,
        inventory.modules.len(),
        inventory.counts_line(),
        access.describe()
    );
    let pending: Vec<&str> = inventory.pending().map(|m| m.name.as_str()).collect();
    if !pending.is_empty() {
        out += &format!("PENDING   {}: {}\n", pending.join(", "), PENDING_SENTENCE);
    }
    out += "\n";
    let width = shown.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
    out += &format!(
        "{:<width$}  {:<13}  {:<12}  TITLE\n",
        "NAME", "STATE", "VERSION"
    );
    for m in shown {
        out += &format!(
            "{:<width$}  {:<13}  {:<12}  {}{}\n",
            m.name,
            if is_pending(&m.state) {
                format!("{}!", m.state)
            } else {
                m.state.clone()
            },
            m.latest_version,
            m.shortdesc.lines().next().unwrap_or_default(),
            if m.application { " [app]" } else { "" }
        );
    }
    out
}

fn load_plan(args: &InstallArgs) -> Result<Plan> {
    let path = PathBuf::from(&args.plan);
    if args.plan.ends_with(".toml") || path.is_file() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| eyre!("read the plan {}: {e}", path.display()))?;
        Plan::parse_toml(&text).map_err(|e| eyre!("the plan {}: {e}", path.display()))
    } else {
        Plan::from_list(&args.plan, args.upgrade).map_err(|e| eyre!(e))
    }
}

fn render_preview(access: &DbAccess, previews: &[PhasePreview]) -> String {
    let mut out = format!(
        "module plan for database {} (Odoo container {}, image {}):\n",
        access.database, access.odoo.name, access.odoo.image
    );
    for (i, p) in previews.iter().enumerate() {
        out += &format!("  phase {}: {}\n", i + 1, p.phase.describe());
        if !p.pulls_in.is_empty() {
            out += &format!("    pulls in: {}\n", p.pulls_in.join(", "));
        }
        if !p.reloads.is_empty() {
            out += &format!("    also reloads: {}\n", p.reloads.join(", "));
        }
        if !p.unknown.is_empty() {
            out += &format!(
                "    UNKNOWN to this database (Odoo would ignore them): {}\n",
                p.unknown.join(", ")
            );
        }
        if !p.uninstallable.is_empty() {
            out += &format!("    UNINSTALLABLE here: {}\n", p.uninstallable.join(", "));
        }
    }
    out
}

#[derive(Debug, Serialize)]
struct InstallJson<'a> {
    database: &'a str,
    dry_run: bool,
    plan: &'a [PhasePreview],
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a PlanRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_file: Option<String>,
}

fn install(
    rt: &tokio::runtime::Runtime,
    args: InstallArgs,
    json: bool,
    readonly: bool,
    access: &DbAccess,
    inventory: &Inventory,
) -> Result<u8> {
    let plan = match load_plan(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("odoo-ops: {e:#}");
            return Ok(super::exit::ERROR);
        }
    };
    let previews = plan::preview(&plan, inventory);
    if args.dry_run {
        if json {
            super::print_json(&InstallJson {
                database: &access.database,
                dry_run: true,
                plan: &previews,
                result: None,
                log_file: None,
            })?;
        } else {
            print!("{}", render_preview(access, &previews));
            println!("dry run: nothing was changed");
        }
        return Ok(super::exit::OK);
    }
    if readonly {
        eprintln!("odoo-ops: --readonly: module installs are not offered");
        return Ok(super::exit::ERROR);
    }
    if !json {
        print!("{}", render_preview(access, &previews));
    }
    let pending: Vec<&str> = inventory.pending().map(|m| m.name.as_str()).collect();
    if !pending.is_empty() {
        eprintln!(
            "note: {} already pending; Odoo processes them in the first phase too",
            pending.join(", ")
        );
    }
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) || json {
            eprintln!("odoo-ops: no terminal to ask on; re-run with --yes to run the plan");
            return Ok(super::exit::ERROR);
        }
        eprint!("Run these phases on database {}? [y/N] ", access.database);
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            println!("not run: not confirmed");
            return Ok(super::exit::PROBLEM);
        }
    }
    // Live output: on stdout as text, on stderr with --json (stdout is the JSON).
    let mut show = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let run = match rt.block_on(oneoff::run_plan(access, &plan, &args.log, &mut show)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("odoo-ops: the module plan could not run: {e:#}");
            return Ok(super::exit::ERROR);
        }
    };
    if json {
        super::print_json(&InstallJson {
            database: &access.database,
            dry_run: false,
            plan: &previews,
            result: Some(&run),
            log_file: Some(args.log.display().to_string()),
        })?;
    } else {
        println!("{}", summary(&run, &args.log));
    }
    Ok(if run.ok {
        super::exit::OK
    } else {
        super::exit::PROBLEM
    })
}

fn summary(run: &PlanRun, log: &std::path::Path) -> String {
    let mut out = String::new();
    if run.ok {
        out += &format!(
            "all {} phase(s) succeeded; output saved in {}",
            run.phases.len(),
            log.display()
        );
        return out;
    }
    if let Some(failed) = run.phases.last() {
        let o = &failed.outcome;
        out += &format!(
            "FAILED in phase {} ({}): module {}\n",
            run.phases.len(),
            failed.phase.describe(),
            o.failed_module.as_deref().unwrap_or("(not named by Odoo)")
        );
        if let Some(cause) = &o.cause {
            out += &format!("cause: {cause}\n");
        }
        for f in &o.failures {
            out += &format!("  - {f}\n");
        }
    }
    if !run.skipped.is_empty() {
        out += &format!(
            "not run: {}\n",
            run.skipped
                .iter()
                .map(|p| p.describe())
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    out += &format!("output saved in {}", log.display());
    out
}
