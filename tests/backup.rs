//! Backup and restore against the real parts: the PostgreSQL image as the compose
//! service `db` (pg_dump and psql run inside it, as on a droplet) and the Odoo stand-in
//! as `odoo` with its data_dir on a volume holding a filestore. What is checked is what an
//! operator relies on: the zip is Odoo's format, its checksums hold, a restore brings back
//! every table's rows and every filestore file as they were at backup time, the replaced
//! database is kept, a damaged backup or a failed check changes nothing, retention keeps N.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use odoo_ops::backup::{self, RestoreOptions, Stack, StackSpec};
use support::docker::Project;
use support::pg_image;

const DB: &str = "shop";

/// The stack: db, and the stand-in as odoo with an (anonymous) volume at /var/lib/odoo
/// holding `filestore/shop`, owned by uid 101 as in Odoo's image.
struct Fixture {
    project: Project,
    db: String,
    odoo: String,
}

fn sh_in_volumes(project: &Project, odoo: &str, script: &str) -> String {
    let out = project.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--volumes-from",
        odoo,
        "--entrypoint",
        "sh",
        pg_image::ensure_image(),
        "-c",
        script,
    ]);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let project = Project::new(test);
        let db = project.run_db();
        let network = project.network();
        let image = support::standin::ensure_image(support::standin::RELEASES[0]);
        let odoo = project.run(
            "odoo",
            &["--network", &network, "-v", "/var/lib/odoo"],
            &image,
        );
        let f = Fixture { project, db, odoo };
        f.psql("postgres", &format!("CREATE DATABASE {DB}"));
        f.psql(
            DB,
            "CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL, \
               state varchar, latest_version varchar);
             INSERT INTO ir_module_module (name, state, latest_version) VALUES
               ('base', 'installed', '18.0.1.3'), ('web', 'installed', '18.0.1.0'),
               ('project', 'installed', '18.0.1.3'), ('sale', 'uninstalled', NULL);
             CREATE TABLE res_partner (id serial PRIMARY KEY, name text, email text,
               note jsonb, logo bytea, created timestamptz DEFAULT now());
             INSERT INTO res_partner (name, email, note, logo)
               SELECT 'Partner ' || i, 'p' || i || '@example.com',
                      jsonb_build_object('i', i, 'tag', 'é€'), decode(md5(i::text), 'hex')
               FROM generate_series(1, 2000) i;
             CREATE TABLE ir_attachment (id serial PRIMARY KEY, name text, store_fname text);
             INSERT INTO ir_attachment (name, store_fname) VALUES
               ('a.pdf', 'ab/ab01'), ('b.png', 'cd/cd02'), ('c.txt', 'cd/cd03');
             CREATE INDEX res_partner_email ON res_partner (email);",
        );
        sh_in_volumes(
            &f.project,
            &f.odoo,
            "set -e; d=/var/lib/odoo/filestore/shop; mkdir -p $d/ab $d/cd
             head -c 70000 /dev/urandom > $d/ab/ab01
             printf 'png-bytes' > $d/cd/cd02; printf 'third' > $d/cd/cd03
             chown -R 101:101 /var/lib/odoo",
        );
        f
    }

    fn psql(&self, database: &str, sql: &str) -> String {
        self.project.psql(&self.db, database, sql)
    }

    /// Every public table: its row count and an md5 of all its rows in order.
    fn fingerprint(&self, database: &str) -> Vec<String> {
        let tables = self.psql(
            database,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        tables
            .lines()
            .map(|t| {
                let row = self.psql(
                    database,
                    &format!(
                        "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' \
                         ORDER BY t::text)), '-') FROM {t} t"
                    ),
                );
                format!("{t} {}", row.trim())
            })
            .collect()
    }

    /// Every file under filestore/DATABASE: path, owner, md5.
    fn filestore(&self, database: &str) -> String {
        sh_in_volumes(
            &self.project,
            &self.odoo,
            &format!(
                "cd /var/lib/odoo/filestore/{database} && find . -type f | sort | \
                 while read f; do echo \"$f $(stat -c %u:%g \"$f\") $(md5sum < \"$f\")\"; done"
            ),
        )
    }

    fn databases(&self) -> Vec<String> {
        self.psql(
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    fn started_at(&self) -> String {
        let out = self.project.docker(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.StartedAt}}",
            &self.odoo,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_odoo-ops"))
            .args(args)
            .args(["--compose-project", &self.project.name, "--db", DB])
            .env("XDG_CONFIG_HOME", "/nonexistent-odoo-ops-test")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn backup_cli(&self, dir: &Path, keep: &str) -> serde_json::Value {
        let (code, out, err) = self.cli(&[
            "backup",
            "--dir",
            dir.to_str().unwrap(),
            "--keep",
            keep,
            "--json",
        ]);
        assert_eq!(code, 0, "backup failed: {err}");
        serde_json::from_str(&out).unwrap()
    }

    fn stack(&self) -> Stack {
        let rt = runtime();
        rt.block_on(async {
            let docker = bollard::Docker::connect_with_local_defaults().unwrap();
            Stack::find(docker, &StackSpec::new(&self.project.name))
                .await
                .unwrap()
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn zip_names(path: &Path) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .collect()
}

fn zip_entry(path: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut bytes = Vec::new();
    zip.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `odoo.service.db.restore_db` does with a zip before psql: Python's zipfile opens
/// it, reads the manifest, extracts `dump.sql` and `filestore/`.
const ODOO_RESTORE_PY: &str = r#"
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
m = json.loads(z.read('manifest.json'))
fs = [n for n in z.namelist() if n.startswith('filestore/')]
z.extractall(sys.argv[2], ['dump.sql'] + fs)
print(m['db_name'], len(fs))
"#;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_backup_restores_every_row_and_file_as_it_was_and_keeps_the_replaced_database() {
    let f = Fixture::new("backup-restore");
    let before_rows = f.fingerprint(DB);
    let before_files = f.filestore(DB);
    assert_eq!(before_files.lines().count(), 3, "{before_files}");
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("backups");

    let t = Instant::now();
    let report = f.backup_cli(&dir, "5");
    let backup_wall = t.elapsed();
    let zip_path = PathBuf::from(report["path"].as_str().unwrap());
    assert!(
        zip_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("shop_"),
        "{zip_path:?}"
    );
    assert_eq!(mode(&dir), 0o700, "the backup dir is private");
    assert_eq!(mode(&zip_path), 0o600, "the backup is private");

    // Odoo's layout: dump.sql, manifest.json, filestore/XX/NAME.
    let mut names = zip_names(&zip_path);
    names.sort();
    assert_eq!(
        names,
        [
            "dump.sql",
            "filestore/ab/ab01",
            "filestore/cd/cd02",
            "filestore/cd/cd03",
            "manifest.json"
        ]
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&zip_entry(&zip_path, "manifest.json")).unwrap();
    assert_eq!(manifest["odoo_dump"], "1");
    assert_eq!(manifest["db_name"], DB);
    assert_eq!(manifest["version"], "18.0");
    assert_eq!(manifest["major_version"], "18.0");
    assert_eq!(
        manifest["version_info"],
        serde_json::json!([18, 0, 0, "final", 0, ""])
    );
    assert_eq!(manifest["pg_version"], "15.0");
    assert_eq!(
        manifest["modules"],
        serde_json::json!({"base": "18.0.1.3", "project": "18.0.1.3", "web": "18.0.1.0"}),
        "installed modules only"
    );
    let dump = zip_entry(&zip_path, "dump.sql");
    let dump_text = String::from_utf8_lossy(&dump);
    assert!(dump_text.contains("CREATE TABLE public.res_partner"));
    // The closing comment, followed since PostgreSQL 15.14 by pg_dump's `\unrestrict KEY`.
    let end = String::from_utf8_lossy(&dump[dump.len().saturating_sub(200)..]);
    assert!(
        end.contains("--\n-- PostgreSQL database dump complete\n--\n"),
        "{end}"
    );
    assert!(!dump_text.contains("OWNER TO"), "no owners, as Odoo dumps");

    // The checksums file says what sha256sum would.
    let sums_path = PathBuf::from(report["checksums_path"].as_str().unwrap());
    assert_eq!(mode(&sums_path), 0o600);
    let sums: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sums_path).unwrap()).unwrap();
    let zip_bytes = std::fs::read(&zip_path).unwrap();
    assert_eq!(sums["zip"]["sha256"], sha256_hex(&zip_bytes));
    assert_eq!(sums["zip"]["size"], zip_bytes.len() as u64);
    assert_eq!(sums["dump_sql"]["sha256"], sha256_hex(&dump));
    assert_eq!(sums["dump_sql"]["size"], dump.len() as u64);
    assert_eq!(sums["filestore_files"], 3);
    assert_eq!(sums["filestore_bytes"], 70_000 + 9 + 5);

    // Odoo's own restore reads it: Python's zipfile as in `odoo.service.db.restore_db`
    // (extract dump.sql and filestore/, then `psql -q -f dump.sql`).
    let extracted = base.path().join("odoo-way");
    let py = Command::new("python3")
        .arg("-c")
        .arg(ODOO_RESTORE_PY)
        .arg(&zip_path)
        .arg(&extracted)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "shop 3");
    let load = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker exec {db} createdb -U odoo odoo_way && \
             docker exec -i {db} psql -U odoo -q -d odoo_way < {dump} >/dev/null",
            db = f.db,
            dump = extracted.join("dump.sql").display()
        ))
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    assert_eq!(
        f.fingerprint("odoo_way"),
        before_rows,
        "Odoo's way loads it whole"
    );
    f.psql("postgres", "DROP DATABASE odoo_way");

    // Life goes on: rows changed and deleted, a table added, files deleted and added.
    f.psql(
        DB,
        "DELETE FROM res_partner WHERE id % 3 = 0;
         UPDATE res_partner SET email = 'changed' WHERE id < 10;
         UPDATE ir_module_module SET state = 'installed', latest_version = '18.0.1.0' \
           WHERE name = 'sale';
         CREATE TABLE later (x int); INSERT INTO later VALUES (1);",
    );
    sh_in_volumes(
        &f.project,
        &f.odoo,
        "set -e; d=/var/lib/odoo/filestore/shop; rm $d/ab/ab01; echo new > $d/cd/cd09",
    );
    let changed_rows = f.fingerprint(DB);
    let changed_files = f.filestore(DB);
    assert_ne!(changed_rows, before_rows);

    // An operator's session left open on the database: the swap ends it rather than fail.
    let session = f.project.docker(&[
        "exec",
        "-d",
        &f.db,
        "psql",
        "-U",
        "odoo",
        "-d",
        DB,
        "-c",
        "SELECT pg_sleep(300)",
    ]);
    assert!(session.status.success());
    let odoo_started = f.started_at();

    let t = Instant::now();
    let (code, out, err) = f.cli(&["restore", zip_path.to_str().unwrap(), "--yes", "--json"]);
    let restore_wall = t.elapsed();
    assert_eq!(code, 0, "restore failed: {out}\n{err}");
    let restored: serde_json::Value = serde_json::from_str(&out).unwrap();

    assert_eq!(
        f.fingerprint(DB),
        before_rows,
        "every table as at backup time"
    );
    assert_eq!(f.filestore(DB), before_files, "every file, with its owner");
    let kept = restored["kept_db"].as_str().unwrap().to_string();
    assert!(kept.starts_with("shop_before_restore_"), "{kept}");
    assert_eq!(
        f.fingerprint(&kept),
        changed_rows,
        "the replaced database is kept"
    );
    assert_eq!(f.filestore(&kept), changed_files, "and its filestore");
    let dbs = f.databases();
    assert!(
        !dbs.iter().any(|d| d.starts_with("shop_restore_")),
        "no restore copy left under its temporary name: {dbs:?}"
    );
    assert!(
        f.started_at().starts_with("true "),
        "Odoo runs again: {}",
        f.started_at()
    );
    assert_ne!(
        f.started_at(),
        odoo_started,
        "Odoo was stopped for the swap"
    );

    // Informal figures (real benchmarks are elsewhere): the same database through plain
    // pg_dump -Fc and pg_restore in the db container.
    let t = Instant::now();
    let plain = f.project.docker(&[
        "exec",
        &f.db,
        "sh",
        "-c",
        "pg_dump -U odoo -Fc shop > /tmp/plain.dump && createdb -U odoo plain_copy && \
         pg_restore -U odoo -d plain_copy /tmp/plain.dump",
    ]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    eprintln!(
        "informal: odoo-ops backup {:.2} s + restore {:.2} s (CLI wall, with the filestore \
         and the checks) vs plain pg_dump -Fc + pg_restore {:.2} s",
        backup_wall.as_secs_f64(),
        restore_wall.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn a_damaged_backup_or_a_failed_check_changes_nothing() {
    let f = Fixture::new("backup-damaged");
    let dir = tempfile::tempdir().unwrap();
    let report = f.backup_cli(dir.path(), "5");
    let good = PathBuf::from(report["path"].as_str().unwrap());
    let rows = f.fingerprint(DB);
    let files = f.filestore(DB);
    let dbs = f.databases();
    let odoo_started = f.started_at();

    // A truncated copy (a transfer cut short): refused before anything is touched.
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("shop_truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (code, out, err) = f.cli(&["restore", truncated.to_str().unwrap(), "--yes"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("not a readable zip"), "{err}");
    // A copy altered after it was written: its checksums file no longer matches.
    let mut altered = bytes.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0xff;
    std::fs::write(&good, &altered).unwrap();
    let (code, _, err) = f.cli(&["restore", good.to_str().unwrap(), "--yes"]);
    assert_eq!(code, 2, "{err}");
    std::fs::write(&good, &bytes).unwrap();

    // Without --yes and without a terminal to ask on: not tried.
    let (code, _, err) = f.cli(&["restore", good.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("re-run with --yes"), "{err}");

    assert_eq!(f.databases(), dbs, "no database made or renamed");
    assert_eq!(f.fingerprint(DB), rows);
    assert_eq!(f.filestore(DB), files);
    assert_eq!(f.started_at(), odoo_started, "Odoo never stopped");

    // The copy loads, but deploy's gate fails it: dropped, and the rest as it was.
    let stack = f.stack();
    let options = RestoreOptions {
        db: DB.into(),
        backup: good.clone(),
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let result = runtime().block_on(backup::restore(&stack, &options, |stack, new| {
        let seen = seen.clone();
        async move {
            // The gate sees the loaded copy: its rows are there.
            let count = stack.psql(&new, "SELECT count(*) FROM res_partner").await?;
            *seen.lock().unwrap() = Some((new, count.trim().to_string()));
            Err(color_eyre::eyre::eyre!("gate: login page answered 500"))
        }
    }));
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("gate: login page answered 500"), "{err}");
    let (new, count) = seen.lock().unwrap().clone().unwrap();
    assert!(new.starts_with("shop_restore_"), "{new}");
    assert_eq!(count, "2000");
    assert_eq!(
        f.databases(),
        dbs,
        "the loaded copy was dropped, nothing else"
    );
    assert_eq!(f.fingerprint(DB), rows);
    assert_eq!(f.filestore(DB), files);
    let left = sh_in_volumes(&f.project, &f.odoo, "ls /var/lib/odoo/filestore");
    assert_eq!(left.trim(), DB, "the copy's filestore was removed too");
    assert_eq!(f.started_at(), odoo_started, "Odoo never stopped");
}

#[test]
fn retention_keeps_the_newest_backups() {
    let f = Fixture::new("backup-retention");
    let dir = tempfile::tempdir().unwrap();
    // A backup of another database in the same directory is not counted nor removed.
    let other = dir.path().join("other_2020-01-01_00-00-00.zip");
    std::fs::write(&other, b"not ours").unwrap();
    let mut made = Vec::new();
    for _ in 0..3 {
        let report = f.backup_cli(dir.path(), "2");
        made.push(PathBuf::from(report["path"].as_str().unwrap()));
        // Names carry the second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert!(!made[0].exists(), "the oldest was removed");
    assert!(made[1].exists() && made[2].exists());
    let first_sums = made[0].with_file_name(format!(
        "{}.sha256.json",
        made[0].file_name().unwrap().to_string_lossy()
    ));
    assert!(!first_sums.exists(), "with its checksums file");
    assert!(other.exists());
}
