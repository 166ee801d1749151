//! `manifest.json`, with the keys Odoo's database manager writes and reads
//! (`/work/shared/odoo18/modules/backup-restore.txt`): a backup made here restores through
//! Odoo's own `/web/database/restore` and the common tools that read these keys.

use std::collections::BTreeMap;

use color_eyre::eyre::{Result, eyre};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `"1"`.
    pub odoo_dump: String,
    pub db_name: String,
    /// `18.0`.
    pub version: String,
    /// `[18, 0, 0, "final", 0, ""]`, Odoo's `release.version_info`.
    pub version_info: serde_json::Value,
    pub major_version: String,
    /// `15.0`: Odoo writes major.minor of `server_version` computed as it does below.
    pub pg_version: String,
    /// Installed modules and their `latest_version`.
    pub modules: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest of `db` with these installed modules on a server whose
    /// `server_version_num` is `pg_version_num`. Odoo's version is the series of `base`
    /// (`18.0.1.3` -> `18.0`): the code that wrote the database, which is what a restore
    /// needs to match.
    pub fn new(
        db: &str,
        modules: BTreeMap<String, String>,
        pg_version_num: u32,
    ) -> Result<Manifest> {
        let base = modules
            .get("base")
            .ok_or_else(|| eyre!("module base is not installed in {db}: not an Odoo database"))?;
        let series = series(base).ok_or_else(|| eyre!("base's version {base:?} has no series"))?;
        let (major, minor) = series;
        Ok(Manifest {
            odoo_dump: "1".into(),
            db_name: db.to_string(),
            version: format!("{major}.{minor}"),
            version_info: serde_json::json!([major, minor, 0, "final", 0, ""]),
            major_version: format!("{major}.{minor}"),
            pg_version: pg_version(pg_version_num),
            modules,
        })
    }

    /// Parse and check the keys Odoo's restore relies on.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| eyre!("manifest.json is not Odoo's manifest: {e}"))?;
        if manifest.odoo_dump != "1" {
            return Err(eyre!(
                "manifest.json: odoo_dump is {:?}, not \"1\"",
                manifest.odoo_dump
            ));
        }
        Ok(manifest)
    }
}

/// `(18, 0)` of `18.0.1.3`.
fn series(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Odoo: `"%d.%d" % divmod(server_version / 100, 100)`; 150004 -> `15.0`, 90624 -> `9.6`.
fn pg_version(num: u32) -> String {
    format!("{}.{}", num / 10_000, (num / 100) % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_odoo_writes() {
        let modules = BTreeMap::from([
            ("base".to_string(), "18.0.1.3".to_string()),
            ("web".to_string(), "18.0.1.0".to_string()),
        ]);
        let m = Manifest::new("odoo", modules, 150_004).unwrap();
        let json: serde_json::Value = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for key in [
            "odoo_dump",
            "db_name",
            "version",
            "version_info",
            "major_version",
            "pg_version",
            "modules",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(json["version"], "18.0");
        assert_eq!(
            json["version_info"],
            serde_json::json!([18, 0, 0, "final", 0, ""])
        );
        assert_eq!(json["pg_version"], "15.0");
        assert_eq!(pg_version(90_624), "9.6");
        assert_eq!(json["modules"]["web"], "18.0.1.0");
        assert_eq!(
            Manifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap(),
            m
        );
        assert!(Manifest::parse(b"{\"odoo_dump\": \"1\"}").is_err());
        assert!(Manifest::new("x", BTreeMap::new(), 150_004).is_err());
    }
}
