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
/// The port pair a deploy left in `.env`, when it set one; both or neither.
fn deployed_ports(
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Option<(u16, u16)>, values::BadValue> {
    let port = |key: &'static str| -> Result<Option<u16>, values::BadValue> {
        let Some(v) = env.get(key).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        v.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| values::BadValue {
                option: key,
                value: v.clone(),
                problem: "is not a TCP port (1-65535)".into(),
            })
    };
    Ok(match (port("ODOO_HTTP_PORT")?, port("ODOO_GEVENT_PORT")?) {
        (Some(http), Some(gevent)) => Some((http, gevent)),
        _ => None,
    })
}

/// `o` as the stack runs it: a deploy's port pair in `.env` wins, as in [`render`]. What a
/// file rendered apart from the stack (the bootstrap's HTTP-only nginx site) is made from.
pub fn as_deployed(o: &StackOptions, existing: &Existing) -> std::io::Result<StackOptions> {
    let env = existing
        .env
        .as_deref()
        .map(secrets::parse_env)
        .unwrap_or_default();
    let ports = deployed_ports(&env)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    Ok(match ports {
        Some((http, gevent)) => StackOptions {
            http_port: http,
            gevent_port: gevent,
            ..o.clone()
        },
        None => o.clone(),
    })
}

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
    // A deploy may have moved Odoo to the other loopback port pair (`.env`'s
    // ODOO_HTTP_PORT/ODOO_GEVENT_PORT, [`crate::deploy::switch`]). Rendering again keeps the
    // pair it runs on: a site written for the other pair would send every request to a
    // port nothing listens on until the next `up -d`.
    let ports = deployed_ports(&env).map_err(invalid)?;
    let o = &match ports {
        Some((http, gevent)) => StackOptions {
            http_port: http,
            gevent_port: gevent,
            ..o.clone()
        },
        None => o.clone(),
    };
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
            contents: env_file::render(o, &image, &tag, &secrets, ports),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> StackOptions {
        let mut o = StackOptions::new(
            Domain::parse("erp.example.com").unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        o.hash_rounds = 1000;
        o
    }

    fn file<'a>(stack: &'a RenderedStack, name: &str) -> &'a str {
        &stack
            .files
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .contents
    }

    #[test]
    fn rendering_again_keeps_the_port_pair_a_deploy_moved_odoo_to() {
        let env = "ODOO_TAG=18.0-20261115\nPOSTGRES_PASSWORD=abc\nODOO_ADMIN_PASSWORD=def\nODOO_HTTP_PORT=18069\nODOO_GEVENT_PORT=18072\n";
        let existing = Existing {
            env: Some(env.into()),
            odoo_conf: None,
        };
        let stack = render(&options(), &existing).unwrap();
        let site = file(&stack, NGINX_SITE_FILE);
        assert!(site.contains("127.0.0.1:18069") && site.contains("127.0.0.1:18072"));
        assert!(!site.contains("127.0.0.1:8069"), "{site}");
        let dotenv = file(&stack, ENV_FILE);
        assert!(dotenv.contains("ODOO_HTTP_PORT=18069\nODOO_GEVENT_PORT=18072\n"));
        assert!(dotenv.contains("ODOO_TAG=18.0-20261115"));
        // A fresh stack names no pair: compose's defaults apply.
        let fresh = render(&options(), &Existing::default()).unwrap();
        assert!(!file(&fresh, ENV_FILE).contains("ODOO_HTTP_PORT"));
        assert!(file(&fresh, NGINX_SITE_FILE).contains("127.0.0.1:8069"));
        // A broken value is refused, naming the key.
        let bad = Existing {
            env: Some(env.replace("18069", "99999")),
            odoo_conf: None,
        };
        let e = render(&options(), &bad).unwrap_err();
        assert!(e.to_string().contains("ODOO_HTTP_PORT"), "{e}");
    }
}
