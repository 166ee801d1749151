//! The Deploy pane's releases view on a TestBackend: the releases known on the host to
//! roll back to, an unfinished deploy offered on start, a run's live steps, and a request
//! the job runner dropped said so. (tests/deploy_pane_stack.rs drives it on a real stack.)

mod support;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::deploy::journal::{Outcome, replay};
use odoo_ops::deploy::orchestrate::Verdict;
use odoo_ops::deploy::releases::Release;
use odoo_ops::deploy::resume::Choice;
use odoo_ops::jobs::DropReason;
use odoo_ops::tui::app::App;
use odoo_ops::tui::deploy_job::{DeployDone, DeploysLoaded, RunAction};
use odoo_ops::tui::effect::Effect;
use odoo_ops::tui::message::{JobUpdate, Message};
use odoo_ops::tui::panes::deploy::View;
use odoo_ops::tui::panes::deploy_runs::{PlanCheck, RunStage};
use support::app::{app_with, render, screen_text};

// 2026-11-30 12:00:00 UTC and later.
const T0: i64 = 1_796_040_000_000;

fn key(app: &mut App, c: char) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
    .1
}

fn release(tag: &str, digest: &str, minutes: i64, by: &str, outcome: Outcome) -> Release {
    Release {
        tag: tag.into(),
        digest: Some(format!("sha256:{digest}")),
        deployed_ms: T0 + minutes * 60_000,
        by: by.into(),
        outcome,
        deploy_id: format!("20261130T12{minutes:02}00Z-abc123"),
    }
}

fn history() -> Vec<Release> {
    vec![
        release(
            "18.0-3",
            "c3c3c3c3c3c3c3c3",
            40,
            "alice",
            Outcome::RolledBack,
        ),
        release("18.0-2", "b2b2b2b2b2b2b2b2", 20, "ci", Outcome::Passed),
        release(
            "18.0-1",
            "a1a1a1a1a1a1a1a1",
            0,
            "found running before the first deploy",
            Outcome::Passed,
        ),
    ]
}

/// A deploy of 18.0-3 killed after its switch, as its journal reads.
fn unfinished() -> odoo_ops::deploy::UnfinishedDeploy {
    let lines = [
        format!(
            r#"{{"deploy_id":"20261130T125000Z-9f1e2d","at_ms":{},"event":"begin","operation":"deploy","from":{{"tag":"18.0-2"}},"to":{{"tag":"18.0-3"}},"by":"alice"}}"#,
            T0 + 3_000_000
        ),
        format!(
            r#"{{"deploy_id":"20261130T125000Z-9f1e2d","at_ms":{},"event":"step_started","step":"preflight","changes_host":false}}"#,
            T0 + 3_000_100
        ),
        format!(
            r#"{{"deploy_id":"20261130T125000Z-9f1e2d","at_ms":{},"event":"step_ended","step":"preflight","result":"passed","detail":"ok"}}"#,
            T0 + 3_001_000
        ),
        format!(
            r#"{{"deploy_id":"20261130T125000Z-9f1e2d","at_ms":{},"event":"step_started","step":"switch","changes_host":true}}"#,
            T0 + 3_001_100
        ),
    ];
    replay(&lines.join("\n")).unwrap()
}

fn releases_app(loaded: DeploysLoaded) -> App {
    let mut app = app_with(Settings::builtin(), 110, 26);
    let effects = app.startup_effects();
    assert!(
        effects.iter().any(|e| matches!(e, Effect::LoadDeploys(p) if p.stack_dir == std::path::Path::new("/opt/odoo"))),
        "the console reads the stack's history on start: {effects:?}"
    );
    app.on_action(Action::FocusDeploy);
    app.zoomed = true;
    app.apply(Message::Deploys(Ok(loaded)));
    app
}

/// The pane with the host's releases loaded, a backup directory known, `d` pressed and
/// the history read again: where typing a new tag starts.
fn new_tag_ready() -> App {
    let loaded = || DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: None,
    };
    let mut app = releases_app(loaded());
    app.deploy.runs.parts.backup_dir = Some("/var/backups/odoo".into());
    key(&mut app, 'd');
    app.apply(Message::Deploys(Ok(loaded())));
    app
}

#[test]
fn the_releases_known_on_the_host_listed_to_pick_one_to_roll_back_to() {
    let mut app = releases_app(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: None,
    });
    // Nothing unfinished: the pane stays on its files until asked.
    assert_eq!(app.deploy.view, View::Files);
    assert!(
        !key(&mut app, 'd').is_empty(),
        "the releases view reads the history again"
    );
    assert_eq!(app.deploy.view, View::Releases);
    app.apply(Message::Deploys(Ok(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: None,
    })));
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Down,
        KeyModifiers::NONE,
    )));
    insta::assert_snapshot!("releases_listed", render(&app).backend());

    // `b` on the selected passed release asks first, naming it; `n` leaves it.
    assert!(key(&mut app, 'b').is_empty());
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("Roll back to 18.0-2?"), "{text}");
    assert!(key(&mut app, 'n').is_empty());
    assert_eq!(app.deploy.runs.stage, RunStage::Listed);
    key(&mut app, 'b');
    let effects = key(&mut app, 'y');
    match effects.as_slice() {
        [Effect::RunDeploy(run)] => {
            assert_eq!(
                run.action,
                RunAction::RollbackTo {
                    tag: "18.0-2".into()
                }
            )
        }
        other => panic!("{other:?}"),
    }
    // A rolled-back release is no target.
    app.deploy.runs.stage = RunStage::Listed;
    app.on_action(Action::Top);
    assert!(key(&mut app, 'b').is_empty());
    assert_eq!(app.deploy.runs.stage, RunStage::Listed);
}

#[test]
fn an_unfinished_deploy_is_offered_on_start_and_its_steps_show_live() {
    let mut app = releases_app(DeploysLoaded {
        releases: history(),
        unfinished: Some(unfinished()),
        running: None,
    });
    assert_eq!(
        app.deploy.view,
        View::Releases,
        "the offer comes forward on its own"
    );
    assert!(
        app.notice
            .as_deref()
            .unwrap_or("")
            .contains("unfinished deploy of 18.0-3"),
        "{:?}",
        app.notice
    );
    insta::assert_snapshot!("unfinished_offered", render(&app).backend());

    key(&mut app, 'c');
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("Resume the unfinished deploy 20261130T125000Z-9f1e2d?"),
        "{text}"
    );
    key(&mut app, 'n');
    key(&mut app, 'b');
    let effects = key(&mut app, 'y');
    let [Effect::RunDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        run.action,
        RunAction::Resume {
            deploy_id: "20261130T125000Z-9f1e2d".into(),
            choice: Choice::RollBack
        }
    );
    // Queued behind another deploy job, then its steps as they come.
    app.apply(Message::Job(effects[0].clone(), JobUpdate::Queued));
    assert!(
        screen_text(render(&app).backend().buffer()).contains("waiting for the running deploy job")
    );
    app.apply(Message::Job(effects[0].clone(), JobUpdate::Started));
    for step in [
        "lock taken (/var/lib/odoo-ops/stacks/opt-odoo/lock)",
        "resume: removed shop-odoo-1-next (18.0-3), left by the interrupted switch",
        "switch back: started shop-odoo-1-next",
    ] {
        app.apply(Message::DeployStep(step.into()));
    }
    // Keys that would start another run do nothing while one runs.
    assert!(key(&mut app, 'b').is_empty());
    insta::assert_snapshot!("resume_running", render(&app).backend());

    let mut after = history();
    after.insert(
        0,
        release(
            "18.0-3",
            "c3c3c3c3c3c3c3c3",
            55,
            "alice",
            Outcome::RolledBack,
        ),
    );
    app.apply(Message::DeployDone(DeployDone {
        verdict: Verdict::Passed,
        outcome: Outcome::RolledBack,
        message:
            "18.0-3 (the operator chose to roll back the interrupted deploy); rolled back to 18.0-2"
                .into(),
        proof_dir: Some("proofs/deploy-20261130T125600Z".into()),
        loaded: Ok(DeploysLoaded {
            releases: after,
            unfinished: None,
            running: None,
        }),
    }));
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("rolled back to 18.0-2"), "{text}");
    assert!(!text.contains("unfinished:"), "{text}");
    assert!(
        text.contains("proof proofs/deploy-20261130T125600Z"),
        "{text}"
    );
}

#[test]
fn a_run_request_the_job_runner_dropped_is_said_and_the_pane_leaves_running() {
    let mut app = releases_app(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: Some(
            "bob@ci pid 4242 since 2026-11-30 12:59 UTC (deploy 20261130T125900Z-1a2b3c)".into(),
        ),
    });
    key(&mut app, 'd');
    app.apply(Message::Deploys(Ok(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: Some("bob@ci pid 4242".into()),
    })));
    app.on_action(Action::Down);
    key(&mut app, 'b');
    let effects = key(&mut app, 'y');
    assert_eq!(effects.len(), 1);
    app.apply(Message::Job(
        effects[0].clone(),
        JobUpdate::Dropped(DropReason::Replaced { by: 9 }),
    ));
    assert_eq!(app.deploy.runs.stage, RunStage::Listed);
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("roll back to 18.0-2 did not run: replaced by a newer request"),
        "{text}"
    );
    assert!(
        text.contains("a deploy runs now: locked by bob@ci pid 4242"),
        "{text}"
    );
}

#[test]
fn read_only_offers_no_rollback() {
    let mut app = App::new(
        Settings::builtin(),
        true,
        "odoo-prod-1".into(),
        odoo_ops::tui::app::Connection::Local,
    );
    app.size = ratatui::layout::Rect::new(0, 0, 110, 26);
    app.on_action(Action::FocusDeploy);
    app.apply(Message::Deploys(Ok(DeploysLoaded {
        releases: history(),
        unfinished: Some(unfinished()),
        running: None,
    })));
    assert!(key(&mut app, 'b').is_empty());
    assert!(key(&mut app, 'c').is_empty());
    assert_eq!(app.deploy.runs.stage, RunStage::Listed);
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(key(app, c).is_empty(), "typing {c:?} asks for nothing");
    }
}

fn enter(app: &mut App) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )))
    .1
}

#[test]
fn a_new_tag_is_typed_with_its_modules_its_plan_shown_and_deployed_once_confirmed() {
    use odoo_ops::deploy::preview::DeployPreview;
    let mut app = new_tag_ready();
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("t deploy a tag"), "the key is hinted: {text}");

    // `t`: the tag, Enter, the modules, Enter: the plan is asked for (read-only).
    assert!(key(&mut app, 't').is_empty());
    typed(&mut app, "18.0-4");
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("tag      18.0-4"), "{text}");
    assert!(
        enter(&mut app).is_empty(),
        "Enter on the tag goes to the modules"
    );
    typed(&mut app, "project,sale");
    let effects = enter(&mut app);
    let [Effect::PreviewDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        run.action,
        RunAction::Deploy {
            tag: "18.0-4".into(),
            modules: "project,sale".into(),
            plan: None,
        }
    );
    assert!(
        screen_text(render(&app).backend().buffer()).contains("reading what runs now"),
        "the plan is on its way"
    );
    let window = run.parts.module_window("project,sale").unwrap().unwrap();
    app.apply(Message::DeployPreviewed(Ok(DeployPreview {
        host: "this machine".into(),
        from: Ok("18.0-2 (b2b2b2b2b2b2)".into()),
        to: "18.0-4".into(),
        image: Some(("odoo-standin:18.0-4".into(), true)),
        modules: Some(odoo_ops::deploy::module_window::describe_plan(&window.plan)),
        backup_dir: Some(window.backup_dir.clone()),
        steps: odoo_ops::deploy::preview::steps("18.0-4", Some(&window)),
    })));
    insta::assert_snapshot!("deploy_plan_preview", render(&app).backend());
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("18.0-2 (b2b2b2b2b2b2) → 18.0-4"), "{text}");
    assert!(text.contains("maintenance window"), "{text}");
    assert!(text.contains("/var/backups/odoo"), "{text}");
    assert!(
        text.contains("Deploy 18.0-4 with modules project,sale?"),
        "{text}"
    );

    // `y`: the deploy runs on the job runner.
    let effects = key(&mut app, 'y');
    let [Effect::RunDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(matches!(&run.action, RunAction::Deploy { tag, .. } if tag == "18.0-4"));
    assert!(matches!(app.deploy.runs.stage, RunStage::Running { .. }));

    // A tag alone is a zero-downtime deploy; an empty tag is refused in the form.
    app.apply(Message::DeployDone(DeployDone {
        verdict: Verdict::Passed,
        outcome: Outcome::Passed,
        message: "18.0-4 serves".into(),
        proof_dir: Some("proofs/deploy-x".into()),
        loaded: Ok(DeploysLoaded {
            releases: history(),
            unfinished: None,
            running: None,
        }),
    }));
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("proof proofs/deploy-x"), "{text}");
    assert!(key(&mut app, 't').is_empty());
    assert!(
        screen_text(render(&app).backend().buffer()).contains("tag      18.0-4"),
        "the last tag is offered again"
    );
    app.on_terminal(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    enter(&mut app);
    assert!(enter(&mut app).is_empty(), "no tag: nothing asked");
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("type the tag to deploy"), "{text}");
    typed(&mut app, "18.0-5");
    enter(&mut app);
    let effects = enter(&mut app);
    let [Effect::PreviewDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(run.parts.module_window("").unwrap().is_none());
    app.apply(Message::DeployPreviewed(Ok(DeployPreview {
        host: "this machine".into(),
        from: Ok("18.0-4 (d4d4d4d4d4d4)".into()),
        to: "18.0-5".into(),
        image: Some(("odoo-standin:18.0-5".into(), false)),
        modules: None,
        backup_dir: None,
        steps: odoo_ops::deploy::preview::steps("18.0-5", None),
    })));
    let text = screen_text(render(&app).backend().buffer());
    assert!(text.contains("zero downtime"), "{text}");
    assert!(text.contains("NOT on the host"), "{text}");
    // `n`: nothing runs.
    assert!(key(&mut app, 'n').is_empty());
    assert_eq!(app.deploy.runs.stage, RunStage::Listed);
}

/// Run the effects that are jobs on a console job runner, as the event loop does, handing
/// what they report to the app, until each has finished or was replaced.
fn run_jobs(app: &mut App, effects: Vec<Effect>) {
    use odoo_ops::jobs::{JobEvent, JobRunner};
    use odoo_ops::tui::jobs::ConsoleJob;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (runner, mut events) = JobRunner::<ConsoleJob>::new();
        let mut pending = 0;
        for effect in effects {
            let job = ConsoleJob::new(&odoo_ops::target::Target::local(), effect).expect("a job");
            runner.submit(job);
            pending += 1;
        }
        while pending > 0 {
            let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
                .await
                .expect("the job ended in time")
                .expect("the runner lives");
            if matches!(event, JobEvent::Finished { .. } | JobEvent::Dropped { .. }) {
                pending -= 1;
            }
            if let Some(message) = odoo_ops::tui::jobs::message(event) {
                app.apply(message);
            }
        }
    });
}

/// The screen's text with each row's border and padding cut, rows joined by a space: what
/// is wrapped over rows reads whole.
fn flat(app: &App) -> String {
    screen_text(render(app).backend().buffer())
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '┃' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_terminal(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

/// Typed into the plan field: each key press asks for the path as it now reads.
fn typed_plan(app: &mut App, path: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut so_far = String::new();
    for c in path.chars() {
        so_far.push(c);
        let asked = key(app, c);
        assert_eq!(
            asked,
            [Effect::ReadDeployPlan(so_far.clone().into())],
            "typing {c:?}"
        );
        effects.extend(asked);
    }
    effects
}

const GOOD_PLAN: &str = "tests/fixtures/plans/good.toml";
const BAD_PLAN: &str = "tests/fixtures/plans/bad.toml";

#[test]
fn a_plan_file_is_checked_as_typed_and_a_bad_one_starts_no_deploy() {
    let mut app = releases_app(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: None,
    });
    key(&mut app, 'd');
    app.apply(Message::Deploys(Ok(DeploysLoaded {
        releases: history(),
        unfinished: None,
        running: None,
    })));
    assert!(key(&mut app, 't').is_empty());
    typed(&mut app, "18.0-4");
    // Tab twice: past the modules to the plan file.
    assert!(press(&mut app, KeyCode::Tab).is_empty());
    assert!(press(&mut app, KeyCode::Tab).is_empty());
    let effects = typed_plan(&mut app, BAD_PLAN);
    let RunStage::Entering(form) = &app.deploy.runs.stage else {
        panic!("{:?}", app.deploy.runs.stage)
    };
    assert_eq!(
        form.plan_check,
        PlanCheck::Reading(BAD_PLAN.into()),
        "read by a job, not in the key handler"
    );
    // The reads run as the console runs them; only the answer for the path as it reads
    // now is kept (the earlier ones are replaced or dropped).
    run_jobs(&mut app, effects);
    let RunStage::Entering(form) = &app.deploy.runs.stage else {
        panic!("{:?}", app.deploy.runs.stage)
    };
    let PlanCheck::Bad(path, error) = &form.plan_check else {
        panic!("{:?}", form.plan_check)
    };
    assert_eq!(path, std::path::Path::new(BAD_PLAN));
    // The parser's own error: file, line, column and key, and what is wrong.
    assert_eq!(
        error,
        "tests/fixtures/plans/bad.toml:7:3: key `install`: `sale order` is not a module name (letters, digits and _ only)"
    );
    let text = flat(&app);
    assert!(
        text.contains(&format!("bad.toml▏ ✗ {error}")),
        "under the field: {text}"
    );

    // Enter starts nothing: no preview, no deploy; the form says why.
    assert!(enter(&mut app).is_empty());
    assert!(app.deploy.runs.is_typing(), "{:?}", app.deploy.runs.stage);
    insta::assert_snapshot!("deploy_plan_file_bad", render(&app).backend());
    let text = screen_text(render(&app).backend().buffer());
    assert!(
        text.contains("not started: the plan file has an error"),
        "{text}"
    );
    assert!(
        key(&mut app, 'y').len() == 1,
        "y is typed into the field (and read), never a confirmation"
    );
    assert!(matches!(app.deploy.runs.stage, RunStage::Entering(_)));
}

#[test]
fn a_good_plan_files_phases_are_previewed_and_reach_the_deploy_request() {
    use odoo_ops::deploy::preview::DeployPreview;
    use odoo_ops::odoo::modules::plan::Plan;
    let mut app = new_tag_ready();
    key(&mut app, 't');
    typed(&mut app, "18.0-4");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    let effects = typed_plan(&mut app, GOOD_PLAN);
    // Enter before the answer: nothing yet, and said so.
    assert!(enter(&mut app).is_empty());
    assert!(
        screen_text(render(&app).backend().buffer()).contains("still being read"),
        "the plan is not taken unchecked"
    );
    run_jobs(&mut app, effects);
    let text = flat(&app);
    assert!(
        text.contains("good.toml▏ ✓ 2 phases: install queue_job; then install project, hr_expense; upgrade base"),
        "{text}"
    );
    insta::assert_snapshot!("deploy_plan_file_good", render(&app).backend());

    // With modules typed too it is refused: one or the other, as on the command line.
    press(&mut app, KeyCode::Up);
    typed(&mut app, "sale");
    assert!(enter(&mut app).is_empty());
    assert!(
        screen_text(render(&app).backend().buffer()).contains("not both"),
        "modules and a plan file"
    );
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }

    let effects = enter(&mut app);
    let [Effect::PreviewDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let expected = Plan::load(std::path::Path::new(GOOD_PLAN)).unwrap();
    let RunAction::Deploy { tag, modules, plan } = &run.action else {
        panic!("{:?}", run.action)
    };
    assert_eq!((tag.as_str(), modules.as_str()), ("18.0-4", ""));
    let file = plan
        .as_ref()
        .expect("the plan file travels with the request");
    assert_eq!(file.path, std::path::Path::new(GOOD_PLAN));
    assert_eq!(file.plan, expected);
    let window = run.module_window().unwrap().expect("a maintenance window");
    assert_eq!(window.plan, expected);
    assert!(
        !window.upgrade_installed,
        "a plan runs as written, as --plan"
    );
    app.apply(Message::DeployPreviewed(Ok(DeployPreview {
        host: "this machine".into(),
        from: Ok("18.0-2 (b2b2b2b2b2b2)".into()),
        to: "18.0-4".into(),
        image: Some(("odoo-standin:18.0-4".into(), true)),
        modules: Some(odoo_ops::deploy::module_window::describe_plan(&window.plan)),
        backup_dir: Some(window.backup_dir.clone()),
        steps: odoo_ops::deploy::preview::steps("18.0-4", Some(&window)),
    })));
    let text = flat(&app);
    assert!(
        text.contains("plan     tests/fixtures/plans/good.toml (2 phases: install queue_job;"),
        "the plan file in the preview: {text}"
    );
    assert!(
        text.contains("Deploy 18.0-4 with the plan tests/fixtures/plans/good.toml?"),
        "{text}"
    );

    // `y`: the deploy asked for carries the plan's phases, not the modules field.
    let effects = key(&mut app, 'y');
    let [Effect::RunDeploy(run)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let window = run.module_window().unwrap().expect("the window runs");
    assert_eq!(window.plan, expected);
    assert_eq!(
        window.plan.phases[1].odoo_args(),
        ["-i", "project,hr_expense", "-u", "base"]
    );
}
