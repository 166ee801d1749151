//! Gathering observations through the [`Target`]: everything independent runs at once,
//! and each piece's time is recorded (the benchmark compares the total with the slowest).

pub mod cert;
pub mod edge;
pub mod host;
pub mod http;
pub mod nginx;
pub mod odoo;

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
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

/// Each observation's wall time, in milliseconds.
#[derive(Default)]
pub struct Stopwatch(Mutex<Vec<(String, f64)>>);

impl Stopwatch {
    pub async fn time<T>(&self, name: &str, fut: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = fut.await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        self.0
            .lock()
            .expect("stopwatch")
            .push((name.to_string(), ms));
        out
    }

    pub fn into_sorted(self) -> Vec<(String, f64)> {
        let mut v = self.0.into_inner().expect("stopwatch");
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
    if matches!(odoo.runtime, OdooRuntime::Container(_)) && !is_host_reachable(&host) {
        db.skipped = Some(format!(
            "the database host `{host}` is a name on the container network, not reachable from the host; Odoo's own DB health is used"
        ));
        return db;
    }
    let cmd = Command::new("pg_isready").args(["-h", &host, "-p", &port.to_string(), "-t", "3"]);
    db.pg_isready = Some(run(target, &cmd).await);
    db
}

/// Gather every observation, independent ones concurrently.
pub async fn observe(
    target: &Target,
    options: &DiagnoseOptions,
) -> (Observations, Vec<(String, f64)>) {
    let watch = Stopwatch::default();
    // nginx is found through the host's processes (socket owners, verified programs), and
    // so is an Odoo that runs on the host; Odoo is chosen by what nginx's upstream reaches,
    // so its discovery waits for nginx's configuration (sent through `upstream`); the
    // host's facts need neither (over SSH each step is a round trip).
    let ps =
        async { Arc::new(watch.time("processes", processes::snapshot(target)).await) }.shared();
    let (upstream_tx, upstream_rx) = tokio::sync::oneshot::channel::<Vec<u16>>();
    let upstream = async { upstream_rx.await.unwrap_or_default() };
    let odoo_branch = async {
        let odoo = watch
            .time(
                "odoo (discovery, odoo.conf, log)",
                odoo::gather(target, ps.clone(), upstream, options),
            )
            .await;
        let (internal, db) = tokio::join!(
            watch.time(
                "internal health (8069/8072)",
                internal(target, &odoo, options.timeout)
            ),
            watch.time("database (pg_isready)", database(target, &odoo)),
        );
        (odoo, internal, db)
    };
    let nginx_branch = async {
        let (rows, early_nginx) =
            tokio::join!(ps.clone(), nginx::first_round_early(target, options));
        let mut nginx = watch
            .time(
                "nginx (-t, -T)",
                nginx::configuration(target, &rows, options, Some(early_nginx)),
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
                            "edge (https, login, websocket)",
                            edge::gather(target, p, &options.extra_root_certs, options.timeout),
                        )
                        .await
                }
                None => Default::default(),
            }
        };
        let history = watch.time(
            "nginx (reload, error.log)",
            nginx::history(target, &mut nginx, options),
        );
        let (edge, ()) = tokio::join!(edge, history);
        (nginx, edge)
    };
    let ((odoo, internal, db), (nginx, edge), host) = tokio::join!(
        odoo_branch,
        nginx_branch,
        watch.time("host (sockets, memory, disk, oom)", host::gather(target)),
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
    (obs, watch.into_sorted())
}
