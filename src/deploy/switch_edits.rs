//! The text edits a switch makes (pure): nginx's upstream addresses from the old slot's
//! ports to the new slot's, and the stack's `.env` so Compose agrees with what runs.
//!
//! Why `.env` and not the compose file: the compose file odoo-ops renders publishes
//! `127.0.0.1:${ODOO_HTTP_PORT:-8069}:8069` and `${ODOO_GEVENT_PORT:-8072}`, and takes the
//! image from `${ODOO_IMAGE}:${ODOO_TAG}`. A switch rewrites those four variables in
//! `.env`, in the same safe change as the nginx site (one `nginx -t`, both committed or
//! both reverted), so a later `docker compose up -d` starts the same tag on the same ports
//! nginx points at instead of undoing the deploy. The YAML itself is never edited. A
//! compose file with fixed ports or a fixed tag is refused before anything is touched.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::switch_clone::PortPair;
use crate::nginx::{NginxConfig, odoo_sites, select_site};
use crate::target::host_port;

pub const IMAGE_VAR: &str = "ODOO_IMAGE";
pub const TAG_VAR: &str = "ODOO_TAG";
pub const HTTP_PORT_VAR: &str = "ODOO_HTTP_PORT";
pub const GEVENT_PORT_VAR: &str = "ODOO_GEVENT_PORT";

/// The variables the compose file must take the image and ports from, or a later
/// `docker compose up -d` would put back what the switch replaced.
pub fn compose_uses_variables(compose: &str) -> Result<(), String> {
    let missing: Vec<&str> = [TAG_VAR, HTTP_PORT_VAR, GEVENT_PORT_VAR]
        .into_iter()
        .filter(|v| !compose.contains(&format!("${{{v}")))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the compose file does not take {} from .env: a later `docker compose up -d` would undo the switch (render the stack again with odoo-ops)",
        missing.join(", ")
    ))
}

/// `.env` with `vars` set: an existing `KEY=` line (also `export KEY=`) is replaced where
/// it is, a missing one appended; every other line is kept as it was.
pub fn set_env_vars(text: &str, vars: &[(&str, String)]) -> String {
    let mut pending: Vec<&(&str, String)> = vars.iter().collect();
    let mut out = String::new();
    for line in text.lines() {
        let key = line
            .trim_start()
            .trim_start_matches("export ")
            .split('=')
            .next()
            .unwrap_or("")
            .trim();
        match pending.iter().position(|(k, _)| *k == key) {
            Some(i) if line.contains('=') => {
                let (k, v) = pending.remove(i);
                out.push_str(&format!("{k}={v}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in pending {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

/// One line of a file to rewrite: `host:from` becomes `host:to` there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamEdit {
    pub file: PathBuf,
    pub line: usize,
    pub host: String,
    pub from: u16,
    pub to: u16,
}

/// Where the Odoo site's routes reach the old slot's ports on this host: the `server`
/// lines of its upstream blocks, or the `proxy_pass` lines with a literal address. Each
/// place once, whichever locations share it. Refused when no route reaches the old HTTP
/// port: nginx is not serving the running container, and switching it would be a guess.
pub fn upstream_edits(
    config: &NginxConfig,
    domain: Option<&str>,
    from: PortPair,
    to: PortPair,
) -> Result<Vec<UpstreamEdit>, String> {
    let sites = odoo_sites(config);
    let site = select_site(&sites, domain).ok_or_else(|| match domain {
        Some(d) => format!("nginx has no site for {d} that proxies somewhere"),
        None => "nginx has no site that proxies to Odoo".to_string(),
    })?;
    let mut edits: Vec<UpstreamEdit> = Vec::new();
    for pass in site.locations.iter().filter_map(|l| l.proxy_pass.as_ref()) {
        let Some(file) = &pass.upstream_file else {
            continue;
        };
        for (endpoint, line) in pass.endpoints.iter().zip(&pass.upstream_lines) {
            let loopback = endpoint.host == "localhost"
                || endpoint
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            let moved = match endpoint.port {
                p if p == from.http => to.http,
                p if p == from.gevent => to.gevent,
                _ => continue,
            };
            let edit = UpstreamEdit {
                file: file.clone(),
                line: *line,
                host: endpoint.host.clone(),
                from: endpoint.port,
                to: moved,
            };
            if loopback && !edits.contains(&edit) {
                edits.push(edit);
            }
        }
    }
    if !edits.iter().any(|e| e.from == from.http) {
        return Err(format!(
            "nginx's site {} does not proxy to 127.0.0.1:{}, the running container's HTTP port",
            site.at(),
            from.http
        ));
    }
    Ok(edits)
}

/// The files' new texts: each edit's address replaced on its line (whole tokens only:
/// `127.0.0.1:8069` never matches inside `127.0.0.1:80690`).
pub fn apply_upstream_edits(
    files: &BTreeMap<PathBuf, String>,
    edits: &[UpstreamEdit],
) -> Result<BTreeMap<PathBuf, String>, String> {
    let mut out = files.clone();
    for e in edits {
        let text = out
            .get_mut(&e.file)
            .ok_or_else(|| format!("{} was not read", e.file.display()))?;
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
        let line = lines
            .get_mut(e.line.saturating_sub(1))
            .ok_or_else(|| format!("{} has no line {}", e.file.display(), e.line))?;
        let old = host_port(&e.host, e.from);
        let new = host_port(&e.host, e.to);
        *line = replace_token(line, &old, &new).ok_or_else(|| {
            format!(
                "{}:{} does not hold {old} on its own line",
                e.file.display(),
                e.line
            )
        })?;
        *text = lines.concat();
    }
    Ok(out)
}

/// `line` with every whole `old` (not followed by a digit, not preceded by a name's
/// character) replaced by `new`; `None` when there is none.
fn replace_token(line: &str, old: &str, new: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = line;
    let mut found = false;
    while let Some(i) = rest.find(old) {
        let before = rest[..i].chars().last();
        let after = rest[i + old.len()..].chars().next();
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !after.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..i]);
        out.push_str(if whole { new } else { old });
        found |= whole;
        rest = &rest[i + old.len()..];
    }
    out.push_str(rest);
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "upstream odoo {
    server 127.0.0.1:8069 max_fails=0;
}
upstream odoochat {
    server 127.0.0.1:8072;
}
server {
    listen 80;
    server_name erp.test;
    location / { proxy_pass http://odoo; }
    location /web/login { proxy_pass http://odoo; }
    location /websocket { proxy_pass http://odoochat; }
    location /x { proxy_pass http://127.0.0.1:8069/x; }
}
";

    fn dump() -> NginxConfig {
        NginxConfig::parse_dump(&format!(
            "# configuration file /n/nginx.conf:\nhttp {{ include /n/sites-enabled/odoo; }}\n\n# configuration file /n/sites-enabled/odoo:\n{SITE}"
        ))
        .unwrap()
    }

    const BLUE: PortPair = PortPair {
        http: 8069,
        gevent: 8072,
    };
    const GREEN: PortPair = PortPair {
        http: 18069,
        gevent: 18072,
    };

    #[test]
    fn every_route_to_the_old_slot_moves_to_the_new() {
        let edits = upstream_edits(&dump(), Some("erp.test"), BLUE, GREEN).unwrap();
        let lines: Vec<(usize, u16, u16)> = edits.iter().map(|e| (e.line, e.from, e.to)).collect();
        assert_eq!(
            lines,
            [(2, 8069, 18069), (5, 8072, 18072), (13, 8069, 18069)]
        );
        let file = PathBuf::from("/n/sites-enabled/odoo");
        let files = BTreeMap::from([(file.clone(), SITE.to_string())]);
        let new = apply_upstream_edits(&files, &edits).unwrap();
        let expected = SITE
            .replace("127.0.0.1:8069", "127.0.0.1:18069")
            .replace("127.0.0.1:8072", "127.0.0.1:18072");
        assert_eq!(new[&file], expected);
        // And back: the same edit from green to blue restores the file byte for byte.
        let config = NginxConfig::parse_dump(&format!(
            "# configuration file /n/nginx.conf:\nhttp {{ include /n/sites-enabled/odoo; }}\n\n# configuration file /n/sites-enabled/odoo:\n{expected}"
        ))
        .unwrap();
        let back = upstream_edits(&config, None, GREEN, BLUE).unwrap();
        let files = BTreeMap::from([(file.clone(), expected)]);
        assert_eq!(apply_upstream_edits(&files, &back).unwrap()[&file], SITE);
    }

    #[test]
    fn a_site_that_does_not_reach_the_running_container_is_refused() {
        let other = PortPair {
            http: 9069,
            gevent: 9072,
        };
        let e = upstream_edits(&dump(), None, other, GREEN).unwrap_err();
        assert!(e.contains("does not proxy to 127.0.0.1:9069"), "{e}");
        assert!(upstream_edits(&dump(), Some("nope.test"), BLUE, GREEN).is_err());
    }

    #[test]
    fn only_whole_addresses_are_replaced() {
        assert_eq!(
            replace_token("server 127.0.0.1:80690;", "127.0.0.1:8069", "x"),
            None
        );
        assert_eq!(
            replace_token(
                "server 127.0.0.1:8069;",
                "127.0.0.1:8069",
                "127.0.0.1:18069"
            )
            .as_deref(),
            Some("server 127.0.0.1:18069;")
        );
        assert_eq!(
            replace_token("server 10.127.0.0.1:8069;", "127.0.0.1:8069", "x"),
            None
        );
    }

    #[test]
    fn env_lines_are_replaced_in_place_or_appended() {
        let env = "# secrets\nODOO_IMAGE=odoo\nODOO_TAG=18.0-1\nPOSTGRES_PASSWORD=s3cret\n";
        let out = set_env_vars(
            env,
            &[
                (TAG_VAR, "18.0-2".into()),
                (HTTP_PORT_VAR, "18069".into()),
                (GEVENT_PORT_VAR, "18072".into()),
            ],
        );
        assert_eq!(
            out,
            "# secrets\nODOO_IMAGE=odoo\nODOO_TAG=18.0-2\nPOSTGRES_PASSWORD=s3cret\nODOO_HTTP_PORT=18069\nODOO_GEVENT_PORT=18072\n"
        );
        assert_eq!(crate::stack::secrets::parse_env(&out)[TAG_VAR], "18.0-2");
    }

    #[test]
    fn a_compose_file_with_fixed_ports_is_refused() {
        use crate::stack::{Domain, DropletSize, options::StackOptions};
        let o = StackOptions::new(
            Domain::parse("erp.example.com").unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        let rendered = crate::stack::compose::render(&o);
        assert_eq!(compose_uses_variables(&rendered), Ok(()));
        let fixed = "image: odoo:${ODOO_TAG}\nports:\n - \"127.0.0.1:8069:8069\"\n";
        let e = compose_uses_variables(fixed).unwrap_err();
        assert!(e.contains("ODOO_HTTP_PORT, ODOO_GEVENT_PORT"), "{e}");
    }
}
