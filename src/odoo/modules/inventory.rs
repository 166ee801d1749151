//! The modules of one Odoo database as its two tables hold them: counts per state, the
//! pending ones first (Odoo's crons refuse to run while any module is pending), and the
//! dependency and reverse-dependency maps the detail and a plan's dry run use.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// The states that mean "a module run was asked for and has not finished".
pub const PENDING_STATES: [&str; 3] = ["to install", "to upgrade", "to remove"];

/// What leaves modules pending, and why it matters: said wherever pending rows are shown.
pub const PENDING_SENTENCE: &str = "modules left pending (to install / to upgrade / to remove) by an interrupted or unfinished module run: Odoo's crons refuse to run while any module is pending";

pub fn is_pending(state: &str) -> bool {
    PENDING_STATES.contains(&state)
}

/// One row of `ir_module_module`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Module {
    pub name: String,
    pub state: String,
    /// The version last installed or upgraded (empty for a module never installed).
    pub latest_version: String,
    /// The English title (`shortdesc->>'en_US'`).
    pub shortdesc: String,
    pub author: String,
    pub application: bool,
    pub auto_install: bool,
}

impl Module {
    pub fn pending(&self) -> bool {
        is_pending(&self.state)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Pending first, then by name.
    pub modules: Vec<Module>,
    /// Module -> the modules it depends on (`ir_module_module_dependency`), sorted.
    pub depends: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    pub fn new(mut modules: Vec<Module>, edges: Vec<(String, String)>) -> Inventory {
        modules.sort_by(|a, b| (!a.pending(), &a.name).cmp(&(!b.pending(), &b.name)));
        let mut depends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, dependency) in edges {
            depends.entry(module).or_default().insert(dependency);
        }
        Inventory {
            modules,
            depends: depends
                .into_iter()
                .map(|(m, d)| (m, d.into_iter().collect()))
                .collect(),
        }
    }

    /// State -> number of modules in it.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for m in &self.modules {
            *counts.entry(m.state.clone()).or_insert(0) += 1;
        }
        counts
    }

    pub fn pending(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.pending())
    }

    pub fn get(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    pub fn dependencies(&self, name: &str) -> &[String] {
        self.depends
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The modules that depend on `name` directly, sorted.
    pub fn dependents(&self, name: &str) -> Vec<String> {
        self.depends
            .iter()
            .filter(|(_, deps)| deps.iter().any(|d| d == name))
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// `name` and everything it depends on, transitively (sorted; unknown names kept).
    pub fn closure(&self, names: &[String]) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = names.to_vec();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(self.dependencies(&n).iter().cloned());
            }
        }
        seen
    }

    /// `names` and every module depending on them, transitively (what `-u` reloads).
    pub fn reverse_closure(&self, names: &[String]) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = names.to_vec();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(self.dependents(&n));
            }
        }
        seen
    }

    /// `installed 12, uninstalled 610, ...` with pending states first.
    pub fn counts_line(&self) -> String {
        let counts = self.counts();
        let mut keys: Vec<&String> = counts.keys().collect();
        keys.sort_by_key(|k| (!is_pending(k), k.as_str()));
        keys.iter()
            .map(|k| format!("{} {}", k, counts[*k]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, state: &str) -> Module {
        Module {
            name: name.into(),
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pending_first_and_maps() {
        let inv = Inventory::new(
            vec![
                m("base", "installed"),
                m("mail", "to upgrade"),
                m("project", "uninstalled"),
            ],
            vec![
                ("mail".into(), "base".into()),
                ("project".into(), "mail".into()),
            ],
        );
        assert_eq!(inv.modules[0].name, "mail");
        assert_eq!(inv.dependents("base"), ["mail"]);
        assert_eq!(
            inv.closure(&["project".into()])
                .into_iter()
                .collect::<Vec<_>>(),
            ["base", "mail", "project"]
        );
        assert_eq!(
            inv.reverse_closure(&["base".into()]).len(),
            3,
            "-u base reloads all"
        );
        assert_eq!(
            inv.counts_line(),
            "to upgrade 1, installed 1, uninstalled 1"
        );
    }
}
