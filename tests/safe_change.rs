//! The one way a file on a host is changed, on a real nginx with Debian's layout
//! (`include conf.d/*.conf; include sites-enabled/*;`, the site in sites-available with a
//! symlink in sites-enabled) started as a packaged master is: `nginx -c FILE -p DIR/`.
//! Through the library (a fix from a real diagnosis) and through `odoo-ops fix` as an
//! operator runs it, killed mid-change too.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use odoo_ops::checks::apply::{ConfirmedFix, apply_in};
use odoo_ops::checks::model::{ApplyAction, Report, Verdict};
use odoo_ops::checks::{DiagnoseOptions, OdooLocation, diagnose};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::target::Target;
use odoo_ops::workflow::{Refused, StateDirs};
use support::nginx::{DebianSite, Nginx};
use support::ports::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_odoo-ops");
const DOMAIN: &str = "erp.odoo-ops.test";
const SITE: &str = "odoo";

/// The seeds' site, minus TLS, with a read timeout too short for Odoo: the diagnosis
/// offers to set it to 720s. The `upstream` is what a second copy of the file (a backup
/// nginx includes) would make a duplicate.
fn site_text(port: u16, http: u16, gevent: u16, read_timeout: &str) -> String {
    format!(
        "upstream odoo {{
    server 127.0.0.1:{http};
}}

upstream odoochat {{
    server 127.0.0.1:{gevent};
}}

server {{
    listen 127.0.0.1:{port};
    server_name {DOMAIN};

    proxy_read_timeout {read_timeout};
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;

    location / {{
        proxy_pass http://odoo;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}

    location /websocket {{
        proxy_pass http://odoochat;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection \"upgrade\";
    }}
}}
"
    )
}

/// A Debian-layout nginx serving the site, a private state dir for odoo-ops' journal and
/// backups, and an odoo.conf naming the ports (nothing listens there: the nginx checks do
/// not need Odoo).
struct Host {
    nginx: Nginx,
    state: tempfile::TempDir,
    odoo_conf: PathBuf,
    original: Vec<u8>,
}

impl Host {
    fn new(edit: impl Fn(String) -> String) -> Host {
        let (port, http, gevent) = (free_port(), free_port(), free_port());
        let text = edit(site_text(port, http, gevent, "30s"));
        let nginx = Nginx::start_debian(
            &[DebianSite {
                name: SITE,
                text: &text,
            }],
            &[("gzip.conf", "gzip on;\n")],
            &[port],
        );
        let state = tempfile::tempdir().unwrap();
        let odoo_conf = state.path().join("odoo.conf");
        std::fs::write(
            &odoo_conf,
            format!("[options]\nhttp_port = {http}\ngevent_port = {gevent}\n"),
        )
        .unwrap();
        Host {
            original: text.into_bytes(),
            nginx,
            state,
            odoo_conf,
        }
    }

    fn site(&self) -> PathBuf {
        self.nginx.site_available(SITE)
    }

    fn conf(&self) -> PathBuf {
        self.nginx.path().join("nginx.conf")
    }

    fn dirs(&self) -> StateDirs {
        StateDirs::under(&self.state.path().join("odoo-ops"))
    }

    /// How the running master was started: what every `nginx -t` must use.
    fn invocation(&self) -> NginxInvocation {
        NginxInvocation {
            binary: "nginx".into(),
            conf: Some(self.conf()),
            prefix: Some(PathBuf::from(format!("{}/", self.nginx.path().display()))),
            ..Default::default()
        }
    }

    fn diagnose(&self) -> Report {
        let options = DiagnoseOptions {
            domain: Some(DOMAIN.into()),
            nginx_conf: Some(self.conf()),
            odoo: OdooLocation::ConfigFile(self.odoo_conf.clone()),
            ..Default::default()
        };
        rt().block_on(diagnose(&Target::local(), &options)).0
    }

    fn timeout_fix(&self) -> ApplyAction {
        let r = self.diagnose();
        let check = r.check("nginx.timeouts").unwrap();
        assert_eq!(check.outcome.verdict, Verdict::Fail, "{:?}", check.outcome);
        check
            .outcome
            .fix
            .clone()
            .and_then(|f| f.apply)
            .expect("an nginx edit")
    }

    fn apply(&self, action: ApplyAction) -> color_eyre::Result<odoo_ops::checks::apply::Applied> {
        rt().block_on(apply_in(
            &Target::local(),
            &self.dirs(),
            &self.invocation(),
            &ConfirmedFix { action },
        ))
    }

    /// The site is still reached through its symlink, and nothing new is included.
    #[track_caller]
    fn assert_layout_intact(&self) {
        let link = self.nginx.site_enabled(SITE);
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "{} is no longer a symlink",
            link.display()
        );
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from(format!("../sites-available/{SITE}"))
        );
        assert_eq!(
            self.nginx.included_names(),
            ["conf.d/gzip.conf", "sites-enabled/odoo"],
            "no stray file where nginx includes"
        );
        let t = self.nginx.debian_test();
        assert!(
            t.status.success(),
            "nginx -t on disk: {}",
            String::from_utf8_lossy(&t.stderr)
        );
    }

    fn journal_entries(&self) -> Vec<PathBuf> {
        files_under(&self.dirs().journal)
    }

    /// `odoo-ops SUBCOMMAND ... --nginx-conf ... --domain ... --odoo-conf ...`.
    fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .arg("--nginx-conf")
            .arg(self.conf())
            .args(["--domain", DOMAIN])
            .arg("--odoo-conf")
            .arg(&self.odoo_conf)
            .env("ODOO_OPS_STATE_DIR", self.state.path().join("odoo-ops"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_fix_on_debians_layout_edits_the_target_backs_up_outside_the_includes_and_reloads() {
    let host = Host::new(|s| s);
    std::fs::set_permissions(host.site(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let before_reloads = host.nginx.reconfigured();
    let applied = host.apply(host.timeout_fix()).unwrap();
    assert!(applied.success && !applied.reverted, "{:?}", applied.steps);

    let now = std::fs::read_to_string(host.site()).unwrap();
    assert!(now.contains("proxy_read_timeout 720s;"), "{now}");
    let mode = std::fs::metadata(host.site()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the file keeps its mode");
    host.assert_layout_intact();
    // The backup holds the old bytes, where no include reaches.
    let backup = PathBuf::from(applied.backup.expect("a backup"));
    assert!(
        backup.starts_with(&host.dirs().backups),
        "{}",
        backup.display()
    );
    assert_eq!(std::fs::read(&backup).unwrap(), host.original);
    assert!(
        host.journal_entries().is_empty(),
        "the journal entry is closed"
    );
    assert!(
        host.nginx.wait_reconfigured(before_reloads),
        "nginx reloaded: {}",
        host.nginx.error_log()
    );
    let r = host.diagnose();
    assert_eq!(
        r.check("nginx.timeouts").unwrap().outcome.verdict,
        Verdict::Pass
    );
}

#[test]
fn a_fix_nginx_rejects_leaves_the_disk_exactly_as_it_was() {
    let host = Host::new(|s| s);
    std::fs::set_permissions(host.site(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let ApplyAction::EditNginxFile {
        path,
        before,
        after,
    } = host.timeout_fix()
    else {
        panic!("an nginx edit");
    };
    assert_eq!(path, host.nginx.site_enabled(SITE), "nginx names the link");
    let broken = ApplyAction::EditNginxFile {
        path,
        before,
        after: after.replace("proxy_read_timeout 720s;", "proxy_read_timeout 720s"),
    };
    let before_reloads = host.nginx.reconfigured();
    let applied = host.apply(broken).unwrap();
    assert!(applied.reverted && !applied.success, "{:?}", applied.steps);
    assert!(
        applied.test.as_ref().is_some_and(|t| !t.ok()),
        "{:?}",
        applied.test
    );
    assert_eq!(std::fs::read(host.site()).unwrap(), host.original);
    let mode = std::fs::metadata(host.site()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    host.assert_layout_intact();
    assert!(host.journal_entries().is_empty());
    assert_eq!(host.nginx.reconfigured(), before_reloads, "not reloaded");
}

#[test]
fn a_file_changed_since_the_diagnosis_is_refused_and_left_alone() {
    let host = Host::new(|s| s);
    let fix = host.timeout_fix();
    let edited = format!(
        "# an operator's edit\n{}",
        String::from_utf8_lossy(&host.original)
    );
    std::fs::write(host.site(), &edited).unwrap();
    let err = host.apply(fix).unwrap_err();
    let refused = err.downcast_ref::<Refused>().expect("refused, not failed");
    assert!(refused.0.contains("changed since"), "{refused}");
    assert_eq!(std::fs::read_to_string(host.site()).unwrap(), edited);
    assert!(files_under(host.state.path().join("odoo-ops").as_path()).is_empty());
    host.assert_layout_intact();
}

#[test]
fn a_file_without_a_trailing_newline_applies() {
    let host = Host::new(|s| s.trim_end().to_string());
    assert!(!host.original.ends_with(b"\n"));
    let applied = host.apply(host.timeout_fix()).unwrap();
    assert!(applied.success, "{:?}", applied.steps);
    assert!(
        std::fs::read_to_string(host.site())
            .unwrap()
            .contains("proxy_read_timeout 720s;")
    );
    host.assert_layout_intact();
}

/// Wait until the site on disk holds the fix (the console wrote it, nothing validated it).
fn wait_for_edit(host: &Host, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = std::fs::read_to_string(host.site()).unwrap();
        if now.contains("proxy_read_timeout 720s;") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.stderr.take().map(|mut e| {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                s
            });
            panic!("odoo-ops fix ended ({status}) before writing: {out:?}");
        }
        assert!(Instant::now() < deadline, "the fix never wrote the site");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_console_killed_before_nginx_t_is_reverted_on_the_next_start() {
    let host = Host::new(|s| s);
    let mut child = host
        .cli(&["fix", "nginx.timeouts", "--yes"])
        .env("ODOO_OPS_TEST_HOLD_BEFORE_VALIDATE_MS", "60000")
        .spawn()
        .unwrap();
    wait_for_edit(&host, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed: the untested edit is on disk, and the journal says so.
    assert!(
        std::fs::read_to_string(host.site())
            .unwrap()
            .contains("720s")
    );
    assert_eq!(host.journal_entries().len(), 1);

    // The next start (any command on this host) puts it back and says so.
    let next = host.cli(&["diagnose"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(
        stderr.contains("an interrupted change was found")
            && stderr.contains("reverted")
            && stderr.contains(&host.site().display().to_string()),
        "{}",
        text(&next)
    );
    assert_eq!(std::fs::read(host.site()).unwrap(), host.original);
    assert!(host.journal_entries().is_empty());
    host.assert_layout_intact();
    // And only once.
    let again = host.cli(&["diagnose"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&again.stderr).contains("interrupted"));
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn odoo_ops_fix_exits_0_applied_1_reverted_2_could_not_try() {
    let host = Host::new(|s| s);

    // 2: no such check; and no terminal to ask on without --yes.
    let o = host
        .cli(&["fix", "nginx.nonsense", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(json(&o)["result"], "could_not_try");
    let o = host
        .cli(&["fix", "nginx.timeouts", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(json(&o)["reason"].as_str().unwrap().contains("--yes"));
    assert_eq!(std::fs::read(host.site()).unwrap(), host.original);

    // 1: nginx -t fails (another file broke while the fix was being made): reverted.
    let mut child = host
        .cli(&["fix", "nginx.timeouts", "--yes", "--json"])
        .env("ODOO_OPS_TEST_HOLD_BEFORE_VALIDATE_MS", "1500")
        .spawn()
        .unwrap();
    wait_for_edit(&host, &mut child);
    let broken = host.nginx.path().join("conf.d/zz-broken.conf");
    std::fs::write(&broken, "this is not nginx;\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let j = json(&o);
    assert_eq!(j["result"], "not_applied");
    assert_eq!(j["applied"]["reverted"], true);
    assert_eq!(std::fs::read(host.site()).unwrap(), host.original);
    std::fs::remove_file(&broken).unwrap();
    host.assert_layout_intact();

    // 0: applied, with the diff it showed.
    let before_reloads = host.nginx.reconfigured();
    let o = host
        .cli(&["fix", "nginx.timeouts", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    assert_eq!(j["result"], "applied");
    assert_eq!(j["applied"]["success"], true);
    assert!(
        j["fix"]["diff"]
            .as_str()
            .unwrap()
            .contains("+    proxy_read_timeout 720s;"),
        "{j}"
    );
    assert!(host.nginx.wait_reconfigured(before_reloads));
    host.assert_layout_intact();

    // 2: nothing left to fix.
    let o = host
        .cli(&["fix", "nginx.timeouts", "--yes"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("passes"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_stack_writer_installs_a_site_through_its_symlink_and_puts_a_rejected_one_back() {
    use odoo_ops::stack::StackFile;
    use odoo_ops::stack::update::{SiteOutcome, install_site};
    let host = Host::new(|s| s);
    let link = host.nginx.site_enabled(SITE);
    let file = |contents: String| StackFile {
        name: SITE,
        contents,
        mode: 0o644,
        secret: false,
    };
    let good = String::from_utf8(host.original.clone())
        .unwrap()
        .replace("proxy_read_timeout 30s;", "proxy_read_timeout 720s;");
    let before_reloads = host.nginx.reconfigured();
    let outcome = rt()
        .block_on(install_site(
            &Target::local(),
            &host.dirs(),
            &link,
            &file(good.clone()),
            &host.invocation(),
            "t1",
        ))
        .unwrap();
    let SiteOutcome::Reloaded {
        backup: Some(backup),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(backup.starts_with(&host.dirs().backups));
    assert_eq!(std::fs::read_to_string(host.site()).unwrap(), good);
    host.assert_layout_intact();
    assert!(host.nginx.wait_reconfigured(before_reloads));

    // A site nginx rejects: nginx's words in the error, the last good site back.
    let err = rt()
        .block_on(install_site(
            &Target::local(),
            &host.dirs(),
            &link,
            &file(good.replace("upstream odoochat", "upstream odoo")),
            &host.invocation(),
            "t2",
        ))
        .unwrap_err();
    assert!(format!("{err:#}").contains("duplicate upstream"), "{err:#}");
    assert_eq!(std::fs::read_to_string(host.site()).unwrap(), good);
    host.assert_layout_intact();
    assert!(host.journal_entries().is_empty());
}

#[test]
fn over_ssh_a_rejected_fix_is_undone_and_a_good_one_applies_and_recovery_finds_a_killed_one() {
    let sshd = support::sshd::Sshd::start();
    let host = Host::new(|s| s);
    let rt = rt();
    let target = rt.block_on(sshd.target());
    let dirs = host.dirs();
    let options = DiagnoseOptions {
        domain: Some(DOMAIN.into()),
        nginx_conf: Some(host.conf()),
        odoo: OdooLocation::ConfigFile(host.odoo_conf.clone()),
        ..Default::default()
    };
    let report = rt.block_on(diagnose(&target, &options)).0;
    let Some(ApplyAction::EditNginxFile {
        path,
        before,
        after,
    }) = report
        .check("nginx.timeouts")
        .and_then(|c| c.outcome.fix.clone())
        .and_then(|f| f.apply)
    else {
        panic!("an nginx edit over SSH");
    };
    let apply = |after: String| {
        rt.block_on(apply_in(
            &target,
            &dirs,
            &host.invocation(),
            &ConfirmedFix {
                action: ApplyAction::EditNginxFile {
                    path: path.clone(),
                    before: before.clone(),
                    after,
                },
            },
        ))
        .unwrap()
    };
    let rejected = apply(after.replace("720s;", "720s"));
    assert!(rejected.reverted, "{:?}", rejected.steps);
    assert_eq!(std::fs::read(host.site()).unwrap(), host.original);
    host.assert_layout_intact();

    let applied = apply(after.clone());
    assert!(applied.success, "{:?}", applied.steps);
    assert_eq!(std::fs::read_to_string(host.site()).unwrap(), after);
    host.assert_layout_intact();

    // A change left in the journal (as a killed console leaves it) is reverted by the next
    // start over SSH too: write the entry by hand from what the change itself recorded.
    let sum = |b: &[u8]| odoo_ops::workflow::sha256_hex(b);
    let backup = dirs.backups.join("killed/0-odoo");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    std::fs::write(&backup, after.as_bytes()).unwrap();
    let entry = odoo_ops::workflow::journal::Entry {
        id: "killed".into(),
        purpose: "fix: edit the site".into(),
        phase: odoo_ops::workflow::journal::Phase::Prepared,
        files: vec![odoo_ops::workflow::journal::FileRecord {
            path: path.clone(),
            real_path: host.site(),
            before: Some(odoo_ops::workflow::journal::Before {
                sha256: sum(after.as_bytes()),
                mode: 0o644,
                uid: 0,
                gid: 0,
                backup,
            }),
            after_sha256: sum(b"untested\n"),
        }],
        nginx: None,
        holder: odoo_ops::workflow::journal::Holder {
            machine: "elsewhere".into(),
            pid: 1,
            started: 0,
        },
    };
    std::fs::write(host.site(), "untested\n").unwrap();
    std::fs::write(
        dirs.journal.join("killed.json"),
        serde_json::to_vec(&entry).unwrap(),
    )
    .unwrap();
    let notes = rt
        .block_on(odoo_ops::workflow::recover::recover_in(&target, &dirs))
        .unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("reverted"), "{notes:?}");
    assert_eq!(std::fs::read_to_string(host.site()).unwrap(), after);
    assert!(host.journal_entries().is_empty());
}
