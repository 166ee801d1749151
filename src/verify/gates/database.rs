//! Gates on PostgreSQL, asked inside its own compose container through Docker's exec API
//! (no password, no published port, as an operator would `docker compose exec db ...`):
//! `db.ready` (`pg_isready`) and `db.modules` (no module left `to install`, `to upgrade`
//! or `to remove` in `ir_module_module`: Odoo's own sign that a module run did not finish).

use std::time::Duration;

use bollard::Docker;

use crate::docker::exec;
use crate::odoo::conf::OdooConf;
use crate::verify::model::Finding;
use crate::verify::subject::{DbContainer, Sighting, Subject};

/// The states a module is in only while a module run is pending or was cut short.
pub const PENDING_STATES: [&str; 3] = ["to install", "to upgrade", "to remove"];

/// Everything the database gates read: where PostgreSQL runs, and how Odoo logs in to it.
/// Built from a [`Subject`], or from a [`Sighting`] of Odoo's container before its
/// odoo.conf is read (as if odoo.conf set nothing): a verdict reached on the second is
/// kept only when the first is equal, so it is never about another database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub at: DbAt,
    pub user: String,
    pub port: u16,
    /// `None`: every database is looked at.
    pub database: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbAt {
    Container(DbContainer),
    /// No compose database container to ask; how Odoo was found (shown).
    NoContainer {
        located: Vec<String>,
    },
    /// Docker could not be asked.
    NoDocker(String),
}

impl DbTarget {
    pub fn of(subject: &Subject, wanted: Option<&str>) -> DbTarget {
        let at = match (&subject.docker, &subject.db) {
            (Err(e), _) | (_, Err(e)) => DbAt::NoDocker(e.clone()),
            (Ok(_), Ok(Some(db))) => DbAt::Container(db.clone()),
            (Ok(_), Ok(None)) => DbAt::NoContainer {
                located: subject.odoo.located.clone(),
            },
        };
        DbTarget::new(at, subject.conf(), &subject.container_argv(), wanted)
    }

    /// On Odoo's container seen before its odoo.conf is read; `None` when that found no
    /// database container (nothing to start early).
    pub fn sighted(sighting: &Sighting, wanted: Option<&str>) -> Option<DbTarget> {
        let db = sighting.db.clone()?;
        Some(DbTarget::new(
            DbAt::Container(db),
            None,
            &sighting.container_argv(),
            wanted,
        ))
    }

    fn new(at: DbAt, conf: Option<&OdooConf>, argv: &[String], wanted: Option<&str>) -> Self {
        DbTarget {
            at,
            user: OdooConf::db_user(conf).to_string(),
            port: OdooConf::db_port(conf),
            database: database_name(conf, argv, wanted),
        }
    }

    /// The database's container, or the finding that says why there is none to ask.
    fn container(&self) -> Result<&DbContainer, Finding> {
        match &self.at {
            DbAt::Container(db) => Ok(db),
            DbAt::NoContainer { located } => Err(Finding::could_not_check(
                "no compose database container to ask (Odoo not in a compose project, or its db_host is an address)",
            )
            .lines(located.iter().cloned())),
            DbAt::NoDocker(e) => Err(Finding::could_not_check(format!(
                "Docker could not be asked: {e}"
            ))),
        }
    }
}

/// `db.ready`.
pub async fn ready(docker: Option<&Docker>, target: &DbTarget, timeout: Duration) -> Finding {
    let (docker, db) = match usable(docker, target) {
        Ok(pair) => pair,
        Err(finding) => return finding,
    };
    let port = target.port.to_string();
    // As Odoo's role: without -U, pg_isready introduces itself as the OS user (`root`),
    // and PostgreSQL logs `FATAL: role "root" does not exist` for every poll.
    let user = &target.user;
    let argv = [
        "pg_isready",
        "-U",
        user.as_str(),
        "-p",
        port.as_str(),
        "-t",
        "3",
    ];
    let shown = format!("docker exec {} {}", db.name, argv.join(" "));
    let at = Some(db.name.clone());
    if db.state != "running" {
        return Finding::fail(format!(
            "the container {} of service `{}` is {}, not running",
            db.name, db.service, db.state
        ))
        .line(format!("docker inspect {}: {}", db.name, db.state))
        .in_container(at);
    }
    match exec::run(docker, &db.name, None, &argv, timeout).await {
        Ok(out) => {
            let text = output_lines(&out);
            let finding = match out.exit_code {
                Some(0) => Finding::pass(format!("accepting connections in {}", db.name)),
                Some(code) => Finding::fail(format!(
                    "pg_isready in {} exited {code}: {}",
                    db.name,
                    match code {
                        1 => "the server rejects connections (starting up?)",
                        2 => "no response",
                        _ => "no attempt was made",
                    }
                )),
                None => Finding::fail(format!(
                    "pg_isready in {} did not finish within {} s",
                    db.name,
                    timeout.as_secs_f32()
                )),
            };
            finding.line(shown).lines(text).in_container(at)
        }
        Err(e) => Finding::could_not_check(format!("{e:#}"))
            .line(shown)
            .in_container(at),
    }
}

/// `db.modules`.
pub async fn modules(docker: Option<&Docker>, target: &DbTarget, timeout: Duration) -> Finding {
    let (docker, db) = match usable(docker, target) {
        Ok(pair) => pair,
        Err(finding) => return finding,
    };
    let at = Some(db.name.clone());
    if db.state != "running" {
        return Finding::could_not_check(format!(
            "the database container {} is {}: module states cannot be read",
            db.name, db.state
        ))
        .in_container(at);
    }
    let psql = Psql {
        docker,
        container: &db.name,
        user: &target.user,
        timeout,
    };
    let databases = match &target.database {
        Some(name) => vec![name.clone()],
        None => match psql.databases().await {
            Ok(list) => list,
            Err(f) => return f.in_container(at),
        },
    };
    if databases.is_empty() {
        return Finding::warn(
            "no Odoo database yet: PostgreSQL holds no database besides `postgres`",
        )
        .in_container(at);
    }
    let mut pending = Vec::new();
    let mut missing = Vec::new();
    let mut evidence = Vec::new();
    for database in &databases {
        match psql.pending(database).await {
            Ok(Pending::Rows(rows)) => {
                evidence.push(format!(
                    "{database}: {}",
                    if rows.is_empty() {
                        "no module pending".to_string()
                    } else {
                        rows.join(", ")
                    }
                ));
                pending.extend(rows.into_iter().map(|r| format!("{database}: {r}")));
            }
            Ok(Pending::NoTable) => {
                missing.push(format!("{database} has no ir_module_module table"))
            }
            Ok(Pending::NoDatabase) => {
                missing.push(format!("the database {database} does not exist"))
            }
            Err(f) => return f.lines(evidence).in_container(at),
        }
    }
    evidence.insert(0, psql.shown(&databases[0]));
    let finding = if !pending.is_empty() {
        Finding::fail(format!(
            "modules left mid-run: {} (a module install/upgrade did not finish)",
            pending.join("; ")
        ))
    } else if missing.len() == databases.len() {
        Finding::warn(format!("no Odoo database yet: {}", missing.join("; ")))
    } else {
        Finding::pass(format!(
            "no module to install, upgrade or remove in {}",
            databases.join(", ")
        ))
    };
    finding.lines(evidence).lines(missing).in_container(at)
}

/// The database and Docker, or the finding that says why they cannot be used.
fn usable<'a>(
    docker: Option<&'a Docker>,
    target: &'a DbTarget,
) -> Result<(&'a Docker, &'a DbContainer), Finding> {
    let db = target.container()?;
    match docker {
        Some(d) => Ok((d, db)),
        None => Err(Finding::could_not_check("Docker could not be asked")),
    }
}

/// The database to look at: the option, else odoo.conf's `db_name` (its first name), else
/// the server's `-d`/`--database`; `None`: every database is looked at.
fn database_name(conf: Option<&OdooConf>, argv: &[String], wanted: Option<&str>) -> Option<String> {
    let first = |s: &str| {
        s.split(',')
            .map(str::trim)
            .find(|n| !n.is_empty() && *n != "False")
            .map(str::to_string)
    };
    if let Some(w) = wanted {
        return Some(w.to_string());
    }
    if let Some(n) = conf.and_then(|c| c.get("db_name")).and_then(first) {
        return Some(n);
    }
    database_arg(argv).and_then(|d| first(&d))
}

/// `-d DB`, `-dDB`, `--database DB` or `--database=DB` in Odoo's command line.
pub fn database_arg<S: AsRef<str>>(argv: &[S]) -> Option<String> {
    let mut it = argv.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        if a == "-d" || a == "--database" {
            return it.next().map(str::to_string);
        }
        if let Some(v) = a.strip_prefix("--database=") {
            return Some(v.to_string());
        }
        if let Some(v) = a
            .strip_prefix("-d")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            return Some(v.to_string());
        }
    }
    None
}

enum Pending {
    /// `name state` of each pending module.
    Rows(Vec<String>),
    NoTable,
    NoDatabase,
}

struct Psql<'a> {
    docker: &'a Docker,
    container: &'a str,
    user: &'a str,
    timeout: Duration,
}

const PENDING_SQL: &str = "SELECT name || ' ' || state FROM ir_module_module \
     WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name";
const DATABASES_SQL: &str = "SELECT datname FROM pg_database \
     WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname";

impl Psql<'_> {
    fn argv<'b>(&'b self, database: &'b str, sql: &'b str) -> Vec<&'b str> {
        vec![
            "psql",
            "-X",
            "-U",
            self.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ]
    }

    fn shown(&self, database: &str) -> String {
        format!(
            "docker exec {} psql -U {} -d {database} -Atc \"{PENDING_SQL}\"",
            self.container, self.user
        )
    }

    async fn query(&self, database: &str, sql: &str) -> Result<exec::ExecOutput, Finding> {
        let argv = self.argv(database, sql);
        match exec::run(self.docker, self.container, None, &argv, self.timeout).await {
            Ok(out) if out.exit_code.is_none() => Err(Finding::fail(format!(
                "psql in {} did not finish within {} s",
                self.container,
                self.timeout.as_secs_f32()
            ))),
            Ok(out) => Ok(out),
            Err(e) => Err(Finding::could_not_check(format!("{e:#}"))),
        }
    }

    async fn databases(&self) -> Result<Vec<String>, Finding> {
        let out = self.query("postgres", DATABASES_SQL).await?;
        if !out.success() {
            return Err(
                Finding::could_not_check("psql could not list the databases")
                    .lines(output_lines(&out)),
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    async fn pending(&self, database: &str) -> Result<Pending, Finding> {
        let out = self.query(database, PENDING_SQL).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.success() {
            return Ok(Pending::Rows(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            ));
        }
        if stderr.contains("\"ir_module_module\" does not exist") {
            return Ok(Pending::NoTable);
        }
        if stderr.contains(&format!("database \"{database}\" does not exist")) {
            return Ok(Pending::NoDatabase);
        }
        Err(Finding::fail(format!("psql in {} failed", self.container)).lines(output_lines(&out)))
    }
}

fn output_lines(out: &exec::ExecOutput) -> Vec<String> {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the early database gates guess (no odoo.conf) is what an odoo.conf that sets
    /// the defaults gives, and nothing else is.
    #[test]
    fn a_guess_matches_only_the_same_role_port_and_database() {
        let at = DbAt::Container(DbContainer {
            name: "p-db-1".into(),
            state: "running".into(),
            service: "db".into(),
        });
        let argv: Vec<String> = ["odoo", "-c", "/etc/odoo/odoo.conf", "-d", "prod"]
            .map(String::from)
            .to_vec();
        let with = |text: &str| {
            let conf = OdooConf::parse(&format!("[options]\n{text}\n"));
            DbTarget::new(at.clone(), Some(&conf), &argv, None)
        };
        let guess = DbTarget::new(at.clone(), None, &argv, None);
        assert_eq!(guess.database.as_deref(), Some("prod"));
        assert_eq!(
            guess,
            with("db_host = db\ndb_user = odoo\ndb_port = 5432\ndb_name = False")
        );
        for other in ["db_user = erp", "db_port = 5433", "db_name = staging"] {
            assert_ne!(guess, with(other), "{other}");
        }
        // The operator's database wins over both.
        let wanted = DbTarget::new(at.clone(), None, &argv, Some("x"));
        assert_eq!(wanted.database.as_deref(), Some("x"));
    }

    #[test]
    fn the_database_from_odoos_command_line() {
        assert_eq!(
            database_arg(&["odoo", "-d", "prod"]).as_deref(),
            Some("prod")
        );
        assert_eq!(database_arg(&["odoo", "-dprod"]).as_deref(), Some("prod"));
        assert_eq!(
            database_arg(&["odoo", "--database=a,b"]).as_deref(),
            Some("a,b")
        );
        assert_eq!(database_arg(&["odoo", "--db_host", "db"]), None);
    }
}
