//! What a stack is rendered from: the domain, the droplet size and a few choices. Paths and
//! ports default to a droplet's; tests (and unusual hosts) override them here rather than by
//! editing the rendered files.

use serde::Serialize;

use super::domain::Domain;
use super::passlib;
use super::sizing::DropletSize;
use super::values::{self, BadValue, check};

/// Where certbot's webroot plugin writes the ACME challenges and nginx serves them from:
/// the one place cloud-init creates, both nginx sites name and the TLS step gives certbot.
pub const ACME_WEBROOT: &str = "/var/www/certbot";

#[derive(Debug, Clone, Serialize)]
pub struct StackOptions {
    pub domain: Domain,
    pub size: DropletSize,
    /// Add a Redis service (for OCA session/queue modules that use it).
    pub redis: bool,
    /// `None` keeps what `.env` already says, else the official `odoo` / `18.0`.
    pub odoo_image: Option<String>,
    pub odoo_tag: Option<String>,
    /// The one database this stack serves (`dbfilter = ^NAME$`).
    pub db_name: String,
    /// Loopback ports on the host where compose publishes Odoo's 8069 and 8072 and where
    /// nginx sends traffic.
    pub http_port: u16,
    pub gevent_port: u16,
    pub edge: EdgeOptions,
    /// pbkdf2 rounds for the admin password hash (Odoo 18 uses 600 000).
    pub hash_rounds: u32,
}

/// The nginx side.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeOptions {
    /// `listen` values of the plain-HTTP server (redirect and ACME challenge).
    pub listen_http: Vec<String>,
    /// `listen` values of the TLS server (`ssl http2` is appended).
    pub listen_https: Vec<String>,
    pub certificate: String,
    pub certificate_key: String,
    /// Where certbot's webroot plugin writes challenges.
    pub acme_root: String,
    /// nginx's cache of Odoo's static files. nginx creates this directory itself when it
    /// starts or tests its configuration (and gives it to its worker user), but not its
    /// parents: `/var/cache/nginx/odoo` failed `nginx -t` on Debian's and Ubuntu's nginx,
    /// whose packages do not create `/var/cache/nginx` (nginx.org's do). The default sits
    /// directly in `/var/cache`, which every Debian and Ubuntu system has (base-files), so
    /// the site needs nothing created beside it on any of these packages.
    pub cache_dir: String,
    /// Where the site's access and error logs go.
    pub log_dir: String,
}

impl StackOptions {
    pub fn new(domain: Domain, size: DropletSize) -> StackOptions {
        let edge = EdgeOptions {
            listen_http: vec!["80".into(), "[::]:80".into()],
            listen_https: vec!["443".into(), "[::]:443".into()],
            certificate: format!("/etc/letsencrypt/live/{domain}/fullchain.pem"),
            certificate_key: format!("/etc/letsencrypt/live/{domain}/privkey.pem"),
            acme_root: ACME_WEBROOT.into(),
            cache_dir: "/var/cache/nginx-odoo".into(),
            log_dir: "/var/log/nginx".into(),
        };
        StackOptions {
            domain,
            size,
            redis: false,
            odoo_image: None,
            odoo_tag: None,
            db_name: "odoo".into(),
            http_port: 8069,
            gevent_port: 8072,
            edge,
            hash_rounds: passlib::DEFAULT_ROUNDS,
        }
    }
}

impl StackOptions {
    /// Every value that reaches a file, checked by its kind ([`values`]); the error names
    /// the command-line option that set it. [`super::render`] refuses what this refuses.
    pub fn validate(&self) -> Result<(), BadValue> {
        let e = &self.edge;
        for (option, port) in [
            ("--http-port", self.http_port),
            ("--gevent-port", self.gevent_port),
        ] {
            values::port(port).map_err(|problem| BadValue {
                option,
                value: port.to_string(),
                problem,
            })?;
        }
        if self.http_port == self.gevent_port {
            return Err(BadValue {
                option: "--gevent-port",
                value: self.gevent_port.to_string(),
                problem: "is also --http-port; Odoo's HTTP and gevent servers need a port each"
                    .into(),
            });
        }
        for (option, list) in [
            ("--listen-http", &e.listen_http),
            ("--listen-https", &e.listen_https),
        ] {
            if list.is_empty() {
                return Err(BadValue {
                    option,
                    value: String::new(),
                    problem: "needs at least one address".into(),
                });
            }
            for l in list {
                check(option, l, values::listen)?;
            }
        }
        for (option, p) in [
            ("--cert", &e.certificate),
            ("--cert-key", &e.certificate_key),
            ("--acme-root", &e.acme_root),
            ("--cache-dir", &e.cache_dir),
            ("--log-dir", &e.log_dir),
        ] {
            check(option, p, values::path)?;
        }
        if let Some(i) = &self.odoo_image {
            check("--image", i, values::image)?;
        }
        if let Some(t) = &self.odoo_tag {
            check("--tag", t, values::tag)?;
        }
        check("--db-name", &self.db_name, values::db_name)?;
        Ok(())
    }
}

pub const DEFAULT_IMAGE: &str = "odoo";
pub const DEFAULT_TAG: &str = "18.0";
