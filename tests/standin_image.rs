//! The stand-in packed into FROM-scratch images tagged like Odoo releases, run by the real
//! Docker engine: it serves the contract through published ports, stops on `docker stop`,
//! and its `oom` mode gets a real OOM kill under a memory limit.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::ports::{free_port, wait_listening};
use support::rawhttp::{get, websocket_handshake};
use support::standin::{IMAGE_REPO, RELEASES, ensure_image, ensure_release_images};

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (
        out.status.success(),
        if out.status.success() {
            text
        } else {
            String::from_utf8_lossy(&out.stderr).into_owned()
        },
    )
}

/// A container removed on Drop, whatever happened.
struct Container(String);

impl Container {
    fn run(args: &[&str]) -> Container {
        let name = format!(
            "odoo-ops-standin-test-{}-{}",
            std::process::id(),
            free_port()
        );
        let mut all = vec!["run", "-d", "--name", &name];
        all.extend_from_slice(args);
        let (ok, text) = docker(&all);
        assert!(ok, "docker run failed: {text}");
        Container(name)
    }

    fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "-f", format, &self.0]).1
    }

    fn wait_exited(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.inspect("{{.State.Status}}") == "exited" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn release_images_exist_and_are_not_rebuilt() {
    let refs = ensure_release_images();
    assert_eq!(
        refs,
        RELEASES
            .iter()
            .map(|t| format!("{IMAGE_REPO}:{t}"))
            .collect::<Vec<_>>()
    );
    let ids: Vec<String> = refs
        .iter()
        .map(|r| docker(&["image", "inspect", "-f", "{{.Id}}", r]).1)
        .collect();
    assert_ne!(ids[0], ids[1], "two releases are two images");
    let version = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
        &refs[1],
    ])
    .1;
    assert_eq!(version, RELEASES[1]);
    // A second call finds the image with the same binary and leaves it alone.
    ensure_image(RELEASES[0]);
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Id}}", &refs[0]]).1,
        ids[0]
    );
}

#[test]
fn a_container_serves_both_ports_and_stops_cleanly() {
    let image = ensure_image(RELEASES[0]);
    let (http, gevent) = (free_port(), free_port());
    let c = Container::run(&[
        "-p",
        &format!("127.0.0.1:{http}:8069"),
        "-p",
        &format!("127.0.0.1:{gevent}:8072"),
        &image,
    ]);
    assert!(wait_listening(http, Duration::from_secs(10)));
    // The proxy accepts before the process inside listens; retry until it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match support::rawhttp::try_request(
            http,
            "GET",
            "/web/health",
            &[],
            b"",
            Duration::from_secs(2),
        ) {
            Ok(r) if r.status == 200 => break,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no health answer: {other:?}"),
        }
    }
    assert_eq!(get(gevent, "/websocket/health").status, 200);
    assert_eq!(websocket_handshake(gevent, "erp.example.com").status, 101);
    assert_eq!(websocket_handshake(http, "erp.example.com").status, 500);
    // The image's odoo.conf points at a `db` host that does not exist here: DB down.
    assert_eq!(get(http, "/web/health?db_server_status=1").status, 500);
    let logs = Command::new("docker")
        .args(["logs", &c.0])
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(
        logs.contains("Using configuration file at /etc/odoo/odoo.conf"),
        "{logs}"
    );
    assert!(logs.contains("RuntimeError: Couldn't bind the websocket. Is the connection opened on the evented port (8072)?"));
    let started = Instant::now();
    let (ok, _) = docker(&["stop", "-t", "10", &c.0]);
    assert!(ok);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM honoured, no 10 s kill"
    );
    assert_eq!(c.inspect("{{.State.ExitCode}}"), "0");
}

#[test]
fn oom_mode_is_killed_by_the_kernel() {
    let image = ensure_image(RELEASES[0]);
    let c = Container::run(&[
        "--memory",
        "64m",
        "--memory-swap",
        "64m",
        "-e",
        "STANDIN_MODE=oom",
        &image,
    ]);
    assert!(
        c.wait_exited(Duration::from_secs(60)),
        "still running: {}",
        c.inspect("{{.State.Status}}")
    );
    assert_eq!(c.inspect("{{.State.OOMKilled}}"), "true");
    assert_eq!(c.inspect("{{.State.ExitCode}}"), "137");
}

#[test]
fn refuse_start_in_a_container() {
    let image = ensure_image(RELEASES[1]);
    let c = Container::run(&["-e", "STANDIN_MODE=refuse-start", &image]);
    assert!(c.wait_exited(Duration::from_secs(20)));
    assert_eq!(c.inspect("{{.State.ExitCode}}"), "1");
    let logs = Command::new("docker")
        .args(["logs", &c.0])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&logs.stderr).contains("ModuleNotFoundError"));
}

#[test]
fn the_image_has_a_curl_for_compose_healthchecks() {
    // Compose runs `["CMD", "curl", ...]` healthchecks by exec, as `docker exec` does here.
    let image = ensure_image(RELEASES[0]);
    let c = Container::run(&[&image]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = [
        "exec",
        &c.0,
        "curl",
        "-fsS",
        "-o",
        "/dev/null",
        "http://127.0.0.1:8069/web/health",
    ];
    while !docker(&health).0 {
        assert!(
            Instant::now() < deadline,
            "curl never succeeded: {}",
            docker(&health).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // -f turns the 500 of a DB check without a DB into a failure, as curl does.
    let (ok, err) = docker(&[
        "exec",
        &c.0,
        "curl",
        "-fsS",
        "http://127.0.0.1:8069/web/health?db_server_status=1",
    ]);
    assert!(!ok);
    assert!(err.contains("returned error: 500"), "{err}");
}

/// A user-defined network, removed on Drop (after the containers on it).
struct Network(String);

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

fn wait_logs(c: &Container, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new("docker")
            .args(["logs", &c.0])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn db_host_is_resolved_through_dockers_dns_without_glibc_nss() {
    // In a compose network `db` is a name only Docker's embedded DNS knows; the static
    // stand-in has no NSS, so it must ask that DNS server itself.
    let image = ensure_image(RELEASES[0]);
    let net = Network(format!(
        "odoo-ops-test-net-{}-{}",
        std::process::id(),
        free_port()
    ));
    assert!(docker(&["network", "create", &net.0]).0);
    // Something named `db` that is not PostgreSQL: resolution works, the connection is refused.
    let db = Container::run(&["--network", &net.0, "--network-alias", "db", &image]);
    let odoo = Container::run(&[
        "--network",
        &net.0,
        &image,
        "-c",
        "/etc/odoo/odoo.conf",
        "-d",
        "odoo",
    ]);
    let log = wait_logs(&odoo, "psycopg2.OperationalError");
    // psycopg2's wording, with the address the name resolved to.
    assert!(
        log.contains("psycopg2.OperationalError: connection to server at \"db\" ("),
        "{log}"
    );
    assert!(
        log.contains("port 5432 failed: Connection refused"),
        "{log}"
    );
    let lost = Container::run(&[
        "--network",
        &net.0,
        &image,
        "-c",
        "/etc/odoo/odoo.conf",
        "-d",
        "odoo",
        "--db_host=nosuchhost",
    ]);
    let log = wait_logs(&lost, "psycopg2.OperationalError");
    assert!(
        log.contains("could not translate host name \"nosuchhost\" to address"),
        "{log}"
    );
    drop((db, odoo, lost));
}
