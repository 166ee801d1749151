//! The console opened on a remote host (`odoo-ops ALIAS`) over a real sshd, in a real
//! terminal: the Host pane comes through the SSH target and the status bar follows the
//! connection through a drop and back.

mod support;

use support::sshd::Sshd;
use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

#[test]
fn the_console_on_a_droplet_follows_its_connection_through_a_drop() {
    let mut sshd = Sshd::start();
    let tmux = Tmux::start(160, 42);
    let home = tmux.dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/config"),
        format!(
            "Host droplet\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            sshd.port,
            sshd.client_key.display()
        ),
    )
    .unwrap();
    let stty = tmux.dir.path().join("stty-after.txt");
    tmux.type_line(&format!(
        "env -u SSH_AUTH_SOCK HOME={home} {BIN} droplet --accept-new 2>{dir}/stderr.txt; stty -a > {stty}",
        home = home.display(),
        dir = tmux.dir.path().display(),
        stty = stty.display()
    ));
    let label = format!("root@127.0.0.1:{}", sshd.port);
    let screen = tmux.wait_until(
        // The diagnosis (run at start) has "answers" in it too: wait for the Host pane.
        |s| {
            s.contains(&label)
                && s.contains("connected")
                && s.contains("answers")
                && !s.contains("Reading the host's facts")
        },
        "the console is connected and the Host pane loaded over SSH",
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(screen.contains(hostname.trim()), "{screen}");
    // accept-new recorded the key it was shown.
    let known = std::fs::read_to_string(home.join(".ssh/known_hosts")).unwrap();
    assert_eq!(known, sshd.known_hosts_line());

    sshd.stop();
    tmux.wait_for("reconnecting (attempt");
    sshd.restart();
    tmux.wait_until(
        |s| s.lines().last().is_some_and(|l| l.contains(" connected")),
        "the status bar shows connected again",
    );

    tmux.keys(&["q"]);
    let modes = tmux.wait_for_file(&stty);
    assert!(modes.split_whitespace().any(|w| w == "icanon"), "{modes}");
    let stderr = std::fs::read_to_string(tmux.dir.path().join("stderr.txt")).unwrap();
    assert!(stderr.is_empty(), "{stderr}");
}
