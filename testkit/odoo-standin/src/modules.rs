//! `odoo -d DB -i A,B [-u C] --stop-after-init`: the module run of a deploy or a module
//! plan phase, done on the real `ir_module_module` / `ir_module_module_dependency` rows
//! the way Odoo 18 does it (`odoo/modules/loading.py`, `ir_module.py`), with the log lines
//! recorded in `odoo18/modules/`:
//!
//! - `-i`: each named `uninstalled` module and its uninstalled dependencies go `to install`,
//!   then every `auto_install` module whose required dependencies are all installed or
//!   coming, at least one coming (Odoo's fixpoint); `-u`: each named installed module and
//!   every installed module depending on it go `to upgrade` (`-u all` is `-u base`).
//!   Rows already pending (`to install`, `to upgrade`, `to remove`) are processed too.
//! - Loading in Odoo's graph order (by depth, then name), so `Loading module uom (2/37)`
//!   numbers as the recorded install of `project` does.
//! - Success: the marked rows become `installed` with the version on disk (`to remove`:
//!   `uninstalled`), committed; exit 0.
//! - A module that fails (see `addons`) or a dependency not available: the transaction is
//!   rolled back (a failing module the database did not know leaves no row), then Odoo's
//!   `reset_modules_state` runs (every pending row back), its lines and traceback; exit 255.
//! - A name neither in the table nor on disk: `invalid module names, ignored`, exit 0.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::Instant;

use crate::addons::Addons;
use crate::conf::Conf;
use crate::log;
use crate::pg_wire::{self, literal};

const LOADING: &str = "odoo.modules.loading";
const REGISTRY: &str = "odoo.modules.registry";
const IR_MODULE: &str = "odoo.addons.base.models.ir_module";
const SERVER: &str = "odoo.service.server";

/// Exit status of odoo-bin after `Failed to initialize database` (its `sys.exit(-1)`).
pub const FAILED: i32 = 255;

struct Module {
    id: i64,
    state: String,
    shortdesc: String,
    auto_install: bool,
    /// Depended-on module names, with `auto_install_required`.
    deps: Vec<(String, bool)>,
}

/// Run the module loading on `db`'s tables. `None` when the database has no
/// `ir_module_module` table (not an Odoo database yet): the caller then only logs.
pub fn run(
    s: &mut (impl Read + Write),
    conf: &Conf,
    addons: &Addons,
    started: Instant,
) -> Result<Option<i32>, String> {
    let exists = pg_wire::query(
        s,
        "SELECT to_regclass('ir_module_module') IS NOT NULL AND to_regclass('ir_module_module_dependency') IS NOT NULL",
    )?;
    if exists.first().and_then(|r| r.first().cloned().flatten()) != Some("t".into()) {
        return Ok(None);
    }
    let mut run = Run {
        db: conf.log_db().to_string(),
        addons,
        started,
        modules: BTreeMap::new(),
        loaded: Vec::new(),
    };
    pg_wire::query(s, "BEGIN")?;
    run.read(s)?;
    let original: HashMap<String, String> = run
        .modules
        .iter()
        .map(|(n, m)| (n.clone(), m.state.clone()))
        .collect();
    let db = run.db.clone();
    let update_module = !conf.init.is_empty() || !conf.update.is_empty();

    let mut update: Vec<String> = conf
        .update
        .iter()
        .map(|n| if n == "all" { "base".into() } else { n.clone() })
        .collect();
    update.dedup();
    // Odoo marks base before anything is loaded.
    if update.iter().any(|n| n == "base") {
        run.set_state("base", "installed", "to upgrade");
    }
    log::info(&db, LOADING, "loading 1 modules... ");
    // `-u base` reloads base first, on its own (update-base-while-running.log).
    if run.state("base") == Some("to upgrade")
        && let Some(code) = run.load_one(s, "base", 1, 1)?
    {
        return Ok(Some(code));
    }
    log::info(
        &db,
        LOADING,
        "1 modules loaded in 0.01s, 0 queries (+0 extra) ",
    );

    let mut marked = Ok(());
    if update_module {
        log::info(&db, LOADING, "updating modules list");
        log::info(
            &db,
            IR_MODULE,
            "ALLOW access to module.update_list on [] to user __system__ #1 via n/a ",
        );
        let named: Vec<String> = conf.init.iter().chain(update.iter()).cloned().collect();
        run.register_failing_addons(s, &named)?;
        let invalid: Vec<&str> = named
            .iter()
            .filter(|n| *n != "all" && !run.modules.contains_key(n.as_str()))
            .map(String::as_str)
            .collect();
        if !invalid.is_empty() {
            log::line(
                "WARNING",
                &db,
                LOADING,
                &format!("invalid module names, ignored: {} ", invalid.join(", ")),
            );
        }
        marked = run.mark(&conf.init, &update);
    }
    if let Err(user_error) = marked {
        let frames = format!(
            "  File \"/usr/lib/python3/dist-packages/odoo/modules/loading.py\", line 451, in load_modules\n    modules.button_install()\n  File \"/usr/lib/python3/dist-packages/odoo/addons/base/models/ir_module.py\", line 418, in button_install\n    modules._state_update('to install', ['uninstalled'])\n  File \"/usr/lib/python3/dist-packages/odoo/addons/base/models/ir_module.py\", line 377, in _state_update\n    raise UserError(_(\nodoo.exceptions.UserError: {user_error}"
        );
        return run.fail(s, &frames).map(Some);
    }
    run.write_marks(s, &original)?;

    let order = run.graph_order();
    let total = order.len();
    let loaded_first: Vec<&String> = order
        .iter()
        .filter(|n| original.get(*n).is_some_and(|st| st != "uninstalled"))
        .filter(|n| run.state(n) != Some("to install"))
        .collect();
    log::info(
        &db,
        LOADING,
        &format!("loading {} modules... ", loaded_first.len()),
    );
    let mut changed = false;
    for (i, name) in order.iter().enumerate() {
        if run.state(name) == Some("to upgrade") {
            if let Some(code) = run.load_one(s, name, i + 1, total)? {
                return Ok(Some(code));
            }
            changed = true;
        }
    }
    log::info(
        &db,
        LOADING,
        &format!(
            "{} modules loaded in 0.05s, 0 queries (+0 extra) ",
            loaded_first.len()
        ),
    );
    if order.iter().any(|n| run.state(n) == Some("to install")) {
        log::info(&db, LOADING, &format!("loading {total} modules... "));
        for (i, name) in order.iter().enumerate() {
            if run.state(name) == Some("to install") {
                if let Some(code) = run.load_one(s, name, i + 1, total)? {
                    return Ok(Some(code));
                }
                changed = true;
            }
        }
        log::info(
            &db,
            LOADING,
            &format!(
                "{total} modules loaded in {:.2}s, 0 queries (+0 extra) ",
                started.elapsed().as_secs_f64()
            ),
        );
    }
    let removed = run
        .modules
        .iter()
        .filter(|(_, m)| m.state == "to remove")
        .map(|(n, _)| literal(n))
        .collect::<Vec<_>>();
    if !removed.is_empty() {
        pg_wire::query(
            s,
            &format!(
                "UPDATE ir_module_module SET state = 'uninstalled', latest_version = NULL WHERE name IN ({})",
                removed.join(", ")
            ),
        )?;
        changed = true;
    }
    pg_wire::query(s, "COMMIT")?;
    log::info(&db, LOADING, "Modules loaded. ");
    if changed {
        log::info(
            &db,
            REGISTRY,
            "Registry changed, signaling through the database ",
        );
    }
    log::info(
        &db,
        REGISTRY,
        &format!(
            "Registry loaded in {:.3}s ",
            started.elapsed().as_secs_f64()
        ),
    );
    log::info(&db, SERVER, "Stopping gracefully ");
    Ok(Some(0))
}

struct Run<'a> {
    db: String,
    addons: &'a Addons,
    started: Instant,
    modules: BTreeMap<String, Module>,
    /// Loaded already in this run (base, by `-u base`): not marked `to upgrade` again.
    loaded: Vec<String>,
}

impl Run<'_> {
    fn read(&mut self, s: &mut (impl Read + Write)) -> Result<(), String> {
        self.modules.clear();
        let rows = pg_wire::query(
            s,
            "SELECT id, name, coalesce(state, 'uninstalled'), coalesce(shortdesc->>'en_US', name), coalesce(auto_install, false) FROM ir_module_module",
        )?;
        let mut by_id = HashMap::new();
        for r in rows {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let id: i64 = text(0).parse().map_err(|_| "bad id")?;
            by_id.insert(id, text(1));
            self.modules.insert(
                text(1),
                Module {
                    id,
                    state: text(2),
                    shortdesc: text(3),
                    auto_install: text(4) == "t",
                    deps: Vec::new(),
                },
            );
        }
        let deps = pg_wire::query(
            s,
            "SELECT module_id, name, coalesce(auto_install_required, true) FROM ir_module_module_dependency ORDER BY id",
        )?;
        for r in deps {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let Some(owner) = text(0).parse::<i64>().ok().and_then(|id| by_id.get(&id)) else {
                continue;
            };
            if let Some(m) = self.modules.get_mut(owner) {
                m.deps.push((text(1), text(2) == "t"));
            }
        }
        Ok(())
    }

    fn state(&self, name: &str) -> Option<&str> {
        self.modules.get(name).map(|m| m.state.as_str())
    }

    fn set_state(&mut self, name: &str, from: &str, to: &str) {
        if let Some(m) = self.modules.get_mut(name)
            && m.state == from
        {
            m.state = to.to_string();
        }
    }

    /// Odoo's `update_list` finds a failing addon on the addons path and registers it
    /// (uninstalled, depending on base) inside the run's transaction: the rollback of a
    /// failed run takes the row away again, as recorded ("run 1").
    fn register_failing_addons(
        &mut self,
        s: &mut (impl Read + Write),
        named: &[String],
    ) -> Result<(), String> {
        for name in named {
            if self.modules.contains_key(name) || !self.addons.named_to_fail(name) {
                continue;
            }
            let shortdesc = format!("{{\"en_US\": \"{name}\"}}");
            pg_wire::query(
                s,
                &format!(
                    "WITH m AS (INSERT INTO ir_module_module (name, state, shortdesc, author, application, auto_install, license) VALUES ({n}, 'uninstalled', {d}::jsonb, 'test', false, false, 'LGPL-3') RETURNING id) INSERT INTO ir_module_module_dependency (name, module_id, auto_install_required) SELECT 'base', id, false FROM m",
                    n = literal(name),
                    d = literal(&shortdesc),
                ),
            )?;
        }
        self.read(s)
    }

    /// `button_install` of the named uninstalled modules and `button_upgrade` of the named
    /// installed ones, with their log lines. Err: Odoo's UserError text.
    fn mark(&mut self, init: &[String], update: &[String]) -> Result<(), String> {
        let to_install: Vec<String> = init
            .iter()
            .filter(|n| self.state(n) == Some("uninstalled"))
            .cloned()
            .collect();
        if !to_install.is_empty() {
            self.log_allow("button_install", &to_install);
            for name in &to_install {
                self.mark_install(name)?;
            }
            self.auto_install()?;
        }
        let mut todo: Vec<String> = update
            .iter()
            .filter(|n| self.state(n) == Some("installed"))
            .cloned()
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        self.log_allow("button_upgrade", &todo);
        let mut i = 0;
        while i < todo.len() {
            let name = todo[i].clone();
            for (other, m) in &self.modules {
                if matches!(m.state.as_str(), "installed" | "to upgrade")
                    && m.deps.iter().any(|(d, _)| *d == name)
                    && !todo.contains(other)
                {
                    todo.push(other.clone());
                }
            }
            i += 1;
        }
        for name in &todo {
            if !self.loaded.contains(name) {
                self.set_state(name, "installed", "to upgrade");
            }
        }
        let missing: Vec<String> = todo
            .iter()
            .flat_map(|n| self.modules[n].deps.iter().map(|(d, _)| d.clone()))
            .filter(|d| self.state(d) == Some("uninstalled"))
            .collect();
        self.log_allow("button_install", &missing);
        for name in &missing {
            self.mark_install(name)?;
        }
        self.auto_install()
    }

    fn log_allow(&self, method: &str, names: &[String]) {
        let shown: Vec<String> = names
            .iter()
            .filter_map(|n| self.modules.get(n))
            .map(|m| format!("'{}'", m.shortdesc))
            .collect();
        log::info(
            &self.db,
            IR_MODULE,
            &format!(
                "ALLOW access to module.{method} on [{}] to user __system__ #1 via n/a ",
                shown.join(", ")
            ),
        );
    }

    fn mark_install(&mut self, name: &str) -> Result<(), String> {
        if self.state(name) != Some("uninstalled") {
            return Ok(());
        }
        self.set_state(name, "uninstalled", "to install");
        let deps: Vec<String> = self.modules[name]
            .deps
            .iter()
            .map(|(d, _)| d.clone())
            .collect();
        for dep in deps {
            match self.state(&dep) {
                None | Some("uninstallable") => {
                    return Err(format!(
                        "You try to install module \"{name}\" that depends on module \"{dep}\".\nBut the latter module is not available in your system."
                    ));
                }
                Some("uninstalled") => self.mark_install(&dep)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Odoo's auto-install fixpoint: an uninstalled `auto_install` module whose required
    /// dependencies are all installed or coming, at least one of them coming.
    fn auto_install(&mut self) -> Result<(), String> {
        loop {
            let due: Vec<String> = self
                .modules
                .iter()
                .filter(|(_, m)| m.state == "uninstalled" && m.auto_install)
                .filter(|(_, m)| {
                    let states: Vec<&str> = m
                        .deps
                        .iter()
                        .filter(|(_, required)| *required)
                        .map(|(d, _)| self.state(d).unwrap_or("unknown"))
                        .collect();
                    states
                        .iter()
                        .all(|s| matches!(*s, "installed" | "to install" | "to upgrade"))
                        && states.contains(&"to install")
                })
                .map(|(n, _)| n.clone())
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            for name in due {
                self.mark_install(&name)?;
            }
        }
    }

    fn write_marks(
        &self,
        s: &mut (impl Read + Write),
        original: &HashMap<String, String>,
    ) -> Result<(), String> {
        let mut by_state: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (name, m) in &self.modules {
            if original.get(name) != Some(&m.state) {
                by_state
                    .entry(m.state.as_str())
                    .or_default()
                    .push(m.id.to_string());
            }
        }
        for (state, ids) in by_state {
            pg_wire::query(
                s,
                &format!(
                    "UPDATE ir_module_module SET state = {} WHERE id IN ({})",
                    literal(state),
                    ids.join(", ")
                ),
            )?;
        }
        Ok(())
    }

    /// The modules Odoo's graph holds (installed or pending), base first, then by depth
    /// in the dependency tree and by name within a depth.
    fn graph_order(&self) -> Vec<String> {
        let in_graph = |m: &Module| {
            matches!(
                m.state.as_str(),
                "installed" | "to install" | "to upgrade" | "to remove"
            )
        };
        let mut depth: HashMap<String, usize> = HashMap::new();
        fn depth_of(
            run: &Run,
            name: &str,
            depth: &mut HashMap<String, usize>,
            seen: &mut Vec<String>,
        ) -> usize {
            if let Some(d) = depth.get(name) {
                return *d;
            }
            if seen.iter().any(|s| s == name) {
                return 0; // a cycle: Odoo refuses it; the stand-in just stops counting.
            }
            seen.push(name.to_string());
            let d = run
                .modules
                .get(name)
                .map(|m| {
                    m.deps
                        .iter()
                        .map(|(dep, _)| 1 + depth_of(run, dep, depth, seen))
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            depth.insert(name.to_string(), d);
            d
        }
        let mut names: Vec<(usize, String)> = self
            .modules
            .iter()
            .filter(|(_, m)| in_graph(m))
            .map(|(n, _)| (depth_of(self, n, &mut depth, &mut Vec::new()), n.clone()))
            .collect();
        names.sort();
        names.into_iter().map(|(_, n)| n).collect()
    }

    /// Load one module: its log lines, and its row `installed` at the version on disk;
    /// a failing addon fails the run (the exit code is returned).
    fn load_one(
        &mut self,
        s: &mut (impl Read + Write),
        name: &str,
        position: usize,
        total: usize,
    ) -> Result<Option<i32>, String> {
        let db = self.db.clone();
        log::info(
            &db,
            LOADING,
            &format!("Loading module {name} ({position}/{total}) "),
        );
        if self.addons.fails(name) {
            log::line(
                "CRITICAL",
                &db,
                "odoo.modules.module",
                &format!("Couldn't load module {name} "),
            );
            let frames = format!(
                "  File \"/usr/lib/python3/dist-packages/odoo/modules/loading.py\", line 484, in load_modules\n    processed_modules += load_marked_modules(env, graph,\n                         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/usr/lib/python3/dist-packages/odoo/modules/loading.py\", line 365, in load_marked_modules\n    loaded, processed = load_module_graph(\n                        ^^^^^^^^^^^^^^^^^^\n{}",
                self.addons.failure_frames(name)
            );
            return self.fail(s, &frames).map(Some);
        }
        std::thread::sleep(self.addons.load_time);
        log::info(
            &db,
            REGISTRY,
            &format!("module {name}: creating or updating database tables "),
        );
        pg_wire::query(
            s,
            &format!(
                "UPDATE ir_module_module SET state = 'installed', latest_version = {} WHERE name = {}",
                literal(&self.addons.version(name)),
                literal(name)
            ),
        )?;
        if let Some(m) = self.modules.get_mut(name) {
            m.state = "installed".into();
        }
        self.loaded.push(name.to_string());
        log::info(
            &db,
            LOADING,
            &format!("Module {name} loaded in 0.05s, 12 queries (+12 other) "),
        );
        Ok(None)
    }

    /// Odoo's failure path: the transaction rolled back, `reset_modules_state`, the
    /// registry's and the server's errors with the traceback ending in `frames`.
    fn fail(&self, s: &mut (impl Read + Write), frames: &str) -> Result<i32, String> {
        pg_wire::query(s, "ROLLBACK")?;
        pg_wire::query(
            s,
            "UPDATE ir_module_module SET state = 'installed' WHERE state IN ('to remove', 'to upgrade'); UPDATE ir_module_module SET state = 'uninstalled' WHERE state = 'to install'",
        )?;
        let db = &self.db;
        log::line(
            "WARNING",
            db,
            LOADING,
            "Transient module states were reset ",
        );
        log::line("ERROR", db, REGISTRY, "Failed to load registry ");
        log::line(
            "CRITICAL",
            db,
            SERVER,
            &format!(
                "Failed to initialize database `{db}`. \nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/service/server.py\", line 1361, in preload_registries\n    registry = Registry.new(dbname, update_module=update_module)\n               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/usr/lib/python3/dist-packages/decorator.py\", line 232, in fun\n    return caller(func, *(extras + args), **kw)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/usr/lib/python3/dist-packages/odoo/tools/func.py\", line 97, in locked\n    return func(inst, *args, **kwargs)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/usr/lib/python3/dist-packages/odoo/modules/registry.py\", line 129, in new\n    odoo.modules.load_modules(registry, force_demo, status, update_module)\n{frames}"
            ),
        );
        log::info(db, SERVER, "Stopping gracefully ");
        let _ = self.started;
        Ok(FAILED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(id: i64, state: &str, auto: bool, deps: &[(&str, bool)]) -> Module {
        Module {
            id,
            state: state.into(),
            shortdesc: String::new(),
            auto_install: auto,
            deps: deps.iter().map(|(d, r)| (d.to_string(), *r)).collect(),
        }
    }

    fn run_over<'a>(addons: &'a Addons, modules: Vec<(&str, Module)>) -> Run<'a> {
        Run {
            db: "test".into(),
            addons,
            started: Instant::now(),
            modules: modules
                .into_iter()
                .map(|(n, m)| (n.to_string(), m))
                .collect(),
            loaded: Vec::new(),
        }
    }

    #[test]
    fn install_pulls_dependencies_and_auto_installs_then_orders_by_depth() {
        let addons = Addons::default();
        let mut run = run_over(
            &addons,
            vec![
                ("base", module(1, "installed", true, &[])),
                ("mail", module(2, "uninstalled", false, &[("base", false)])),
                ("app", module(3, "uninstalled", false, &[("mail", false)])),
                // Auto-installed once mail comes; its optional dependency is not required.
                (
                    "mail_bot",
                    module(4, "uninstalled", true, &[("mail", true), ("extra", false)]),
                ),
                ("extra", module(5, "uninstalled", false, &[("base", false)])),
                // Needs something that is not coming: stays.
                (
                    "app_sms",
                    module(6, "uninstalled", true, &[("app", true), ("sms", true)]),
                ),
                ("sms", module(7, "uninstalled", false, &[("base", false)])),
            ],
        );
        run.mark(&["app".into()], &[]).unwrap();
        let coming: Vec<&str> = run
            .modules
            .iter()
            .filter(|(_, m)| m.state == "to install")
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(coming, ["app", "extra", "mail", "mail_bot"]);
        assert_eq!(
            run.graph_order(),
            ["base", "extra", "mail", "app", "mail_bot"]
        );
    }

    #[test]
    fn upgrade_takes_the_installed_dependents_and_a_missing_dependency_is_an_error() {
        let addons = Addons::default();
        let mut run = run_over(
            &addons,
            vec![
                ("base", module(1, "installed", true, &[])),
                ("mail", module(2, "installed", false, &[("base", false)])),
                ("app", module(3, "installed", false, &[("mail", false)])),
                ("other", module(4, "installed", false, &[("base", false)])),
                (
                    "broken",
                    module(5, "uninstalled", false, &[("gone", false)]),
                ),
            ],
        );
        run.mark(&[], &["mail".into()]).unwrap();
        assert_eq!(run.state("mail"), Some("to upgrade"));
        assert_eq!(run.state("app"), Some("to upgrade"));
        assert_eq!(run.state("other"), Some("installed"));
        let err = run.mark(&["broken".into()], &[]).unwrap_err();
        assert!(
            err.starts_with(
                "You try to install module \"broken\" that depends on module \"gone\"."
            )
        );
    }
}
