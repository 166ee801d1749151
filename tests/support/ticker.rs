//! A container that prints numbered lines, built FROM scratch around a static binary
//! compiled here (no registry can be reached), removed on Drop.

use std::process::Command;

pub struct Ticker {
    pub container: String,
    image: String,
    _dir: tempfile::TempDir,
}

const SOURCE: &str = r#"
fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let pause_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    for i in 0..n {
        println!("tick {i:05}");
        if pause_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(pause_ms));
        }
    }
}
"#;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Ticker {
    /// Start a container printing `lines` lines, `pause_ms` apart.
    pub fn start(lines: u32, pause_ms: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ticker.rs"), SOURCE).unwrap();
        run(Command::new("rustc")
            .args(["-C", "target-feature=+crt-static", "-o"])
            .arg(dir.path().join("ticker"))
            .arg(dir.path().join("ticker.rs")));
        let tag = format!(
            "odoo-ops-test-ticker:{}-{}",
            std::process::id(),
            rand_suffix()
        );
        run(Command::new("sh").arg("-c").arg(format!(
            "tar -C '{}' -c ticker | docker import --change 'ENTRYPOINT [\"/ticker\"]' - {tag}",
            dir.path().display()
        )));
        let container = run(Command::new("docker").args([
            "run",
            "-d",
            &tag,
            &lines.to_string(),
            &pause_ms.to_string(),
        ]));
        Ticker {
            container,
            image: tag,
            _dir: dir,
        }
    }

    pub fn wait(&self) {
        run(Command::new("docker").args(["wait", &self.container]));
    }

    pub fn expected(lines: u32) -> String {
        (0..lines).map(|i| format!("tick {i:05}\n")).collect()
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}
