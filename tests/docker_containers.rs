//! The Containers model against the real Docker engine: containers of a compose project
//! (labels as Compose writes them) in every state an operator meets, kept up to date by
//! Docker's event stream alone, with stats, actions and inspect.

mod support;

use std::sync::Arc;
use std::time::Duration;

use odoo_ops::docker::worker::{self, Action, DockerCommand, DockerEvent, DockerHandle, Scope};
use odoo_ops::docker::{ComposeFlavor, Container, Health, Model, State};
use odoo_ops::target::Target;
use support::docker::{Project, compose_v2_config};
use support::sshd::Sshd;
use support::{ports, standin};

/// The worker runs without its safety poll here: whatever shows up came through Docker's
/// event stream.
const BY_EVENTS: Duration = Duration::from_secs(25);

async fn wait_model(
    handle: &DockerHandle,
    what: &str,
    pred: impl Fn(&Model) -> bool,
) -> Arc<Model> {
    let mut rx = handle.model.clone();
    let found = tokio::time::timeout(BY_EVENTS, async {
        loop {
            let m = rx.borrow_and_update().clone();
            if pred(&m) {
                return m;
            }
            rx.changed().await.expect("the docker worker stopped");
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        let m = handle.snapshot();
        let rows: Vec<String> = m
            .containers
            .iter()
            .map(|c| {
                format!(
                    "{} {:?} {:?} exit={:?} restarts={} oom={}",
                    c.service, c.state, c.health, c.exit_code, c.restart_count, c.oom_killed
                )
            })
            .collect();
        panic!(
            "timed out waiting for {what}; model: {rows:#?} error={:?}",
            m.error
        )
    })
}

/// The Containers pane drawn from `model`, zoomed on a wide screen, as text.
fn pane_text(model: &Arc<Model>) -> String {
    let mut app = odoo_ops::tui::app::App::new(
        odoo_ops::config::Settings::builtin(),
        false,
        "test".into(),
        odoo_ops::tui::app::Connection::Local,
    );
    app.size = ratatui::layout::Rect::new(0, 0, 220, 20);
    app.on_action(odoo_ops::config::keymap::Action::FocusContainers);
    app.zoomed = true;
    app.containers.apply(model.clone(), 0);
    support::app::screen_text(support::app::render(&app).backend().buffer())
}

fn service<'a>(m: &'a Model, name: &str) -> Option<&'a Container> {
    m.containers.iter().find(|c| c.service == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_arrives_through_events_and_actions_work() {
    let image = standin::ensure_image(standin::RELEASES[0]);
    let project = Project::new("states");
    let mut handle = worker::spawn_with_poll(
        Target::local(),
        Scope {
            project: Some(project.name.clone()),
        },
        false,
        None,
    );
    let m = wait_model(&handle, "the first listing and the event stream", |m| {
        m.loaded && m.live && m.compose != ComposeFlavor::Unknown
    })
    .await;
    assert!(m.containers.is_empty(), "a fresh project has no containers");
    // This machine has Debian's docker-compose 1.29 and no compose plugin.
    assert!(
        matches!(&m.compose, ComposeFlavor::V1(v) if v.starts_with("1.")),
        "{:?}",
        m.compose
    );

    let public = ports::free_port().to_string();
    let local = ports::free_port().to_string();
    let public_map = format!("0.0.0.0:{public}:8069");
    let local_map = format!("127.0.0.1:{local}:8069");
    project.run("odoo", &["-p", &public_map], &image);
    project.run("db", &["-p", &local_map], &image);
    project.run("crashy", &["-e", "STANDIN_MODE=crash-after:1"], &image);
    project.run("killed", &["-e", "STANDIN_MODE=exit-137-after:1"], &image);
    project.run(
        "hungry",
        &["--memory", "64m", "-e", "STANDIN_MODE=oom"],
        &image,
    );
    project.run(
        "looping",
        &["--restart", "always", "-e", "STANDIN_MODE=refuse-start"],
        &image,
    );
    // A shell-form healthcheck in a FROM-scratch image: there is no /bin/sh, so every
    // probe fails, as a broken healthcheck does on a real host.
    project.run(
        "sick",
        &[
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &image,
    );

    let m = wait_model(&handle, "every container in its state", |m| {
        let is = |s: &str, f: &dyn Fn(&Container) -> bool| service(m, s).is_some_and(f);
        is("odoo", &|c| c.state == State::Running)
            && is("db", &|c| c.state == State::Running)
            && is("crashy", &|c| {
                c.state == State::Exited && c.exit_code == Some(1)
            })
            && is("killed", &|c| {
                c.state == State::Exited && c.exit_code == Some(137)
            })
            && is("hungry", &|c| c.oom_killed && c.exit_code == Some(137))
            && is("looping", &|c| {
                c.state == State::Restarting && c.restart_count >= 1
            })
            && is("sick", &|c| c.health == Health::Unhealthy)
    })
    .await;

    // The pane, fed the live model, shows each state.
    let text = pane_text(&m);
    for (service, shown) in [
        ("odoo", "running"),
        ("db", "running"),
        ("crashy", "exited 1"),
        ("killed", "exited 137"),
        ("hungry", "exited 137 OOM"),
        ("looping", "restarting"),
        ("sick", "unhealthy"),
    ] {
        let row = text
            .lines()
            .find(|l| l.contains(&format!("{}-{service}-1", project.name)))
            .unwrap_or_else(|| panic!("{service} row in\n{text}"));
        assert!(row.contains(shown), "{service}: {shown} in {row}");
    }
    assert!(
        text.contains(&format!("⚠ 0.0.0.0:{public}->8069/tcp")),
        "{text}"
    );
    assert!(text.contains("docker-compose 1.29.2 · live"), "{text}");

    let odoo = service(&m, "odoo").unwrap();
    assert_eq!(odoo.image, "odoo-ops-test/odoo");
    assert_eq!(odoo.tag, standin::RELEASES[0]);
    assert!(
        odoo.digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert_eq!(odoo.project, project.name);
    assert_eq!(odoo.name, format!("{}-odoo-1", project.name));
    assert_eq!(odoo.compose_version.as_deref(), Some("1.29.2"));
    assert!(odoo.started_at.is_some());
    // Odoo published on every interface is flagged; the database on loopback is not.
    let exposed: Vec<String> = odoo.exposed_ports().iter().map(|p| p.describe()).collect();
    assert_eq!(exposed, [format!("0.0.0.0:{public}->8069/tcp")]);
    assert!(service(&m, "db").unwrap().exposed_ports().is_empty());
    assert!(service(&m, "killed").unwrap().was_killed());
    assert!(!service(&m, "crashy").unwrap().was_killed());

    // The stats stream feeds the sparkline.
    wait_model(&handle, "stats for the running Odoo", |m| {
        service(m, "odoo").is_some_and(|c| !c.usage.mem.is_empty() && !c.usage.cpu.is_empty())
    })
    .await;

    // Actions go through the engine; their effect comes back through events.
    let id = odoo.id.clone();
    handle.send(DockerCommand::Stop(id.clone()));
    wait_model(&handle, "odoo stopped", |m| {
        service(m, "odoo").is_some_and(|c| c.state == State::Exited)
    })
    .await;
    handle.send(DockerCommand::Start(id.clone()));
    wait_model(&handle, "odoo running again", |m| {
        service(m, "odoo").is_some_and(|c| c.state == State::Running)
    })
    .await;
    let mut done = Vec::new();
    handle.send(DockerCommand::Inspect(id.clone()));
    while done.len() < 3 {
        let event = tokio::time::timeout(BY_EVENTS, handle.events.recv())
            .await
            .expect("an action result")
            .expect("the worker is alive");
        done.push(event);
    }
    assert!(done.contains(&DockerEvent::ActionDone {
        action: Action::Stop,
        container: id.clone(),
        result: Ok(())
    }));
    let inspected = done
        .iter()
        .find_map(|e| match e {
            DockerEvent::Inspected { result, .. } => Some(result.clone()),
            _ => None,
        })
        .unwrap()
        .unwrap();
    assert!(inspected.contains(&format!("\"/{}-odoo-1\"", project.name)));

    // A container removed outside the console disappears from the model.
    project.docker(&["rm", "-f", &format!("{}-crashy-1", project.name)]);
    wait_model(&handle, "crashy gone", |m| service(m, "crashy").is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readonly_session_refuses_actions_in_the_engine() {
    let image = standin::ensure_image(standin::RELEASES[0]);
    let project = Project::new("readonly");
    let mut handle = worker::spawn_with_poll(
        Target::local(),
        Scope {
            project: Some(project.name.clone()),
        },
        true,
        None,
    );
    project.run("odoo", &[], &image);
    let m = wait_model(&handle, "odoo running", |m| {
        service(m, "odoo").is_some_and(|c| c.state == State::Running)
    })
    .await;
    let id = service(&m, "odoo").unwrap().id.clone();
    handle.send(DockerCommand::Stop(id.clone()));
    let event = tokio::time::timeout(BY_EVENTS, handle.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&event, DockerEvent::ActionDone { result: Err(e), .. } if e.contains("read-only")),
        "{event:?}"
    );
    let state = project.docker(&["inspect", "-f", "{{.State.Status}}", &id]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "running");
}

/// Real droplets have Compose v2 (`docker compose`): a host whose Docker CLI has the
/// plugin is reached over SSH, and the pane says which Compose runs there, live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_v2_on_a_remote_host_is_detected_and_shown() {
    let sshd = Sshd::start_with(&format!(
        "SetEnv DOCKER_CONFIG={}",
        compose_v2_config().display()
    ));
    let project = Project::new("composev2");
    let handle = worker::spawn_with_poll(
        sshd.target().await,
        Scope {
            project: Some(project.name.clone()),
        },
        false,
        None,
    );
    let m = wait_model(&handle, "the first listing over SSH", |m| {
        m.loaded && m.live && m.compose != ComposeFlavor::Unknown
    })
    .await;
    let ComposeFlavor::V2(version) = &m.compose else {
        panic!("expected Compose v2, got {:?}", m.compose)
    };
    assert!(version.starts_with("2."), "{version}");
    let text = pane_text(&m);
    assert!(
        text.contains(&format!("docker compose {version} · live")),
        "{text}"
    );
}
