//! Exactly one thing renews the certificate. Debian's and Ubuntu's certbot package ships
//! both a systemd timer (`certbot.timer`) and `/etc/cron.d/certbot`, and operators add their
//! own cron lines from runbooks; two mechanisms race for certbot's lock and make "which one
//! renewed?" unanswerable. Where systemd runs and the timer exists, the timer is kept;
//! otherwise one cron entry is.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{TlsError, arg, host_error};
use crate::target::{Command, Target};

/// Where the renewal mechanisms live: `/` on a host; a directory holding `etc/`, `lib/` and
/// `run/` for an offline image (`systemctl --root`), which is how the tests use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenewalLayout {
    pub root: PathBuf,
}

impl Default for RenewalLayout {
    fn default() -> Self {
        RenewalLayout { root: "/".into() }
    }
}

/// The one mechanism left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Renewal {
    /// `certbot.timer`, enabled.
    Timer,
    /// This cron file's `certbot renew` line.
    Cron { file: PathBuf },
    /// A `certbot renew` line in root's own crontab (`crontab -l`), the operator's own.
    RootCrontab,
}

impl fmt::Display for Renewal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Renewal::Timer => f.write_str("certbot.timer (systemd), no cron job"),
            Renewal::Cron { file } => write!(f, "the cron job in {}, no timer", file.display()),
            Renewal::RootCrontab => f.write_str("the certbot line in root's crontab, no timer"),
        }
    }
}

/// The suffix a disabled cron file gets: cron skips files in `cron.d` whose names contain a
/// dot, and dpkg does not bring back a packaged file the administrator moved away.
pub const DISABLED_SUFFIX: &str = ".disabled-by-odoo-ops";

/// The cron file written when no mechanism exists and there is no systemd.
pub const CRON_FILE: &str = "etc/cron.d/certbot-odoo-ops";

/// What is there.
#[derive(Debug, Default)]
struct Found {
    timer_unit: bool,
    systemd_runs: bool,
    timer_enabled: bool,
    cron_files: Vec<PathBuf>,
    /// root's own crontab has a `certbot … renew` line (only looked at for `/`).
    user_crontab: bool,
}

async fn look(target: &Target, root: &Path) -> Result<Found, TlsError> {
    // Comment lines do not count; a cron.d name with a dot is skipped by cron itself.
    const LOOK: &str = r#"r=$1
for d in etc/systemd/system lib/systemd/system usr/lib/systemd/system; do
  [ -f "$r/$d/certbot.timer" ] && { echo unit; break; }
done
[ -d "$r/run/systemd/system" ] && echo systemd
{ [ -e "$r/etc/systemd/system/timers.target.wants/certbot.timer" ] || [ -L "$r/etc/systemd/system/timers.target.wants/certbot.timer" ]; } && echo enabled
for f in "$r"/etc/cron.d/*; do
  [ -f "$f" ] || continue
  case "${f##*/}" in *.*) continue ;; esac
  grep -v '^[[:space:]]*#' "$f" | grep -q 'certbot.*renew' && printf 'cron %s\n' "$f"
done
if [ "$r" = / ]; then
  crontab -l 2>/dev/null | grep -v '^[[:space:]]*#' | grep -q 'certbot.*renew' && echo crontab
fi
exit 0"#;
    let out = target
        .run(&Command::script(LOOK).arg(arg(root)))
        .await
        .map_err(host_error)?;
    if !out.success() {
        return Err(TlsError::Renewal {
            detail: format!(
                "cannot look at the renewal mechanisms: {}",
                out.stderr_text().trim()
            ),
        });
    }
    let mut found = Found::default();
    for line in out.stdout_text().lines() {
        match line {
            "unit" => found.timer_unit = true,
            "systemd" => found.systemd_runs = true,
            "enabled" => found.timer_enabled = true,
            "crontab" => found.user_crontab = true,
            other => {
                if let Some(f) = other.strip_prefix("cron ") {
                    found.cron_files.push(PathBuf::from(f.replace("//", "/")));
                }
            }
        }
    }
    Ok(found)
}

async fn run(target: &Target, command: Command) -> Result<(), TlsError> {
    let shown = command.display();
    let out = target.run(&command).await.map_err(host_error)?;
    if out.success() {
        Ok(())
    } else {
        Err(TlsError::Renewal {
            detail: format!("{shown}: {}", out.stderr_text().trim()),
        })
    }
}

/// Leave exactly one mechanism; returns it and what was changed (empty when nothing was).
pub(super) async fn exactly_one(
    target: &Target,
    layout: &RenewalLayout,
) -> Result<(Renewal, Vec<String>), TlsError> {
    let root = &layout.root;
    let live = root == Path::new("/");
    let found = look(target, root).await?;
    let mut changes = Vec::new();
    if found.timer_unit && found.systemd_runs {
        if !found.timer_enabled {
            let enable = if live {
                Command::new("systemctl").args(["enable", "--now", "certbot.timer"])
            } else {
                Command::new("systemctl")
                    .arg(format!("--root={}", root.display()))
                    .args(["enable", "certbot.timer"])
            };
            run(target, enable).await?;
            changes.push("enabled certbot.timer".to_string());
        }
        for file in &found.cron_files {
            disable_cron_file(target, file, &mut changes).await?;
        }
        if found.user_crontab {
            drop_user_crontab_lines(target, &mut changes).await?;
        }
        return Ok((Renewal::Timer, changes));
    }

    // No systemd (or no timer unit): one cron entry.
    if found.timer_enabled {
        let link = root.join("etc/systemd/system/timers.target.wants/certbot.timer");
        run(
            target,
            Command::new("rm").args(["-f", "--"]).arg(arg(&link)),
        )
        .await?;
        changes.push(format!(
            "removed {} (systemd does not run here)",
            link.display()
        ));
    }
    if found.user_crontab {
        // root's crontab is the operator's own: kept alone when it is the only one.
        for file in &found.cron_files {
            disable_cron_file(target, file, &mut changes).await?;
        }
        return Ok((Renewal::RootCrontab, changes));
    }
    let kept = match found.cron_files.split_first() {
        Some((first, rest)) => {
            for file in rest {
                disable_cron_file(target, file, &mut changes).await?;
            }
            first.clone()
        }
        None => {
            let file = root.join(CRON_FILE);
            // Twice a day, as certbot's own packaging does; `renew` only acts within 30
            // days of expiry, and runs the deploy hooks after a renewal.
            let line = "# Written by odoo-ops: the one certbot renewal on this host.\n\
                        SHELL=/bin/sh\n\
                        PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n\
                        17 3,15 * * * root certbot -q renew\n";
            target
                .write_file(&file, line.as_bytes(), 0o644)
                .await
                .map_err(|e| TlsError::Renewal {
                    detail: format!("cannot write {}: {e:#}", file.display()),
                })?;
            changes.push(format!(
                "wrote {} (certbot renew twice a day)",
                file.display()
            ));
            file
        }
    };
    Ok((Renewal::Cron { file: kept }, changes))
}

async fn disable_cron_file(
    target: &Target,
    file: &Path,
    changes: &mut Vec<String>,
) -> Result<(), TlsError> {
    let moved = PathBuf::from(format!("{}{DISABLED_SUFFIX}", file.display()));
    run(
        target,
        Command::new("mv")
            .args(["-f", "--"])
            .arg(arg(file))
            .arg(arg(&moved)),
    )
    .await?;
    changes.push(format!(
        "disabled the cron job {} (moved to {}): one renewal mechanism is enough",
        file.display(),
        moved.display()
    ));
    Ok(())
}

/// Remove root's own `certbot … renew` lines, keeping the rest of the crontab.
async fn drop_user_crontab_lines(
    target: &Target,
    changes: &mut Vec<String>,
) -> Result<(), TlsError> {
    const DROP: &str = r#"crontab -l | awk '/^[[:space:]]*#/ || !/certbot.*renew/' | crontab -"#;
    run(target, Command::script(DROP)).await?;
    changes.push("removed the certbot renew line from root's crontab (the timer renews)".into());
    Ok(())
}
