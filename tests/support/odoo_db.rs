//! Odoo's two module tables, `ir_module_module` and `ir_module_module_dependency`, in a
//! database of the real PostgreSQL container (`Project::run_db`) or of a host PostgreSQL
//! (`Postgres::start*`), filled with the states
//! of a fresh Odoo 18.0 database as recorded in `shared/odoo18/modules/`: 646 rows, 12
//! installed, 610 uninstalled, 24 uninstallable.
//!
//! What is recorded and what is made up:
//! - Columns, defaults, the unique name and the indexes: as `table-ir_module_module*.txt`
//!   record them (`\d`), without the foreign keys to tables this fixture does not create
//!   (`ir_module_category`, `res_users`).
//! - The 12 installed modules with their versions and `auto_install`: recorded
//!   (`installed-modules-fresh.txt`).
//! - The 25 modules `-i project` installs (`module-states-after-install-project.txt`):
//!   recorded names; the dependency rows of `mail`, `project` and `web` are the recorded
//!   sample rows; the other dependencies and the `auto_install` flags are reconstructed
//!   from Odoo 18's manifests so that Odoo's rules give exactly the recorded outcome (the
//!   same 25 modules, in the recorded `Loading module X (i/37)` order).
//! - [`OTHER_STANDARD`]: real Odoo 18 addon names, uninstalled, their dependencies
//!   SYNTHESIZED (base only), so a test can install something other than `project`.
//! - The remaining uninstalled and the 24 uninstallable rows: SYNTHESIZED names
//!   (`standin_addon_NNN`, `standin_uninstallable_NN`) filling the recorded counts.

use std::collections::BTreeMap;

use super::docker::Project;

/// The 12 modules a fresh `-i base` database has installed, with their versions (recorded).
pub const FRESH_INSTALLED: [(&str, &str); 12] = [
    ("auth_totp", "18.0.1.0"),
    ("base", "18.0.1.3"),
    ("base_import", "18.0.2.0"),
    ("base_import_module", "18.0.1.0"),
    ("base_setup", "18.0.1.0"),
    ("bus", "18.0.1.0"),
    ("html_editor", "18.0.1.0"),
    ("iap", "18.0.1.1"),
    ("web", "18.0.1.0"),
    ("web_editor", "18.0.1.0"),
    ("web_tour", "18.0.1.0"),
    ("web_unsplash", "18.0.1.1"),
];

/// The 25 modules `-i project` takes from `uninstalled` to `installed` (recorded).
pub const PROJECT_INSTALLS: [&str; 25] = [
    "analytic",
    "auth_signup",
    "auth_totp_mail",
    "auth_totp_portal",
    "base_install_request",
    "digest",
    "google_gmail",
    "http_routing",
    "iap_mail",
    "mail",
    "mail_bot",
    "partner_autocomplete",
    "phone_validation",
    "portal",
    "portal_rating",
    "privacy_lookup",
    "project",
    "project_sms",
    "project_todo",
    "rating",
    "resource",
    "resource_mail",
    "sms",
    "snailmail",
    "uom",
];

/// The order `-i project` loads them in (install-project.log's `Loading module X (i/37)`).
pub const PROJECT_LOAD_ORDER: [(&str, u32); 25] = [
    ("uom", 2),
    ("http_routing", 9),
    ("resource", 10),
    ("mail", 14),
    ("analytic", 16),
    ("auth_signup", 17),
    ("auth_totp_mail", 18),
    ("base_install_request", 19),
    ("google_gmail", 20),
    ("iap_mail", 21),
    ("mail_bot", 22),
    ("phone_validation", 23),
    ("privacy_lookup", 24),
    ("rating", 25),
    ("resource_mail", 26),
    ("partner_autocomplete", 28),
    ("portal", 29),
    ("sms", 30),
    ("snailmail", 31),
    ("auth_totp_portal", 32),
    ("digest", 33),
    ("portal_rating", 34),
    ("project", 35),
    ("project_sms", 36),
    ("project_todo", 37),
];

/// Auto-install: none, all dependencies required, or only these.
enum Auto {
    No,
    All,
    Only(&'static [&'static str]),
}

/// (name, dependencies, auto_install) of the recorded modules. `mail`, `project` and `web`
/// have their recorded dependency rows; the rest are reconstructed (see the module doc).
const RECORDED: [(&str, &[&str], Auto); 37] = [
    ("base", &[], Auto::All),
    ("web", &["base"], Auto::All),
    ("base_setup", &["base", "web"], Auto::All),
    ("bus", &["base", "web"], Auto::All),
    ("web_tour", &["web"], Auto::All),
    ("html_editor", &["base", "bus", "web"], Auto::All),
    ("web_editor", &["bus", "web", "html_editor"], Auto::All),
    ("web_unsplash", &["base_setup", "web_editor"], Auto::All),
    ("iap", &["web", "base_setup"], Auto::All),
    ("auth_totp", &["web"], Auto::All),
    ("base_import", &["web"], Auto::All),
    ("base_import_module", &["web"], Auto::All),
    ("uom", &["base"], Auto::No),
    ("http_routing", &["web"], Auto::No),
    ("resource", &["base", "web"], Auto::No),
    (
        "mail",
        &["base", "base_setup", "bus", "web_tour", "html_editor"],
        Auto::No,
    ),
    ("analytic", &["base", "mail", "uom"], Auto::No),
    ("auth_signup", &["base_setup", "mail", "web"], Auto::No),
    ("auth_totp_mail", &["auth_totp", "mail"], Auto::All),
    ("base_install_request", &["mail"], Auto::All),
    ("google_gmail", &["mail"], Auto::All),
    ("iap_mail", &["iap", "mail"], Auto::All),
    ("mail_bot", &["mail"], Auto::All),
    ("phone_validation", &["base", "mail"], Auto::No),
    ("privacy_lookup", &["mail"], Auto::All),
    ("rating", &["mail"], Auto::No),
    ("resource_mail", &["resource", "mail"], Auto::All),
    ("partner_autocomplete", &["iap_mail"], Auto::All),
    (
        "portal",
        &["web", "web_editor", "http_routing", "mail", "auth_signup"],
        Auto::No,
    ),
    (
        "sms",
        &["iap_mail", "phone_validation"],
        Auto::Only(&["iap_mail"]),
    ),
    ("snailmail", &["iap_mail"], Auto::All),
    ("auth_totp_portal", &["auth_totp", "portal"], Auto::All),
    ("digest", &["mail", "portal", "resource"], Auto::No),
    ("portal_rating", &["portal", "rating"], Auto::All),
    (
        "project",
        &[
            "analytic",
            "base_setup",
            "mail",
            "portal",
            "rating",
            "resource",
            "web",
            "web_tour",
            "digest",
        ],
        Auto::No,
    ),
    ("project_sms", &["project", "sms"], Auto::All),
    ("project_todo", &["project"], Auto::All),
];

/// Real Odoo 18 Community addon names, uninstalled; dependencies SYNTHESIZED (base only).
pub const OTHER_STANDARD: [&str; 24] = [
    "account",
    "calendar",
    "contacts",
    "crm",
    "event",
    "fleet",
    "hr",
    "hr_expense",
    "hr_holidays",
    "hr_timesheet",
    "im_livechat",
    "lunch",
    "maintenance",
    "mass_mailing",
    "mrp",
    "point_of_sale",
    "product",
    "purchase",
    "repair",
    "sale",
    "sale_management",
    "stock",
    "survey",
    "website",
];

pub const TOTAL: usize = 646;
pub const UNINSTALLED: usize = 610;
pub const UNINSTALLABLE: usize = 24;

/// Odoo's `\d ir_module_module` and `\d ir_module_module_dependency` (recorded), without
/// the foreign keys to tables that are not here.
pub const SCHEMA: &str = "
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY,
    create_uid integer,
    create_date timestamp without time zone,
    write_date timestamp without time zone,
    write_uid integer,
    website character varying,
    summary jsonb,
    name character varying NOT NULL,
    author character varying,
    icon character varying,
    state character varying(16),
    latest_version character varying,
    shortdesc jsonb,
    category_id integer,
    description jsonb,
    application boolean DEFAULT false,
    demo boolean DEFAULT false,
    web boolean DEFAULT false,
    license character varying(32),
    sequence integer DEFAULT 100,
    auto_install boolean DEFAULT false,
    to_buy boolean DEFAULT false,
    maintainer character varying,
    published_version character varying,
    url character varying,
    contributors text,
    menus_by_module text,
    reports_by_module text,
    views_by_module text,
    module_type character varying,
    imported boolean,
    CONSTRAINT ir_module_module_name_uniq UNIQUE (name)
);
CREATE INDEX ir_module_module__category_id_index ON ir_module_module (category_id);
CREATE INDEX ir_module_module__state_index ON ir_module_module (state);
CREATE TABLE ir_module_module_dependency (
    id serial PRIMARY KEY,
    name character varying,
    module_id integer REFERENCES ir_module_module(id) ON DELETE CASCADE,
    auto_install_required boolean DEFAULT true
);
CREATE INDEX ir_module_module_dependency__name_index ON ir_module_module_dependency (name);
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY,
    key character varying NOT NULL,
    value text NOT NULL,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone,
    CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
);
CREATE TABLE res_lang (
    id serial PRIMARY KEY,
    name character varying NOT NULL,
    code character varying NOT NULL,
    active boolean,
    CONSTRAINT res_lang_code_uniq UNIQUE (code)
);
INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES
    ('database.uuid', 'f6b2a5f8-3c1e-4d2a-9b7e-0d4c2a1e5b7f', now(), now());
";

/// The languages of the test database: English (loaded at creation) and Belgian French
/// active, German loaded then deactivated (its `.po` files do not count in a checksum).
pub const LANGS_SQL: &str = "INSERT INTO res_lang (name, code, active) VALUES \
    ('English (US)', 'en_US', true), ('French (BE) / Français (BE)', 'fr_BE', true), \
    ('German / Deutsch', 'de_DE', false);
";

/// `project_todo` -> `Project Todo`: the `shortdesc` Odoo shows (Odoo's own titles differ
/// for some modules; the stand-in only echoes it in `ALLOW access ... on ['Project']`).
fn title(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL that creates and fills both tables with a fresh Odoo 18 database's states.
pub fn fresh_sql() -> String {
    let mut rows: Vec<(String, &str, Option<&str>, bool, bool)> = Vec::new();
    for (name, _, auto) in &RECORDED {
        let installed = FRESH_INSTALLED.iter().find(|(n, _)| n == name);
        rows.push((
            name.to_string(),
            if installed.is_some() {
                "installed"
            } else {
                "uninstalled"
            },
            installed.map(|(_, v)| *v),
            !matches!(auto, Auto::No),
            *name == "project",
        ));
    }
    for name in OTHER_STANDARD {
        rows.push((name.to_string(), "uninstalled", None, false, false));
    }
    let mut n = 0;
    while rows.iter().filter(|r| r.1 == "uninstalled").count() < UNINSTALLED {
        n += 1;
        rows.push((
            format!("standin_addon_{n:03}"),
            "uninstalled",
            None,
            false,
            false,
        ));
    }
    for n in 1..=UNINSTALLABLE {
        rows.push((
            format!("standin_uninstallable_{n:02}"),
            "uninstallable",
            None,
            false,
            false,
        ));
    }
    assert_eq!(rows.len(), TOTAL);
    let values: Vec<String> = rows
        .iter()
        .map(|(name, state, version, auto, app)| {
            format!(
                "({}, {}, {}, {}, 'Odoo S.A.', 'LGPL-3', {auto}, {app}, now(), now(), 1, 1)",
                quote(name),
                quote(state),
                version.map(quote).unwrap_or_else(|| "NULL".into()),
                quote(&format!("{{\"en_US\": \"{}\"}}", title(name))),
            )
        })
        .collect();
    let mut sql = String::from(SCHEMA);
    sql += LANGS_SQL;
    sql += "INSERT INTO ir_module_module (name, state, latest_version, shortdesc, author, license, auto_install, application, create_date, write_date, create_uid, write_uid) VALUES\n";
    sql += &values.join(",\n");
    sql += ";\n";
    let mut deps: Vec<String> = Vec::new();
    for (name, depends, auto) in &RECORDED {
        for dep in *depends {
            let required = match auto {
                Auto::No => false,
                Auto::All => true,
                Auto::Only(list) => list.contains(dep),
            };
            deps.push(format!("({}, {}, {required})", quote(name), quote(dep)));
        }
    }
    for name in OTHER_STANDARD {
        deps.push(format!("({}, 'base', false)", quote(name)));
    }
    sql += "INSERT INTO ir_module_module_dependency (module_id, name, auto_install_required) \
            SELECT m.id, d.dep, d.req FROM (VALUES\n";
    sql += &deps.join(",\n");
    sql += ") AS d(module, dep, req) JOIN ir_module_module m ON m.name = d.module;\n";
    sql
}

impl super::postgres::Postgres {
    /// Create `database` on this host PostgreSQL holding Odoo's two module tables with a
    /// fresh Odoo 18 database's 646 rows (as [`Project::create_odoo_db`] in a container).
    pub fn create_odoo_db(&self, database: &str) {
        self.create_database(database);
        self.psql(database, &fresh_sql());
    }
}

impl Project {
    /// Create `database` in the db container (owned by `odoo`) holding Odoo's two module
    /// tables with a fresh Odoo 18 database's 646 rows.
    pub fn create_odoo_db(&self, db_container: &str, database: &str) {
        self.psql(
            db_container,
            "postgres",
            &format!("CREATE DATABASE \"{database}\" OWNER odoo"),
        );
        self.psql(db_container, database, &fresh_sql());
    }

    /// Put modules in a state directly, as a crashed run leaves them (`to install`,
    /// `to upgrade`, `to remove`).
    pub fn set_module_states(&self, db_container: &str, database: &str, states: &[(&str, &str)]) {
        for (name, state) in states {
            self.psql(
                db_container,
                database,
                &format!(
                    "UPDATE ir_module_module SET state = {} WHERE name = {}",
                    quote(state),
                    quote(name)
                ),
            );
        }
    }

    /// name -> state of every row.
    pub fn module_states(&self, db_container: &str, database: &str) -> BTreeMap<String, String> {
        self.psql(
            db_container,
            database,
            "SELECT name, state FROM ir_module_module ORDER BY name",
        )
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
    }

    /// name -> latest_version ("" for NULL) of every row.
    pub fn module_versions(&self, db_container: &str, database: &str) -> BTreeMap<String, String> {
        self.psql(
            db_container,
            database,
            "SELECT name, coalesce(latest_version, '') FROM ir_module_module ORDER BY name",
        )
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
    }

    /// state -> number of rows.
    pub fn module_state_counts(
        &self,
        db_container: &str,
        database: &str,
    ) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for state in self.module_states(db_container, database).into_values() {
            *counts.entry(state).or_insert(0) += 1;
        }
        counts
    }
}

impl Project {
    /// Set (or with `None` delete) an `ir_config_parameter`.
    pub fn set_param(&self, db_container: &str, database: &str, key: &str, value: Option<&str>) {
        let sql = match value {
            Some(v) => format!(
                "INSERT INTO ir_config_parameter (key, value) VALUES ({}, {}) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                quote(key),
                quote(v)
            ),
            None => format!("DELETE FROM ir_config_parameter WHERE key = {}", quote(key)),
        };
        self.psql(db_container, database, &sql);
    }

    /// An `ir_config_parameter`'s value, if set.
    pub fn param(&self, db_container: &str, database: &str, key: &str) -> Option<String> {
        let out = self.psql(
            db_container,
            database,
            &format!(
                "SELECT value FROM ir_config_parameter WHERE key = {}",
                quote(key)
            ),
        );
        let v = out.trim_end_matches('\n');
        (!v.is_empty()).then(|| v.to_string())
    }
}
