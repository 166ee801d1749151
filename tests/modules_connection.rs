//! `odoo-ops modules` for an Odoo that runs on the host as a process (the stand-in, run
//! directly with its odoo.conf): its database is no container of a compose project, so
//! the module tables are read through a PostgreSQL connection with odoo.conf's
//! `db_host`/`db_port`/`db_user`/`db_password` (nothing typed), to a real PostgreSQL on
//! loopback that demands the password (SCRAM), locally and through a real sshd.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::odoo_db::{TOTAL, UNINSTALLABLE, UNINSTALLED};
use support::postgres::Postgres;
use support::sshd::Sshd;
use support::standin::{Standin, StandinOptions};

const DB: &str = "odoo";
const PASSWORD: &str = "Pg-s3cret-7f1c9e";

/// A host PostgreSQL holding Odoo's tables (`web` left `to upgrade` by a crashed run),
/// and the stand-in running on the host with an odoo.conf pointing at it.
struct HostOdoo {
    pg: Postgres,
    odoo: Standin,
    cwd: tempfile::TempDir,
}

impl HostOdoo {
    fn start() -> HostOdoo {
        let pg = Postgres::start_with_auth(PASSWORD, "scram-sha-256");
        pg.create_odoo_db(DB);
        pg.psql(
            DB,
            "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'web'",
        );
        let odoo = Standin::start(StandinOptions {
            db_host: "127.0.0.1".into(),
            db_port: Some(pg.port),
            db_name: Some(DB.into()),
            db_password: Some(PASSWORD.into()),
            ..Default::default()
        });
        HostOdoo {
            pg,
            odoo,
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn conf(&self) -> std::path::PathBuf {
        self.odoo.dir.path().join("odoo.conf")
    }

    /// `odoo-ops modules ARGS --odoo-conf CONF`, with `home` as HOME (an ssh config there
    /// for `--host droplet`).
    fn cli(&self, conf: &Path, home: &Path, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("120")
            .arg(env!("CARGO_BIN_EXE_odoo-ops"))
            .arg("modules")
            .args(args)
            .arg("--odoo-conf")
            .arg(conf)
            .current_dir(self.cwd.path())
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
fn a_host_process_odoos_modules_are_read_through_a_connection_with_odoo_confs_password() {
    let host = HostOdoo::start();
    let out = host.cli(&host.conf(), host.cwd.path(), &["--json"]);
    // A module is pending: exit 1.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains(PASSWORD), "{}", text(&out));
    let json = json(&out);
    assert_eq!(json["database"], DB);
    assert_eq!(json["modules"].as_array().unwrap().len(), TOTAL);
    assert_eq!(json["counts"]["installed"], 11);
    assert_eq!(json["counts"]["to upgrade"], 1);
    assert_eq!(json["counts"]["uninstalled"], UNINSTALLED);
    assert_eq!(json["counts"]["uninstallable"], UNINSTALLABLE);
    assert_eq!(json["pending"], serde_json::json!(["web"]));
    assert_eq!(json["modules"][0]["name"], "web", "pending first");
    let access = json["access"].as_str().unwrap();
    assert!(
        access.starts_with(&format!(
            "PostgreSQL connection to 127.0.0.1:{} -U odoo -d odoo through local",
            host.pg.port
        )),
        "{access}"
    );
    assert!(
        access.contains("database from odoo.conf db_name"),
        "{access}"
    );
    let project = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "project")
        .unwrap();
    assert_eq!(project["application"], true);
    assert!(
        project["depends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "mail"),
        "{project}"
    );
    // No container to read the addons from: said, not failed.
    assert!(
        json["disk_error"].as_str().unwrap().contains("host"),
        "{json}"
    );

    let out = host.cli(&host.conf(), host.cwd.path(), &[]);
    let shown = text(&out);
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(
        shown.contains("read by   PostgreSQL connection to 127.0.0.1:"),
        "{shown}"
    );

    // Installs need a one-off container of the running image: refused in a sentence.
    let out = host.cli(
        &host.conf(),
        host.cwd.path(),
        &["install", "project", "--yes", "--no-backup"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("Odoo runs on the host as a process"),
        "{}",
        text(&out)
    );
    assert_eq!(
        host.pg.psql(
            DB,
            "SELECT state FROM ir_module_module WHERE name = 'project'"
        ),
        "uninstalled\n"
    );
}

#[test]
fn reading_states_over_the_ssh_target_works_the_same_as_locally() {
    let host = HostOdoo::start();
    let sshd = Sshd::start();
    let home = sshd.client_home(host.cwd.path());

    let local = host.cli(&host.conf(), host.cwd.path(), &["--json"]);
    let remote = host.cli(&host.conf(), &home, &["--json", "--host", "droplet"]);
    assert_eq!(remote.status.code(), Some(1), "{}", text(&remote));
    assert!(!text(&remote).contains(PASSWORD), "{}", text(&remote));
    let (local, remote) = (json(&local), json(&remote));
    assert_eq!(remote["modules"], local["modules"]);
    assert_eq!(remote["counts"], local["counts"]);
    assert_eq!(remote["modules"].as_array().unwrap().len(), TOTAL);
    let access = remote["access"].as_str().unwrap();
    assert!(
        access.starts_with(&format!(
            "PostgreSQL connection to 127.0.0.1:{} -U odoo -d odoo through ",
            host.pg.port
        )) && !access.contains("through local")
            && access.contains(&sshd.port.to_string()),
        "{access}"
    );
}

#[test]
fn a_wrong_db_password_names_odoo_confs_db_user_and_db_host_not_the_password() {
    let host = HostOdoo::start();
    let wrong = "Wr0ng-pw-c0d3";
    let conf = host.cwd.path().join("odoo.conf");
    std::fs::write(
        &conf,
        std::fs::read_to_string(host.conf())
            .unwrap()
            .replace(PASSWORD, wrong),
    )
    .unwrap();
    let out = host.cli(&conf, host.cwd.path(), &["--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = text(&out);
    assert!(
        !shown.contains(wrong) && !shown.contains(PASSWORD),
        "{shown}"
    );
    assert!(
        shown.contains("db_user `odoo`") && shown.contains("db_host `127.0.0.1`"),
        "{shown}"
    );
    assert!(
        shown.contains("password authentication failed") && shown.contains("db_password"),
        "{shown}"
    );
}
