//! The wizard's TLS step: a certificate from an ACME CA with certbot's webroot plugin,
//! through the nginx that already runs the site.
//!
//! In order, each part idempotent (a re-run redoes nothing that is in place):
//! 1. A real certificate for the name is already there: keep it (nothing is issued again).
//! 2. Otherwise, preflight: the name resolves to the droplet, and a probe file written under
//!    the webroot's `/.well-known/acme-challenge/` comes back through nginx on port 80 by
//!    the name. Both are what the CA's validation needs; failing here costs no validation.
//! 3. A dry run against the staging directory (certbot's `--dry-run`: the whole ACME flow,
//!    nothing saved). Let's Encrypt allows 5 failed validations per name per hour on the
//!    real directory, so the real one is never contacted when staging failed.
//! 4. The real certificate.
//! 5. A deploy hook that reloads the running nginx when certbot renews.
//! 6. Exactly one renewal mechanism: certbot's systemd timer or a cron job, not both.
//! 7. The site switched to the TLS configuration through the one safe change of a host
//!    file ([`crate::stack::update::install_site`]: `nginx -t`, reload, revert on failure).
//!
//! Every command runs on the [`Target`] (locally or over SSH), with each word quoted by
//! [`crate::target::quote`]. The login must be allowed to run certbot and write its
//! directories (root, as DigitalOcean's droplets log in).

mod certbot;
mod preflight;
mod renewal;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::nginx::NginxInvocation;
use crate::stack::Domain;
use crate::stack::update::SiteOutcome;
use crate::target::Target;
use crate::workflow::StateDirs;

pub use super::resolve::Resolver;
pub use renewal::{Renewal, RenewalLayout};

/// Let's Encrypt's directories: the defaults, in this one place. Any ACME CA works.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The ACME directories the step talks to, staging first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcmeDirectories {
    pub staging: String,
    pub production: String,
}

impl AcmeDirectories {
    /// The directories an operator named (`--acme-directory`, `--acme-staging-directory`),
    /// each checked; the ones not named are Let's Encrypt's, except that a CA named without
    /// a staging directory gets the dry run on its own directory: the operator chose that
    /// CA, and a CA with no staging (or one not reachable from the internet) would fail a
    /// dry run sent to Let's Encrypt for reasons of no interest.
    pub fn chosen(
        production: Option<&str>,
        staging: Option<&str>,
    ) -> Result<AcmeDirectories, String> {
        let production = production.map(directory_url).transpose()?;
        let staging = staging.map(directory_url).transpose()?;
        Ok(match (production, staging) {
            (None, None) => AcmeDirectories::default(),
            (Some(p), None) => AcmeDirectories {
                staging: p.clone(),
                production: p,
            },
            (p, Some(s)) => AcmeDirectories {
                staging: s,
                production: p.unwrap_or_else(|| LETS_ENCRYPT_PRODUCTION.into()),
            },
        })
    }
}

/// An ACME directory is an `https://` URL (RFC 8555 §6.1); it goes to certbot's
/// `--server` as one argument, so no space or control character either.
pub fn directory_url(text: &str) -> Result<String, String> {
    let rest = text.strip_prefix("https://").ok_or_else(|| {
        format!("{text:?} is not an ACME directory URL: ACME is served over https://")
    })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{text:?}: no host after https://"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{text:?}: a URL has no spaces or control characters"
        ));
    }
    Ok(text.to_string())
}

impl Default for AcmeDirectories {
    fn default() -> Self {
        AcmeDirectories {
            staging: LETS_ENCRYPT_STAGING.into(),
            production: LETS_ENCRYPT_PRODUCTION.into(),
        }
    }
}

/// certbot's own directories (`--config-dir`, `--work-dir`, `--logs-dir`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertbotDirs {
    pub config: PathBuf,
    pub work: PathBuf,
    pub logs: PathBuf,
}

impl Default for CertbotDirs {
    fn default() -> Self {
        CertbotDirs {
            config: "/etc/letsencrypt".into(),
            work: "/var/lib/letsencrypt".into(),
            logs: "/var/log/letsencrypt".into(),
        }
    }
}

impl CertbotDirs {
    /// Where certbot keeps the current certificate chain for `name`.
    pub fn fullchain(&self, name: &Domain) -> PathBuf {
        self.config
            .join("live")
            .join(name.as_str())
            .join("fullchain.pem")
    }

    pub fn private_key(&self, name: &Domain) -> PathBuf {
        self.config
            .join("live")
            .join(name.as_str())
            .join("privkey.pem")
    }

    /// The deploy hook this step installs: certbot runs every file here after a renewal.
    pub fn deploy_hook(&self) -> PathBuf {
        self.config
            .join("renewal-hooks/deploy")
            .join(DEPLOY_HOOK_NAME)
    }
}

/// The deploy hook's file name in `renewal-hooks/deploy/`.
pub const DEPLOY_HOOK_NAME: &str = "odoo-ops-reload-nginx";

/// The site's nginx configuration once the certificate exists.
#[derive(Debug, Clone)]
pub struct SiteSwitch {
    /// The site file nginx includes (a symlink is written at its target).
    pub path: PathBuf,
    /// Its TLS content (the stack's rendered site, whose certificate paths are
    /// [`CertbotDirs::fullchain`] and [`CertbotDirs::private_key`]).
    pub text: String,
    /// Where the safe change keeps its journal and backups.
    pub state: StateDirs,
}

/// Everything the step needs to know.
#[derive(Debug, Clone)]
pub struct TlsRequest {
    /// The name the certificate is for.
    pub name: Domain,
    /// The ACME account's contact (the answers' admin e-mail).
    pub email: String,
    /// The droplet's public addresses: the name must resolve to one of them.
    pub addresses: Vec<IpAddr>,
    pub resolver: Resolver,
    /// The port the CA validates on (80; tests use a free one).
    pub http_port: u16,
    /// nginx's `root` for `/.well-known/acme-challenge/`.
    pub webroot: PathBuf,
    pub directories: AcmeDirectories,
    pub certbot: CertbotDirs,
    /// A CA bundle certbot trusts for the directories' HTTPS (a private ACME CA; the tests'
    /// pebble). `None`: the system's.
    pub ca_bundle: Option<PathBuf>,
    /// The running nginx: the deploy hook and the site switch reload this one.
    pub nginx: NginxInvocation,
    pub renewal: RenewalLayout,
    /// `None` leaves the site as it is (the caller switches it itself).
    pub site: Option<SiteSwitch>,
}

impl TlsRequest {
    /// A droplet's request with the usual defaults: the system's resolver, port 80, Let's
    /// Encrypt, certbot's own directories, the host's renewal mechanisms, no site switch
    /// (set [`TlsRequest::site`] to have the step switch the site too).
    pub fn new(
        name: Domain,
        email: impl Into<String>,
        addresses: Vec<IpAddr>,
        webroot: impl Into<PathBuf>,
        nginx: NginxInvocation,
    ) -> TlsRequest {
        TlsRequest {
            name,
            email: email.into(),
            addresses,
            resolver: Resolver::System,
            http_port: 80,
            webroot: webroot.into(),
            directories: AcmeDirectories::default(),
            certbot: CertbotDirs::default(),
            ca_bundle: None,
            nginx,
            renewal: RenewalLayout::default(),
            site: None,
        }
    }
}

/// What the step left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsOutcome {
    pub fullchain: PathBuf,
    pub private_key: PathBuf,
    /// False when a real certificate was already there and kept.
    pub issued: bool,
    /// The certificate's `notAfter`, as openssl prints it.
    pub expires: String,
    pub deploy_hook: PathBuf,
    pub renewal: Renewal,
    /// `None` when no switch was asked for.
    pub site: Option<SiteOutcome>,
    /// What happened, in the operator's words, in order.
    pub steps: Vec<String>,
}

/// Which part failed, and what the operator should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The name does not resolve to the droplet: DNS first (or wait for it to propagate).
    NotResolved {
        name: String,
        found: Vec<IpAddr>,
        expected: Vec<IpAddr>,
        detail: String,
    },
    /// The probe did not come back through nginx on the HTTP port.
    ChallengeUnreachable { url: String, detail: String },
    /// The staging dry run failed; the real directory was not contacted.
    StagingFailed { detail: String },
    /// Staging passed but the real issuance failed.
    ProductionFailed { detail: String },
    /// The deploy hook or the renewal mechanism could not be put in place.
    Renewal { detail: String },
    /// nginx rejected the TLS site (the previous site is back) or did not reload.
    Site { detail: String },
    /// The host could not be asked (a command could not run at all).
    Host { detail: String },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NotResolved {
                name,
                found,
                expected,
                detail,
            } => {
                let list = |a: &[IpAddr]| {
                    a.iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if found.is_empty() {
                    write!(
                        f,
                        "{name} does not resolve ({detail}); it must point at {}: set its A record and wait for it to propagate",
                        list(expected)
                    )
                } else {
                    write!(
                        f,
                        "{name} resolves to {}, not to the droplet ({}): fix its A record and wait for it to propagate",
                        list(found),
                        list(expected)
                    )
                }
            }
            TlsError::ChallengeUnreachable { url, detail } => write!(
                f,
                "{url} did not serve the probe file through nginx ({detail}); the CA could not validate either: check the site's /.well-known/acme-challenge/ location and the firewall on the HTTP port"
            ),
            TlsError::StagingFailed { detail } => write!(
                f,
                "the staging CA could not issue a test certificate, so the real CA was not asked (its failed validations are limited per hour): {detail}"
            ),
            TlsError::ProductionFailed { detail } => write!(
                f,
                "the staging run passed but the real CA did not issue: {detail}"
            ),
            TlsError::Renewal { detail } => {
                write!(
                    f,
                    "the certificate is issued but renewal is not set up: {detail}"
                )
            }
            TlsError::Site { detail } => write!(
                f,
                "the certificate is issued but the site could not be switched to it: {detail}"
            ),
            TlsError::Host { detail } => write!(f, "cannot run on the host: {detail}"),
        }
    }
}

impl std::error::Error for TlsError {}

pub(crate) fn host_error(e: color_eyre::Report) -> TlsError {
    TlsError::Host {
        detail: format!("{e:#}"),
    }
}

/// Run the step. `on_progress` hears each part as it starts, for the console's log and
/// the CLI's lines; the same sentences end up in [`TlsOutcome::steps`].
pub async fn issue(
    target: &Target,
    req: &TlsRequest,
    mut on_progress: impl FnMut(&str),
) -> Result<TlsOutcome, TlsError> {
    let mut steps = Vec::new();
    let mut say = |line: String, steps: &mut Vec<String>| {
        on_progress(&line);
        steps.push(line);
    };

    let existing = certbot::existing(target, req).await?;
    let issued = match &existing {
        Some(cert) => {
            say(
                format!(
                    "a certificate from {} for {} is already in place (expires {}): kept, nothing issued",
                    req.directories.production, req.name, cert.expires
                ),
                &mut steps,
            );
            false
        }
        None => {
            say(
                format!("checking that {} resolves to the droplet", req.name),
                &mut steps,
            );
            let found = preflight::resolves(req).await?;
            say(
                format!("{} resolves to {}", req.name, join(&found)),
                &mut steps,
            );
            say(
                format!(
                    "checking that port {} serves the challenge path by the name",
                    req.http_port
                ),
                &mut steps,
            );
            let url = preflight::probe(target, req, &found).await?;
            say(format!("{url} served the probe file"), &mut steps);
            say(
                format!(
                    "dry run against the staging CA ({})",
                    req.directories.staging
                ),
                &mut steps,
            );
            certbot::staging(target, req).await?;
            say("staging issued a test certificate".into(), &mut steps);
            say(
                format!(
                    "issuing the certificate from {}",
                    req.directories.production
                ),
                &mut steps,
            );
            certbot::production(target, req).await?;
            true
        }
    };
    let cert = match existing {
        Some(c) => c,
        None => {
            certbot::existing(target, req)
                .await?
                .ok_or_else(|| TlsError::ProductionFailed {
                    detail: format!(
                        "certbot said it succeeded but {} is not a certificate from {}",
                        req.certbot.fullchain(&req.name).display(),
                        req.directories.production
                    ),
                })?
        }
    };
    if issued {
        say(
            format!(
                "issued {} (expires {})",
                req.certbot.fullchain(&req.name).display(),
                cert.expires
            ),
            &mut steps,
        );
    }

    let hook = certbot::install_deploy_hook(target, req).await?;
    say(hook, &mut steps);
    let (renewal, changes) = renewal::exactly_one(target, &req.renewal).await?;
    for c in changes {
        say(c, &mut steps);
    }
    say(format!("renewal: {renewal}"), &mut steps);

    let site = match &req.site {
        None => None,
        Some(switch) => {
            let outcome = switch_site(target, req, switch).await?;
            say(
                match &outcome {
                    SiteOutcome::Unchanged => {
                        format!("{} already serves the certificate", switch.path.display())
                    }
                    SiteOutcome::Reloaded { .. } => format!(
                        "{} switched to TLS; nginx -t passed and nginx reloaded",
                        switch.path.display()
                    ),
                },
                &mut steps,
            );
            Some(outcome)
        }
    };

    Ok(TlsOutcome {
        fullchain: req.certbot.fullchain(&req.name),
        private_key: req.certbot.private_key(&req.name),
        issued,
        expires: cert.expires,
        deploy_hook: req.certbot.deploy_hook(),
        renewal,
        site,
        steps,
    })
}

async fn switch_site(
    target: &Target,
    req: &TlsRequest,
    switch: &SiteSwitch,
) -> Result<SiteOutcome, TlsError> {
    let file = crate::stack::StackFile {
        name: crate::stack::NGINX_SITE_FILE,
        contents: switch.text.clone(),
        mode: 0o644,
        secret: false,
    };
    crate::stack::update::install_site(
        target,
        &switch.state,
        &switch.path,
        &file,
        &req.nginx,
        &crate::stack::update::backup_stamp(),
    )
    .await
    .map_err(|e| TlsError::Site {
        detail: format!("{e:#}"),
    })
}

fn join(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `path` as a command argument.
pub(crate) fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_named_by_the_operator() {
        assert_eq!(
            AcmeDirectories::chosen(None, None).unwrap(),
            AcmeDirectories::default()
        );
        let ca = "https://acme.example.net/directory";
        let only = AcmeDirectories::chosen(Some(ca), None).unwrap();
        assert_eq!((only.staging.as_str(), only.production.as_str()), (ca, ca));
        let both = AcmeDirectories::chosen(Some(ca), Some("https://s.example.net/d")).unwrap();
        assert_eq!(both.staging, "https://s.example.net/d");
        assert_eq!(both.production, ca);
        let e = AcmeDirectories::chosen(Some("http://acme.example.net/d"), None).unwrap_err();
        assert!(e.contains("https://"), "{e}");
        assert!(AcmeDirectories::chosen(None, Some("https://a b/d")).is_err());
        assert!(AcmeDirectories::chosen(None, Some("https:///d")).is_err());
    }
}
