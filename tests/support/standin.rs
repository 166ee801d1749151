//! The Odoo 18 stand-in (`testkit/odoo-standin`): built once per test process as a static
//! binary, run as a local process on free ports with a generated odoo.conf, or packed into
//! a FROM-scratch Docker image tagged like a real release: two good releases
//! ([`RELEASES`]) and the bad ones of [`Bad`]. [`run_module_job`] runs an image once on a
//! project's network, as a deploy's `-i`/`-u --stop-after-init` phase does.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::docker::Project;
use super::ports;

/// Where the stand-in's images live; the tags look like the official image's dated releases.
pub const IMAGE_REPO: &str = "odoo-ops-test/odoo";
/// Two releases, so deploy and rollback have somewhere to go.
pub const RELEASES: [&str; 2] = ["18.0-20261101", "18.0-20261115"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Build the stand-in (once per test process) and return its path. Release, statically
/// linked, in its own target dir so it never disturbs the main build's artefacts.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let root = repo_root();
        let target_dir = root.join("target").join("odoo-standin");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--manifest-path",
            ])
            .arg(root.join("testkit/odoo-standin/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("run cargo to build the stand-in");
        assert!(
            out.status.success(),
            "building the stand-in failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join("release").join("odoo-standin")
    })
}

/// What goes into the generated odoo.conf, and how the process is run.
#[derive(Debug, Clone)]
pub struct StandinOptions {
    /// 0 = threaded mode: only the HTTP port, websockets served there.
    pub workers: u32,
    pub proxy_mode: bool,
    pub db_host: String,
    /// `None` = a free port with nothing listening: the database is down.
    pub db_port: Option<u16>,
    pub db_name: Option<String>,
    /// `db_password`: the stand-in then logs in to PostgreSQL for real (and lists its
    /// databases), as Odoo does.
    pub db_password: Option<String>,
    /// What odoo.log holds before this run starts (a previous run's lines).
    pub previous_log: Option<String>,
    /// `STANDIN_MODE`, e.g. `crash-after:2` or `slow:500:/web/login`.
    pub mode: Option<String>,
    /// Log to `odoo.log` through odoo.conf's `logfile` instead of stdout.
    pub logfile: bool,
    /// Ports to use instead of fresh free ones (to provoke "address in use").
    pub http_port: Option<u16>,
    pub gevent_port: Option<u16>,
    /// Run with this odoo.conf (e.g. one `odoo-ops render` wrote) instead of a generated
    /// one; ports, interface and database are then given as command-line flags, which Odoo
    /// applies over the file.
    pub conf_file: Option<PathBuf>,
    /// More command-line arguments, e.g. `-i base --stop-after-init`.
    pub extra_args: Vec<String>,
    /// Run through this path instead of the built binary: a link named `odoo-bin` shows in
    /// `ps` the way a source install's server does.
    pub program: Option<PathBuf>,
}

impl Default for StandinOptions {
    fn default() -> Self {
        StandinOptions {
            workers: 2,
            proxy_mode: true,
            db_host: "127.0.0.1".into(),
            db_port: None,
            db_name: None,
            db_password: None,
            previous_log: None,
            mode: None,
            logfile: false,
            http_port: None,
            gevent_port: None,
            conf_file: None,
            extra_args: Vec::new(),
            program: None,
        }
    }
}

/// An odoo.conf as Odoo 18 reads it.
pub fn odoo_conf(
    o: &StandinOptions,
    http_port: u16,
    gevent_port: u16,
    db_port: u16,
    logfile: Option<&Path>,
) -> String {
    let mut c = format!(
        "[options]\nhttp_interface = 127.0.0.1\nhttp_port = {http_port}\ngevent_port = {gevent_port}\n\
         workers = {}\nmax_cron_threads = 0\nproxy_mode = {}\ndb_host = {}\ndb_port = {db_port}\n\
         db_user = odoo\nlist_db = False\n",
        o.workers,
        if o.proxy_mode { "True" } else { "False" },
        o.db_host,
    );
    if let Some(db) = &o.db_name {
        c += &format!("db_name = {db}\n");
    }
    if let Some(p) = &o.db_password {
        c += &format!("db_password = {p}\n");
    }
    if let Some(f) = logfile {
        c += &format!("logfile = {}\n", f.display());
    }
    c
}

/// A running stand-in process; SIGTERM then SIGKILL on Drop.
pub struct Standin {
    pub dir: tempfile::TempDir,
    child: Child,
    pub http_port: u16,
    /// Listening only when `workers > 0`.
    pub gevent_port: u16,
    log_path: PathBuf,
    output_path: PathBuf,
}

impl Standin {
    /// Start and wait until it serves (its readiness lines are in the log).
    pub fn start(options: StandinOptions) -> Standin {
        let s = Standin::spawn(options.clone());
        let mut ready = vec!["HTTP service (werkzeug) running on".to_string()];
        if options.workers > 0 {
            ready.push("Evented Service (longpolling) running on".to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = s.log();
            if ready.iter().all(|r| log.contains(r.as_str())) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stand-in not ready in 10 s; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ports::wait_listening(s.http_port, Duration::from_secs(5)));
        s
    }

    /// Start without waiting (for modes that never get ready).
    pub fn spawn(options: StandinOptions) -> Standin {
        let dir = tempfile::tempdir().unwrap();
        let http_port = options.http_port.unwrap_or_else(ports::free_port);
        let gevent_port = options.gevent_port.unwrap_or_else(ports::free_port);
        let db_port = options.db_port.unwrap_or_else(ports::free_port);
        let log_path = dir.path().join("odoo.log");
        let output_path = dir.path().join("output.log");
        let conf_path = dir.path().join("odoo.conf");
        if let Some(previous) = &options.previous_log {
            std::fs::write(&log_path, previous).unwrap();
        }
        std::fs::write(
            &conf_path,
            odoo_conf(
                &options,
                http_port,
                gevent_port,
                db_port,
                options.logfile.then_some(log_path.as_path()),
            ),
        )
        .unwrap();
        let output = std::fs::File::create(&output_path).unwrap();
        let mut command = Command::new(options.program.as_deref().unwrap_or(binary()));
        match &options.conf_file {
            None => command.arg("-c").arg(&conf_path),
            Some(file) => command.arg("-c").arg(file).args([
                "--http-interface=127.0.0.1".to_string(),
                format!("--http-port={http_port}"),
                format!("--gevent-port={gevent_port}"),
                format!("--db_host={}", options.db_host),
                format!("--db_port={db_port}"),
            ]),
        };
        command
            .args(&options.extra_args)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        match &options.mode {
            Some(m) => command.env("STANDIN_MODE", m),
            None => command.env_remove("STANDIN_MODE"),
        };
        let child = command.spawn().expect("start the stand-in");
        Standin {
            dir,
            child,
            http_port,
            gevent_port,
            log_path,
            output_path,
        }
    }

    /// Everything it logged: the logfile if configured, plus stdout and stderr.
    pub fn log(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        text += &std::fs::read_to_string(&self.output_path).unwrap_or_default();
        text
    }

    pub fn logfile_path(&self) -> &Path {
        &self.log_path
    }

    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the process to end by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Send SIGTERM; returns once `kill` has delivered it.
    pub fn send_sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Send SIGTERM and wait for the exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.send_sigterm();
        self.wait_exit(timeout)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if self.terminate(Duration::from_secs(2)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The odoo.conf baked into the images: the compose service of a deployment mounts its own
/// over it. Odoo's official image reads `/etc/odoo/odoo.conf` the same way.
pub const IMAGE_ODOO_CONF: &str = "[options]\nworkers = 2\nmax_cron_threads = 1\nproxy_mode = True\n\
db_host = db\ndb_port = 5432\ndb_user = odoo\nlist_db = False\ndata_dir = /var/lib/odoo\n";

/// `odoo-ops-test/odoo:TAG`, built FROM scratch around the static stand-in through the real
/// Docker engine. An image that exists and holds the same binary is not rebuilt.
pub fn ensure_image(tag: &str) -> String {
    ensure_image_with_env(tag, release_env(tag))
}

/// What each good release bakes in: the newer one ships newer addon versions, so a
/// `-u project` deploy to it moves `latest_version` (18.0.1.3 -> 18.0.1.4), as a real
/// upgrade to newer code does.
fn release_env(tag: &str) -> &'static [(&'static str, &'static str)] {
    if tag == RELEASES[1] {
        &[("STANDIN_ADDON_VERSIONS", NEWER_ADDON_VERSIONS)]
    } else {
        &[]
    }
}

/// The addon versions of the newer good release (`RELEASES[1]`).
pub const NEWER_ADDON_VERSIONS: &str = "project=18.0.1.4,project_todo=18.0.1.1";

/// A release that misbehaves, built like the good ones with its misbehaviour baked in as
/// an environment variable of the image (see testkit/odoo-standin/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Logs its start-up lines, then a CRITICAL traceback, and exits 1 at once, every
    /// start (with a restart policy: a crash loop).
    CrashLoop,
    /// Serves everything, but `/web/health` answers 500 forever.
    NeverHealthy,
    /// Accepts connections and never answers.
    Hang,
    /// Exits 137 two seconds after start, as a container killed by the OOM killer shows.
    Killed137,
    /// Serves normally; every `-i`/`-u --stop-after-init` run fails on its first module
    /// with Odoo's lines and exit 255.
    UpgradeFails,
}

impl Bad {
    pub const ALL: [Bad; 5] = [
        Bad::CrashLoop,
        Bad::NeverHealthy,
        Bad::Hang,
        Bad::Killed137,
        Bad::UpgradeFails,
    ];

    /// The image tag: dated after both good releases, named for what it does.
    pub fn tag(self) -> &'static str {
        match self {
            Bad::CrashLoop => "18.0-20261120-crashloop",
            Bad::NeverHealthy => "18.0-20261121-unhealthy",
            Bad::Hang => "18.0-20261122-hang",
            Bad::Killed137 => "18.0-20261123-killed137",
            Bad::UpgradeFails => "18.0-20261124-upgradefails",
        }
    }

    /// The environment baked into the image.
    pub fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Bad::CrashLoop => &[("STANDIN_MODE", "crash-after:0")],
            Bad::NeverHealthy => &[("STANDIN_MODE", "unhealthy")],
            Bad::Hang => &[("STANDIN_MODE", "hang")],
            Bad::Killed137 => &[("STANDIN_MODE", "exit-137-after:2")],
            Bad::UpgradeFails => &[("STANDIN_FAIL_MODULES", "*")],
        }
    }
}

/// `odoo-ops-test/odoo:TAG` of a bad release (see [`Bad`]); built once like the good ones.
pub fn ensure_bad_image(bad: Bad) -> String {
    ensure_image_with_env(bad.tag(), bad.env())
}

fn ensure_image_with_env(tag: &str, env: &[(&str, &str)]) -> String {
    let reference = format!("{IMAGE_REPO}:{tag}");
    let binary = binary();
    let env_lines: String = env
        .iter()
        .map(|(k, v)| format!("ENV {k}=\"{v}\"\n"))
        .collect();
    let mut fingerprint = std::fs::read(binary).unwrap();
    fingerprint.extend_from_slice(env_lines.as_bytes());
    let digest = fnv1a(&fingerprint);
    let current = Command::new("docker")
        .args([
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"odoo-ops.standin.digest\"}}",
            &reference,
        ])
        .output()
        .expect("run docker");
    if current.status.success() && String::from_utf8_lossy(&current.stdout).trim() == digest {
        return reference;
    }
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(binary, context.path().join("odoo")).unwrap();
    std::fs::write(context.path().join("odoo.conf"), IMAGE_ODOO_CONF).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM scratch\n\
             COPY odoo /usr/bin/odoo\n\
             COPY odoo /usr/bin/curl\n\
             COPY odoo.conf /etc/odoo/odoo.conf\n\
             {env_lines}\
             LABEL org.opencontainers.image.title=\"odoo stand-in\" \\\n      \
             org.opencontainers.image.version=\"{tag}\" \\\n      \
             odoo-ops.standin.digest=\"{digest}\"\n\
             EXPOSE 8069 8072\n\
             ENTRYPOINT [\"/usr/bin/odoo\"]\n\
             CMD [\"-c\", \"/etc/odoo/odoo.conf\"]\n"
        ),
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "--quiet", "-t", &reference])
        .arg(context.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("run docker build");
    assert!(
        out.status.success(),
        "docker build {reference} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reference
}

/// What a one-off container of the stand-in left: its exit code and its log (stdout and
/// stderr, as `docker logs` gives them).
#[derive(Debug, Clone)]
pub struct OneOff {
    pub exit_code: i32,
    pub log: String,
}

/// Run `image` once on the project's network with `args` after the entrypoint (e.g.
/// `-c /etc/odoo/odoo.conf -d odoo -i project --stop-after-init --no-http`) and the
/// test database password, as a deploy's module phase runs it; wait (up to 60 s) for the
/// exit. The container is removed afterwards.
pub fn run_module_job(project: &Project, image: &str, args: &[&str]) -> OneOff {
    let name = format!("{}-odoo-run-{}", project.name, ports::free_port());
    let network = project.network();
    let password = format!("--db_password={}", super::pg_image::DB_PASSWORD);
    // Labelled as `docker compose run` labels its one-offs, so the project's Drop removes
    // it even when the test fails half-way.
    let project_label = format!("com.docker.compose.project={}", project.name);
    let mut command = vec![
        "run",
        "--name",
        &name,
        "--network",
        &network,
        "--label",
        &project_label,
        "--label",
        "com.docker.compose.service=odoo",
        "--label",
        "com.docker.compose.oneoff=True",
        image,
    ];
    command.extend_from_slice(args);
    command.push(&password);
    let run = Command::new("timeout")
        .arg("60")
        .arg("docker")
        .args(&command)
        .output()
        .expect("run docker");
    let inspect = project.docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    let logs = project.docker(&["logs", &name]);
    project.docker(&["rm", "-f", &name]);
    let exit_code = String::from_utf8_lossy(&inspect.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "the one-off {name} did not run: {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
    OneOff {
        exit_code,
        log: String::from_utf8_lossy(&logs.stdout).into_owned()
            + &String::from_utf8_lossy(&logs.stderr),
    }
}

/// `image` with the healthcheck a compose file gives it, in exec form (a FROM-scratch
/// image has no shell for `docker run --health-cmd`): `curl -fsS .../web/health` every
/// second, unhealthy after two failures. Tagged `IMAGE-healthchecked`; built once per
/// call (cheap: one metadata layer).
pub fn with_healthcheck(image: &str) -> String {
    let reference = format!("{image}-healthchecked");
    let dockerfile = format!(
        "FROM {image}\nHEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD [\"curl\", \"-fsS\", \"http://127.0.0.1:8069/web/health\"]\n"
    );
    let mut child = Command::new("docker")
        .args(["build", "--quiet", "-t", &reference, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run docker build");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "docker build {reference}");
    reference
}

/// Both release images; returns their references, oldest first.
pub fn ensure_release_images() -> Vec<String> {
    RELEASES.iter().map(|t| ensure_image(t)).collect()
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
