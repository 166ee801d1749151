//! A stack rendered for each droplet size passes the project's own diagnosis on a host of
//! that size: the site put in Debian's layout (sites-available, a symlink in sites-enabled,
//! the package's nginx.conf and default site, no `/var/cache/nginx`), checked by the
//! diagnosis' own `nginx -t`/`nginx -T` gathering with a real nginx, and every verdict about
//! the stack's files judged on that site and on the rendered odoo.conf with the host's RAM
//! as the size's. And what the site must not do to Odoo's own headers.

mod support;

use odoo_ops::checks::gather::nginx::configuration;
use odoo_ops::checks::list::evaluate;
use odoo_ops::checks::obs::{ContainerObs, Observations, OdooRuntime};
use odoo_ops::checks::{DiagnoseOptions, Verdict};
use odoo_ops::odoo::conf::OdooConf;
use odoo_ops::stack::{self, Domain, DropletSize, Existing, SIZES, StackOptions};
use odoo_ops::target::Target;
use support::debian_host::DebianHost;
use support::tls::{TestCert, make_cert};

const DOMAIN: &str = "erp.example.com";

/// The checks that judge what `render` writes: the nginx site and odoo.conf.
const STACK_CHECKS: &[&str] = &[
    "nginx.config_test",
    "nginx.site",
    "nginx.route_root",
    "nginx.route_websocket",
    "nginx.websocket_headers",
    "nginx.route_longpolling",
    "nginx.timeouts",
    "nginx.forward_headers",
    "nginx.body_size",
    "odoo.conf",
    "odoo.proxy_mode",
    "odoo.workers",
    "odoo.gevent_port",
    "odoo.limit_time_real",
    "odoo.memory_limits",
];

/// A droplet's render with its default paths, moved under the test host's root: nothing
/// else differs from what an operator gets.
fn render_for(host: &DebianHost, size: &DropletSize) -> stack::RenderedStack {
    let mut o = StackOptions::new(Domain::parse(DOMAIN).unwrap(), *size);
    o.hash_rounds = 1000;
    let e = &mut o.edge;
    for p in [
        &mut e.certificate,
        &mut e.certificate_key,
        &mut e.acme_root,
        &mut e.cache_dir,
        &mut e.log_dir,
    ] {
        *p = host.path(p);
    }
    stack::render(&o, &Existing::default()).unwrap()
}

/// One certificate for the domain from a test CA, as certbot would have issued it.
fn certificate() -> (tempfile::TempDir, TestCert) {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_cert(dir.path(), DOMAIN);
    (dir, cert)
}

fn contents<'a>(r: &'a stack::RenderedStack, name: &str) -> &'a str {
    &r.file(name).unwrap().contents
}

#[test]
fn a_stack_rendered_for_each_size_passes_the_diagnosis_on_a_host_of_that_size() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_ca, cert) = certificate();
    for size in SIZES {
        let host = DebianHost::new();
        host.install_certificate(DOMAIN, &cert);
        let rendered = render_for(&host, size);
        host.enable_site("odoo", contents(&rendered, stack::NGINX_SITE_FILE));
        let cache = host.file("/var/cache/nginx-odoo");
        assert!(!cache.exists());

        let mut obs = Observations::default();
        let options = DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            nginx_conf: Some(host.nginx_conf()),
            ..Default::default()
        };
        obs.nginx = rt.block_on(configuration(
            &Target::local(),
            &Default::default(),
            &options,
            None,
        ));
        // As compose runs it: odoo.conf mounted in the container, its ports published on
        // the loopback ports the site proxies to.
        obs.odoo.runtime = OdooRuntime::Container(ContainerObs {
            name: "stack-odoo-1".into(),
            running: true,
            status: "running".into(),
            ..Default::default()
        });
        obs.odoo.conf = Some(OdooConf::parse(contents(&rendered, stack::ODOO_CONF_FILE)));
        obs.odoo.conf_source = Some("container:/etc/odoo/odoo.conf".into());
        obs.odoo.http_port = Some(8069);
        obs.odoo.gevent_port = Some(8072);
        // The host's RAM is the size's, as its kernel reports it (MemTotal).
        obs.host.mem_total_kib = size.mem_total() / 1024;

        let results = evaluate(&obs);
        for id in STACK_CHECKS {
            let c = results.iter().find(|c| c.id == *id).unwrap();
            assert_eq!(
                c.outcome.verdict,
                Verdict::Pass,
                "{}: {id} {:?}: {}\n{:#?}",
                size.slug,
                c.outcome.verdict,
                c.outcome.summary,
                c.outcome.evidence
            );
        }
        // nginx made the cache directory itself: the site needs nothing created beside it.
        assert!(cache.is_dir(), "{}", size.slug);
        let memory = results
            .iter()
            .find(|c| c.id == "odoo.memory_limits")
            .unwrap();
        assert!(
            memory
                .outcome
                .evidence
                .lines
                .iter()
                .any(|l| l.contains("for PostgreSQL and the OS")),
            "{:?}",
            memory.outcome.evidence
        );
    }
}

#[test]
fn the_check_still_warns_about_the_old_4gb_numbers_and_the_old_cache_path_fails_on_debian() {
    // What the check says about the numbers render used to write for s-2vcpu-4gb
    // (5 workers, 1.9 GiB hard limit), on a 4 GB host: the rule is the one render uses.
    let size = DropletSize::by_slug("s-2vcpu-4gb").unwrap();
    let mut obs = Observations::default();
    obs.odoo.conf = Some(OdooConf::parse(
        "[options]\nworkers = 5\nmax_cron_threads = 1\nlimit_memory_soft = 1610612736\nlimit_memory_hard = 2013265920\n",
    ));
    obs.host.mem_total_kib = size.mem_total() / 1024;
    let results = evaluate(&obs);
    let memory = results
        .iter()
        .find(|c| c.id == "odoo.memory_limits")
        .unwrap();
    assert_eq!(memory.outcome.verdict, Verdict::Warn);

    // On Debian's layout, nginx does not create /var/cache/nginx for a cache below it: the
    // reason the default moved. The diagnosis names the line.
    let host = DebianHost::new();
    let (_ca, cert) = certificate();
    host.install_certificate(DOMAIN, &cert);
    let rendered = render_for(&host, size);
    let site = contents(&rendered, stack::NGINX_SITE_FILE).replace(
        &host.path("/var/cache/nginx-odoo"),
        &host.path("/var/cache/nginx/odoo"),
    );
    host.enable_site("odoo", &site);
    let options = DiagnoseOptions {
        domain: Some(DOMAIN.into()),
        nginx_conf: Some(host.nginx_conf()),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let obs = Observations {
        nginx: rt.block_on(configuration(
            &Target::local(),
            &Default::default(),
            &options,
            None,
        )),
        ..Default::default()
    };
    let results = evaluate(&obs);
    let test = results
        .iter()
        .find(|c| c.id == "nginx.config_test")
        .unwrap();
    assert_eq!(test.outcome.verdict, Verdict::Fail);
    assert!(
        test.outcome
            .cause
            .as_deref()
            .unwrap_or("")
            .contains("nginx/odoo"),
        "{:?}",
        test.outcome
    );
}

#[test]
fn the_site_keeps_odoos_content_security_policy_and_cache_lifetime() {
    for size in SIZES {
        let host = DebianHost::new();
        let rendered = render_for(&host, size);
        let site = contents(&rendered, stack::NGINX_SITE_FILE);
        let directives: Vec<&str> = site
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert!(
            !directives
                .iter()
                .any(|l| l.starts_with("proxy_hide_header Content-Security-Policy")),
            "Odoo's own policy (default-src 'none' on /web/content) is not hidden"
        );
        assert!(
            !directives.iter().any(|l| l.starts_with("expires ")),
            "no `expires` replacing Odoo's one-week Cache-Control"
        );
        assert!(
            !directives
                .iter()
                .any(|l| l.starts_with("proxy_ignore_headers")
                    || l.contains("proxy_hide_header Cache-Control")),
            "nginx follows Odoo's Cache-Control"
        );
        // Ours only where Odoo sent none.
        assert!(site.contains("map $upstream_http_content_security_policy $odoo_default_csp"));
        assert!(
            directives
                .iter()
                .filter(|l| l.starts_with("add_header Content-Security-Policy"))
                .all(|l| *l == "add_header Content-Security-Policy $odoo_default_csp always;")
        );
    }
}
