//! The real binary in a real terminal (tmux): keys in, screen out, and the terminal left
//! as it was found after `q`, SIGTERM and a panic.

mod support;

use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// Start the console from the shell; after it exits, the shell records the terminal mode.
fn launch(tmux: &Tmux, env: &str) -> std::path::PathBuf {
    let stty = tmux.dir.path().join("stty-after.txt");
    tmux.type_line(&format!(
        "{env} {BIN} 2>{dir}/stderr.txt; stty -a > {stty}",
        dir = tmux.dir.path().display(),
        stty = stty.display()
    ));
    stty
}

/// Raw mode off (canonical input and echo back on), alternate screen left, cursor shown.
fn assert_restored(tmux: &Tmux, stty: &std::path::Path) {
    let modes = tmux.wait_for_file(stty);
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert!(
        words.contains(&"icanon") && words.contains(&"echo"),
        "raw mode still on: {modes}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "alternate screen still on"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor still hidden");
}

fn console_pid(tmux: &Tmux) -> String {
    let shell = tmux.format("#{pane_pid}");
    let out = std::process::Command::new("pgrep")
        .args(["-P", &shell, "-f", BIN])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("console is running")
        .to_string()
}

#[test]
fn keys_move_focus_show_help_switch_theme_and_q_restores_the_terminal() {
    let tmux = Tmux::start(140, 42);
    let stty = launch(&tmux, "");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let screen = tmux.wait_for("answers");
    assert!(
        screen.contains(hostname.trim()),
        "Host pane names this host:\n{screen}"
    );
    assert!(
        screen.lines().next().unwrap().starts_with("┏ 1 Host"),
        "Host has focus first:\n{screen}"
    );

    tmux.keys(&["Tab"]);
    let screen = tmux.wait_until(
        |s| s.lines().any(|l| l.starts_with("┏ 2 Droplets")),
        "Droplets is focused",
    );
    assert!(screen.lines().next().unwrap().starts_with("┌ 1 Host"));

    tmux.keys(&["?"]);
    let screen = tmux.wait_for("quit the console");
    assert!(screen.contains("keymap: default"));
    tmux.keys(&["Escape"]);
    tmux.wait_until(|s| !s.contains("quit the console"), "help closed");

    tmux.keys(&["T"]);
    tmux.wait_for("theme: light");
    let colours = tmux.run(&["capture-pane", "-t", "main", "-p", "-e"]);
    assert!(
        colours.contains("\u{1b}["),
        "the light theme paints colours"
    );

    tmux.keys(&["z"]);
    let screen = tmux.wait_until(
        |s| !s.contains("3 Containers"),
        "the focused pane is zoomed",
    );
    assert!(screen.contains("2 Droplets"));

    tmux.keys(&["q"]);
    assert_restored(&tmux, &stty);
    let stderr = std::fs::read_to_string(tmux.dir.path().join("stderr.txt")).unwrap();
    assert!(
        stderr.is_empty(),
        "nothing printed on a clean quit: {stderr}"
    );
}

fn signal_restores_the_terminal(signal: &str) {
    let tmux = Tmux::start(120, 40);
    let stty = launch(&tmux, "");
    tmux.wait_for("1 Host");
    let pid = console_pid(&tmux);
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert_restored(&tmux, &stty);
}

#[test]
fn sigterm_restores_the_terminal() {
    signal_restores_the_terminal("-TERM");
}

#[test]
fn sighup_restores_the_terminal() {
    // What a dropped SSH session sends to the console it was running.
    signal_restores_the_terminal("-HUP");
}

#[test]
fn a_panic_restores_the_terminal_before_the_report() {
    let tmux = Tmux::start(120, 40);
    let stty = launch(&tmux, "ODOO_OPS_DEBUG_PANIC=1");
    assert_restored(&tmux, &stty);
    let stderr = std::fs::read_to_string(tmux.dir.path().join("stderr.txt")).unwrap();
    assert!(stderr.contains("panicking on purpose"), "{stderr}");
    assert!(
        !stderr.contains("\u{1b}[?1049h"),
        "the report is not written to the alternate screen"
    );
}

#[test]
fn a_broken_user_theme_falls_back_with_a_visible_warning() {
    let tmux = Tmux::start(160, 40);
    let dir = tmux.config_home().join("odoo-ops");
    std::fs::create_dir_all(dir.join("themes")).unwrap();
    std::fs::write(dir.join("config.toml"), "theme = \"mine\"\n").unwrap();
    std::fs::write(
        dir.join("themes/mine.toml"),
        "[colors]\nok = \"greenish\"\n",
    )
    .unwrap();
    let stty = launch(&tmux, "");
    let screen = tmux.wait_for("using the dark theme");
    assert!(screen.contains("mine.toml:2:6: key `ok`"), "{screen}");
    tmux.keys(&["q"]);
    assert_restored(&tmux, &stty);
}

#[test]
fn a_user_keymap_rebinds_quit() {
    let tmux = Tmux::start(120, 40);
    let dir = tmux.config_home().join("odoo-ops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keymap.toml"), "[global]\nquit = [\"ctrl+x\"]\n").unwrap();
    let stty = launch(&tmux, "");
    tmux.wait_for("ctrl+x quit");
    tmux.keys(&["q"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(tmux.format("#{alternate_on}"), "1", "q no longer quits");
    tmux.keys(&["C-x"]);
    assert_restored(&tmux, &stty);
}
