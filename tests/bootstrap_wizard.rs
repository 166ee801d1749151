//! The bootstrap wizard in the console: its form (each field checked as it is typed, the
//! error beside it), its step view (a failed step with how to continue or undo), and the
//! real engine driven from the wizard's state against the stand-in DigitalOcean API: the
//! form's answers become the droplet create request, the files it writes are the ones
//! `odoo-ops bootstrap --answers` continues from, and its undo deletes the droplet.
//!
//! The console's jobs run here on the console's own job runner with the real client, as
//! the event loop runs them; only the bootstrap run itself is started by the test, from
//! the request the wizard asked for, so it can stop after the droplet is created (`until`)
//! and wait in milliseconds instead of a real droplet's minutes.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::bootstrap::run::{self, Failure, Waits};
use odoo_ops::bootstrap::steps::{Progress, Step};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::digitalocean::{Client, RetryPolicy, Token};
use odoo_ops::jobs::{JobEvent, JobRunner};
use odoo_ops::target::Target;
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::jobs::ConsoleJob;
use odoo_ops::tui::message::Message;
use odoo_ops::tui::wizard::{BootstrapEvent, Stage, job};
use ratatui::style::Color;
use support::app::{app_with, find, render, screen_text};
use support::do_api::{DoApi, TOKEN};

const FINGERPRINT: &str = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa";

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(press(app, KeyCode::Char(c)).is_empty());
    }
}

/// The wizard opened from the Droplets pane with `n`, its files kept in `dir`.
fn opened(dir: &Path, width: u16, height: u16) -> (App, Vec<Effect>) {
    let mut app = app_with(Settings::builtin(), width, height);
    app.bootstrap.dir = Some(dir.to_path_buf());
    let mut effects = app.on_action(Action::FocusDroplets);
    effects.extend(press(&mut app, KeyCode::Char('n')));
    assert!(app.bootstrap.open);
    assert!(
        effects.contains(&Effect::LoadBootstrap(Some(dir.to_path_buf()))),
        "opening reads the account by a job: {effects:?}"
    );
    // The Droplets pane's own list is another test's matter.
    effects.retain(|e| matches!(e, Effect::LoadBootstrap(_)));
    (app, effects)
}

fn client(api: &DoApi) -> Client {
    let retry = RetryPolicy {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    Client::new(&Token::new(TOKEN), &api.url, retry).unwrap()
}

/// Run the effects that are jobs on a console job runner with the client, applying what
/// they report to the app as the event loop does, until each has finished.
fn run_jobs(rt: &tokio::runtime::Runtime, app: &mut App, client: &Client, effects: Vec<Effect>) {
    rt.block_on(async {
        let (runner, mut events) = JobRunner::<ConsoleJob>::new();
        let mut pending = 0;
        for effect in effects {
            if let Some(job) = ConsoleJob::new(&Target::local(), effect) {
                runner.submit(job.with_cloud(Ok(client.clone())));
                pending += 1;
            }
        }
        while pending > 0 {
            let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
                .await
                .expect("a job finished in time")
                .expect("the runner is alive");
            if matches!(event, JobEvent::Finished { .. } | JobEvent::Dropped { .. }) {
                pending -= 1;
            }
            if let Some(message) = odoo_ops::tui::jobs::message(event) {
                app.apply(message);
            }
        }
    });
}

/// Every field filled the way an operator would: typed, or picked from the account.
fn fill_the_form(app: &mut App) {
    typed(app, "wiz-erp-1");
    press(app, KeyCode::Tab);
    // Region and size hold the defaults; the account offers them too.
    press(app, KeyCode::PageDown);
    press(app, KeyCode::Tab);
    press(app, KeyCode::PageDown);
    press(app, KeyCode::Tab);
    press(app, KeyCode::PageDown);
    press(app, KeyCode::Tab);
    typed(app, "erp.example.com");
    press(app, KeyCode::Tab);
    typed(app, "odoo");
    press(app, KeyCode::Tab);
    typed(app, "18.0");
    press(app, KeyCode::Tab);
    press(app, KeyCode::Tab);
    typed(app, "ops@example.com");
}

#[test]
fn the_form_checks_each_key_press_and_shows_the_error_beside_the_field() {
    let api = DoApi::start(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = PathBuf::from("/home/ops/.local/state/odoo-ops/bootstrap");
    let (mut app, effects) = opened(&dir, 110, 26);
    run_jobs(&rt, &mut app, &client(&api), effects);
    typed(&mut app, "erp_prod");
    // Down to the SSH key: the account's key is offered there.
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(
        text.contains("name          erp_prod") && text.contains("✗ '_' is not allowed"),
        "{text}"
    );
    assert!(
        text.contains("ops laptop (3b:16:bf"),
        "the account's key: {text}"
    );
    assert!(!text.contains(TOKEN), "never the token");
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "✗ '_'").unwrap();
    assert_eq!(buffer[(x, y)].fg, Color::Red);

    // Enter goes to the first bad field instead of starting; Esc there puts it back.
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.bootstrap.stage, Stage::Form);
    assert_eq!(app.bootstrap.form.selected, 0);
    press(&mut app, KeyCode::Backspace);
    assert_eq!(app.bootstrap.form.values[0], "erp_pro");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.bootstrap.form.values[0], "erp_prod", "the edit undone");
    press(&mut app, KeyCode::Esc);
    assert!(!app.bootstrap.open, "a second Esc closes the wizard");
    assert_eq!(app.bootstrap.form.values[0], "erp_prod", "answers kept");
}

#[test]
fn the_step_view_says_what_failed_what_was_done_and_how_to_continue_or_undo() {
    let dir = PathBuf::from("/home/ops/.local/state/odoo-ops/bootstrap");
    let (mut app, _) = opened(&dir, 120, 32);
    app.bootstrap.answers_path = Some(dir.join("erp-prod-1.toml"));
    app.bootstrap.form.values[0] = "erp-prod-1".into();
    app.bootstrap.stage = Stage::Steps;
    app.bootstrap.steps.started();
    let events = [
        run::Event::AlreadyDone {
            step: Step::Choose,
            fact: "erp-prod-1 in sgp1, s-2vcpu-4gb, odoo:18.0".into(),
        },
        run::Event::Started {
            step: Step::CreateDroplet,
        },
        run::Event::Notice {
            step: Step::CreateDroplet,
            text: "droplet 4242 (erp-prod-1) created in sgp1".into(),
        },
        run::Event::Done {
            step: Step::CreateDroplet,
            fact: "droplet 4242 at 203.0.113.10".into(),
        },
        run::Event::Started {
            step: Step::WaitReady,
        },
    ];
    for e in events {
        app.apply(Message::Bootstrap(BootstrapEvent::Step(e)));
    }
    app.apply(Message::Bootstrap(BootstrapEvent::Ended(Err(Failure {
        step: Step::WaitReady,
        error: "cloud-init reported an error: package install failed".into(),
        already_done: "already done: choose (erp-prod-1); create the droplet (droplet 4242)".into(),
        droplet_id: Some(4242),
    }))));
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(
        text.contains("failed: cloud-init reported an error"),
        "{text}"
    );
    assert!(
        text.contains("to continue: fix the cause and press r"),
        "{text}"
    );
    assert!(text.contains("u deletes droplet 4242"), "{text}");

    // Undo asks first; no is nothing.
    assert!(press(&mut app, KeyCode::Char('u')).is_empty());
    assert!(screen_text(render(&app).backend().buffer()).contains("Delete droplet 4242"));
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.bootstrap.steps.confirm_undo, None);
    // Going back from the step view forgets the selected step and those after it.
    press(&mut app, KeyCode::Up);
    let effects = press(&mut app, KeyCode::Char('b'));
    assert!(
        matches!(
            &effects[..],
            [Effect::BootstrapGoBack(_, Step::CreateDroplet)]
        ),
        "{effects:?}"
    );
}

#[test]
fn the_wizard_drives_the_engine_its_answers_become_the_create_request_and_undo_deletes() {
    let api = DoApi::start(0);
    api.set_new_droplet_ipv4("127.0.0.1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = client(&api);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("bootstrap");
    let (mut app, effects) = opened(&dir, 120, 32);
    run_jobs(&rt, &mut app, &client, effects);
    fill_the_form(&mut app);
    assert_eq!(
        app.bootstrap.form.first_invalid(),
        None,
        "{:?}",
        app.bootstrap.form
    );

    // Enter asks first (a droplet is billed); yes starts the run as a job.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(screen_text(render(&app).backend().buffer()).contains("Create droplet wiz-erp-1"));
    let effects = press(&mut app, KeyCode::Char('y'));
    let [Effect::RunBootstrap(request)] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(request.answers_path, dir.join("wiz-erp-1.toml"));

    // The engine, from what the wizard asked, as its job does, stopped after the create.
    let answers = job::prepare(request).unwrap();
    let mut setup = job::console_setup(request, answers);
    setup.until = Some(Step::CreateDroplet);
    setup.waits = Waits {
        action_poll: Duration::from_millis(100),
        droplet_active: Duration::from_secs(30),
        ..Waits::default()
    };
    let mut events = Vec::new();
    let outcome = rt.block_on(run::run(&setup, &client, &mut |e| events.push(e)));
    for e in events {
        app.apply(Message::Bootstrap(BootstrapEvent::Step(e)));
    }
    app.apply(Message::Bootstrap(BootstrapEvent::Ended(outcome)));

    // The form's answers are the create request DigitalOcean got.
    let bodies = api.create_bodies();
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0];
    assert_eq!(body["name"], "wiz-erp-1");
    assert_eq!(body["region"], "sgp1");
    assert_eq!(body["size"], "s-2vcpu-4gb");
    assert_eq!(body["tags"], serde_json::json!(["odoo-ops"]));
    let key = &body["ssh_keys"][0];
    assert!(
        *key == serde_json::json!(512189) || *key == serde_json::json!(FINGERPRINT),
        "the account's key: {key}"
    );
    api.assert_valid();
    let progress = Progress::load(&request.state_file).unwrap();
    let id = progress.droplet_id.expect("recorded");
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains(&format!("droplet {id} at 127.0.0.1")),
        "{text}"
    );
    assert!(text.contains("not done: wait_ready"), "{text}");
    let written = std::fs::read_to_string(&request.answers_path).unwrap();
    assert!(written.contains("name = \"wiz-erp-1\""), "{written}");
    assert!(
        !written.contains(TOKEN) && !written.contains("dop_v1"),
        "{written}"
    );

    // The command line continues the wizard's bootstrap from the same files.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(["bootstrap", "--until", "create_droplet", "--answers"])
        .arg(&request.answers_path)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("DIGITALOCEAN_ACCESS_TOKEN", TOKEN)
        .env("DIGITALOCEAN_API_URL", &api.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[create_droplet] already done"), "{stdout}");
    assert_eq!(api.count("POST", "/v2/droplets"), 1, "no second droplet");

    // Opened again later, the wizard finds the unfinished bootstrap and shows its steps.
    let (mut again, effects) = opened(&dir, 120, 32);
    run_jobs(&rt, &mut again, &client, effects);
    assert_eq!(again.bootstrap.stage, Stage::Steps);
    assert_eq!(again.bootstrap.form.values[0], "wiz-erp-1");
    assert_eq!(again.bootstrap.steps.droplet_id, Some(id));

    // Undo from the step view: asked, confirmed, run as a job; the droplet is gone.
    assert!(press(&mut again, KeyCode::Char('u')).is_empty());
    let effects = press(&mut again, KeyCode::Char('y'));
    assert!(
        matches!(&effects[..], [Effect::UndoBootstrap(_)]),
        "{effects:?}"
    );
    run_jobs(&rt, &mut again, &client, effects);
    assert!(!api.droplet_ids().contains(&id));
    let text = screen_text(render(&again).backend().buffer());
    assert!(
        text.contains(&format!("undone: droplet {id} deleted")),
        "{text}"
    );
    assert_eq!(
        Progress::load(&request.state_file).unwrap(),
        Progress::default()
    );
}

/// The real binary in a real terminal (tmux): `2` then `n` opens the wizard, keys typed
/// into the form show the error beside the field as they are typed, the account's SSH key
/// is picked with pagedown, and yes creates the droplet the form describes.
#[test]
fn typed_into_the_real_console_the_form_creates_the_droplet() {
    let api = DoApi::start(0);
    api.set_new_droplet_ipv4("127.0.0.1");
    let tmux = support::tmux::Tmux::start(130, 36);
    let dir = tmux.dir.path();
    tmux.type_line(&format!(
        "HOME={dir} XDG_STATE_HOME={dir}/state DIGITALOCEAN_ACCESS_TOKEN={TOKEN} DIGITALOCEAN_API_URL={url} {bin} 2>{dir}/stderr.txt; echo $? > {dir}/exit-status.txt",
        dir = dir.display(),
        url = api.url,
        bin = env!("CARGO_BIN_EXE_odoo-ops"),
    ));
    tmux.wait_for("1 Host");
    tmux.keys(&["2"]);
    tmux.wait_until(
        |s| s.lines().any(|l| l.starts_with("┏ 2 Droplets")),
        "Droplets is focused",
    );
    tmux.keys(&["n"]);
    tmux.wait_for("Bootstrap a new droplet");
    let literally = |text: &str| {
        tmux.run(&["send-keys", "-t", "main", "-l", text]);
    };
    literally("wiz_");
    tmux.wait_for("✗ '_' is not allowed in a droplet name");
    tmux.keys(&["BSpace"]);
    literally("1");
    tmux.wait_until(|s| !s.contains("✗"), "the name passes");
    tmux.keys(&["Tab", "Tab", "Tab"]);
    tmux.wait_for("ops laptop (3b:16");
    tmux.keys(&["NPage", "Tab"]);
    literally("erp.example.com");
    tmux.keys(&["Tab"]);
    literally("odoo");
    tmux.keys(&["Tab"]);
    literally("18.0");
    tmux.keys(&["Tab", "Tab"]);
    literally("ops@example.com");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Create droplet wiz1 (s-2vcpu-4gb in sgp1)");
    tmux.keys(&["y"]);
    let screen = tmux.wait_until_within(
        Duration::from_secs(60),
        |s| s.contains("at 127.0.0.1"),
        "the droplet is created",
    );
    assert!(screen.contains("✓ 2. create the droplet"), "{screen}");
    assert!(!screen.contains(TOKEN));
    let body = &api.create_bodies()[0];
    assert_eq!(body["name"], "wiz1");
    assert_eq!(body["region"], "sgp1");
    let state = dir.join("state/odoo-ops/bootstrap/wiz1.state.json");
    let progress = Progress::load(&state).unwrap();
    assert!(progress.droplet_id.is_some(), "{progress:?}");
    // Closed, the console quits as usual.
    // (Esc and q apart: sent together a terminal reads them as alt+q.)
    tmux.keys(&["Escape"]);
    tmux.wait_until(|s| !s.contains("Bootstrap wiz1"), "the wizard closed");
    tmux.keys(&["q"]);
    let status = tmux.wait_for_file(&dir.join("exit-status.txt"));
    assert_eq!(status.trim(), "0");
}

/// An answers file's text for a bootstrap of erp-prod-1, as the wizard writes it.
fn erp_answers() -> String {
    use odoo_ops::bootstrap::answers::{Answers, Field};
    Answers::file_text([
        (Field::Name, "erp-prod-1"),
        (Field::Region, "sgp1"),
        (Field::Size, "s-2vcpu-4gb"),
        (Field::SshKey, FINGERPRINT),
        (Field::Domain, "erp.example.com"),
        (Field::Image, "odoo"),
        (Field::Tag, "18.0"),
        (Field::AdminEmail, "ops@example.com"),
    ])
}

/// A state file's record: droplet 4242 created, every step up to `last` done.
fn done_through(last: Step) -> Progress {
    let mut p = Progress {
        droplet_id: Some(4242),
        droplet_ipv4: Some("203.0.113.10".into()),
        ..Default::default()
    };
    for step in Step::ALL.into_iter().filter(|s| *s <= last) {
        let fact = match step {
            Step::Choose => "erp-prod-1 in sgp1, s-2vcpu-4gb, odoo:18.0".to_string(),
            Step::CreateDroplet => "droplet 4242 at 203.0.113.10".to_string(),
            other => format!("{} done", other.key()),
        };
        p.record(step, "2026-12-01T04:00:00Z".into(), fact);
    }
    p
}

/// The screen's text with each row's border and padding cut, rows joined by a space: a
/// sentence wrapped over rows reads whole.
fn flat(app: &App) -> String {
    screen_text(render(app).backend().buffer())
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '┃' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ctrl(app: &mut App, c: char) {
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

#[test]
fn back_to_choose_after_the_droplet_shows_the_answers_with_what_is_fixed_read_only() {
    let dir = PathBuf::from("/home/ops/.local/state/odoo-ops/bootstrap");
    let (mut app, _) = opened(&dir, 120, 34);
    let answers =
        odoo_ops::bootstrap::answers::Answers::parse(&dir.join("erp-prod-1.toml"), &erp_answers())
            .unwrap();
    app.bootstrap.form = odoo_ops::tui::wizard::form::Form::from_answers(&answers);
    app.bootstrap.answers_path = Some(dir.join("erp-prod-1.toml"));
    app.bootstrap.steps.show_progress(&done_through(Step::Tls));
    app.bootstrap.stage = Stage::Steps;
    let saved = app.bootstrap.form.values.clone();

    // Up to step 1, `b`: the form again, nothing asked of a job.
    for _ in 0..Step::ALL.len() {
        press(&mut app, KeyCode::Up);
    }
    assert!(press(&mut app, KeyCode::Char('b')).is_empty());
    assert_eq!(app.bootstrap.stage, Stage::Form);
    assert_eq!(app.bootstrap.form.values, saved, "the current answers");
    let open: Vec<bool> = app
        .bootstrap
        .form
        .locked
        .iter()
        .map(Option::is_none)
        .collect();
    // name, region, size, SSH key: the droplet's; admin e-mail: TLS is done.
    assert_eq!(
        open,
        [false, false, false, false, true, true, true, true, false]
    );
    assert_eq!(
        app.bootstrap.form.selected, 4,
        "on the first field that can change"
    );

    // The name cannot be typed into; the reason is said beside the form.
    for _ in 0..4 {
        press(&mut app, KeyCode::BackTab);
    }
    assert_eq!(app.bootstrap.form.selected, 0);
    press(&mut app, KeyCode::Char('x'));
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.bootstrap.form.values[0], "erp-prod-1");
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let text = screen_text(terminal.backend().buffer());
    assert!(
        text.contains("Bootstrap erp-prod-1: step 1 again"),
        "{text}"
    );
    assert!(
        text.contains("name is read-only: droplet 4242 was created with it"),
        "{text}"
    );
    assert!(text.contains("· read-only"), "{text}");
    assert!(text.contains("enter save and continue"), "{text}");

    // The domain can change; the question says what runs again, and creates nothing.
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    ctrl(&mut app, 'u');
    typed(&mut app, "shop.example.com");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.bootstrap.stage, Stage::Confirming);
    let text = flat(&app);
    assert!(!text.contains("Create droplet"), "{text}");
    assert!(text.contains("changed: domain;"), "{text}");
    assert!(
        text.contains("\"dns\" and the steps after it run again"),
        "{text}"
    );

    // No, then Esc twice: the edit is undone and the step view is back with the answers
    // as saved (a later continue writes nothing that was not confirmed).
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.bootstrap.stage, Stage::Form);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.bootstrap.stage, Stage::Steps);
    assert_eq!(app.bootstrap.form.values, saved);
    assert!(app.bootstrap.amending.is_none());
    assert!(app.bootstrap.form.locked.iter().all(Option::is_none));
}

#[test]
fn changed_answers_are_saved_where_the_cli_reads_them_and_the_steps_using_them_run_again() {
    use odoo_ops::bootstrap::answers::{Answers, Field};
    let api = DoApi::start(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = client(&api);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("bootstrap");
    std::fs::create_dir_all(&dir).unwrap();
    let answers_path = dir.join("erp-prod-1.toml");
    std::fs::write(&answers_path, erp_answers()).unwrap();
    let state_file = odoo_ops::cli::bootstrap::default_state_file(&answers_path);
    let before = done_through(Step::Stack);
    before.save(&state_file).unwrap();

    // Opened, the wizard finds the bootstrap under way; back to step 1 from the steps.
    let (mut app, effects) = opened(&dir, 120, 34);
    run_jobs(&rt, &mut app, &client, effects);
    assert_eq!(app.bootstrap.stage, Stage::Steps);
    assert!(press(&mut app, KeyCode::Char('e')).is_empty());
    assert_eq!(app.bootstrap.stage, Stage::Form);
    let locked: Vec<Field> = Field::ALL
        .into_iter()
        .zip(&app.bootstrap.form.locked)
        .filter(|(_, why)| why.is_some())
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        locked,
        [Field::Name, Field::Region, Field::Size, Field::SshKey],
        "TLS is not done: the admin e-mail can still change"
    );

    // A new tag and admin e-mail; the stack is the first step that reads either.
    for _ in 0..2 {
        press(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.bootstrap.form.field(), Field::Tag);
    ctrl(&mut app, 'u');
    typed(&mut app, "18.0-2");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    ctrl(&mut app, 'u');
    typed(&mut app, "admin@example.com");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    let text = flat(&app);
    assert!(
        text.contains("changed: tag, admin_email; \"stack\" and the steps after it run again"),
        "{text}"
    );
    let effects = press(&mut app, KeyCode::Char('y'));
    let [Effect::RunBootstrap(request)] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(request.answers_path, answers_path);

    // The job's save, as it runs before the steps: the same answers file, the state file
    // rewound to the stack, the droplet kept.
    let saved = job::save(request).unwrap();
    assert_eq!(saved.changed, [Field::Tag, Field::AdminEmail]);
    let on_disk = Answers::load(&answers_path).unwrap();
    assert_eq!(on_disk, saved.answers);
    assert_eq!(
        (on_disk.tag.as_str(), on_disk.name.as_str()),
        ("18.0-2", "erp-prod-1")
    );
    assert_eq!(on_disk.admin_email, "admin@example.com");
    let progress = Progress::load(&state_file).unwrap();
    assert_eq!(progress, saved.progress);
    assert_eq!(progress.next(), Some(Step::Stack));
    assert!(
        progress.is_done(Step::Dns),
        "what the change does not touch stays done"
    );
    assert_eq!(progress.droplet_id, Some(4242));
    assert_eq!(
        progress.fact(Step::Choose),
        Some("erp-prod-1 in sgp1, s-2vcpu-4gb, odoo:18.0-2")
    );
    app.apply(Message::Bootstrap(BootstrapEvent::Amended {
        changed: saved.changed,
        progress: saved.progress,
    }));
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains(
            "answers saved (tag, admin_email changed): \"stack\" and the steps after it run again"
        ),
        "{text}"
    );
    assert!(text.contains("✓ 4. point the domain"), "{text}");
    assert!(text.contains(" · 5. upload the stack files"), "{text}");

    // What the droplet was made with cannot change, even asked for by hand: refused,
    // nothing written.
    let mut renamed = request.clone();
    renamed.answers_text = renamed.answers_text.replace("erp-prod-1", "erp-prod-2");
    let e = job::save(&renamed).unwrap_err();
    assert!(e.starts_with("name cannot change: droplet 4242"), "{e}");
    assert_eq!(Answers::load(&answers_path).unwrap(), on_disk);
    assert_eq!(Progress::load(&state_file).unwrap(), progress);
}
