//! Hostile arguments (quotes, `$()`, backticks, newlines, globs, non-ASCII) reach a real
//! remote shell over SSH unchanged; a NUL byte is refused before anything is sent.

mod support;

use odoo_ops::target::{Command, Target};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::sshd::Sshd;

/// A runtime, a real sshd and a connection to it, all dropped (sshd killed) at the end.
struct Remote {
    runtime: tokio::runtime::Runtime,
    target: Target,
    _sshd: Sshd,
}

fn remote() -> Remote {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sshd = Sshd::start();
    let target = runtime.block_on(sshd.target());
    Remote {
        runtime,
        target,
        _sshd: sshd,
    }
}

/// The remote shell prints each argument it received followed by a NUL.
fn echo_back(r: &Remote, args: &[String]) -> Vec<String> {
    let command = Command::new("printf")
        .arg("%s\\0")
        .args(args.iter().cloned());
    let out = r.runtime.block_on(r.target.run(&command)).unwrap();
    assert!(out.success(), "printf failed: {}", out.stderr_text());
    let mut words: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    words.pop(); // after the last NUL
    words
}

fn hostile_word() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'",
        "\"",
        "\\",
        "$(id)",
        "`id`",
        "${HOME}",
        "$1",
        "\n",
        "\r",
        "\t",
        " ",
        ";",
        "&&",
        "|",
        "*",
        "?",
        "[a]",
        "~",
        "#",
        "!",
        "%",
        "-n",
        "--",
        "é",
        "日本",
        "\u{7f}",
        "\u{1b}[31m",
        ">x",
        "<",
        "(",
        ")",
        "{",
        "}",
    ]);
    prop::collection::vec(
        prop_oneof![pieces.prop_map(str::to_string), "[ -~]{0,4}"],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn hostile_arguments_round_trip_unchanged() {
    // One sshd for all generated cases, owned by this test so it is stopped at the end.
    let r = remote();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(hostile_word(), 1..5), |args| {
            prop_assert_eq!(echo_back(&r, &args), args);
            Ok(())
        })
        .unwrap();
}

#[test]
fn script_positional_arguments_are_never_parsed_as_shell() {
    let s = remote();
    let hostile = "x'; touch /tmp/odoo-ops-pwned; echo '$(touch /tmp/odoo-ops-pwned)";
    let out = s
        .runtime
        .block_on(
            s.target
                .run(&Command::script(r#"printf '%s' "$1""#).arg(hostile)),
        )
        .unwrap();
    assert_eq!(out.stdout_text(), hostile);
    assert!(!std::path::Path::new("/tmp/odoo-ops-pwned").exists());
}

#[test]
fn a_nul_byte_is_refused_before_anything_runs() {
    let s = remote();
    let e = s
        .runtime
        .block_on(s.target.run(&Command::new("echo").arg("a\0b")))
        .unwrap_err();
    assert!(format!("{e:#}").contains("NUL"), "{e:#}");
}
