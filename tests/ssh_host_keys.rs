//! Host key checking against a real sshd: unknown keys are asked about (and recorded on
//! yes), refused on no or when nobody can be asked, accepted with accept-new; a changed
//! key is always refused, naming the known_hosts line; hashed entries are understood.

mod support;

use std::process::Command as Process;
use std::sync::Arc;

use odoo_ops::ssh::{HeadlessPrompter, HostKeyPolicy, SshConnection};
use odoo_ops::target::{Command, SshTarget, Target};
use support::prompter::ScriptedPrompter;
use support::sshd::{Sshd, keygen};

/// The fingerprint OpenSSH itself prints for the server's key.
fn ssh_keygen_fingerprint(sshd: &Sshd) -> String {
    let out = Process::new("ssh-keygen")
        .arg("-lf")
        .arg(sshd.dir.path().join("host_ed25519.pub"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

async fn whoami(target: &Target) -> String {
    target
        .run(&Command::new("id").arg("-un"))
        .await
        .unwrap()
        .stdout_text()
}

#[tokio::test]
async fn unknown_key_is_shown_with_its_fingerprint_and_recorded_on_yes() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("fresh_known_hosts");
    let prompter = Arc::new(ScriptedPrompter::trusting());
    let target = SshTarget::connect(sshd.spec("root", &known_hosts), prompter.clone())
        .await
        .unwrap();
    assert_eq!(whoami(&Target::Ssh(target)).await, "root\n");

    let asked = prompter.asked_about_host_keys();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].host, format!("[127.0.0.1]:{}", sshd.port));
    assert_eq!(asked[0].key_type, "ssh-ed25519");
    assert_eq!(asked[0].fingerprint, ssh_keygen_fingerprint(&sshd));
    assert_eq!(asked[0].known_hosts, known_hosts);

    // Recorded in a form OpenSSH understands: ssh-keygen -F finds it.
    let found = Process::new("ssh-keygen")
        .args(["-F", &format!("[127.0.0.1]:{}", sshd.port), "-f"])
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "ssh-keygen -F did not find the recorded key"
    );

    // The second connection does not ask again.
    let again = Arc::new(ScriptedPrompter::distrusting());
    SshTarget::connect(sshd.spec("root", &known_hosts), again.clone())
        .await
        .unwrap();
    assert!(again.asked_about_host_keys().is_empty());
}

#[tokio::test]
async fn unknown_key_refused_on_no_and_nothing_is_recorded() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("fresh_known_hosts");
    let prompter = Arc::new(ScriptedPrompter::distrusting());
    let e = SshTarget::connect(sshd.spec("root", &known_hosts), prompter.clone())
        .await
        .err()
        .expect("a refused key must not connect");
    let message = format!("{e:#}");
    assert!(message.contains("not known"), "{message}");
    assert!(
        message.contains(&ssh_keygen_fingerprint(&sshd)),
        "{message}"
    );
    assert_eq!(prompter.asked_about_host_keys().len(), 1);
    assert!(!known_hosts.exists() || std::fs::read_to_string(&known_hosts).unwrap().is_empty());
}

#[tokio::test]
async fn headless_refuses_unknown_keys_unless_accept_new() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("fresh_known_hosts");
    let e = SshConnection::connect(sshd.spec("root", &known_hosts), Arc::new(HeadlessPrompter))
        .await
        .err()
        .expect("headless must refuse an unknown key");
    assert!(format!("{e:#}").contains("--accept-new"), "{e:#}");
    assert!(!known_hosts.exists());

    let mut spec = sshd.spec("root", &known_hosts);
    spec.host_key_policy = HostKeyPolicy::AcceptNew;
    SshConnection::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .unwrap();
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert_eq!(recorded, sshd.known_hosts_line());
}

#[tokio::test]
async fn changed_key_is_refused_even_with_accept_new_and_names_the_line() {
    let sshd = Sshd::start();
    let other = sshd.dir.path().join("other_host_key");
    keygen(&other, "ed25519", "");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let old_key: String = other_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let known_hosts = sshd.dir.path().join("known_hosts_with_old_key");
    std::fs::write(
        &known_hosts,
        format!(
            "# servers\nexample.org {old_key}\n[127.0.0.1]:{} {old_key}\n",
            sshd.port
        ),
    )
    .unwrap();
    let mut spec = sshd.spec("root", &known_hosts);
    spec.host_key_policy = HostKeyPolicy::AcceptNew;
    let prompter = Arc::new(ScriptedPrompter::trusting());
    let e = SshConnection::connect(spec, prompter.clone())
        .await
        .err()
        .expect("a changed key must be refused");
    let message = format!("{e:#}");
    assert!(message.contains("CHANGED"), "{message}");
    assert!(message.contains("man-in-the-middle"), "{message}");
    assert!(
        message.contains(&format!("{}:3", known_hosts.display())),
        "{message}"
    );
    assert!(
        prompter.asked_about_host_keys().is_empty(),
        "a changed key is never asked about"
    );
    // Nothing was appended.
    assert_eq!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .lines()
            .count(),
        3
    );
}

#[tokio::test]
async fn hashed_known_hosts_entries_are_recognised() {
    let sshd = Sshd::start();
    let known_hosts = sshd.trusted_known_hosts();
    let status = Process::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known_hosts)
        .output()
        .unwrap();
    assert!(status.status.success());
    let text = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        text.starts_with("|1|"),
        "ssh-keygen -H hashes the entry: {text}"
    );
    let prompter = Arc::new(ScriptedPrompter::distrusting());
    let target = SshTarget::connect(sshd.spec("root", &known_hosts), prompter.clone())
        .await
        .unwrap();
    assert_eq!(whoami(&Target::Ssh(target)).await, "root\n");
    assert!(prompter.asked_about_host_keys().is_empty());
}

#[tokio::test]
async fn a_host_known_by_another_key_type_is_asked_for_that_type_first() {
    // The server has an ECDSA key besides its Ed25519 one; only the ECDSA key is known.
    let keys = tempfile::tempdir().unwrap();
    let ecdsa = keys.path().join("host_ecdsa");
    keygen(&ecdsa, "ecdsa", "");
    let sshd = Sshd::start_with(&format!("HostKey {}", ecdsa.display()));
    let ecdsa_pub = std::fs::read_to_string(ecdsa.with_extension("pub")).unwrap();
    let ecdsa_key: String = ecdsa_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let known_hosts = sshd.dir.path().join("ecdsa_only_known_hosts");
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {ecdsa_key}\n", sshd.port),
    )
    .unwrap();
    let prompter = Arc::new(ScriptedPrompter::distrusting());
    SshTarget::connect(sshd.spec("root", &known_hosts), prompter.clone())
        .await
        .unwrap();
    assert!(prompter.asked_about_host_keys().is_empty());
}
