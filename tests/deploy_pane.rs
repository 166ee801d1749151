//! The Deploy pane renders the stack's files through the real engine into a real
//! directory: preview first, write only after a yes, never in read-only mode.

mod support;

use std::os::unix::fs::PermissionsExt;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::target::Target;
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::panes::deploy::Stage;
use ratatui::style::Color;
use support::app::{app_with, find, render, screen_text};

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Fill the form the way an operator does: edit the domain, then the directory.
fn fill_form(app: &mut App, domain: &str, dir: &str) {
    app.on_action(Action::FocusDeploy);
    app.zoomed = true;
    key(app, KeyCode::Enter);
    type_text(app, domain);
    key(app, KeyCode::Enter);
    for _ in 0..3 {
        key(app, KeyCode::Down);
    }
    key(app, KeyCode::Enter);
    for _ in 0..app.deploy.directory.len() {
        key(app, KeyCode::Backspace);
    }
    type_text(app, dir);
    key(app, KeyCode::Enter);
}

/// Run each effect the keys asked for through the job the event loop runs, and hand the
/// result back to the app.
fn run_effects(app: &mut App, effects: Vec<Effect>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // odoo-ops' journal and backups: not this machine's /var/lib/odoo-ops.
    let state = tempfile::tempdir().unwrap();
    let dirs = odoo_ops::workflow::StateDirs::under(state.path());
    for effect in effects {
        let message = runtime
            .block_on(odoo_ops::tui::stack_job::run_in(
                &Target::local(),
                Some(&dirs),
                effect,
            ))
            .expect("a stack effect");
        app.apply(message);
    }
}

#[test]
fn the_form_before_anything_is_rendered() {
    let mut app = app_with(Settings::builtin(), 100, 24);
    app.on_action(Action::FocusDeploy);
    app.zoomed = true;
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn preview_then_yes_writes_the_files_and_a_second_preview_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack");
    let mut app = app_with(Settings::builtin(), 120, 60);
    fill_form(&mut app, "erp.example.com", out.to_str().unwrap());
    assert_eq!(app.deploy.domain, "erp.example.com");

    let effects = key(&mut app, KeyCode::Char('p'));
    assert!(matches!(effects.as_slice(), [Effect::PlanStack(r)] if r.directory == out));
    run_effects(&mut app, effects);
    assert_eq!(app.deploy.stage, Stage::Planned);
    let text = screen_text(render(&app).backend().buffer());
    for file in ["docker-compose.yml", "odoo.conf", ".env"] {
        assert!(
            text.contains(&format!("create {}", out.join(file).display())),
            "{file}:\n{text}"
        );
    }
    assert!(!out.exists(), "a preview writes nothing");

    // `w` asks first; `n` keeps everything as it was.
    assert!(key(&mut app, KeyCode::Char('w')).is_empty());
    assert_eq!(app.deploy.stage, Stage::Confirming);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("Write these files?"), "{text}");
    // The answer keys are the keymap's, every key that answers.
    let keymap = odoo_ops::config::Keymap::builtin();
    let answers = format!(
        "{} yes · {} no",
        keymap.keys_label(Action::Confirm),
        keymap.keys_label(Action::Cancel)
    );
    assert!(text.contains(&answers), "{answers:?} not in {text}");
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(!out.exists());

    key(&mut app, KeyCode::Char('w'));
    let effects = key(&mut app, KeyCode::Char('y'));
    assert!(matches!(effects.as_slice(), [Effect::WriteStack(_)]));
    run_effects(&mut app, effects);
    assert!(
        matches!(app.deploy.stage, Stage::Written(_)),
        "{:?}",
        app.deploy.stage
    );
    let env = std::fs::metadata(out.join(".env")).unwrap();
    assert_eq!(env.permissions().mode() & 0o777, 0o600);
    let conf = std::fs::read_to_string(out.join("odoo.conf")).unwrap();
    assert!(conf.contains("proxy_mode = True"));

    // Rendering again for the same values changes nothing, secrets included.
    let env_before = std::fs::read_to_string(out.join(".env")).unwrap();
    let effects = key(&mut app, KeyCode::Char('p'));
    run_effects(&mut app, effects);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("already holds exactly these files"), "{text}");
    assert_eq!(
        std::fs::read_to_string(out.join(".env")).unwrap(),
        env_before
    );
}

#[test]
fn a_bigger_droplet_shows_the_odoo_conf_diff_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack");
    let mut app = app_with(Settings::builtin(), 140, 80);
    fill_form(&mut app, "erp.example.com", out.to_str().unwrap());
    let effects = key(&mut app, KeyCode::Char('p'));
    run_effects(&mut app, effects);
    key(&mut app, KeyCode::Char('w'));
    let effects = key(&mut app, KeyCode::Char('y'));
    run_effects(&mut app, effects);

    // Select the size and step it until the droplet has more CPUs.
    for _ in 0..3 {
        key(&mut app, KeyCode::Up);
    }
    key(&mut app, KeyCode::Down);
    let before = app.deploy.size;
    key(&mut app, KeyCode::Enter);
    assert_ne!(app.deploy.size, before);
    while !odoo_ops::stack::SIZES[app.deploy.size]
        .slug
        .starts_with("s-4vcpu")
    {
        key(&mut app, KeyCode::Enter);
    }
    let effects = key(&mut app, KeyCode::Char('p'));
    run_effects(&mut app, effects);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let text = screen_text(buffer);
    assert!(
        text.contains(&format!("update {}", out.join("odoo.conf").display())),
        "{text}"
    );
    let (x, y) = find(buffer, "+workers").expect("the workers line is in the diff");
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let env = std::fs::read_to_string(out.join(".env")).unwrap();
    for (key, value) in env.lines().filter_map(|l| l.split_once('=')) {
        if key.contains("PASSWORD") {
            assert!(!text.contains(value), "{key}'s value is on screen");
        }
    }

    key(&mut app, KeyCode::Char('w'));
    let effects = key(&mut app, KeyCode::Char('y'));
    run_effects(&mut app, effects);
    let Stage::Written(applied) = &app.deploy.stage else {
        panic!("{:?}", app.deploy.stage)
    };
    assert!(
        applied
            .backups
            .iter()
            .any(|b| b.to_string_lossy().contains("odoo.conf")),
        "{applied:?}"
    );
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack");
    let mut app = app_with(Settings::builtin(), 120, 30);
    fill_form(&mut app, "erp example.com", out.to_str().unwrap());
    let effects = key(&mut app, KeyCode::Char('p'));
    run_effects(&mut app, effects);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "failed:").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    assert!(screen_text(buffer).contains("nothing was written"));
    assert!(key(&mut app, KeyCode::Char('w')).is_empty());
    assert!(!out.exists());
}

#[test]
fn read_only_previews_but_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack");
    let mut app = app_with(Settings::builtin(), 120, 40);
    app.readonly = true;
    app.deploy = odoo_ops::tui::panes::deploy::DeployPane::new(true);
    fill_form(&mut app, "erp.example.com", out.to_str().unwrap());
    let effects = key(&mut app, KeyCode::Char('p'));
    run_effects(&mut app, effects);
    assert!(
        screen_text(render(&app).backend().buffer()).contains("read-only: nothing will be written")
    );
    key(&mut app, KeyCode::Char('w'));
    assert_eq!(app.deploy.stage, Stage::Planned, "no question is asked");
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(!out.exists());
}
