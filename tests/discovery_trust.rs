//! Where nginx and Odoo run is read from what an unprivileged user cannot forge (socket
//! owners, `/proc/PID/exe`, uids, Docker's API), and a file a process names is read only
//! for a process that runs as root or owns it. Each attack is a real process run as
//! `nobody` next to a real nginx and the Odoo stand-in; the diagnosis runs as root.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use odoo_ops::checks::model::{Report, Verdict};
use odoo_ops::checks::obs::{Observations, OdooRuntime};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::logs::worker::SourceSpec;
use odoo_ops::target::Target;
use support::nginx::Nginx;
use support::odoo_site::{DOMAIN, site};
use support::postgres::Postgres;
use support::standin::{Standin, StandinOptions};
use support::{ports, tls};

const NOBODY: u32 = 65534;

/// A process run as `nobody` whose argv[0] (its title) is `title`; killed on Drop.
struct Unprivileged(Child);

impl Unprivileged {
    fn start(title: &str, program: &str, args: &[&str]) -> Unprivileged {
        let child = Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "--",
                "bash",
                "-c",
                r#"exec -a "$0" "$@""#,
                title,
                program,
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("setpriv (util-linux)");
        let p = Unprivileged(child);
        let cmdline = format!("/proc/{}/cmdline", p.pid());
        wait_for("the forged title", || {
            std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(title.as_bytes()))
        });
        p
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Unprivileged {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory `nobody` may enter (temp dirs are 0700).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// nginx (TLS, the seed's site) in front of `odoo`, started in `dir`.
struct Stack {
    nginx: Nginx,
    ca: Vec<u8>,
    _certs: tempfile::TempDir,
}

impl Stack {
    fn start_in(dir: tempfile::TempDir, odoo: &Standin) -> Stack {
        Stack::start_to(dir, odoo.http_port, odoo.gevent_port)
    }

    fn start_to(dir: tempfile::TempDir, http: u16, gevent: u16) -> Stack {
        let certs = tempfile::tempdir().unwrap();
        let cert = tls::make_cert(certs.path(), DOMAIN);
        let tls_port = ports::free_port();
        let nginx = Nginx::start_in(dir, &site(http, gevent, tls_port, &cert), &[tls_port]);
        Stack {
            nginx,
            ca: std::fs::read(&cert.ca_cert).unwrap(),
            _certs: certs,
        }
    }

    fn options(&self, odoo: OdooLocation) -> DiagnoseOptions {
        DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            nginx_conf: Some(self.nginx.conf_path()),
            nginx_prefix: Some(self.nginx.path().to_path_buf()),
            odoo,
            extra_root_certs: vec![self.ca.clone()],
            cert_warn_days: 1,
            ..Default::default()
        }
    }

    fn diagnose(&self, odoo: OdooLocation) -> (Report, Observations) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(diagnose(&Target::local(), &self.options(odoo)))
    }
}

fn evidence(r: &Report, id: &str) -> String {
    let c = r.check(id).unwrap_or_else(|| panic!("no check {id}"));
    c.outcome.evidence.lines.join("\n")
}

fn host_pid(obs: &Observations) -> Option<u32> {
    match &obs.odoo.runtime {
        OdooRuntime::Process { process, .. } => process.as_ref().map(|p| p.pid),
        _ => None,
    }
}

#[test]
fn a_forged_nginx_master_title_is_never_executed() {
    // `/tmp/x/nginx`: a program of the attacker's that leaves a mark when run.
    let bait = open_dir();
    let marker = bait.path().join("ran-as-root");
    let program = bait.path().join("nginx");
    std::fs::write(
        &program,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Titled like the real master, with its very config, started first (listed first).
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    let forged = Unprivileged::start(
        &format!(
            "nginx: master process {} -c {}",
            program.display(),
            conf.display()
        ),
        "sleep",
        &["600"],
    );
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        ..Default::default()
    });
    let stack = Stack::start_in(dir, &odoo);
    let (r, obs) = stack.diagnose(OdooLocation::ConfigFile(odoo.dir.path().join("odoo.conf")));

    assert!(!marker.exists(), "the forged title's program was executed");
    // The real master, run through its own verified program.
    assert_eq!(obs.nginx.invocation.master_pid, Some(stack.nginx.pid()));
    assert_eq!(
        r.check("nginx.running").unwrap().outcome.verdict,
        Verdict::Pass
    );
    assert_eq!(
        r.check("nginx.config_test").unwrap().outcome.verdict,
        Verdict::Pass
    );
    let ev = evidence(&r, "nginx.running");
    assert!(
        ev.contains(&format!(
            "refused process {} (uid {NOBODY}) titled `nginx: master process {}",
            forged.pid(),
            program.display()
        )) && ev.contains("not nginx; nothing it names is run or read"),
        "{ev}"
    );
}

/// A listener run by `nobody` as `odoo-bin SCRIPT -c CONF`, whose CONF (its own file)
/// sets `logfile` to a root-only file.
struct Lure {
    process: Unprivileged,
    conf: PathBuf,
    secret: PathBuf,
    _dir: tempfile::TempDir,
}

const SECRET: &str = "TOP-SECRET-LINE root:$y$j9T$never-shown";

fn lure() -> Lure {
    let dir = open_dir();
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = ports::free_port();
    let conf = dir.path().join("odoo.conf");
    std::fs::write(
        &conf,
        format!(
            "[options]\nhttp_port = {port}\nlogfile = {}\n",
            secret.display()
        ),
    )
    .unwrap();
    std::os::unix::fs::chown(&conf, Some(NOBODY), Some(NOBODY)).unwrap();
    let script = dir.path().join("server.py");
    std::fs::write(
        &script,
        format!(
            "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', {port}))\ns.listen()\ntime.sleep(600)\n"
        ),
    )
    .unwrap();
    let process = Unprivileged::start(
        "odoo-bin",
        "/usr/bin/python3",
        &[
            &script.display().to_string(),
            "-c",
            &conf.display().to_string(),
        ],
    );
    assert!(ports::wait_listening(port, Duration::from_secs(10)));
    Lure {
        process,
        conf,
        secret,
        _dir: dir,
    }
}

#[test]
fn a_forged_odoo_bin_config_never_makes_root_read_its_logfile() {
    let lure = lure();
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        ..Default::default()
    });
    let stack = Stack::start_in(tempfile::tempdir().unwrap(), &odoo);
    let (r, obs) = stack.diagnose(OdooLocation::Auto);

    // The Odoo nginx reaches is the one diagnosed, its own log read.
    assert_eq!(
        host_pid(&obs),
        Some(odoo.pid()),
        "{}",
        evidence(&r, "odoo.running")
    );
    assert!(
        obs.odoo
            .log_lines
            .iter()
            .any(|l| l.contains("HTTP service (werkzeug) running on")),
        "{:?}",
        obs.odoo.log_lines
    );
    let everything = serde_json::to_string(&obs).unwrap() + &serde_json::to_string(&r).unwrap();
    assert!(!everything.contains("TOP-SECRET"), "the secret was read");
    let ev = evidence(&r, "odoo.running");
    assert!(
        ev.contains(&format!(
            "not chosen: host process {} (uid {NOBODY}",
            lure.process.pid()
        )) && ev.contains("nothing it names is read"),
        "{ev}"
    );

    // The Logs pane's discovery takes it for an Odoo server (it listens, its command is
    // odoo-bin) and reads its own odoo.conf, but refuses the root-only log file it names.
    let specs = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(odoo_ops::logs::discover::host_logfiles(&Target::local()));
    let mut refused = None;
    for spec in &specs {
        match spec {
            SourceSpec::File { path, .. } => assert_ne!(path, &lure.secret, "followed"),
            SourceSpec::OdooLogfile { conf, .. } => assert_ne!(conf, &lure.conf, "followed"),
            SourceSpec::Notice { text, .. } if text.contains(&*lure.secret.to_string_lossy()) => {
                refused = Some(text.clone())
            }
            _ => {}
        }
    }
    let refused = refused.expect("a notice says the log file was refused");
    assert!(
        refused.starts_with(&format!("refused to read {}", lure.secret.display()))
            && refused.contains(&format!("runs as uid {NOBODY}, the file belongs to uid 0")),
        "{refused}"
    );
}

#[test]
fn a_postgres_backend_titled_with_odoo_is_never_odoo() {
    // Debian's cluster name makes a backend's title `postgres: 15/main: odoo odoo ...`.
    let pg = Postgres::start_with(&["cluster_name=15/main"]);
    let port = pg.port.to_string();
    let psql = |db: &str| {
        let mut c = Command::new("psql");
        c.args(["-h", "127.0.0.1", "-p", &port, "-U", "odoo", "-d", db]);
        c
    };
    let out = psql("postgres")
        .args(["-c", "create database odoo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An idle connection, held open while the diagnosis runs.
    let mut idle = psql("odoo")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut backend = None;
    wait_for("the idle backend", || {
        let ps = Command::new("ps")
            .args(["-eo", "pid=,args="])
            .output()
            .unwrap();
        backend = String::from_utf8_lossy(&ps.stdout).lines().find_map(|l| {
            let (pid, title) = l.trim().split_once(' ')?;
            (title.starts_with("postgres: 15/main: odoo odoo 127.0.0.1(")
                && title.ends_with(" idle"))
            .then(|| pid.parse::<u32>().ok())?
        });
        backend.is_some()
    });
    let backend = backend.unwrap();

    let odoo = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        logfile: true,
        ..Default::default()
    });
    let stack = Stack::start_in(tempfile::tempdir().unwrap(), &odoo);
    let (r, obs) = stack.diagnose(OdooLocation::Auto);
    let _ = idle.kill();
    let _ = idle.wait();

    assert_eq!(
        host_pid(&obs),
        Some(odoo.pid()),
        "{}",
        evidence(&r, "odoo.running")
    );
    let ev = evidence(&r, "odoo.running");
    assert!(
        ev.contains(&format!("not Odoo: process {backend} ("))
            && ev.contains("its program is PostgreSQL"),
        "{ev}"
    );
    assert_eq!(
        r.check("odoo.running").unwrap().outcome.verdict,
        Verdict::Pass
    );
}

#[test]
fn the_host_odoo_nginx_reaches_wins_over_an_unrelated_compose_container() {
    let odoo = Standin::start(StandinOptions {
        logfile: true,
        ..Default::default()
    });
    // Another Odoo on the same engine: a compose service `odoo`, on ports of its own.
    let image = support::standin::ensure_image(support::standin::RELEASES[0]);
    let project = support::docker::Project::new("unrelated");
    let (http, gevent) = (ports::free_port(), ports::free_port());
    let container = project.run(
        "odoo",
        &[
            "-p",
            &format!("127.0.0.1:{http}:8069"),
            "-p",
            &format!("127.0.0.1:{gevent}:8072"),
        ],
        &image,
    );
    assert!(ports::wait_listening(http, Duration::from_secs(20)));
    let stack = Stack::start_in(tempfile::tempdir().unwrap(), &odoo);
    let (r, obs) = stack.diagnose(OdooLocation::Auto);

    assert_eq!(
        host_pid(&obs),
        Some(odoo.pid()),
        "{}",
        evidence(&r, "odoo.running")
    );
    assert_eq!(obs.odoo.http_port, Some(odoo.http_port));
    let ev = evidence(&r, "odoo.running");
    assert!(
        ev.contains(&format!(
            "nginx's upstream port {} reaches it (it owns the listening socket)",
            odoo.http_port
        )),
        "{ev}"
    );
    let line = ev
        .lines()
        .find(|l| l.starts_with(&format!("not chosen: container {container} ")))
        .unwrap_or_else(|| panic!("the container is listed as not chosen:\n{ev}"));
    assert!(
        line.contains("does not reach it") && line.contains(&format!("127.0.0.1:{http}")),
        "{line}"
    );
}

#[test]
fn no_container_is_never_claimed_when_docker_cannot_be_asked() {
    let odoo = Standin::start(StandinOptions::default());
    let stack = Stack::start_in(tempfile::tempdir().unwrap(), &odoo);
    let ca = stack._certs.path().join("ca.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(["diagnose", "--json", "--domain", DOMAIN, "--nginx-conf"])
        .arg(stack.nginx.conf_path())
        .arg("--nginx-prefix")
        .arg(stack.nginx.path())
        .args(["--odoo-container", "odoo"])
        .arg("--ca-file")
        .arg(&ca)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "odoo.running")
        .unwrap();
    assert_eq!(check["verdict"], "skipped", "{check:#}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .contains("Docker could not be asked"),
        "{check:#}"
    );
}

#[test]
fn a_logfile_path_that_looks_like_an_option_is_a_file_name() {
    // odoo.conf's `logfile = --version` once reached `tail -n 200 --version`, which
    // printed tail's version as Odoo's log (and `-f` would have hung the diagnosis).
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("odoo.conf");
    std::fs::write(&conf, "[options]\nlogfile = --version\n").unwrap();
    let stack = Stack::start_to(
        tempfile::tempdir().unwrap(),
        ports::free_port(),
        ports::free_port(),
    );
    let (_, obs) = stack.diagnose(OdooLocation::ConfigFile(conf));
    assert_eq!(
        obs.odoo.log_command.as_deref(),
        Some("tail -n 200 -- --version")
    );
    assert!(
        !obs.odoo.log_lines.iter().any(|l| l.contains("coreutils")),
        "{:?}",
        obs.odoo.log_lines
    );
    assert!(
        obs.odoo
            .log_error
            .as_deref()
            .is_some_and(|e| e.contains("--version: no such regular file")),
        "{:?}",
        obs.odoo.log_error
    );
}
