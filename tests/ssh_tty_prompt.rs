//! The terminal face of the prompter: `odoo-ops host --host X` run on a real pseudo
//! terminal (util-linux `script`) shows the unknown host key's fingerprint and asks,
//! records it on `yes`, then asks for an encrypted key's passphrase without echoing it.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::sshd::{Sshd, keygen};

/// Everything the terminal showed so far, filled by a reader thread.
fn wait_for(screen: &Arc<Mutex<String>>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !screen.lock().unwrap().contains(text) {
        assert!(
            Instant::now() < deadline,
            "the terminal never showed {text:?}; it showed:\n{}",
            screen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn asks_on_the_terminal_for_the_host_key_and_the_passphrase() {
    let sshd = Sshd::start();
    let key = sshd.dir.path().join("locked_key");
    keygen(&key, "ed25519", "tty-secret-42");
    sshd.authorize(&key.with_extension("pub"));
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(
        home.path().join(".ssh/config"),
        format!(
            "Host testbox\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n",
            sshd.port,
            key.display()
        ),
    )
    .unwrap();

    let command = format!("{} host --host testbox", env!("CARGO_BIN_EXE_odoo-ops"));
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    let screen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let screen = screen.clone();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut keyboard = child.stdin.take().unwrap();

    wait_for(&screen, "(yes/no/[fingerprint])?");
    let shown = screen.lock().unwrap().clone();
    let fingerprint = String::from_utf8_lossy(
        &Command::new("ssh-keygen")
            .arg("-lf")
            .arg(sshd.dir.path().join("host_ed25519.pub"))
            .output()
            .unwrap()
            .stdout,
    )
    .split_whitespace()
    .nth(1)
    .unwrap()
    .to_string();
    assert!(shown.contains(&fingerprint), "{shown}");
    assert!(
        shown.contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "{shown}"
    );
    keyboard.write_all(b"yes\n").unwrap();

    wait_for(&screen, "Enter passphrase for key");
    keyboard.write_all(b"tty-secret-42\n").unwrap();
    wait_for(&screen, "host      ");
    drop(keyboard);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = screen.lock().unwrap().clone();
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains("tty-secret-42"),
        "the passphrase was echoed:\n{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join(".ssh/known_hosts")).unwrap(),
        sshd.known_hosts_line()
    );
}

#[test]
fn answering_no_on_the_terminal_refuses_and_records_nothing() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "{} host --host root@127.0.0.1 -p {} -i {}",
        env!("CARGO_BIN_EXE_odoo-ops"),
        sshd.port,
        sshd.client_key.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    let screen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let screen = screen.clone();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut keyboard = child.stdin.take().unwrap();
    wait_for(&screen, "(yes/no/[fingerprint])?");
    // Only `yes` (or the fingerprint) trusts a key; a bare `y` does not.
    keyboard.write_all(b"y\n").unwrap();
    let status = child.wait().unwrap();
    drop(keyboard);
    reader.join().unwrap();
    assert_eq!(status.code(), Some(2), "{}", screen.lock().unwrap());
    assert!(screen.lock().unwrap().contains("it was not accepted"));
    assert!(!home.path().join(".ssh/known_hosts").exists());
}
