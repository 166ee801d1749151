//! Where Odoo runs: the one rule, used by the diagnosis (`checks::gather::odoo`), the Logs
//! pane's discovery (`logs::discover`) and the console's choice of containers to follow.
//!
//! Candidates are compose (or plain) containers, from Docker's API, and host processes
//! from the kernel's view ([`crate::host::processes`]: listening sockets, `/proc/PID/exe`,
//! uid), never from a process title alone. The rule:
//!
//! 1. The Odoo that nginx's upstream actually reaches wins: the container publishing the
//!    port the upstream names, or the host process owning the socket on it. A site is
//!    judged against what serves it, whatever the service is called; a second, unrelated
//!    Odoo (another compose project, a forgotten container) cannot take its place.
//! 2. When the upstream reaches nothing that listens (Odoo down, a wrong port) or nginx
//!    is unknown, an Odoo is chosen by what it is: a container of the compose service
//!    `odoo`/`web` (in the named project), else one named or imaged like Odoo; else a host
//!    process that listens on a port and whose command is `odoo-bin`/`odoo`. That last
//!    test reads a title, which anyone can write: it only decides what is *looked at*,
//!    and whatever such a process names is read only under [`super::named_file`]'s rule.
//! 3. A process whose program is PostgreSQL (a backend titled `postgres: 15/main: odoo
//!    odoo 127.0.0.1(...) idle`) is never Odoo.
//!
//! Every other candidate is listed with why it was not chosen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::host::processes::{Process, Processes};

/// A container as Docker lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerCandidate {
    pub name: String,
    pub id: String,
    pub image: String,
    pub service: Option<String>,
    pub project: Option<String>,
    pub running: bool,
    /// (host address, host port, container port).
    pub published: Vec<(String, u16, u16)>,
}

/// An Odoo server process on the host (not in a container).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCandidate {
    pub pid: u32,
    pub uid: u32,
    pub title: String,
    pub argv: Vec<String>,
    pub exe: Option<PathBuf>,
    /// `-c`/`--config` from its command line (the kernel's exact argv).
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    Container(ContainerCandidate),
    Host(HostCandidate),
}

/// The answer, and the sentences that explain it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    pub chosen: Option<Chosen>,
    /// `chosen: ...` first, then `not chosen: ...` for each other candidate.
    pub notes: Vec<String>,
    /// Docker could not be asked: "no container" must not be claimed.
    pub docker_error: Option<String>,
}

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

/// PostgreSQL's programs (`postgres`, the postmaster, and its backends).
fn is_postgres(p: &Process) -> bool {
    p.exe_name().is_some_and(|n| n.starts_with("postgres")) || p.title.starts_with("postgres:")
}

/// A command that names an Odoo server: `odoo-bin` or `odoo` as the program or the
/// script an interpreter runs (the first three words).
fn names_odoo(words: &[&str]) -> bool {
    words.iter().take(3).any(|w| {
        let name = w.rsplit('/').next().unwrap_or(w);
        name == "odoo-bin" || name == "odoo"
    })
}

fn argv_words(p: &Process) -> Vec<&str> {
    if p.argv.is_empty() {
        p.title.split_whitespace().collect()
    } else {
        p.argv.iter().map(String::as_str).collect()
    }
}

fn host_candidate(p: &Process) -> HostCandidate {
    let words = argv_words(p);
    HostCandidate {
        pid: p.pid,
        uid: p.uid,
        title: p.short_title(),
        argv: p.argv.clone(),
        exe: p.exe.clone(),
        config: config_arg(&words).map(PathBuf::from),
    }
}

/// Whether a container is an Odoo by its service, name or image (a database container
/// such as `odoo-db` or `odoo_postgres` is not).
pub fn is_odoo_container(service: &str, name: &str, image: &str) -> bool {
    let (service, name, image) = (
        service.to_ascii_lowercase(),
        name.to_ascii_lowercase(),
        image.to_ascii_lowercase(),
    );
    if service == "odoo" || service == "web" {
        return true;
    }
    let image_repo = image.split(':').next().unwrap_or("");
    let database = |s: &str| s.contains("db") || s.contains("postgres");
    (service.contains("odoo") && !database(&service))
        || (name.contains("odoo") && !database(&name))
        || (image_repo.contains("odoo") && !database(image_repo))
}

impl ContainerCandidate {
    fn looks_like_odoo(&self) -> bool {
        is_odoo_container(
            self.service.as_deref().unwrap_or(""),
            &self.name,
            &self.image,
        )
    }

    fn describe(&self) -> String {
        format!("container {} (image {})", self.name, self.image)
    }

    /// The container port behind a host port nginx can reach.
    fn serves(&self, port: u16) -> Option<u16> {
        self.published
            .iter()
            .find(|(_, host_port, _)| *host_port == port)
            .map(|(_, _, inside)| *inside)
    }
}

impl HostCandidate {
    pub fn describe(&self) -> String {
        format!(
            "host process {} (uid {}, {}) `{}`",
            self.pid,
            self.uid,
            self.exe
                .as_ref()
                .map_or("program unknown".into(), |e| e.display().to_string()),
            self.title
        )
    }
}

/// The host's Odoo servers by what they are (rule 2's last test): listening, on the host,
/// not PostgreSQL, command `odoo-bin`/`odoo`; each server once (its workers share the
/// master's sockets and command line). The Logs pane follows all of them.
pub fn host_servers(procs: &Processes) -> Vec<HostCandidate> {
    let mut out: Vec<HostCandidate> = Vec::new();
    for p in procs.by_pid.values() {
        if p.listen_ports.is_empty()
            || is_postgres(p)
            || p.in_container(procs)
            || !names_odoo(&argv_words(p))
        {
            continue;
        }
        // A worker: its parent is one of these servers with the same command.
        if procs
            .get(p.ppid)
            .is_some_and(|parent| parent.argv == p.argv && !parent.listen_ports.is_empty())
        {
            continue;
        }
        out.push(host_candidate(p));
    }
    out
}

/// Processes titled like Odoo that are not servers: listed so an operator sees why.
fn title_only_odoo(procs: &Processes) -> Vec<(&Process, String)> {
    procs
        .by_pid
        .values()
        .filter(|p| names_odoo(&argv_words(p)) || p.title.to_ascii_lowercase().contains("odoo"))
        .filter(|p| !p.in_container(procs))
        .filter_map(|p| {
            let pg_program = p.exe_name().is_some_and(|n| n.starts_with("postgres"));
            let why = if pg_program {
                format!(
                    "its program is PostgreSQL ({}): a database backend is never Odoo",
                    p.exe.as_deref().unwrap_or(Path::new("?")).display()
                )
            } else if is_postgres(p) {
                "it is titled like a PostgreSQL backend: never taken for Odoo".into()
            } else if p.listen_ports.is_empty() {
                if !names_odoo(&argv_words(p)) {
                    return None;
                }
                "it listens on no TCP port; nothing it names is read".into()
            } else {
                return None;
            };
            Some((p, why))
        })
        .collect()
}

/// Every container (in `project` when named), as candidates.
pub async fn list_containers(
    docker: &Docker,
    project: Option<&str>,
) -> Result<Vec<ContainerCandidate>, String> {
    let mut filters = HashMap::new();
    if let Some(p) = project {
        filters.insert("label", vec![format!("com.docker.compose.project={p}")]);
    }
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            ContainerCandidate {
                name: c
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                id: c.id.unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                service: labels.get("com.docker.compose.service").cloned(),
                project: labels.get("com.docker.compose.project").cloned(),
                running: c
                    .state
                    .is_some_and(|s| s.to_string().eq_ignore_ascii_case("running")),
                published: c
                    .ports
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some((p.ip.unwrap_or_default(), p.public_port?, p.private_port))
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Apply the rule. `upstream_ports` are the host ports nginx's upstream names for the
/// site (http first, then the websocket's), loopback or local addresses only.
pub fn locate(
    procs: &Processes,
    containers: Result<Vec<ContainerCandidate>, String>,
    upstream_ports: &[u16],
) -> Located {
    let mut located = Located::default();
    let containers = match containers {
        Ok(c) => c,
        Err(e) => {
            located.docker_error = Some(e.clone());
            located.notes.push(format!(
                "Docker could not be asked ({e}): containers were not considered"
            ));
            Vec::new()
        }
    };
    let servers = host_servers(procs);
    // Rule 1: what the upstream reaches.
    let mut reached: Option<(Chosen, String)> = None;
    for &port in upstream_ports {
        if let Some(c) = containers.iter().find(|c| c.serves(port).is_some()) {
            let inside = c.serves(port).unwrap_or_default();
            reached = Some((
                Chosen::Container(c.clone()),
                format!(
                    "nginx's upstream port {port} reaches it (published from its port {inside})"
                ),
            ));
            break;
        }
        let owners: Vec<&Process> = procs
            .listening_on(port)
            .into_iter()
            // A published port's docker-proxy is the container's (found above, by Docker).
            .filter(|p| p.exe_name().is_none_or(|n| n != "docker-proxy") && !is_postgres(p))
            .collect();
        if let Some(p) = procs.socket_master(&owners) {
            reached = Some((
                Chosen::Host(host_candidate(p)),
                format!("nginx's upstream port {port} reaches it (it owns the listening socket)"),
            ));
            break;
        }
    }
    if reached.is_none() && !upstream_ports.is_empty() {
        located.notes.push(format!(
            "nginx's upstream port(s) {} reach no container and no listening process; Odoo is chosen by what it is",
            upstream_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Rule 2: by what it is.
    let by_kind = || -> Option<(Chosen, String)> {
        let odoo_service = containers.iter().find(|c| {
            c.service
                .as_deref()
                .is_some_and(|s| s == "odoo" || s == "web")
        });
        if let Some(c) = odoo_service.or_else(|| containers.iter().find(|c| c.looks_like_odoo())) {
            return Some((
                Chosen::Container(c.clone()),
                "its service, name or image is Odoo's".into(),
            ));
        }
        servers.first().map(|h| {
            (
                Chosen::Host(h.clone()),
                "it listens and its command is odoo-bin/odoo".into(),
            )
        })
    };
    let chosen = reached.or_else(by_kind);
    if let Some((c, why)) = &chosen {
        let what = match c {
            Chosen::Container(c) => c.describe(),
            Chosen::Host(h) => h.describe(),
        };
        located.notes.insert(0, format!("chosen: {what}: {why}"));
    }
    if chosen.is_none()
        && let Some(limited) = &procs.limited
    {
        located.notes.push(limited.clone());
    }
    let chosen = chosen.map(|(c, _)| c);
    // Everyone else, with why not.
    let upstream = if upstream_ports.is_empty() {
        "nginx's upstream is unknown".to_string()
    } else {
        format!(
            "nginx's upstream (port {}) does not reach it",
            upstream_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    for c in containers.iter().filter(|c| c.looks_like_odoo()) {
        if matches!(&chosen, Some(Chosen::Container(x)) if x.id == c.id) {
            continue;
        }
        let ports = if c.published.is_empty() {
            "it publishes no port".to_string()
        } else {
            format!(
                "it publishes {}",
                c.published
                    .iter()
                    .map(|(ip, h, _)| crate::target::host_port(
                        if ip.is_empty() { "*" } else { ip },
                        *h
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        located.notes.push(format!(
            "not chosen: {}: {upstream} ({ports})",
            c.describe()
        ));
    }
    for h in &servers {
        if matches!(&chosen, Some(Chosen::Host(x)) if x.pid == h.pid) {
            continue;
        }
        let ports = procs
            .get(h.pid)
            .map(|p| {
                p.listen_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        located.notes.push(format!(
            "not chosen: {}: {upstream} (it listens on {ports}); nothing it names is read",
            h.describe()
        ));
    }
    for (p, why) in title_only_odoo(procs) {
        if matches!(&chosen, Some(Chosen::Host(x)) if x.pid == p.pid)
            || servers.iter().any(|s| s.pid == p.pid)
        {
            continue;
        }
        // Workers of a chosen or listed server share its command; they are not news.
        if servers.iter().any(|s| s.pid == p.ppid)
            || matches!(&chosen, Some(Chosen::Host(x)) if x.pid == p.ppid)
        {
            continue;
        }
        located.notes.push(format!(
            "not Odoo: process {} (uid {}) titled `{}`: {why}",
            p.pid,
            p.uid,
            p.short_title()
        ));
    }
    located.chosen = chosen;
    located
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::processes::parse;

    /// A host Odoo on 8069/8072 (python running odoo-bin, as root... as `odoo`), a
    /// PostgreSQL backend whose title says odoo, a user's forged `odoo-bin -c F`.
    const SNAPSHOT: &str = "@@ps
    1     0     0 /sbin/init
  700     1   105 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo/odoo.conf
  701   700   105 /usr/bin/python3 /opt/odoo/odoo-bin -c /etc/odoo/odoo.conf
  800     1   106 /usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main
  810   800   106 postgres: 15/main: odoo odoo 127.0.0.1(5432) idle
  900     1 65534 odoo-bin -c /tmp/f.conf
@@tcp
   0: 0100007F:1F85 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8069 1 0
   1: 0100007F:1F88 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8072 1 0
   2: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5432 1 0
@@fd
/proc/700/fd:
l 3 -> socket:[8069]
/proc/701/fd:
l 3 -> socket:[8069]
l 4 -> socket:[8072]
/proc/800/fd:
l 3 -> socket:[5432]
@@exe
exe 700 /usr/bin/python3.11
argv 700 /usr/bin/python3\x1f/opt/odoo/odoo-bin\x1f-c\x1f/etc/odoo/odoo.conf
exe 701 /usr/bin/python3.11
argv 701 /usr/bin/python3\x1f/opt/odoo/odoo-bin\x1f-c\x1f/etc/odoo/odoo.conf
exe 800 /usr/lib/postgresql/15/bin/postgres
exe 810 /usr/lib/postgresql/15/bin/postgres
argv 810 postgres: 15/main: odoo odoo 127.0.0.1(5432) idle
exe 900 /usr/bin/sleep
argv 900 odoo-bin\x1f-c\x1f/tmp/f.conf
@@end
";

    fn procs() -> Processes {
        parse(&SNAPSHOT.replace("\\x1f", "\u{1f}"))
    }

    fn container(name: &str, service: &str, host_port: u16) -> ContainerCandidate {
        ContainerCandidate {
            name: name.into(),
            id: format!("id-{name}"),
            image: "odoo:18.0".into(),
            service: Some(service.into()),
            running: true,
            published: vec![("127.0.0.1".into(), host_port, 8069)],
            ..Default::default()
        }
    }

    #[test]
    fn the_host_odoo_nginx_reaches_wins_over_an_unrelated_container() {
        let l = locate(
            &procs(),
            Ok(vec![container("other_odoo_1", "odoo", 18069)]),
            &[8069, 8072],
        );
        match &l.chosen {
            Some(Chosen::Host(h)) => {
                assert_eq!(h.pid, 700);
                assert_eq!(
                    h.config.as_deref(),
                    Some(std::path::Path::new("/etc/odoo/odoo.conf"))
                );
            }
            other => panic!("{other:?}"),
        }
        let notes = l.notes.join("\n");
        assert!(
            notes.starts_with("chosen: host process 700 (uid 105, /usr/bin/python3.11)"),
            "{notes}"
        );
        assert!(
            notes.contains("not chosen: container other_odoo_1 (image odoo:18.0): nginx's upstream (port 8069, 8072) does not reach it (it publishes 127.0.0.1:18069)"),
            "{notes}"
        );
        assert!(notes.contains("not Odoo: process 810 (uid 106) titled `postgres: 15/main: odoo odoo 127.0.0.1(5432) idle`: its program is PostgreSQL"), "{notes}");
        assert!(notes.contains("not Odoo: process 900 (uid 65534) titled `odoo-bin -c /tmp/f.conf`: it listens on no TCP port"), "{notes}");
        // The worker (701) is neither chosen nor listed.
        assert!(!notes.contains("process 701"), "{notes}");
    }

    #[test]
    fn a_container_nginx_reaches_wins_over_the_host() {
        let l = locate(
            &procs(),
            Ok(vec![container("shop_web_1", "web", 18069)]),
            &[18069],
        );
        assert!(matches!(&l.chosen, Some(Chosen::Container(c)) if c.name == "shop_web_1"));
        assert!(
            l.notes
                .iter()
                .any(|n| n.starts_with("not chosen: host process 700"))
        );
    }

    #[test]
    fn without_nginx_the_compose_service_then_the_host_server() {
        let l = locate(
            &procs(),
            Ok(vec![container("shop_odoo_1", "odoo", 18069)]),
            &[],
        );
        assert!(matches!(&l.chosen, Some(Chosen::Container(_))));
        let l = locate(&procs(), Ok(vec![]), &[]);
        assert!(matches!(&l.chosen, Some(Chosen::Host(h)) if h.pid == 700));
        // A PostgreSQL backend alone is never Odoo.
        let only_pg = parse(
            &SNAPSHOT
                .replace("\\x1f", "\u{1f}")
                .replace("/opt/odoo/odoo-bin", "/opt/x/app"),
        );
        let l = locate(&only_pg, Ok(vec![]), &[]);
        assert_eq!(l.chosen, None, "{:?}", l.notes);
    }

    #[test]
    fn docker_unreachable_is_said() {
        let l = locate(&procs(), Err("permission denied".into()), &[9999]);
        assert_eq!(l.docker_error.as_deref(), Some("permission denied"));
        assert!(
            l.notes
                .iter()
                .any(|n| n.contains("Docker could not be asked (permission denied)"))
        );
    }

    #[test]
    fn odoo_containers_by_service_name_or_image() {
        assert!(is_odoo_container("web", "shop_web_1", "custom/erp:1"));
        assert!(is_odoo_container("odoo-cron", "x", "y"));
        assert!(is_odoo_container("app", "app_1", "odoo:18.0"));
        assert!(!is_odoo_container("db", "odoo_db_1", "postgres:15"));
        assert!(!is_odoo_container("odoo-db", "odoo-db-1", "postgres:15"));
        assert!(!is_odoo_container("redis", "cache", "redis:7"));
    }
}
