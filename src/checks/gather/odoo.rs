//! Where Odoo runs and how it is configured: a container (through Docker's API, which also
//! reads odoo.conf out of a container without any tool inside it), or a process on the
//! host with the config file from its command line. Which one is [`crate::odoo::locate`]'s
//! rule; files a host process names are read under [`crate::odoo::named_file`]'s.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
};
use futures::StreamExt;

use super::odoo_log;
use super::{DiagnoseOptions, OdooLocation};
use crate::checks::obs::{ContainerObs, OdooObs, OdooRuntime, ProcessObs, PublishedPort};
use crate::docker::mounts::host_path;
use crate::host::processes::{Process, Processes, SHOWN_COMMAND};
use crate::odoo::conf::OdooConf;
use crate::odoo::locate::{self, Chosen};
use crate::odoo::named_file;
use crate::target::Target;

/// Where the official image and most compose files put it.
pub const DEFAULT_CONTAINER_CONF: &str = "/etc/odoo/odoo.conf";
const LOG_LINES: u64 = 200;
/// An odoo.conf is a few KiB; a bound keeps a hostile `-c /dev/zero`-like file harmless.
const CONF_MAX_BYTES: u64 = 1 << 20;

/// Odoo's observations. `procs` (the host's processes, [`crate::host::processes`]) and
/// `upstream` (the host ports nginx's upstream names for the site) are awaited only by
/// the discovery that needs them: a named container needs neither.
pub async fn gather(
    target: &Target,
    procs: impl Future<Output = Arc<Processes>>,
    upstream: impl Future<Output = Vec<u16>>,
    options: &DiagnoseOptions,
) -> OdooObs {
    gather_seeing(target, procs, upstream, options, |_| {}).await
}

/// Odoo's container as Docker describes it, before its odoo.conf is read (through
/// Docker's archive API, the slowest step of finding Odoo).
#[derive(Debug, Clone)]
pub struct Seen {
    /// As [`OdooObs::runtime`] will hold it.
    pub container: ContainerObs,
    pub inspect: ContainerInspectResponse,
}

/// [`gather`], telling `seen` about Odoo's container as soon as it is inspected: what
/// needs only the container (not odoo.conf) can start then. Not called when Odoo is not
/// in a container (or none is found).
pub async fn gather_seeing(
    target: &Target,
    procs: impl Future<Output = Arc<Processes>>,
    upstream: impl Future<Output = Vec<u16>>,
    options: &DiagnoseOptions,
    seen: impl FnOnce(Seen),
) -> OdooObs {
    let mut obs = OdooObs::default();
    match &options.odoo {
        OdooLocation::Container(name) => match target.docker().await {
            Ok(docker) => container(target, &docker, name, &mut obs, seen).await,
            Err(e) => {
                obs.docker_error = Some(format!("{e:#}"));
                obs.runtime = OdooRuntime::NotFound {
                    looked: format!("docker inspect {name}: {e}"),
                }
            }
        },
        OdooLocation::ConfigFile(path) => {
            let procs = procs.await;
            let running = procs
                .by_pid
                .values()
                .filter(|p| !p.in_container(&procs))
                .map(|p| (p, locate::config_arg(&argv_of(p))))
                .filter(|(_, c)| c.as_deref().map(Path::new) == Some(path.as_path()))
                // The server (it listens) before a stray process with the same -c.
                .min_by_key(|(p, _)| (p.listen_ports.is_empty(), p.pid))
                .map(|(p, _)| p.clone());
            process(target, running.as_ref(), Some(path.clone()), true, &mut obs).await;
        }
        OdooLocation::Auto => {
            // Docker's list and the process snapshot are independent; the upstream
            // comes from nginx's configuration, read meanwhile.
            let containers = async {
                match target.docker().await {
                    Ok(docker) => {
                        locate::list_containers(&docker, options.compose_project.as_deref())
                            .await
                            .map(|list| (docker, list))
                    }
                    Err(e) => Err(format!("{e:#}")),
                }
            };
            let (containers, procs, upstream) = tokio::join!(containers, procs, upstream);
            let (docker, list) = match containers {
                Ok((docker, list)) => (Some(docker), Ok(list)),
                Err(e) => (None, Err(e)),
            };
            let located = locate::locate(&procs, list, &upstream);
            obs.located = located.notes;
            obs.docker_error = located.docker_error;
            match (located.chosen, docker) {
                (Some(Chosen::Container(c)), Some(docker)) => {
                    container(target, &docker, &c.id, &mut obs, seen).await
                }
                (Some(Chosen::Host(h)), _) => {
                    let p = procs.get(h.pid).cloned();
                    process(target, p.as_ref(), h.config, false, &mut obs).await
                }
                _ => {
                    obs.runtime = OdooRuntime::NotFound {
                        looked: format!(
                            "docker ps -a{}; listening processes ({})",
                            options
                                .compose_project
                                .as_deref()
                                .map(|p| format!(" --filter label=com.docker.compose.project={p}"))
                                .unwrap_or_default(),
                            SHOWN_COMMAND
                        ),
                    }
                }
            }
        }
    }
    obs
}

/// A process's exact argv, or its title's words when the argv was not read.
fn argv_of(p: &Process) -> Vec<String> {
    if p.argv.is_empty() {
        p.title.split_whitespace().map(str::to_string).collect()
    } else {
        p.argv.clone()
    }
}

async fn container(
    target: &Target,
    docker: &Docker,
    name: &str,
    obs: &mut OdooObs,
    seen: impl FnOnce(Seen),
) {
    // The log needs only the name: it is fetched while the container is inspected (over
    // SSH each is a channel of its own and a round trip or two).
    let (inspect, logs) = tokio::join!(
        docker.inspect_container(name, None::<InspectContainerOptions>),
        container_logs(docker, name)
    );
    let inspect = match inspect {
        Ok(i) => i,
        Err(e) => {
            // Only Docker's own "no such container" says there is none; any other error
            // (no socket, permission denied) means Docker could not be asked.
            let missing = matches!(
                &e,
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                }
            );
            if !missing {
                obs.docker_error = Some(e.to_string());
            }
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
    seen(Seen {
        container: c.clone(),
        inspect: inspect.clone(),
    });
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
    obs.log_since = container_log_since(&c);
    obs.runtime = OdooRuntime::Container(c);
}

/// Where a container's log is judged from: a running container on what this run wrote
/// (since its `StartedAt`); `None` for one that died or is between restarts.
pub fn container_log_since(c: &ContainerObs) -> Option<String> {
    Some(c.started_at.clone()).filter(|s| c.running && !c.restarting && !s.is_empty())
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
    locate::config_arg(&argv)
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
        .tail(&LOG_LINES.to_string())
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

/// A host Odoo: its odoo.conf and its log file. `named_by_operator`: the config path came
/// from the operator (`--odoo-conf`), so it is read whoever owns it; a path taken from a
/// process's command line is read only under [`named_file`]'s rule, for that process's
/// uid. The log file odoo.conf names always is: for the running server's uid, or, when
/// none runs, for the owner of the odoo.conf that names it.
async fn process(
    target: &Target,
    running: Option<&Process>,
    config: Option<PathBuf>,
    named_by_operator: bool,
    obs: &mut OdooObs,
) {
    let who = |p: &Process| format!("process {} (`{}`)", p.pid, p.short_title());
    let mut authority = running.map(|p| (p.uid, who(p)));
    if let Some(path) = &config {
        obs.conf_source = Some(path.display().to_string());
        let (uid, name) = match (&authority, named_by_operator) {
            (_, true) => (0, "the operator".to_string()),
            (Some((uid, name)), false) => (*uid, name.clone()),
            (None, false) => (u32::MAX, "an unknown process".to_string()),
        };
        let portion = named_file::Portion::Head {
            bytes: CONF_MAX_BYTES,
        };
        match named_file::read_for(target, path, uid, &name, portion).await {
            Ok(read) => {
                obs.conf = Some(OdooConf::parse(&read.text));
                authority.get_or_insert((read.owner, format!("the owner of {}", path.display())));
            }
            Err(e) => {
                if let named_file::NotRead::Refused(s) = &e {
                    obs.located.push(s.clone());
                }
                obs.conf_error = Some(e.to_string());
            }
        }
    } else {
        obs.conf_error = Some("the odoo process has no -c/--config on its command line".into());
    }
    obs.http_port = Some(obs.conf_http_port());
    obs.gevent_port = Some(obs.conf_gevent_port());
    let pid = running.map(|p| p.pid);
    let logfile = obs.conf.as_ref().and_then(OdooConf::logfile);
    let log = async {
        let (logfile, (uid, name)) = (logfile.as_ref()?, authority.as_ref()?);
        let portion = named_file::Portion::Tail { lines: LOG_LINES };
        let shown = named_file::shown(logfile, portion);
        Some((
            shown,
            named_file::read_for(target, logfile, *uid, name, portion).await,
        ))
    };
    // When the running server started (its log is read from then on) and the service
    // unit it runs in (how to restart it), asked of its verified pid alongside the log.
    let (log, facts) = tokio::join!(log, odoo_log::process_facts(target, pid));
    obs.service_unit = facts.unit.clone();
    if let Some((shown, read)) = log {
        obs.log_command = Some(shown);
        match read {
            Ok(read) => {
                let lines = read.text.lines().map(str::to_string).collect();
                obs.log_lines = odoo_log::since_start(lines, pid, facts.started.as_deref());
                obs.log_since = facts.started;
            }
            Err(e) => {
                if let named_file::NotRead::Refused(s) = &e {
                    obs.located.push(s.clone());
                }
                obs.log_error = Some(e.to_string());
            }
        }
    }
    obs.runtime = OdooRuntime::Process {
        config,
        process: running.map(|p| ProcessObs {
            pid: p.pid,
            args: p.title.trim().to_string(),
        }),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_command_lines() {
        assert_eq!(
            locate::config_arg(&["odoo", "-c", "/etc/odoo/odoo.conf"]).as_deref(),
            Some("/etc/odoo/odoo.conf")
        );
        assert_eq!(
            locate::config_arg(&["odoo-bin", "--config=/o.conf"]).as_deref(),
            Some("/o.conf")
        );
        assert_eq!(locate::config_arg(&["odoo-bin"]), None);
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
