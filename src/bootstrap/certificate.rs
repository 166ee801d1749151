//! Step 6 as the wizard runs it: the TLS request made from the answers (the domain, the
//! admin e-mail) and the droplet's edge ([`super::edge::EdgeSetup`]), then [`super::tls`]'s
//! step, whose every part is idempotent: a valid certificate for the name from the real
//! directory is kept and nothing is issued, the deploy hook and the renewal are left when in
//! place, and the site is switched only when it is not already the TLS one.

use std::net::IpAddr;

use super::edge;
use super::remote::Host;
use super::run::{Event, Setup};
use super::steps::Step;
use super::tls::{self, SiteSwitch, TlsRequest};
use crate::stack::nginx_site;
use crate::stack::update::SiteOutcome;

/// The request for this droplet: the site switched to the stack's TLS site, rendered with
/// the ports the stack runs on.
pub async fn request(setup: &Setup, host: &Host) -> Result<TlsRequest, String> {
    let target = &host.target;
    let e = &setup.edge;
    let address: IpAddr = host
        .ipv4
        .parse()
        .map_err(|_| format!("the droplet's address {:?} is not an IP address", host.ipv4))?;
    let o = edge::deployed_options(setup, target).await?;
    let mut req = TlsRequest::new(
        setup.answers.domain.clone(),
        setup.answers.admin_email.clone(),
        vec![address],
        &o.edge.acme_root,
        e.nginx.clone(),
    );
    req.resolver = setup.resolver.clone();
    req.http_port = e.http_port;
    req.directories = e.directories.clone();
    req.certbot = e.certbot.clone();
    req.ca_bundle = e.ca_bundle.clone();
    req.renewal = e.renewal.clone();
    req.site = Some(SiteSwitch {
        path: e.site.clone(),
        text: nginx_site::render(&o),
        state: e.state_dirs(target).await?,
    });
    Ok(req)
}

/// Run the step; its fact for the state file.
pub async fn issue(
    setup: &Setup,
    host: &Host,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<String, String> {
    let req = request(setup, host).await?;
    let outcome = tls::issue(&host.target, &req, |line| {
        report(Event::Notice {
            step: Step::Tls,
            text: line.to_string(),
        })
    })
    .await
    .map_err(|e| e.to_string())?;
    let site = match &outcome.site {
        Some(SiteOutcome::Reloaded { .. }) => "site switched to HTTPS",
        Some(SiteOutcome::Unchanged) | None => "site already on HTTPS",
    };
    Ok(format!(
        "certificate for {} {} {} (expires {}); renewal: {}; {site}",
        req.name,
        if outcome.issued {
            "issued by"
        } else {
            "already from"
        },
        req.directories.production,
        outcome.expires,
        outcome.renewal
    ))
}
