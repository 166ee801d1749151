//! A real PostgreSQL for tests: `initdb` into a temp dir and a `postgres` server on a free
//! loopback port, run as the `postgres` user when the tests run as root (PostgreSQL refuses
//! to run as root). Fast shutdown (SIGINT) on Drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::ports;

pub struct Postgres {
    pub dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    for dir in ["/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// uid and gid of the `postgres` user when we are root; `None` when we are not.
fn run_as() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl Postgres {
    /// Trust authentication: any client may log in as any role.
    pub fn start() -> Postgres {
        Postgres::start_inner(None, &[])
    }

    /// TCP logins need `password` (sent in clear, checked against the stored SCRAM
    /// verifier), the superuser `odoo` has this one; the Unix socket stays trust.
    pub fn start_with_password(password: &str) -> Postgres {
        Postgres::start_inner(Some((password, "password")), &[])
    }

    /// As [`Postgres::start_with_password`], TCP logins by `method` (`scram-sha-256`,
    /// `md5`): the password never crosses the wire.
    pub fn start_with_auth(password: &str, method: &str) -> Postgres {
        Postgres::start_inner(Some((password, method)), &[])
    }

    /// `CREATE DATABASE name` as `odoo`, over the Unix socket.
    pub fn create_database(&self, name: &str) {
        let out = Command::new(pg_bin("createdb"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", "odoo", name])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run `sql` as `odoo` in `database` over the Unix socket (trust); psql's unaligned
    /// tuples. Panics when psql fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(pg_bin("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", "odoo", "-d", database])
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql in {database}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start with more `-c NAME=VALUE` settings (e.g. Debian's `cluster_name=15/main`,
    /// which prefixes every backend's title).
    pub fn start_with(settings: &[&str]) -> Postgres {
        Postgres::start_inner(None, settings)
    }

    fn start_inner(password: Option<(&str, &str)>, settings: &[&str]) -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let as_user = |c: &mut Command| {
            if let Some((uid, gid)) = user {
                c.uid(uid).gid(gid);
            }
        };
        let mut initdb = Command::new(pg_bin("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "odoo", "-E", "UTF8", "--no-sync"])
            .current_dir(dir.path());
        match password {
            None => {
                initdb.arg("--auth=trust");
            }
            Some((p, method)) => {
                let file = dir.path().join("pwfile");
                std::fs::write(&file, format!("{p}\n")).unwrap();
                if let Some((uid, gid)) = user {
                    std::os::unix::fs::chown(&file, Some(uid), Some(gid)).unwrap();
                }
                initdb
                    .args(["--auth-local=trust", &format!("--auth-host={method}")])
                    .arg(format!("--pwfile={}", file.display()));
            }
        }
        as_user(&mut initdb);
        let out = initdb
            .output()
            .expect("run initdb (apt-get install postgresql)");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = ports::free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .unwrap();
        }
        let mut server = Command::new(pg_bin("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ])
            .args(settings.iter().flat_map(|s| ["-c", s]))
            .arg("-k")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        as_user(&mut server);
        let child = server.spawn().expect("start postgres");
        let pg = Postgres { dir, child, port };
        assert!(
            ports::wait_listening(port, Duration::from_secs(20)),
            "postgres did not listen; log:\n{}",
            std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default()
        );
        // Listening is not accepting: a login during start-up gets "the database system
        // is starting up".
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !Command::new(pg_bin("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "postgres did not accept connections; log:\n{}",
                std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pg
    }

    /// Stop the server now (the database goes down while the test goes on).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}
