//! A droplet-shaped compose stack: the Odoo stand-in as service `odoo` and the real
//! PostgreSQL image (Debian's postgresql-15, scripts/postgres-image.sh) as service `db` on
//! the project's network, where Odoo's `db_host = db` names the service. The database is
//! judged from inside its own container, as an operator would (`docker exec db pg_isready`).

mod support;

use std::time::Duration;

use odoo_ops::checks::model::{Report, Verdict};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::target::Target;
use support::docker::Project;
use support::nginx::Nginx;
use support::odoo_site::{DOMAIN, site};
use support::{ports, tls};

fn diagnose_project(project: &Project, nginx: &Nginx, ca: &[u8]) -> Report {
    let options = DiagnoseOptions {
        domain: Some(DOMAIN.into()),
        compose_project: Some(project.name.clone()),
        nginx_conf: Some(nginx.conf_path()),
        nginx_prefix: Some(nginx.path().to_path_buf()),
        odoo: OdooLocation::Auto,
        extra_root_certs: vec![ca.to_vec()],
        cert_warn_days: 1,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(diagnose(&Target::local(), &options)).0
}

#[test]
fn the_db_service_is_checked_inside_its_container() {
    let project = Project::new("composedb");
    let db = project.run_db();
    // What Odoo 18 needs of its database user, made by the real server.
    assert_eq!(
        project.psql(&db, "postgres", "select current_user"),
        "odoo\n"
    );

    let (http, gevent) = (ports::free_port(), ports::free_port());
    let network = project.network();
    let published = [
        format!("127.0.0.1:{http}:8069"),
        format!("127.0.0.1:{gevent}:8072"),
    ];
    let image = support::standin::ensure_image(support::standin::RELEASES[0]);
    project.run(
        "odoo",
        &[
            "--network",
            &network,
            "-p",
            &published[0],
            "-p",
            &published[1],
        ],
        &image,
    );
    assert!(ports::wait_listening(http, Duration::from_secs(20)));

    let certs = tempfile::tempdir().unwrap();
    let cert = tls::make_cert(certs.path(), DOMAIN);
    let tls_port = ports::free_port();
    let nginx = Nginx::start(&site(http, gevent, tls_port, &cert), &[tls_port]);
    let ca = std::fs::read(&cert.ca_cert).unwrap();

    let r = diagnose_project(&project, &nginx, &ca);
    let ready = r.check("db.pg_isready").unwrap();
    assert_eq!(ready.outcome.verdict, Verdict::Pass, "{:?}", ready.outcome);
    assert!(
        ready
            .outcome
            .evidence
            .ran
            .iter()
            .any(|c| c.starts_with(&format!("docker exec {db} pg_isready"))),
        "{:?}",
        ready.outcome.evidence
    );
    assert_eq!(
        r.check("db.odoo_health").unwrap().outcome.verdict,
        Verdict::Pass
    );

    // The db service stopped: named as the database being down, from its container's state.
    let stopped = project.docker(&["stop", "-t", "5", &db]);
    assert!(stopped.status.success());
    let r = diagnose_project(&project, &nginx, &ca);
    let ready = r.check("db.pg_isready").unwrap();
    assert_eq!(ready.outcome.verdict, Verdict::Fail, "{:?}", ready.outcome);
    assert!(
        ready
            .outcome
            .evidence
            .lines
            .iter()
            .any(|l| l.contains(&format!("{db} of service `db` is exited"))),
        "{:?}",
        ready.outcome.evidence
    );
    let root = r.root_cause.as_ref().expect("a root cause");
    assert_eq!(root.check, "db.pg_isready", "{}", root.sentence);
}
