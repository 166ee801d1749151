//! The `odoo-ops` binary run against a [`super::deploy_stack::Stack`] as CI runs it, and
//! what a test reads back: proofs (validated against the schema), the tag that runs, a
//! request through nginx. A deploy can be stopped at a step (the binary's test-only pause,
//! src/deploy/test_pause.rs) and killed there with SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::deploy_stack::{DOMAIN, PROBE, Stack, inspect};
use super::rawhttp;

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The binary with the state and config kept in the test's own directories; `home` set
/// (an SSH client's `~/.ssh`) when given.
pub fn command(stack: &Stack, home: Option<&Path>, args: &[String]) -> Command {
    let state = stack.state.path();
    let mut c = Command::new(env!("CARGO_BIN_EXE_odoo-ops"));
    c.env("ODOO_OPS_STATE_DIR", state.join("odoo-ops"))
        .env("XDG_CONFIG_HOME", state.join("config"))
        .env_remove("ODOO_OPS_TEST_PAUSE_AFTER_STEP")
        .env_remove("ODOO_OPS_TEST_PAUSE_FILE")
        .stdin(Stdio::null())
        .args(args);
    if let Some(home) = home {
        c.env("HOME", home).env_remove("SSH_AUTH_SOCK");
    }
    c
}

pub fn run(stack: &Stack, home: Option<&Path>, args: &[String]) -> Output {
    command(stack, home, args).output().expect("run odoo-ops")
}

/// The stack's options, as a CI job passes them for this host (`--yes` included).
pub fn stack_args(stack: &Stack) -> Vec<String> {
    stack_args_waiting(stack, 60)
}

/// The same, a new container given `ready_timeout` seconds to become healthy.
pub fn stack_args_waiting(stack: &Stack, ready_timeout: u32) -> Vec<String> {
    let s = stack.slots;
    vec![
        "--yes".into(),
        "--dir".into(),
        stack.stack_dir.path().display().to_string(),
        "--project".into(),
        stack.project.name.clone(),
        "--domain".into(),
        DOMAIN.into(),
        "--nginx-conf".into(),
        stack.nginx.path().join("nginx.conf").display().to_string(),
        "--nginx-prefix".into(),
        format!("{}/", stack.nginx.path().display()),
        "--slots".into(),
        format!(
            "{}:{},{}:{}",
            s.blue.http, s.blue.gevent, s.green.http, s.green.gevent
        ),
        "--ready-timeout".into(),
        ready_timeout.to_string(),
        "--proofs".into(),
        proofs(stack).display().to_string(),
    ]
}

pub fn proofs(stack: &Stack) -> PathBuf {
    stack.state.path().join("proofs")
}

pub fn deploy_args(stack: &Stack, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["deploy".to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(stack_args(stack));
    args
}

/// A deploy started with the pause at `point`, killed with SIGKILL once it got there.
/// Returns what it printed up to then.
pub fn deploy_killed_at(stack: &Stack, home: Option<&Path>, extra: &[&str], point: &str) -> String {
    let marker = stack
        .state
        .path()
        .join(format!("paused-{}", point.replace(':', "-")));
    let _ = std::fs::remove_file(&marker);
    let log = stack
        .state
        .path()
        .join(format!("killed-{}.log", point.replace(':', "-")));
    let mut child: Child = command(stack, home, &deploy_args(stack, extra))
        .env("ODOO_OPS_TEST_PAUSE_AFTER_STEP", point)
        .env("ODOO_OPS_TEST_PAUSE_FILE", &marker)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start odoo-ops deploy");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the deploy ended ({status}) before it reached {point}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the deploy never reached {point}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL: no handler runs, nothing is released or finished.
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// Every proof's deploy_status.json, oldest first.
pub fn all_proofs(stack: &Stack) -> Vec<(PathBuf, serde_json::Value)> {
    let Ok(entries) = std::fs::read_dir(proofs(stack)) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    dirs.sort_by_key(|d| (std::fs::metadata(d).unwrap().modified().unwrap(), d.clone()));
    dirs.into_iter()
        .map(|d| {
            let text = std::fs::read_to_string(d.join("deploy_status.json")).unwrap();
            let v = serde_json::from_str(&text).unwrap();
            (d, v)
        })
        .collect()
}

pub fn last_proof(stack: &Stack) -> (PathBuf, serde_json::Value) {
    all_proofs(stack).pop().expect("a proof was written")
}

#[track_caller]
pub fn assert_valid_proof(value: &serde_json::Value) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/deploy_status.schema.json"
    ))
    .unwrap();
    let validator = jsonschema::draft202012::new(&serde_json::from_str(&text).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

/// A proof's step by name.
#[track_caller]
pub fn proof_step<'a>(steps: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {steps:#}"))
}

/// A proof's steps as `NAME RESULT`, in order.
pub fn step_names(steps: &serde_json::Value) -> Vec<String> {
    steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["name"].as_str().unwrap(),
                s["result"].as_str().unwrap()
            )
        })
        .collect()
}

/// The tag of the service's container under its own name (a finished switch renames the
/// new container to it).
pub fn running_tag(stack: &Stack) -> String {
    let image = inspect(&stack.odoo, "{{.Config.Image}}").expect("the odoo container runs");
    image.rsplit(':').next().unwrap().to_string()
}

/// One request through nginx: its status and the upstream that answered.
pub fn through_nginx(stack: &Stack) -> (u16, String) {
    let r = rawhttp::try_request(
        stack.nginx_port,
        "GET",
        PROBE,
        &[("Host", DOMAIN)],
        b"",
        Duration::from_secs(10),
    )
    .expect("nginx answers");
    (r.status, r.header("X-Upstream").unwrap_or("?").to_string())
}

/// `odoo-ops verify` against the stack, as an operator runs it after a deploy.
pub fn verify(stack: &Stack) -> Output {
    let args: Vec<String> = vec![
        "verify".into(),
        "--domain".into(),
        DOMAIN.into(),
        "--compose-project".into(),
        stack.project.name.clone(),
        "--nginx-conf".into(),
        stack.nginx.path().join("nginx.conf").display().to_string(),
        "--nginx-prefix".into(),
        format!("{}/", stack.nginx.path().display()),
        "--wait".into(),
        "30".into(),
    ];
    run(stack, None, &args)
}

/// Effects run as the console runs them (job runner, this host); every event becomes a
/// message for the app until `done` says so. Returns how many steps arrived while the
/// Deploy pane still showed the run as running (and, each time, said so on screen).
pub fn run_pane_jobs(
    app: &mut odoo_ops::tui::app::App,
    effects: Vec<odoo_ops::tui::effect::Effect>,
    done: impl Fn(&odoo_ops::tui::app::App) -> bool,
) -> usize {
    use odoo_ops::tui::panes::deploy_runs::RunStage;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let target = odoo_ops::target::Target::local();
        let (runner, mut events) = odoo_ops::jobs::JobRunner::new();
        for effect in effects {
            runner.submit(odoo_ops::tui::jobs::ConsoleJob::new(&target, effect).expect("a job"));
        }
        let mut live = 0;
        while !done(app) {
            let event = tokio::time::timeout(Duration::from_secs(300), events.recv())
                .await
                .unwrap_or_else(|_| panic!("the pane is stuck in {:?}", app.deploy.runs.stage))
                .expect("the runner lives");
            if let Some(message) = odoo_ops::tui::jobs::message(event) {
                app.apply(message);
                if let RunStage::Running { steps, .. } = &app.deploy.runs.stage
                    && !steps.is_empty()
                {
                    live += 1;
                    // What the operator sees between two steps.
                    let screen = super::app::render(app);
                    let text = super::app::screen_text(screen.backend().buffer());
                    assert!(text.contains("running…"), "{text}");
                }
            }
        }
        live
    })
}
