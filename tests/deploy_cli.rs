//! `odoo-ops deploy` and `odoo-ops rollback`, the real binary against a real stack (see
//! support::deploy_stack): nginx, the PostgreSQL container, the Odoo stand-in's releases,
//! Docker. What a CI job sees: the exit code, the output, the proof, the releases.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use odoo_ops::deploy::lock::{self, LockOptions, LockRequest, Operation};
use odoo_ops::deploy::{StackState, releases};
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;
use support::deploy_run::{assert_valid_proof, last_proof, run, running_tag, stack_args, text};
use support::deploy_stack::{Load, Stack, failures, rt};
use support::standin::{self, Bad, RELEASES};

/// The binary with the state and config in `state` (a stack other than the test's).
fn odoo_ops(state: &Path, args: &[String]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .env("ODOO_OPS_STATE_DIR", state.join("odoo-ops"))
        .env("XDG_CONFIG_HOME", state.join("config"))
        .args(args)
        .output()
        .expect("run odoo-ops")
}

fn deploy(stack: &Stack, tag: &str) -> Output {
    let mut args = vec!["deploy".to_string(), "--tag".into(), tag.into()];
    args.extend(stack_args(stack));
    run(stack, None, &args)
}

fn release_tags(stack: &Stack) -> Vec<(String, String)> {
    let state = StackState::in_dirs(&stack.dirs(), stack.stack_dir.path());
    rt().block_on(releases::list(&Target::local(), &state))
        .unwrap()
        .into_iter()
        .map(|r| {
            let outcome = serde_json::to_value(r.outcome).unwrap();
            (r.tag, outcome.as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn a_good_release_deploys_with_no_failed_request_and_rollback_brings_the_previous_back() {
    let stack = Stack::new("deploycli");
    let load = Load::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(500));
    let out = deploy(&stack, RELEASES[1]);
    std::thread::sleep(Duration::from_millis(500));
    let sent = load.finish();
    let failed = failures(&sent);
    println!("{}", text(&out));
    println!(
        "requests through nginx during the deploy: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert!(text(&out).contains("PASSED"), "{}", text(&out));
    assert_eq!(running_tag(&stack), RELEASES[1]);

    let (dir, status) = last_proof(&stack);
    assert_valid_proof(&status);
    assert_eq!(status["outcome"], "passed");
    assert_eq!(status["from"]["tag"], RELEASES[0]);
    assert_eq!(status["to"]["tag"], RELEASES[1]);
    assert!(
        status["gates"].as_array().is_some_and(|g| !g.is_empty()),
        "{status:#}"
    );
    let health = std::fs::read_to_string(dir.join("healthcheck.log")).unwrap();
    assert!(health.contains("[PASS]"), "{health}");
    assert!(dir.join("module_install.log").exists());
    // The release is listed, and what ran before it too (rollback's way back).
    let tags = release_tags(&stack);
    assert_eq!(
        tags,
        vec![
            (RELEASES[1].to_string(), "passed".to_string()),
            (RELEASES[0].to_string(), "passed".to_string())
        ]
    );

    // Rollback: back to the previous release, through the same switch.
    let mut args = vec!["rollback".to_string()];
    args.extend(stack_args(&stack));
    let load = Load::start(stack.nginx_port);
    let out = run(&stack, None, &args);
    let sent = load.finish();
    println!("{}", text(&out));
    println!(
        "requests through nginx during the rollback: {}, failed: {}",
        sent.len(),
        failures(&sent).len()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(failures(&sent).is_empty());
    assert_eq!(running_tag(&stack), RELEASES[0]);
    let (_, status) = last_proof(&stack);
    assert_valid_proof(&status);
    assert_eq!(status["operation"], "rollback");
    assert_eq!(status["outcome"], "passed");
    assert_eq!(status["to"]["tag"], RELEASES[0]);
    assert_eq!(release_tags(&stack)[0].0, RELEASES[0]);
}

#[test]
fn a_never_healthy_release_is_refused_and_the_old_one_keeps_serving() {
    let bad = standin::ensure_bad_image(Bad::NeverHealthy);
    println!("bad image: {bad}");
    let stack = Stack::new("deploybad");
    let old_id = stack.project.id_of(&stack.odoo);
    let load = Load::start(stack.nginx_port);
    let out = deploy(&stack, Bad::NeverHealthy.tag());
    let sent = load.finish();
    println!("{}", text(&out));
    println!(
        "requests through nginx during the deploy: {}, failed: {}",
        sent.len(),
        failures(&sent).len()
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("FAILED"), "{}", text(&out));
    assert!(failures(&sent).is_empty());
    // The old container still serves, the same one.
    assert_eq!(stack.project.id_of(&stack.odoo), old_id);
    assert_eq!(running_tag(&stack), RELEASES[0]);
    assert_eq!(stack.service_containers().len(), 1);
    let (_, status) = last_proof(&stack);
    assert_valid_proof(&status);
    // Refused before the switch: the old release never stopped serving, and its gates
    // through nginx say so (the zero-downtime deploy's automatic rollback).
    assert_eq!(status["outcome"], "rolled_back");
    assert_eq!(status["rollback"]["result"], "passed", "{status:#}");
    assert_eq!(status["to"]["tag"], Bad::NeverHealthy.tag());
    let switch = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "switch")
        .expect("a switch step");
    assert_eq!(switch["result"], "failed", "{status:#}");
    // Nothing recorded as a release.
    assert!(release_tags(&stack).is_empty());
}

#[test]
fn a_second_deploy_while_the_lock_is_held_is_refused_naming_the_holder() {
    let state = tempfile::tempdir().unwrap();
    let stack_dir = tempfile::tempdir().unwrap();
    let dirs = StateDirs::under(&state.path().join("odoo-ops"));
    let stack_state = StackState::in_dirs(&dirs, stack_dir.path());
    let runtime = rt();
    let held = runtime
        .block_on(lock::acquire(
            &Target::local(),
            &stack_state,
            &LockRequest {
                operation: Operation::Deploy,
                deploy_id: "20261130T120000Z-abc123".into(),
            },
            &LockOptions::default(),
        ))
        .unwrap();
    let out = odoo_ops(
        state.path(),
        &[
            "deploy".into(),
            "--tag".into(),
            RELEASES[1].into(),
            "--yes".into(),
            "--dir".into(),
            stack_dir.path().display().to_string(),
            "--project".into(),
            "nosuchproject".into(),
            "--proofs".into(),
            state.path().join("proofs").display().to_string(),
        ],
    );
    let shown = text(&out);
    println!("{shown}");
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("locked by"), "{shown}");
    assert!(shown.contains("20261130T120000Z-abc123"), "{shown}");
    assert!(
        shown.contains(&format!("pid {}", std::process::id())),
        "{shown}"
    );
    runtime.block_on(held.release()).unwrap();
}
