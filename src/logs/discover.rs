//! Odoo's own log file as a source, found the way the diagnosis finds Odoo
//! ([`crate::checks::gather::odoo`]): an `odoo-bin`/`odoo` server on the host started with
//! `-c FILE`, or a container whose odoo.conf (read through Docker's archive API) sets
//! `logfile`. A file inside a container is followed on the host through the mount that
//! holds it; without one, the source only says where the file is.
//!
//! Only a configuration that names a log file gives a source: without one Odoo logs to
//! stderr, which is the container's log (followed already) or the service's journal.

use std::path::Path;

use bollard::Docker;
use bollard::query_parameters::InspectContainerOptions;

use super::parse::Format;
use super::worker::SourceSpec;
use crate::checks::gather::odoo::{container_conf_path, host_configs, read_from_container};
use crate::docker::mounts::host_path;
use crate::nginx::process::{parse_ps, ps_command};
use crate::odoo::conf::OdooConf;
use crate::target::Target;

/// The log files of the Odoo servers running on the host (not in a container), each as
/// the odoo.conf that names it.
pub async fn host_logfiles(target: &Target) -> Vec<SourceSpec> {
    let Ok(ps) = target.run(&ps_command()).await else {
        return Vec::new();
    };
    let mut specs = Vec::new();
    for conf in host_configs(&parse_ps(&ps.stdout_text())) {
        let Ok(bytes) = target.read_file(&conf).await else {
            continue;
        };
        if let Some(logfile) = OdooConf::parse(&String::from_utf8_lossy(&bytes)).logfile() {
            specs.push(SourceSpec::OdooLogfile {
                target: target.clone(),
                conf,
                name: source_name(&logfile),
            });
        }
    }
    specs
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
