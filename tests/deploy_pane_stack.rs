//! The Deploy pane on a real stack (nginx, the PostgreSQL container, Docker, the Odoo
//! stand-in's releases): a deploy killed after its switch (SIGKILL of `odoo-ops deploy`)
//! is offered on the console's start; the operator rolls it back from the pane, the steps
//! arrive live through the job runner, and the site serves the previous release again.
//! One test in this binary: it names the state directory for the engine in-process.

mod support;

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::tui::app::App;
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::panes::deploy::View;
use odoo_ops::tui::panes::deploy_runs::RunStage;
use support::app::{app_with, render, screen_text};
use support::deploy_run::{
    all_proofs, assert_valid_proof, deploy_killed_at, running_tag, through_nginx,
};
use support::deploy_stack::{DOMAIN, Stack};
use support::standin::RELEASES;

fn key(app: &mut App, c: char) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
    .1
}

#[test]
fn a_deploy_killed_after_its_switch_is_offered_on_start_and_rolled_back_from_the_pane() {
    let stack = Stack::new("deploypane");
    // SAFETY: the only test of this binary, before any runtime or thread of its own: the
    // engine in-process must keep its state where the killed binary kept it.
    unsafe { std::env::set_var("ODOO_OPS_STATE_DIR", stack.state.path().join("odoo-ops")) };
    let (a, b) = (RELEASES[0], RELEASES[1]);
    deploy_killed_at(&stack, None, &["--tag", b], "switch");
    assert_eq!(running_tag(&stack), b);

    let mut app = app_with(Settings::builtin(), 120, 40);
    app.deploy.directory = stack.stack_dir.path().display().to_string();
    let parts = &mut app.deploy.runs.parts;
    parts.project = Some(stack.project.name.clone());
    parts.domain = Some(DOMAIN.into());
    parts.nginx_conf = Some(stack.nginx.path().join("nginx.conf"));
    parts.nginx_prefix = Some(format!("{}/", stack.nginx.path().display()).into());
    parts.slots = Some(stack.slots);
    parts.ready_timeout = Duration::from_secs(60);
    parts.proofs = stack.state.path().join("proofs");

    // On start: the journal's unfinished deploy comes forward with both choices.
    let effects: Vec<Effect> = app
        .startup_effects()
        .into_iter()
        .filter(|e| matches!(e, Effect::LoadDeploys(_)))
        .collect();
    assert_eq!(effects.len(), 1);
    support::deploy_run::run_pane_jobs(&mut app, effects, |app| {
        app.deploy.runs.stage != RunStage::Loading
    });
    assert_eq!(app.deploy.view, View::Releases);
    app.on_action(odoo_ops::config::keymap::Action::FocusDeploy);
    app.zoomed = true;
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("unfinished: deploy "), "{text}");
    assert!(text.contains(&format!("of {b} (from {a})")), "{text}");
    assert!(
        text.contains("stopped between steps") || text.contains("done: preflight, switch"),
        "{text}"
    );
    assert!(
        text.contains("roll back") && text.contains("resume"),
        "{text}"
    );

    // `b`, then yes: the rollback runs on the job runner, its steps live.
    assert!(key(&mut app, 'b').is_empty());
    let effects = key(&mut app, 'y');
    assert!(
        matches!(effects.as_slice(), [Effect::RunDeploy(_)]),
        "{effects:?}"
    );
    let live = support::deploy_run::run_pane_jobs(&mut app, effects, |app| {
        matches!(app.deploy.runs.stage, RunStage::Done { .. })
    });
    assert!(live >= 3, "steps seen while running: {live}");
    let RunStage::Done { done, steps, .. } = &app.deploy.runs.stage else {
        unreachable!()
    };
    assert_eq!(
        done.outcome,
        odoo_ops::deploy::journal::Outcome::RolledBack,
        "{}\n{steps:#?}",
        done.message
    );
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("rolled back"), "{text}");
    assert!(!text.contains("unfinished:"), "{text}");
    // The releases known on the host, the rolled-back one on top.
    assert!(
        text.contains("TAG") && text.contains("DIGEST") && text.contains("RESULT"),
        "{text}"
    );
    assert_eq!(app.deploy.runs.releases[0].tag, b);

    assert_eq!(running_tag(&stack), a);
    assert_eq!(through_nginx(&stack).0, 200);
    assert_eq!(stack.service_containers().len(), 1);
    let (_, proof) = all_proofs(&stack).pop().unwrap();
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back");
}
