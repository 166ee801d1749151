//! The Odoo site an operator installs from the seed's section 5.1 (upstreams to the HTTP
//! and gevent ports, TLS, 720 s timeouts, forwarded headers, websocket upgrade), on test
//! ports: what the diagnosis matrix breaks one way at a time, and what the benchmark runs.

use super::tls;

pub const DOMAIN: &str = "erp.odoo-ops.test";

/// The `http { }` content: both upstreams and the TLS server block.
pub fn site(http: u16, gevent: u16, tls_port: u16, cert: &tls::TestCert) -> String {
    format!(
        "upstream odoo {{
    server 127.0.0.1:{http};
}}

upstream odoo-longpolling {{
    server 127.0.0.1:{gevent};
}}

server {{
    listen 127.0.0.1:{tls_port} ssl;
    server_name {DOMAIN};

    ssl_certificate     {fullchain};
    ssl_certificate_key {key};
    ssl_protocols       TLSv1.2 TLSv1.3;

    proxy_read_timeout 720s;
    proxy_connect_timeout 60s;
    proxy_send_timeout 600s;

    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto https;

    location / {{
        proxy_pass http://odoo;
        proxy_redirect off;
    }}

    location /longpolling {{
        proxy_pass http://odoo-longpolling;
        proxy_redirect off;
    }}

    location /websocket {{
        proxy_pass http://odoo-longpolling;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection \"upgrade\";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
    }}

    client_max_body_size 64m;
}}
",
        fullchain = cert.fullchain.display(),
        key = cert.key.display(),
    )
}
