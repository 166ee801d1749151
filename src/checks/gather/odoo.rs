//! Where Odoo runs and how it is configured: a compose container (through Docker's API,
//! which also reads odoo.conf out of a container without any tool inside it), or an
//! `odoo-bin`/`odoo` process on the host with the config file from its command line.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    LogsOptionsBuilder,
};
use futures::StreamExt;

use super::odoo_log::{self, LOG_LINES};
use super::{DiagnoseOptions, OdooLocation};
use crate::checks::obs::{ContainerObs, OdooObs, OdooRuntime, ProcessObs, PublishedPort};
use crate::docker::mounts::host_path;
use crate::nginx::process::ProcessRow;
use crate::odoo::conf::OdooConf;
use crate::target::Target;

/// Where the official image and most compose files put it.
pub const DEFAULT_CONTAINER_CONF: &str = "/etc/odoo/odoo.conf";

/// `-c FILE`, `--config FILE` or `--config=FILE` in an argv.
pub fn config_arg<S: AsRef<str>>(argv: &[S]) -> Option<String> {
    let mut it = argv.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        if a == "-c" || a == "--config" {
            return it.next().map(str::to_string);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.to_string());
        }
    }
    None
}

/// An Odoo server process: `odoo-bin`, `odoo` (a program named so), run by python or not.
fn is_odoo_process(args: &str) -> bool {
    let words: Vec<&str> = args.split_whitespace().take(3).collect();
    words.iter().any(|w| {
        let name = w.rsplit('/').next().unwrap_or(w);
        name == "odoo-bin" || name == "odoo"
    })
}

/// The config files of the Odoo servers running on the host, each once (Odoo's workers
/// repeat their master's command line). A server started without `-c` has none to give.
pub fn host_configs(rows: &[ProcessRow]) -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = Vec::new();
    let on_host = |r: &&ProcessRow| !runs_in_container(rows, r);
    for r in rows
        .iter()
        .filter(|r| is_odoo_process(&r.args))
        .filter(on_host)
    {
        let argv: Vec<&str> = r.args.split_whitespace().collect();
        if let Some(conf) = config_arg(&argv).map(PathBuf::from)
            && !configs.contains(&conf)
        {
            configs.push(conf);
        }
    }
    configs
}

/// A container's processes show in the host's `ps` too, under their runtime's shim; the
/// paths on their command lines are the container's, not the host's.
fn runs_in_container(rows: &[ProcessRow], row: &ProcessRow) -> bool {
    let mut ppid = row.ppid;
    // Bounded: a `ps` taken while processes come and go may hold a loop.
    for _ in 0..64 {
        let Some(parent) = rows.iter().find(|r| r.pid == ppid) else {
            return false;
        };
        let program = parent.args.split_whitespace().next().unwrap_or("");
        let name = program.rsplit('/').next().unwrap_or(program);
        if name.starts_with("containerd-shim") || name == "conmon" {
            return true;
        }
        if parent.ppid == parent.pid || parent.ppid == 0 {
            return false;
        }
        ppid = parent.ppid;
    }
    false
}

/// Processes on the host running Odoo with `config` (any Odoo process when `None`).
/// A container's Odoo is not one of them: its `-c` path is the container's, and it is
/// found through Docker instead (when Docker cannot be reached, it is not found at all
/// rather than diagnosed as a host install with the wrong files).
pub fn find_process(
    rows: &[ProcessRow],
    config: Option<&Path>,
) -> Option<(ProcessObs, Option<String>)> {
    rows.iter()
        .filter(|r| !runs_in_container(rows, r))
        .find_map(|r| {
            let argv: Vec<&str> = r.args.split_whitespace().collect();
            let conf = config_arg(&argv);
            let matches = match config {
                Some(want) => conf.as_deref().map(Path::new) == Some(want),
                None => is_odoo_process(&r.args),
            };
            matches.then(|| {
                (
                    ProcessObs {
                        pid: r.pid,
                        args: r.args.clone(),
                    },
                    conf,
                )
            })
        })
}

/// Odoo's observations. `rows` is the host's process list, awaited only when Odoo may
/// run on the host: a container is found through Docker without it.
pub async fn gather(
    target: &Target,
    rows: impl Future<Output = Arc<Vec<ProcessRow>>>,
    options: &DiagnoseOptions,
) -> OdooObs {
    let mut obs = OdooObs::default();
    match &options.odoo {
        OdooLocation::Container(name) => match target.docker().await {
            Ok(docker) => container(target, &docker, name, &mut obs).await,
            Err(e) => {
                obs.runtime = OdooRuntime::NotFound {
                    looked: format!("docker inspect {name}: {e}"),
                }
            }
        },
        OdooLocation::ConfigFile(path) => {
            process(target, &rows.await, Some(path.clone()), &mut obs).await;
        }
        OdooLocation::Auto => {
            let found = match target.docker().await {
                Ok(docker) => {
                    match find_container(&docker, options.compose_project.as_deref()).await {
                        Some(name) => {
                            container(target, &docker, &name, &mut obs).await;
                            true
                        }
                        None => false,
                    }
                }
                Err(_) => false,
            };
            if !found {
                let rows = rows.await;
                match find_process(&rows, None) {
                    Some((_, conf)) => {
                        process(target, &rows, conf.map(PathBuf::from), &mut obs).await
                    }
                    None => {
                        obs.runtime = OdooRuntime::NotFound {
                            looked: format!(
                                "docker ps -a{}; ps -eo args (odoo-bin/odoo)",
                                options
                                    .compose_project
                                    .as_deref()
                                    .map(|p| format!(
                                        " --filter label=com.docker.compose.project={p}"
                                    ))
                                    .unwrap_or_default()
                            ),
                        }
                    }
                }
            }
        }
    }
    obs
}

/// The Odoo container: the compose service `odoo` (in the project, if named), else a
/// container whose image or name says odoo.
pub async fn find_container(docker: &Docker, project: Option<&str>) -> Option<String> {
    let mut filters = HashMap::new();
    if let Some(p) = project {
        filters.insert("label", vec![format!("com.docker.compose.project={p}")]);
    }
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker.list_containers(Some(opts)).await.ok()?;
    let name = |c: &bollard::models::ContainerSummary| {
        c.names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
    };
    let by_service = list.iter().find(|c| {
        c.labels
            .as_ref()
            .and_then(|l| l.get("com.docker.compose.service"))
            .is_some_and(|s| s == "odoo" || s == "web")
    });
    let by_image = || {
        list.iter().find(|c| {
            c.image.as_deref().is_some_and(|i| i.contains("odoo"))
                || name(c).is_some_and(|n| n.contains("odoo") && !n.contains("db"))
        })
    };
    by_service.or_else(by_image).and_then(name)
}

async fn container(target: &Target, docker: &Docker, name: &str, obs: &mut OdooObs) {
    // The log needs only the name: it is fetched while the container is inspected (over
    // SSH each is a channel of its own and a round trip or two).
    let (inspect, logs) = tokio::join!(
        docker.inspect_container(name, None::<InspectContainerOptions>),
        container_logs(docker, name)
    );
    let inspect = match inspect {
        Ok(i) => i,
        Err(e) => {
            obs.runtime = OdooRuntime::NotFound {
                looked: format!("docker inspect {name}: {e}"),
            };
            return;
        }
    };
    let state = inspect.state.clone().unwrap_or_default();
    let host_config = inspect.host_config.clone().unwrap_or_default();
    let mut c = ContainerObs {
        name: inspect
            .name
            .clone()
            .unwrap_or_else(|| name.to_string())
            .trim_start_matches('/')
            .to_string(),
        id: inspect.id.clone().unwrap_or_default(),
        image: inspect
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        restarting: state.restarting.unwrap_or(false),
        exit_code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        restart_count: inspect.restart_count.unwrap_or(0),
        started_at: state.started_at.clone().unwrap_or_default(),
        finished_at: state.finished_at.clone().unwrap_or_default(),
        memory_limit: host_config.memory.unwrap_or(0),
        compose_project: inspect
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get("com.docker.compose.project").cloned()),
        published: Vec::new(),
    };
    // Live bindings when running, else the configured ones.
    let live = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.clone());
    let ports = live
        .filter(|p| p.values().any(Option::is_some))
        .or(host_config.port_bindings.clone())
        .unwrap_or_default();
    for (key, bindings) in ports {
        let Some(container_port) = key.split('/').next().and_then(|p| p.parse().ok()) else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse().ok()) else {
                continue;
            };
            c.published.push(PublishedPort {
                container_port,
                host_ip: b.host_ip.unwrap_or_default(),
                host_port,
            });
        }
    }
    c.published.sort_by_key(|p| (p.container_port, p.host_port));
    let conf_path = container_conf_path(&inspect);
    let (conf, read_on_host) = read_conf(target, docker, &inspect, &c.id, &conf_path).await;
    obs.conf_source = Some(match read_on_host {
        Some(file) => format!("{}:{conf_path} (on the host: {})", c.name, file.display()),
        None => format!("{}:{conf_path}", c.name),
    });
    match conf {
        Ok(text) => obs.conf = Some(OdooConf::parse(&text)),
        Err(e) => obs.conf_error = Some(e),
    }
    let http = obs.conf_http_port();
    let gevent = obs.conf_gevent_port();
    let host_port = |p: u16| {
        c.published
            .iter()
            .find(|b| b.container_port == p)
            .map(|b| b.host_port)
    };
    obs.http_port = host_port(http);
    obs.gevent_port = host_port(gevent);
    obs.log_command = Some(format!("docker logs --tail {LOG_LINES} {}", c.name));
    // A running container is judged on what this run wrote; one that died (or is
    // between restarts) on its last lines, which say why.
    let since = (c.running && !c.restarting).then_some(c.started_at.as_str());
    match logs {
        Ok(lines) => obs.log_lines = odoo_log::container_since_start(lines, since),
        Err(e) => obs.log_error = Some(e),
    }
    obs.log_since = since.filter(|s| !s.is_empty()).map(str::to_string);
    obs.runtime = OdooRuntime::Container(c);
}

/// Where a container's Odoo reads odoo.conf: its command line's `-c`, else `ODOO_RC`,
/// else the official image's default path.
pub fn container_conf_path(inspect: &ContainerInspectResponse) -> String {
    let mut argv: Vec<String> = inspect.path.clone().into_iter().collect();
    argv.extend(inspect.args.clone().unwrap_or_default());
    let env_rc = inspect
        .config
        .as_ref()
        .and_then(|c| c.env.as_ref())
        .and_then(|env| {
            env.iter()
                .find_map(|e| e.strip_prefix("ODOO_RC=").map(str::to_string))
        });
    config_arg(&argv)
        .or(env_rc)
        .unwrap_or_else(|| DEFAULT_CONTAINER_CONF.to_string())
}

/// The container's odoo.conf: from the host when a bind or volume mount holds it (the
/// usual compose layout, ours included: a plain file read, a few ms), else through
/// Docker's archive API, which mounts the container's filesystem for each call (60 ms on
/// a small droplet, the slowest step of a diagnosis); the archive API also when the host
/// file cannot be read (a volume under /var/lib/docker for a login that is not root).
/// A file mounted by itself is read by its host path: what the next start of the
/// container will see, and what it runs with unless the file was replaced by a rename
/// since (Docker keeps the old inode until a restart). Also says which host file it read.
async fn read_conf(
    target: &Target,
    docker: &Docker,
    inspect: &ContainerInspectResponse,
    id: &str,
    conf_path: &str,
) -> (Result<String, String>, Option<PathBuf>) {
    let mounts = inspect.mounts.as_deref().unwrap_or_default();
    if let Some(on_host) = host_path(mounts, Path::new(conf_path))
        && let Ok(bytes) = target.read_file(&on_host).await
    {
        return (
            Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Some(on_host),
        );
    }
    (read_from_container(docker, id, conf_path).await, None)
}

/// One file out of a container, through the archive API (works on images FROM scratch).
pub async fn read_from_container(docker: &Docker, id: &str, path: &str) -> Result<String, String> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(opts));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        tar.extend_from_slice(&chunk.map_err(|e| format!("docker cp {id}:{path}: {e}"))?);
        if tar.len() > 4 << 20 {
            break;
        }
    }
    first_tar_member(&tar).ok_or_else(|| format!("{path}: the archive Docker sent has no file"))
}

/// The first regular file's text in a tar archive.
pub fn first_tar_member(tar: &[u8]) -> Option<String> {
    let mut offset = 0;
    while offset + 512 <= tar.len() {
        let header = &tar[offset..offset + 512];
        if header.iter().all(|b| *b == 0) {
            return None;
        }
        let size_field = std::str::from_utf8(&header[124..136]).ok()?;
        let size =
            usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .ok()?;
        let kind = header[156];
        let data = offset + 512;
        if kind == b'0' || kind == 0 {
            let body = tar.get(data..data + size)?;
            return Some(String::from_utf8_lossy(body).into_owned());
        }
        offset = data + size.div_ceil(512) * 512;
    }
    None
}

async fn container_logs(docker: &Docker, id: &str) -> Result<Vec<String>, String> {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(LOG_LINES)
        // Stamped, so only what the running container wrote is kept once its
        // StartedAt is known (the log is fetched while the container is inspected).
        .timestamps(true)
        .build();
    let mut stream = docker.logs(id, Some(opts));
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(out) => text.push_str(&String::from_utf8_lossy(&out.into_bytes())),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(text.lines().map(str::to_string).collect())
}

async fn process(target: &Target, rows: &[ProcessRow], config: Option<PathBuf>, obs: &mut OdooObs) {
    let found = find_process(rows, config.as_deref());
    if let Some(path) = &config {
        obs.conf_source = Some(path.display().to_string());
        match target.read_file(path).await {
            Ok(bytes) => obs.conf = Some(OdooConf::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) => obs.conf_error = Some(format!("{e:#}")),
        }
    } else {
        obs.conf_error = Some("the odoo process has no -c/--config on its command line".into());
    }
    obs.http_port = Some(obs.conf_http_port());
    obs.gevent_port = Some(obs.conf_gevent_port());
    let process = found.map(|(p, _)| p);
    if let Some(logfile) = obs.conf.as_ref().and_then(OdooConf::logfile) {
        let pid = process.as_ref().map(|p| p.pid);
        odoo_log::read_process_log(target, obs, &logfile, pid).await;
    }
    obs.runtime = OdooRuntime::Process { config, process };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::process::parse_ps;

    #[test]
    fn config_from_command_lines() {
        assert_eq!(
            config_arg(&["odoo", "-c", "/etc/odoo/odoo.conf"]).as_deref(),
            Some("/etc/odoo/odoo.conf")
        );
        assert_eq!(
            config_arg(&["odoo-bin", "--config=/o.conf"]).as_deref(),
            Some("/o.conf")
        );
        assert_eq!(config_arg(&["odoo-bin"]), None);
        let rows = parse_ps(
            "10 1 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo.conf --workers 2\n11 1 /usr/bin/vim odoo.conf\n",
        );
        let (p, conf) = find_process(&rows, None).unwrap();
        assert_eq!(p.pid, 10);
        assert_eq!(conf.as_deref(), Some("/etc/odoo.conf"));
        assert!(find_process(&rows, Some(Path::new("/other.conf"))).is_none());
        assert!(find_process(&rows, Some(Path::new("/etc/odoo.conf"))).is_some());
    }

    #[test]
    fn a_containers_odoo_is_not_taken_for_a_host_process() {
        let rows = parse_ps(
            "20 1 /usr/bin/containerd-shim-runc-v2 -namespace moby -id fe5e
             21 20 /usr/bin/python3 /usr/bin/odoo -c /etc/odoo/odoo.conf
",
        );
        assert!(find_process(&rows, None).is_none());
        assert!(find_process(&rows, Some(Path::new("/etc/odoo/odoo.conf"))).is_none());
        let rows = parse_ps(
            "20 1 /usr/bin/containerd-shim-runc-v2 -namespace moby -id fe5e
             21 20 /usr/bin/python3 /usr/bin/odoo -c /etc/odoo/odoo.conf
             30 1 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo18.conf
",
        );
        assert_eq!(find_process(&rows, None).unwrap().0.pid, 30);
    }

    #[test]
    fn host_configs_once_per_server_and_only_odoo() {
        let rows = parse_ps(
            "10 1 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo.conf --workers 2\n\
             11 10 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo.conf --workers 2\n\
             12 1 /usr/bin/vim -c /etc/odoo.conf\n\
             13 1 /srv/b/odoo-bin --config=/srv/b/odoo.conf\n\
             14 1 /srv/c/odoo-bin\n\
             20 1 /usr/bin/containerd-shim-runc-v2 -namespace moby -id fe5e\n\
             21 20 /usr/bin/odoo -c /etc/odoo/odoo.conf\n\
             22 21 /usr/bin/odoo -c /etc/odoo/odoo.conf\n",
        );
        // A container's Odoo (under the shim, workers too) names the container's path.
        assert_eq!(
            host_configs(&rows),
            [
                PathBuf::from("/etc/odoo.conf"),
                PathBuf::from("/srv/b/odoo.conf")
            ]
        );
    }

    #[test]
    fn tar_member() {
        let mut tar = vec![0u8; 1536];
        tar[..9].copy_from_slice(b"odoo.conf");
        tar[124..135].copy_from_slice(b"00000000012");
        tar[156] = b'0';
        tar[512..522].copy_from_slice(b"[options]\n");
        assert_eq!(first_tar_member(&tar).as_deref(), Some("[options]\n"));
    }
}
