//! The subset of Odoo's configuration the stand-in honours, read like Odoo reads it: an
//! `odoo.conf` given with `-c FILE` (`[options]` section, `key = value`), then the command
//! line flags that override it.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conf {
    /// The file named by `-c`, as Odoo's "Using configuration file at" line shows it.
    pub file: Option<PathBuf>,
    /// Empty means all interfaces (Odoo logs `0.0.0.0`).
    pub http_interface: String,
    pub http_port: u16,
    pub gevent_port: u16,
    /// 0 = threaded mode: one server on the HTTP port, websockets served there too.
    pub workers: u32,
    pub proxy_mode: bool,
    /// Empty or `False` = the local Unix socket, as libpq does.
    pub db_host: String,
    pub db_port: u16,
    pub db_user: String,
    /// Empty = none: the stand-in then does not log in (see `db::reach`).
    pub db_password: String,
    pub db_name: String,
    /// Odoo's `dbfilter`: `^NAME$` (exact) or a plain substring; empty = none.
    pub dbfilter: String,
    pub addons_path: String,
    /// Empty = stdout.
    pub logfile: String,
    /// `--stop-after-init`: load (and install/update) modules, then exit.
    pub stop_after_init: bool,
    /// `-i` / `-u` module lists, comma-separated as given.
    pub init: Vec<String>,
    pub update: Vec<String>,
}

impl Default for Conf {
    fn default() -> Self {
        Conf {
            file: None,
            http_interface: String::new(),
            http_port: 8069,
            gevent_port: 8072,
            workers: 0,
            proxy_mode: false,
            db_host: String::new(),
            db_port: 5432,
            db_user: "odoo".into(),
            db_password: String::new(),
            db_name: String::new(),
            dbfilter: String::new(),
            addons_path: String::new(),
            logfile: String::new(),
            stop_after_init: false,
            init: Vec::new(),
            update: Vec::new(),
        }
    }
}

/// Why the configuration could not be read; the stand-in prints it and exits 1, as Odoo does.
#[derive(Debug)]
pub struct ConfError(pub String);

impl Conf {
    pub fn from_args(args: &[String]) -> Result<Conf, ConfError> {
        let mut conf = Conf::default();
        // First the file, wherever `-c` appears, then the flags over it (Odoo's order).
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = split_flag(&args[i]);
            if flag == "-c" || flag == "--config" {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| ConfError(format!("{flag} needs a file")))?
                    }
                };
                let text = std::fs::read_to_string(&value)
                    .map_err(|e| ConfError(format!("cannot read {value}: {e}")))?;
                conf.apply_file(&text)?;
                conf.file = Some(PathBuf::from(value));
            }
            i += 1;
        }
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = split_flag(&args[i]);
            let key = match flag.as_str() {
                "--http-interface" => "http_interface",
                "-p" | "--http-port" => "http_port",
                "--gevent-port" | "--longpolling-port" => "gevent_port",
                "--workers" => "workers",
                "--db_host" => "db_host",
                "--db_port" => "db_port",
                "-r" | "--db_user" => "db_user",
                "-w" | "--db_password" => "db_password",
                "--db-filter" => "dbfilter",
                "-d" | "--database" => "db_name",
                "--logfile" => "logfile",
                "--addons-path" => "addons_path",
                "--proxy-mode" => {
                    conf.proxy_mode = true;
                    i += 1;
                    continue;
                }
                "--stop-after-init" => {
                    conf.stop_after_init = true;
                    i += 1;
                    continue;
                }
                "-i" | "--init" | "-u" | "--update" => {
                    let value = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i)
                                .cloned()
                                .ok_or_else(|| ConfError(format!("{flag} needs a module list")))?
                        }
                    };
                    let list = value
                        .split(',')
                        .map(|m| m.trim().to_string())
                        .filter(|m| !m.is_empty());
                    if flag.starts_with("-i") || flag == "--init" {
                        conf.init.extend(list);
                    } else {
                        conf.update.extend(list);
                    }
                    i += 1;
                    continue;
                }
                _ => {
                    // Anything else Odoo accepts (--without-demo, ...) is ignored.
                    i += 1;
                    continue;
                }
            };
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| ConfError(format!("{flag} needs a value")))?
                }
            };
            conf.set(key, &value)?;
            i += 1;
        }
        Ok(conf)
    }

    fn apply_file(&mut self, text: &str) -> Result<(), ConfError> {
        let mut in_options = false;
        for (n, raw) in text.lines().enumerate() {
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
            let Some(at) = line.find(['=', ':']) else {
                return Err(ConfError(format!(
                    "Source contains parsing errors: line {}: {raw:?}",
                    n + 1
                )));
            };
            let key = line[..at].trim().to_ascii_lowercase();
            let value = line[at + 1..].trim();
            self.set(&key, value)?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), ConfError> {
        let falsy = value.eq_ignore_ascii_case("false") || value.is_empty();
        let port = |v: &str| {
            v.parse::<u16>()
                .map_err(|_| ConfError(format!("option {key}: invalid integer value: {v:?}")))
        };
        match key {
            "http_interface" => {
                self.http_interface = if falsy { String::new() } else { value.into() }
            }
            "http_port" | "xmlrpc_port" => self.http_port = port(value)?,
            "gevent_port" | "longpolling_port" => self.gevent_port = port(value)?,
            "workers" => {
                self.workers = value.parse().map_err(|_| {
                    ConfError(format!("option workers: invalid integer value: {value:?}"))
                })?
            }
            "proxy_mode" => self.proxy_mode = truthy(value),
            "db_host" => self.db_host = if falsy { String::new() } else { value.into() },
            "db_port" if !falsy => self.db_port = port(value)?,
            "db_port" => {}
            "db_user" => self.db_user = if falsy { "odoo".into() } else { value.into() },
            "db_name" => self.db_name = if falsy { String::new() } else { value.into() },
            "db_password" => self.db_password = if falsy { String::new() } else { value.into() },
            "dbfilter" => self.dbfilter = if falsy { String::new() } else { value.into() },
            "logfile" => self.logfile = if falsy { String::new() } else { value.into() },
            "addons_path" => self.addons_path = value.into(),
            _ => {}
        }
        Ok(())
    }

    /// The interface as Odoo's start-up line shows it.
    pub fn shown_interface(&self) -> &str {
        if self.http_interface.is_empty() {
            "0.0.0.0"
        } else {
            &self.http_interface
        }
    }

    /// The database name for log lines: `?` when none is set.
    pub fn log_db(&self) -> &str {
        if self.db_name.is_empty() {
            "?"
        } else {
            &self.db_name
        }
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on")
}

fn split_flag(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => {
            (flag.to_string(), Some(value.to_string()))
        }
        _ => (arg.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("standin-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("odoo.conf");
        std::fs::write(
            &file,
            "[options]\nhttp_interface = 127.0.0.1\nhttp_port = 18069\ngevent_port=18072\n\
             workers = 2\nproxy_mode = True\ndb_host = False\ndb_port = 5433\n; x\n[other]\nworkers = 9\n",
        )
        .unwrap();
        let args: Vec<String> = ["-c", file.to_str().unwrap(), "--workers=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = Conf::from_args(&args).unwrap();
        assert_eq!(c.http_interface, "127.0.0.1");
        assert_eq!((c.http_port, c.gevent_port, c.workers), (18069, 18072, 3));
        assert!(c.proxy_mode);
        assert_eq!((c.db_host.as_str(), c.db_port), ("", 5433));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn module_flags() {
        let args: Vec<String> = [
            "odoo",
            "-d",
            "prod",
            "-i",
            "base,web",
            "--update=sale",
            "--stop-after-init",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = Conf::from_args(&args).unwrap();
        assert!(c.stop_after_init);
        assert_eq!(c.init, ["base", "web"]);
        assert_eq!(c.update, ["sale"]);
        assert_eq!(c.db_name, "prod");
    }

    #[test]
    fn defaults_are_odoos() {
        let c = Conf::from_args(&[]).unwrap();
        assert_eq!((c.http_port, c.gevent_port, c.workers), (8069, 8072, 0));
        assert_eq!(c.shown_interface(), "0.0.0.0");
    }
}
