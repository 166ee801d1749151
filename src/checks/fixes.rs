//! Mechanical nginx edits for the fixes the checks offer: each takes the parsed site and the
//! file text nginx -T showed, and returns the new text as a diff plus an apply action.
//! Edits are by line (the parser knows every directive's line), keeping indentation.

use std::path::{Path, PathBuf};

use similar::TextDiff;

use super::model::{ApplyAction, Fix};
use crate::nginx::NginxConfig;
use crate::nginx::site::{Endpoint, Header, Location, OdooSite};

/// A unified diff of one file.
pub fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let name = path.display().to_string();
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header(&name, &name)
        .to_string()
}

/// Line edits, applied from the bottom up so earlier line numbers stay valid.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, String),
    InsertAfter(usize, Vec<String>),
    InsertBefore(usize, Vec<String>),
}

fn apply_edits(text: &str, mut edits: Vec<Edit>) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let key = |e: &Edit| match e {
        Edit::Replace(l, _) | Edit::InsertAfter(l, _) => (*l, 1),
        Edit::InsertBefore(l, _) => (*l, 0),
    };
    edits.sort_by_key(|e| std::cmp::Reverse(key(e)));
    for e in edits {
        match e {
            Edit::Replace(l, new) if l >= 1 && l <= lines.len() => lines[l - 1] = new,
            Edit::InsertAfter(l, new) if l <= lines.len() => {
                lines.splice(l..l, new);
            }
            Edit::InsertBefore(l, new) if l >= 1 && l <= lines.len() + 1 => {
                lines.splice(l - 1..l - 1, new);
            }
            _ => {}
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn indent_of(text: &str, line: usize) -> String {
    text.lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.chars().take_while(|c| c.is_whitespace()).collect())
        .unwrap_or_default()
}

fn file_text(config: &NginxConfig, path: &Path) -> Option<String> {
    config.file(path).map(|f| f.text.clone())
}

fn edit_fix(config: &NginxConfig, path: &Path, edits: Vec<Edit>, summary: String) -> Option<Fix> {
    let before = file_text(config, path)?;
    let after = apply_edits(&before, edits);
    if after == before {
        return None;
    }
    Some(Fix {
        summary,
        command: None,
        diff: Some(unified_diff(path, &before, &after)),
        apply: Some(ApplyAction::EditNginxFile {
            path: path.to_path_buf(),
            before,
            after,
        }),
    })
}

fn split_at(at: &str) -> Option<(PathBuf, usize)> {
    let (file, line) = at.rsplit_once(':')?;
    Some((PathBuf::from(file), line.parse().ok()?))
}

/// Point a route's upstream at `port` (edits the upstream's `server` lines, or the literal
/// address in `proxy_pass`).
pub fn retarget_port(config: &NginxConfig, location: &Location, port: u16) -> Option<Fix> {
    let pass = location.proxy_pass.as_ref()?;
    let file = pass.upstream_file.as_ref()?;
    let text = file_text(config, file)?;
    let mut edits = Vec::new();
    for (ep, line) in pass.endpoints.iter().zip(&pass.upstream_lines) {
        let old = text.lines().nth(line - 1)?;
        let new = old.replacen(
            &format!("{}:{}", ep.host, ep.port),
            &format!("{}:{port}", ep.host),
            1,
        );
        edits.push(Edit::Replace(*line, new));
    }
    let what = pass.upstream.as_deref().map_or_else(
        || format!("proxy_pass of location {}", location.path),
        |u| format!("upstream {u}"),
    );
    edit_fix(config, file, edits, format!("Point {what} at port {port}"))
}

/// The `proxy_pass` target for the gevent port: an upstream the site already routes to
/// there, else any `upstream` block whose servers are exactly that port, else the
/// address itself.
fn gevent_target(config: &NginxConfig, site: &OdooSite, host: &str, port: u16) -> String {
    let used = site
        .locations
        .iter()
        .filter_map(|l| l.proxy_pass.as_ref())
        .find(|p| p.upstream.is_some() && p.endpoints.iter().any(|e| e.port == port))
        .and_then(|p| p.upstream.clone());
    let defined = || {
        config
            .http()
            .into_iter()
            .filter(|d| d.name == "upstream")
            .find(|d| {
                let servers: Vec<&str> = d
                    .children()
                    .iter()
                    .filter(|c| c.name == "server")
                    .filter_map(|c| c.arg(0))
                    .collect();
                !servers.is_empty()
                    && servers.iter().all(|a| {
                        a.rsplit_once(':')
                            .is_some_and(|(_, p)| p == port.to_string())
                    })
            })
            .and_then(|d| d.arg(0).map(str::to_string))
    };
    used.or_else(defined).map_or_else(
        || format!("http://{host}:{port}"),
        |u| format!("http://{u}"),
    )
}

/// The `Connection` value for a websocket route, in the site's own style: what another
/// of its routes already sends, else the variable of a `map $http_upgrade $VAR`, else
/// `"upgrade"`.
fn connection_value(config: &NginxConfig, site: &OdooSite) -> String {
    let written = site
        .locations
        .iter()
        .filter(|l| l.own_headers)
        .filter_map(|l| l.header("Connection"))
        .chain(
            site.server_headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("Connection")),
        )
        .find(|h| h.value.to_ascii_lowercase().contains("upgrade"))
        .map(|h| quote_value(&h.value));
    let mapped = || {
        config
            .http()
            .into_iter()
            .find(|d| d.name == "map" && d.arg(0) == Some("$http_upgrade"))
            .and_then(|d| d.arg(1).map(str::to_string))
    };
    written
        .or_else(mapped)
        .unwrap_or_else(|| "\"upgrade\"".into())
}

fn websocket_block(
    indent: &str,
    target: &str,
    connection: &str,
    inherited: &[Header],
) -> Vec<String> {
    let i2 = format!("{indent}    ");
    let mut out = vec![
        format!("{indent}location /websocket {{"),
        format!("{i2}proxy_pass {target};"),
        format!("{i2}proxy_http_version 1.1;"),
        format!("{i2}proxy_set_header Upgrade $http_upgrade;"),
        format!("{i2}proxy_set_header Connection {connection};"),
    ];
    out.extend(inherited_headers(
        &i2,
        inherited,
        &["upgrade", "connection"],
    ));
    out.push(format!("{indent}}}"));
    out.push(String::new());
    out
}

/// Headers a location must repeat once it sets any of its own (nginx then inherits none).
fn inherited_headers(indent: &str, inherited: &[Header], except: &[&str]) -> Vec<String> {
    inherited
        .iter()
        .filter(|h| !except.contains(&h.name.to_ascii_lowercase().as_str()))
        .map(|h| {
            format!(
                "{indent}proxy_set_header {} {};",
                h.name,
                quote_value(&h.value)
            )
        })
        .collect()
}

fn quote_value(v: &str) -> String {
    if v.is_empty() || v.contains(char::is_whitespace) || v.contains(';') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// Route `/websocket` to the gevent port: retarget an existing location, or add one.
pub fn websocket_route(config: &NginxConfig, site: &OdooSite, gevent: &Endpoint) -> Option<Fix> {
    let target = gevent_target(config, site, &gevent.host, gevent.port);
    if let Some(loc) = site.location("/websocket") {
        let pass = loc.proxy_pass.as_ref()?;
        let text = file_text(config, &pass.file)?;
        let indent = indent_of(&text, pass.line);
        return edit_fix(
            config,
            &pass.file,
            vec![Edit::Replace(
                pass.line,
                format!("{indent}proxy_pass {target};"),
            )],
            format!("Send /websocket to Odoo's gevent port ({target})"),
        );
    }
    let root = site.location("/");
    let (file, before_line) = match root {
        Some(r) => (r.file.clone(), r.line),
        None => (site.file.clone(), site.end_line?),
    };
    let text = file_text(config, &file)?;
    let indent = indent_of(&text, before_line);
    let indent = if root.is_some() {
        indent
    } else {
        format!("{indent}    ")
    };
    edit_fix(
        config,
        &file,
        vec![Edit::InsertBefore(
            before_line,
            websocket_block(
                &indent,
                &target,
                &connection_value(config, site),
                &site.server_headers,
            ),
        )],
        format!("Add a /websocket location to Odoo's gevent port ({target})"),
    )
}

/// Add HTTP/1.1 and the Upgrade/Connection headers to the websocket location.
pub fn websocket_headers(config: &NginxConfig, site: &OdooSite, loc: &Location) -> Option<Fix> {
    let pass = loc.proxy_pass.as_ref()?;
    let text = file_text(config, &loc.file)?;
    let indent = indent_of(&text, pass.line);
    let mut add = Vec::new();
    let mut edits = Vec::new();
    if loc.http_version.value != "1.1" {
        match loc.http_version.at.as_deref().and_then(split_at) {
            Some((f, l)) if f == loc.file && l > loc.line => {
                edits.push(Edit::Replace(l, format!("{indent}proxy_http_version 1.1;")))
            }
            _ => add.push(format!("{indent}proxy_http_version 1.1;")),
        }
    }
    if !loc
        .header("Upgrade")
        .is_some_and(|h| h.value.contains("$http_upgrade"))
    {
        add.push(format!("{indent}proxy_set_header Upgrade $http_upgrade;"));
    }
    if !loc
        .header("Connection")
        .is_some_and(|h| h.value.to_ascii_lowercase().contains("upgrade"))
    {
        add.push(format!(
            "{indent}proxy_set_header Connection {};",
            connection_value(config, site)
        ));
    }
    if !loc.own_headers {
        add.extend(inherited_headers(
            &indent,
            &site.server_headers,
            &["upgrade", "connection"],
        ));
    }
    if !add.is_empty() {
        edits.push(Edit::InsertAfter(pass.line, add));
    }
    edit_fix(
        config,
        &loc.file,
        edits,
        "Let websocket handshakes through: HTTP/1.1 with Upgrade and Connection headers".into(),
    )
}

/// Set a proxy directive to `value` on the server: replace where the site sets it,
/// else add it at the top of the server block.
pub fn server_directive(
    config: &NginxConfig,
    site: &OdooSite,
    settings: &[(&str, Option<&str>, &str)],
    summary: String,
) -> Option<Fix> {
    let text = file_text(config, &site.file)?;
    let indent = format!("{}    ", indent_of(&text, site.line));
    let mut add = Vec::new();
    let mut edits = Vec::new();
    for (name, at, value) in settings {
        let line = format!("{indent}{name} {value};");
        match at.and_then(split_at) {
            Some((f, l)) if f == site.file => {
                let old_indent = indent_of(&text, l);
                edits.push(Edit::Replace(l, format!("{old_indent}{name} {value};")));
            }
            _ => add.push(line),
        }
    }
    if !add.is_empty() {
        edits.push(Edit::InsertAfter(site.line, add));
    }
    edit_fix(config, &site.file, edits, summary)
}

/// The value the site already gives `name` somewhere (its header style: `https` or
/// `$scheme`), else `default`.
pub fn site_header_value(site: &OdooSite, name: &str, default: &str) -> String {
    site.server_headers
        .iter()
        .chain(site.locations.iter().flat_map(|l| l.headers.iter()))
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map_or_else(|| default.to_string(), |h| h.value.clone())
}

/// Add `proxy_set_header NAME VALUE` wherever the routes to Odoo get their headers.
pub fn add_header(config: &NginxConfig, site: &OdooSite, name: &str, value: &str) -> Option<Fix> {
    add_headers(config, site, &[(name, value)])
}

/// Add each `proxy_set_header NAME VALUE` wherever the routes to Odoo get their headers:
/// at the server level (what locations without headers of their own inherit), and in
/// every location that sets its own, since nginx gives such a location none of the
/// server's (a server-level header would not take effect there).
pub fn add_headers(config: &NginxConfig, site: &OdooSite, headers: &[(&str, &str)]) -> Option<Fix> {
    let text = file_text(config, &site.file)?;
    let mut edits = Vec::new();
    let in_location = |line: usize| {
        site.locations
            .iter()
            .any(|l| l.line <= line && l.end_line.is_some_and(|e| line <= e))
    };
    // Server level: after its own last proxy_set_header, else at the top (repeating what
    // it inherited, since defining one drops the rest).
    let own_server: Vec<usize> = site
        .server_headers
        .iter()
        .filter_map(|h| split_at(&h.at))
        .filter(|(f, l)| *f == site.file && *l > site.line && !in_location(*l))
        .map(|(_, l)| l)
        .collect();
    let server_indent = format!("{}    ", indent_of(&text, site.line));
    let line_for = |indent: &str, name: &str, value: &str| {
        format!("{indent}proxy_set_header {name} {};", quote_value(value))
    };
    let server_missing: Vec<&(&str, &str)> = headers
        .iter()
        .filter(|(n, _)| {
            !site
                .server_headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(n))
        })
        .collect();
    if !server_missing.is_empty() {
        match own_server.iter().max() {
            Some(&l) => {
                let indent = indent_of(&text, l);
                edits.push(Edit::InsertAfter(
                    l,
                    server_missing
                        .iter()
                        .map(|(n, v)| line_for(&indent, n, v))
                        .collect(),
                ))
            }
            None => {
                let mut add = inherited_headers(&server_indent, &site.server_headers, &[]);
                add.extend(
                    server_missing
                        .iter()
                        .map(|(n, v)| line_for(&server_indent, n, v)),
                );
                edits.push(Edit::InsertAfter(site.line, add));
            }
        }
    }
    for loc in site
        .locations
        .iter()
        .filter(|l| l.own_headers && l.file == site.file)
    {
        let missing: Vec<&(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| loc.header(n).is_none())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let last = loc
            .headers
            .iter()
            .filter_map(|h| split_at(&h.at))
            .filter(|(f, l)| *f == loc.file && *l > loc.line && loc.end_line.is_none_or(|e| *l < e))
            .map(|(_, l)| l)
            .max();
        // Its headers come from an include: the new ones go at the top of the block.
        let (after, indent) = match last {
            Some(l) => (l, indent_of(&text, l)),
            None => (loc.line, format!("{}    ", indent_of(&text, loc.line))),
        };
        edits.push(Edit::InsertAfter(
            after,
            missing
                .iter()
                .map(|(n, v)| line_for(&indent, n, v))
                .collect(),
        ));
    }
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let summary = match headers {
        [(name, value)] => format!("Send {name} to Odoo (proxy_set_header {name} {value})"),
        _ => format!("Send {} to Odoo", names.join(", ")),
    };
    edit_fix(config, &site.file, edits, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::{odoo_sites, select_site};

    fn parse(site_text: &str) -> (NginxConfig, OdooSite) {
        let dump = format!(
            "# configuration file /t/nginx.conf:\nevents {{}}\nhttp {{\n    include /t/site.conf;\n}}\n\n# configuration file /t/site.conf:\n{site_text}\n"
        );
        let c = NginxConfig::parse_dump(&dump).unwrap();
        let s = select_site(&odoo_sites(&c), None).unwrap();
        (c, s)
    }

    fn after(fix: &Fix) -> String {
        match fix.apply.as_ref().unwrap() {
            ApplyAction::EditNginxFile { after, .. } => after.clone(),
            _ => panic!("not an edit"),
        }
    }

    const MISROUTED: &str = "upstream odoo {\n    server 127.0.0.1:8070;\n}\nserver {\n    listen 80;\n    proxy_set_header Host $host;\n    location / {\n        proxy_pass http://odoo;\n    }\n    location /websocket {\n        proxy_pass http://odoo;\n    }\n}\n";

    #[test]
    fn wrong_port_is_fixed_in_the_upstream() {
        let (c, s) = parse(MISROUTED);
        let fix = retarget_port(&c, s.location("/").unwrap(), 8069).unwrap();
        assert!(after(&fix).contains("    server 127.0.0.1:8069;\n"));
        let diff = fix.diff.unwrap();
        assert!(diff.contains("-    server 127.0.0.1:8070;"), "{diff}");
        assert!(diff.contains("+    server 127.0.0.1:8069;"), "{diff}");
    }

    #[test]
    fn websocket_is_sent_to_gevent_and_gets_headers() {
        let (c, s) = parse(MISROUTED);
        let gevent = Endpoint {
            host: "127.0.0.1".into(),
            port: 8072,
        };
        let fix = websocket_route(&c, &s, &gevent).unwrap();
        assert!(after(&fix).contains("        proxy_pass http://127.0.0.1:8072;\n"));
        let fix = websocket_headers(&c, &s, s.location("/websocket").unwrap()).unwrap();
        let text = after(&fix);
        assert!(text.contains("proxy_http_version 1.1;"));
        assert!(text.contains("proxy_set_header Upgrade $http_upgrade;"));
        assert!(text.contains("proxy_set_header Connection \"upgrade\";"));
        // The server's Host header is repeated, since the location now sets its own.
        assert!(
            text.contains("        proxy_set_header Host $host;"),
            "{text}"
        );
        // The result parses and routes correctly.
        let (_, s2) = parse(&text);
        assert_eq!(s2.location("/websocket").unwrap().http_version.value, "1.1");
    }

    #[test]
    fn missing_websocket_location_is_added_before_root() {
        let site = "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:8069;\n    }\n}\n";
        let (c, s) = parse(site);
        let gevent = Endpoint {
            host: "127.0.0.1".into(),
            port: 8072,
        };
        let text = after(&websocket_route(&c, &s, &gevent).unwrap());
        let (_, s2) = parse(&text);
        let ws = s2.location("/websocket").unwrap();
        assert_eq!(ws.proxy_pass.as_ref().unwrap().endpoints[0].port, 8072);
        assert!(ws.header("Upgrade").is_some());
    }

    #[test]
    fn timeouts_replace_or_insert_and_headers_are_added() {
        let site = "server {\n    listen 80;\n    proxy_read_timeout 30s;\n    proxy_set_header Host $host;\n    location / {\n        proxy_pass http://127.0.0.1:8069;\n    }\n}\n";
        let (c, s) = parse(site);
        let fix = server_directive(
            &c,
            &s,
            &[
                ("proxy_read_timeout", s.read_timeout.at.as_deref(), "720s"),
                ("proxy_send_timeout", s.send_timeout.at.as_deref(), "600s"),
            ],
            "t".into(),
        )
        .unwrap();
        let text = after(&fix);
        let (_, s2) = parse(&text);
        assert_eq!(s2.read_timeout.value.as_secs(), 720);
        assert_eq!(s2.send_timeout.value.as_secs(), 600);
        let fix = add_header(&c, &s, "X-Forwarded-Proto", "$scheme").unwrap();
        let (_, s3) = parse(&after(&fix));
        let root = s3.location("/").unwrap();
        assert_eq!(root.header("X-Forwarded-Proto").unwrap().value, "$scheme");
        assert!(root.header("Host").is_some());
    }

    /// The site as an operator writes it: a map for Connection, an upstream for the
    /// gevent port that no route uses yet, `X-Forwarded-Proto https` in its style, and a
    /// `location /` that sets its own headers (so the server's are not inherited there).
    const OWN_STYLE: &str = "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      close;\n}\nupstream odoo {\n    server 127.0.0.1:8069;\n}\nupstream odoochat {\n    server 127.0.0.1:8072;\n}\nserver {\n    listen 80;\n    proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-Proto https;\n    location / {\n        proxy_pass http://odoo;\n        proxy_set_header X-Real-IP $remote_addr;\n    }\n    location /web/static/ {\n        proxy_pass http://odoo;\n        include /t/proxy_headers.conf;\n    }\n}\n";

    fn parse_with_include(site_text: &str) -> (NginxConfig, OdooSite) {
        let dump = format!(
            "# configuration file /t/nginx.conf:\nevents {{}}\nhttp {{\n    include /t/site.conf;\n}}\n\n# configuration file /t/site.conf:\n{site_text}\n# configuration file /t/proxy_headers.conf:\nproxy_set_header X-Real-IP $remote_addr;\n"
        );
        let c = NginxConfig::parse_dump(&dump).unwrap();
        let s = select_site(&odoo_sites(&c), None).unwrap();
        (c, s)
    }

    #[test]
    fn a_new_websocket_route_uses_the_sites_upstream_and_map() {
        let (c, s) = parse_with_include(OWN_STYLE);
        let gevent = Endpoint {
            host: "127.0.0.1".into(),
            port: 8072,
        };
        let text = after(&websocket_route(&c, &s, &gevent).unwrap());
        assert!(
            text.contains("        proxy_pass http://odoochat;\n"),
            "{text}"
        );
        assert!(
            text.contains("        proxy_set_header Connection $connection_upgrade;\n"),
            "{text}"
        );
        let (_, s2) = parse_with_include(&text);
        let ws = s2.location("/websocket").unwrap();
        assert_eq!(
            ws.proxy_pass.as_ref().unwrap().upstream.as_deref(),
            Some("odoochat")
        );
        // The server's headers are repeated in the new location, which sets its own.
        assert_eq!(ws.header("X-Forwarded-Proto").unwrap().value, "https");
    }

    #[test]
    fn a_header_goes_into_each_location_that_sets_its_own() {
        let (c, s) = parse_with_include(OWN_STYLE);
        // `location /` sets X-Real-IP, so it inherits neither Host nor X-Forwarded-Proto.
        let root = s.location("/").unwrap();
        assert!(root.own_headers && root.header("X-Forwarded-Proto").is_none());
        let fix =
            add_headers(&c, &s, &[("X-Forwarded-Proto", "https"), ("Host", "$host")]).unwrap();
        let text = after(&fix);
        let (_, s2) = parse_with_include(&text);
        for path in ["/", "/web/static/"] {
            let loc = s2.location(path).unwrap();
            assert_eq!(
                loc.header("X-Forwarded-Proto").map(|h| h.value.as_str()),
                Some("https"),
                "{path}\n{text}"
            );
            assert_eq!(
                loc.header("Host").map(|h| h.value.as_str()),
                Some("$host"),
                "{path}"
            );
        }
        // The location whose headers come from an include gets them at its top.
        assert!(
            text.contains(
                "    location /web/static/ {\n        proxy_set_header X-Forwarded-Proto https;\n"
            ),
            "{text}"
        );
        assert_eq!(
            site_header_value(&s, "X-Forwarded-Proto", "$scheme"),
            "https"
        );
    }

    #[test]
    fn websocket_headers_reuse_the_map() {
        let site = OWN_STYLE.replace(
            "    location /web/static/ {",
            "    location /websocket {\n        proxy_pass http://odoochat;\n    }\n    location /web/static/ {",
        );
        let (c, s) = parse_with_include(&site);
        let fix = websocket_headers(&c, &s, s.location("/websocket").unwrap()).unwrap();
        assert!(
            after(&fix).contains("proxy_set_header Connection $connection_upgrade;"),
            "{}",
            after(&fix)
        );
    }
}
