//! Gathering observations through the [`Target`]: everything independent runs at once,
//! and each piece's time is recorded (the benchmark compares the total with the slowest).

pub mod cert;
pub mod edge;
pub mod host;
pub mod http;
pub mod nginx;
pub mod odoo;
pub mod odoo_log;

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use std::time::{Duration, Instant};

use super::obs::{DbObs, InternalObs, Observations, OdooObs, OdooRuntime, Ran};
use crate::host::processes;
use crate::target::{Command, Target};

/// Where Odoo is, when the operator (or a test) says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OdooLocation {
    /// What nginx's upstream reaches, else Odoo by what it is ([`crate::odoo::locate`]).
    #[default]
    Auto,
    /// This container (name or id).
    Container(String),
    /// A host process started with this config file (read even when it is not running).
    ConfigFile(PathBuf),
}

/// What to diagnose. The defaults are the real paths of a droplet.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// The site's server_name; default: the most Odoo-looking server block.
    pub domain: Option<String>,
    pub compose_project: Option<String>,
    /// nginx's -c (also selects which running master is meant); default: the master's own.
    pub nginx_conf: Option<PathBuf>,
    pub nginx_prefix: Option<PathBuf>,
    pub nginx_binary: Option<String>,
    pub odoo: OdooLocation,
    pub error_log_minutes: u32,
    /// Per request and per command.
    pub timeout: Duration,
    /// Connect the edge checks from this machine to this address, instead of from the
    /// target to nginx's listen address.
    pub edge_connect: Option<IpAddr>,
    /// Extra trusted roots (PEM) on top of the system store; tests use it for their CA.
    pub extra_root_certs: Vec<Vec<u8>>,
    /// A certificate expiring within this many days is a warning.
    pub cert_warn_days: i64,
    /// The whole diagnosis' bound: what has not finished by then is named, not waited for.
    pub deadline: Duration,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        DiagnoseOptions {
            domain: None,
            compose_project: None,
            nginx_conf: None,
            nginx_prefix: None,
            nginx_binary: None,
            odoo: OdooLocation::Auto,
            error_log_minutes: 15,
            timeout: Duration::from_secs(5),
            edge_connect: None,
            extra_root_certs: Vec::new(),
            cert_warn_days: 14,
            // Each command has 20 s and each request `timeout`; a diagnosis normally takes
            // a few seconds, and one stuck step must not hold the operator for minutes.
            deadline: Duration::from_secs(60),
        }
    }
}

/// Run a command, keeping stdout and stderr apart as well as the combined record.
pub async fn run_split(target: &Target, command: &Command) -> (Ran, String, String) {
    let shown = command.display();
    match tokio::time::timeout(Duration::from_secs(20), target.run(command)).await {
        Ok(Ok(out)) => {
            let (stdout, stderr) = (out.stdout_text(), out.stderr_text());
            let mut output = stdout.clone();
            output.push_str(&stderr);
            (
                Ran {
                    command: shown,
                    status: out.status,
                    output,
                    error: None,
                },
                stdout,
                stderr,
            )
        }
        Ok(Err(e)) => {
            let msg = format!("{e:#}");
            (
                Ran {
                    command: shown,
                    status: None,
                    output: String::new(),
                    error: Some(msg.clone()),
                },
                String::new(),
                msg,
            )
        }
        Err(_) => (
            Ran {
                command: shown,
                status: None,
                output: String::new(),
                error: Some("did not finish within 20 s".into()),
            },
            String::new(),
            String::new(),
        ),
    }
}

pub async fn run(target: &Target, command: &Command) -> Ran {
    run_split(target, command).await.0
}

/// Each observation's wall time, in milliseconds, and the diagnosis' deadline: every probe
/// goes through [`Stopwatch::time`], and one still running at the deadline is abandoned
/// (its observation stays empty) and named in [`Stopwatch::unfinished`].
pub struct Stopwatch {
    times: Mutex<Vec<(String, f64)>>,
    deadline: tokio::time::Instant,
    limit: Duration,
    unfinished: Mutex<Vec<String>>,
}

/// Probes that did not finish by the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub limit: Duration,
    pub probes: Vec<String>,
}

impl Unfinished {
    /// `did not finish within 60 s: nginx (-t, -T), edge (https, login, websocket)`.
    pub fn sentence(&self) -> String {
        format!(
            "did not finish within {} s: {}",
            self.limit.as_secs_f64(),
            self.probes.join(", ")
        )
    }

    /// Whether a check of `group` may have judged an abandoned probe's empty observation.
    /// Deliberately broad: a check skipped for this says so, one judged on nothing would lie.
    pub fn touches(&self, group: super::model::Group) -> bool {
        use super::model::Group::*;
        self.probes.iter().any(|probe| {
            let fed: &[super::model::Group] = match probe.as_str() {
                PS => &[
                    Nginx,
                    NginxSite,
                    Edge,
                    ErrorLog,
                    OdooConf,
                    OdooRuntime,
                    InternalHealth,
                    Database,
                    Sockets,
                ],
                ODOO => &[
                    OdooConf,
                    OdooRuntime,
                    InternalHealth,
                    Database,
                    Sockets,
                    NginxSite,
                    Edge,
                ],
                INTERNAL => &[InternalHealth],
                DATABASE => &[Database],
                NGINX => &[Nginx, NginxSite, Edge, ErrorLog],
                EDGE => &[Edge],
                NGINX_HISTORY => &[Nginx, ErrorLog],
                HOST => &[Sockets, Resources],
                _ => &[],
            };
            fed.contains(&group)
        })
    }
}

const PS: &str = "processes";
const ODOO: &str = "odoo (discovery, odoo.conf, log)";
const INTERNAL: &str = "internal health (8069/8072)";
const DATABASE: &str = "database (pg_isready)";
const NGINX: &str = "nginx (-t, -T)";
const EDGE: &str = "edge (https, login, websocket)";
const NGINX_HISTORY: &str = "nginx (reload, error.log)";
const HOST: &str = "host (sockets, memory, disk, oom)";

impl Stopwatch {
    pub fn with_deadline(limit: Duration) -> Self {
        Stopwatch {
            times: Mutex::default(),
            deadline: tokio::time::Instant::now() + limit,
            limit,
            unfinished: Mutex::default(),
        }
    }

    /// Run one probe, timed, until the deadline at the latest; an abandoned probe gives
    /// its observation's empty value.
    ///
    /// Probes come boxed: the diagnosis joins them, and a join of unboxed probes is a
    /// future of ~150 KiB that is moved through the stack of the thread polling it, whose
    /// pages then stay resident for the console's whole life.
    pub async fn time<T: Default, F: Future<Output = T>>(&self, name: &str, fut: Pin<Box<F>>) -> T {
        let start = Instant::now();
        let out = self.within(name, fut).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        self.times
            .lock()
            .expect("stopwatch")
            .push((name.to_string(), ms));
        out.unwrap_or_default()
    }

    /// Run `fut` until the deadline at the latest (untimed); `None`, and `name` noted as
    /// unfinished, when the deadline came first.
    pub async fn within<T, F: Future<Output = T>>(
        &self,
        name: &str,
        fut: Pin<Box<F>>,
    ) -> Option<T> {
        let out = tokio::time::timeout_at(self.deadline, fut).await.ok();
        if out.is_none() {
            let mut unfinished = self.unfinished.lock().expect("stopwatch");
            if !unfinished.iter().any(|n| n == name) {
                unfinished.push(name.to_string());
            }
        }
        out
    }

    pub fn unfinished(&self) -> Option<Unfinished> {
        let probes = self.unfinished.lock().expect("stopwatch").clone();
        (!probes.is_empty()).then_some(Unfinished {
            limit: self.limit,
            probes,
        })
    }

    pub fn into_sorted(self) -> Vec<(String, f64)> {
        let mut v = self.times.into_inner().expect("stopwatch");
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }
}

pub async fn internal(target: &Target, odoo: &OdooObs, timeout: Duration) -> InternalObs {
    let health = "/web/health?db_server_status=1";
    let get = |port: Option<u16>, path: &'static str, ws: bool| async move {
        match port {
            Some(p) => Some(http::get(target, p, path, ws, timeout).await),
            None => None,
        }
    };
    let (h, g, w) = tokio::join!(
        get(odoo.http_port, health, false),
        get(odoo.gevent_port, health, false),
        get(odoo.gevent_port, http::WEBSOCKET_PATH, true),
    );
    InternalObs {
        http_health: h,
        gevent_health: g,
        gevent_websocket: w,
    }
}

fn is_host_reachable(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok()
}

pub async fn database(target: &Target, odoo: &OdooObs) -> DbObs {
    let conf = odoo.conf.as_ref();
    let host = conf
        .and_then(|c| c.get("db_host"))
        .filter(|h| !h.is_empty() && *h != "False")
        .unwrap_or("localhost")
        .to_string();
    let port = conf
        .and_then(|c| c.get_u64("db_port"))
        .map_or(5432, |p| p as u16);
    let mut db = DbObs {
        host: host.clone(),
        port,
        ..Default::default()
    };
    if conf.is_none() {
        db.skipped = Some("odoo.conf was not read, so the database address is unknown".into());
        return db;
    }
    if let OdooRuntime::Container(c) = &odoo.runtime
        && !is_host_reachable(&host)
    {
        // A name on the compose network (`db`): the host cannot resolve it, but the
        // service's own container has pg_isready, as a droplet's PostgreSQL image does.
        match pg_isready_in_service(target, c.compose_project.as_deref(), &host, port).await {
            Some(ran) => db.pg_isready = Some(ran),
            None => {
                db.skipped = Some(format!(
                    "the database host `{host}` is a name on the container network, not reachable from the host, and no container of the compose service `{host}` was found; Odoo's own DB health is used"
                ))
            }
        }
        return db;
    }
    let cmd = Command::new("pg_isready").args(["-h", &host, "-p", &port.to_string(), "-t", "3"]);
    db.pg_isready = Some(run(target, &cmd).await);
    db
}

/// `pg_isready` inside the running container of compose service `service` of `project`
/// (through Docker's exec API), recorded as the `docker exec` line an operator would type.
/// `None` when there is no such container or Docker cannot be asked.
async fn pg_isready_in_service(
    target: &Target,
    project: Option<&str>,
    service: &str,
    port: u16,
) -> Option<Ran> {
    let docker = target.docker().await.ok()?;
    let (container, state) =
        crate::docker::compose::service_container(&docker, project?, service).await?;
    let port = port.to_string();
    let argv = ["pg_isready", "-p", port.as_str(), "-t", "3"];
    let command = format!("docker exec {container} {}", argv.join(" "));
    if state != "running" {
        // pg_isready's own code for "no response", with the reason in its place.
        return Some(Ran {
            command,
            status: Some(2),
            output: format!(
                "the container {container} of service `{service}` is {state}, not running\n"
            ),
            error: None,
        });
    }
    Some(
        match crate::docker::exec::run(&docker, &container, None, &argv, Duration::from_secs(10))
            .await
        {
            Ok(out) => {
                let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&out.stderr));
                Ran {
                    command,
                    status: out.exit_code.map(|c| c as i32),
                    output,
                    error: None,
                }
            }
            Err(e) => Ran {
                command,
                status: None,
                output: String::new(),
                error: Some(format!("{e:#}")),
            },
        },
    )
}

/// Gather every observation, independent ones concurrently, within `options.deadline`:
/// each probe's time, and the probes that did not finish by then.
pub async fn observe(
    target: &Target,
    options: &DiagnoseOptions,
) -> (Observations, Vec<(String, f64)>, Option<Unfinished>) {
    let watch = Stopwatch::with_deadline(options.deadline);
    // nginx is found through the host's processes (socket owners, verified programs), and
    // so is an Odoo that runs on the host; Odoo is chosen by what nginx's upstream reaches,
    // so its discovery waits for nginx's configuration (sent through `upstream`); the
    // host's facts need neither (over SSH each step is a round trip).
    let ps =
        async { Arc::new(watch.time(PS, Box::pin(processes::snapshot(target))).await) }.shared();
    let (upstream_tx, upstream_rx) = tokio::sync::oneshot::channel::<Vec<u16>>();
    let upstream = async { upstream_rx.await.unwrap_or_default() };
    let odoo_branch = async {
        let odoo = watch
            .time(
                ODOO,
                Box::pin(odoo::gather(target, ps.clone(), upstream, options)),
            )
            .await;
        let (internal, db) = tokio::join!(
            watch.time(INTERNAL, Box::pin(internal(target, &odoo, options.timeout))),
            watch.time(DATABASE, Box::pin(database(target, &odoo))),
        );
        (odoo, internal, db)
    };
    let nginx_branch = async {
        let (rows, early_nginx) = tokio::join!(
            ps.clone(),
            watch.within(NGINX, Box::pin(nginx::first_round_early(target, options)))
        );
        let mut nginx = watch
            .time(
                NGINX,
                Box::pin(nginx::configuration(target, &rows, options, early_nginx)),
            )
            .await;
        let _ = upstream_tx.send(nginx::upstream_ports(&nginx));
        let plan = nginx
            .site
            .as_ref()
            .filter(|_| nginx.running)
            .and_then(|s| edge::plan(s, options.edge_connect));
        // The edge needs only where nginx listens and for which name: it does not wait
        // for the reload times and the error log.
        let edge = async {
            match &plan {
                Some(p) => {
                    watch
                        .time(
                            EDGE,
                            Box::pin(edge::gather(
                                target,
                                p,
                                &options.extra_root_certs,
                                options.timeout,
                            )),
                        )
                        .await
                }
                None => Default::default(),
            }
        };
        let history = watch.time(
            NGINX_HISTORY,
            Box::pin(nginx::history(target, &mut nginx, options)),
        );
        let (edge, ()) = tokio::join!(edge, history);
        (nginx, edge)
    };
    let ((odoo, internal, db), (nginx, edge), host) = tokio::join!(
        odoo_branch,
        nginx_branch,
        watch.time(HOST, Box::pin(host::gather(target))),
    );
    let obs = Observations {
        nginx,
        odoo,
        host,
        internal,
        edge,
        db,
    };
    // The shared `ps` future holds a borrow of the stopwatch until it is gone.
    drop(ps);
    let unfinished = watch.unfinished();
    (obs, watch.into_sorted(), unfinished)
}
