//! The backup a module change is offered first. Every change odoo-ops makes goes to the
//! database the running Odoo serves (the production one: there is no other in the
//! stack), and a module run that succeeds cannot be undone: its data migrations, new
//! tables and rewritten records stay. So the change is preceded by the backup engine's
//! backup (Odoo's own zip format, restorable with `odoo-ops restore`) unless the
//! operator declines, and then is told what is at risk.

use std::path::Path;

use color_eyre::eyre::{Result, eyre};

use super::access::DbAccess;
use crate::backup::{BackupOptions, BackupReport, Stack, StackSpec};
use crate::odoo::conf::OdooConf;

/// The backup engine's view of the stack the module tables were read in.
fn spec(access: &DbAccess) -> Result<StackSpec> {
    let odoo = &access.container()?.odoo;
    let project = odoo
        .compose_project
        .clone()
        .ok_or_else(|| eyre!("{} is not a compose container", odoo.name))?;
    // The backup dumps inside the database's container.
    access.db_container()?;
    let db_service = OdooConf::db_service(Some(&access.conf))
        .ok_or_else(|| eyre!("odoo.conf's db_host is no compose service"))?
        .to_string();
    let data_dir = access
        .conf
        .get("data_dir")
        .filter(|d| !d.is_empty() && *d != "False")
        .unwrap_or("/var/lib/odoo")
        .to_string();
    Ok(StackSpec {
        db_service,
        db_user: access.db_user.clone(),
        data_dir,
        ..StackSpec::new(&project)
    })
}

/// Back the database up (dump and filestore) before a change.
pub async fn backup_first(
    access: &DbAccess,
    dir: &Path,
    keep: Option<usize>,
) -> Result<BackupReport> {
    let stack = Stack::find(access.container()?.docker.clone(), &spec(access)?).await?;
    crate::backup::backup(
        &stack,
        &BackupOptions {
            db: access.database.clone(),
            dir: dir.to_path_buf(),
            keep,
        },
    )
    .await
}

/// The newest backup of `db` in `dir` (name order is time order) and when it was made.
pub fn latest_backup(dir: &Path, db: &str) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| crate::backup::names::is_backup_of(n, db))
        .collect();
    names.sort();
    names.pop()
}

/// What the operator risks by declining the backup.
pub fn at_risk(db: &str, dir: Option<&Path>, latest: Option<&str>) -> String {
    let fallback = match (dir, latest) {
        (Some(dir), Some(name)) => format!(
            "the newest backup is {} (everything written since would be lost going back to it)",
            dir.join(name).display()
        ),
        (Some(dir), None) => format!("there is no backup of it in {}", dir.display()),
        (None, _) => "no backup directory is known".to_string(),
    };
    format!(
        "no backup taken: database {db} is the one Odoo serves; a failed phase is rolled back by Odoo, but a phase that succeeds cannot be undone (its data migrations, new tables and changed records stay), and {fallback}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_risk_names_the_fallback() {
        let s = at_risk(
            "odoo",
            Some(Path::new("/b")),
            Some("odoo_2026-11-30_10-00-00.zip"),
        );
        assert!(s.contains("database odoo is the one Odoo serves"), "{s}");
        assert!(s.contains("/b/odoo_2026-11-30_10-00-00.zip"), "{s}");
        assert!(
            at_risk("odoo", Some(Path::new("/b")), None).contains("there is no backup of it in /b")
        );
    }
}
