//! A dropped connection (the sshd session process killed) is noticed, shown as state
//! events, reconnected with backoff, and a follow resumes with no duplicates and no gaps.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use odoo_ops::ssh::resume::{Follow, FollowEvent, follow};
use odoo_ops::ssh::{Backoff, ConnectionState, HeadlessPrompter, SshConnection};
use odoo_ops::target::{Command, SshTarget, Target};
use support::sshd::Sshd;

async fn next_state(
    rx: &mut tokio::sync::watch::Receiver<ConnectionState>,
    wanted: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| wanted(s)))
        .await
        .expect("state change within 20 s")
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_session_is_reconnected_and_reported() {
    let sshd = Sshd::start();
    let target = sshd.target().await;
    let mut state = target.connection_state().unwrap();
    assert_eq!(*state.borrow(), ConnectionState::Connected);
    assert_eq!(target.generation(), 1);

    assert!(sshd.kill_sessions() > 0);
    let seen = next_state(&mut state, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    assert!(
        matches!(seen, ConnectionState::Reconnecting { attempt: 1, .. }),
        "{seen:?}"
    );
    next_state(&mut state, |s| *s == ConnectionState::Connected).await;
    assert_eq!(target.generation(), 2);
    let out = target.run(&Command::new("echo").arg("back")).await.unwrap();
    assert_eq!(out.stdout_text(), "back\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_down_ends_in_failed_until_retried() {
    let mut sshd = Sshd::start();
    let spec = sshd.spec("root", &sshd.trusted_known_hosts());
    let backoff = Backoff {
        first: Duration::from_millis(50),
        max: Duration::from_millis(200),
        attempts: 3,
    };
    let conn = SshConnection::connect_with(spec, Arc::new(HeadlessPrompter), backoff)
        .await
        .unwrap();
    let target = Target::Ssh(SshTarget::from_connection(conn.clone()));
    let mut state = target.connection_state().unwrap();
    sshd.stop();
    let failed = next_state(&mut state, |s| matches!(s, ConnectionState::Failed(_))).await;
    let ConnectionState::Failed(why) = failed else {
        unreachable!()
    };
    assert!(why.contains("could not connect"), "{why}");
    let e = target.run(&Command::new("true")).await.unwrap_err();
    assert!(format!("{e:#}").contains("failed"), "{e:#}");

    // The host is back and the operator asks to retry.
    sshd.restart();
    conn.retry();
    next_state(&mut state, |s| *s == ConnectionState::Connected).await;
    let out = target
        .run(&Command::new("echo").arg("again"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "again\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_follow_resumes_after_a_drop_without_duplicates_or_gaps() {
    let sshd = Sshd::start();
    let target = sshd.target().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, b"").unwrap();

    // A writer appending numbered lines, as nginx would, the whole time.
    const LINES: usize = 600;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let log = log.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            for n in 0..LINES {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                writeln!(f, "line {n:04}").unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let mut events = follow(target.clone(), Follow::File(log.clone()));
    let mut received = Vec::new();
    let mut resumed = 0;
    let mut killed = false;
    let expected: Vec<u8> = (0..LINES)
        .flat_map(|n| format!("line {n:04}\n").into_bytes())
        .collect();
    while received.len() < expected.len() {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("the follow keeps delivering")
            .expect("the follow is still open");
        match event {
            FollowEvent::Data(bytes) => received.extend_from_slice(&bytes),
            FollowEvent::Resumed => resumed += 1,
            FollowEvent::Stderr(_) => {}
            FollowEvent::Ended(e) => panic!("the follow ended: {e:?}"),
        }
        if !killed && received.len() > expected.len() / 4 {
            assert!(sshd.kill_sessions() > 0);
            killed = true;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(killed);
    assert_eq!(resumed, 1, "exactly one reconnect happened");
    assert_eq!(target.generation(), 2);
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&expected),
        "every line once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_is_noticed_by_keepalive_and_reconnected() {
    let sshd = Sshd::start();
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    // ServerAliveInterval 1, ServerAliveCountMax 2.
    spec.keepalive_interval = Duration::from_secs(1);
    spec.keepalive_max = 2;
    let conn = SshConnection::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .unwrap();
    let target = Target::Ssh(SshTarget::from_connection(conn));
    let mut state = target.connection_state().unwrap();
    // A frozen session process sends no FIN: only unanswered keepalives can tell.
    let frozen = sshd.session_pids();
    assert!(!frozen.is_empty());
    for pid in &frozen {
        unsafe { libc::kill(*pid, libc::SIGSTOP) };
    }
    let started = std::time::Instant::now();
    next_state(&mut state, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    let noticed = started.elapsed();
    next_state(&mut state, |s| *s == ConnectionState::Connected).await;
    for pid in &frozen {
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    assert!(
        noticed < Duration::from_secs(10),
        "noticed after {noticed:?}"
    );
    let out = target
        .run(&Command::new("echo").arg("alive"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "alive\n");
}

/// The console on a droplet in a real terminal: the diagnosis is on screen without a key,
/// and while the link is down the Host pane says its facts are stale, until they are
/// fresh again after the reconnect.
#[test]
fn the_console_diagnoses_at_start_and_marks_host_facts_stale_while_down() {
    const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");
    let mut sshd = Sshd::start();
    let tmux = support::tmux::Tmux::start(200, 50);
    let home = sshd.client_home(tmux.dir.path());
    tmux.type_line(&format!(
        "env -u SSH_AUTH_SOCK HOME={} {BIN} droplet 2>{}/stderr.txt",
        home.display(),
        tmux.dir.path().display()
    ));
    let checked = |s: &str| ["[PASS]", "[FAIL]", "[WARN]"].iter().any(|v| s.contains(v));
    let screen = tmux.wait_until_within(
        Duration::from_secs(30),
        |s| s.contains("answers") && !s.contains("Reading the host's facts") && checked(s),
        "the Host pane loaded and the diagnosis shows, no key pressed",
    );
    assert!(!screen.contains("No diagnosis yet"), "{screen}");
    assert!(!screen.contains("stale since"), "{screen}");

    sshd.stop();
    let screen = tmux.wait_for("stale since ");
    let host_title = screen.lines().next().unwrap();
    assert!(
        host_title.contains("1 Host") && host_title.contains("stale since "),
        "the mark is in the Host pane's title: {screen}"
    );
    sshd.restart();
    tmux.wait_until_within(
        Duration::from_secs(30),
        |s| {
            !s.contains("stale since") && s.lines().last().is_some_and(|l| l.contains(" connected"))
        },
        "fresh facts after the reconnect clear the mark",
    );
    tmux.keys(&["q"]);
}
