//! The rendered files against the real things that read them: `nginx -t` and a real nginx
//! (with a certificate from a test CA) in front of the Odoo stand-in running on the rendered
//! odoo.conf, answering the contract over TLS; `docker-compose config` (v1) and
//! `docker compose config` (v2) on the rendered compose file; and the site update with
//! `nginx -t` before the reload.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use odoo_ops::nginx::NginxInvocation;
use odoo_ops::stack::update::{SiteOutcome, install_site};
use odoo_ops::stack::{self, Domain, DropletSize, Existing, StackOptions};
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;
use support::nginx::{self, Nginx};
use support::ports::free_port;
use support::postgres::Postgres;
use support::standin::{Standin, StandinOptions};
use support::tls::{TestCert, make_cert};

const DOMAIN: &str = "erp.example.com";

struct Edge {
    dir: tempfile::TempDir,
    cert: TestCert,
    http: u16,
    https: u16,
}

impl Edge {
    fn new() -> Edge {
        let dir = tempfile::tempdir().unwrap();
        let cert = make_cert(&dir.path().join("tls"), DOMAIN);
        for sub in ["acme", "cache", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Edge {
            dir,
            cert,
            http: free_port(),
            https: free_port(),
        }
    }

    fn path(&self, sub: &str) -> String {
        self.dir.path().join(sub).display().to_string()
    }

    /// Only the paths and ports a test machine needs differ from a droplet's render.
    fn options(&self, odoo_http: u16, odoo_gevent: u16) -> StackOptions {
        let mut o = StackOptions::new(
            Domain::parse(DOMAIN).unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        o.http_port = odoo_http;
        o.gevent_port = odoo_gevent;
        o.hash_rounds = 1000;
        o.edge.listen_http = vec![format!("127.0.0.1:{}", self.http)];
        o.edge.listen_https = vec![format!("127.0.0.1:{}", self.https)];
        o.edge.certificate = self.cert.fullchain.display().to_string();
        o.edge.certificate_key = self.cert.key.display().to_string();
        o.edge.acme_root = self.path("acme");
        o.edge.cache_dir = self.path("cache");
        o.edge.log_dir = self.path("logs");
        o
    }
}

fn rendered(o: &StackOptions) -> stack::RenderedStack {
    stack::render(o, &Existing::default()).unwrap()
}

fn site_text(o: &StackOptions) -> String {
    rendered(o)
        .file(stack::NGINX_SITE_FILE)
        .unwrap()
        .contents
        .clone()
}

/// One request through curl over real TLS, trusting only the test CA.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

fn curl(edge: &Edge, url: &str, extra: &[&str]) -> Answer {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--http1.1", "--max-time", "3", "--cacert"])
        .arg(&edge.cert.ca_cert)
        .args(["--resolve", &format!("{DOMAIN}:{}:127.0.0.1", edge.https)])
        .args(["--resolve", &format!("{DOMAIN}:{}:127.0.0.1", edge.http)])
        .args(extra)
        .arg(url)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no answer from {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

#[test]
fn rendered_site_passes_nginx_t_and_a_missing_certificate_does_not() {
    let edge = Edge::new();
    let o = edge.options(8069, 8072);
    let t = nginx::test_config(&site_text(&o));
    assert!(
        t.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    // Beside another site that defines the common `$connection_upgrade` map: no clash.
    let other = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n";
    let t = nginx::test_config(&format!("{other}{}", site_text(&o)));
    assert!(
        t.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let mut broken = o.clone();
    broken.edge.certificate = edge.path("tls/missing.pem");
    let t = nginx::test_config(&site_text(&broken));
    assert!(!t.status.success());
    assert!(String::from_utf8_lossy(&t.stderr).contains("missing.pem"));
}

#[test]
fn nginx_serving_the_rendered_site_in_front_of_the_standin_answers_the_contract() {
    let pg = Postgres::start();
    let edge = Edge::new();
    let (odoo_http, odoo_gevent) = (free_port(), free_port());
    let o = edge.options(odoo_http, odoo_gevent);
    let files = rendered(&o);
    let stack_dir = edge.dir.path().join("stack");
    std::fs::create_dir_all(&stack_dir).unwrap();
    let conf = stack_dir.join("odoo.conf");
    std::fs::write(&conf, &files.file(stack::ODOO_CONF_FILE).unwrap().contents).unwrap();
    // The stand-in reads the rendered odoo.conf (workers, gevent port, proxy_mode, ...);
    // only where it listens and where PostgreSQL is come from flags.
    let mut odoo = Standin::start(StandinOptions {
        conf_file: Some(conf),
        http_port: Some(odoo_http),
        gevent_port: Some(odoo_gevent),
        db_port: Some(pg.port),
        ..Default::default()
    });
    assert!(
        odoo.log()
            .contains(&format!("Worker WorkerHTTP ({}) alive", odoo.pid()))
    );
    let nginx = Nginx::start(
        &files.file(stack::NGINX_SITE_FILE).unwrap().contents,
        &[edge.http, edge.https],
    );
    let base = format!("https://{DOMAIN}:{}", edge.https);

    let health = curl(&edge, &format!("{base}/web/health?db_server_status=1"), &[]);
    assert_eq!(health.status, 200);
    assert_eq!(
        health.body,
        r#"{"status": "pass", "db_server_status": true}"#
    );
    assert_eq!(health.header("Cache-Control"), ["no-store"]);
    assert_eq!(
        health.header("Strict-Transport-Security"),
        ["max-age=31536000; includeSubDomains"]
    );

    let login = curl(&edge, &format!("{base}/web/login"), &[]);
    assert_eq!(login.status, 200);
    assert!(login.body.contains("<title>Odoo</title>") && login.body.contains(r#"name="login""#));
    assert_eq!(
        login.header("X-Frame-Options"),
        ["SAMEORIGIN"],
        "once, not Odoo's and ours"
    );
    assert_eq!(login.header("X-Content-Type-Options"), ["nosniff"]);
    // Odoo's own policy, unchanged: the site adds its own only where Odoo sent none.
    assert_eq!(
        login.header("Content-Security-Policy"),
        ["frame-ancestors 'self'"]
    );

    let ws = curl(
        &edge,
        &format!("{base}/websocket?version=18.0-3"),
        &[
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "-H",
            "Origin: https://erp.example.com",
        ],
    );
    assert_eq!(ws.status, 101, "{}", ws.head);
    assert_eq!(
        ws.header("Sec-WebSocket-Accept"),
        ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    );
    assert!(
        !odoo.log().contains("Couldn't bind the websocket"),
        "routed to the gevent port"
    );
    assert_eq!(curl(&edge, &format!("{base}/websocket"), &[]).status, 400);
    assert_eq!(
        curl(&edge, &format!("{base}/longpolling/poll"), &[]).status,
        404
    );

    // proxy_mode + X-Forwarded-Proto: Odoo's redirects stay on https.
    let web = curl(&edge, &format!("{base}/web"), &[]);
    assert_eq!(web.status, 303);
    assert_eq!(
        web.header("Location"),
        [format!("https://{DOMAIN}/web/login")]
    );

    // Plain HTTP: redirected to HTTPS, except the ACME challenge.
    let plain = curl(
        &edge,
        &format!("http://{DOMAIN}:{}/web/login?x=1", edge.http),
        &[],
    );
    assert_eq!(plain.status, 301);
    assert_eq!(
        plain.header("Location"),
        [format!("https://{DOMAIN}/web/login?x=1")]
    );
    let token_dir = edge.dir.path().join("acme/.well-known/acme-challenge");
    std::fs::create_dir_all(&token_dir).unwrap();
    std::fs::write(token_dir.join("tok3n"), "tok3n.key-authorisation").unwrap();
    let acme = curl(
        &edge,
        &format!(
            "http://{DOMAIN}:{}/.well-known/acme-challenge/tok3n",
            edge.http
        ),
        &[],
    );
    assert_eq!(
        (acme.status, acme.body.as_str()),
        (200, "tok3n.key-authorisation")
    );

    // Static files: cached by nginx, gzipped when asked.
    let js = format!("{base}/web/static/src/app.js");
    let first = curl(&edge, &js, &[]);
    let second = curl(
        &edge,
        &js,
        &["-H", "Accept-Encoding: gzip", "-o", "/dev/null", "-D", "-"],
    );
    assert_eq!(first.header("X-Cache-Status"), ["MISS"]);
    // Odoo's one-week lifetime reaches the browser, from nginx's cache too.
    for answer in [&first, &second] {
        assert_eq!(
            answer.header("Cache-Control"),
            ["public, max-age=604800"],
            "{}",
            answer.head
        );
        assert!(answer.header("Expires").is_empty(), "{}", answer.head);
    }
    assert_eq!(second.header("X-Cache-Status"), ["HIT"]);
    assert_eq!(second.header("Content-Encoding"), ["gzip"]);
    assert_eq!(
        second.header("Strict-Transport-Security").len(),
        1,
        "security headers on static too"
    );

    // The login rate limit: 100 r/min with a burst of 20.
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            curl(
                &edge,
                &format!("{base}/web/login"),
                &["-o", "/dev/null", "-D", "-"],
            )
            .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 19,
        "{statuses:?}"
    );
    assert!(
        nginx.error_log().contains("limiting requests")
            || std::fs::read_to_string(edge.dir.path().join("logs/odoo.error.log"))
                .unwrap_or_default()
                .contains("limiting requests")
    );

    // Odoo gone: nginx answers 502, and says why in the site's error log.
    odoo.terminate(Duration::from_secs(2)).unwrap();
    let gone = curl(&edge, &format!("{base}/web/health"), &[]);
    assert_eq!(gone.status, 502);
    // nginx's own page has no policy from Odoo: it gets the site's.
    assert_eq!(
        gone.header("Content-Security-Policy"),
        ["frame-ancestors 'self'; base-uri 'self'; object-src 'none'; upgrade-insecure-requests"]
    );
    let site_errors = std::fs::read_to_string(edge.dir.path().join("logs/odoo.error.log")).unwrap();
    assert!(
        site_errors
            .contains("connect() failed (111: Connection refused) while connecting to upstream"),
        "{site_errors}"
    );
}

#[test]
fn site_update_runs_nginx_t_before_reload_and_restores_a_rejected_site() {
    let edge = Edge::new();
    let site_path: PathBuf = edge.dir.path().join("sites/odoo.conf");
    let o = edge.options(free_port(), free_port());
    std::fs::create_dir_all(site_path.parent().unwrap()).unwrap();
    std::fs::write(&site_path, site_text(&o)).unwrap();
    let nginx = Nginx::start(
        &format!("include {};", site_path.display()),
        &[edge.http, edge.https],
    );
    // The running master's invocation: every nginx -t and reload uses it.
    let control = NginxInvocation {
        binary: "nginx".into(),
        conf: Some(nginx.conf_path()),
        prefix: Some(nginx.path().to_path_buf()),
        ..Default::default()
    };
    let state = tempfile::tempdir().unwrap();
    let dirs = StateDirs::under(state.path());
    let target = Target::local();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let file = |o: &StackOptions| rendered(o).file(stack::NGINX_SITE_FILE).unwrap().clone();

    // Unchanged: nothing written, nothing reloaded.
    assert_eq!(
        rt.block_on(install_site(
            &target,
            &dirs,
            &site_path,
            &file(&o),
            &control,
            "t0"
        ))
        .unwrap(),
        SiteOutcome::Unchanged
    );

    // A real change: written, backed up, checked, reloaded.
    let mut moved = o.clone();
    moved.http_port = free_port();
    let outcome = rt
        .block_on(install_site(
            &target,
            &dirs,
            &site_path,
            &file(&moved),
            &control,
            "t1",
        ))
        .unwrap();
    let SiteOutcome::Reloaded {
        backup: Some(backup),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(backup.starts_with(state.path()), "{}", backup.display());
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), site_text(&o));
    assert!(
        std::fs::read_to_string(&site_path)
            .unwrap()
            .contains(&format!("server 127.0.0.1:{};", moved.http_port))
    );
    let reloaded = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        nginx.error_log().contains("reconfiguring")
    });
    assert!(reloaded, "{}", nginx.error_log());

    // A site nginx rejects: the error carries nginx's words, the last good site is back.
    let mut bad = moved.clone();
    bad.edge.certificate_key = edge.path("tls/absent-key.pem");
    let err = rt
        .block_on(install_site(
            &target,
            &dirs,
            &site_path,
            &file(&bad),
            &control,
            "t2",
        ))
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("nginx -t rejected") && message.contains("absent-key.pem"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(&site_path).unwrap(),
        site_text(&moved)
    );
    assert!(
        support::ports::wait_listening(edge.https, Duration::from_secs(1)),
        "nginx still serves"
    );
}

/// Render into a directory with the CLI, as an operator would.
fn render_dir(redis: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["render", "--domain", DOMAIN, "--out"];
    let out = dir.path().to_str().unwrap().to_string();
    args.push(&out);
    if redis {
        args.push("--redis");
    }
    let state = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(&args)
        .env("ODOO_OPS_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir
}

/// Debian 12's Compose v1 and, as real droplets have it, v2 (`docker compose`, the plugin
/// scripts/test-deps.sh unpacks): both must accept the file.
fn compose_commands() -> Vec<(&'static str, Command)> {
    let v1 = Command::new("docker-compose");
    let mut v2 = Command::new("docker");
    v2.arg("compose")
        .env("DOCKER_CONFIG", support::docker::compose_v2_config());
    vec![("docker-compose (v1)", v1), ("docker compose (v2)", v2)]
}

#[test]
fn compose_file_is_accepted_by_docker_compose_config() {
    for redis in [false, true] {
        let dir = render_dir(redis);
        for (tool, mut compose) in compose_commands() {
            let o = compose
                .args(["--project-directory", dir.path().to_str().unwrap(), "-f"])
                .arg(dir.path().join("docker-compose.yml"))
                .arg("config")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "{tool} config: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(text.contains("image: odoo:18.0"), "{text}");
            assert!(text.contains("127.0.0.1"), "{text}");
            assert!(text.contains("condition: service_healthy"));
            assert_eq!(text.contains("redis:7-alpine"), redis);
        }
        // Without the secret compose refuses to start, with the message the file gives.
        let env = dir.path().join(".env");
        let kept: String = std::fs::read_to_string(&env)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("POSTGRES_PASSWORD="))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&env, kept).unwrap();
        for (tool, mut compose) in compose_commands() {
            let o = compose
                .args(["--project-directory", dir.path().to_str().unwrap(), "-f"])
                .arg(dir.path().join("docker-compose.yml"))
                .arg("config")
                .output()
                .unwrap();
            assert!(
                !o.status.success(),
                "{tool} accepted a file without the secret"
            );
            assert!(
                String::from_utf8_lossy(&o.stderr)
                    .contains("POSTGRES_PASSWORD must be set in .env"),
                "{tool}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}
