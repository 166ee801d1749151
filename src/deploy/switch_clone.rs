//! The new container's creation request, made from the running one's (pure, so the rules
//! are tested on data).
//!
//! Why a clone of the running container and not of the compose file: the running
//! container is the truth of what serves (the environment, mounts, networks, aliases,
//! labels, limits and restart policy compose gave it, plus anything an operator changed
//! since), it is read through Docker's API over the same socket locally and over SSH,
//! and it needs no Compose (v1 or v2) nor its YAML on the host. Only the image and the
//! published loopback ports change.
//!
//! What a container's `Config` holds is the image's defaults merged with what its creator
//! asked for. Copied as it is, the new container would keep the old image's `Cmd`,
//! `Entrypoint`, `ENV` and labels (its version label among them): so every value equal to
//! the old image's own is left out, and the new image supplies its own, exactly as a
//! `docker compose up` of the new tag would.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HostConfig, ImageConfig,
    Mount, MountType, NetworkingConfig, PortBinding,
};
use serde::{Deserialize, Serialize};

/// Compose v2 records the image id it created the container from; the new one has its own.
pub const COMPOSE_IMAGE_LABEL: &str = "com.docker.compose.image";

/// Odoo's two published ports on the host's loopback: HTTP workers and gevent (websocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPair {
    pub http: u16,
    pub gevent: u16,
}

impl std::fmt::Display for PortPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.http, self.gevent)
    }
}

/// The two slots a service alternates between ("blue/green"): the running container holds
/// one, the new one starts on the other, so both can serve at once while nginx moves over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    pub blue: PortPair,
    pub green: PortPair,
}

impl Default for Slots {
    /// Odoo's own ports, and the same shifted by 10000: both stay below the ephemeral
    /// range, so no outgoing connection of the host holds them by chance.
    fn default() -> Slots {
        Slots {
            blue: PortPair {
                http: 8069,
                gevent: 8072,
            },
            green: PortPair {
                http: 18069,
                gevent: 18072,
            },
        }
    }
}

impl Slots {
    /// The slot the container publishes (both of its ports among its bindings), and the
    /// other one.
    pub fn current_and_next(&self, published: &[u16]) -> Option<(PortPair, PortPair)> {
        let holds = |p: &PortPair| published.contains(&p.http) && published.contains(&p.gevent);
        match (holds(&self.blue), holds(&self.green)) {
            (true, false) => Some((self.blue, self.green)),
            (false, true) => Some((self.green, self.blue)),
            _ => None,
        }
    }
}

/// The host ports a container's `PortBindings` publish.
pub fn published_ports(host: Option<&HostConfig>) -> Vec<u16> {
    let mut ports: Vec<u16> = host
        .and_then(|h| h.port_bindings.as_ref())
        .into_iter()
        .flat_map(|m| m.values())
        .flatten()
        .flatten()
        .filter_map(|b| b.host_port.as_deref()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// `repo:tag` → `repo`; a registry's port (`host:5000/odoo:18`) is not a tag, and a digest
/// (`repo@sha256:...`) is cut too.
pub fn image_repository(reference: &str) -> &str {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].rfind(':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    }
}

/// `repo:tag` → `tag` (`latest` when none is written).
pub fn image_tag(reference: &str) -> &str {
    let repo = image_repository(reference);
    reference
        .split('@')
        .next()
        .unwrap_or(reference)
        .strip_prefix(repo)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or("latest")
}

/// What the clone needs besides the two inspections.
pub struct CloneTarget<'a> {
    /// `repo:tag` of the new release.
    pub image: &'a str,
    /// Its id (`sha256:...`), for compose's image label.
    pub image_id: &'a str,
    pub from: PortPair,
    pub to: PortPair,
}

/// The creation request for the new container: `old` with `target`'s image and ports.
pub fn clone_spec(
    old: &ContainerInspectResponse,
    old_image: Option<&ImageConfig>,
    target: &CloneTarget,
) -> Result<ContainerCreateBody, String> {
    let config = old
        .config
        .clone()
        .ok_or("Docker gave no configuration for the running container")?;
    let empty = ImageConfig::default();
    let image = old_image.unwrap_or(&empty);
    let old_id = old.id.clone().unwrap_or_default();

    // The entrypoint is the creator's only when it differs from the image's; then Docker
    // takes no Cmd from the image either, so the Cmd goes with it as it is.
    let own_entrypoint = config.entrypoint != image.entrypoint;
    let (entrypoint, cmd) = if own_entrypoint {
        (config.entrypoint.clone(), config.cmd.clone())
    } else {
        (None, differs(&config.cmd, &image.cmd))
    };

    let mut labels: HashMap<String, String> = config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| image.labels.as_ref().and_then(|l| l.get(k)) != Some(v))
        .collect();
    if labels.contains_key(COMPOSE_IMAGE_LABEL) {
        labels.insert(COMPOSE_IMAGE_LABEL.into(), target.image_id.into());
    }

    let mut host = old.host_config.clone().unwrap_or_default();
    host.port_bindings = Some(remap_ports(
        host.port_bindings.take().unwrap_or_default(),
        target.from,
        target.to,
    )?);
    keep_anonymous_volumes(old, &mut host);

    Ok(ContainerCreateBody {
        // Docker's default hostname is the container's short id: the old one's would be
        // a lie in the new container.
        hostname: config
            .hostname
            .clone()
            .filter(|h| !old_id.starts_with(h.as_str())),
        domainname: config.domainname.clone(),
        user: differs(&config.user, &image.user),
        attach_stdin: config.attach_stdin,
        attach_stdout: config.attach_stdout,
        attach_stderr: config.attach_stderr,
        exposed_ports: minus(&config.exposed_ports, &image.exposed_ports),
        tty: config.tty,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        env: minus(&config.env, &image.env),
        cmd,
        healthcheck: differs(&config.healthcheck, &image.healthcheck),
        image: Some(target.image.to_string()),
        volumes: minus(&config.volumes, &image.volumes),
        working_dir: differs(&config.working_dir, &image.working_dir),
        entrypoint,
        labels: Some(labels),
        stop_signal: differs(&config.stop_signal, &image.stop_signal),
        stop_timeout: config.stop_timeout,
        shell: differs(&config.shell, &image.shell),
        host_config: Some(host),
        networking_config: Some(networks(old, &old_id)),
        ..Default::default()
    })
}

/// `Some(value)` only when the creator set something the image does not.
fn differs<T: Clone + PartialEq>(mine: &Option<T>, image: &Option<T>) -> Option<T> {
    if mine == image { None } else { mine.clone() }
}

/// The entries of `mine` the image does not have (environment `K=V`, ports, volumes).
fn minus(mine: &Option<Vec<String>>, image: &Option<Vec<String>>) -> Option<Vec<String>> {
    let mine = mine.as_ref()?;
    let image = image.as_deref().unwrap_or_default();
    Some(
        mine.iter()
            .filter(|e| !image.contains(e))
            .cloned()
            .collect(),
    )
}

/// Every binding of the old slot's ports moves to the new slot's; others stay as they are.
fn remap_ports(
    bindings: HashMap<String, Option<Vec<PortBinding>>>,
    from: PortPair,
    to: PortPair,
) -> Result<HashMap<String, Option<Vec<PortBinding>>>, String> {
    let mut moved = (false, false);
    let out = bindings
        .into_iter()
        .map(|(container_port, list)| {
            let list = list.map(|list| {
                list.into_iter()
                    .map(|mut b| {
                        let port = b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok());
                        if port == Some(from.http) {
                            b.host_port = Some(to.http.to_string());
                            moved.0 = true;
                        } else if port == Some(from.gevent) {
                            b.host_port = Some(to.gevent.to_string());
                            moved.1 = true;
                        }
                        b
                    })
                    .collect()
            });
            (container_port, list)
        })
        .collect();
    if moved != (true, true) {
        return Err(format!(
            "the running container does not publish both ports {from}: cannot tell its HTTP and gevent ports"
        ));
    }
    Ok(out)
}

/// Volumes Docker made for the image's `VOLUME`s (no name in the compose file) live only
/// as long as someone mounts them: the new container mounts the old one's, as Compose
/// does on a recreate, so their data (Odoo's filestore, when the image declares it) stays.
pub fn keep_anonymous_volumes(old: &ContainerInspectResponse, host: &mut HostConfig) {
    let declared: Vec<String> = old
        .config
        .as_ref()
        .and_then(|c| c.volumes.clone())
        .unwrap_or_default();
    let bound: Vec<String> = host
        .binds
        .iter()
        .flatten()
        .filter_map(|b| b.split(':').nth(1).map(str::to_string))
        .chain(
            host.mounts
                .iter()
                .flatten()
                .filter_map(|m| m.target.clone()),
        )
        .collect();
    let anonymous: Vec<Mount> = old
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| {
            let destination = m.destination.clone()?;
            let declared_here = declared.contains(&destination);
            (declared_here && !bound.contains(&destination)).then(|| Mount {
                target: Some(destination),
                source: m.name.clone(),
                typ: Some(MountType::VOLUME),
                read_only: m.rw.map(|rw| !rw),
                ..Default::default()
            })
        })
        .collect();
    if !anonymous.is_empty() {
        host.mounts.get_or_insert_with(Vec::new).extend(anonymous);
    }
}

/// The same networks with the same aliases (the service name, which other containers and
/// nginx-in-a-container may use), without what belongs to the old endpoint: its
/// addresses, MAC, ids, and the short id Docker adds as an alias.
fn networks(old: &ContainerInspectResponse, old_id: &str) -> NetworkingConfig {
    let endpoints = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| {
            let aliases = ep.aliases.map(|a| {
                a.into_iter()
                    .filter(|alias| !(alias.len() >= 12 && old_id.starts_with(alias.as_str())))
                    .collect()
            });
            (
                name,
                EndpointSettings {
                    aliases,
                    links: ep.links,
                    driver_opts: ep.driver_opts,
                    gw_priority: ep.gw_priority,
                    ..Default::default()
                },
            )
        })
        .collect();
    NetworkingConfig {
        endpoints_config: Some(endpoints),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, MountPoint, NetworkSettings};

    const OLD_ID: &str = "0123456789abcdef0123456789abcdef";

    fn binding(port: u16) -> Option<Vec<PortBinding>> {
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(port.to_string()),
        }])
    }

    fn image_config() -> ImageConfig {
        ImageConfig {
            env: Some(vec!["PATH=/usr/bin".into(), "ODOO_VERSION=18.0".into()]),
            cmd: Some(vec!["-c".into(), "/etc/odoo/odoo.conf".into()]),
            entrypoint: Some(vec!["/usr/bin/odoo".into()]),
            labels: Some(HashMap::from([(
                "org.opencontainers.image.version".into(),
                "18.0-20261101".into(),
            )])),
            volumes: Some(vec!["/var/lib/odoo".into(), "/mnt/extra-addons".into()]),
            exposed_ports: Some(vec!["8069/tcp".into(), "8072/tcp".into()]),
            ..Default::default()
        }
    }

    fn old() -> ContainerInspectResponse {
        let image = image_config();
        ContainerInspectResponse {
            id: Some(OLD_ID.into()),
            config: Some(ContainerConfig {
                hostname: Some(OLD_ID[..12].into()),
                env: Some(vec![
                    "HOST=db".into(),
                    "PATH=/usr/bin".into(),
                    "ODOO_VERSION=18.0".into(),
                ]),
                cmd: image.cmd.clone(),
                entrypoint: image.entrypoint.clone(),
                image: Some("acme/odoo:18.0-20261101".into()),
                labels: Some(HashMap::from([
                    (
                        "org.opencontainers.image.version".into(),
                        "18.0-20261101".into(),
                    ),
                    ("com.docker.compose.project".into(), "shop".into()),
                    ("com.docker.compose.service".into(), "odoo".into()),
                    (COMPOSE_IMAGE_LABEL.into(), "sha256:old".into()),
                ])),
                volumes: image.volumes.clone(),
                exposed_ports: image.exposed_ports.clone(),
                stop_timeout: Some(30),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                binds: Some(vec!["/opt/shop/odoo.conf:/etc/odoo/odoo.conf:ro".into()]),
                mounts: Some(vec![Mount {
                    target: Some("/var/lib/odoo".into()),
                    source: Some("shop_odoo-data".into()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                port_bindings: Some(HashMap::from([
                    ("8069/tcp".into(), binding(8069)),
                    ("8072/tcp".into(), binding(8072)),
                ])),
                ..Default::default()
            }),
            mounts: Some(vec![
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("shop_odoo-data".into()),
                    destination: Some("/var/lib/odoo".into()),
                    rw: Some(true),
                    ..Default::default()
                },
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("4f1e0anon".into()),
                    destination: Some("/mnt/extra-addons".into()),
                    rw: Some(true),
                    ..Default::default()
                },
            ]),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([(
                    "shop_default".into(),
                    EndpointSettings {
                        aliases: Some(vec![
                            "shop-odoo-1".into(),
                            "odoo".into(),
                            OLD_ID[..12].into(),
                        ]),
                        ip_address: Some("172.18.0.3".into()),
                        mac_address: Some("02:42:ac:12:00:03".into()),
                        ..Default::default()
                    },
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn spec() -> ContainerCreateBody {
        let image = image_config();
        clone_spec(
            &old(),
            Some(&image),
            &CloneTarget {
                image: "acme/odoo:18.0-20261115",
                image_id: "sha256:new",
                from: Slots::default().blue,
                to: Slots::default().green,
            },
        )
        .unwrap()
    }

    #[test]
    fn the_image_and_ports_change_and_the_rest_is_the_creators() {
        let s = spec();
        assert_eq!(s.image.as_deref(), Some("acme/odoo:18.0-20261115"));
        // The creator's environment; the old image's ENV is the new image's business.
        assert_eq!(s.env, Some(vec!["HOST=db".to_string()]));
        // Cmd and entrypoint were the image's: the new image's apply.
        assert_eq!(s.cmd, None);
        assert_eq!(s.entrypoint, None);
        assert_eq!(
            s.hostname, None,
            "the old short id is not a hostname to keep"
        );
        let labels = s.labels.unwrap();
        assert_eq!(labels["com.docker.compose.project"], "shop");
        assert_eq!(labels["com.docker.compose.service"], "odoo");
        assert_eq!(labels[COMPOSE_IMAGE_LABEL], "sha256:new");
        assert!(
            !labels.contains_key("org.opencontainers.image.version"),
            "the old image's version label is not carried over"
        );
        let host = s.host_config.unwrap();
        let ports = host.port_bindings.clone().unwrap();
        assert_eq!(ports["8069/tcp"], binding(18069));
        assert_eq!(ports["8072/tcp"], binding(18072));
        assert_eq!(host.binds, old().host_config.unwrap().binds);
        assert_eq!(s.stop_timeout, Some(30));
    }

    #[test]
    fn anonymous_volumes_and_networks_follow() {
        let s = spec();
        let mounts = s.host_config.unwrap().mounts.unwrap();
        assert_eq!(mounts.len(), 2, "{mounts:?}");
        assert_eq!(mounts[1].source.as_deref(), Some("4f1e0anon"));
        assert_eq!(mounts[1].target.as_deref(), Some("/mnt/extra-addons"));
        let nets = s.networking_config.unwrap().endpoints_config.unwrap();
        let ep = &nets["shop_default"];
        assert_eq!(
            ep.aliases.as_deref(),
            Some(&["shop-odoo-1".to_string(), "odoo".to_string()][..])
        );
        assert_eq!(ep.ip_address, None);
        assert_eq!(ep.mac_address, None);
    }

    #[test]
    fn an_entrypoint_of_its_own_keeps_its_command() {
        let mut o = old();
        let c = o.config.as_mut().unwrap();
        c.entrypoint = Some(vec!["/entry.sh".into()]);
        c.cmd = Some(vec!["odoo".into(), "--workers=4".into()]);
        let image = image_config();
        let s = clone_spec(
            &o,
            Some(&image),
            &CloneTarget {
                image: "acme/odoo:b",
                image_id: "sha256:b",
                from: Slots::default().blue,
                to: Slots::default().green,
            },
        )
        .unwrap();
        assert_eq!(s.entrypoint, Some(vec!["/entry.sh".to_string()]));
        assert_eq!(
            s.cmd,
            Some(vec!["odoo".to_string(), "--workers=4".to_string()])
        );
    }

    #[test]
    fn slots_and_references() {
        let slots = Slots::default();
        assert_eq!(
            slots.current_and_next(&[8069, 8072]),
            Some((slots.blue, slots.green))
        );
        assert_eq!(
            slots.current_and_next(&[18069, 18072]),
            Some((slots.green, slots.blue))
        );
        assert_eq!(slots.current_and_next(&[8069]), None);
        assert_eq!(slots.current_and_next(&[8069, 8072, 18069, 18072]), None);
        assert_eq!(image_repository("acme/odoo:18.0-1"), "acme/odoo");
        assert_eq!(image_repository("reg:5000/odoo:18"), "reg:5000/odoo");
        assert_eq!(image_repository("reg:5000/odoo"), "reg:5000/odoo");
        assert_eq!(image_repository("odoo@sha256:ab"), "odoo");
        assert_eq!(image_tag("acme/odoo:18.0-1"), "18.0-1");
        assert_eq!(image_tag("reg:5000/odoo"), "latest");
    }

    #[test]
    fn a_container_without_both_ports_is_refused() {
        let mut o = old();
        o.host_config.as_mut().unwrap().port_bindings =
            Some(HashMap::from([("8069/tcp".into(), binding(8069))]));
        let e = clone_spec(
            &o,
            None,
            &CloneTarget {
                image: "a:b",
                image_id: "sha256:b",
                from: Slots::default().blue,
                to: Slots::default().green,
            },
        )
        .unwrap_err();
        assert!(e.contains("does not publish both ports 8069/8072"), "{e}");
    }
}
