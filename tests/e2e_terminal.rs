//! The real binary in a real terminal (tmux): keys in, screen out, and the terminal left
//! as it was found after `q`, SIGTERM/SIGHUP/SIGINT (exit status 128+N), a panic of the
//! main loop or of a background task, and brought back after a stop (SIGTSTP) and `fg`.

mod support;

use support::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");

/// Start the console from the shell; after it exits, the shell records its exit status
/// (`exit-status.txt`, see [`exit_status`]) and the terminal mode (the returned file).
fn launch(tmux: &Tmux, env: &str) -> std::path::PathBuf {
    let stty = tmux.dir.path().join("stty-after.txt");
    tmux.type_line(&format!(
        "{env} {BIN} 2>{dir}/stderr.txt; echo $? > {dir}/exit-status.txt; stty -a > {stty}",
        dir = tmux.dir.path().display(),
        stty = stty.display()
    ));
    stty
}

/// The console's exit status, once [`assert_restored`] has seen it end.
fn exit_status(tmux: &Tmux) -> String {
    let path = tmux.dir.path().join("exit-status.txt");
    tmux.wait_for_file(&path).trim().to_string()
}

/// The pane's terminal modes now, read from outside while the console runs.
fn pane_modes(tmux: &Tmux) -> Vec<String> {
    let tty = tmux.format("#{pane_tty}");
    let out = std::process::Command::new("stty")
        .args(["-a", "-F", &tty])
        .output()
        .unwrap();
    assert!(out.status.success(), "stty -F {tty}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
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

fn send_signal(signal: &str, pid: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The signal from outside ends the console with the terminal restored and the status a
/// shell gives a process the signal ended: 128+N.
fn signal_restores_the_terminal(signal: &str, status: u8) {
    let tmux = Tmux::start(120, 40);
    let stty = launch(&tmux, "");
    tmux.wait_for("1 Host");
    let raw = pane_modes(&tmux);
    assert!(
        raw.iter().any(|m| m == "-icanon"),
        "console in raw mode: {raw:?}"
    );
    send_signal(signal, &console_pid(&tmux));
    assert_restored(&tmux, &stty);
    assert_eq!(exit_status(&tmux), status.to_string());
}

#[test]
fn sigterm_restores_the_terminal() {
    signal_restores_the_terminal("-TERM", 128 + 15);
}

#[test]
fn sighup_restores_the_terminal() {
    // What a dropped SSH session sends to the console it was running.
    signal_restores_the_terminal("-HUP", 128 + 1);
}

#[test]
fn sigint_from_outside_restores_the_terminal() {
    // In raw mode ctrl+c is a key; `kill -INT` (a supervisor, a script) is the signal.
    signal_restores_the_terminal("-INT", 128 + 2);
}

#[test]
fn a_stop_gives_the_shell_its_terminal_and_fg_brings_the_console_back() {
    let tmux = Tmux::start(120, 40);
    // Alone on its line: the shell would run the rest of a list as soon as the job stops.
    tmux.type_line(&format!("{BIN} 2>{}/stderr.txt", tmux.dir.path().display()));
    tmux.wait_for("1 Host");
    send_signal("-TSTP", &console_pid(&tmux));
    let screen = tmux.wait_for("Stopped");
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "alternate screen left while stopped:\n{screen}"
    );
    assert_eq!(
        tmux.format("#{cursor_flag}"),
        "1",
        "cursor shown while stopped"
    );

    tmux.type_line("fg");
    let screen = tmux.wait_until(
        |s| s.lines().next().is_some_and(|l| l.starts_with("┏ 1 Host")),
        "the console draws again",
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "back on the alternate screen:\n{screen}"
    );
    let modes = pane_modes(&tmux);
    // Raw: no line editing, no echo, and ctrl+c/ctrl+z are keys (a shell's line editor
    // turns off icanon and echo too, but keeps isig).
    for mode in ["-icanon", "-echo", "-isig"] {
        assert!(
            modes.iter().any(|m| m == mode),
            "{mode} after fg: {modes:?}"
        );
    }
    tmux.keys(&["Tab"]);
    tmux.wait_until(
        |s| s.lines().any(|l| l.starts_with("┏ 2 Droplets")),
        "keys work after fg",
    );
    tmux.keys(&["q"]);
    // Typed before the console has left, the shell line below would be keys to it.
    tmux.wait_until(
        |_| tmux.format("#{alternate_on}") == "0",
        "the console has left",
    );
    // `fg` returns the job's status.
    let stty = tmux.dir.path().join("stty-after.txt");
    tmux.type_line(&format!(
        "echo $? > {dir}/exit-status.txt; stty -a > {stty}",
        dir = tmux.dir.path().display(),
        stty = stty.display()
    ));
    assert_restored(&tmux, &stty);
    assert_eq!(exit_status(&tmux), "0");
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
fn a_panic_in_a_background_task_restores_the_terminal_and_exits_with_the_report() {
    let tmux = Tmux::start(120, 40);
    // A hidden trigger for this test only: a spawned task panics after the first frame.
    let stty = launch(&tmux, "ODOO_OPS_TEST_PANIC_TASK=1");
    assert_restored(&tmux, &stty);
    assert_eq!(exit_status(&tmux), "101", "the status of a panic");
    let stderr = std::fs::read_to_string(tmux.dir.path().join("stderr.txt")).unwrap();
    assert!(
        stderr.contains("a background task panics on purpose"),
        "{stderr}"
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
