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
    assert_eq!(asked[0].fingerprint, sshd.host_key_fingerprint());
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
    assert!(message.contains(&sshd.host_key_fingerprint()), "{message}");
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

/// A fresh Ed25519 key line that the server does not have.
fn some_other_ed25519_key(dir: &std::path::Path) -> String {
    let other = dir.join("other_ed25519");
    keygen(&other, "ed25519", "");
    support::sshd::public_key_line(&other)
}

#[tokio::test]
async fn a_key_of_another_type_than_the_known_one_is_refused_even_with_accept_new() {
    // Ed25519 is known for the host; the server now offers only ECDSA. That is not a new
    // host: OpenSSH refuses it as a changed identification, and so do we.
    let sshd = Sshd::start_with_host_key("ecdsa", "");
    let known_ed25519 = some_other_ed25519_key(sshd.dir.path());
    let known_hosts = sshd.dir.path().join("ed25519_known_hosts");
    let recorded = format!("[127.0.0.1]:{} {known_ed25519}\n", sshd.port);
    std::fs::write(&known_hosts, &recorded).unwrap();
    let mut spec = sshd.spec("root", &known_hosts);
    spec.host_key_policy = HostKeyPolicy::AcceptNew;
    let prompter = Arc::new(ScriptedPrompter::trusting());
    let e = SshConnection::connect(spec, prompter.clone())
        .await
        .err()
        .expect("a key of another type must be refused");
    let message = format!("{e:#}");
    assert!(message.contains("CHANGED"), "{message}");
    assert!(message.contains("man-in-the-middle"), "{message}");
    // The known key's line, where it is and what it says.
    assert!(
        message.contains(&format!("{}:1", known_hosts.display())),
        "{message}"
    );
    assert!(message.contains(recorded.trim()), "{message}");
    assert!(message.contains("ecdsa-sha2-nistp256"), "{message}");
    assert!(prompter.asked_about_host_keys().is_empty());
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
}

#[tokio::test]
async fn a_console_started_with_accept_new_refuses_another_key_type_on_reconnect() {
    let mut sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("fresh_known_hosts");
    let mut spec = sshd.spec("root", &known_hosts);
    spec.host_key_policy = HostKeyPolicy::AcceptNew;
    let connection = SshConnection::connect(spec, Arc::new(HeadlessPrompter))
        .await
        .unwrap();
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert_eq!(recorded, sshd.known_hosts_line());
    let mut state = connection.state();

    // The host comes back offering only an ECDSA key.
    sshd.replace_host_key("ecdsa");
    let failed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        state.wait_for(|s| matches!(s, odoo_ops::ssh::ConnectionState::Failed(_))),
    )
    .await
    .expect("the reconnect is refused, not retried forever")
    .unwrap()
    .clone();
    let odoo_ops::ssh::ConnectionState::Failed(why) = failed else {
        unreachable!()
    };
    assert!(why.contains("CHANGED"), "{why}");
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
}

#[tokio::test]
async fn two_keys_of_one_type_for_a_host_either_may_match() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("two_keys_known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n{}",
            sshd.port,
            some_other_ed25519_key(sshd.dir.path()),
            sshd.known_hosts_line()
        ),
    )
    .unwrap();
    let target = SshTarget::connect(sshd.spec("root", &known_hosts), Arc::new(HeadlessPrompter))
        .await
        .expect("the second recorded key matches");
    assert_eq!(whoami(&Target::Ssh(target)).await, "root\n");
}

#[tokio::test]
async fn a_host_key_question_answered_after_the_connect_timeout_still_connects() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("fresh_known_hosts");
    let mut spec = sshd.spec("root", &known_hosts);
    // The operator takes twice the connect timeout to read the fingerprint.
    spec.connect_timeout = std::time::Duration::from_secs(2);
    let prompter = Arc::new(ScriptedPrompter::trusting_after(
        std::time::Duration::from_secs(4),
    ));
    let target = SshTarget::connect(spec, prompter.clone())
        .await
        .expect("a person's time to answer is not the network's");
    assert_eq!(whoami(&Target::Ssh(target)).await, "root\n");
    assert_eq!(prompter.asked_about_host_keys().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        sshd.known_hosts_line()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_still_times_out() {
    // Accepts the TCP connection and says nothing: the timeout is the network's.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sshd = Sshd::start();
    let mut spec = sshd.spec("root", &sshd.trusted_known_hosts());
    spec.port = silent.local_addr().unwrap().port();
    spec.connect_timeout = std::time::Duration::from_secs(1);
    let started = std::time::Instant::now();
    let e = SshConnection::connect(spec, Arc::new(ScriptedPrompter::trusting()))
        .await
        .err()
        .expect("nobody answers");
    assert!(format!("{e:#}").contains("timed out"), "{e:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
