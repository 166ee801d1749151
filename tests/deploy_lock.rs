//! The deploy lock on a host, as two consoles (or a console and CI) meet it: through the
//! real shell of the machine (local target) and over a real sshd with a non-root login.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use odoo_ops::deploy::lock::{self, Holder};
use odoo_ops::deploy::{
    DeployLock, LockError, LockOptions, LockRequest, Operation, StackState, new_deploy_id,
};
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;
use odoo_ops::workflow::journal::machine_name;

const STACK: &str = "/opt/odoo";

/// A private state root, as `ODOO_OPS_STATE_DIR` would name it.
fn state(root: &Path) -> StackState {
    StackState::in_dirs(&StateDirs::under(&root.join("odoo-ops")), Path::new(STACK))
}

fn request(operation: Operation) -> LockRequest {
    LockRequest {
        operation,
        deploy_id: new_deploy_id(),
    }
}

fn held(result: Result<DeployLock, LockError>) -> (Box<lock::Observed>, Duration, String) {
    match result {
        Err(e @ LockError::Held { .. }) => {
            let text = e.to_string();
            let LockError::Held { observed, waited } = e else {
                unreachable!()
            };
            (observed, waited, text)
        }
        Err(e) => panic!("not refused for being held: {e}"),
        Ok(l) => panic!("taken: {:?}", l.holder()),
    }
}

/// How a refusal must name the holder: who, from where, which process, since when, what.
fn assert_names(text: &str, holder: &Holder) {
    let who = format!(
        "locked by {}@{} pid {} since ",
        holder.owner, holder.host, holder.pid
    );
    assert!(text.starts_with(&who), "{text}\nexpected: {who}");
    assert!(text.contains(" UTC ("), "{text}");
    assert!(
        text.contains(&format!("({} {})", holder.operation, holder.deploy_id)),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_takers_at_once_one_wins_and_the_others_are_told_who_holds_it() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let requests: Vec<LockRequest> = (0..6).map(|_| request(Operation::Deploy)).collect();
    let options = LockOptions::default();
    let results = futures::future::join_all(
        requests
            .iter()
            .map(|r| lock::acquire(&target, &state, r, &options)),
    )
    .await;
    let mut winners = Vec::new();
    let mut refusals = Vec::new();
    for r in results {
        match r {
            Ok(l) => winners.push(l),
            Err(e) => refusals.push(held(Err(e))),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one taker wins");
    assert_eq!(refusals.len(), 5);
    let winner = winners.pop().unwrap();
    let holder = winner.holder().clone();
    assert_eq!(holder.host, machine_name());
    assert_eq!(holder.pid, std::process::id());
    assert_eq!(holder.login, "root");
    for (observed, _, text) in &refusals {
        assert_eq!(observed.holder.deploy_id, holder.deploy_id);
        assert!(observed.stale.is_none(), "a live lock is not stale: {text}");
        assert_names(text, &holder);
    }

    // The lock is a private file on the host while held, and gone once released.
    let file = state.lock_file();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    winner.release().await.unwrap();
    assert!(!file.exists());
    let next = lock::acquire(
        &target,
        &state,
        &request(Operation::Rollback),
        &LockOptions::default(),
    )
    .await
    .unwrap();
    next.release().await.unwrap();
    // Nothing but the stack's own files is left beside it (no temporary file leaks).
    let left: Vec<_> = std::fs::read_dir(&state.root).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A lock file as a console on another machine left it, with its heartbeat `age` ago.
fn plant_lock(state: &StackState, host: &str, pid: u32, age: &str) -> Holder {
    std::fs::create_dir_all(&state.root).unwrap();
    std::fs::set_permissions(&state.root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let holder = Holder {
        owner: "alice".into(),
        login: "root".into(),
        host: host.into(),
        pid,
        process_started: 12345,
        started_ms: odoo_ops::deploy::clock::now_ms() - 600_000,
        heartbeat_ms: 0,
        operation: Operation::Deploy,
        deploy_id: "20261130T120107Z-abcdef".into(),
        token: "20261130T120107Z-abcdef.0011223344556677".into(),
    };
    std::fs::write(state.lock_file(), serde_json::to_vec(&holder).unwrap()).unwrap();
    let touched = std::process::Command::new("touch")
        .args(["-d", age])
        .arg(state.lock_file())
        .status()
        .unwrap();
    assert!(touched.success());
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lock_is_refused_without_take_over_and_taken_over_with_it() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let planted = plant_lock(&state, "laptop", 4242, "10 minutes ago");

    let (observed, _, text) = held(
        lock::acquire(
            &target,
            &state,
            &request(Operation::Deploy),
            &LockOptions::default(),
        )
        .await,
    );
    assert!(
        text.starts_with("locked by alice@laptop pid 4242 since "),
        "{text}"
    );
    assert!(text.contains("(deploy 20261130T120107Z-abcdef)"), "{text}");
    assert!(
        text.contains("the lock looks stale (no heartbeat for 10m"),
        "{text}"
    );
    assert!(observed.heartbeat_age_secs >= 600);
    // Refused: the planted lock is untouched.
    let on_disk: Holder =
        serde_json::from_slice(&std::fs::read(state.lock_file()).unwrap()).unwrap();
    assert_eq!(on_disk.token, planted.token);

    let options = LockOptions {
        take_over: true,
        ..LockOptions::default()
    };
    let mine = lock::acquire(&target, &state, &request(Operation::Restore), &options)
        .await
        .unwrap();
    let on_disk: Holder =
        serde_json::from_slice(&std::fs::read(state.lock_file()).unwrap()).unwrap();
    assert_eq!(on_disk.token, mine.holder().token);
    assert_eq!(on_disk.operation, Operation::Restore);

    // A live lock is never taken over, whatever the caller says.
    let (observed, _, text) =
        held(lock::acquire(&target, &state, &request(Operation::Deploy), &options).await);
    assert!(observed.stale.is_none(), "{text}");
    assert_names(&text, mine.holder());
    mine.release().await.unwrap();
    let left: Vec<_> = std::fs::read_dir(&state.root).unwrap().collect();
    assert!(left.is_empty(), "no stale copy is left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_process_is_gone_on_this_machine_is_stale_at_once() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    plant_lock(&state, &machine_name(), dead_pid, "now");
    let (observed, _, text) = held(
        lock::acquire(
            &target,
            &state,
            &request(Operation::Deploy),
            &LockOptions::default(),
        )
        .await,
    );
    assert!(observed.heartbeat_age_secs < 5);
    assert!(
        text.contains(&format!("looks stale (process {dead_pid} is gone on")),
        "{text}"
    );
    let options = LockOptions {
        take_over: true,
        ..LockOptions::default()
    };
    lock::acquire(&target, &state, &request(Operation::Deploy), &options)
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_wait_gets_the_lock_released_within_it_and_gives_up_after_it() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let first = lock::acquire(
        &target,
        &state,
        &request(Operation::Deploy),
        &LockOptions::default(),
    )
    .await
    .unwrap();
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        first.release().await.unwrap();
    });
    let waiting = LockOptions {
        wait: Duration::from_secs(10),
        poll_every: Duration::from_millis(100),
        ..LockOptions::default()
    };
    let started = Instant::now();
    let second = lock::acquire(&target, &state, &request(Operation::Deploy), &waiting)
        .await
        .expect("taken once the first holder released it");
    let waited = started.elapsed();
    releaser.await.unwrap();
    assert!(
        waited >= Duration::from_millis(1100) && waited < Duration::from_secs(5),
        "{waited:?}"
    );

    // Nobody releases now: the wait runs out and says whom it waited for.
    let short = LockOptions {
        wait: Duration::from_millis(1500),
        poll_every: Duration::from_millis(100),
        ..LockOptions::default()
    };
    let started = Instant::now();
    let (_, waited, text) =
        held(lock::acquire(&target, &state, &request(Operation::Deploy), &short).await);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(waited >= Duration::from_millis(1500));
    assert_names(&text, second.holder());
    assert!(text.contains(", still after waiting 1s"), "{text}");
    second.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_long_deploy_from_looking_stale() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let options = LockOptions {
        stale_after: Duration::from_secs(3),
        heartbeat_every: Duration::from_millis(700),
        take_over: true,
        ..LockOptions::default()
    };
    let holder = lock::acquire(&target, &state, &request(Operation::Deploy), &options)
        .await
        .unwrap();
    // Well past `stale_after`: without heartbeats the lock would be taken over.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (observed, _, text) =
        held(lock::acquire(&target, &state, &request(Operation::Deploy), &options).await);
    assert!(observed.stale.is_none(), "{text}");
    assert!(
        observed.heartbeat_age_secs <= 2,
        "{}",
        observed.heartbeat_age_secs
    );
    assert!(!holder.is_lost());

    // Someone takes the lock over (judged it stale, or removed it by hand): the holder
    // notices at its next heartbeat, and its release leaves the new holder's lock alone.
    let other = plant_lock(&state, "laptop", 4242, "now");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !holder.is_lost() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        holder.is_lost(),
        "the heartbeat noticed the lock is not ours any more"
    );
    holder.release().await.unwrap();
    let on_disk: Holder =
        serde_json::from_slice(&std::fs::read(state.lock_file()).unwrap()).unwrap();
    assert_eq!(on_disk.token, other.token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_dropped_without_release_is_freed_by_its_runtime() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let lock = lock::acquire(
        &target,
        &state,
        &request(Operation::Deploy),
        &LockOptions::default(),
    )
    .await
    .unwrap();
    // An orchestrator that returns early with `?` drops its lock.
    drop(lock);
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.lock_file().exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!state.lock_file().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_releases_the_lock() {
    let root = tempfile::tempdir().unwrap();
    let state = state(root.path());
    let target = Target::local();
    let held_lock = lock::acquire(
        &target,
        &state,
        &request(Operation::Deploy),
        &LockOptions::default(),
    )
    .await
    .unwrap();
    let file = state.lock_file();
    assert!(file.exists());
    let (working_tx, working_rx) = tokio::sync::oneshot::channel();
    let run = tokio::spawn(lock::run_locked(held_lock, async move {
        // The signal handlers are installed before the work is first polled.
        let _ = working_tx.send(());
        tokio::time::sleep(Duration::from_secs(60)).await;
        "finished"
    }));
    working_rx.await.unwrap();
    // SAFETY: signalling our own process; the handler run_locked installed catches it.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGINT) }, 0);
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("Ctrl-C ends the work at once")
        .unwrap()
        .unwrap();
    assert_eq!(out, None, "interrupted, not finished");
    assert!(!file.exists(), "the lock is released on Ctrl-C");
}

/// A login user that is not root, with a home of its own (the state dirs fall back there).
fn non_root_user() -> (&'static str, PathBuf) {
    const USER: &str = "odoo-ops-deployer";
    const HOME: &str = "/home/odoo-ops-deployer";
    let exists = std::process::Command::new("id")
        .arg(USER)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let out = std::process::Command::new("useradd")
            .args([
                "--create-home",
                "--home-dir",
                HOME,
                "--shell",
                "/bin/sh",
                USER,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "useradd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Not a password, but not a locked account either, which sshd (without PAM) refuses.
    std::process::Command::new("usermod")
        .args(["-p", "*", USER])
        .output()
        .unwrap();
    (USER, PathBuf::from(HOME))
}

async fn ssh_as(sshd: &support::sshd::Sshd, user: &str) -> Target {
    Target::Ssh(
        odoo_ops::target::SshTarget::connect(
            sshd.spec(user, &sshd.trusted_known_hosts()),
            std::sync::Arc::new(odoo_ops::ssh::HeadlessPrompter),
        )
        .await
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_as_a_non_root_login_the_lock_refuses_a_second_taker_and_frees_on_release() {
    let (user, home) = non_root_user();
    let sshd = support::sshd::Sshd::start();
    let first = ssh_as(&sshd, user).await;
    let second = ssh_as(&sshd, user).await;
    // Where a non-root login keeps its state: its home, found over the connection.
    let stack = Path::new("/opt/odoo-ssh-lock-test");
    let state = StackState::locate(&first, stack).await.unwrap();
    assert!(
        state
            .root
            .starts_with(home.join(".local/state/odoo-ops/deploys")),
        "{:?}",
        state.root
    );
    let _ = std::fs::remove_dir_all(&state.root);

    let mine = lock::acquire(
        &first,
        &state,
        &request(Operation::Deploy),
        &LockOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(mine.holder().login, user);
    let meta = std::fs::metadata(state.lock_file()).unwrap();
    let uid = std::process::Command::new("id")
        .args(["-u", user])
        .output()
        .unwrap();
    let uid: u32 = String::from_utf8_lossy(&uid.stdout).trim().parse().unwrap();
    assert_eq!(meta.uid(), uid, "the lock belongs to the login");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let (observed, _, text) = held(
        lock::acquire(
            &second,
            &state,
            &request(Operation::Rollback),
            &LockOptions::default(),
        )
        .await,
    );
    assert_eq!(observed.holder.login, user);
    assert_names(&text, mine.holder());

    mine.release().await.unwrap();
    assert!(!state.lock_file().exists());
    lock::acquire(
        &second,
        &state,
        &request(Operation::Rollback),
        &LockOptions::default(),
    )
    .await
    .unwrap()
    .release()
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&state.root);
}
