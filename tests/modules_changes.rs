//! The Modules pane and `odoo-ops modules` beyond reading states, against a real
//! PostgreSQL (a fresh Odoo 18 database's tables) and the stand-in Odoo with addons
//! bind-mounted as a droplet mounts them:
//! - which installed modules changed on disk since their last upgrade (hashed as OCA's
//!   `module_auto_update` does, compared with its record, else with odoo-ops' own);
//! - pending states a crash left, moved back as Odoo's cancel buttons do;
//! - install and plan runs from the pane on the job runner, output live, states after;
//! - the first load's round trips, and filter/detail doing no I/O.

mod support;

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use odoo_ops::config::keymap::Action;
use odoo_ops::jobs::{JobEvent, JobRunner};
use odoo_ops::odoo::modules::access::ModulesOptions;
use odoo_ops::odoo::modules::ondisk::{OCA_KEY, OUR_KEY};
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::jobs::ConsoleJob;
use odoo_ops::tui::message::Message;
use support::modules_stack::{AddonsStack, BASE_OCA_CHECKSUM, DB, EXTRA_ADDONS, PACKAGE_ADDONS};

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn module<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn installed_modules_changed_on_disk_against_module_auto_updates_record() {
    let stack = AddonsStack::new("modules-disk");

    // Nothing recorded yet: every installed module says so.
    let (code, json) = stack.json(&[]);
    assert_eq!(code, 0, "{json}");
    let disk = &json["disk"];
    assert_eq!(disk["record"], "none", "{disk}");
    let base = &disk["modules"]["base"];
    assert_eq!(base["state"], "no_record", "{base}");
    assert_eq!(
        base["checksum"], BASE_OCA_CHECKSUM,
        "the same sum as module_auto_update"
    );
    assert_eq!(base["path"], format!("{PACKAGE_ADDONS}/base"));
    assert_eq!(disk["modules"]["base_import"]["state"], "not_on_disk");
    assert_eq!(module(&json, "base")["on_disk"], "no record");
    assert!(module(&json, "project").get("on_disk").is_none());
    assert_eq!(
        disk["addons_paths"],
        serde_json::json!([PACKAGE_ADDONS, "/var/lib/odoo/addons/18.0", EXTRA_ADDONS])
    );
    let out = stack.cli(&[]);
    assert!(
        text(&out).contains("on disk   no record: neither module_auto_update nor odoo-ops"),
        "{}",
        text(&out)
    );

    // module_auto_update's record: base as last upgraded, web not.
    stack.set_param(
        OCA_KEY,
        Some(&format!(
            r#"{{"base": "{BASE_OCA_CHECKSUM}", "web": "0123456789abcdef0123456789abcdef01234567"}}"#
        )),
    );
    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["record"], "module_auto_update");
    assert_eq!(json["disk"]["modules"]["base"]["state"], "unchanged");
    assert_eq!(json["disk"]["modules"]["web"]["state"], "changed");
    let out = stack.cli(&["--state", "installed"]);
    let shown = text(&out);
    assert!(
        shown.contains("on disk   changed on disk since their last upgrade: web"),
        "{shown}"
    );
    let web_row = shown.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(web_row.contains(" changed "), "{web_row}");

    // Web assets, compiled files and a language not installed do not count; code does.
    stack.write_addon_file(PACKAGE_ADDONS, "base", "static/src/x.js", b"changed");
    stack.write_addon_file(PACKAGE_ADDONS, "base", "i18n/de.po", b"changed");
    stack.write_addon_file(
        PACKAGE_ADDONS,
        "base",
        "models/__pycache__/ir_module.cpython-311.pyc",
        b"changed",
    );
    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["modules"]["base"]["state"], "unchanged");
    stack.write_addon_file(
        PACKAGE_ADDONS,
        "base",
        "models/ir_module.py",
        b"# changed\n",
    );
    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["modules"]["base"]["state"], "changed");
    stack.write_addon_file(
        PACKAGE_ADDONS,
        "base",
        "models/ir_module.py",
        b"# ir.module.module\n",
    );
    stack.write_addon_file(PACKAGE_ADDONS, "base", "i18n/fr.po", b"changed");
    let (_, json) = stack.json(&[]);
    assert_eq!(
        json["disk"]["modules"]["base"]["state"], "changed",
        "an installed language's translations count"
    );
}

#[test]
fn a_successful_install_records_our_checksums_when_module_auto_update_does_not() {
    let stack = AddonsStack::new("modules-record");
    for m in ["project", "mail"] {
        stack.write_addon_file(
            EXTRA_ADDONS,
            m,
            "__manifest__.py",
            format!("{{'name': '{m}'}}\n").as_bytes(),
        );
    }
    stack.write_addon_file(EXTRA_ADDONS, "project", "models/project.py", b"# v1\n");

    // With the backup first (the backup engine's zip), as offered.
    let backups = stack.cwd().join("backups");
    let dir = backups.display().to_string();
    let (code, json) = stack.json(&[
        "install",
        "project",
        "--yes",
        "--backup",
        "--backup-dir",
        &dir,
    ]);
    assert_eq!(code, 0, "{json}");
    let zip = json["backup"].as_str().unwrap_or_else(|| panic!("{json}"));
    assert!(
        zip.ends_with(".zip") && std::path::Path::new(zip).is_file(),
        "{zip}"
    );
    assert!(json.get("at_risk").is_none());
    let recorded: Vec<&str> = json["checksums_recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        recorded.contains(&"project") && recorded.contains(&"mail"),
        "{recorded:?}"
    );
    assert!(
        !recorded.contains(&"base"),
        "base was only loaded, not upgraded"
    );
    let ours: serde_json::Value = serde_json::from_str(&stack.param(OUR_KEY).unwrap()).unwrap();
    assert_eq!(ours["project"].as_str().unwrap().len(), 40, "{ours}");
    assert!(
        stack.param(OCA_KEY).is_none(),
        "module_auto_update's key is left alone"
    );

    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["record"], "odoo_ops");
    assert_eq!(json["disk"]["modules"]["project"]["state"], "unchanged");
    assert_eq!(json["disk"]["modules"]["base"]["state"], "no_record");
    stack.write_addon_file(EXTRA_ADDONS, "project", "models/project.py", b"# v2\n");
    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["modules"]["project"]["state"], "changed");

    // An upgrade declining the backup says what is at risk, and records it again.
    let out = stack.cli(&[
        "install",
        "project",
        "--upgrade",
        "--yes",
        "--no-backup",
        "--backup-dir",
        &dir,
    ]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("warning: no backup taken: database odoo is the one Odoo serves; a failed phase is rolled back by Odoo, but a phase that succeeds cannot be undone"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("the newest backup is {zip}")),
        "{shown}"
    );
    let (_, json) = stack.json(&[]);
    assert_eq!(json["disk"]["modules"]["project"]["state"], "unchanged");
}

#[test]
fn reset_pending_moves_states_back_as_odoos_cancel_buttons_after_a_confirmation() {
    let stack = AddonsStack::new("modules-reset");
    let crashed = [
        ("mail", "to upgrade"),
        ("sale", "to install"),
        ("web", "to remove"),
    ];
    stack.project.set_module_states(&stack.db, DB, &crashed);
    let before = stack.project.module_states(&stack.db, DB);

    // No terminal to ask on and no --yes: nothing changes.
    let out = stack.cli(&["reset-pending"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("mail                         to upgrade -> installed"));
    assert!(text(&out).contains("re-run with --yes"), "{}", text(&out));
    assert_eq!(stack.project.module_states(&stack.db, DB), before);

    let (code, json) = stack.json(&["reset-pending", "--yes"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(
        json["reset"],
        serde_json::json!([
            {"name": "mail", "from": "to upgrade", "to": "installed"},
            {"name": "sale", "from": "to install", "to": "uninstalled"},
            {"name": "web", "from": "to remove", "to": "installed"},
        ])
    );
    let after = stack.project.module_states(&stack.db, DB);
    assert_eq!(after["mail"], "installed");
    assert_eq!(after["sale"], "uninstalled");
    assert_eq!(after["web"], "installed");
    let (code, _) = stack.json(&[]);
    assert_eq!(code, 0, "nothing pending any more");

    // The pane: shown, asked, done on the job runner, states refreshed.
    stack.project.set_module_states(&stack.db, DB, &crashed);
    let mut console = Console::new(&stack, false);
    console.load();
    let shown = console.screen();
    assert!(shown.contains("PENDING mail, sale, web: "), "{shown}");
    let effects = console.app.on_action(Action::ModulesResetPending);
    assert!(effects.is_empty(), "asks first");
    let shown = console.screen();
    assert!(
        shown.contains("mail to upgrade -> installed, sale to install -> uninstalled, web to remove -> installed"),
        "{shown}"
    );
    insta::assert_snapshot!("modules_pane_reset_confirm", shown);
    let effects = console.key(KeyCode::Char('y'));
    assert_eq!(
        effects,
        vec![Effect::ResetPendingModules(console.options.clone())]
    );
    console.drive(effects.into_iter().next().unwrap());
    let shown = console.screen();
    assert!(
        shown.contains("moved back: mail to upgrade -> installed"),
        "{shown}"
    );
    assert!(!shown.contains("PENDING"), "refreshed: {shown}");
    assert_eq!(stack.project.module_states(&stack.db, DB), after);

    // Not offered read-only.
    stack.project.set_module_states(&stack.db, DB, &crashed);
    let mut readonly = Console::new(&stack, true);
    readonly.load();
    assert!(
        readonly
            .app
            .on_action(Action::ModulesResetPending)
            .is_empty()
    );
    assert!(readonly.app.on_action(Action::ModulesInstall).is_empty());
    let shown = readonly.screen();
    assert!(
        shown.contains("install: not available in a read-only session"),
        "{shown}"
    );
    assert!(shown.contains("read-only: install, upgrade and reset are off"));
}

#[test]
fn the_pane_installs_marked_modules_live_then_a_failing_plan_stops_naming_the_module() {
    let stack = AddonsStack::new("modules-pane-run");
    let mut console = Console::new(&stack, false);
    console.load();

    // Mark project (filtered by name), ask, see what it pulls in.
    console.app.on_action(Action::ModulesFilter);
    for c in "project".chars() {
        console.key(KeyCode::Char(c));
    }
    console.key(KeyCode::Enter);
    assert!(console.key(KeyCode::Char(' ')).is_empty());
    assert!(console.app.modules.marked.contains("project"));
    assert!(console.key(KeyCode::Char('i')).is_empty(), "asks first");
    let shown = console.screen();
    assert!(
        shown.contains("phase 1: install project · pulls in "),
        "{shown}"
    );
    assert!(shown.contains("Back up database odoo first"), "{shown}");
    assert!(
        console.key(KeyCode::Char('n')).is_empty(),
        "then asks to run"
    );
    let shown = console.screen();
    assert!(
        shown.contains("Run these phases on database odoo WITHOUT a backup"),
        "{shown}"
    );
    insta::assert_snapshot!("modules_pane_run_confirm", shown);
    let effects = console.key(KeyCode::Char('y'));
    let [effect] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(matches!(effect, Effect::RunModulePlan { .. }), "{effect:?}");
    let lines = console.drive(effect.clone());
    assert!(
        lines[0].starts_with("warning: no backup taken: database odoo is the one Odoo serves"),
        "what is at risk, first: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Loading module project (")),
        "live output: {lines:?}"
    );
    let shown = console.screen();
    assert!(shown.contains("all 1 phase(s) succeeded"), "{shown}");
    let project = console
        .app
        .modules
        .loaded
        .as_ref()
        .unwrap()
        .inventory
        .get("project")
        .unwrap()
        .clone();
    assert_eq!(project.state, "installed", "the states refreshed");
    let saved = std::fs::read_to_string(&console.app.modules.install_log).unwrap();
    assert!(saved.contains("== phase 1/1: install project"), "{saved}");

    // A plan file whose first phase fails: stops there, names the module and the cause.
    let plan = stack.cwd().join("plan.toml");
    std::fs::write(
        &plan,
        "[[phase]]\ninstall = [\"bad_ocr\"]\n\n[[phase]]\ninstall = [\"sale\"]\n",
    )
    .unwrap();
    console.key(KeyCode::Esc); // the finished run's output
    console.app.on_action(Action::ModulesPlanFile);
    for c in plan.display().to_string().chars() {
        console.key(KeyCode::Char(c));
    }
    let effects = console.key(KeyCode::Enter);
    assert_eq!(effects, vec![Effect::ReadModulePlan(plan.clone())]);
    console.drive(effects.into_iter().next().unwrap());
    let shown = console.screen();
    assert!(shown.contains("phase 2: install sale"), "{shown}");
    assert!(
        console.key(KeyCode::Esc).is_empty(),
        "no backup: then the run's question"
    );
    let effects = console.key(KeyCode::Char('y'));
    console.drive(effects.into_iter().next().unwrap());
    let shown = console.screen();
    assert!(
        shown.contains("FAILED in phase 1 (install bad_ocr): module bad_ocr"),
        "{shown}"
    );
    assert!(shown.contains("cause: RuntimeError: bad_ocr"), "{shown}");
    assert!(shown.contains("not run: install sale"), "{shown}");
    let sale = stack.project.module_states(&stack.db, DB)["sale"].clone();
    assert_eq!(sale, "uninstalled");
}

#[test]
fn states_are_on_screen_after_one_psql_round_trip_and_filter_and_detail_do_no_io() {
    let stack = AddonsStack::new("modules-perf");
    let mut console = Console::new(&stack, false);
    let effects = console.app.on_action(Action::FocusModules);
    let [effect] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let t0 = unix_now();
    let started = Instant::now();
    let mut states_at = None;
    let mut t1 = 0.0;
    console.drive_with(effect.clone(), |_, message| {
        if matches!(message, Message::Modules(Ok(_))) && states_at.is_none() {
            states_at = Some(started.elapsed());
            t1 = unix_now();
        }
    });
    let t2 = unix_now();
    let states_at = states_at.expect("the states arrived");
    // The states of all 646 modules on screen.
    let shown = console.screen();
    assert!(
        shown.contains("installed 12, uninstallable 24, uninstalled 610"),
        "{shown}"
    );

    // Docker's own record of the execs, in the order they were created: the states come
    // from one psql (the first exec), then one more reads the checksum record for the disk
    // comparison; nothing ever runs in Odoo's container. (Read by content, not by the time
    // the message reached the loop: on a loaded machine the job's second exec can start
    // before the loop has taken the states off the channel.)
    std::thread::sleep(Duration::from_millis(500));
    let execs = |container: &str| -> Vec<String> {
        let out = stack.project.docker(&[
            "events",
            "--since",
            &format!("{t0:.6}"),
            "--until",
            &format!("{t2:.6}"),
            "--filter",
            &format!("container={container}"),
            "--format",
            "{{.Action}}",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("exec_create"))
            .map(str::to_string)
            .collect()
    };
    let db_execs = execs(&stack.db);
    assert_eq!(db_execs.len(), 2, "{db_execs:#?}");
    assert!(
        db_execs[0].contains("ir_module_module")
            && db_execs[0].contains("ir_module_module_dependency"),
        "the first exec reads the states and the dependencies in one round trip: {db_execs:#?}"
    );
    assert!(
        !db_execs[1].contains("ir_module_module") && db_execs[1].contains("res_lang"),
        "the second is the disk comparison's record: {db_execs:#?}"
    );
    assert!(t1 > 0.0);
    assert_eq!(
        execs(&stack.odoo).len(),
        0,
        "nothing runs in Odoo's container"
    );
    eprintln!("states of 646 modules on screen after {states_at:?}");

    // Filter, state cycle, detail, moves: no effect (no I/O), and fast.
    let started = Instant::now();
    let mut effects = Vec::new();
    for _ in 0..10 {
        effects.extend(console.app.on_action(Action::ModulesFilter));
        for c in "sale".chars() {
            effects.extend(console.key(KeyCode::Char(c)));
        }
        effects.extend(console.key(KeyCode::Enter));
        effects.extend(console.app.on_action(Action::ModulesDetail));
        effects.extend(console.app.on_action(Action::Down));
        effects.extend(console.app.on_action(Action::ModulesState));
        effects.extend(console.app.on_action(Action::ModulesDetail));
        effects.extend(console.app.on_action(Action::Back));
        effects.extend(console.app.on_action(Action::Back));
        let _ = console.screen();
    }
    let took = started.elapsed();
    assert!(effects.is_empty(), "{effects:?}");
    eprintln!("100 filter/detail actions with 10 redraws over 646 rows: {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The console on the Modules pane, its jobs run by the real job runner on the local
/// target, their messages applied as the event loop applies them.
struct Console {
    app: App,
    options: ModulesOptions,
    rt: tokio::runtime::Runtime,
    runner: JobRunner<ConsoleJob>,
    events: tokio::sync::mpsc::UnboundedReceiver<JobEvent<ConsoleJob>>,
    project: String,
    _state: tempfile::TempDir,
}

impl Console {
    fn new(stack: &AddonsStack, readonly: bool) -> Console {
        let mut app = App::new(
            odoo_ops::config::Settings::builtin(),
            readonly,
            "odoo-prod-1".into(),
            odoo_ops::tui::app::Connection::Local,
        );
        app.size = ratatui::layout::Rect::new(0, 0, 120, 30);
        app.zoomed = true;
        let options = ModulesOptions {
            compose_project: Some(stack.project.name.clone()),
            ..Default::default()
        };
        app.modules.options = options.clone();
        let state = tempfile::tempdir().unwrap();
        app.modules.install_log = state.path().join("module_install.log");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (runner, events) = {
            let _guard = rt.enter();
            JobRunner::new()
        };
        Console {
            app,
            options,
            rt,
            runner,
            events,
            project: stack.project.name.clone(),
            _state: state,
        }
    }

    /// Focus the pane and run its load to the end.
    fn load(&mut self) {
        let effects = self.app.on_action(Action::FocusModules);
        assert_eq!(effects, vec![Effect::LoadModules(self.options.clone())]);
        self.drive(effects.into_iter().next().unwrap());
        assert!(
            self.app.modules.loaded.is_some(),
            "{:?}",
            self.app.modules.error
        );
        assert!(self.app.modules.disk.is_some());
    }

    fn key(&mut self, code: KeyCode) -> Vec<odoo_ops::tui::effect::Effect> {
        let event = crossterm::event::Event::Key(crossterm::event::KeyEvent::new(
            code,
            crossterm::event::KeyModifiers::NONE,
        ));
        self.app.on_terminal(&event).1
    }

    /// Run one effect's job; the lines a module run printed.
    fn drive(&mut self, effect: Effect) -> Vec<String> {
        let mut lines = Vec::new();
        self.drive_with(effect, |_, m| {
            if let Message::ModuleRunLine(l) = m {
                lines.push(l.clone());
            }
        });
        lines
    }

    fn drive_with(&mut self, effect: Effect, mut seen: impl FnMut(&App, &Message)) {
        let job = ConsoleJob::new(&odoo_ops::target::Target::local(), effect).expect("a job");
        {
            let _guard = self.rt.enter();
            self.runner.submit(job);
        }
        let deadline = Duration::from_secs(180);
        loop {
            let event = self
                .rt
                .block_on(async { tokio::time::timeout(deadline, self.events.recv()).await })
                .expect("the job answered in time")
                .expect("the runner runs");
            let last = matches!(event, JobEvent::Finished { .. } | JobEvent::Dropped { .. });
            if let Some(message) = odoo_ops::tui::jobs::message(event) {
                seen(&self.app, &message);
                self.app.apply(message);
            }
            if last {
                return;
            }
        }
    }

    fn screen(&mut self) -> String {
        // The test's project name varies in length: made stable before the text wraps.
        if let Some(loaded) = &mut self.app.modules.loaded {
            loaded.access = loaded.access.replace(&self.project, "PROJECT");
        }
        let terminal = support::app::render(&self.app);
        support::app::screen_text(terminal.backend().buffer()).replace(&self.project, "PROJECT")
    }
}
