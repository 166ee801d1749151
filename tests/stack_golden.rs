//! Golden files of the rendered stack for several droplet sizes and options (insta).
//! Secrets are fixed through an existing `.env`; the admin hash (random salt) is checked
//! against the admin password and then replaced by a placeholder.

use odoo_ops::stack::{self, Domain, DropletSize, Existing, StackOptions, passlib};

const ENV: &str = "ODOO_IMAGE=odoo\nODOO_TAG=18.0\nPOSTGRES_PASSWORD=golden-db-secret\nODOO_ADMIN_PASSWORD=golden-admin-secret\n";

fn render(slug: &str, redis: bool) -> stack::RenderedStack {
    let mut o = StackOptions::new(
        Domain::parse("erp.example.com").unwrap(),
        *DropletSize::by_slug(slug).unwrap(),
    );
    o.redis = redis;
    o.hash_rounds = 1000;
    stack::render(
        &o,
        &Existing {
            env: Some(ENV.into()),
            odoo_conf: None,
        },
    )
    .unwrap()
}

fn snapshot_all(name: &str, r: &stack::RenderedStack) {
    for f in &r.files {
        let mut text = f.contents.clone();
        if f.name == stack::ODOO_CONF_FILE {
            let line = text
                .lines()
                .find(|l| l.starts_with("admin_passwd = "))
                .unwrap()
                .to_string();
            let hash = line.trim_start_matches("admin_passwd = ");
            assert!(passlib::verify("golden-admin-secret", hash), "{hash}");
            text = text.replace(
                &line,
                "admin_passwd = <pbkdf2-sha512 hash of ODOO_ADMIN_PASSWORD>",
            );
        }
        let file = f.name.trim_start_matches('.').replace(['.', '-'], "_");
        insta::assert_snapshot!(format!("{name}__{file}"), text);
    }
}

#[test]
fn small_droplet_1vcpu_2gb() {
    snapshot_all("s_1vcpu_2gb", &render("s-1vcpu-2gb", false));
}

#[test]
fn default_droplet_2vcpu_4gb_with_redis() {
    snapshot_all("s_2vcpu_4gb_redis", &render("s-2vcpu-4gb", true));
}

#[test]
fn large_droplet_8vcpu_16gb() {
    snapshot_all("s_8vcpu_16gb", &render("s-8vcpu-16gb", false));
}

#[test]
fn memory_optimised_2vcpu_16gb() {
    // Plenty of memory, few CPUs: the CPU rule (5) decides.
    let r = render("m-2vcpu-16gb", false);
    assert_eq!(r.sizing.workers, 5);
    snapshot_all("m_2vcpu_16gb", &r);
}
