//! A droplet's stack on real parts for deploy tests: a Debian-layout nginx proxying to
//! the Odoo stand-in's release A (compose's `odoo` service labels) on free loopback ports,
//! the real PostgreSQL container as `db`, the compose file and `.env` as odoo-ops renders
//! them; and a load generator counting failed requests through nginx.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use odoo_ops::deploy::switch::SwitchRequest;
use odoo_ops::deploy::switch_clone::{PortPair, Slots};
use odoo_ops::nginx::NginxInvocation;
use odoo_ops::workflow::StateDirs;

use super::docker::Project;
use super::nginx::{DebianSite, Nginx};
use super::ports::free_port;
use super::rawhttp;
use super::standin::{self, IMAGE_REPO, RELEASES};

pub const DOMAIN: &str = "erp.example.com";
pub const SITE: &str = "odoo";
/// The path every request asks for: Odoo's health with the database check, so a request
/// that reached an Odoo without its database counts as failed too.
pub const PROBE: &str = "/web/health?db_server_status=1";

/// The seeds' site, plain HTTP, with the upstream that answered in a response header
/// (`X-Upstream`): which container served each request, seen from the client's side.
pub fn site_text(port: u16, ports: PortPair) -> String {
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

    proxy_read_timeout 720s;
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;
    add_header X-Upstream $upstream_addr always;

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
",
        http = ports.http,
        gevent = ports.gevent,
    )
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

pub fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

pub fn inspect(container: &str, format: &str) -> Option<String> {
    let out = docker(&["inspect", "-f", format, container]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A droplet's stack: db and odoo (release A on the blue ports) in a compose project,
/// nginx in front, the compose file and `.env` as odoo-ops renders them, a state dir.
pub struct Stack {
    pub project: Project,
    pub nginx: Nginx,
    pub nginx_port: u16,
    pub slots: Slots,
    pub odoo: String,
    pub stack_dir: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub site_before: Vec<u8>,
}

/// Odoo's data directory in the images (`data_dir` of their odoo.conf).
pub const DATA_DIR: &str = "/var/lib/odoo";

impl Stack {
    pub fn new(test: &str) -> Stack {
        Stack::build(test, false)
    }

    /// As a droplet whose Odoo has data to lose: its data_dir on a volume holding a
    /// filestore, its database password on its command line (module runs log in to
    /// PostgreSQL as Odoo does), and business rows beside Odoo's module tables.
    pub fn with_data(test: &str) -> Stack {
        let stack = Stack::build(test, true);
        let db = format!("{}-db-1", stack.project.name);
        stack.project.psql(
            &db,
            "odoo",
            "CREATE TABLE res_partner (id serial PRIMARY KEY, name text, email text,
               note jsonb, logo bytea, created timestamptz DEFAULT now());
             INSERT INTO res_partner (name, email, note, logo)
               SELECT 'Partner ' || i, 'p' || i || '@example.com',
                      jsonb_build_object('i', i, 'tag', 'é€'), decode(md5(i::text), 'hex')
               FROM generate_series(1, 3000) i;
             CREATE TABLE ir_attachment (id serial PRIMARY KEY, name text, store_fname text);
             INSERT INTO ir_attachment (name, store_fname) VALUES
               ('a.pdf', 'ab/ab01'), ('b.png', 'cd/cd02'), ('c.txt', 'cd/cd03');",
        );
        stack.in_volumes(
            "set -e; d=/var/lib/odoo/filestore/odoo; mkdir -p $d/ab $d/cd
             head -c 70000 /dev/urandom > $d/ab/ab01
             printf 'png-bytes' > $d/cd/cd02; printf 'third' > $d/cd/cd03
             chown -R 101:101 /var/lib/odoo",
        );
        stack
    }

    /// `sh -c script` in a throwaway container that mounts the Odoo container's volumes
    /// (the stand-in's image has no shell); its stdout.
    pub fn in_volumes(&self, script: &str) -> String {
        let out = docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--volumes-from",
            &self.odoo,
            "--entrypoint",
            "sh",
            super::pg_image::ensure_image(),
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

    /// The db container's name.
    pub fn db(&self) -> String {
        format!("{}-db-1", self.project.name)
    }

    /// Every public table of `database`: its row count and an md5 of all its rows in order.
    pub fn fingerprint(&self, database: &str) -> Vec<String> {
        let db = self.db();
        let tables = self.project.psql(
            &db,
            database,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        tables
            .lines()
            .map(|t| {
                let row = self.project.psql(
                    &db,
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

    /// Every file under the filestore of `database`: path, owner, md5.
    pub fn filestore(&self, database: &str) -> String {
        self.in_volumes(&format!(
            "cd {DATA_DIR}/filestore/{database} && find . -type f | sort | \
             while read f; do echo \"$f $(stat -c %u:%g \"$f\") $(md5sum < \"$f\")\"; done"
        ))
    }

    fn build(test: &str, data: bool) -> Stack {
        let images = standin::ensure_release_images();
        let project = Project::new(test);
        let db = project.run_db();
        // Odoo's database, served by name (`-d`) as a compose file's command does: the
        // deploy's gates look for its registry and its modules.
        project.create_odoo_db(&db, "odoo");
        let network = project.network();
        let slots = Slots {
            blue: PortPair {
                http: free_port(),
                gevent: free_port(),
            },
            green: PortPair {
                http: free_port(),
                gevent: free_port(),
            },
        };
        let http = format!("127.0.0.1:{}:8069", slots.blue.http);
        let gevent = format!("127.0.0.1:{}:8072", slots.blue.gevent);
        let mut options = vec![
            "--network",
            &network,
            "--network-alias",
            "odoo",
            "-p",
            &http,
            "-p",
            &gevent,
            "--restart",
            "unless-stopped",
            "--stop-timeout",
            "10",
            "-e",
            "HOST=db",
        ];
        let mut command = vec!["-c", "/etc/odoo/odoo.conf", "-d", "odoo"];
        let password = format!("--db_password={}", super::pg_image::DB_PASSWORD);
        if data {
            options.extend(["-v", DATA_DIR]);
            command.push(&password);
        }
        let odoo = project.run_with_command("odoo", &options, &images[0], &command);
        wait_healthy(slots.blue.http, &odoo);
        let nginx_port = free_port();
        let text = site_text(nginx_port, slots.blue);
        let nginx = Nginx::start_debian(
            &[DebianSite {
                name: SITE,
                text: &text,
            }],
            &[],
            &[nginx_port],
        );
        let stack_dir = tempfile::tempdir().unwrap();
        let options = odoo_ops::stack::StackOptions::new(
            odoo_ops::stack::Domain::parse(DOMAIN).unwrap(),
            *odoo_ops::stack::DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        std::fs::write(
            stack_dir.path().join("docker-compose.yml"),
            odoo_ops::stack::compose::render(&options),
        )
        .unwrap();
        let env = format!(
            "ODOO_IMAGE={IMAGE_REPO}\nODOO_TAG={}\nODOO_HTTP_PORT={}\nODOO_GEVENT_PORT={}\nPOSTGRES_PASSWORD={}\n",
            RELEASES[0],
            slots.blue.http,
            slots.blue.gevent,
            super::pg_image::DB_PASSWORD
        );
        let env_path = stack_dir.path().join(".env");
        std::fs::write(&env_path, env).unwrap();
        std::fs::set_permissions(
            &env_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Stack {
            project,
            nginx,
            nginx_port,
            slots,
            odoo,
            stack_dir,
            state: tempfile::tempdir().unwrap(),
            site_before: text.into_bytes(),
        }
    }

    pub fn env_path(&self) -> PathBuf {
        self.stack_dir.path().join(".env")
    }

    pub fn request(&self, tag: &str) -> SwitchRequest {
        let mut r = SwitchRequest::new(
            &self.project.name,
            tag,
            self.env_path(),
            self.stack_dir.path().join("docker-compose.yml"),
            NginxInvocation {
                binary: "nginx".into(),
                conf: Some(self.nginx.path().join("nginx.conf")),
                prefix: Some(PathBuf::from(format!("{}/", self.nginx.path().display()))),
                ..Default::default()
            },
        );
        r.slots = self.slots;
        r.domain = Some(DOMAIN.into());
        r.ready_timeout = Duration::from_secs(60);
        r.drain_timeout = Duration::from_secs(20);
        r
    }

    pub fn dirs(&self) -> StateDirs {
        StateDirs::under(&self.state.path().join("odoo-ops"))
    }

    /// The service's containers, by compose's labels (what `docker compose ps` lists).
    pub fn service_containers(&self) -> Vec<String> {
        let project = format!("label=com.docker.compose.project={}", self.project.name);
        let out = docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "-q",
            "--filter",
            &project,
            "--filter",
            "label=com.docker.compose.service=odoo",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    #[track_caller]
    pub fn assert_site_is_a_link_and_valid(&self) {
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
        let t = self.nginx.debian_test();
        assert!(
            t.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&t.stderr)
        );
    }
}

/// Wait until Odoo answers its health with the database on `port`.
pub fn wait_healthy(port: u16, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = rawhttp::try_request(port, "GET", PROBE, &[], b"", Duration::from_secs(5))
            && r.status == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{container} never became healthy: {}",
            String::from_utf8_lossy(&docker(&["logs", container]).stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One request through nginx: its number, and the upstream that answered or what failed.
#[derive(Debug, Clone)]
pub struct Sent {
    pub n: usize,
    pub outcome: Result<String, String>,
}

/// Requests through nginx one after another, each on its own connection, until stopped
/// (at most 3 minutes or 20 000 requests: bounded whatever happens).
pub struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sent>>,
}

impl Load {
    pub fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut sent = Vec::new();
            while !flag.load(Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(180)
                && sent.len() < 20_000
            {
                let n = sent.len();
                let path = format!("{PROBE}&probe={n}");
                let outcome = match rawhttp::try_request(
                    port,
                    "GET",
                    &path,
                    &[("Host", DOMAIN)],
                    b"",
                    Duration::from_secs(30),
                ) {
                    Ok(r) if r.status == 200 => {
                        Ok(r.header("X-Upstream").unwrap_or("?").to_string())
                    }
                    Ok(r) => Err(format!("{} {}", r.status, r.text().trim())),
                    Err(e) => Err(e.to_string()),
                };
                sent.push(Sent { n, outcome });
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        });
        Load { stop, thread }
    }

    pub fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

pub fn failures(sent: &[Sent]) -> Vec<&Sent> {
    sent.iter().filter(|s| s.outcome.is_err()).collect()
}
