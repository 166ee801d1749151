//! `odoo-ops modules` against a real PostgreSQL container holding Odoo's two module
//! tables with a fresh Odoo 18 database's 646 rows, read through psql inside the compose
//! `db` container; and `modules install` running its phases in one-off containers of the
//! running Odoo's image (the stand-in, which changes the rows as Odoo 18 does, or fails
//! with Odoo's log lines and exit codes).

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use support::docker::Project;
use support::odoo_db::{PROJECT_INSTALLS, TOTAL, UNINSTALLABLE, UNINSTALLED};
use support::pg_image::DB_PASSWORD;
use support::standin::{RELEASES, ensure_image};

const DB: &str = "odoo";

/// A compose project as a droplet has it: `db` (real PostgreSQL, Odoo's tables) and
/// `odoo` (the stand-in of the first release, its password on its command line).
struct Stack {
    project: Project,
    db: String,
    cwd: tempfile::TempDir,
}

impl Stack {
    fn new(test: &str) -> Stack {
        let project = Project::new(test);
        let db = project.run_db();
        project.create_odoo_db(&db, DB);
        let image = ensure_image(RELEASES[0]);
        let network = project.network();
        let password = format!("--db_password={DB_PASSWORD}");
        project.run_with_command(
            "odoo",
            &["--network", &network],
            &image,
            &["-c", "/etc/odoo/odoo.conf", &password],
        );
        Stack {
            project,
            db,
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("180")
            .arg(env!("CARGO_BIN_EXE_odoo-ops"))
            .arg("modules")
            .args(args)
            .args(["--compose-project", &self.project.name])
            .current_dir(self.cwd.path())
            .env("HOME", self.cwd.path())
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), value)
    }

    fn states(&self) -> BTreeMap<String, String> {
        self.project.module_states(&self.db, DB)
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn lists_a_fresh_odoo_18_database_then_pending_modules_first() {
    let stack = Stack::new("modules-list");

    let (code, json) = stack.json(&[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["database"], DB);
    assert_eq!(json["modules"].as_array().unwrap().len(), TOTAL);
    assert_eq!(json["counts"]["installed"], 12);
    assert_eq!(json["counts"]["uninstalled"], UNINSTALLED);
    assert_eq!(json["counts"]["uninstallable"], UNINSTALLABLE);
    assert!(
        json["access"]
            .as_str()
            .unwrap()
            .starts_with(&format!("docker exec {} psql -U odoo -d odoo", stack.db)),
        "{json}"
    );
    let project = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "project")
        .unwrap();
    assert_eq!(project["state"], "uninstalled");
    assert_eq!(project["application"], true);
    assert!(
        project["depends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "mail"),
        "{project}"
    );

    let out = stack.cli(&["--state", "installed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("646 modules: installed 12, uninstallable 24, uninstalled 610"),
        "{shown}"
    );
    assert!(shown.lines().any(|l| l.starts_with("base ")), "{shown}");
    assert!(!shown.contains("project"), "{shown}");

    stack.project.set_module_states(
        &stack.db,
        DB,
        &[("mail", "to upgrade"), ("sale", "to install")],
    );
    let (code, json) = stack.json(&[]);
    assert_eq!(code, 1, "pending modules are a problem: {json}");
    assert_eq!(json["pending"], serde_json::json!(["mail", "sale"]));
    let first: Vec<&str> = json["modules"].as_array().unwrap()[..2]
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["mail", "sale"]);
    assert!(
        json["pending_note"]
            .as_str()
            .unwrap()
            .contains("crons refuse to run"),
        "{json}"
    );
    let out = stack.cli(&[]);
    assert_eq!(out.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("PENDING   mail, sale: "), "{shown}");
}

#[test]
fn installs_project_in_a_one_off_container_of_the_running_image() {
    let stack = Stack::new("modules-install");
    let before = stack.states();

    let dry = stack.cli(&["install", "project", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(shown.contains("phase 1: install project"), "{shown}");
    let pulls = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("pulls in: "))
        .unwrap_or_else(|| panic!("{shown}"));
    for m in ["mail", "uom", "portal", "resource"] {
        assert!(pulls.split(", ").any(|p| p == m), "{m} not in {pulls}");
    }
    assert_eq!(stack.states(), before, "a dry run changes nothing");

    let out = stack.cli(&["install", "project", "--yes"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("Loading module project ("),
        "live output: {shown}"
    );
    assert!(shown.contains("all 1 phase(s) succeeded"), "{shown}");
    let after = stack.states();
    for m in PROJECT_INSTALLS {
        assert_eq!(after[m], "installed", "{m}");
    }
    let saved = std::fs::read_to_string(stack.cwd.path().join("module_install.log")).unwrap();
    assert!(
        saved.contains("odoo.modules.loading: Modules loaded."),
        "{saved}"
    );
    assert!(saved.contains("== phase 1/1: install project"), "{saved}");
    assert!(
        !saved.contains(DB_PASSWORD),
        "the password is redacted: {saved}"
    );
    // The one-off is gone; the server still runs.
    let left = stack.project.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True",
        "--filter",
        &format!("label=com.docker.compose.project={}", stack.project.name),
    ]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());

    let (code, json) = stack.json(&[]);
    assert_eq!(code, 0);
    assert_eq!(json["counts"]["installed"], 37);
}

#[test]
fn a_failing_phase_stops_the_plan_and_an_unknown_name_fails_despite_exit_0() {
    let stack = Stack::new("modules-fail");
    std::fs::write(
        stack.cwd.path().join("plan.toml"),
        "[[phase]]\ninstall = [\"bad_ocr\"]\n\n[[phase]]\ninstall = [\"project\"]\n",
    )
    .unwrap();
    let before = stack.states();

    let out = stack.cli(&["install", "plan.toml", "--yes"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("FAILED in phase 1 (install bad_ocr): module bad_ocr"),
        "{shown}"
    );
    assert!(shown.contains("odoo exited with code 255"), "{shown}");
    assert!(shown.contains("\ncause: "), "{shown}");
    assert!(shown.contains("not run: install project"), "{shown}");
    assert_eq!(stack.states(), before, "rolled back, phase 2 never ran");
    let saved = std::fs::read_to_string(stack.cwd.path().join("module_install.log")).unwrap();
    assert!(saved.contains("Couldn't load module bad_ocr"), "{saved}");

    let out = stack.cli(&["install", "no_such_module", "--yes"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown
            .contains("unknown module names, ignored by Odoo although it exited 0: no_such_module"),
        "{shown}"
    );
    assert!(!shown.contains("odoo exited with code"), "{shown}");
    assert_eq!(stack.states(), before);
}

fn key(app: &mut odoo_ops::tui::app::App, code: crossterm::event::KeyCode) {
    let event = crossterm::event::Event::Key(crossterm::event::KeyEvent::new(
        code,
        crossterm::event::KeyModifiers::NONE,
    ));
    app.on_terminal(&event);
}

/// The zoomed pane as text, the test's random project name made stable.
fn screen(app: &odoo_ops::tui::app::App, project: &str) -> String {
    let terminal = support::app::render(app);
    support::app::screen_text(terminal.backend().buffer()).replace(project, "PROJECT")
}

#[test]
fn the_modules_pane_shows_real_states_pending_first_with_filters_and_detail() {
    use odoo_ops::config::keymap::Action;
    use odoo_ops::odoo::modules::access::{DbAccess, ModulesOptions};
    use odoo_ops::tui::effect::Effect;
    use odoo_ops::tui::panes::PaneId;
    use odoo_ops::tui::panes::modules::ModulesLoaded;

    let stack = Stack::new("modules-pane");
    stack.project.set_module_states(
        &stack.db,
        DB,
        &[("mail", "to upgrade"), ("sale", "to install")],
    );
    let mut app = support::app::app_with(odoo_ops::config::Settings::builtin(), 110, 24);
    app.zoomed = true;

    // Focusing the pane asks for the load (a job); nothing is read in the key handler.
    let effects = app.on_action(Action::FocusModules);
    assert_eq!(app.focus, PaneId::Modules);
    assert_eq!(effects, vec![Effect::LoadModules(Default::default())]);
    assert!(screen(&app, &stack.project.name).contains("loading…"));

    // What the job does, against the real database.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let loaded = rt.block_on(async {
        let target = odoo_ops::target::Target::local();
        let options = ModulesOptions {
            compose_project: Some(stack.project.name.clone()),
            ..Default::default()
        };
        let access = DbAccess::find(&target, &options).await.unwrap();
        ModulesLoaded {
            inventory: access.inventory().await.unwrap(),
            access: access.describe(),
            database: access.database.clone(),
        }
    });
    assert_eq!(loaded.inventory.modules.len(), TOTAL);
    assert!(
        loaded
            .access
            .starts_with(&format!("docker exec {} psql", stack.db))
    );
    // The test's project name varies in length: shown as PROJECT so wrapping is stable.
    let mut loaded = loaded;
    loaded.access = loaded.access.replace(&stack.project.name, "PROJECT");
    app.apply(odoo_ops::tui::message::Message::Modules(Ok(loaded)));
    let shown = screen(&app, &stack.project.name);
    assert!(
        shown.contains(
            "to install 1, to upgrade 1, installed 12, uninstallable 24, uninstalled 608"
        ),
        "{shown}"
    );
    assert!(shown.contains("crons refuse to run"), "{shown}");
    insta::assert_snapshot!("modules_pane_pending_first", shown);

    // Enter: the selected (first, pending) module's dependencies and dependents.
    app.on_action(Action::ModulesDetail);
    let shown = screen(&app, &stack.project.name);
    assert!(
        shown.contains("depends on   base, base_setup, bus, html_editor, web_tour"),
        "{shown}"
    );
    assert!(shown.contains("needed by    "), "{shown}");
    insta::assert_snapshot!("modules_pane_detail", shown);
    app.on_action(Action::ModulesDetail);

    // The name filter, typed as in the Logs pane; the state filter cycles.
    app.on_action(Action::ModulesFilter);
    for c in "project".chars() {
        key(&mut app, crossterm::event::KeyCode::Char(c));
    }
    key(&mut app, crossterm::event::KeyCode::Enter);
    let names: Vec<String> = app
        .modules
        .visible()
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(names, ["project", "project_sms", "project_todo"]);
    app.on_action(Action::ModulesFilter);
    key(&mut app, crossterm::event::KeyCode::Backspace);
    for _ in 0..7 {
        key(&mut app, crossterm::event::KeyCode::Backspace);
    }
    key(&mut app, crossterm::event::KeyCode::Enter);
    app.on_action(Action::ModulesState);
    assert_eq!(app.modules.state_filter.as_deref(), Some("to install"));
    app.on_action(Action::ModulesState);
    app.on_action(Action::ModulesState);
    assert_eq!(app.modules.state_filter.as_deref(), Some("installed"));
    assert_eq!(app.modules.visible().len(), 12);

    // A click selects the module drawn under it; the head and the column titles do not.
    let click = |app: &mut odoo_ops::tui::app::App, column: u16, row: u16| {
        app.on_terminal(&crossterm::event::Event::Mouse(
            crossterm::event::MouseEvent {
                kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
                column,
                row,
                modifiers: crossterm::event::KeyModifiers::NONE,
            },
        ));
    };
    let fourth = app.modules.visible()[3].name.clone();
    let terminal = support::app::render(&app);
    let (x, y) = support::app::find(terminal.backend().buffer(), &format!(" {fourth} "))
        .unwrap_or_else(|| panic!("{fourth} is on screen"));
    click(&mut app, x + 1, y);
    assert_eq!(app.modules.visible()[app.modules.selected].name, fourth);
    let (x, y) = support::app::find(terminal.backend().buffer(), "NAME").unwrap();
    click(&mut app, x, y);
    assert_eq!(
        app.modules.visible()[app.modules.selected].name,
        fourth,
        "the column titles select nothing"
    );
}

#[test]
fn reading_states_over_the_ssh_target_works_the_same_as_locally() {
    use odoo_ops::odoo::modules::access::{DbAccess, ModulesOptions};

    let stack = Stack::new("modules-ssh");
    stack
        .project
        .set_module_states(&stack.db, DB, &[("mail", "to upgrade")]);
    let sshd = support::sshd::Sshd::start();
    let options = ModulesOptions {
        compose_project: Some(stack.project.name.clone()),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (local, remote, how) = rt.block_on(async {
        let local = DbAccess::find(&odoo_ops::target::Target::local(), &options)
            .await
            .unwrap();
        let ssh = sshd.target().await;
        assert!(!ssh.is_local());
        let remote = DbAccess::find(&ssh, &options).await.unwrap();
        (
            local.inventory().await.unwrap(),
            remote.inventory().await.unwrap(),
            remote.describe(),
        )
    });
    assert_eq!(remote.modules.len(), TOTAL);
    assert_eq!(remote.pending().next().unwrap().name, "mail");
    assert_eq!(remote, local);
    assert!(
        how.starts_with(&format!("docker exec {} psql", stack.db)),
        "{how}"
    );
}
