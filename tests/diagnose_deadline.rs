//! A diagnosis has an overall deadline: a probe still running then is abandoned, the
//! checks that would have judged its empty observation are skipped saying which probes did
//! not finish, and the diagnosis ends on time instead of waiting for every timeout.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use odoo_ops::checks::model::{Group, Status, Verdict};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::target::Target;

#[test]
fn a_probe_that_hangs_is_named_when_the_deadline_comes() {
    // Odoo's ports accept connections and never answer: a wedged Odoo.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let gevent = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("odoo.conf");
    std::fs::write(
        &conf,
        format!(
            "[options]\nhttp_port = {}\ngevent_port = {}\nworkers = 2\n",
            http.local_addr().unwrap().port(),
            gevent.local_addr().unwrap().port()
        ),
    )
    .unwrap();
    let options = DiagnoseOptions {
        odoo: OdooLocation::ConfigFile(conf),
        nginx_conf: Some(dir.path().join("nginx.conf")),
        nginx_prefix: Some(dir.path().to_path_buf()),
        // Each request may take a minute; the whole diagnosis may take two seconds.
        timeout: Duration::from_secs(60),
        deadline: Duration::from_secs(2),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let (report, _) = rt.block_on(diagnose(&Target::local(), &options));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let internal: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.group == Group::InternalHealth)
        .collect();
    assert!(!internal.is_empty());
    for c in internal {
        assert_eq!(c.outcome.verdict, Verdict::Skipped, "{c:?}");
        assert_eq!(
            c.outcome.summary, "did not finish within 2 s: internal health (8069/8072)",
            "{c:?}"
        );
    }
    // What finished is still judged: odoo.conf was read.
    assert_eq!(
        report.check("odoo.conf").unwrap().outcome.verdict,
        Verdict::Pass
    );
    assert_ne!(report.status, Status::Healthy);
    drop((http, gevent));
}
