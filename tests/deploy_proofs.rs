//! What a deploy leaves behind: its step journal on the host (found again after the
//! console is killed), the host's list of releases (also through `odoo-ops releases`),
//! and the proofs CI keeps, validated against `schemas/deploy_status.schema.json`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use odoo_ops::deploy::journal::{self, Header, Offer, Outcome};
use odoo_ops::deploy::proof::{
    self, BackupProof, Checksum, DeployStatus, GateRecord, GateVerdict, ProofLogs, RollbackProof,
    StepProof, StepVerdict,
};
use odoo_ops::deploy::releases::{self, Release};
use odoo_ops::deploy::{
    DeployJournal, Image, LockOptions, LockRequest, Operation, StackState, StepResult, clock, lock,
    new_deploy_id,
};
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");
const STACK: &str = "/opt/odoo";
const DIGEST_A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_B: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
/// Secrets planted where a careless deploy would leak them.
const SECRETS: [&str; 4] = [
    "planted-pg-password-71",
    "planted-bearer-token-72",
    "planted-admin-passwd-73",
    "planted-url-password-74",
];

fn state_root(root: &Path) -> PathBuf {
    root.join("odoo-ops")
}

fn state(root: &Path) -> StackState {
    StackState::in_dirs(&StateDirs::under(&state_root(root)), Path::new(STACK))
}

fn header(id: &str) -> Header {
    Header {
        deploy_id: id.to_string(),
        operation: Operation::Deploy,
        from: Some(Image::tag("18.0-20261101").with_digest(DIGEST_A)),
        to: Image::tag("18.0-20261130").with_digest(DIGEST_B),
        by: "alice@laptop".into(),
    }
}

const STEPS: [(&str, bool); 5] = [
    ("preflight", false),
    ("backup", false),
    ("switch", true),
    ("modules", true),
    ("verify", false),
];

/// Run the first `n` steps (each passing), then start the next one and stop there.
async fn run_steps(j: &DeployJournal, n: usize) {
    for (step, changes) in &STEPS[..n] {
        j.step_started(step, *changes).await.unwrap();
        j.step_ended(step, StepResult::Passed, "ok").await.unwrap();
    }
    if let Some((step, changes)) = STEPS.get(n) {
        j.step_started(step, *changes).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_dropped_after_step_n_is_unfinished_with_n_steps_done_and_a_finished_one_is_not() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    assert_eq!(journal::unfinished_in(&target, &state).await.unwrap(), None);

    for n in [0, 2, 3] {
        let id = new_deploy_id();
        let j = DeployJournal::begin(&target, &state, header(&id))
            .await
            .unwrap();
        run_steps(&j, n).await;
        drop(j); // the console goes away mid-step
        let found = journal::unfinished_in(&target, &state)
            .await
            .unwrap()
            .expect("an interrupted deploy is found");
        assert_eq!(found.deploy_id, id);
        assert_eq!(
            found.done(),
            STEPS[..n].iter().map(|s| s.0).collect::<Vec<_>>()
        );
        assert_eq!(found.stopped_at().unwrap().step, STEPS[n].0);
        assert_eq!(found.to.digest.as_deref(), Some(DIGEST_B));
        assert_eq!(found.from.as_ref().unwrap().tag, "18.0-20261101");
        // Before the switch nothing changed: go on. After it, rolling back comes first.
        let expected = if n >= 2 {
            vec![Offer::RollBack, Offer::Resume]
        } else {
            vec![Offer::Resume]
        };
        assert_eq!(found.offers, expected, "after {n} steps");
        assert!(
            found
                .describe()
                .contains(&format!("stopped during {}", STEPS[n].0)),
            "{}",
            found.describe()
        );
        // The operator picks one; the run ends, and it is not offered again.
        let again = DeployJournal::reopen(&target, &state, &found.deploy_id);
        again.finish(Outcome::RolledBack).await.unwrap();
        assert_eq!(journal::unfinished_in(&target, &state).await.unwrap(), None);
    }

    // A deploy that ran to its end is never offered.
    let j = DeployJournal::begin(&target, &state, header(&new_deploy_id()))
        .await
        .unwrap();
    run_steps(&j, STEPS.len()).await;
    j.finish(Outcome::Passed).await.unwrap();
    assert_eq!(journal::unfinished_in(&target, &state).await.unwrap(), None);

    // The journal is private and a secret in a step's detail never reaches it.
    let j = DeployJournal::begin(&target, &state, header(&new_deploy_id()))
        .await
        .unwrap();
    j.step_started("backup", false).await.unwrap();
    j.step_ended(
        "backup",
        StepResult::Failed,
        &format!("pg_dump failed: PGPASSWORD={} rejected", SECRETS[0]),
    )
    .await
    .unwrap();
    let found = journal::unfinished_in(&target, &state)
        .await
        .unwrap()
        .unwrap();
    assert!(found.describe().contains("stopped after backup failed"));
    for entry in std::fs::read_dir(state.journal_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!std::fs::read_to_string(&path).unwrap().contains(SECRETS[0]));
    }
}

/// The child side of the kill test: a console that locks the stack, journals two steps,
/// starts the third and then hangs until it is killed.
#[test]
fn killed_console_child() {
    let Some(root) = std::env::var_os("DEPLOYLOG_CHILD_ROOT") else {
        return; // only runs as the child of the test below
    };
    let rt = odoo_ops::cli::runtime().unwrap();
    rt.block_on(async {
        let target = Target::local();
        let state = state(Path::new(&root));
        let id = std::env::var("DEPLOYLOG_CHILD_ID").unwrap();
        let request = LockRequest {
            operation: Operation::Deploy,
            deploy_id: id.clone(),
        };
        let _lock = lock::acquire(&target, &state, &request, &LockOptions::default())
            .await
            .unwrap();
        let j = DeployJournal::begin(&target, &state, header(&id))
            .await
            .unwrap();
        run_steps(&j, 2).await;
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_killed_mid_deploy_leaves_a_deploy_the_next_start_finds() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let id = new_deploy_id();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_console_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DEPLOYLOG_CHILD_ROOT", root.path())
        .env("DEPLOYLOG_CHILD_ID", &id)
        .spawn()
        .unwrap();
    // Wait for the third step to start, then kill the console as the OOM killer would.
    let file = state.journal_dir().join(format!("{id}.jsonl"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("\"step\":\"switch\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child never reached the switch"
        );
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While it runs, its deploy is in progress, not interrupted.
    assert_eq!(journal::unfinished_in(&target, &state).await.unwrap(), None);
    child.kill().unwrap();
    child.wait().unwrap();

    // Its lock is still on the host, fresh, but its process is gone: the deploy is found.
    assert!(state.lock_file().exists());
    let found = journal::unfinished_in(&target, &state)
        .await
        .unwrap()
        .expect("the killed deploy is offered");
    assert_eq!(found.deploy_id, id);
    assert_eq!(found.done(), vec!["preflight", "backup"]);
    assert_eq!(found.stopped_at().unwrap().step, "switch");
    assert_eq!(found.offers, vec![Offer::RollBack, Offer::Resume]);
    let seen = lock::peek(&target, &state, &LockOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert!(
        seen.stale.as_deref().unwrap_or("").contains("is gone"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_are_listed_newest_first_by_the_library_and_the_cli() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    assert!(releases::list(&target, &state).await.unwrap().is_empty());
    let now = clock::now_ms();
    let release = |tag: &str, ago_min: i64, outcome| Release {
        tag: tag.into(),
        digest: Some(DIGEST_A.into()),
        deployed_ms: now - ago_min * 60_000,
        by: "alice@laptop".into(),
        outcome,
        deploy_id: new_deploy_id(),
    };
    // Written in the order the deploys ended, one of them with a clock a little behind.
    for r in [
        release("18.0-1", 300, Outcome::Passed),
        release("18.0-3", 60, Outcome::Passed),
        release("18.0-2", 120, Outcome::RolledBack),
        release("18.0-4", 1, Outcome::Failed),
    ] {
        releases::record(&target, &state, &r).await.unwrap();
    }
    let tags: Vec<String> = releases::list(&target, &state)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(tags, ["18.0-4", "18.0-3", "18.0-2", "18.0-1"]);

    // `odoo-ops releases` on the same host state.
    let config = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("XDG_CONFIG_HOME", config.path())
            .env("ODOO_OPS_STATE_DIR", state_root(root.path()))
            .output()
            .unwrap()
    };
    let out = cli(&["releases", "--dir", STACK, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["18.0-4", "18.0-3", "18.0-2", "18.0-1"]);
    assert_eq!(json[0]["outcome"], "failed");
    assert_eq!(json[2]["outcome"], "rolled_back");
    assert_eq!(json[0]["by"], "alice@laptop");
    assert_eq!(json[0]["digest"], DIGEST_A);

    let out = cli(&["releases", "--dir", STACK]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("TAG"), "{text}");
    assert!(
        lines[1].starts_with("18.0-4 ") && lines[1].ends_with("failed"),
        "{text}"
    );
    assert!(lines[1].contains("111111111111 "), "{text}");
    assert!(
        lines[4].starts_with("18.0-1 ") && lines[4].ends_with("passed"),
        "{text}"
    );

    let out = cli(&["releases", "--dir", "/opt/never-deployed"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "no release recorded for this stack yet\n"
    );
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/deploy_status.schema.json"
    ))
    .unwrap();
    jsonschema::draft202012::new(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, value: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

fn gate(name: &str, verdict: GateVerdict, evidence: &[&str]) -> GateRecord {
    GateRecord {
        name: name.into(),
        hard: true,
        verdict,
        summary: format!("{name}: {verdict:?}"),
        evidence: evidence.iter().map(|s| s.to_string()).collect(),
        duration_ms: 120,
    }
}

/// Every file of a proof, read; none may hold a planted secret.
fn assert_no_secret(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{} holds {secret}:\n{text}",
                path.display()
            );
        }
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_of_a_passed_and_a_failed_deploy_match_the_schema_and_hold_no_secret() {
    let validator = schema();
    let proofs = tempfile::tempdir().unwrap();
    let proofs_root = proofs.path().join("proofs");
    let target = Target::local();

    // The stack directory is a git checkout: its commit goes in the proof.
    let stack = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(stack.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    std::fs::write(stack.path().join("docker-compose.yml"), "services: {}\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "stack"]);
    let head = git(&["rev-parse", "HEAD"]);
    assert_eq!(
        proof::git_sha(&target, stack.path()).await,
        Some(head.clone())
    );
    let not_git = tempfile::tempdir().unwrap();
    assert_eq!(proof::git_sha(&target, not_git.path()).await, None);

    let started = clock::now_ms();
    let id = new_deploy_id();
    let mut passed = DeployStatus::new(
        &id,
        Operation::Deploy,
        &target.describe(),
        stack.path(),
        Some(Image::tag("18.0-1").with_digest(DIGEST_A)),
        Image::tag("18.0-2").with_digest(DIGEST_B),
        started,
    );
    passed.outcome = Outcome::Passed;
    passed.git_sha = Some(head.clone());
    passed.ended_at = clock::rfc3339(started + 40_000);
    for (i, (step, _)) in STEPS.iter().enumerate() {
        let t = started + i as i64 * 1000;
        passed
            .steps
            .push(StepProof::new(step, t, t + 900, StepResult::Passed, "ok"));
    }
    passed.steps[3].detail = format!(
        "odoo -u sale --db_password={} --stop-after-init",
        SECRETS[2]
    );
    passed.gates = vec![
        gate(
            "container",
            GateVerdict::Pass,
            &["odoo-1 running, 0 restarts"],
        ),
        gate(
            "ocr",
            GateVerdict::Pass,
            &[
                "GET https://ocr.internal/health",
                &format!("Authorization: Bearer {}", SECRETS[1]),
                "200 {\"status\":\"ok\"}",
            ],
        ),
        gate(
            "database",
            GateVerdict::Pass,
            &[&format!(
                "postgres://odoo:{}@db:5432/odoo accepting connections",
                SECRETS[3]
            )],
        ),
    ];
    passed.backup = Some(BackupProof {
        location: "/var/backups/odoo-ops/20261130T120107Z".into(),
        files: vec![Checksum {
            name: "odoo.dump".into(),
            sha256: "a".repeat(64),
            bytes: 1_048_576,
        }],
    });
    let logs = ProofLogs {
        healthcheck: format!(
            "container: pass\nocr: pass (Authorization: Bearer {})\n",
            SECRETS[1]
        ),
        module_install: format!(
            "INFO odoo: Odoo version 18.0\nINFO odoo.modules.loading: loading sale\nadmin_passwd = {}\n",
            SECRETS[2]
        ),
    };
    let dir = proof::write(&proofs_root, started, &passed, &logs).unwrap();
    assert_eq!(
        dir,
        proofs_root.join(format!("deploy-{}", clock::compact(started)))
    );
    let names: Vec<String> = {
        let mut n: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names,
        [
            "deploy_status.json",
            "healthcheck.log",
            "module_install.log"
        ]
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("deploy_status.json")).unwrap()).unwrap();
    assert_valid(&validator, &status);
    assert_no_secret(&dir);
    // Redaction hides values, not what happened.
    assert_eq!(status["git_sha"], head.as_str());
    assert_eq!(status["to"]["digest"], DIGEST_B);
    assert_eq!(status["steps"].as_array().unwrap().len(), 5);
    assert_eq!(
        status["gates"][1]["evidence"][0],
        "GET https://ocr.internal/health"
    );
    assert!(
        status["gates"][2]["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("postgres://odoo:"),
        "{status:#}"
    );
    let install = std::fs::read_to_string(dir.join("module_install.log")).unwrap();
    assert!(install.contains("loading sale"), "{install}");

    // A failed deploy, started in the same second: its own directory, a rollback, an
    // interrupted step, no git, no backup, no module run.
    let id = new_deploy_id();
    let mut failed = DeployStatus::new(
        &id,
        Operation::Deploy,
        &target.describe(),
        Path::new(STACK),
        Some(Image::tag("18.0-2").with_digest(DIGEST_B)),
        Image::tag("18.0-crashloop"),
        started,
    );
    failed.outcome = Outcome::RolledBack;
    failed.ended_at = clock::rfc3339(started + 90_000);
    failed.steps = vec![
        StepProof::new("preflight", started, started + 500, StepResult::Passed, ""),
        StepProof::new(
            "switch",
            started + 500,
            started + 1500,
            StepResult::Passed,
            "",
        ),
        StepProof::new(
            "verify",
            started + 1500,
            started + 60_000,
            StepResult::Failed,
            "container restarting",
        ),
    ];
    let failed_gate = gate(
        "container",
        GateVerdict::Fail,
        &[
            "odoo-1 restarting (exit 1), 5 restarts",
            &format!(
                "odoo-1 | psycopg2.OperationalError: PGPASSWORD={}",
                SECRETS[0]
            ),
        ],
    );
    failed.gates = vec![failed_gate.clone()];
    failed.rollback = Some(RollbackProof {
        to: Image::tag("18.0-2").with_digest(DIGEST_B),
        reason: "gate container failed".into(),
        result: StepVerdict::Passed,
        steps: vec![StepProof::new(
            "switch back",
            started + 60_000,
            started + 62_000,
            StepResult::Passed,
            "",
        )],
        gates: vec![gate("container", GateVerdict::Pass, &["odoo-1 running"])],
    });
    // A step the journal saw start but never end.
    let record = journal::replay(&format!(
        "{}\n{}\n",
        serde_json::json!({"deploy_id": id, "at_ms": started, "event": "begin", "operation": "deploy",
            "from": null, "to": {"tag": "x"}, "by": "a@b"}),
        serde_json::json!({"deploy_id": id, "at_ms": started + 10, "event": "step_started",
            "step": "modules", "changes_host": true}),
    ))
    .unwrap();
    failed.steps.push(StepProof::from_record(&record.steps[0]));
    let dir2 = proof::write(&proofs_root, started, &failed, &ProofLogs::default()).unwrap();
    assert_ne!(dir2, dir);
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir2.join("deploy_status.json")).unwrap()).unwrap();
    assert_valid(&validator, &status);
    assert_no_secret(&dir2);
    assert_eq!(status["outcome"], "rolled_back");
    assert_eq!(status["steps"][3]["result"], "interrupted");
    assert_eq!(status["steps"][3]["ended_at"], serde_json::Value::Null);
    assert_eq!(status["rollback"]["result"], "passed");
    assert_eq!(status["git_sha"], serde_json::Value::Null);
    assert_eq!(
        std::fs::read_to_string(dir2.join("module_install.log")).unwrap(),
        "no module was installed or upgraded by this deploy\n"
    );

    // The schema has teeth: what the writer must never produce is rejected.
    let mut broken = status.clone();
    broken.as_object_mut().unwrap().remove("to");
    assert!(!validator.is_valid(&broken));
    let mut broken = status.clone();
    broken["steps"][0]["result"] = "fine".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = status;
    broken["gates"][0]["password"] = "x".into();
    assert!(!validator.is_valid(&broken));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_the_journal_and_the_releases_are_the_same_as_locally() {
    let sshd = support::sshd::Sshd::start();
    let target = sshd.target().await;
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let id = new_deploy_id();
    let j = DeployJournal::begin(&target, &state, header(&id))
        .await
        .unwrap();
    run_steps(&j, 3).await;
    drop(j);
    let found = journal::unfinished_in(&target, &state)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.deploy_id, id);
    assert_eq!(found.done(), vec!["preflight", "backup", "switch"]);
    assert_eq!(found.stopped_at().unwrap().step, "modules");
    // Read locally, the host's file says the same.
    let local = journal::unfinished_in(&Target::local(), &state)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(local, found);
    DeployJournal::reopen(&target, &state, &id)
        .finish(Outcome::RolledBack)
        .await
        .unwrap();
    assert_eq!(journal::unfinished_in(&target, &state).await.unwrap(), None);

    let release = Release {
        tag: "18.0-2".into(),
        digest: Some(DIGEST_B.into()),
        deployed_ms: clock::now_ms(),
        by: "alice@laptop".into(),
        outcome: Outcome::RolledBack,
        deploy_id: id,
    };
    releases::record(&target, &state, &release).await.unwrap();
    assert_eq!(
        releases::list(&target, &state).await.unwrap(),
        vec![release]
    );
}
