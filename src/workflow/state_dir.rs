//! Where odoo-ops keeps what a change needs to be undone, on the host it changes.
//!
//! As root: the journal in `/var/lib/odoo-ops/journal` (the FHS place for a program's own
//! state) and backups in `/var/backups/odoo-ops/<change>/` (Debian's place for backups
//! made by system tools). Both are outside `/etc`, so no `include` of any nginx
//! configuration we have seen reaches them: a backup that nginx loads is how a "safe" fix
//! once broke `nginx -t` (a copy of the site in `sites-enabled/`, a duplicate upstream).
//! That is not left to convention: every validation also checks that the configuration
//! nginx would load holds no file from these directories ([`StateDirs::holds`]).
//!
//! A login that is not root cannot write there, so it keeps both under its own
//! `~/.local/state/odoo-ops/` and is told so. `ODOO_OPS_STATE_DIR` (a directory on the
//! host) puts both under one root instead, for tests and unusual layouts.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, bail, eyre};

use crate::target::{Command, Target};

/// Names a directory on the host that holds `journal/` and `backups/`.
pub const STATE_DIR_ENV: &str = "ODOO_OPS_STATE_DIR";

const ROOT_JOURNAL: &str = "/var/lib/odoo-ops/journal";
const ROOT_BACKUPS: &str = "/var/backups/odoo-ops";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    pub journal: PathBuf,
    pub backups: PathBuf,
    /// Said to the operator when the usual place could not be used.
    pub note: Option<String>,
}

impl StateDirs {
    /// Both directories under one root.
    pub fn under(root: &Path) -> StateDirs {
        StateDirs {
            journal: root.join("journal"),
            backups: root.join("backups"),
            note: None,
        }
    }

    /// The directories for the login `target` acts as.
    pub async fn locate(target: &Target) -> Result<StateDirs> {
        if let Some(root) = std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(StateDirs::under(Path::new(&root)));
        }
        let out = target
            .run(&Command::script(r#"id -u; printf '%s\n' "$HOME""#))
            .await?;
        let text = out.stdout_text();
        let mut lines = text.lines();
        let uid = lines.next().unwrap_or("").trim();
        let home = lines.next().unwrap_or("").trim();
        if !out.success() || uid.is_empty() {
            bail!("could not tell which user acts on {}", target.describe());
        }
        if uid == "0" {
            return Ok(StateDirs {
                journal: PathBuf::from(ROOT_JOURNAL),
                backups: PathBuf::from(ROOT_BACKUPS),
                note: None,
            });
        }
        if !home.starts_with('/') {
            bail!(
                "the login on {} has no home directory to keep its journal in",
                target.describe()
            );
        }
        let mut dirs = StateDirs::under(&Path::new(home).join(".local/state/odoo-ops"));
        dirs.note = Some(format!(
            "not root: the change journal and backups are kept in {}/.local/state/odoo-ops, not {ROOT_JOURNAL}",
            home
        ));
        Ok(dirs)
    }

    /// Deploy state (lock, step journal, releases), one directory per stack beside the
    /// change journal: `/var/lib/odoo-ops/deploys` as root, under the same root otherwise.
    pub fn deploys(&self) -> PathBuf {
        self.journal.with_file_name("deploys")
    }

    /// `path` lies inside the journal or the backups.
    pub fn holds(&self, path: &Path) -> bool {
        path.starts_with(&self.journal)
            || path.starts_with(&self.backups)
            || path.starts_with(self.deploys())
    }
}

/// Create `dir` (private) if needed and make sure it is ours alone: a journal or backup
/// directory another user could write to would let them choose what a recovery restores.
pub async fn ensure_private(target: &Target, dir: &Path) -> Result<()> {
    const SCRIPT: &str = r#"set -e
umask 077
mkdir -p -- "$1"
stat -c '%u %a' -- "$1"
id -u"#;
    let out = target
        .run(&Command::script(SCRIPT).arg(dir.to_string_lossy()))
        .await?;
    if !out.success() {
        bail!(
            "could not create {}: {}",
            dir.display(),
            out.stderr_text().trim()
        );
    }
    check_private(dir, &out.stdout_text())
}

/// Whether `dir` exists and is private; `Ok(false)` when it does not exist.
pub async fn exists_private(target: &Target, dir: &Path) -> Result<bool> {
    const SCRIPT: &str = r#"[ -d "$1" ] || exit 0
stat -c '%u %a' -- "$1"
id -u"#;
    let out = target
        .run(&Command::script(SCRIPT).arg(dir.to_string_lossy()))
        .await?;
    let text = out.stdout_text();
    if text.trim().is_empty() {
        return Ok(false);
    }
    check_private(dir, &text).map(|()| true)
}

/// `stat -c '%u %a'` then `id -u`: owned by us, writable by nobody else.
fn check_private(dir: &Path, text: &str) -> Result<()> {
    let mut lines = text.lines();
    let stat = lines.next().unwrap_or("");
    let me = lines.next().unwrap_or("").trim();
    let (owner, mode) = stat
        .split_once(' ')
        .ok_or_else(|| eyre!("could not read the owner of {}", dir.display()))?;
    let mode = u32::from_str_radix(mode.trim(), 8)
        .map_err(|_| eyre!("could not read the mode of {}", dir.display()))?;
    if owner != me {
        bail!(
            "{} belongs to uid {owner}, not to this login (uid {me}): not trusted",
            dir.display()
        );
    }
    if mode & 0o022 != 0 {
        bail!(
            "{} is writable by others (mode {mode:o}): not trusted",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_others_can_write_is_not_trusted() {
        let d = Path::new("/x");
        assert!(check_private(d, "0 700\n0\n").is_ok());
        assert!(check_private(d, "0 755\n0\n").is_ok());
        let e = check_private(d, "0 777\n0\n").unwrap_err().to_string();
        assert!(e.contains("writable by others"), "{e}");
        let e = check_private(d, "1000 700\n0\n").unwrap_err().to_string();
        assert!(e.contains("belongs to uid 1000"), "{e}");
    }

    #[test]
    fn holds_only_what_is_inside() {
        let dirs = StateDirs::under(Path::new("/var/lib/o"));
        assert!(dirs.holds(Path::new("/var/lib/o/backups/1/odoo")));
        assert!(!dirs.holds(Path::new("/etc/nginx/sites-enabled/odoo")));
    }
}
