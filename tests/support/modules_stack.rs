//! A compose project as a droplet has it for the Modules tests that look at the addons'
//! files: `db` (real PostgreSQL holding a fresh Odoo 18 database's module tables) and
//! `odoo` (the stand-in) with its odoo.conf (naming the database and the addons path) and
//! two addons directories bind-mounted from the test's temp dir, as a droplet mounts
//! `./addons` on `/mnt/extra-addons`.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::docker::Project;
use super::pg_image::DB_PASSWORD;
use super::standin::{IMAGE_ODOO_CONF, RELEASES, ensure_image};

pub const DB: &str = "odoo";
/// Where the stand-in's (and the official image's) own addons are.
pub const PACKAGE_ADDONS: &str = "/usr/lib/python3/dist-packages/odoo/addons";
pub const EXTRA_ADDONS: &str = "/mnt/extra-addons";

/// `base` as the tests lay it out, and its checksum computed by OCA's
/// `module_auto_update/addon_hash.py` itself (Python, run once on these same files with
/// the default exclude patterns and the database's active languages en_US, fr_BE): the
/// `.pyc`, the `.pot`, `static/` and the German `.po` are left out.
pub const BASE_FILES: &[(&str, &[u8])] = &[
    ("__init__.py", b"from . import models\n"),
    (
        "__manifest__.py",
        b"{'name': 'Base', 'version': '18.0.1.3'}\n",
    ),
    ("models/__init__.py", b""),
    ("models/ir_module.py", b"# ir.module.module\n"),
    ("models/__pycache__/ir_module.cpython-311.pyc", b"\0pyc"),
    ("i18n/fr.po", b"msgid \"\"\n"),
    ("i18n/de.po", b"msgid \"de\"\n"),
    ("i18n/base.pot", b"pot\n"),
    ("static/src/x.js", b"js\n"),
    ("data/base_data.xml", b"<odoo/>\n"),
    ("README.rst", b""),
];
pub const BASE_OCA_CHECKSUM: &str = "88c99a7515554c936c086244d1d91c8b679e455b";

pub struct AddonsStack {
    pub project: Project,
    pub db: String,
    pub odoo: String,
    pub dir: tempfile::TempDir,
}

impl AddonsStack {
    pub fn new(test: &str) -> AddonsStack {
        let project = Project::new(test);
        let db = project.run_db();
        project.create_odoo_db(&db, DB);
        let image = ensure_image(RELEASES[0]);
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("odoo.conf");
        std::fs::write(
            &conf,
            format!(
                "{IMAGE_ODOO_CONF}db_name = {DB}\naddons_path = {PACKAGE_ADDONS},{EXTRA_ADDONS}\n"
            ),
        )
        .unwrap();
        for sub in ["package", "extra", "cwd"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let stack = AddonsStack {
            project,
            db,
            odoo: String::new(),
            dir,
        };
        for (path, body) in BASE_FILES {
            stack.write_addon_file(PACKAGE_ADDONS, "base", path, body);
        }
        stack.write_addon_file(
            PACKAGE_ADDONS,
            "web",
            "__manifest__.py",
            b"{'name': 'Web'}\n",
        );
        let network = stack.project.network();
        let password = format!("--db_password={DB_PASSWORD}");
        let mounts = [
            format!("{}:/etc/odoo/odoo.conf:ro", conf.display()),
            format!(
                "{}:{PACKAGE_ADDONS}:ro",
                stack.host_dir(PACKAGE_ADDONS).display()
            ),
            format!(
                "{}:{EXTRA_ADDONS}:ro",
                stack.host_dir(EXTRA_ADDONS).display()
            ),
        ];
        let mut extra = vec!["--network", &network];
        for m in &mounts {
            extra.extend(["-v", m.as_str()]);
        }
        let odoo = stack.project.run_with_command(
            "odoo",
            &extra,
            &image,
            &["-c", "/etc/odoo/odoo.conf", &password],
        );
        AddonsStack { odoo, ..stack }
    }

    /// The host directory mounted on `container_dir`.
    pub fn host_dir(&self, container_dir: &str) -> PathBuf {
        let sub = if container_dir == PACKAGE_ADDONS {
            "package"
        } else {
            "extra"
        };
        self.dir.path().join(sub)
    }

    pub fn write_addon_file(&self, addons: &str, module: &str, path: &str, body: &[u8]) {
        let file = self.host_dir(addons).join(module).join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("180")
            .arg(env!("CARGO_BIN_EXE_odoo-ops"))
            .arg("modules")
            .args(args)
            .args(["--compose-project", &self.project.name])
            .current_dir(self.dir.path().join("cwd"))
            .env("HOME", self.dir.path().join("cwd"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .output()
            .unwrap()
    }

    pub fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), value)
    }

    pub fn param(&self, key: &str) -> Option<String> {
        self.project.param(&self.db, DB, key)
    }

    pub fn set_param(&self, key: &str, value: Option<&str>) {
        self.project.set_param(&self.db, DB, key, value)
    }
}
