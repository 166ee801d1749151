//! `odoo-ops restore`'s engine. The current database is never dropped, and nothing is
//! touched until the restored copy has loaded and passed its checks:
//!
//! 1. the backup is read back whole (zip, manifest, a complete dump, its checksums file
//!    when there is one); a damaged backup is refused here;
//! 2. the dump is loaded into a new database `DB_restore_<ts>` beside the current one, and
//!    the filestore copied beside the current one as `filestore/DB_restore_<ts>`;
//! 3. checks: tables present, `ir_module_module` readable and naming the manifest's
//!    modules, then the caller's gate (deploy's health gates);
//! 4. only then the swap: Odoo stopped, the current database and filestore renamed
//!    `DB_before_restore_<ts>` (kept), the restored ones renamed to `DB`, Odoo started.
//!
//! A failure before the swap drops only the half-loaded new database (and its filestore
//! copy); a failure during the swap puts the names back.

use std::collections::HashSet;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::StopContainerOptions;
use color_eyre::eyre::{Result, eyre};
use serde::Serialize;
use tokio::sync::mpsc;

use super::archive::{self, DUMP, FILESTORE};
use super::checksums::Checksums;
use super::create::installed_modules;
use super::filestore;
use super::manifest::Manifest;
use super::names::{self, MAX_DB_NAME, Stamp};
use super::pipe::{ChannelWriter, DEPTH};
use super::stack::{Stack, check_db_name, quote_ident, quote_literal};
use crate::docker::exec;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The database to replace (it may not exist yet).
    pub db: String,
    pub backup: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub db: String,
    pub backup: PathBuf,
    /// The database the backup was taken of (its manifest's `db_name`).
    pub backed_up_db: String,
    /// What the replaced database is called now; `None` when there was none.
    pub kept_db: Option<String>,
    /// `data_dir/filestore/<kept_db>` when the replaced database had a filestore.
    pub kept_filestore: Option<String>,
    pub modules: usize,
    pub filestore_files: u64,
    pub seconds: f64,
}

/// What a backup holds, checked before anything is changed.
pub struct CheckedBackup {
    pub manifest: Manifest,
    pub contents: archive::Contents,
}

/// Read the backup back whole and hold it to its checksums file when it has one.
pub fn check_backup(path: &Path) -> Result<CheckedBackup> {
    let back = archive::read_back(path)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecar = path.with_file_name(names::checksums_file(&file_name));
    if sidecar.exists() {
        let sums = Checksums::read(&sidecar)?;
        let zip = super::checksums::sum_file(path)?;
        if zip != sums.zip || back.contents.dump != sums.dump_sql {
            return Err(eyre!(
                "{} does not match {}: the file changed since it was written",
                path.display(),
                sidecar.display()
            ));
        }
    }
    Ok(CheckedBackup {
        manifest: back.manifest,
        contents: back.contents,
    })
}

/// Restore `options.backup` as `options.db`. `gate` runs against the loaded copy (its
/// name) before the swap; an error from it aborts the restore with nothing changed.
pub async fn restore<G, F>(
    stack: &Stack,
    options: &RestoreOptions,
    gate: G,
) -> Result<RestoreReport>
where
    G: FnOnce(Stack, String) -> F,
    F: Future<Output = Result<()>>,
{
    let started = Instant::now();
    let db = options.db.as_str();
    check_db_name(db)?;
    let checked = tokio::task::spawn_blocking({
        let path = options.backup.clone();
        move || check_backup(&path)
    })
    .await??;

    let at = Stamp::now();
    let new = names::restore_db(db, &at);
    let kept = names::before_restore_db(db, &at);
    if kept.len() > MAX_DB_NAME {
        return Err(eyre!(
            "{kept} is longer than PostgreSQL's {MAX_DB_NAME} characters: a restore of {db} \
             cannot keep the current database under a distinct name"
        ));
    }
    if !filestore::on_a_mount(&stack.docker, &stack.odoo_container, &stack.data_dir).await? {
        return Err(eyre!(
            "{} in {} is not on a volume or bind mount: its filestore cannot be swapped \
             (and would be lost when the container is recreated)",
            stack.data_dir,
            stack.odoo_container
        ));
    }
    let helper_image = filestore::image_of(&stack.docker, &stack.db_container).await?;
    let had_current = stack.database_exists(db).await?;
    if stack.database_exists(&new).await? {
        return Err(eyre!("a database {new} exists already"));
    }

    let loaded = load_beside(stack, options, &checked, &new, gate).await;
    if let Err(e) = loaded {
        let cleaned = discard(stack, &new, &helper_image).await;
        return Err(match cleaned {
            Ok(()) => eyre!("{e:#}; {new} was dropped, {db} left as it was"),
            Err(c) => eyre!("{e:#}; cleaning up {new} failed too: {c:#}; {db} left as it was"),
        });
    }

    let swapped = swap(stack, db, &new, &kept, had_current, &helper_image).await;
    let had_filestore = match swapped {
        Ok(had) => had,
        // The names are as they were when the copy still has its own: only it goes.
        Err(e) if stack.database_exists(&new).await.unwrap_or(false) => {
            let cleaned = discard(stack, &new, &helper_image).await;
            return Err(match cleaned {
                Ok(()) => eyre!("{e:#}; {new} was dropped, {db} left as it was"),
                Err(c) => eyre!("{e:#}; cleaning up {new} failed too: {c:#}"),
            });
        }
        Err(e) => return Err(e),
    };
    Ok(RestoreReport {
        db: db.to_string(),
        backup: options.backup.clone(),
        backed_up_db: checked.manifest.db_name.clone(),
        kept_db: had_current.then(|| kept.clone()),
        kept_filestore: had_filestore.then(|| format!("{}/{kept}", stack.filestore_root())),
        modules: checked.manifest.modules.len(),
        filestore_files: checked.contents.filestore_files,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Steps 2 and 3: the new database and filestore beside the current ones, checked.
async fn load_beside<G, F>(
    stack: &Stack,
    options: &RestoreOptions,
    checked: &CheckedBackup,
    new: &str,
    gate: G,
) -> Result<()>
where
    G: FnOnce(Stack, String) -> F,
    F: Future<Output = Result<()>>,
{
    // As Odoo creates its databases (`_create_empty_database`).
    stack
        .psql(
            "postgres",
            &format!(
                "CREATE DATABASE {} ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE template0",
                quote_ident(new)
            ),
        )
        .await?;
    load_dump(stack, &options.backup, new).await?;
    copy_filestore(stack, &options.backup, new).await?;

    let tables = stack
        .psql(
            new,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        )
        .await?;
    if tables.trim().parse::<u64>().unwrap_or(0) == 0 {
        return Err(eyre!("the restored database {new} has no tables"));
    }
    let modules = installed_modules(stack, new).await?;
    if modules != checked.manifest.modules {
        return Err(eyre!(
            "the restored database's installed modules differ from the backup's manifest"
        ));
    }
    gate(stack.clone(), new.to_string()).await
}

/// `psql` in the db container reading dump.sql streamed out of the zip; the first error
/// stops it.
async fn load_dump(stack: &Stack, backup: &Path, new: &str) -> Result<()> {
    let (tx, rx) = mpsc::channel(DEPTH);
    let reader = tokio::task::spawn_blocking({
        let backup = backup.to_path_buf();
        move || -> Result<()> {
            let file = std::fs::File::open(&backup)?;
            let mut zip = zip::ZipArchive::new(file)?;
            let mut entry = zip.by_name(DUMP)?;
            let mut out = ChannelWriter::new(tx);
            std::io::copy(&mut entry, &mut out)?;
            Ok(())
        }
    });
    let argv = [
        "psql",
        "-U",
        &stack.db_user,
        "-d",
        new,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-o",
        "/dev/null",
        "-f",
        "-",
    ];
    let out = exec::run_with_stdin(&stack.docker, &stack.db_container, None, &argv, rx).await;
    let read = reader.await?;
    let out = out?;
    if !out.success() {
        return Err(eyre!(
            "loading dump.sql into {new} failed ({}): {}",
            out.exit_code
                .map_or("no exit code".into(), |c| format!("exit {c}")),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    read.map_err(|e| eyre!("reading dump.sql: {e}"))
}

/// The zip's `filestore/` as `data_dir/filestore/<new>`, owned as the filestore root is
/// (Odoo's user), through Docker's archive API.
async fn copy_filestore(stack: &Stack, backup: &Path, new: &str) -> Result<()> {
    let root = stack.filestore_root();
    let (parent, prefix, owner) =
        match filestore::owner(&stack.docker, &stack.odoo_container, &root).await? {
            Some(owner) => (root.clone(), format!("{new}/"), owner),
            None => {
                let owner = filestore::owner(&stack.docker, &stack.odoo_container, &stack.data_dir)
                    .await?
                    .ok_or_else(|| {
                        eyre!(
                            "{} does not exist in {}",
                            stack.data_dir,
                            stack.odoo_container
                        )
                    })?;
                (stack.data_dir.clone(), format!("filestore/{new}/"), owner)
            }
        };
    let (tx, rx) = mpsc::channel(DEPTH);
    let builder = tokio::task::spawn_blocking({
        let backup = backup.to_path_buf();
        move || write_filestore_tar(&backup, &prefix, owner, ChannelWriter::new(tx))
    });
    let uploaded = filestore::upload(&stack.docker, &stack.odoo_container, &parent, rx).await;
    builder.await??;
    uploaded
}

fn dir_header(path: &str, (uid, gid): (u64, u64)) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_size(0);
    let _ = header.set_path(path);
    header.set_cksum();
    header
}

/// A tar of the zip's filestore under `prefix` (every directory with its own entry, so
/// none is made root's by the extraction).
fn write_filestore_tar(
    backup: &Path,
    prefix: &str,
    owner: (u64, u64),
    out: ChannelWriter,
) -> Result<()> {
    let file = std::fs::File::open(backup)?;
    let mut zip = zip::ZipArchive::new(file)?;
    let mut tar = tar::Builder::new(out);
    let mut dirs: HashSet<String> = HashSet::new();
    let mut add_dir = |tar: &mut tar::Builder<ChannelWriter>, dir: &str| -> Result<()> {
        if dirs.insert(dir.to_string()) {
            tar.append(&dir_header(dir, owner), std::io::empty())?;
        }
        Ok(())
    };
    // `filestore/` itself when the root is made here, then the database's directory.
    let mut acc = String::new();
    for part in prefix.split_terminator('/') {
        acc.push_str(part);
        acc.push('/');
        add_dir(&mut tar, &acc)?;
    }
    for i in 0..zip.len() {
        let entry = zip.by_index(i)?;
        // `enclosed_name`: no `..` nor absolute path can lead outside the filestore.
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let name = name.to_string_lossy().replace('\\', "/");
        let Some(inside) = name.strip_prefix(FILESTORE) else {
            continue;
        };
        if !entry.is_file() || inside.is_empty() {
            continue;
        }
        let path = format!("{prefix}{inside}");
        let mut acc = prefix.to_string();
        let parts: Vec<&str> = inside.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            acc.push_str(part);
            acc.push('/');
            add_dir(&mut tar, &acc)?;
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(owner.0);
        header.set_gid(owner.1);
        header.set_size(entry.size());
        tar.append_data(&mut header, &path, entry.take(u64::MAX))?;
    }
    tar.into_inner()?;
    Ok(())
}

/// Drop the half-loaded database and its filestore copy; nothing else.
async fn discard(stack: &Stack, new: &str, helper_image: &str) -> Result<()> {
    terminate(stack, new).await?;
    stack
        .psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {}", quote_ident(new)),
        )
        .await?;
    filestore::run_helper(
        &stack.docker,
        helper_image,
        &stack.odoo_container,
        "rm -rf -- \"$1/$2\"",
        &[&stack.filestore_root(), new],
    )
    .await
}

async fn terminate(stack: &Stack, db: &str) -> Result<()> {
    stack
        .psql(
            "postgres",
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = {} AND pid <> pg_backend_pid()",
                quote_literal(db)
            ),
        )
        .await
        .map(|_| ())
}

/// Rename databases in one transaction, retrying while sessions that were just told to
/// end are still going (`pg_terminate_backend` does not wait for them).
async fn rename(stack: &Stack, renames: &[(&str, &str)]) -> Result<()> {
    let sql: String = renames
        .iter()
        .map(|(from, to)| {
            format!(
                "ALTER DATABASE {} RENAME TO {};",
                quote_ident(from),
                quote_ident(to)
            )
        })
        .collect();
    let mut attempt = 0;
    loop {
        for (from, _) in renames {
            terminate(stack, from).await?;
        }
        match stack.psql("postgres", &format!("BEGIN;{sql}COMMIT;")).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 20 && format!("{e}").contains("being accessed") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `$1` the filestore root, `$2` the database, `$3` the kept name, `$4` the copy. The
/// current directory (even a stale one of a database that is gone) is moved aside first,
/// else `mv` would put the copy inside it; a failure of the second move undoes the first.
const SWAP_FILESTORE: &str = r#"[ -d "$1" ] || exit 0
cd "$1" || exit 1
moved=
if [ -e "$2" ]; then mv -- "$2" "$3" || exit 1; moved=1; fi
if [ -e "$4" ]; then
  if ! mv -- "$4" "$2"; then
    if [ -n "$moved" ]; then mv -- "$3" "$2"; fi
    exit 1
  fi
fi
"#;

/// Step 4. Returns whether the current database had a filestore (now kept aside).
async fn swap(
    stack: &Stack,
    db: &str,
    new: &str,
    kept: &str,
    has_current_db: bool,
    helper_image: &str,
) -> Result<bool> {
    let docker = &stack.docker;
    let odoo = stack.odoo_container.as_str();
    let running = docker
        .inspect_container(odoo, None)
        .await
        .ok()
        .and_then(|i| i.state)
        .and_then(|s| s.running)
        .unwrap_or(false);
    if running {
        docker
            .stop_container(
                odoo,
                Some(StopContainerOptions {
                    t: Some(30),
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| eyre!("stopping {odoo}: {e}"))?;
    }
    let result = async {
        let probe = format!("{}/{db}", stack.filestore_root());
        let had_filestore = filestore::owner(docker, odoo, &probe).await?.is_some();
        let forward: Vec<(&str, &str)> = if has_current_db {
            vec![(db, kept), (new, db)]
        } else {
            vec![(new, db)]
        };
        rename(stack, &forward).await?;
        let moved = filestore::run_helper(
            docker,
            helper_image,
            odoo,
            SWAP_FILESTORE,
            &[&stack.filestore_root(), db, kept, new],
        )
        .await;
        if let Err(e) = moved {
            // Back to the names before the swap; the restored copy stays as `new`.
            let back: Vec<(&str, &str)> = forward.iter().rev().map(|(a, b)| (*b, *a)).collect();
            let undone = rename(stack, &back).await;
            return Err(match undone {
                Ok(()) => eyre!("swapping the filestore failed: {e:#}; the databases' names were put back"),
                Err(u) => eyre!(
                    "swapping the filestore failed: {e:#}; putting the databases' names back failed too: {u:#}"
                ),
            });
        }
        Ok(had_filestore)
    }
    .await;
    if running {
        docker
            .start_container(odoo, None)
            .await
            .map_err(|e| eyre!("starting {odoo} again: {e}"))?;
    }
    result
}
