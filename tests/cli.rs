//! The command line as a script sees it: exit codes, messages, JSON.

use std::path::Path;
use std::process::{Command, Output};

fn odoo_ops(args: &[&str], config_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_and_completions() {
    let home = tempfile::tempdir().unwrap();
    let out = odoo_ops(&["--version"], home.path());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("odoo-ops "));
    let out = odoo_ops(&["completions", "bash"], home.path());
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("complete -F _odoo__ops") && script.contains("--readonly"));
}

#[test]
fn an_explicit_broken_theme_fails_with_file_line_column_and_key() {
    let home = tempfile::tempdir().unwrap();
    let theme = home.path().join("broken.toml");
    std::fs::write(&theme, "[colors]\nok = \"greenish\"\n").unwrap();
    let out = odoo_ops(&["--theme", theme.to_str().unwrap(), "host"], home.path());
    assert_eq!(out.status.code(), Some(2));
    let expected = format!(
        "{}:2:6: key `ok`: `greenish` is not a colour",
        theme.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

#[test]
fn an_explicit_broken_keymap_fails_naming_the_clash() {
    let home = tempfile::tempdir().unwrap();
    let keymap = home.path().join("keys.toml");
    std::fs::write(&keymap, "[global]\nrefresh = [\"q\"]\n").unwrap();
    let out = odoo_ops(&["--keymap", keymap.to_str().unwrap(), "host"], home.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:2:12: key `refresh`", keymap.display())),
        "{err}"
    );
    assert!(err.contains("bound to both `quit` and `refresh`"), "{err}");
}

#[test]
fn an_explicit_broken_config_fails_naming_the_unknown_key() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "theme = \"dark\"\n[hosts.prod]\nhost = \"203.0.113.10\"\nprot = 22\n",
    )
    .unwrap();
    let out = odoo_ops(&["--config", config.to_str().unwrap(), "host"], home.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:4:1: key `prot`", config.display())),
        "{err}"
    );
}

#[test]
fn a_broken_file_in_the_config_dir_is_a_warning_and_defaults_are_used() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("odoo-ops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keymap.toml"), "[pane]\nfly = [\"x\"]\n").unwrap();
    let out = odoo_ops(&["host", "--json"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning:") && err.contains("keymap.toml:2:1: key `fly`"),
        "{err}"
    );
    assert!(err.contains("using the default keymap"));
}

#[test]
fn host_json_describes_this_machine() {
    let home = tempfile::tempdir().unwrap();
    let out = odoo_ops(&["host", "--json"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(facts["hostname"], hostname.trim());
    assert!(facts["memory"]["total_kib"].as_u64().unwrap() > 0);
    assert!(facts["listeners"].is_array());
}

#[test]
fn help_lists_the_console_flags_once_and_help_has_help() {
    let home = tempfile::tempdir().unwrap();
    let top = odoo_ops(&["--help"], home.path());
    assert!(top.status.success());
    assert!(String::from_utf8_lossy(&top.stdout).contains("--theme"));
    for sub in ["host", "diagnose", "render"] {
        let out = odoo_ops(&[sub, "--help"], home.path());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sub}: {}", stderr(&out));
        for flag in ["--theme", "--keymap", "--readonly", "--config"] {
            assert!(!text.contains(flag), "{sub} --help repeats {flag}:\n{text}");
        }
    }
    let out = odoo_ops(&["help", "--help"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: odoo-ops help"));
    let out = odoo_ops(&["help", "render"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--domain"));
    let out = odoo_ops(&["help", "nope"], home.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn completions_offer_theme_keymap_and_size_names() {
    let home = tempfile::tempdir().unwrap();
    let out = odoo_ops(&["completions", "zsh"], home.path());
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("(dark light high-contrast)"), "{script}");
    assert!(script.contains("(default vim)"), "{script}");
    assert!(script.contains("s-1vcpu-2gb") && script.contains("s-8vcpu-16gb"));
    // The names are offered, not imposed: a theme file is still accepted.
    let theme = home.path().join("mine.toml");
    std::fs::write(&theme, "base = \"dark\"\n").unwrap();
    let out = odoo_ops(&["--theme", theme.to_str().unwrap(), "--help"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_readonly_session_refuses_what_changes_the_host() {
    let home = tempfile::tempdir().unwrap();
    for (args, name) in [
        (
            &["--readonly", "deploy", "--tag", "18.0-x", "--yes"][..],
            "deploy",
        ),
        (&["--readonly", "rollback", "--yes"][..], "rollback"),
        (
            &["--readonly", "restore", "/nonexistent.zip", "--yes"][..],
            "restore",
        ),
        (&["--readonly", "fix", "nginx.timeouts", "--yes"][..], "fix"),
    ] {
        let out = odoo_ops(args, home.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "{name} changes the host: not run in a --readonly session"
            )),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
