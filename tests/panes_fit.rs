//! Panes that fit a laptop terminal: the Containers table, the help, the Host pane's
//! Docker line, the Deploy pane's hints and the layout, at 80x24, 120x40 and 200x50.

mod support;

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::keymap::Action;
use odoo_ops::docker::{ComposeFlavor, Container, Health, Model, Port, State};
use odoo_ops::tui::app::App;
use odoo_ops::tui::panes::PaneId;
use support::app::{droplet_facts, loaded_app, render, screen_text};

/// 2026-11-22 02:00:00 UTC.
const NOW: i64 = 1_795_312_800;
const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];
const HEADERS: [&str; 10] = [
    "SERVICE",
    "CONTAINER",
    "IMAGE:TAG",
    "STATE",
    "HEALTH",
    "RESTARTS",
    "UPTIME",
    "CPU",
    "MEM",
    "PORTS",
];

fn container(project: &str, service: &str, state: State) -> Container {
    Container {
        id: format!("{project}{service}0123456789abcdef"),
        name: format!("{project}-{service}-1"),
        project: project.into(),
        service: service.into(),
        image: "acme/odoo".into(),
        tag: "18.0-20261115".into(),
        state,
        started_at: Some(NOW - 3 * 3600 - 120),
        ..Container::default()
    }
}

fn stack(projects: &[&str]) -> Model {
    let mut containers = Vec::new();
    for project in projects {
        let mut odoo = container(project, "odoo", State::Running);
        odoo.health = Health::Healthy;
        odoo.ports = vec![Port {
            host_ip: "127.0.0.1".into(),
            host_port: 8069,
            container_port: 8069,
            protocol: "tcp".into(),
        }];
        for (cpu, mem) in [(2.0, 700), (35.5, 760), (12.0, 741)] {
            odoo.usage
                .push(Some(cpu), Some((mem * 1024 * 1024, 2048 * 1024 * 1024)));
        }
        // Stopped after using 93.7% of a CPU: that figure is history, not now.
        let mut worker = container(project, "worker", State::Exited);
        worker.exit_code = Some(137);
        worker.oom_killed = true;
        worker
            .usage
            .push(Some(93.7), Some((1900 * 1024 * 1024, 2048 * 1024 * 1024)));
        let mut cron = container(project, "cron", State::Restarting);
        cron.restart_count = 7;
        containers.extend([odoo, worker, cron]);
    }
    Model {
        containers,
        compose: ComposeFlavor::V2("2.29.1".into()),
        loaded: true,
        live: true,
        error: None,
        generation: 1,
    }
}

fn app_at(width: u16, height: u16, model: Model) -> App {
    let mut app = loaded_app(width, height);
    app.on_action(Action::FocusContainers);
    app.containers.apply(Arc::new(model), NOW);
    app
}

/// The table's header row, inside the Containers pane's borders.
fn header_line(text: &str) -> &str {
    let line = text
        .lines()
        .find(|l| l.contains("SERVICE"))
        .expect("the table's header on screen");
    let from = line.find("SERVICE").unwrap();
    let to = line[from..].find('┃').map_or(line.len(), |at| from + at);
    &line[from..to]
}

#[test]
fn containers_table_keeps_what_matters_at_every_size() {
    for (w, h) in SIZES {
        let app = app_at(w, h, stack(&["shop"]));
        let terminal = render(&app);
        insta::assert_snapshot!(format!("containers_{w}x{h}"), terminal.backend());
        let text = screen_text(terminal.backend().buffer());
        let header = header_line(&text);
        for must in ["SERVICE", "STATE", "HEALTH", "RESTARTS"] {
            assert!(header.contains(must), "{w}x{h}: {must} in {header:?}");
        }
        // Every word of the header is a whole header, never a stub like `STA`.
        for word in header.split(|c: char| !c.is_ascii_uppercase() && c != ':') {
            assert!(
                word.is_empty() || HEADERS.contains(&word),
                "{w}x{h}: {word:?} is a cut header in {header:?}"
            );
        }
        // The image tag is never cut: whole in the table, or whole on the details line.
        assert!(text.contains("acme/odoo:18.0-20261115"), "{w}x{h}: {text}");
        // The exited worker shows no CPU or memory.
        let worker = text
            .lines()
            .find(|l| l.contains("worker "))
            .expect("worker row");
        assert!(
            !worker.contains('%') && !worker.contains("MiB"),
            "{worker:?}"
        );
        assert!(!text.contains("93.7"), "{w}x{h}: a stopped container's CPU");
    }
    // The wide screen shows the CPU history and the running container's figures.
    let text = screen_text(
        render(&app_at(200, 50, stack(&["shop"])))
            .backend()
            .buffer(),
    );
    assert!(text.contains("12.0%") && text.contains("741 MiB"), "{text}");
}

#[test]
fn a_project_column_when_more_than_one_project_is_shown() {
    let text = screen_text(
        render(&app_at(120, 40, stack(&["shop", "crm"])))
            .backend()
            .buffer(),
    );
    let header = text.lines().find(|l| l.contains("SERVICE")).unwrap();
    assert!(header.contains("PROJECT SERVICE"), "{text}");
    let one = screen_text(
        render(&app_at(120, 40, stack(&["shop"])))
            .backend()
            .buffer(),
    );
    assert!(!one.contains("PROJECT"));
}

#[test]
fn a_small_terminal_shows_the_focused_pane_alone() {
    let mut app = loaded_app(80, 24);
    app.on_action(Action::FocusLogs);
    let layout = app.layout();
    assert_eq!(layout.panes.len(), 1);
    let (pane, area) = layout.panes[0];
    assert_eq!(pane, PaneId::Logs);
    assert_eq!((area.width, area.height), (80, 23));
    // The grid stays where it fits.
    let app = loaded_app(120, 40);
    assert_eq!(app.layout().panes.len(), 7);
}

#[test]
fn help_fits_the_terminal_and_cuts_no_description() {
    let longest = Action::ALL
        .iter()
        .map(|a| a.description())
        .max_by_key(|d| d.chars().count())
        .unwrap();
    for (w, h) in SIZES {
        let mut app = loaded_app(w, h);
        app.on_terminal(&Event::Key(KeyEvent::new(
            KeyCode::Char('?'),
            KeyModifiers::NONE,
        )));
        let terminal = render(&app);
        insta::assert_snapshot!(format!("help_{w}x{h}"), terminal.backend());
        let text = screen_text(terminal.backend().buffer());
        // Help is never wider than the terminal and, on a wide one, wider than 64.
        let top = text.lines().find(|l| l.contains("╭ Help")).unwrap();
        let chars: Vec<char> = top.chars().collect();
        let left = chars.iter().position(|c| *c == '╭').unwrap();
        let right = chars.iter().position(|c| *c == '╮').unwrap();
        let width = right - left + 1;
        assert!(width <= w as usize);
        if w == 200 {
            assert!(width > 64, "{width}");
        }
    }
    // At 200 columns (tall enough to show it all) every description is whole.
    let mut app = loaded_app(200, 120);
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    let text = screen_text(render(&app).backend().buffer());
    for action in Action::ALL {
        assert!(
            text.contains(action.description()),
            "{:?} whole at 200 columns",
            action.description()
        );
    }
    // At 80 columns a long description continues on the next line, under itself.
    let mut app = loaded_app(80, 60);
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    let text = screen_text(render(&app).backend().buffer());
    let last_word = longest.split(' ').next_back().unwrap();
    assert!(text.contains(last_word), "{text}");
}

#[test]
fn host_pane_says_what_a_docker_error_means_and_indents_it() {
    let mut facts = droplet_facts();
    facts.docker.version = None;
    facts.docker.answers = false;
    facts.docker.socket_present = true;
    facts.docker.error = Some(
        "Error in the hyper legacy client: client error (Connect): Permission denied (os error 13)"
            .into(),
    );
    let mut app = loaded_app(80, 24);
    app.host.apply(Ok(facts));
    app.on_action(Action::FocusHost);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(!text.contains("hyper"), "{text}");
    assert!(
        text.contains("engine   cannot use Docker's socket /var/run/docker.sock:"),
        "{text}"
    );
    // The explanation continues under itself, not under the label.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains("engine   ")).unwrap();
    let next = lines[at + 1].trim_start_matches(['│', '┃']);
    assert!(
        next.starts_with("         ") && !next.trim().is_empty(),
        "{next:?}"
    );
    assert!(text.contains("docker group"), "{text}");
}

#[test]
fn deploy_pane_has_key_hints() {
    let mut app = loaded_app(120, 40);
    app.on_action(Action::FocusDeploy);
    app.zoomed = true;
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("enter edit · p preview"), "{text}");
}
