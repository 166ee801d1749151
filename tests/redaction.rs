//! One redaction policy, every face: the secrets an operator's stack really carries
//! (`DATABASE_URL` credentials, `*_PWD` and `DB_PASS` variables, `--db_password=`/`-w` in a
//! command line, a traefik basic-auth label, odoo.conf's `db_password`/`smtp_password`/
//! `admin_passwd`) fed through the Containers inspect view (a real container on the local
//! Docker engine, drawn on TestBackend), `odoo-ops render`'s diff (text and `--json`) and
//! `odoo-ops diagnose` (text and `--json`). Each secret's value appears nowhere; each name
//! still does.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use odoo_ops::config::Settings;
use odoo_ops::config::keymap::Action;
use odoo_ops::docker::worker::{self, DockerEvent, Scope};
use odoo_ops::target::Target;
use odoo_ops::tui::app::{App, Connection};
use odoo_ops::tui::effect::Effect;
use support::app::{render, screen_text};
use support::docker::Project;
use support::standin::{self, Standin, StandinOptions};

/// Secret values unique to this run, so finding one can only mean it leaked.
struct Secrets {
    url: String,
    pwd: String,
    pass: String,
    arg: String,
    short: String,
    hash: String,
}

impl Secrets {
    fn new() -> Secrets {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Secrets {
            url: format!("UrlPw{n:x}"),
            pwd: format!("SmtpPwd{n:x}"),
            pass: format!("DbPass{n:x}"),
            arg: format!("ArgPw{n:x}"),
            short: format!("ShortPw{n:x}"),
            hash: format!("HashPw{n:x}"),
        }
    }

    fn all(&self) -> [&str; 6] {
        [
            &self.url,
            &self.pwd,
            &self.pass,
            &self.arg,
            &self.short,
            &self.hash,
        ]
    }
}

fn assert_hidden(face: &str, shown: &str, secrets: &[&str], names: &[&str]) {
    for s in secrets {
        assert!(!shown.contains(s), "{face} shows the secret {s}:\n{shown}");
    }
    for n in names {
        assert!(shown.contains(n), "{face} lost the name {n}:\n{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_containers_inspect_view_shows_no_secret() {
    let s = Secrets::new();
    let image = standin::ensure_image(standin::RELEASES[0]);
    let project = Project::new("redact");
    let url = format!("DATABASE_URL=postgres://odoo:{}@db:5432/odoo", s.url);
    let pwd = format!("SMTP_PWD={}", s.pwd);
    let pass = format!("DB_PASS={}", s.pass);
    let label = format!(
        "traefik.http.middlewares.auth.basicauth.users=admin:$apr1${}$x",
        s.hash
    );
    let arg = format!("--db_password={}", s.arg);
    project.run_with_command(
        "odoo",
        &["-e", &url, "-e", &pwd, "-e", &pass, "--label", &label],
        &image,
        &["-c", "/etc/odoo/odoo.conf", &arg, "-w", &s.short],
    );

    let mut handle = worker::spawn_with_poll(
        Target::local(),
        Scope {
            project: Some(project.name.clone()),
        },
        false,
        None,
    );
    let mut rx = handle.model.clone();
    let model = tokio::time::timeout(Duration::from_secs(25), async {
        loop {
            let m = rx.borrow_and_update().clone();
            if m.containers.iter().any(|c| c.service == "odoo") {
                return m;
            }
            rx.changed().await.expect("the docker worker stopped");
        }
    })
    .await
    .expect("the container in the model");

    // The operator focuses Containers and presses `i` on the container.
    let mut app = App::new(Settings::builtin(), false, "test".into(), Connection::Local);
    app.on_action(Action::FocusContainers);
    app.zoomed = true;
    app.containers.apply(model, 0);
    let effects = app.containers.on_action(Action::ContainerInspect);
    let [Effect::Docker(command)] = effects.as_slice() else {
        panic!("inspect asks the docker worker: {effects:?}");
    };
    handle.send(command.clone());
    let event = tokio::time::timeout(Duration::from_secs(25), async {
        loop {
            match handle.events.recv().await.expect("the worker is alive") {
                e @ DockerEvent::Inspected { .. } => return e,
                _ => continue,
            }
        }
    })
    .await
    .expect("the inspect answer");
    let DockerEvent::Inspected { result, .. } = &event else {
        unreachable!()
    };
    let json = result.clone().expect("inspect succeeded");
    app.containers.apply_event(event);

    // Tall and wide enough that the whole document is on screen, no line cut.
    let lines = json.lines().count() as u16;
    let width = json.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 10;
    app.size = ratatui::layout::Rect::new(0, 0, width.max(120), lines + 10);
    let screen = screen_text(render(&app).backend().buffer());
    let names = [
        "DATABASE_URL=postgres://odoo:<redacted>@db:5432/odoo",
        "SMTP_PWD=<redacted>",
        "DB_PASS=<redacted>",
        "\"--db_password=<redacted>\"",
        "\"-w\"",
        "basicauth.users\": \"admin:<redacted>\"",
    ];
    assert_hidden("the inspect view", &screen, &s.all(), &names);
    assert_hidden("the inspect JSON", &json, &s.all(), &names);
}

fn odoo_ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run odoo-ops")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_render_diff_shows_no_secret() {
    let s = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "--domain", "erp.example.test", "--out", out];
        args.extend_from_slice(extra);
        odoo_ops(&args)
    };
    assert!(render(&[]).status.success());
    // The stack's own secrets, in context lines of the diffs.
    let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    let generated = env
        .lines()
        .find_map(|l| l.strip_prefix("POSTGRES_PASSWORD="))
        .unwrap()
        .to_string();
    let conf = std::fs::read_to_string(dir.path().join("odoo.conf")).unwrap();
    let admin_hash = conf
        .lines()
        .find_map(|l| l.strip_prefix("admin_passwd = "))
        .unwrap()
        .to_string();
    // What an operator added by hand since, which the render drops.
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "{env}DB_PASS={}\nSMTP_PWD={}\nDATABASE_URL=postgres://odoo:{}@db/odoo\n",
            s.pass, s.pwd, s.url
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("odoo.conf"),
        format!(
            "{conf}db_password = {}\nsmtp_password = {}\n",
            s.arg, s.short
        ),
    )
    .unwrap();

    let mut secrets = s.all().to_vec();
    secrets.extend([generated.as_str(), admin_hash.as_str()]);
    let text = render(&[]);
    assert_eq!(text.status.code(), Some(1), "{}", stdout(&text));
    let shown = stdout(&text);
    assert_hidden(
        "render's diff",
        &shown,
        &secrets,
        &[
            "-DB_PASS=<redacted>",
            "-SMTP_PWD=<redacted>",
            "-DATABASE_URL=postgres://odoo:<redacted>@db/odoo",
            " POSTGRES_PASSWORD=<redacted>",
            "-db_password = <redacted>",
            "-smtp_password = <redacted>",
        ],
    );
    let json = render(&["--json"]);
    assert_eq!(json.status.code(), Some(1), "{}", stdout(&json));
    assert_hidden(
        "render --json",
        &stdout(&json),
        &secrets,
        &["\".env\"", "\"odoo.conf\""],
    );
}

#[test]
fn diagnose_evidence_shows_no_secret() {
    let s = Secrets::new();
    // A host Odoo whose command line carries the database password, as some units do.
    let odoo = Standin::start(StandinOptions {
        extra_args: vec![
            format!("--db_password={}", s.arg),
            "-w".into(),
            s.short.clone(),
        ],
        ..Default::default()
    });
    let conf = odoo.dir.path().join("odoo.conf");
    let nginx = tempfile::tempdir().unwrap();
    let nginx_conf = nginx.path().join("nginx.conf");
    let args = [
        "diagnose",
        "--odoo-conf",
        conf.to_str().unwrap(),
        "--nginx-conf",
        nginx_conf.to_str().unwrap(),
        "--nginx-prefix",
        nginx.path().to_str().unwrap(),
    ];
    let secrets = [s.arg.as_str(), s.short.as_str()];
    // The text shows the title's first words (how many of the arguments fit depends on
    // where the binary lives); the JSON evidence carries the whole command line. Neither
    // secret may appear anywhere, and the names must survive where the line is whole.
    let names = ["--db_password=<redacted>", "-w <redacted>"];
    let text = odoo_ops(&args);
    assert_hidden("diagnose", &stdout(&text), &secrets, &[]);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = odoo_ops(&json_args);
    let shown = stdout(&json);
    assert_hidden("diagnose --json", &shown, &secrets, &names);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let running = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "odoo.running")
        .unwrap();
    assert!(
        running["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("pid {}", odoo.pid()))),
        "{running}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_pane_keeps_no_secret_an_application_logged() {
    use odoo_ops::logs::Format;
    use odoo_ops::logs::worker::{self as logs_worker, SourceSpec};
    let s = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odoo.log");
    // What a misconfigured addon or a connection error really writes into odoo.log.
    std::fs::write(
        &log,
        format!(
            "2026-11-22 02:02:12,655 7 ERROR shop odoo.sql_db: bad connection to postgres://odoo:{}@db:5432/shop\n\
             2026-11-22 02:02:13,001 7 INFO shop odoo.addons.sms: sending with api_key={} and token: {}\n\
             2026-11-22 02:02:14,001 7 INFO shop werkzeug: GET /web/health HTTP/1.0 200\n",
            s.url, s.hash, s.pwd
        ),
    )
    .unwrap();
    let (logs, _task) = logs_worker::spawn(1000);
    logs.add_source(SourceSpec::File {
        target: Target::local(),
        path: log.clone(),
        name: "odoo.log".into(),
        format: Format::Odoo,
    });
    let snap = support::logs::wait_for(&logs, Duration::from_secs(30), "3 lines", |s| {
        s.buffered == 3
    })
    .await;
    let shown = support::logs::window_text(&snap).join("\n");
    assert_hidden(
        "the Logs pane",
        &shown,
        &[&s.url, &s.hash, &s.pwd],
        &[
            "postgres://odoo:<redacted>@db:5432/shop",
            "api_key=<redacted>",
            "GET /web/health",
        ],
    );
}
