//! What the image's addons path holds, as far as a module run needs it: each addon's
//! manifest version and whether loading it fails.
//!
//! - Versions: the ones recorded on a real Odoo 18.0 (`odoo18/modules/`), `18.0.1.0` for
//!   the rest, and `STANDIN_ADDON_VERSIONS=name=version,...` over both (an image of a
//!   newer release bakes newer versions in, so an upgrade moves `latest_version`).
//! - Failing addons: every name starting `bad_` (like the recorded `bad_init`), and the
//!   names in `STANDIN_FAIL_MODULES=a,b` (`*` = every module the run loads: an image whose
//!   module upgrade fails). A failing addon is on disk: it is never an "invalid module name".
//! - `STANDIN_MODULE_MS=N`: each module takes N ms to load (a real run of `-i project`
//!   takes 19 s; a test watching the maintenance window needs the run to last a while).

/// Manifest versions recorded on Odoo 18.0 (installed-modules-fresh.txt,
/// module-states-after-install-project.txt).
const RECORDED_VERSIONS: [(&str, &str); 8] = [
    ("base", "18.0.1.3"),
    ("base_import", "18.0.2.0"),
    ("iap", "18.0.1.1"),
    ("web_unsplash", "18.0.1.1"),
    ("mail", "18.0.1.18"),
    ("project", "18.0.1.3"),
    ("portal", "18.0.1.0"),
    ("project_todo", "18.0.1.0"),
];

#[derive(Debug, Clone, Default)]
pub struct Addons {
    versions: Vec<(String, String)>,
    failing: Vec<String>,
    pub load_time: std::time::Duration,
}

impl Addons {
    pub fn from_env() -> Addons {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let mut a = Addons::new(&var("STANDIN_ADDON_VERSIONS"), &var("STANDIN_FAIL_MODULES"));
        a.load_time =
            std::time::Duration::from_millis(var("STANDIN_MODULE_MS").parse().unwrap_or(0));
        a
    }

    pub fn new(versions: &str, failing: &str) -> Addons {
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        Addons {
            versions: list(versions)
                .into_iter()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.trim().to_string(), v.trim().to_string()))
                })
                .collect(),
            failing: list(failing),
            load_time: std::time::Duration::ZERO,
        }
    }

    pub fn version(&self, name: &str) -> String {
        self.versions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                RECORDED_VERSIONS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_else(|| "18.0.1.0".to_string())
    }

    /// Does loading `name` raise?
    pub fn fails(&self, name: &str) -> bool {
        name.starts_with("bad_") || self.failing.iter().any(|f| f == "*" || f == name)
    }

    /// Named to fail explicitly (so it exists on disk even when the database does not
    /// know it yet).
    pub fn named_to_fail(&self, name: &str) -> bool {
        name.starts_with("bad_") || self.failing.iter().any(|f| f == name)
    }

    /// The end of the traceback a failing addon leaves, as bad_init's import error does
    /// (`install-fail-bad_init.log`).
    pub fn failure_frames(&self, name: &str) -> String {
        let (dir, what) = if name.starts_with("bad_") {
            (
                "/mnt/extra-addons",
                "deliberate failure while importing the addon (test)",
            )
        } else {
            (
                "/usr/lib/python3/dist-packages/odoo/addons",
                "deliberate failure while loading the module (STANDIN_FAIL_MODULES)",
            )
        };
        format!(
            "  File \"/usr/lib/python3/dist-packages/odoo/modules/loading.py\", line 186, in load_module_graph\n    load_openerp_module(package.name)\n  File \"/usr/lib/python3/dist-packages/odoo/modules/module.py\", line 384, in load_openerp_module\n    __import__(qualname)\n  File \"{dir}/{name}/__init__.py\", line 1, in <module>\n    raise RuntimeError(\"{name}: {what}\")\nRuntimeError: {name}: {what}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_failures() {
        let a = Addons::new("project=18.0.1.4", "sale");
        assert_eq!(a.version("project"), "18.0.1.4");
        assert_eq!(a.version("mail"), "18.0.1.18");
        assert_eq!(a.version("uom"), "18.0.1.0");
        assert!(a.fails("bad_init") && a.fails("sale") && !a.fails("project"));
        assert!(Addons::new("", "*").fails("project"));
        assert!(!Addons::new("", "*").named_to_fail("project"));
    }
}
