//! Where Odoo's module tables are read, and which database: Odoo is found by
//! [`crate::odoo::locate`]'s one rule (through the diagnosis' Odoo gathering, which also
//! reads its odoo.conf), its database server is the compose service `db_host` names in
//! the same project, and psql runs inside that container through Docker's exec API as
//! odoo.conf's `db_user`: the container's local socket trusts it, so no password is typed
//! or stored, and the same path works over SSH (the Docker API travels through the
//! target). A database not in a container of the project is not reached (yet).

use std::time::Duration;

use bollard::Docker;
use color_eyre::eyre::{Result, eyre};

use super::inventory::Inventory;
use super::query;
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
    /// The Odoo database (default: odoo.conf's `db_name`, else the only one there is).
    pub database: Option<String>,
}

/// A way to the Odoo database's tables, found and checked.
#[derive(Clone)]
pub struct DbAccess {
    pub docker: Docker,
    /// The running Odoo container (its image and settings make a phase's one-off).
    pub odoo: ContainerObs,
    pub conf: OdooConf,
    pub db_container: String,
    pub db_user: String,
    pub database: String,
    /// Where the database name came from (`--db`, `odoo.conf db_name`, `the only database`).
    pub database_from: String,
}

const PSQL_TIMEOUT: Duration = Duration::from_secs(30);

impl DbAccess {
    /// Find Odoo, its database container and the database.
    pub async fn find(target: &Target, options: &ModulesOptions) -> Result<DbAccess> {
        let diagnose = DiagnoseOptions {
            compose_project: options.compose_project.clone(),
            odoo: match &options.odoo_container {
                Some(name) => OdooLocation::Container(name.clone()),
                None => OdooLocation::Auto,
            },
            ..Default::default()
        };
        let procs = async { std::sync::Arc::new(crate::host::processes::snapshot(target).await) };
        let obs =
            crate::checks::gather::odoo::gather(target, procs, async { Vec::new() }, &diagnose)
                .await;
        let odoo = match obs.runtime {
            OdooRuntime::Container(c) => c,
            OdooRuntime::Process { .. } => {
                return Err(eyre!(
                    "Odoo runs on the host, not in a container: reading its module states that way is not supported yet"
                ));
            }
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
                "odoo.conf of {} could not be read: {}",
                odoo.name,
                obs.conf_error.unwrap_or_default()
            )
        })?;
        let docker = target.docker().await?;
        let db_host = conf
            .get("db_host")
            .filter(|h| !h.is_empty() && *h != "False")
            .unwrap_or("db")
            .to_string();
        let project = odoo.compose_project.clone().ok_or_else(|| {
            eyre!(
                "{} is not a compose container, so its database container (`{db_host}`) cannot be found",
                odoo.name
            )
        })?;
        let (db_container, state) =
            crate::docker::compose::service_container(&docker, &project, &db_host)
                .await
                .ok_or_else(|| {
                    eyre!(
                        "odoo.conf's db_host `{db_host}` is no compose service of project {project}: a database outside the project is not reached (yet)"
                    )
                })?;
        if state != "running" {
            return Err(eyre!(
                "the database container {db_container} is {state}, not running"
            ));
        }
        let db_user = conf
            .get("db_user")
            .filter(|u| !u.is_empty() && *u != "False")
            .unwrap_or("odoo")
            .to_string();
        let mut access = DbAccess {
            docker,
            odoo,
            conf,
            db_container,
            db_user,
            database: String::new(),
            database_from: String::new(),
        };
        let conf_db = access
            .conf
            .get("db_name")
            .filter(|d| !d.is_empty() && *d != "False" && !d.contains(','))
            .map(str::to_string);
        (access.database, access.database_from) = match (&options.database, conf_db) {
            (Some(db), _) => (db.clone(), "--db".into()),
            (None, Some(db)) => (db, "odoo.conf db_name".into()),
            (None, None) => {
                let out = access.psql("postgres", query::DATABASES_SQL).await?;
                let dbs: Vec<String> = query::records(&out)
                    .into_iter()
                    .filter_map(|r| r.first().map(|s| s.to_string()))
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
        Ok(access)
    }

    /// How the tables are reached, as an operator would retype it.
    pub fn describe(&self) -> String {
        format!(
            "docker exec {} psql -U {} -d {} (the container's local trust; database from {})",
            self.db_container, self.db_user, self.database, self.database_from
        )
    }

    /// Run one SQL statement with psql in the db container; its stdout.
    pub async fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let argv = query::psql_args(&self.db_user, database, sql);
        let out =
            crate::docker::exec::run(&self.docker, &self.db_container, None, &argv, PSQL_TIMEOUT)
                .await?;
        if !out.success() {
            return Err(eyre!(
                "psql in {} (database {database}) failed{}: {}",
                self.db_container,
                out.exit_code
                    .map(|c| format!(" with exit code {c}"))
                    .unwrap_or_else(|| " (no answer in time)".into()),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Both module tables of the Odoo database.
    pub async fn inventory(&self) -> Result<Inventory> {
        let out = self.psql(&self.database, &query::inventory_sql()).await?;
        let (modules, edges) = query::parse_inventory(&out).map_err(|e| eyre!(e))?;
        Ok(Inventory::new(modules, edges))
    }
}
