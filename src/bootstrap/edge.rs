//! The droplet's edge as steps 5, 6 and 7 share it: which site file the running nginx
//! includes, how it is reloaded, where certbot keeps its files and which CA it asks. The
//! defaults are a droplet's (Ubuntu's nginx, certbot's own directories, Let's Encrypt);
//! tests point them at their own nginx and pebble.
//!
//! Step 5 leaves the site HTTP only (the challenge path and Odoo, no certificate yet), so
//! step 6 can validate through it; step 6 replaces it with the stack's TLS site.

use std::net::IpAddr;
use std::path::PathBuf;

use super::answers::Answers;
use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use super::tls::{AcmeDirectories, CertbotDirs, RenewalLayout};
use crate::checks::DiagnoseOptions;
use crate::nginx::NginxInvocation;
use crate::stack::update::{self, SiteOutcome};
use crate::stack::{self, EdgeOptions, NGINX_SITE_FILE, StackFile, StackOptions, nginx_site};
use crate::target::Target;
use crate::workflow::StateDirs;

/// Where the site goes on a droplet: Ubuntu's nginx includes `sites-enabled/*`.
pub const SITE_PATH: &str = "/etc/nginx/sites-enabled/odoo";

#[derive(Debug, Clone)]
pub struct EdgeSetup {
    /// The site file the running nginx includes (a symlink is written at its target).
    pub site: PathBuf,
    /// The running nginx: `nginx -t` and the reload after each change of the site, the
    /// deploy hook, and which master the verify reads.
    pub nginx: NginxInvocation,
    /// The stack's nginx side: listen addresses, cache and log directories, and
    /// `acme_root`, the one webroot both sites serve and certbot writes to. Its certificate
    /// paths are not used: the site names certbot's files for the name ([`CertbotDirs`]).
    pub options: EdgeOptions,
    /// The CA: Let's Encrypt's staging then real directory unless overridden.
    pub directories: AcmeDirectories,
    pub certbot: CertbotDirs,
    /// A CA bundle certbot trusts for the directories' HTTPS (a private ACME CA).
    pub ca_bundle: Option<PathBuf>,
    /// The port the CA validates on (80).
    pub http_port: u16,
    pub renewal: RenewalLayout,
    /// Where the safe change keeps its journal and backups; `None`: the host's own.
    pub state: Option<StateDirs>,
    /// The verify's edge gates connect from here to this address instead of the target's
    /// view of nginx's listen address; `None` on a droplet.
    pub verify_connect: Option<IpAddr>,
    /// Roots (PEM) the verify trusts besides the system's (a private CA's).
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl EdgeSetup {
    /// A droplet's edge for these answers.
    pub fn new(answers: &Answers) -> EdgeSetup {
        EdgeSetup {
            site: PathBuf::from(SITE_PATH),
            nginx: NginxInvocation {
                binary: "nginx".into(),
                ..Default::default()
            },
            options: StackOptions::new(answers.domain.clone(), *answers.size).edge,
            directories: AcmeDirectories::default(),
            certbot: CertbotDirs::default(),
            ca_bundle: None,
            http_port: 80,
            renewal: RenewalLayout::default(),
            state: None,
            verify_connect: None,
            extra_root_certs: Vec::new(),
        }
    }

    /// The edge's part of the stack's options: its own, with certbot's files for the name.
    pub fn apply(&self, o: &mut StackOptions) {
        o.edge = self.options.clone();
        o.edge.certificate = self.certbot.fullchain(&o.domain).display().to_string();
        o.edge.certificate_key = self.certbot.private_key(&o.domain).display().to_string();
    }

    pub async fn state_dirs(&self, target: &Target) -> Result<StateDirs, String> {
        match &self.state {
            Some(s) => Ok(s.clone()),
            None => StateDirs::locate(target)
                .await
                .map_err(|e| format!("cannot find odoo-ops' state directory: {e:#}")),
        }
    }

    /// The verify reads this nginx (its `-c`, `-p`) and connects as set here.
    pub fn discovery(&self, d: &mut DiagnoseOptions) {
        d.nginx_conf = self.nginx.conf.clone();
        d.nginx_prefix = self.nginx.prefix.clone();
        d.nginx_binary = Some(self.nginx.binary.clone()).filter(|b| !b.is_empty());
        d.edge_connect = self.verify_connect;
        d.extra_root_certs = self.extra_root_certs.clone();
    }
}

/// The site file's content: `text` as the safe change writes it.
pub fn site_file(text: String) -> StackFile {
    StackFile {
        name: NGINX_SITE_FILE,
        contents: text,
        mode: 0o644,
        secret: false,
    }
}

/// Step 5's site: HTTP only, unless the site already is the TLS one (a certificate issued
/// by an earlier run): a working HTTPS site is not taken back to HTTP. What was done.
pub async fn install_http_site(
    setup: &Setup,
    host: &Host,
    o: &StackOptions,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let target = &host.target;
    let e = &setup.edge;
    let path = e.site.display();
    let tls = nginx_site::render(o);
    if target.read_file(&e.site).await.ok().as_deref() == Some(tls.as_bytes()) {
        return Ok(format!("nginx site {path} already serves HTTPS"));
    }
    let dirs = e.state_dirs(target).await?;
    let outcome = update::install_site(
        target,
        &dirs,
        &e.site,
        &site_file(nginx_site::render_http_only(o)),
        &e.nginx,
        &update::backup_stamp(),
    )
    .await
    .map_err(|err| format!("cannot install the nginx site {path}: {err:#}"))?;
    if let SiteOutcome::Reloaded { .. } = outcome {
        report(Event::Notice {
            step: Step::Stack,
            text: format!(
                "nginx site {path} installed, HTTP only until the certificate is issued \
                 (challenges from {}); nginx -t passed and nginx reloaded",
                o.edge.acme_root
            ),
        });
    }
    Ok(format!("nginx site {path} (HTTP only)"))
}

/// The stack's options as they run on the host (a deploy's ports in `.env` kept).
pub async fn deployed_options(setup: &Setup, target: &Target) -> Result<StackOptions, String> {
    let dir = &setup.stack_dir;
    let existing = update::read_existing(target, dir)
        .await
        .map_err(|e| format!("cannot read {}: {e:#}", dir.display()))?;
    stack::as_deployed(&super::stack::options(setup), &existing)
        .map_err(|e| format!("the stack in {}: {e}", dir.display()))
}
