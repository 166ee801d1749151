//! The files a deployment consists of: `docker-compose.yml`, the nginx site, `odoo.conf`
//! and `.env`; how they are rendered from a domain and a droplet size, and how an existing
//! deployment is updated (diff per file, write after confirmation, backups, `nginx -t`).

pub mod compose;
pub mod domain;
pub mod env_file;
pub mod nginx_site;
pub mod odoo_conf;
pub mod options;
pub mod passlib;
pub mod secrets;
pub mod sizing;
pub mod update;
pub mod values;

use serde::Serialize;

pub use domain::Domain;
pub use options::{EdgeOptions, StackOptions};
pub use sizing::{DropletSize, SIZES, Sizing};

use secrets::Secrets;

pub const COMPOSE_FILE: &str = "docker-compose.yml";
pub const NGINX_SITE_FILE: &str = "nginx-site.conf";
pub const ODOO_CONF_FILE: &str = "odoo.conf";
pub const ENV_FILE: &str = ".env";

/// One rendered file: its name in the stack directory, its text and its mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackFile {
    pub name: &'static str,
    #[serde(skip)]
    pub contents: String,
    pub mode: u32,
    /// Holds secrets: never shown in a diff or JSON as is.
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct RenderedStack {
    pub files: Vec<StackFile>,
    pub sizing: Sizing,
    pub image: String,
    pub tag: String,
}

impl RenderedStack {
    pub fn file(&self, name: &str) -> Option<&StackFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// What is already in the stack directory, as far as rendering cares.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub env: Option<String>,
    pub odoo_conf: Option<String>,
}

/// Render every file. Secrets, the admin hash and the deployed image/tag already present in
/// `existing` are kept, so rendering twice gives the same bytes. Every value written is
/// checked first ([`StackOptions::validate`], and the same checks on what is kept from
/// `.env`): a refused one is an `InvalidInput` error that names it, and nothing is rendered.
pub fn render(o: &StackOptions, existing: &Existing) -> std::io::Result<RenderedStack> {
    let invalid = |e: values::BadValue| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    o.validate().map_err(invalid)?;
    let env = existing
        .env
        .as_deref()
        .map(secrets::parse_env)
        .unwrap_or_default();
    // What an existing .env holds is written back too: the same checks, naming the key.
    type Check = fn(&str) -> Result<(), String>;
    let kept: [(&str, &'static str, Check, bool); 4] = [
        ("ODOO_IMAGE", "ODOO_IMAGE in .env", values::image, false),
        ("ODOO_TAG", "ODOO_TAG in .env", values::tag, false),
        (
            secrets::DB_PASSWORD_KEY,
            "POSTGRES_PASSWORD in .env",
            values::secret,
            true,
        ),
        (
            secrets::ADMIN_PASSWORD_KEY,
            "ODOO_ADMIN_PASSWORD in .env",
            values::secret,
            true,
        ),
    ];
    for (key, option, check, secret) in kept {
        if let Some(v) = env.get(key).filter(|v| !v.is_empty()) {
            values::check(option, v, check).map_err(|mut e| {
                if secret {
                    e.value = "<redacted>".into();
                }
                invalid(e)
            })?;
        }
    }
    let secrets = Secrets::keep_or_generate(&env)?;
    let image = o
        .odoo_image
        .clone()
        .or_else(|| env.get("ODOO_IMAGE").cloned())
        .unwrap_or_else(|| options::DEFAULT_IMAGE.into());
    let tag = o
        .odoo_tag
        .clone()
        .or_else(|| env.get("ODOO_TAG").cloned())
        .unwrap_or_else(|| options::DEFAULT_TAG.into());
    let kept_hash = existing
        .odoo_conf
        .as_deref()
        .map(crate::odoo::conf::OdooConf::parse)
        .and_then(|c| c.get("admin_passwd").map(str::to_string))
        .filter(|h| passlib::verify(&secrets.admin_password, h));
    let admin_hash = match kept_hash {
        Some(h) => h,
        None => passlib::hash(&secrets.admin_password, o.hash_rounds)?,
    };
    let files = vec![
        StackFile {
            name: COMPOSE_FILE,
            contents: compose::render(o),
            mode: 0o644,
            secret: false,
        },
        StackFile {
            name: NGINX_SITE_FILE,
            contents: nginx_site::render(o),
            mode: 0o644,
            secret: false,
        },
        // Read by the container's `odoo` user; holds only the admin hash, no clear secret.
        StackFile {
            name: ODOO_CONF_FILE,
            contents: odoo_conf::render(o, &admin_hash),
            mode: 0o644,
            secret: false,
        },
        StackFile {
            name: ENV_FILE,
            contents: env_file::render(o, &image, &tag, &secrets),
            mode: 0o600,
            secret: true,
        },
    ];
    Ok(RenderedStack {
        files,
        sizing: o.size.sizing(),
        image,
        tag,
    })
}
