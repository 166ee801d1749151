//! What is being verified, found afresh each round (a container recreated by a deploy has a
//! new id): Odoo by the diagnosis' own discovery ([`crate::checks::gather::odoo`], which
//! applies [`crate::odoo::locate`]'s rule), its ports, and the compose service of its
//! database.

use std::future::Future;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::InspectContainerOptions;
use futures::FutureExt;

use super::options::VerifyOptions;
use crate::checks::gather::odoo;
use crate::checks::obs::{OdooObs, OdooRuntime};
use crate::host::processes::Processes;
use crate::odoo::conf::OdooConf;
use crate::target::Target;

/// The compose service a droplet's PostgreSQL runs as when odoo.conf does not say.
pub const DEFAULT_DB_SERVICE: &str = "db";

pub struct Subject {
    pub odoo: OdooObs,
    /// Odoo's container as Docker describes it (health, command line).
    pub inspect: Option<ContainerInspectResponse>,
    pub http_port: Option<u16>,
    pub gevent_port: Option<u16>,
    pub docker: Result<Docker, String>,
    /// The database's container: `Ok(None)` when there is none to look for (Odoo on the
    /// host with a database on an address).
    pub db: Result<Option<DbContainer>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbContainer {
    pub name: String,
    /// Docker's state: `running`, `exited`...
    pub state: String,
    pub service: String,
}

impl Subject {
    pub fn conf(&self) -> Option<&OdooConf> {
        self.odoo.conf.as_ref()
    }

    /// Odoo's container name, when it runs in one.
    pub fn container_name(&self) -> Option<String> {
        match &self.odoo.runtime {
            OdooRuntime::Container(c) => Some(c.name.clone()),
            _ => None,
        }
    }

    /// Odoo's command line in its container (entrypoint and arguments).
    pub fn container_argv(&self) -> Vec<String> {
        let Some(i) = &self.inspect else {
            return Vec::new();
        };
        let mut argv: Vec<String> = i.path.clone().into_iter().collect();
        argv.extend(i.args.clone().unwrap_or_default());
        argv
    }

    /// `workers = 0` (threaded mode): no gevent port, the websocket on the HTTP port.
    pub fn threaded(&self) -> bool {
        self.odoo.workers() == Some(0)
    }

    /// The sentences that say what was verified.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.odoo.runtime {
            OdooRuntime::Container(c) => {
                out.push(format!("odoo: container {} ({})", c.name, c.image))
            }
            OdooRuntime::Process { process, config } => out.push(format!(
                "odoo: host process {} (config {})",
                process
                    .as_ref()
                    .map_or("not running".to_string(), |p| p.pid.to_string()),
                config
                    .as_ref()
                    .map_or("unknown".to_string(), |c| c.display().to_string())
            )),
            OdooRuntime::NotFound { .. } => out.push("odoo: not found".into()),
        }
        let port = |p: Option<u16>| p.map_or("unknown".to_string(), |p| p.to_string());
        out.push(format!(
            "ports on the host: http {}, gevent {}",
            port(self.http_port),
            port(self.gevent_port)
        ));
        if let Ok(Some(db)) = &self.db {
            out.push(format!(
                "database: container {} (service `{}`)",
                db.name, db.service
            ));
        }
        out
    }
}

/// Find Odoo, its ports and its database's container. `procs` (the host's processes) and
/// `upstream` (the host ports nginx's upstream names: the locate rule's first criterion)
/// are awaited only by the discovery that needs them: a named container needs neither.
pub async fn discover(
    target: &Target,
    options: &VerifyOptions,
    procs: impl Future<Output = Arc<Processes>>,
    upstream: impl Future<Output = Vec<u16>>,
) -> Subject {
    let docker = target
        .docker()
        .map(|d| d.map_err(|e| format!("{e:#}")))
        .shared();
    // The database's container is looked up while Odoo is found when its compose project
    // and service are known without Odoo (the operator's project, the usual service):
    // kept when Odoo's labels and odoo.conf name the same, else looked up again below.
    let early = db_key(options, None, None);
    let early_db = async {
        match (&early, docker.clone().await) {
            (Some((project, service)), Ok(d)) => Some(db_container(&d, project, service).await),
            _ => None,
        }
    };
    let (odoo, docker, early_db) = tokio::join!(
        odoo::gather(target, procs, upstream, &options.discovery),
        docker.clone(),
        early_db
    );
    let container = match &odoo.runtime {
        OdooRuntime::Container(c) => Some(c.clone()),
        _ => None,
    };
    let inspect = async {
        match (&container, &docker) {
            (Some(c), Ok(d)) => d
                .inspect_container(&c.id, None::<InspectContainerOptions>)
                .await
                .ok(),
            _ => None,
        }
    };
    let db = async {
        match (&container, &docker) {
            (Some(c), Ok(d)) => {
                let key = db_key(options, c.compose_project.as_deref(), odoo.conf.as_ref());
                match (key, early_db) {
                    (Some(key), Some(found)) if Some(&key) == early.as_ref() => Ok(found),
                    (Some((project, service)), _) => Ok(db_container(d, &project, &service).await),
                    (None, _) => Ok(None),
                }
            }
            (Some(_), Err(e)) => Err(e.clone()),
            (None, _) => Ok(None),
        }
    };
    // Independent round trips (each a channel over SSH).
    let (inspect, db) = tokio::join!(inspect, db);
    Subject {
        http_port: options.ports.http.or(odoo.http_port),
        gevent_port: options.ports.gevent.or(odoo.gevent_port),
        odoo,
        inspect,
        docker,
        db,
    }
}

/// The compose project and service of the database's container: Odoo's project (its
/// container's label, else the operator's), the service as [`db_service`] says.
fn db_key(
    options: &VerifyOptions,
    label: Option<&str>,
    conf: Option<&OdooConf>,
) -> Option<(String, String)> {
    let project = label
        .map(str::to_string)
        .or(options.discovery.compose_project.clone())?;
    Some((project, db_service(options, conf)?))
}

async fn db_container(docker: &Docker, project: &str, service: &str) -> Option<DbContainer> {
    crate::docker::compose::service_container(docker, project, service)
        .await
        .map(|(name, state)| DbContainer {
            name,
            state,
            service: service.to_string(),
        })
}

/// The database's compose service: the option, else odoo.conf's `db_host` when it is a
/// name on the compose network (not an address the host reaches), else `db`.
pub fn db_service(options: &VerifyOptions, conf: Option<&OdooConf>) -> Option<String> {
    if let Some(s) = &options.db_service {
        return Some(s.clone());
    }
    let host = conf
        .and_then(|c| c.get("db_host"))
        .filter(|h| !h.is_empty() && *h != "False");
    match host {
        Some(h) if h == "localhost" || h.parse::<std::net::IpAddr>().is_ok() => None,
        Some(h) => Some(h.to_string()),
        None => Some(DEFAULT_DB_SERVICE.to_string()),
    }
}
