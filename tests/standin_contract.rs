//! The Odoo stand-in honours the contract of `odoo18/README.md`: every row, on both ports,
//! against a real PostgreSQL for the DB-dependent rows; plus its config handling, its log
//! lines and each misbehaviour `STANDIN_MODE` offers.

mod support;

use std::time::{Duration, Instant};

use support::postgres::Postgres;
use support::rawhttp::{self, RawResponse, get, request, websocket_handshake};
use support::standin::{Standin, StandinOptions};

const MISROUTE: &str =
    "RuntimeError: Couldn't bind the websocket. Is the connection opened on the evented port";

fn both_ports(s: &Standin) -> [u16; 2] {
    [s.http_port, s.gevent_port]
}

fn assert_json(r: &RawResponse, status: u16, body: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.text(), body);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
}

#[test]
fn health_rows_with_the_database_up_then_down() {
    let mut pg = Postgres::start();
    let s = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        ..Default::default()
    });
    for port in both_ports(&s) {
        assert_json(&get(port, "/web/health"), 200, r#"{"status": "pass"}"#);
        assert_json(
            &get(port, "/web/health?db_server_status=1"),
            200,
            r#"{"status": "pass", "db_server_status": true}"#,
        );
        assert_json(
            &get(port, "/websocket/health"),
            200,
            r#"{"status": "pass"}"#,
        );
    }
    pg.stop();
    for port in both_ports(&s) {
        assert_json(
            &get(port, "/web/health?db_server_status=1"),
            500,
            r#"{"status": "fail", "db_server_status": false}"#,
        );
        // Without the parameter health does not look at the database.
        assert_json(&get(port, "/web/health"), 200, r#"{"status": "pass"}"#);
    }
}

#[test]
fn login_page_with_the_database_up_then_303_when_down() {
    let mut pg = Postgres::start();
    let s = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        ..Default::default()
    });
    for port in both_ports(&s) {
        let r = get(port, "/web/login");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.header("Cache-Control"), Some("no-cache"));
        assert_eq!(r.header("X-Frame-Options"), Some("SAMEORIGIN"));
        assert!(r.header("Set-Cookie").unwrap().starts_with("session_id="));
        let html = r.text();
        assert!(html.contains("<title>Odoo</title>"));
        assert!(html.contains(r#"name="login""#));
        assert!(html.len() > 3000, "a login page of a realistic size");
    }
    pg.stop();
    for port in both_ports(&s) {
        let r = get(port, "/web/login");
        assert_eq!(r.status, 303);
        assert!(
            r.header("Location")
                .unwrap()
                .ends_with("/web/database/selector")
        );
    }
}

#[test]
fn framing_of_each_server() {
    let s = Standin::start(StandinOptions::default());
    let w = get(s.http_port, "/web/health");
    assert_eq!((w.version.as_str(), w.reason.as_str()), ("HTTP/1.0", "OK"));
    assert_eq!(w.header("Server"), Some("Werkzeug/2.2.2 Python/3.11.2"));
    assert_eq!(w.header("Connection"), Some("close"));
    assert_eq!(w.header("X-Content-Type-Options"), Some("nosniff"));
    let g = get(s.gevent_port, "/web/health");
    assert_eq!(g.version, "HTTP/1.1");
    assert_eq!(g.header("Server"), None);
    assert!(g.header("Date").unwrap().ends_with(" GMT"));
}

#[test]
fn websocket_rows() {
    let s = Standin::start(StandinOptions::default());
    for port in both_ports(&s) {
        let plain = get(port, "/websocket");
        assert_eq!((plain.status, plain.reason.as_str()), (400, "BAD REQUEST"));
        assert!(plain.text().contains("<title>400 Bad Request</title>"));
    }
    let up = websocket_handshake(s.gevent_port, "erp.example.com");
    assert_eq!(
        (up.status, up.reason.as_str()),
        (101, "SWITCHING PROTOCOLS")
    );
    assert_eq!(up.header("Upgrade"), Some("websocket"));
    // RFC 6455 §1.3's sample key, and what the recorded Odoo 18 answered.
    assert_eq!(
        up.header("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );

    assert!(!s.log().contains(MISROUTE));
    let misrouted = websocket_handshake(s.http_port, "erp.example.com");
    assert_eq!(
        (misrouted.status, misrouted.reason.as_str()),
        (500, "INTERNAL SERVER ERROR")
    );
    assert!(
        misrouted
            .text()
            .contains("<title>500 Internal Server Error</title>")
    );
    let expected = format!("{MISROUTE} ({})?", s.gevent_port);
    assert!(
        s.wait_for_log(&expected, Duration::from_secs(2)),
        "log:\n{}",
        s.log()
    );
    assert!(
        s.log()
            .contains("ERROR ? odoo.http: Exception during request handling.")
    );
}

#[test]
fn websocket_accept_for_another_key_and_a_bad_version() {
    let s = Standin::start(StandinOptions::default());
    let mut headers = vec![
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        // base64 of 16 bytes 0x00..0x0f; accept value computed with Python's hashlib.
        ("Sec-WebSocket-Key", "AAECAwQFBgcICQoLDA0ODw=="),
        ("Origin", "https://erp.example.com"),
    ];
    let r = request(
        s.gevent_port,
        "GET",
        "/websocket?version=18.0-3",
        &headers,
        b"",
    );
    assert_eq!(r.status, 101);
    assert_eq!(
        r.header("Sec-WebSocket-Accept"),
        Some("Bz3qJYTGdOe8gUSpLosEdiLKDrk=")
    );
    headers[2] = ("Sec-WebSocket-Version", "8");
    let r = request(
        s.gevent_port,
        "GET",
        "/websocket?version=18.0-3",
        &headers,
        b"",
    );
    assert_eq!(r.status, 426);
    assert_eq!(r.header("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn longpolling_is_gone_and_version_info_answers() {
    let s = Standin::start(StandinOptions::default());
    let rpc = br#"{"jsonrpc":"2.0","method":"call","params":{}}"#;
    for port in both_ports(&s) {
        for method in ["GET", "POST"] {
            let r = request(
                port,
                method,
                "/longpolling/poll",
                &[("Content-Type", "application/json")],
                rpc,
            );
            assert_eq!(
                (r.status, r.reason.as_str()),
                (404, "NOT FOUND"),
                "{method} on {port}"
            );
            assert!(r.text().contains("<title>404 Not Found</title>"));
        }
        let r = request(
            port,
            "POST",
            "/web/webclient/version_info",
            &[("Content-Type", "application/json")],
            rpc,
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.text(),
            r#"{"jsonrpc": "2.0", "id": null, "result": {"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""], "server_serie": "18.0", "protocol_version": 1}}"#
        );
    }
}

#[test]
fn threaded_mode_serves_everything_on_the_http_port() {
    let s = Standin::start(StandinOptions {
        workers: 0,
        ..Default::default()
    });
    assert!(
        rawhttp::try_request(
            s.gevent_port,
            "GET",
            "/web/health",
            &[],
            b"",
            Duration::from_secs(1)
        )
        .is_err()
    );
    assert!(!s.log().contains("Evented Service"));
    let up = websocket_handshake(s.http_port, "erp.example.com");
    assert_eq!(up.status, 101);
    assert_eq!(up.version, "HTTP/1.1");
    assert_eq!(
        up.header("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

#[test]
fn redirects_follow_proxy_mode() {
    let mut pg = Postgres::start();
    let proxied = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        ..Default::default()
    });
    let forwarded = [
        ("Host", "127.0.0.1:8069"),
        ("X-Forwarded-Host", "erp.example.com"),
        ("X-Forwarded-Proto", "https"),
    ];
    for path in ["/", "/web"] {
        let r = request(proxied.http_port, "GET", path, &forwarded, b"");
        assert_eq!(r.status, 303);
        assert_eq!(
            r.header("Location"),
            Some("https://erp.example.com/web/login")
        );
    }
    // TLS terminated in front, but no X-Forwarded-Proto: Odoo builds an http:// URL.
    let r = request(
        proxied.http_port,
        "GET",
        "/web",
        &[("Host", "erp.example.com")],
        b"",
    );
    assert_eq!(
        r.header("Location"),
        Some("http://erp.example.com/web/login")
    );
    let direct = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        proxy_mode: false,
        ..Default::default()
    });
    let r = request(direct.http_port, "GET", "/web", &forwarded, b"");
    assert_eq!(
        r.header("Location"),
        Some("http://127.0.0.1:8069/web/login")
    );
    pg.stop();
}

#[test]
fn log_lines_in_odoo_format() {
    let mut pg = Postgres::start();
    let s = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        db_name: Some("odootest".into()),
        logfile: true,
        ..Default::default()
    });
    get(s.http_port, "/web/health");
    get(s.gevent_port, "/web/health");
    let log = std::fs::read_to_string(s.logfile_path()).unwrap();
    let pid = s.pid();
    for needle in [
        format!(" {pid} INFO ? odoo: Odoo version 18.0"),
        format!(
            "INFO ? odoo.service.server: HTTP service (werkzeug) running on 127.0.0.1:{}",
            s.http_port
        ),
        format!(
            "INFO ? odoo.service.server: Evented Service (longpolling) running on 127.0.0.1:{}",
            s.gevent_port
        ),
        "INFO odootest odoo.modules.registry: Registry loaded in ".to_string(),
        format!("INFO odootest odoo.service.server: Worker WorkerHTTP ({pid}) alive"),
    ] {
        assert!(log.contains(&needle), "missing {needle:?} in:\n{log}");
    }
    // Access lines are written after the answer is sent: wait for them.
    assert!(s.wait_for_log(
        "\"GET /web/health HTTP/1.1\" 200 - ",
        Duration::from_secs(2)
    ));
    assert!(s.wait_for_log(" longpolling: ", Duration::from_secs(2)));
    let log = std::fs::read_to_string(s.logfile_path()).unwrap();
    let werkzeug = log.lines().find(|l| l.contains(" werkzeug: ")).unwrap();
    let gevent = log.lines().find(|l| l.contains(" longpolling: ")).unwrap();
    // `2026-11-22 02:02:12,745 19968 INFO odootest werkzeug: 127.0.0.1 - - [22/Nov/2026 02:02:12] "GET ..."`
    let stamp = &werkzeug[..23];
    assert_eq!(
        (&stamp[4..5], &stamp[10..11], &stamp[19..20]),
        ("-", " ", ","),
        "{werkzeug}"
    );
    assert!(
        werkzeug.contains("INFO odootest werkzeug: 127.0.0.1 - - ["),
        "{werkzeug}"
    );
    assert!(
        gevent.contains("\"GET /web/health HTTP/1.1\" 200 "),
        "{gevent}"
    );
    assert!(
        std::fs::read_to_string(s.dir.path().join("output.log"))
            .unwrap()
            .is_empty(),
        "nothing on stdout with a logfile"
    );
    pg.stop();
}

#[test]
fn sigterm_exits_zero_within_a_second() {
    let mut s = Standin::start(StandinOptions::default());
    s.send_sigterm();
    // Timed from the signal's delivery, not from spawning `kill`.
    let status = s
        .wait_exit(Duration::from_secs(1))
        .expect("exited within a second of SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(s.log().contains("odoo.service.server: Initiating shutdown"));
}

#[test]
fn refuse_start_dies_with_a_missing_dependency() {
    let mut s = Standin::spawn(StandinOptions {
        mode: Some("refuse-start".into()),
        ..Default::default()
    });
    let status = s.wait_exit(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        s.log()
            .contains("ModuleNotFoundError: No module named 'psycopg2'")
    );
    assert!(
        rawhttp::try_request(
            s.http_port,
            "GET",
            "/web/health",
            &[],
            b"",
            Duration::from_secs(1)
        )
        .is_err()
    );
}

#[test]
fn crash_after_and_exit_137_after() {
    let mut crash = Standin::start(StandinOptions {
        mode: Some("crash-after:1".into()),
        ..Default::default()
    });
    let mut killed = Standin::start(StandinOptions {
        mode: Some("exit-137-after:1".into()),
        ..Default::default()
    });
    assert_eq!(
        get(crash.http_port, "/web/health").status,
        200,
        "serves until the crash"
    );
    assert_eq!(
        crash
            .wait_exit(Duration::from_secs(5))
            .expect("crashes")
            .code(),
        Some(1)
    );
    assert!(
        crash
            .log()
            .contains("CRITICAL ? odoo.service.server: Unhandled exception")
    );
    assert!(crash.log().contains("Traceback (most recent call last):"));
    assert_eq!(
        killed
            .wait_exit(Duration::from_secs(5))
            .expect("exits")
            .code(),
        Some(137)
    );
}

#[test]
fn hang_accepts_but_never_answers() {
    let s = Standin::start(StandinOptions {
        mode: Some("hang".into()),
        ..Default::default()
    });
    for port in both_ports(&s) {
        let e = rawhttp::try_request(
            port,
            "GET",
            "/web/health",
            &[],
            b"",
            Duration::from_millis(700),
        )
        .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        );
    }
}

#[test]
fn slow_delays_only_the_given_prefix() {
    let s = Standin::start(StandinOptions {
        mode: Some("slow:1500:/web/login".into()),
        ..Default::default()
    });
    let t = Instant::now();
    assert_eq!(get(s.http_port, "/web/login").status, 303);
    assert!(t.elapsed() >= Duration::from_millis(1500));
    let t = Instant::now();
    assert_eq!(get(s.http_port, "/web/health").status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "other paths are not delayed"
    );
}

#[test]
fn a_taken_port_stops_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut s = Standin::spawn(StandinOptions {
        http_port: Some(port),
        ..Default::default()
    });
    assert_eq!(
        s.wait_exit(Duration::from_secs(5)).expect("exits").code(),
        Some(1)
    );
    assert!(
        s.log()
            .contains("OSError: [Errno 98] Address already in use"),
        "{}",
        s.log()
    );
}

/// The recording's own nginx in front (`/` → HTTP port, `/websocket` and `/longpolling` →
/// gevent port with the Upgrade headers): the "through nginx" column of the table.
fn recorded_proxy(listen: u16, s: &Standin) -> String {
    format!(
        "map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
server {{
    listen 127.0.0.1:{listen};
    server_name localhost;
    proxy_read_timeout 720s;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    location /websocket {{
        proxy_pass http://127.0.0.1:{gevent};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }}
    location /longpolling {{ proxy_pass http://127.0.0.1:{gevent}; }}
    location / {{ proxy_pass http://127.0.0.1:{http}; }}
}}
",
        gevent = s.gevent_port,
        http = s.http_port
    )
}

#[test]
fn through_nginx_then_502_when_odoo_is_down() {
    let pg = Postgres::start();
    let mut s = Standin::start(StandinOptions {
        db_port: Some(pg.port),
        ..Default::default()
    });
    let port = support::ports::free_port();
    let nginx = support::nginx::Nginx::start(&recorded_proxy(port, &s), &[port]);
    assert_json(
        &get(port, "/web/health?db_server_status=1"),
        200,
        r#"{"status": "pass", "db_server_status": true}"#,
    );
    assert_json(
        &get(port, "/websocket/health"),
        200,
        r#"{"status": "pass"}"#,
    );
    let login = get(port, "/web/login");
    assert_eq!(login.status, 200);
    assert_eq!(
        login.header("Server").map(|s| s.starts_with("nginx")),
        Some(true)
    );
    assert!(login.text().contains("<title>Odoo</title>"));
    assert_eq!(get(port, "/websocket").status, 400);
    let up = websocket_handshake(port, "erp.example.com");
    assert_eq!(up.status, 101);
    assert_eq!(
        up.header("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(get(port, "/longpolling/poll").status, 404);
    // The proxy sent X-Forwarded-Proto: http, so the redirect stays on http.
    let r = request(port, "GET", "/web", &[("Host", "erp.example.com")], b"");
    assert_eq!(
        r.header("Location"),
        Some("http://erp.example.com/web/login")
    );

    s.terminate(Duration::from_secs(2)).unwrap();
    assert_eq!(get(port, "/web/health").status, 502);
    assert!(
        nginx
            .error_log()
            .contains("connect() failed (111: Connection refused) while connecting to upstream")
    );
}

#[test]
fn nginx_reload_and_tls_with_a_test_ca() {
    let s = Standin::start(StandinOptions::default());
    let plain = support::ports::free_port();
    let nginx = support::nginx::Nginx::start(&recorded_proxy(plain, &s), &[plain]);
    let certs = support::tls::make_cert(&nginx.path().join("tls"), "erp.example.com");
    let tls = support::ports::free_port();
    let with_tls = format!(
        "{}server {{
    listen 127.0.0.1:{tls} ssl;
    server_name erp.example.com;
    ssl_certificate {};
    ssl_certificate_key {};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ proxy_pass http://127.0.0.1:{}; proxy_set_header Host $http_host; proxy_set_header X-Forwarded-Proto $scheme; }}
}}
",
        recorded_proxy(plain, &s),
        certs.fullchain.display(),
        certs.key.display(),
        s.http_port
    );
    assert!(support::nginx::test_config(&with_tls).status.success());
    nginx.reload(&with_tls);
    assert!(support::ports::wait_listening(tls, Duration::from_secs(5)));
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "--cacert",
        ])
        .arg(&certs.ca_cert)
        .args(["--resolve", &format!("erp.example.com:{tls}:127.0.0.1")])
        .arg(format!("https://erp.example.com:{tls}/web"))
        .output()
        .expect("run curl");
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // DB down here, so /web goes to the selector, over https thanks to X-Forwarded-Proto.
    assert_eq!(
        answer,
        format!("303 https://erp.example.com:{tls}/web/database/selector")
    );
    // A broken config is refused by nginx -t.
    assert!(
        !support::nginx::test_config("server { listen 127.0.0.1:1; bogus_directive on; }")
            .status
            .success()
    );
}

#[test]
fn stop_after_init_installs_and_exits() {
    let mut pg = Postgres::start();
    let args = ["-i", "base,web", "--stop-after-init"]
        .map(String::from)
        .to_vec();
    let mut ok = Standin::spawn(StandinOptions {
        db_port: Some(pg.port),
        db_name: Some("odoo".into()),
        extra_args: args.clone(),
        ..Default::default()
    });
    assert_eq!(
        ok.wait_exit(Duration::from_secs(5)).expect("exits").code(),
        Some(0)
    );
    let log = ok.log();
    assert!(
        log.contains(
            "INFO odoo odoo.modules.registry: module web: creating or updating database tables"
        ),
        "{log}"
    );
    assert!(!log.contains("HTTP service"), "does not serve");
    pg.stop();
    let mut down = Standin::spawn(StandinOptions {
        db_port: Some(pg.port),
        db_name: Some("odoo".into()),
        extra_args: args,
        ..Default::default()
    });
    assert_eq!(
        down.wait_exit(Duration::from_secs(5))
            .expect("exits")
            .code(),
        Some(1)
    );
    assert!(down.log().contains("Connection to the database failed"));
}
