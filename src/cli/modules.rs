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
use crate::odoo::modules::ondisk::{self, DiskReport};
use crate::odoo::modules::oneoff::{self, PlanRun};
use crate::odoo::modules::plan::{self, PhasePreview, Plan};
use crate::odoo::modules::{reset, safety};

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
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "odoo_conf")]
    pub odoo_container: Option<String>,
    /// Odoo runs on the host with this config file (its module states are read through
    /// a PostgreSQL connection with odoo.conf's parameters).
    #[arg(long, global = true, value_name = "FILE")]
    pub odoo_conf: Option<PathBuf>,
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
    /// Move modules a crashed run left pending back as Odoo's cancel buttons do
    /// (`to install` -> uninstalled, `to upgrade`/`to remove` -> installed).
    ResetPending(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
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
    /// Back the database up first (the backup engine's zip; asked when neither this nor
    /// --no-backup is given on a terminal).
    #[arg(long, conflicts_with = "no_backup")]
    pub backup: bool,
    /// Change the database without a backup (what is at risk is printed).
    #[arg(long)]
    pub no_backup: bool,
    /// Where the backup goes (default: config `[backup] dir`, else backups/ in the state
    /// dir).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

/// `--json` of `odoo-ops modules`.
#[derive(Debug, Serialize)]
struct ListJson<'a> {
    database: &'a str,
    access: String,
    counts: std::collections::BTreeMap<String, usize>,
    pending: Vec<&'a str>,
    pending_note: Option<&'static str>,
    /// Installed modules against the checksums recorded at their last upgrade.
    disk: Option<&'a DiskReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disk_error: Option<&'a str>,
    modules: Vec<ModuleJson<'a>>,
}

#[derive(Debug, Serialize)]
struct ModuleJson<'a> {
    #[serde(flatten)]
    module: &'a Module,
    depends: &'a [String],
    /// `changed`, `unchanged`, `no record`, ... (installed modules only).
    #[serde(skip_serializing_if = "Option::is_none")]
    on_disk: Option<&'static str>,
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
        odoo_conf: args.odoo_conf.clone(),
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
        None => {
            let disk = rt
                .block_on(ondisk::check(&access, &inventory))
                .map_err(|e| format!("{e:#}"));
            list(&args, &access, &inventory, &disk)
        }
        Some(ModulesAction::Install(install_args)) => install(
            &rt,
            install_args,
            args.json,
            readonly,
            settings,
            &access,
            &inventory,
        ),
        Some(ModulesAction::ResetPending(reset_args)) => {
            reset_pending(&rt, reset_args, args.json, readonly, &access, &inventory)
        }
    }
}

fn list(
    args: &ModulesArgs,
    access: &DbAccess,
    inventory: &Inventory,
    disk: &Result<DiskReport, String>,
) -> Result<u8> {
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
            disk: disk.as_ref().ok(),
            disk_error: disk.as_ref().err().map(String::as_str),
            modules: shown
                .iter()
                .map(|m| ModuleJson {
                    module: m,
                    depends: inventory.dependencies(&m.name),
                    on_disk: on_disk(disk, &m.name),
                })
                .collect(),
        })?;
    } else {
        print!("{}", render_list(access, inventory, &shown, disk));
    }
    Ok(if pending.is_empty() {
        super::exit::OK
    } else {
        super::exit::PROBLEM
    })
}

/// The on-disk label of an installed module.
fn on_disk(disk: &Result<DiskReport, String>, name: &str) -> Option<&'static str> {
    disk.as_ref()
        .ok()
        .and_then(|d| d.get(name))
        .map(|c| c.state.label())
}

fn render_list(
    access: &DbAccess,
    inventory: &Inventory,
    shown: &[&Module],
    disk: &Result<DiskReport, String>,
) -> String {
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
    match disk {
        Ok(d) => out += &format!("on disk   {}\n", d.summary()),
        Err(e) => out += &format!("on disk   not checked: {e}\n"),
    }
    out += "\n";
    let width = shown.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
    out += &format!(
        "{:<width$}  {:<13}  {:<12}  {:<11}  TITLE\n",
        "NAME", "STATE", "VERSION", "ON DISK"
    );
    for m in shown {
        out += &format!(
            "{:<width$}  {:<13}  {:<12}  {:<11}  {}{}\n",
            m.name,
            if is_pending(&m.state) {
                format!("{}!", m.state)
            } else {
                m.state.clone()
            },
            m.latest_version,
            on_disk(disk, &m.name).unwrap_or(""),
            m.shortdesc.lines().next().unwrap_or_default(),
            if m.application { " [app]" } else { "" }
        );
    }
    out
}

fn load_plan(args: &InstallArgs) -> Result<Plan> {
    let path = PathBuf::from(&args.plan);
    if args.plan.ends_with(".toml") || path.is_file() {
        Plan::load(&path).map_err(|e| eyre!(e))
    } else {
        Plan::from_list(&args.plan, args.upgrade).map_err(|e| eyre!(e))
    }
}

fn render_preview(access: &DbAccess, previews: &[PhasePreview]) -> String {
    let mut out = match access.container() {
        Ok(c) => format!(
            "module plan for database {} (Odoo container {}, image {}):\n",
            access.database, c.odoo.name, c.odoo.image
        ),
        Err(_) => format!(
            "module plan for database {} (Odoo {}):\n",
            access.database, access.odoo_name
        ),
    };
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
    #[serde(skip_serializing_if = "Option::is_none")]
    checksums_recorded: Option<&'a Vec<String>>,
    /// The backup taken first.
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    /// Said when the backup was declined.
    #[serde(skip_serializing_if = "Option::is_none")]
    at_risk: Option<String>,
}

fn install(
    rt: &tokio::runtime::Runtime,
    args: InstallArgs,
    json: bool,
    readonly: bool,
    settings: &Settings,
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
                checksums_recorded: None,
                backup: None,
                at_risk: None,
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
    if let Err(e) = access.container() {
        eprintln!("odoo-ops: {e}");
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
    let backup_dir = args
        .backup_dir
        .clone()
        .or_else(|| crate::backup::default_dir(settings));
    let backup = match (args.backup, args.no_backup, args.yes) {
        (true, _, _) => true,
        (_, true, _) | (_, _, true) => false,
        _ => ask(
            &format!(
                "Back up database {} first (recommended: a module run cannot be undone)?",
                access.database
            ),
            json,
        )?
        .unwrap_or(false),
    };
    if !args.yes {
        match ask(
            &format!("Run these phases on database {}?", access.database),
            json,
        )? {
            None => {
                eprintln!("odoo-ops: no terminal to ask on; re-run with --yes to run the plan");
                return Ok(super::exit::ERROR);
            }
            Some(false) => {
                println!("not run: not confirmed");
                return Ok(super::exit::PROBLEM);
            }
            Some(true) => {}
        }
    }
    let mut backup_written = None;
    let mut at_risk = None;
    if backup {
        let Some(dir) = &backup_dir else {
            eprintln!("odoo-ops: no backup directory known: give --backup-dir");
            return Ok(super::exit::ERROR);
        };
        match rt.block_on(safety::backup_first(
            access,
            dir,
            settings.config.backup.keep,
        )) {
            Ok(report) => {
                if !json {
                    println!("backup written: {}", report.path.display());
                }
                backup_written = Some(report.path.display().to_string());
            }
            Err(e) => {
                eprintln!("odoo-ops: the backup failed, nothing was changed: {e:#}");
                return Ok(super::exit::ERROR);
            }
        }
    } else {
        let latest = backup_dir
            .as_deref()
            .and_then(|d| safety::latest_backup(d, &access.database));
        let note = safety::at_risk(&access.database, backup_dir.as_deref(), latest.as_deref());
        eprintln!("warning: {note}");
        at_risk = Some(note);
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
    // The checksums of what this run loaded, so the next look says what changed since.
    let recorded = if run.ok {
        let loaded = oneoff::loaded_modules(&plan, inventory);
        Some(
            rt.block_on(ondisk::record_after_run(access, &loaded))
                .map_err(|e| format!("{e:#}")),
        )
    } else {
        None
    };
    if json {
        super::print_json(&InstallJson {
            database: &access.database,
            dry_run: false,
            plan: &previews,
            result: Some(&run),
            log_file: Some(args.log.display().to_string()),
            checksums_recorded: recorded.as_ref().and_then(|r| r.as_ref().ok()),
            backup: backup_written,
            at_risk,
        })?;
    } else {
        println!("{}", run.summary(&args.log));
        match &recorded {
            Some(Ok(names)) if !names.is_empty() => println!(
                "checksums recorded ({}) for: {}",
                ondisk::OUR_KEY,
                names.join(", ")
            ),
            Some(Ok(_)) => println!("checksums: module_auto_update keeps the record here"),
            Some(Err(e)) => eprintln!("note: the checksums could not be recorded: {e}"),
            None => {}
        }
    }
    Ok(if run.ok {
        super::exit::OK
    } else {
        super::exit::PROBLEM
    })
}

/// Ask on the terminal; `None` when there is none to ask on (or stdout is JSON).
fn ask(question: &str, json: bool) -> Result<Option<bool>> {
    if json || !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(None);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Some(matches!(line.trim(), "y" | "Y" | "yes")))
}

#[derive(Debug, Serialize)]
struct ResetJson<'a> {
    database: &'a str,
    reset: &'a [reset::Reset],
}

/// `modules reset-pending`: exit 0 nothing pending or all moved back, 1 not confirmed,
/// 2 could not.
fn reset_pending(
    rt: &tokio::runtime::Runtime,
    args: ResetArgs,
    json: bool,
    readonly: bool,
    access: &DbAccess,
    inventory: &Inventory,
) -> Result<u8> {
    let pending: Vec<&Module> = inventory.pending().collect();
    if pending.is_empty() {
        if json {
            super::print_json(&ResetJson {
                database: &access.database,
                reset: &[],
            })?;
        } else {
            println!("no module is pending in database {}", access.database);
        }
        return Ok(super::exit::OK);
    }
    if readonly {
        eprintln!("odoo-ops: --readonly: resetting module states is not offered");
        return Ok(super::exit::ERROR);
    }
    if !json {
        println!("pending in database {}:", access.database);
        for m in &pending {
            println!(
                "  {:<28} {} -> {}",
                m.name,
                m.state,
                reset::state_after_cancel(&m.state).unwrap_or("?")
            );
        }
        println!("(as Odoo's Cancel Install / Cancel Upgrade / Cancel Uninstall buttons do)");
    }
    if !args.yes {
        match ask("Move these modules back?", json)? {
            None => {
                eprintln!("odoo-ops: no terminal to ask on; re-run with --yes to reset");
                return Ok(super::exit::ERROR);
            }
            Some(false) => {
                println!("not reset: not confirmed");
                return Ok(super::exit::PROBLEM);
            }
            Some(true) => {}
        }
    }
    let moved = match rt.block_on(reset::reset_pending(access)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("odoo-ops: the pending states could not be reset: {e:#}");
            return Ok(super::exit::ERROR);
        }
    };
    if json {
        super::print_json(&ResetJson {
            database: &access.database,
            reset: &moved,
        })?;
    } else {
        for r in &moved {
            println!("reset {}: {} -> {}", r.name, r.from, r.to);
        }
    }
    Ok(super::exit::OK)
}
