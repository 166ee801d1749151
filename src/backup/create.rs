//! `odoo-ops backup`'s engine: pg_dump inside the db container and the filestore out of
//! Odoo's container, streamed into one Odoo-format zip, read back whole, checksummed,
//! then old backups pruned.
//!
//! The dump is taken first and the filestore copied after it: every file the dumped rows
//! name already exists when the copy starts (a file added meanwhile is only extra).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use color_eyre::eyre::{Result, eyre};
use serde::Serialize;
use tokio::sync::mpsc;

use super::archive;
use super::checksums::{Checksums, sum_file};
use super::filestore;
use super::manifest::Manifest;
use super::names::{self, Stamp};
use super::pipe::{ChannelReader, DEPTH};
use super::retention;
use super::stack::{Stack, check_db_name, quote_ident};
use crate::docker::exec;

#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub db: String,
    /// Where backups are written (made 0700 when it does not exist).
    pub dir: PathBuf,
    /// Keep this many of the database's newest backups in `dir`; `None` keeps all.
    pub keep: Option<usize>,
}

/// A backup made and read back.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub path: PathBuf,
    pub checksums_path: PathBuf,
    pub checksums: Checksums,
    pub modules: usize,
    pub seconds: f64,
    /// Older backups removed by the retention setting.
    pub removed: Vec<PathBuf>,
}

/// Installed modules and their versions, as Odoo's `dump_db_manifest` reads them.
pub async fn installed_modules(stack: &Stack, db: &str) -> Result<BTreeMap<String, String>> {
    let rows = stack
        .psql(
            db,
            "SELECT name, coalesce(latest_version, '') FROM ir_module_module \
             WHERE state = 'installed' ORDER BY name",
        )
        .await?;
    Ok(rows
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect())
}

async fn server_version_num(stack: &Stack, db: &str) -> Result<u32> {
    let text = stack.psql(db, "SHOW server_version_num").await?;
    text.trim()
        .parse()
        .map_err(|_| eyre!("server_version_num {:?} is not a number", text.trim()))
}

fn prepare_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| eyre!("creating {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// A new file only the owner can read: backups hold the whole database.
fn create_private(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| eyre!("creating {}: {e}", path.display()))
}

pub async fn backup(stack: &Stack, options: &BackupOptions) -> Result<BackupReport> {
    let started = Instant::now();
    let db = options.db.as_str();
    check_db_name(db)?;
    prepare_dir(&options.dir)?;
    let modules = installed_modules(stack, db).await?;
    let manifest = Manifest::new(db, modules, server_version_num(stack, db).await?)?;
    let at = Stamp::now();
    let name = names::backup_file(db, &at);
    let path = options.dir.join(&name);
    let partial = options.dir.join(format!("{name}.partial"));
    let file = create_private(&partial)?;

    let result = write_and_check(stack, db, &manifest, &at, file, &partial, &path).await;
    let contents = match result {
        Ok(contents) => contents,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let zip_sum = tokio::task::spawn_blocking({
        let path = path.clone();
        move || sum_file(&path)
    })
    .await??;
    let checksums = Checksums {
        schema_version: 1,
        file: name.clone(),
        db_name: db.to_string(),
        created_at: at.rfc3339(),
        zip: zip_sum,
        dump_sql: contents.dump,
        filestore_files: contents.filestore_files,
        filestore_bytes: contents.filestore_bytes,
    };
    let checksums_path = options.dir.join(names::checksums_file(&name));
    write_private(&checksums_path, &serde_json::to_vec_pretty(&checksums)?)?;
    let removed = match options.keep {
        Some(keep) => retention::prune(&options.dir, db, keep, &name)?,
        None => Vec::new(),
    };
    Ok(BackupReport {
        path,
        checksums_path,
        checksums,
        modules: manifest.modules.len(),
        seconds: started.elapsed().as_secs_f64(),
        removed,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = create_private(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).map_err(|e| eyre!("{}: {e}", path.display()))
}

/// Stream both parts into the zip at `partial`, move it to `path` and read it back.
async fn write_and_check(
    stack: &Stack,
    db: &str,
    manifest: &Manifest,
    at: &Stamp,
    file: File,
    partial: &Path,
    path: &Path,
) -> Result<archive::Contents> {
    let (dump_tx, dump_rx) = mpsc::channel(DEPTH);
    let (files_tx, files_rx) = mpsc::channel(DEPTH);
    let writer = tokio::task::spawn_blocking({
        let manifest = manifest.clone();
        let at = *at;
        move || {
            archive::write(
                file,
                &manifest,
                &at,
                ChannelReader::new(dump_rx),
                ChannelReader::new(files_rx),
            )
        }
    });
    // Odoo's own dump: plain SQL without owners, so it loads as whichever role restores it.
    let argv = [
        "pg_dump",
        "-U",
        &stack.db_user,
        "--no-owner",
        "--format=plain",
        db,
    ];
    let dumped =
        exec::run_streaming_stdout(&stack.docker, &stack.db_container, None, &argv, dump_tx).await;
    let dump_error = match &dumped {
        Ok(out) if out.success() => None,
        Ok(out) => Some(eyre!(
            "pg_dump {} in {} failed ({}): {}",
            quote_ident(db),
            stack.db_container,
            out.exit_code
                .map_or("no exit code".into(), |c| format!("exit {c}")),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(eyre!("{e}")),
    };
    if let Some(e) = dump_error {
        drop(files_tx);
        // A writer that failed first (a full disk) stopped the dump: its error is the cause.
        return match writer.await {
            Ok(Err(cause)) if dumped.is_err() => Err(cause.wrap_err(e)),
            _ => Err(e),
        };
    }
    let source = format!("{}/{db}", stack.filestore_root());
    let copied = filestore::download(&stack.docker, &stack.odoo_container, &source, files_tx).await;
    let written = writer.await?;
    copied?;
    let (_, contents) = written?;
    std::fs::rename(partial, path).map_err(|e| eyre!("{}: {e}", path.display()))?;

    let back = tokio::task::spawn_blocking({
        let path = path.to_path_buf();
        move || archive::read_back(&path)
    })
    .await?;
    let back = match back {
        Ok(back) => back,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
    };
    if back.contents != contents || &back.manifest != manifest {
        let _ = std::fs::remove_file(path);
        return Err(eyre!(
            "{} read back differs from what was written: {:?} vs {:?}",
            path.display(),
            back.contents,
            contents
        ));
    }
    Ok(contents)
}
