//! The user data a new droplet boots with: Docker with the Compose plugin, nginx, certbot
//! and a firewall that lets in only SSH, HTTP and HTTPS.
//!
//! Packages come from the image's own distribution (no third-party package host), which is
//! why the droplet image is Ubuntu: its archive carries the Compose v2 plugin
//! (`docker-compose-v2`). Nothing the operator typed goes into the document: the host name
//! comes from the droplet's name through DigitalOcean's metadata, and the SSH key from the
//! create request, so there is nothing to quote and nothing to inject.

/// The droplet image the user data is written for.
pub const DROPLET_IMAGE: &str = "ubuntu-24-04-x64";

/// Ports the host firewall opens; everything else inbound is refused. Odoo's own ports are
/// published on loopback only by the stack's compose file, so Docker's iptables rules (which
/// bypass ufw for published ports) open nothing more.
pub const OPEN_PORTS: [u16; 3] = [22, 80, 443];

/// Where certbot's webroot challenge files are served from by nginx: the stack's rule.
pub use crate::stack::options::ACME_WEBROOT;

/// Packages installed on first boot.
pub const PACKAGES: [&str; 5] = ["docker.io", "docker-compose-v2", "nginx", "certbot", "ufw"];

/// The `#cloud-config` document for a new droplet.
pub fn user_data() -> String {
    let mut doc = String::from("#cloud-config\n");
    doc.push_str("# Written by odoo-ops bootstrap.\n");
    doc.push_str("package_update: true\n");
    doc.push_str("packages:\n");
    for p in PACKAGES {
        doc.push_str(&format!("  - {p}\n"));
    }
    doc.push_str("runcmd:\n");
    // Exec form (a list per command): no shell parses these lines.
    let mut run = |argv: &[&str]| {
        let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
        doc.push_str(&format!("  - [{}]\n", quoted.join(", ")));
    };
    run(&["ufw", "default", "deny", "incoming"]);
    run(&["ufw", "default", "allow", "outgoing"]);
    let rules: Vec<String> = OPEN_PORTS.iter().map(|p| format!("{p}/tcp")).collect();
    for rule in &rules {
        run(&["ufw", "allow", rule]);
    }
    run(&["ufw", "--force", "enable"]);
    run(&["systemctl", "enable", "--now", "docker"]);
    run(&["systemctl", "enable", "--now", "nginx"]);
    run(&["mkdir", "-p", ACME_WEBROOT]);
    doc.push_str("final_message: \"odoo-ops: cloud-init finished after $UPTIME seconds\"\n");
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_the_cloud_config_marker_and_opens_only_three_ports() {
        let doc = user_data();
        assert!(doc.starts_with("#cloud-config\n"));
        let allows: Vec<&str> = doc
            .lines()
            .filter(|l| l.contains("'ufw', 'allow', '"))
            .collect();
        assert_eq!(allows.len(), 3, "{doc}");
        for port in ["22/tcp", "80/tcp", "443/tcp"] {
            assert!(allows.iter().any(|l| l.contains(port)), "{port} in {doc}");
        }
        assert!(doc.contains("'ufw', 'default', 'deny', 'incoming'"));
    }

    #[test]
    fn creates_the_webroot_the_stacks_sites_and_certbot_use() {
        use crate::stack::{Domain, DropletSize, StackOptions};
        let o = StackOptions::new(
            Domain::parse("erp.example.com").unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        let doc = user_data();
        let mkdir = format!("['mkdir', '-p', '{}']", o.edge.acme_root);
        assert!(doc.contains(&mkdir), "{mkdir} in {doc}");
    }
}
