//! Updating a stack directory: compare the rendered files with what is there, show a diff
//! per file (secrets redacted), and write only when asked: every file is staged first, so a
//! failure writes nothing; each replaced file is kept as `NAME.bak-STAMP`. For the nginx
//! site, `nginx -t` runs before the reload and a rejected site is put back.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, bail, eyre};
use serde::Serialize;

use super::{Existing, RenderedStack, StackFile};
use crate::target::{Command, Target};

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

fn staged_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.odoo-ops-new"))
}

async fn run_ok(target: &Target, command: Command, what: &str) -> Result<()> {
    let out = target.run(&command).await?;
    if !out.success() {
        bail!("{what}: {}", out.stderr_text().trim());
    }
    Ok(())
}

/// Write what the plan changes. `stamp` names the backups (`odoo.conf.bak-STAMP`).
pub async fn apply(target: &Target, plan: &Plan, stamp: &str) -> Result<Applied> {
    let dir = plan.dir.display().to_string();
    run_ok(
        target,
        Command::new("mkdir").args(["-p", "--"]).arg(&dir),
        &format!("cannot create {dir}"),
    )
    .await
    .map_err(|e| eyre!("{e}; nothing was written"))?;
    let todo: Vec<&FileChange> = plan
        .changes
        .iter()
        .filter(|c| c.change != Change::Unchanged || c.mode_differs)
        .collect();
    // Stage everything first: if one file cannot be written, none is.
    let mut staged = Vec::new();
    for c in &todo {
        let s = staged_path(&c.path);
        if let Err(e) = target.write_file(&s, c.new.as_bytes(), c.mode).await {
            discard(target, &staged).await;
            bail!("cannot write in {dir}: {e:#}; nothing was written");
        }
        staged.push(s);
    }
    let mut applied = Applied::default();
    for c in todo.iter().filter(|c| c.old.is_some()) {
        let backup = PathBuf::from(format!("{}.bak-{stamp}", c.path.display()));
        let copy = Command::new("cp")
            .args(["-p", "--"])
            .arg(c.path.display().to_string())
            .arg(backup.display().to_string());
        let mut backed_up = run_ok(target, copy, "cannot back up").await;
        if backed_up.is_ok() && c.secret {
            // A copy of the secrets is as secret as the file, whatever mode it had before.
            let chmod = Command::new("chmod")
                .args(["600", "--"])
                .arg(backup.display().to_string());
            backed_up = run_ok(target, chmod, "cannot protect the backup").await;
        }
        if let Err(e) = backed_up {
            discard(target, &staged).await;
            bail!("{e}; nothing was written");
        }
        applied.backups.push(backup);
    }
    for (c, s) in todo.iter().zip(&staged) {
        let mv = Command::new("mv")
            .args(["-f", "--"])
            .arg(s.display().to_string())
            .arg(c.path.display().to_string());
        run_ok(target, mv, &format!("cannot replace {}", c.path.display())).await?;
        applied.written.push(c.path.clone());
    }
    Ok(applied)
}

async fn discard(target: &Target, staged: &[PathBuf]) {
    if staged.is_empty() {
        return;
    }
    let rm = Command::new("rm")
        .args(["-f", "--"])
        .args(staged.iter().map(|p| p.display().to_string()));
    let _ = target.run(&rm).await;
}

/// How to check and reload the nginx that serves the site.
#[derive(Debug, Clone)]
pub struct NginxControl {
    pub test: Command,
    pub reload: Command,
}

impl Default for NginxControl {
    fn default() -> Self {
        NginxControl {
            test: Command::new("nginx").arg("-t"),
            reload: Command::new("nginx").args(["-s", "reload"]),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SiteOutcome {
    Unchanged,
    Reloaded { backup: Option<PathBuf> },
}

/// Put the site at `path`, run `nginx -t`, and reload only if it passes. A site nginx
/// rejects is rolled back (the backup restored, a new file removed) and the error carries
/// nginx's own words.
pub async fn install_site(
    target: &Target,
    path: &Path,
    site: &StackFile,
    control: &NginxControl,
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
    let applied = apply(target, &plan, stamp).await?;
    let backup = applied.backups.first().cloned();
    let test = target.run(&control.test).await?;
    if !test.success() {
        let restore = match &backup {
            Some(b) => Command::new("mv")
                .args(["-f", "--"])
                .arg(b.display().to_string())
                .arg(path.display().to_string()),
            None => Command::new("rm")
                .args(["-f", "--"])
                .arg(path.display().to_string()),
        };
        target.run(&restore).await?;
        bail!(
            "nginx -t rejected {}; the previous site is back and nginx was not reloaded:\n{}",
            path.display(),
            test.stderr_text().trim()
        );
    }
    run_ok(target, control.reload.clone(), "nginx reload failed").await?;
    Ok(SiteOutcome::Reloaded { backup })
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
