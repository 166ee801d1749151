//! The bootstrap's engine against a real "droplet": the stand-in DigitalOcean API creates
//! it (validating every request and answer against the spec) and gives it the loopback
//! address, where a real OpenSSH sshd answers as root.
//!
//! Why the first boot is judged by a script: `cloud-init status --wait` on this machine
//! (cloud-init is installed, see scripts/test-deps.sh) reports "not run" and `--wait`
//! blocks forever, since no cloud-init boot ever happens in a test container. The ready
//! command is therefore a field of the setup, and the tests point it at a real shell
//! script on the sshd host that prints cloud-init's JSON and exits with the code the test
//! chose: what is tested is the exit-code handling (0 done, 2 degraded, 1 failed).
//!
//! The stack and module steps need the droplet's own Compose project (postgres:16-alpine
//! and the operator's Odoo image, pulled by the droplet); most tests skip them (`skip`).
//! The ones that run them use the real Docker engine, the Odoo stand-in image and the real
//! PostgreSQL image. Each "droplet" has its own real nginx (a master in the test's temp dir
//! including the site file the bootstrap writes), and the TLS step runs certbot against
//! Debian's pebble on loopback (a staging CA and a "real" one), names resolving through
//! `pebble-challtestsrv`; certbot's directories and the renewal mechanisms live in the
//! temp dir, so nothing of this machine's /etc is touched.
//!
//! A domain whose zone is not on the account makes step 4 wait for the operator's record:
//! those tests point the resolver setting at `pebble-challtestsrv` with no default address
//! and set the record (or a wrong one) through its management API, before or during the
//! wait. Step 8's refusals copy this build's binary with its processor or its newest glibc
//! requirement changed (a file the droplet really cannot run: checked by running it here),
//! and the droplet's own `uname -m` and glibc, read over SSH, decide.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use odoo_ops::bootstrap::answers::Answers;
use odoo_ops::bootstrap::remote::Reach;
use odoo_ops::bootstrap::run::{self, Event, Failure, Finished, Setup, Waits};
use odoo_ops::bootstrap::steps::{Progress, Step};
use odoo_ops::bootstrap::tls::{AcmeDirectories, CertbotDirs, RenewalLayout, Resolver};
use odoo_ops::digitalocean::{Client, RetryPolicy, Token};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::workflow::StateDirs;
use support::do_api::{DoApi, TOKEN};
use support::nginx::Nginx;
use support::pebble::{FakeDns, Pebble, counting_listener, served_certificate};
use support::sshd::Sshd;

const ANSWERS: &str = r#"
name = "erp-prod-1"
ssh_key = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"
domain = "erp.example.com"
image = "odoo"
tag = "18.0"
admin_email = "ops@example.com"
"#;

/// The steps these tests cannot run on a loopback "droplet" (see the file's comment).
const SKIPPED: [Step; 3] = [Step::Stack, Step::Tls, Step::ModulesVerify];

struct World {
    api: DoApi,
    sshd: Sshd,
    dir: tempfile::TempDir,
    setup: Setup,
    /// The droplet's nginx: plain HTTP and HTTPS on loopback ports of its own.
    nginx: Nginx,
    http: u16,
    https: u16,
}

impl World {
    /// The domain's zone on the account: step 4 writes the A record there.
    fn new() -> World {
        World::with_zone(true)
    }

    /// The domain not on the account: step 4 tells the operator what to set and waits.
    fn off_the_account() -> World {
        World::with_zone(false)
    }

    fn with_zone(on_the_account: bool) -> World {
        let api = DoApi::start(3);
        api.set_new_droplet_ipv4("127.0.0.1");
        if on_the_account {
            api.add_domain("example.com");
        }
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().unwrap();
        let answers_path = dir.path().join("answers.toml");
        std::fs::write(&answers_path, ANSWERS).unwrap();
        let answers = Answers::load(&answers_path).unwrap();
        let reach = Reach {
            user: "root".into(),
            port: sshd.port,
            identity_files: vec![sshd.client_key.clone()],
            agent_socket: None,
            known_hosts: dir.path().join("ssh/known_hosts"),
        };
        let mut setup = Setup::new(answers, dir.path().join("answers.state.json"), reach);
        let script = dir.path().join("cloud-init-status");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n# stands for `cloud-init status --wait --format json`\n\
                 code=$(cat {code})\n\
                 if [ \"$code\" = 2 ]; then\n\
                 echo '{{\"status\": \"done\", \"errors\": [], \"recoverable_errors\": {{\"WARNING\": [\"apt mirror slow\"]}}}}'\n\
                 elif [ \"$code\" = 1 ]; then\n\
                 echo '{{\"status\": \"error\", \"errors\": [\"package install failed\"]}}'\n\
                 else echo '{{\"status\": \"done\", \"errors\": []}}'; fi\n\
                 exit \"$code\"\n",
                code = dir.path().join("cloud-init-code").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        setup.ready_command = vec![
            script.display().to_string(),
            "status".into(),
            "--wait".into(),
            "--format".into(),
            "json".into(),
        ];
        setup.waits = Waits {
            ssh: Duration::from_secs(60),
            dns: Duration::from_secs(5),
            dns_poll: Duration::from_millis(200),
            stack: Duration::from_secs(60),
            action_poll: Duration::from_millis(100),
            droplet_active: Duration::from_secs(30),
        };
        setup.stack_dir = dir.path().join("opt/odoo");
        setup.install_path = dir.path().join("usr/local/bin/odoo-ops");
        std::fs::create_dir_all(setup.install_path.parent().unwrap()).unwrap();
        setup.console_binary = PathBuf::from(env!("CARGO_BIN_EXE_odoo-ops"));
        setup.proofs = dir.path().join("proofs");
        setup.skip = SKIPPED.into_iter().collect::<BTreeSet<_>>();
        let (nginx, http, https) = droplet_edge(&mut setup, dir.path());
        let world = World {
            api,
            sshd,
            dir,
            setup,
            nginx,
            http,
            https,
        };
        world.cloud_init_exits(0);
        world
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cloud_init_exits(&self, code: i32) {
        std::fs::write(self.dir.path().join("cloud-init-code"), code.to_string()).unwrap();
    }

    fn client(&self) -> Client {
        let retry = RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        };
        Client::new(&Token::new(TOKEN), &self.api.url, retry).unwrap()
    }

    fn run(&self, setup: &Setup) -> (Result<Finished, Failure>, Vec<Event>) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = self.client();
        let mut events = Vec::new();
        let outcome = rt.block_on(run::run(setup, &client, &mut |e| events.push(e)));
        (outcome, events)
    }

    fn progress(&self) -> Progress {
        Progress::load(&self.setup.state_file).unwrap()
    }

    fn created(&self) -> usize {
        self.api.count("POST", "/v2/droplets")
    }
}

/// The droplet's edge under `d`: a running nginx whose `http` includes `sites/*.conf`, the
/// site the bootstrap writes there, the webroot, certbot's directories, the renewal layout
/// (Debian's certbot package: its timer unit and cron file, systemd running) and odoo-ops'
/// state. Returns nginx and its HTTP and HTTPS ports.
fn droplet_edge(setup: &mut Setup, d: &std::path::Path) -> (Nginx, u16, u16) {
    let (http, https, probe) = (
        support::ports::free_port(),
        support::ports::free_port(),
        support::ports::free_port(),
    );
    for sub in [
        "sites",
        "www",
        "logs",
        "root/lib/systemd/system",
        "root/etc/cron.d",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::create_dir_all(d.join("root/run/systemd/system")).unwrap();
    std::fs::copy(
        "/lib/systemd/system/certbot.timer",
        d.join("root/lib/systemd/system/certbot.timer"),
    )
    .expect("certbot's timer unit (scripts/test-deps.sh installs certbot)");
    std::fs::copy("/etc/cron.d/certbot", d.join("root/etc/cron.d/certbot"))
        .expect("certbot's cron file");
    // A server of its own so the start can be waited for; the glob matches nothing yet.
    let nginx = Nginx::start(
        &format!(
            "include {}/sites/*.conf;\nserver {{ listen 127.0.0.1:{probe}; return 204; }}",
            d.display()
        ),
        &[probe],
    );
    let e = &mut setup.edge;
    e.site = d.join("sites/odoo.conf");
    e.nginx = NginxInvocation {
        binary: "nginx".into(),
        conf: Some(nginx.conf_path()),
        prefix: Some(nginx.path().to_path_buf()),
        ..Default::default()
    };
    e.options.listen_http = vec![format!("127.0.0.1:{http}")];
    e.options.listen_https = vec![format!("127.0.0.1:{https}")];
    e.options.acme_root = d.join("www").display().to_string();
    e.options.cache_dir = d.join("cache").display().to_string();
    e.options.log_dir = d.join("logs").display().to_string();
    e.certbot = CertbotDirs {
        config: d.join("letsencrypt"),
        work: d.join("letsencrypt-work"),
        logs: d.join("letsencrypt-logs"),
    };
    e.renewal = RenewalLayout {
        root: d.join("root"),
    };
    e.state = Some(StateDirs::under(&d.join("state")));
    e.http_port = http;
    e.verify_connect = Some("127.0.0.1".parse().unwrap());
    (nginx, http, https)
}

fn steps_with(events: &[Event], f: impl Fn(&Event) -> Option<Step>) -> Vec<Step> {
    events.iter().filter_map(f).collect()
}

fn started(events: &[Event]) -> Vec<Step> {
    steps_with(events, |e| match e {
        Event::Started { step } => Some(*step),
        _ => None,
    })
}

fn already(events: &[Event]) -> Vec<Step> {
    steps_with(events, |e| match e {
        Event::AlreadyDone { step, .. } => Some(*step),
        _ => None,
    })
}

const RUN_HERE: [Step; 5] = [
    Step::Choose,
    Step::CreateDroplet,
    Step::WaitReady,
    Step::Dns,
    Step::InstallConsole,
];

#[test]
fn from_a_clean_state_to_done_then_a_rerun_changes_nothing() {
    let w = World::new();
    let (outcome, events) = w.run(&w.setup);
    let finished = outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert_eq!(started(&events), RUN_HERE);
    assert_eq!(finished.not_done, SKIPPED);

    // One droplet, tagged, with the cloud-init user data, recorded with its address.
    assert_eq!(w.created(), 1);
    let p = w.progress();
    let id = p.droplet_id.expect("the droplet's id is recorded");
    assert!(w.api.droplet_ids().contains(&id));
    assert_eq!(p.droplet_ipv4.as_deref(), Some("127.0.0.1"));

    // The first host key was accepted with a notice naming its fingerprint, and recorded.
    let host_fp = support::sshd::keygen_fingerprint(&w.sshd.host_key.with_extension("pub"));
    assert!(
        events.iter().any(|e| matches!(e,
            Event::Notice { step: Step::WaitReady, text } if text.contains(&host_fp))),
        "no notice naming {host_fp}: {events:#?}"
    );
    let known = std::fs::read_to_string(&w.setup.reach.known_hosts).unwrap();
    assert!(
        known.contains(w.sshd.host_public_key.split_whitespace().nth(1).unwrap()),
        "{known}"
    );

    // The A record in the account's zone, pointing at the droplet.
    let records = w.api.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["type"], "A");
    assert_eq!(records[0]["name"], "erp");
    assert_eq!(records[0]["data"], "127.0.0.1");

    // The console on the host: this very binary, executable.
    let installed = std::fs::read(&w.setup.install_path).unwrap();
    assert!(installed == std::fs::read(env!("CARGO_BIN_EXE_odoo-ops")).unwrap());
    let mode = std::fs::metadata(&w.setup.install_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mtime = std::fs::metadata(&w.setup.install_path)
        .unwrap()
        .modified()
        .unwrap();

    // Again: every step reported as already done, nothing created or written.
    let before = w.progress();
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert!(started(&events).is_empty(), "{events:#?}");
    assert_eq!(already(&events), RUN_HERE);
    assert_eq!(w.created(), 1);
    assert_eq!(w.api.records().len(), 1);
    assert_eq!(w.progress(), before);
    assert_eq!(
        std::fs::metadata(&w.setup.install_path)
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[test]
fn stopped_after_each_step_a_rerun_continues_at_the_next() {
    let w = World::new();
    for (i, step) in RUN_HERE.iter().enumerate() {
        let mut setup = w.setup.clone();
        setup.until = Some(*step);
        let (outcome, events) = w.run(&setup);
        outcome.unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(started(&events), vec![*step], "run {i}: {events:#?}");
        assert_eq!(already(&events), RUN_HERE[..i].to_vec(), "run {i}");
        let p = w.progress();
        for s in &RUN_HERE[..=i] {
            assert!(p.is_done(*s), "{s:?} after run {i}");
        }
        for s in &RUN_HERE[i + 1..] {
            assert!(!p.is_done(*s), "{s:?} after run {i}");
        }
    }
    assert_eq!(w.created(), 1, "one droplet over all the runs");
}

#[test]
fn a_failed_first_boot_says_what_was_done_and_a_rerun_resumes_without_a_second_droplet() {
    let w = World::new();
    w.cloud_init_exits(1);
    let (outcome, events) = w.run(&w.setup);
    let failure = outcome.expect_err("cloud-init exit 1 fails the step");
    assert_eq!(failure.step, Step::WaitReady);
    assert!(failure.error.contains("exit 1"), "{}", failure.error);
    assert!(
        failure.error.contains("package install failed"),
        "{}",
        failure.error
    );
    let id = w.progress().droplet_id.unwrap();
    assert_eq!(failure.droplet_id, Some(id));
    assert!(
        failure.already_done.contains(&format!("droplet {id}")),
        "{}",
        failure.already_done
    );
    assert_eq!(
        started(&events),
        [Step::Choose, Step::CreateDroplet, Step::WaitReady]
    );

    w.cloud_init_exits(0);
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(already(&events), [Step::Choose, Step::CreateDroplet]);
    assert_eq!(
        started(&events),
        [Step::WaitReady, Step::Dns, Step::InstallConsole]
    );
    assert_eq!(w.created(), 1);
}

#[test]
fn a_degraded_first_boot_is_a_warning_and_the_bootstrap_goes_on() {
    let w = World::new();
    w.cloud_init_exits(2);
    let mut setup = w.setup.clone();
    setup.until = Some(Step::WaitReady);
    let (outcome, events) = w.run(&setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert!(
        events.iter().any(|e| matches!(e,
            Event::Warning { step: Step::WaitReady, text }
                if text.contains("degraded") && text.contains("apt mirror slow"))),
        "{events:#?}"
    );
    assert!(
        w.progress()
            .fact(Step::WaitReady)
            .unwrap()
            .contains("degraded")
    );
}

#[test]
fn a_changed_host_key_is_refused_not_recorded() {
    let w = World::new();
    // Another key already recorded for the droplet's address: an impostor, or a reused
    // address whose old key is still trusted.
    let other = w.dir.path().join("other_host_key");
    support::sshd::keygen(&other, "ed25519", "");
    std::fs::create_dir_all(w.setup.reach.known_hosts.parent().unwrap()).unwrap();
    let line = format!(
        "[127.0.0.1]:{} {}\n",
        w.sshd.port,
        support::sshd::public_key_line(&other)
    );
    std::fs::write(&w.setup.reach.known_hosts, &line).unwrap();
    let (outcome, _) = w.run(&w.setup);
    let failure = outcome.expect_err("a changed key is refused");
    assert_eq!(failure.step, Step::WaitReady);
    assert!(failure.error.contains("CHANGED"), "{}", failure.error);
    assert_eq!(
        std::fs::read_to_string(&w.setup.reach.known_hosts).unwrap(),
        line
    );
}

/// The events' texts of one kind for one step.
fn notices(events: &[Event], of: Step) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notice { step, text } if *step == of => Some(text.clone()),
            _ => None,
        })
        .collect()
}

const RECORD: &str = "an A record erp.example.com → 127.0.0.1";

/// Step 4 for a domain not on the account, asking a real DNS server on loopback
/// (`pebble-challtestsrv`, whose records the test sets as the operator would at their
/// provider) through the resolver setting. The steps before it are done first, so the
/// test's clock starts with the wait.
fn waiting_for_dns(dns: &FakeDns, wait: Duration) -> World {
    let mut w = World::off_the_account();
    w.setup.resolver = Resolver::Server(dns.addr);
    w.setup.waits.dns = wait;
    w.setup.waits.dns_poll = Duration::from_millis(200);
    w.setup.until = Some(Step::WaitReady);
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    w.setup.until = Some(Step::Dns);
    w
}

#[test]
fn dns_off_the_account_already_pointing_at_the_droplet_is_done_at_once() {
    let dns = FakeDns::empty();
    dns.set_a("erp.example.com", &["127.0.0.1"]);
    let w = waiting_for_dns(&dns, Duration::from_secs(30));
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    let fact = w.progress().fact(Step::Dns).unwrap().to_string();
    assert!(fact.contains("resolves to 127.0.0.1"), "{fact}");
    assert!(fact.contains(&dns.addr.to_string()), "{fact}");
    assert!(notices(&events, Step::Dns).is_empty(), "{events:#?}");
    // Nothing was asked of DigitalOcean's DNS beyond the zone lookups.
    assert!(w.api.records().is_empty());
    assert_eq!(w.api.count("POST", "/v2/domains/example.com/records"), 0);
}

#[test]
fn dns_off_the_account_waits_for_the_record_the_operator_sets_mid_wait() {
    let dns = FakeDns::empty();
    let w = waiting_for_dns(&dns, Duration::from_secs(30));
    let started_at = std::time::Instant::now();
    let (outcome, events) = std::thread::scope(|s| {
        s.spawn(|| {
            // First a stale record (another machine), then the droplet's.
            std::thread::sleep(Duration::from_millis(1500));
            dns.set_a("erp.example.com", &["192.0.2.7"]);
            std::thread::sleep(Duration::from_millis(1500));
            dns.set_a("erp.example.com", &["127.0.0.1"]);
        });
        w.run(&w.setup)
    });
    let took = started_at.elapsed();
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert!(
        took >= Duration::from_secs(3),
        "{took:?}: done before the record"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(started(&events), [Step::Dns]);
    let said = notices(&events, Step::Dns);
    assert!(
        said[0].contains(RECORD) && said[0].contains("no address"),
        "what to set, and what the resolver gives now: {said:#?}"
    );
    assert!(
        said[1..].iter().any(|n| n.contains("gives 192.0.2.7")),
        "the stale record shown: {said:#?}"
    );
    let fact = w.progress().fact(Step::Dns).unwrap().to_string();
    assert!(fact.contains("resolves to 127.0.0.1"), "{fact}");
    assert!(fact.contains("set by the operator"), "{fact}");
}

#[test]
fn dns_off_the_account_never_set_fails_saying_what_to_set_and_a_rerun_continues() {
    let dns = FakeDns::empty();
    let w = waiting_for_dns(&dns, Duration::from_secs(2));
    let started_at = std::time::Instant::now();
    let (outcome, events) = w.run(&w.setup);
    let took = started_at.elapsed();
    let failure = outcome.expect_err("the record was never set");
    assert_eq!(failure.step, Step::Dns);
    assert!(failure.error.contains(RECORD), "{}", failure.error);
    assert!(failure.error.contains("re-run"), "{}", failure.error);
    assert!(
        failure.error.contains(&dns.addr.to_string()),
        "which resolver: {}",
        failure.error
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "the deadline: {took:?}"
    );
    assert!(notices(&events, Step::Dns)[0].contains(RECORD));
    let p = w.progress();
    assert!(!p.is_done(Step::Dns));
    assert!(p.is_done(Step::WaitReady));

    // The operator sets it; a re-run starts at the DNS step and finishes it.
    dns.set_a("erp.example.com", &["127.0.0.1"]);
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert_eq!(
        already(&events),
        [Step::Choose, Step::CreateDroplet, Step::WaitReady]
    );
    assert_eq!(started(&events), [Step::Dns]);
    assert!(w.progress().is_done(Step::Dns));
    assert_eq!(w.created(), 1);
}

/// A copy of this build's odoo-ops in `dir` with `patch` applied to its bytes.
fn patched_console(dir: &std::path::Path, name: &str, patch: impl Fn(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_odoo-ops")).unwrap();
    patch(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Step 8 left out with its reason (done, not failed), every other step done, nothing at
/// the install path; a re-run does not try again.
fn console_refused(w: &World, why: &[&str]) {
    let (outcome, events) = w.run(&w.setup);
    let finished = outcome.unwrap_or_else(|f| panic!("not a failure: {f}\n{events:#?}"));
    assert_eq!(started(&events), RUN_HERE);
    assert_eq!(finished.not_done, SKIPPED);
    let p = w.progress();
    for step in RUN_HERE {
        assert!(p.is_done(step), "{step:?}");
    }
    let fact = p.fact(Step::InstallConsole).unwrap();
    assert!(fact.starts_with("skipped: "), "{fact}");
    for part in why {
        assert!(fact.contains(part), "{part:?} in {fact}");
    }
    assert!(
        events.iter().any(|e| matches!(e,
            Event::Warning { step: Step::InstallConsole, text }
                if text.contains("not installed") && text.contains(why[0]))),
        "{events:#?}"
    );
    assert!(!w.setup.install_path.exists());
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(already(&events), RUN_HERE);
    assert!(!w.setup.install_path.exists());
}

/// An odoo-ops built for another processor (as from an ARM laptop to an x86-64 droplet):
/// the droplet's own `uname -m`, read over SSH, decides.
#[test]
fn install_console_refuses_a_binary_for_another_processor() {
    let mut w = World::new();
    let (other, other_name) = if std::env::consts::ARCH == "aarch64" {
        (62u16, "x86_64")
    } else {
        (183u16, "aarch64")
    };
    let binary = patched_console(w.dir.path(), "odoo-ops-other-arch", |b| {
        b[0x12..0x14].copy_from_slice(&other.to_le_bytes());
    });
    // It really cannot start here (the kernel refuses it; a libc that then hands the
    // file to /bin/sh gets a shell's failure instead).
    match std::process::Command::new(&binary)
        .arg("--version")
        .output()
    {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOEXEC), "{e}"),
        Ok(out) => assert!(
            !out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("odoo-ops"),
            "{out:?}"
        ),
    }
    w.setup.console_binary = binary;
    let here = format!("the droplet is {:?} (uname -m)", std::env::consts::ARCH);
    console_refused(&w, &[&here, &format!("built for {other_name:?}")]);
}

/// An odoo-ops that needs a newer glibc than the droplet's (the droplet's real glibc,
/// read over SSH): a copy of this build whose newest `GLIBC_2.N` requirement says 9.N.
#[test]
fn install_console_refuses_when_the_droplets_glibc_is_older_than_the_binary_needs() {
    let mut w = World::new();
    let ours = std::fs::read(env!("CARGO_BIN_EXE_odoo-ops")).unwrap();
    let (major, minor) = odoo_ops::bootstrap::elf_glibc::newest_needed(&ours)
        .unwrap()
        .unwrap();
    let (from, to) = (
        format!("GLIBC_{major}.{minor}\0"),
        format!("GLIBC_9.{minor}\0"),
    );
    assert_eq!(from.len(), to.len());
    let binary = patched_console(w.dir.path(), "odoo-ops-new-glibc", |b| {
        let at = b
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .expect("the version's name in .dynstr");
        b[at..at + to.len()].copy_from_slice(to.as_bytes());
    });
    // The dynamic loader here refuses it, as the droplet's would.
    let out = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("GLIBC_9.{minor}' not found")),
        "{said}"
    );
    let getconf = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&getconf.stdout)
        .trim()
        .trim_start_matches("glibc ")
        .to_string();
    w.setup.console_binary = binary;
    console_refused(
        &w,
        &[
            &format!("the droplet has glibc {host}"),
            &format!("needs 9.{minor}"),
        ],
    );
}

#[test]
fn tls_without_the_stacks_site_stops_at_the_challenge_preflight_before_any_ca() {
    let mut w = World::new();
    let dns = FakeDns::start();
    let (ca_port, contacts) = counting_listener();
    w.setup.resolver = Resolver::Server(dns.addr);
    w.setup.edge.directories = AcmeDirectories {
        staging: format!("https://localhost:{ca_port}/staging"),
        production: format!("https://localhost:{ca_port}/real"),
    };
    w.setup.skip = [Step::Stack].into_iter().collect();
    let (outcome, events) = w.run(&w.setup);
    let failure = outcome.expect_err("nothing serves the challenge path");
    assert_eq!(failure.step, Step::Tls);
    assert!(
        failure.error.contains(&format!(
            "http://erp.example.com:{}/.well-known/acme-challenge/",
            w.http
        )) && failure.error.contains("did not serve the probe file"),
        "{}",
        failure.error
    );
    assert!(
        failure.already_done.contains("point the domain"),
        "{}",
        failure.already_done
    );
    assert_eq!(contacts.load(Ordering::SeqCst), 0, "a CA was contacted");
    assert!(!w.progress().is_done(Step::Tls));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Notice { step: Step::Tls, text } if text.contains("resolves to 127.0.0.1")
    )));
}

#[test]
fn undo_deletes_the_droplet_it_created_and_forgets_the_steps() {
    let w = World::new();
    let mut setup = w.setup.clone();
    setup.until = Some(Step::CreateDroplet);
    w.run(&setup).0.unwrap_or_else(|f| panic!("{f}"));
    let id = w.progress().droplet_id.unwrap();
    assert_eq!(run::undo_target(&w.setup).unwrap(), Some(id));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let said = rt.block_on(run::undo(&w.setup, &w.client())).unwrap();
    assert!(said.contains(&format!("droplet {id} deleted")), "{said}");
    assert!(!w.api.droplet_ids().contains(&id));
    assert_eq!(w.progress(), Progress::default());
    assert_eq!(w.api.count("DELETE", &format!("/v2/droplets/{id}")), 1);
}

#[test]
fn a_droplet_deleted_since_is_created_again() {
    let w = World::new();
    let mut setup = w.setup.clone();
    setup.until = Some(Step::WaitReady);
    w.run(&setup).0.unwrap_or_else(|f| panic!("{f}"));
    let first = w.progress().droplet_id.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(w.client().delete_droplet(first)).unwrap();
    let (outcome, events) = w.run(&setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(started(&events), [Step::CreateDroplet, Step::WaitReady]);
    assert_eq!(w.created(), 2);
    assert_ne!(w.progress().droplet_id, Some(first));
}

/// The answers file edited by hand between two headless runs, and the setup read from it.
fn edit_answers(w: &World, from: &str, to: &str) -> Setup {
    let path = w.path("answers.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    std::fs::write(&path, text.replace(from, to)).unwrap();
    let mut setup = w.setup.clone();
    setup.answers = Answers::load(&path).unwrap();
    setup
}

#[test]
fn a_hand_edited_droplet_name_is_refused_before_any_step_with_nothing_changed() {
    let w = World::new();
    let mut setup = w.setup.clone();
    setup.until = Some(Step::CreateDroplet);
    w.run(&setup).0.unwrap_or_else(|f| panic!("{f}"));
    let id = w.progress().droplet_id.unwrap();
    let state = std::fs::read(&w.setup.state_file).unwrap();

    let mut renamed = edit_answers(&w, "erp-prod-1", "erp-prod-2");
    renamed.until = Some(Step::WaitReady);
    let (outcome, events) = w.run(&renamed);
    let failure = outcome.expect_err("a droplet's name cannot change");
    assert_eq!(failure.step, Step::Choose);
    assert_eq!(failure.droplet_id, Some(id));
    let answers_file = w.path("answers.toml").display().to_string();
    for part in [
        answers_file.as_str(),
        "name was \"erp-prod-1\" and is now \"erp-prod-2\"",
        &format!("droplet {id} was created with it"),
    ] {
        assert!(failure.error.contains(part), "{part:?} in {failure}");
    }
    assert!(events.is_empty(), "no step ran: {events:#?}");
    assert_eq!(
        std::fs::read(&w.setup.state_file).unwrap(),
        state,
        "the state file is unchanged"
    );
    assert_eq!(w.created(), 1);
    assert!(w.api.droplet_ids().contains(&id));
}

#[test]
fn a_hand_edited_domain_runs_dns_again_and_keeps_the_droplet() {
    let w = World::new();
    let mut setup = w.setup.clone();
    setup.until = Some(Step::Dns);
    w.run(&setup).0.unwrap_or_else(|f| panic!("{f}"));
    let id = w.progress().droplet_id.unwrap();

    let mut moved = edit_answers(&w, "erp.example.com", "shop.example.com");
    moved.until = Some(Step::Dns);
    let (outcome, events) = w.run(&moved);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    let said = notices(&events, Step::Choose);
    assert_eq!(said.len(), 1, "{events:#?}");
    assert!(
        said[0].contains("domain was \"erp.example.com\" and is now \"shop.example.com\"")
            && said[0].contains("going back to step \"dns\""),
        "{said:#?}"
    );
    assert_eq!(
        already(&events),
        [Step::Choose, Step::CreateDroplet, Step::WaitReady]
    );
    assert_eq!(started(&events), [Step::Dns]);
    let p = w.progress();
    assert_eq!(p.droplet_id, Some(id), "the same droplet");
    assert_eq!(w.created(), 1);
    let fact = p.fact(Step::Dns).unwrap();
    assert!(fact.contains("A shop.example.com → 127.0.0.1"), "{fact}");
    let names: Vec<_> = w.api.records().iter().map(|r| r["name"].clone()).collect();
    assert!(names.contains(&"shop".into()), "{names:?}");

    // The answers now recorded are the file's: a further run changes nothing.
    let (outcome, events) = w.run(&moved);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert!(started(&events).is_empty(), "{events:#?}");
    assert!(notices(&events, Step::Choose).is_empty(), "{events:#?}");
}

#[test]
fn the_cli_names_file_line_and_field_of_a_bad_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.toml");
    std::fs::write(&path, ANSWERS.replace("ops@example.com", "ops-at-example")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .args(["bootstrap", "--answers"])
        .arg(&path)
        .env("HOME", dir.path())
        .env_remove("DIGITALOCEAN_ACCESS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:7:", path.display())),
        "file and line: {err}"
    );
    assert!(err.contains("admin_email"), "field: {err}");
    assert!(err.contains("no '@'"), "{err}");
}

/// The project's named volumes too (support's Project removes containers and networks).
struct Volumes(String);

impl Drop for Volumes {
    fn drop(&mut self) {
        for v in ["db-data", "odoo-data"] {
            let _ = std::process::Command::new("docker")
                .args(["volume", "rm", "-f", &format!("{}_{v}", self.0)])
                .output();
        }
    }
}

/// The droplet's Compose project on the real Docker engine, removed on Drop (containers
/// first, then their volumes). The droplet would pull `postgres:16-alpine`; this machine
/// has no registry, so the stack directory holds what an operator may keep there, a
/// `docker-compose.override.yml`, naming the real PostgreSQL image built for the tests, and
/// a `.env` with free ports (the render keeps a deploy's ports).
struct DockerStack {
    containers: support::docker::Project,
    _volumes: Volumes,
    project: String,
    /// Odoo's HTTP port on the host.
    http: u16,
}

impl DockerStack {
    fn new(w: &mut World) -> DockerStack {
        let odoo = support::standin::ensure_image(support::standin::RELEASES[0]);
        let (repo, tag) = odoo.rsplit_once(':').unwrap();
        let pg = support::pg_image::ensure_image();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let project = format!("ooptestboot{}x{nanos:x}", std::process::id());
        let volumes = Volumes(project.clone());
        let containers = support::docker::Project::named(project.clone());
        let stack_dir = w.dir.path().join(&project);
        std::fs::create_dir_all(&stack_dir).unwrap();
        std::fs::write(
            stack_dir.join("docker-compose.override.yml"),
            // The test image's entrypoint takes postgres' options without the program's name.
            format!(
                "services:\n  db:\n    image: {pg}\n    command: [\"-c\", \"max_connections=100\"]\n"
            ),
        )
        .unwrap();
        let http = support::ports::free_port();
        let gevent = support::ports::free_port();
        std::fs::write(
            stack_dir.join(".env"),
            format!("ODOO_HTTP_PORT={http}\nODOO_GEVENT_PORT={gevent}\n"),
        )
        .unwrap();
        w.setup.stack_dir = stack_dir;
        w.setup.answers.image = repo.to_string();
        w.setup.answers.tag = tag.to_string();
        w.setup.waits.stack = Duration::from_secs(150);
        DockerStack {
            containers,
            _volumes: volumes,
            project,
            http,
        }
    }

    fn odoo_id(&self) -> Option<String> {
        let p = &self.project;
        support::deploy_stack::inspect(&format!("{p}_odoo_1"), "{{.Id}}")
            .or_else(|| support::deploy_stack::inspect(&format!("{p}-odoo-1"), "{{.Id}}"))
    }

    /// The database as the stand-in's Odoo makes it (a real plan's `base` install would).
    fn create_odoo_db(&self) {
        self.containers
            .create_odoo_db(&format!("{}_db_1", self.project), "odoo");
    }
}

/// Step 5 on the droplet's real Docker engine: the stack files written by the stack's own
/// writer, Compose started in the stack directory, Odoo (the stand-in) healthy by the
/// compose file's own healthcheck, and the HTTP-only site in the droplet's nginx.
#[test]
fn the_stack_comes_up_on_the_droplets_docker_and_a_rerun_leaves_it() {
    let mut w = World::new();
    let stack = DockerStack::new(&mut w);
    let (http, stack_dir) = (stack.http, w.setup.stack_dir.clone());
    let tag = w.setup.answers.tag.clone();
    w.setup.skip = [Step::Tls, Step::ModulesVerify].into_iter().collect();
    w.setup.until = Some(Step::Stack);

    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert_eq!(
        started(&events),
        [
            Step::Choose,
            Step::CreateDroplet,
            Step::WaitReady,
            Step::Dns,
            Step::Stack
        ]
    );
    let fact = w.progress().fact(Step::Stack).unwrap().to_string();
    assert!(fact.contains("healthy"), "{fact}");
    // Odoo answers on the port .env names, through the real engine.
    let health =
        support::rawhttp::try_request(http, "GET", "/web/health", &[], b"", Duration::from_secs(5))
            .unwrap();
    assert_eq!(health.status, 200);
    // Secrets stay private; the image is the one answered.
    let env = stack_dir.join(".env");
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let env = std::fs::read_to_string(env).unwrap();
    assert!(env.contains(&format!("ODOO_TAG={tag}")), "{env}");
    assert!(env.contains(&format!("ODOO_HTTP_PORT={http}")), "{env}");
    let id = stack
        .odoo_id()
        .expect("the odoo container runs under the project's name");
    // The droplet's nginx has the site, HTTP only (no certificate yet): Odoo through it.
    let site = std::fs::read_to_string(&w.setup.edge.site).unwrap();
    assert!(!site.contains("ssl_certificate"), "{site}");
    assert!(site.contains("/.well-known/acme-challenge/"), "{site}");
    let through = support::rawhttp::try_request(
        w.http,
        "GET",
        "/web/health",
        &[("Host", "erp.example.com")],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(through.status, 200, "{}", w.nginx.error_log());

    // Again: already done, the same container.
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert!(started(&events).is_empty(), "{events:#?}");
    assert!(already(&events).contains(&Step::Stack));
    assert_eq!(stack.odoo_id(), Some(id));

    // Step 7 without a modules plan: every gate verify has (the edge's wait for TLS), the
    // report written as a private proof. First without an Odoo database: a hard gate that
    // only warns is no verified bootstrap.
    w.setup.skip = [Step::Tls].into_iter().collect();
    w.setup.until = Some(Step::ModulesVerify);
    w.setup.waits.stack = Duration::from_secs(3);
    let failure = w.run(&w.setup).0.expect_err("no Odoo database yet");
    assert_eq!(failure.step, Step::ModulesVerify);
    assert!(failure.error.contains("db.modules"), "{}", failure.error);
    std::fs::remove_dir_all(&w.setup.proofs).unwrap();
    stack.create_odoo_db();
    w.setup.waits.stack = Duration::from_secs(150);
    w.setup.skip = [Step::Tls].into_iter().collect();
    w.setup.until = Some(Step::ModulesVerify);
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert_eq!(started(&events), [Step::ModulesVerify]);
    let proofs: Vec<PathBuf> = std::fs::read_dir(&w.setup.proofs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    let report = proofs[0].join("verify_report.json");
    assert_eq!(
        std::fs::metadata(&report).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let gates = report["gates"].as_array().unwrap();
    assert!(gates.iter().all(|g| g["status"] == "pass"), "{report:#}");
    assert!(gates.iter().any(|g| g["id"] == "db.modules"), "{report:#}");
    assert_eq!(report["status"], "passed", "{report:#}");
    assert!(
        events.iter().any(|e| matches!(e,
            Event::Warning { step: Step::ModulesVerify, text } if text.contains("TLS"))),
        "{events:#?}"
    );
}

/// Steps 3 to 8 with TLS on the "droplet": its sshd, its real Docker engine (the Odoo
/// stand-in image, the real PostgreSQL image), its real nginx, and certbot against two
/// pebbles (staging, then the "real" CA). The run is interrupted at the TLS step (the real
/// CA down after staging passed) and resumed, goes on to verified with the edge gates over
/// HTTPS, and a re-run changes nothing; a state file that lost the TLS record re-runs the
/// step, which keeps the certificate in place and contacts no CA.
#[test]
fn with_tls_from_clean_to_verified_interrupted_at_tls_resumed_and_a_rerun_changes_nothing() {
    let mut w = World::new();
    let stack = DockerStack::new(&mut w);
    let dns = FakeDns::start();
    let staging = Pebble::start(w.http, &dns);
    let real = Pebble::start(w.http, &dns);
    let bundle = w.path("ca-bundle.pem");
    std::fs::write(
        &bundle,
        [&staging.ca_bundle, &real.ca_bundle]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<String>(),
    )
    .unwrap();
    let (down, down_contacts) = counting_listener();
    w.setup.skip = BTreeSet::new();
    w.setup.resolver = Resolver::Server(dns.addr);
    w.setup.edge.ca_bundle = Some(bundle);
    w.setup.edge.extra_root_certs = vec![real.root_pem()];
    w.setup.edge.directories = AcmeDirectories {
        staging: staging.directory.clone(),
        production: format!("https://localhost:{down}/dir"),
    };
    let fullchain = w.path("letsencrypt/live/erp.example.com/fullchain.pem");

    // Clean to the stack: the site is HTTP only and serves Odoo through nginx.
    let mut setup = w.setup.clone();
    setup.until = Some(Step::Stack);
    let (outcome, events) = w.run(&setup);
    outcome.unwrap_or_else(|f| panic!("{f}\n{events:#?}"));
    assert_eq!(started(&events), Step::ALL[..5]);
    let http_site = std::fs::read_to_string(&w.setup.edge.site).unwrap();
    assert!(!http_site.contains("ssl_certificate"), "{http_site}");
    stack.create_odoo_db();

    // Interrupted at TLS: staging passed, the real CA does not answer. Nothing recorded,
    // no certificate, the HTTP site left as it was.
    let (outcome, events) = w.run(&w.setup);
    let failure = outcome.expect_err("the real CA is down");
    assert_eq!(failure.step, Step::Tls);
    assert_eq!(started(&events), [Step::Tls]);
    assert!(
        failure.error.contains("the staging run passed"),
        "{}",
        failure.error
    );
    assert!(down_contacts.load(Ordering::SeqCst) > 0);
    assert!(!w.progress().is_done(Step::Tls));
    assert!(!fullchain.exists());
    assert_eq!(
        std::fs::read_to_string(&w.setup.edge.site).unwrap(),
        http_site
    );

    // Resumed with the real CA up: the certificate, the HTTPS site, verified, the console.
    w.setup.edge.directories.production = real.directory.clone();
    let started_at = std::time::Instant::now();
    let (outcome, events) = w.run(&w.setup);
    let finished = outcome.unwrap_or_else(|f| {
        panic!(
            "{f}\n{events:#?}\nstaging:\n{}\nreal:\n{}\nnginx:\n{}",
            staging.log(),
            real.log(),
            w.nginx.error_log()
        )
    });
    eprintln!("TLS, verify and console: {:?}", started_at.elapsed());
    assert!(finished.not_done.is_empty(), "{:?}", finished.not_done);
    assert_eq!(already(&events), Step::ALL[..5]);
    assert_eq!(
        started(&events),
        [Step::Tls, Step::ModulesVerify, Step::InstallConsole]
    );
    let fact = w.progress().fact(Step::Tls).unwrap().to_string();
    assert!(
        fact.contains("issued by") && fact.contains(&real.directory),
        "{fact}"
    );
    assert!(
        staging.log().contains("set VALID by completed challenge"),
        "{}",
        staging.log()
    );
    // nginx serves the real CA's certificate for the name.
    let served = served_certificate(w.https, "erp.example.com");
    assert!(served.contains("DNS:erp.example.com"), "{served}");
    assert!(
        served.contains(&format!("issuer=CN = {}", real.intermediate_cn())),
        "{served}"
    );
    // Exactly one renewal mechanism (the timer), the deploy hook in place.
    assert!(
        w.path("root/etc/systemd/system/timers.target.wants/certbot.timer")
            .exists()
    );
    assert!(!w.path("root/etc/cron.d/certbot").exists());
    assert!(
        w.path("letsencrypt/renewal-hooks/deploy/odoo-ops-reload-nginx")
            .exists()
    );
    // Step 7 ran the edge gates over HTTPS, and they passed.
    let proofs: Vec<PathBuf> = std::fs::read_dir(&w.setup.proofs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(proofs[0].join("verify_report.json")).unwrap())
            .unwrap();
    for gate in ["edge.health", "edge.login", "edge.websocket"] {
        assert!(
            report["gates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["id"] == gate && g["status"] == "pass"),
            "{gate}: {report:#}"
        );
    }
    assert!(
        !events.iter().any(|e| matches!(e, Event::Warning { .. })),
        "{events:#?}"
    );

    // Again: every step already done, nothing issued, no CA contacted, nothing changed.
    let before = w.progress();
    let cert = std::fs::read(&fullchain).unwrap();
    let site = std::fs::read_to_string(&w.setup.edge.site).unwrap();
    let logs = (staging.log().len(), real.log().len());
    let (outcome, events) = w.run(&w.setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert!(started(&events).is_empty(), "{events:#?}");
    assert_eq!(already(&events), Step::ALL);
    assert_eq!(w.progress(), before);
    assert_eq!(std::fs::read(&fullchain).unwrap(), cert);
    assert_eq!(std::fs::read_to_string(&w.setup.edge.site).unwrap(), site);
    assert_eq!((staging.log().len(), real.log().len()), logs);

    // The state file lost the TLS record (and what follows): the step runs again, finds
    // the certificate valid for the name and keeps it; no CA is asked.
    let mut lost = w.progress();
    lost.go_back_to(Step::Tls);
    lost.save(&w.setup.state_file).unwrap();
    let mut setup = w.setup.clone();
    setup.until = Some(Step::Tls);
    let (outcome, events) = w.run(&setup);
    outcome.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(started(&events), [Step::Tls]);
    let fact = w.progress().fact(Step::Tls).unwrap().to_string();
    assert!(fact.contains("already from"), "{fact}");
    assert!(fact.contains("site already on HTTPS"), "{fact}");
    assert_eq!(std::fs::read(&fullchain).unwrap(), cert);
    assert_eq!(std::fs::read_to_string(&w.setup.edge.site).unwrap(), site);
    assert_eq!((staging.log().len(), real.log().len()), logs);
}
