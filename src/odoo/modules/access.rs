//! Where Odoo's module tables are read, and which database. Odoo is found by
//! [`crate::odoo::locate`]'s one rule (through the diagnosis' Odoo gathering, which also
//! reads its odoo.conf), in a container or as a host process. Two ways reach its tables,
//! neither with a typed password:
//! - **docker exec**: when `db_host` names a compose service of Odoo's project, psql runs
//!   inside that container through Docker's exec API as odoo.conf's `db_user` (the
//!   container's local socket trusts it);
//! - **connection**: otherwise (a host process, a host or managed PostgreSQL, an address)
//!   a PostgreSQL connection with odoo.conf's parameters, through the target
//!   ([`super::connection`]).
//!
//! The way that fits is tried first and the other one after it fails; the one that
//! answered is said by [`DbAccess::describe`], with why the first did not. Both work over
//! SSH alike: the Docker API and the connection's bytes travel through the target.

use std::time::Duration;

use bollard::Docker;
use color_eyre::eyre::{Result, eyre};

use super::connection::Connection;
use super::inventory::Inventory;
use super::query::{self, Rows};
use crate::checks::gather::{DiagnoseOptions, OdooLocation};
use crate::checks::obs::{ContainerObs, OdooRuntime};
use crate::odoo::conf::OdooConf;
use crate::target::Target;

/// What to look at; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModulesOptions {
    pub compose_project: Option<String>,
    /// Odoo's container (name or id) instead of looking for it.
    pub odoo_container: Option<String>,
    /// Odoo runs on the host with this config file, instead of looking for it.
    pub odoo_conf: Option<std::path::PathBuf>,
    /// The Odoo database (default: odoo.conf's `db_name`, else the only one there is).
    pub database: Option<String>,
}

/// Odoo's container and its Docker engine: what a phase's one-off container, the
/// on-disk check and the backup need.
#[derive(Clone)]
pub struct InContainer {
    pub docker: Docker,
    /// The running Odoo container (its image and settings make a phase's one-off).
    pub odoo: ContainerObs,
}

/// How the tables are reached.
#[derive(Clone)]
pub enum Way {
    /// psql inside the database's compose container.
    Exec {
        docker: Docker,
        db_container: String,
    },
    Connection(Connection),
}

/// A way to the Odoo database's tables, found and checked.
#[derive(Clone)]
pub struct DbAccess {
    /// `None` when Odoo runs on the host as a process.
    pub container: Option<InContainer>,
    /// Which Odoo, for messages: `container shop-odoo-1`, or a host process's odoo.conf.
    pub odoo_name: String,
    pub conf: OdooConf,
    pub db_user: String,
    pub way: Way,
    pub database: String,
    /// Where the database name came from (`--db`, `odoo.conf db_name`, `the only database`).
    pub database_from: String,
    /// Why the way that fitted first was not used (said in [`DbAccess::describe`]).
    pub first_try_failed: Option<String>,
}

const PSQL_TIMEOUT: Duration = Duration::from_secs(30);

impl DbAccess {
    /// Find Odoo, a way to its database that answers, and the database.
    pub async fn find(target: &Target, options: &ModulesOptions) -> Result<DbAccess> {
        let diagnose = DiagnoseOptions {
            compose_project: options.compose_project.clone(),
            odoo: match (&options.odoo_container, &options.odoo_conf) {
                (Some(name), _) => OdooLocation::Container(name.clone()),
                (None, Some(file)) => OdooLocation::ConfigFile(file.clone()),
                (None, None) => OdooLocation::Auto,
            },
            ..Default::default()
        };
        let procs = async { std::sync::Arc::new(crate::host::processes::snapshot(target).await) };
        let obs =
            crate::checks::gather::odoo::gather(target, procs, async { Vec::new() }, &diagnose)
                .await;
        let (odoo, odoo_name) = match obs.runtime {
            OdooRuntime::Container(c) => {
                let name = format!("container {}", c.name);
                (Some(c), name)
            }
            OdooRuntime::Process { config, .. } => (
                None,
                config
                    .map(|c| c.display().to_string())
                    .or(obs.conf_source.clone())
                    .unwrap_or_else(|| "odoo.conf".into()),
            ),
            OdooRuntime::NotFound { looked } => {
                return Err(eyre!(
                    "no Odoo found (looked: {looked}){}",
                    obs.docker_error
                        .map(|e| format!("; Docker could not be asked: {e}"))
                        .unwrap_or_default()
                ));
            }
        };
        let conf = obs.conf.ok_or_else(|| {
            eyre!(
                "odoo.conf of Odoo ({odoo_name}) could not be read: {}",
                obs.conf_error.clone().unwrap_or_default()
            )
        })?;
        let db_user = OdooConf::db_user(Some(&conf)).to_string();
        let container = match odoo {
            Some(odoo) => Some(InContainer {
                docker: target.docker().await?,
                odoo,
            }),
            None => None,
        };

        // The way that fits first: docker exec when db_host names a service of Odoo's
        // compose project (the official image's default `db` when unset).
        let mut ways: Vec<Result<Way, String>> = Vec::new();
        if let Some(c) = &container
            && let Some(way) = exec_way(c, &conf).await
        {
            ways.push(way);
        }
        ways.push(
            Connection::from_conf(target, &conf, &db_user)
                .map(Way::Connection)
                .map_err(|e| format!("{e:#}")),
        );

        let mut failed: Vec<String> = Vec::new();
        for way in ways {
            let way = match way {
                Ok(w) => w,
                Err(e) => {
                    failed.push(e);
                    continue;
                }
            };
            let mut access = DbAccess {
                container: container.clone(),
                odoo_name: odoo_name.clone(),
                conf: conf.clone(),
                db_user: db_user.clone(),
                way,
                database: String::new(),
                database_from: String::new(),
                first_try_failed: (!failed.is_empty()).then(|| failed.join("; ")),
            };
            match access.choose_database(options).await {
                Ok(()) => return Ok(access),
                Err(e) => failed.push(match &access.way {
                    Way::Exec { db_container, .. } => {
                        format!("docker exec {db_container} psql: {e:#}")
                    }
                    // Its errors name the endpoint and odoo.conf's settings already.
                    Way::Connection(_) => format!("{e:#}"),
                }),
            }
        }
        Err(eyre!(
            "the database of Odoo ({odoo_name}) could not be read: {}",
            failed.join("; ")
        ))
    }

    /// `--db`, else odoo.conf's `db_name`, else the only database; checked by a query in
    /// it, so a way that cannot read it fails here and the next way is tried.
    async fn choose_database(&mut self, options: &ModulesOptions) -> Result<()> {
        let conf_db = self
            .conf
            .get_set("db_name")
            .filter(|d| !d.contains(','))
            .map(str::to_string);
        (self.database, self.database_from) = match (&options.database, conf_db) {
            (Some(db), _) => (db.clone(), "--db".into()),
            (None, Some(db)) => (db, "odoo.conf db_name".into()),
            (None, None) => {
                let dbs: Vec<String> = self
                    .rows("postgres", query::DATABASES_SQL)
                    .await?
                    .into_iter()
                    .filter_map(|r| r.into_iter().next())
                    .collect();
                match dbs.as_slice() {
                    [one] => (one.clone(), "the only database".into()),
                    [] => {
                        return Err(eyre!(
                            "the database server holds no database besides `postgres`"
                        ));
                    }
                    many => {
                        return Err(eyre!(
                            "odoo.conf names no db_name and the server holds several databases ({}): choose one with --db",
                            many.join(", ")
                        ));
                    }
                }
            }
        };
        // A connection is checked now (its login and the database), so a refusal falls
        // back or is said before anything else; the exec way was found running and keeps
        // its one psql round trip per reading (the Modules pane's promise).
        if matches!(self.way, Way::Connection(_)) {
            self.rows(&self.database.clone(), "SELECT 1").await?;
        }
        Ok(())
    }

    /// How the tables are reached, as an operator would retype it.
    pub fn describe(&self) -> String {
        let first = self
            .first_try_failed
            .as_ref()
            .map(|e| format!("; tried first: {e}"))
            .unwrap_or_default();
        match &self.way {
            Way::Exec { db_container, .. } => format!(
                "docker exec {} psql -U {} -d {} (the container's local trust; database from {}{first})",
                db_container, self.db_user, self.database, self.database_from
            ),
            Way::Connection(c) => format!(
                "{} (odoo.conf's db_host, db_port, db_user, db_password; database from {}{first})",
                c.describe(Some(&self.database)),
                self.database_from
            ),
        }
    }

    /// Odoo's container, or why there is none: module runs happen in one-off containers
    /// of the running image, which a host-process Odoo does not have.
    pub fn container(&self) -> Result<&InContainer> {
        self.container.as_ref().ok_or_else(|| {
            eyre!(
                "Odoo runs on the host as a process ({}), not in a container: module runs (one-off containers of the running image) are not done for it; its module states can still be read",
                self.odoo_name
            )
        })
    }

    /// The database's container (the backup dumps there), or why there is none.
    pub fn db_container(&self) -> Result<&str> {
        match &self.way {
            Way::Exec { db_container, .. } => Ok(db_container),
            Way::Connection(c) => Err(eyre!(
                "the database is not read in a container of Odoo's compose project ({}), so it is not dumped from one",
                c.describe(None)
            )),
        }
    }

    /// Run SQL (one or more statements) in `database`; its rows of text.
    pub async fn rows(&self, database: &str, sql: &str) -> Result<Rows> {
        match &self.way {
            Way::Exec {
                docker,
                db_container,
            } => psql(docker, db_container, &self.db_user, database, sql)
                .await
                .map(|out| query::records(&out)),
            Way::Connection(c) => c.rows(database, sql).await,
        }
    }

    /// Both module tables of the Odoo database.
    pub async fn inventory(&self) -> Result<Inventory> {
        let rows = self.rows(&self.database, &query::inventory_sql()).await?;
        let (modules, edges) = query::parse_inventory(&rows).map_err(|e| eyre!(e))?;
        Ok(Inventory::new(modules, edges))
    }
}

/// The docker exec way when odoo.conf's `db_host` is a running service of Odoo's project;
/// `None` when it is an address or a socket directory (only a connection fits those).
async fn exec_way(c: &InContainer, conf: &OdooConf) -> Option<Result<Way, String>> {
    let db_host = OdooConf::db_service(Some(conf))?;
    Some(exec_way_of(c, db_host).await)
}

async fn exec_way_of(c: &InContainer, db_host: &str) -> Result<Way, String> {
    let project = c.odoo.compose_project.clone().ok_or_else(|| {
        format!(
            "{} is not a compose container, so no database container `{db_host}` is looked for",
            c.odoo.name
        )
    })?;
    let (db_container, state) =
        crate::docker::compose::service_container(&c.docker, &project, db_host)
            .await
            .ok_or_else(|| {
                format!(
                    "odoo.conf's db_host `{db_host}` is no compose service of project {project}"
                )
            })?;
    if state != "running" {
        return Err(format!(
            "the database container {db_container} is {state}, not running"
        ));
    }
    Ok(Way::Exec {
        docker: c.docker.clone(),
        db_container,
    })
}

/// Run one SQL statement with psql in the db container; its stdout.
async fn psql(
    docker: &Docker,
    db_container: &str,
    user: &str,
    database: &str,
    sql: &str,
) -> Result<String> {
    let argv = query::psql_args(user, database, sql);
    let out = crate::docker::exec::run(docker, db_container, None, &argv, PSQL_TIMEOUT).await?;
    if !out.success() {
        return Err(eyre!(
            "psql in {db_container} (database {database}) failed{}: {}",
            out.exit_code
                .map(|c| format!(" with exit code {c}"))
                .unwrap_or_else(|| " (no answer in time)".into()),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
