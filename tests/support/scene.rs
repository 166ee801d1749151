//! The droplet the screenshots show, made of real parts: a compose project on the real
//! Docker engine with the real PostgreSQL image as `db`, the Odoo stand-in as a healthy
//! `odoo`, and a release that crashes at start as `odoo-worker` (restart policy `always`,
//! so Docker keeps restarting it); a real nginx (TLS) in front whose upstream points at
//! a port where nothing listens, so the site answers 502.
//!
//! The console's own engines watch it: the Docker worker (scoped to the project), the
//! logs worker with the sources the console picks from Docker's model, and the
//! diagnosis. What they publish is what the app draws.
//!
//! Host-specific values (the project's name, container ids, ports, temporary paths,
//! times) are replaced by fixed text of the same width, so the files do not churn and a
//! table keeps its columns; see [`normalise`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use odoo_ops::checks::{DiagnoseOptions, OdooLocation, Report, diagnose};
use odoo_ops::docker::{self, Model, Scope, State};
use odoo_ops::logs::sources::LogSources;
use odoo_ops::logs::worker::{self as logs_worker, LogsCommand, LogsHandle, LogsSnapshot};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::target::Target;
use ratatui::buffer::Buffer;
use regex::Regex;

use super::docker::Project;
use super::nginx::Nginx;
use super::odoo_site::{DOMAIN, site};
use super::standin::{self, Bad};
use super::{ports, tls};

/// Restarts the crash-looping service has when the scene is taken: its logs then hold
/// exactly this many + 1 tracebacks, and Docker waits seconds before the next restart,
/// which leaves time to take the scene before anything moves.
pub const RESTARTS: u64 = 5;

pub struct Scene {
    pub containers: Arc<Model>,
    /// The logs worker's window for each Logs pane height asked for, taken before the
    /// diagnosis (whose requests would otherwise be logged in an order of their own).
    windows: Vec<(u16, Arc<LogsSnapshot>)>,
    pub report: Report,
    pub invocation: NginxInvocation,
    /// (what this run made, what the screenshots show instead), same widths.
    replacements: Vec<(String, String)>,
    _docker: docker::DockerHandle,
    _sources: LogSources,
    _nginx: Nginx,
    _certs: tempfile::TempDir,
    _project: Project,
    rt: tokio::runtime::Runtime,
}

fn wait<T>(what: &str, timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = ready() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn restarts(model: &Model, name: &str) -> Option<(u64, State)> {
    model.by_name(name).map(|c| (c.restart_count, c.state))
}

impl Scene {
    /// The scene, with the Logs pane's window taken for each of `rows` (text rows of the
    /// pane in the layouts the screenshots draw).
    pub fn start(rows: &[u16]) -> Scene {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let good = standin::ensure_image(standin::RELEASES[0]);
        let crashing = standin::ensure_bad_image(Bad::CrashLoop);
        // A name of a fixed width ("shots" and 8 hex digits), unique on a shared engine.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let unique = (std::process::id() << 12) ^ nanos;
        let project = Project::named(format!("shots{unique:08x}"));
        let db = project.run_db();
        let network = project.network();
        let (http, gevent) = (ports::free_port(), ports::free_port());
        let odoo = project.run(
            "odoo",
            &[
                "--network",
                &network,
                "-p",
                &format!("127.0.0.1:{http}:8069"),
                "-p",
                &format!("127.0.0.1:{gevent}:8072"),
                "-e",
                "HOST=db",
            ],
            &good,
        );
        assert!(ports::wait_listening(http, Duration::from_secs(20)));
        let worker = project.run(
            "odoo-worker",
            &[
                "--network",
                &network,
                "--restart",
                "always",
                "-e",
                "HOST=db",
            ],
            &crashing,
        );

        // nginx sends the site to a port where nothing listens: every request is a 502.
        let wrong = ports::free_port();
        let certs = tempfile::tempdir().unwrap();
        let cert = tls::make_cert(certs.path(), DOMAIN);
        let tls_port = ports::free_port();
        let content = site(http, gevent, tls_port, &cert).replace(
            &format!("server 127.0.0.1:{http};"),
            &format!("server 127.0.0.1:{wrong};"),
        );
        let nginx = Nginx::start(&content, &[tls_port]);

        let target = Target::local();
        let scope = Scope {
            project: Some(project.name.clone()),
        };
        let guard = rt.enter();
        let docker = docker::worker::spawn(target.clone(), scope, false);
        let (logs, _task) = logs_worker::spawn(10_000);
        let mut sources = LogSources::new(target.clone(), logs.clone());

        // The crash loop as the Docker worker sees it, restarted RESTARTS times and
        // waiting for the next; the console follows the containers it would follow.
        let containers = wait("the crash loop", Duration::from_secs(90), || {
            let model = docker.model.borrow().clone();
            sources.on_containers(&model);
            let (count, state) = restarts(&model, &worker)?;
            assert!(count <= RESTARTS, "the scene was missed: {count} restarts");
            // Live: the event stream is connected, and the compose flavour is known.
            (count == RESTARTS
                && state != State::Running
                && model.containers.len() == 3
                && model.live
                && model.compose != Default::default())
            .then_some(model)
        });
        // Every run's traceback (the last one written just before Docker saw it exit).
        wait("the tracebacks", Duration::from_secs(10), || {
            let snapshot = logs.snapshots.borrow().clone();
            (snapshot.received > 0 && tracebacks(&logs) == RESTARTS + 1).then_some(())
        });

        let windows = rows.iter().map(|&r| (r, window(&logs, r))).collect();
        drop(guard);
        let options = DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            compose_project: Some(project.name.clone()),
            nginx_conf: Some(nginx.conf_path()),
            nginx_prefix: Some(nginx.path().to_path_buf()),
            odoo: OdooLocation::Container(odoo.clone()),
            extra_root_certs: vec![std::fs::read(&cert.ca_cert).unwrap()],
            cert_warn_days: 1,
            ..Default::default()
        };
        let (report, mut obs) = rt.block_on(diagnose(&target, &options));
        // The resources.* checks judge the machine the test runs on, where other tests'
        // containers are OOM-killed on purpose: the scene's host (as on the Host pane) has
        // no OOM kill in its last hour, so that check is judged again without them.
        obs.host.recent_oom_lines.clear();
        obs.host.oom_kills_since_boot = Some(0);
        let judged = odoo_ops::checks::list::evaluate(&obs);
        let checks = report
            .checks
            .iter()
            .map(|c| {
                match judged
                    .iter()
                    .find(|j| j.id == "resources.oom" && c.id == j.id)
                {
                    Some(j) => j.clone(),
                    None => c.clone(),
                }
            })
            .collect();
        let mut report =
            odoo_ops::checks::Report::new(report.target.clone(), checks, report.timings.clone());
        // How long it took varies by the run; the pane's title shows it.
        report.timings.total_ms = 480.0;

        let id = |name: &str| project.id_of(name);
        let mut replacements = vec![
            (project.name.clone(), "odoo-prod-app".to_string()),
            (http.to_string(), "18069".into()),
            (gevent.to_string(), "18072".into()),
            (wrong.to_string(), "18070".into()),
            (tls_port.to_string(), "10443".into()),
        ];
        for (name, fake) in [
            (&odoo, "3f9c2a7d1e4b"),
            (&worker, "8b1e6d0c5a2f"),
            (&db, "c47a09e3b6d1"),
        ] {
            let full = id(name);
            replacements.push((full.clone(), format!("{fake}{}", &full[12..])));
            replacements.push((full[..12].to_string(), fake.to_string()));
            // Log sources are named `service#` and six digits of the id.
            replacements.push((format!("#{}", &full[..6]), format!("#{}", &fake[..6])));
        }
        // Usage is sampled by the second, and the uptime counts them: the table shows
        // no usage, and containers that started three days ago ("3d 0h" for an hour).
        let mut containers = (*containers).clone();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for c in &mut containers.containers {
            c.usage = Default::default();
            if c.started_at.is_some() {
                c.started_at = Some(now - 3 * 86_400);
            }
        }
        Scene {
            containers: Arc::new(containers),
            windows,
            report,
            invocation: obs.nginx.invocation,
            replacements,
            _docker: docker,
            _sources: sources,
            _nginx: nginx,
            _certs: certs,
            _project: project,
            rt,
        }
    }

    /// The logs worker's window for a Logs pane of `rows` text rows, as taken at start.
    pub fn logs(&self, rows: u16) -> Arc<LogsSnapshot> {
        self.windows
            .iter()
            .find(|(r, _)| *r == rows)
            .or(self.windows.first())
            .map(|(_, w)| w.clone())
            .expect("a window was taken")
    }

    /// The buffer with this run's values replaced (see the module's comment).
    pub fn normalise(&self, buffer: &mut Buffer) {
        normalise(buffer, &self.replacements);
    }
}

/// The window for a pane of `rows` rows (as the event loop tells the worker the pane's
/// height before each frame).
fn window(logs: &LogsHandle, rows: u16) -> Arc<LogsSnapshot> {
    let before = logs.snapshots.borrow().generation;
    logs.send(LogsCommand::Viewport(rows.max(1) as usize));
    wait("the logs window", Duration::from_secs(5), || {
        let s = logs.snapshots.borrow().clone();
        (s.generation != before).then_some(s)
    })
}

fn tracebacks(logs: &LogsHandle) -> u64 {
    // The whole buffer, not the window: ask for a window as large as the buffer.
    let _ = logs.send(LogsCommand::Viewport(10_000));
    std::thread::sleep(Duration::from_millis(100));
    let s = logs.snapshots.borrow().clone();
    s.window
        .iter()
        .filter(|w| w.line.text().contains("Traceback (most recent call last)"))
        .count() as u64
}

/// Replace, in every row, each `from` by its `to` padded or cut to the same width, then
/// the times and durations any run prints, digit for digit.
pub fn normalise(buffer: &mut Buffer, replacements: &[(String, String)]) {
    let times = Regex::new(concat!(
        r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}([.,]\d+)?Z?",
        r"|\b\d{2}:\d{2}:\d{2}\b",
        r"|\[\d{2}/[A-Z][a-z]{2}/\d{4} \d{2}:\d{2}:\d{2}\]",
        r"|sha256:[0-9a-f]{12}",
        r"|/tmp/\.tmp[A-Za-z0-9]{6}",
    ))
    .unwrap();
    let area = buffer.area;
    for y in 0..area.height {
        let cells: Vec<String> = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        // One char per cell (wide glyphs are not drawn by the panes).
        let mut row: Vec<char> = cells
            .iter()
            .map(|s| s.chars().next().unwrap_or(' '))
            .collect();
        for (from, to) in replacements {
            replace_all(&mut row, from, to);
        }
        fixed_width_pids(&mut row);
        let text: String = row.iter().collect();
        for m in times.find_iter(&text) {
            let start = text[..m.start()].chars().count();
            for (i, c) in m.as_str().chars().enumerate() {
                let sha = m.as_str().starts_with("sha256:");
                row[start + i] = match c {
                    _ if sha && i < 7 => c,
                    // `/tmp/.tmp` stays; the random part goes.
                    _ if m.as_str().starts_with("/tmp/") => {
                        if i < 9 {
                            c
                        } else {
                            'x'
                        }
                    }
                    '0'..='9' => '0',
                    'a'..='f' if sha => '0',
                    c => c,
                };
            }
        }
        for (x, c) in row.iter().enumerate() {
            let cell = &mut buffer[(x as u16, y)];
            if cell.symbol().chars().next().unwrap_or(' ') != *c {
                cell.set_char(*c);
            }
        }
    }
}

/// A pid has as many digits as the machine happens to give it (4 on one run, 5 on the
/// next), and the text after it moves with it: write every `master pid N` as
/// `master pid 0000` and let the next run of blanks in the row absorb the difference, so
/// the rest of the row stays where it was.
fn fixed_width_pids(row: &mut Vec<char>) {
    const PID: &str = "0000";
    let pid = Regex::new(r"master pid (\d+)").unwrap();
    let width = row.len();
    let text: String = row.iter().collect();
    let Some(m) = pid.captures(&text).and_then(|c| c.get(1)) else {
        return;
    };
    let start = text[..m.start()].chars().count();
    let digits = m.as_str().chars().count();
    row.splice(start..start + digits, PID.chars());
    let after = start + PID.len();
    // The first run of two or more blanks after the pid gives or takes the difference.
    let Some(gap) =
        (after..row.len().saturating_sub(1)).find(|&i| row[i] == ' ' && row[i + 1] == ' ')
    else {
        row.resize(width, ' ');
        return;
    };
    // The splice made the row shorter by the pid's extra digits, or longer by its missing ones.
    if digits > PID.len() {
        for _ in PID.len()..digits {
            row.insert(gap, ' ');
        }
    } else {
        let blanks = (gap..row.len()).take_while(|&i| row[i] == ' ').count();
        row.drain(gap..gap + blanks.min(PID.len() - digits));
    }
    row.resize(width, ' ');
}

fn replace_all(row: &mut [char], from: &str, to: &str) {
    let from: Vec<char> = from.chars().collect();
    if from.is_empty() {
        return;
    }
    let to: Vec<char> = to
        .chars()
        .chain(std::iter::repeat('x'))
        .take(from.len())
        .collect();
    let mut i = 0;
    while i + from.len() <= row.len() {
        if row[i..i + from.len()] == from[..] {
            row[i..i + from.len()].copy_from_slice(&to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}
