//! The Host pane's facts, checked against this machine.

mod support;

use std::net::TcpListener;

use odoo_ops::host;
use odoo_ops::target::Target;

fn gather() -> odoo_ops::host::HostFacts {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(host::gather(&Target::local())).unwrap()
}

#[test]
fn listeners_the_test_opens_show_up_with_their_address() {
    let loopback = TcpListener::bind("127.0.0.1:0").unwrap();
    let any = TcpListener::bind("0.0.0.0:0").unwrap();
    let facts = gather();
    let seen = |port: u16, address: &str| {
        facts
            .listeners
            .iter()
            .any(|l| l.port == port && l.address == address)
    };
    assert!(
        seen(loopback.local_addr().unwrap().port(), "127.0.0.1"),
        "{:?}",
        facts.listeners
    );
    assert!(seen(any.local_addr().unwrap().port(), "0.0.0.0"));
    let closed = loopback.local_addr().unwrap().port();
    drop(loopback);
    let after = gather();
    assert!(
        !after.listeners.iter().any(|l| l.port == closed),
        "a closed listener disappears"
    );
}

#[test]
fn odoo_port_bound_beyond_loopback_is_flagged() {
    // 8069 is Odoo's own port, busy on a machine that runs Odoo: the test gets a network
    // namespace of its own, where only what it binds listens.
    support::netns::in_own_network_namespace(odoo_port_is_flagged_while_bound);
}

fn odoo_port_is_flagged_while_bound() {
    let odoo = TcpListener::bind("0.0.0.0:8069").expect("8069 is free in a new namespace");
    let facts = gather();
    let status = facts
        .port_statuses()
        .into_iter()
        .find(|p| p.port == 8069)
        .unwrap();
    assert_eq!(status.addresses, vec!["0.0.0.0".to_string()]);
    assert!(status.exposed);
    drop(odoo);
    let facts = gather();
    let status = facts
        .port_statuses()
        .into_iter()
        .find(|p| p.port == 8069)
        .unwrap();
    assert!(status.addresses.is_empty() && !status.exposed);
}

#[test]
fn identity_and_resources_match_the_kernel() {
    let facts = gather();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(facts.hostname, hostname.trim());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total: u64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(facts.memory.total_kib, total);
    assert_eq!(
        facts.cpus as usize,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(facts.uptime_secs > 0);
    let root = facts
        .disks
        .iter()
        .find(|d| d.label == "/")
        .expect("disk of /");
    assert_eq!(root.mount, "/");
    assert!(root.size_kib > 0);
    assert_eq!(facts.user.is_root, effective_uid_is_root());
    assert!(!facts.os.is_empty() && facts.os != "unknown");
}

#[test]
fn docker_socket_answers_on_this_machine() {
    let facts = gather();
    assert!(facts.docker.socket_present);
    assert!(facts.docker.answers, "{:?}", facts.docker.error);
    assert!(facts.docker.root_dir.is_some());
}

#[test]
fn a_running_nginx_is_seen() {
    // A real nginx master in a temp prefix, stopped at the end.
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; pid {0}/nginx.pid; error_log {0}/error.log;\nevents {{}}\nhttp {{ access_log off; server {{ listen 127.0.0.1:{port}; }} }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut nginx = std::process::Command::new("nginx")
        .args([
            "-p",
            &dir.path().display().to_string(),
            "-c",
            &conf.display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx is installed (scripts/test-deps.sh)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let facts = gather();
    // TERM lets the master stop its workers; KILL would orphan them.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &nginx.id().to_string()])
        .status();
    let _ = nginx.wait();
    assert!(facts.nginx_running);
    assert!(facts.listeners.iter().any(|l| l.port == port));
}

fn effective_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .map(|l| l.split_whitespace().nth(2) == Some("0"))
        .unwrap()
}
