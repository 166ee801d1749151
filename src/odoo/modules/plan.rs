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

use serde::{Deserialize, Serialize};

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

impl Plan {
    pub fn parse_toml(text: &str) -> Result<Plan, String> {
        let plan: Plan = toml::from_str(text).map_err(|e| e.to_string())?;
        if plan.phases.is_empty() || plan.phases.iter().any(|p| p.modules().is_empty()) {
            return Err(
                "a plan needs at least one [[phase]], each naming install or upgrade modules"
                    .into(),
            );
        }
        for m in plan.phases.iter().flat_map(Phase::modules) {
            check_name(&m)?;
        }
        Ok(plan)
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
        let plan = Plan::parse_toml(
            "[[phase]]\ninstall = [\"queue_job\"]\n[[phase]]\ninstall = [\"project\"]\nupgrade = [\"base\"]\n",
        )
        .unwrap();
        assert_eq!(plan.phases.len(), 2);
        assert_eq!(plan.phases[1].odoo_args(), ["-i", "project", "-u", "base"]);
        assert!(Plan::from_list("project,--dev=all", false).is_err());
        assert!(Plan::parse_toml("").is_err());
    }
}
