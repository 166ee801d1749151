//! ProxyJump: the connection to the target travels through a second, real sshd.

mod support;

use std::sync::Arc;

use odoo_ops::ssh::{HeadlessPrompter, Proxy};
use odoo_ops::target::{Command, SshTarget, Target};
use support::sshd::Sshd;

#[tokio::test]
async fn reaches_the_target_through_the_jump_host() {
    let jump = Sshd::start();
    let target_sshd = Sshd::start();
    // One known_hosts file trusting both, one key authorized on both.
    let known_hosts = jump.dir.path().join("both_known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "{}{}",
            jump.known_hosts_line(),
            target_sshd.known_hosts_line()
        ),
    )
    .unwrap();
    target_sshd.authorize(&jump.client_key.with_extension("pub"));
    let mut spec = target_sshd.spec("root", &known_hosts);
    spec.identity_files = vec![jump.client_key.clone()];
    spec.proxy = Proxy::Jump(Box::new(jump.spec("root", &known_hosts)));

    let target = Target::Ssh(
        SshTarget::connect(spec, Arc::new(HeadlessPrompter))
            .await
            .unwrap(),
    );
    let out = target
        .run(&Command::new("echo").arg("through the jump"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "through the jump\n");

    // The jump host logged us in and carried a forwarded connection to the target's port.
    let jump_log = jump.log();
    assert!(
        jump_log.contains("Accepted publickey for root"),
        "{jump_log}"
    );
    assert!(target_sshd.log().contains("Accepted publickey for root"));
    // Killing the jump host's sessions cuts the target connection too: it ran through it.
    let mut state = target.connection_state().unwrap();
    jump.kill_sessions();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        state.wait_for(|s| !matches!(s, odoo_ops::ssh::ConnectionState::Connected)),
    )
    .await
    .expect("the target connection notices the jump host went away")
    .unwrap();
}

/// A home whose `~/.ssh/config` is `config` and whose known_hosts is `known_hosts`.
fn home_with(config: &str, known_hosts: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("config"), config).unwrap();
    std::fs::write(ssh.join("known_hosts"), known_hosts).unwrap();
    home
}

/// `name` resolved the way the CLI resolves `--host name` in that home.
fn spec_in(home: &std::path::Path, name: &str) -> odoo_ops::ssh::ConnectSpec {
    let env = odoo_ops::ssh::Environment {
        home: home.to_path_buf(),
        agent_socket: None,
        local_user: "root".into(),
    };
    let config = odoo_ops::ssh::config::SshConfig::load_user(home).unwrap();
    let mut spec = odoo_ops::ssh::destination::resolve(
        &odoo_ops::ssh::Destination::parse(name).unwrap(),
        &config,
        &env,
        &Default::default(),
    )
    .unwrap();
    // Only the test's known_hosts, not this machine's /etc/ssh/ssh_known_hosts.
    spec.known_hosts.truncate(1);
    let mut hop = &mut spec.proxy;
    while let Proxy::Jump(spec) = hop {
        spec.known_hosts.truncate(1);
        hop = &mut spec.proxy;
    }
    spec
}

/// sshd's DEBUG1 line for a forwarded connection to `port` on loopback
/// (`server_request_direct_tcpip: originator ... target 127.0.0.1 port N`).
fn forwarded_to(log: &str, port: u16) -> bool {
    let target = format!("target 127.0.0.1 port {port}");
    log.lines()
        .any(|l| l.contains("direct_tcpip") && l.trim_end().ends_with(&target))
}

#[tokio::test]
async fn a_jump_list_goes_through_every_hop_in_order() {
    let servers = support::sshd::start_chain(3);
    let [a, b, target] = [&servers[0], &servers[1], &servers[2]];
    let config = format!(
        "{}{}{}",
        a.ssh_config_block("hop-a", ""),
        b.ssh_config_block("hop-b", ""),
        target.ssh_config_block("target", "  ProxyJump hop-a,hop-b\n"),
    );
    let home = home_with(&config, &support::sshd::known_hosts_for(&[a, b, target]));
    let spec = spec_in(home.path(), "target");
    let target_ssh = Target::Ssh(
        SshTarget::connect(spec, Arc::new(HeadlessPrompter))
            .await
            .unwrap(),
    );
    let out = target_ssh
        .run(&Command::new("echo").arg("through two jumps"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "through two jumps\n");

    // Every hop logged us in, and each forwarded to the next one, not past it.
    for server in [a, b, target] {
        assert!(
            server.log().contains("Accepted publickey for root"),
            "{}",
            server.log()
        );
    }
    assert!(forwarded_to(&a.log(), b.port), "{}", a.log());
    assert!(!forwarded_to(&a.log(), target.port), "{}", a.log());
    assert!(forwarded_to(&b.log(), target.port), "{}", b.log());
}

#[tokio::test]
async fn every_hop_s_host_key_is_checked() {
    let servers = support::sshd::start_chain(3);
    let [a, b, target] = [&servers[0], &servers[1], &servers[2]];
    let config = format!(
        "{}{}{}",
        a.ssh_config_block("hop-a", ""),
        b.ssh_config_block("hop-b", ""),
        target.ssh_config_block("target", "  ProxyJump hop-a,hop-b\n"),
    );
    // The middle hop is not known: nobody can be asked, so it is refused.
    let home = home_with(&config, &support::sshd::known_hosts_for(&[a, target]));
    let e = SshTarget::connect(spec_in(home.path(), "target"), Arc::new(HeadlessPrompter))
        .await
        .err()
        .expect("an unknown hop is refused");
    let message = format!("{e:#}");
    assert!(
        message.contains(&format!("[127.0.0.1]:{} is not known", b.port)),
        "{message}"
    );
    assert!(!target.log().contains("Accepted publickey"));
}

#[tokio::test]
async fn proxy_command_runs_the_real_ssh_client_as_the_transport() {
    let servers = support::sshd::start_chain(2);
    let [jump, target] = [&servers[0], &servers[1]];
    let home = tempfile::tempdir().unwrap();
    let jump_known = home.path().join("jump_known_hosts");
    std::fs::write(&jump_known, jump.known_hosts_line()).unwrap();
    // The real OpenSSH client, told to read no user config, use no agent and trust only
    // the jump host's known key.
    let proxy = format!(
        "  ProxyCommand ssh -F /dev/null -o BatchMode=yes -o IdentityAgent=none \
         -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} \
         -i {} -p {} -W %h:%p root@127.0.0.1\n",
        jump_known.display(),
        jump.client_key.display(),
        jump.port
    );
    let config = target.ssh_config_block("target", &proxy);
    let home = home_with(&config, &target.known_hosts_line());
    let spec = spec_in(home.path(), "target");
    assert!(matches!(spec.proxy, Proxy::Command(_)), "{:?}", spec.proxy);
    let target_ssh = Target::Ssh(
        SshTarget::connect(spec, Arc::new(HeadlessPrompter))
            .await
            .unwrap(),
    );
    let out = target_ssh
        .run(&Command::new("echo").arg("through the command"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "through the command\n");
    assert!(forwarded_to(&jump.log(), target.port), "{}", jump.log());
    assert!(target.log().contains("Accepted publickey for root"));
}

#[tokio::test]
async fn a_failing_proxy_command_says_what_it_printed() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config_block(
        "target",
        "  ProxyCommand sh -c 'echo no route to %h port %p >&2; exit 1'\n",
    );
    let home = home_with(&config, &sshd.known_hosts_line());
    let e = SshTarget::connect(spec_in(home.path(), "target"), Arc::new(HeadlessPrompter))
        .await
        .err()
        .expect("the command cannot connect");
    let message = format!("{e:#}");
    assert!(
        message.contains(&format!("no route to 127.0.0.1 port {}", sshd.port)),
        "{message}"
    );
    // It never went around the command straight to the server.
    assert!(!sshd.log().contains("Accepted publickey"));
}

#[tokio::test]
async fn proxy_command_none_and_proxy_jump_none_mean_direct() {
    let sshd = Sshd::start();
    let config = format!(
        "{}Host *\n  ProxyJump 127.0.0.1:1\n",
        sshd.ssh_config_block("target", "  ProxyCommand none\n")
    );
    let home = home_with(&config, &sshd.known_hosts_line());
    let spec = spec_in(home.path(), "target");
    assert_eq!(spec.proxy, Proxy::Direct);
    SshTarget::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .unwrap();
}
