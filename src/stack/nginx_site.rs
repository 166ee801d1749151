//! The nginx site (http-context include, e.g. `/etc/nginx/conf.d/odoo.conf`) for Odoo 18:
//! HTTP → HTTPS with the ACME challenge kept on HTTP; TLS 1.2/1.3; `/` to the HTTP workers;
//! `/websocket` (the bus since Odoo 16) and `/longpolling` to the gevent port with HTTP/1.1
//! and the Upgrade map; 720/60/600 s timeouts; forwarded headers; gzip; static caching;
//! the first seed's security headers and rate limit.

use super::options::StackOptions;

/// Headers every proxied location sends. nginx drops inherited `proxy_set_header`s as soon
/// as a location sets one, so each location repeats all of them.
fn forwarded_headers(indent: &str) -> String {
    [
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Host $host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
    ]
    .iter()
    .map(|l| format!("{indent}{l}\n"))
    .collect()
}

/// Same rule for `add_header`: a location with its own `add_header` loses the server's.
fn security_headers(indent: &str) -> String {
    [
        "add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;",
        "add_header X-Frame-Options \"SAMEORIGIN\" always;",
        "add_header X-Content-Type-Options \"nosniff\" always;",
        "add_header Referrer-Policy \"strict-origin-when-cross-origin\" always;",
        // Only where Odoo sent no policy of its own (see the map `$odoo_default_csp`).
        "add_header Content-Security-Policy $odoo_default_csp always;",
    ]
    .iter()
    .map(|l| format!("{indent}{l}\n"))
    .collect()
}

/// The two upstreams and the websocket map, the same in both sites.
fn upstreams(o: &StackOptions) -> String {
    format!(
        "upstream odoo_http {{
    server 127.0.0.1:{http};
}}

upstream odoo_gevent {{
    server 127.0.0.1:{gevent};
}}

# `Connection: upgrade` for websocket handshakes, `close` otherwise. Names here are prefixed
# with odoo_ so another site's map or zones in the same nginx cannot clash.
map $http_upgrade $odoo_connection_upgrade {{
    default upgrade;
    ''      close;
}}
",
        http = o.http_port,
        gevent = o.gevent_port,
    )
}

/// The ACME HTTP-01 location, the same in both sites: certbot's webroot plugin writes the
/// challenge files under [`super::EdgeOptions::acme_root`].
fn acme_challenge(o: &StackOptions) -> String {
    format!(
        "    # Let's Encrypt HTTP-01 challenges stay on plain HTTP.
    location ^~ /.well-known/acme-challenge/ {{
        root {acme};
        default_type text/plain;
    }}
",
        acme = o.edge.acme_root
    )
}

/// A server's `listen` lines, one per address, each followed by `options`.
fn listen_lines(addresses: &[String], options: &str) -> String {
    addresses
        .iter()
        .map(|l| format!("    listen {l}{options};\n"))
        .collect()
}

/// The site before a certificate exists (the bootstrap's stack step): plain HTTP only, the
/// challenge path served from the webroot so the TLS step can validate, and Odoo proxied
/// (the bus too) so the stack can be reached meanwhile. No `ssl_certificate`: `nginx -t`
/// refuses a site whose certificate file does not exist yet. The TLS site ([`render`])
/// replaces it at the same path once the certificate is issued.
pub fn render_http_only(o: &StackOptions) -> String {
    let e = &o.edge;
    let listen_http = listen_lines(&e.listen_http, "");
    let fwd = forwarded_headers("        ");
    format!(
        "# Rendered by odoo-ops for {d}: HTTP only, until the TLS step issues the certificate
# and replaces this file with the HTTPS site. Check with `nginx -t` before reloading.

{upstreams}
server {{
{listen_http}    server_name {d};
    server_tokens off;

{acme}
    proxy_read_timeout 720s;
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;
    proxy_redirect off;
    client_max_body_size 100m;

    access_log {logs}/odoo.access.log;
    error_log {logs}/odoo.error.log;

    location /websocket {{
        proxy_pass http://odoo_gevent;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $odoo_connection_upgrade;
{fwd}    }}

    location / {{
        proxy_pass http://odoo_http;
{fwd}    }}
}}
",
        d = o.domain,
        upstreams = upstreams(o),
        acme = acme_challenge(o),
        logs = e.log_dir,
    )
}

pub fn render(o: &StackOptions) -> String {
    let e = &o.edge;
    let d = &o.domain;
    let listen_http = listen_lines(&e.listen_http, "");
    let listen_https = listen_lines(&e.listen_https, " ssl http2");
    let fwd = forwarded_headers("        ");
    let sec = security_headers("    ");
    let sec_static = security_headers("        ");
    format!(
        "# Rendered by odoo-ops for {d}. Odoo 18: the bus is /websocket on the gevent port.
# Check with `nginx -t` before reloading.

{upstreams}
# Odoo's own Content-Security-Policy is kept: on /web/content it is `default-src 'none'`,
# which stops an uploaded SVG from running scripts, and a second, looser policy must not
# replace it. Answers without one (nginx's own error pages, static files) get ours: the web
# client needs inline scripts, so it restricts framing, plugins and the base URL only.
# (add_header sends nothing when the value is empty.)
map $upstream_http_content_security_policy $odoo_default_csp {{
    ''      \"frame-ancestors 'self'; base-uri 'self'; object-src 'none'; upgrade-insecure-requests\";
    default '';
}}

# The first seed's rate limit (100 requests/minute, burst 20), on the endpoints that take
# passwords; the web client's own calls are not throttled.
limit_req_zone $binary_remote_addr zone=odoo_login:10m rate=100r/m;

# Odoo's static files, cached by nginx for as long as Odoo's Cache-Control says (a week for
# /web/static). nginx creates the last directory of the path itself (and gives it to its
# worker user), but not its parents: see EdgeOptions::cache_dir.
proxy_cache_path {cache} levels=1:2 keys_zone=odoo_static:10m max_size=1g inactive=60m use_temp_path=off;

server {{
{listen_http}    server_name {d};

{acme}
    location / {{
        return 301 https://$host$request_uri;
    }}
}}

server {{
{listen_https}    server_name {d};
    server_tokens off;

    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:odoo_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;

{sec}
    # Odoo sets these two itself with the same values; hide its copies so each appears once.
    # Not Content-Security-Policy: Odoo's own is kept (see the map above).
    proxy_hide_header X-Frame-Options;
    proxy_hide_header X-Content-Type-Options;

    # Long requests (reports, imports) must not become 502/504: read 720 s (= Odoo's
    # limit_time_real), connect 60 s, send 600 s.
    proxy_read_timeout 720s;
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;
    proxy_redirect off;
    proxy_buffers 16 64k;
    proxy_buffer_size 128k;

    # Uploads (attachments, imports).
    client_max_body_size 100m;

    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 5;
    gzip_min_length 1024;
    gzip_types text/css text/plain text/xml text/javascript application/javascript application/json application/xml image/svg+xml;

    access_log {logs}/odoo.access.log;
    error_log {logs}/odoo.error.log;

    # The bus: websocket on the gevent port, HTTP/1.1 with the Upgrade headers.
    location /websocket {{
        proxy_pass http://odoo_gevent;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $odoo_connection_upgrade;
{fwd}    }}

    # Gone in Odoo 18 (404), still routed to the gevent port for older clients.
    location /longpolling {{
        proxy_pass http://odoo_gevent;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $odoo_connection_upgrade;
{fwd}    }}

    location ~ ^/web/(login|reset_password|signup|database) {{
        limit_req zone=odoo_login burst=20 nodelay;
        limit_req_status 429;
        proxy_pass http://odoo_http;
{fwd}    }}

    location ~* ^/[^/]+/static/ {{
        proxy_pass http://odoo_http;
        proxy_cache odoo_static;
        # Odoo's Cache-Control (a week) decides, for nginx and for browsers alike: no
        # `expires` here, it would replace Odoo's with a shorter one. 60 minutes only for an
        # answer that says nothing.
        proxy_cache_valid 200 60m;
        proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
{fwd}{sec_static}        add_header X-Cache-Status $upstream_cache_status always;
    }}

    location / {{
        proxy_pass http://odoo_http;
{fwd}    }}
}}
",
        cache = e.cache_dir,
        logs = e.log_dir,
        acme = acme_challenge(o),
        upstreams = upstreams(o),
        cert = e.certificate,
        key = e.certificate_key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{Domain, DropletSize};

    #[test]
    fn the_http_only_site_serves_the_same_challenge_path_and_odoo_without_a_certificate() {
        let mut o = StackOptions::new(
            Domain::parse("erp.example.com").unwrap(),
            *DropletSize::by_slug("s-2vcpu-4gb").unwrap(),
        );
        o.http_port = 18069;
        let http = render_http_only(&o);
        let tls = render(&o);
        assert!(!http.contains("ssl"), "{http}");
        assert!(!http.contains("return 301"), "{http}");
        assert!(http.contains(&acme_challenge(&o)) && tls.contains(&acme_challenge(&o)));
        assert!(http.contains(&format!("root {};", crate::stack::options::ACME_WEBROOT)));
        assert!(http.contains("server 127.0.0.1:18069;"), "{http}");
        assert!(http.contains("proxy_pass http://odoo_gevent;"), "{http}");
        assert!(http.contains("listen 80;\n    listen [::]:80;\n"), "{http}");
    }
}
