//! The diagnosis from a laptop: a real sshd in front of a host with a real nginx (TLS from a
//! private CA) before the Odoo stand-in and a real PostgreSQL. The site's name does not
//! resolve in DNS, so the edge checks only pass when they reach nginx's listen address
//! through the SSH connection, with the server_name as SNI and Host.

mod support;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use odoo_ops::checks::model::{Report, Verdict};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use support::nginx::{Nginx, main_conf};
use support::odoo_site::{DOMAIN, site};
use support::postgres::Postgres;
use support::sshd::Sshd;
use support::standin::{Standin, StandinOptions};
use support::{ports, tls};

struct Host {
    nginx: Nginx,
    nginx_started: Instant,
    standin: Standin,
    cert: tls::TestCert,
    tls_port: u16,
    sshd: Sshd,
    _pg: Postgres,
    _certs: tempfile::TempDir,
}

impl Host {
    fn start() -> Host {
        let pg = Postgres::start();
        let standin = Standin::start(StandinOptions {
            db_port: Some(pg.port),
            logfile: true,
            ..Default::default()
        });
        let certs = tempfile::tempdir().unwrap();
        let cert = tls::make_cert(certs.path(), DOMAIN);
        let tls_port = ports::free_port();
        let nginx = Nginx::start(
            &site(standin.http_port, standin.gevent_port, tls_port, &cert),
            &[tls_port],
        );
        // DEBUG1 makes sshd log each direct-tcpip channel: the proof of the route taken.
        let nginx_started = Instant::now();
        let sshd = Sshd::start_with("LogLevel DEBUG1");
        Host {
            nginx,
            nginx_started,
            standin,
            cert,
            tls_port,
            sshd,
            _pg: pg,
            _certs: certs,
        }
    }

    fn options(&self, trust_ca: bool) -> DiagnoseOptions {
        DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            nginx_conf: Some(self.nginx.conf_path()),
            nginx_prefix: Some(self.nginx.path().to_path_buf()),
            odoo: OdooLocation::ConfigFile(self.standin.dir.path().join("odoo.conf")),
            extra_root_certs: if trust_ca {
                vec![std::fs::read(&self.cert.ca_cert).unwrap()]
            } else {
                Vec::new()
            },
            cert_warn_days: 1,
            timeout: Duration::from_secs(5),
            ..Default::default()
        }
    }

    fn diagnose(&self, options: &DiagnoseOptions) -> Report {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let target = self.sshd.target().await;
            assert!(!target.is_local());
            diagnose(&target, options).await.0
        })
    }
}

fn shown(r: &Report, id: &str) -> String {
    let c = r.check(id).unwrap_or_else(|| panic!("no check {id}"));
    format!(
        "{id} {:?}: {} | {}",
        c.outcome.verdict,
        c.outcome.summary,
        c.outcome.evidence.lines.join(" / ")
    )
}

#[track_caller]
fn assert_verdict(r: &Report, id: &str, verdict: Verdict) {
    assert_eq!(
        r.check(id).unwrap().outcome.verdict,
        verdict,
        "{}",
        shown(r, id)
    );
}

fn evidence(r: &Report, id: &str) -> String {
    r.check(id).unwrap().outcome.evidence.lines.join("\n")
}

#[test]
fn edge_checks_reach_nginx_through_the_ssh_connection() {
    // What makes the test mean something: this name is nowhere in DNS.
    assert!(
        (DOMAIN, 443).to_socket_addrs().is_err(),
        "{DOMAIN} resolves here; the test needs a name that does not"
    );
    let host = Host::start();
    let r = host.diagnose(&host.options(true));

    for id in ["edge.health", "edge.login", "edge.websocket", "edge.tls"] {
        assert_verdict(&r, id, Verdict::Pass);
    }
    assert_eq!(
        r.check("edge.health").unwrap().outcome.summary,
        "200 through nginx"
    );
    assert_eq!(
        r.check("edge.websocket").unwrap().outcome.summary,
        "101 Switching Protocols"
    );
    let health = evidence(&r, "edge.health");
    let route = format!(
        "connected to 127.0.0.1:{} on root@127.0.0.1:{}, through the SSH connection",
        host.tls_port, host.sshd.port
    );
    assert!(health.contains(&route), "{health}");
    let request = &r.check("edge.health").unwrap().outcome.evidence.ran;
    assert!(
        request
            .iter()
            .any(|l| l == &format!("GET https://{DOMAIN}:{}/web/health", host.tls_port)),
        "{request:?}"
    );
    // The certificate is the one nginx serves for the server_name (SNI), checked against
    // the private CA on top of the system store.
    let tls = evidence(&r, "edge.tls");
    assert!(tls.contains(&format!("names: {DOMAIN}")), "{tls}");
    assert!(tls.contains("days left"), "{tls}");
    // nginx saw the requests with Host = server_name.
    let access = host.nginx.access_log();
    assert!(access.contains("GET /web/login"), "{access}");
    // And they came through sshd, not from this process directly.
    let forwarded = format!("target 127.0.0.1 port {}", host.tls_port);
    assert!(
        host.sshd.log().contains(&forwarded),
        "sshd logged no direct-tcpip to nginx's listen address"
    );
}

#[test]
fn an_untrusted_certificate_and_a_listener_that_is_gone_fail() {
    let host = Host::start();

    // Without the private CA, the system store alone does not trust nginx's certificate.
    let r = host.diagnose(&host.options(false));
    assert_verdict(&r, "edge.tls", Verdict::Fail);
    assert_eq!(
        r.check("edge.tls").unwrap().outcome.summary,
        "the certificate does not verify"
    );
    let tls = evidence(&r, "edge.tls");
    assert!(
        tls.contains(&format!("TLS handshake with {DOMAIN}")) && tls.contains("certificate"),
        "{tls}"
    );
    assert_verdict(&r, "edge.health", Verdict::Fail);

    // The site now says to listen on another port, but nginx was never reloaded: the edge
    // is tried where the configuration says, and nothing answers there. The write comes
    // after the tolerance that separates a reload from the write that preceded it.
    let since_start = host.nginx_started.elapsed().as_secs_f64();
    // (the engine's tolerance is 1 s)
    let tolerance = 1.2;
    if since_start < tolerance {
        std::thread::sleep(Duration::from_secs_f64(tolerance - since_start));
    }
    let moved = ports::free_port();
    std::fs::write(
        host.nginx.conf_path(),
        main_conf(
            host.nginx.path(),
            &site(
                host.standin.http_port,
                host.standin.gevent_port,
                moved,
                &host.cert,
            ),
        ),
    )
    .unwrap();
    let r = host.diagnose(&host.options(true));
    assert_verdict(&r, "edge.health", Verdict::Fail);
    let health = r.check("edge.health").unwrap();
    assert!(
        health.outcome.summary.starts_with("no answer:")
            && health
                .outcome
                .summary
                .contains(&format!("127.0.0.1:{moved}")),
        "{}",
        shown(&r, "edge.health")
    );
    assert_verdict(&r, "edge.login", Verdict::Fail);
    assert_verdict(&r, "edge.websocket", Verdict::Fail);
    assert_verdict(&r, "nginx.reloaded", Verdict::Fail);
}

#[test]
fn over_ssh_odoo_is_the_process_nginx_reaches_and_the_master_its_socket_owner() {
    // Nothing names Odoo: it is found through the socket nginx's upstream reaches, read
    // from the remote /proc in the one process snapshot.
    let host = Host::start();
    let mut options = host.options(true);
    options.odoo = OdooLocation::Auto;
    let r = host.diagnose(&options);
    assert_verdict(&r, "nginx.running", Verdict::Pass);
    assert!(
        shown(&r, "nginx.running").contains(&format!("master pid {}", host.nginx.pid())),
        "{}",
        shown(&r, "nginx.running")
    );
    assert_verdict(&r, "odoo.running", Verdict::Pass);
    let ev = evidence(&r, "odoo.running");
    assert!(
        ev.contains(&format!("chosen: host process {} ", host.standin.pid()))
            && ev.contains(&format!(
                "nginx's upstream port {} reaches it",
                host.standin.http_port
            )),
        "{ev}"
    );
    assert_verdict(&r, "odoo.conf", Verdict::Pass);
}
