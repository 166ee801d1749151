//! The zero-downtime switch on real parts: a real nginx with Debian's layout (the site in
//! sites-available, linked from sites-enabled, started as a packaged master is) proxying
//! to the Odoo stand-in's release A in a container labelled as compose's `odoo` service
//! on free loopback ports, the real PostgreSQL container as `db`, and the real Docker
//! engine. A load generator sends requests through nginx during the whole switch to
//! release B and counts every one that fails.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use odoo_ops::deploy::switch::{
    Candidate, ReadyGate, SwitchFailed, SwitchRequest, SwitchStage, switch,
};
use odoo_ops::deploy::switch_clone::{PortPair, Slots};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;
use support::docker::Project;
use support::nginx::{DebianSite, Nginx};
use support::ports::free_port;
use support::rawhttp;
use support::standin::{self, IMAGE_REPO, RELEASES};

const DOMAIN: &str = "erp.example.com";
const SITE: &str = "odoo";
/// The path every request asks for: Odoo's health with the database check, so a request
/// that reached an Odoo without its database counts as failed too.
const PROBE: &str = "/web/health?db_server_status=1";

/// The seeds' site, plain HTTP, with the upstream that answered in a response header
/// (`X-Upstream`): which container served each request, seen from the client's side.
fn site_text(port: u16, ports: PortPair) -> String {
    format!(
        "upstream odoo {{
    server 127.0.0.1:{http};
}}

upstream odoochat {{
    server 127.0.0.1:{gevent};
}}

server {{
    listen 127.0.0.1:{port};
    server_name {DOMAIN};

    proxy_read_timeout 720s;
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;
    add_header X-Upstream $upstream_addr always;

    location / {{
        proxy_pass http://odoo;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}

    location /websocket {{
        proxy_pass http://odoochat;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection \"upgrade\";
    }}
}}
",
        http = ports.http,
        gevent = ports.gevent,
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

fn inspect(container: &str, format: &str) -> Option<String> {
    let out = docker(&["inspect", "-f", format, container]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A droplet's stack: db and odoo (release A on the blue ports) in a compose project,
/// nginx in front, the compose file and `.env` as odoo-ops renders them, a state dir.
struct Stack {
    project: Project,
    nginx: Nginx,
    nginx_port: u16,
    slots: Slots,
    odoo: String,
    stack_dir: tempfile::TempDir,
    state: tempfile::TempDir,
    site_before: Vec<u8>,
}

impl Stack {
    fn new(test: &str) -> Stack {
        let images = standin::ensure_release_images();
        let project = Project::new(test);
        project.run_db();
        let network = project.network();
        let slots = Slots {
            blue: PortPair {
                http: free_port(),
                gevent: free_port(),
            },
            green: PortPair {
                http: free_port(),
                gevent: free_port(),
            },
        };
        let http = format!("127.0.0.1:{}:8069", slots.blue.http);
        let gevent = format!("127.0.0.1:{}:8072", slots.blue.gevent);
        let odoo = project.run(
            "odoo",
            &[
                "--network",
                &network,
                "--network-alias",
                "odoo",
                "-p",
                &http,
                "-p",
                &gevent,
                "--restart",
                "unless-stopped",
                "--stop-timeout",
                "10",
                "-e",
                "HOST=db",
            ],
            &images[0],
        );
        wait_healthy(slots.blue.http, &odoo);
        let nginx_port = free_port();
        let text = site_text(nginx_port, slots.blue);
        let nginx = Nginx::start_debian(
            &[DebianSite {
                name: SITE,
                text: &text,
            }],
            &[],
            &[nginx_port],
        );
        let stack_dir = tempfile::tempdir().unwrap();
        let options = odoo_ops::stack::StackOptions::new(
            odoo_ops::stack::Domain::parse(DOMAIN).unwrap(),
            *odoo_ops::stack::DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        std::fs::write(
            stack_dir.path().join("docker-compose.yml"),
            odoo_ops::stack::compose::render(&options),
        )
        .unwrap();
        let env = format!(
            "ODOO_IMAGE={IMAGE_REPO}\nODOO_TAG={}\nODOO_HTTP_PORT={}\nODOO_GEVENT_PORT={}\nPOSTGRES_PASSWORD={}\n",
            RELEASES[0],
            slots.blue.http,
            slots.blue.gevent,
            support::pg_image::DB_PASSWORD
        );
        let env_path = stack_dir.path().join(".env");
        std::fs::write(&env_path, env).unwrap();
        std::fs::set_permissions(
            &env_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Stack {
            project,
            nginx,
            nginx_port,
            slots,
            odoo,
            stack_dir,
            state: tempfile::tempdir().unwrap(),
            site_before: text.into_bytes(),
        }
    }

    fn env_path(&self) -> PathBuf {
        self.stack_dir.path().join(".env")
    }

    fn request(&self, tag: &str) -> SwitchRequest {
        let mut r = SwitchRequest::new(
            &self.project.name,
            tag,
            self.env_path(),
            self.stack_dir.path().join("docker-compose.yml"),
            NginxInvocation {
                binary: "nginx".into(),
                conf: Some(self.nginx.path().join("nginx.conf")),
                prefix: Some(PathBuf::from(format!("{}/", self.nginx.path().display()))),
                ..Default::default()
            },
        );
        r.slots = self.slots;
        r.domain = Some(DOMAIN.into());
        r.ready_timeout = Duration::from_secs(60);
        r.drain_timeout = Duration::from_secs(20);
        r
    }

    fn dirs(&self) -> StateDirs {
        StateDirs::under(&self.state.path().join("odoo-ops"))
    }

    /// The service's containers, by compose's labels (what `docker compose ps` lists).
    fn service_containers(&self) -> Vec<String> {
        let project = format!("label=com.docker.compose.project={}", self.project.name);
        let out = docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "-q",
            "--filter",
            &project,
            "--filter",
            "label=com.docker.compose.service=odoo",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    #[track_caller]
    fn assert_site_is_a_link_and_valid(&self) {
        let link = self.nginx.site_enabled(SITE);
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{} is no longer a symlink",
            link.display()
        );
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from(format!("../sites-available/{SITE}"))
        );
        let t = self.nginx.debian_test();
        assert!(
            t.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&t.stderr)
        );
    }
}

/// Wait until Odoo answers its health with the database on `port`.
fn wait_healthy(port: u16, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = rawhttp::try_request(port, "GET", PROBE, &[], b"", Duration::from_secs(5))
            && r.status == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{container} never became healthy: {}",
            String::from_utf8_lossy(&docker(&["logs", container]).stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One request through nginx: its number, and the upstream that answered or what failed.
#[derive(Debug, Clone)]
struct Sent {
    n: usize,
    outcome: Result<String, String>,
}

/// Requests through nginx one after another, each on its own connection, until stopped
/// (at most 3 minutes or 20 000 requests: bounded whatever happens).
struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sent>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut sent = Vec::new();
            while !flag.load(Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(180)
                && sent.len() < 20_000
            {
                let n = sent.len();
                let path = format!("{PROBE}&probe={n}");
                let outcome = match rawhttp::try_request(
                    port,
                    "GET",
                    &path,
                    &[("Host", DOMAIN)],
                    b"",
                    Duration::from_secs(30),
                ) {
                    Ok(r) if r.status == 200 => {
                        Ok(r.header("X-Upstream").unwrap_or("?").to_string())
                    }
                    Ok(r) => Err(format!("{} {}", r.status, r.text().trim())),
                    Err(e) => Err(e.to_string()),
                };
                sent.push(Sent { n, outcome });
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        });
        Load { stop, thread }
    }

    fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn failures(sent: &[Sent]) -> Vec<&Sent> {
    sent.iter().filter(|s| s.outcome.is_err()).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_new_release_takes_over_with_no_failed_request_through_nginx() {
    let stack = Stack::new("switch");
    let old_id = stack.project.id_of(&stack.odoo);
    let (blue, green) = (stack.slots.blue, stack.slots.green);
    let new_image = format!("{IMAGE_REPO}:{}", RELEASES[1]);

    let load = Load::start(stack.nginx_port);
    // Traffic flows before the switch starts.
    std::thread::sleep(Duration::from_millis(500));
    let mut steps = Vec::new();
    let record = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &stack.request(RELEASES[1]),
            None,
            &mut |s: &str| steps.push(s.to_string()),
        ))
        .unwrap_or_else(|e| panic!("the switch failed: {e:?}"));
    // Traffic keeps flowing after it.
    std::thread::sleep(Duration::from_millis(1000));
    let sent = load.finish();
    let failed = failures(&sent);
    println!(
        "requests through nginx during the switch: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    println!("steps:\n{}", record.steps.join("\n"));
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(
        record.steps, steps,
        "every step was reported as it happened"
    );

    // Requests reached A on the blue ports, then B on the green ones, and the last ones
    // all went to B.
    let upstream = |p: PortPair| format!("127.0.0.1:{}", p.http);
    let to_old = sent
        .iter()
        .filter(|s| s.outcome.as_deref() == Ok(upstream(blue).as_str()))
        .count();
    let to_new: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.outcome.as_deref() == Ok(upstream(green).as_str()))
        .collect();
    assert!(
        to_old > 0 && !to_new.is_empty(),
        "old {to_old}, new {}",
        to_new.len()
    );
    let tail = &sent[sent.len().saturating_sub(20)..];
    assert!(
        tail.iter()
            .all(|s| s.outcome.as_deref() == Ok(upstream(green).as_str())),
        "the last requests: {tail:?}"
    );
    // The new container itself logged them (the stand-in's werkzeug access lines).
    let last = to_new.last().unwrap().n;
    let logs = docker(&["logs", &record.to.id]);
    let logs =
        String::from_utf8_lossy(&logs.stdout).into_owned() + &String::from_utf8_lossy(&logs.stderr);
    assert!(logs.contains(&format!("probe={last} ")), "{logs}");

    // What runs now: release B, under the old name and compose's labels, on green.
    assert_eq!(record.from.id, old_id);
    assert_eq!(record.from.tag, RELEASES[0]);
    assert_eq!(record.from.ports, blue);
    assert_eq!(record.to.tag, RELEASES[1]);
    assert_eq!(record.to.ports, green);
    assert_eq!(record.to.name, stack.odoo);
    let new = &record.to.id;
    assert_eq!(inspect(new, "{{.Config.Image}}").unwrap(), new_image);
    assert_eq!(
        inspect(
            new,
            "{{index .Config.Labels \"org.opencontainers.image.version\"}}"
        )
        .unwrap(),
        RELEASES[1],
        "the image's own version label is B's, not A's carried over"
    );
    assert_eq!(
        inspect(new, "{{.Name}}").unwrap(),
        format!("/{}", stack.odoo)
    );
    assert_eq!(inspect(new, "{{.State.Running}}").unwrap(), "true");
    assert_eq!(
        inspect(new, "{{.HostConfig.RestartPolicy.Name}}").unwrap(),
        "unless-stopped"
    );
    assert_eq!(stack.service_containers(), std::slice::from_ref(new));
    // The old container is gone.
    assert!(
        inspect(&old_id, "{{.Id}}").is_none(),
        "the old container is still there"
    );

    // nginx points at green, passes -t, and the site is still a link.
    stack.assert_site_is_a_link_and_valid();
    let site = read(&stack.nginx.site_available(SITE));
    assert_eq!(
        site,
        site_text(stack.nginx_port, green),
        "only the upstream ports changed"
    );
    // Compose would start the same release on the same ports.
    let env = read(&stack.env_path());
    for line in [
        format!("ODOO_TAG={}", RELEASES[1]),
        format!("ODOO_HTTP_PORT={}", green.http),
        format!("ODOO_GEVENT_PORT={}", green.gevent),
        format!("ODOO_IMAGE={IMAGE_REPO}"),
    ] {
        assert!(
            env.lines().any(|l| l == line),
            "{line} missing from .env:\n{env}"
        );
    }
    assert!(
        std::fs::read_dir(stack.dirs().journal)
            .unwrap()
            .next()
            .is_none(),
        "the change's journal entry is closed"
    );

    // The record is enough to switch back the same way: A again, on blue, under load.
    let load = Load::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(300));
    let back = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &record.rollback(&stack.request(RELEASES[1])),
            None,
            &mut |_: &str| {},
        ))
        .unwrap_or_else(|e| panic!("the switch back failed: {e:?}"));
    std::thread::sleep(Duration::from_millis(500));
    let sent = load.finish();
    let failed = failures(&sent);
    println!(
        "requests through nginx during the switch back: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(back.from.id, record.to.id);
    assert_eq!(back.to.tag, RELEASES[0]);
    assert_eq!(back.to.image_id, record.from.image_id);
    assert_eq!(back.to.ports, blue);
    assert_eq!(
        stack.service_containers(),
        std::slice::from_ref(&back.to.id)
    );
    assert_eq!(
        std::fs::read(stack.nginx.site_available(SITE)).unwrap(),
        stack.site_before,
        "the site is back byte for byte"
    );
    stack.assert_site_is_a_link_and_valid();
}

/// A release whose Odoo never finds its database: its own odoo.conf names a database
/// host where nothing listens, so `/web/health?db_server_status=1` answers 500 forever.
fn never_healthy_image() -> String {
    let base = standin::ensure_image(RELEASES[0]);
    let tag = "18.0-never-healthy";
    let reference = format!("{IMAGE_REPO}:{tag}");
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("odoo.conf"),
        standin::IMAGE_ODOO_CONF.replace("db_host = db", "db_host = 127.0.0.1"),
    )
    .unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY odoo.conf /etc/odoo/odoo.conf\n"),
    )
    .unwrap();
    let out = std::process::Command::new("docker")
        .args(["build", "--quiet", "-t", &reference])
        .arg(context.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    reference
}

#[test]
fn a_release_that_never_becomes_healthy_changes_nothing() {
    never_healthy_image();
    let stack = Stack::new("switch-unhealthy");
    let old_id = stack.project.id_of(&stack.odoo);
    let env_before = std::fs::read(stack.env_path()).unwrap();
    let reloads = stack.nginx.reconfigured();

    let load = Load::start(stack.nginx_port);
    let mut request = stack.request("18.0-never-healthy");
    request.ready_timeout = Duration::from_secs(8);
    let err = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &request,
            None,
            &mut |_: &str| {},
        ))
        .expect_err("a release that never becomes healthy is not switched to");
    let sent = load.finish();
    let failed = failures(&sent);
    println!(
        "requests through nginx during the attempt: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");

    let failure = err
        .downcast_ref::<SwitchFailed>()
        .unwrap_or_else(|| panic!("not a SwitchFailed: {err:?}"));
    println!("{failure}");
    assert_eq!(failure.stage, SwitchStage::Health);
    assert!(
        failure.message.contains("did not become healthy")
            && failure.message.contains("not healthy within 8 s")
            && failure.message.contains("500"),
        "{}",
        failure.message
    );
    // Its last log lines come with the error: Odoo's start-up, as the stand-in logs it,
    // not a wall of the health probes' own access lines.
    assert!(
        failure
            .log_tail
            .iter()
            .any(|l| l.contains("Odoo version 18.0")),
        "{:?}",
        failure.log_tail
    );
    assert!(
        !failure.log_tail.iter().any(|l| l.contains("/web/health")),
        "{:?}",
        failure.log_tail
    );
    assert!(
        failure
            .steps
            .iter()
            .any(|s| s.starts_with("removed the new container")),
        "{:?}",
        failure.steps
    );

    // The old container still serves, nginx and .env are byte for byte as they were,
    // nginx was never reloaded, and the new container is gone.
    assert!(inspect(&format!("{}-next", stack.odoo), "{{.Id}}").is_none());
    assert_nothing_changed(&stack, &old_id, &env_before);
    assert_eq!(
        stack.nginx.reconfigured(),
        reloads,
        "nginx was not reloaded"
    );
    stack.assert_site_is_a_link_and_valid();
}

/// After a refused switch: the old container alone, serving through nginx on blue, and
/// the site and .env byte for byte as they were.
#[track_caller]
fn assert_nothing_changed(stack: &Stack, old_id: &str, env_before: &[u8]) {
    assert_eq!(stack.service_containers(), [old_id.to_string()]);
    assert_eq!(inspect(old_id, "{{.State.Running}}").unwrap(), "true");
    let r = rawhttp::try_request(
        stack.nginx_port,
        "GET",
        PROBE,
        &[("Host", DOMAIN)],
        b"",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("X-Upstream"),
        Some(format!("127.0.0.1:{}", stack.slots.blue.http).as_str())
    );
    assert_eq!(
        std::fs::read(stack.nginx.site_available(SITE)).unwrap(),
        stack.site_before
    );
    assert_eq!(std::fs::read(stack.env_path()).unwrap(), env_before);
}

/// The deploy's own gates, run on the new container before the switch: here one that
/// checks the candidate itself (release B answering on the green ports) and then refuses.
struct RefusingGate {
    seen: std::sync::Mutex<Option<(Candidate, u16)>>,
}

impl ReadyGate for RefusingGate {
    fn check<'a>(
        &'a self,
        _target: &'a Target,
        candidate: &'a Candidate,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let status = rawhttp::try_request(
                candidate.ports.http,
                "GET",
                PROBE,
                &[],
                b"",
                Duration::from_secs(5),
            )
            .map(|r| r.status)
            .unwrap_or(0);
            *self.seen.lock().unwrap() = Some((candidate.clone(), status));
            Err("the login page did not show the login form".into())
        })
    }
}

#[test]
fn the_callers_gates_judge_the_new_container_before_the_switch() {
    let stack = Stack::new("switch-gate");
    let old_id = stack.project.id_of(&stack.odoo);
    let env_before = std::fs::read(stack.env_path()).unwrap();
    // A compose file that publishes fixed ports would undo any switch at its next
    // `docker compose up -d`: refused before anything is created or written.
    let compose = stack.stack_dir.path().join("docker-compose.yml");
    let rendered = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        rendered.replace("${ODOO_HTTP_PORT:-8069}", "8069"),
    )
    .unwrap();
    let err = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &stack.request(RELEASES[1]),
            None,
            &mut |_: &str| {},
        ))
        .expect_err("fixed ports are refused");
    let failure = err.downcast_ref::<SwitchFailed>().unwrap();
    assert_eq!(failure.stage, SwitchStage::Preflight);
    assert!(
        failure.message.contains("ODOO_HTTP_PORT"),
        "{}",
        failure.message
    );
    assert_nothing_changed(&stack, &old_id, &env_before);
    std::fs::write(&compose, &rendered).unwrap();

    let gate = RefusingGate {
        seen: std::sync::Mutex::new(None),
    };
    let err = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &stack.request(RELEASES[1]),
            Some(&gate),
            &mut |_: &str| {},
        ))
        .expect_err("a refusing gate stops the switch");
    let failure = err.downcast_ref::<SwitchFailed>().unwrap();
    assert_eq!(failure.stage, SwitchStage::Gate);
    assert!(
        failure
            .message
            .contains("did not pass the gates: the login page did not show the login form"),
        "{}",
        failure.message
    );
    let (candidate, status) = gate.seen.lock().unwrap().clone().expect("the gate ran");
    assert_eq!(candidate.ports, stack.slots.green);
    assert_eq!(candidate.image, format!("{IMAGE_REPO}:{}", RELEASES[1]));
    assert_eq!(status, 200, "the gate ran on a healthy candidate");
    assert!(
        inspect(&candidate.id, "{{.Id}}").is_none(),
        "the candidate is removed"
    );
    assert_nothing_changed(&stack, &old_id, &env_before);
    stack.assert_site_is_a_link_and_valid();
}

/// A gate that, as it passes, breaks nginx's configuration behind the switch's back (a
/// stray file in conf.d): the switch's own `nginx -t` must then refuse and put back.
struct BreakNginx(PathBuf);

impl ReadyGate for BreakNginx {
    fn check<'a>(
        &'a self,
        _target: &'a Target,
        _candidate: &'a Candidate,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            std::fs::write(&self.0, "this_is_not_a_directive on;\n").unwrap();
            Ok(())
        })
    }
}

#[test]
fn a_configuration_nginx_refuses_is_put_back_and_the_new_container_removed() {
    let stack = Stack::new("switch-nginx");
    let old_id = stack.project.id_of(&stack.odoo);
    let env_before = std::fs::read(stack.env_path()).unwrap();
    let reloads = stack.nginx.reconfigured();
    let stray = stack.nginx.path().join("conf.d/stray.conf");
    let err = rt()
        .block_on(switch(
            &Target::local(),
            &stack.dirs(),
            &stack.request(RELEASES[1]),
            Some(&BreakNginx(stray.clone())),
            &mut |_: &str| {},
        ))
        .expect_err("nginx -t refuses");
    let failure = err.downcast_ref::<SwitchFailed>().unwrap();
    println!("{failure}\n{}", failure.steps.join("\n"));
    assert_eq!(failure.stage, SwitchStage::Nginx);
    assert!(
        failure.message.contains("nginx -t refused")
            && failure.message.contains("this_is_not_a_directive"),
        "{}",
        failure.message
    );
    assert!(
        failure.steps.iter().any(|s| s.starts_with("restored ")),
        "{:?}",
        failure.steps
    );
    assert!(inspect(&format!("{}-next", stack.odoo), "{{.Id}}").is_none());
    assert_eq!(
        stack.nginx.reconfigured(),
        reloads,
        "nginx was not reloaded"
    );
    std::fs::remove_file(&stray).unwrap();
    assert_nothing_changed(&stack, &old_id, &env_before);
    stack.assert_site_is_a_link_and_valid();
}
