//! Which installed modules changed on disk since they were last upgraded: each addon's
//! directory is read out of Odoo's container through Docker's archive API (nothing runs
//! in the container), hashed as [`super::checksum`] says, and compared with the
//! checksums recorded at the last upgrade:
//!
//! - OCA's `module_auto_update` (and `click-odoo-update`) keep them in
//!   `ir_config_parameter` under [`OCA_KEY`]; when that key is there it is the record;
//! - otherwise odoo-ops keeps its own under [`OUR_KEY`], written after each successful
//!   `modules install` for the modules that run loaded;
//! - neither: every module says "no record".
//!
//! Odoo looks for an addon in its package's `addons` first, then `data_dir/addons/18.0`,
//! then the `addons_path` of odoo.conf (or of `--addons-path` on the server's command
//! line), as its start-up line `addons paths: [...]` lists them; the first directory with
//! a `__manifest__.py` is the addon.

use std::collections::BTreeMap;

use bollard::query_parameters::InspectContainerOptions;
use color_eyre::eyre::{Result, eyre};
use serde::Serialize;

use super::access::DbAccess;
use super::checksum::{
    AddonFiles, DEFAULT_EXCLUDE_PATTERNS, HashRules, addon_hash, read_addon_tar,
};
use super::inventory::Inventory;
use super::query;
use crate::odoo::conf::OdooConf;

pub const OCA_KEY: &str = "module_auto_update.installed_checksums";
pub const OCA_EXCLUDE_KEY: &str = "module_auto_update.exclude_patterns";
/// Ours, same JSON shape as OCA's (`{"module": "sha1", ...}`).
pub const OUR_KEY: &str = "odoo_ops.installed_checksums";

/// Where Odoo's own addons are in the official image (and in its Debian package).
pub const ODOO_PACKAGE_ADDONS: &str = "/usr/lib/python3/dist-packages/odoo/addons";

/// Whose record the disk is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSource {
    /// `module_auto_update.installed_checksums`.
    ModuleAutoUpdate,
    /// `odoo_ops.installed_checksums`.
    OdooOps,
    #[default]
    None,
}

impl RecordSource {
    pub fn describe(self) -> &'static str {
        match self {
            RecordSource::ModuleAutoUpdate => {
                "module_auto_update's checksums (ir_config_parameter)"
            }
            RecordSource::OdooOps => {
                "odoo-ops' checksums of its last successful install (ir_config_parameter)"
            }
            RecordSource::None => {
                "no record: neither module_auto_update nor odoo-ops recorded checksums in this database"
            }
        }
    }
}

/// One installed module compared with its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskState {
    Unchanged,
    /// The files differ from the ones last upgraded: an upgrade would load them.
    Changed,
    /// No checksum recorded for it.
    NoRecord,
    /// No directory with a manifest in any addons path.
    NotOnDisk,
    /// It could not be hashed (see the note).
    Unknown,
}

impl DiskState {
    pub fn label(self) -> &'static str {
        match self {
            DiskState::Unchanged => "unchanged",
            DiskState::Changed => "changed",
            DiskState::NoRecord => "no record",
            DiskState::NotOnDisk => "not on disk",
            DiskState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskCheck {
    pub state: DiskState,
    /// The addon's directory in the container.
    pub path: Option<String>,
    pub checksum: Option<String>,
    pub recorded: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The installed modules against the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiskReport {
    pub record: RecordSource,
    pub addons_paths: Vec<String>,
    pub modules: BTreeMap<String, DiskCheck>,
}

impl DiskReport {
    pub fn changed(&self) -> Vec<&str> {
        self.modules
            .iter()
            .filter(|(_, c)| c.state == DiskState::Changed)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&DiskCheck> {
        self.modules.get(name)
    }

    /// `changed on disk: a, b` / `none changed on disk` / the no-record sentence.
    pub fn summary(&self) -> String {
        let changed = self.changed();
        match (self.record, changed.is_empty()) {
            (RecordSource::None, _) => self.record.describe().to_string(),
            (_, true) => format!(
                "no installed module changed on disk since its last upgrade (compared with {})",
                self.record.describe()
            ),
            (_, false) => format!(
                "changed on disk since their last upgrade: {} (compared with {})",
                changed.join(", "),
                self.record.describe()
            ),
        }
    }
}

/// What the database says about hashing: the record, the exclude patterns, the languages.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub source: RecordSource,
    pub checksums: BTreeMap<String, String>,
    /// odoo-ops' own record (kept apart: it is merged into when an install succeeds).
    pub ours: BTreeMap<String, String>,
    pub exclude_patterns: String,
    pub langs: Vec<String>,
}

impl Records {
    pub fn rules(&self) -> HashRules {
        HashRules::new(&self.exclude_patterns, &self.langs)
    }
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The parameters and the active languages in one round trip.
fn records_sql() -> String {
    format!(
        "SELECT 'p', translate(key, E'\\x1e\\x1f', '  '), translate(value, E'\\x1e\\x1f', '  ') \
         FROM ir_config_parameter WHERE key IN ({}, {}, {}) \
         UNION ALL SELECT 'l', code, '' FROM res_lang WHERE active",
        sql_quote(OCA_KEY),
        sql_quote(OCA_EXCLUDE_KEY),
        sql_quote(OUR_KEY),
    )
}

fn parse_checksums(key: &str, json: &str) -> Result<BTreeMap<String, String>> {
    // module_auto_update writes `false` for a module whose directory it did not find.
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| eyre!("{key} is not a JSON object: {e}"))?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
        .collect())
}

pub async fn read_records(access: &DbAccess) -> Result<Records> {
    let rows = access.rows(&access.database, &records_sql()).await?;
    let mut records = Records {
        exclude_patterns: DEFAULT_EXCLUDE_PATTERNS.to_string(),
        ..Default::default()
    };
    let mut oca = None;
    for r in &rows {
        match query::fields(r).as_slice() {
            ["p", key, value] if *key == OCA_KEY => oca = Some(parse_checksums(key, value)?),
            ["p", key, value] if *key == OUR_KEY => records.ours = parse_checksums(key, value)?,
            ["p", key, value] if *key == OCA_EXCLUDE_KEY => {
                records.exclude_patterns = value.to_string()
            }
            ["l", code, ..] => records.langs.push(code.to_string()),
            _ => {}
        }
    }
    (records.source, records.checksums) = match oca {
        Some(c) => (RecordSource::ModuleAutoUpdate, c),
        None if !records.ours.is_empty() => (RecordSource::OdooOps, records.ours.clone()),
        None => (RecordSource::None, BTreeMap::new()),
    };
    Ok(records)
}

/// Where Odoo looks for addons, in its order (duplicates dropped).
pub fn addons_paths(conf: &OdooConf, server_args: &[String]) -> Vec<String> {
    let from_args = server_args.iter().enumerate().find_map(|(i, a)| {
        if a == "--addons-path" {
            return server_args.get(i + 1).cloned();
        }
        a.strip_prefix("--addons-path=").map(str::to_string)
    });
    let configured = from_args.or_else(|| conf.get("addons_path").map(str::to_string));
    let mut paths = vec![ODOO_PACKAGE_ADDONS.to_string()];
    if let Some(data_dir) = conf
        .get("data_dir")
        .filter(|d| !d.is_empty() && *d != "False")
    {
        paths.push(format!("{}/addons/18.0", data_dir.trim_end_matches('/')));
    }
    paths.extend(
        configured
            .unwrap_or_default()
            .split(',')
            .map(|p| p.trim().trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty()),
    );
    let mut seen = std::collections::BTreeSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
}

/// One addon's directory out of the container: the first addons path holding it with a
/// manifest, and its files. `None` when no path has it.
async fn fetch_addon(
    access: &DbAccess,
    paths: &[String],
    name: &str,
    rules: &HashRules,
) -> Result<Option<(String, AddonFiles)>> {
    use crate::backup::pipe::{ChannelReader, DEPTH};
    for dir in paths {
        let path = format!("{dir}/{name}");
        let (tx, rx) = tokio::sync::mpsc::channel(DEPTH);
        let rules = rules.clone();
        let reader =
            tokio::task::spawn_blocking(move || read_addon_tar(ChannelReader::new(rx), &rules));
        let odoo = access.container()?;
        let found =
            crate::backup::filestore::download(&odoo.docker, &odoo.odoo.id, &path, tx).await;
        let files = reader.await.map_err(|e| eyre!("reading {path}: {e}"))?;
        if !found? {
            continue;
        }
        let files = files.map_err(|e| eyre!("the archive of {path}: {e}"))?;
        if files.has_manifest {
            return Ok(Some((path, files)));
        }
    }
    Ok(None)
}

/// The running server's arguments (a `--addons-path` there beats odoo.conf's).
async fn server_args(access: &DbAccess) -> Vec<String> {
    let Ok(odoo) = access.container() else {
        return Vec::new();
    };
    odoo.docker
        .inspect_container(&odoo.odoo.id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.cmd)
        .unwrap_or_default()
}

/// Hash `names` (those found on disk): name -> (directory, checksum or why not).
async fn hash_modules(
    access: &DbAccess,
    paths: &[String],
    rules: &HashRules,
    names: &[String],
) -> BTreeMap<String, (Option<String>, Result<String, String>)> {
    let mut out = BTreeMap::new();
    for name in names {
        let result = match fetch_addon(access, paths, name, rules).await {
            Ok(Some((path, files))) if files.symlinks.is_empty() => {
                (Some(path), Ok(addon_hash(&files.files, rules)))
            }
            Ok(Some((path, files))) => (
                Some(path),
                Err(format!(
                    "symbolic links ({}) cannot be hashed through Docker's archive",
                    files.symlinks.join(", ")
                )),
            ),
            Ok(None) => (None, Err(String::new())),
            Err(e) => (None, Err(format!("{e:#}"))),
        };
        out.insert(name.clone(), result);
    }
    out
}

/// Every installed module of `inventory` against the record.
pub async fn check(access: &DbAccess, inventory: &Inventory) -> Result<DiskReport> {
    // The addons are read out of Odoo's container through Docker's archive API.
    access.container()?;
    let records = read_records(access).await?;
    let paths = addons_paths(&access.conf, &server_args(access).await);
    let rules = records.rules();
    let installed: Vec<String> = inventory
        .modules
        .iter()
        .filter(|m| m.state == "installed")
        .map(|m| m.name.clone())
        .collect();
    let hashed = hash_modules(access, &paths, &rules, &installed).await;
    let modules = hashed
        .into_iter()
        .map(|(name, (path, hash))| {
            let recorded = records.checksums.get(&name).cloned();
            let check = match hash {
                Ok(sum) => DiskCheck {
                    state: match &recorded {
                        None => DiskState::NoRecord,
                        Some(r) if *r == sum => DiskState::Unchanged,
                        Some(_) => DiskState::Changed,
                    },
                    path,
                    checksum: Some(sum),
                    recorded,
                    note: None,
                },
                Err(e) if e.is_empty() => DiskCheck {
                    state: DiskState::NotOnDisk,
                    path: None,
                    checksum: None,
                    recorded,
                    note: Some(format!("in none of {}", paths.join(", "))),
                },
                Err(e) => DiskCheck {
                    state: DiskState::Unknown,
                    path,
                    checksum: None,
                    recorded,
                    note: Some(e),
                },
            };
            (name, check)
        })
        .collect();
    Ok(DiskReport {
        record: records.source,
        addons_paths: paths,
        modules,
    })
}

/// After a successful module run: record the checksums of the modules it loaded, under
/// odoo-ops' key, unless module_auto_update keeps the record (then it is its job).
/// Returns the modules recorded (empty when module_auto_update's record is there).
pub async fn record_after_run(access: &DbAccess, loaded: &[String]) -> Result<Vec<String>> {
    let records = read_records(access).await?;
    if records.source == RecordSource::ModuleAutoUpdate {
        return Ok(Vec::new());
    }
    let paths = addons_paths(&access.conf, &server_args(access).await);
    let rules = records.rules();
    let hashed = hash_modules(access, &paths, &rules, loaded).await;
    let mut ours = records.ours.clone();
    let mut recorded = Vec::new();
    for (name, (_, hash)) in hashed {
        match hash {
            Ok(sum) => {
                ours.insert(name.clone(), sum);
                recorded.push(name);
            }
            // Not hashable now: an old value would claim a state it no longer has.
            Err(_) => {
                ours.remove(&name);
            }
        }
    }
    let json = serde_json::to_string(&ours)?;
    let sql = format!(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date) \
         VALUES ({key}, {value}, now() at time zone 'UTC', now() at time zone 'UTC') \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date",
        key = sql_quote(OUR_KEY),
        value = sql_quote(&json),
    );
    access.rows(&access.database, &sql).await?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addons_paths_in_odoos_order() {
        let conf = OdooConf::parse(
            "[options]\naddons_path = /usr/lib/python3/dist-packages/odoo/addons, /mnt/extra-addons/\ndata_dir = /var/lib/odoo\n",
        );
        assert_eq!(
            addons_paths(&conf, &[]),
            [
                ODOO_PACKAGE_ADDONS,
                "/var/lib/odoo/addons/18.0",
                "/mnt/extra-addons"
            ]
        );
        let args = vec![
            "-c".into(),
            "x".into(),
            "--addons-path=/opt/a,/opt/b".into(),
        ];
        assert_eq!(
            addons_paths(&OdooConf::default(), &args),
            [ODOO_PACKAGE_ADDONS, "/opt/a", "/opt/b"]
        );
    }

    #[test]
    fn oca_false_entries_are_no_record() {
        let c = parse_checksums(OCA_KEY, r#"{"base": "abc", "gone": false}"#).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c["base"], "abc");
    }
}
