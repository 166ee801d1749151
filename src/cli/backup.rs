//! `odoo-ops backup` and `odoo-ops restore BACKUP`: the backup engine headless.
//!
//! backup: exit 0 written and read back, 2 could not (nothing left half-written).
//! restore: exit 0 restored, 1 not restored (not confirmed, or the restored copy failed
//! its checks: the current database untouched), 2 could not try (a damaged backup, no
//! stack, no terminal to ask on).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use color_eyre::Result;
use color_eyre::eyre::eyre;
use serde::Serialize;

use super::remote::{RemoteArgs, connect_target};
use crate::backup::{self, BackupOptions, RestoreOptions, Stack, StackSpec};
use crate::config::Settings;

/// Where the stack is; shared by both commands.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// The database (default: config `[backup] db`, else `odoo`).
    #[arg(long, value_name = "NAME")]
    pub db: Option<String>,
    /// The compose project (default: config `[backup] compose_project`, else `odoo`).
    #[arg(long, value_name = "P")]
    pub compose_project: Option<String>,
    /// The compose service running PostgreSQL.
    #[arg(long, value_name = "S", default_value = "db")]
    pub db_service: String,
    /// The compose service running Odoo.
    #[arg(long, value_name = "S", default_value = "odoo")]
    pub odoo_service: String,
    /// The PostgreSQL role Odoo connects as.
    #[arg(long, value_name = "ROLE", default_value = "odoo")]
    pub db_user: String,
    /// Odoo's data_dir inside its container (the filestore is data_dir/filestore/DB).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/odoo")]
    pub data_dir: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl StackArgs {
    fn db(&self, settings: &Settings) -> String {
        self.db
            .clone()
            .or_else(|| settings.config.backup.db.clone())
            .unwrap_or_else(|| "odoo".into())
    }

    fn spec(&self, settings: &Settings) -> StackSpec {
        let project = self
            .compose_project
            .clone()
            .or_else(|| settings.config.backup.compose_project.clone())
            .unwrap_or_else(|| "odoo".into());
        StackSpec {
            db_service: self.db_service.clone(),
            odoo_service: self.odoo_service.clone(),
            db_user: self.db_user.clone(),
            data_dir: self.data_dir.clone(),
            ..StackSpec::new(&project)
        }
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Where to write (default: config `[backup] dir`, else backups/ in the state dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep this many newest backups of the database (default: config `[backup] keep`,
    /// else 7).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup zip to restore.
    #[arg(value_name = "BACKUP")]
    pub backup: PathBuf,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Restore without asking.
    #[arg(long)]
    pub yes: bool,
}

const DEFAULT_KEEP: usize = 7;

fn default_dir(settings: &Settings) -> Result<PathBuf> {
    crate::backup::default_dir(settings).ok_or_else(|| eyre!("no backup directory: give --dir"))
}

async fn find_stack(remote: &RemoteArgs, settings: &Settings, args: &StackArgs) -> Result<Stack> {
    let target = connect_target(remote, settings).await?;
    let docker = target.docker().await?;
    Stack::find(docker, &args.spec(settings)).await
}

pub fn run_backup(args: BackupArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let options = BackupOptions {
        db: args.stack.db(settings),
        dir: match &args.dir {
            Some(dir) => dir.clone(),
            None => default_dir(settings)?,
        },
        keep: Some(
            args.keep
                .or(settings.config.backup.keep)
                .unwrap_or(DEFAULT_KEEP),
        ),
    };
    let report = super::runtime()?.block_on(async {
        let stack = find_stack(remote, settings, &args.stack).await?;
        backup::backup(&stack, &options).await
    })?;
    if args.stack.json {
        super::print_json(&report)?;
    } else {
        let c = &report.checksums;
        println!("backup    {}", report.path.display());
        println!(
            "contents  dump.sql {} bytes, {} modules, filestore {} files ({} bytes)",
            c.dump_sql.size, report.modules, c.filestore_files, c.filestore_bytes
        );
        println!("sha256    {}  ({} bytes)", c.zip.sha256, c.zip.size);
        println!("checksums {}", report.checksums_path.display());
        println!("verified  read back whole in {:.1} s total", report.seconds);
        for removed in &report.removed {
            println!("removed   {} (retention)", removed.display());
        }
    }
    Ok(super::exit::OK)
}

#[derive(Debug, Serialize)]
struct NotRestored {
    restored: bool,
    reason: String,
}

pub fn run_restore(args: RestoreArgs, remote: &RemoteArgs, settings: &Settings) -> Result<u8> {
    let db = args.stack.db(settings);
    let json = args.stack.json;
    let not_restored = |code: u8, reason: String| -> Result<u8> {
        if json {
            super::print_json(&NotRestored {
                restored: false,
                reason,
            })?;
        } else {
            eprintln!("odoo-ops restore: {reason}");
        }
        Ok(code)
    };
    // Damage is found before anything is asked or touched.
    let checked = match backup::restore::check_backup(&args.backup) {
        Ok(checked) => checked,
        Err(e) => return not_restored(super::exit::ERROR, format!("{e:#}")),
    };
    if !json {
        println!(
            "restore   {} (database {}, {} modules, filestore {} files)",
            args.backup.display(),
            checked.manifest.db_name,
            checked.manifest.modules.len(),
            checked.contents.filestore_files
        );
        println!(
            "into      {db}: loaded beside it first; the current {db} is kept, renamed \
             {db}_before_restore_<time>; Odoo is stopped for the swap"
        );
    }
    if !args.yes {
        if json || !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return not_restored(
                super::exit::ERROR,
                "no terminal to ask on; re-run with --yes to restore".into(),
            );
        }
        if !confirm(&db)? {
            return not_restored(super::exit::PROBLEM, "not confirmed".into());
        }
    }
    let options = RestoreOptions {
        db: db.clone(),
        backup: args.backup.clone(),
    };
    let result = super::runtime()?.block_on(async {
        let stack = find_stack(remote, settings, &args.stack).await?;
        backup::restore(&stack, &options, |_, _| async { Ok(()) }).await
    });
    let report = match result {
        Ok(report) => report,
        Err(e) => return not_restored(super::exit::PROBLEM, format!("{e:#}")),
    };
    if json {
        super::print_json(&report)?;
    } else {
        println!("restored  {} from {}", report.db, report.backup.display());
        if let Some(kept) = &report.kept_db {
            println!("kept      the previous database as {kept}");
        }
        if let Some(kept) = &report.kept_filestore {
            println!("kept      the previous filestore as {kept}");
        }
        println!("took      {:.1} s", report.seconds);
    }
    Ok(super::exit::OK)
}

fn confirm(db: &str) -> Result<bool> {
    eprint!("Replace database {db} with this backup? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
