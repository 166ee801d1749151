//! The real PostgreSQL image a droplet's `db` service runs, built without a registry by
//! `scripts/postgres-image.sh` (a debootstrap'd Debian root with Debian's postgresql-15,
//! cached by a tag that names its inputs), and a `db` service of it in a test's project.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::docker::Project;

/// The password of the test databases: a test value, never a real secret.
pub const DB_PASSWORD: &str = "odoo-test-password";

/// `odoo-ops-test/postgres:15-HASH`, built once per machine (scripts/test.sh builds it
/// before the tests; a test run on its own builds it here).
pub fn ensure_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres-image.sh");
        let out = Command::new(&script)
            .output()
            .expect("run postgres-image.sh");
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

impl Project {
    /// The compose service `db` on the project's network (reachable as `db` there), with
    /// user `odoo` and database `postgres` as the seeds' compose file sets them; returns
    /// once `pg_isready` answers inside it.
    pub fn run_db(&self) -> String {
        self.run_db_as("db")
    }

    /// As [`Project::run_db`], as compose service `service` (reachable by that name).
    pub fn run_db_as(&self, service: &str) -> String {
        let image = ensure_image();
        let network = self.network();
        let password = format!("POSTGRES_PASSWORD={DB_PASSWORD}");
        let name = self.run(
            service,
            &[
                "--network",
                &network,
                "--network-alias",
                service,
                "-e",
                "POSTGRES_USER=odoo",
                "-e",
                &password,
                "-e",
                "POSTGRES_DB=postgres",
            ],
            image,
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = self.docker(&["exec", &name, "pg_isready", "-q"]);
            if ready.status.success() {
                return name;
            }
            assert!(
                Instant::now() < deadline,
                "the db container never became ready: {}",
                String::from_utf8_lossy(&self.docker(&["logs", &name]).stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `psql -At` in the db container as `odoo`; its stdout.
    pub fn psql(&self, db_container: &str, database: &str, sql: &str) -> String {
        let out = self.docker(&[
            "exec",
            db_container,
            "psql",
            "-U",
            "odoo",
            "-d",
            database,
            "-Atc",
            sql,
        ]);
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
