//! Logging in to a real sshd: key files of each type, a real ssh-agent, a
//! passphrase-protected key (asked for, never kept), and clear failures.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use odoo_ops::ssh::{HeadlessPrompter, SshConnection};
use odoo_ops::target::{Command, SshTarget, Target};
use support::prompter::ScriptedPrompter;
use support::sshd::{Sshd, keygen};

async fn whoami(target: SshTarget) -> String {
    Target::Ssh(target)
        .run(&Command::new("id").arg("-un"))
        .await
        .unwrap()
        .stdout_text()
}

/// A real ssh-agent on a socket in `dir`, killed on Drop.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Self {
        let socket = dir.join("agent.sock");
        let child = Process::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { child, socket }
    }

    fn add(&self, key: &Path) {
        let out = Process::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn key_files_of_each_type_log_in() {
    // Explicitly refuse SHA-1 RSA signatures: the RSA login must use rsa-sha2.
    let sshd = Sshd::start_with("PubkeyAcceptedAlgorithms -ssh-rsa");
    for key_type in ["ed25519", "ecdsa", "rsa"] {
        let key = sshd.dir.path().join(format!("user_{key_type}"));
        keygen(&key, key_type, "");
        sshd.authorize(&key.with_extension("pub"));
        let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
        spec.identity_files = vec![key];
        let target = SshTarget::connect(spec, Arc::new(HeadlessPrompter))
            .await
            .unwrap();
        assert_eq!(whoami(target).await, "root\n", "{key_type}");
    }
    assert!(
        sshd.log()
            .contains("Accepted publickey for root from 127.0.0.1 port")
    );
}

#[tokio::test]
async fn agent_keys_are_tried_first() {
    let sshd = Sshd::start();
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(agent_dir.path());
    let key = agent_dir.path().join("agent_only_key");
    keygen(&key, "ed25519", "");
    sshd.authorize(&key.with_extension("pub"));
    agent.add(&key);
    // Only in the agent: the key file is gone and no other file is offered.
    std::fs::remove_file(&key).unwrap();
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    spec.identity_files = vec![];
    spec.agent_socket = Some(agent.socket.clone());
    let target = SshTarget::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .unwrap();
    assert_eq!(whoami(target).await, "root\n");
    let fingerprint = String::from_utf8_lossy(
        &Process::new("ssh-keygen")
            .arg("-lf")
            .arg(key.with_extension("pub"))
            .output()
            .unwrap()
            .stdout,
    )
    .split_whitespace()
    .nth(1)
    .unwrap()
    .to_string();
    assert!(
        sshd.log()
            .contains("Accepted publickey for root from 127.0.0.1")
            && sshd.log().contains(&fingerprint),
        "the agent's key logged in: {}",
        sshd.log()
    );
}

#[tokio::test]
async fn an_encrypted_key_asks_for_its_passphrase_until_right() {
    let sshd = Sshd::start();
    let key = sshd.dir.path().join("locked_ed25519");
    keygen(&key, "ed25519", "correct horse");
    sshd.authorize(&key.with_extension("pub"));
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    spec.identity_files = vec![key.clone()];
    let prompter = Arc::new(ScriptedPrompter::with_passphrases(&[
        "wrong",
        "correct horse",
    ]));
    let target = SshTarget::connect(spec, prompter.clone()).await.unwrap();
    assert_eq!(whoami(target).await, "root\n");
    assert_eq!(
        prompter.asked_for_passphrases(),
        vec![(key.clone(), 1), (key, 2)]
    );
}

#[tokio::test]
async fn an_encrypted_key_without_a_terminal_fails_clearly() {
    let sshd = Sshd::start();
    let key = sshd.dir.path().join("locked_ed25519");
    keygen(&key, "ed25519", "correct horse");
    sshd.authorize(&key.with_extension("pub"));
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    spec.identity_files = vec![key.clone()];
    let e = SshConnection::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .err()
        .expect("no passphrase, no login");
    let message = format!("{e:#}");
    assert!(
        message.contains("locked_ed25519 (encrypted; no terminal"),
        "{message}"
    );
    assert!(!message.contains("correct horse"));
}

#[tokio::test]
async fn an_unauthorized_key_is_refused_with_what_was_tried() {
    let sshd = Sshd::start();
    let key = sshd.dir.path().join("stranger");
    keygen(&key, "ed25519", "");
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    spec.identity_files = vec![key];
    let e = SshConnection::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .err()
        .expect("unauthorized key");
    let message = format!("{e:#}");
    assert!(message.contains("refused every key"), "{message}");
    assert!(message.contains("stranger"), "{message}");
}

#[tokio::test]
async fn no_passphrase_is_asked_for_a_key_the_server_would_refuse() {
    let sshd = Sshd::start();
    let refused = sshd.dir.path().join("locked_but_unauthorized");
    keygen(&refused, "ed25519", "never asked");
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    // The encrypted, unauthorized key comes first; the authorized plain key second.
    spec.identity_files = vec![refused, sshd.client_key.clone()];
    let prompter = Arc::new(ScriptedPrompter::with_passphrases(&[]));
    let target = SshTarget::connect(spec, prompter.clone()).await.unwrap();
    assert_eq!(whoami(target).await, "root\n");
    assert!(prompter.asked_for_passphrases().is_empty());
}
