//! `.env` beside the compose file: what compose substitutes (`${ODOO_TAG}`, passwords).
//! Mode 0600: it holds the secrets.

use super::options::StackOptions;
use super::secrets::{ADMIN_PASSWORD_KEY, DB_PASSWORD_KEY, Secrets};

/// `ports`: the loopback pair a deploy moved Odoo to, written back as it found it.
pub fn render(
    o: &StackOptions,
    image: &str,
    tag: &str,
    secrets: &Secrets,
    ports: Option<(u16, u16)>,
) -> String {
    let mut out = format!(
        "# Rendered by odoo-ops for {domain}. Mode 0600: this file holds the stack's secrets.
# The secrets are generated once (32 random bytes from the OS) and never regenerated.
# ODOO_ADMIN_PASSWORD is Odoo's master password; odoo.conf holds only its hash.
# Deploy and rollback change ODOO_TAG.
ODOO_IMAGE={image}
ODOO_TAG={tag}
ODOO_DOMAIN={domain}
POSTGRES_DB=postgres
POSTGRES_USER=odoo
{DB_PASSWORD_KEY}={db}
{ADMIN_PASSWORD_KEY}={admin}
",
        domain = o.domain,
        db = secrets.db_password,
        admin = secrets.admin_password,
    );
    if let Some((http, gevent)) = ports {
        out += &format!(
            "# The loopback ports Odoo is published on now (deploys alternate two pairs).
ODOO_HTTP_PORT={http}
ODOO_GEVENT_PORT={gevent}
"
        );
    }
    out
}
