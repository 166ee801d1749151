//! What is being verified, found afresh each round (a container recreated by a deploy has a
//! new id): Odoo by the diagnosis' own discovery ([`crate::checks::gather::odoo`], which
//! applies [`crate::odoo::locate`]'s rule), its ports, and the compose service of its
//! database.

use std::future::Future;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use futures::FutureExt;
use futures::channel::oneshot;

use super::options::VerifyOptions;
use crate::checks::gather::odoo;
use crate::checks::obs::{ContainerObs, OdooObs, OdooRuntime};
use crate::host::processes::Processes;
use crate::odoo::conf::OdooConf;
use crate::target::Target;

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
        self.inspect.as_ref().map(argv).unwrap_or_default()
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

/// Odoo's container as soon as Docker has described it, with its database's container
/// as odoo.conf would name it if it named none: what the gates that need no odoo.conf
/// (or guess it sets nothing) start on, while odoo.conf is read.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub docker: Docker,
    pub container: ContainerObs,
    pub inspect: ContainerInspectResponse,
    /// Under Odoo's compose project and [`db_service`]'s answer for no odoo.conf.
    pub db: Option<DbContainer>,
    /// The project and service `db` was looked up under (`None`: not looked up).
    db_key: Option<(String, String)>,
}

impl Sighting {
    /// Odoo's command line in its container, as [`Subject::container_argv`] says.
    pub fn container_argv(&self) -> Vec<String> {
        argv(&self.inspect)
    }
}

/// Find Odoo, its ports and its database's container. `procs` (the host's processes) and
/// `upstream` (the host ports nginx's upstream names: the locate rule's first criterion)
/// are awaited only by the discovery that needs them: a named container needs neither.
/// `sighted` hears of Odoo's container before odoo.conf is read (never when Odoo is not in
/// a container).
pub async fn discover(
    target: &Target,
    options: &VerifyOptions,
    procs: impl Future<Output = Arc<Processes>>,
    upstream: impl Future<Output = Vec<u16>>,
    sighted: impl FnOnce(Sighting),
) -> Subject {
    let docker = target
        .docker()
        .map(|d| d.map_err(|e| format!("{e:#}")))
        .shared();
    // The database's container is looked up while Odoo is found when its compose project
    // and service are known without Odoo (the operator's project, the usual service):
    // kept when Odoo's labels and odoo.conf name the same, else looked up again below.
    let early = db_key(options, None, None);
    let early_db = {
        let (docker, early) = (docker.clone(), early.clone());
        async move {
            match (&early, docker.await) {
                (Some((project, service)), Ok(d)) => Some(db_container(&d, project, service).await),
                _ => None,
            }
        }
    }
    .shared();
    let looked_up = |d: Docker, key: (String, String)| {
        let early_db = early_db.clone();
        let same = Some(&key) == early.as_ref();
        async move {
            match same {
                true => early_db.await.flatten(),
                false => db_container(&d, &key.0, &key.1).await,
            }
        }
    };
    let (seen_tx, seen_rx) = oneshot::channel();
    let gather = odoo::gather_seeing(target, procs, upstream, &options.discovery, |seen| {
        let _ = seen_tx.send(seen);
    });
    // Odoo's container seen: its database's container as odoo.conf would name it if it
    // named none, looked up while odoo.conf is read.
    let sight = async {
        let seen = seen_rx.await.ok()?;
        let docker = docker.clone().await.ok()?;
        let db_key = db_key(options, seen.container.compose_project.as_deref(), None);
        let db = match &db_key {
            Some(key) => looked_up(docker.clone(), key.clone()).await,
            None => None,
        };
        let sighting = Sighting {
            docker,
            container: seen.container,
            inspect: seen.inspect,
            db,
            db_key,
        };
        sighted(sighting.clone());
        Some(sighting)
    };
    let (odoo, docker, sight, _) = tokio::join!(gather, docker.clone(), sight, early_db.clone());
    let container = match &odoo.runtime {
        OdooRuntime::Container(c) => Some(c.clone()),
        _ => None,
    };
    // Odoo's container was inspected once, by its discovery.
    let inspect = sight
        .as_ref()
        .filter(|s| container.as_ref().is_some_and(|c| c.id == s.container.id))
        .map(|s| s.inspect.clone());
    let db = match (&container, &docker) {
        (Some(c), Ok(d)) => {
            let key = db_key(options, c.compose_project.as_deref(), odoo.conf.as_ref());
            match (key, &sight) {
                (Some(key), Some(s)) if Some(&key) == s.db_key.as_ref() => Ok(s.db.clone()),
                (Some(key), _) => Ok(looked_up(d.clone(), key).await),
                (None, _) => Ok(None),
            }
        }
        (Some(_), Err(e)) => Err(e.clone()),
        (None, _) => Ok(None),
    };
    Subject {
        http_port: options.ports.http.or(odoo.http_port),
        gevent_port: options.ports.gevent.or(odoo.gevent_port),
        odoo,
        inspect,
        docker,
        db,
    }
}

fn argv(inspect: &ContainerInspectResponse) -> Vec<String> {
    let mut argv: Vec<String> = inspect.path.clone().into_iter().collect();
    argv.extend(inspect.args.clone().unwrap_or_default());
    argv
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

/// The database's compose service: the option, else what odoo.conf's `db_host` names
/// ([`OdooConf::db_service`]'s rule).
pub fn db_service(options: &VerifyOptions, conf: Option<&OdooConf>) -> Option<String> {
    match &options.db_service {
        Some(s) => Some(s.clone()),
        None => OdooConf::db_service(conf).map(str::to_string),
    }
}
