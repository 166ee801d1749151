//! A real terminal: tmux on its own socket, driven with send-keys and read with
//! capture-pane, for end-to-end tests of the console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    pub dir: tempfile::TempDir,
}

impl Tmux {
    /// A detached session running a plain bash of the given size, with its own config
    /// home so the operator's files never leak into a test.
    pub fn start(width: u16, height: u16) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let socket = format!(
            "odoo-ops-test-{}-{}",
            std::process::id(),
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let tmux = Tmux { socket, dir };
        let config_home = tmux.config_home();
        std::fs::create_dir_all(&config_home).unwrap();
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-e",
            &format!("XDG_CONFIG_HOME={}", config_home.display()),
            "-e",
            "NO_COLOR=",
            "env",
            "PS1=$ ",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        tmux
    }

    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test-deps.sh)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type a shell line and press Enter.
    pub fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "main", "-l", line]);
        self.run(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Send tmux key names (`Tab`, `Escape`, `q`, `?`).
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "main", key]);
        }
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-t", "main", "-p"])
    }

    /// Wait until the screen shows `text`; on timeout, fail showing the screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(|s| s.contains(text), &format!("screen shows {text:?}"))
    }

    pub fn wait_until(&self, ok: impl Fn(&str) -> bool, what: &str) -> String {
        self.wait_until_within(Duration::from_secs(15), ok, what)
    }

    /// As [`Tmux::wait_until`], for what takes longer than usual (a periodic refresh).
    pub fn wait_until_within(
        &self,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
        what: &str,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting until {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The shell words that run `program` with this machine's own nginx logs hidden: a
    /// mount namespace of its own with an empty /var/log/nginx, so a console under test
    /// follows only what its test set up (the machine may have years of lines there).
    /// Read-only: the console's own `nginx -t` (run by the diagnosis at start) would
    /// otherwise create nginx's compiled-in error.log there. Needs root, as the test
    /// machines have.
    pub fn without_machine_logs(program: &str) -> String {
        format!(
            "unshare --mount sh -c '[ -d /var/log/nginx ] && mount -t tmpfs -o ro odoo-ops-test /var/log/nginx; exec \"$0\" \"$@\"' {program}"
        )
    }

    pub fn format(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", format])
            .trim()
            .to_string()
    }

    pub fn wait_for_file(&self, path: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !path.exists() || std::fs::read_to_string(path).unwrap_or_default().is_empty() {
            if Instant::now() > deadline {
                panic!(
                    "{} never appeared; screen:\n{}",
                    path.display(),
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(50));
        std::fs::read_to_string(path).unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
