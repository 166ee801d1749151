//! Odoo's own log file as a source, found by the rule that says where Odoo runs
//! ([`crate::odoo::locate`]): an Odoo server on the host (a listening process whose
//! command is `odoo-bin`/`odoo -c FILE`), or a container whose odoo.conf (read through
//! Docker's archive API) sets `logfile`. A file inside a container is followed on the host
//! through the mount that holds it; without one, the source only says where the file is.
//!
//! Only a configuration that names a log file gives a source: without one Odoo logs to
//! stderr, which is the container's log (followed already) or the service's journal.
//! A host server's odoo.conf and log file are read only under [`named_file`]'s rule (the
//! server runs as root or owns the file): a user's process titled `odoo-bin -c F` with
//! `logfile = /etc/shadow` in `F` gets a notice saying so, never a followed file.

use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::InspectContainerOptions;

use super::parse::Format;
use super::worker::SourceSpec;
use crate::checks::DiagnoseOptions;
use crate::checks::gather::nginx::{access_log_paths, configuration, error_log_paths};
use crate::checks::gather::odoo::{container_conf_path, read_from_container};
use crate::docker::mounts::host_path;
use crate::host::processes;
use crate::odoo::conf::OdooConf;
use crate::odoo::locate::host_servers;
use crate::odoo::named_file::{self, NotRead, Portion};
use crate::target::{Command, Target};

/// The log files of the Odoo servers running on the host (not in a container), each
/// checked against the server's uid before it is followed.
pub async fn host_logfiles(target: &Target) -> Vec<SourceSpec> {
    let procs = processes::snapshot(target).await;
    let mut specs = Vec::new();
    let mut seen = Vec::new();
    for server in host_servers(&procs) {
        let Some(conf) = server.config.clone() else {
            continue;
        };
        if seen.contains(&conf) {
            continue;
        }
        seen.push(conf.clone());
        let who = format!("process {} (`{}`)", server.pid, server.title);
        let head = Portion::Head { bytes: 1 << 20 };
        let text = match named_file::read_for(target, &conf, server.uid, &who, head).await {
            Ok(read) => read.text,
            Err(NotRead::Refused(sentence)) => {
                specs.push(SourceSpec::Notice {
                    name: source_name(&conf),
                    text: sentence,
                });
                continue;
            }
            Err(NotRead::Failed(_)) => continue,
        };
        let Some(logfile) = OdooConf::parse(&text).logfile() else {
            continue;
        };
        let name = source_name(&logfile);
        // Reading no line checks whose the file is; the follower then opens it by path.
        match named_file::read_for(
            target,
            &logfile,
            server.uid,
            &who,
            Portion::Tail { lines: 0 },
        )
        .await
        {
            Err(NotRead::Refused(sentence)) => specs.push(SourceSpec::Notice {
                name,
                text: sentence,
            }),
            // A log file not there yet is followed until it appears, as before.
            _ => specs.push(SourceSpec::File {
                target: target.clone(),
                path: logfile,
                name,
                format: Format::Odoo,
            }),
        }
    }
    specs
}

/// nginx's logs for the Odoo site, as the running configuration names them: its own
/// `access_log`/`error_log` (the rendered site writes `odoo.access.log` and
/// `odoo.error.log`, and nowhere else), the main error log, and the packaged files when
/// no configuration could be read. The configuration comes from the verified master's
/// `nginx -T`, as the diagnosis reads it; only files this login can read are followed.
pub async fn nginx_logfiles(target: &Target) -> Vec<SourceSpec> {
    let procs = processes::snapshot(target).await;
    let obs = configuration(target, &procs, &DiagnoseOptions::default(), None).await;
    let prefix = obs.invocation.prefix.as_deref();
    let (config, site) = (obs.config.as_ref(), obs.site.as_ref());
    let mut files: Vec<(PathBuf, Format)> = Vec::new();
    if config.is_some() {
        for path in access_log_paths(config, site, prefix) {
            files.push((path, Format::NginxAccess));
        }
        for path in error_log_paths(config, site, prefix) {
            files.push((path, Format::NginxError));
        }
    } else {
        for (_, path, format) in super::sources::NGINX_LOGS {
            files.push((PathBuf::from(path), format));
        }
    }
    let readable = files.into_iter().map(|(path, format)| async move {
        let test = Command::new("test").arg("-r").arg(path.to_string_lossy());
        let ok = target.run(&test).await.is_ok_and(|o| o.success());
        ok.then(|| SourceSpec::File {
            target: target.clone(),
            name: nginx_source_name(&path, format),
            path,
            format,
        })
    });
    futures::future::join_all(readable)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The packaged files keep their short names (`nginx access`, `nginx error`); a site's
/// own file is called by its file name (`odoo.access.log`).
fn nginx_source_name(path: &Path, format: Format) -> String {
    match (path.file_name().and_then(|n| n.to_str()), format) {
        (Some("access.log"), Format::NginxAccess) => "nginx access".into(),
        (Some("error.log"), Format::NginxError) => "nginx error".into(),
        _ => source_name(path),
    }
}

/// The log file the odoo.conf of this container names: followed on the host through a
/// bind or volume mount that holds it, else listed with where it is.
pub async fn container_logfile(
    target: &Target,
    docker: &Docker,
    container: &str,
) -> Option<SourceSpec> {
    let inspect = docker
        .inspect_container(container, None::<InspectContainerOptions>)
        .await
        .ok()?;
    let id = inspect.id.clone().unwrap_or_else(|| container.to_string());
    let conf = read_from_container(docker, &id, &container_conf_path(&inspect))
        .await
        .ok()?;
    let logfile = OdooConf::parse(&conf).logfile()?;
    let name = source_name(&logfile);
    let mounts = inspect.mounts.unwrap_or_default();
    Some(match host_path(&mounts, &logfile) {
        Some(path) => SourceSpec::File {
            target: target.clone(),
            path,
            name,
            format: Format::Odoo,
        },
        None => {
            let container = inspect
                .name
                .as_deref()
                .unwrap_or(container)
                .trim_start_matches('/');
            SourceSpec::Notice {
                name,
                text: format!(
                    "{} is inside the container {container}, not on the host: mount its directory to follow it",
                    logfile.display()
                ),
            }
        }
    })
}

/// What the Logs pane calls the file: its name (`odoo.log`).
fn source_name(logfile: &Path) -> String {
    logfile
        .file_name()
        .map_or_else(|| "odoo log".into(), |n| n.to_string_lossy().into_owned())
}
