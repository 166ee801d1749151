//! The Docker API through the SSH connection (direct-streamlocal to the host's socket):
//! list containers and read logs from the real engine; a log follow that survives a
//! dropped connection; a login user who may not use Docker gets a clear answer.

mod support;

use std::time::Duration;

use bollard::query_parameters::{ListContainersOptions, LogsOptions};
use futures::StreamExt;
use odoo_ops::ssh::resume::{Follow, FollowEvent, follow};
use odoo_ops::target::Target;
use support::sshd::Sshd;
use support::ticker::Ticker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_containers_and_reads_logs_through_ssh() {
    let ticker = Ticker::start(20, 0);
    ticker.wait();
    let sshd = Sshd::start();
    let target = sshd.target().await;
    let docker = target.docker().await.unwrap();

    let all = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(
        all.iter()
            .any(|c| c.id.as_deref() == Some(ticker.container.as_str()))
    );

    let mut logs = docker.logs(
        &ticker.container,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }),
    );
    let mut text = String::new();
    while let Some(chunk) = logs.next().await {
        text += &chunk.unwrap().to_string();
    }
    assert_eq!(text, Ticker::expected(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_log_follow_resumes_after_a_drop_without_duplicates_or_gaps() {
    const LINES: u32 = 400;
    let ticker = Ticker::start(LINES, 8);
    let sshd = Sshd::start();
    let target = sshd.target().await;
    let mut events = follow(
        target.clone(),
        Follow::DockerLogs {
            container: ticker.container.clone(),
            since: None,
        },
    );
    let mut lines: Vec<String> = Vec::new();
    let mut resumed = 0;
    let mut killed = false;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("the follow keeps delivering")
            .expect("the follow reports how it ended");
        match event {
            FollowEvent::Data(bytes) => {
                for line in String::from_utf8_lossy(&bytes).lines() {
                    // `TIMESTAMP tick NNNNN`
                    lines.push(line.split_once(' ').unwrap().1.to_string());
                }
            }
            FollowEvent::Resumed => resumed += 1,
            FollowEvent::Stderr(e) => panic!("docker logs: {}", String::from_utf8_lossy(&e)),
            FollowEvent::Ended(status) => {
                assert_eq!(
                    status,
                    Ok(Some(0)),
                    "docker logs ends when the container exits"
                );
                break;
            }
        }
        if !killed && lines.len() > LINES as usize / 4 {
            assert!(sshd.kill_sessions() > 0);
            killed = true;
        }
    }
    assert_eq!(resumed, 1);
    let expected: Vec<String> = (0..LINES).map(|i| format!("tick {i:05}")).collect();
    assert_eq!(lines, expected, "every line once, in order");
}

/// A login user outside the docker group, without sudo; created once, idempotently.
fn non_root_user() -> &'static str {
    const USER: &str = "odoo-ops-nonroot";
    let exists = std::process::Command::new("id")
        .arg(USER)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let out = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/sh",
                USER,
            ])
            .output()
            .unwrap();
        // Two tests may race to create it.
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "useradd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // `*` instead of useradd's `!`: not a password, but not a locked account either,
    // which sshd (without PAM) would refuse.
    std::process::Command::new("usermod")
        .args(["-p", "*", USER])
        .output()
        .unwrap();
    USER
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_outside_the_docker_group_gets_a_clear_error_and_host_facts_say_so() {
    let user = non_root_user();
    let sshd = Sshd::start();
    let spec = sshd.spec(user, &sshd.trusted_known_hosts());
    let target = Target::Ssh(
        odoo_ops::target::SshTarget::connect(
            spec,
            std::sync::Arc::new(odoo_ops::ssh::HeadlessPrompter),
        )
        .await
        .unwrap(),
    );
    let e = target
        .docker()
        .await
        .expect_err("the socket is root:docker 660");
    let message = format!("{e:#}");
    assert!(
        message.contains(&format!("the user `{user}` may not use Docker")),
        "{message}"
    );
    assert!(message.contains("docker` group"), "{message}");

    let facts = odoo_ops::host::gather(&target).await.unwrap();
    assert_eq!(facts.user.name, user);
    assert!(!facts.user.is_root);
    assert!(!facts.user.in_docker_group);
    assert!(!facts.user.passwordless_sudo);
    assert!(!facts.docker.answers);
    assert!(facts.docker.error.unwrap().contains("may not use Docker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_refresh_opens_two_channels_on_one_connection() {
    let sshd = Sshd::start_with("LogLevel DEBUG1");
    let target = sshd.target().await;
    let before = sshd
        .log()
        .matches("server_input_channel_open: ctype")
        .count();
    let facts = odoo_ops::host::gather(&target).await.unwrap();
    assert!(facts.docker.answers, "{:?}", facts.docker.error);
    let log = sshd.log();
    let opened: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("server_input_channel_open: ctype"))
        .skip(before)
        .collect();
    // One exec channel for the report script, one streamlocal channel that carries the
    // Docker probe and the info request: the whole refresh in two channels.
    assert_eq!(opened.len(), 2, "{opened:#?}");
    assert_eq!(
        log.matches("Accepted publickey").count(),
        1,
        "one connection"
    );
}
