//! ProxyJump: the connection to the target travels through a second, real sshd.

mod support;

use std::sync::Arc;

use odoo_ops::ssh::HeadlessPrompter;
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
    spec.proxy_jump = Some(Box::new(jump.spec("root", &known_hosts)));

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
