//! Updating a stack directory: compare the rendered files with what is there, show a diff
//! per file (secrets redacted), and write only when asked, through the one safe-change
//! primitive ([`crate::workflow::safe_change`]): journalled, each replaced file backed up
//! in the host's backups directory, all files or none. For the nginx site, `nginx -t` with
//! the running master's invocation runs before the reload and a rejected site is put back.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, bail, eyre};
use serde::Serialize;

use super::{Existing, RenderedStack, StackFile};
use crate::nginx::NginxInvocation;
use crate::target::{Command, Target};
use crate::workflow::{self, ChangeSet, Expect, FileEdit, StateDirs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Create,
    Update,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub name: String,
    pub path: PathBuf,
    pub mode: u32,
    pub change: Change,
    /// The file's mode differs from the wanted one (a `.env` readable by others).
    pub mode_differs: bool,
    pub secret: bool,
    #[serde(skip)]
    old: Option<String>,
    #[serde(skip)]
    new: String,
}

impl FileChange {
    /// A unified diff, current → rendered; secret values shown as `<redacted>`, in every
    /// file: an odoo.conf on disk may hold `db_password`, a compose file a literal password.
    pub fn diff(&self) -> String {
        let clean = redact;
        let old = clean(self.old.as_deref().unwrap_or(""));
        let new = clean(&self.new);
        let shown = self.path.display().to_string();
        let from = if self.old.is_some() {
            shown.clone()
        } else {
            "/dev/null".into()
        };
        let mut text = similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&from, &shown)
            .to_string();
        if self.mode_differs && self.old.is_some() {
            text += &format!("mode of {shown} becomes {:o}\n", self.mode);
        }
        text
    }
}

/// Lines that assign a secret (`KEY=value`, `key = value`) lose their value; the policy is
/// [`crate::redact`]'s.
pub fn redact(text: &str) -> String {
    crate::redact::text(text)
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub dir: PathBuf,
    pub changes: Vec<FileChange>,
}

impl Plan {
    pub fn needs_write(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change != Change::Unchanged || c.mode_differs)
    }

    /// Something that exists would be replaced: ask first.
    pub fn replaces_existing(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change == Change::Update || (c.mode_differs && c.old.is_some()))
    }
}

/// Mode bits of `path` on the target, `None` when it does not exist.
async fn mode_of(target: &Target, path: &Path) -> Result<Option<u32>> {
    let out = target
        .run(
            &Command::new("stat")
                .args(["-c", "%a", "--"])
                .arg(path.display().to_string()),
        )
        .await?;
    if !out.success() {
        return Ok(None);
    }
    Ok(u32::from_str_radix(out.stdout_text().trim(), 8).ok())
}

async fn read_if_exists(target: &Target, path: &Path) -> Result<Option<(String, u32)>> {
    let Some(mode) = mode_of(target, path).await? else {
        return Ok(None);
    };
    let bytes = target.read_file(path).await?;
    let text =
        String::from_utf8(bytes).map_err(|_| eyre!("{} is not UTF-8 text", path.display()))?;
    Ok(Some((text, mode)))
}

/// The parts of an existing stack that rendering keeps (secrets, admin hash, image tag).
pub async fn read_existing(target: &Target, dir: &Path) -> Result<Existing> {
    Ok(Existing {
        env: read_if_exists(target, &dir.join(super::ENV_FILE))
            .await?
            .map(|(t, _)| t),
        odoo_conf: read_if_exists(target, &dir.join(super::ODOO_CONF_FILE))
            .await?
            .map(|(t, _)| t),
    })
}

pub async fn plan(target: &Target, dir: &Path, rendered: &RenderedStack) -> Result<Plan> {
    let mut changes = Vec::new();
    for f in &rendered.files {
        changes.push(plan_file(target, &dir.join(f.name), f).await?);
    }
    Ok(Plan {
        dir: dir.to_path_buf(),
        changes,
    })
}

async fn plan_file(target: &Target, path: &Path, f: &StackFile) -> Result<FileChange> {
    let current = read_if_exists(target, path).await?;
    let (change, mode_differs, old) = match current {
        None => (Change::Create, false, None),
        Some((text, mode)) => {
            let change = if text == f.contents {
                Change::Unchanged
            } else {
                Change::Update
            };
            (change, mode != f.mode, Some(text))
        }
    };
    Ok(FileChange {
        name: f.name.to_string(),
        path: path.to_path_buf(),
        mode: f.mode,
        change,
        mode_differs,
        secret: f.secret,
        old,
        new: f.contents.clone(),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub written: Vec<PathBuf>,
    pub backups: Vec<PathBuf>,
}

async fn run_ok(target: &Target, command: Command, what: &str) -> Result<()> {
    let out = target.run(&command).await?;
    if !out.success() {
        bail!("{what}: {}", out.stderr_text().trim());
    }
    Ok(())
}

/// The plan's changes as one change set: each file must still be as the plan read it.
fn change_set(plan: &Plan, purpose: String, stamp: &str) -> ChangeSet {
    let mut set = ChangeSet::new(purpose);
    set.stamp = stamp.to_string();
    for c in plan
        .changes
        .iter()
        .filter(|c| c.change != Change::Unchanged || c.mode_differs)
    {
        set = set.file(FileEdit {
            path: c.path.clone(),
            expect: match &c.old {
                Some(text) => Expect::Sha256(vec![workflow::sha256_hex(text.as_bytes())]),
                None => Expect::Absent,
            },
            contents: c.new.as_bytes().to_vec(),
            mode: Some(c.mode),
        });
    }
    set
}

/// Write what the plan changes. `stamp` names the change and its backup directory.
pub async fn apply(target: &Target, plan: &Plan, stamp: &str) -> Result<Applied> {
    let dirs = StateDirs::locate(target).await?;
    apply_in(target, &dirs, plan, stamp).await
}

/// [`apply`] with the state directories given.
pub async fn apply_in(
    target: &Target,
    dirs: &StateDirs,
    plan: &Plan,
    stamp: &str,
) -> Result<Applied> {
    let dir = plan.dir.display().to_string();
    run_ok(
        target,
        Command::new("mkdir").args(["-p", "--"]).arg(&dir),
        &format!("cannot create {dir}"),
    )
    .await
    .map_err(|e| eyre!("{e}; nothing was written"))?;
    let set = change_set(plan, format!("stack: write {dir}"), stamp);
    let outcome = workflow::apply(target, dirs, &set).await?;
    if !outcome.committed {
        bail!(
            "cannot write in {dir}: {}; nothing was written",
            outcome.steps.join("; ")
        );
    }
    Ok(Applied {
        written: outcome.written,
        backups: outcome.backups,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SiteOutcome {
    Unchanged,
    Reloaded { backup: Option<PathBuf> },
}

/// Put the site at `path` (a symlink is written at its target), run `nginx -t` with the
/// running master's invocation, and reload only if it passes. A site nginx rejects is
/// rolled back (the old file exactly, a new file removed) and the error carries nginx's
/// own words.
pub async fn install_site(
    target: &Target,
    dirs: &StateDirs,
    path: &Path,
    site: &StackFile,
    nginx: &NginxInvocation,
    stamp: &str,
) -> Result<SiteOutcome> {
    let change = plan_file(target, path, site).await?;
    if change.change == Change::Unchanged && !change.mode_differs {
        return Ok(SiteOutcome::Unchanged);
    }
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let plan = Plan {
        dir,
        changes: vec![change],
    };
    let set = change_set(&plan, format!("stack: install {}", path.display()), stamp)
        .validated_by(nginx.clone());
    let outcome = workflow::apply(target, dirs, &set).await?;
    if outcome.reverted {
        let said = outcome
            .test
            .as_ref()
            .map(|t| {
                t.error
                    .clone()
                    .unwrap_or_else(|| t.output.trim().to_string())
            })
            .unwrap_or_else(|| outcome.steps.join("; "));
        bail!(
            "nginx -t rejected {}; the previous site is back and nginx was not reloaded:\n{said}",
            path.display()
        );
    }
    if outcome.reloaded == Some(false) {
        bail!("nginx reload failed: {}", outcome.steps.join("; "));
    }
    Ok(SiteOutcome::Reloaded {
        backup: outcome.backups.first().cloned(),
    })
}

/// `20261122T031500Z`-style stamp for backup names, from the system clock.
pub fn backup_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_secret_values_only() {
        let r = redact(
            "# POSTGRES_PASSWORD is generated\nPOSTGRES_PASSWORD=abc\nODOO_TAG=18.0\nODOO_ADMIN_PASSWORD=x\n",
        );
        assert_eq!(
            r,
            "# POSTGRES_PASSWORD is generated\nPOSTGRES_PASSWORD=<redacted>\nODOO_TAG=18.0\nODOO_ADMIN_PASSWORD=<redacted>\n"
        );
    }
}
