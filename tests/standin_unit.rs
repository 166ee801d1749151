//! The stand-in's own unit tests (SHA-1 and base64 vectors, the websocket accept value,
//! config parsing, HTTP framing, DNS answer parsing) live in its separate crate; run them
//! from the main suite so CI cannot skip them.

use std::process::Command;

#[test]
fn standin_crate_unit_tests_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["test", "--quiet", "--manifest-path"])
        .arg(format!("{root}/testkit/odoo-standin/Cargo.toml"))
        .arg("--target-dir")
        .arg(format!("{root}/target/odoo-standin"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo test for the stand-in");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("test result: ok."), "{text}");
}
