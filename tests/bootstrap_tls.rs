//! The bootstrap's TLS step for real: certbot's webroot plugin against Debian's `pebble`
//! (two of them: a staging CA and a "real" one, each with its own random intermediate) on
//! loopback, through a real nginx, which then serves the issued certificate. Names resolve
//! through `pebble-challtestsrv` as DNS; certbot's directories and the renewal mechanisms
//! live in the test's temp dirs, so nothing of this machine's /etc is touched. Locally and over
//! SSH (a real sshd on loopback): the step only talks to the host through its Target.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use odoo_ops::bootstrap::tls::{
    self, AcmeDirectories, CertbotDirs, Renewal, RenewalLayout, Resolver, SiteSwitch, TlsError,
    TlsRequest,
};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::stack::update::SiteOutcome;
use odoo_ops::stack::{Domain, DropletSize, StackOptions, nginx_site};
use odoo_ops::target::Target;
use odoo_ops::workflow::StateDirs;
use support::nginx::Nginx;
use support::pebble::{FakeDns, Pebble, counting_listener, served_certificate};
use support::ports::free_port;

const NAME: &str = "erp.odoo-ops.test";

/// The site as step 5 leaves it: plain HTTP, the challenge path served from the webroot.
fn http_only_site(http: u16, webroot: &Path) -> String {
    format!(
        "server {{
    listen 127.0.0.1:{http};
    server_name {NAME};
    location ^~ /.well-known/acme-challenge/ {{
        root {webroot};
        default_type text/plain;
    }}
    location / {{ return 404; }}
}}
",
        webroot = webroot.display()
    )
}

/// A droplet's pieces under one temp dir: nginx with the site included, the webroot,
/// certbot's directories, the renewal layout (Debian's certbot package: its timer unit and
/// its cron file, systemd running), odoo-ops' state.
struct Droplet {
    dir: tempfile::TempDir,
    http: u16,
    https: u16,
    site: PathBuf,
    nginx: Nginx,
}

impl Droplet {
    fn new(site_text: impl Fn(u16, &Path) -> String) -> Droplet {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (http, https) = (free_port(), free_port());
        std::fs::create_dir_all(d.join("www")).unwrap();
        let site = d.join("sites/odoo.conf");
        std::fs::create_dir_all(site.parent().unwrap()).unwrap();
        std::fs::write(&site, site_text(http, &d.join("www"))).unwrap();
        let root = d.join("root");
        std::fs::create_dir_all(root.join("lib/systemd/system")).unwrap();
        std::fs::create_dir_all(root.join("etc/cron.d")).unwrap();
        std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
        std::fs::copy(
            "/lib/systemd/system/certbot.timer",
            root.join("lib/systemd/system/certbot.timer"),
        )
        .expect("certbot's timer unit (scripts/test-deps.sh installs certbot)");
        std::fs::copy("/etc/cron.d/certbot", root.join("etc/cron.d/certbot"))
            .expect("certbot's cron file");
        let nginx = Nginx::start(&format!("include {};", site.display()), &[http]);
        Droplet {
            dir,
            http,
            https,
            site,
            nginx,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn invocation(&self) -> NginxInvocation {
        NginxInvocation {
            binary: "nginx".into(),
            conf: Some(self.nginx.conf_path()),
            prefix: Some(self.nginx.path().to_path_buf()),
            ..Default::default()
        }
    }

    fn certbot_dirs(&self) -> CertbotDirs {
        CertbotDirs {
            config: self.path("letsencrypt"),
            work: self.path("letsencrypt-work"),
            logs: self.path("letsencrypt-logs"),
        }
    }

    /// The stack's own TLS site, with this droplet's ports and paths.
    fn tls_site(&self) -> String {
        let domain = Domain::parse(NAME).unwrap();
        let mut o = StackOptions::new(
            domain.clone(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        o.http_port = free_port();
        o.gevent_port = free_port();
        let dirs = self.certbot_dirs();
        o.edge.listen_http = vec![format!("127.0.0.1:{}", self.http)];
        o.edge.listen_https = vec![format!("127.0.0.1:{}", self.https)];
        o.edge.certificate = dirs.fullchain(&domain).display().to_string();
        o.edge.certificate_key = dirs.private_key(&domain).display().to_string();
        o.edge.acme_root = self.path("www").display().to_string();
        o.edge.cache_dir = self.path("cache").display().to_string();
        o.edge.log_dir = self.path("logs").display().to_string();
        std::fs::create_dir_all(self.path("logs")).unwrap();
        nginx_site::render(&o)
    }

    fn request(&self, dns: &FakeDns, staging: &str, production: &str, ca: &Path) -> TlsRequest {
        let mut req = TlsRequest::new(
            Domain::parse(NAME).unwrap(),
            "ops@example.com",
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            self.path("www"),
            self.invocation(),
        );
        req.resolver = Resolver::Server(dns.addr);
        req.http_port = self.http;
        req.directories = AcmeDirectories {
            staging: staging.into(),
            production: production.into(),
        };
        req.certbot = self.certbot_dirs();
        req.ca_bundle = Some(ca.to_path_buf());
        req.renewal = RenewalLayout {
            root: self.path("root"),
        };
        req.site = Some(SiteSwitch {
            path: self.site.clone(),
            text: self.tls_site(),
            state: StateDirs::under(&self.path("state")),
        });
        req
    }

    /// Which renewal mechanisms are live in the layout: the enabled timer, cron files cron
    /// would run (a name with a dot is skipped by cron).
    fn renewal_mechanisms(&self) -> Vec<String> {
        let root = self.path("root");
        let mut live = Vec::new();
        if root
            .join("etc/systemd/system/timers.target.wants/certbot.timer")
            .exists()
        {
            live.push("timer".to_string());
        }
        for e in std::fs::read_dir(root.join("etc/cron.d")).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if !name.contains('.') {
                live.push(format!("cron.d/{name}"));
            }
        }
        live
    }
}

/// A staging pebble and a "real" one validating on the droplet's HTTP port, and one CA
/// bundle that makes both of their HTTPS trusted.
fn two_cas(droplet: &Droplet, dns: &FakeDns) -> (Pebble, Pebble, PathBuf) {
    let staging = Pebble::start(droplet.http, dns);
    let real = Pebble::start(droplet.http, dns);
    let bundle = droplet.path("ca-bundle.pem");
    std::fs::write(
        &bundle,
        [&staging.ca_bundle, &real.ca_bundle]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<String>(),
    )
    .unwrap();
    (staging, real, bundle)
}

fn run(target: &Target, req: &TlsRequest) -> (Result<tls::TlsOutcome, TlsError>, Vec<String>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut heard = Vec::new();
    let result = rt.block_on(tls::issue(target, req, |line| heard.push(line.to_string())));
    (result, heard)
}

#[test]
fn issues_through_nginx_staging_first_then_serves_the_real_certificate_and_a_rerun_changes_nothing()
{
    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    let (staging, real, bundle) = two_cas(&droplet, &dns);
    let req = droplet.request(&dns, &staging.directory, &real.directory, &bundle);
    let target = Target::local();

    let (result, heard) = run(&target, &req);
    let outcome = result.unwrap_or_else(|e| {
        panic!(
            "{e}\nstaging:\n{}\nreal:\n{}\nnginx:\n{}",
            staging.log(),
            real.log(),
            droplet.nginx.error_log()
        )
    });
    assert!(outcome.issued);
    assert_eq!(heard, outcome.steps, "progress and the record say the same");
    let order: Vec<usize> = [
        "resolves to 127.0.0.1",
        "served the probe file",
        "staging issued",
        "issued /",
    ]
    .iter()
    .map(|s| {
        heard
            .iter()
            .position(|l| l.contains(s))
            .unwrap_or_else(|| panic!("{s:?} in {heard:#?}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{heard:#?}");
    // Staging really validated (an authorization on the staging CA), and the certificate
    // on disk is the real CA's.
    assert!(
        staging.log().contains("set VALID by completed challenge"),
        "{}",
        staging.log()
    );
    assert!(
        real.log().contains("Issued certificate serial"),
        "{}",
        real.log()
    );

    // nginx serves the issued certificate: the name, signed by the real pebble's intermediate.
    let served = served_certificate(droplet.https, NAME);
    assert!(served.contains(&format!("DNS:{NAME}")), "{served}");
    assert!(
        served.contains(&format!("issuer=CN = {}", real.intermediate_cn())),
        "issued by the real CA ({}), not staging ({}): {served}",
        real.intermediate_cn(),
        staging.intermediate_cn()
    );
    assert!(matches!(outcome.site, Some(SiteOutcome::Reloaded { .. })));
    // The challenge path still answers on HTTP (renewals need it), the rest redirects.
    let site = std::fs::read_to_string(&droplet.site).unwrap();
    assert!(
        site.contains("ssl_certificate ")
            && site.contains(&droplet.path("letsencrypt/live").display().to_string())
    );

    // Exactly one renewal mechanism: the timer (systemd runs), Debian's cron file moved away.
    assert_eq!(outcome.renewal, Renewal::Timer);
    assert_eq!(droplet.renewal_mechanisms(), ["timer"]);
    assert!(
        droplet
            .path("root/etc/cron.d/certbot.disabled-by-odoo-ops")
            .exists()
    );

    // The deploy hook reloads the running nginx: run it as certbot would after a renewal.
    let before = droplet.nginx.reconfigured();
    let hook = Command::new(&outcome.deploy_hook).output().unwrap();
    assert!(hook.status.success(), "{hook:?}");
    assert!(
        droplet.nginx.wait_reconfigured(before),
        "{}",
        droplet.nginx.error_log()
    );

    // Again: nothing issued, no CA contacted, nothing changed.
    let cert_before = std::fs::read(&outcome.fullchain).unwrap();
    let staging_log = staging.log().len();
    let real_log = real.log().len();
    let (again, heard) = run(&target, &req);
    let again = again.unwrap();
    assert!(!again.issued, "{heard:#?}");
    assert!(heard[0].contains("already in place"), "{heard:#?}");
    assert_eq!(std::fs::read(&again.fullchain).unwrap(), cert_before);
    assert_eq!(staging.log().len(), staging_log, "staging not contacted");
    assert_eq!(real.log().len(), real_log, "the real CA not contacted");
    assert_eq!(again.site, Some(SiteOutcome::Unchanged));
    assert_eq!(again.renewal, Renewal::Timer);
    assert_eq!(droplet.renewal_mechanisms(), ["timer"]);
    assert!(
        heard
            .iter()
            .any(|l| l.contains("already in place") && l.contains("deploy hook")),
        "{heard:#?}"
    );
}

#[test]
fn a_failed_staging_run_never_contacts_the_real_directory() {
    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    // Staging validates on a port where nothing answers: the probe through nginx passes,
    // the CA's validation fails.
    let staging = Pebble::start(free_port(), &dns);
    let (real_port, contacts) = counting_listener();
    let real_dir = format!("https://localhost:{real_port}/dir");
    let req = droplet.request(&dns, &staging.directory, &real_dir, &staging.ca_bundle);

    let (result, heard) = run(&Target::local(), &req);
    let err = result.unwrap_err();
    assert!(matches!(err, TlsError::StagingFailed { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("the real CA was not asked"), "{message}");
    // The CA's own reason, as certbot relayed it.
    assert!(message.contains("connection refused"), "{message}");
    assert!(
        message.contains(NAME),
        "certbot's detail names the name: {message}"
    );
    assert_eq!(
        contacts.load(Ordering::SeqCst),
        0,
        "the real directory was contacted"
    );
    assert!(!heard.iter().any(|l| l.contains(&real_dir)), "{heard:#?}");
    assert!(
        !req.certbot.fullchain(&req.name).exists(),
        "no certificate saved"
    );
    assert_eq!(
        std::fs::read_to_string(&droplet.site).unwrap(),
        http_only_site(droplet.http, &droplet.path("www")),
        "the site is untouched"
    );
}

#[test]
fn a_challenge_path_nginx_does_not_serve_stops_before_any_ca() {
    let dns = FakeDns::start();
    // A site without the challenge location: everything is 404.
    let droplet = Droplet::new(|http, _| {
        format!(
            "server {{ listen 127.0.0.1:{http}; server_name {NAME}; location / {{ return 404; }} }}\n"
        )
    });
    let (staging_port, staging_contacts) = counting_listener();
    let (real_port, real_contacts) = counting_listener();
    let req = droplet.request(
        &dns,
        &format!("https://localhost:{staging_port}/dir"),
        &format!("https://localhost:{real_port}/dir"),
        Path::new("/dev/null"),
    );
    let (result, _) = run(&Target::local(), &req);
    let err = result.unwrap_err();
    let TlsError::ChallengeUnreachable { url, detail } = &err else {
        panic!("{err}");
    };
    assert!(
        url.starts_with(&format!(
            "http://{NAME}:{}/.well-known/acme-challenge/",
            droplet.http
        )),
        "{url}"
    );
    assert!(detail.contains("404"), "{detail}");
    assert_eq!(staging_contacts.load(Ordering::SeqCst), 0);
    assert_eq!(real_contacts.load(Ordering::SeqCst), 0);
    // The probe file is gone again.
    let left: Vec<_> = std::fs::read_dir(droplet.path("www/.well-known/acme-challenge"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_name_that_resolves_elsewhere_is_refused_with_what_it_resolves_to() {
    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    let mut req = droplet.request(
        &dns,
        "https://localhost:1/dir",
        "https://localhost:2/dir",
        Path::new("/dev/null"),
    );
    req.addresses = vec!["192.0.2.7".parse().unwrap()];
    let (result, _) = run(&Target::local(), &req);
    let err = result.unwrap_err();
    assert!(matches!(err, TlsError::NotResolved { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("resolves to 127.0.0.1, not to the droplet (192.0.2.7)"),
        "{message}"
    );
}

#[test]
fn without_systemd_one_cron_job_renews_and_a_rejected_tls_site_leaves_the_working_one() {
    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    let root = droplet.path("root");
    std::fs::remove_dir_all(root.join("run/systemd")).unwrap();
    let wants = root.join("etc/systemd/system/timers.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/certbot.timer",
        wants.join("certbot.timer"),
    )
    .unwrap();
    // A runbook's own line besides the package's file: two cron jobs, plus the timer link.
    std::fs::write(
        root.join("etc/cron.d/renew-certs"),
        "0 4 * * * root certbot renew --quiet\n",
    )
    .unwrap();
    let (staging, real, bundle) = two_cas(&droplet, &dns);
    let req = droplet.request(&dns, &staging.directory, &real.directory, &bundle);
    let (result, _) = run(&Target::local(), &req);
    let outcome = result.unwrap_or_else(|e| panic!("{e}"));
    let Renewal::Cron { file } = &outcome.renewal else {
        panic!("{:?}", outcome.renewal);
    };
    assert_eq!(
        droplet.renewal_mechanisms().len(),
        1,
        "{:?}",
        droplet.renewal_mechanisms()
    );
    assert!(file.exists(), "{}", file.display());
    // Again: the same one, nothing changed.
    let (again, heard) = run(&Target::local(), &req);
    assert_eq!(again.unwrap().renewal, outcome.renewal);
    assert!(
        !heard
            .iter()
            .any(|l| l.contains("disabled") || l.contains("removed")),
        "{heard:#?}"
    );

    // A TLS site nginx rejects: the error says so in nginx's words, the working site stays.
    let working = std::fs::read_to_string(&droplet.site).unwrap();
    let mut bad = req.clone();
    let switch = bad.site.as_mut().unwrap();
    switch.text = switch.text.replace("privkey.pem", "absent-key.pem");
    let (result, _) = run(&Target::local(), &bad);
    let err = result.unwrap_err();
    assert!(matches!(err, TlsError::Site { .. }), "{err}");
    assert!(err.to_string().contains("absent-key.pem"), "{err}");
    assert_eq!(std::fs::read_to_string(&droplet.site).unwrap(), working);
    assert!(
        served_certificate(droplet.https, NAME).contains(&format!("DNS:{NAME}")),
        "nginx still serves the certificate"
    );
}

#[test]
fn over_ssh_the_same_step_issues_and_switches_the_site() {
    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    let (staging, real, bundle) = two_cas(&droplet, &dns);
    let req = droplet.request(&dns, &staging.directory, &real.directory, &bundle);
    let sshd = support::sshd::Sshd::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = rt.block_on(sshd.target());
    assert!(!target.is_local());
    let outcome = rt
        .block_on(tls::issue(&target, &req, |_| {}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.issued);
    assert!(matches!(outcome.site, Some(SiteOutcome::Reloaded { .. })));
    let served = served_certificate(droplet.https, NAME);
    assert!(served.contains(&format!("DNS:{NAME}")), "{served}");
    assert!(
        served.contains(&format!("issuer=CN = {}", real.intermediate_cn())),
        "{served}"
    );
    assert_eq!(droplet.renewal_mechanisms(), ["timer"]);
}

/// Another ACME CA named on the command line is the one certbot asks: `odoo-ops bootstrap
/// --acme-staging-directory --acme-directory --acme-ca-bundle --resolver` read by the CLI's
/// own parser and made into the engine's setup by the CLI's own function, then step 6 as
/// the engine runs it from that setup (the droplet's nginx, certbot directories and renewal
/// layout are this test's, as in bootstrap_run).
#[test]
fn the_ca_named_on_the_command_line_is_the_one_certbot_asks() {
    use clap::Parser;
    use odoo_ops::bootstrap::answers::Answers;
    use odoo_ops::bootstrap::remote::Host;
    use odoo_ops::cli::{Cli, Command as Sub};

    let dns = FakeDns::start();
    let droplet = Droplet::new(http_only_site);
    let (staging, real, bundle) = two_cas(&droplet, &dns);
    let answers = droplet.path("answers.toml");
    std::fs::write(
        &answers,
        format!(
            "name = \"erp\"\nssh_key = \"laptop\"\ndomain = \"{NAME}\"\nimage = \"odoo\"\n\
             tag = \"18.0\"\nadmin_email = \"ops@example.com\"\n"
        ),
    )
    .unwrap();
    let cli = Cli::try_parse_from([
        "odoo-ops",
        "bootstrap",
        "--answers",
        &answers.display().to_string(),
        "--acme-staging-directory",
        &staging.directory,
        "--acme-directory",
        &real.directory,
        "--acme-ca-bundle",
        &bundle.display().to_string(),
        "--resolver",
        &dns.addr.to_string(),
    ])
    .unwrap();
    let Some(Sub::Bootstrap(args)) = &cli.command else {
        panic!("{cli:?}")
    };
    let mut setup = odoo_ops::cli::bootstrap::setup(
        args,
        &cli.remote,
        Answers::load(&answers).unwrap(),
        droplet.path("answers.state.json"),
    )
    .unwrap();
    let e = &mut setup.edge;
    e.site = droplet.site.clone();
    e.nginx = droplet.invocation();
    e.options.listen_http = vec![format!("127.0.0.1:{}", droplet.http)];
    e.options.listen_https = vec![format!("127.0.0.1:{}", droplet.https)];
    e.options.acme_root = droplet.path("www").display().to_string();
    e.options.cache_dir = droplet.path("cache").display().to_string();
    e.options.log_dir = droplet.path("logs").display().to_string();
    std::fs::create_dir_all(droplet.path("logs")).unwrap();
    e.certbot = droplet.certbot_dirs();
    e.renewal = RenewalLayout {
        root: droplet.path("root"),
    };
    e.state = Some(StateDirs::under(&droplet.path("state")));
    e.http_port = droplet.http;
    setup.stack_dir = droplet.path("opt/odoo");
    let host = Host {
        target: Target::local(),
        ipv4: "127.0.0.1".into(),
    };

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut heard = Vec::new();
    let result = rt.block_on(odoo_ops::bootstrap::certificate::issue(
        &setup,
        &host,
        &mut |e| heard.push(e),
    ));
    let fact = result.unwrap_or_else(|e| {
        panic!(
            "{e}\n{heard:#?}\nstaging:\n{}\nreal:\n{}",
            staging.log(),
            real.log()
        )
    });
    assert!(
        fact.contains(&format!("issued by {}", real.directory)),
        "{fact}"
    );
    // The dry run went to the staging directory named, the certificate came from the
    // other, and certbot renews from it.
    assert!(
        staging.log().contains("set VALID by completed challenge"),
        "{}",
        staging.log()
    );
    assert!(
        real.log().contains("Issued certificate serial"),
        "{}",
        real.log()
    );
    let renewal =
        std::fs::read_to_string(droplet.path(&format!("letsencrypt/renewal/{NAME}.conf"))).unwrap();
    assert!(
        renewal
            .lines()
            .any(|l| l == format!("server = {}", real.directory)),
        "{renewal}"
    );
    let served = served_certificate(droplet.https, NAME);
    assert!(
        served.contains(&format!("issuer=CN = {}", real.intermediate_cn())),
        "{served}"
    );
    // The preflight asked the resolver named.
    assert!(
        format!("{heard:?}").contains("resolves to 127.0.0.1"),
        "{heard:#?}"
    );
}

#[test]
fn a_directory_that_is_not_https_or_a_resolver_that_is_no_address_is_refused_on_the_command_line() {
    use clap::Parser;
    use odoo_ops::cli::{Cli, Command as Sub};
    let parse = |flag: &str, value: &str| {
        Cli::try_parse_from(["odoo-ops", "bootstrap", "--answers", "a.toml", flag, value])
    };
    let e = parse("--acme-directory", "http://ca.example.net/directory")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--acme-directory") && e.contains("https://"),
        "{e}"
    );
    let e = parse("--resolver", "dns.example.net")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--resolver") && e.contains("IP:PORT"), "{e}");
    // A bare address is the DNS port.
    let resolver = |value: &str| {
        let cli = parse("--resolver", value).unwrap();
        match cli.command {
            Some(Sub::Bootstrap(args)) => args.resolver,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        resolver("192.0.2.53"),
        Some(Resolver::Server("192.0.2.53:53".parse().unwrap()))
    );
    assert_eq!(
        resolver("[::1]:5353"),
        Some(Resolver::Server("[::1]:5353".parse().unwrap()))
    );
}
