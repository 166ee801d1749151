//! A module plan: phases run one after the other, each one `odoo -i/-u` run (the first
//! seed's queue_job -> knowledge, project, hr_expense -> web_responsive -> the custom OCR
//! module). Written as TOML:
//!
//! ```toml
//! [[phase]]
//! install = ["queue_job"]
//! [[phase]]
//! install = ["knowledge", "project"]
//! upgrade = ["base"]
//! ```
//!
//! or given as `a,b` on the command line (one phase).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::file_error::FileError;

use super::inventory::Inventory;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    #[serde(default)]
    pub install: Vec<String>,
    #[serde(default)]
    pub upgrade: Vec<String>,
}

impl Phase {
    /// The argv after `odoo`'s own options: `-i a,b -u c`.
    pub fn odoo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !self.install.is_empty() {
            args.extend(["-i".to_string(), self.install.join(",")]);
        }
        if !self.upgrade.is_empty() {
            args.extend(["-u".to_string(), self.upgrade.join(",")]);
        }
        args
    }

    /// `install project, upgrade base`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.install.is_empty() {
            parts.push(format!("install {}", self.install.join(", ")));
        }
        if !self.upgrade.is_empty() {
            parts.push(format!("upgrade {}", self.upgrade.join(", ")));
        }
        parts.join("; ")
    }

    pub fn modules(&self) -> Vec<String> {
        self.install.iter().chain(&self.upgrade).cloned().collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default, rename = "phase")]
    pub phases: Vec<Phase>,
}

/// A plan file as written: every name keeps where it was, for the error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[serde(default)]
    phase: Vec<Spanned<RawPhase>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    #[serde(default)]
    install: Vec<Spanned<String>>,
    #[serde(default)]
    upgrade: Vec<Spanned<String>>,
}

impl Plan {
    /// Read and check a plan file (`deploy --plan`, `modules install`, the Deploy pane's
    /// plan field, the bootstrap's modules plan): a bad one is named by file, line and key.
    pub fn load(path: &Path) -> Result<Plan, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: format!("cannot read the plan: {e}"),
        })?;
        Plan::parse(path, &text)
    }

    /// Check a plan's text; `path` names it in errors. The one parser of plan files.
    pub fn parse(path: &Path, text: &str) -> Result<Plan, FileError> {
        let raw: RawPlan = crate::config::file_error::parse_toml(path, text)?;
        if raw.phase.is_empty() {
            return Err(FileError::at(
                path,
                text,
                0,
                "a plan needs at least one [[phase]] naming install or upgrade modules",
            ));
        }
        let mut phases = Vec::new();
        for (i, phase) in raw.phase.iter().enumerate() {
            let p = phase.get_ref();
            if p.install.is_empty() && p.upgrade.is_empty() {
                let mut e = FileError::at(
                    path,
                    text,
                    phase.span().start,
                    format!("phase {} names no module to install or upgrade", i + 1),
                );
                e.key = Some("phase".into());
                return Err(e);
            }
            let names = |key: &str, list: &[Spanned<String>]| -> Result<Vec<String>, FileError> {
                list.iter()
                    .map(|name| {
                        check_name(name.get_ref()).map_err(|why| {
                            let mut e = FileError::at(path, text, name.span().start, why);
                            e.key = Some(key.to_string());
                            e
                        })?;
                        Ok(name.get_ref().clone())
                    })
                    .collect()
            };
            phases.push(Phase {
                install: names("install", &p.install)?,
                upgrade: names("upgrade", &p.upgrade)?,
            });
        }
        Ok(Plan { phases })
    }

    /// `a,b` as one phase (installed with `-i`, or `-u` when `upgrade`).
    pub fn from_list(list: &str, upgrade: bool) -> Result<Plan, String> {
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err("no module named".into());
        }
        for n in &names {
            check_name(n)?;
        }
        let phase = if upgrade {
            Phase {
                upgrade: names,
                ..Default::default()
            }
        } else {
            Phase {
                install: names,
                ..Default::default()
            }
        };
        Ok(Plan {
            phases: vec![phase],
        })
    }
}

/// A module name as Odoo's addons have them; anything else would be an argument
/// injection into odoo's command line (`-i x --dev=all`).
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a module name (letters, digits and _ only)"
        ))
    }
}

/// What one phase would do to the database, from the dependency table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhasePreview {
    pub phase: Phase,
    /// Not installed yet and pulled in by the named installs (their dependencies).
    pub pulls_in: Vec<String>,
    /// Installed modules reloaded because they depend on an upgraded one.
    pub reloads: Vec<String>,
    /// Named modules the table does not know (Odoo would ignore them and exit 0).
    pub unknown: Vec<String>,
    /// Named modules marked uninstallable (not available on this Odoo).
    pub uninstallable: Vec<String>,
}

/// Each phase's preview; phases see the installs of the phases before them.
pub fn preview(plan: &Plan, inventory: &Inventory) -> Vec<PhasePreview> {
    let mut installed: BTreeSet<String> = inventory
        .modules
        .iter()
        .filter(|m| m.state == "installed")
        .map(|m| m.name.clone())
        .collect();
    let mut previews = Vec::new();
    for phase in &plan.phases {
        let named: BTreeSet<String> = phase.modules().into_iter().collect();
        let unknown = named
            .iter()
            .filter(|n| inventory.get(n).is_none())
            .cloned()
            .collect();
        let uninstallable = named
            .iter()
            .filter(|n| inventory.get(n).is_some_and(|m| m.state == "uninstallable"))
            .cloned()
            .collect();
        let closure = inventory.closure(&phase.install);
        let pulls_in: Vec<String> = closure
            .iter()
            .filter(|n| !named.contains(*n) && !installed.contains(*n))
            .cloned()
            .collect();
        let reloads = inventory
            .reverse_closure(&phase.upgrade)
            .into_iter()
            .filter(|n| !named.contains(n) && installed.contains(n))
            .collect();
        installed.extend(closure);
        previews.push(PhasePreview {
            phase: phase.clone(),
            pulls_in,
            reloads,
            unknown,
            uninstallable,
        });
    }
    previews
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_plan_and_bad_names() {
        let plan = Plan::parse(
            Path::new("plan.toml"),
            "[[phase]]\ninstall = [\"queue_job\"]\n[[phase]]\ninstall = [\"project\"]\nupgrade = [\"base\"]\n",
        )
        .unwrap();
        assert_eq!(plan.phases.len(), 2);
        assert_eq!(plan.phases[1].odoo_args(), ["-i", "project", "-u", "base"]);
        assert!(Plan::from_list("project,--dev=all", false).is_err());
        assert!(Plan::parse(Path::new("plan.toml"), "").is_err());
    }

    #[test]
    fn a_bad_plan_names_file_line_and_key() {
        let path = Path::new("plans/q1.toml");
        let text = "[[phase]]\ninstall = [\"queue_job\"]\n[[phase]]\ninstall = [\"project\",\n  \"x y\"]\n";
        let e = Plan::parse(path, text).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (5, Some("install")), "{e}");
        assert!(
            e.to_string()
                .starts_with("plans/q1.toml:5:3: key `install`: `x y`"),
            "{e}"
        );
        let e = Plan::parse(path, "[[phase]]\ninstal = [\"project\"]\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (2, Some("instal")),
            "a typo is named: {e}"
        );
        let e = Plan::parse(path, "[[phase]]\ninstall = \"project\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("install")), "{e}");
        let e = Plan::parse(path, "[[phase]]\ninstall = [\"a\"]\n[[phase]]\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (3, Some("phase")), "{e}");
        assert!(e.message.contains("phase 2"), "{e}");
    }
}
