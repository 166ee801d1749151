//! A deploy killed (SIGKILL of `odoo-ops deploy`) at each of its steps, then
//! `odoo-ops deploy --resume`: the journal on the host says how far it got, the lock the
//! dead process left is taken over with `--yes`, and the choice made rolls back or goes
//! on, leaving the site serving through nginx with verify passing. Every proof (a refused
//! second deploy's too) is validated against schemas/deploy_status.schema.json. Real
//! nginx, PostgreSQL container, Docker and the Odoo stand-in's releases; over a real sshd
//! once.

mod support;

use std::time::Duration;

use support::deploy_run::{
    all_proofs, assert_valid_proof, deploy_args, deploy_killed_at, last_proof, run, running_tag,
    text, through_nginx, verify,
};
use support::deploy_stack::{Load, Stack, failures, inspect};
use support::standin::RELEASES;

fn resume(
    stack: &Stack,
    home: Option<&std::path::Path>,
    choice: Option<&str>,
    yes: bool,
) -> std::process::Output {
    let mut extra = vec!["--resume"];
    if let Some(c) = choice {
        extra.push(c);
    }
    let mut args = deploy_args(stack, &extra);
    if !yes {
        args.retain(|a| a != "--yes");
    }
    run(stack, home, &args)
}

/// The site serves through nginx, from `tag`, and `odoo-ops verify` passes.
#[track_caller]
fn assert_serving(stack: &Stack, tag: &str) {
    assert_eq!(running_tag(stack), tag);
    let (status, upstream) = through_nginx(stack);
    assert_eq!(status, 200, "through nginx: {upstream}");
    let v = verify(stack);
    assert_eq!(v.status.code(), Some(0), "verify:\n{}", text(&v));
}

/// The service has one container (an interrupted switch leaves none behind).
#[track_caller]
fn assert_one_container(stack: &Stack) {
    let all = stack.service_containers();
    assert_eq!(all.len(), 1, "containers of the service: {all:?}");
}

#[test]
fn a_deploy_killed_at_each_step_is_resumed_or_rolled_back_and_the_site_serves() {
    let stack = Stack::new("deployresume");
    let (a, b) = (RELEASES[0], RELEASES[1]);

    // 1. Killed after preflight: nothing switched.
    let marker = stack.state.path().join("paused-preflight");
    let mut paused =
        support::deploy_run::command(&stack, None, &deploy_args(&stack, &["--tag", b]))
            .env("ODOO_OPS_TEST_PAUSE_AFTER_STEP", "preflight")
            .env("ODOO_OPS_TEST_PAUSE_FILE", &marker)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !marker.exists() {
        assert!(
            paused.try_wait().unwrap().is_none(),
            "the deploy ended before its pause"
        );
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    // While it runs: a second deploy is refused naming the holder, with a proof.
    let second = run(&stack, None, &deploy_args(&stack, &["--tag", b]));
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(text(&second).contains("locked by "), "{}", text(&second));
    assert!(
        text(&second).contains(&format!("pid {}", paused.id())),
        "{}",
        text(&second)
    );
    let (_, refused) = last_proof(&stack);
    assert_valid_proof(&refused);
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["steps"][0]["name"], "lock");
    assert!(
        refused["steps"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("locked by "),
        "{refused:#}"
    );
    // ...and there is nothing to resume: that deploy is alive.
    let alive = resume(&stack, None, Some("rollback"), true);
    assert_eq!(alive.status.code(), Some(0), "{}", text(&alive));
    assert!(text(&alive).contains("is running"), "{}", text(&alive));
    paused.kill().unwrap();
    paused.wait().unwrap();

    // Without a choice and without a terminal: told what it is and what the choices are.
    let asked = resume(&stack, None, None, true);
    assert_eq!(asked.status.code(), Some(2), "{}", text(&asked));
    let said = text(&asked);
    assert!(said.contains("unfinished: deploy "), "{said}");
    assert!(said.contains(&format!("of {b} (from {a})")), "{said}");
    assert!(
        said.contains("--resume continue") && said.contains("--resume rollback"),
        "{said}"
    );
    // Without --yes there is no one to confirm the lock's take-over.
    let unconfirmed = resume(&stack, None, Some("rollback"), false);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", text(&unconfirmed));
    assert!(
        text(&unconfirmed).contains("--yes"),
        "{}",
        text(&unconfirmed)
    );

    let out = resume(&stack, None, Some("rollback"), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "abandoned", "{proof:#}");
    assert_eq!(proof["to"]["tag"], b);
    assert_eq!(proof["steps"][0]["name"], "preflight");
    assert_eq!(proof["steps"][0]["result"], "passed");
    assert_serving(&stack, a);
    assert_one_container(&stack);
    // The journal is closed: nothing more to resume.
    let none = resume(&stack, None, Some("rollback"), true);
    assert!(text(&none).contains("nothing to resume"), "{}", text(&none));

    // 2. Killed inside the switch, the new container started beside the old one.
    deploy_killed_at(&stack, None, &["--tag", b], "switch:started");
    assert_eq!(
        stack.service_containers().len(),
        2,
        "the switch was cut short"
    );
    let out = resume(&stack, None, Some("rollback"), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("-next"), "{}", text(&out));
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back", "{proof:#}");
    let switch = proof["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "switch")
        .unwrap();
    assert_eq!(switch["result"], "interrupted");
    assert_eq!(switch["ended_at"], serde_json::Value::Null);
    assert_one_container(&stack);
    assert_serving(&stack, a);

    // 3. Killed after the switch, before verify: B serves unverified; roll back, with
    // requests through nginx all along.
    deploy_killed_at(&stack, None, &["--tag", b], "switch");
    assert_eq!(running_tag(&stack), b);
    let load = Load::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(300));
    let out = resume(&stack, None, Some("rollback"), true);
    let sent = load.finish();
    let failed = failures(&sent);
    println!(
        "requests through nginx during the resumed rollback: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    let (dir, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back", "{proof:#}");
    assert_eq!(proof["rollback"]["result"], "passed");
    assert_eq!(proof["rollback"]["to"]["tag"], a);
    let health = std::fs::read_to_string(dir.join("healthcheck.log")).unwrap();
    assert!(health.contains("[PASS]"), "{health}");
    assert_one_container(&stack);
    assert_serving(&stack, a);

    // 4. Killed after verify passed, before the release was recorded: continue.
    deploy_killed_at(&stack, None, &["--tag", b], "verify");
    let out = resume(&stack, None, Some("continue"), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed", "{proof:#}");
    assert!(
        proof["to"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_serving(&stack, b);
    let id = inspect(&stack.odoo, "{{.Id}}").unwrap();
    assert_one_container(&stack);

    // 5. Killed after preflight, then continue: deployed again as a new run.
    deploy_killed_at(&stack, None, &["--tag", a], "preflight");
    let before = all_proofs(&stack).len();
    let out = resume(&stack, None, Some("continue"), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("deployed again"), "{}", text(&out));
    let proofs = all_proofs(&stack);
    assert_eq!(
        proofs.len(),
        before + 2,
        "the closed deploy's proof and the new run's"
    );
    let (closed, again) = (&proofs[before].1, &proofs[before + 1].1);
    assert_valid_proof(closed);
    assert_valid_proof(again);
    assert_eq!(closed["outcome"], "abandoned");
    assert_eq!(again["outcome"], "passed");
    assert_ne!(closed["deploy_id"], again["deploy_id"]);
    assert_ne!(inspect(&stack.odoo, "{{.Id}}").unwrap(), id);
    assert_serving(&stack, a);
    assert_one_container(&stack);
}

#[test]
fn over_ssh_a_killed_deploy_is_resumed_and_a_deploy_passes_the_same_as_locally() {
    let stack = Stack::new("deployssh");
    let sshd = support::sshd::Sshd::start();
    let client = tempfile::tempdir().unwrap();
    let home = sshd.client_home(client.path());
    let over_ssh = |extra: &[&str]| {
        let mut e = vec!["--host", "droplet"];
        e.extend_from_slice(extra);
        e.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let (a, b) = (RELEASES[0], RELEASES[1]);

    // Killed after the switch, over SSH; resumed over SSH: verified and recorded.
    let extra = over_ssh(&["--tag", b]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    deploy_killed_at(&stack, Some(&home), &extra, "switch");
    assert_eq!(running_tag(&stack), b);
    let extra = over_ssh(&["--resume", "continue"]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = run(&stack, Some(&home), &deploy_args(&stack, &extra));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed", "{proof:#}");
    assert!(
        proof["host"].as_str().unwrap().contains("127.0.0.1"),
        "{proof:#}"
    );
    assert_serving(&stack, b);

    // A whole deploy over SSH: no failed request through nginx, a valid proof.
    let load = Load::start(stack.nginx_port);
    std::thread::sleep(Duration::from_millis(300));
    let extra = over_ssh(&["--tag", a]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = run(&stack, Some(&home), &deploy_args(&stack, &extra));
    let sent = load.finish();
    let failed = failures(&sent);
    println!(
        "over SSH: requests through nginx during the deploy: {}, failed: {}",
        sent.len(),
        failed.len()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    let (dir, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "passed");
    assert_eq!(proof["from"]["tag"], b);
    assert_eq!(proof["to"]["tag"], a);
    assert!(
        std::fs::read_to_string(dir.join("healthcheck.log"))
            .unwrap()
            .contains("[PASS]")
    );
    assert_serving(&stack, a);
    assert_one_container(&stack);
}

#[test]
fn a_rollback_killed_during_its_switch_back_is_resumed_and_the_previous_release_serves() {
    let stack = Stack::new("resumeback");
    let (a, b) = (RELEASES[0], RELEASES[1]);
    // B switched in, the deploy killed before its verify.
    deploy_killed_at(&stack, None, &["--tag", b], "switch");
    assert_eq!(running_tag(&stack), b);
    // Its rollback killed in turn, A's container started beside B's, nginx still on B.
    deploy_killed_at(
        &stack,
        None,
        &["--resume", "rollback"],
        "switch back:started",
    );
    assert_eq!(
        stack.service_containers().len(),
        2,
        "the switch back was cut short"
    );
    assert_eq!(through_nginx(&stack).0, 200, "nginx still reaches B");
    // The next start: B (what .env names, what nginx reaches) kept, A's half-started
    // container removed, then the switch back again, verified.
    let out = resume(&stack, None, Some("rollback"), true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("-next ({a}), left by the interrupted switch")),
        "{}",
        text(&out)
    );
    let (_, proof) = last_proof(&stack);
    assert_valid_proof(&proof);
    assert_eq!(proof["outcome"], "rolled_back", "{proof:#}");
    assert_eq!(proof["rollback"]["to"]["tag"], a);
    let back = proof["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "switch back")
        .expect("the interrupted switch back is in the journal");
    assert_eq!(back["result"], "interrupted", "{proof:#}");
    assert_one_container(&stack);
    assert_serving(&stack, a);
}
