//! The edge as a browser sees it: HTTPS through nginx with reqwest + rustls, verified by
//! rustls-platform-verifier against the system trust store (so a private CA installed in
//! the system store works), the login page, and a websocket handshake.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cert::leaf_info;
use super::http::{WEBSOCKET_KEY, WEBSOCKET_PATH};
use crate::checks::obs::{CertObs, EdgeObs, HttpProbe};
use crate::nginx::OdooSite;

/// Where and how to reach the edge.
#[derive(Debug, Clone)]
pub struct EdgePlan {
    pub url: String,
    pub host: String,
    pub tls: bool,
    /// Connect here instead of looking the name up (local target, tests).
    pub connect_to: Option<IpAddr>,
}

/// The edge URL from nginx's own server block: server_name and listen.
pub fn plan(site: &OdooSite, local: bool, connect_override: Option<IpAddr>) -> Option<EdgePlan> {
    let listen = site.edge_listen()?;
    let host = site.primary_name().unwrap_or("localhost").to_string();
    let scheme = if listen.ssl { "https" } else { "http" };
    let default_port = if listen.ssl { 443 } else { 80 };
    let port = if listen.port == default_port {
        String::new()
    } else {
        format!(":{}", listen.port)
    };
    let connect_to = connect_override.or_else(|| {
        local.then(|| {
            listen
                .address
                .as_deref()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        })
    });
    Some(EdgePlan {
        url: format!("{scheme}://{host}{port}"),
        host,
        tls: listen.ssl,
        connect_to,
    })
}

/// Install rustls's ring provider once per process (reqwest is built without one).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client(
    plan: &EdgePlan,
    extra_roots: &[Vec<u8>],
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    ensure_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .http1_only()
        .user_agent("odoo-ops");
    if let Some(ip) = plan.connect_to {
        b = b.resolve(&plan.host, SocketAddr::new(ip, 0));
    }
    let mut certs = Vec::new();
    for pem in extra_roots {
        certs.push(reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?);
    }
    if !certs.is_empty() {
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| error_chain(&e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

struct Answer {
    probe: HttpProbe,
    peer_cert: Option<Vec<u8>>,
    tls_error: Option<String>,
}

async fn request(client: &reqwest::Client, url: &str, websocket: bool) -> Answer {
    let label = format!(
        "GET {url}{}",
        if websocket {
            " (websocket handshake)"
        } else {
            ""
        }
    );
    let mut req = client.get(url);
    if websocket {
        let origin = url.split("/websocket").next().unwrap_or(url).to_string();
        req = req
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", WEBSOCKET_KEY)
            .header("Origin", origin);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let peer_cert = resp
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|i| i.peer_certificate().map(<[u8]>::to_vec));
            let body = if status == 101 {
                String::new()
            } else {
                let bytes = resp.bytes().await.unwrap_or_default();
                String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]).into_owned()
            };
            Answer {
                probe: HttpProbe {
                    request: label,
                    status: Some(status),
                    headers,
                    body,
                    error: None,
                },
                peer_cert,
                tls_error: None,
            }
        }
        Err(e) => {
            let text = error_chain(&e);
            let tls = e.is_connect()
                && (text.contains("certificate") || text.contains("tls") || text.contains("TLS"));
            Answer {
                probe: HttpProbe {
                    request: label,
                    error: Some(text.clone()),
                    ..Default::default()
                },
                peer_cert: None,
                tls_error: tls.then_some(text),
            }
        }
    }
}

/// Health, login page and websocket through the edge, concurrently; the certificate from
/// whichever TLS answer came back.
pub async fn gather(plan: &EdgePlan, extra_roots: &[Vec<u8>], timeout: Duration) -> EdgeObs {
    let mut obs = EdgeObs {
        url: Some(plan.url.clone()),
        connect_to: plan.connect_to.map(|ip| ip.to_string()),
        tls: plan.tls,
        ..Default::default()
    };
    let client = match client(plan, extra_roots, timeout) {
        Ok(c) => c,
        Err(e) => {
            obs.cert_error = Some(e.clone());
            let failed = |path: &str| HttpProbe {
                request: format!("GET {}{path}", plan.url),
                error: Some(e.clone()),
                ..Default::default()
            };
            obs.health = Some(failed("/web/health"));
            obs.login = Some(failed("/web/login"));
            obs.websocket = Some(failed("/websocket"));
            return obs;
        }
    };
    let health_url = format!("{}/web/health", plan.url);
    let login_url = format!("{}/web/login", plan.url);
    let ws_url = format!("{}{WEBSOCKET_PATH}", plan.url);
    let (health, login, ws) = tokio::join!(
        request(&client, &health_url, false),
        request(&client, &login_url, false),
        request(&client, &ws_url, true),
    );
    if plan.tls {
        let cert = [&health, &login, &ws]
            .iter()
            .find_map(|a| a.peer_cert.clone());
        obs.cert_error = health.tls_error.clone().or_else(|| login.tls_error.clone());
        if let Some(info) = cert.as_deref().and_then(leaf_info) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            obs.cert = Some(CertObs {
                subject_names: info.dns_names,
                not_after: info.not_after,
                days_left: (info.not_after_epoch - now).div_euclid(86_400),
            });
        }
    }
    obs.health = Some(health.probe);
    obs.login = Some(login.probe);
    obs.websocket = Some(ws.probe);
    obs
}
