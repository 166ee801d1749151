//! A Debian or Ubuntu host's file system as the packaged nginx leaves it, under a temp root:
//! the package's `/etc/nginx/nginx.conf` (its paths moved under the root) including
//! `conf.d/*.conf` and `sites-enabled/*`, its default site, and only the directories the
//! packages create: `/var/log/nginx`, `/var/lib/nginx`, `/var/www/html`, and base-files'
//! `/var/cache`. Not `/var/cache/nginx`: nginx.org's packages create it, Debian's and
//! Ubuntu's do not. For `nginx -t` and `nginx -T` as the diagnosis runs them (nothing listens).

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use super::tls::TestCert;

pub struct DebianHost {
    pub root: tempfile::TempDir,
}

/// Debian 12's `sites-available/default`, as shipped (comments left out).
const DEFAULT_SITE: &str = "server {
	listen 80 default_server;
	listen [::]:80 default_server;
	root {r}/var/www/html;
	index index.html index.htm index.nginx-debian.html;
	server_name _;
	location / {
		try_files $uri $uri/ =404;
	}
}
";

impl DebianHost {
    pub fn new() -> DebianHost {
        let host = DebianHost {
            root: tempfile::tempdir().unwrap(),
        };
        for dir in [
            "etc/nginx/conf.d",
            "etc/nginx/modules-enabled",
            "etc/nginx/sites-available",
            "etc/nginx/sites-enabled",
            "run",
            "var/cache",
            "var/lib/nginx",
            "var/log/nginx",
            "var/www/html",
        ] {
            std::fs::create_dir_all(host.root.path().join(dir)).unwrap();
        }
        std::fs::copy("/etc/nginx/mime.types", host.file("/etc/nginx/mime.types"))
            .expect("nginx's mime.types (apt-get install nginx)");
        std::fs::write(host.nginx_conf(), host.main_conf()).unwrap();
        host.enable_site("default", &DEFAULT_SITE.replace("{r}", &host.path("")));
        host
    }

    /// `abs`, an absolute path on a real host, under the root.
    pub fn path(&self, abs: &str) -> String {
        format!("{}{abs}", self.root.path().display())
    }

    pub fn file(&self, abs: &str) -> PathBuf {
        PathBuf::from(self.path(abs))
    }

    pub fn nginx_conf(&self) -> PathBuf {
        self.file("/etc/nginx/nginx.conf")
    }

    /// Debian 12's nginx.conf (comments left out). No `user www-data`: the test need not
    /// have that user; the package's compiled-in temp paths are spelled out under the root.
    fn main_conf(&self) -> String {
        let r = self.path("");
        format!(
            "pid {r}/run/nginx.pid;
error_log {r}/var/log/nginx/error.log;
include {r}/etc/nginx/modules-enabled/*.conf;
events {{
	worker_connections 768;
}}
http {{
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include {r}/etc/nginx/mime.types;
	default_type application/octet-stream;
	ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
	ssl_prefer_server_ciphers on;
	access_log {r}/var/log/nginx/access.log;
	gzip on;
	client_body_temp_path {r}/var/lib/nginx/body;
	proxy_temp_path {r}/var/lib/nginx/proxy;
	fastcgi_temp_path {r}/var/lib/nginx/fastcgi;
	uwsgi_temp_path {r}/var/lib/nginx/uwsgi;
	scgi_temp_path {r}/var/lib/nginx/scgi;
	include {r}/etc/nginx/conf.d/*.conf;
	include {r}/etc/nginx/sites-enabled/*;
}}
"
        )
    }

    /// The site in `sites-available/NAME`, linked from `sites-enabled/NAME` as the seeds'
    /// runbooks do (`ln -s /etc/nginx/sites-available/NAME /etc/nginx/sites-enabled/`).
    pub fn enable_site(&self, name: &str, text: &str) -> PathBuf {
        let available = self.file(&format!("/etc/nginx/sites-available/{name}"));
        std::fs::write(&available, text).unwrap();
        let enabled = self.file(&format!("/etc/nginx/sites-enabled/{name}"));
        let _ = std::fs::remove_file(&enabled);
        symlink(&available, &enabled).unwrap();
        available
    }

    /// What certbot leaves for `domain`: `cert`'s chain and key as
    /// `/etc/letsencrypt/live/DOMAIN/fullchain.pem` and `privkey.pem`.
    pub fn install_certificate(&self, domain: &str, cert: &TestCert) {
        let live = self.file(&format!("/etc/letsencrypt/live/{domain}"));
        std::fs::create_dir_all(&live).unwrap();
        std::fs::copy(&cert.fullchain, live.join("fullchain.pem")).unwrap();
        std::fs::copy(&cert.key, live.join("privkey.pem")).unwrap();
    }
}
