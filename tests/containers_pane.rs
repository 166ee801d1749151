//! The Containers pane in each state, on ratatui's TestBackend: loading, empty, a stack
//! in every state (with the sparkline and the exposure flag), the confirm question, the
//! read-only refusal, the inspect view. Colour carries state, so it is asserted.

mod support;

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::docker::model::Usage;
use odoo_ops::docker::worker::{Action as DockerAction, DockerCommand, DockerEvent};
use odoo_ops::docker::{ComposeFlavor, Container, Health, Model, Port, State};
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::panes::PaneId;
use ratatui::style::Color;
use support::app::{find, render, screen_text};

/// 2026-11-22 02:00:00 UTC.
const NOW: i64 = 1_795_312_800;

fn port(ip: &str, host: u16, inner: u16) -> Port {
    Port {
        host_ip: ip.into(),
        host_port: host,
        container_port: inner,
        protocol: "tcp".into(),
    }
}

fn container(service: &str, state: State) -> Container {
    Container {
        id: format!("{service}0123456789abcdef"),
        name: format!("shop-{service}-1"),
        project: "shop".into(),
        service: service.into(),
        image: "acme/odoo".into(),
        tag: "18.0-20261115".into(),
        digest: Some("sha256:4f2c9a1be0d7c3aa55e1".into()),
        state,
        started_at: Some(NOW - 3 * 3600 - 120),
        compose_version: Some("2.29.1".into()),
        ..Container::default()
    }
}

fn stack() -> Model {
    let mut odoo = container("odoo", State::Running);
    odoo.health = Health::Healthy;
    odoo.ports = vec![port("0.0.0.0", 8069, 8069), port("127.0.0.1", 8072, 8072)];
    odoo.usage = Usage::default();
    for (cpu, mem) in [(2.0, 700), (8.0, 720), (35.5, 760), (12.0, 741)] {
        odoo.usage
            .push(Some(cpu), Some((mem * 1024 * 1024, 2048 * 1024 * 1024)));
    }
    let mut db = container("db", State::Running);
    db.image = "postgres".into();
    db.tag = "15".into();
    db.ports = vec![port("127.0.0.1", 5432, 5432)];
    let mut cron = container("cron", State::Restarting);
    cron.restart_count = 7;
    cron.exit_code = Some(1);
    let mut worker = container("worker", State::Exited);
    worker.exit_code = Some(137);
    worker.oom_killed = true;
    worker.finished_at = Some(NOW - 60);
    let mut killed = container("queue", State::Exited);
    killed.exit_code = Some(137);
    let mut nginx = container("nginx", State::Running);
    nginx.image = "nginx".into();
    nginx.tag = "1.27".into();
    nginx.health = Health::Unhealthy;
    nginx.ports = vec![port("0.0.0.0", 443, 443)];
    let mut migrate = container("migrate", State::Exited);
    migrate.exit_code = Some(0);
    Model {
        containers: vec![odoo, db, cron, worker, killed, nginx, migrate],
        compose: ComposeFlavor::V2("2.29.1".into()),
        loaded: true,
        live: true,
        error: None,
        generation: 3,
    }
}

fn containers_app(model: Model, readonly: bool) -> App {
    let mut app = App::new(
        Settings::builtin(),
        readonly,
        "odoo-prod-1".into(),
        odoo_ops::tui::app::Connection::Local,
    );
    app.size = ratatui::layout::Rect::new(0, 0, 160, 16);
    app.on_action(Action::FocusContainers);
    app.zoomed = true;
    app.containers.apply(Arc::new(model), NOW);
    app
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

#[test]
fn a_stack_in_every_state() {
    let mut app = containers_app(stack(), false);
    // The selection bar paints over colours: select the database, check Odoo's row.
    press(&mut app, KeyCode::Down);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let fg = |text: &str| {
        let (x, y) = find(buffer, text).unwrap_or_else(|| panic!("{text} on screen"));
        buffer[(x, y)].fg
    };
    // Odoo published on every interface is flagged; its loopback port and the
    // database's are not; nginx may listen publicly.
    assert_eq!(fg("⚠ 0.0.0.0:8069->8069/tcp"), Color::Red);
    assert_eq!(fg("0.0.0.0:443->443/tcp"), Color::Reset);
    assert_eq!(fg("exited 137 OOM"), Color::Red);
    assert_eq!(fg("unhealthy"), Color::Red);
    assert_eq!(fg("restarting"), Color::Yellow);
    assert_eq!(fg("exited 0"), Color::DarkGray);
    let text = screen_text(buffer);
    assert!(text.contains("shop · docker compose 2.29.1 · live"));
    assert!(
        text.contains("▁▂█▃  35.5%") || text.contains("  12.0%"),
        "{text}"
    );
    assert!(text.contains("3h 02m"), "uptime of a running container");
    assert!(text.contains("741 MiB"));
    // The selected container's details, and for Odoo why its exposure matters.
    assert!(text.contains("digest sha256:4f2c9a1be0d"));
    assert!(!text.contains("published beyond 127.0.0.1"));
    press(&mut app, KeyCode::Up);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("odoo published beyond 127.0.0.1: reachable from outside"));
}

#[test]
fn restart_asks_first_then_goes_to_the_engine() {
    let mut app = containers_app(stack(), false);
    assert!(press(&mut app, KeyCode::Down).is_empty());
    assert!(
        press(&mut app, KeyCode::Char('R')).is_empty(),
        "nothing before yes"
    );
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    assert!(
        screen_text(terminal.backend().buffer()).contains("Restart shop-db-1? y yes · n esc no")
    );
    // `q` is not an answer: the question stays, the console does not quit.
    assert!(press(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.should_quit && app.containers.is_confirming());
    assert_eq!(
        press(&mut app, KeyCode::Char('y')),
        [Effect::Docker(DockerCommand::Restart(
            "db0123456789abcdef".into()
        ))]
    );
    app.containers.apply_event(DockerEvent::ActionDone {
        action: DockerAction::Restart,
        container: "db0123456789abcdef".into(),
        result: Err("No such container".into()),
    });
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("restart shop-db-1 failed: No such container"));
    // Stop, then cancelled.
    press(&mut app, KeyCode::Char('S'));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(screen_text(render(&app).backend().buffer()).contains("stop shop-db-1: cancelled"));
}

#[test]
fn readonly_offers_no_action() {
    let mut app = containers_app(stack(), true);
    assert!(press(&mut app, KeyCode::Char('R')).is_empty());
    assert!(press(&mut app, KeyCode::Char('U')).is_empty());
    assert!(!app.containers.is_confirming());
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    assert!(
        screen_text(terminal.backend().buffer())
            .contains("start: not available in a read-only session")
    );
}

#[test]
fn inspect_scrolls_and_logs_open_in_the_logs_pane() {
    let mut app = containers_app(stack(), false);
    assert_eq!(
        press(&mut app, KeyCode::Char('i')),
        [Effect::Docker(DockerCommand::Inspect(
            "odoo0123456789abcdef".into()
        ))]
    );
    let json = (0..40)
        .map(|i| format!("  \"Key{i}\": {i},"))
        .collect::<Vec<_>>()
        .join("\n");
    app.containers.apply_event(DockerEvent::Inspected {
        container: "odoo0123456789abcdef".into(),
        result: Ok(format!("{{\n{json}\n}}")),
    });
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("\"Key1\": 1,") && !text.contains("\"Key0\": 0,"));
    press(&mut app, KeyCode::Esc);
    assert!(app.containers.inspect.is_none());
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Effect::OpenContainerLogs {
            container: "odoo0123456789abcdef".into(),
            name: "shop-odoo-1".into()
        }]
    );
    assert_eq!(app.focus, PaneId::Logs);
}

#[test]
fn loading_failing_and_empty() {
    let mut app = containers_app(Model::default(), false);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("Asking Docker for the compose containers…"));
    app.containers.apply(
        Arc::new(Model {
            error: Some(
                "could not open Docker's socket /var/run/docker.sock: permission denied".into(),
            ),
            ..Model::default()
        }),
        NOW,
    );
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "could not open Docker's socket").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    app.containers.apply(
        Arc::new(Model {
            loaded: true,
            live: true,
            compose: ComposeFlavor::V1("1.29.2".into()),
            ..Model::default()
        }),
        NOW,
    );
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("No container with compose labels"));
    assert!(text.contains("docker-compose 1.29.2 · live"));
}

#[test]
fn hints_name_the_keys_of_a_rebound_keymap() {
    let mut app = containers_app(stack(), false);
    app.keymap = odoo_ops::config::Keymap::parse(
        std::path::Path::new("keymap.toml"),
        "[containers]\ninspect = [\"I\"]\nstop = []\n[confirm]\nyes = [\"o\"]\n",
    )
    .unwrap();
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("enter logs · I inspect · R restart · U start"),
        "{text}"
    );
    press(&mut app, KeyCode::Char('I'));
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("esc close"), "{text}");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('R'));
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("Restart shop-odoo-1? o yes · n esc no"),
        "{text}"
    );
}

#[test]
fn a_click_selects_the_row_under_it() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = containers_app(stack(), false);
    let click = |app: &mut App, column: u16, row: u16| {
        app.on_terminal(&Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }));
    };
    for service in ["queue", "db", "migrate"] {
        let terminal = render(&app);
        let (x, y) = find(terminal.backend().buffer(), &format!("shop-{service}-1"))
            .unwrap_or_else(|| panic!("{service} is on screen"));
        click(&mut app, x, y);
        assert_eq!(app.containers.selected().unwrap().service, service);
    }
    // The header and the lines below the table select nothing.
    let before = app.containers.selected().unwrap().service.clone();
    click(&mut app, 5, 1);
    click(&mut app, 5, 14);
    assert_eq!(app.containers.selected().unwrap().service, before);
}

#[test]
fn a_click_lands_on_the_row_drawn_when_the_table_is_scrolled() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut model = stack();
    let template = model.containers[1].clone();
    for n in 0..20 {
        let mut c = template.clone();
        c.service = format!("extra{n:02}");
        c.name = format!("shop-extra{n:02}-1");
        c.id = format!("extra{n:02}0123456789");
        model.containers.push(c);
    }
    let mut app = containers_app(model, false);
    for _ in 0..20 {
        press(&mut app, KeyCode::Down);
    }
    let terminal = render(&app);
    let (x, y) = find(terminal.backend().buffer(), "shop-extra09-1").expect("on screen");
    app.on_terminal(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.containers.selected().unwrap().service, "extra09");
}

#[test]
fn rows_from_before_a_dropped_link_are_marked_stale_until_docker_answers() {
    let mut app = containers_app(stack(), false);
    app.connection_changed(
        odoo_ops::tui::app::Connection::Lost("connection reset".into()),
        "03:12:44",
    );
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("stale since 03:12:44"), "{text}");
    // The same model again (a redraw, an error while down) does not make it current.
    app.containers.apply(Arc::new(stack()), NOW);
    assert!(screen_text(render(&app).backend().buffer()).contains("stale since 03:12:44"));
    // Docker answers after the reconnect: a new generation.
    let mut fresh = stack();
    fresh.generation += 1;
    app.containers.apply(Arc::new(fresh), NOW);
    let text = screen_text(render(&app).backend().buffer());
    assert!(!text.contains("stale"), "{text}");
}
