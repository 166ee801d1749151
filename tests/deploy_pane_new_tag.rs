//! The Deploy pane deploys a new tag on a real stack (nginx, the PostgreSQL container,
//! Docker, the Odoo stand-in's releases): the operator types the tag (and modules), sees
//! the plan read from the host, confirms, and the steps arrive live through the job runner;
//! first a zero-downtime deploy, then one with a module upgrade in a maintenance window,
//! then one whose modules come from a plan file typed in the form.
//! One test in this binary: it names the state directory for the engine in-process.

mod support;

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::deploy::journal::Outcome;
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::panes::deploy_runs::{PlanCheck, RunStage};
use support::app::{app_with, render, screen_text};
use support::deploy_run::{all_proofs, assert_valid_proof, running_tag, through_nginx};
use support::deploy_stack::{DOMAIN, Stack};
use support::standin::RELEASES;

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(press(app, KeyCode::Char(c)).is_empty());
    }
}

/// `t`, the tag, Enter, the modules, Enter: the plan read from the host, on screen.
fn plan(app: &mut App, tag: &str, modules: &str) -> String {
    assert!(press(app, KeyCode::Char('t')).is_empty());
    // The last tag is offered again; cleared.
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    typed(app, tag);
    assert!(press(app, KeyCode::Enter).is_empty());
    typed(app, modules);
    let effects = press(app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::PreviewDeploy(_)]),
        "{effects:?}"
    );
    support::deploy_run::run_pane_jobs(app, effects, |app| {
        !matches!(app.deploy.runs.stage, RunStage::Previewing(_))
    });
    assert!(
        app.deploy.runs.is_confirming(),
        "{:?}",
        app.deploy.runs.stage
    );
    screen_text(render(app).backend().buffer())
}

/// `y`: the deploy runs; its outcome, once done.
fn confirm(app: &mut App) -> Outcome {
    let effects = press(app, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::RunDeploy(_)]),
        "{effects:?}"
    );
    let live = support::deploy_run::run_pane_jobs(app, effects, |app| {
        matches!(app.deploy.runs.stage, RunStage::Done { .. })
    });
    assert!(live >= 3, "steps seen while running: {live}");
    let RunStage::Done { done, steps, .. } = &app.deploy.runs.stage else {
        unreachable!()
    };
    println!("{}\n{steps:#?}", done.message);
    assert!(done.proof_dir.is_some());
    done.outcome
}

#[test]
fn the_pane_deploys_a_new_tag_zero_downtime_then_with_a_module_window() {
    let stack = Stack::with_data("deploypanenew");
    // SAFETY: the only test of this binary, before any runtime or thread of its own.
    unsafe { std::env::set_var("ODOO_OPS_STATE_DIR", stack.state.path().join("odoo-ops")) };
    let (a, b) = (RELEASES[0], RELEASES[1]);
    let db = stack.db();

    let mut app = app_with(Settings::builtin(), 140, 44);
    app.deploy.directory = stack.stack_dir.path().display().to_string();
    let parts = &mut app.deploy.runs.parts;
    parts.project = Some(stack.project.name.clone());
    parts.domain = Some(DOMAIN.into());
    parts.nginx_conf = Some(stack.nginx.path().join("nginx.conf"));
    parts.nginx_prefix = Some(format!("{}/", stack.nginx.path().display()).into());
    parts.slots = Some(stack.slots);
    parts.ready_timeout = Duration::from_secs(60);
    parts.proofs = stack.state.path().join("proofs");
    parts.backup_dir = Some(stack.state.path().join("backups"));
    app.on_action(Action::FocusDeploy);
    app.zoomed = true;
    let effects = app.on_action(Action::DeployHistory);
    support::deploy_run::run_pane_jobs(&mut app, effects, |app| {
        app.deploy.runs.stage != RunStage::Loading
    });

    // Zero downtime: B beside A, no backup.
    let text = plan(&mut app, b, "");
    assert!(text.contains(&format!("{a} (")), "from what runs: {text}");
    assert!(text.contains(&format!("→ {b}")), "{text}");
    assert!(text.contains("zero downtime"), "{text}");
    assert!(text.contains("is on the host"), "{text}");
    assert_eq!(confirm(&mut app), Outcome::Passed);
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("passed"), "{text}");
    assert!(text.contains("proof "), "{text}");
    assert_eq!(running_tag(&stack), b);
    assert_eq!(through_nginx(&stack).0, 200);
    let (_, proof) = all_proofs(&stack).pop().unwrap();
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed");
    assert_eq!(proof["backup"], serde_json::Value::Null);

    // A module window: back to A with `project` installed, after a backup.
    assert_eq!(
        stack.project.module_states(&db, "odoo")["project"],
        "uninstalled"
    );
    let text = plan(&mut app, a, "project");
    assert!(text.contains(&format!("{b} (")), "{text}");
    assert!(text.contains("maintenance window"), "{text}");
    assert!(text.contains("install project"), "{text}");
    assert!(text.contains("backups"), "{text}");
    assert_eq!(confirm(&mut app), Outcome::Passed);
    assert_eq!(running_tag(&stack), a);
    assert_eq!(through_nginx(&stack).0, 200);
    assert_eq!(
        stack.project.module_states(&db, "odoo")["project"],
        "installed"
    );
    let (dir, proof) = all_proofs(&stack).pop().unwrap();
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed");
    assert!(proof["backup"]["location"].is_string(), "{proof:#}");
    let log = std::fs::read_to_string(dir.join("module_install.log")).unwrap();
    assert!(log.contains("== phase succeeded"), "{log}");
    assert_eq!(app.deploy.runs.releases[0].tag, a);

    // A plan file instead of modules, as `--plan FILE`: back to B, its two phases in the
    // window. The file is read where the console runs, checked as it is typed.
    let plans = tempfile::tempdir().unwrap();
    let file = plans.path().join("plan.toml");
    std::fs::write(
        &file,
        "[[phase]]\ninstall = [\"contacts\"]\n\n[[phase]]\ninstall = [\"fleet\"]\n",
    )
    .unwrap();
    assert!(press(&mut app, KeyCode::Char('t')).is_empty());
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    typed(&mut app, b);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let mut reads = Vec::new();
    for c in file.display().to_string().chars() {
        reads.extend(press(&mut app, KeyCode::Char(c)));
    }
    support::deploy_run::run_pane_jobs(&mut app, reads, |app| {
        matches!(&app.deploy.runs.stage, RunStage::Entering(form)
            if matches!(form.plan_check, PlanCheck::Good(_)))
    });
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::PreviewDeploy(_)]),
        "{effects:?}"
    );
    support::deploy_run::run_pane_jobs(&mut app, effects, |app| {
        !matches!(app.deploy.runs.stage, RunStage::Previewing(_))
    });
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("(2 phases: install contacts; then install fleet)"),
        "{text}"
    );
    assert!(text.contains("maintenance window"), "{text}");
    assert_eq!(confirm(&mut app), Outcome::Passed);
    assert_eq!(running_tag(&stack), b);
    assert_eq!(through_nginx(&stack).0, 200);
    let states = stack.project.module_states(&db, "odoo");
    assert_eq!(
        (states["contacts"].as_str(), states["fleet"].as_str()),
        ("installed", "installed")
    );
    let (dir, proof) = all_proofs(&stack).pop().unwrap();
    assert_valid_proof(&proof);
    let log = std::fs::read_to_string(dir.join("module_install.log")).unwrap();
    assert_eq!(log.matches("== phase succeeded").count(), 2, "{log}");
}
