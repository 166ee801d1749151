//! A real nginx for tests: a non-daemon master in its own temp dir (prefix, pid, error and
//! access logs, temp paths), with the given `http { ... }` content (server blocks, maps,
//! limit zones: what a site file in `conf.d` holds). Stopped on Drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::ports;

pub struct Nginx {
    pub dir: tempfile::TempDir,
    child: Child,
}

/// The main `nginx.conf` around `http_content`, with every path inside `dir`.
pub fn main_conf(dir: &Path, http_content: &str) -> String {
    let d = dir.display();
    // As root, workers would switch to `nobody`, which cannot enter a 0700 temp dir.
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "{user}daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{http_content}
}}
"
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn nginx_command(dir: &Path) -> Command {
    let mut c = Command::new("nginx");
    c.arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    c
}

/// `nginx -t` on `http_content` in a fresh prefix: what an operator runs before a reload.
pub fn test_config(http_content: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nginx.conf"),
        main_conf(dir.path(), http_content),
    )
    .unwrap();
    nginx_command(dir.path())
        .arg("-t")
        .output()
        .expect("run nginx -t (apt-get install nginx)")
}

impl Nginx {
    /// Start nginx with `http_content`; wait until every port in `ports` accepts connections.
    pub fn start(http_content: &str, listen_ports: &[u16]) -> Nginx {
        Nginx::start_in(tempfile::tempdir().unwrap(), http_content, listen_ports)
    }

    /// [`Nginx::start`] in a directory made beforehand (a test that must know the config
    /// path, `DIR/nginx.conf`, before the master runs).
    pub fn start_in(dir: tempfile::TempDir, http_content: &str, listen_ports: &[u16]) -> Nginx {
        std::fs::write(
            dir.path().join("nginx.conf"),
            main_conf(dir.path(), http_content),
        )
        .unwrap();
        let child = nginx_command(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx (apt-get install nginx)");
        let mut nginx = Nginx { dir, child };
        for &port in listen_ports {
            if !ports::wait_listening(port, Duration::from_secs(10)) {
                let status = nginx.child.try_wait().ok().flatten();
                panic!(
                    "nginx did not listen on {port} (exit: {status:?}); error.log:\n{}",
                    nginx.error_log()
                );
            }
        }
        nginx
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// Replace the `http` content and reload (SIGHUP via `nginx -s reload`); returns once the
    /// master has started workers with the new configuration, or panics with the error log.
    pub fn reload(&self, http_content: &str) {
        std::fs::write(self.conf_path(), main_conf(self.dir.path(), http_content)).unwrap();
        let before = self.error_log().matches("reconfiguring").count();
        let out = nginx_command(self.dir.path())
            .args(["-s", "reload"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nginx -s reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let log = self.error_log();
            if log.matches("reconfiguring").count() > before {
                // Give the new worker a moment to take over the listening sockets.
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nginx did not reconfigure; error.log:\n{}",
            self.error_log()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Debian's layout in a temp dir: `nginx.conf` includes `conf.d/*.conf` and
/// `sites-enabled/*`; each site lives in `sites-available/` with a symlink in
/// `sites-enabled/` (`../sites-available/NAME`), as the package and the seeds set it up.
pub struct DebianSite<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The main `nginx.conf` of [`Nginx::start_debian`].
pub fn debian_main_conf(dir: &Path) -> String {
    let d = dir.display();
    main_conf(
        dir,
        &format!("    include {d}/conf.d/*.conf;\n    include {d}/sites-enabled/*;"),
    )
}

/// nginx as a packaged master runs it: `nginx -c FILE -p DIR/` and nothing else.
fn debian_command(dir: &Path) -> Command {
    let mut c = Command::new("nginx");
    c.arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-p")
        .arg(format!("{}/", dir.display()));
    c
}

impl Nginx {
    /// Start nginx on Debian's layout with `sites` (in sites-available, linked from
    /// sites-enabled) and `conf_d` files; wait until every port in `listen_ports` listens.
    pub fn start_debian(
        sites: &[DebianSite],
        conf_d: &[(&str, &str)],
        listen_ports: &[u16],
    ) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["conf.d", "sites-available", "sites-enabled", "logs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("nginx.conf"), debian_main_conf(d)).unwrap();
        for (name, text) in conf_d {
            std::fs::write(d.join("conf.d").join(name), text).unwrap();
        }
        for site in sites {
            std::fs::write(d.join("sites-available").join(site.name), site.text).unwrap();
            std::os::unix::fs::symlink(
                format!("../sites-available/{}", site.name),
                d.join("sites-enabled").join(site.name),
            )
            .unwrap();
        }
        let child = debian_command(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx (apt-get install nginx)");
        let mut nginx = Nginx { dir, child };
        for &port in listen_ports {
            if !ports::wait_listening(port, Duration::from_secs(10)) {
                let status = nginx.child.try_wait().ok().flatten();
                panic!(
                    "nginx did not listen on {port} (exit: {status:?}); error.log:\n{}",
                    nginx.error_log()
                );
            }
        }
        nginx
    }

    /// `nginx -t` with the running master's own `-c` and `-p` (a Debian-layout nginx).
    pub fn debian_test(&self) -> Output {
        debian_command(self.dir.path()).arg("-t").output().unwrap()
    }

    pub fn site_available(&self, name: &str) -> PathBuf {
        self.dir.path().join("sites-available").join(name)
    }

    pub fn site_enabled(&self, name: &str) -> PathBuf {
        self.dir.path().join("sites-enabled").join(name)
    }

    /// The names in `sites-enabled/` and `conf.d/`, sorted: what nginx's globs include.
    pub fn included_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for sub in ["sites-enabled", "conf.d"] {
            for e in std::fs::read_dir(self.dir.path().join(sub)).unwrap() {
                names.push(format!(
                    "{sub}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        names.sort();
        names
    }

    /// Wait until the master has reconfigured more than `before` times (see
    /// [`Nginx::reconfigured`]); false after 10 s.
    pub fn wait_reconfigured(&self, before: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.reconfigured() > before {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// How many times the master reloaded its configuration.
    pub fn reconfigured(&self) -> usize {
        self.error_log().matches("reconfiguring").count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers too; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
