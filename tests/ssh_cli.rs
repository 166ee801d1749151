//! `odoo-ops host --host ...` over a real sshd, as a script would run it (no terminal):
//! aliases from ~/.ssh/config and config.toml, headless refusal of unknown host keys,
//! `--accept-new`.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::sshd::Sshd;

/// A home with `~/.ssh/config` naming the test sshd `testbox`.
fn home_for(sshd: &Sshd) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(
        ssh.join("config"),
        format!(
            "Host testbox\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            sshd.port,
            sshd.client_key.display()
        ),
    )
    .unwrap();
    home
}

fn odoo_ops(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        // odoo-ops' change journal and backups, on the host: not this machine's /var/lib.
        .env("ODOO_OPS_STATE_DIR", home.join("odoo-ops-state"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn headless_refuses_an_unknown_host_then_accept_new_records_it() {
    let sshd = Sshd::start();
    let home = home_for(&sshd);
    let known_hosts = home.path().join(".ssh/known_hosts");

    let refused = odoo_ops(home.path(), &["host", "--host", "testbox", "--json"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("is not known"), "{stderr}");
    assert!(stderr.contains("--accept-new"), "{stderr}");
    assert!(!known_hosts.exists());

    let accepted = odoo_ops(
        home.path(),
        &["host", "--host", "testbox", "--accept-new", "--json"],
    );
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&accepted.stdout).unwrap();
    assert_eq!(facts["hostname"], local_hostname());
    assert_eq!(facts["user"]["name"], "root");
    assert_eq!(
        facts["docker"]["answers"], true,
        "Docker answered through the SSH channel"
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        sshd.known_hosts_line()
    );

    // Now known: no flag needed.
    let again = odoo_ops(home.path(), &["host", "--host", "testbox"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("user      root (root)"));
}

#[test]
fn config_toml_alias_with_port_and_identity_flags() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(
        home.path().join(".ssh/known_hosts"),
        sshd.known_hosts_line(),
    )
    .unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[hosts.prod]\nhost = \"127.0.0.1\"\nuser = \"root\"\nport = {}\nidentity_file = \"{}\"\n",
            sshd.port,
            sshd.client_key.display()
        ),
    )
    .unwrap();
    let out = odoo_ops(
        home.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "host",
            "--host",
            "prod",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(facts["hostname"], local_hostname());

    // The same without any alias: address, -p and -i on the command line.
    let port = sshd.port.to_string();
    let out = odoo_ops(
        home.path(),
        &[
            "host",
            "--host",
            "root@127.0.0.1",
            "-p",
            &port,
            "-i",
            sshd.client_key.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_destination_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = odoo_ops(home.path(), &["host", "--host", "root@db:notaport"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`notaport` is not a port number"));
}

#[test]
fn render_writes_the_stack_on_the_remote_host_with_secret_modes() {
    let sshd = Sshd::start();
    let home = home_for(&sshd);
    let remote_dir = tempfile::tempdir().unwrap();
    let out = remote_dir.path().join("stack");
    let args = [
        "render",
        "--host",
        "testbox",
        "--accept-new",
        "--domain",
        "erp.example.com",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let first = odoo_ops(home.path(), &args);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["written"], true);
    // The files landed through the SSH target (sshd's side of this machine), .env 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join(".env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let env = std::fs::read_to_string(out.join(".env")).unwrap();
    // A second render over SSH keeps the secrets and writes nothing.
    let second = odoo_ops(home.path(), &args);
    assert_eq!(second.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["written"], false);
    assert_eq!(std::fs::read_to_string(out.join(".env")).unwrap(), env);
    assert!(
        !String::from_utf8_lossy(&second.stdout)
            .contains(env.lines().find(|l| l.contains("PASSWORD")).unwrap())
    );
}

#[test]
fn a_tilde_in_config_toml_identity_file_is_the_home() {
    // The README's own example: `identity_file = "~/.ssh/..."` in config.toml.
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("known_hosts"), sshd.known_hosts_line()).unwrap();
    std::fs::copy(&sshd.client_key, ssh.join("prod_key")).unwrap();
    std::fs::copy(
        sshd.client_key.with_extension("pub"),
        ssh.join("prod_key.pub"),
    )
    .unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[hosts.prod]\nhost = \"127.0.0.1\"\nuser = \"root\"\nport = {}\nidentity_file = \"~/.ssh/prod_key\"\n",
            sshd.port
        ),
    )
    .unwrap();
    let out = odoo_ops(
        home.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "host",
            "--host",
            "prod",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(facts["user"]["name"], "root");
}
