//! `odoo-ops render` as a user runs it: files and modes, secrets kept across renders,
//! odoo.conf read back, updates shown as diffs and written only with consent (backups
//! kept), and bad input refused with nothing written.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use odoo_ops::odoo::conf::OdooConf;
use odoo_ops::stack::{Domain, DropletSize, StackOptions, odoo_conf, passlib, secrets};

fn render(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
        .arg("render")
        .args(args)
        .env("ODOO_OPS_STATE_DIR", state_dir(args))
        .stdin(Stdio::null())
        .output()
        .expect("run odoo-ops")
}

/// odoo-ops' journal and backups for a test: beside its `--out` directory, never this
/// machine's /var/lib/odoo-ops.
fn state_dir(args: &[&str]) -> std::path::PathBuf {
    let out = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| Path::new(args[i + 1]))
        .expect("--out");
    out.parent().unwrap().join("odoo-ops-state")
}

/// Every backup odoo-ops kept for the test whose `--out` is `out`.
fn backups(out: &Path) -> Vec<std::path::PathBuf> {
    let root = out.parent().unwrap().join("odoo-ops-state/backups");
    let mut found = Vec::new();
    for change in std::fs::read_dir(root).into_iter().flatten() {
        for f in std::fs::read_dir(change.unwrap().path()).unwrap() {
            found.push(f.unwrap().path());
        }
    }
    found.sort();
    found
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn first_render_writes_four_files_with_the_right_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let o = render(&[
        "--domain",
        "erp.example.com",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = snapshot(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [".env", "docker-compose.yml", "nginx-site.conf", "odoo.conf"]
    );
    assert_eq!(mode(&out.join(".env")), 0o600);
    assert_eq!(mode(&out.join("odoo.conf")), 0o644);
    let env = secrets::parse_env(&read(&out, ".env"));
    for key in [secrets::DB_PASSWORD_KEY, secrets::ADMIN_PASSWORD_KEY] {
        assert_eq!(env[key].len(), 64, "{key}: 32 bytes, hex");
    }
    assert_ne!(
        env[secrets::DB_PASSWORD_KEY],
        env[secrets::ADMIN_PASSWORD_KEY]
    );
    // No secret in what the user sees on the terminal.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stdout.contains(&env[secrets::DB_PASSWORD_KEY]));
    assert!(stdout.contains("created"));
}

#[test]
fn odoo_conf_parses_back_to_the_rendered_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let o = render(&[
        "--domain",
        "erp.example.com",
        "--size",
        "s-4vcpu-8gb",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let conf = OdooConf::parse(&read(&out, "odoo.conf"));
    let env = secrets::parse_env(&read(&out, ".env"));
    let hash = conf.get("admin_passwd").unwrap().to_string();
    assert!(hash.starts_with("$pbkdf2-sha512$600000$"), "{hash}");
    assert!(
        passlib::verify(&env[secrets::ADMIN_PASSWORD_KEY], &hash),
        "the hash is of .env's admin password"
    );
    let options = StackOptions::new(
        Domain::parse("erp.example.com").unwrap(),
        *DropletSize::by_slug("s-4vcpu-8gb").unwrap(),
    );
    let expected = odoo_conf::options(&options, &hash);
    assert_eq!(conf.options.len(), expected.len(), "no key more, none less");
    for (key, value) in &expected {
        assert_eq!(conf.get(key), Some(value.as_str()), "{key}");
    }
    // 2 x 4 + 1 = 9 by CPU; the memory rule keeps 8 at a 512 MiB soft limit.
    assert_eq!(conf.get_u64("workers"), Some(8));
    assert_eq!(conf.get_bool("proxy_mode"), Some(true));
    assert_eq!(conf.get_bool("list_db"), Some(false));
    assert_eq!(conf.get("gevent_port"), Some("8072"));
    assert!(
        conf.get("db_password").is_none(),
        "the DB password stays in .env"
    );
    assert!(conf.get("addons_path").unwrap().contains("/mnt/oca-addons"));
}

#[test]
fn second_render_changes_nothing_and_keeps_the_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let args = [
        "--domain",
        "erp.example.com",
        "--redis",
        "--out",
        out.to_str().unwrap(),
    ];
    assert!(render(&args).status.success());
    let first = snapshot(&out);
    let again = render(&args);
    assert!(again.status.success());
    assert_eq!(snapshot(&out), first, "same bytes, no backups");
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .matches("unchanged")
            .count()
            == 4
    );
}

#[test]
fn changes_are_shown_and_written_only_with_yes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    assert!(
        render(&["--domain", "erp.example.com", "--out", dir])
            .status
            .success()
    );
    let before = snapshot(&out);
    let secrets_before = read(&out, ".env");

    let asked = render(&[
        "--domain",
        "erp.example.com",
        "--size",
        "s-8vcpu-16gb",
        "--out",
        dir,
    ]);
    assert_eq!(asked.status.code(), Some(1), "not written without consent");
    let diff = String::from_utf8_lossy(&asked.stdout);
    assert!(
        diff.contains("\n-workers = 3\n") && diff.contains("\n+workers = 17\n"),
        "{diff}"
    );
    assert!(
        diff.contains("not written: existing files differ; re-run with --yes"),
        "{diff}"
    );
    assert_eq!(snapshot(&out), before, "nothing written");

    let yes = render(&[
        "--domain",
        "erp.example.com",
        "--size",
        "s-8vcpu-16gb",
        "--out",
        dir,
        "--yes",
    ]);
    assert!(
        yes.status.success(),
        "{}",
        String::from_utf8_lossy(&yes.stderr)
    );
    assert!(read(&out, "odoo.conf").contains("workers = 17"));
    assert_eq!(read(&out, ".env"), secrets_before, "secrets and tag kept");
    assert!(
        !snapshot(&out).iter().any(|(n, _)| n.contains("bak")),
        "no backup beside the files"
    );
    let backups = backups(&out);
    assert_eq!(
        backups.len(),
        2,
        "odoo.conf and docker-compose.yml backed up: {backups:?}"
    );
    let conf_backup = backups
        .iter()
        .find(|p| p.to_string_lossy().ends_with("-odoo.conf"))
        .unwrap();
    assert_eq!(
        std::fs::read(conf_backup).unwrap(),
        before.iter().find(|(n, _)| n == "odoo.conf").unwrap().1
    );
}

#[test]
fn a_hand_edit_and_a_loose_env_mode_are_shown_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    assert!(
        render(&["--domain", "erp.example.com", "--out", dir])
            .status
            .success()
    );
    let env_path = out.join(".env");
    std::fs::set_permissions(&env_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = read(&out, ".env");
    std::fs::write(
        &env_path,
        env.replace("ODOO_TAG=18.0", "ODOO_TAG=18.0-20261115"),
    )
    .unwrap();
    std::fs::write(
        out.join("odoo.conf"),
        read(&out, "odoo.conf").replace("workers = 3", "workers = 2"),
    )
    .unwrap();

    let shown = render(&["--domain", "erp.example.com", "--out", dir]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("-workers = 2\n+workers = 3"), "{text}");
    assert!(
        text.contains("mode of") && text.contains(".env becomes 600"),
        "{text}"
    );
    // The deployed tag is kept, and the diff of .env never shows a secret.
    let secret = secrets::parse_env(&env)[secrets::DB_PASSWORD_KEY].clone();
    assert!(!text.contains(&secret));
    let yes = render(&[
        "--domain",
        "erp.example.com",
        "--out",
        dir,
        "--yes",
        "--json",
    ]);
    assert!(yes.status.success());
    let json: serde_json::Value = serde_json::from_slice(&yes.stdout).unwrap();
    assert_eq!(json["written"], true);
    assert_eq!(json["tag"], "18.0-20261115");
    assert!(
        !String::from_utf8_lossy(&yes.stdout).contains(&secret),
        "no secret in JSON"
    );
    assert_eq!(mode(&env_path), 0o600);
    let backups = json["backups"].as_array().unwrap();
    let env_backup = backups
        .iter()
        .map(|b| b.as_str().unwrap())
        .find(|b| b.ends_with("-.env"))
        .unwrap();
    assert_eq!(
        mode(Path::new(env_backup)),
        0o600,
        "the backup of the secrets is not left readable"
    );
    assert!(read(&out, "odoo.conf").contains("workers = 3"));
    assert!(read(&out, ".env").contains("ODOO_TAG=18.0-20261115"));
}

#[test]
fn json_report_describes_files_and_sizing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let o = render(&[
        "--domain",
        "erp.example.com",
        "--size",
        "s-1vcpu-2gb",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success());
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["size"]["slug"], "s-1vcpu-2gb");
    assert_eq!(json["sizing"]["workers"], 1);
    assert_eq!(json["files"].as_array().unwrap().len(), 4);
    assert!(
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["change"] == "create")
    );
    let env = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == ".env")
        .unwrap();
    assert_eq!(env["mode"], 0o600);
}

fn assert_refused(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    assert_refused(
        &render(&["--domain", "erp example.com", "--out", dir]),
        "contains whitespace",
    );
    assert_refused(
        &render(&[
            "--domain",
            "erp.example.com",
            "--size",
            "s-64vcpu-1tb",
            "--out",
            dir,
        ]),
        "unknown size \"s-64vcpu-1tb\"; known sizes: s-1vcpu-2gb",
    );
    assert_refused(
        &render(&[
            "--domain",
            "erp.example.com",
            "--tag",
            "18.0 beta",
            "--out",
            dir,
        ]),
        "--tag",
    );
    assert!(!out.exists(), "no directory created");

    // A directory that cannot be written, even by root: below a regular file, or in /proc.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let below_file = file.join("stack");
    assert_refused(
        &render(&[
            "--domain",
            "erp.example.com",
            "--out",
            below_file.to_str().unwrap(),
        ]),
        "cannot create",
    );
    assert_refused(
        &render(&[
            "--domain",
            "erp.example.com",
            "--out",
            "/proc/self/odoo-stack",
        ]),
        "cannot",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_read_only_stack_dir_keeps_its_files() {
    // Root ignores permission bits, so make the directory unwritable with a read-only bind
    // mount when possible; otherwise use a non-root-owned mode and skip the root case.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    assert!(
        render(&["--domain", "erp.example.com", "--out", dir])
            .status
            .success()
    );
    let before = snapshot(&out);
    let ro = Command::new("mount")
        .args(["--bind", "-o", "ro", dir, dir])
        .status();
    let mounted = ro.map(|s| s.success()).unwrap_or(false);
    if !mounted {
        // Not allowed to mount here (unprivileged container): the other cases cover refusal.
        eprintln!("skipping: cannot bind-mount read-only here");
        return;
    }
    let o = render(&[
        "--domain",
        "erp.example.com",
        "--size",
        "s-8vcpu-16gb",
        "--out",
        dir,
        "--yes",
    ]);
    let _ = Command::new("umount").arg(dir).status();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing was written"));
    assert_eq!(snapshot(&out), before);
}

/// Run under a pseudo-terminal (util-linux `script`), answering the question with `answer`.
fn render_on_a_terminal(args: &[&str], answer: &str) -> Output {
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_odoo-ops").to_string())
        .chain(std::iter::once("render".to_string()))
        .chain(args.iter().map(|a| a.to_string()))
        .collect();
    let mut child = Command::new("script")
        .env("ODOO_OPS_STATE_DIR", state_dir(args))
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn on_a_terminal_the_user_is_asked_and_no_means_no() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    assert!(
        render(&["--domain", "erp.example.com", "--out", dir])
            .status
            .success()
    );
    let before = snapshot(&out);
    let args = [
        "--domain",
        "erp.example.com",
        "--size",
        "s-8vcpu-16gb",
        "--out",
        dir,
    ];

    let no = render_on_a_terminal(&args, "n\n");
    let text = String::from_utf8_lossy(&no.stdout);
    assert!(text.contains("Write 2 file(s) in"), "{text}");
    assert!(
        text.contains("+workers = 17"),
        "the diff comes before the question: {text}"
    );
    assert!(text.contains("not written: not confirmed"), "{text}");
    assert_eq!(snapshot(&out), before);

    let yes = render_on_a_terminal(&args, "y\n");
    assert!(
        yes.status.success(),
        "{}",
        String::from_utf8_lossy(&yes.stdout)
    );
    assert!(read(&out, "odoo.conf").contains("workers = 17"));
}

#[test]
fn every_value_that_reaches_a_file_is_refused_when_it_could_inject_naming_its_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stack");
    let dir = out.to_str().unwrap();
    // A line break and a location that would serve /etc: what used to go into the site.
    let leak = "\n    location /leak { alias /etc/; }\n";
    let cases: &[(&str, &str, &str)] = &[
        ("--cert", "/etc/ssl/odoo.pem", "contains a line break"),
        ("--cert-key", "/etc/ssl/odoo.key", "contains a line break"),
        ("--cache-dir", "/var/cache/odoo", "contains a line break"),
        ("--log-dir", "/var/log/nginx", "contains a line break"),
        ("--acme-root", "/var/www/certbot", "contains a line break"),
        ("--listen-http", "80", "contains a line break"),
        ("--listen-https", "443", "contains a line break"),
        ("--image", "odoo", "is not an image name component"),
        ("--tag", "18.0", "contains a line break"),
        ("--db-name", "odoo", "contains a line break"),
        ("--domain", "erp.example.com", "contains whitespace"),
    ];
    for (flag, good, problem) in cases {
        let value = format!("{good}{leak}");
        let mut args = vec!["--out", dir, flag, &value];
        if *flag != "--domain" {
            args.extend(["--domain", "erp.example.com"]);
        }
        let o = render(&args);
        assert_refused(&o, problem);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
        // The value is shown quoted, the line break as \n, so the error is one line.
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!out.exists(), "{flag}: nothing created");
    }
    // Other values that nginx or Docker would read as syntax, one per kind.
    for (args, problem) in [
        (
            vec!["--cert", "relative/cert.pem"],
            "--cert \"relative/cert.pem\": must be an absolute path",
        ),
        (
            vec!["--log-dir", "/var/log/$host"],
            "--log-dir \"/var/log/$host\": contains '$'",
        ),
        (vec!["--cache-dir", "/var/cache/x;"], "contains ';'"),
        (
            vec!["--listen-https", "443 ssl default_server"],
            "--listen-https \"443 ssl default_server\": contains whitespace",
        ),
        (vec!["--listen-http", "0"], "port 0"),
        (vec!["--http-port", "0"], "--http-port \"0\": port 0"),
        (
            vec!["--gevent-port", "8069"],
            "--gevent-port \"8069\": is also --http-port",
        ),
        (vec!["--image", "odoo:17.0"], "give the tag with --tag"),
        (
            vec!["--tag", "18.0 beta"],
            "--tag \"18.0 beta\": contains whitespace",
        ),
        (
            vec!["--db-name", "odoo;drop"],
            "--db-name \"odoo;drop\": contains ';'",
        ),
    ] {
        let mut all = vec!["--domain", "erp.example.com", "--out", dir];
        all.extend(args);
        assert_refused(&render(&all), problem);
        assert!(!out.exists());
    }
}

#[test]
fn values_kept_from_an_existing_env_are_checked_too_and_secrets_not_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let secret = "pa$$word-kept";
    for (env, problem) in [
        (
            "ODOO_IMAGE=odoo\nODOO_TAG=18.0$(id)\n".to_string(),
            "ODOO_TAG in .env \"18.0$(id)\": contains '$'",
        ),
        (
            "ODOO_IMAGE=Evil/Image\nODOO_TAG=18.0\n".to_string(),
            "ODOO_IMAGE in .env",
        ),
        (
            format!("POSTGRES_PASSWORD={secret}\n"),
            "POSTGRES_PASSWORD in .env \"<redacted>\"",
        ),
    ] {
        std::fs::write(tmp.path().join(".env"), &env).unwrap();
        let o = render(&["--domain", "erp.example.com", "--out", dir, "--yes"]);
        assert_refused(&o, problem);
        assert!(!String::from_utf8_lossy(&o.stderr).contains(secret));
        assert_eq!(read(tmp.path(), ".env"), env, "left as it was");
        assert!(!tmp.path().join("odoo.conf").exists());
    }
}
