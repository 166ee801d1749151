//! The zero-downtime switch on real parts: a real nginx with Debian's layout (the site in
//! sites-available, linked from sites-enabled, started as a packaged master is) proxying
//! to the Odoo stand-in's release A in a container labelled as compose's `odoo` service
//! on free loopback ports, the real PostgreSQL container as `db`, and the real Docker
//! engine. A load generator sends requests through nginx during the whole switch to
//! release B and counts every one that fails.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;
use odoo_ops::deploy::switch::{Candidate, ReadyGate, SwitchFailed, SwitchStage, switch};
use odoo_ops::deploy::switch_clone::PortPair;
use odoo_ops::target::Target;
use support::rawhttp;
use support::standin::{self, IMAGE_REPO, RELEASES};
// The stack, its nginx site and the load generator are shared with the deploy CLI tests.
use support::deploy_stack::*;

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
