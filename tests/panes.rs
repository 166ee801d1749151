//! Snapshots of each pane in each state, on ratatui's TestBackend, plus style assertions
//! where colour carries meaning.

mod support;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use odoo_ops::config::keymap::Action;
use odoo_ops::config::{Settings, Theme};
use odoo_ops::tui::app::{Connection, Overlay};
use odoo_ops::tui::panes::PaneId;
use ratatui::style::{Color, Modifier};
use support::app::{app_with, droplet_facts, find, loaded_app, render, screen_text};

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn chars(app: &mut odoo_ops::tui::app::App, text: &str) {
    for c in text.chars() {
        app.on_terminal(&key(KeyCode::Char(c)));
    }
}

#[test]
fn host_pane_loading() {
    let app = app_with(Settings::builtin(), 120, 36);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn whole_screen_with_host_facts() {
    let app = loaded_app(140, 42);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    // 8072 bound on 0.0.0.0 is flagged in the error colour.
    let (x, y) = find(buffer, "⚠ beyond loopback").expect("exposed port flagged");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // The focused pane's border is the focus colour; others are not.
    assert_eq!(buffer[(0, 0)].fg, Color::Cyan);
    let (cx, cy) = find(buffer, "Containers").unwrap();
    assert_ne!(buffer[(cx - 4, cy)].fg, Color::Cyan);
    // Disk at 79%: below the warning threshold, so green.
    let (dx, dy) = find(buffer, "█").unwrap();
    assert_eq!(buffer[(dx, dy)].fg, Color::Green);
}

#[test]
fn host_refresh_failure_keeps_the_old_facts_and_says_so() {
    let mut app = loaded_app(100, 30);
    app.on_action(Action::ToggleZoom);
    app.apply(odoo_ops::tui::message::Message::HostFacts(Err(
        "could not read the host's facts: connection reset".into(),
    )));
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "refresh failed").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    assert!(screen_text(buffer).contains("error: host: could not read"));
}

#[test]
fn host_pane_for_a_non_root_login_without_docker_access() {
    let mut facts = droplet_facts();
    facts.user.name = "deploy".into();
    facts.user.is_root = false;
    facts.user.in_docker_group = false;
    facts.user.passwordless_sudo = false;
    facts.docker.version = None;
    facts.docker.answers = false;
    facts.docker.error =
        Some("permission denied while trying to connect to the Docker daemon socket".into());
    let mut app = app_with(Settings::builtin(), 90, 24);
    app.host.apply(Ok(facts));
    app.on_action(Action::ToggleZoom);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "NOT in docker group").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
}

#[test]
fn help_is_generated_from_the_active_keymap() {
    let path = std::path::Path::new("mine.toml");
    let keymap = odoo_ops::config::Keymap::parse(path, "[global]\nhelp = [\"f2\"]\n").unwrap();
    let mut settings = Settings::builtin();
    settings.keymap = keymap;
    let mut app = app_with(settings, 100, 40);
    app.host.apply(Ok(droplet_facts()));
    app.on_terminal(&key(KeyCode::F(2)));
    assert!(matches!(app.overlay, Overlay::Help { .. }));
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("f2                show the keys"));
    assert!(text.contains("f2 help"), "status bar names the rebound key");
    // `q` closes help instead of quitting.
    chars(&mut app, "q");
    assert_eq!(app.overlay, Overlay::None);
    assert!(!app.should_quit);
}

#[test]
fn palette_filters_and_switches_theme() {
    let mut app = loaded_app(100, 30);
    chars(&mut app, ":");
    chars(&mut app, "theme li");
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    app.on_terminal(&key(KeyCode::Enter));
    assert_eq!(app.theme.name, "light");
    assert_eq!(app.overlay, Overlay::None);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    assert_eq!(
        buffer[(5, 5)].bg,
        Color::White,
        "light theme paints its background"
    );
}

#[test]
fn focus_cycles_zooms_and_follows_the_mouse() {
    let mut app = loaded_app(120, 40);
    assert_eq!(app.focus, PaneId::Host);
    app.on_terminal(&key(KeyCode::Tab));
    assert_eq!(app.focus, PaneId::Droplets);
    app.on_terminal(&key(KeyCode::BackTab));
    assert_eq!(app.focus, PaneId::Host);
    chars(&mut app, "4z");
    assert_eq!((app.focus, app.zoomed), (PaneId::Logs, true));
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("Logs") && !text.contains("Droplets"));
    chars(&mut app, "z");
    // Click inside the Containers pane (top right).
    app.on_terminal(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 100,
        row: 3,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.focus, PaneId::Containers);
    chars(&mut app, "q");
    assert!(app.should_quit);
}

#[test]
fn console_log_pane_toggles() {
    let mut app = loaded_app(120, 40);
    chars(&mut app, "`");
    let terminal = render(&app);
    let text = screen_text(terminal.backend().buffer());
    assert!(text.contains("odoo-ops log"));
    chars(&mut app, "`");
    let text = screen_text(render(&app).backend().buffer());
    assert!(!text.contains("odoo-ops log"));
}

#[test]
fn status_bar_shows_readonly_connection_state_and_warnings() {
    let mut settings = Settings::builtin();
    settings.warnings = vec!["/home/op/.config/odoo-ops/config.toml:3:9: key `theme`: invalid type; using the default settings".into()];
    let mut app = app_with(settings, 150, 20);
    app.readonly = true;
    app.connection = Connection::Reconnecting { attempt: 3 };
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let last = screen_text(buffer).lines().last().unwrap().to_string();
    insta::assert_snapshot!(last);
    let (x, y) = find(buffer, "READ-ONLY").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
}

#[test]
fn no_color_keeps_meaning_without_hue() {
    let mut settings = Settings::builtin();
    settings.theme = Theme::default().without_color();
    let mut app = app_with(settings, 140, 42);
    app.host.apply(Ok(droplet_facts()));
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            assert!(
                matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
                "colour at {x},{y}"
            );
        }
    }
    let (x, y) = find(buffer, "⚠ beyond loopback").unwrap();
    assert!(buffer[(x, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn a_lost_connection_says_how_to_reconnect_and_refresh_does() {
    let mut app = loaded_app(150, 20);
    app.connection = Connection::Lost("connection refused after 6 attempts".into());
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let status = screen_text(buffer).lines().last().unwrap().to_string();
    assert!(
        status.contains("lost: connection refused after 6 attempts (r reconnects)"),
        "{status}"
    );
    let (x, y) = find(buffer, "●").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let effects = app.on_action(Action::Refresh);
    assert_eq!(effects, vec![odoo_ops::tui::effect::Effect::Reconnect]);
}
