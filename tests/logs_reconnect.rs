//! The console on a droplet over a real sshd, in a real terminal (tmux): Odoo's log file,
//! found on the host and followed through SSH, and an Odoo container's logs, read through
//! the same connection, keep coming after the connection drops (the sshd session killed),
//! lines written while it was down included, and no source says it ended.

mod support;

use std::time::Duration;

use support::docker::Project;
use support::ports;
use support::sshd::Sshd;
use support::standin::{Standin, StandinOptions};
use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// The Logs pane's source line (the first row inside the zoomed pane).
fn sources_line(screen: &str) -> &str {
    screen.lines().nth(1).unwrap_or_default()
}

#[test]
fn a_log_file_followed_over_ssh_resumes_after_the_connection_drops() {
    // Odoo run as a source install does, logging to a file on the host.
    let bin = tempfile::tempdir().unwrap();
    let odoo_bin = bin.path().join("odoo-bin");
    std::os::unix::fs::symlink(support::standin::binary(), &odoo_bin).unwrap();
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        program: Some(odoo_bin),
        ..Default::default()
    });
    // And an Odoo container, logging to stdout.
    let image = support::standin::ensure_image(support::standin::RELEASES[0]);
    let project = Project::new("reconnect");
    let container_port = ports::free_port();
    let container = project.run(
        "odoo",
        &["-p", &format!("127.0.0.1:{container_port}:8069")],
        &image,
    );
    assert!(ports::wait_listening(
        container_port,
        Duration::from_secs(20)
    ));
    let container_name = format!("odoo#{}", &project.id_of(&container)[..6]);
    let sshd = Sshd::start();
    let tmux = Tmux::start(400, 40);
    let home = sshd.client_home(tmux.dir.path());
    tmux.type_line(&format!(
        "env -u SSH_AUTH_SOCK HOME={} {BIN} droplet 2>{}/stderr.txt",
        home.display(),
        tmux.dir.path().display()
    ));
    tmux.wait_for("1 Host");
    tmux.keys(&["4", "z"]);
    tmux.wait_until(
        |s| s.lines().next().is_some_and(|l| l.starts_with("┏ 4 Logs")),
        "the Logs pane is zoomed",
    );
    // A request to the host's Odoo and one to the container: a line in each's log.
    let get = |probe: &str| {
        let mut lines = Vec::new();
        for port in [odoo.http_port, container_port] {
            let path = format!("/web/health?probe={probe}-{port}");
            assert_eq!(support::rawhttp::get(port, &path).status, 200);
            lines.push(format!("\"GET {path} HTTP/1.1\" 200"));
        }
        lines
    };
    let shows_all = |lines: &[String]| {
        let lines = lines.to_vec();
        move |s: &str| lines.iter().all(|l| s.contains(l.as_str()))
    };
    tmux.wait_for(&format!(
        "HTTP service (werkzeug) running on 127.0.0.1:{}",
        odoo.http_port
    ));
    let before = get("before");
    tmux.wait_until(shows_all(&before), "both sources follow");

    assert!(sshd.kill_sessions() > 0, "the console was connected");
    // Written while the link is down: it must come once the console is back.
    let during = get("during");
    let screen = tmux.wait_until_within(
        Duration::from_secs(30),
        shows_all(&during),
        "the lines written during the drop show",
    );
    assert!(!sources_line(&screen).contains("ended"), "{screen}");
    let after = get("after");
    let screen = tmux.wait_until(shows_all(&after), "new lines keep coming");
    assert!(sources_line(&screen).contains("• odoo.log"), "{screen}");
    assert!(
        sources_line(&screen).contains(&format!("• {container_name}")),
        "{screen}"
    );
    let header = screen.lines().next().unwrap();
    assert!(
        header.contains("▶ follow") && !header.contains("stopped"),
        "the header follows, with no stopped source: {screen}"
    );
    // Every line once: the resumed follow starts after the last byte shown.
    for line in before.iter().chain(&during).chain(&after) {
        assert_eq!(screen.matches(line.as_str()).count(), 1, "{screen}");
    }
    tmux.keys(&["q"]);
}
