use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Disk, HostFacts, Listener, UserAccess};

/// Where each file of the report's `@@files` section goes: the section its lines fill.
const FILE_SECTIONS: [(&str, &str); 8] = [
    ("/proc/sys/kernel/hostname", "hostname"),
    ("/proc/sys/kernel/osrelease", "kernel"),
    ("/etc/os-release", "os"),
    ("/proc/uptime", "uptime"),
    ("/proc/loadavg", "loadavg"),
    ("/proc/meminfo", "meminfo"),
    ("/proc/net/tcp", "tcp"),
    ("/proc/net/tcp6", "tcp6"),
];

/// Split the report into its `@@name` sections. The last, `@@files`, is `grep -H`'s
/// output up to the final `@@end`: each line `PATH:LINE`, sorted into the section its
/// file fills, and each process' `stat` into `comm` as `PID PPID NAME`. Inside it no
/// marker counts, and a line with no known file before it (the rest of a process name
/// that holds a newline) is dropped: nothing a process names itself changes a section.
fn sections(report: &str) -> HashMap<&str, Vec<Cow<'_, str>>> {
    let mut out: HashMap<&str, Vec<Cow<str>>> = HashMap::new();
    let mut current = "";
    let mut lines = report.lines();
    for line in lines.by_ref() {
        if let Some(name) = line.strip_prefix("@@") {
            current = name.trim();
            if current == "files" {
                break;
            }
            out.entry(current).or_default();
        } else if !current.is_empty() {
            out.entry(current).or_default().push(Cow::Borrowed(line));
        }
    }
    for line in lines {
        let Some((path, text)) = line.split_once(':') else {
            continue;
        };
        if let Some((_, section)) = FILE_SECTIONS.iter().find(|(p, _)| *p == path) {
            out.entry(section).or_default().push(Cow::Borrowed(text));
        } else if let Some(process) = process_from_stat(path, text) {
            out.entry("comm").or_default().push(Cow::Owned(process));
        }
    }
    out
}

/// `PID PPID NAME` from `/proc/PID/stat`'s line `PID (NAME) STATE PPID …`: the name is
/// between the first `(` and the last `)`, as it may hold either.
fn process_from_stat(path: &str, stat: &str) -> Option<String> {
    let pid = path.strip_prefix("/proc/")?.strip_suffix("/stat")?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (_, rest) = stat.split_once('(')?;
    let (name, after) = rest.rsplit_once(')')?;
    let ppid = after.split_whitespace().nth(1)?;
    ppid.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("{pid} {ppid} {name}"))
}

/// Turn the gather script's output into facts. Missing sections leave defaults: a
/// minimal host without `df` still shows everything else.
pub fn parse_report(report: &str) -> HostFacts {
    let s = sections(report);
    let section = |name: &str| s.get(name).cloned().unwrap_or_default();
    let first = |name: &str| {
        section(name)
            .first()
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    };

    let mut facts = HostFacts {
        hostname: first("hostname"),
        kernel: first("kernel"),
        cpus: first("cpus")
            .parse()
            .ok()
            .or_else(|| count_cpu_list(&first("cpus_allowed")))
            .unwrap_or(0),
        ..Default::default()
    };
    facts.os = section("os")
        .iter()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    facts.uptime_secs = first("uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0);
    let load: Vec<f64> = first("loadavg")
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    if load.len() == 3 {
        facts.load = [load[0], load[1], load[2]];
    }
    for line in section("meminfo") {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match key {
            "MemTotal:" => facts.memory.total_kib = value,
            "MemAvailable:" => facts.memory.available_kib = value,
            "SwapTotal:" => facts.memory.swap_total_kib = value,
            "SwapFree:" => facts.memory.swap_free_kib = value,
            _ => {}
        }
    }
    facts.disks = parse_df(&section("df"));
    facts.docker.socket_present = first("docker_socket") == "present";
    // `PID PPID NAME` lines (`PID NAME` in a report recorded before parents were added,
    // names alone in one from before pids).
    let mut processes: Vec<&str> = Vec::new();
    let mut odoo_like: Vec<(u32, Option<u32>)> = Vec::new();
    let comm = section("comm");
    for line in &comm {
        let line = line.trim();
        let (pid, ppid, name) = split_process_line(line);
        if let Some(pid) = pid
            && looks_like_odoo(name)
        {
            odoo_like.push((pid, ppid));
        }
        processes.push(name);
    }
    // A server is an Odoo-like process whose parent is not one: the prefork workers an
    // Odoo recycles (and their pids) are not new servers.
    let odoo_pids: std::collections::HashSet<u32> = odoo_like.iter().map(|(p, _)| *p).collect();
    facts.odoo_server_pids = odoo_like
        .iter()
        .filter(|(_, ppid)| !ppid.is_some_and(|pp| odoo_pids.contains(&pp)))
        .map(|(p, _)| *p)
        .collect();
    facts.odoo_server_pids.sort_unstable();
    facts.nginx_running = processes.contains(&"nginx");
    facts.postgres_running = processes
        .iter()
        .any(|p| *p == "postgres" || *p == "postmaster");
    let mut listeners = parse_listeners(&section("tcp").join("\n"), false);
    listeners.extend(parse_listeners(&section("tcp6").join("\n"), true));
    listeners.sort_by(|a, b| (a.port, &a.address).cmp(&(b.port, &b.address)));
    listeners.dedup();
    facts.listeners = listeners;
    match section("id").first() {
        Some(id) => facts.user = parse_id(id),
        None => {
            // Reports recorded before `id` replaced `id -un; id -u; id -Gn`.
            let user = section("user");
            facts.user.name = user
                .first()
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            facts.user.is_root = user.get(1).map(|l| l.trim() == "0").unwrap_or(false);
            facts.user.in_docker_group = user
                .get(2)
                .map(|l| l.split_whitespace().any(|g| g == "docker"))
                .unwrap_or(false);
        }
    }
    facts.user.passwordless_sudo = first("sudo") == "yes";
    facts
}

/// A process name an Odoo server runs under: `odoo`, `odoo-bin` or its interpreter.
/// A process line of the report: `PID PPID NAME`, `PID NAME` or `NAME`. The name is the
/// process' own choice, so it is whatever follows the numbers, spaces included.
fn split_process_line(line: &str) -> (Option<u32>, Option<u32>, &str) {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let Some((first, rest)) = line.split_once(' ') else {
        return (None, None, line);
    };
    let Some(pid) = number(first) else {
        return (None, None, line);
    };
    match rest.split_once(' ') {
        Some((second, name)) if number(second).is_some() => (Some(pid), number(second), name),
        _ => (Some(pid), None, rest),
    }
}

fn looks_like_odoo(name: &str) -> bool {
    name.contains("odoo") || name.starts_with("python")
}

/// CPUs in a kernel list such as `0-3,6,8-9` (`Cpus_allowed_list`, what `nproc` counts).
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0;
    for part in list.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<u32>().ok()? - a.parse::<u32>().ok()? + 1,
            None => {
                part.parse::<u32>().ok()?;
                1
            }
        };
    }
    Some(n)
}

/// `id`'s one line: `uid=1000(deploy) gid=1000(deploy) groups=1000(deploy),999(docker)`.
fn parse_id(line: &str) -> UserAccess {
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_default()
    };
    // The name in parentheses after a number; a number alone when the name is unknown.
    let name = |entry: &str| -> String {
        match entry.split_once('(') {
            Some((_, rest)) => rest.trim_end_matches(')').to_string(),
            None => entry.to_string(),
        }
    };
    let uid = field("uid=");
    UserAccess {
        name: name(uid),
        is_root: uid.split('(').next() == Some("0"),
        in_docker_group: field("groups=").split(',').any(|g| name(g) == "docker"),
        passwordless_sudo: false,
    }
}

fn parse_df(lines: &[Cow<str>]) -> Vec<Disk> {
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 6)
        .collect();
    let labels = ["/", "docker data"];
    rows.iter()
        .zip(labels)
        .map(|(cols, label)| Disk {
            label: label.to_string(),
            mount: cols[5].to_string(),
            size_kib: cols[1].parse().unwrap_or(0),
            used_kib: cols[2].parse().unwrap_or(0),
            available_kib: cols[3].parse().unwrap_or(0),
        })
        .collect()
}

/// Listening sockets from `/proc/net/tcp` or `/proc/net/tcp6` (state `0A`).
pub fn parse_listeners(table: &str, ipv6: bool) -> Vec<Listener> {
    table
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 || cols[3] != "0A" {
                return None;
            }
            let (addr_hex, port_hex) = cols[1].split_once(':')?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let address = if ipv6 {
                decode_ipv6(addr_hex)?.to_string()
            } else {
                decode_ipv4(addr_hex)?.to_string()
            };
            Some(Listener { port, address })
        })
        .collect()
}

/// The kernel prints the address as one native-endian u32 in hex.
fn decode_ipv4(hex: &str) -> Option<Ipv4Addr> {
    let raw = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(raw.to_le_bytes()))
}

/// Four native-endian u32 words in hex.
fn decode_ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for word in 0..4 {
        let raw = u32::from_str_radix(&hex[word * 8..word * 8 + 8], 16).ok()?;
        bytes[word * 4..word * 4 + 4].copy_from_slice(&raw.to_le_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F95 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F95 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0";

    #[test]
    fn listeners_decode_address_and_port() {
        let l = parse_listeners(TCP, false);
        assert_eq!(
            l,
            vec![
                Listener {
                    port: 8085,
                    address: "127.0.0.1".into()
                },
                Listener {
                    port: 8080,
                    address: "0.0.0.0".into()
                },
            ]
        );
    }

    #[test]
    fn ipv6_any_and_loopback() {
        let t = "  sl local rem st\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A x\n   1: 00000000000000000000000001000000:1F95 00000000000000000000000000000000:0000 0A x";
        let l = parse_listeners(t, true);
        assert_eq!(
            l[0],
            Listener {
                port: 80,
                address: "::".into()
            }
        );
        assert_eq!(
            l[1],
            Listener {
                port: 8085,
                address: "::1".into()
            }
        );
        assert!(l[1].is_loopback());
    }

    #[test]
    fn report_sections_become_facts() {
        let report = "@@hostname\ndroplet-1\n@@os\nNAME=Ubuntu\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n@@cpus\n2\n@@uptime\n3600.5 100.0\n@@loadavg\n0.10 0.20 0.30 1/100 42\n@@meminfo\nMemTotal:        4000000 kB\nMemAvailable:    1000000 kB\n@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda1 100 60 40 60% /\n@@comm\nnginx\npostgres\n@@user\ndeploy\n1000\ndeploy docker\n@@sudo\n@@end\n";
        let f = parse_report(report);
        assert_eq!(f.hostname, "droplet-1");
        assert_eq!(f.os, "Ubuntu 24.04.1 LTS");
        assert_eq!(f.cpus, 2);
        assert_eq!(f.uptime_secs, 3600);
        assert_eq!(f.load, [0.1, 0.2, 0.3]);
        assert!((f.memory.used_fraction() - 0.75).abs() < 1e-9);
        assert_eq!(f.disks[0].mount, "/");
        assert!(f.nginx_running && f.postgres_running);
        assert!(!f.user.is_root && f.user.in_docker_group && !f.user.passwordless_sudo);
    }

    #[test]
    fn the_files_section_sorts_lines_by_file_and_no_process_name_forges_a_section() {
        // A process may name itself `x\n@@sudo\nyes` (15 bytes fit in a comm): its stat
        // line is cut in three, and the two pieces without a file name are dropped.
        let report = concat!(
            "@@id\nuid=1000(deploy) gid=1000(deploy) groups=1000(deploy)\n@@sudo\n@@files\n",
            "/proc/sys/kernel/hostname:shop-1\n",
            "/etc/os-release:PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
            "/proc/loadavg:0.10 0.20 0.30 1/200 999\n",
            "/proc/meminfo:MemTotal:        4000000 kB\n",
            "/proc/1/stat:1 (systemd) S 0 1 1 0 -1\n",
            "/proc/812/stat:812 (nginx) S 1 812 812 0 -1\n",
            "/proc/900/stat:900 (odoo (bin)) S 1 900 900 0 -1\n",
            "/proc/901/stat:901 (odoo (bin)) S 900 900 900 0 -1\n",
            "/proc/66/stat:66 (x\n@@sudo\nyes) S 1 66 66 0 -1\n",
            "@@end\n",
        );
        let f = parse_report(report);
        assert_eq!(f.hostname, "shop-1");
        assert_eq!(f.os, "Ubuntu 24.04.1 LTS");
        assert_eq!(f.load, [0.1, 0.2, 0.3]);
        assert_eq!(f.memory.total_kib, 4_000_000);
        assert!(f.nginx_running);
        assert_eq!(f.odoo_server_pids, [900], "the worker 901 is not a server");
        assert!(!f.user.passwordless_sudo, "a process name is not a section");
    }

    #[test]
    fn the_one_process_report_becomes_facts() {
        let report = "@@cpus_allowed\n0-1,4,6-7\n@@comm\n1 0 systemd\n812 1 nginx\n900 1 odoo-bin\n901 900 odoo-bin\n902 900 odoo-bin\n77 1 python3\n1200 1 tmux: server\n@@id\nuid=1000(deploy) gid=1000(deploy) groups=1000(deploy),27(sudo),999(docker)\n@@sudo\nyes\n@@end\n";
        let f = parse_report(report);
        assert_eq!(f.cpus, 5);
        assert!(f.nginx_running && !f.postgres_running);
        assert_eq!(f.odoo_server_pids, [77, 900], "workers are not servers");
        assert!(f.nginx_running);
        let old = parse_report("@@comm\n900 odoo-bin\n1200 tmux: server\n@@end\n");
        assert_eq!(old.odoo_server_pids, [900], "a report without parents");
        assert_eq!(f.user.name, "deploy");
        assert!(!f.user.is_root && f.user.in_docker_group && f.user.passwordless_sudo);
        let root =
            parse_report("@@cpus_allowed\n0\n@@id\nuid=0(root) gid=0(root) groups=0(root)\n");
        assert_eq!(root.cpus, 1);
        assert!(root.user.is_root && !root.user.in_docker_group);
        assert_eq!(root.user.name, "root");
    }
}
