//! What a stack is rendered from: the domain, the droplet size and a few choices. Paths and
//! ports default to a droplet's; tests (and unusual hosts) override them here rather than by
//! editing the rendered files.

use serde::Serialize;

use super::domain::Domain;
use super::passlib;
use super::sizing::DropletSize;

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
    /// nginx's cache of Odoo's static files.
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
            acme_root: "/var/www/certbot".into(),
            cache_dir: "/var/cache/nginx/odoo".into(),
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

pub const DEFAULT_IMAGE: &str = "odoo";
pub const DEFAULT_TAG: &str = "18.0";
