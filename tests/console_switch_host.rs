//! The real console in a real terminal moves between droplets without restarting: the
//! droplets come from the stand-in DigitalOcean API with public IPv4s on loopback
//! (127.0.0.2, 127.0.0.3, 127.0.0.4), each a real sshd in a UTS namespace of its own (so
//! its Host pane shows its own hostname). The operator's `~/.ssh/config` gives each
//! address its port, as it would for a droplet whose sshd listens elsewhere than 22:
//! nothing in the console is test-only.
//!
//! Enter on a droplet whose key is unknown asks inside the console (fingerprint, yes/no);
//! no leaves the console where it was and records nothing; yes connects and records the
//! key; `B` goes back; Enter on the first droplet goes there again without a question; a
//! droplet whose key changed is refused loudly.

mod support;

use support::do_api::{DoApi, TOKEN};
use support::sshd::Sshd;
use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// The status bar: the screen's last line.
fn status(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// Commands the console has run on this sshd so far: each exec channel (a host-facts
/// refresh, a `tail`, a process snapshot) is one `Starting session` line in its log.
fn commands_run_on(sshd: &Sshd) -> usize {
    std::fs::read_to_string(sshd.dir.path().join("sshd.log"))
        .unwrap_or_default()
        .matches("Starting session: command")
        .count()
}

/// Processes still running under this sshd other than its own and the kept connection's
/// idle job shell: a command the console started there and has not stopped.
fn commands_running_on(sshd: &Sshd) -> Vec<String> {
    let mut found = Vec::new();
    let mut parents = vec![sshd.pid()];
    while let Some(parent) = parents.pop() {
        let Ok(children) =
            std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        else {
            continue;
        };
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            // The kept connection's job shell (`exec sh`) idles there for `B`; what it
            // runs shows up as its children.
            if !cmdline.starts_with("sshd") && cmdline != "sh " {
                found.push(format!("{child}: {cmdline}"));
            }
            parents.push(child);
        }
    }
    found
}

/// Every pane about the host names it in its title; the Droplets pane is about the account.
fn assert_panes_name(screen: &str, host: &str) {
    for pane in ["Host", "Containers", "Logs"] {
        assert!(
            screen.contains(&format!("{pane} · {host}")),
            "{pane} should name {host}:\n{screen}"
        );
    }
    assert!(!screen.contains("Droplets ·"), "{screen}");
}

#[test]
fn the_console_moves_between_droplets_and_back_each_pane_about_its_host() {
    let alpha = Sshd::start_as("droplet-alpha", "127.0.0.2");
    let beta = Sshd::start_as("droplet-beta", "127.0.0.3");
    let mut gamma = Sshd::start_as("droplet-gamma", "127.0.0.4");
    // web-0000, web-0001, web-0002 (listed by name), on the three hosts.
    let api = DoApi::start(3);
    api.set_public_ipv4(0, &alpha.address);
    api.set_public_ipv4(1, &beta.address);
    api.set_public_ipv4(2, &gamma.address);

    let tmux = Tmux::start(160, 42);
    let home = tmux.dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let config: String = [&alpha, &beta, &gamma]
        .iter()
        .map(|s| {
            format!(
                "Host {}\n  User root\n  Port {}\n  IdentityFile {}\n  IdentitiesOnly yes\n",
                s.address,
                s.port,
                s.client_key.display()
            )
        })
        .collect();
    std::fs::write(home.join(".ssh/config"), config).unwrap();
    // alpha is known (the console starts there); gamma was known under another key.
    let known_hosts = home.join(".ssh/known_hosts");
    let gamma_old = gamma.known_hosts_line();
    std::fs::write(
        &known_hosts,
        format!("{}{gamma_old}", alpha.known_hosts_line()),
    )
    .unwrap();
    gamma.replace_host_key("ed25519");
    let known_before = std::fs::read_to_string(&known_hosts).unwrap();

    tmux.type_line(&format!(
        "env -u SSH_AUTH_SOCK HOME={home} DIGITALOCEAN_ACCESS_TOKEN={TOKEN} \
         DIGITALOCEAN_API_URL={url} {BIN} root@{alpha} 2>{dir}/stderr.txt",
        home = home.display(),
        url = api.url,
        alpha = alpha.address,
        dir = tmux.dir.path().display(),
    ));
    let alpha_label = format!("root@127.0.0.2:{}", alpha.port);
    tmux.wait_until(
        |s| status(s).contains(&alpha_label) && s.contains("droplet-alpha"),
        "the console is on alpha, its Host pane loaded",
    );

    // The Droplets pane lists the three; Enter on web-0001 (beta, unknown key) asks.
    tmux.keys(&["2"]);
    tmux.wait_for("web-0002");
    tmux.keys(&["Down", "Enter"]);
    let fingerprint = beta.host_key_fingerprint();
    let asked = tmux.wait_for("Unknown host key");
    assert!(
        asked.contains(&format!("[127.0.0.3]:{}", beta.port)),
        "{asked}"
    );
    assert!(asked.contains("ssh-ed25519"), "{asked}");
    assert!(asked.contains(&fingerprint), "{asked}");

    // No: not connected, nothing recorded, still on alpha.
    tmux.keys(&["n"]);
    let screen = tmux.wait_until(
        |s| !s.contains("Unknown host key") && s.contains("Connection refused"),
        "the refusal is shown",
    );
    assert!(screen.contains("not accepted"), "{screen}");
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_until(|s| !s.contains("Connection refused"), "the modal closes");
    assert!(status(&screen).contains(&alpha_label), "{screen}");
    assert!(screen.contains("droplet-alpha"), "{screen}");
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), known_before);

    assert_panes_name(&screen, &alpha_label);

    // Yes: the console is on beta, every host pane about beta, nothing of alpha left.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Unknown host key");
    tmux.keys(&["y"]);
    let beta_label = format!("web-0001 (root@127.0.0.3:{})", beta.port);
    let screen = tmux.wait_until(
        |s| status(s).contains(&beta_label) && s.contains("droplet-beta"),
        "the console is on beta, its Host pane loaded",
    );
    assert!(!screen.contains("droplet-alpha"), "{screen}");
    assert_panes_name(&screen, "web-0001");

    // alpha's connection is kept for `B`, but nothing runs there any more: no command
    // left running, and none started through more than one host-facts refresh (10 s)
    // while beta's refreshes go on.
    let mut left = commands_running_on(&alpha);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = commands_running_on(&alpha);
    }
    assert!(left.is_empty(), "still running on alpha: {left:?}");
    let (alpha_before, beta_before) = (commands_run_on(&alpha), commands_run_on(&beta));
    std::thread::sleep(std::time::Duration::from_secs(12));
    assert_eq!(
        commands_run_on(&alpha),
        alpha_before,
        "the console still runs commands on alpha"
    );
    assert!(
        commands_run_on(&beta) > beta_before,
        "beta's host facts are refreshed"
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        format!("{known_before}{}", beta.known_hosts_line())
    );

    // Back (B) to alpha: its own facts again, nothing of beta.
    tmux.keys(&["B"]);
    let screen = tmux.wait_until(
        |s| status(s).contains(&alpha_label) && s.contains("droplet-alpha"),
        "the console is back on alpha",
    );
    assert!(!screen.contains("droplet-beta"), "{screen}");
    assert_panes_name(&screen, &alpha_label);

    // Enter on beta again: known now, no question.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until(
        |s| status(s).contains(&beta_label) && s.contains("droplet-beta"),
        "the console is on beta again without a question",
    );
    assert!(!screen.contains("Unknown host key"), "{screen}");
    assert!(!screen.contains("droplet-alpha"), "{screen}");

    // gamma's key changed: refused loudly, never a yes, nothing recorded, still on beta.
    tmux.keys(&["Down", "Enter"]);
    let screen = tmux.wait_for("Connection refused");
    assert!(screen.contains("REFUSED"), "{screen}");
    assert!(screen.contains("CHANGED"), "{screen}");
    assert!(!screen.contains("Unknown host key"), "{screen}");
    tmux.keys(&["y"]);
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_until(|s| !s.contains("Connection refused"), "the modal closes");
    assert!(status(&screen).contains(&beta_label), "{screen}");
    assert!(screen.contains("droplet-beta"), "{screen}");
    let known = std::fs::read_to_string(&known_hosts).unwrap();
    assert_eq!(known.matches("127.0.0.4").count(), 1, "{known}");
    assert!(known.contains(&gamma_old), "{known}");

    tmux.keys(&["q"]);
    tmux.wait_until(|s| s.trim_end().ends_with('$'), "the console exits");
    let stderr = std::fs::read_to_string(tmux.dir.path().join("stderr.txt")).unwrap();
    assert!(stderr.is_empty(), "{stderr}");
}
