//! The Odoo site inside nginx's configuration: which server block proxies to Odoo, where
//! each route goes (through `upstream` blocks), and the proxy settings each route really
//! gets once nginx's inheritance rules are applied.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::config::{Directive, NginxConfig};
use super::units::{parse_size, parse_time};

/// nginx's built-in defaults for what the checks look at.
pub const DEFAULT_PROXY_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_BODY_SIZE: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listen {
    /// `None` for all addresses.
    pub address: Option<String>,
    pub port: u16,
    pub ssl: bool,
    pub http2: bool,
    pub line: usize,
}

/// An address a route ends at, after `upstream` resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyPass {
    /// As written: `http://odoo`.
    pub raw: String,
    pub file: PathBuf,
    pub line: usize,
    /// The upstream block it names, if any.
    pub upstream: Option<String>,
    /// Where the upstream block (or the literal address) is, for a fix to edit.
    pub upstream_file: Option<PathBuf>,
    pub upstream_lines: Vec<usize>,
    pub endpoints: Vec<Endpoint>,
}

/// A value and where it was set (`None` when nginx's default applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub at: String,
}

/// One `location` with what applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// `= ~ ~* ^~` or empty.
    pub modifier: String,
    pub path: String,
    pub file: PathBuf,
    pub line: usize,
    pub end_line: Option<usize>,
    pub proxy_pass: Option<ProxyPass>,
    pub http_version: Setting<String>,
    /// Effective `proxy_set_header`s: the location's own, or inherited when it has none.
    pub headers: Vec<Header>,
    /// Whether the location defines its own `proxy_set_header`s (and so inherits none).
    pub own_headers: bool,
    pub read_timeout: Setting<Duration>,
    pub connect_timeout: Setting<Duration>,
    pub send_timeout: Setting<Duration>,
    pub body_size: Setting<u64>,
}

impl Location {
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
    }

    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A server block that proxies to Odoo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OdooSite {
    pub server_names: Vec<String>,
    pub listens: Vec<Listen>,
    pub file: PathBuf,
    pub line: usize,
    pub end_line: Option<usize>,
    pub locations: Vec<Location>,
    /// Server-level settings (what a new location would inherit).
    pub server_headers: Vec<Header>,
    pub read_timeout: Setting<Duration>,
    pub connect_timeout: Setting<Duration>,
    pub send_timeout: Setting<Duration>,
    pub body_size: Setting<u64>,
}

impl OdooSite {
    /// The prefix location nginx would pick for `uri` (longest matching prefix; exact `=`
    /// matches win). Regex locations are not evaluated: Odoo's routes are prefixes.
    pub fn route(&self, uri: &str) -> Option<&Location> {
        if let Some(exact) = self
            .locations
            .iter()
            .find(|l| l.modifier == "=" && l.path == uri)
        {
            return Some(exact);
        }
        self.locations
            .iter()
            .filter(|l| matches!(l.modifier.as_str(), "" | "^~") && uri.starts_with(&l.path))
            .max_by_key(|l| l.path.len())
    }

    /// A location written for exactly this prefix (`location /websocket`).
    pub fn location(&self, path: &str) -> Option<&Location> {
        self.locations
            .iter()
            .find(|l| l.path == path && l.modifier != "~" && l.modifier != "~*")
    }

    pub fn primary_name(&self) -> Option<&str> {
        self.server_names
            .iter()
            .map(String::as_str)
            .find(|n| !n.is_empty() && *n != "_" && !n.starts_with('~') && !n.contains('*'))
    }

    /// The listen an operator's browser uses: TLS first.
    pub fn edge_listen(&self) -> Option<&Listen> {
        self.listens
            .iter()
            .find(|l| l.ssl)
            .or_else(|| self.listens.first())
    }

    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The settings one level of nesting contributes, for inheritance.
#[derive(Clone, Default)]
struct Level {
    headers: Option<Vec<Header>>,
    http_version: Option<Setting<String>>,
    read: Option<Setting<Duration>>,
    connect: Option<Setting<Duration>>,
    send: Option<Setting<Duration>>,
    body: Option<Setting<u64>>,
}

impl Level {
    fn read(children: &[Directive]) -> Level {
        let mut level = Level::default();
        for d in children {
            let at = Some(d.at());
            match d.name.as_str() {
                "proxy_set_header" if d.args.len() >= 2 => {
                    level.headers.get_or_insert_with(Vec::new).push(Header {
                        name: d.args[0].clone(),
                        value: d.args[1].clone(),
                        at: d.at(),
                    })
                }
                "proxy_http_version" => {
                    level.http_version = d.arg(0).map(|v| Setting {
                        value: v.to_string(),
                        at,
                    })
                }
                "proxy_read_timeout" => level.read = time_setting(d),
                "proxy_connect_timeout" => level.connect = time_setting(d),
                "proxy_send_timeout" => level.send = time_setting(d),
                "client_max_body_size" => {
                    level.body = d
                        .arg(0)
                        .and_then(parse_size)
                        .map(|v| Setting { value: v, at })
                }
                _ => {}
            }
        }
        level
    }

    /// `inner` overrides `self` directive by directive, the way nginx merges.
    fn under(&self, inner: &Level) -> Level {
        Level {
            headers: inner.headers.clone().or_else(|| self.headers.clone()),
            http_version: inner
                .http_version
                .clone()
                .or_else(|| self.http_version.clone()),
            read: inner.read.clone().or_else(|| self.read.clone()),
            connect: inner.connect.clone().or_else(|| self.connect.clone()),
            send: inner.send.clone().or_else(|| self.send.clone()),
            body: inner.body.clone().or_else(|| self.body.clone()),
        }
    }
}

fn time_setting(d: &Directive) -> Option<Setting<Duration>> {
    d.arg(0).and_then(parse_time).map(|value| Setting {
        value,
        at: Some(d.at()),
    })
}

fn or_default<T>(s: Option<Setting<T>>, value: T) -> Setting<T> {
    s.unwrap_or(Setting { value, at: None })
}

/// `upstream NAME { server ADDR; ... }` blocks by name.
fn upstreams<'a>(http: &[&'a Directive]) -> Vec<(String, &'a Directive)> {
    http.iter()
        .filter(|d| d.name == "upstream")
        .filter_map(|d| Some((d.arg(0)?.to_string(), *d)))
        .collect()
}

/// `host:port`, `[v6]:port`, `host` (port 80) or `unix:` (ignored).
fn parse_address(addr: &str, default_port: u16) -> Option<Endpoint> {
    if addr.starts_with("unix:") {
        return None;
    }
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, port) = rest.split_once(']')?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some(Endpoint {
            host: host.to_string(),
            port,
        });
    }
    match addr.rsplit_once(':') {
        Some((host, port)) => Some(Endpoint {
            host: host.to_string(),
            port: port.parse().ok()?,
        }),
        None => Some(Endpoint {
            host: addr.to_string(),
            port: default_port,
        }),
    }
}

fn proxy_pass(d: &Directive, upstreams: &[(String, &Directive)]) -> ProxyPass {
    let raw = d.arg(0).unwrap_or_default().to_string();
    let (scheme_port, rest) = match raw.split_once("://") {
        Some(("https", rest)) => (443, rest),
        Some((_, rest)) => (80, rest),
        None => (80, raw.as_str()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let mut pass = ProxyPass {
        raw: raw.clone(),
        file: d.file.clone(),
        line: d.line,
        upstream: None,
        upstream_file: None,
        upstream_lines: Vec::new(),
        endpoints: Vec::new(),
    };
    if let Some((name, block)) = upstreams.iter().find(|(n, _)| n == authority) {
        pass.upstream = Some(name.clone());
        pass.upstream_file = Some(block.file.clone());
        for server in block.children().iter().filter(|c| c.name == "server") {
            if let Some(ep) = server.arg(0).and_then(|a| parse_address(a, 80)) {
                pass.endpoints.push(ep);
                pass.upstream_lines.push(server.line);
            }
        }
    } else if let Some(ep) = parse_address(authority, scheme_port) {
        pass.upstream_file = Some(d.file.clone());
        pass.upstream_lines.push(d.line);
        pass.endpoints.push(ep);
    }
    pass
}

fn parse_listen(d: &Directive) -> Option<Listen> {
    let spec = d.arg(0)?;
    let (address, port) = if let Ok(port) = spec.parse::<u16>() {
        (None, port)
    } else if spec.starts_with("unix:") {
        return None;
    } else {
        let ep = parse_address(spec, 80)?;
        let any = ep.host == "*" || ep.host == "0.0.0.0" || ep.host == "::";
        ((!any).then_some(ep.host), ep.port)
    };
    let flags = &d.args[1..];
    Some(Listen {
        address,
        port,
        ssl: flags.iter().any(|f| f == "ssl" || f == "quic"),
        http2: flags.iter().any(|f| f == "http2"),
        line: d.line,
    })
}

/// Recursive over nested `location`s: bounded because the parser refuses a configuration
/// nested deeper than [`super::config::MAX_NESTING`].
fn collect_locations(
    children: &[Directive],
    parent: &Level,
    upstreams: &[(String, &Directive)],
    out: &mut Vec<Location>,
) {
    for d in children.iter().filter(|d| d.name == "location") {
        let (modifier, path) = match d.args.as_slice() {
            [m, p, ..] if matches!(m.as_str(), "=" | "~" | "~*" | "^~") => (m.clone(), p.clone()),
            [p, ..] => (String::new(), p.clone()),
            [] => continue,
        };
        let own = Level::read(d.children());
        let level = parent.under(&own);
        let pass = d
            .children()
            .iter()
            .find(|c| c.name == "proxy_pass")
            .map(|c| proxy_pass(c, upstreams));
        out.push(Location {
            modifier,
            path,
            file: d.file.clone(),
            line: d.line,
            end_line: d.end_line,
            proxy_pass: pass,
            http_version: or_default(level.http_version.clone(), "1.0".into()),
            headers: level.headers.clone().unwrap_or_default(),
            own_headers: own.headers.is_some(),
            read_timeout: or_default(level.read.clone(), DEFAULT_PROXY_TIMEOUT),
            connect_timeout: or_default(level.connect.clone(), DEFAULT_PROXY_TIMEOUT),
            send_timeout: or_default(level.send.clone(), DEFAULT_PROXY_TIMEOUT),
            body_size: or_default(level.body.clone(), DEFAULT_BODY_SIZE),
        });
        // Nested locations inherit from this one.
        collect_locations(d.children(), &level, upstreams, out);
    }
}

/// Every server block that proxies somewhere, most Odoo-looking first: those whose routes
/// reach Odoo's usual ports or an upstream named like Odoo, then TLS ones.
pub fn odoo_sites(config: &NginxConfig) -> Vec<OdooSite> {
    let http = config.http();
    let ups = upstreams(&http);
    let http_level = Level::read(&http.iter().map(|d| (*d).clone()).collect::<Vec<_>>());
    let mut sites = Vec::new();
    for server in http.iter().filter(|d| d.name == "server") {
        let server_level = http_level.under(&Level::read(server.children()));
        let mut locations = Vec::new();
        collect_locations(server.children(), &server_level, &ups, &mut locations);
        if !locations.iter().any(|l| l.proxy_pass.is_some()) {
            continue;
        }
        sites.push(OdooSite {
            server_names: server
                .children()
                .iter()
                .filter(|d| d.name == "server_name")
                .flat_map(|d| d.args.clone())
                .collect(),
            listens: server
                .children()
                .iter()
                .filter(|d| d.name == "listen")
                .filter_map(parse_listen)
                .collect(),
            file: server.file.clone(),
            line: server.line,
            end_line: server.end_line,
            locations,
            server_headers: server_level.headers.clone().unwrap_or_default(),
            read_timeout: or_default(server_level.read.clone(), DEFAULT_PROXY_TIMEOUT),
            connect_timeout: or_default(server_level.connect.clone(), DEFAULT_PROXY_TIMEOUT),
            send_timeout: or_default(server_level.send.clone(), DEFAULT_PROXY_TIMEOUT),
            body_size: or_default(server_level.body.clone(), DEFAULT_BODY_SIZE),
        });
    }
    let score = |s: &OdooSite| {
        let odooish = s.locations.iter().any(|l| {
            l.proxy_pass.as_ref().is_some_and(|p| {
                p.upstream
                    .as_deref()
                    .is_some_and(|u| u.to_ascii_lowercase().contains("odoo"))
                    || p.endpoints.iter().any(|e| e.port == 8069 || e.port == 8072)
            })
        });
        let tls = s.listens.iter().any(|l| l.ssl);
        (!odooish, !tls)
    };
    sites.sort_by_key(score);
    sites
}

/// The site serving `domain`, or the most Odoo-looking one when no domain is given.
pub fn select_site(sites: &[OdooSite], domain: Option<&str>) -> Option<OdooSite> {
    match domain {
        Some(d) => sites
            .iter()
            .find(|s| s.server_names.iter().any(|n| n.eq_ignore_ascii_case(d)))
            .cloned(),
        None => sites.first().cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> OdooSite {
        let c = NginxConfig::parse_dump(include_str!("testdata/odoo-site.nginx-T.txt")).unwrap();
        let sites = odoo_sites(&c);
        assert_eq!(
            sites.len(),
            1,
            "the redirect-only server is not an Odoo site"
        );
        sites[0].clone()
    }

    #[test]
    fn server_block_names_and_listens() {
        let s = site();
        assert_eq!(s.server_names, ["erp.example.test", "www.erp.example.test"]);
        assert_eq!(s.primary_name(), Some("erp.example.test"));
        assert_eq!(s.listens.len(), 2);
        assert_eq!(s.listens[0].port, 18443);
        assert!(s.listens[0].ssl && s.listens[0].http2);
        assert_eq!(s.listens[1].address.as_deref(), Some("::1"));
        assert_eq!(s.at(), "/tmp/ngfx/conf.d/odoo.conf:14");
    }

    #[test]
    fn routes_resolve_through_upstreams() {
        let s = site();
        let root = s.route("/web/login").unwrap();
        assert_eq!(root.path, "/");
        let pass = root.proxy_pass.as_ref().unwrap();
        assert_eq!(pass.upstream.as_deref(), Some("odoo"));
        assert_eq!(pass.endpoints[0].to_string(), "127.0.0.1:8069");
        assert_eq!(pass.upstream_lines, [2]);
        let ws = s.route("/websocket").unwrap();
        assert_eq!(ws.path, "/websocket");
        assert_eq!(ws.proxy_pass.as_ref().unwrap().endpoints[0].port, 8072);
        assert_eq!(s.route("/longpolling/poll").unwrap().path, "/longpolling");
        // A literal address in proxy_pass is an endpoint too.
        let stat = s.locations.iter().find(|l| l.modifier == "~*").unwrap();
        assert_eq!(stat.proxy_pass.as_ref().unwrap().endpoints[0].port, 8069);
    }

    #[test]
    fn inheritance_follows_nginx_rules() {
        let s = site();
        let root = s.location("/").unwrap();
        // Inherited from the server: no own proxy_set_header in `location /`.
        assert!(!root.own_headers);
        assert_eq!(root.header("x-forwarded-proto").unwrap().value, "https");
        assert_eq!(root.http_version.value, "1.0");
        assert_eq!(root.read_timeout.value, Duration::from_secs(720));
        assert_eq!(root.connect_timeout.value, Duration::from_secs(60));
        assert_eq!(root.send_timeout.value, Duration::from_secs(600));
        assert_eq!(root.body_size.value, 64 << 20);
        let ws = s.location("/websocket").unwrap();
        assert!(ws.own_headers);
        assert_eq!(ws.http_version.value, "1.1");
        assert_eq!(ws.header("Upgrade").unwrap().value, "$http_upgrade");
        // Its own headers replace the server's: X-Real-IP is not inherited.
        assert!(ws.header("X-Real-IP").is_none());
        assert_eq!(
            ws.header("Connection").unwrap().at,
            "/tmp/ngfx/conf.d/odoo.conf:46"
        );
    }

    #[test]
    fn defaults_apply_when_unset() {
        let dump = "# configuration file /n.conf:\nhttp { server { listen 80; location / { proxy_pass http://127.0.0.1:9000; } } }\n";
        let c = NginxConfig::parse_dump(dump).unwrap();
        let s = select_site(&odoo_sites(&c), None).unwrap();
        let root = s.location("/").unwrap();
        assert_eq!(root.read_timeout.value, DEFAULT_PROXY_TIMEOUT);
        assert_eq!(root.read_timeout.at, None);
        assert_eq!(root.body_size.value, DEFAULT_BODY_SIZE);
        assert!(root.headers.is_empty());
        assert!(s.location("/websocket").is_none());
        assert_eq!(s.route("/websocket").unwrap().path, "/");
        assert!(select_site(&odoo_sites(&c), Some("other.test")).is_none());
    }
}
