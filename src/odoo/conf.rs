//! `odoo.conf`: an INI file with one `[options]` section that Odoo reads at start.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The compose service of Odoo's database when odoo.conf does not name one.
pub const DEFAULT_DB_SERVICE: &str = "db";

/// The `[options]` of an odoo.conf, in file order of first appearance, keys lowercased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OdooConf {
    pub options: BTreeMap<String, String>,
}

impl OdooConf {
    /// Parse like Python's ConfigParser does for Odoo: `key = value` or `key: value`,
    /// `;`/`#` comments, only the `[options]` section counts.
    pub fn parse(text: &str) -> OdooConf {
        let mut options = BTreeMap::new();
        let mut in_options = false;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_options = section.trim() == "options";
                continue;
            }
            if !in_options {
                continue;
            }
            let split = line.find(['=', ':']);
            if let Some(at) = split {
                let key = line[..at].trim().to_ascii_lowercase();
                let value = line[at + 1..].trim().to_string();
                options.insert(key, value);
            }
        }
        OdooConf { options }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// A value that is set: Odoo writes `False` (or nothing) for an unset option.
    pub fn get_set(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "False")
    }

    /// Odoo's truthy strings (`True`, `1`, `yes`, `on`).
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// The compose service PostgreSQL runs as, by `db_host`: a name on the compose
    /// network, or the official image's `db` (its entrypoint passes `--db_host db` when
    /// odoo.conf leaves it unset); `None` when `db_host` is something the host reaches
    /// itself (`localhost`, an IP address, a socket directory). The one rule for "which
    /// compose service is Odoo's database"; `conf: None` (not read yet, or unreadable) is
    /// an odoo.conf that sets nothing.
    pub fn db_service(conf: Option<&OdooConf>) -> Option<&str> {
        match conf.and_then(|c| c.get_set("db_host")) {
            None => Some(DEFAULT_DB_SERVICE),
            Some(h) if h == "localhost" || h.starts_with('/') => None,
            Some(h) if h.parse::<std::net::IpAddr>().is_ok() => None,
            Some(h) => Some(h),
        }
    }

    /// The role Odoo logs in to PostgreSQL as: `db_user`, else the official images' `odoo`.
    pub fn db_user(conf: Option<&OdooConf>) -> &str {
        conf.and_then(|c| c.get_set("db_user")).unwrap_or("odoo")
    }

    /// PostgreSQL's port: `db_port`, else 5432.
    pub fn db_port(conf: Option<&OdooConf>) -> u16 {
        conf.and_then(|c| c.get_u64("db_port"))
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432)
    }

    /// The log file Odoo writes, if any (`logfile = None`, `False` or empty means stderr).
    pub fn logfile(&self) -> Option<PathBuf> {
        let value = self.get("logfile")?.trim();
        if value.is_empty() || matches!(value, "None" | "False" | "false") {
            return None;
        }
        Some(PathBuf::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_options_only() {
        let c = OdooConf::parse(
            "[options]\nproxy_mode = True\nworkers=5\n; note\n[other]\nworkers = 9\n",
        );
        assert_eq!(c.get_bool("proxy_mode"), Some(true));
        assert_eq!(c.get_u64("workers"), Some(5));
    }

    #[test]
    fn the_database_service_db_host_names() {
        let service =
            |text: &str| OdooConf::db_service(Some(&OdooConf::parse(text))).map(str::to_string);
        assert_eq!(OdooConf::db_service(None), Some("db"));
        assert_eq!(
            service("[options]\ndb_host = False\n").as_deref(),
            Some("db")
        );
        assert_eq!(service("[options]\ndb_host = pg\n").as_deref(), Some("pg"));
        for address in ["localhost", "10.0.0.5", "::1", "/run/postgresql"] {
            assert_eq!(
                service(&format!("[options]\ndb_host = {address}\n")),
                None,
                "{address}"
            );
        }
        let conf = OdooConf::parse("[options]\ndb_user = False\ndb_port = 5433\n");
        assert_eq!(OdooConf::db_user(Some(&conf)), "odoo");
        assert_eq!(OdooConf::db_port(Some(&conf)), 5433);
        assert_eq!(OdooConf::db_port(None), 5432);
    }

    #[test]
    fn logfile_or_stderr() {
        let conf = OdooConf::parse("[options]\nlogfile = /var/log/odoo/odoo.log\n");
        assert_eq!(
            conf.logfile(),
            Some(PathBuf::from("/var/log/odoo/odoo.log"))
        );
        for none in ["logfile = None", "logfile =", "logfile = False", ""] {
            let conf = OdooConf::parse(&format!("[options]\n{none}\n"));
            assert_eq!(conf.logfile(), None, "{none}");
        }
    }
}
